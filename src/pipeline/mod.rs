//! Fitted preprocessing: raw row → feature vector, one code path for training,
//! measuring and serving (so they can never diverge).
//!
//! Uses `data`. Key types: [`PipelineConfig`] (what to fit, per column type)
//! and [`FittedPipeline`] (the fitted statistics, saved inside the artifact).
//! Every input column becomes one step, in schema order:
//!
//! - numeric: impute (median / mean / most frequent / constant), then
//!   standardise → one output;
//! - categorical: impute (most frequent / constant), then one-hot over the
//!   categories seen in training (sorted by text), plus one `other` output
//!   when rare categories were folded (`min_frequency`, `max_categories`).
//!   A category never seen in training sets no output (it is ignored, as
//!   scikit-learn's `handle_unknown="ignore"` does).
//!
//! [`FittedPipeline::transform_row`] is the reference row path and
//! allocates nothing; [`RowPlan`] (`plan.rs`, from
//! [`FittedPipeline::row_plan`]) is the same arithmetic laid out for
//! serving; [`FittedPipeline::transform`] does a whole table the same way
//! (tested bit for bit against the row path).

mod plan;

use crate::data::{Dataset, FeatureKind, Value};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub use plan::RowPlan;

/// How a missing numeric value is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NumericImpute {
    #[default]
    Median,
    Mean,
    MostFrequent,
    /// `numeric_fill`.
    Constant,
}

/// How a missing categorical value is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalImpute {
    #[default]
    MostFrequent,
    /// `categorical_fill`: missing becomes a category of its own.
    Constant,
}

/// What the pipeline fits (`[pipeline]` in a config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    #[serde(alias = "impute")]
    pub numeric_impute: NumericImpute,
    /// The fill of `numeric_impute = "constant"`.
    pub numeric_fill: f64,
    /// Standardise numeric columns to zero mean and unit variance.
    pub scale: bool,
    pub categorical_impute: CategoricalImpute,
    /// The fill of `categorical_impute = "constant"`.
    pub categorical_fill: String,
    /// Categories seen in fewer training rows fold into one `other` output.
    pub min_frequency: u64,
    /// At most this many categories per column keep an output of their own
    /// (the most frequent); the rest fold into `other`.
    pub max_categories: Option<usize>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            numeric_impute: NumericImpute::Median,
            numeric_fill: 0.0,
            scale: true,
            categorical_impute: CategoricalImpute::MostFrequent,
            categorical_fill: "missing".into(),
            min_frequency: 1,
            max_categories: None,
        }
    }
}

impl PipelineConfig {
    /// Checks values serde cannot, naming the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !self.numeric_fill.is_finite() {
            return Err("pipeline.numeric_fill must be a finite number".into());
        }
        if self.min_frequency == 0 {
            return Err("pipeline.min_frequency must be at least 1".into());
        }
        if self.max_categories == Some(0) {
            return Err("pipeline.max_categories must be at least 1".into());
        }
        if self.categorical_fill.is_empty() || crate::data::is_missing(&self.categorical_fill) {
            return Err(format!(
                "pipeline.categorical_fill `{}` reads as a missing value; choose a word",
                self.categorical_fill
            ));
        }
        Ok(())
    }
}

/// One input column's fitted transformation. (Externally tagged: postcard,
/// the package encoding, cannot read internally tagged enums.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `out = (fill_if_missing(x) - center) * inv_scale`.
    Numeric {
        name: String,
        fill: f64,
        center: f64,
        inv_scale: f64,
    },
    /// One output per entry of `categories` (sorted), then one for `other`
    /// when `folded` is not empty.
    OneHot {
        name: String,
        fill: String,
        categories: Vec<String>,
        /// Training categories too rare for an output of their own (sorted).
        folded: Vec<String>,
    },
}

impl Step {
    pub fn name(&self) -> &str {
        match self {
            Step::Numeric { name, .. } | Step::OneHot { name, .. } => name,
        }
    }

    /// Outputs this step writes.
    pub fn width(&self) -> usize {
        match self {
            Step::Numeric { .. } => 1,
            Step::OneHot {
                categories, folded, ..
            } => categories.len() + usize::from(!folded.is_empty()),
        }
    }

    /// A one-hot step's outputs for `v` into the front of `out`; returns
    /// their number. (Nothing for a numeric step.)
    #[inline]
    fn one_hot_into(&self, v: Value<'_>, out: &mut [f32]) -> usize {
        let Step::OneHot {
            fill,
            categories,
            folded,
            ..
        } = self
        else {
            return 0;
        };
        let width = self.width();
        let block = &mut out[..width];
        block.fill(0.0);
        let text = match v {
            Value::Text(s) => Some(s),
            Value::Missing => Some(fill.as_str()),
            Value::Number(_) => None, // refused by validation
        };
        if let Some(k) = text.and_then(|s| Step::slot(categories, folded, s)) {
            block[k] = 1.0;
        }
        width
    }

