//! Single-row prediction per model kind, model-only and end-to-end
//! (validate → preprocess → predict; the request as typed cells and as a row
//! of numbers), on the built-in default data.
//! Criterion tracks optbench's own speed over time; `optbench run` measures
//! the product's per-call percentiles.
//!
//! cargo bench --bench predict

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use optbench::data::SyntheticSpec;
use optbench::train::{train, CandidateSpec, SvmKernel};
use std::hint::black_box;

fn bench_predict(c: &mut Criterion) {
    let prepared = common::Prepared::new(SyntheticSpec::default());
    let common::Prepared {
        test_set,
        pipeline,
        x_test,
        d,
        ..
    } = &prepared;
    let (d, td) = (*d, prepared.train_data());
    let specs = [
        CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 200,
            class_weight: Default::default(),
        },
        CandidateSpec::DecisionTree {
            max_depth: Some(10),
            min_samples_leaf: 1,
            class_weight: Default::default(),
        },
        CandidateSpec::RandomForest {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
            class_weight: Default::default(),
        },
        // A kernel model: one kernel row per support vector (here ~1,600).
        CandidateSpec::svm(SvmKernel::Rbf),
    ];
    let raw_rows = test_set.raw_rows();
    let w = test_set.n_features();
    let mut group = c.benchmark_group("single_row");
    for spec in &specs {
        let t = train(spec, &td, 42).expect("training succeeds");
        let model = t.model.compile().expect("trained models compile");
        let mut scratch = model.scratch();
        // Cycle through the held-out rows, as the harness does.
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("model", &t.id), |b| {
            b.iter(|| {
                i = (i + 1) % test_set.n_rows();
                black_box(model.predict(black_box(&x_test[i * d..(i + 1) * d]), &mut scratch))
            })
        });
        let mut buf = vec![0.0f32; d];
        let plan = pipeline.row_plan();
        group.bench_function(BenchmarkId::new("end_to_end", &t.id), |b| {
            b.iter(|| {
                i = (i + 1) % test_set.n_rows();
                let raw = black_box(&raw_rows[i * w..(i + 1) * w]);
                if plan.transform_checked(raw, &mut buf).is_ok() {
                    black_box(model.predict(&buf, &mut scratch));
                }
            })
        });
        // The same rows as a numeric client sends them (this data is all
        // numeric): what `optbench run` measures end to end.
        let numbers = &test_set.x;
        group.bench_function(BenchmarkId::new("end_to_end_numbers", &t.id), |b| {
            b.iter(|| {
                i = (i + 1) % test_set.n_rows();
                let row = black_box(&numbers[i * w..(i + 1) * w]);
                if plan.transform_numbers(row, &mut buf).is_ok() {
                    black_box(model.predict(&buf, &mut scratch));
                }
            })
        });
        let mut out = Vec::with_capacity(test_set.n_rows());
        group.bench_function(BenchmarkId::new("batch_1000_rows", &t.id), |b| {
            b.iter(|| {
                model.predict_batch(black_box(x_test), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_predict);
criterion_main!(benches);
