//! `optbench run`: load → fit the pipeline → train candidates → measure →
//! select → report → package. The only place that knows the order of the
//! stages; each stage lives in its own module.

use crate::artifact::{
    crate_versions, Artifact, FileInfo, Metadata, ModelInfo, TrainingData, FORMAT_VERSION,
};
use crate::config::{DataPlan, Plan};
use crate::data::{
    profile, read_csv, read_csv_with_schema, stratified_split, DataSource, Dataset, Split,
};
use crate::error::{Error, Result};
use crate::measure::{measure_latency, measure_offline, MonotonicClock, Nanos, Subject};
use crate::optimize::{self, agreement, Candidate};
use crate::pipeline::FittedPipeline;
use crate::progress::Progress;
use crate::report::{self, CandidateResult, DatasetInfo, Duplicate, Machine, RunResults};
use crate::select::{select, Point};
use crate::train::{train, TrainData};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub results: RunResults,
    /// The packaged model, when one was chosen.
    pub model_dir: Option<PathBuf>,
}

/// Loads (or generates) the data and splits it as the plan says.
pub fn load_split(plan: &Plan) -> Result<Split> {
    match &plan.data {
        DataPlan::Synthetic {
            spec,
            test_fraction,
        } => {
            let data = spec.generate()?;
            let (train, test) = stratified_split(&data, *test_fraction, plan.seed);
            Ok(Split {
                train,
                test,
                source: DataSource::Synthetic(spec.clone()),
                target: "y".into(),
                ignored: Vec::new(),
            })
        }
        DataPlan::Csv {
            path,
            target,
            test_fraction,
        } => {
            let table = read_csv(path, target, &plan.columns)?;
            let (train, test) = stratified_split(&table.data, *test_fraction, plan.seed);
            if train.n_rows() < 2 || test.n_rows() == 0 {
                return Err(Error::data(
                    path,
                    format!(
                        "{} rows are too few to split into train and test",
                        table.data.n_rows()
                    ),
                ));
            }
            Ok(Split {
                train,
                test,
                source: DataSource::Csv {
                    path: path.clone(),
                    test_fraction: *test_fraction,
                },
                target: target.clone(),
                ignored: table.ignored,
            })
        }
        DataPlan::TrainTest {
            train,
            test,
            target,
        } => {
            let tr = read_csv(train, target, &plan.columns)?;
            let te = read_csv_with_schema(test, target, &tr.data, &tr.ignored)?;
            Ok(Split {
                train: tr.data,
                test: te.data,
                source: DataSource::TrainTest {
                    train: train.clone(),
                    test: test.clone(),
                },
                target: target.clone(),
                ignored: tr.ignored,
            })
        }
    }
}

/// Runs the whole job and writes the report (and, if a model was chosen,
/// the package) under `plan.out`.
pub fn run(plan: &Plan, progress: &dyn Progress) -> Result<Outcome> {
    progress.stage("loading data", 0);
    let split = load_split(plan)?;
    progress.finish_stage();
    let Split {
        train: train_set,
        test: test_set,
        ..
    } = &split;
    progress.note(&format!(
        "data: {} training rows, {} test rows, {} features, {} classes",
        train_set.n_rows(),
        test_set.n_rows(),
        train_set.n_features(),
        train_set.n_classes()
    ));

    let pipeline = FittedPipeline::fit(train_set, &plan.pipeline)?;
    let x_train = pipeline.transform(train_set);
    let x_test = pipeline.transform(test_set);
    let data = TrainData {
        x: &x_train,
        n_features: pipeline.n_outputs(),
        y: &train_set.y,
        n_classes: train_set.n_classes(),
    };

    // Candidates train in parallel (each trainer is single-threaded); every
    // one has its own seed, so the result does not depend on scheduling.
    progress.stage("training", plan.candidates.len() as u64);
    let trained: Vec<Candidate> = plan
        .candidates
        .par_iter()
        .map(|spec| {
            let t = train(spec, &data, plan.seed)?;
            progress.note(&format!(
                "trained {} in {:.2} s ({})",
                t.id,
                t.fit_seconds,
                t.model.describe()
            ));
            progress.advance(1);
            Ok(t.into())
        })
        .collect::<Result<_>>()?;
    progress.finish_stage();

    let (candidates, duplicates) = derive_variants(plan, trained, &data, progress)?;
    evaluate(
        plan, &split, &pipeline, &x_test, candidates, duplicates, progress,
    )
}

