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
//! [`FittedPipeline::transform_row`] is the serving path and allocates
//! nothing; [`FittedPipeline::transform`] does a whole table the same way
//! (tested bit for bit against the row path).

use crate::data::{Dataset, FeatureKind, Invalid, Request, Value};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

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
        let op = |(j, s): (usize, &Step)| match *s {
            Step::Numeric {
                fill,
                center,
                inv_scale,
                ..
            } => Op::Numeric(Affine {
                fill,
                center,
                inv_scale,
            }),
            Step::OneHot { .. } => Op::OneHot(j),
        };
        let ops: Vec<Op> = self.steps.iter().enumerate().map(op).collect();
        let affine: Option<Vec<Affine>> = ops
            .iter()
            .map(|o| match o {
                Op::Numeric(a) => Some(*a),
                Op::OneHot(_) => None,
            })
            .collect();
        RowPlan {
            pipeline: self,
            plan: affine.map_or(Plan::Mixed(ops), |affine| {
                let columns = Columns {
                    fill: affine.iter().map(|a| a.fill).collect(),
                    center: affine.iter().map(|a| a.center).collect(),
                    inv_scale: affine.iter().map(|a| a.inv_scale).collect(),
                };
                Plan::Numeric(affine, columns)
            }),
            n_outputs: self.n_outputs(),
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
        }
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

/// A [`FittedPipeline`] laid out for serving one row at a time, built once
/// per served model ([`FittedPipeline::row_plan`]). Walking the [`Step`]s
/// themselves (over 100 bytes each, names and category lists included) and
/// writing through a running output index cost a 20-column numeric request
/// 100 ns before the model; a plain array of the numeric constants, zipped
/// with the output, costs 80 (`cargo bench --bench predict`). So an
/// all-numeric pipeline gets that array, and one with one-hot blocks a list
/// of compact [`Op`]s. It borrows the pipeline for the categories.
#[derive(Debug, Clone)]
pub struct RowPlan<'p> {
    pipeline: &'p FittedPipeline,
    plan: Plan,
    n_outputs: usize,
    /// Rows of numbers take the AVX2 build of their loop.
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

#[derive(Debug, Clone)]
enum Plan {
    /// Every column numeric: column `j` writes output `j`. The constants
    /// are kept twice on purpose, per column for cells (one struct read per
    /// value) and per kind for rows of numbers (whole vectors): the cells
    /// path reading the per-kind arrays measured 0-15% slower (criterion,
    /// four alternated pairs: 93/108, 64/72, 65/65, 95/98 ns).
    Numeric(Vec<Affine>, Columns),
    Mixed(Vec<Op>),
}

/// The [`Affine`] constants of an all-numeric plan by kind, one array each,
/// so a row of numbers is transformed with whole vectors of constants.
#[derive(Debug, Clone)]
struct Columns {
    fill: Vec<f64>,
    center: Vec<f64>,
    inv_scale: Vec<f64>,
}

impl Columns {
    /// Imputes and scales a row of numbers (of the plan's width) into `out`
    /// and says whether any value was infinite. Written so that it
    /// vectorizes (checked in the assembly): the fill is loaded whether or
    /// not it is used (loading it only for a NaN is a branch), and the check
    /// folds into an integer. 20 columns, one core, the loop alone: 25 ns
    /// with the baseline's SSE2, 17 ns with AVX2, 37 ns written as a plain
    /// loop that stops at an infinite value (a throwaway micro-benchmark;
    /// hand-written AVX intrinsics measured the same as this loop compiled
    /// for AVX2, so there are none).
    #[inline(always)]
    fn transform(&self, row: &[f64], out: &mut [f32]) -> bool {
        let n = row.len();
        let (fill, center, inv_scale, out) = (
            &self.fill[..n],
            &self.center[..n],
            &self.inv_scale[..n],
            &mut out[..n],
        );
        let mut infinite = 0u64;
        for j in 0..n {
            let (x, f) = (row[j], fill[j]);
            infinite |= u64::from(x.abs() == f64::INFINITY);
            let x = if x.is_nan() { f } else { x };
            out[j] = standardise(x, center[j], inv_scale[j]);
        }
        infinite != 0
    }

    /// [`Columns::transform`] compiled for AVX2: the same IEEE operations
    /// in wider registers, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn transform_avx2(&self, row: &[f64], out: &mut [f32]) -> bool {
        self.transform(row, out)
    }
}

