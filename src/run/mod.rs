//! `optbench run`, `optbench import` and `optbench bench`: the only place
//! that knows the order of the stages (load → fit the pipeline → train
//! candidates → optimize → measure → select → report → package); each
//! stage lives in its own module.
//!
//! - `train`: training runs ([`run`], [`load_split`]).
//! - `imported`: a model trained elsewhere ([`run_imported`]).
//! - `evaluate`: what both do once their first candidates exist: variants,
//!   measurement, selection, reports, the package and its ONNX export.
//! - `bench`: a saved package's latency and cold start ([`bench_artifact`],
//!   [`cold_starts`]).
//!
//! Uses every stage's module (`data`, `pipeline`, `train`, `optimize`,
//! `measure`, `select`, `report`, `artifact`, `export`); nothing but the
//! binary and tests uses it. Key types: [`Outcome`], [`External`],
//! [`BenchOutcome`].

use crate::report::RunResults;
use std::path::PathBuf;

mod bench;
mod evaluate;
mod imported;
mod served;
mod train;

pub use bench::{bench_artifact, cold_start_probe, cold_starts, BenchOutcome, ColdStart};
pub use imported::{run_imported, External, ImportData};
pub use served::serve_check;
pub use train::{load_split, run};

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub results: RunResults,
    /// The packaged model, when one was chosen.
    pub model_dir: Option<PathBuf>,
}
