//! Drift detection: which features of the current data moved away from the
//! reference, how much, and what to do about it.
//!
//! Uses `data` (missing-cell tokens, CSV errors), `artifact` (with `--model`:
//! schema, predictions) and `fsutil`. Key types: [`DriftConfig`] (checked
//! thresholds), [`DriftReport`] (everything `drift.json` holds; the HTML and
//! the table are pure renderers of it, see [`render`]).
//!
//! Per numeric feature: two-sample Kolmogorov–Smirnov ([`ks`], scipy's
//! `ks_2samp(method="auto")`), PSI and Jensen–Shannon distance on the
//! reference's quantile bins, Wasserstein distance in reference standard
//! deviations, the share of current values outside the reference range.
//! Per categorical feature: chi-square test of homogeneity and PSI / JS over
//! the categories, unseen ones pooled in their own bucket.
//!
//! A feature is *drifted* only when its corrected p-value is below `alpha`
//! **and** its effect size clears a threshold (PSI ≥ `psi_moderate` or JS ≥
//! `js_threshold`): with a million rows every p-value is tiny, and with fifty
//! features some p-value is small by chance. Severity follows the usual PSI
//! bands (≥ 0.25 major, 0.1–0.25 moderate). A window smaller than `min_rows`
//! gets a warning instead of a verdict.

pub mod ks;
pub mod render;
pub mod stats;
pub mod table;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stats::Correction;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use table::{Kind, Table, Values};

pub const JSON_FILE: &str = "drift.json";
pub const HTML_FILE: &str = "drift.html";
/// Name of the PSI / chi-square bucket that pools categories the reference
/// never had.
pub const UNSEEN_BUCKET: &str = "(unseen)";
/// Bins of the plotted histograms (not of PSI, which uses quantile bins).
const PLOT_BINS: usize = 30;

/// Thresholds and test settings. [`DriftConfig::check`] validates them once;
/// the analysis trusts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftConfig {
    /// Quantile bins for PSI / JS (before tied edges are merged).
    pub bins: usize,
    /// Significance level for the corrected p-values.
    pub alpha: f64,
    pub correction: Correction,
    /// PSI from which a shift is moderate (and large enough to flag).
    pub psi_moderate: f64,
    /// PSI from which a shift is major.
    pub psi_major: f64,
    /// Jensen–Shannon distance (natural log) large enough to flag.
    pub js_threshold: f64,
    /// Fewer non-missing rows than this on either side: a warning, no verdict.
    pub min_rows: usize,
    /// Accuracy drop, in percentage points, that calls for retraining now.
    pub retrain_accuracy_drop_points: f64,
}

impl Default for DriftConfig {
    /// The lesson's rules of thumb: PSI > 0.25 major, 0.1–0.25 moderate;
    /// p < 0.01 significant; retrain at once on an accuracy drop > 2 points.
    fn default() -> Self {
        DriftConfig {
            bins: 10,
            alpha: 0.01,
            correction: Correction::BenjaminiHochberg,
            psi_moderate: 0.1,
            psi_major: 0.25,
            // JS² ≈ PSI/8 for small shifts, so 0.1 sits next to PSI 0.1.
            js_threshold: 0.1,
            min_rows: 100,
            retrain_accuracy_drop_points: 2.0,
        }
    }
}

