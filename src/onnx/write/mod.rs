//! IR → ONNX: the serving path as a graph. One file per job:
//! `model.rs` (the model's nodes: scores, link, label), `pipeline.rs` (the
//! fitted pipeline's nodes behind one graph input per column),
//! `serving.rs` (both in one model). Graphs are built with the shared
//! [`GraphBuilder`](crate::onnx::GraphBuilder) and written here, as
//! protobuf bytes.

mod model;
mod pipeline;
mod serving;

pub use model::{append_model, model_to_onnx, ModelOutputs};
pub use pipeline::append_pipeline;
pub use serving::serving_to_onnx;

use crate::error::Result;
use crate::onnx::proto::ModelProto;
use prost::Message;
use std::path::Path;

/// The protobuf bytes of `model`.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Writes `model` to `path` atomically.
pub fn write_onnx(path: &Path, model: &ModelProto) -> Result<()> {
    crate::fsutil::write_atomic(path, &encode(model))
}
