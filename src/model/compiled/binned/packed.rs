//! The packed depth-first walk ([`Packed8`]): deep trees (forests) as
//! 4-byte nodes in depth-first order, the larger subtree next, walked
//! several trees at a time by the float form's [`lock_step`]. Uses the
//! saved form's nodes and the [`Walk`] trait.

use crate::model::binned::decode;
use crate::model::compiled::walk::{lock_step, packed_order, Node, Slot, Walk, PACKED_LANES};
use crate::model::QuantTrees;

/// Deep trees (forests) as 4-byte depth-first nodes, `u8` bins and
/// features, the binned twin of the float form's packed layout
/// (`compiled/trees/packed.rs`): the next node is the child with the larger
/// subtree, the other is `far` nodes further, and a leaf parks the walk, so
/// [`lock_step`] walks them several at a time with no branch on the data
/// until all of them stand on a leaf. `far`'s top bit is the flag
/// ([`FAR_FLIPPED`]: the next node is the right child), its low 15 bits the
/// offset. A leaf has `far` 0, which parks the walk whatever its test says
/// (the step to the next node is `off != 0`), so its `feature` and `bin`
/// bytes are free: they hold the tree-local leaf number (low, high byte)
/// and no separate field is needed. Its test reads `bins[leaf number's low
/// byte]`, in bounds of the 256-slot row.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed8 {
    pub(super) nodes: Vec<PNode8>,
    tree_start: Vec<u32>,
    /// Each tree's first leaf number: a leaf node holds its tree-local one.
    leaf_base: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub(super) struct PNode8 {
    feature: u8,
    bin: u8,
    pub(super) far: u16,
}

pub(super) const FAR_FLIPPED: u16 = 1 << 15;

impl PNode8 {
    #[inline(always)]
    fn step_from(&self, x: u8) -> usize {
        let off = self.far & !FAR_FLIPPED;
        let left = u16::from(x <= self.bin);
        if left ^ (self.far >> 15) != 0 {
            usize::from(off != 0)
        } else {
            usize::from(off)
        }
    }

    fn leaf(&self) -> usize {
        usize::from(self.feature) | usize::from(self.bin) << 8
    }
}

impl Packed8 {
    /// `None` when a feature or bin does not fit a byte, or a tree has more
    /// than 32,767 nodes (checked models only).
    pub(super) fn build(q: &QuantTrees) -> Option<Packed8> {
        if q.n_features == 0 || q.n_features > 256 {
            return None;
        }
        let mut nodes: Vec<PNode8> = Vec::with_capacity(2 * q.nodes.len() + q.trees.len());
        let mut tree_start = Vec::with_capacity(q.trees.len());
        for tree in &q.trees {
            tree_start.push(u32::try_from(nodes.len()).ok()?);
            let local = &q.nodes[tree.node_base as usize..];
            let slots = packed_order(tree.root, |c| {
                Some(match decode(c) {
                    Ok(i) => Node::Split {
                        feature: u8::try_from(local[i].feature).ok()?,
                        key: u8::try_from(local[i].bin).ok()?,
                        left: local[i].left,
                        right: local[i].right,
                    },
                    // The tree-local leaf number: a leaf node holds it.
                    Err(l) => Node::Leaf(l as u32),
                })
            })?;
            // Offsets and (so) leaf numbers fit 15 bits.
            if slots.len() > usize::from(!FAR_FLIPPED) {
                return None;
            }
            for s in slots {
                nodes.push(match s {
                    Slot::Leaf(l) => PNode8 {
                        feature: l as u8,
                        bin: (l >> 8) as u8,
                        far: 0,
                    },
                    Slot::Split {
                        feature,
                        key,
                        flipped,
                        far,
                    } => PNode8 {
                        feature,
                        bin: key,
                        far: far as u16 | if flipped { FAR_FLIPPED } else { 0 },
                    },
                });
            }
        }
        let leaf_base = q.trees.iter().map(|t| t.leaf_base).collect();
        Some(Packed8 {
            nodes,
            tree_start,
            leaf_base,
        })
    }

    /// Bytes held by the nodes and tree offsets.
    pub(super) fn heap_bytes(&self) -> usize {
        self.nodes.len() * size_of::<PNode8>()
            + (self.tree_start.len() + self.leaf_base.len()) * size_of::<u32>()
    }
}

impl Walk<[u8; 256]> for Packed8 {
    #[inline(always)]
    fn walk(&self, bins: &[u8; 256], mut visit: impl FnMut(usize, usize)) {
        let step = |p: usize| {
            // SAFETY: `lock_step` passes positions a walk reached: it starts
            // at a tree's first node and moves only to a child of the same
            // tree (offsets are built from the checked tree) or stays on a
            // leaf, so `p` is inside `nodes`. Any `u8` feature indexes the
            // 256-slot row.
            let n = unsafe { self.nodes.get_unchecked(p) };
            n.step_from(bins[usize::from(n.feature)])
        };
        lock_step(&self.tree_start, step, |t, p| {
            visit(t, self.leaf_base[t] as usize + self.nodes[p].leaf());
        });
    }
}

impl Packed8 {
    /// Every binned row's leaf in every tree, `leaves[r * n_trees + t]`,
    /// found tree-major: each group of [`PACKED_LANES`] trees walks all the
    /// rows before the next group starts, so its nodes stay in cache while
    /// the rows pass, where a row-by-row walk reloads every tree for every
    /// row (a forest of 500 trees is about 1 MB of nodes). The leaves are
    /// the ones [`Walk::walk`] visits.
    pub(super) fn leaves_of_rows(&self, bins: &[[u8; 256]], leaves: &mut [u32]) {
        let n = self.tree_start.len();
        for g in (0..n).step_by(PACKED_LANES) {
            let starts = &self.tree_start[g..(g + PACKED_LANES).min(n)];
            for (r, row) in bins.iter().enumerate() {
                let step = |p: usize| {
                    // SAFETY: as in `walk`.
                    let n = unsafe { self.nodes.get_unchecked(p) };
                    n.step_from(row[usize::from(n.feature)])
                };
                let out = &mut leaves[r * n..(r + 1) * n];
                lock_step(starts, step, |t, p| {
                    out[g + t] = self.leaf_base[g + t] + self.nodes[p].leaf() as u32;
                });
            }
        }
    }
}
