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

mod features;
pub mod ks;
mod logs;
mod model;
mod recommend;
pub mod render;
pub mod stats;
pub mod table;

use crate::artifact::{Artifact, ReferenceSample};
use crate::error::{Error, Result};
use features::{categorical_feature, numeric_feature, numeric_figures, sorted_present};
pub use logs::{LogFilter, LogSummary, OtherVersion};
use model::{accuracy, check_schema, predict_all, prediction_drift};
use rayon::prelude::*;
use recommend::recommend;
use serde::{Deserialize, Serialize};
use stats::Correction;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use table::{Kind, Table, Values};

pub const JSON_FILE: &str = "drift.json";
pub const HTML_FILE: &str = "drift.html";
/// Name of the PSI / chi-square bucket that pools categories the reference
/// never had.
pub const UNSEEN_BUCKET: &str = "(unseen)";

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

/// When the reference is the sample stored in the model package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSummary {
    pub package: PathBuf,
    pub rows: usize,
    pub training_rows: usize,
    /// Held-out rows whose predictions the current ones are compared with.
    pub holdout_rows: usize,
    pub seed: u64,
    /// What comparing with a sample means for the figures.
    pub note: String,
}

/// Everything `drift.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub optbench_version: String,
    pub reference: FileSummary,
    /// Set when the reference is the package's stored sample (no
    /// `--reference` file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_sample: Option<SampleSummary>,
    pub current: FileSummary,
    /// Set when the current data are `serve --log-requests` files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_log: Option<LogSummary>,
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
    /// The reference file; `None` compares with the sample stored in the
    /// package `model`.
    pub reference: Option<&'a Path>,
    /// A CSV file, or the folder of `serve --log-requests` files.
    pub current: &'a Path,
    /// Which logged rows to read when `current` is a log folder.
    pub logs: LogFilter,
    /// The label column, set aside from the features (and used for accuracy
    /// with a model). With a model and no `target`, the package's target
    /// column is set aside when a file has it.
    pub target: Option<&'a str>,
    pub model: Option<&'a Path>,
}

/// Served traffic read from a log folder: what was read, and the
/// predictions the server made (with a model).
type Logged = (LogSummary, Option<model::Predictions>);

/// The reference taken from a package's stored sample: its rows as a table,
/// the predictions recorded with it, and what the report says about it.
struct Stored {
    /// On the held-out rows, with their labels.
    predictions: model::Predictions,
    labels: Vec<String>,
    /// Training range per numeric feature (out-of-range shares use it).
    ranges: HashMap<String, (f64, f64)>,
    summary: SampleSummary,
    /// Rows on which the package, scoring the sample now, disagrees with
    /// the predictions stored beside it.
    disagreements: usize,
}

/// Reads both files (in parallel), or the current file and the package's
/// stored sample, validates them against each other and the model's schema,
/// and computes the report.
pub fn detect(inputs: &DriftInputs<'_>, cfg: &DriftConfig) -> Result<DriftReport> {
    cfg.check()?;
    let artifact = inputs.model.map(Artifact::load).transpose()?;
    let mut known = table::Known::new();
    if let Some(a) = &artifact {
        for f in &a.schema.features {
            let kind = match f.kind {
                crate::data::FeatureKind::Numeric => Kind::Numeric,
                crate::data::FeatureKind::Categorical => Kind::Categorical,
            };
            known.insert(f.name.clone(), (kind, "the model's schema"));
        }
    }
    let target = inputs
        .target
        .or(artifact.as_ref().map(|a| a.metadata.target.as_str()));
    let logged = inputs.current.is_dir();
    let read_current = || -> Result<(Table, Option<Logged>)> {
        if logged {
            let (t, s, p) =
                logs::read_logs(inputs.current, artifact.as_ref(), &known, inputs.logs)?;
            Ok((t, Some((s, p))))
        } else {
            Ok((table::read_table(inputs.current, target, &known)?, None))
        }
    };
    let (reference, current, stored) = match inputs.reference {
        Some(path) => {
            let (reference, current) =
                rayon::join(|| table::read_table(path, target, &known), read_current);
            (reference?, current?, None)
        }
        None => {
            let (Some(a), Some(dir)) = (&artifact, inputs.model) else {
                return Err(Error::flag(
                    "--reference",
                    "expected a reference CSV, or --model with a package that stores a reference sample",
                ));
            };
            let (current, stored) = rayon::join(read_current, || stored_reference(a, dir));
            let (reference, stored) = stored?;
            (reference, current?, Some(stored))
        }
    };
    let (mut current, logged) = current;
    // The reference decides each column's kind; read the current file again
    // under those kinds when it guessed differently (a text cell in a column
    // that is numeric in the reference then becomes an error naming the cell).
    let mismatch = current.columns.iter().any(|c| {
        reference
            .column(&c.name)
            .is_some_and(|r| r.values.kind() != c.values.kind())
    });
    if mismatch && logged.is_some() {
        let c = current
            .columns
            .iter()
            .find(|c| {
                reference
                    .column(&c.name)
                    .is_some_and(|r| r.values.kind() != c.values.kind())
            })
            .map_or("", |c| c.name.as_str());
        return Err(Error::data(
            inputs.current,
            format!("column `{c}` holds numbers on one side and text on the other; pass --model to read both with the package's schema"),
        ));
    }
    if mismatch {
        for c in &reference.columns {
            known
                .entry(c.name.clone())
                .or_insert((c.values.kind(), "the reference"));
        }
        current = table::read_table(inputs.current, target, &known)?;
    }
    if let Some(t) = inputs.target {
        if stored.is_some() && current.labels.is_none() {
            return Err(Error::flag(
                "--target",
                format!("no column `{t}` in {}", inputs.current.display()),
            ));
        }
        if reference.labels.is_none() && current.labels.is_none() {
            return Err(Error::flag(
                "--target",
                format!(
                    "no column `{t}` in {} or {}",
                    reference.path.display(),
                    inputs.current.display()
                ),
            ));
        }
    }
    check_columns(&reference, &current)?;
    if let Some(a) = &artifact {
        let model = inputs.model.unwrap_or(Path::new("."));
        if stored.is_none() {
            check_schema(a, &reference, model)?;
        }
        check_schema(a, &current, model)?;
    }
    analyse(reference, current, artifact.as_ref(), stored, logged, cfg)
}

