//! The setup every prediction bench shares: a synthetic table, its seeded
//! 80/20 split, the fitted pipeline and the preprocessed rows.

// Each bench compiles this module on its own and uses part of it.
#![allow(dead_code)]

use optbench::data::{stratified_split, Dataset, SyntheticSpec};
use optbench::pipeline::{FittedPipeline, PipelineConfig};
use optbench::train::{CandidateSpec, TrainData};

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

/// The peer comparison's tree shapes on synthetic data of the shared splits'
/// sizes: forest 100 and boosting 200 × depth 3 on 5,000 × 20 rows (w1),
/// forest 100 and boosting 300 × depth 6 on 10,000 × 30 (w2).
pub fn peer_shapes() -> [(&'static str, SyntheticSpec, [CandidateSpec; 2]); 2] {
    let spec = |n_samples, n_features| SyntheticSpec {
        n_samples,
        n_features,
        ..SyntheticSpec::default()
    };
    [
        (
            "w1",
            spec(5_000, 20),
            [
                CandidateSpec::random_forest(100),
                CandidateSpec::gradient_boosting(200, 3),
            ],
        ),
        (
            "w2",
            spec(10_000, 30),
            [
                CandidateSpec::random_forest(100),
                CandidateSpec::gradient_boosting(300, 6),
            ],
        ),
    ]
}
