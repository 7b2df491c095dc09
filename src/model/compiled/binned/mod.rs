//! The run-time form of a binned tree ensemble ([`CompiledBinned`], what
//! [`crate::model::Model::compile`] makes of a [`QuantTrees`]): how a row
//! is binned, how the trees are walked ([`Walker`]), and how the leaves
//! they reach add up into the float form's scores.
//!
//! A binned walk pays for the row's binning with cheaper trees. With `u8`
//! bins (every feature at most 255 cuts: always for optbench's trainers,
//! which split on at most 256 bins a feature) a packed node is 4 bytes
//! against the float form's 8, and deep forests, whose walks wait on cache
//! misses, walk faster than their float parent. Shallow boosted trees fit
//! in cache either way, and walked one node per level the integer walk is
//! as long a chain of dependent loads as the float one, plus the binning:
//! [`Blocks`] evaluates three levels at once with SSSE3 and bins the row
//! with explicit vector counts, which makes them faster too. For a few
//! trees the row's binning costs more than the trees' whole float walk:
//! [`Cuts`] walks those over the raw row, cut values as thresholds, in the
//! float model's own layout, at about the float parent's speed.
//! [`CompiledBinned::new`] picks the walk ([`cut_walk_pays`]); `cargo bench
//! --bench quant_ratio` is the measurement behind the rule.
//!
//! Files: `binner.rs` bins a row; the walks are `implicit.rs` (the
//! complete-tree layout of `compiled/implicit.rs`, on bins), `packed.rs`
//! (depth-first nodes), `blocks.rs` with `x86.rs` (three levels a step,
//! SSSE3) and `cuts.rs` (the raw row, cut values as thresholds); this file
//! holds the walk's choice ([`CompiledBinned::new`]), the reference walk
//! ([`Pointers`]) and the accumulation of leaves. Uses the saved form
//! (`model/binned/`), the walks' shared parts (`compiled/walk.rs`) and the
//! float form's layouts (`compiled/trees/`, for the cut walk).

mod binner;
mod blocks;
mod cuts;
mod implicit;
mod packed;
#[cfg(test)]
mod tests;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[allow(unused_unsafe)] // intrinsics are safe fns in newer Rust than the MSRV
mod x86;

use super::implicit::Implicit;
use super::walk::Walk;
use crate::model::{argmax, Leaves, Output, QTree, QuantTrees};
use binner::Binner;
use blocks::{Blocks, Row64};
use cuts::Cuts;
use implicit::implicit;
use packed::Packed8;

/// The run-time form of a [`QuantTrees`]
/// ([`crate::model::Model::compile`]): the saved form, how a row is binned,
/// and how the trees are walked, built together from a checked model and
/// never changed after.
#[derive(Debug, Clone)]
pub struct CompiledBinned {
    q: QuantTrees,
    binner: Binner,
    walker: Walker,
    /// [`Leaves::Int8Shifted`] leaves as the `i32` the walks add (each
    /// shifted by its tree's power of two once, here, rather than per leaf
    /// on every row); empty for other leaves.
    wide: Vec<i32>,
}

/// The run-time traversal of a [`QuantTrees`]. The binned walks (`…8`,
/// [`Walker::Blocks`]) hold bins and features in one byte each, which
/// halves their nodes (a packed node is 4 bytes, the float form's 8) and is
/// what makes binning pay; they are built whenever every feature has at most
/// 255 cuts and there are at most 256 features. Shallow trees take
/// [`Blocks`] on x86 CPUs with SSSE3 and POPCNT, [`Implicit`] elsewhere.
/// Only the reference walk ([`Walker::Pointers`]) reads `u16` bins (`cargo
/// bench --bench quant_ratio`).
#[derive(Debug, Clone)]
pub enum Walker {
    /// The stored nodes, one tree after another (any size), `u16` bins.
    Pointers,
    /// Complete trees, `u8` bins.
    Implicit8(Implicit<u8, u8>),
    /// Packed depth-first nodes, `u8` bins.
    Packed8(Packed8),
    /// Complete trees in blocks of three levels, `u8` bins, SSSE3 (≤ 6
    /// levels, features < 64).
    Blocks(Blocks),
    /// No binning: the trees over the raw row, cut values as thresholds, in
    /// the float model's layout (few trees).
    Cuts(Cuts),
}

