//! The run-time form of a [`TreeEnsemble`] ([`CompiledTrees`]): the same
//! trees rearranged for traversal speed, built from the stored nodes (never
//! written to disk) and
//! taking exactly the branches the stored form takes (`x <= t` left, so a
//! `NaN` goes right), so predictions are bit-identical whichever is used.
//!
//! - [`LayoutKind::Pointers`]: the stored form itself, 16-byte nodes with
//!   explicit children, one tree after another.
//! - [`LayoutKind::Packed`]: 8-byte nodes in depth-first order, one child
//!   implicit (the next node) and the other a `u16` offset; a leaf is a node
//!   whose threshold is a NaN carrying the leaf number and whose offset is
//!   0, so `x <= NaN` is false for every `x` and a walk that reaches it stays
//!   there. That lets 4 trees be walked in lock-step (`compiled/walk.rs`), with no
//!   branch on the data, until all of them stand on a leaf: independent
//!   chains of loads the CPU overlaps, which is what deep forests (thousands
//!   of nodes a tree, a cache miss at most levels) need. The implicit child
//!   is the one with the larger subtree, the side more rows take, so a walk
//!   mostly moves to the next node, often on the same cache line; a flag in
//!   the node says when that child is the right one.
//! - [`LayoutKind::Implicit`]: shallow trees (depth ≤ 8)
//!   padded to complete binary trees in heap order (children of `i` at
//!   `2i + 1`, `2i + 2`): no child references at all and exactly `D` steps a
//!   tree, walked 8 trees at a time (`compiled/implicit.rs`, the layout
//!   the binned forms use too, over bins).
//!
//! [`Built::choose`] picks the one measured fastest for the ensemble's shape
//! (`cargo bench --bench layouts`).

mod packed;
#[cfg(test)]
mod tests;

use super::implicit::Implicit;
use super::walk::{Node, Walk};
use crate::model::tree::{Output, TreeEnsemble};
use packed::Packed;

/// Which traversal a [`TreeEnsemble`] uses at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    Pointers,
    Packed,
    Implicit,
}

/// A tree ensemble ready to predict: the checked saved form and the layout
/// its trees are walked in, built together and never changed after.
#[derive(Debug, Clone)]
pub struct CompiledTrees {
    ens: TreeEnsemble,
    built: Built,
}

#[derive(Debug, Clone)]
enum Built {
    /// The stored nodes, one tree after another.
    Pointers,
    Packed(Packed),
    Implicit(Implicit<u32, f32>),
}

impl Built {
    /// The layout measured fastest for this ensemble's shape: complete trees
    /// when every tree is shallow and padding at most quadruples the nodes
    /// (boosted trees), else packed nodes (deep forests), else none.
    fn choose(ens: &TreeEnsemble) -> Built {
        implicit(ens)
            .map(Built::Implicit)
            .or_else(|| Packed::build(ens).map(Built::Packed))
            .unwrap_or(Built::Pointers)
    }

    /// A given layout, if the trees fit it.
    fn of_kind(ens: &TreeEnsemble, kind: LayoutKind) -> Option<Built> {
        match kind {
            LayoutKind::Pointers => Some(Built::Pointers),
            LayoutKind::Packed => Packed::build(ens).map(Built::Packed),
            LayoutKind::Implicit => implicit(ens).map(Built::Implicit),
        }
    }
}

impl CompiledTrees {
    /// The layout [`Built::choose`] picks. Checked ensembles only: the
    /// layouts trust node references.
    pub(crate) fn chosen(ens: TreeEnsemble) -> CompiledTrees {
        let built = Built::choose(&ens);
        CompiledTrees { ens, built }
    }

    /// A given layout (benchmarks and tests), if the trees fit it. Checked
    /// ensembles only.
    pub(crate) fn with_kind(ens: TreeEnsemble, kind: LayoutKind) -> Option<CompiledTrees> {
        let built = Built::of_kind(&ens, kind)?;
        Some(CompiledTrees { ens, built })
    }

