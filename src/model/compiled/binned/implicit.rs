//! The complete-tree walk ([`Implicit`]): shallow trees padded to one
//! depth and stored in heap order, walked several trees in lock-step with
//! no branch on the data. Also the layout [`Blocks`](super::Blocks) is built
//! from. Uses the saved form's nodes and the [`Walk`] trait.

use super::Walk;
use crate::model::binned::decode;
use crate::model::QuantTrees;

/// Shallow trees padded to complete binary trees of one depth `D`, in heap
/// order (node `i`'s children are `2i + 1` and `2i + 2`), so a prediction
/// walks exactly `D` levels per tree with no branch on the data and no child
/// pointers: `i = 2i + 1 + (bins[f] > bin)`. The walks of successive trees
/// do not depend on one another, so the CPU overlaps them. A leaf above
/// depth `D` is padded with always-left nodes (`bin = u8::MAX`) and owns
/// every leaf slot below it.
///
/// Used when every tree is at most [`MAX_IMPLICIT_DEPTH`] deep and padding
/// at most quadruples the node count (boosted trees; not deep forests).
#[derive(Debug, Clone, PartialEq)]
pub struct Implicit {
    pub depth: u32,
    /// `(feature, bin)` per heap node, `2^D − 1` per tree.
    pub nodes: Vec<[u8; 2]>,
    /// Global leaf number per leaf slot, `2^D` per tree.
    pub leaf_ref: Vec<u32>,
}

pub const MAX_IMPLICIT_DEPTH: u32 = 8;

impl Implicit {
    /// `None` when the trees are too deep, padding would more than
    /// quadruple them, or a feature or bin does not fit a byte.
    pub(super) fn build(q: &QuantTrees) -> Option<Implicit> {
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
        let internal = (1usize << depth) - 1;
        if depth == 0
            || depth > MAX_IMPLICIT_DEPTH
            || internal * q.trees.len() > 4 * q.nodes.len().max(1)
        {
            return None;
        }
        let slots = 1usize << depth;
        let mut im = Implicit {
            depth,
            nodes: vec![[0, u8::MAX]; internal * q.trees.len()],
            leaf_ref: vec![0; slots * q.trees.len()],
        };
        for (t, tree) in q.trees.iter().enumerate() {
            let nodes = &q.nodes[tree.node_base as usize..];
            let heap = &mut im.nodes[t * internal..(t + 1) * internal];
            let refs = &mut im.leaf_ref[t * slots..(t + 1) * slots];
            // (child, heap position, level)
            let mut stack = vec![(tree.root, 0usize, 0u32)];
            while let Some((c, pos, level)) = stack.pop() {
                match decode(c) {
                    Ok(i) => {
                        heap[pos] = [
                            u8::try_from(nodes[i].feature).ok()?,
                            u8::try_from(nodes[i].bin).ok()?,
                        ];
                        stack.push((nodes[i].left, 2 * pos + 1, level + 1));
                        stack.push((nodes[i].right, 2 * pos + 2, level + 1));
                    }
                    Err(l) => {
                        // Leaf slots under heap position `pos`.
                        let below = depth - level;
                        let first = ((pos + 1) << below) - 1 - internal;
                        refs[first..first + (1 << below)].fill(tree.leaf_base + l as u32);
                    }
                }
            }
        }
        Some(im)
    }

    /// Global leaf number tree `t` sends a binned row to.
    #[inline(always)]
    fn leaf_of(&self, t: usize, bins: &[u8; 256]) -> usize {
        let internal = (1usize << self.depth) - 1;
        let heap = &self.nodes[t * internal..(t + 1) * internal];
        let mut i = 0usize;
        for _ in 0..self.depth {
            let [f, b] = heap[i];
            // Any `u8` feature indexes the 256-slot row.
            let x = bins[usize::from(f)];
            i = 2 * i + 1 + usize::from(x > b);
        }
        self.leaf_ref[t * (internal + 1) + (i - internal)] as usize
    }

    /// Bytes held by the heap nodes and leaf slots.
    pub(super) fn heap_bytes(&self) -> usize {
        self.nodes.len() * size_of::<[u8; 2]>() + self.leaf_ref.len() * size_of::<u32>()
    }
}

/// Trees walked in lock-step, this many at a time: their walks are
/// independent chains of loads, so the CPU works on all of them at once
/// instead of waiting on one tree's loads.
const LANES: usize = 8;

impl Walk<[u8; 256]> for Implicit {
    #[inline(always)]
    fn walk(&self, q: &QuantTrees, bins: &[u8; 256], mut visit: impl FnMut(usize, usize)) {
        let internal = (1usize << self.depth) - 1;
        let n = q.trees.len();
        let full = n - n % LANES;
        for t0 in (0..full).step_by(LANES) {
            let heaps: [&[[u8; 2]]; LANES] =
                std::array::from_fn(|k| &self.nodes[(t0 + k) * internal..(t0 + k + 1) * internal]);
            let mut pos = [0usize; LANES];
            for _ in 0..self.depth {
                for k in 0..LANES {
                    // SAFETY: after s < D steps a heap position is below
                    // 2^(s+1) − 1 ≤ 2^D − 1 = `heaps[k].len()`. Every
                    // feature a node tests has a cut (`check`: its bin is
                    // below the feature's cut count), so it is a used
                    // feature, and `bin_row` has just written `bins[f]` for
                    // each of those; padding tests feature 0 (its answer
                    // does not matter), and any `u8` feature indexes the
                    // 256-slot row. (Bounds checks cost a third of this loop
                    // in the float twin: measured.)
                    let [f, b] = unsafe { *heaps[k].get_unchecked(pos[k]) };
                    let x = bins[usize::from(f)];
                    pos[k] = 2 * pos[k] + 1 + usize::from(x > b);
                }
            }
            for (k, &p) in pos.iter().enumerate() {
                let t = t0 + k;
                visit(
                    t,
                    self.leaf_ref[t * (internal + 1) + (p - internal)] as usize,
                );
            }
        }
        for t in full..n {
            visit(t, self.leaf_of(t, bins));
        }
    }
}
