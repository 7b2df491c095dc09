//! Quantized forms: int8 linear weights, and tree ensembles whose thresholds
//! are bin numbers.
//!
//! A quantized tree ensemble replaces every threshold by its index among the
//! sorted distinct thresholds of its feature ("cuts"). A row is binned once
//! per prediction — `bin(x)` = the number of cuts below `x`, and `NaN` gets
//! the bin past every cut — and the trees then compare small integers:
//! `x <= cuts[j]` exactly when `bin(x) <= j`, so the binned form takes every
//! branch the float form takes. It is lossless by construction; only the leaf
//! precision ([`LeafPrecision::Int8`]) can change a prediction.
//!
//! Layout: only internal nodes are stored (8 bytes each, tree-local `u16`
//! child references with the low bit marking a leaf), so a tree's nodes are
//! half as many and half as wide as in [`TreeEnsemble`]. Trees with more than
//! 32,767 internal nodes or leaves, or features with more than 65,535 distinct
//! thresholds, cannot take this form; [`QuantTrees::from_ensemble`] says so.
//!
//! At run time ([`Walker`], rebuilt on load, never stored) the trees are
//! walked as complete trees (shallow, boosting) or packed depth-first nodes
//! (deep, forests), with `u8` bins whenever every feature has at most 255
//! cuts — always for optbench's trainers, which split on at most 256 bins a
//! feature. The narrow packed node is 4 bytes against the float form's 8, and
//! forest walks are bound by cache misses: binned forests went from 0.9× to
//! about 1.7× their float parent's speed. Shallow boosted trees fit in cache
//! either way, and walked one node per level the integer walk is as long a
//! chain of dependent loads as the float one, plus the row's binning
//! (0.78× and 0.94×). [`Blocks`] evaluates three levels at once with SSSE3
//! and bins the row with explicit vector counts: boosting went to about 2.1×
//! (200 × depth 3) and 1.7× (300 × depth 6).
//!
//! Measured interleaved, `taskset -c 0 cargo bench --bench quant_ratio -j 1`
//! (medians over rounds, ns per prediction, and the median per-round ratio
//! float/binned; Xeon 2.5 GHz, Cascade Lake):
//!
//! | shape                         | float   | binned  | ratio |
//! |-------------------------------|---------|---------|-------|
//! | forest 100, 5,000 × 20        | 7,435   | 4,301   | 1.71× |
//! | boosting 200 × 3, 5,000 × 20  | 943     | 457     | 2.07× |
//! | forest 100, 10,000 × 30       | 8,117   | 4,633   | 1.75× |
//! | boosting 300 × 6, 10,000 × 30 | 2,744   | 1,587   | 1.74× |
//!
//! (Before [`Blocks`], same command: boosting 943 vs 1,206 ns, 0.78×, and
//! 2,766 vs 2,947 ns, 0.94×.)
//!
//! For a few trees the row's binning costs more than the trees' whole float
//! walk: a single tree of depth 10 on 20 features took 271–291 ns binned
//! against 58 ns float (`quant_ratio -- small`). [`Cuts`] walks such models
//! over the raw row, cut values as thresholds, in the float model's own
//! layout, at 0.94–1.07× the float speed; [`QuantTrees::relayout`] takes it
//! while the trees are few for the features they use ([`Cuts::pays`]).

use super::compiled::trees::{lock_step, CompiledTrees};
use super::tree::{Node, Output, TreeEnsemble};
use super::Link;
use serde::{Deserialize, Serialize};

/// An internal node: `bins[feature] <= bin` goes left. A child is the
/// index of an internal node of the same tree (≥ 0) or `!leaf` (< 0): the
/// sign tells a leaf, and an internal child is used as an index as it is,
/// with no decoding on the traversal's critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(C)]
pub struct QNode {
    pub feature: u16,
    pub bin: u16,
    pub left: i16,
    pub right: i16,
}

/// Where a tree's nodes and leaves start, and its root reference (a leaf
/// reference when the tree is a single leaf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QTree {
    pub node_base: u32,
    pub leaf_base: u32,
    pub root: i16,
}

/// How leaf values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafPrecision {
    /// As in the float model: lossless.
    F32,
    /// Symmetric int8: one scale for the whole ensemble (largest |value|
    /// ↦ 127), refined by a power of two per tree where trees' leaves differ
    /// in size ([`Leaves::Int8Shifted`]).
    Int8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Leaves {
    F32(Vec<f32>),
    /// `value ≈ q × scale`. Sums of `q` are exact in `f32` (below 2²⁴), so
    /// the scale is applied once per output, after accumulation.
    Int8 {
        values: Vec<i8>,
        scale: f32,
    },
    /// `value ≈ (q << shifts[t]) × scale` for a leaf of tree `t`. Boosting's
    /// late rounds fit small residuals: under one scale set by the large
    /// early leaves they round to a few levels or to zero, and a 200-round
    /// model on 200,000 × 40 rows lost 1.55 accuracy points. A power of two
    /// per tree gives each tree's leaves 64–127 levels of their own, and the
    /// shifted integers still add up exactly, the scale applied once per
    /// output. The shifts keep every partial sum below 2^24 (see
    /// [`QuantTrees::int_sum_bound`]), so f32 sums of them are exact too.
    /// (Last variant: files store variants by index.)
    Int8Shifted {
        values: Vec<i8>,
        scale: f32,
        shifts: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
pub struct QuantTrees {
    pub n_features: usize,
    pub n_classes: usize,
    pub output: Output,
    /// Sorted distinct thresholds of feature `f`: `cuts[cut_start[f]..cut_start[f + 1]]`.
    pub cuts: Vec<f32>,
    pub cut_start: Vec<u32>,
    /// Features some node tests; only these are binned.
    pub used_features: Vec<u16>,
    pub trees: Vec<QTree>,
    pub nodes: Vec<QNode>,
    pub leaves: Leaves,
}

/// The run-time form of a [`QuantTrees`] ([`super::Model::compile`]): the
/// saved form, how a row is binned, and how the trees are walked, built
/// together from a checked model and never changed after.
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

/// The run-time traversal of a [`QuantTrees`]. The narrow (`…8`) forms hold
/// bins and features in one byte each, so nodes are half as wide again; they
/// are used whenever every feature has at most 255 cuts and there are at
/// most 256 features — always for optbench's own trainers, which bin each
/// feature into at most 256 bins before splitting. Measured interleaved
/// (`cargo bench --bench quant_ratio`, quiet machine), speed against the
/// float parent, `u16` → `u8`: forests 100 on 5,000 × 20 and 10,000 × 30
/// 0.91× → 1.71× and 0.89× → 1.77×; boosting 200 × depth 3 0.78× → 0.79×,
/// 300 × depth 6 0.89× → 0.93× with [`Implicit`] `u8`, 2.07× and 1.74×
/// with [`Blocks`] (which shallow trees get on x86 CPUs with SSSE3 and
/// POPCNT; see the module docs for the table).
#[derive(Debug, Clone)]
pub enum Walker {
    /// The stored nodes, one tree after another (any size), `u16` bins.
    Pointers,
    /// Complete trees, `u8` bins.
    Implicit8(Implicit),
    /// Packed depth-first nodes, `u8` bins.
    Packed8(Packed8),
    /// Complete trees in blocks of three levels, `u8` bins, SSSE3 (≤ 6
    /// levels, features < 64).
    Blocks(Blocks),
    /// No binning: the trees over the raw row, cut values as thresholds, in
    /// the float model's layout (few trees).
    Cuts(Cuts),
}

/// Row binning without branches on the data: `bin(x)` = the number of cuts
/// below `x`, counted in two levels of 16. A used feature's cuts are padded
/// with NaN to whole blocks of 16 (at least one NaN: a block always ends
/// above the last cut); `tops` holds each block's last value (NaN-padded to
/// 16). The count of tops below `x` is the block `x` falls in (every cut of
/// the blocks before it is below `x`, none after it), and the count below `x`
/// inside that block finishes the bin. Two fixed 16-wide counts (vectorized;
/// ≤ 256 cuts, more fall back to a binary search): no dependent chain of
/// loads and no mispredicted branches, unlike `partition_point` (0.77× the
/// float speed on boosting with it). `NaN < x` is false, so padding never
/// counts; a `NaN` row value gets the bin past every cut.
#[derive(Debug, Clone, Default)]
pub struct Binner {
    features: Vec<BinFeature>,
    padded: Vec<f32>,
    tops: Vec<[f32; BLOCK]>,
}

const BLOCK: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
struct BinFeature {
    feature: u32,
    /// First padded cut; the blocks are `padded[start..]`.
    start: u32,
    n_cuts: u32,
    /// Index into `tops`, or `u32::MAX`: too many cuts for two levels, the
    /// cuts are searched in `padded[start..start + n_cuts]`.
    top: u32,
}

/// Cuts below `x` in a block (vectorized: a fixed-size count).
#[inline(always)]
fn count_below(block: &[f32; BLOCK], x: f32) -> usize {
    block.iter().map(|&c| u32::from(c < x)).sum::<u32>() as usize
}

impl Binner {
    /// For the features `used` of cuts `cuts[cut_start[f]..cut_start[f + 1]]`
    /// (checked offsets).
    fn build(cuts: &[f32], cut_start: &[u32], used: &[u16]) -> Binner {
        let all = cuts;
        let mut b = Binner::default();
        for &f in used {
            let f = usize::from(f);
            let cuts = &all[cut_start[f] as usize..cut_start[f + 1] as usize];
            let blocks = (cuts.len() + 1).div_ceil(BLOCK);
            let start = b.padded.len();
            b.padded.extend_from_slice(cuts);
            b.padded
                .extend(std::iter::repeat_n(f32::NAN, blocks * BLOCK - cuts.len()));
            let top = if blocks <= BLOCK {
                let mut top = [f32::NAN; BLOCK];
                for (i, t) in top.iter_mut().take(blocks).enumerate() {
                    *t = b.padded[start + i * BLOCK + BLOCK - 1];
                }
                b.tops.push(top);
                b.tops.len() as u32 - 1
            } else {
                u32::MAX
            };
            b.features.push(BinFeature {
                feature: f as u32,
                start: start as u32,
                n_cuts: cuts.len() as u32,
                top,
            });
        }
        b
    }

    /// Calls `put(feature, bin)` for each used feature (checked models only:
    /// `row` must cover the features).
    #[inline(always)]
    fn bin_row(&self, row: &[f32], mut put: impl FnMut(usize, u16)) {
        for bf in &self.features {
            let x = row[bf.feature as usize];
            let start = bf.start as usize;
            let bin = if let Some(top) = self.tops.get(bf.top as usize) {
                let k = count_below(top, x);
                // `k` < the feature's block count: its last block's top is
                // a NaN padding, never below `x`.
                let at = start + k * BLOCK;
                let block: &[f32; BLOCK] = self.padded[at..at + BLOCK]
                    .try_into()
                    .expect("a whole block");
                k * BLOCK + count_below(block, x)
            } else {
                let cuts = &self.padded[start..start + bf.n_cuts as usize];
                cuts.partition_point(|&c| c < x)
            };
            let bin = if x.is_nan() { bf.n_cuts as usize } else { bin };
            put(bf.feature as usize, bin as u16);
        }
    }
}

/// Shallow trees padded to complete binary trees of one depth `D`, in heap
/// order (node `i`'s children are `2i + 1` and `2i + 2`), so a prediction
/// walks exactly `D` levels per tree with no branch on the data and no child
/// pointers: `i = 2i + 1 + (bins[f] > bin)`. The walks of successive trees
/// do not depend on one another, so the CPU overlaps them. A leaf above
/// depth `D` is padded with always-left nodes (`bin = B::MAX`) and owns
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
    fn build(q: &QuantTrees) -> Option<Implicit> {
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
}

/// Complete trees of depth ≤ 6 cut into blocks of three levels (seven
/// nodes), each block evaluated whole: its seven bins are gathered from
/// the binned row at once (`pshufb`), compared with its seven thresholds at
/// once, and the resulting 7-bit mask names the block's exit slot through a
/// 128-entry table, so a tree costs one (depth ≤ 3) or two dependent steps
/// instead of one dependent load per level. Two trees share each 16-lane
/// step. Trees shallower than 3 or 6 levels are padded with always-left
/// nodes (bin `u8::MAX`), as in [`Implicit`].
///
/// The row is binned for it with explicit SSE counts and POPCNT
/// (`x86::bin_row`): ~100 ns instead of ~220 ns for the 20 features of the
/// 200 × depth 3 bench model, ~170 instead of ~320 for the 30 of the
/// 300 × depth 6 one (measured with a throwaway probe timing `bin_row`
/// alone in a loop, `taskset -c 0`). Leaves are found 16 trees at a time
/// before they are visited, so the walks run ahead of the visits' chain
/// of adds (200 × 3: 1.91–1.93× → 2.07–2.10×, `quant_ratio` binaries
/// run alternately, two runs each).
///
/// Built only when the CPU has SSSE3 and POPCNT (checked once, in
/// [`Blocks::build`]) and the used features fit four 16-byte registers
/// (< 64); elsewhere the [`Implicit`] walk is used.
/// [`Blocks::walk_portable`] computes the same thing one node at a time:
/// the reference the tests compare with (it also stands in for the SIMD
/// walk on other architectures, where no `Blocks` is built).
#[derive(Debug, Clone, PartialEq)]
pub struct Blocks {
    /// Blocks on a root-to-leaf path: 1 (depth ≤ 3) or 2 (depth ≤ 6).
    steps: u32,
    /// 16-byte registers the binned row fills (1–4).
    regs: u32,
    /// Per tree, [`Blocks::per_tree`] blocks in 8-ary heap order: the
    /// block reached through slot `s` of block `b` is `8b + 1 + s`.
    blocks: Vec<Block>,
    /// Global leaf number per leaf slot, `8^steps` per tree.
    leaf_ref: Vec<u32>,
}

/// Seven nodes in heap order (lane 7 is padding): `row[feature] <= bin`
/// goes left. The feature byte is encoded for the gather ([`encode`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(16))]
struct Block {
    feature: [u8; 8],
    bin: [u8; 8],
}

/// A binned row for [`Blocks`]: up to 64 `u8` bins, aligned for 16-byte
/// loads (unused features stay 0: only padding lanes test them).
#[repr(C, align(16))]
struct Row64([u8; 64]);

/// Exit slot (0–7, left to right) of a three-level block given its 7-bit
/// mask, bit `j` set when heap node `j` goes left.
static SLOT: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut m = 0;
    while m < 128 {
        let mut i = 0usize;
        let mut level = 0;
        while level < 3 {
            i = 2 * i + 2 - ((m >> i) & 1);
            level += 1;
        }
        t[m] = (i - 7) as u8;
        m += 1;
    }
    t
};

/// Feature `f` as a gather index for `regs` registers: with one or two,
/// `f < 16` as is and `16 ≤ f < 32` as `0x80 | (f − 16)` (bit 7 makes
/// `pshufb` give 0, so the first register ignores it and, flipped, the
/// second takes it); with three or four, `f` itself (each register
/// rebuilds that form from it: see `x86::gather`).
fn encode(f: u8, regs: u32) -> u8 {
    if regs <= 2 && f >= 16 {
        0x80 | (f - 16)
    } else {
        f
    }
}

/// [`encode`]'s inverse.
#[cfg_attr(
    all(any(target_arch = "x86", target_arch = "x86_64"), not(test)),
    allow(dead_code)
)]
fn decode_feature(e: u8, regs: u32) -> usize {
    if regs <= 2 {
        usize::from(e & 0x0f) + if e & 0x80 != 0 { 16 } else { 0 }
    } else {
        usize::from(e)
    }
}