/// The plan's optimized variants of `trained`, appended to it; a variant
/// identical to another candidate is listed as a duplicate instead.
fn derive_variants(
    plan: &Plan,
    mut trained: Vec<Candidate>,
    data: &TrainData<'_>,
    progress: &dyn Progress,
) -> Result<(Vec<Candidate>, Vec<Duplicate>)> {
    progress.stage("optimizing", 0);
    let variants = optimize::derive(&plan.optimize, &trained, data, plan.seed)?;
    // A variant can come out identical to another candidate (the first 50
    // trees of forest-100 and of forest-500 are the same trees): measuring
    // it twice would only add noise to the frontier.
    let mut seen: BTreeMap<String, String> = trained
        .iter()
        .map(|c| (crate::fsutil::sha256_hex(&c.model.to_bytes()), c.id.clone()))
        .collect();
    let mut duplicates = Vec::new();
    for v in variants {
        let digest = crate::fsutil::sha256_hex(&v.model.to_bytes());
        if let Some(first) = seen.get(&digest) {
            progress.note(&format!(
                "{} is the same model as {first}: not measured twice",
                v.id
            ));
            duplicates.push(Duplicate {
                id: v.id,
                same_as: first.clone(),
            });
            continue;
        }
        progress.note(&format!(
            "derived {} in {:.2} s ({})",
            v.id,
            v.fit_seconds,
            v.model.describe()
        ));
        seen.insert(digest, v.id.clone());
        trained.push(v);
    }
    progress.finish_stage();
    Ok((trained, duplicates))
}