    /// Which output of a one-hot block a category sets: its own, `other`
    /// for a folded one, none for one never seen.
    #[inline]
    fn slot(categories: &[String], folded: &[String], s: &str) -> Option<usize> {
        match categories.binary_search_by(|c| c.as_str().cmp(s)) {
            Ok(k) => Some(k),
            Err(_) => folded
                .binary_search_by(|c| c.as_str().cmp(s))
                .ok()
                .map(|_| categories.len()),
        }
    }
}

/// The name written for a one-hot block's `other` output.
pub const OTHER: &str = "<other>";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPipeline {
    pub config: PipelineConfig,
    pub steps: Vec<Step>,
}

impl FittedPipeline {
    /// Fits the pipeline on the training table.
    pub fn fit(train: &Dataset, config: &PipelineConfig) -> Result<FittedPipeline> {
        let no_values = |j: usize| Error::Data {
            path: "training data".into(),
            message: format!(
                "column `{}` has no values at all; nothing to impute from",
                train.feature_names[j]
            ),
        };
        let mut steps = Vec::with_capacity(train.n_features());
        let mut values = Vec::with_capacity(train.n_rows());
        for j in 0..train.n_features() {
            let name = train.feature_names[j].clone();
            values.clear();
            values.extend(
                (0..train.n_rows())
                    .map(|i| train.row(i)[j])
                    .filter(|v| !v.is_nan()),
            );
            let missing = (train.n_rows() - values.len()) as f64;
            match train.kinds[j] {
                FeatureKind::Numeric => {
                    if values.is_empty() && config.numeric_impute != NumericImpute::Constant {
                        return Err(no_values(j));
                    }
                    let n = values.len() as f64;
                    let mean = if values.is_empty() {
                        0.0
                    } else {
                        values.iter().sum::<f64>() / n
                    };
                    let fill = match config.numeric_impute {
                        NumericImpute::Mean => mean,
                        NumericImpute::Median => median(&mut values),
                        NumericImpute::MostFrequent => most_frequent(&mut values),
                        NumericImpute::Constant => config.numeric_fill,
                    };
                    // Statistics after imputation, as scikit-learn's Pipeline
                    // computes them.
                    let total = n + missing;
                    let mean_all = (mean * n + fill * missing) / total;
                    let var = (values.iter().map(|v| (v - mean_all).powi(2)).sum::<f64>()
                        + missing * (fill - mean_all).powi(2))
                        / total;
                    let (center, inv_scale) = if config.scale {
                        let sd = var.sqrt();
                        // A constant column is centred but not scaled
                        // (scikit-learn's rule).
                        (mean_all, if sd > 0.0 { 1.0 / sd } else { 1.0 })
                    } else {
                        (0.0, 1.0)
                    };
                    steps.push(Step::Numeric {
                        name,
                        fill,
                        center,
                        inv_scale,
                    });
                }
                FeatureKind::Categorical => {
                    let levels = &train.levels[j];
                    let mut counts: Vec<(String, u64)> =
                        levels.iter().map(|l| (l.clone(), 0)).collect();
                    for &c in &values {
                        counts[c as usize].1 += 1;
                    }
                    // The same text under two codes would be one category.
                    counts.sort_by(|a, b| a.0.cmp(&b.0));
                    counts.dedup_by(|b, a| {
                        let same = a.0 == b.0;
                        if same {
                            a.1 += b.1;
                        }
                        same
                    });
                    counts.retain(|c| c.1 > 0);
                    let fill = match config.categorical_impute {
                        CategoricalImpute::MostFrequent => counts
                            .iter()
                            // Most rows; ties to the first text in order.
                            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                            .map(|c| c.0.clone())
                            .ok_or_else(|| no_values(j))?,
                        CategoricalImpute::Constant => config.categorical_fill.clone(),
                    };
                    if missing > 0.0 {
                        match counts.binary_search_by(|c| c.0.cmp(&fill)) {
                            Ok(k) => counts[k].1 += missing as u64,
                            Err(k) => counts.insert(k, (fill.clone(), missing as u64)),
                        }
                    }
                    // Frequent first (ties by text), then the caps.
                    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                    let keep = counts
                        .iter()
                        .take_while(|c| c.1 >= config.min_frequency)
                        .count()
                        .min(config.max_categories.unwrap_or(usize::MAX));
                    let mut categories: Vec<String> =
                        counts[..keep].iter().map(|c| c.0.clone()).collect();
                    let mut folded: Vec<String> =
                        counts[keep..].iter().map(|c| c.0.clone()).collect();
                    categories.sort();
                    folded.sort();
                    steps.push(Step::OneHot {
                        name,
                        fill,
                        categories,
                        folded,
                    });
                }
            }
        }
        Ok(FittedPipeline {
            config: config.clone(),
            steps,
        })
    }

    /// The pipeline that hands numeric columns to the model as they are
    /// (missing stays `NaN`): for models trained elsewhere on raw columns.
    pub fn passthrough(names: &[String]) -> FittedPipeline {
        FittedPipeline {
            config: PipelineConfig {
                scale: false,
                ..PipelineConfig::default()
            },
            steps: names
                .iter()
                .map(|n| Step::Numeric {
                    name: n.clone(),
                    fill: f64::NAN,
                    center: 0.0,
                    inv_scale: 1.0,
                })
                .collect(),
        }
    }

