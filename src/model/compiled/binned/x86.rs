//! The SSSE3 block walk of [`Blocks`] (its [`Walk`] on x86) and the SSE2 +
//! POPCNT row binning it is given ([`bin_row`]), the only SIMD of the
//! binned forms; compiled on x86 only. Every `unsafe` here rests on the
//! CPU check in [`Blocks::build`] and on the layout `blocks.rs` builds.
//! Uses [`Blocks`]' layout and [`Binner`]'s padded cuts.

use super::binner::{Binner, BLOCK};
use super::blocks::{Block, Blocks, Row64, SLOT};
use crate::model::compiled::walk::Walk;
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

/// The row's bins of the features `e` encodes (`blocks::encode`), lane
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
        // `u8` bins: `CompiledBinned::binned` made a `Blocks` only when they fit.
        out.0[bf.feature as usize & 63] = bin as u8;
    }
}

impl Walk<Row64> for Blocks {
    #[inline(always)]
    fn walk(&self, bins: &Row64, visit: impl FnMut(usize, usize)) {
        // SAFETY: a `Blocks` is only built (`Blocks::build`) when the
        // CPU has SSSE3, by `build_unchecked` (the tests that build one
        // without the CPU check call this only when it passes).
        unsafe { walk(self, bins, visit) }
    }
}