impl Blocks {
    /// Blocks per tree: `(8^steps − 1) / 7`.
    fn per_tree(&self) -> usize {
        ((1usize << (3 * self.steps)) - 1) / 7
    }

    /// From the complete-tree layout, when the CPU can run the block walk,
    /// the trees are at most 6 deep and every used feature is below 64.
    fn build(q: &QuantTrees, im: &Implicit) -> Option<Blocks> {
        if !Self::cpu_supported() {
            return None;
        }
        Self::build_unchecked(q, im)
    }

    /// SSSE3 for the walk, POPCNT for the binning (SSSE3 implies SSE2).
    fn cpu_supported() -> bool {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            std::arch::is_x86_feature_detected!("ssse3")
                && std::arch::is_x86_feature_detected!("popcnt")
        }
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        {
            false
        }
    }

    /// [`Blocks::build`] without the CPU check (the tests use it to
    /// compare the portable walk on any machine).
    fn build_unchecked(q: &QuantTrees, im: &Implicit) -> Option<Blocks> {
        let d = im.depth;
        let top = q.used_features.iter().max().map_or(0, |&f| usize::from(f));
        if d > 6 || top >= 64 {
            return None;
        }
        let steps = d.div_ceil(3);
        let regs = (top / 16 + 1) as u32;
        let depth = 3 * steps;
        let internal = (1usize << d) - 1;
        let mut b = Blocks {
            steps,
            regs,
            blocks: Vec::new(),
            leaf_ref: Vec::with_capacity(q.trees.len() << depth),
        };
        let per_tree = b.per_tree();
        b.blocks.reserve(per_tree * q.trees.len());
        for t in 0..q.trees.len() {
            let heap = &im.nodes[t * internal..(t + 1) * internal];
            // Root heap position (of the complete tree of `depth` levels)
            // and tree level of each block, in block order.
            let mut roots = vec![(0usize, 0u32)];
            for k in 0..per_tree {
                let (h, level) = roots[k];
                let mut block = Block {
                    feature: [0; 8],
                    bin: [u8::MAX; 8],
                };
                for j in 0..7usize {
                    // Local heap position `j` at local level `l`, index `i`
                    // within it: global `2^l (h + 1) − 1 + i`.
                    let l = (j + 1).ilog2();
                    let g = ((h + 1) << l) - 1 + (j + 1 - (1 << l));
                    if level + l < d {
                        let [f, bin] = heap[g];
                        block.feature[j] = encode(f, regs);
                        block.bin[j] = bin;
                    }
                }
                b.blocks.push(block);
                if level + 3 < depth {
                    for s in 0..8 {
                        roots.push((8 * (h + 1) - 1 + s, level + 3));
                    }
                }
            }
            let slots = 1usize << d;
            let refs = &im.leaf_ref[t * slots..(t + 1) * slots];
            b.leaf_ref
                .extend((0..1usize << depth).map(|u| refs[u >> (depth - d)]));
        }
        Some(b)
    }

    /// The walk one node at a time: [`Walk::walk`]'s reference (and the
    /// walk itself on CPUs other than x86).
    #[cfg_attr(
        all(any(target_arch = "x86", target_arch = "x86_64"), not(test)),
        allow(dead_code)
    )]
    fn walk_portable(&self, bins: &Row64, mut visit: impl FnMut(usize, usize)) {
        let per_tree = self.per_tree();
        let leaves = 1usize << (3 * self.steps);
        for t in 0..self.leaf_ref.len() / leaves {
            let (mut b, mut slot) = (0usize, 0usize);
            for _ in 0..self.steps {
                let block = &self.blocks[t * per_tree + b];
                let mut m = 0usize;
                for j in 0..7 {
                    let x = bins.0[decode_feature(block.feature[j], self.regs)];
                    m |= usize::from(x <= block.bin[j]) << j;
                }
                let s = usize::from(SLOT[m]);
                b = 8 * b + 1 + s;
                slot = 8 * slot + s;
            }
            visit(t, self.leaf_ref[t * leaves + slot] as usize);
        }
    }
}

impl Walk<Row64> for Blocks {
    #[inline(always)]
    fn walk(&self, _: &QuantTrees, bins: &Row64, visit: impl FnMut(usize, usize)) {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            // SAFETY: a `Blocks` is only built (`Blocks::build`) when the
            // CPU has SSSE3, by `build_unchecked` (the tests that build one
            // without the CPU check call this only when it passes).
            unsafe { x86::walk(self, bins, visit) }
        }
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        self.walk_portable(bins, visit)
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[allow(unused_unsafe)] // intrinsics are safe fns in newer Rust than the MSRV
mod x86 {
    use super::{Binner, Block, Blocks, Row64, BLOCK, SLOT};
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    /// [`Blocks`]'s walk (see [`super::Walk`]).
    ///
    /// # Safety
    /// The CPU has SSSE3, and `b` is as [`Blocks::build_unchecked`] made it.
    #[target_feature(enable = "ssse3")]
    pub(super) unsafe fn walk(b: &Blocks, row: &Row64, visit: impl FnMut(usize, usize)) {
        // SAFETY (all eight): the caller's contract.
        unsafe {
            match (b.regs, b.steps) {
                (1, 1) => walk_r::<1, 1, 1>(b, row, visit),
                (2, 1) => walk_r::<2, 1, 1>(b, row, visit),
                (3, 1) => walk_r::<3, 1, 1>(b, row, visit),
                (_, 1) => walk_r::<4, 1, 1>(b, row, visit),
                (1, _) => walk_r::<1, 2, 9>(b, row, visit),
                (2, _) => walk_r::<2, 2, 9>(b, row, visit),
                (3, _) => walk_r::<3, 2, 9>(b, row, visit),
                (_, _) => walk_r::<4, 2, 9>(b, row, visit),
            }
        }
    }

    /// The row's bins of the features `e` encodes (`super::encode`), lane
    /// by lane.
    #[inline]
    #[target_feature(enable = "ssse3")]
    unsafe fn gather<const R: usize>(rows: &[__m128i; R], e: __m128i) -> __m128i {
        unsafe {
            match R {
                1 => _mm_shuffle_epi8(rows[0], e),
                2 => _mm_or_si128(
                    _mm_shuffle_epi8(rows[0], e),
                    _mm_shuffle_epi8(rows[1], _mm_xor_si128(e, _mm_set1_epi8(-128))),
                ),
                _ => {
                    // Register `r` takes `e` with bits 4–5 equal to `r`:
                    // `e ^ 16r` clears them exactly there, and `+ 0x70`
                    // sets bit 7 wherever they are not clear.
                    let mut g = _mm_setzero_si128();
                    for (r, &row) in rows.iter().enumerate() {
                        let idx = _mm_xor_si128(e, _mm_set1_epi8((r as i8) << 4));
                        let idx = _mm_add_epi8(idx, _mm_set1_epi8(0x70));
                        g = _mm_or_si128(g, _mm_shuffle_epi8(row, idx));
                    }
                    g
                }
            }
        }
    }