/// The pointer layout (any depth): the stored nodes, one tree after
/// another, on `u16` bins.
struct Pointers<'a>(&'a QuantTrees);

impl Walk<[u16]> for Pointers<'_> {
    #[inline(always)]
    fn walk(&self, bins: &[u16], mut visit: impl FnMut(usize, usize)) {
        let q = self.0;
        for (t, tree) in q.trees.iter().enumerate() {
            visit(t, leaf_of(q, tree, bins));
        }
    }
}

/// A row's leaves, found beforehand by a block walk
/// ([`CompiledBinned::accumulate_rows`]), visited in tree order as the
/// row's own walk visits them, so the same sums follow.
struct Replay<'a>(&'a [u32]);

impl Walk<()> for Replay<'_> {
    #[inline(always)]
    fn walk(&self, _: &(), mut visit: impl FnMut(usize, usize)) {
        for (t, &leaf) in self.0.iter().enumerate() {
            visit(t, leaf as usize);
        }
    }
}

/// A block walk's buffers (`CompiledModel`'s scratch holds one): the
/// block's binned rows and their leaves.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockScratch {
    bins: Vec<[u8; 256]>,
    leaves: Vec<u32>,
}

/// The leaf number (global) that tree `t` sends a binned row to.
#[inline(always)]
fn leaf_of(q: &QuantTrees, tree: &QTree, bins: &[u16]) -> usize {
    let nodes = &q.nodes[tree.node_base as usize..];
    let mut c = tree.root;
    while c >= 0 {
        let n = &nodes[c as usize];
        c = if bins[usize::from(n.feature)] <= n.bin {
            n.left
        } else {
            n.right
        };
    }
    tree.leaf_base as usize + (!c) as usize
}

/// Which walk [`CompiledBinned::with`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinnedWalk {
    /// The rule of [`CompiledBinned::new`].
    Chosen,
    /// A binned walk: `u8` bins when they fit, else the reference walk.
    Binned,
    /// The cut walk over the raw row, whatever the trees' shape.
    Cuts,
    /// The stored nodes one tree after another, on `u16` bins.
    Reference,
}

/// Outputs (classes, or boosting's scores) summed in integers on the stack
/// ([`CompiledBinned::accumulate_int`]).
const INT_OUTPUTS: usize = 16;

impl CompiledBinned {
    /// The run-time form of a checked model: a binned walk
    /// ([`CompiledBinned::binned`]), replaced by the cut walk when binning
    /// the row does not pay for these trees ([`cut_walk_pays`], which looks at
    /// the binned walk's kind) or when the rows would need `u16` bins. A
    /// walk on `u16` bins loads bins twice as wide as the `u8` walks, bins
    /// each feature with a binary search past 255 cuts, and walks nodes as
    /// wide as the float form's: it is slower than the float parent (`cargo
    /// bench --bench quant_ratio -- many-cuts`), while the cut walk is the
    /// parent's own walk. The reference walk on `u16` bins
    /// ([`Walker::Pointers`]) remains only where the cut walk cannot be
    /// built (cuts out of order).
    pub(crate) fn new(q: QuantTrees) -> CompiledBinned {
        let binned = CompiledBinned::binned(q);
        if !binned.is_narrow() || cut_walk_pays(&binned.q, &binned.walker) {
            if let Some(c) = Cuts::build(&binned.q) {
                return CompiledBinned::assemble(binned.q, Binner::default(), Walker::Cuts(c));
            }
        }
        binned
    }

    /// The walk `how` names, or `None` when the trees cannot take it (the
    /// cut walk on cuts that are not sorted). Checked models only.
    pub(crate) fn with(q: QuantTrees, how: BinnedWalk) -> Option<CompiledBinned> {
        match how {
            BinnedWalk::Chosen => Some(CompiledBinned::new(q)),
            BinnedWalk::Binned => Some(CompiledBinned::binned(q)),
            BinnedWalk::Reference => {
                let binner = Binner::build(&q.cuts, &q.cut_start, &q.used_features);
                Some(CompiledBinned::assemble(q, binner, Walker::Pointers))
            }
            BinnedWalk::Cuts => Cuts::build(&q)
                .map(|c| CompiledBinned::assemble(q, Binner::default(), Walker::Cuts(c))),
        }
    }

