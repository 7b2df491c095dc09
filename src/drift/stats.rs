//! The effect sizes and the other tests: quantile bins, PSI, Jensen–Shannon
//! distance, Wasserstein distance, the chi-square test of homogeneity and the
//! multiple-testing corrections. Each function states its formula and which
//! scipy function it matches; `tests/drift_reference.rs` checks them against
//! values scipy produced (`scripts/drift_reference.py`).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Proportions below this are raised to it before PSI takes their logarithm,
/// so an empty bin on one side gives a large but finite term. 1e-4 is the
/// usual choice in credit-scoring practice, where PSI comes from; it caps
/// one empty bin's contribution at about |p − 1e-4|·ln(p/1e-4).
pub const PSI_EPSILON: f64 = 1e-4;

/// `np.quantile(sorted, q)` with numpy's default linear method, including
/// numpy's two-sided interpolation (from below when the fraction is < 0.5,
/// from above otherwise) so that results match to the last bit in most cases.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    assert!(n > 0, "quantile of an empty sample");
    let virtual_index = n as f64 * q - q; // numpy: n*q + (1 - q) - 1
    let prev = virtual_index.floor().clamp(0.0, (n - 1) as f64);
    let lo = prev as usize;
    let hi = (lo + 1).min(n - 1);
    let t = virtual_index - prev;
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Inner bin edges at the reference's `bins`-quantiles (k/bins, k = 1..bins−1),
/// with repeated edges (ties) removed. The outer bins are open-ended, so
/// `edges.len() + 1` bins cover the whole real line and a current value far
/// outside the reference still lands in a bin.
pub fn quantile_edges(sorted_reference: &[f64], bins: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = (1..bins)
        .map(|k| quantile_sorted(sorted_reference, k as f64 / bins as f64))
        .collect();
    edges.dedup();
    edges
}

/// Counts of a *sorted* sample in the bins `(-inf, e0], (e0, e1], …, (e_last, inf)`
/// (right-closed, like `np.searchsorted(edges, v, side="left")`), so that a
/// value tied with an edge falls into the bin that edge closes — with many
/// ties (say half the values are 0), the tied values make one bin of their own.
pub fn bin_counts_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut start = 0usize;
    for &e in edges {
        let end = start + sorted[start..].partition_point(|&v| v <= e);
        counts.push((end - start) as u64);
        start = end;
    }
    counts.push((sorted.len() - start) as u64);
    counts
}

fn proportions(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
        .collect()
}

/// Population Stability Index: Σ (c_i − r_i)·ln(c_i / r_i) over the bins, with
/// r and c the reference and current proportions, each raised to at least
/// [`PSI_EPSILON`].
pub fn psi(reference_counts: &[u64], current_counts: &[u64]) -> f64 {
    let r = proportions(reference_counts);
    let c = proportions(current_counts);
    r.iter()
        .zip(&c)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(PSI_EPSILON), c.max(PSI_EPSILON));
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// Kullback–Leibler term `p·ln(p/q)` as scipy's `rel_entr`: 0 when p = 0.
fn rel_entr(p: f64, q: f64) -> f64 {
    if p == 0.0 {
        0.0
    } else {
        p * (p / q).ln()
    }
}

/// Jensen–Shannon *distance* (the square root of the divergence) between the
/// two histograms, natural logarithm — exactly
/// `scipy.spatial.distance.jensenshannon(reference_counts, current_counts)`
/// (its default base is e), so it lies in [0, √ln 2 ≈ 0.833]. Empty bins need
/// no epsilon here: 0·ln 0 = 0.
pub fn js_distance(reference_counts: &[u64], current_counts: &[u64]) -> f64 {
    let p = proportions(reference_counts);
    let q = proportions(current_counts);
    let mut left = 0.0;
    let mut right = 0.0;
    for (&p, &q) in p.iter().zip(&q) {
        let m = (p + q) / 2.0;
        left += rel_entr(p, m);
        right += rel_entr(q, m);
    }
    ((left + right) / 2.0).max(0.0).sqrt()
}

/// First Wasserstein distance between two *sorted* samples: the area between
/// their empirical CDFs, ∫|F_a − F_b| dx, as `scipy.stats.wasserstein_distance`.
pub fn wasserstein_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut prev: Option<f64> = None;
    let mut area = 0.0;
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!("loop condition"),
        };
        if let Some(p) = prev {
            // The CDFs are constant on [p, v): counts of values ≤ p.
            area += (i as f64 / n1 - j as f64 / n2).abs() * (v - p);
        }
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        prev = Some(v);
    }
    area
}

