//! Features binned once for the histogram trainers (`boost.rs`, `forest.rs`):
//! per feature at most `max_bins` (≤ 256) bins, so a bin fits a `u8`.
//!
//! Cut points are real `f32` values between the training values: a split
//! "bin ≤ b" is the IR threshold `x <= cuts[b]`, and for every training value
//! `x`, `x <= cuts[b]` exactly when `bin_of(x) <= b` (a cut `c` between
//! neighbouring values `a < b` satisfies `a <= c < b` after rounding to
//! `f32`). So the IR takes exactly the branches the binned trainer took.

use super::TrainData;

/// Per-feature cut points and the binned training matrix (row-major `u8`).
pub(crate) struct Binned {
    pub n_features: usize,
    /// Per feature, the ascending cut points: bin `b` holds the values in
    /// `(cuts[b - 1], cuts[b]]`, the last bin also `NaN`.
    pub cuts: Vec<Vec<f32>>,
    /// `n_rows × n_features`, row-major.
    pub bins: Vec<u8>,
}

/// Cut points for one feature's values: halfway between consecutive distinct
/// values, or between the values at `max_bins` quantiles when there are more
/// distinct values than bins. A cut `c` between `a < b` always satisfies
/// `a <= c < b`, also after rounding to `f32`.
pub(crate) fn feature_cuts(mut values: Vec<f32>, max_bins: usize) -> Vec<f32> {
    values.retain(|v| !v.is_nan());
    values.sort_by(f32::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    let between = |a: f32, b: f32| {
        let c = ((f64::from(a) + f64::from(b)) / 2.0) as f32;
        if c >= b {
            a
        } else {
            c
        }
    };
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| between(w[0], w[1])).collect();
    }
    // Quantile cuts, then the distinct ones among them.
    let n = values.len();
    let mut cuts: Vec<f32> = (1..max_bins)
        .filter_map(|q| {
            let i = q * n / max_bins;
            // Cut between the last value below the quantile's value and it.
            let v = values[i];
            let lo = values[..i].partition_point(|&x| x < v);
            (lo > 0).then(|| between(values[lo - 1], v))
        })
        .collect();
    cuts.dedup();
    cuts
}

pub(crate) fn bin_of(cuts: &[f32], x: f32) -> u8 {
    if x.is_nan() {
        cuts.len() as u8
    } else {
        cuts.partition_point(|&c| c < x) as u8
    }
}

impl Binned {
    pub(crate) fn new(data: &TrainData<'_>, max_bins: usize) -> Binned {
        let d = data.n_features;
        let n = data.n_rows();
        let cuts: Vec<Vec<f32>> = (0..d)
            .map(|f| feature_cuts((0..n).map(|r| data.x[r * d + f]).collect(), max_bins))
            .collect();
        let mut bins = vec![0u8; n * d];
        for r in 0..n {
            for f in 0..d {
                bins[r * d + f] = bin_of(&cuts[f], data.x[r * d + f]);
            }
        }
        Binned {
            n_features: d,
            cuts,
            bins,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_separate_neighbouring_f32_values() {
        let a = 1.0f32;
        let b = f32::from_bits(a.to_bits() + 1);
        let cuts = feature_cuts(vec![b, a, a, f32::NAN], 255);
        assert_eq!(cuts.len(), 1);
        assert!(a <= cuts[0] && cuts[0] < b);
        assert_eq!(bin_of(&cuts, a), 0);
        assert_eq!(bin_of(&cuts, b), 1);
        assert_eq!(bin_of(&cuts, f32::NAN), 1);
    }

    #[test]
    fn many_distinct_values_get_at_most_max_bins() {
        let values: Vec<f32> = (0..10_000).map(|i| (i % 997) as f32).collect();
        let cuts = feature_cuts(values, 16);
        assert!(cuts.len() <= 15 && cuts.len() >= 10, "{}", cuts.len());
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn thresholds_reproduce_binned_decisions() {
        // Values with ties, neighbouring f32s and more distinct values than
        // bins: `x <= cuts[b]` is `bin_of(x) <= b` for every value and cut.
        let one = 1.0f32;
        let mut values: Vec<f32> = (0..3000)
            .map(|i| ((i * 7919) % 1009) as f32 / 37.0)
            .collect();
        values.extend([one, one.next_up(), one.next_down(), -0.0, 0.0]);
        for max_bins in [4, 255, 256] {
            let cuts = feature_cuts(values.clone(), max_bins);
            assert!(cuts.len() < max_bins);
            for &x in &values {
                for (b, &c) in cuts.iter().enumerate() {
                    assert_eq!(
                        x <= c,
                        bin_of(&cuts, x) as usize <= b,
                        "x = {x}, cut {b} = {c}"
                    );
                }
            }
        }
    }
}
