//! optbench vs onnxruntime (native, one thread) on the same models and rows.
//!
//! Reads the scikit-learn models that `scripts/onnx_native_models.py` wrote
//! (skl2onnx, zipmap off) and their `manifest.tsv`, imports each into
//! optbench (`optbench::onnx::read_onnx`) and opens it in onnxruntime
//! through the `ort` crate; checks that both give the same probabilities on
//! every test row (within [`TOL`]; a difference is an error), then times
//! single-row calls of both, interleaved in rounds (see [`harness`]), plus
//! optbench's binned forms of tree models (`QuantTrees`, f32 and int8 leaves).
//! Prints a Markdown table on stdout; progress goes to stderr.
//!
//! Run it through `scripts/onnx_native_bench.sh`, which makes the models,
//! finds the library in the onnxruntime wheel and sets `ORT_DYLIB_PATH`.

mod harness;
mod onnxruntime;
mod report;

use harness::{Contender, Protocol};
use onnxruntime::OnnxModel;
use optbench::data::{read_csv, ColumnTypes};
use optbench::model::{LeafPrecision, Model, QuantTrees, Scratch, TreeEnsemble};
use report::{Agreement, Row};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Largest allowed |p_optbench − p_onnxruntime| on any class of any row.
const TOL: f32 = 1e-5;

const USAGE: &str =
    "usage: peer_bench MODELS_DIR DATA_ROOT [--rounds N] [--calls N] [--warmup N] [--only FILE]
  MODELS_DIR  folder with manifest.tsv and the .onnx files (scripts/onnx_native_models.py)
  DATA_ROOT   folder holding w1/ and w2/ (test.csv with a `label` column)
  ORT_DYLIB_PATH must name libonnxruntime.so (scripts/onnx_native_bench.sh sets it)";

struct Args {
    models: PathBuf,
    data_root: PathBuf,
    protocol: Protocol,
    only: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut protocol = Protocol {
        warmup: 2_000,
        rounds: 10,
        calls: 1_000,
    };
    let mut only = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let number = |flag: &str, v: String| {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag}: `{v}` is not a positive whole number"))
        };
        match a.as_str() {
            "--rounds" => protocol.rounds = number("--rounds", value("--rounds")?)?,
            "--calls" => protocol.calls = number("--calls", value("--calls")?)?,
            "--warmup" => protocol.warmup = number("--warmup", value("--warmup")?)?,
            "--only" => only = Some(value("--only")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            s if s.starts_with('-') => return Err(format!("unknown flag {s}\n{USAGE}")),
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [models, data_root]: [PathBuf; 2] = positional.try_into().map_err(|_| USAGE.to_string())?;
    Ok(Args {
        models,
        data_root,
        protocol,
        only,
    })
}

/// One line of manifest.tsv.
struct Entry {
    file: String,
    name: String,
    data: String,
    sklearn_accuracy: String,
}

fn read_manifest(dir: &Path) -> Result<Vec<Entry>, String> {
    let path = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e}; make the models first: scripts/onnx_native_bench.sh (or scripts/onnx_native_models.py DATA_ROOT {})",
            path.display(),
            dir.display()
        )
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column `{name}` in the header", path.display()))
    };
    let (f, n, d, a) = (
        col("file")?,
        col("name")?,
        col("data")?,
        col("sklearn_accuracy")?,
    );
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let cells: Vec<&str> = l.split('\t').collect();
            let cell = |j: usize| {
                cells.get(j).map(|s| s.to_string()).ok_or_else(|| {
                    format!(
                        "{}, line {}: {} cells, expected {}",
                        path.display(),
                        i + 2,
                        cells.len(),
                        header.len()
                    )
                })
            };
            Ok(Entry {
                file: cell(f)?,
                name: cell(n)?,
                data: cell(d)?,
                sklearn_accuracy: cell(a)?,
            })
        })
        .collect()
}

/// optbench's single-row call on a preloaded row.
struct Ours<'a> {
    model: &'a Model,
    rows: &'a [f32],
    d: usize,
    scratch: Scratch,
    out: Vec<f32>,
}

impl<'a> Ours<'a> {
    fn new(model: &'a Model, rows: &'a [f32], d: usize) -> Self {
        Ours {
            model,
            rows,
            d,
            scratch: model.scratch(),
            out: vec![0.0; model.n_classes()],
        }
    }
}

impl Contender for Ours<'_> {
    #[inline]
    fn call(&mut self, i: usize) -> Result<(), String> {
        let row = &self.rows[i * self.d..(i + 1) * self.d];
        self.model
            .predict_proba(row, &mut self.scratch, &mut self.out);
        black_box(&self.out);
        Ok(())
    }
}

/// onnxruntime's single-row call on a tensor made before timing.
struct Theirs<'a> {
    model: &'a mut OnnxModel,
    out: Vec<f32>,
}