/// Measures every candidate, selects, writes the report, and packages the
/// chosen one with `pipeline`: everything after the candidates exist.
fn evaluate(
    plan: &Plan,
    split: &Split,
    pipeline: &FittedPipeline,
    x_test: &[f32],
    trained: Vec<Candidate>,
    duplicates: Vec<Duplicate>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let Split {
        train: train_set,
        test: test_set,
        source,
        ..
    } = split;
    // Test-set predictions, for each variant's agreement with its parent.
    let predictions: Vec<Vec<u32>> = trained
        .par_iter()
        .map(|c| {
            let mut p = Vec::new();
            c.model.predict_batch(x_test, &mut p);
            p
        })
        .collect();

    let schema = train_set.schema();
    let subjects: Vec<Subject<'_>> = trained
        .iter()
        .map(|t| Subject {
            schema: &schema,
            pipeline,
            model: &t.model,
        })
        .collect();

    progress.stage("accuracy, size, throughput", subjects.len() as u64);
    let mut offline = Vec::with_capacity(subjects.len());
    for s in &subjects {
        offline.push(measure_offline(*s, test_set, x_test, &plan.measure)?);
        progress.advance(1);
    }
    progress.finish_stage();

    let clock = MonotonicClock::default();
    let crate::measure::LatencyRun {
        overhead,
        stages,
        subjects: latency,
    } = measure_latency(
        &subjects,
        test_set,
        x_test,
        &plan.measure,
        plan.seed,
        &clock,
        progress,
    )?;

    let points: Vec<Point> = trained
        .iter()
        .zip(&offline)
        .zip(&latency)
        .map(|((t, o), l)| Point {
            id: t.id.clone(),
            accuracy: o.accuracy,
            p50: l.end_to_end.p50,
            p99: l.end_to_end.p99,
            p99_upper: l.end_to_end.p99_upper,
            resolution: crate::select::resolution(l.end_to_end.p50, Nanos(2 * overhead.p50.0)),
            size: o.size_bytes.raw,
        })
        .collect();
    let selection = select(&points, &plan.budget);

    // A candidate is judged on its rounds with the machine's own changes of
    // speed divided out (every candidate took turns in every slice, so they
    // all felt them); those are reported once for the run.
    let rounds: Vec<&[Nanos]> = latency.iter().map(|l| &l.round_p50s[..]).collect();
    let host_speed = crate::measure::host_speed(&rounds);
    let own: Vec<Vec<Nanos>> = rounds
        .iter()
        .map(|r| crate::measure::without_host(r, &host_speed))
        .collect();
    let spread: Vec<f64> = own
        .iter()
        .map(|r| crate::measure::round_spread(r))
        .collect();
    // Rounds that differ by less than two timer reads cannot be told apart:
    // cheap models are not called noisy for that.
    let noisy: Vec<bool> = own
        .iter()
        .zip(&spread)
        .map(|(r, &s)| {
            s > plan.measure.noise_tolerance
                && crate::measure::round_range(r).0 > 2 * overhead.p50.0
        })
        .collect();
    let candidates: Vec<CandidateResult> = trained
        .iter()
        .zip(offline)
        .zip(latency)
        .enumerate()
        .map(|(i, ((t, o), l))| CandidateResult {
            id: t.id.clone(),
            family: t.family.to_string(),
            params: t.params.clone(),
            parent: t.lineage.as_ref().map(|l| l.parent.clone()),
            transform: t.lineage.as_ref().map(|l| l.transform.clone()),
            accuracy_delta: None,
            agreement_with_parent: t.lineage.as_ref().map(|l| {
                let p = trained
                    .iter()
                    .position(|c| c.id == l.parent)
                    .expect("a parent is a candidate");
                agreement(&predictions[i], &predictions[p])
            }),
            model: t.model.describe(),
            fit_seconds: t.fit_seconds,
            accuracy: o.accuracy,
            f1_macro: o.f1_macro,
            latency_ns: l.end_to_end,
            model_latency_ns: l.model_only,
            round_spread: spread[i],
            noisy: noisy[i],
            round_p50_ns: l.round_p50s,
            throughput_rows_per_s: o.throughput_rows_per_s,
            size_bytes: o.size_bytes,
            memory_bytes: t.model.heap_bytes() as u64,
            load_ns: o.load,
            compression: o.compression,
            zstd_level: o.zstd_level,
            pareto_optimal: selection.pareto_optimal[i],
            within_budget: selection.within_budget[i],
        })
        .collect();
    let mut candidates = candidates;
    let accuracy: BTreeMap<String, f64> = candidates
        .iter()
        .map(|c| (c.id.clone(), c.accuracy))
        .collect();
    for c in &mut candidates {
        c.accuracy_delta = c.parent.as_ref().map(|p| c.accuracy - accuracy[p]);
    }

    let source_json = serde_json::to_value(source).unwrap_or_default();
    let results = RunResults {
        optbench_version: env!("CARGO_PKG_VERSION").into(),
        created_utc: crate::timefmt::utc_now(),
        seed: plan.seed,
        dataset: DatasetInfo {
            source: source_json.clone(),
            rows: train_set.n_rows() + test_set.n_rows(),
            rows_train: train_set.n_rows(),
            rows_test: test_set.n_rows(),
            features: train_set.n_features(),
            feature_names: train_set.feature_names.clone(),
            feature_kinds: train_set.kinds.clone(),
            model_inputs: pipeline.n_outputs(),
            classes: train_set.classes.clone(),
            sha256: train_set.sha256(),
        },
        budget: (&plan.budget).into(),
        measure: plan.measure.clone(),
        machine: Machine::detect(),
        timer_overhead_ns: overhead,
        interleaving: Some(crate::measure::Interleaving::CURRENT),
        host_spread: crate::measure::host_spread(&host_speed),
        host_speed,
        stage_latency_ns: stages,
        chosen: selection.chosen.map(|i| trained[i].id.clone()),
        closest: selection.closest.map(|i| trained[i].id.clone()),
        reason: selection.reason.clone(),
        duplicates,
        candidates,
    };

    progress.stage("writing report", 0);
    report::write_all(&plan.out, &results)?;
    let model_dir = plan.out.join("model");
    let predictions_path = plan.out.join("test_predictions.csv");
    let packaged = match selection.chosen {
        Some(i) => {
            let mut artifact = package(
                &trained[i],
                &results.candidates[i],
                split,
                pipeline,
                source_json,
            );
            artifact.save(&model_dir, results.candidates[i].zstd_level)?;
            if plan.export_onnx {
                let graph = crate::onnx::serving_to_onnx(
                    &artifact.schema,
                    &artifact.pipeline,
                    &artifact.model,
                    &artifact.metadata.classes,
                )?;
                crate::onnx::write_onnx(&model_dir.join("model.onnx"), &graph)?;
            }
            // The chosen model's test predictions, from this process's
            // in-memory model: what a reloaded package must reproduce.
            let model = &trained[i].model;
            let k = model.n_classes();
            let mut proba = vec![0.0f32; test_set.n_rows() * k];
            let mut scratch = model.scratch();
            for (r, p) in proba.chunks_exact_mut(k).enumerate() {
                let d = pipeline.n_outputs();
                model.predict_proba(&x_test[r * d..(r + 1) * d], &mut scratch, p);
            }
            let csv = report::render_predictions_csv(
                &test_set.classes,
                &test_set.y,
                &predictions[i],
                &proba,
            );
            crate::fsutil::write_atomic(&predictions_path, csv.as_bytes())?;
            Some(model_dir)
        }
        None => {
            // A package left by an earlier run would contradict results.json.
            if model_dir.join(crate::artifact::METADATA_FILE).exists() {
                std::fs::remove_dir_all(&model_dir).map_err(|e| Error::io(&model_dir, e))?;
            }
            if predictions_path.exists() {
                std::fs::remove_file(&predictions_path)
                    .map_err(|e| Error::io(&predictions_path, e))?;
            }
            None
        }
    };
    progress.finish_stage();
    Ok(Outcome {
        results,
        model_dir: packaged,
    })
}