    /// Exit slots of two blocks (one per tree of a pair).
    #[inline]
    #[target_feature(enable = "ssse3")]
    unsafe fn slots<const R: usize>(rows: &[__m128i; R], a: &Block, b: &Block) -> (usize, usize) {
        unsafe {
            // SAFETY: `Block` is 16 bytes, aligned to 16.
            let a = _mm_load_si128((a as *const Block).cast());
            let b = _mm_load_si128((b as *const Block).cast());
            let e = _mm_unpacklo_epi64(a, b);
            let t = _mm_unpackhi_epi64(a, b);
            let x = gather(rows, e);
            // Unsigned `x <= t` is `max(x, t) == t`.
            let left = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(x, t), t)) as usize;
            (
                usize::from(SLOT[left & 0x7f]),
                usize::from(SLOT[(left >> 8) & 0x7f]),
            )
        }
    }

    /// Leaf slots of two trees, given their blocks.
    ///
    /// # Safety
    /// As for [`walk`]; `ta` and `tb` hold a tree's blocks each (9 when
    /// `STEPS` is 2).
    #[inline]
    #[target_feature(enable = "ssse3")]
    unsafe fn leaf_slots<const R: usize, const STEPS: usize>(
        rows: &[__m128i; R],
        ta: &[Block],
        tb: &[Block],
    ) -> (usize, usize) {
        unsafe {
            let (sa, sb) = slots(rows, ta.get_unchecked(0), tb.get_unchecked(0));
            if STEPS == 1 {
                (sa, sb)
            } else {
                // SAFETY: slots are below 8, so `1 + s` < 9 blocks.
                let (ua, ub) = slots(rows, ta.get_unchecked(1 + sa), tb.get_unchecked(1 + sb));
                (8 * sa + ua, 8 * sb + ub)
            }
        }
    }

    /// # Safety
    /// As for [`walk`]; `STEPS` is `b.steps` and `PER` its blocks per tree.
    #[target_feature(enable = "ssse3")]
    unsafe fn walk_r<const R: usize, const STEPS: usize, const PER: usize>(
        b: &Blocks,
        row: &Row64,
        mut visit: impl FnMut(usize, usize),
    ) {
        // SAFETY: `Row64` is 64 bytes, aligned to 16; `R` ≤ 4.
        let rows: [__m128i; R] =
            std::array::from_fn(|r| unsafe { _mm_load_si128(row.0.as_ptr().add(16 * r).cast()) });
        let leaves = 1usize << (3 * STEPS);
        debug_assert_eq!(b.blocks.len() / PER * leaves, b.leaf_ref.len());
        // SAFETY: `build_unchecked` made `leaves` slots per tree, and a
        // slot is below `8^STEPS` = `leaves`.
        let refs = |t: usize, s: usize| unsafe { *b.leaf_ref.get_unchecked(t * leaves + s) };
        let groups = b.blocks.chunks_exact(GROUP * PER);
        let rest = groups.remainder();
        let mut t = 0;
        for group in groups {
            // Leaves of a group of trees first, then their visits: the
            // walks do not wait behind the visits' adds.
            let mut leaf = [0u32; GROUP];
            for (k, pair) in group.chunks_exact(2 * PER).enumerate() {
                let (sa, sb) = unsafe { leaf_slots::<R, STEPS>(&rows, pair, &pair[PER..]) };
                leaf[2 * k] = refs(t + 2 * k, sa);
                leaf[2 * k + 1] = refs(t + 2 * k + 1, sb);
            }
            for (k, &l) in leaf.iter().enumerate() {
                visit(t + k, l as usize);
            }
            t += GROUP;
        }
        let pairs = rest.chunks_exact(2 * PER);
        let last = pairs.remainder();
        for pair in pairs {
            let (sa, sb) = unsafe { leaf_slots::<R, STEPS>(&rows, pair, &pair[PER..]) };
            visit(t, refs(t, sa) as usize);
            visit(t + 1, refs(t + 1, sb) as usize);
            t += 2;
        }
        if !last.is_empty() {
            let (s, _) = unsafe { leaf_slots::<R, STEPS>(&rows, last, last) };
            visit(t, b.leaf_ref[t * leaves + s] as usize);
        }
    }

    /// Trees whose leaves are found before they are visited.
    const GROUP: usize = 16;

    /// Cuts below `x` (broadcast) in 16 floats at `p`.
    #[inline]
    #[target_feature(enable = "sse2,popcnt")]
    unsafe fn count16(p: *const f32, x: __m128) -> u32 {
        unsafe {
            let c = |i: usize| _mm_castps_si128(_mm_cmplt_ps(_mm_loadu_ps(p.add(4 * i)), x));
            let lo = _mm_packs_epi32(c(0), c(1));
            let hi = _mm_packs_epi32(c(2), c(3));
            (_mm_movemask_epi8(_mm_packs_epi16(lo, hi)) as u32).count_ones()
        }
    }

    /// [`Binner::bin_row`] into a [`Row64`], with explicit vector counts
    /// and a first level no wider than the feature's blocks.
    ///
    /// # Safety
    /// The CPU has SSE2 and POPCNT, every used feature is below 64
    /// and `row` covers the features (checked models).
    #[target_feature(enable = "sse2,popcnt")]
    pub(super) unsafe fn bin_row(b: &Binner, row: &[f32], out: &mut Row64) {
        for bf in &b.features {
            let x = row[bf.feature as usize];
            let start = bf.start as usize;
            let bin = if let Some(top) = b.tops.get(bf.top as usize) {
                // SAFETY: `padded` holds the feature's blocks from `start`,
                // and the block `k` counts is one of them (see `bin_row`).
                unsafe {
                    let xv = _mm_set1_ps(x);
                    let blocks = (bf.n_cuts as usize + 1).div_ceil(BLOCK);
                    // `tops` is NaN past the last block: counting more of it
                    // changes nothing.
                    let k = if blocks == 1 {
                        0
                    } else if blocks <= 4 {
                        let below = _mm_cmplt_ps(_mm_loadu_ps(top.as_ptr()), xv);
                        _mm_movemask_ps(below).count_ones() as usize
                    } else {
                        count16(top.as_ptr(), xv) as usize
                    };
                    let at = start + k * BLOCK;
                    k * BLOCK + count16(b.padded.as_ptr().add(at), xv) as usize
                }
            } else {
                let cuts = &b.padded[start..start + bf.n_cuts as usize];
                cuts.partition_point(|&c| c < x)
            };
            let bin = if x.is_nan() { bf.n_cuts as usize } else { bin };
            // `u8` bins: `relayout` made a `Blocks` only when they fit.
            out.0[bf.feature as usize & 63] = bin as u8;
        }
    }
}

/// Nodes under each internal node of a tree's local nodes (children come
/// after parents), and a child reference's size.
fn local_sizes(local: &[QNode]) -> Vec<u32> {
    let mut size = vec![1u32; local.len()];
    for i in (0..local.len()).rev() {
        size[i] = 1 + child_size(local[i].left, &size) + child_size(local[i].right, &size);
    }
    size
}

fn child_size(c: i16, size: &[u32]) -> u32 {
    decode(c).map_or(1, |i| size[i])
}

/// One position of a tree's packed depth-first order.
enum Slot<'a> {
    /// A split; `flipped`: the next position is its right child; its other
    /// child is `far` positions further.
    Split {
        node: &'a QNode,
        flipped: bool,
        far: usize,
    },
    /// The tree-local leaf number.
    Leaf(usize),
}

/// Tree `t`'s nodes in depth-first order, the larger subtree next (ties:
/// left): the order [`Packed8`] stores (checked models only).
fn depth_first(q: &QuantTrees, t: usize) -> Vec<Slot<'_>> {
    let tree = &q.trees[t];
    let end = q
        .trees
        .get(t + 1)
        .map_or(q.nodes.len(), |n| n.node_base as usize);
    let local = &q.nodes[tree.node_base as usize..end];
    let size = local_sizes(local);
    let mut slots = Vec::with_capacity(2 * local.len() + 1);
    // (child reference, parent waiting for it as its far child)
    let mut stack = vec![(tree.root, None::<usize>)];
    while let Some((c, parent)) = stack.pop() {
        let here = slots.len();
        if let Some(p) = parent {
            if let Slot::Split { far, .. } = &mut slots[p] {
                *far = here - p;
            }
        }
        match decode(c) {
            Err(l) => slots.push(Slot::Leaf(l)),
            Ok(i) => {
                let n = &local[i];
                let flipped = child_size(n.right, &size) > child_size(n.left, &size);
                let (near, other) = if flipped {
                    (n.right, n.left)
                } else {
                    (n.left, n.right)
                };
                slots.push(Slot::Split {
                    node: n,
                    flipped,
                    far: 0,
                });
                stack.push((other, Some(here)));
                stack.push((near, None));
            }
        }
    }
    slots
}

/// Deep trees (forests) as 4-byte depth-first nodes, `u8` bins and
/// features, the binned twin of the float form's packed layout
/// (`compiled/trees.rs`): the next node is the child with the larger
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
    nodes: Vec<PNode8>,
    tree_start: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct PNode8 {
    feature: u8,
    bin: u8,
    far: u16,
}

const FAR_FLIPPED: u16 = 1 << 15;

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
    fn build(q: &QuantTrees) -> Option<Packed8> {
        if q.n_features == 0 || q.n_features > 256 {
            return None;
        }
        let mut nodes: Vec<PNode8> = Vec::with_capacity(2 * q.nodes.len() + q.trees.len());
        let mut tree_start = Vec::with_capacity(q.trees.len());
        for t in 0..q.trees.len() {
            tree_start.push(u32::try_from(nodes.len()).ok()?);
            let slots = depth_first(q, t);
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
                    Slot::Split { node, flipped, far } => PNode8 {
                        feature: u8::try_from(node.feature).ok()?,
                        bin: u8::try_from(node.bin).ok()?,
                        far: far as u16 | if flipped { FAR_FLIPPED } else { 0 },
                    },
                });
            }
        }
        Some(Packed8 { nodes, tree_start })
    }
}

impl Walk<[u8; 256]> for Packed8 {
    #[inline(always)]
    fn walk(&self, q: &QuantTrees, bins: &[u8; 256], mut visit: impl FnMut(usize, usize)) {
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
            visit(t, q.trees[t].leaf_base as usize + self.nodes[p].leaf());
        });
    }
}

/// A layout's traversal: calls `visit(tree, global leaf number)` for every
/// tree, in tree order, given the row's bins `R`.
trait Walk<R: ?Sized> {
    fn walk(&self, q: &QuantTrees, bins: &R, visit: impl FnMut(usize, usize));
}

/// The pointer layout (any depth): one tree after another.
struct Pointers;