/// Population standard deviation (ddof = 0), the spread Wasserstein is
/// divided by so that it reads in units of the reference's standard
/// deviation whatever the feature's unit.
pub fn std_dev(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquare {
    pub statistic: f64,
    pub dof: u64,
    pub p_value: f64,
}

/// Chi-square test of homogeneity on the 2×K table (reference counts,
/// current counts) — `scipy.stats.chi2_contingency(table, correction=False)`.
///
/// Homogeneity rather than goodness of fit (`chisquare` with the reference
/// proportions as expected values) because the reference is itself a sample:
/// treating its proportions as exact overstates significance when it is
/// small. No Yates correction, so the statistic reads the same for 2 or 20
/// categories. Categories empty on both sides must not be passed.
pub fn chi2_homogeneity(reference_counts: &[u64], current_counts: &[u64]) -> ChiSquare {
    let k = reference_counts.len();
    let r_total: u64 = reference_counts.iter().sum();
    let c_total: u64 = current_counts.iter().sum();
    let total = (r_total + c_total) as f64;
    if k < 2 || r_total == 0 || c_total == 0 {
        return ChiSquare {
            statistic: 0.0,
            dof: 0,
            p_value: 1.0,
        };
    }
    let mut stat = 0.0;
    for (&r, &c) in reference_counts.iter().zip(current_counts) {
        let col = (r + c) as f64;
        for (obs, row) in [(r, r_total), (c, c_total)] {
            let expected = row as f64 * col / total;
            let d = obs as f64 - expected;
            stat += d * d / expected;
        }
    }
    let dof = (k - 1) as u64;
    let p_value = ChiSquared::new(dof as f64)
        .map(|d| d.sf(stat))
        .unwrap_or(f64::NAN);
    ChiSquare {
        statistic: stat,
        dof,
        p_value,
    }
}

/// How the per-feature p-values are corrected for testing many features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Correction {
    /// Benjamini–Hochberg (1995): controls the false discovery rate.
    BenjaminiHochberg,
    /// Bonferroni: controls the family-wise error rate; stricter.
    Bonferroni,
}

impl Correction {
    /// Adjusted p-values in the input order.
    ///
    /// BH: p_(i)·m/i, made monotone from the largest p down, capped at 1 —
    /// the same as `scipy.stats.false_discovery_control(p, method="bh")` and
    /// statsmodels' `fdr_bh`. Bonferroni: min(1, p·m).
    pub fn adjust(self, p: &[f64]) -> Vec<f64> {
        let m = p.len() as f64;
        match self {
            Correction::Bonferroni => p.iter().map(|&v| (v * m).min(1.0)).collect(),
            Correction::BenjaminiHochberg => {
                let mut order: Vec<usize> = (0..p.len()).collect();
                order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
                let mut out = vec![0.0; p.len()];
                let mut running = 1.0f64;
                for (rank, &i) in order.iter().enumerate().rev() {
                    running = running.min(p[i] * m / (rank + 1) as f64);
                    out[i] = running;
                }
                out
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Correction::BenjaminiHochberg => "Benjamini–Hochberg (false discovery rate)",
            Correction::Bonferroni => "Bonferroni (family-wise error rate)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_deduplicated_and_ties_fall_in_the_bin_they_close() {
        // Half the values are 0: several deciles tie at 0.
        let mut v: Vec<f64> = vec![0.0; 50];
        v.extend((1..=50).map(f64::from));
        let edges = quantile_edges(&v, 10);
        assert_eq!(edges.iter().filter(|&&e| e == 0.0).count(), 1);
        let counts = bin_counts_sorted(&v, &edges);
        assert_eq!(counts[0], 50, "{edges:?} {counts:?}");
        assert_eq!(counts.iter().sum::<u64>(), 100);
        // Values outside the reference land in the open outer bins.
        let counts = bin_counts_sorted(&[-1e9, 1e9], &edges);
        assert_eq!((counts[0], *counts.last().unwrap()), (1, 1));
    }

    #[test]
    fn psi_and_js_are_zero_for_equal_histograms_and_grow_with_shift() {
        assert_eq!(psi(&[10, 20, 30], &[1, 2, 3]), 0.0);
        assert_eq!(js_distance(&[10, 20, 30], &[1, 2, 3]), 0.0);
        let small = psi(&[50, 50], &[45, 55]);
        let large = psi(&[50, 50], &[10, 90]);
        assert!(0.0 < small && small < large);
        // Disjoint histograms: the JS distance is √ln 2.
        let d = js_distance(&[5, 0], &[0, 5]);
        assert!((d - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn wasserstein_of_a_shift_is_the_shift() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 2.5).collect();
        assert!((wasserstein_sorted(&a, &b) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn bh_is_monotone_and_bonferroni_caps_at_one() {
        let p = [0.01, 0.04, 0.03, 0.5];
        let bh = Correction::BenjaminiHochberg.adjust(&p);
        // Sorted: 0.01·4/1, 0.03·4/2, 0.04·4/3, 0.5·4/4, then a running
        // minimum from the top: 0.04, 0.0533, 0.0533, 0.5.
        let want = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.5];
        for (got, want) in bh.iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{bh:?}");
        }
        assert_eq!(
            Correction::Bonferroni.adjust(&p),
            vec![0.04, 0.16, 0.12, 1.0]
        );
    }

    #[test]
    fn chi_square_of_identical_proportions_is_zero() {
        let r = chi2_homogeneity(&[10, 20, 30], &[20, 40, 60]);
        assert_eq!((r.statistic, r.dof), (0.0, 2));
        assert!((r.p_value - 1.0).abs() < 1e-12);
    }
}