    /// The saved form this was compiled from.
    pub fn saved(&self) -> &TreeEnsemble {
        &self.ens
    }

    /// The layout predictions use.
    pub fn layout_kind(&self) -> LayoutKind {
        match &self.built {
            Built::Pointers => LayoutKind::Pointers,
            Built::Packed(_) => LayoutKind::Packed,
            Built::Implicit(_) => LayoutKind::Implicit,
        }
    }

    /// Bytes of the saved arrays and of the layout's.
    pub fn heap_bytes(&self) -> usize {
        let layout = match &self.built {
            Built::Pointers => 0,
            Built::Packed(p) => p.heap_bytes(),
            Built::Implicit(i) => i.heap_bytes(),
        };
        self.ens.heap_bytes() + layout
    }

    /// Calls `visit(tree, leaf number)` for every tree, in tree order,
    /// through the layout: the leaves [`CompiledTrees::accumulate`] sums.
    /// Tests use it to check that the binned form's cut walk reaches the
    /// binned walks' leaves.
    #[cfg(test)]
    pub(crate) fn walk_leaves(&self, row: &[f32], visit: impl FnMut(usize, usize)) {
        let row = &row[..self.ens.n_features];
        match &self.built {
            Built::Implicit(l) => l.walk(row, visit),
            Built::Packed(l) => l.walk(row, visit),
            Built::Pointers => Pointers(&self.ens).walk(row, visit),
        }
    }

    /// Raw scores into `acc[..n_outputs]`: summed leaf vectors (averaging)
    /// or base + summed leaf scores (boosting). Also the binned form's cut
    /// walk (`binned::Cuts`), over its copy of the trees.
    #[inline]
    pub(crate) fn accumulate(&self, row: &[f32], acc: &mut [f32]) {
        // The layouts' unchecked loads rely on this (and it panics on a
        // short row as indexing it would).
        let row = &row[..self.ens.n_features];
        // One monomorphic loop per layout.
        match &self.built {
            Built::Implicit(l) => self.accumulate_with(l, row, acc),
            Built::Packed(l) => self.accumulate_with(l, row, acc),
            Built::Pointers => self.accumulate_with(&Pointers(&self.ens), row, acc),
        }
    }

    /// The accumulation shared by every layout: trees are visited in order,
    /// so every layout adds the same values in the same order.
    #[inline(always)]
    fn accumulate_with(&self, walk: &impl Walk<[f32]>, row: &[f32], acc: &mut [f32]) {
        let ens = &self.ens;
        match &ens.output {
            Output::Average => {
                let values: &[f32] = &ens.leaf_values;
                if let [a0, a1] = acc {
                    // Two classes: the sums in registers, not through
                    // memory; the same adds in the same order as below.
                    let (mut s0, mut s1) = (0.0f32, 0.0f32);
                    walk.walk(row, |_, leaf| {
                        s0 += values[2 * leaf];
                        s1 += values[2 * leaf + 1];
                    });
                    (*a0, *a1) = (s0, s1);
                    return;
                }
                acc.fill(0.0);
                let k = ens.n_classes;
                walk.walk(row, |_, leaf| {
                    for (a, v) in acc.iter_mut().zip(&values[leaf * k..leaf * k + k]) {
                        *a += v;
                    }
                });
            }
            Output::Boosted {
                base, tree_output, ..
            } => {
                if let [b] = base[..] {
                    // One output: sum in a register, not through memory
                    // (a store-to-load chain per tree otherwise).
                    let mut sum = b;
                    walk.walk(row, |_, leaf| sum += ens.leaf_values[leaf]);
                    acc[0] = sum;
                } else {
                    acc[..base.len()].copy_from_slice(base);
                    walk.walk(row, |t, leaf| {
                        acc[tree_output[t] as usize] += ens.leaf_values[leaf];
                    });
                }
            }
        }
    }

    /// Whether [`Self::accumulate_rows`] walks blocks of rows tree-major
    /// (the packed layout: deep trees, a cache miss at most levels, which
    /// a block of rows shares).
    pub(crate) fn walks_in_blocks(&self) -> bool {
        matches!(self.built, Built::Packed(_))
    }

