//! Float tree ensembles against their binned (lossless) and int8 forms,
//! single-row model-only prediction, side by side in one run, on the
//! lesson's exercise-1 data (synthetic 10,000 × 30): the 300 × depth-6
//! boosted teacher, and a 100-tree forest.
//!
//! cargo bench --bench quantized

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use optbench::data::SyntheticSpec;
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::train::{train, CandidateSpec};
use std::hint::black_box;

fn bench_quantized(c: &mut Criterion) {
    let prepared = common::Prepared::new(SyntheticSpec {
        n_samples: 10_000,
        n_features: 30,
        ..SyntheticSpec::default()
    });
    let common::Prepared {
        test_set,
        x_test,
        d,
        ..
    } = &prepared;
    let (d, td) = (*d, prepared.train_data());
    let specs = [
        CandidateSpec::GradientBoosting {
            n_trees: 300,
            learning_rate: 0.1,
            max_depth: 6,
            min_samples_leaf: 1,
            subsample: 1.0,
            l2_regularization: 0.0,
            max_bins: 255,
            class_weight: Default::default(),
        },
        CandidateSpec::RandomForest {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
            class_weight: Default::default(),
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
            let model = form.model.compile().expect("trained models compile");
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
