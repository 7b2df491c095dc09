//! Row binning ([`Binner`]): each used feature's value becomes its bin,
//! the number of the feature's cuts below it, in two fixed-width counts.
//! The binned walks call [`Binner::bin_row`] (`x86.rs` has the SSE version
//! [`Blocks`](super::Blocks) uses). Uses nothing else in the crate.

/// Row binning without branches on the data: `bin(x)` = the number of cuts
/// below `x`, counted in two levels of 16. A used feature's cuts are padded
/// with NaN to whole blocks of 16 (at least one NaN: a block always ends
/// above the last cut); `tops` holds each block's last value (NaN-padded to
/// 16). The count of tops below `x` is the block `x` falls in (every cut of
/// the blocks before it is below `x`, none after it), and the count below `x`
/// inside that block finishes the bin. Two fixed 16-wide counts (vectorized;
/// ≤ 256 cuts, more fall back to a binary search): no dependent chain of
/// loads and no mispredicted branches, unlike `partition_point`, whose
/// binary search makes boosting slower than its float parent (`cargo bench
/// --bench quant_ratio`). `NaN < x` is false, so padding never counts; a
/// `NaN` row value gets the bin past every cut.
#[derive(Debug, Clone, Default)]
pub struct Binner {
    pub(super) features: Vec<BinFeature>,
    pub(super) padded: Vec<f32>,
    pub(super) tops: Vec<[f32; BLOCK]>,
}

pub(super) const BLOCK: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct BinFeature {
    pub(super) feature: u32,
    /// First padded cut; the blocks are `padded[start..]`.
    pub(super) start: u32,
    pub(super) n_cuts: u32,
    /// Index into `tops`, or `u32::MAX`: too many cuts for two levels, the
    /// cuts are searched in `padded[start..start + n_cuts]`.
    pub(super) top: u32,
}

/// Cuts below `x` in a block (vectorized: a fixed-size count).
#[inline(always)]
fn count_below(block: &[f32; BLOCK], x: f32) -> usize {
    block.iter().map(|&c| u32::from(c < x)).sum::<u32>() as usize
}

impl Binner {
    /// For the features `used` of cuts `cuts[cut_start[f]..cut_start[f + 1]]`
    /// (checked offsets).
    pub(super) fn build(cuts: &[f32], cut_start: &[u32], used: &[u16]) -> Binner {
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
    pub(super) fn bin_row(&self, row: &[f32], mut put: impl FnMut(usize, u16)) {
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

    /// Bytes held by the padded cuts and their tables.
    pub(super) fn heap_bytes(&self) -> usize {
        self.features.len() * size_of::<BinFeature>()
            + self.padded.len() * size_of::<f32>()
            + self.tops.len() * size_of::<[f32; BLOCK]>()
    }
}