impl Contender for Theirs<'_> {
    #[inline]
    fn call(&mut self, i: usize) -> Result<(), String> {
        self.model.predict_proba(i, &mut self.out)?;
        black_box(&self.out);
        Ok(())
    }
}

/// onnxruntime's IoBinding path on the same tensors.
struct TheirsBound<'a> {
    model: &'a mut OnnxModel,
    out: Vec<f32>,
}

impl Contender for TheirsBound<'_> {
    #[inline]
    fn call(&mut self, i: usize) -> Result<(), String> {
        self.model.predict_proba_bound(i, &mut self.out)?;
        black_box(&self.out);
        Ok(())
    }
}

/// Nodes visited per row, summed over trees, leaf included, averaged over
/// the rows: the work a traversal does, so ns/visit compares tree layouts.
fn visits_per_row(t: &TreeEnsemble, rows: &[f32]) -> f64 {
    let n = rows.len() / t.n_features;
    let mut total = 0u64;
    for row in rows.chunks_exact(t.n_features) {
        for &root in &t.roots {
            let mut i = root as usize;
            loop {
                total += 1;
                let node = &t.nodes[i];
                if node.is_leaf() {
                    break;
                }
                i = if row[node.feature as usize] <= node.threshold {
                    node.left
                } else {
                    node.right
                } as usize;
            }
        }
    }
    total as f64 / n as f64
}

/// All probabilities of `model` on `rows`, row-major.
fn probabilities(model: &Model, rows: &[f32], d: usize) -> Vec<f32> {
    let mut ours = Ours::new(model, rows, d);
    let k = model.n_classes();
    let mut all = Vec::with_capacity(rows.len() / d * k);
    for i in 0..rows.len() / d {
        // Cannot fail: optbench's call returns Ok.
        let _ = ours.call(i);
        all.extend_from_slice(&ours.out);
    }
    all
}