fn package(
    t: &Candidate,
    r: &CandidateResult,
    split: &Split,
    pipeline: &FittedPipeline,
    source: serde_json::Value,
) -> Artifact {
    let train_set = &split.train;
    let metrics = BTreeMap::from([
        ("accuracy".to_string(), r.accuracy),
        ("f1_macro".to_string(), r.f1_macro),
        ("latency_p50_ns".to_string(), r.latency_ns.p50.0 as f64),
        ("latency_p99_ns".to_string(), r.latency_ns.p99.0 as f64),
        (
            "latency_p99_upper_ns".to_string(),
            r.latency_ns.p99_upper.0 as f64,
        ),
        (
            "model_latency_p50_ns".to_string(),
            r.model_latency_ns.p50.0 as f64,
        ),
        ("throughput_rows_per_s".to_string(), r.throughput_rows_per_s),
    ]);
    Artifact {
        metadata: Metadata {
            format_version: FORMAT_VERSION,
            optbench_version: env!("CARGO_PKG_VERSION").into(),
            created_utc: crate::timefmt::utc_now(),
            model: ModelInfo {
                id: t.id.clone(),
                family: t.family.to_string(),
                params: t.params.clone(),
                parent: t.lineage.as_ref().map(|l| l.parent.clone()),
                transform: t
                    .lineage
                    .as_ref()
                    .and_then(|l| serde_json::to_value(&l.transform).ok()),
                description: t.model.describe(),
            },
            training_data: TrainingData {
                sha256: train_set.sha256(),
                rows: train_set.n_rows(),
                source,
            },
            target: split.target.clone(),
            features: train_set.schema(),
            ignored_columns: split.ignored.clone(),
            pipeline_outputs: pipeline.output_names(),
            training_profile: profile(train_set),
            classes: train_set.classes.clone(),
            metrics,
            crate_versions: crate_versions(),
            model_file: FileInfo::default(),
        },
        schema: train_set.schema(),
        pipeline: pipeline.clone(),
        model: t.model.clone(),
    }
}

