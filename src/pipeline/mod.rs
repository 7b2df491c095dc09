//! Fitted preprocessing: raw row → feature vector, one code path for training,
//! measuring and serving (so they can never diverge).
//!
//! Uses `data`. Key types: [`PipelineConfig`] (what to fit) and
//! [`FittedPipeline`] (the fitted statistics, saved inside the artifact).
//! Today every column is numeric: missing values are imputed, then the
//! column is standardised. Categorical columns arrive with one-hot encoding.

use crate::data::Dataset;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How a missing numeric value is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ImputeStrategy {
    #[default]
    Median,
    Mean,
}

/// What the pipeline fits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    pub impute: ImputeStrategy,
    /// Standardise numeric columns to zero mean and unit variance.
    pub scale: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            impute: ImputeStrategy::Median,
            scale: true,
        }
    }
}

/// Per-column fitted statistics: `out = (fill_if_missing(x) - center) * inv_scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericColumn {
    pub fill: f64,
    pub center: f64,
    pub inv_scale: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPipeline {
    pub config: PipelineConfig,
    pub columns: Vec<NumericColumn>,
}

impl FittedPipeline {
    /// Fits the pipeline on the training table.
    pub fn fit(train: &Dataset, config: &PipelineConfig) -> Result<FittedPipeline> {
        let d = train.n_features();
        let mut columns = Vec::with_capacity(d);
        let mut values = Vec::with_capacity(train.n_rows());
        for j in 0..d {
            values.clear();
            values.extend(
                (0..train.n_rows())
                    .map(|i| train.row(i)[j])
                    .filter(|v| !v.is_nan()),
            );
            if values.is_empty() {
                return Err(Error::Data {
                    path: "training data".into(),
                    message: format!(
                        "column `{}` has no values at all; nothing to impute from",
                        train.feature_names[j]
                    ),
                });
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let fill = match config.impute {
                ImputeStrategy::Mean => mean,
                ImputeStrategy::Median => median(&mut values),
            };
            // Statistics after imputation, as scikit-learn's Pipeline computes them.
            let missing = (train.n_rows() - values.len()) as f64;
            let total = n + missing;
            let mean_all = (mean * n + fill * missing) / total;
            let var = (values.iter().map(|v| (v - mean_all).powi(2)).sum::<f64>()
                + missing * (fill - mean_all).powi(2))
                / total;
            let (center, inv_scale) = if config.scale {
                let sd = var.sqrt();
                // A constant column is centred but not scaled (scikit-learn's rule).
                (mean_all, if sd > 0.0 { 1.0 / sd } else { 1.0 })
            } else {
                (0.0, 1.0)
            };
            columns.push(NumericColumn {
                fill,
                center,
                inv_scale,
            });
        }
        Ok(FittedPipeline {
            config: config.clone(),
            columns,
        })
    }

    pub fn n_inputs(&self) -> usize {
        self.columns.len()
    }

    pub fn n_outputs(&self) -> usize {
        self.columns.len()
    }

    /// Transforms one raw row into `out` (length [`Self::n_outputs`]).
    /// No allocation: this is on the serving path.
    #[inline]
    pub fn transform_row(&self, raw: &[f64], out: &mut [f32]) {
        for ((o, &v), c) in out.iter_mut().zip(raw).zip(&self.columns) {
            let v = if v.is_nan() { c.fill } else { v };
            *o = ((v - c.center) * c.inv_scale) as f32;
        }
    }

    /// Transforms a whole table into a row-major `n_rows × n_outputs` matrix.
    pub fn transform(&self, data: &Dataset) -> Vec<f32> {
        let d = self.n_outputs();
        let mut out = vec![0.0f32; data.n_rows() * d];
        for (i, o) in out.chunks_exact_mut(d.max(1)).enumerate() {
            self.transform_row(data.row(i), o);
        }
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Dataset {
        Dataset {
            feature_names: vec!["a".into(), "b".into()],
            x: vec![1.0, 5.0, 2.0, 5.0, f64::NAN, 5.0, 4.0, 5.0],
            y: vec![0, 1, 0, 1],
            classes: vec!["0".into(), "1".into()],
        }
    }

    #[test]
    fn imputes_median_then_standardises_like_sklearn() {
        let p = FittedPipeline::fit(&table(), &PipelineConfig::default()).unwrap();
        // Column a after imputation: 1, 2, 2, 4 → mean 2.25, population sd.
        let sd = ((1.25f64.powi(2) + 0.25f64.powi(2) * 2.0 + 1.75f64.powi(2)) / 4.0).sqrt();
        assert_eq!(p.columns[0].fill, 2.0);
        assert!((p.columns[0].center - 2.25).abs() < 1e-12);
        assert!((p.columns[0].inv_scale - 1.0 / sd).abs() < 1e-12);
        // Constant column: centred, not scaled.
        assert_eq!((p.columns[1].center, p.columns[1].inv_scale), (5.0, 1.0));
        let mut out = [0f32; 2];
        p.transform_row(&[f64::NAN, 6.0], &mut out);
        assert_eq!(out, [((2.0 - 2.25) / sd) as f32, 1.0]);
    }

    #[test]
    fn mean_imputation_and_no_scaling() {
        let cfg = PipelineConfig {
            impute: ImputeStrategy::Mean,
            scale: false,
        };
        let p = FittedPipeline::fit(&table(), &cfg).unwrap();
        let mut out = [0f32; 2];
        p.transform_row(&[f64::NAN, 6.0], &mut out);
        assert_eq!(out, [7.0 / 3.0, 6.0]);
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
}