    /// The parts together, with the shifted int8 leaves widened.
    fn assemble(q: QuantTrees, binner: Binner, walker: Walker) -> CompiledBinned {
        let wide = match &q.leaves {
            Leaves::Int8Shifted { .. } => q
                .summed_leaves()
                .into_iter()
                // Exact: `check` keeps shifts at most 16, so every
                // shifted leaf is at most 127 · 2^16 < 2^24.
                .map(|v| v as i32)
                .collect(),
            _ => Vec::new(),
        };
        CompiledBinned {
            q,
            binner,
            walker,
            wide,
        }
    }

    /// A binned walk on `u8` bins when every feature and bin fits a byte:
    /// complete trees when the trees are shallow (boosting), else packed
    /// nodes (deep forests); else the stored nodes on `u16` bins.
    fn binned(q: QuantTrees) -> CompiledBinned {
        let binner = Binner::build(&q.cuts, &q.cut_start, &q.used_features);
        // A row's bins run up to the cut count (a NaN's bin).
        let fits =
            (0..q.n_features).all(|f| q.cut_start[f + 1] - q.cut_start[f] <= u32::from(u8::MAX));
        let narrow_walker = if fits {
            implicit(&q)
                .map(|im| Blocks::build(&q, &im).map_or(Walker::Implicit8(im), Walker::Blocks))
                .or_else(|| Packed8::build(&q).map(Walker::Packed8))
        } else {
            None
        };
        let walker = narrow_walker.unwrap_or(Walker::Pointers);
        CompiledBinned::assemble(q, binner, walker)
    }

    /// The saved form this was compiled from.
    pub fn saved(&self) -> &QuantTrees {
        &self.q
    }

    /// Whether the walk bins rows into `u8`.
    pub fn is_narrow(&self) -> bool {
        matches!(
            self.walker,
            Walker::Implicit8(_) | Walker::Packed8(_) | Walker::Blocks(_)
        )
    }

