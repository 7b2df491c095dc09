//! The complete-tree layout ([`Implicit`], `compiled/implicit.rs`) of a
//! binned ensemble: which binned trees take it, and their nodes described
//! to it as `(feature, bin)` pairs over the row's `u8` bins. Also the layout
//! the block walk ([`Blocks`](super::Blocks)) is built from.

use super::super::implicit::Implicit;
use super::super::walk::Node;
use crate::model::binned::decode;
use crate::model::QuantTrees;

/// The complete-tree layout of `q` on `u8` bins: `None` when the trees are
/// deeper than 8 levels (or a lone leaf), padding would make more than four
/// times the internal nodes, or a feature or bin does not fit a byte.
/// Checked models only.
pub(super) fn implicit(q: &QuantTrees) -> Option<Implicit<u8, u8>> {
    let mut depth = 0u32;
    for tree in &q.trees {
        let nodes = &q.nodes[tree.node_base as usize..];
        // Depth of each internal node: children come after parents.
        let mut stack = vec![(tree.root, 0u32)];
        while let Some((c, d)) = stack.pop() {
            depth = depth.max(d);
            if let Ok(i) = decode(c) {
                stack.push((nodes[i].left, d + 1));
                stack.push((nodes[i].right, d + 1));
            }
        }
    }
    let internal = (1usize << depth.min(super::super::walk::MAX_IMPLICIT_DEPTH)) - 1;
    if internal * q.trees.len() > 4 * q.nodes.len().max(1) {
        return None;
    }
    // A tree's nodes are named by the tree and a child reference.
    let roots: Vec<(usize, i16)> = q
        .trees
        .iter()
        .enumerate()
        .map(|(t, tr)| (t, tr.root))
        .collect();
    // Padding goes left (`bin <= u8::MAX`); either way would do.
    Implicit::build(depth, &roots, (0, u8::MAX), |(t, c)| {
        let tree = &q.trees[t];
        Some(match decode(c) {
            Ok(i) => {
                let n = &q.nodes[tree.node_base as usize + i];
                Node::Split {
                    feature: u8::try_from(n.feature).ok()?,
                    key: u8::try_from(n.bin).ok()?,
                    left: (t, n.left),
                    right: (t, n.right),
                }
            }
            Err(l) => Node::Leaf(tree.leaf_base + l as u32),
        })
    })
}
