//! ONNX in both directions: the IR written as an ONNX graph, and ONNX
//! classifier graphs (as skl2onnx writes them, and as optbench writes them)
//! read back into the IR.
//!
//! Uses `model`, `pipeline` and `data` (the input schema); nothing outside
//! uses its files but through what this module re-exports. Key items:
//! [`serving_to_onnx`] (the whole serving path: per-column inputs, the
//! fitted pipeline, the model), [`GraphBuilder`], [`append_pipeline`],
//! [`append_model`], [`model_to_onnx`] (the model alone), [`write_onnx`],
//! and [`import_onnx`] / [`read_onnx`] with what they give: [`Imported`],
//! [`Preprocessing`], [`imported_pipeline`].
//!
//! Opsets written: `ai.onnx` [`OPSET`] and `ai.onnx.ml` [`OPSET_ML`], IR
//! version [`IR_VERSION`]. The messages are prost types generated once from
//! the official `onnx-ml.proto` (see `proto/onnx.rs` for how), so the file is
//! a real protobuf encoding of the schema and the build needs no protoc.
//!
//! Layout: `proto/` (the generated messages), `graph.rs` (what both
//! directions share: the opsets and domain, and the graph builder), `write/`
//! (export, one file per job) and `read/` (import, one file per job). `read`
//! and `write` never use each other; what a file holds and how it maps to
//! the IR is described at the top of `write/` and `read/`.

mod graph;
mod read;
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
pub use read::{import_onnx, imported_pipeline, read_onnx, Imported, NumericStep, Preprocessing};
pub use write::{
    append_model, append_pipeline, encode, model_to_onnx, serving_to_onnx, write_onnx, ModelOutputs,
};

#[cfg(test)]
mod tests;
