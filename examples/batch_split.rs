//! When does splitting a batch across two threads pay? Measures it for
//! `CompiledModel::predict_batch`'s threshold for splitting a batch (`src/model/compiled/batch.rs`).
//!
//! For models from the cheapest row (logistic regression) to the dearest
//! (forest 100, unlimited depth) on w1's shape (5,000 × 20 synthetic rows),
//! and batches of 1 to 4,096 rows, it times the batch on the calling thread
//! and split in two halves across a 2-thread rayon pool (one task each),
//! interleaved in rounds, median of the rounds; and `Model::predict_batch`
//! itself, which decides by the cost it measures. It prints, per model, the
//! sequential cost of one row, the smallest batch from which the split is
//! faster in every larger size measured, and both ratios to sequential.
//!
//! Needs two quiet cores: the split's cost is waking the second one.
//!
//! cargo run --release --example batch_split [-- ROUNDS]

use optbench::data::{stratified_split, SyntheticSpec};
use optbench::model::CompiledModel;
use optbench::pipeline::{FittedPipeline, PipelineConfig};
use optbench::train::{train, CandidateSpec, TrainData};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Instant;

const SIZES: [usize; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096];

fn sequential(model: &CompiledModel, rows: &[f32], d: usize, out: &mut [u32]) {
    let mut scratch = model.scratch();
    for (r, o) in rows.chunks_exact(d).zip(out) {
        *o = model.predict(r, &mut scratch);
    }
}

fn split(model: &CompiledModel, rows: &[f32], d: usize, out: &mut [u32]) {
    let n = out.len();
    let half = n.div_ceil(2);
    rows[..n * d]
        .par_chunks(half * d)
        .zip(out.par_chunks_mut(half))
        .for_each(|(r, o)| sequential(model, r, d, o));
}

/// Median of `rounds` timings of `f`, each over enough repetitions to last
/// about 200 µs.
fn median_ns(rounds: &mut [Vec<f64>], i: usize, reps: usize, mut f: impl FnMut()) {
    let t0 = Instant::now();
    for _ in 0..reps {
        f();
    }
    rounds[i].push(t0.elapsed().as_nanos() as f64 / reps as f64);
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ROUNDS is a whole number"))
        .unwrap_or(15);
    let data = SyntheticSpec {
        n_samples: 5_000,
        n_features: 20,
        ..SyntheticSpec::default()
    }
    .generate()
    .expect("a valid spec");
    let (train_set, test_set) = stratified_split(&data, 0.2, 42);
    let pipeline = FittedPipeline::fit(&train_set, &PipelineConfig::default()).expect("numeric");
    let (x_train, x_test) = (
        pipeline.transform(&train_set),
        pipeline.transform(&test_set),
    );
    let d = pipeline.n_outputs();
    let td = TrainData {
        x: &x_train,
        n_features: d,
        y: &train_set.y,
        n_classes: train_set.n_classes(),
    };
    let specs = [
        CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 200,
            class_weight: Default::default(),
        },
        CandidateSpec::gradient_boosting(50, 3),
        CandidateSpec::gradient_boosting(200, 3),
        CandidateSpec::random_forest(10),
        CandidateSpec::random_forest(100),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a thread pool");
    let n_test = test_set.n_rows();
    let batch: Vec<f32> = (0..SIZES[SIZES.len() - 1])
        .flat_map(|i| x_test[(i % n_test) * d..][..d].to_vec())
        .collect();
    println!(
        "| model | 1 row, sequential | break-even batch | split in two / sequential at 8, 64, 1,024, 4,096 rows | predict_batch / sequential |"
    );
    println!("|---|---|---|---|---|");
    for spec in &specs {
        let t = train(spec, &td, 42).expect("training succeeds");
        let model = &t.model.compile().expect("trained models compile");
        let mut out = vec![0u32; SIZES[SIZES.len() - 1]];
        // Per size: sequential and split timings, rounds interleaved.
        let mut seq = vec![Vec::new(); SIZES.len()];
        let mut par = vec![Vec::new(); SIZES.len()];
        let mut auto = vec![Vec::new(); SIZES.len()];
        let mut classes = Vec::with_capacity(SIZES[SIZES.len() - 1]);
        // Repetitions per size so a timing lasts ~200 µs (from a first pass).
        let one_row = {
            let t0 = Instant::now();
            sequential(model, &batch[..1024 * d], d, &mut out[..1024]);
            t0.elapsed().as_nanos() as f64 / 1024.0
        };
        let reps: Vec<usize> = SIZES
            .iter()
            .map(|&n| ((200_000.0 / (one_row * n as f64)) as usize).clamp(3, 10_000))
            .collect();
        pool.install(|| {
            for _ in 0..rounds {
                for (i, &n) in SIZES.iter().enumerate() {
                    let (rows, o) = (&batch[..n * d], &mut out[..n]);
                    median_ns(&mut seq, i, reps[i], || {
                        sequential(model, black_box(rows), d, o);
                    });
                    median_ns(&mut par, i, reps[i], || split(model, black_box(rows), d, o));
                    median_ns(&mut auto, i, reps[i], || {
                        model.predict_batch(black_box(rows), &mut classes);
                    });
                }
            }
        });
        let ratio: Vec<f64> = (0..SIZES.len())
            .map(|i| median(&mut par[i]) / median(&mut seq[i]))
            .collect();
        let auto_ratio: Vec<f64> = (0..SIZES.len())
            .map(|i| median(&mut auto[i]) / median(&mut seq[i]))
            .collect();
        let per_row = median(&mut seq[SIZES.len() - 1].clone()) / SIZES[SIZES.len() - 1] as f64;
        let even = (0..SIZES.len())
            .find(|&i| ratio[i..].iter().all(|&r| r < 1.0))
            .map_or("never".to_string(), |i| {
                format!(
                    "{} rows (~{:.0} µs of work)",
                    SIZES[i],
                    SIZES[i] as f64 * per_row / 1e3
                )
            });
        let at = |r: &[f64]| {
            [8, 64, 1024, 4096]
                .map(|n| {
                    format!(
                        "{:.2}",
                        r[SIZES.iter().position(|&s| s == n).expect("a size")]
                    )
                })
                .join(" / ")
        };
        println!(
            "| {} | {:.0} ns | {even} | {} | {} |",
            t.id,
            per_row,
            at(&ratio),
            at(&auto_ratio)
        );
    }
}
