//! # optbench
//!
//! Takes a tabular classification problem from "it works in my notebook" to
//! "a model that is provably fast, small and safe to serve": it trains
//! candidates, measures them all the same honest way, draws the
//! latency–accuracy Pareto frontier, picks the most accurate model whose p99
//! fits a latency budget, and packages it with its preprocessing.
//!
//! ```text
//!  data ──► pipeline.fit ──► train (front ends) ──► model (IR) ──► optimize ──► measure ──► select ──► report
//!  (csv,                     in-house logistic       Linear,        prune,        accuracy,   Pareto,     SVG, HTML,
//!   synthetic)               regression, trees,      TreeEnsemble,  truncate,     latency,    budget      JSON, CSV
//!                            forests and GBM         quantized      quantize,     size                     │
//!                                                    forms          distill                                ▼
//!                                                                                  artifact (pipeline + model)
//! ```
//!
//! Who may import whom (lower layers never import higher ones):
//! `data` ← `pipeline` ← `train`; `model` stands alone (the saved forms,
//! and `model::compiled`, what they compile to for predicting); `optimize` uses
//! model and train; `measure` uses data,
//! pipeline and model; `select` uses measurement figures only; `report`
//! renders results; `artifact` uses data, pipeline and model (and serves
//! CSV files through them: `predict`); `drift` uses data, artifact and the
//! report's HTML helpers; `onnx` (ONNX out and in) uses data, pipeline
//! and model; `run` ties them together (training runs, imported models,
//! `bench` and cold starts of saved packages);
//! the binary (`cli`) only parses, draws progress and maps errors to exit
//! codes.
//!
//! From config to artifact to prediction:
//!
//! ```no_run
//! use optbench::{artifact::Artifact, config::{Overrides, Plan}, data::Value, progress::Silent};
//! let plan = Plan::load(None, &Overrides { budget_ms: Some(50.0), ..Default::default() })?;
//! let outcome = optbench::run::run(&plan, &Silent)?;
//! println!("{}", outcome.results.reason);
//! let artifact = Artifact::load(&plan.out.join("model"))?;
//! let mut predictor = artifact.predictor(); // buffers made once: no allocation per row
//! // Numeric columns only: a row of numbers, NaN for a missing value (the fast form).
//! let row = [0.0f64; 20];
//! let class = predictor.predict_numbers(&row).map_err(|e| e.to_error(&artifact.schema, 1))?;
//! println!("predicted {}", artifact.metadata.classes[class as usize]);
//! // Any schema: typed cells, `Value::Text` for a category.
//! let cells = [Value::Number(0.0); 20];
//! assert_eq!(predictor.predict(&cells).ok(), Some(class));
//! # Ok::<(), optbench::Error>(())
//! ```

pub mod artifact;
/// Versions and commit recorded at build time (see `build.rs`).
pub mod build_info {
    include!(concat!(env!("OUT_DIR"), "/versions.rs"));
}
pub mod config;
pub mod data;
pub mod drift;
pub mod error;
pub mod fsutil;
pub mod loadtest;
pub mod measure;
pub mod model;
pub mod onnx;
pub mod optimize;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod run;
pub mod select;
pub mod serve;
pub mod timefmt;
pub mod train;

pub use error::{Error, Result};
