//! [`RowPlan`]: a fitted pipeline laid out for serving one row at a time.

use super::{standardise, FittedPipeline, Step};
use crate::data::{FeatureKind, Invalid, Request, Value};

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
    pub(super) plan: Plan,
    n_outputs: usize,
    /// Rows of numbers take the AVX2 build of their loop.
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Plan {
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
pub(super) struct Columns {
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
    pub(super) fn transform(&self, row: &[f64], out: &mut [f32]) -> bool {
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
    pub(super) fn transform_avx2(&self, row: &[f64], out: &mut [f32]) -> bool {
        self.transform(row, out)
    }
}

/// A numeric step's constants: `(x, or fill when missing, − center) × inv_scale`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Affine {
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
pub(super) enum Op {
    Numeric(Affine),
    /// The index of the one-hot step in the pipeline.
    OneHot(usize),
}

impl RowPlan<'_> {
    /// The plan of `pipeline` (see [`FittedPipeline::row_plan`]).
    pub(super) fn new(pipeline: &FittedPipeline) -> RowPlan<'_> {
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
        let ops: Vec<Op> = pipeline.steps.iter().enumerate().map(op).collect();
        let affine: Option<Vec<Affine>> = ops
            .iter()
            .map(|o| match o {
                Op::Numeric(a) => Some(*a),
                Op::OneHot(_) => None,
            })
            .collect();
        RowPlan {
            pipeline,
            plan: affine.map_or(Plan::Mixed(ops), |affine| {
                let columns = Columns {
                    fill: affine.iter().map(|a| a.fill).collect(),
                    center: affine.iter().map(|a| a.center).collect(),
                    inv_scale: affine.iter().map(|a| a.inv_scale).collect(),
                };
                Plan::Numeric(affine, columns)
            }),
            n_outputs: pipeline.n_outputs(),
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
        }
    }

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