impl DriftConfig {
    /// Rejects values that cannot work, naming the flag that sets them.
    pub fn check(&self) -> Result<()> {
        if !(2..=1000).contains(&self.bins) {
            return Err(Error::flag(
                "--bins",
                format!(
                    "expected a whole number from 2 to 1000, found {}",
                    self.bins
                ),
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::flag(
                "--alpha",
                format!(
                    "expected a probability between 0 and 1 (exclusive), found {}",
                    self.alpha
                ),
            ));
        }
        for (flag, v) in [
            ("--psi-moderate", self.psi_moderate),
            ("--psi-major", self.psi_major),
            ("--js-threshold", self.js_threshold),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::flag(
                    flag,
                    format!("expected a positive number, found {v}"),
                ));
            }
        }
        if self.psi_major < self.psi_moderate {
            return Err(Error::flag(
                "--psi-major",
                format!(
                    "{} is below --psi-moderate {}; the major band must start above the moderate one",
                    self.psi_major, self.psi_moderate
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Not flagged.
    None,
    /// Flagged, PSI below the major band.
    Moderate,
    /// Flagged, PSI at or above the major band.
    Major,
    /// Too few rows to judge.
    InsufficientData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NoDrift,
    Drift,
    InsufficientData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    RetrainNow,
    RetrainWithinAWeek,
    KeepMonitoring,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KsOut {
    pub statistic: f64,
    pub p_value: f64,
    pub p_adjusted: f64,
    pub method: ks::KsMethod,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chi2Out {
    pub statistic: f64,
    pub dof: u64,
    pub p_value: f64,
    pub p_adjusted: f64,
}

/// The quantile bins PSI and JS were computed on: `edges` are the inner
/// edges (right-closed bins, open at both ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub edges: Vec<f64>,
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub name: String,
    pub reference: u64,
    pub current: u64,
}

/// An equal-width histogram for the plot (shares of each sample per bin,
/// over the pooled 0.5–99.5 % range; values beyond it land in the end bins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

/// One feature's drift figures. `ks` and `wasserstein*` are for numeric
/// features, `chi2` and `categories` for categorical ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub name: String,
    pub kind: FeatureKind,
    /// Non-missing values compared on each side.
    pub rows_reference: usize,
    pub rows_current: usize,
    /// Share of missing cells (numeric features; a categorical feature
    /// counts them as the category `(missing)`).
    pub missing_reference: f64,
    pub missing_current: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks: Option<KsOut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi2: Option<Chi2Out>,
    pub psi: Option<f64>,
    pub js: Option<f64>,
    /// First Wasserstein distance, in the feature's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein: Option<f64>,
    /// The same divided by the reference's standard deviation (null when the
    /// reference is constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasserstein_scaled: Option<f64>,
    /// Share of current values outside [min, max] of the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_range: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<Bins>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<CategoryCount>>,
    /// Current categories the reference never had (pooled as `(unseen)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unseen_categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    pub drifted: bool,
    pub severity: Severity,
}

impl FeatureDrift {
    /// The p-value that enters the correction (KS or chi-square).
    fn p_value(&self) -> Option<f64> {
        self.ks
            .as_ref()
            .map(|k| k.p_value)
            .or(self.chi2.as_ref().map(|c| c.p_value))
    }

    pub fn p_adjusted(&self) -> Option<f64> {
        self.ks
            .as_ref()
            .map(|k| k.p_adjusted)
            .or(self.chi2.as_ref().map(|c| c.p_adjusted))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub rows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub config: DriftConfig,
    pub psi_epsilon: f64,
    pub js_log_base: String,
    pub ks_method_rule: String,
    pub range_source: String,
}

/// With `--model`: how the model's outputs moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionDrift {
    pub model_id: String,
    pub classes: Vec<String>,
    pub predicted_reference: Vec<u64>,
    pub predicted_current: Vec<u64>,
    pub class_psi: f64,
    pub class_js: f64,
    pub class_chi2: stats::ChiSquare,
    /// What the score is: the probability of the second class (binary) or
    /// of the predicted class (multiclass).
    pub score: String,
    pub score_ks: KsOut,
    pub score_psi: f64,
    pub score_js: f64,
    pub score_histogram: Histogram,
    pub drifted: bool,
}

/// With `--model` and labels in both files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyCheck {
    /// Accuracy on the reference file's rows.
    pub reference: f64,
    pub current: f64,
    /// What the drop is measured from: the test accuracy recorded in the
    /// model package when there is one (what the model scored at launch,
    /// immune to a reference file that is the training data), else the
    /// reference file's accuracy.
    pub baseline: f64,
    pub baseline_source: String,
    /// (baseline − current) × 100.
    pub drop_points: f64,
    /// Current rows whose label the model has never seen (counted wrong).
    pub unknown_labels_current: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub action: Action,
    pub reason: String,
}

/// Everything `drift.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub optbench_version: String,
    pub reference: FileSummary,
    pub current: FileSummary,
    pub settings: Settings,
    pub correction: Correction,
    pub verdict: Verdict,
    pub drifted_features: Vec<String>,
    pub features: Vec<FeatureDrift>,
    pub prediction: Option<PredictionDrift>,
    pub accuracy: Option<AccuracyCheck>,
    pub recommendation: Recommendation,
    pub warnings: Vec<String>,
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct DriftInputs<'a> {
    pub reference: &'a Path,
    pub current: &'a Path,
    /// The label column, set aside from the features (and used for accuracy
    /// with a model).
    pub target: Option<&'a str>,
    pub model: Option<&'a Path>,
}

/// Reads both files (in parallel), validates them against each other and the
/// model's schema, and computes the report.
pub fn detect(inputs: &DriftInputs<'_>, cfg: &DriftConfig) -> Result<DriftReport> {
    cfg.check()?;
    let artifact = inputs.model.map(Artifact::load).transpose()?;
    let mut known: HashMap<String, Kind> = HashMap::new();
    if let Some(a) = &artifact {
        for f in &a.schema.features {
            // The serving schema holds numeric features only (today).
            known.insert(f.name.clone(), Kind::Numeric);
        }
    }
    let (reference, current) = rayon::join(
        || table::read_table(inputs.reference, inputs.target, &known),
        || table::read_table(inputs.current, inputs.target, &known),
    );
    let reference = reference?;
    let mut current = current?;
    // The reference decides each column's kind; read the current file again
    // under those kinds when it guessed differently (a text cell in a column
    // that is numeric in the reference then becomes an error naming the cell).
    let mismatch = current.columns.iter().any(|c| {
        reference
            .column(&c.name)
            .is_some_and(|r| r.values.kind() != c.values.kind())
    });
    if mismatch {
        for c in &reference.columns {
            known.entry(c.name.clone()).or_insert(c.values.kind());
        }
        current = table::read_table(inputs.current, inputs.target, &known)?;
    }
    if let Some(t) = inputs.target {
        if reference.labels.is_none() && current.labels.is_none() {
            return Err(Error::flag(
                "--target",
                format!(
                    "no column `{t}` in {} or {}",
                    inputs.reference.display(),
                    inputs.current.display()
                ),
            ));
        }
    }
    check_columns(&reference, &current)?;
    if let Some(a) = &artifact {
        check_schema(a, &reference, inputs.model.unwrap_or(Path::new(".")))?;
        check_schema(a, &current, inputs.model.unwrap_or(Path::new(".")))?;
    }
    analyse(reference, current, artifact.as_ref(), cfg)
}

fn check_columns(reference: &Table, current: &Table) -> Result<()> {
    for c in &current.columns {
        if reference.column(&c.name).is_none() {
            return Err(Error::data(
                &current.path,
                format!(
                    "column `{}` is not in the reference {}",
                    c.name,
                    reference.path.display()
                ),
            ));
        }
    }
    for c in &reference.columns {
        if current.column(&c.name).is_none() {
            return Err(Error::data(
                &current.path,
                format!(
                    "missing column `{}`, which the reference {} has",
                    c.name,
                    reference.path.display()
                ),
            ));
        }
    }
    Ok(())
}

fn check_schema(a: &Artifact, t: &Table, model: &Path) -> Result<()> {
    for f in &a.schema.features {
        if t.column(&f.name).is_none() {
            return Err(Error::data(
                &t.path,
                format!(
                    "missing column `{}`, which the model {} needs",
                    f.name,
                    model.display()
                ),
            ));
        }
    }
    for c in &t.columns {
        if !a.schema.features.iter().any(|f| f.name == c.name) {
            return Err(Error::data(
                &t.path,
                format!(
                    "column `{}` is not in the model's schema ({}); pass --target {} if it is the label",
                    c.name,
                    model.display(),
                    c.name
                ),
            ));
        }
    }
    Ok(())
}

/// Row-major raw rows in schema order (NaN = missing), for the model.
fn schema_rows(a: &Artifact, t: &Table) -> Vec<f64> {
    let cols: Vec<&[f64]> = a
        .schema
        .features
        .iter()
        .map(|f| match t.column(&f.name).map(|c| &c.values) {
            Some(Values::Numeric(v)) => v.as_slice(),
            // check_schema and the numeric-only reading rule guarantee this.
            _ => unreachable!("schema columns are numeric and present"),
        })
        .collect();
    let d = cols.len();
    let mut x = vec![0.0; t.rows * d];
    x.par_chunks_mut(d.max(1)).enumerate().for_each(|(i, row)| {
        for (v, c) in row.iter_mut().zip(&cols) {
            *v = c[i];
        }
    });
    x
}

struct Predictions {
    classes: Vec<u32>,
    score: Vec<f64>,
}

fn predict_all(a: &Artifact, t: &Table) -> Result<Predictions> {
    let d = a.schema.features.len();
    let x = schema_rows(a, t);
    let k = a.model.n_classes();
    let out: Result<Vec<(u32, f64)>> = x
        .par_chunks(d.max(1))
        .enumerate()
        .map(|(i, row)| {
            let p = a.predict_proba_row(i + 1, row).map_err(|e| match e {
                Error::Input {
                    column, message, ..
                } => Error::Cell {
                    path: t.path.clone(),
                    line: 0,
                    column,
                    message: format!("data row {}: {message}", i + 1),
                },
                e => e,
            })?;
            let (best, &pmax) = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .unwrap_or((0, &0.0));
            let score = if k == 2 {
                f64::from(p[1])
            } else {
                f64::from(pmax)
            };
            Ok((best as u32, score))
        })
        .collect();
    let (classes, score) = out?.into_iter().unzip();
    Ok(Predictions { classes, score })
}

fn accuracy(classes: &[String], labels: &[String], predicted: &[u32]) -> (f64, usize) {
    let index: HashMap<&str, u32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let mut correct = 0usize;
    let mut unknown = 0usize;
    for (l, &p) in labels.iter().zip(predicted) {
        match index.get(l.as_str()) {
            Some(&c) if c == p => correct += 1,
            Some(_) => {}
            None => unknown += 1,
        }
    }
    (correct as f64 / labels.len().max(1) as f64, unknown)
}

/// Figures of one numeric comparison, before the correction.
struct NumericFigures {
    ks: ks::KsResult,
    psi: f64,
    js: f64,
    wasserstein: f64,
    wasserstein_scaled: Option<f64>,
    out_of_range: f64,
    bins: Bins,
    histogram: Histogram,
}

/// `reference` and `current` sorted, NaN-free, non-empty.
fn numeric_figures(reference: &[f64], current: &[f64], bins: usize) -> NumericFigures {
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

fn sorted_present(mut v: Vec<f64>) -> (Vec<f64>, usize) {
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

fn numeric_feature(
    name: String,
    reference: Vec<f64>,
    current: Vec<f64>,
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
    f.out_of_range = Some(n.out_of_range);
    f.bins = Some(n.bins);
    f.histogram = Some(n.histogram);
    f
}

fn categorical_feature(
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

fn analyse(
    reference: Table,
    current: Table,
    artifact: Option<&Artifact>,
    cfg: &DriftConfig,
) -> Result<DriftReport> {
    let mut warnings = Vec::new();
    // Model outputs first: they need the raw rows the feature pass consumes.
    let mut prediction = None;
    let mut accuracy_check = None;
    if let Some(a) = artifact {
        let (pr, pc) = rayon::join(|| predict_all(a, &reference), || predict_all(a, &current));
        let (pr, pc) = (pr?, pc?);
        if let (Some(lr), Some(lc)) = (&reference.labels, &current.labels) {
            let (acc_r, _) = accuracy(&a.metadata.classes, lr, &pr.classes);
            let (acc_c, unknown) = accuracy(&a.metadata.classes, lc, &pc.classes);
            if unknown > 0 {
                warnings.push(format!(
                    "{unknown} current row(s) carry a label the model was not trained on; they count as wrong"
                ));
            }
            let recorded = a.metadata.metrics.get("accuracy").copied();
            let (baseline, baseline_source) = match recorded {
                Some(t) => (
                    t,
                    "the test accuracy recorded in the model package".to_string(),
                ),
                None => (acc_r, "the reference file".to_string()),
            };
            if let Some(t) = recorded {
                if (acc_r - t) * 100.0 > cfg.retrain_accuracy_drop_points {
                    warnings.push(format!(
                        "the model scores {:.1}% on the reference but {:.1}% on its own test set: the reference looks like its training data, against which predictions look over-confident; a held-out window makes a fairer reference",
                        acc_r * 100.0,
                        t * 100.0
                    ));
                }
            }
            accuracy_check = Some(AccuracyCheck {
                reference: acc_r,
                current: acc_c,
                baseline,
                baseline_source,
                drop_points: (baseline - acc_c) * 100.0,
                unknown_labels_current: unknown,
            });
        } else if reference.labels.is_some() || current.labels.is_some() {
            warnings.push(
                "labels are in only one of the two files: accuracy cannot be compared".into(),
            );
        }
        prediction = Some(prediction_drift(a, pr, pc, cfg));
    }

    let (ref_path, cur_path) = (reference.path.clone(), current.path.clone());
    let (ref_rows, cur_rows) = (reference.rows, current.rows);
    let mut cur_cols: HashMap<String, Values> = current
        .columns
        .into_iter()
        .map(|c| (c.name, c.values))
        .collect();
    let pairs: Vec<(String, Values, Values)> = reference
        .columns
        .into_iter()
        .map(|c| {
            // check_columns guarantees the current file has every column.
            let cur = cur_cols.remove(&c.name).expect("columns were checked");
            (c.name, c.values, cur)
        })
        .collect();
    let mut features: Vec<FeatureDrift> = pairs
        .into_par_iter()
        .map(|(name, r, c)| match (r, c) {
            (Values::Numeric(r), Values::Numeric(c)) => numeric_feature(name, r, c, cfg),
            (Values::Categorical(r), Values::Categorical(c)) => categorical_feature(name, &r, &c),
            _ => unreachable!("the current file is read with the reference's kinds"),
        })
        .collect();

    // Correct the p-values for the number of features tested.
    let tested: Vec<usize> = (0..features.len())
        .filter(|&i| features[i].p_value().is_some())
        .collect();
    let p: Vec<f64> = tested
        .iter()
        .filter_map(|&i| features[i].p_value())
        .collect();
    let adjusted = cfg.correction.adjust(&p);
    let small_window = ref_rows < cfg.min_rows || cur_rows < cfg.min_rows;
    for (&i, &pa) in tested.iter().zip(&adjusted) {
        let f = &mut features[i];
        if let Some(k) = &mut f.ks {
            k.p_adjusted = pa;
        }
        if let Some(c) = &mut f.chi2 {
            c.p_adjusted = pa;
        }
        if small_window || f.rows_reference < cfg.min_rows || f.rows_current < cfg.min_rows {
            continue; // stays InsufficientData
        }
        let psi = f.psi.unwrap_or(0.0);
        let js = f.js.unwrap_or(0.0);
        f.drifted = pa < cfg.alpha && (psi >= cfg.psi_moderate || js >= cfg.js_threshold);
        f.severity = if !f.drifted {
            Severity::None
        } else if psi >= cfg.psi_major {
            Severity::Major
        } else {
            Severity::Moderate
        };
    }
    for f in &features {
        if f.severity == Severity::InsufficientData && !small_window {
            warnings.push(format!(
                "`{}`: {} reference and {} current non-missing values; fewer than {} on a side, so no verdict for this feature",
                f.name, f.rows_reference, f.rows_current, cfg.min_rows
            ));
        }
    }
    if small_window {
        warnings.insert(
            0,
            format!(
                "the window is too small to judge: {ref_rows} reference and {cur_rows} current rows (fewer than {} on a side); the figures are shown but no feature is flagged",
                cfg.min_rows
            ),
        );
    }
    if let Some(p) = &mut prediction {
        if small_window {
            p.drifted = false;
        }
    }
    let drifted_features: Vec<String> = features
        .iter()
        .filter(|f| f.drifted)
        .map(|f| f.name.clone())
        .collect();
    let prediction_drifted = prediction.as_ref().is_some_and(|p| p.drifted);
    // Labels that the model now gets wrong are drift too (concept drift),
    // even when every feature looks the same.
    let accuracy_dropped = accuracy_check
        .as_ref()
        .is_some_and(|a| a.drop_points > cfg.retrain_accuracy_drop_points);
    let verdict = if small_window {
        Verdict::InsufficientData
    } else if !drifted_features.is_empty() || prediction_drifted || accuracy_dropped {
        Verdict::Drift
    } else {
        Verdict::NoDrift
    };
    let recommendation = recommend(
        verdict,
        &features,
        prediction.as_ref(),
        accuracy_check.as_ref(),
        cfg,
    );
    Ok(DriftReport {
        optbench_version: env!("CARGO_PKG_VERSION").into(),
        reference: FileSummary {
            path: ref_path,
            rows: ref_rows,
        },
        current: FileSummary {
            path: cur_path,
            rows: cur_rows,
        },
        settings: Settings {
            config: cfg.clone(),
            psi_epsilon: stats::PSI_EPSILON,
            js_log_base: "e (natural logarithm, as scipy.spatial.distance.jensenshannon)".into(),
            ks_method_rule: format!(
                "exact when both samples have at most {} values, else asymptotic (scipy ks_2samp method=\"auto\")",
                ks::MAX_EXACT_N
            ),
            range_source: if artifact.is_some() {
                "reference file (the model package records no training ranges yet)".into()
            } else {
                "reference file".into()
            },
        },
        correction: cfg.correction,
        verdict,
        drifted_features,
        features,
        prediction,
        accuracy: accuracy_check,
        recommendation,
        warnings,
    })
}

fn prediction_drift(
    a: &Artifact,
    pr: Predictions,
    pc: Predictions,
    cfg: &DriftConfig,
) -> PredictionDrift {
    let k = a.model.n_classes();
    let count = |c: &[u32]| {
        let mut v = vec![0u64; k];
        for &i in c {
            v[i as usize] += 1;
        }
        v
    };
    let (cr, cc) = (count(&pr.classes), count(&pc.classes));
    // Drop classes neither side predicts (the chi-square needs non-empty columns).
    let (kr, kc): (Vec<u64>, Vec<u64>) = cr
        .iter()
        .zip(&cc)
        .filter(|(r, c)| **r + **c > 0)
        .map(|(r, c)| (*r, *c))
        .unzip();
    let chi = stats::chi2_homogeneity(&kr, &kc);
    let class_psi = stats::psi(&kr, &kc);
    let (sr, _) = sorted_present(pr.score);
    let (sc, _) = sorted_present(pc.score);
    let n = numeric_figures(&sr, &sc, cfg.bins);
    let score_flag =
        n.ks.p_value < cfg.alpha && (n.psi >= cfg.psi_moderate || n.js >= cfg.js_threshold);
    let class_flag = chi.p_value < cfg.alpha && class_psi >= cfg.psi_moderate;
    PredictionDrift {
        model_id: a.metadata.model.id.clone(),
        classes: a.metadata.classes.clone(),
        predicted_reference: cr,
        predicted_current: cc,
        class_psi,
        class_js: stats::js_distance(&kr, &kc),
        class_chi2: chi,
        score: if k == 2 {
            format!("probability of class `{}`", a.metadata.classes[1])
        } else {
            "probability of the predicted class".into()
        },
        score_ks: KsOut {
            statistic: n.ks.statistic,
            p_value: n.ks.p_value,
            p_adjusted: n.ks.p_value,
            method: n.ks.method,
        },
        score_psi: n.psi,
        score_js: n.js,
        score_histogram: n.histogram,
        drifted: score_flag || class_flag,
    }
}

/// The lesson's retraining rules, first match wins: an accuracy drop beyond
/// the limit → retrain now; a major shift in any feature → within a week;
/// otherwise keep monitoring. A window too small to judge comes first: a
/// two-point accuracy drop on a few dozen rows is noise.
fn recommend(
    verdict: Verdict,
    features: &[FeatureDrift],
    prediction: Option<&PredictionDrift>,
    acc: Option<&AccuracyCheck>,
    cfg: &DriftConfig,
) -> Recommendation {
    let acc_note = acc.map_or(String::new(), |a| {
        format!(
            " Accuracy moved from {:.1}% ({}) to {:.1}% ({:+.1} points), within the {}-point limit.",
            a.baseline * 100.0,
            a.baseline_source,
            a.current * 100.0,
            -a.drop_points,
            cfg.retrain_accuracy_drop_points
        )
    });
    if verdict == Verdict::InsufficientData {
        return Recommendation {
            action: Action::KeepMonitoring,
            reason: format!(
                "the current window is too small to judge (fewer than {} rows): collect more data and run again",
                cfg.min_rows
            ),
        };
    }
    let major: Vec<String> = features
        .iter()
        .filter(|f| f.severity == Severity::Major)
        .map(|f| format!("`{}` (PSI {:.2})", f.name, f.psi.unwrap_or(0.0)))
        .collect();
    if let Some(a) = acc {
        if a.drop_points > cfg.retrain_accuracy_drop_points {
            return Recommendation {
                action: Action::RetrainNow,
                reason: format!(
                    "accuracy fell from {:.1}% ({}) to {:.1}% on the current data, a drop of {:.1} points (more than {}): retrain now.{}",
                    a.baseline * 100.0,
                    a.baseline_source,
                    a.current * 100.0,
                    a.drop_points,
                    cfg.retrain_accuracy_drop_points,
                    if major.is_empty() {
                        String::new()
                    } else {
                        format!(" Major drift too in {}.", major.join(", "))
                    }
                ),
            };
        }
    }
    if !major.is_empty() {
        return Recommendation {
            action: Action::RetrainWithinAWeek,
            reason: format!(
                "major drift (PSI ≥ {}, corrected p < {}) in {}: retrain within a week.{acc_note}",
                cfg.psi_major,
                cfg.alpha,
                major.join(", ")
            ),
        };
    }
    let moderate: Vec<String> = features
        .iter()
        .filter(|f| f.severity == Severity::Moderate)
        .map(|f| format!("`{}` (PSI {:.2})", f.name, f.psi.unwrap_or(0.0)))
        .collect();
    let pred = match prediction {
        Some(p) if p.drifted => {
            " The model's predictions shifted too (see the prediction section)."
        }
        _ => "",
    };
    let reason = if moderate.is_empty() {
        format!(
            "no feature drifted (corrected p < {} and PSI ≥ {} or JS ≥ {}): keep monitoring and retrain on the usual schedule.{pred}{acc_note}",
            cfg.alpha, cfg.psi_moderate, cfg.js_threshold
        )
    } else {
        format!(
            "moderate drift only, in {}: keep monitoring closely; retrain on schedule unless it grows past PSI {}.{pred}{acc_note}",
            moderate.join(", "),
            cfg.psi_major
        )
    };
    Recommendation {
        action: Action::KeepMonitoring,
        reason,
    }
}

/// Writes `drift.json` and `drift.html` into `out` (created if needed), each
/// atomically, after both are rendered — an error leaves no new file behind.
pub fn write_report(report: &DriftReport, out: &Path) -> Result<()> {
    // Plain data with string keys: serialisation cannot fail.
    let json = serde_json::to_string_pretty(report).expect("report serialises") + "\n";
    let html = render::html(report);
    crate::fsutil::write_atomic(&out.join(JSON_FILE), json.as_bytes())?;
    crate::fsutil::write_atomic(&out.join(HTML_FILE), html.as_bytes())
}
