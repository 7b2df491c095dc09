//! The on-disk encoding of [`QuantTrees`] ([`Stored`]), which serde writes
//! and reads in its place: the child references are left out and rebuilt,
//! and whatever a file holds is checked before it becomes a model.
//!
//! Uses the saved form's types, child-reference helpers and limits
//! (`binned/mod.rs`).

use super::{decode, internal, leaf, Leaves, QNode, QTree, QuantTrees, MAX_LOCAL};
use crate::model::Output;
use serde::{Deserialize, Serialize};

/// The on-disk form of [`QuantTrees`]: each tree is its depth-first node
/// sequence as one bit per node (1 = leaf), plus feature and bin per
/// internal node; child references, which the sequence determines, are not
/// written. (The runtime form keeps them: it is built for traversal, this
/// one for size.)
#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    n_features: usize,
    n_classes: usize,
    output: Output,
    cuts: Vec<f32>,
    cut_start: Vec<u32>,
    used_features: Vec<u16>,
    /// Nodes (internal + leaves) per tree.
    tree_sizes: Vec<u32>,
    leaf_bits: Vec<u8>,
    features: Vec<u16>,
    bins: Vec<u16>,
    leaves: Leaves,
}

impl From<QuantTrees> for Stored {
    fn from(q: QuantTrees) -> Stored {
        let mut tree_sizes = Vec::with_capacity(q.trees.len());
        let mut bits = Vec::new();
        let (mut features, mut bins) = (Vec::new(), Vec::new());
        for tree in &q.trees {
            let nodes = &q.nodes[tree.node_base as usize..];
            let mut stack = vec![tree.root];
            let mut size = 0u32;
            while let Some(c) = stack.pop() {
                size += 1;
                bits.push(c < 0);
                if let Ok(i) = decode(c) {
                    let n = &nodes[i];
                    features.push(n.feature);
                    bins.push(n.bin);
                    stack.push(n.right);
                    stack.push(n.left);
                }
            }
            tree_sizes.push(size);
        }
        let mut leaf_bits = vec![0u8; bits.len().div_ceil(8)];
        for (i, _) in bits.iter().enumerate().filter(|(_, &b)| b) {
            leaf_bits[i / 8] |= 1 << (i % 8);
        }
        Stored {
            n_features: q.n_features,
            n_classes: q.n_classes,
            output: q.output,
            cuts: q.cuts,
            cut_start: q.cut_start,
            used_features: q.used_features,
            tree_sizes,
            leaf_bits,
            features,
            bins,
            leaves: q.leaves,
        }
    }
}

impl TryFrom<Stored> for QuantTrees {
    type Error = String;

    /// Rebuilds child references; any inconsistency is an error (this reads
    /// files).
    fn try_from(s: Stored) -> Result<QuantTrees, String> {
        let bad = |m: &str| format!("quantized ensemble: {m}");
        let is_leaf = |i: usize| s.leaf_bits.get(i / 8).map(|b| b >> (i % 8) & 1 == 1);
        let (mut pos, mut next_internal) = (0usize, 0usize);
        let (mut nodes, mut trees) = (Vec::new(), Vec::with_capacity(s.tree_sizes.len()));
        let mut n_leaves = 0usize;
        for &size in &s.tree_sizes {
            let (node_base, leaf_base) = (nodes.len(), n_leaves);
            let end = pos
                .checked_add(size as usize)
                .ok_or_else(|| bad("tree sizes overflow"))?;
            // Depth-first rebuild with an explicit stack of (node, is_right)
            // slots waiting for a child.
            let mut pending: Vec<(usize, bool)> = Vec::new();
            let mut root = None;
            let (mut local_int, mut local_leaf) = (0usize, 0usize);
            while pos < end {
                let at_leaf = is_leaf(pos).ok_or_else(|| bad("leaf flags are too short"))?;
                pos += 1;
                if local_leaf >= MAX_LOCAL || local_int >= MAX_LOCAL {
                    return Err(bad("a tree has too many nodes"));
                }
                let c = if at_leaf {
                    local_leaf += 1;
                    n_leaves += 1;
                    leaf(local_leaf - 1)
                } else {
                    let f = *s
                        .features
                        .get(next_internal)
                        .ok_or_else(|| bad("too few features"))?;
                    let b = *s
                        .bins
                        .get(next_internal)
                        .ok_or_else(|| bad("too few bins"))?;
                    next_internal += 1;
                    local_int += 1;
                    nodes.push(QNode {
                        feature: f,
                        bin: b,
                        left: 0,
                        right: 0,
                    });
                    internal(local_int - 1)
                };
                match pending.pop() {
                    None if root.is_none() => root = Some(c),
                    None => return Err(bad("a tree has nodes after its last leaf")),
                    Some((p, right)) => {
                        let n = &mut nodes[node_base + p];
                        if right {
                            n.right = c;
                        } else {
                            n.left = c;
                            pending.push((p, true));
                        }
                    }
                }
                if !at_leaf {
                    pending.push((local_int - 1, false));
                }
            }
            if !pending.is_empty() {
                return Err(bad("a tree ends with a split that has no children"));
            }
            trees.push(QTree {
                node_base: node_base as u32,
                leaf_base: leaf_base as u32,
                root: root.ok_or_else(|| bad("an empty tree"))?,
            });
        }
        if next_internal != s.features.len() || next_internal != s.bins.len() {
            return Err(bad("more features or bins than splits"));
        }
        let q = QuantTrees {
            n_features: s.n_features,
            n_classes: s.n_classes,
            output: s.output,
            cuts: s.cuts,
            cut_start: s.cut_start,
            used_features: s.used_features,
            trees,
            nodes,
            leaves: s.leaves,
        };
        if q.n_leaves_stored() != n_leaves {
            return Err(bad("leaf values do not match the leaves"));
        }
        q.check()?;
        Ok(q)
    }
}