    /// [`Self::accumulate`] for a block of rows (`n_features` values each):
    /// row `r`'s raw scores into `acc[r * width..]` (`width` ≥ the scores'
    /// length). Tree-major in the packed layout (see
    /// [`Self::walks_in_blocks`]); every row adds the same values in the
    /// same order as `accumulate`, so its scores are bit-identical.
    pub(crate) fn accumulate_rows(&self, rows: &[f32], acc: &mut [f32], width: usize) {
        let ens = &self.ens;
        let d = ens.n_features;
        let m = rows.len() / d.max(1);
        let acc = &mut acc[..m * width];
        let Built::Packed(p) = &self.built else {
            for (row, a) in rows.chunks_exact(d).zip(acc.chunks_exact_mut(width)) {
                self.accumulate(row, a);
            }
            return;
        };
        let rows = &rows[..m * d];
        match &ens.output {
            Output::Average => {
                acc.fill(0.0);
                let k = ens.n_classes;
                p.walk_rows(rows, d, |r, _, leaf| {
                    let values = &ens.leaf_values[leaf * k..leaf * k + k];
                    for (a, v) in acc[r * width..r * width + k].iter_mut().zip(values) {
                        *a += v;
                    }
                });
            }
            Output::Boosted {
                base, tree_output, ..
            } => {
                for a in acc.chunks_exact_mut(width) {
                    a[..base.len()].copy_from_slice(base);
                }
                p.walk_rows(rows, d, |r, t, leaf| {
                    acc[r * width + tree_output[t] as usize] += ens.leaf_values[leaf];
                });
            }
        }
    }

    #[inline]
    pub fn predict_proba(&self, row: &[f32], out: &mut [f32]) {
        self.accumulate(row, out);
        self.ens.finish_proba(out);
    }

    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        self.accumulate(row, scratch);
        self.ens.finish_class(scratch)
    }

    /// [`Self::predict`]'s class and [`Self::predict_proba`]'s probabilities
    /// from one walk: both finish the same sums.
    #[inline]
    pub fn predict_with_proba(&self, row: &[f32], scores: &mut [f32], out: &mut [f32]) -> u32 {
        self.accumulate(row, scores);
        out.copy_from_slice(&scores[..out.len()]);
        self.ens.finish_proba(out);
        self.ens.finish_class(scores)
    }
}

/// The stored nodes, one tree after another.
struct Pointers<'a>(&'a TreeEnsemble);

impl Walk<[f32]> for Pointers<'_> {
    #[inline(always)]
    fn walk(&self, row: &[f32], mut visit: impl FnMut(usize, usize)) {
        for (t, &root) in self.0.roots.iter().enumerate() {
            visit(t, self.0.leaf_of(root, row) as usize);
        }
    }
}

/// The complete-tree layout of a float ensemble: `None` unless every tree
/// is 1 to 8 levels deep and padding at most quadruples the node count.
fn implicit(ens: &TreeEnsemble) -> Option<Implicit<u32, f32>> {
    let depth = ens.tree_depths().into_iter().max()? as u32;
    let internal = (1usize << depth.min(super::walk::MAX_IMPLICIT_DEPTH)) - 1;
    if (2 * internal + 1) * ens.n_trees() > 4 * ens.nodes.len()
        // The walk loads features unchecked.
        || ens
            .nodes
            .iter()
            .any(|n| !n.is_leaf() && n.feature as usize >= ens.n_features)
    {
        return None;
    }
    // Padding sends a row anywhere (every slot under a leaf names it).
    Implicit::build(depth, &ens.roots, (0, f32::INFINITY), |i| {
        let n = &ens.nodes[i as usize];
        Some(if n.is_leaf() {
            Node::Leaf(n.left)
        } else {
            Node::Split {
                feature: n.feature,
                key: n.threshold,
                left: n.left,
                right: n.right,
            }
        })
    })
}
