//! `optbench run`: load → fit the pipeline → train candidates → measure →
//! select → report → package. The only place that knows the order of the
//! stages; each stage lives in its own module.

use crate::artifact::{
    crate_versions, Artifact, FileInfo, Metadata, ModelInfo, TrainingData, FORMAT_VERSION,
};
use crate::config::{DataPlan, Plan};
use crate::data::{profile, read_csv, read_csv_with_schema, stratified_split, DataSource, Split};
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

mod bench;
mod imported;

pub use bench::{bench_artifact, cold_start_probe, cold_starts, BenchOutcome, ColdStart};
pub use imported::{run_imported, External, ImportData};

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
                let graph = crate::export::serving_to_onnx(
                    &artifact.schema,
                    &artifact.pipeline,
                    &artifact.model,
                    &artifact.metadata.classes,
                )?;
                crate::export::write_onnx(&model_dir.join("model.onnx"), &graph)?;
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
