//! What a run does once its first candidates exist, the same for trained
//! and imported ones: derive the optimized variants, measure every
//! candidate, analyse its rounds, select, build the report's rows, write
//! the reports, package and export the chosen model, and clear what an
//! earlier run left when nothing is chosen. Each step is one function;
//! [`optimize_and_evaluate`] calls them in order.
//!
//! Uses `optimize`, `measure`, `select`, `report`, `artifact` and `export`
//! (the package as ONNX). Key type: [`Measured`] (what the harness
//! measured, per candidate).

use super::Outcome;
use crate::artifact::{
    crate_versions, Artifact, FileInfo, Metadata, ModelInfo, ReferenceSample, TrainingData,
    FORMAT_VERSION, REFERENCE_SAMPLE_ROWS,
};
use crate::config::Plan;
use crate::data::{profile, Dataset, Split};
use crate::error::{Error, Result};
use crate::measure::{
    measure_latency, measure_offline, LatencyRun, MonotonicClock, Nanos, Offline, RoundAnalysis,
    Subject,
};
use crate::model::CompiledModel;
use crate::optimize::{self, agreement, Candidate};
use crate::pipeline::FittedPipeline;
use crate::progress::Progress;
use crate::report::{self, CandidateResult, DatasetInfo, Duplicate, Machine, RunResults};
use crate::select::{select, Budget, Point, Selection};
use crate::train::TrainData;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The training rows as the trainers and the optimizations read them:
/// `set` after the pipeline (`x`, row-major).
pub(super) fn train_data<'a>(
    set: &'a Dataset,
    x: &'a [f32],
    pipeline: &FittedPipeline,
) -> TrainData<'a> {
    TrainData {
        x,
        n_features: pipeline.n_outputs(),
        y: &set.y,
        n_classes: set.n_classes(),
    }
}