/// A numeric step's constants: `(x, or fill when missing, − center) × inv_scale`.
#[derive(Debug, Clone, Copy)]
struct Affine {
    fill: f64,
    center: f64,
    inv_scale: f64,
}

impl Affine {
    /// The output for value `v` of column `column`, or why `v` is refused.
    #[inline(always)]
    fn apply(&self, column: usize, v: Value<'_>) -> Result<f32, Invalid> {
        let x = match v {
            Value::Number(x) if x.is_finite() => x,
            Value::Missing => self.fill,
            _ => return FeatureKind::Numeric.check(column, v).map(|()| 0.0),
        };
        Ok(standardise(x, self.center, self.inv_scale))
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Numeric(Affine),
    /// The index of the one-hot step in the pipeline.
    OneHot(usize),
}

impl RowPlan<'_> {
    /// [`FittedPipeline::n_outputs`], without walking the steps.
    #[inline]
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Validates and transforms one raw row in a single pass: the serving
    /// path. Refuses exactly what [`InputSchema::validate_row`] refuses for
    /// the schema the pipeline was fitted with (the same
    /// [`FeatureKind::check`], the same first problem), and writes what
    /// [`FittedPipeline::transform_row`] writes; `out` is unspecified after
    /// an error. Reading each value once instead of twice is a third of a
    /// 20-column request's cost besides the model.
    ///
    /// [`InputSchema::validate_row`]: crate::data::InputSchema::validate_row
    #[inline]
    pub fn transform_checked(&self, raw: &[Value<'_>], out: &mut [f32]) -> Result<(), Invalid> {
        let expected = self.pipeline.steps.len();
        if raw.len() != expected {
            return Err(Invalid::Width {
                expected,
                found: raw.len(),
            });
        }
        match &self.plan {
            Plan::Numeric(affine, _) => {
                let out = &mut out[..affine.len()];
                for (column, ((a, &v), o)) in affine.iter().zip(raw).zip(out).enumerate() {
                    *o = a.apply(column, v)?;
                }
            }
            Plan::Mixed(ops) => {
                let mut at = 0;
                for (column, (op, &v)) in ops.iter().zip(raw).enumerate() {
                    match op {
                        Op::Numeric(a) => {
                            out[at] = a.apply(column, v)?;
                            at += 1;
                        }
                        &Op::OneHot(j) => {
                            FeatureKind::Categorical.check(column, v)?;
                            at += self.pipeline.steps[j].one_hot_into(v, &mut out[at..]);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The model's input for a request already validated
    /// ([`InputSchema::validate`]): [`FittedPipeline::transform_row`] for
    /// cells, the loop of [`Self::transform_numbers`] for numbers (`NaN`
    /// is missing).
    ///
    /// [`InputSchema::validate`]: crate::data::InputSchema::validate
    #[inline]
    pub fn transform(&self, request: Request<'_, '_>, out: &mut [f32]) {
        match (request, &self.plan) {
            (Request::Cells(row), _) => self.pipeline.transform_row(row, out),
            (Request::Numbers(row), Plan::Numeric(_, columns)) => {
                self.numbers(columns, row, out);
            }
            (Request::Numbers(_), Plan::Mixed(_)) => {
                debug_assert!(false, "validation refuses numbers for categorical columns");
            }
        }
    }

    /// [`Self::transform_checked`] for either form of request: refuses what
    /// [`InputSchema::validate`] refuses and writes what
    /// [`Self::transform`] writes.
    ///
    /// [`InputSchema::validate`]: crate::data::InputSchema::validate
    #[inline(always)]
    pub fn serve(&self, request: Request<'_, '_>, out: &mut [f32]) -> Result<(), Invalid> {
        match request {
            Request::Cells(row) => self.transform_checked(row, out),
            Request::Numbers(row) => self.transform_numbers(row, out),
        }
    }

    /// [`Columns::transform`] in the build this CPU runs best.
    #[inline(always)]
    fn numbers(&self, c: &Columns, row: &[f64], out: &mut [f32]) -> bool {
        let out = &mut out[..row.len()];
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only when the CPU has AVX2 (`row_plan`).
            return unsafe { c.transform_avx2(row, out) };
        }
        c.transform(row, out)
    }

    /// A row of numbers (`NaN` missing) checked and transformed in one pass
    /// with no branch on the data, so the loop vectorizes: every column is
    /// imputed and scaled, and whether any value was infinite is folded on
    /// the side; only then is the row refused (at its first infinite value,
    /// as [`InputSchema::validate`] would).
    ///
    /// [`InputSchema::validate`]: crate::data::InputSchema::validate
    #[inline]
    pub fn transform_numbers(&self, row: &[f64], out: &mut [f32]) -> Result<(), Invalid> {
        let c = match &self.plan {
            Plan::Numeric(_, columns) => columns,
            Plan::Mixed(ops) => {
                let column = ops
                    .iter()
                    .position(|o| matches!(o, Op::OneHot(_)))
                    .expect("a mixed plan has a one-hot step");
                return Err(Invalid::NotText { column });
            }
        };
        let n = c.fill.len();
        if row.len() != n {
            return Err(Invalid::Width {
                expected: n,
                found: row.len(),
            });
        }
        if self.numbers(c, row, out) {
            let column = row
                .iter()
                .position(|x| x.is_infinite())
                .expect("an infinite value was seen");
            return Err(Invalid::NotFinite {
                column,
                value: row[column],
            });
        }
        Ok(())
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
mod tests {
    use super::*;
    use crate::data::{FeatureKind, Value};

    fn table() -> Dataset {
        Dataset::numeric(
            vec!["a".into(), "b".into()],
            vec![1.0, 5.0, 2.0, 5.0, f64::NAN, 5.0, 4.0, 5.0],
            vec![0, 1, 0, 1],
            vec!["0".into(), "1".into()],
        )
    }

    fn row(values: &[f64]) -> Vec<Value<'static>> {
        values
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    Value::Missing
                } else {
                    Value::Number(v)
                }
            })
            .collect()
    }

    #[test]
    fn imputes_median_then_standardises_like_sklearn() {
        let p = FittedPipeline::fit(&table(), &PipelineConfig::default()).unwrap();
        // Column a after imputation: 1, 2, 2, 4 → mean 2.25, population sd.
        let sd = ((1.25f64.powi(2) + 0.25f64.powi(2) * 2.0 + 1.75f64.powi(2)) / 4.0).sqrt();
        let Step::Numeric {
            fill,
            center,
            inv_scale,
            ..
        } = p.steps[0]
        else {
            panic!()
        };
        assert_eq!(fill, 2.0);
        assert!((center - 2.25).abs() < 1e-12);
        assert!((inv_scale - 1.0 / sd).abs() < 1e-12);
        // Constant column: centred, not scaled.
        assert!(matches!(
            p.steps[1],
            Step::Numeric {
                center: 5.0,
                inv_scale: 1.0,
                ..
            }
        ));
        let mut out = [0f32; 2];
        p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
        assert_eq!(out, [((2.0 - 2.25) / sd) as f32, 1.0]);
    }

    #[test]
    fn other_numeric_imputers_and_no_scaling() {
        let mut cfg = PipelineConfig {
            numeric_impute: NumericImpute::Mean,
            scale: false,
            ..Default::default()
        };
        let p = FittedPipeline::fit(&table(), &cfg).unwrap();
        let mut out = [0f32; 2];
        p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
        assert_eq!(out, [7.0 / 3.0, 6.0]);
        cfg.numeric_impute = NumericImpute::Constant;
        cfg.numeric_fill = -1.0;
        let p = FittedPipeline::fit(&table(), &cfg).unwrap();
        p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
        assert_eq!(out, [-1.0, 6.0]);
        let mut t = table();
        t.x[2] = 4.0; // column a: 1, 4, NaN, 4
        cfg.numeric_impute = NumericImpute::MostFrequent;
        let p = FittedPipeline::fit(&t, &cfg).unwrap();
        p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
        assert_eq!(out, [4.0, 6.0]);
        assert_eq!(most_frequent(&mut [3.0, 1.0, 3.0, 1.0, 2.0]), 1.0);
    }

    #[test]
    fn all_missing_column_is_an_error_naming_it() {
        let mut t = table();
        for i in 0..4 {
            t.x[i * 2 + 1] = f64::NAN;
        }
        let e = FittedPipeline::fit(&t, &PipelineConfig::default()).unwrap_err();
        assert!(e.to_string().contains("column `b` has no values"), "{e}");
    }

    /// Column `c`: red ×3, blue ×2, green ×1, one missing.
    fn mixed() -> Dataset {
        let mut d = Dataset::numeric(
            vec!["x".into(), "c".into()],
            vec![
                1.0,
                0.0,
                2.0,
                1.0,
                3.0,
                0.0,
                4.0,
                2.0,
                5.0,
                1.0,
                6.0,
                f64::NAN,
                7.0,
                0.0,
            ],
            vec![0, 1, 0, 1, 0, 1, 0],
            vec!["n".into(), "y".into()],
        );
        d.kinds[1] = FeatureKind::Categorical;
        d.levels[1] = vec!["red".into(), "blue".into(), "green".into()];
        d
    }

    #[test]
    fn one_hot_sorted_unknown_ignored_missing_imputed() {
        let p = FittedPipeline::fit(&mixed(), &PipelineConfig::default()).unwrap();
        assert_eq!(p.output_names(), ["x", "c=blue", "c=green", "c=red"]);
        let mut out = [9f32; 4];
        let onehot = |p: &FittedPipeline, v: Value<'_>, out: &mut [f32]| {
            p.transform_row(&[Value::Number(4.0), v], out);
            out[1..].to_vec()
        };
        assert_eq!(onehot(&p, Value::Text("green"), &mut out), [0.0, 1.0, 0.0]);
        // Unknown: no output set. Missing: the most frequent (red).
        assert_eq!(onehot(&p, Value::Text("purple"), &mut out), [0.0; 3]);
        assert_eq!(onehot(&p, Value::Missing, &mut out), [0.0, 0.0, 1.0]);
        // The table path agrees bit for bit with the row path.
        let d = mixed();
        let all = p.transform(&d);
        let mut raw = Vec::new();
        for i in 0..d.n_rows() {
            d.raw_row(i, &mut raw);
            p.transform_row(&raw, &mut out);
            assert_eq!(all[i * 4..(i + 1) * 4], out, "row {i}");
        }
    }

    /// The one-pass serving path refuses exactly what the schema refuses,
    /// with the same first problem, and otherwise writes what the two-pass
    /// path writes, bit for bit: every pair of values of every kind, through
    /// both plans (a numeric column then a categorical one; two numeric).
    #[test]
    fn one_pass_check_agrees_with_schema_then_transform() {
        let mut numeric = mixed();
        numeric.kinds[1] = FeatureKind::Numeric;
        numeric.levels[1].clear();
        // (data, accepted pairs: missing or a finite number, then missing or
        // text / missing or a finite number)
        for (d, accepted) in [(mixed(), 2 * 4), (numeric, 2 * 2)] {
            let p = FittedPipeline::fit(&d, &PipelineConfig::default()).unwrap();
            let schema = d.schema();
            let plan = p.row_plan();
            let all_numeric = d.kinds.iter().all(|&k| k == FeatureKind::Numeric);
            assert_eq!(matches!(plan.plan, Plan::Numeric(..)), all_numeric);
            let width = p.n_outputs();
            let values = [
                Value::Missing,
                Value::Number(2.5),
                Value::Number(f64::NAN),
                Value::Number(f64::INFINITY),
                Value::Number(f64::NEG_INFINITY),
                Value::Text("red"),
                Value::Text("purple"),
                Value::Text(""),
            ];
            let mut checked = 0;
            for &a in &values {
                for &b in &values {
                    let row = [a, b];
                    let (mut one, mut two) = (vec![7f32; width], vec![7f32; width]);
                    let got = plan.transform_checked(&row, &mut one);
                    let want = schema.validate_row(&row);
                    // (Debug text: a NaN in the error is not equal to itself.)
                    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{row:?}");
                    if want.is_ok() {
                        p.transform_row(&row, &mut two);
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&one), bits(&two), "{row:?}");
                        checked += 1;
                    }
                }
            }
            assert_eq!(checked, accepted, "{:?}", d.kinds);
            for short in [&[Value::Number(1.0)][..], &[Value::Missing; 3][..]] {
                let mut out = vec![0f32; width];
                assert_eq!(
                    plan.transform_checked(short, &mut out),
                    schema.validate_row(short)
                );
                assert!(plan.transform_checked(short, &mut out).is_err());
            }
        }
    }

    /// A row of numbers is served like the same row of typed cells (`NaN`
    /// as `Missing`): the same output bits, the same refusals, through the
    /// checked path, the schema and the two-pass path, and by both builds of
    /// the loop; a schema with a categorical column refuses it at that
    /// column. Widths 1–37 cover whole vectors and every remainder.
    #[test]
    fn numbers_are_served_like_cells() {
        use crate::data::Request;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e300];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for width in 1..=37 {
            let (n_rows, names) = (40, (0..width).map(|j| format!("c{j}")).collect());
            let x: Vec<f64> = (0..n_rows * width)
                .map(|_| match rng.random_range(0..10) {
                    0 => f64::NAN,
                    _ => rng.random_range(-50.0..50.0),
                })
                .collect();
            let d = Dataset::numeric(names, x, vec![0; n_rows], vec!["0".into()]);
            let p = FittedPipeline::fit(&d, &PipelineConfig::default()).unwrap();
            let (plan, schema) = (p.row_plan(), d.schema());
            for _ in 0..200 {
                let numbers: Vec<f64> = (0..width)
                    .map(|_| match rng.random_range(0..8) {
                        0 => specials[rng.random_range(0..specials.len())],
                        _ => rng.random_range(-80.0..80.0),
                    })
                    .collect();
                let cells = row(&numbers);
                let row = numbers;
                let (mut one, mut two) = (vec![7f32; width], vec![7f32; width]);
                let got = plan.transform_numbers(&row, &mut one);
                let want = plan.transform_checked(&cells, &mut two);
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{row:?}");
                let request = Request::Numbers(&row);
                assert_eq!(
                    format!("{:?}", schema.validate(request)),
                    format!("{want:?}")
                );
                if want.is_ok() {
                    assert_eq!(bits(&one), bits(&two), "{row:?}");
                    plan.transform(request, &mut two);
                    assert_eq!(bits(&one), bits(&two), "{row:?}");
                    let Plan::Numeric(_, columns) = &plan.plan else {
                        unreachable!("an all-numeric plan")
                    };
                    assert!(!columns.transform(&row, &mut two));
                    assert_eq!(bits(&one), bits(&two), "portable build");
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2.
                        assert!(!unsafe { columns.transform_avx2(&row, &mut two) });
                        assert_eq!(bits(&one), bits(&two), "AVX2 build");
                    }
                }
            }
            let long = vec![1.0; width + 1];
            assert_eq!(
                plan.transform_numbers(&long, &mut vec![0f32; width + 1]),
                Err(Invalid::Width {
                    expected: width,
                    found: width + 1
                })
            );
        }
        let d = mixed();
        let p = FittedPipeline::fit(&d, &PipelineConfig::default()).unwrap();
        let mut out = vec![0f32; p.n_outputs()];
        let want = Err(Invalid::NotText { column: 1 });
        assert_eq!(p.row_plan().transform_numbers(&[1.0, 2.0], &mut out), want);
        assert_eq!(d.schema().validate(Request::Numbers(&[1.0, 2.0])), want);
    }

    #[test]
    fn rare_categories_fold_into_other_and_missing_can_be_a_category() {
        let cfg = PipelineConfig {
            min_frequency: 2,
            categorical_impute: CategoricalImpute::Constant,
            ..Default::default()
        };
        let p = FittedPipeline::fit(&mixed(), &cfg).unwrap();
        // green (1 row) and the 1-row "missing" category fold into other.
        assert_eq!(p.output_names(), ["x", "c=blue", "c=red", "c=<other>"]);
        let mut out = [0f32; 4];
        p.transform_row(&[Value::Number(1.0), Value::Text("green")], &mut out);
        assert_eq!(out[1..], [0.0, 0.0, 1.0]);
        p.transform_row(&[Value::Number(1.0), Value::Missing], &mut out);
        assert_eq!(out[1..], [0.0, 0.0, 1.0]);
        p.transform_row(&[Value::Number(1.0), Value::Text("new")], &mut out);
        assert_eq!(out[1..], [0.0, 0.0, 0.0]);
        let cap = PipelineConfig {
            max_categories: Some(1),
            ..Default::default()
        };
        let p = FittedPipeline::fit(&mixed(), &cap).unwrap();
        // Missing imputed to red: red 4, blue 2, green 1; one kept.
        assert_eq!(p.output_names(), ["x", "c=red", "c=<other>"]);
        p.check().unwrap();
        assert!(PipelineConfig {
            min_frequency: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
