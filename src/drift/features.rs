//! One feature's figures: numeric (KS, quantile bins, PSI, JS, Wasserstein,
//! range, plot histogram) and categorical (chi-square, PSI and JS over the
//! categories with an `(unseen)` bucket). The p-values are corrected and the
//! verdict given afterwards, over all features at once.

use super::{
    ks, stats, table, Bins, CategoryCount, Chi2Out, DriftConfig, FeatureDrift, FeatureKind,
    Histogram, KsOut, Severity, UNSEEN_BUCKET,
};
use std::collections::BTreeMap;

/// Bins of the plotted histograms (not of PSI, which uses quantile bins).
const PLOT_BINS: usize = 30;

/// Figures of one numeric comparison, before the correction.
pub(super) struct NumericFigures {
    pub(super) ks: ks::KsResult,
    pub(super) psi: f64,
    pub(super) js: f64,
    pub(super) wasserstein: f64,
    pub(super) wasserstein_scaled: Option<f64>,
    pub(super) out_of_range: f64,
    pub(super) bins: Bins,
    pub(super) histogram: Histogram,
}

/// `reference` and `current` sorted, NaN-free, non-empty.
pub(super) fn numeric_figures(reference: &[f64], current: &[f64], bins: usize) -> NumericFigures {
    let ks = ks::ks_2samp(reference, current);
    let edges = stats::quantile_edges(reference, bins);
    let rc = stats::bin_counts_sorted(reference, &edges);
    let cc = stats::bin_counts_sorted(current, &edges);
    let w = stats::wasserstein_sorted(reference, current);
    let sd = stats::std_dev(reference);
    let (lo, hi) = (reference[0], reference[reference.len() - 1]);
    let below = current.partition_point(|&v| v < lo);
    let above = current.len() - current.partition_point(|&v| v <= hi);
    NumericFigures {
        ks,
        psi: stats::psi(&rc, &cc),
        js: stats::js_distance(&rc, &cc),
        wasserstein: w,
        wasserstein_scaled: (sd > 0.0).then(|| w / sd),
        out_of_range: (below + above) as f64 / current.len() as f64,
        bins: Bins {
            edges,
            reference: rc,
            current: cc,
        },
        histogram: histogram(reference, current),
    }
}

fn histogram(reference: &[f64], current: &[f64]) -> Histogram {
    let q = |s: &[f64], p: f64| stats::quantile_sorted(s, p);
    let lo = q(reference, 0.005).min(q(current, 0.005));
    let mut hi = q(reference, 0.995).max(q(current, 0.995));
    if hi <= lo {
        hi = lo + 1.0;
    }
    let shares = |s: &[f64]| {
        let mut h = vec![0.0; PLOT_BINS];
        let width = (hi - lo) / PLOT_BINS as f64;
        for &v in s {
            let b = (((v - lo) / width).floor().max(0.0) as usize).min(PLOT_BINS - 1);
            h[b] += 1.0;
        }
        let n = s.len() as f64;
        h.iter_mut().for_each(|v| *v /= n);
        h
    };
    Histogram {
        lo,
        hi,
        reference: shares(reference),
        current: shares(current),
    }
}

pub(super) fn sorted_present(mut v: Vec<f64>) -> (Vec<f64>, usize) {
    let total = v.len();
    v.retain(|x| !x.is_nan());
    v.sort_unstable_by(f64::total_cmp);
    let missing = total - v.len();
    (v, missing)
}

fn share(part: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

/// `range`, when given, is what "out of range" is measured against (the
/// training range a package records) instead of the reference's own.
pub(super) fn numeric_feature(
    name: String,
    reference: Vec<f64>,
    current: Vec<f64>,
    range: Option<(f64, f64)>,
    cfg: &DriftConfig,
) -> FeatureDrift {
    let (n_ref, n_cur) = (reference.len(), current.len());
    let (reference, miss_r) = sorted_present(reference);
    let (current, miss_c) = sorted_present(current);
    let mut f = FeatureDrift {
        name,
        kind: FeatureKind::Numeric,
        rows_reference: reference.len(),
        rows_current: current.len(),
        missing_reference: share(miss_r, n_ref),
        missing_current: share(miss_c, n_cur),
        ks: None,
        chi2: None,
        psi: None,
        js: None,
        wasserstein: None,
        wasserstein_scaled: None,
        out_of_range: None,
        bins: None,
        categories: None,
        unseen_categories: Vec::new(),
        histogram: None,
        drifted: false,
        severity: Severity::InsufficientData,
    };
    if reference.is_empty() || current.is_empty() {
        return f;
    }
    let n = numeric_figures(&reference, &current, cfg.bins);
    f.ks = Some(KsOut {
        statistic: n.ks.statistic,
        p_value: n.ks.p_value,
        p_adjusted: n.ks.p_value,
        method: n.ks.method,
    });
    f.psi = Some(n.psi);
    f.js = Some(n.js);
    f.wasserstein = Some(n.wasserstein);
    f.wasserstein_scaled = n.wasserstein_scaled;
    f.out_of_range = Some(match range {
        Some((lo, hi)) => {
            let below = current.partition_point(|&v| v < lo);
            let above = current.len() - current.partition_point(|&v| v <= hi);
            (below + above) as f64 / current.len() as f64
        }
        None => n.out_of_range,
    });
    f.bins = Some(n.bins);
    f.histogram = Some(n.histogram);
    f
}

pub(super) fn categorical_feature(
    name: String,
    reference: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> FeatureDrift {
    let mut cats: Vec<CategoryCount> = reference
        .iter()
        .map(|(k, &r)| CategoryCount {
            name: k.clone(),
            reference: r,
            current: current.get(k).copied().unwrap_or(0),
        })
        .collect();
    let unseen: Vec<String> = current
        .keys()
        .filter(|k| !reference.contains_key(*k))
        .cloned()
        .collect();
    let unseen_count: u64 = unseen.iter().map(|k| current[k]).sum();
    if unseen_count > 0 {
        cats.push(CategoryCount {
            name: UNSEEN_BUCKET.into(),
            reference: 0,
            current: unseen_count,
        });
    }
    let rc: Vec<u64> = cats.iter().map(|c| c.reference).collect();
    let cc: Vec<u64> = cats.iter().map(|c| c.current).collect();
    let (n_ref, n_cur) = (rc.iter().sum::<u64>(), cc.iter().sum::<u64>());
    let chi = stats::chi2_homogeneity(&rc, &cc);
    FeatureDrift {
        name,
        kind: FeatureKind::Categorical,
        rows_reference: n_ref as usize,
        rows_current: n_cur as usize,
        missing_reference: share(
            reference.get(table::MISSING_CATEGORY).copied().unwrap_or(0) as usize,
            n_ref as usize,
        ),
        missing_current: share(
            current.get(table::MISSING_CATEGORY).copied().unwrap_or(0) as usize,
            n_cur as usize,
        ),
        ks: None,
        chi2: Some(Chi2Out {
            statistic: chi.statistic,
            dof: chi.dof,
            p_value: chi.p_value,
            p_adjusted: chi.p_value,
        }),
        psi: Some(stats::psi(&rc, &cc)),
        js: Some(stats::js_distance(&rc, &cc)),
        wasserstein: None,
        wasserstein_scaled: None,
        out_of_range: None,
        bins: None,
        categories: Some(cats),
        unseen_categories: unseen,
        histogram: None,
        drifted: false,
        severity: Severity::InsufficientData,
    }
}
