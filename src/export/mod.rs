//! ONNX in both directions: the IR written as an ONNX graph, and ONNX
//! classifier graphs (as skl2onnx writes them, and as optbench writes them)
//! read back into the IR.
//!
//! Uses `model`, `pipeline` and `data` (the input schema). Key items:
//! [`serving_to_onnx`] (the whole serving path: per-column inputs, the
//! fitted pipeline, the model), [`GraphBuilder`], [`append_pipeline`],
//! [`append_model`], [`model_to_onnx`] (the model alone), [`write_onnx`],
//! and [`import_onnx`] / [`read_onnx`].
//!
//! Opsets written: `ai.onnx` [`OPSET`] and `ai.onnx.ml` [`OPSET_ML`], IR
//! version [`IR_VERSION`]. The messages are prost types generated once from
//! the official `onnx-ml.proto` (see `proto/onnx.rs` for how), so the file is
//! a real protobuf encoding of the schema and the build needs no protoc.
//!
//! What a file holds and how it maps to the IR is described in `write.rs`
//! (export), `import.rs` (import) and `columns.rs` (the per-column
//! preprocessing an imported file may hold in front of its model).

mod columns;
mod graph;
mod import;
mod pipeline;
mod write;

/// The ONNX protobuf messages (generated; see the file's header).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod proto {
    include!("proto/onnx.rs");
}

pub use graph::{
    attr_floats, attr_int, attr_ints, attr_string, attr_strings, GraphBuilder, IR_VERSION,
    ML_DOMAIN, OPSET, OPSET_ML,
};
pub use import::{import_onnx, imported_pipeline, read_onnx, Imported, NumericStep, Preprocessing};
pub use pipeline::{append_pipeline, serving_to_onnx};
pub use write::{append_model, model_to_onnx, ModelOutputs};

use crate::error::Result;
use prost::Message;
use std::path::Path;

/// The protobuf bytes of `model`.
pub fn encode(model: &proto::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Writes `model` to `path` atomically.
pub fn write_onnx(path: &Path, model: &proto::ModelProto) -> Result<()> {
    crate::fsutil::write_atomic(path, &encode(model))
}

#[cfg(test)]
mod tests;
