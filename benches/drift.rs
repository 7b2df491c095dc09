//! Drift statistics at the sizes that matter: KS on a million values a side
//! (asymptotic branch) and at the exact branch's limit (10,000 a side), the
//! quantile bins + PSI + JS of one feature, and the whole `detect` on two
//! generated 100,000 × 20 CSV files (read, sort, test, correct).
//!
//! cargo bench --bench drift

use criterion::{criterion_group, criterion_main, Criterion};
use optbench::drift::{detect, ks, stats, DriftConfig, DriftInputs};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::fmt::Write as _;
use std::hint::black_box;

fn normal_sorted(n: usize, shift: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = Normal::new(shift, 1.0).expect("valid normal");
    let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

fn write_csv(path: &std::path::Path, rows: usize, cols: usize, shift: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = Normal::new(shift, 1.0).expect("valid normal");
    let mut s = (0..cols)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for _ in 0..rows {
        for j in 0..cols {
            let sep = if j + 1 == cols { '\n' } else { ',' };
            let _ = write!(s, "{:.6}{sep}", d.sample(&mut rng));
        }
    }
    std::fs::write(path, s).expect("write bench input");
}

fn bench_stats(c: &mut Criterion) {
    let mut g = c.benchmark_group("drift_stats");
    g.sample_size(10);
    let a = normal_sorted(1_000_000, 0.0, 1);
    let b = normal_sorted(1_000_000, 0.01, 2);
    g.bench_function("ks_2samp_1M_vs_1M_asymptotic", |bn| {
        bn.iter(|| black_box(ks::ks_2samp(black_box(&a), black_box(&b))))
    });
    let a10 = normal_sorted(10_000, 0.0, 3);
    let b10 = normal_sorted(10_000, 0.05, 4);
    g.bench_function("ks_2samp_10k_vs_10k_exact", |bn| {
        bn.iter(|| black_box(ks::ks_2samp(black_box(&a10), black_box(&b10))))
    });
    let b9 = normal_sorted(9_999, 0.05, 5);
    g.bench_function("ks_2samp_10k_vs_9999_exact_unequal", |bn| {
        bn.iter(|| black_box(ks::ks_2samp(black_box(&a10), black_box(&b9))))
    });
    g.bench_function("bins_psi_js_1M", |bn| {
        bn.iter(|| {
            let edges = stats::quantile_edges(black_box(&a), 10);
            let rc = stats::bin_counts_sorted(&a, &edges);
            let cc = stats::bin_counts_sorted(&b, &edges);
            black_box((stats::psi(&rc, &cc), stats::js_distance(&rc, &cc)))
        })
    });
    g.finish();
}

fn bench_detect(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (r, cur) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    write_csv(&r, 100_000, 20, 0.0, 6);
    write_csv(&cur, 100_000, 20, 0.02, 7);
    let inputs = DriftInputs {
        reference: Some(&r),
        logs: Default::default(),
        current: &cur,
        target: None,
        model: None,
    };
    let cfg = DriftConfig::default();
    let mut g = c.benchmark_group("drift_detect");
    g.sample_size(10);
    g.bench_function("detect_100k_x20_csv", |bn| {
        bn.iter(|| black_box(detect(&inputs, &cfg).expect("valid inputs").verdict))
    });
    g.finish();
}

criterion_group!(benches, bench_stats, bench_detect);
criterion_main!(benches);