    /// The walker's name (for benchmarks and reports).
    pub fn walker_name(&self) -> &'static str {
        match &self.walker {
            Walker::Pointers => "pointers",
            Walker::Implicit8(_) => "implicit-u8",
            Walker::Packed8(_) => "packed-u8",
            Walker::Blocks(_) => "blocks",
            Walker::Cuts(_) => "cuts",
        }
    }

    /// Bytes held by the saved arrays, the binner and the walk's layout.
    pub fn heap_bytes(&self) -> usize {
        let walker = match &self.walker {
            Walker::Pointers => 0,
            Walker::Implicit8(im) => im.heap_bytes(),
            Walker::Packed8(p) => p.heap_bytes(),
            Walker::Blocks(b) => b.heap_bytes(),
            Walker::Cuts(c) => c.heap_bytes(),
        };
        self.q.heap_bytes() + walker + self.binner.heap_bytes() + self.wide.len() * size_of::<i32>()
    }

    /// One monomorphic loop per layout × leaf precision.
    #[inline(always)]
    fn accumulate_leaves<R: ?Sized>(&self, acc: &mut [f32], walk: &impl Walk<R>, bins: &R) {
        let q = &self.q;
        // The closures hold the leaves as slices (pointer and length, kept
        // in registers), not as references to the vectors inside `q`: the
        // int8 forests' loop measured 4-6 % slower reading through those.
        match &q.leaves {
            Leaves::F32(v) => {
                let v: &[f32] = v;
                self.accumulate_with(acc, walk, bins, move |_, i| v[i])
            }
            Leaves::Int8 { values, .. } if q.leaf_scale().is_some() => {
                let values: &[i8] = values;
                self.accumulate_int(acc, walk, bins, move |i| i32::from(values[i]))
            }
            Leaves::Int8 { values, .. } => {
                let values: &[i8] = values;
                self.accumulate_with(acc, walk, bins, move |_, i| f32::from(values[i]))
            }
            Leaves::Int8Shifted { .. } => {
                let wide: &[i32] = &self.wide;
                self.accumulate_int(acc, walk, bins, move |i| wide[i])
            }
        }
        self.rescale(acc);
    }

    /// Raw scores into `acc`, as the float form computes them.
    #[inline(always)]
    fn accumulate(&self, row: &[f32], bins: &mut [u16], acc: &mut [f32]) {
        match &self.walker {
            Walker::Cuts(c) => {
                c.accumulate(row, acc);
                self.rescale(acc);
            }
            Walker::Blocks(b) => self.accumulate_blocks(row, acc, b),
            Walker::Implicit8(im) => self.accumulate8(row, acc, im),
            Walker::Packed8(p) => self.accumulate8(row, acc, p),
            Walker::Pointers => self.accumulate16(row, bins, acc, &Pointers(&self.q)),
        }
    }

    /// [`CompiledBinned::accumulate`] on `u8` bins, in a 256-slot row on the
    /// stack (unused features stay 0: only leaves and padding test them).
    #[inline(never)]
    fn accumulate8(&self, row: &[f32], acc: &mut [f32], walk: &impl Walk<[u8; 256]>) {
        let mut bins = [0u8; 256];
        // `binned` made this walker only when every bin fits a byte.
        self.binner.bin_row(row, |f, b| bins[f] = b as u8);
        self.accumulate_leaves(acc, walk, &bins);
    }

    /// [`CompiledBinned::accumulate`] for [`Blocks`]: every used feature is
    /// below 64 (`Blocks::build`).
    #[inline(never)]
    fn accumulate_blocks(&self, row: &[f32], acc: &mut [f32], walk: &Blocks) {
        let mut bins = Row64([0; 64]);
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: a `Blocks` is built only on CPUs with SSSE3 and POPCNT,
        // for used features below 64; checked models' rows cover them.
        unsafe {
            x86::bin_row(&self.binner, row, &mut bins)
        };
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        self.binner.bin_row(row, |f, b| bins.0[f] = b as u8);
        self.accumulate_leaves(acc, walk, &bins);
    }

    /// [`CompiledBinned::accumulate`] on `u16` bins, in the scratch.
    #[inline(never)]
    fn accumulate16(
        &self,
        row: &[f32],
        bins: &mut [u16],
        acc: &mut [f32],
        walk: &impl Walk<[u16]>,
    ) {
        // One slot per feature (as `CompiledModel::scratch` makes) is
        // asserted here.
        let bins = &mut bins[..self.q.n_features];
        self.binner.bin_row(row, |f, b| bins[f] = b);
        self.accumulate_leaves(acc, walk, &*bins);
    }

    #[inline(always)]
    pub fn predict_proba(&self, row: &[f32], bins: &mut [u16], out: &mut [f32]) {
        self.accumulate(row, bins, out);
        self.finish_proba(out);
    }

    #[inline(always)]
    pub fn predict(&self, row: &[f32], bins: &mut [u16], scores: &mut [f32]) -> u32 {
        self.accumulate(row, bins, scores);
        self.finish_class(scores)
    }

    /// [`Self::predict`]'s class and [`Self::predict_proba`]'s probabilities
    /// from one walk: both finish the same sums.
    #[inline(always)]
    pub fn predict_with_proba(
        &self,
        row: &[f32],
        bins: &mut [u16],
        scores: &mut [f32],
        out: &mut [f32],
    ) -> u32 {
        self.accumulate(row, bins, scores);
        out.copy_from_slice(&scores[..out.len()]);
        self.finish_proba(out);
        self.finish_class(scores)
    }

    /// Whether [`Self::accumulate_rows`] walks blocks of rows tree-major
    /// (the packed walk: deep trees, whose nodes a block of rows shares).
    pub(crate) fn walks_in_blocks(&self) -> bool {
        matches!(self.walker, Walker::Packed8(_))
    }

    /// [`Self::accumulate`] for a block of rows (`n_features` values each):
    /// row `r`'s scores into `acc[r * width..]` (`width` ≥ the scores'
    /// length). The packed walk finds every row's leaves tree-major first
    /// ([`Packed8::leaves_of_rows`]), then each row sums its leaves in tree
    /// order through the same accumulation as a single row, so its scores
    /// are bit-identical. Other walks go row by row.
    pub(crate) fn accumulate_rows(
        &self,
        rows: &[f32],
        acc: &mut [f32],
        width: usize,
        block: &mut BlockScratch,
    ) {
        let d = self.q.n_features;
        let m = rows.len() / d.max(1);
        let Walker::Packed8(p) = &self.walker else {
            let mut bins = vec![0u16; d];
            for (row, a) in rows.chunks_exact(d).zip(acc.chunks_exact_mut(width)) {
                self.accumulate(row, &mut bins, a);
            }
            return;
        };
        // Unused features stay 0, as in a single row's walk.
        block.bins.clear();
        block.bins.resize(m, [0; 256]);
        for (row, bins) in rows.chunks_exact(d).zip(block.bins.iter_mut()) {
            // `binned` made this walker only when every bin fits a byte.
            self.binner.bin_row(row, |f, b| bins[f] = b as u8);
        }
        let t = self.q.n_trees();
        block.leaves.resize(m * t, 0);
        p.leaves_of_rows(&block.bins, &mut block.leaves);
        for (r, a) in acc.chunks_exact_mut(width).take(m).enumerate() {
            self.accumulate_leaves(
                &mut a[..self.q.n_classes],
                &Replay(&block.leaves[r * t..(r + 1) * t]),
                &(),
            );
        }
    }

    /// Int8 leaves: the integer sums in `acc` into scores (averaging: times
    /// the scale; boosting: times the scale plus the base). Nothing for f32
    /// leaves, whose sums already are the scores.
    #[inline(always)]
    fn rescale(&self, acc: &mut [f32]) {
        let Some(scale) = self.q.leaf_scale() else {
            return;
        };
        match &self.q.output {
            Output::Average => acc.iter_mut().for_each(|a| *a *= scale),
            Output::Boosted { base, .. } => {
                for (a, b) in acc.iter_mut().zip(base) {
                    *a = *a * scale + b;
                }
            }
        }
    }

    /// Scaled int8 leaves: the sums in `i32` of `value(leaf)` (the leaves as
    /// integers, shifted for [`Leaves::Int8Shifted`]), then as `f32` into
    /// `acc`. They are exact, and so are
    /// f32 sums of the same integers while every partial sum stays below
    /// 2^24 ([`QuantTrees::int_sums_exact_in_f32`]), so either gives the
    /// same bits in any order; an integer add is one cycle
    /// on the chain of sums where an f32 add is four and the conversion of
    /// each leaf another µop. More than [`INT_OUTPUTS`] outputs sum in
    /// `f32`.
    #[inline(always)]
    fn accumulate_int<R: ?Sized>(
        &self,
        acc: &mut [f32],
        walk: &impl Walk<R>,
        bins: &R,
        value: impl Fn(usize) -> i32,
    ) {
        let v = |_: usize, i: usize| value(i);
        let q = &self.q;
        match &q.output {
            Output::Boosted { base, .. } if base.len() == 1 => {
                let mut sum = 0i32;
                walk.walk(bins, |t, leaf| sum += v(t, leaf));
                acc[0] = sum as f32;
            }
            Output::Boosted {
                base, tree_output, ..
            } if base.len() <= INT_OUTPUTS => {
                let mut sums = [0i32; INT_OUTPUTS];
                walk.walk(bins, |t, leaf| {
                    sums[tree_output[t] as usize] += v(t, leaf);
                });
                for (a, s) in acc.iter_mut().zip(&sums[..base.len()]) {
                    *a = *s as f32;
                }
            }
            Output::Average if q.n_classes <= INT_OUTPUTS => {
                let k = q.n_classes;
                let mut sums = [0i32; INT_OUTPUTS];
                walk.walk(bins, |t, leaf| {
                    for (j, s) in sums[..k].iter_mut().enumerate() {
                        *s += v(t, leaf * k + j);
                    }
                });
                for (a, s) in acc.iter_mut().zip(&sums[..k]) {
                    *a = *s as f32;
                }
            }
            _ => self.accumulate_with(acc, walk, bins, |t, i| v(t, i) as f32),
        }
    }

    /// The sums of [`CompiledBinned::accumulate`] for either layout and leaf
    /// precision, before [`CompiledBinned::rescale`]: `value(t, i)` is leaf
    /// value `i` (of tree `t`) as summed (f32 leaves' sums then follow the
    /// float model's order exactly).
    #[inline(always)]
    fn accumulate_with<R: ?Sized>(
        &self,
        acc: &mut [f32],
        walk: &impl Walk<R>,
        bins: &R,
        value: impl Fn(usize, usize) -> f32,
    ) {
        let q = &self.q;
        match &q.output {
            Output::Average => {
                if let [a0, a1] = acc {
                    // Two classes: the sums in registers, not through
                    // memory; the same adds in the same order as below.
                    let (mut s0, mut s1) = (0.0f32, 0.0f32);
                    walk.walk(bins, |t, leaf| {
                        s0 += value(t, 2 * leaf);
                        s1 += value(t, 2 * leaf + 1);
                    });
                    (*a0, *a1) = (s0, s1);
                    return;
                }
                acc.fill(0.0);
                let k = q.n_classes;
                walk.walk(bins, |t, leaf| {
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a += value(t, leaf * k + j);
                    }
                });
            }
            Output::Boosted {
                base, tree_output, ..
            } => {
                // f32 leaves: the float model's order (base first), so the
                // sums are bit-identical; int8: integer sums, the base added
                // when scaled.
                if q.leaf_scale().is_some() {
                    acc[..base.len()].fill(0.0);
                } else {
                    acc[..base.len()].copy_from_slice(base);
                }
                if base.len() == 1 {
                    // One output: sum in a register (see `CompiledTrees`).
                    let mut sum = acc[0];
                    walk.walk(bins, |t, leaf| sum += value(t, leaf));
                    acc[0] = sum;
                } else {
                    walk.walk(bins, |t, leaf| {
                        acc[tree_output[t] as usize] += value(t, leaf);
                    });
                }
            }
        }
    }

    /// Accumulated scores into probabilities, in place.
    #[inline(always)]
    pub(crate) fn finish_proba(&self, out: &mut [f32]) {
        match &self.q.output {
            Output::Average => {
                let s = 1.0 / self.q.n_trees() as f32;
                out.iter_mut().for_each(|o| *o *= s);
            }
            Output::Boosted { link, .. } => link.apply(out),
        }
    }

    /// The class from accumulated scores.
    #[inline(always)]
    pub(crate) fn finish_class(&self, scores: &[f32]) -> u32 {
        match &self.q.output {
            Output::Average => argmax(scores),
            Output::Boosted { link, .. } => link.class(scores),
        }
    }
}

/// Whether to walk `q` over the raw row ([`Cuts`]) rather than bin its
/// row, given the binned walker [`CompiledBinned::binned`] built for it.
/// Binning costs about the same for every used feature, and each tree's
/// binned walk saves about the same over its float walk, so the cut walk
/// pays while the trees are few for the features they use: fewer shallow
/// trees (complete-tree walks) than used features, or at most half as many
/// deep ones (packed walks, where a tree's binned walk saves more: its
/// nodes are half as wide). A single tree never repays the binning. The
/// break-even is measured by `cargo bench --bench quant_ratio -- small`;
/// models of 50 trees or more keep their binned walk by a wide margin.
fn cut_walk_pays(q: &QuantTrees, binned: &Walker) -> bool {
    let (trees, used) = (q.trees.len(), q.used_features.len());
    trees == 1
        || match binned {
            Walker::Implicit8(_) | Walker::Blocks(_) => trees < used,
            _ => 2 * trees <= used,
        }
}

/// Whether this CPU can run the block walk ([`Blocks`]).
#[cfg(test)]
pub(crate) fn blocks_supported() -> bool {
    Blocks::cpu_supported()
}
