//! The native half of `scripts/compare_peers.sh`: optbench's models and
//! TL2cgen's compiled C, timed side by side in one process, one thread, with
//! BENCHMARKS.md's native protocol: rows preloaded, 2,000 warm-up calls each,
//! then 20,000 calls each timed individually (`Instant`), cycling through the
//! test rows, in 10 interleaved rounds of 20 slices each, every subject
//! taking a turn of 100 calls in each slice in an order that rotates (after
//! 8 untimed calls that bring its model back into cache), so a
//! host whose speed changes over milliseconds slows all alike. The ratios
//! still follow the host's state: w1 boosting 200 measured 0.68× TL2cgen in
//! the morning of 2026-11-27, and 0.92× (whole rounds of 2,000 calls) and
//! 0.90× (slices) in its evening, when optbench ran 2–2.5× slower than in
//! the morning and TL2cgen 1.5–1.8×. Also: the mean of untimed blocks of
//! calls (no timer in the loop), node visits per row, and batch throughput
//! on 10,000 rows (optbench at 1 and 2 threads; TL2cgen's per-row `predict`
//! in a loop, one thread).
//!
//! Two optbench models per shape: the one optbench trains itself (the config
//! gives the shapes; compared by nanoseconds per node visit, since its trees
//! differ from scikit-learn's), and **the identical trees**: scikit-learn's
//! model as skl2onnx wrote it (`onnx_path` in peers.json), imported with
//! `optbench::onnx::read_onnx` and timed in the same rounds as TL2cgen's
//! compiled C of that same model, on the same raw rows.
//!
//! ```text
//! cargo run --release --example peers_native -- --config configs/peers/w1.toml \
//!   --train TRAIN.csv --test TEST.csv --target label \
//!   --peers target/peers/peers.json --workload w1 --out target/peers/native-w1.json
//! ```
//! The TL2cgen library of each model is `<c_dir>/libpredictor.so` (the
//! script compiles it with `gcc -O3`).

use optbench::config::{Overrides, Plan};
use optbench::model::{CompiledModel, Model, TreeEnsemble};
use optbench::onnx::read_onnx;
use optbench::pipeline::FittedPipeline;
use optbench::train::{train, TrainData};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

const WARMUP: usize = 2_000;
const TIMED: usize = 20_000;
const ROUNDS: usize = 10;
/// Turns per subject and round (see the module docs).
const SLICES: usize = 20;
/// Untimed calls per subject and round, in [`SLICES`] parts.
const BLOCK: usize = 1_000;
/// Untimed, uncounted calls at the start of each turn, on rows past the
/// turn's: they bring the model back into the caches the other subjects'
/// turns used, as optbench's harness does (`measure::REWARM_CALLS`).
/// Without them the sliced protocol timed each turn's first calls cold: w1
/// forest 100's p99 read 42 µs (TL2cgen's 75) without them and 29 µs (48)
/// with them, in the same evening.
const REWARM: usize = 8;
const BATCH_ROWS: usize = 10_000;

/// TL2cgen's generated `predict(union Entry* data, int pred_margin, double* result)`.
/// `union Entry { int missing; double fvalue; int qvalue; }` is 8 bytes; a
/// row of `f64` values is a row of entries (no value here is missing).
type PredictFn = unsafe extern "C" fn(*const f64, i32, *mut f64);
type NumClassFn = unsafe extern "C" fn(*mut i32);

struct Compiled {
    _lib: libloading::Library,
    predict: PredictFn,
    /// Values `predict` writes per row.
    width: usize,
}

impl Compiled {
    fn load(path: &std::path::Path) -> Compiled {
        // SAFETY: the library is TL2cgen's generated code, compiled by the
        // script; the symbols have the signatures of its `header.h`.
        unsafe {
            let lib = libloading::Library::new(path)
                .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
            let predict: PredictFn = *lib.get::<PredictFn>(b"predict").expect("predict symbol");
            let num_class: NumClassFn = *lib
                .get::<NumClassFn>(b"get_num_class")
                .expect("get_num_class symbol");
            let mut k = 0i32;
            num_class(&mut k);
            Compiled {
                _lib: lib,
                predict,
                width: k.max(1) as usize,
            }
        }
    }

