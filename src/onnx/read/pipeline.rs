//! What an import gives in front of its model, and the pipeline that serves
//! it: [`Preprocessing`] (numeric steps on one float input, or a pipeline
//! on one input per column), [`NumericStep`] and [`imported_pipeline`].

use crate::error::{Error, Result};
use crate::pipeline::{FittedPipeline, NumericImpute, PipelineConfig, Step};

/// The preprocessing an ONNX file holds in front of its model.
#[derive(Debug, Clone, PartialEq)]
pub enum Preprocessing {
    /// `Imputer` / `Scaler` on one float feature tensor, one step per model
    /// feature; the columns are named by the data it is served on.
    Numeric(Vec<NumericStep>),
    /// One graph input per column (numeric or text): the pipeline on those
    /// columns, named as the inputs and in their order. The model's
    /// features are already in the pipeline's output order.
    Columns(FittedPipeline),
}

impl Preprocessing {
    /// The columns a per-column file reads, with their kinds; `None` for a
    /// file whose columns are named by the data.
    pub fn columns(&self) -> Option<Vec<(String, crate::data::FeatureKind)>> {
        match self {
            Preprocessing::Numeric(_) => None,
            Preprocessing::Columns(p) => Some(
                p.steps
                    .iter()
                    .map(|s| {
                        let kind = match s {
                            Step::Numeric { .. } => crate::data::FeatureKind::Numeric,
                            Step::OneHot { .. } => crate::data::FeatureKind::Categorical,
                        };
                        (s.name().to_string(), kind)
                    })
                    .collect(),
            ),
        }
    }
}

/// One feature's preprocessing as the file holds it:
/// `(x, or fill when x is NaN, − center) × inv_scale`. The values are the
/// file's `f32` constants, widened exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericStep {
    /// `NaN` when the file has no `Imputer` (missing stays missing).
    pub fill: f64,
    pub center: f64,
    pub inv_scale: f64,
}

/// The pipeline that serves an imported model on raw columns `names`: the
/// file's preprocessing when it has some, else a passthrough. A per-column
/// file names its own columns; `names` must be those, in its order.
pub fn imported_pipeline(pre: Option<&Preprocessing>, names: &[String]) -> Result<FittedPipeline> {
    let steps = match pre {
        None => return Ok(FittedPipeline::passthrough(names)),
        Some(Preprocessing::Columns(p)) => {
            let own: Vec<&str> = p.steps.iter().map(Step::name).collect();
            if own != names {
                return Err(Error::onnx(
                    "preprocessing",
                    format!(
                        "the file reads columns {}, not {}",
                        own.join(", "),
                        names.join(", ")
                    ),
                ));
            }
            return Ok(p.clone());
        }
        Some(Preprocessing::Numeric(steps)) => steps,
    };
    if steps.len() != names.len() {
        return Err(Error::onnx(
            "preprocessing",
            format!(
                "{} preprocessing steps for {} columns ({})",
                steps.len(),
                names.len(),
                names.join(", ")
            ),
        ));
    }
    let scale = steps.iter().any(|s| s.center != 0.0 || s.inv_scale != 1.0);
    Ok(FittedPipeline {
        // Descriptive only: the statistics come from the file.
        config: PipelineConfig {
            numeric_impute: NumericImpute::Constant,
            scale,
            ..PipelineConfig::default()
        },
        steps: steps
            .iter()
            .zip(names)
            .map(|(s, name)| Step::Numeric {
                name: name.clone(),
                fill: s.fill,
                center: s.center,
                inv_scale: s.inv_scale,
            })
            .collect(),
    })
}