impl Walk<[u16]> for Pointers {
    #[inline(always)]
    fn walk(&self, q: &QuantTrees, bins: &[u16], mut visit: impl FnMut(usize, usize)) {
        for (t, tree) in q.trees.iter().enumerate() {
            visit(t, q.leaf_of(tree, bins));
        }
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

/// The trees walked over the raw row, with no binning: a split on
/// `(feature, bin)` tests `x <= cuts[cut_start[feature] + bin]`, which holds
/// exactly when `bin(x) <= bin` (a `NaN` goes right in both), so it reaches
/// the leaves the binned walks reach. The trees are a [`TreeEnsemble`] with
/// those thresholds whose leaf nodes hold the global leaf numbers of
/// [`QuantTrees::leaves`], and a copy of those leaves as f32 (int8 ones as
/// their integers, the base left to [`QuantTrees::rescale`] when scaled).
/// It takes the float model's own run-time layout (`layout.rs`) and is
/// summed by the float model's own loop, so its sums are the binned walks'
/// bit for bit, at about the float parent's cost. Interleaved
/// (`taskset -c 1 cargo bench --bench quant_ratio -j 1 -- w1-small`), speed
/// against the float parent, f32 / int8 leaves: single trees 0.93–0.94× /
/// 0.87–0.90×, boosting 1–10 × depth 3 0.92–0.96× / 0.85–0.92×, forest 10
/// 1.00× / 0.98× (a few ns of dispatch and the int8 scaling). When it
/// walked the leafless copy and summed through the binned walks' generic
/// loop, the int8 forms measured 0.78–0.83×, 0.75–0.88× and 0.92×.
///
/// For a few trees this is the fastest walk: binning the row costs more than
/// the trees' walks save (see [`Cuts::pays`] for the measurements).
#[derive(Debug, Clone)]
pub struct Cuts {
    /// Boxed: a [`CompiledTrees`] inline would make every [`Walker`] (and
    /// [`super::CompiledModel`]) twice as large.
    trees: Box<CompiledTrees>,
}

impl Cuts {
    /// `None` when some feature's cuts are not strictly increasing and
    /// `NaN`-free (the binned form's own conversion always makes them so; a
    /// damaged file might not, and then only the binned walks agree with the
    /// binning), or for scaled int8 leaves whose sums may reach 2^24
    /// ([`QuantTrees::int_sums_exact_in_f32`]). Checked models only: it
    /// trusts the node references.
    fn build(q: &QuantTrees) -> Option<Cuts> {
        let sorted = q.cut_start.windows(2).all(|w| {
            let c = &q.cuts[w[0] as usize..w[1] as usize];
            // `!(a < b)` also refuses a NaN.
            c.windows(2).all(|p| p[0] < p[1]) && c.first().is_none_or(|c| !c.is_nan())
        });
        // Its f32 sums of int8 leaves are the binned walks' integer sums
        // only while they are exact.
        if !sorted || (q.leaf_scale().is_some() && !q.int_sums_exact_in_f32()) {
            return None;
        }
        let mut trees = TreeEnsemble::new(q.n_features, q.n_classes);
        trees.nodes.reserve(2 * q.nodes.len() + q.trees.len());
        for tree in &q.trees {
            let local = &q.nodes[tree.node_base as usize..];
            trees.roots.push(u32::try_from(trees.nodes.len()).ok()?);
            // Pre-order, left first: (child reference, parent waiting for
            // it, as its right child?).
            let mut stack = vec![(tree.root, None::<(usize, bool)>)];
            while let Some((c, parent)) = stack.pop() {
                let here = u32::try_from(trees.nodes.len()).ok()?;
                if let Some((p, right)) = parent {
                    let p = &mut trees.nodes[p];
                    *(if right { &mut p.right } else { &mut p.left }) = here;
                }
                match decode(c) {
                    Err(l) => trees.nodes.push(Node::leaf(tree.leaf_base + l as u32)),
                    Ok(i) => {
                        let n = &local[i];
                        let f = usize::from(n.feature);
                        trees.nodes.push(Node {
                            feature: u32::from(n.feature),
                            // `check`: the bin is below the feature's cut count.
                            threshold: q.cuts[q.cut_start[f] as usize + usize::from(n.bin)],
                            left: 0,
                            right: 0,
                        });
                        stack.push((n.right, Some((here as usize, true))));
                        stack.push((n.left, Some((here as usize, false))));
                    }
                }
            }
        }
        // The leaves as the binned walks add them: f32 leaves as stored,
        // int8 ones as their (shifted) integers, summed from 0 and scaled
        // after (`QuantTrees::rescale`), so the float model's accumulation
        // gives the binned walks' sums bit for bit.
        let scaled = q.leaf_scale().is_some();
        trees.leaf_values = q.summed_leaves();
        trees.output = match &q.output {
            Output::Average => Output::Average,
            Output::Boosted {
                link,
                base,
                tree_output,
            } => Output::Boosted {
                link: *link,
                base: if scaled {
                    vec![0.0; base.len()]
                } else {
                    base.clone()
                },
                tree_output: tree_output.clone(),
            },
        };
        Some(Cuts {
            trees: Box::new(CompiledTrees::chosen(trees)),
        })
    }

    /// Whether to walk `q` this way rather than bin its row, given the
    /// binned walker `relayout` built for it. Binning costs about the same
    /// for every used feature, and each tree's binned walk saves about the
    /// same over its float walk, so the cut walk pays while the trees are few
    /// for the features they use: fewer shallow trees (complete-tree walks)
    /// than used features, or at most half as many deep ones (packed walks,
    /// where a tree's binned walk saves more: its nodes are half as wide).
    /// A single tree never repays the binning (every single-tree shape
    /// below, 1 to 20 features used).
    ///
    /// The break-even, measured with `taskset -c 0 cargo bench --bench
    /// quant_ratio -j 1` (four or five runs on a 2-core machine shared
    /// with another build; speed against the float parent, cut walk vs `u8`
    /// binned walk, lowest–highest of the runs):
    ///
    /// | shape (features used)              | cut walk    | binned      |
    /// |------------------------------------|-------------|-------------|
    /// | tree depth 10 (20)                 | 0.94–1.07×  | 0.19–0.21×  |
    /// | tree depth 3 (4)                   | 0.88–0.99×  | 0.73–0.87×  |
    /// | forest 3 (20)                      | 0.95–1.18×  | 0.40–0.71×  |
    /// | forest 10 (20)                     | 0.98–1.11×  | 0.92–1.00×  |
    /// | forest 20 (20)                     | 0.98–1.38×  | 1.12–1.67×  |
    /// | forest 10 (30)                     | 0.97–1.10×  | 0.89–0.98×  |
    /// | forest 20 (30)                     | 0.97–1.10×  | 1.07–1.59×  |
    /// | boosting 1 × depth 3 (5)           | 0.85–0.91×  | 0.67–0.75×  |
    /// | boosting 10 × depth 3 (12)         | 0.92–1.00×  | 0.78–0.92×  |
    /// | boosting 20 × depth 3 (13)         | 0.91–1.00×  | 1.06–1.20×  |
    /// | boosting 30 × depth 3 (15)         | 0.94–1.06×  | 1.21–1.41×  |
    /// | boosting 20 × depth 6 (30)         | 0.98–1.00× ¹| 0.89–0.93× ¹|
    /// | boosting 30 × depth 6 (30)         | 0.97–1.03×  | 1.02–1.13×  |
    ///
    /// ¹ Three runs; in a fourth the float column was disturbed (cut walk
    /// 3.63×, binned 3.36×).
    ///
    /// Every shape of 50 trees or more keeps its binned walk by a wide
    /// margin (boosting 50 × depth 3: 1.38–1.49× binned, 0.99–1.02× cuts).
    fn pays(q: &QuantTrees, binned: &Walker) -> bool {
        let (trees, used) = (q.trees.len(), q.used_features.len());
        trees == 1
            || match binned {
                Walker::Implicit8(_) | Walker::Blocks(_) => trees < used,
                _ => 2 * trees <= used,
            }
    }

    fn heap_bytes(&self) -> usize {
        size_of::<CompiledTrees>() + self.trees.heap_bytes()
    }
}

/// The leaves the cut walk reaches (tests compare them with the binned
/// walks'; predictions sum them through [`TreeEnsemble::accumulate`]).
#[cfg(test)]
impl Walk<[f32]> for Cuts {
    #[inline(always)]
    fn walk(&self, _: &QuantTrees, row: &[f32], mut visit: impl FnMut(usize, usize)) {
        self.trees
            .walk_leaves(row, |t, leaf| visit(t, leaf as usize));
    }
}

/// Whether this CPU can run the block walk ([`Blocks`]).
#[cfg(test)]
pub(crate) fn blocks_supported() -> bool {
    Blocks::cpu_supported()
}

const MAX_LOCAL: usize = i16::MAX as usize;

/// Outputs (classes, or boosting's scores) summed in integers on the stack
/// ([`QuantTrees::accumulate_int`]).
const INT_OUTPUTS: usize = 16;

/// Below this many trees, every partial sum of int8 leaves (|v| ≤ 127)
/// stays below 2^24, so f32 sums of them are exact ([`Cuts`] sums in f32,
/// the binned walks in `i32`).
const MAX_EXACT_INT8_TREES: usize = (1 << 24) / 127;

/// The largest power-of-two shift of a tree's int8 leaves
/// ([`Leaves::Int8Shifted`]): a tree whose leaves are 2^-16 of the largest
/// still gets 127 levels; smaller ones change no prediction.
const MAX_LEAF_SHIFT: u8 = 16;

/// Integers below this add up exactly in f32.
const EXACT_F32_SUM: u64 = 1 << 24;

/// Where tree `t`'s leaf values are: `[leaf_base × width, next leaf_base ×
/// width)`, the last tree's up to `n_values` (checked offsets).
fn tree_values(trees: &[QTree], n_values: usize, width: usize, t: usize) -> std::ops::Range<usize> {
    let end = trees
        .get(t + 1)
        .map_or(n_values, |n| n.leaf_base as usize * width);
    trees[t].leaf_base as usize * width..end
}

/// 2^k, exactly.
fn pow2(k: u8) -> f32 {
    2f32.powi(i32::from(k))
}

/// Int8 leaves for `values` (tree by tree, `width` per leaf): the finest
/// common unit `scale` for which every tree's leaves, shifted left by their
/// tree's power of two, still add up below 2^24 ([`EXACT_F32_SUM`]), each
/// tree's shift the smallest that fits its largest |value| in 127 units.
/// The largest tree keeps the single scale's 127 levels (shift `K`, the
/// scale `max / 127 / 2^K`), and each halving of the scale gives every
/// smaller tree one more bit, so the largest `K` that keeps the sums exact
/// is taken. When every tree ends up with the same shift (forests, whose
/// leaves are class fractions with a largest near 1 in every tree) the
/// leaves are the single-scale [`Leaves::Int8`].
fn quantize_int8(values: &[f32], trees: &[QTree], width: usize) -> Leaves {
    let range = |t| tree_values(trees, values.len(), width, t);
    let tree_max: Vec<f32> = (0..trees.len())
        .map(|t| values[range(t)].iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .collect();
    let max = tree_max.iter().fold(0.0f32, |m, &v| m.max(v));
    let single = |scale: f32| Leaves::Int8 {
        values: values
            .iter()
            .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
        scale,
    };
    if max <= 0.0 {
        return single(1.0);
    }
    let unit = max / 127.0;
    for k in (1..=MAX_LEAF_SHIFT).rev() {
        let scale = unit / pow2(k);
        if scale < f32::MIN_POSITIVE {
            continue;
        }
        // The smallest shift whose range covers the tree's largest value.
        let mut shifts: Vec<u8> = tree_max
            .iter()
            .map(|&m| (0..k).find(|&s| m <= 127.0 * scale * pow2(s)).unwrap_or(k))
            .collect();
        let low = shifts.iter().copied().min().unwrap_or(0);
        if shifts.iter().all(|&s| s == low) {
            return single(scale * pow2(low));
        }
        shifts.iter_mut().for_each(|s| *s -= low);
        let scale = scale * pow2(low);
        let mut q = Vec::with_capacity(values.len());
        let mut bound = 0u64;
        for (t, &s) in shifts.iter().enumerate() {
            let unit = scale * pow2(s);
            let start = q.len();
            q.extend(
                values[range(t)]
                    .iter()
                    .map(|v| (v / unit).round().clamp(-127.0, 127.0) as i8),
            );
            let top = q[start..]
                .iter()
                .map(|v| v.unsigned_abs())
                .max()
                .unwrap_or(0);
            bound += u64::from(top) << s;
        }
        if bound < EXACT_F32_SUM {
            return Leaves::Int8Shifted {
                values: q,
                scale,
                shifts,
            };
        }
    }
    single(unit)
}

/// Child reference to internal node `i` of the same tree.
fn internal(i: usize) -> i16 {
    i as i16
}

/// Child reference to the tree's leaf `i`.
fn leaf(i: usize) -> i16 {
    !(i as i16)
}

/// `Ok(internal index)` or `Err(leaf index)`.
fn decode(c: i16) -> Result<usize, usize> {
    if c >= 0 {
        Ok(c as usize)
    } else {
        Err((!c) as usize)
    }
}

impl QuantTrees {
    /// The binned form of `ens`, with leaves stored at `precision`.
    pub fn from_ensemble(
        ens: &TreeEnsemble,
        precision: LeafPrecision,
    ) -> Result<QuantTrees, String> {
        if ens.n_features > usize::from(u16::MAX) {
            return Err(format!(
                "{} features: at most 65,535 fit a u16",
                ens.n_features
            ));
        }
        // Cuts per feature.
        let mut per_feature: Vec<Vec<f32>> = vec![Vec::new(); ens.n_features];
        for n in ens.nodes.iter().filter(|n| !n.is_leaf()) {
            per_feature[n.feature as usize].push(n.threshold);
        }
        let mut cuts = Vec::new();
        let mut cut_start = vec![0u32];
        let mut used_features = Vec::new();
        for (f, t) in per_feature.iter_mut().enumerate() {
            t.sort_by(f32::total_cmp);
            t.dedup();
            if t.len() > usize::from(u16::MAX) {
                return Err(format!(
                    "feature {f} has {} distinct thresholds; a u16 bin holds 65,535",
                    t.len()
                ));
            }
            if !t.is_empty() {
                used_features.push(f as u16);
            }
            cuts.extend_from_slice(t);
            cut_start.push(cuts.len() as u32);
        }

        let mut trees = Vec::with_capacity(ens.n_trees());
        let mut nodes = Vec::new();
        let width = ens.leaf_width();
        let mut leaf_order = Vec::new(); // float leaf numbers, in new order
        for t in 0..ens.n_trees() {
            let start = ens.roots[t] as usize;
            let end = ens.tree_end(t);
            let node_base = nodes.len();
            let leaf_base = leaf_order.len();
            // Depth-first order, left subtree first: an internal node's left
            // child, when internal, is the next internal node, and the stored
            // form can leave child references out (see `Stored`).
            let mut order = Vec::with_capacity(end - start);
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                order.push(i);
                let n = &ens.nodes[i];
                if !n.is_leaf() {
                    stack.push(n.right as usize);
                    stack.push(n.left as usize);
                }
            }
            // Local numbers: internal nodes and leaves each in that order.
            let mut local = vec![0i16; end - start];
            let (mut n_int, mut n_leaf) = (0usize, 0usize);
            for &i in &order {
                let is_leaf = ens.nodes[i].is_leaf();
                let count = if is_leaf {
                    leaf_order.push(ens.nodes[i].left);
                    &mut n_leaf
                } else {
                    &mut n_int
                };
                if *count >= MAX_LOCAL {
                    return Err(format!(
                        "tree {t} has more than {MAX_LOCAL} internal nodes or leaves"
                    ));
                }
                local[i - start] = if is_leaf {
                    leaf(*count)
                } else {
                    internal(*count)
                };
                *count += 1;
            }
            for &i in &order {
                let n = &ens.nodes[i];
                if n.is_leaf() {
                    continue;
                }
                let f = n.feature as usize;
                let fc = &cuts[cut_start[f] as usize..cut_start[f + 1] as usize];
                // The threshold is one of the feature's cuts by construction.
                let bin = fc.partition_point(|&c| c < n.threshold);
                nodes.push(QNode {
                    feature: n.feature as u16,
                    bin: bin as u16,
                    left: local[n.left as usize - start],
                    right: local[n.right as usize - start],
                });
            }
            trees.push(QTree {
                node_base: node_base as u32,
                leaf_base: leaf_base as u32,
                root: local[0],
            });
        }
        let mut values = Vec::with_capacity(leaf_order.len() * width);
        for &l in &leaf_order {
            let l = l as usize;
            values.extend_from_slice(&ens.leaf_values[l * width..(l + 1) * width]);
        }
        let leaves = match precision {
            LeafPrecision::F32 => Leaves::F32(values),
            LeafPrecision::Int8 => quantize_int8(&values, &trees, width),
        };
        let q = QuantTrees {
            n_features: ens.n_features,
            n_classes: ens.n_classes,
            output: ens.output.clone(),
            cuts,
            cut_start,
            used_features,
            trees,
            nodes,
            leaves,
        };
        q.check()?;
        Ok(q)
    }

    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Bytes held by the saved arrays (cuts, nodes, leaves, outputs).
    pub fn heap_bytes(&self) -> usize {
        let leaves = match &self.leaves {
            Leaves::F32(v) => v.len() * size_of::<f32>(),
            Leaves::Int8 { values, .. } => values.len(),
            Leaves::Int8Shifted { values, shifts, .. } => values.len() + shifts.len(),
        };
        let outputs = match &self.output {
            Output::Average => 0,
            Output::Boosted {
                base, tree_output, ..
            } => base.len() * size_of::<f32>() + tree_output.len() * size_of::<u32>(),
        };
        self.cuts.len() * size_of::<f32>()
            + self.cut_start.len() * size_of::<u32>()
            + self.used_features.len() * size_of::<u16>()
            + self.trees.len() * size_of::<QTree>()
            + self.nodes.len() * size_of::<QNode>()
            + leaves
            + outputs
    }

    fn n_leaves_stored(&self) -> usize {
        let values = match &self.leaves {
            Leaves::F32(v) => v.len(),
            Leaves::Int8 { values, .. } | Leaves::Int8Shifted { values, .. } => values.len(),
        };
        values / self.leaf_width().max(1)
    }

    fn leaf_width(&self) -> usize {
        match self.output {
            Output::Average => self.n_classes,
            Output::Boosted { .. } => 1,
        }
    }

    /// The leaf number (global) that tree `t` sends a binned row to.
    #[inline(always)]
    fn leaf_of(&self, tree: &QTree, bins: &[u16]) -> usize {
        let nodes = &self.nodes[tree.node_base as usize..];
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

    /// The int8 leaves' scale, when their integer sums must be scaled
    /// (`None` for f32 leaves, or single-scale leaves of scale exactly 1;
    /// shifted leaves are always summed as integers: a leaf's value is not
    /// its `q`).
    fn leaf_scale(&self) -> Option<f32> {
        match self.leaves {
            Leaves::Int8 { scale, .. } if scale != 1.0 => Some(scale),
            Leaves::Int8Shifted { scale, .. } => Some(scale),
            _ => None,
        }
    }

    /// The leaf values as the walks add them: f32 leaves as stored, int8
    /// ones as their integers, shifted by their tree's power of two (exact
    /// in f32: |q| × 2^16 < 2^24); the int8 scale turns their sums into
    /// scores. Checked models only.
    pub fn summed_leaves(&self) -> Vec<f32> {
        match &self.leaves {
            Leaves::F32(v) => v.clone(),
            Leaves::Int8 { values, .. } => values.iter().map(|&v| f32::from(v)).collect(),
            Leaves::Int8Shifted { values, shifts, .. } => {
                let mut out = Vec::with_capacity(values.len());
                for (t, &s) in shifts.iter().enumerate() {
                    let range = tree_values(&self.trees, values.len(), self.leaf_width(), t);
                    out.extend(values[range].iter().map(|&v| (i32::from(v) << s) as f32));
                }
                out
            }
        }
    }

    /// A bound on every partial sum of int8 leaves (as shifted integers) in
    /// any output: the sum over trees of each tree's largest |q| shifted by
    /// its tree's shift (single-scale leaves: 127 a tree). Checked offsets
    /// and shifts.
    fn int_sum_bound(&self) -> u64 {
        match &self.leaves {
            Leaves::F32(_) => 0,
            Leaves::Int8 { .. } => 127 * self.trees.len() as u64,
            Leaves::Int8Shifted { values, shifts, .. } => shifts
                .iter()
                .enumerate()
                .map(|(t, &s)| {
                    let range = tree_values(&self.trees, values.len(), self.leaf_width(), t);
                    let top = values[range].iter().map(|v| v.unsigned_abs()).max();
                    u64::from(top.unwrap_or(0)) << s
                })
                .sum(),
        }
    }

    /// Whether f32 sums of the int8 leaves' integers are exact, as their
    /// `i32` sums are, in any order: every partial sum stays below 2^24.
    fn int_sums_exact_in_f32(&self) -> bool {
        match &self.leaves {
            Leaves::Int8 { .. } => self.trees.len() < MAX_EXACT_INT8_TREES,
            _ => self.int_sum_bound() < EXACT_F32_SUM,
        }
    }

    /// Int8 leaves: the integer sums in `acc` into scores (averaging: times
    /// the scale; boosting: times the scale plus the base). Nothing for f32
    /// leaves, whose sums already are the scores.
    #[inline(always)]
    fn rescale(&self, acc: &mut [f32]) {
        let Some(scale) = self.leaf_scale() else {
            return;
        };
        match &self.output {
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
        match &self.output {
            Output::Boosted { base, .. } if base.len() == 1 => {
                let mut sum = 0i32;
                walk.walk(self, bins, |t, leaf| sum += v(t, leaf));
                acc[0] = sum as f32;
            }
            Output::Boosted {
                base, tree_output, ..
            } if base.len() <= INT_OUTPUTS => {
                let mut sums = [0i32; INT_OUTPUTS];
                walk.walk(self, bins, |t, leaf| {
                    sums[tree_output[t] as usize] += v(t, leaf);
                });
                for (a, s) in acc.iter_mut().zip(&sums[..base.len()]) {
                    *a = *s as f32;
                }
            }
            Output::Average if self.n_classes <= INT_OUTPUTS => {
                let k = self.n_classes;
                let mut sums = [0i32; INT_OUTPUTS];
                walk.walk(self, bins, |t, leaf| {
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
    /// precision, before [`QuantTrees::rescale`]: `value(t, i)` is leaf
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
        match &self.output {
            Output::Average => {
                acc.fill(0.0);
                let k = self.n_classes;
                walk.walk(self, bins, |t, leaf| {
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
                if self.leaf_scale().is_some() {
                    acc[..base.len()].fill(0.0);
                } else {
                    acc[..base.len()].copy_from_slice(base);
                }
                if base.len() == 1 {
                    // One output: sum in a register (see `CompiledTrees`).
                    let mut sum = acc[0];
                    walk.walk(self, bins, |t, leaf| sum += value(t, leaf));
                    acc[0] = sum;
                } else {
                    walk.walk(self, bins, |t, leaf| {
                        acc[tree_output[t] as usize] += value(t, leaf);
                    });
                }
            }
        }
    }

    /// Accumulated scores into probabilities, in place.
    #[inline(always)]
    fn finish_proba(&self, out: &mut [f32]) {
        match &self.output {
            Output::Average => {
                let s = 1.0 / self.n_trees() as f32;
                out.iter_mut().for_each(|o| *o *= s);
            }
            Output::Boosted { link, .. } => link.apply(out),
        }
    }

    /// The class from accumulated scores.
    #[inline(always)]
    fn finish_class(&self, scores: &[f32]) -> u32 {
        match &self.output {
            Output::Average => super::argmax(scores),
            Output::Boosted { link, .. } => link.class(scores),
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.n_classes < 2 || self.trees.is_empty() {
            return Err("a quantized ensemble needs 2+ classes and 1+ trees".into());
        }
        if self.cut_start.len() != self.n_features + 1
            || self.cut_start.windows(2).any(|w| w[0] > w[1])
            || *self.cut_start.last().unwrap_or(&1) as usize != self.cuts.len()
        {
            return Err("quantized ensemble: cut offsets do not match the cuts".into());
        }
        let n_leaves = match &self.leaves {
            Leaves::F32(v) => v.len(),
            Leaves::Int8 { values, scale } => {
                if !scale.is_finite() || *scale <= 0.0 {
                    return Err("quantized ensemble: leaf scale must be finite and > 0".into());
                }
                values.len()
            }
            Leaves::Int8Shifted {
                values,
                scale,
                shifts,
            } => {
                if !scale.is_finite() || *scale <= 0.0 {
                    return Err("quantized ensemble: leaf scale must be finite and > 0".into());
                }
                if shifts.len() != self.trees.len() {
                    return Err(format!(
                        "quantized ensemble: {} leaf shifts for {} trees",
                        shifts.len(),
                        self.trees.len()
                    ));
                }
                if let Some((t, s)) = shifts.iter().enumerate().find(|(_, &s)| s > MAX_LEAF_SHIFT) {
                    return Err(format!(
                        "quantized tree {t}: leaf shift {s} is over {MAX_LEAF_SHIFT}"
                    ));
                }
                values.len()
            }
        } / self.leaf_width();
        if let Output::Boosted {
            link,
            base,
            tree_output,
        } = &self.output
        {
            let outputs = link.n_outputs(self.n_classes);
            if (*link == Link::Logistic && self.n_classes != 2)
                || base.len() != outputs
                || tree_output.len() != self.trees.len()
                || tree_output.iter().any(|&o| o as usize >= outputs)
            {
                return Err("quantized ensemble: boosted outputs do not match".into());
            }
        }
        for &f in &self.used_features {
            if usize::from(f) >= self.n_features {
                return Err(format!(
                    "quantized ensemble uses feature {f} of {}",
                    self.n_features
                ));
            }
        }
        for (t, tree) in self.trees.iter().enumerate() {
            let node_end = self
                .trees
                .get(t + 1)
                .map_or(self.nodes.len(), |n| n.node_base as usize);
            let leaf_end = self
                .trees
                .get(t + 1)
                .map_or(n_leaves, |n| n.leaf_base as usize);
            let (nb, lb) = (tree.node_base as usize, tree.leaf_base as usize);
            if nb > node_end || node_end > self.nodes.len() || lb > leaf_end || leaf_end > n_leaves
            {
                return Err(format!(
                    "quantized tree {t}: node or leaf range out of bounds"
                ));
            }
            let child_ok = |c: i16, parent: Option<usize>| match decode(c) {
                Err(i) => lb + i < leaf_end,
                Ok(i) => nb + i < node_end && parent.is_none_or(|p| i > p),
            };
            if !child_ok(tree.root, None) {
                return Err(format!("quantized tree {t}: bad root"));
            }
            for (i, n) in self.nodes[nb..node_end].iter().enumerate() {
                let f = usize::from(n.feature);
                if f >= self.n_features
                    || usize::from(n.bin) >= (self.cut_start[f + 1] - self.cut_start[f]) as usize
                    || !child_ok(n.left, Some(i))
                    || !child_ok(n.right, Some(i))
                {
                    return Err(format!("quantized tree {t}: node {i} is malformed"));
                }
            }
        }
        // The `i32` sums of shifted leaves must not overflow (the leaf
        // ranges are checked above).
        if matches!(self.leaves, Leaves::Int8Shifted { .. })
            && self.int_sum_bound() > i32::MAX as u64
        {
            return Err(format!(
                "quantized ensemble: int8 leaf sums could reach {}, over i32",
                self.int_sum_bound()
            ));
        }
        Ok(())
    }
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

impl CompiledBinned {
    /// The run-time form of a checked model: a binned walk
    /// ([`CompiledBinned::binned`]), replaced by the cut walk when binning
    /// the row does not pay for these trees ([`Cuts::pays`], which looks at
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
        if !binned.is_narrow() || Cuts::pays(&binned.q, &binned.walker) {
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
            Implicit::build(&q)
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
            Walker::Implicit8(im) => {
                im.nodes.len() * size_of::<[u8; 2]>() + im.leaf_ref.len() * size_of::<u32>()
            }
            Walker::Packed8(p) => {
                p.nodes.len() * size_of::<PNode8>() + p.tree_start.len() * size_of::<u32>()
            }
            Walker::Blocks(b) => {
                b.blocks.len() * size_of::<Block>() + b.leaf_ref.len() * size_of::<u32>()
            }
            Walker::Cuts(c) => c.heap_bytes(),
        };
        let binner = self.binner.features.len() * size_of::<BinFeature>()
            + self.binner.padded.len() * size_of::<f32>()
            + self.binner.tops.len() * size_of::<[f32; BLOCK]>();
        self.q.heap_bytes() + walker + binner + self.wide.len() * size_of::<i32>()
    }

    /// One monomorphic loop per layout × leaf precision.
    #[inline(always)]
    fn accumulate_leaves<R: ?Sized>(&self, acc: &mut [f32], walk: &impl Walk<R>, bins: &R) {
        let q = &self.q;
        match &q.leaves {
            Leaves::F32(v) => q.accumulate_with(acc, walk, bins, |_, i| v[i]),
            Leaves::Int8 { values, .. } if q.leaf_scale().is_some() => {
                q.accumulate_int(acc, walk, bins, |i| i32::from(values[i]))
            }
            Leaves::Int8 { values, .. } => {
                q.accumulate_with(acc, walk, bins, |_, i| f32::from(values[i]))
            }
            Leaves::Int8Shifted { .. } => q.accumulate_int(acc, walk, bins, |i| self.wide[i]),
        }
        q.rescale(acc);
    }

    /// Raw scores into `acc`, as the float form computes them.
    #[inline(always)]
    fn accumulate(&self, row: &[f32], bins: &mut [u16], acc: &mut [f32]) {
        match &self.walker {
            Walker::Cuts(c) => {
                c.trees.accumulate(row, acc);
                self.q.rescale(acc);
            }
            Walker::Blocks(b) => self.accumulate_blocks(row, acc, b),
            Walker::Implicit8(im) => self.accumulate8(row, acc, im),
            Walker::Packed8(p) => self.accumulate8(row, acc, p),
            Walker::Pointers => self.accumulate16(row, bins, acc, &Pointers),
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
        self.q.finish_proba(out);
    }

    #[inline(always)]
    pub fn predict(&self, row: &[f32], bins: &mut [u16], scores: &mut [f32]) -> u32 {
        self.accumulate(row, bins, scores);
        self.q.finish_class(scores)
    }
}

/// The on-disk form of [`QuantTrees`]: each tree is its depth-first node
/// sequence as one bit per node (1 = leaf), plus feature and bin per
/// internal node; child references, which the sequence determines, are not
/// written. (The runtime form keeps them: it is built for traversal, this
/// one for size.)
#[derive(Serialize, Deserialize)]
struct Stored {
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

/// A linear model with per-output symmetric int8 weights:
/// `score_k = scale_k × Σ q_kj x_j + bias_k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantLinear {
    pub n_features: usize,
    pub n_classes: usize,
    pub link: Link,
    pub weights: Vec<i8>,
    pub scales: Vec<f32>,
    pub bias: Vec<f32>,
}

impl QuantLinear {
    pub fn from_linear(m: &super::LinearModel) -> QuantLinear {
        let d = m.n_features;
        let mut weights = Vec::with_capacity(m.weights.len());
        let mut scales = Vec::with_capacity(m.bias.len());
        for w in m.weights.chunks_exact(d.max(1)) {
            let max = w.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            weights.extend(
                w.iter()
                    .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8),
            );
            scales.push(scale);
        }
        QuantLinear {
            n_features: d,
            n_classes: m.n_classes,
            link: m.link,
            weights,
            scales,
            bias: m.bias.clone(),
        }
    }

    #[inline]
    fn scores(&self, row: &[f32], out: &mut [f32]) {
        let d = self.n_features;
        for (k, o) in out[..self.bias.len()].iter_mut().enumerate() {
            let w = &self.weights[k * d..(k + 1) * d];
            let dot: f32 = w.iter().zip(row).map(|(&q, &x)| f32::from(q) * x).sum();
            *o = dot * self.scales[k] + self.bias[k];
        }
    }

    #[inline]
    pub fn predict_proba(&self, row: &[f32], out: &mut [f32]) {
        self.scores(row, out);
        self.link.apply(out);
    }

    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        self.scores(row, scratch);
        self.link.class(scratch)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let outputs = self.link.n_outputs(self.n_classes);
        if (self.link == Link::Logistic && self.n_classes != 2)
            || self.weights.len() != outputs * self.n_features
            || self.scales.len() != outputs
            || self.bias.len() != outputs
        {
            return Err("int8 linear model: weight, scale and bias counts do not match".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CompiledModel, Model, Scratch};

    /// `c` behind the model-wide prediction interface.
    fn run(c: CompiledBinned) -> CompiledModel {
        CompiledModel::from_binned(c)
    }

    fn binned(q: &QuantTrees) -> CompiledBinned {
        CompiledBinned::binned(q.clone())
    }

    fn cut(q: &QuantTrees) -> CompiledBinned {
        CompiledBinned::with(q.clone(), BinnedWalk::Cuts).expect("sorted cuts")
    }

    /// The binner of a binned walk with `walker` instead.
    fn with_walker(q: &QuantTrees, walker: Walker) -> CompiledBinned {
        CompiledBinned {
            walker,
            ..binned(q)
        }
    }

    fn float(f: &TreeEnsemble) -> CompiledModel {
        Model::Trees(f.clone()).compile().unwrap()
    }

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Appends a random tree of depth ≤ `max_depth` (pre-order) whose
    /// thresholds come from `grid`, the last feature taking them in turn
    /// (so it gets many cuts); returns its root.
    fn grow(
        f: &mut TreeEnsemble,
        rng: &mut ChaCha8Rng,
        grid: &[f32],
        next_cut: &mut usize,
        depth: u32,
        max_depth: u32,
    ) -> u32 {
        let leaf_p = if depth == 0 { 0.05 } else { 0.1 };
        if depth == max_depth || rng.random_bool(leaf_p) {
            let v: Vec<f32> = (0..f.leaf_width())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            return f.push_leaf(&v);
        }
        let top = f.n_features - 1;
        let feature = if rng.random_bool(0.4) {
            top
        } else {
            rng.random_range(0..f.n_features)
        };
        let threshold = if feature == top {
            *next_cut += 1;
            grid[*next_cut % grid.len()]
        } else {
            grid[rng.random_range(0..grid.len())]
        };
        let node = f.push_split(feature as u32, threshold);
        let l = grow(f, rng, grid, next_cut, depth + 1, max_depth);
        let r = grow(f, rng, grid, next_cut, depth + 1, max_depth);
        f.set_children(node, l, r);
        node
    }

    /// Adds tree `t` (root `root`): boosted trees take the outputs in turn.
    fn push_root(f: &mut TreeEnsemble, root: u32, t: usize) {
        f.roots.push(root);
        if let Output::Boosted {
            tree_output, base, ..
        } = &mut f.output
        {
            tree_output.push((t % base.len()) as u32);
        }
    }

    /// A row of values on, just above and just below `grid` values (the
    /// cuts), NaN, infinities, huge values (one kind a row, by `r`) and
    /// values in between.
    fn random_row(rng: &mut ChaCha8Rng, grid: &[f32], n_features: usize, r: usize) -> Vec<f32> {
        (0..n_features)
            .map(|_| {
                let g = grid[rng.random_range(0..grid.len())];
                match rng.random_range(0..9) {
                    0 => g,
                    1 => g.next_up(),
                    2 => g.next_down(),
                    3 => f32::NAN,
                    4 => [f32::NEG_INFINITY, f32::INFINITY, -1e9, 1e9][r % 4],
                    _ => rng.random_range(-32.0..32.0),
                }
            })
            .collect()
    }

    /// `f` with tree `t`'s leaves scaled by 2^-(3 × (t mod 6)): leaves six
    /// orders of magnitude apart take [`Leaves::Int8Shifted`].
    fn spread_leaves(f: &TreeEnsemble) -> TreeEnsemble {
        let mut f = f.clone();
        let w = f.leaf_width();
        for t in 0..f.n_trees() {
            let factor = 0.5f32.powi(3 * (t % 6) as i32);
            for i in f.roots[t] as usize..f.tree_end(t) {
                if f.nodes[i].is_leaf() {
                    let l = f.nodes[i].left as usize;
                    f.leaf_values[l * w..(l + 1) * w]
                        .iter_mut()
                        .for_each(|v| *v *= factor);
                }
            }
        }
        f
    }

    /// The three leaf forms the walk tests cover: f32, int8 of the trees'
    /// own leaves, and int8 of leaves spread over six orders of magnitude
    /// (shifted as soon as there are two trees).
    fn leaf_forms(f: &TreeEnsemble) -> [(LeafPrecision, TreeEnsemble); 3] {
        [
            (LeafPrecision::F32, f.clone()),
            (LeafPrecision::Int8, f.clone()),
            (LeafPrecision::Int8, spread_leaves(f)),
        ]
    }

    /// Two small trees: x0 <= 0.5 ? (x1 <= 2 ? A : B) : C, and a lone leaf.
    fn ensemble() -> TreeEnsemble {
        let mut t = TreeEnsemble::new(2, 2);
        let root = t.push_split(0, 0.5);
        let l = t.push_split(1, 2.0);
        let ll = t.push_leaf(&[1.0, 0.0]);
        let lr = t.push_leaf(&[0.0, 1.0]);
        let r = t.push_leaf(&[0.25, 0.75]);
        t.set_children(root, l, r);
        t.set_children(l, ll, lr);
        t.roots.push(root);
        let lone = t.push_leaf(&[0.5, 0.5]);
        t.roots.push(lone);
        t
    }

    #[test]
    fn binned_form_round_trips_and_predicts_like_the_float_form() {
        let f = ensemble();
        for precision in [LeafPrecision::F32, LeafPrecision::Int8] {
            let inner = QuantTrees::from_ensemble(&f, precision).unwrap();
            let saved = Model::QuantTrees(inner.clone());
            let back = Model::from_bytes(&saved.to_bytes()).unwrap();
            assert_eq!(back, saved);
            let narrow = binned(&inner);
            assert!(
                matches!(narrow.walker, Walker::Implicit8(_) | Walker::Blocks(_)),
                "two shallow trees on two features: complete trees, u8 bins"
            );
            let pointers = run(with_walker(&inner, Walker::Pointers));
            let (q, float) = (run(narrow), float(&f));
            let cut = run(cut(&inner));
            let mut s = [
                q.scratch(),
                float.scratch(),
                pointers.scratch(),
                cut.scratch(),
            ];
            for row in [
                [0.5, 2.0],
                [0.5, 2.1],
                [0.6, 0.0],
                [f32::NAN, 0.0],
                [0.0, f32::NAN],
            ] {
                let expected = float.predict(&row, &mut s[1]);
                assert_eq!(q.predict(&row, &mut s[0]), expected, "{row:?}");
                assert_eq!(pointers.predict(&row, &mut s[2]), expected, "{row:?}");
                assert_eq!(cut.predict(&row, &mut s[3]), expected, "{row:?}");
            }
        }
    }

    /// Deep trees get the packed layout; it predicts bit for bit what the
    /// stored nodes and the float form predict, on rows at, just above and
    /// around every threshold and NaN.
    #[test]
    fn deep_binned_trees_walk_packed_like_the_stored_nodes() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Random trees 12 deep over 3 features, thresholds on a grid.
        let grid = [-1.0f32, -0.5, 0.0, 0.25, 1.5];
        let mut f = TreeEnsemble::new(3, 2);
        fn grow(
            f: &mut TreeEnsemble,
            next: &mut impl FnMut() -> u64,
            grid: &[f32],
            depth: u32,
        ) -> u32 {
            if depth == 12 || (depth > 1 && next() % 4 == 0) {
                let p = (next() % 1000) as f32 / 1000.0;
                return f.push_leaf(&[1.0 - p, p]);
            }
            let node = f.push_split((next() % 3) as u32, grid[(next() % 5) as usize]);
            let l = grow(f, next, grid, depth + 1);
            let r = grow(f, next, grid, depth + 1);
            f.set_children(node, l, r);
            node
        }
        for _ in 0..11 {
            let root = grow(&mut f, &mut next, &grid, 0);
            f.roots.push(root);
        }
        f.check().unwrap();
        for (form, (precision, f)) in leaf_forms(&f).into_iter().enumerate() {
            let saved = QuantTrees::from_ensemble(&f, precision).unwrap();
            if form == 2 {
                assert!(matches!(saved.leaves, Leaves::Int8Shifted { .. }));
            }
            let q = CompiledBinned::new(saved.clone());
            let Walker::Packed8(p8) = &q.walker else {
                panic!("deep, 3 features, few cuts: narrow packed")
            };
            let flipped = p8.nodes.iter();
            let flipped = flipped.filter(|n| n.far & !FAR_FLIPPED != 0 && n.far & FAR_FLIPPED != 0);
            assert!(flipped.count() > 0, "some splits put the right child next");
            let pointers = run(with_walker(&saved, Walker::Pointers));
            // 11 deep trees on 3 features: binning pays, the cut walk is
            // only forced.
            let cut = run(cut(&saved));
            let (q, float) = (run(q), float(&f));
            let (mut a, mut b, mut c) = (q.scratch(), pointers.scratch(), float.scratch());
            let mut u = cut.scratch();
            let mut values = grid.to_vec();
            values.extend(grid.iter().map(|g| g.next_up()));
            values.extend([f32::NAN, -3.0, 3.0]);
            for &x in &values {
                for &y in &values {
                    for &z in &[values[(next() % values.len() as u64) as usize], f32::NAN] {
                        let row = [x, y, z];
                        let (mut pa, mut pb) = ([0f32; 2], [0f32; 2]);
                        q.predict_proba(&row, &mut a, &mut pa);
                        pointers.predict_proba(&row, &mut b, &mut pb);
                        assert_eq!(pa.map(f32::to_bits), pb.map(f32::to_bits), "{row:?}");
                        cut.predict_proba(&row, &mut u, &mut pb);
                        assert_eq!(pa.map(f32::to_bits), pb.map(f32::to_bits), "{row:?}");
                        if precision == LeafPrecision::F32 {
                            float.predict_proba(&row, &mut c, &mut pb);
                            assert_eq!(pa.map(f32::to_bits), pb.map(f32::to_bits), "{row:?}");
                        }
                    }
                }
            }
        }
    }

    /// The two-level count bins exactly as a binary search does, for every
    /// cut count around the block sizes (and past the two-level limit), at,
    /// just around and between the cuts, infinities and NaN.
    #[test]
    fn binner_counts_the_cuts_below_the_value() {
        let sizes = [0usize, 1, 2, 15, 16, 17, 31, 32, 100, 254, 255, 256, 300];
        let mut cuts = Vec::new();
        let mut cut_start = vec![0u32];
        for &n in &sizes {
            cuts.extend((0..n).map(|i| i as f32 * 0.5 - 20.0));
            cut_start.push(cuts.len() as u32);
        }
        let used: Vec<u16> = (0..sizes.len() as u16).collect();
        let binner = Binner::build(&cuts, &cut_start, &used);
        let mut values = vec![f32::NEG_INFINITY, f32::INFINITY, f32::NAN, -1e9, 1e9];
        for i in 0..320 {
            let c = i as f32 * 0.5 - 20.0;
            values.extend([c, c.next_up(), c.next_down(), c + 0.25]);
        }
        for &x in &values {
            let row = vec![x; sizes.len()];
            binner.bin_row(&row, |f, bin| {
                let fc = &cuts[cut_start[f] as usize..cut_start[f + 1] as usize];
                let expected = if x.is_nan() {
                    fc.len()
                } else {
                    fc.partition_point(|&c| c < x)
                };
                assert_eq!(usize::from(bin), expected, "{} cuts, x = {x}", fc.len());
            });
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if Blocks::cpu_supported() {
                // The vector binning (u8 bins: up to 255 cuts).
                let mut bins = Row64([0; 64]);
                // SAFETY: checked just above; 13 features.
                unsafe { x86::bin_row(&binner, &row, &mut bins) };
                for f in 0..sizes.len() {
                    let fc = &cuts[cut_start[f] as usize..cut_start[f + 1] as usize];
                    let expected = if x.is_nan() {
                        fc.len()
                    } else {
                        fc.partition_point(|&c| c < x)
                    };
                    if fc.len() <= 255 {
                        assert_eq!(
                            usize::from(bins.0[f]),
                            expected,
                            "{} cuts, x = {x}",
                            fc.len()
                        );
                    }
                }
            }
        }
    }

    /// The block walk (SIMD where the CPU has it, and the portable one)
    /// reaches the leaves the complete-tree walk reaches, tree by tree, and
    /// the model predicts bit for bit what the float model predicts: trees
    /// 1 to 6 deep (shallower ones and single leaves padded), 5 to 64
    /// features (one to four registers), rows at, just around and between
    /// cuts, NaN and infinities, bins 0 and 255.
    #[test]
    fn block_walk_reaches_the_leaves_the_complete_trees_reach() {
        // 255 cuts on the last feature: a NaN or a value above them all
        // gets bin 255.
        let grid: Vec<f32> = (0..255).map(|i| i as f32 * 0.25 - 30.0).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut saw_0, mut saw_255) = (false, false);
        let shapes = [
            (5, 3u32, 120),
            (16, 1, 300),
            (17, 2, 200),
            (20, 3, 151),
            (33, 4, 80),
            (40, 5, 60),
            (30, 6, 41),
            (64, 6, 40),
            (48, 3, 100),
        ];
        for (case, &(n_features, depth, n_trees)) in shapes.iter().enumerate() {
            let mut f = match case % 3 {
                0 => TreeEnsemble::boosted(n_features, 2, Link::Logistic, vec![0.3]),
                1 => TreeEnsemble::boosted(n_features, 3, Link::Softmax, vec![0.1, -0.2, 0.05]),
                _ => TreeEnsemble::new(n_features, 2),
            };
            let mut next_cut = 0;
            for t in 0..n_trees {
                // The first tree is complete, so the layout has `depth` levels.
                let d = if t == 0 {
                    depth
                } else {
                    rng.random_range(depth.saturating_sub(2).max(1)..=depth)
                };
                let root = if t == 0 {
                    fn full(
                        f: &mut TreeEnsemble,
                        rng: &mut ChaCha8Rng,
                        grid: &[f32],
                        d: u32,
                    ) -> u32 {
                        if d == 0 {
                            return f.push_leaf(&vec![0.5; f.leaf_width()]);
                        }
                        let node = f.push_split(
                            rng.random_range(0..f.n_features) as u32,
                            grid[rng.random_range(0..grid.len())],
                        );
                        let l = full(f, rng, grid, d - 1);
                        let r = full(f, rng, grid, d - 1);
                        f.set_children(node, l, r);
                        node
                    }
                    full(&mut f, &mut rng, &grid, d)
                } else {
                    grow(&mut f, &mut rng, &grid, &mut next_cut, 0, d)
                };
                push_root(&mut f, root, t);
            }
            f.check().unwrap();
            for (form, (precision, f)) in leaf_forms(&f).into_iter().enumerate() {
                let q = QuantTrees::from_ensemble(&f, precision).unwrap();
                let shifted = matches!(q.leaves, Leaves::Int8Shifted { .. });
                assert!(shifted || form != 2, "case {case}");
                let im = Implicit::build(&q)
                    .unwrap_or_else(|| panic!("case {case}: shallow trees are complete"));
                assert_eq!(im.depth, depth, "case {case}");
                let blocks = Blocks::build_unchecked(&q, &im).expect("≤ 6 deep, < 64 features");
                assert_eq!(blocks.regs as usize, n_features.div_ceil(16), "case {case}");
                let simd = Blocks::cpu_supported();
                // Many trees for their features: the block walk; 40 on 64
                // features (case 7): the cut walk, unless forced.
                let is_binned = q.trees.len() >= q.used_features.len();
                assert_eq!(is_binned, case != 7, "case {case}");
                let chosen = CompiledBinned::new(q.clone());
                assert_eq!(chosen.walker_name() == "cuts", !is_binned, "case {case}");
                let narrow = binned(&q);
                if simd {
                    assert!(matches!(narrow.walker, Walker::Blocks(_)), "case {case}");
                }
                let implicit = with_walker(&q, Walker::Implicit8(im.clone()));
                // The same trees walked over the raw row (many trees: only
                // when forced).
                let cut = cut(&q);
                let Walker::Cuts(cw) = cut.walker.clone() else {
                    unreachable!()
                };
                let inner = &q;
                let binner = narrow.binner.clone();
                let float = float(&f);
                let (q, implicit) = (run(narrow), run(implicit));
                let cut = run(cut);
                let (mut s0, mut s1, mut s2) = (q.scratch(), implicit.scratch(), float.scratch());
                let mut s3 = cut.scratch();
                for r in 0..400 {
                    let row = random_row(&mut rng, &grid, n_features, r);
                    let mut bins = Row64([0; 64]);
                    let mut wide = [0u8; 256];
                    binner.bin_row(&row, |f, b| {
                        bins.0[f] = b as u8;
                        wide[f] = b as u8;
                        saw_0 |= b == 0;
                        saw_255 |= b == 255;
                    });
                    let (mut want, mut got) = (Vec::new(), Vec::new());
                    im.walk(inner, &wide, |t, l| want.push((t, l)));
                    blocks.walk_portable(&bins, |t, l| got.push((t, l)));
                    assert_eq!(got, want, "case {case}, portable, {row:?}");
                    if simd {
                        got.clear();
                        blocks.walk(inner, &bins, |t, l| got.push((t, l)));
                        assert_eq!(got, want, "case {case}, SSSE3, {row:?}");
                    }
                    got.clear();
                    cw.walk(inner, &row[..], |t, l| got.push((t, l)));
                    assert_eq!(got, want, "case {case}, cuts, {row:?}");
                    let k = q.n_classes();
                    let (mut a, mut b, mut c) = (vec![0f32; k], vec![0f32; k], vec![0f32; k]);
                    q.predict_proba(&row, &mut s0, &mut a);
                    implicit.predict_proba(&row, &mut s1, &mut b);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "case {case}, {row:?}");
                    cut.predict_proba(&row, &mut s3, &mut b);
                    assert_eq!(bits(&a), bits(&b), "case {case}, cuts, {row:?}");
                    if precision == LeafPrecision::F32 {
                        float.predict_proba(&row, &mut s2, &mut c);
                        assert_eq!(bits(&a), bits(&c), "case {case}, {row:?}");
                    }
                }
            }
        }
        assert!(saw_0 && saw_255, "rows reach the extreme bins");
    }

    /// Few trees get the cut walk, whose leaves and probabilities are bit
    /// for bit those of the binned walk one node at a time (`Pointers` over
    /// `u16` bins), of the `u8` binned walk `relayout` would otherwise
    /// choose, and (f32 leaves) of the float model: a single deep tree,
    /// forests of 1–3 trees, boosting of 1–4 shallow trees (logistic and
    /// softmax), f32 and int8 leaves; rows on, just above and just below the
    /// cuts, NaN, infinities. The file holds no walker: a reload chooses the
    /// cut walk again.
    #[test]
    fn few_trees_walk_the_cut_values_like_the_binned_walks() {
        let grid: Vec<f32> = (0..255).map(|i| i as f32 * 0.25 - 30.0).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        // (features, classes, output, trees, depth)
        let logistic = Output::Boosted {
            link: Link::Logistic,
            base: vec![0.3],
            tree_output: vec![],
        };
        let softmax = Output::Boosted {
            link: Link::Softmax,
            base: vec![0.1, -0.2, 0.05],
            tree_output: vec![],
        };
        let shapes = [
            (20, 2, Output::Average, 1, 10),
            (20, 3, Output::Average, 1, 14),
            (20, 2, Output::Average, 3, 12),
            (12, 2, logistic.clone(), 1, 3),
            (12, 2, logistic, 4, 4),
            (12, 3, softmax.clone(), 3, 3),
            (30, 3, softmax, 3, 6),
        ];
        for (case, (n_features, k, output, n_trees, depth)) in shapes.into_iter().enumerate() {
            let mut f = TreeEnsemble::new(n_features, k);
            f.output = output;
            let mut next_cut = 0;
            for t in 0..n_trees {
                let root = grow(&mut f, &mut rng, &grid, &mut next_cut, 0, depth);
                push_root(&mut f, root, t);
            }
            f.check().unwrap();
            for (form, (precision, f)) in leaf_forms(&f).into_iter().enumerate() {
                let q = QuantTrees::from_ensemble(&f, precision).unwrap();
                let shifted = matches!(q.leaves, Leaves::Int8Shifted { .. });
                assert!(shifted || form != 2 || n_trees == 1, "case {case}");
                let chosen = CompiledBinned::new(q.clone());
                let Walker::Cuts(cw) = chosen.walker.clone() else {
                    panic!("case {case}: {} for few trees", chosen.walker_name())
                };
                assert!(
                    chosen.heap_bytes() >= cw.heap_bytes() + q.nodes.len() * size_of::<QNode>()
                );
                let back = Model::from_bytes(&Model::QuantTrees(q.clone()).to_bytes()).unwrap();
                assert_eq!(
                    back.compile().unwrap().layout_name(),
                    "cuts",
                    "case {case}: reloaded"
                );
                let narrow = binned(&q);
                assert_ne!(narrow.walker_name(), "cuts");
                let pointers = with_walker(&q, Walker::Pointers);
                let binner = pointers.binner.clone();
                let models = [run(chosen), run(pointers), run(narrow), float(&f)];
                let mut scratch: Vec<_> = models.iter().map(CompiledModel::scratch).collect();
                let mut bins = vec![0u16; n_features];
                for r in 0..2000 {
                    let row = random_row(&mut rng, &grid, n_features, r);
                    let (mut want, mut got) = (Vec::new(), Vec::new());
                    binner.bin_row(&row, |f, b| bins[f] = b);
                    Pointers.walk(&q, &bins[..], |t, l| want.push((t, l)));
                    cw.walk(&q, &row[..], |t, l| got.push((t, l)));
                    assert_eq!(got, want, "case {case}, {row:?}");
                    let bits = |m: &CompiledModel, s: &mut Scratch| {
                        let mut p = vec![0f32; k];
                        m.predict_proba(&row, s, &mut p);
                        p.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    };
                    let expected = bits(&models[0], &mut scratch[0]);
                    let n = if precision == LeafPrecision::F32 {
                        4
                    } else {
                        3
                    };
                    for (m, s) in models.iter().zip(&mut scratch).take(n).skip(1) {
                        assert_eq!(bits(m, s), expected, "case {case}, {row:?}");
                    }
                }
            }
        }
    }

    /// A model whose cuts are out of order, repeated or NaN (a damaged file
    /// could hold one: `check` does not look) keeps a binned walk: only the
    /// binning defines its branches then.
    #[test]
    fn unsorted_cuts_keep_the_binned_walk() {
        // x0 <= 2 ? (x0 <= 0.5 ? A : B) : C: one feature, two cuts.
        let mut f = TreeEnsemble::new(1, 2);
        let root = f.push_split(0, 2.0);
        let l = f.push_split(0, 0.5);
        let ll = f.push_leaf(&[1.0, 0.0]);
        let lr = f.push_leaf(&[0.0, 1.0]);
        let r = f.push_leaf(&[0.25, 0.75]);
        f.set_children(root, l, r);
        f.set_children(l, ll, lr);
        f.roots.push(root);
        let mut q = QuantTrees::from_ensemble(&f, LeafPrecision::F32).unwrap();
        assert_eq!(CompiledBinned::new(q.clone()).walker_name(), "cuts");
        assert_eq!(q.cuts, [0.5, 2.0]);
        for cuts in [[2.0, 0.5], [0.5, 0.5], [0.5, f32::NAN], [f32::NAN, 2.0]] {
            q.cuts = cuts.to_vec();
            q.check().unwrap();
            assert!(
                CompiledBinned::with(q.clone(), BinnedWalk::Cuts).is_none(),
                "{cuts:?}"
            );
            let c = CompiledBinned::new(q.clone());
            assert_ne!(c.walker_name(), "cuts", "{cuts:?}");
        }
    }

    /// A model of [`ensemble`] with single-scale int8 leaves (scale 1/127),
    /// as every int8 model was written before per-tree shifts, encoded.
    const SINGLE_SCALE_INT8: &[u8] = &[
        3, 2, 2, 0, 2, 0, 0, 0, 63, 0, 0, 0, 64, 3, 0, 1, 2, 2, 0, 1, 2, 5, 1, 1, 60, 2, 0, 1, 2,
        0, 0, 1, 8, 127, 0, 0, 127, 32, 95, 64, 64, 4, 2, 1, 60,
    ];

    /// Files hold `Leaves` by variant index: bytes of the single-scale form
    /// still decode to it and predict what they predicted (scores bit for
    /// bit with the model they were made from, classes as the float model's).
    #[test]
    fn single_scale_int8_files_still_load() {
        let f = ensemble();
        let mut q = QuantTrees::from_ensemble(&f, LeafPrecision::F32).unwrap();
        let Leaves::F32(v) = &q.leaves else {
            unreachable!()
        };
        let scale = 1.0f32 / 127.0;
        q.leaves = Leaves::Int8 {
            values: v.iter().map(|x| (x / scale).round() as i8).collect(),
            scale,
        };
        let q = Model::QuantTrees(q);
        assert_eq!(q.to_bytes(), SINGLE_SCALE_INT8);
        let back = Model::from_bytes(SINGLE_SCALE_INT8).unwrap();
        assert_eq!(back, q);
        let Model::QuantTrees(inner) = &back else {
            unreachable!()
        };
        assert!(matches!(inner.leaves, Leaves::Int8 { .. }));
        let float = float(&f);
        let (q, back) = (q.compile().unwrap(), back.compile().unwrap());
        let (mut s0, mut s1, mut s2) = (q.scratch(), back.scratch(), float.scratch());
        for row in [[0.5, 2.0], [0.5, 2.1], [0.6, 0.0], [f32::NAN, 0.0]] {
            let (mut a, mut b) = ([0f32; 2], [0f32; 2]);
            q.predict_proba(&row, &mut s0, &mut a);
            back.predict_proba(&row, &mut s1, &mut b);
            assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "{row:?}");
            assert_eq!(back.predict(&row, &mut s1), float.predict(&row, &mut s2));
        }
    }

    /// Largest error of an int8 leaf as a share of its tree's largest
    /// |value|: half a step of 127 levels, doubled by the power-of-two
    /// shift's slack (a tree's range is at most twice its largest leaf).
    const QUANT_LEAF_ERROR: f32 = 1.0 / 127.0;

    /// Least share of rows on which an int8 model must predict its float
    /// parent's class.
    const QUANT_MIN_AGREEMENT: f64 = 0.995;

    /// Boosting's late rounds fit small residuals: 200 rounds of depth 3
    /// whose leaves shrink from ±1 to ±1e-3. Every int8 leaf stays within
    /// [`QUANT_LEAF_ERROR`] of its tree's largest value (under one scale
    /// the last rounds' leaves all round to 0), and the model predicts its
    /// float parent's class on at least [`QUANT_MIN_AGREEMENT`] of rows.
    /// (Exact sums bound the span: the large trees' shifted leaves count
    /// against 2^24, and with these 200 trees one whose leaves are below
    /// about 2^-12 of the largest gets fewer than 127 levels — ±1e-4 does.)
    #[test]
    fn small_late_boosting_leaves_keep_their_precision() {
        let grid: Vec<f32> = (0..255).map(|i| i as f32 * 0.25 - 30.0).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut f = TreeEnsemble::boosted(10, 2, Link::Logistic, vec![0.1]);
        let mut next_cut = 0;
        for t in 0..200 {
            let first = f.nodes.len();
            let root = grow(&mut f, &mut rng, &grid, &mut next_cut, 0, 3);
            let factor = 10f32.powf(-3.0 * t as f32 / 199.0);
            for i in first..f.nodes.len() {
                if f.nodes[i].is_leaf() {
                    f.leaf_values[f.nodes[i].left as usize] *= factor;
                }
            }
            push_root(&mut f, root, t);
        }
        f.check().unwrap();
        let exact = QuantTrees::from_ensemble(&f, LeafPrecision::F32).unwrap();
        let q = QuantTrees::from_ensemble(&f, LeafPrecision::Int8).unwrap();
        let (Leaves::F32(want), Leaves::Int8Shifted { scale, .. }) = (&exact.leaves, &q.leaves)
        else {
            panic!("leaves three orders of magnitude apart: shifted")
        };
        let got: Vec<f32> = q.summed_leaves().iter().map(|v| v * scale).collect();
        let single = 1.0 / 127.0 * want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for t in 0..q.n_trees() {
            let range = tree_values(&q.trees, want.len(), 1, t);
            let top = want[range.clone()].iter().fold(0f32, |m, v| m.max(v.abs()));
            for i in range {
                let err = (got[i] - want[i]).abs();
                assert!(
                    err <= QUANT_LEAF_ERROR * top,
                    "tree {t}: {} for {}",
                    got[i],
                    want[i]
                );
            }
            if t == q.n_trees() - 1 {
                assert!(
                    top < single / 2.0,
                    "one scale rounds the last tree's leaves to 0"
                );
            }
        }
        let (float, q) = (float(&f), Model::QuantTrees(q).compile().unwrap());
        let (mut s0, mut s1) = (float.scratch(), q.scratch());
        let rows = 4000;
        let same = (0..rows)
            .filter(|&r| {
                let row = random_row(&mut rng, &grid, 10, r);
                float.predict(&row, &mut s0) == q.predict(&row, &mut s1)
            })
            .count();
        let agreement = same as f64 / rows as f64;
        assert!(agreement >= QUANT_MIN_AGREEMENT, "{agreement}");
    }

    /// A loaded model's shifts are checked: one per tree, at most
    /// [`MAX_LEAF_SHIFT`], and sums that fit an `i32`.
    #[test]
    fn bad_leaf_shifts_are_refused() {
        let f = spread_leaves(&ensemble());
        let q = QuantTrees::from_ensemble(&f, LeafPrecision::Int8).unwrap();
        let Leaves::Int8Shifted {
            values,
            scale,
            shifts,
        } = q.leaves.clone()
        else {
            panic!("leaves 2^3 apart: shifted, got {:?}", q.leaves)
        };
        let with = |values: Vec<i8>, shifts: Vec<u8>| {
            let mut bad = q.clone();
            bad.leaves = Leaves::Int8Shifted {
                values,
                scale,
                shifts,
            };
            bad.check().unwrap_err()
        };
        let e = with(values.clone(), shifts[..1].to_vec());
        assert!(e.contains("1 leaf shifts for 2 trees"), "{e}");
        let e = with(values.clone(), vec![0, MAX_LEAF_SHIFT + 1]);
        assert!(e.contains("tree 1: leaf shift 17 is over 16"), "{e}");
        // 300 lone leaves of 127 << 16: each fits, their sum does not.
        let mut lone = TreeEnsemble::boosted(2, 2, Link::Logistic, vec![0.0]);
        for t in 0..300 {
            let root = lone.push_leaf(&[1.0]);
            push_root(&mut lone, root, t);
        }
        let mut bad = QuantTrees::from_ensemble(&lone, LeafPrecision::F32).unwrap();
        bad.leaves = Leaves::Int8Shifted {
            values: vec![127; 300],
            scale: 1.0,
            shifts: vec![MAX_LEAF_SHIFT; 300],
        };
        let e = bad.check().unwrap_err();
        assert!(e.contains("could reach 2496921600, over i32"), "{e}");
        if let Leaves::Int8Shifted { shifts, .. } = &mut bad.leaves {
            shifts.iter_mut().for_each(|s| *s = 0);
        }
        bad.check().unwrap();
    }

    #[test]
    fn damaged_bytes_are_refused_not_trusted() {
        let q =
            Model::QuantTrees(QuantTrees::from_ensemble(&ensemble(), LeafPrecision::F32).unwrap());
        let bytes = q.to_bytes();
        // Every truncation and every single-byte change either decodes to a
        // model that passes its checks or is refused — never a panic.
        for n in 0..bytes.len() {
            let _ = Model::from_bytes(&bytes[..n]);
        }
        for i in 0..bytes.len() {
            for v in [0u8, 1, 2, 0x7f, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                if let Ok(m) = Model::from_bytes(&b) {
                    let m = m.compile().unwrap();
                    let mut s = m.scratch();
                    m.predict(&[0.1, 0.2], &mut s);
                }
            }
        }
    }
}