    /// The class of one row (probabilities: threshold 0.5 for one output,
    /// else the first highest, as scikit-learn decides).
    #[inline]
    fn class(&self, row: &[f64], out: &mut [f64; 16]) -> u32 {
        out[..self.width].fill(0.0);
        // SAFETY: `row` has the model's features, `out` room for its outputs.
        unsafe { (self.predict)(row.as_ptr(), 0, out.as_mut_ptr()) };
        if self.width == 1 {
            u32::from(out[0] > 0.5)
        } else {
            let mut best = 0;
            for k in 1..self.width {
                if out[k] > out[best] {
                    best = k;
                }
            }
            best as u32
        }
    }
}

fn arg(args: &[String], name: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .unwrap_or_else(|| panic!("missing {name}"))
        .clone()
}

/// Nodes on the row's path (leaf included), summed over trees.
fn visits(ens: &TreeEnsemble, row: &[f32]) -> usize {
    let mut total = 0;
    for &root in &ens.roots {
        let mut i = root as usize;
        loop {
            total += 1;
            let n = &ens.nodes[i];
            if n.is_leaf() {
                break;
            }
            i = if row[n.feature as usize] <= n.threshold {
                n.left
            } else {
                n.right
            } as usize;
        }
    }
    total
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// One contender's timed calls and untimed block means.
#[derive(Default)]
struct Timing {
    ns: Vec<u64>,
    /// Mean ns per untimed call, one per round.
    blocks: Vec<f64>,
    /// This round's untimed calls so far: total ns and count.
    block_ns: u128,
    block_calls: usize,
}

impl Timing {
    /// One turn: [`REWARM`] untimed calls, then `calls` calls each timed
    /// with `Instant` (rows `start..`), then `block` untimed calls (the rows
    /// after them), timed together.
    fn turn(&mut self, start: usize, calls: usize, block: usize, mut call: impl FnMut(usize)) {
        for j in start + calls + block..start + calls + block + REWARM {
            call(j);
        }
        for j in start..start + calls {
            let t0 = Instant::now();
            call(j);
            self.ns.push(t0.elapsed().as_nanos() as u64);
        }
        let t0 = Instant::now();
        for j in start + calls..start + calls + block {
            call(j);
        }
        self.block_ns += t0.elapsed().as_nanos();
        self.block_calls += block;
    }

    /// Closes a round: its untimed calls' mean.
    fn end_round(&mut self) {
        if self.block_calls > 0 {
            self.blocks
                .push(self.block_ns as f64 / self.block_calls as f64);
        }
        (self.block_ns, self.block_calls) = (0, 0);
    }

    fn summary(&self) -> Value {
        let mut ns = self.ns.clone();
        ns.sort_unstable();
        let mut blocks = self.blocks.clone();
        blocks.sort_by(f64::total_cmp);
        json!({
            "p50_ns": percentile(&ns, 0.5),
            "p99_ns": percentile(&ns, 0.99),
            "calls": ns.len(),
            "block_mean_ns": blocks[blocks.len() / 2],
        })
    }
}

/// Median cost of two back-to-back `Instant::now()` reads.
fn timer_overhead() -> u64 {
    let mut v: Vec<u64> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let overrides = Overrides {
        train: Some(PathBuf::from(arg(&args, "--train"))),
        test: Some(PathBuf::from(arg(&args, "--test"))),
        target: Some(arg(&args, "--target")),
        ..Default::default()
    };
    let config = PathBuf::from(arg(&args, "--config"));
    let plan = Plan::load(Some(&config), &overrides).expect("a valid config");
    let workload = arg(&args, "--workload");
    let peers: Value = serde_json::from_str(
        &std::fs::read_to_string(arg(&args, "--peers")).expect("peers.json is readable"),
    )
    .expect("peers.json is JSON");

    let split = optbench::run::load_split(&plan).expect("the CSV files load");
    let pipeline = FittedPipeline::fit(&split.train, &plan.pipeline).expect("a pipeline");
    let x_train = pipeline.transform(&split.train);
    let x_test = pipeline.transform(&split.test);
    let d = pipeline.n_outputs();
    let n_test = split.test.n_rows();
    let data = TrainData {
        x: &x_train,
        n_features: d,
        y: &split.train.y,
        n_classes: split.train.n_classes(),
    };
    // scikit-learn's trees compare float32 features (against float64
    // thresholds): give the compiled code the same values.
    let raw_test: Vec<f64> = split.test.x.iter().map(|&v| f64::from(v as f32)).collect();
    let d_raw = split.test.n_features();
    let overhead = timer_overhead();

    let mut out = Vec::new();
    for spec in &plan.candidates {
        let t = train(spec, &data, plan.seed).expect("training succeeds");
        let model = &t.model;
        let peer = peers["models"]
            .as_array()
            .expect("models")
            .iter()
            .find(|m| m["workload"] == workload.as_str() && m["key"] == t.id.as_str());
        let compiled = peer
            .and_then(|p| p["treelite"]["c_dir"].as_str())
            .map(|dir| Compiled::load(&PathBuf::from(dir).join("libpredictor.so")));
        eprintln!("[native] {workload} {}: timing", t.id);

        // The identical trees: scikit-learn's model as skl2onnx wrote it,
        // imported into optbench. It reads the raw features (as float32,
        // like the ONNX file), not optbench's preprocessed ones.
        let same = peer
            .filter(|_| compiled.is_some())
            .and_then(|p| p["onnx_path"].as_str())
            .map(|path| {
                let imported = read_onnx(std::path::Path::new(path))
                    .unwrap_or_else(|e| panic!("cannot import {path}: {e}"));
                assert!(
                    imported.preprocessing.is_none(),
                    "{path}: a plain model was expected"
                );
                imported.model
            });
        let raw_test32: Vec<f32> = raw_test.iter().map(|&v| v as f32).collect();

        let run = model.compile().expect("trained models compile");
        let same_run = same
            .as_ref()
            .map(|m| m.compile().expect("imported models compile"));
        let mut scratch = run.scratch();
        let mut same_scratch = same_run.as_ref().map(CompiledModel::scratch);
        let mut tl_out = [0.0f64; 16];
        let ob_row = |i: usize| &x_test[(i % n_test) * d..(i % n_test + 1) * d];
        let tl_row = |i: usize| &raw_test[(i % n_test) * d_raw..(i % n_test + 1) * d_raw];
        let same_row = |i: usize| &raw_test32[(i % n_test) * d_raw..(i % n_test + 1) * d_raw];
        for i in 0..WARMUP {
            black_box(run.predict(black_box(ob_row(i)), &mut scratch));
            if let Some(c) = &compiled {
                black_box(c.class(black_box(tl_row(i)), &mut tl_out));
            }
            if let (Some(m), Some(s)) = (&same_run, &mut same_scratch) {
                black_box(m.predict(black_box(same_row(i)), s));
            }
        }
        let (mut ob, mut tl, mut sm) = (Timing::default(), Timing::default(), Timing::default());
        let (calls, block) = (TIMED / ROUNDS / SLICES, BLOCK / SLICES);
        let mut i = 0usize;
        for _ in 0..ROUNDS {
            for slice in 0..SLICES {
                // Every subject serves the same rows in a slice; who goes
                // first rotates.
                for k in 0..3 {
                    match (k + slice) % 3 {
                        0 => ob.turn(i, calls, block, |j| {
                            black_box(run.predict(black_box(ob_row(j)), &mut scratch));
                        }),
                        1 => {
                            if let Some(c) = &compiled {
                                tl.turn(i, calls, block, |j| {
                                    black_box(c.class(black_box(tl_row(j)), &mut tl_out));
                                });
                            }
                        }
                        _ => {
                            if let (Some(m), Some(s)) = (&same_run, &mut same_scratch) {
                                sm.turn(i, calls, block, |j| {
                                    black_box(m.predict(black_box(same_row(j)), s));
                                });
                            }
                        }
                    }
                }
                i += calls + block;
            }
            for t in [&mut ob, &mut tl, &mut sm] {
                t.end_round();
            }
        }

        // Batch throughput on 10,000 rows (the test rows, cycled).
        let batch: Vec<f32> = (0..BATCH_ROWS).flat_map(|i| ob_row(i).to_vec()).collect();
        let mut classes = Vec::with_capacity(BATCH_ROWS);
        let best_rate = |f: &mut dyn FnMut()| {
            f();
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let t0 = Instant::now();
                f();
                best = best.min(t0.elapsed().as_secs_f64());
            }
            BATCH_ROWS as f64 / best
        };
        let pools: Vec<(usize, rayon::ThreadPool)> = [1usize, 2]
            .into_iter()
            .map(|threads| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a thread pool");
                (threads, pool)
            })
            .collect();
        let mut batch_rates = |m: &CompiledModel, rows: &[f32]| {
            let mut rates = serde_json::Map::new();
            for (threads, pool) in &pools {
                let rate = pool
                    .install(|| best_rate(&mut || m.predict_batch(black_box(rows), &mut classes)));
                rates.insert(format!("threads_{threads}"), json!(rate));
            }
            rates
        };
        let ob_batch = batch_rates(&run, &batch);

        let visits_per_row = match model {
            Model::Trees(ens) => {
                let total: usize = (0..n_test).map(|i| visits(ens, ob_row(i))).sum();
                Some(total as f64 / n_test as f64)
            }
            _ => None,
        };
        let mut entry = json!({
            "key": t.id,
            "model": model.describe(),
            "visits_per_row": visits_per_row,
            "optbench": ob.summary(),
            "optbench_batch_rows_per_s": ob_batch,
        });
        if let Some(c) = &compiled {
            let correct = (0..n_test)
                .filter(|&i| c.class(tl_row(i), &mut tl_out) == split.test.y[i])
                .count();
            let sk: Vec<u32> = peer.expect("a peer")["sklearn_pred"]
                .as_array()
                .expect("labels")
                .iter()
                .map(|v| v.as_u64().expect("a label") as u32)
                .collect();
            let agree = (0..n_test)
                .filter(|&i| c.class(tl_row(i), &mut tl_out) == sk[i])
                .count();
            let raw_batch: Vec<f64> = (0..BATCH_ROWS).flat_map(|i| tl_row(i).to_vec()).collect();
            let rate = best_rate(&mut || {
                for r in raw_batch.chunks_exact(d_raw) {
                    black_box(c.class(r, &mut tl_out));
                }
            });
            entry["treelite"] = tl.summary();
            entry["treelite"]["accuracy"] = json!(correct as f64 / n_test as f64);
            entry["treelite"]["agreement_with_sklearn"] = json!(agree as f64 / n_test as f64);
            entry["treelite"]["batch_rows_per_s"] = json!(rate);
        }
        if let (Some(m), Some(c), Some(m_run)) = (&same, &compiled, &same_run) {
            let mut s = m_run.scratch();
            let agree = (0..n_test)
                .filter(|&i| m_run.predict(same_row(i), &mut s) == c.class(tl_row(i), &mut tl_out))
                .count();
            let raw_batch: Vec<f32> = (0..BATCH_ROWS).flat_map(|i| same_row(i).to_vec()).collect();
            entry["optbench_same_trees"] = sm.summary();
            entry["optbench_same_trees"]["model"] = json!(m.describe());
            entry["optbench_same_trees"]["agreement_with_treelite"] =
                json!(agree as f64 / n_test as f64);
            entry["optbench_same_trees"]["batch_rows_per_s"] =
                json!(batch_rates(m_run, &raw_batch));
        }
        out.push(entry);
    }
    let doc = json!({ "workload": workload, "timer_overhead_ns": overhead, "models": out });
    std::fs::write(
        arg(&args, "--out"),
        serde_json::to_string_pretty(&doc).expect("JSON"),
    )
    .expect("the output is writable");
}