/// What `optbench bench` measured on a saved package.
#[derive(Debug, Clone)]
pub struct BenchOutcome {
    pub rows: usize,
    /// Accuracy on the rows, when the file has the target column, beside
    /// the accuracy the package recorded.
    pub accuracy: Option<f64>,
    pub recorded_accuracy: Option<f64>,
    pub latency: crate::measure::LatencyRun,
    /// Load (read, check SHA-256, decompress, decode, check) of the whole
    /// package, median of `load_repeats`.
    pub load: Nanos,
}

/// `optbench bench`: the latency measurement of `run`, on a saved package,
/// with the rows of `input` (read as the package's schema types them).
pub fn bench_artifact(
    dir: &std::path::Path,
    input: &std::path::Path,
    settings: &crate::measure::MeasureSettings,
    seed: u64,
    progress: &dyn Progress,
) -> Result<BenchOutcome> {
    settings.validate().map_err(Error::Measure)?;
    let mut loads = Vec::with_capacity(settings.load_repeats);
    let mut artifact = Artifact::load(dir)?;
    for _ in 0..settings.load_repeats {
        let t = std::time::Instant::now();
        artifact = Artifact::load(dir)?;
        loads.push(t.elapsed().as_nanos() as u64);
    }
    loads.sort_unstable();
    let table = crate::data::read_rows_with_schema(
        input,
        &artifact.metadata.target,
        &artifact.reference_table(),
        &artifact.metadata.ignored_columns,
    )?;
    let rows = &table.data;
    let x = artifact.pipeline.transform(rows);
    let accuracy = table.labelled.then(|| {
        let mut pred = Vec::with_capacity(rows.n_rows());
        artifact.model.predict_batch(&x, &mut pred);
        crate::measure::accuracy(&rows.y, &pred)
    });
    let subject = Subject {
        schema: &artifact.schema,
        pipeline: &artifact.pipeline,
        model: &artifact.model,
    };
    let latency = measure_latency(
        &[subject],
        rows,
        &x,
        settings,
        seed,
        &MonotonicClock::default(),
        progress,
    )?;
    Ok(BenchOutcome {
        rows: rows.n_rows(),
        accuracy,
        recorded_accuracy: artifact.metadata.metrics.get("accuracy").copied(),
        latency,
        load: Nanos(loads.get(loads.len() / 2).copied().unwrap_or(0)),
    })
}

/// Cold start of a package, measured inside a fresh process: from before
/// reading the package to after its first prediction on the first row of
/// `input` (read before the clock starts). `optbench bench --cold-start N`
/// runs this in N fresh processes.
pub fn cold_start_probe(dir: &std::path::Path, input: &std::path::Path) -> Result<ColdStart> {
    // The row is read with a throwaway load of the metadata only, so the
    // timed part is the package load itself.
    let text = std::fs::read_to_string(dir.join(crate::artifact::METADATA_FILE))
        .map_err(|e| Error::io(dir, e))?;
    let meta: crate::artifact::Metadata =
        serde_json::from_str(&text).map_err(|e| Error::Artifact {
            path: dir.into(),
            message: format!("metadata.json is malformed: {e}"),
        })?;
    let (mut rdr, header) = crate::data::open_csv(input)?;
    let record = rdr
        .records()
        .next()
        .ok_or_else(|| Error::data(input, "no data rows after the header"))?
        .map_err(|e| crate::data::csv_error(input, e))?;
    let mut fields = Vec::with_capacity(meta.features.len());
    for f in &meta.features.features {
        let j = header.iter().position(|h| *h == f.name).ok_or_else(|| {
            Error::data(
                input,
                format!("missing column `{}`, which the model needs", f.name),
            )
        })?;
        fields.push(record[j].to_string());
    }

    let t0 = std::time::Instant::now();
    let artifact = Artifact::load(dir)?;
    let t1 = std::time::Instant::now();
    let row: Vec<crate::data::Value<'_>> = fields
        .iter()
        .enumerate()
        .map(|(j, f)| artifact.schema.parse_field(j, f))
        .collect();
    let class = artifact
        .predictor()
        .predict(&row)
        .map_err(|e| e.to_error(&artifact.schema, 1))?;
    let t2 = std::time::Instant::now();
    std::hint::black_box(class);
    Ok(ColdStart {
        load: Nanos((t1 - t0).as_nanos() as u64),
        first_prediction: Nanos((t2 - t1).as_nanos() as u64),
    })
}

