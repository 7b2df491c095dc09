//! Float tree ensembles against their binned (lossless) and int8 forms,
//! single-row model-only prediction, side by side in one run, on the
//! lesson's exercise-1 data (synthetic 10,000 × 30): the 300 × depth-6
//! boosted teacher, and a 100-tree forest.
//!
//! cargo bench --bench quantized

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use optbench::data::{stratified_split, SyntheticSpec};
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::pipeline::{FittedPipeline, PipelineConfig};
use optbench::train::{train, CandidateSpec, TrainData};
use std::hint::black_box;

fn bench_quantized(c: &mut Criterion) {
    let data = SyntheticSpec {
        n_samples: 10_000,
        n_features: 30,
        ..SyntheticSpec::default()
    }
    .generate()
    .expect("a valid spec");
    let (train_set, test_set) = stratified_split(&data, 0.2, 42);
    let pipeline =
        FittedPipeline::fit(&train_set, &PipelineConfig::default()).expect("numeric data");
    let x_train = pipeline.transform(&train_set);
    let x_test = pipeline.transform(&test_set);
    let d = pipeline.n_outputs();
    let td = TrainData {
        x: &x_train,
        n_features: d,
        y: &train_set.y,
        n_classes: 2,
    };
    let specs = [
        CandidateSpec::GradientBoosting {
            n_trees: 300,
            learning_rate: 0.1,
            max_depth: 6,
            min_samples_leaf: 1,
            subsample: 1.0,
            l2_regularization: 0.0,
            max_bins: 255,
        },
        CandidateSpec::RandomForest {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
        },
    ];
    let mut group = c.benchmark_group("quantized");
    for spec in &specs {
        let parent: Candidate = train(spec, &td, 42).expect("training succeeds").into();
        let mut forms = vec![parent.clone()];
        for kind in [QuantizeKind::Bins, QuantizeKind::Int8] {
            forms.push(
                quantize(&parent, kind)
                    .expect("quantizes")
                    .expect("a tree model"),
            );
        }
        for form in &forms {
            let model = &form.model;
            let mut scratch = model.scratch();
            let mut i = 0usize;
            group.bench_function(BenchmarkId::new("model", &form.id), |b| {
                b.iter(|| {
                    i = (i + 1) % test_set.n_rows();
                    black_box(model.predict(black_box(&x_test[i * d..(i + 1) * d]), &mut scratch))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_quantized);
criterion_main!(benches);