fn classes_of(model: &Model, rows: &[f32], d: usize) -> Vec<u32> {
    let mut out = Vec::new();
    model.predict_batch(rows, &mut out);
    debug_assert_eq!(out.len(), rows.len() / d);
    out
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Measures one manifest entry; `Err` on any disagreement beyond [`TOL`].
fn bench_model(entry: &Entry, args: &Args, timer: f64) -> Result<(Vec<Row>, Agreement), String> {
    let onnx_path = args.models.join(format!("{}.onnx", entry.file));
    let imported = optbench::onnx::read_onnx(&onnx_path)
        .map_err(|e| format!("{e}\n(make the models with scripts/onnx_native_bench.sh)"))?;
    let test_path = args.data_root.join(&entry.data).join("test.csv");
    if !test_path.is_file() {
        return Err(format!(
            "{} not found: DATA_ROOT ({}) must hold the folders {}/ and the others named in the manifest",
            test_path.display(),
            args.data_root.display(),
            entry.data
        ));
    }
    let test = read_csv(&test_path, "label", &ColumnTypes::new()).map_err(|e| e.to_string())?;
    let model = imported.model;
    let d = model.n_features();
    let k = model.n_classes();
    if test.data.n_features() != d {
        return Err(format!(
            "{}: {} features, but {} expects {d}",
            test_path.display(),
            test.data.n_features(),
            onnx_path.display()
        ));
    }
    let rows: Vec<f32> = test.data.x.iter().map(|&v| v as f32).collect();
    let n = test.data.n_rows();

    // Agreement on every test row, before any timing.
    let mut ort_model = OnnxModel::new(&onnx_path, &rows, d, k)?;
    // A session of its own for the IoBinding path, so the two never share
    // state (and each contender holds its own `&mut`).
    let mut ort_bound = OnnxModel::new(&onnx_path, &rows, d, k)?;
    let ours_p = probabilities(&model, &rows, d);
    let mut theirs_p = vec![0.0; n * k];
    let mut bound = vec![0.0; k];
    let mut label_equal = 0;
    let mut ties = 0;
    let ours_c = classes_of(&model, &rows, d);
    let mut correct = 0;
    for i in 0..n {
        let p = &mut theirs_p[i * k..(i + 1) * k];
        ort_model.predict_proba(i, p)?;
        ort_bound.predict_proba_bound(i, &mut bound)?;
        if bound != p {
            return Err(format!(
                "{} {}: test row {i}: onnxruntime gives {p:?} through run but {bound:?} through IoBinding",
                entry.data, entry.name
            ));
        }
        let diff = max_abs_diff(&ours_p[i * k..(i + 1) * k], p);
        if diff > TOL || diff.is_nan() {
            return Err(format!(
                "{} {}: probabilities differ on test row {i}: optbench {:?}, onnxruntime {:?} (|dp| {diff:.2e} > {TOL:.0e})",
                entry.data,
                entry.name,
                &ours_p[i * k..(i + 1) * k],
                p
            ));
        }
        let ours_label = &imported.classes[ours_c[i] as usize];
        let theirs_label = ort_model.label(i)?.to_string();
        if *ours_label == theirs_label {
            label_equal += 1;
        } else {
            let mut sorted = p.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            if k > 1 && sorted[0] - sorted[1] <= TOL {
                ties += 1;
            } else {
                return Err(format!(
                    "{} {}: test row {i}: optbench says class `{ours_label}`, onnxruntime `{theirs_label}` (probabilities {p:?})",
                    entry.data, entry.name
                ));
            }
        }
        if *ours_label == test.data.classes[test.data.y[i] as usize] {
            correct += 1;
        }
    }
    let mut agreement = Agreement {
        data: entry.data.clone(),
        name: entry.name.clone(),
        rows: n,
        max_dp: max_abs_diff(&ours_p, &theirs_p),
        labels_equal: label_equal,
        label_ties: ties,
        accuracy: correct as f64 / n as f64,
        sklearn_accuracy: entry.sklearn_accuracy.clone(),
        quant: Vec::new(),
    };

    // optbench's binned forms of a tree ensemble.
    let (variants, visits, size) = match &model {
        Model::Trees(t) => {
            let mut v = Vec::new();
            for (precision, label) in [
                (LeafPrecision::F32, "bins, f32 leaves"),
                (LeafPrecision::Int8, "bins, int8 leaves"),
            ] {
                let q = Model::QuantTrees(
                    QuantTrees::from_ensemble(t, precision)
                        .map_err(|e| format!("{} {}: quantizing: {e}", entry.data, entry.name))?,
                );
                let qc = classes_of(&q, &rows, d);
                let same = qc.iter().zip(&ours_c).filter(|(a, b)| a == b).count();
                let dp = max_abs_diff(&probabilities(&q, &rows, d), &ours_p);
                if precision == LeafPrecision::F32 && same != n {
                    return Err(format!(
                        "{} {}: the f32-leaf binned form changed {} of {n} classes (it must be lossless)",
                        entry.data,
                        entry.name,
                        n - same
                    ));
                }
                agreement.quant.push((label.to_string(), same, dp));
                v.push((label, q));
            }
            (
                v,
                Some(visits_per_row(t, &rows)),
                Some((t.n_trees(), t.nodes.len())),
            )
        }
        _ => (Vec::new(), None, None),
    };

    eprintln!("timing {} {} ({n} test rows)…", entry.data, entry.name);
    let mut ours = Ours::new(&model, &rows, d);
    let mut theirs = Theirs {
        model: &mut ort_model,
        out: vec![0.0; k],
    };
    let mut theirs_bound = TheirsBound {
        model: &mut ort_bound,
        out: vec![0.0; k],
    };
    let mut quant: Vec<Ours> = variants
        .iter()
        .map(|(_, q)| Ours::new(q, &rows, d))
        .collect();
    let mut contenders: Vec<&mut dyn Contender> = vec![&mut ours, &mut theirs, &mut theirs_bound];
    contenders.extend(quant.iter_mut().map(|q| q as &mut dyn Contender));
    let timings = harness::measure(&mut contenders, n, args.protocol, timer)?;

    let mut out = vec![Row {
        data: entry.data.clone(),
        name: entry.name.clone(),
        size,
        visits,
        ours: timings[0].clone(),
        theirs: Some(timings[1].clone()),
        bound: Some(timings[2].clone()),
        reference: timings[1].clone(),
    }];
    for ((label, _), t) in variants.iter().zip(&timings[3..]) {
        out.push(Row {
            data: entry.data.clone(),
            name: format!("{} · {label}", entry.name),
            size,
            visits,
            ours: t.clone(),
            theirs: None,
            bound: None,
            reference: timings[1].clone(),
        });
    }
    Ok((out, agreement))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let dylib = std::env::var_os("ORT_DYLIB_PATH").ok_or_else(|| {
        "ORT_DYLIB_PATH is not set: point it at libonnxruntime.so* from the onnxruntime wheel \
         (scripts/onnx_native_bench.sh does this)"
            .to_string()
    })?;
    onnxruntime::load_library(Path::new(&dylib))?;
    let mut entries = read_manifest(&args.models)?;
    if let Some(only) = &args.only {
        entries.retain(|e| &e.file == only);
        if entries.is_empty() {
            return Err(format!("--only {only}: no such model in the manifest"));
        }
    }
    let timer = harness::timer_overhead();
    eprintln!("timer overhead (median Instant pair): {timer:.0} ns");
    let mut rows = Vec::new();
    let mut agreements = Vec::new();
    for e in &entries {
        let (r, a) = bench_model(e, &args, timer)?;
        rows.extend(r);
        agreements.push(a);
    }
    print!(
        "{}",
        report::markdown(&rows, &agreements, args.protocol, timer, TOL)
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