/// One fresh process's cold start.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColdStart {
    /// Read, verify (SHA-256), decompress and decode the package.
    pub load: Nanos,
    /// Validate, preprocess and predict the first row, with cold caches.
    pub first_prediction: Nanos,
}

/// Cold starts in `n` fresh processes of `exe` (an optbench binary), each
/// running the hidden `cold-start-probe` command; also the wall time of each
/// whole process (exec, load, first prediction, exit) as the parent sees it.
pub fn cold_starts(
    exe: &std::path::Path,
    dir: &std::path::Path,
    input: &std::path::Path,
    n: usize,
) -> Result<Vec<(ColdStart, Nanos)>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let o = std::process::Command::new(exe)
            .arg("cold-start-probe")
            .arg(dir)
            .arg(input)
            .output()
            .map_err(|e| Error::io(exe, e))?;
        let wall = Nanos(t.elapsed().as_nanos() as u64);
        if !o.status.success() {
            return Err(Error::Measure(format!(
                "cold-start process failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        let c: ColdStart = serde_json::from_slice(&o.stdout).map_err(|e| {
            Error::Measure(format!(
                "cold-start process printed something unexpected: {e}"
            ))
        })?;
        out.push((c, wall));
    }
    Ok(out)
}

/// A model trained outside optbench (an ONNX file), to be measured,
/// optimized and packaged like a trained candidate.
#[derive(Debug, Clone)]
pub struct External {
    pub id: String,
    pub model: crate::model::Model,
    /// Its class labels, in the order of its class indices.
    pub classes: Vec<String>,
    /// What to record about where it came from (file, SHA-256…).
    pub params: serde_json::Value,
    /// The model's file.
    pub path: PathBuf,
    /// The file's own preprocessing: numeric (`Imputer` / `Scaler`, one
    /// step per feature column of the data), or per column (the file names
    /// its columns, numeric and categorical); `None` passes the columns
    /// through as they are.
    pub preprocessing: Option<crate::onnx::Preprocessing>,
}

/// `optbench import`: the rows to measure an external model on (its feature
/// columns are every column but the target, in file order, numeric; or, for
/// a file with one input per column, the columns it names), and
/// optionally the rows it was trained on (needed by the optimizations that
/// look at training rows: depth pruning, distillation).
#[derive(Debug, Clone)]
pub struct ImportData {
    pub test: PathBuf,
    pub train: Option<PathBuf>,
    pub target: String,
}