/// The sample stored in the package at `dir` as the reference table:
/// numeric columns from the sample's rows, categorical columns from the
/// full training counts the package records.
fn stored_reference(a: &Artifact, dir: &Path) -> Result<(Table, Stored)> {
    let sample = ReferenceSample::load(dir, &a.metadata)?.ok_or_else(|| {
        Error::flag(
            "--reference",
            format!(
                "the package {} stores no reference sample (packages from `import` without --train, and packages written before samples were stored, have none): pass --reference with the training data or a trusted past window",
                dir.display()
            ),
        )
    })?;
    let n = sample.n_rows();
    let d = sample.feature_names.len();
    let k = a.metadata.classes.len();
    let mut columns = Vec::with_capacity(d);
    let mut ranges = HashMap::new();
    for (j, profile) in a.metadata.training_profile.iter().enumerate() {
        let name = profile.name().to_owned();
        let values = match profile {
            crate::data::FeatureProfile::Numeric { .. } => {
                if let Some(r) = profile.range() {
                    ranges.insert(name.clone(), r);
                }
                Values::Numeric((0..n).map(|i| sample.x[i * d + j]).collect())
            }
            crate::data::FeatureProfile::Categorical {
                missing,
                categories,
                ..
            } => {
                let mut counts: std::collections::BTreeMap<String, u64> = categories
                    .iter()
                    .map(|c| (c.value.clone(), c.rows))
                    .collect();
                if *missing > 0 {
                    counts.insert(table::MISSING_CATEGORY.into(), *missing);
                }
                Values::Categorical(counts)
            }
        };
        columns.push(table::Column { name, values });
    }
    let classes = &a.metadata.classes;
    // Prediction drift compares with the held-out predictions (see
    // `ReferenceSample`), scored as `predict_all` scores a file.
    let score =
        |predicted: u32, p: &[f32]| f64::from(if k == 2 { p[1] } else { p[predicted as usize] });
    let predictions = model::Predictions {
        classes: sample.holdout_predicted.clone(),
        score: sample
            .holdout_predicted
            .iter()
            .zip(sample.holdout_proba.chunks_exact(k))
            .map(|(&c, p)| score(c, p))
            .collect(),
    };
    // Scored again here: a package that no longer predicts what it
    // predicted when it was made is training-serving skew in itself.
    let data = sample.dataset(classes);
    let requests = data.requests();
    let mut predictor = a.predictor();
    let mut proba = vec![0f32; k];
    let mut disagreements = 0;
    for i in 0..n {
        let same = predictor
            .predict_proba_request(requests.row(i), &mut proba)
            .is_ok_and(|c| {
                c == sample.predicted[i]
                    && proba
                        .iter()
                        .zip(&sample.proba[i * k..(i + 1) * k])
                        .all(|(a, b)| a.to_bits() == b.to_bits())
            });
        disagreements += usize::from(!same);
    }
    let h = sample.holdout_predicted.len();
    let features = if sample.training_rows > n {
        format!(
            "The reference is a seeded sample of {n} of the {} training rows, stored in the package. KS p-values are those of a {n}-row reference: close to the full training set's for a current window much smaller than {n} rows, larger (a small shift needs more evidence) for bigger windows. PSI and JS use the sample's quantile bins; categorical counts and training ranges are the full training set's.",
            sample.training_rows
        )
    } else {
        format!("The reference is every training row ({n}), stored in the package.")
    };
    let note = format!(
        "{features} Predictions are compared with the package's predictions on {h} held-out test rows (a model is more confident on its own training rows)."
    );
    // `ReferenceSample::load` found the sample, so the metadata names it.
    let file = a
        .metadata
        .reference_sample
        .as_ref()
        .map(|r| r.file.as_str());
    let path = dir.join(file.unwrap_or(crate::artifact::REFERENCE_FILE));
    let table = Table {
        path,
        rows: n,
        columns,
        labels: None,
    };
    let labels = sample
        .holdout_labels
        .iter()
        .map(|&c| classes[c as usize].clone())
        .collect();
    Ok((
        table,
        Stored {
            predictions,
            labels,
            ranges,
            summary: SampleSummary {
                package: dir.into(),
                rows: n,
                training_rows: sample.training_rows,
                holdout_rows: h,
                seed: sample.seed,
                note,
            },
            disagreements,
        },
    ))
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
                    "missing column `{}`, which the reference {} has{}",
                    c.name,
                    reference.path.display(),
                    crate::data::column_hint(
                        &c.name,
                        &current
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                    )
                ),
            ));
        }
    }
    Ok(())
}