/// Everything after the first candidates exist: derives the plan's
/// variants of `trained` (with `data`, the training rows after
/// `pipeline`), measures them all, selects, writes the report, and
/// packages the chosen one with `pipeline`. `x_test` is the split's test
/// set after `pipeline`.
pub(super) fn optimize_and_evaluate(
    plan: &Plan,
    split: &Split,
    pipeline: &FittedPipeline,
    data: &TrainData<'_>,
    x_test: &[f32],
    trained: Vec<Candidate>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let (candidates, duplicates) = derive_variants(plan, trained, data, progress)?;
    evaluate(
        plan, split, pipeline, x_test, candidates, duplicates, progress,
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
    let variants = optimize::derive(
        &plan.optimize,
        &trained,
        data,
        plan.seed,
        plan.budget.metric,
    )?;
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
/// chosen one with `pipeline` (or clears an earlier package when none is
/// chosen).
fn evaluate(
    plan: &Plan,
    split: &Split,
    pipeline: &FittedPipeline,
    x_test: &[f32],
    trained: Vec<Candidate>,
    duplicates: Vec<Duplicate>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let measured = measure(plan, split, pipeline, x_test, &trained, progress)?;
    let rounds = analyse_rounds(&measured.latency, plan.measure.noise_tolerance);
    let selection = select_candidate(&plan.budget, &trained, &measured);
    let source = serde_json::to_value(&split.source).unwrap_or_default();
    let dataset = dataset_info(split, pipeline, source.clone());
    let results = run_results(
        plan, dataset, &trained, &measured, rounds, &selection, duplicates,
    );

    progress.stage("writing report", 0);
    report::write_all(&plan.out, &results)?;
    let model_dir = plan.out.join("model");
    let predictions_path = plan.out.join("test_predictions.csv");
    let packaged = match selection.chosen {
        Some(i) => {
            let mut artifact =
                package(&trained[i], &results.candidates[i], split, pipeline, source)?;
            // `import` without `--train` has no training rows: its package
            // then has no sample, and `drift` asks for `--reference`.
            if split.train.n_rows() > 0 {
                let sample = ReferenceSample::draw(
                    &artifact,
                    &split.train,
                    &split.test,
                    REFERENCE_SAMPLE_ROWS,
                    plan.seed,
                )?;
                artifact.set_reference_sample(sample);
            }
            artifact.save(&model_dir, results.candidates[i].zstd_level)?;
            if plan.export_onnx {
                export_onnx(&artifact, &model_dir)?;
            }
            write_test_predictions(
                &measured.compiled[i],
                pipeline,
                &split.test,
                x_test,
                &measured.predictions[i],
                &predictions_path,
            )?;
            Some(model_dir)
        }
        None => {
            remove_stale_package(&model_dir, &predictions_path)?;
            None
        }
    };
    progress.finish_stage();
    Ok(Outcome {
        results,
        model_dir: packaged,
    })
}

/// What the harness measured, per candidate in the candidates' order.
struct Measured {
    /// Every candidate's run-time form, made once: it predicts, is timed
    /// and its memory is counted.
    compiled: Vec<CompiledModel>,
    /// Test-set predictions, for each variant's agreement with its parent.
    predictions: Vec<Vec<u32>>,
    /// Accuracy, size, load time and throughput.
    offline: Vec<Offline>,
    /// Single-row latency, with the timer's overhead and the stages.
    latency: LatencyRun,
}

/// Predicts the test set with every candidate, then measures them all
/// alike: accuracy, size and throughput one by one, latency interleaved.
fn measure(
    plan: &Plan,
    split: &Split,
    pipeline: &FittedPipeline,
    x_test: &[f32],
    trained: &[Candidate],
    progress: &dyn Progress,
) -> Result<Measured> {
    let Split {
        train: train_set,
        test: test_set,
        ..
    } = split;
    let compiled: Vec<CompiledModel> = trained
        .par_iter()
        .map(|c| {
            c.model.compile().map_err(|message| Error::Train {
                candidate: c.id.clone(),
                message,
            })
        })
        .collect::<Result<_>>()?;
    let predictions: Vec<Vec<u32>> = compiled
        .par_iter()
        .map(|c| {
            let mut p = Vec::new();
            c.predict_batch(x_test, &mut p);
            p
        })
        .collect();

    let schema = train_set.schema();
    let subjects: Vec<Subject<'_>> = trained
        .iter()
        .zip(&compiled)
        .map(|(t, c)| Subject {
            schema: &schema,
            pipeline,
            model: &t.model,
            compiled: c,
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
    let latency = measure_latency(
        &subjects,
        test_set,
        x_test,
        &plan.measure,
        plan.seed,
        &clock,
        progress,
    )?;
    Ok(Measured {
        compiled,
        predictions,
        offline,
        latency,
    })
}

/// The host's speed per round and each candidate's own spread and noisy
/// flag ([`crate::measure::analyse_rounds`]).
fn analyse_rounds(latency: &LatencyRun, noise_tolerance: f64) -> RoundAnalysis {
    let rounds: Vec<&[Nanos]> = latency.subjects.iter().map(|l| &l.round_p50s[..]).collect();
    crate::measure::analyse_rounds(&rounds, latency.overhead, noise_tolerance)
}

/// The frontier and the choice under `budget`, each candidate's latency
/// resolved no finer than two timer reads.
fn select_candidate(budget: &Budget, trained: &[Candidate], measured: &Measured) -> Selection {
    let overhead = measured.latency.overhead;
    let points: Vec<Point> = trained
        .iter()
        .zip(&measured.offline)
        .zip(&measured.latency.subjects)
        .map(|((t, o), l)| Point {
            id: t.id.clone(),
            score: budget.metric.score(Offline::quality(o).get(budget.metric)),
            p50: l.end_to_end.p50,
            p99: l.end_to_end.p99,
            p99_upper: l.end_to_end.p99_upper,
            round_p50s: l.round_p50s.clone(),
            floor: Nanos(2 * overhead.p50.0),
            size: o.size_bytes.raw,
        })
        .collect();
    select(&points, budget)
}

/// What `results.json` records about the data: `source` as the split names
/// it, the sizes, the features and the classes.
fn dataset_info(
    split: &Split,
    pipeline: &FittedPipeline,
    source: serde_json::Value,
) -> DatasetInfo {
    let Split {
        train: train_set,
        test: test_set,
        ..
    } = split;
    DatasetInfo {
        source,
        rows: train_set.n_rows() + test_set.n_rows(),
        rows_train: train_set.n_rows(),
        rows_test: test_set.n_rows(),
        features: train_set.n_features(),
        feature_names: train_set.feature_names.clone(),
        feature_kinds: train_set.kinds.clone(),
        model_inputs: pipeline.n_outputs(),
        classes: train_set.classes.clone(),
        sha256: train_set.sha256(),
    }
}

/// The run's results: one row a candidate ([`candidate_rows`]), and what
/// holds for the whole run (data, machine, timer, host speed, choice).
fn run_results(
    plan: &Plan,
    dataset: DatasetInfo,
    trained: &[Candidate],
    measured: &Measured,
    rounds: RoundAnalysis,
    selection: &Selection,
    duplicates: Vec<Duplicate>,
) -> RunResults {
    let candidates = candidate_rows(trained, measured, &rounds, selection);
    RunResults {
        served: None,
        optbench_version: env!("CARGO_PKG_VERSION").into(),
        created_utc: crate::timefmt::utc_now(),
        seed: plan.seed,
        dataset,
        budget: (&plan.budget).into(),
        measure: plan.measure.clone(),
        machine: Machine::detect(),
        timer_overhead_ns: measured.latency.overhead,
        interleaving: Some(crate::measure::Interleaving::CURRENT),
        host_spread: rounds.host_spread,
        host_speed: rounds.host_speed,
        stage_latency_ns: measured.latency.stages.clone(),
        chosen: selection.chosen.map(|i| trained[i].id.clone()),
        closest: selection.closest.map(|i| trained[i].id.clone()),
        reason: selection.reason.clone(),
        duplicates,
        candidates,
    }
}

/// One report row a candidate: its lineage and agreement with its parent,
/// what was measured, its round analysis and where selection put it.
fn candidate_rows(
    trained: &[Candidate],
    measured: &Measured,
    rounds: &RoundAnalysis,
    selection: &Selection,
) -> Vec<CandidateResult> {
    let predictions = &measured.predictions;
    let mut candidates: Vec<CandidateResult> = trained
        .iter()
        .zip(&measured.offline)
        .zip(&measured.latency.subjects)
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
            balanced_accuracy: Some(o.balanced_accuracy),
            roc_auc: o.roc_auc,
            log_loss: Some(o.log_loss),
            latency_ns: l.end_to_end,
            model_latency_ns: l.model_only,
            round_spread: rounds.spread[i],
            noisy: rounds.noisy[i],
            round_p50_ns: l.round_p50s.clone(),
            throughput_rows_per_s: o.throughput_rows_per_s,
            size_bytes: o.size_bytes,
            memory_bytes: measured.compiled[i].heap_bytes() as u64,
            load_ns: o.load,
            compression: o.compression.clone(),
            zstd_level: o.zstd_level,
            pareto_optimal: selection.pareto_optimal[i],
            within_budget: selection.within_budget[i],
        })
        .collect();
    let accuracy: BTreeMap<String, f64> = candidates
        .iter()
        .map(|c| (c.id.clone(), c.accuracy))
        .collect();
    for c in &mut candidates {
        c.accuracy_delta = c.parent.as_ref().map(|p| c.accuracy - accuracy[p]);
    }
    candidates
}

/// The chosen candidate `t` (its report row `r`) and `pipeline` as a
/// package, ready to save.
fn package(
    t: &Candidate,
    r: &CandidateResult,
    split: &Split,
    pipeline: &FittedPipeline,
    source: serde_json::Value,
) -> Result<Artifact> {
    let train_set = &split.train;
    let mut metrics = BTreeMap::from([
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
    // Every quality metric the run computed, so the package states the
    // figures its choice was made on whatever metric chose it.
    for (name, value) in [
        ("balanced_accuracy", r.balanced_accuracy),
        ("roc_auc", r.roc_auc),
        ("log_loss", r.log_loss),
    ] {
        if let Some(v) = value {
            metrics.insert(name.to_string(), v);
        }
    }
    Artifact::new(
        Metadata {
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
            class_counts: train_set
                .class_counts()
                .into_iter()
                .map(|c| c as u64)
                .collect(),
            metrics,
            crate_versions: crate_versions(),
            model_file: FileInfo::default(),
            reference_sample: None,
        },
        train_set.schema(),
        pipeline.clone(),
        t.model.clone(),
    )
    .map_err(|message| Error::Train {
        candidate: t.id.clone(),
        message,
    })
}

/// The saved package as `model.onnx` beside it in `model_dir`.
fn export_onnx(artifact: &Artifact, model_dir: &Path) -> Result<()> {
    let graph = crate::onnx::serving_to_onnx(
        &artifact.schema,
        &artifact.pipeline,
        artifact.model(),
        &artifact.metadata.classes,
    )?;
    crate::onnx::write_onnx(&model_dir.join("model.onnx"), &graph)
}

/// The chosen model's test predictions (`predictions`, and the class
/// probabilities computed here) as CSV at `path`, from this process's
/// in-memory model: what a reloaded package must reproduce.
fn write_test_predictions(
    model: &CompiledModel,
    pipeline: &FittedPipeline,
    test_set: &Dataset,
    x_test: &[f32],
    predictions: &[u32],
    path: &Path,
) -> Result<()> {
    let k = model.n_classes();
    let mut proba = vec![0.0f32; test_set.n_rows() * k];
    let mut scratch = model.scratch();
    for (r, p) in proba.chunks_exact_mut(k).enumerate() {
        let d = pipeline.n_outputs();
        model.predict_proba(&x_test[r * d..(r + 1) * d], &mut scratch, p);
    }
    let csv = report::render_predictions_csv(&test_set.classes, &test_set.y, predictions, &proba);
    crate::fsutil::write_atomic(path, csv.as_bytes())
}

/// Removes the package and test predictions an earlier run left under the
/// same output folder: with nothing chosen they would contradict
/// results.json.
fn remove_stale_package(model_dir: &Path, predictions_path: &Path) -> Result<()> {
    if model_dir.join(crate::artifact::METADATA_FILE).exists() {
        std::fs::remove_dir_all(model_dir).map_err(|e| Error::io(model_dir, e))?;
    }
    if predictions_path.exists() {
        std::fs::remove_file(predictions_path).map_err(|e| Error::io(predictions_path, e))?;
    }
    Ok(())
}