/// Measures, optimizes (as `plan.optimize` says; `plan.candidates` is not
/// used), selects among and packages an external model and its variants,
/// exactly as `run` does with trained ones. The package's pipeline is the
/// file's own imputer and scaler when it has them (applied to the CSV's
/// columns), and otherwise passes the columns through as they are.
pub fn run_imported(
    plan: &Plan,
    external: External,
    data: &ImportData,
    progress: &dyn Progress,
) -> Result<Outcome> {
    progress.stage("loading data", 0);
    let header = crate::data::read_header(&data.test)?;
    if !header.contains(&data.target) {
        return Err(Error::data(
            &data.test,
            format!(
                "no target column `{}`; columns are: {}",
                data.target,
                header.join(", ")
            ),
        ));
    }
    let ignored: Vec<String> = header
        .iter()
        .filter(|h| plan.columns.get(*h) == Some(&crate::data::ColumnType::Ignore))
        .cloned()
        .collect();
    let own = external
        .preprocessing
        .as_ref()
        .and_then(crate::onnx::Preprocessing::columns);
    let (names, kinds): (Vec<String>, Vec<crate::data::FeatureKind>) = match &own {
        // The file names its columns and their kinds.
        Some(cols) => {
            if let Some((c, _)) = cols.iter().find(|(c, _)| !header.contains(c)) {
                return Err(Error::data(
                    &data.test,
                    format!(
                        "no column `{c}`, which the model {} reads",
                        external.path.display()
                    ),
                ));
            }
            if let Some(h) = header.iter().find(|h| {
                **h != data.target && !ignored.contains(h) && !cols.iter().any(|(c, _)| c == *h)
            }) {
                return Err(Error::data(
                    &data.test,
                    format!(
                        "column `{h}` is not one the model {} reads (it reads {}); \
                         set it to \"ignore\" in the config's [columns]",
                        external.path.display(),
                        cols.iter()
                            .map(|c| c.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            cols.iter().cloned().unzip()
        }
        None => {
            let names: Vec<String> = header
                .iter()
                .filter(|h| **h != data.target && !plan.columns.contains_key(*h))
                .cloned()
                .collect();
            let kinds = vec![crate::data::FeatureKind::Numeric; names.len()];
            (names, kinds)
        }
    };
    if own.is_none() && names.len() != external.model.n_features() {
        return Err(Error::data(
            &data.test,
            format!(
                "the model {} takes {} features, but the file has {} feature columns ({}); \
                 the columns other than the target must be the model's inputs, in order",
                external.path.display(),
                external.model.n_features(),
                names.len(),
                names.join(", ")
            ),
        ));
    }
    let mut reference = Dataset::numeric(
        names.clone(),
        Vec::new(),
        Vec::new(),
        external.classes.clone(),
    );
    reference.kinds = kinds;
    let test = read_csv_with_schema(&data.test, &data.target, &reference, &ignored)?.data;
    let train = match &data.train {
        Some(p) => read_csv_with_schema(p, &data.target, &reference, &ignored)?.data,
        None => reference.clone(),
    };
    progress.finish_stage();
    progress.note(&format!(
        "imported {} ({}{}): {} test rows{}",
        external.id,
        external.model.describe(),
        match (&external.preprocessing, &own) {
            (None, _) => "",
            (Some(_), None) => ", behind the file's imputer / scaler",
            (Some(_), Some(_)) => ", behind the file's per-column preprocessing",
        },
        test.n_rows(),
        data.train.as_ref().map_or_else(String::new, |_| format!(
            ", {} training rows",
            train.n_rows()
        ))
    ));

    let pipeline = crate::onnx::imported_pipeline(external.preprocessing.as_ref(), &names)?;
    if pipeline.n_outputs() != external.model.n_features() {
        return Err(Error::onnx(
            external.path.display().to_string(),
            format!(
                "its preprocessing makes {} features for a model of {}",
                pipeline.n_outputs(),
                external.model.n_features()
            ),
        ));
    }
    let x_train = pipeline.transform(&train);
    let x_test = pipeline.transform(&test);
    let mut plan = plan.clone();
    if data.train.is_none()
        && (!plan.optimize.prune_depths.is_empty() || !plan.optimize.distill.is_empty())
    {
        progress.note("depth pruning and distillation need the training rows (--train): skipped");
        plan.optimize.prune_depths.clear();
        plan.optimize.distill.clear();
    }
    // Distillation from a trained candidate of the config has no teacher here.
    let before = plan.optimize.distill.len();
    plan.optimize.distill.retain(|d| d.teacher == external.id);
    if plan.optimize.distill.len() < before {
        progress.note(&format!(
            "distillation entries whose teacher is not `{}` skipped",
            external.id
        ));
    }
    let candidate = Candidate {
        id: external.id,
        family: crate::train::Family::Imported,
        params: external.params,
        model: external.model,
        fit_seconds: 0.0,
        lineage: None,
        spec: None,
    };
    let td = TrainData {
        x: &x_train,
        n_features: pipeline.n_outputs(),
        y: &train.y,
        n_classes: test.n_classes(),
    };
    let (candidates, duplicates) = derive_variants(&plan, vec![candidate], &td, progress)?;
    let split = Split {
        train,
        test,
        source: DataSource::Imported {
            model: external.path,
            test: data.test.clone(),
            train: data.train.clone(),
        },
        target: data.target.clone(),
        ignored,
    };
    evaluate(
        &plan, &split, &pipeline, &x_test, candidates, duplicates, progress,
    )
}