fn analyse(
    reference: Table,
    current: Table,
    artifact: Option<&Artifact>,
    stored: Option<Stored>,
    logged: Option<Logged>,
    cfg: &DriftConfig,
) -> Result<DriftReport> {
    let mut warnings = Vec::new();
    let (current_log, served) = match logged {
        Some((s, p)) => (Some(s), p),
        None => (None, None),
    };
    if let Some(l) = &current_log {
        if !l.other_versions.is_empty() {
            let list: Vec<String> = l
                .other_versions
                .iter()
                .map(|o| format!("`{}` version {}: {} rows", o.id, o.version, o.rows))
                .collect();
            warnings.push(if l.other_versions_included {
                format!("rows of other model versions are included (--all-versions): {}", list.join("; "))
            } else {
                format!("rows logged by other model versions are left out ({}); --all-versions keeps them", list.join("; "))
            });
        }
        if l.unknown_predictions > 0 {
            warnings.push(format!(
                "{} logged predictions name a class the package does not have; they are left out of the prediction drift",
                l.unknown_predictions
            ));
        }
    }
    let (stored_predictions, stored_labels, ranges, reference_sample) = match stored {
        Some(s) => {
            if s.disagreements > 0 {
                warnings.push(format!(
                    "the package now predicts differently on {} of the {} rows of its stored reference sample than when it was made: the model file or this optbench scores differently (training-serving skew); the prediction drift below uses the stored predictions",
                    s.disagreements, s.summary.rows
                ));
            }
            (
                Some(s.predictions),
                Some(s.labels),
                s.ranges,
                Some(s.summary),
            )
        }
        None => (None, None, HashMap::new(), None),
    };
    let reference_labels = stored_labels.as_ref().or(reference.labels.as_ref());
    // Model outputs first: they need the raw rows the feature pass consumes.
    let mut prediction = None;
    let mut accuracy_check = None;
    if let Some(a) = artifact {
        // Logged traffic carries the predictions the server made.
        let current_predictions = || match served {
            Some(p) => Ok(p),
            None => predict_all(a, &current),
        };
        let (pr, pc) = match stored_predictions {
            Some(pr) => (pr, current_predictions()?),
            None => {
                let (pr, pc) = rayon::join(|| predict_all(a, &reference), current_predictions);
                (pr?, pc?)
            }
        };
        if let (Some(lr), Some(lc)) = (reference_labels, &current.labels) {
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
            if let Some(t) = recorded.filter(|_| reference_sample.is_none()) {
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
        } else if stored_labels.is_none()
            && (reference.labels.is_some() || current.labels.is_some())
        {
            // (The package's held-out labels are always there; unlabelled
            // production data is the usual case, not worth a warning.)
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
            (Values::Numeric(r), Values::Numeric(c)) => {
                let range = ranges.get(&name).copied();
                numeric_feature(name, r, c, range, cfg)
            }
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
    let range_source = if reference_sample.is_some() {
        "the training ranges recorded in the model package"
    } else {
        "reference file"
    };
    Ok(DriftReport {
        optbench_version: env!("CARGO_PKG_VERSION").into(),
        reference: FileSummary {
            path: ref_path,
            rows: ref_rows,
        },
        reference_sample,
        current: FileSummary {
            path: cur_path,
            rows: cur_rows,
        },
        current_log,
        settings: Settings {
            config: cfg.clone(),
            psi_epsilon: stats::PSI_EPSILON,
            js_log_base: "e (natural logarithm, as scipy.spatial.distance.jensenshannon)".into(),
            ks_method_rule: format!(
                "exact when both samples have at most {} values, else asymptotic (scipy ks_2samp method=\"auto\")",
                ks::MAX_EXACT_N
            ),
            range_source: range_source.into(),
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

/// Writes `drift.json` and `drift.html` into `out` (created if needed), each
/// atomically, after both are rendered — an error leaves no new file behind.
pub fn write_report(report: &DriftReport, out: &Path) -> Result<()> {
    // Plain data with string keys: serialisation cannot fail.
    let json = serde_json::to_string_pretty(report).expect("report serialises") + "\n";
    let html = render::html(report);
    crate::fsutil::write_atomic(&out.join(JSON_FILE), json.as_bytes())?;
    crate::fsutil::write_atomic(&out.join(HTML_FILE), html.as_bytes())
}
