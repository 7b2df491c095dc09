//! Batch prediction throughput: `Model::predict_batch` on 10,000 rows (and
//! on 1,000, just above the parallel threshold) in rayon pools of 1 and 2
//! threads, side by side in one run, for logistic regression (the cheapest
//! row), boosting 200 × depth 3 and forest 100 on 5,000 × 20 synthetic rows
//! (w1's shape), and the forest's binned and int8 forms. Criterion reports
//! time per batch; rows/s = rows ÷ time.
//! Beside each batch on one thread, the same rows predicted one by one
//! (`row_by_row`): what a batch gains over a loop of single-row calls (the
//! deep forest's batches walk blocks of rows tree-major).
//!
//! cargo bench --bench batch

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use optbench::data::SyntheticSpec;
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::train::{train, CandidateSpec};
use std::hint::black_box;

fn bench_batch(c: &mut Criterion) {
    let prepared = common::Prepared::new(SyntheticSpec::default());
    let common::Prepared {
        test_set,
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
        CandidateSpec::GradientBoosting {
            n_trees: 200,
            learning_rate: 0.1,
            max_depth: 3,
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
    let pools: Vec<(usize, rayon::ThreadPool)> = [1, 2]
        .into_iter()
        .map(|n| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("a thread pool");
            (n, pool)
        })
        .collect();
    let mut group = c.benchmark_group("batch");
    let mut forms: Vec<Candidate> = Vec::new();
    for spec in &specs {
        let parent: Candidate = train(spec, &td, 42).expect("training succeeds").into();
        let kinds = match spec {
            CandidateSpec::RandomForest { .. } => vec![QuantizeKind::Bins, QuantizeKind::Int8],
            _ => Vec::new(),
        };
        let quantized: Vec<Candidate> = kinds
            .into_iter()
            .map(|kind| {
                quantize(&parent, kind)
                    .expect("quantizes")
                    .expect("a tree model")
            })
            .collect();
        forms.push(parent);
        forms.extend(quantized);
    }
    for t in &forms {
        let model = t.model.compile().expect("trained models compile");
        for rows in [1_000usize, 10_000] {
            // The test rows, cycled.
            let batch: Vec<f32> = (0..rows)
                .flat_map(|i| x_test[(i % test_set.n_rows()) * d..][..d].to_vec())
                .collect();
            group.throughput(Throughput::Elements(rows as u64));
            let mut out = Vec::with_capacity(rows);
            let mut scratch = model.scratch();
            group.bench_function(
                BenchmarkId::new("row_by_row", format!("{}/{rows}_rows/1_threads", t.id)),
                |b| {
                    b.iter(|| {
                        out.clear();
                        for row in black_box(&batch).chunks_exact(d) {
                            out.push(model.predict(row, &mut scratch));
                        }
                        black_box(out.len())
                    })
                },
            );
            for (threads, pool) in &pools {
                let id = format!("{}/{rows}_rows/{threads}_threads", t.id);
                group.bench_function(BenchmarkId::new("predict_batch", id), |b| {
                    pool.install(|| {
                        b.iter(|| {
                            model.predict_batch(black_box(&batch), &mut out);
                            black_box(out.len())
                        })
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_batch);
criterion_main!(benches);
