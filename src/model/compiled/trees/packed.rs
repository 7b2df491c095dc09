//! The packed layout of float trees: 8-byte nodes in depth-first order,
//! the larger subtree next, walked 4 trees in lock-step
//! ([`super::super::walk::lock_step`]).

use super::super::walk::{lock_step, packed_order, Node, Slot, Walk, PACKED_LANES};
use crate::model::tree::TreeEnsemble;

/// An 8-byte depth-first node: `row[feature] <= threshold` goes left. The
/// next node is the left child, or the right one when the [`FLIPPED`] bit of
/// `feature` is set; the other child is `far` nodes further. A leaf:
/// `threshold` is a quiet NaN whose low 22 bits are the leaf number, `far`
/// is 0, `feature` 0.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct PNode {
    threshold: f32,
    pub(super) feature: u16,
    pub(super) far: u16,
}

/// The bit of [`PNode::feature`] saying that the next node is the right child.
pub(super) const FLIPPED: u16 = 1 << 15;

const QUIET_NAN: u32 = 0x7fc0_0000;
const NAN_PAYLOAD: u32 = (1 << 22) - 1;

impl PNode {
    fn leaf(id: u32) -> PNode {
        PNode {
            threshold: f32::from_bits(QUIET_NAN | id),
            feature: 0,
            far: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn is_leaf(&self) -> bool {
        self.far == 0
    }

    #[inline(always)]
    fn leaf_id(&self) -> u32 {
        self.threshold.to_bits() & NAN_PAYLOAD
    }

    /// The offset given the row's value of the node's feature: to the next
    /// node when "goes left" and "next is left" agree (`x <= NaN` is false
    /// for a leaf, `far` 0 keeps the walk there).
    #[inline(always)]
    fn step_from(&self, x: f32) -> usize {
        let left = u16::from(x <= self.threshold);
        if left ^ (self.feature >> 15) != 0 {
            1
        } else {
            usize::from(self.far)
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Packed {
    pub(super) nodes: Vec<PNode>,
    /// First node of each tree.
    tree_start: Vec<u32>,
}

impl Packed {
    /// Bytes held by the nodes and tree starts.
    pub(super) fn heap_bytes(&self) -> usize {
        self.nodes.len() * size_of::<PNode>() + self.tree_start.len() * size_of::<u32>()
    }

    /// `None` when a tree is too big for `u16` offsets, a feature index for
    /// 15 bits, or a leaf number for a NaN payload. (Leaf numbers are read
    /// from the nodes, not counted in `leaf_values`: the binned form's cut
    /// walk lays out a copy of its trees that has no leaf values.)
    pub(super) fn build(ens: &TreeEnsemble) -> Option<Packed> {
        if ens.n_features == 0
            || ens.n_features > usize::from(!FLIPPED)
            || ens
                .nodes
                .iter()
                .any(|n| n.is_leaf() && n.left > NAN_PAYLOAD)
            // The lock-step walk loads features unchecked.
            || ens
                .nodes
                .iter()
                .any(|n| !n.is_leaf() && n.feature as usize >= ens.n_features)
        {
            return None;
        }
        let mut nodes: Vec<PNode> = Vec::with_capacity(ens.nodes.len());
        let mut tree_start = Vec::with_capacity(ens.n_trees());
        for &root in &ens.roots {
            tree_start.push(u32::try_from(nodes.len()).ok()?);
            let slots = packed_order(root, |i| {
                let n = &ens.nodes[i as usize];
                Some(if n.is_leaf() {
                    Node::Leaf(n.left)
                } else {
                    Node::Split {
                        feature: n.feature as u16,
                        key: n.threshold,
                        left: n.left,
                        right: n.right,
                    }
                })
            })?;
            if slots.len() > usize::from(u16::MAX) {
                return None;
            }
            for s in slots {
                nodes.push(match s {
                    Slot::Leaf(l) => PNode::leaf(l),
                    Slot::Split {
                        feature,
                        key,
                        flipped,
                        far,
                    } => PNode {
                        threshold: key,
                        feature: feature | if flipped { FLIPPED } else { 0 },
                        far: far as u16,
                    },
                });
            }
        }
        Some(Packed { nodes, tree_start })
    }
}

impl Walk<[f32]> for Packed {
    #[inline(always)]
    fn walk(&self, row: &[f32], mut visit: impl FnMut(usize, usize)) {
        let step = |p: usize| {
            // SAFETY: `lock_step` passes positions a walk reached: it starts
            // at a tree's first node and moves only to a child of the same
            // tree (offsets are built from the tree) or stays on a leaf, so
            // `p` is inside `nodes`; `build` keeps only features below
            // `n_features`, which `CompiledTrees::accumulate` checks `row`
            // covers.
            let n = unsafe { self.nodes.get_unchecked(p) };
            n.step_from(unsafe { *row.get_unchecked(usize::from(n.feature & !FLIPPED)) })
        };
        lock_step(&self.tree_start, step, |t, p| {
            visit(t, self.nodes[p].leaf_id() as usize)
        });
    }
}

impl Packed {
    /// The walk of every row of `rows` (`d` values each, `d` at least every
    /// feature a node reads), tree-major: each group of [`PACKED_LANES`]
    /// trees walks all the rows before the next group starts, so its nodes
    /// stay in cache while the rows pass, where a row-by-row walk reloads
    /// every tree for every row. Calls `visit(row, tree, leaf number)`; for
    /// each row the trees come in tree order, as [`Walk::walk`]'s do.
    /// (Walking two rows' lanes at once, 8 chains, was 25 % slower on
    /// forest 100: a lock-step ends with the longest of its paths.)
    #[inline(always)]
    pub(super) fn walk_rows(
        &self,
        rows: &[f32],
        d: usize,
        mut visit: impl FnMut(usize, usize, usize),
    ) {
        let n = self.tree_start.len();
        for g in (0..n).step_by(PACKED_LANES) {
            let starts = &self.tree_start[g..(g + PACKED_LANES).min(n)];
            for (r, row) in rows.chunks_exact(d).enumerate() {
                let step = |p: usize| {
                    // SAFETY: as in `walk`: positions stay inside `nodes`,
                    // and the caller's `d` covers every feature read.
                    let n = unsafe { self.nodes.get_unchecked(p) };
                    n.step_from(unsafe { *row.get_unchecked(usize::from(n.feature & !FLIPPED)) })
                };
                lock_step(starts, step, |t, p| {
                    visit(r, g + t, self.nodes[p].leaf_id() as usize)
                });
            }
        }
    }
}
