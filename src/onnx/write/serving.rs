//! The whole serving path as one graph: the per-column inputs and the
//! fitted pipeline (`pipeline.rs`) in front of the model (`model.rs`).

use super::model::{append_model, ModelOutputs};
use super::pipeline::append_pipeline;
use crate::data::InputSchema;
use crate::onnx::graph::{GraphBuilder, ML_DOMAIN, OPSET, OPSET_ML};
use crate::pipeline::FittedPipeline;

/// The whole serving path as one ONNX model: one input per column (numeric
/// `double [N, 1]` with `NaN` for missing, categorical `string [N, 1]` with
/// `""` for missing), the fitted pipeline, the model; outputs `label` (class
/// index, int64 `[N]`) and `probabilities` (float `[N, K]`).
pub fn serving_to_onnx(
    schema: &InputSchema,
    pipeline: &FittedPipeline,
    model: &crate::model::Model,
    classes: &[String],
) -> crate::error::Result<crate::onnx::proto::ModelProto> {
    let mut g = GraphBuilder::new("optbench_serving");
    let features = append_pipeline(&mut g, schema, pipeline);
    let out = ModelOutputs::default();
    append_model(&mut g, model, &features, &out)?;
    g.int64_output(&out.label);
    g.float_output(&out.probabilities, model.n_classes());
    let columns: Vec<String> = schema
        .features
        .iter()
        .map(|f| format!("{} ({})", f.name, f.kind))
        .collect();
    Ok(g.finish(&format!(
        "optbench serving path: pipeline + {}; opsets ai.onnx {}, {} {}. Inputs, one per column, [N, 1]: \
         numeric as double (NaN = missing), categorical as string (\"\" = missing): {}. \
         Outputs: `label` (class index into: {}) and `probabilities`.",
        model.describe(),
        OPSET,
        ML_DOMAIN,
        OPSET_ML,
        columns.join(", "),
        classes.join(", ")
    )))
}