    pub fn n_inputs(&self) -> usize {
        self.steps.len()
    }

    pub fn n_outputs(&self) -> usize {
        self.steps.iter().map(Step::width).sum()
    }

    /// The name of every output: a numeric column's own name, `city=Paris`
    /// for a one-hot output, `city=<other>` for folded categories.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_outputs());
        for s in &self.steps {
            match s {
                Step::Numeric { name, .. } => names.push(name.clone()),
                Step::OneHot {
                    name,
                    categories,
                    folded,
                    ..
                } => {
                    names.extend(categories.iter().map(|c| format!("{name}={c}")));
                    if !folded.is_empty() {
                        names.push(format!("{name}={OTHER}"));
                    }
                }
            }
        }
        names
    }

    /// Checks what a decoder cannot: finite statistics, sorted distinct
    /// categories. Run on every loaded package.
    pub fn check(&self) -> std::result::Result<(), String> {
        for s in &self.steps {
            match s {
                Step::Numeric {
                    name,
                    fill,
                    center,
                    inv_scale,
                } => {
                    // A NaN fill passes missing values through (imported models
                    // see their input as it is).
                    if !((fill.is_finite() || fill.is_nan())
                        && center.is_finite()
                        && inv_scale.is_finite())
                    {
                        return Err(format!("column `{name}` has a non-finite statistic"));
                    }
                }
                Step::OneHot {
                    name,
                    categories,
                    folded,
                    ..
                } => {
                    let sorted = |v: &[String]| v.windows(2).all(|w| w[0] < w[1]);
                    if !sorted(categories) || !sorted(folded) {
                        return Err(format!("column `{name}`: categories are not sorted"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Transforms one raw row (validated against the schema) into `out`
    /// (length [`Self::n_outputs`]). No allocation: this is on the serving
    /// path.
    #[inline]
    pub fn transform_row(&self, raw: &[Value<'_>], out: &mut [f32]) {
        let mut at = 0;
        for (step, v) in self.steps.iter().zip(raw) {
            match step {
                Step::Numeric {
                    fill,
                    center,
                    inv_scale,
                    ..
                } => {
                    let x = match *v {
                        Value::Number(x) if !x.is_nan() => x,
                        _ => *fill,
                    };
                    out[at] = standardise(x, *center, *inv_scale);
                    at += 1;
                }
                Step::OneHot { .. } => at += step.one_hot_into(*v, &mut out[at..]),
            }
        }
    }

    /// The serving path's compiled form of this pipeline (see [`RowPlan`]).
    pub fn row_plan(&self) -> RowPlan<'_> {
        RowPlan::new(self)
    }

    /// Transforms a whole table into a row-major `n_rows × n_outputs`
    /// matrix: the same arithmetic as [`Self::transform_row`], with each
    /// categorical level looked up once instead of once per row.
    pub fn transform(&self, data: &Dataset) -> Vec<f32> {
        let d = self.n_outputs();
        // For each step and each level code of `data`, the one-hot slot.
        let slots: Vec<(Vec<Option<usize>>, Option<usize>)> = self
            .steps
            .iter()
            .enumerate()
            .map(|(j, s)| match s {
                Step::Numeric { .. } => (Vec::new(), None),
                Step::OneHot {
                    fill,
                    categories,
                    folded,
                    ..
                } => (
                    data.levels[j]
                        .iter()
                        .map(|l| Step::slot(categories, folded, l))
                        .collect(),
                    Step::slot(categories, folded, fill),
                ),
            })
            .collect();
        let mut out = vec![0.0f32; data.n_rows() * d];
        for (i, o) in out.chunks_exact_mut(d.max(1)).enumerate() {
            let mut at = 0;
            for ((step, &v), (codes, fill_slot)) in self.steps.iter().zip(data.row(i)).zip(&slots) {
                match step {
                    Step::Numeric {
                        fill,
                        center,
                        inv_scale,
                        ..
                    } => {
                        let x = if v.is_nan() { *fill } else { v };
                        o[at] = standardise(x, *center, *inv_scale);
                        at += 1;
                    }
                    Step::OneHot { .. } => {
                        let slot = if v.is_nan() {
                            *fill_slot
                        } else {
                            codes[v as usize]
                        };
                        if let Some(k) = slot {
                            o[at + k] = 1.0;
                        }
                        at += step.width();
                    }
                }
            }
        }
        out
    }
}

/// The one formula both paths use (and the ONNX export writes): in `f64`,
/// rounded once to `f32`.
#[inline(always)]
fn standardise(x: f64, center: f64, inv_scale: f64) -> f32 {
    ((x - center) * inv_scale) as f32
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The most frequent value; ties go to the smallest (scikit-learn's
/// `SimpleImputer(strategy="most_frequent")` rule).
fn most_frequent(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mut best = (values[0], 0usize);
    let mut i = 0;
    while i < values.len() {
        let run = values[i..].iter().take_while(|&&v| v == values[i]).count();
        if run > best.1 {
            best = (values[i], run);
        }
        i += run;
    }
    best.0
}

#[cfg(test)]
mod tests;
