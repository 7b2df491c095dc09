//! The setup every prediction bench shares: a synthetic table, its seeded
//! 80/20 split, the fitted pipeline and the preprocessed rows.

// Each bench compiles this module on its own and uses part of it.
#![allow(dead_code)]

use optbench::data::{stratified_split, Dataset, SyntheticSpec};
use optbench::pipeline::{FittedPipeline, PipelineConfig};
use optbench::train::TrainData;

pub struct Prepared {
    pub train_set: Dataset,
    pub test_set: Dataset,
    pub pipeline: FittedPipeline,
    pub x_train: Vec<f32>,
    pub x_test: Vec<f32>,
    /// Width of a preprocessed row.
    pub d: usize,
}

impl Prepared {
    pub fn new(spec: SyntheticSpec) -> Prepared {
        let data = spec.generate().expect("a valid spec");
        let (train_set, test_set) = stratified_split(&data, 0.2, 42);
        let pipeline =
            FittedPipeline::fit(&train_set, &PipelineConfig::default()).expect("numeric data");
        let x_train = pipeline.transform(&train_set);
        let x_test = pipeline.transform(&test_set);
        let d = pipeline.n_outputs();
        Prepared {
            train_set,
            test_set,
            pipeline,
            x_train,
            x_test,
            d,
        }
    }

    pub fn train_data(&self) -> TrainData<'_> {
        TrainData {
            x: &self.x_train,
            n_features: self.d,
            y: &self.train_set.y,
            n_classes: self.train_set.n_classes(),
        }
    }
}
