//! The block walk ([`Blocks`]): complete trees of at most six levels cut
//! into blocks of three, each block's seven nodes tested at once. Here are
//! its layout, the exit-slot table and the portable walk; the SSSE3 walk
//! and binning are in `x86.rs`. Built from the complete-tree layout
//! ([`Implicit`]); uses the saved form and the [`Walk`](super::Walk) trait.

use super::super::implicit::Implicit;
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
use crate::model::compiled::walk::Walk;
use crate::model::QuantTrees;

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
/// (`x86::bin_row`), in about half the time of the portable binning. Leaves
/// are found 16 trees at a time before they are visited, so the walks run
/// ahead of the visits' chain of adds (`cargo bench --bench quant_ratio`).
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
    pub(super) steps: u32,
    /// 16-byte registers the binned row fills (1–4).
    pub(super) regs: u32,
    /// Per tree, [`Blocks::per_tree`] blocks in 8-ary heap order: the
    /// block reached through slot `s` of block `b` is `8b + 1 + s`.
    pub(super) blocks: Vec<Block>,
    /// Global leaf number per leaf slot, `8^steps` per tree.
    pub(super) leaf_ref: Vec<u32>,
}

/// Seven nodes in heap order (lane 7 is padding): `row[feature] <= bin`
/// goes left. The feature byte is encoded for the gather ([`encode`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(16))]
pub(super) struct Block {
    feature: [u8; 8],
    bin: [u8; 8],
}

/// A binned row for [`Blocks`]: up to 64 `u8` bins, aligned for 16-byte
/// loads (unused features stay 0: only padding lanes test them).
#[repr(C, align(16))]
pub(super) struct Row64(pub(super) [u8; 64]);

/// Exit slot (0–7, left to right) of a three-level block given its 7-bit
/// mask, bit `j` set when heap node `j` goes left.
pub(super) static SLOT: [u8; 128] = {
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
    pub(super) fn build(q: &QuantTrees, im: &Implicit<u8, u8>) -> Option<Blocks> {
        if !Self::cpu_supported() {
            return None;
        }
        Self::build_unchecked(q, im)
    }

    /// SSSE3 for the walk, POPCNT for the binning (SSSE3 implies SSE2).
    pub(super) fn cpu_supported() -> bool {
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
    pub(super) fn build_unchecked(q: &QuantTrees, im: &Implicit<u8, u8>) -> Option<Blocks> {
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
                        let (f, bin) = heap[g];
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

    /// The walk one node at a time: [`super::Walk::walk`]'s reference (and the
    /// walk itself on CPUs other than x86).
    #[cfg_attr(
        all(any(target_arch = "x86", target_arch = "x86_64"), not(test)),
        allow(dead_code)
    )]
    pub(super) fn walk_portable(&self, bins: &Row64, mut visit: impl FnMut(usize, usize)) {
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

    /// Bytes held by the blocks and leaf slots.
    pub(super) fn heap_bytes(&self) -> usize {
        self.blocks.len() * size_of::<Block>() + self.leaf_ref.len() * size_of::<u32>()
    }
}

/// Elsewhere than x86 no `Blocks` is built ([`Blocks::build`]); the walk is
/// the portable one. (On x86 it is `x86.rs`'s.)
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
impl Walk<Row64> for Blocks {
    #[inline(always)]
    fn walk(&self, bins: &Row64, visit: impl FnMut(usize, usize)) {
        self.walk_portable(bins, visit)
    }
}
