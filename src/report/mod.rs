//! Reports: pure renderers from [`RunResults`] to bytes — `results.json`
//! (which holds everything, so a report can be rebuilt without measuring
//! again), `results.csv`, `pareto.svg` and a self-contained `report.html`.
//!
//! Uses measurement and selection results only.

pub(crate) mod html;
mod svg;

pub use html::render_html;
pub use svg::render_pareto_svg;

use crate::data::FeatureKind;
use crate::error::{Error, Result};
use crate::measure::{
    Compression, Interleaving, LatencyStats, MeasureSettings, Metric, Nanos, Sizes, StageLatency,
    TimerOverhead,
};
use crate::optimize::Transform;
use crate::select::Budget;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything a run found; the content of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub optbench_version: String,
    pub created_utc: String,
    pub seed: u64,
    pub dataset: DatasetInfo,
    pub budget: BudgetInfo,
    pub measure: MeasureSettings,
    pub machine: Machine,
    pub timer_overhead_ns: TimerOverhead,
    /// How the candidates took turns (absent from results written before it
    /// was recorded: the report then does not describe it).
    #[serde(default)]
    pub interleaving: Option<Interleaving>,
    /// The machine's speed in each round, a factor on every candidate's
    /// time (`measure::host_speed`; all 1 when it held steady)…
    #[serde(default)]
    pub host_speed: Vec<f64>,
    /// …and how far it moved, `(max − min) / median`: above
    /// `measure.noise_tolerance`, absolute times carry that uncertainty (the
    /// candidates' order does not: they all felt it).
    #[serde(default)]
    pub host_spread: f64,
    /// Validation and preprocessing timed on their own (the same for every
    /// candidate): with a candidate's model-only figures, the breakdown of
    /// its end-to-end latency.
    pub stage_latency_ns: StageLatency,
    pub candidates: Vec<CandidateResult>,
    /// Variants whose model came out identical (same bytes) to an earlier
    /// candidate's, so were not measured twice.
    #[serde(default)]
    pub duplicates: Vec<Duplicate>,
    /// Id of the chosen candidate; `null` when nothing fits the budget.
    pub chosen: Option<String>,
    /// When nothing fits: the candidate closest to fitting.
    pub closest: Option<String>,
    /// Why this choice, in a sentence.
    pub reason: String,
    /// The chosen package measured through `optbench serve` by `run
    /// --serve-check` (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<ServedCheck>,
}

/// The chosen package's latency as a client sees it at one request rate
/// (one row a request, open loop), beside the in-process figures the
/// choice was made on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedCheck {
    /// Requests per second offered.
    pub rate: f64,
    pub requests: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The served p99's 95% upper confidence bound (`None` with too few
    /// requests).
    pub p99_upper_us: Option<f64>,
    pub in_process_p50_us: f64,
    pub in_process_p99_upper_us: f64,
    /// The server's own mean handling, its stages, and the client's mean
    /// service time outside it.
    pub server_mean_us: Option<f64>,
    pub stages_mean_us: std::collections::BTreeMap<String, f64>,
    pub outside_server_mean_us: Option<f64>,
    /// Whether the served p99 bound (or, without one, the p99) is within
    /// the budget, with no failed request.
    pub within_budget: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Where the data came from (generator parameters or file paths).
    pub source: serde_json::Value,
    pub rows: usize,
    pub rows_train: usize,
    pub rows_test: usize,
    pub features: usize,
    pub feature_names: Vec<String>,
    pub feature_kinds: Vec<FeatureKind>,
    /// Width of the model's input after the pipeline (one-hot widens it).
    pub model_inputs: usize,
    pub classes: Vec<String>,
    /// SHA-256 of the training rows (canonical encoding; see `Dataset::sha256`).
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetInfo {
    pub p99_ms: f64,
    /// The figure compared with the budget.
    pub applies_to: BudgetMetric,
    /// In the metric's units: percentage points, nats for log-loss.
    pub accuracy_tolerance_pp: Option<f64>,
    /// The quality metric that chose (files written before it existed were
    /// chosen by accuracy).
    #[serde(default)]
    pub metric: Metric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetMetric {
    /// The 95% upper confidence bound of the end-to-end p99.
    EndToEndP99Upper,
}

impl From<&Budget> for BudgetInfo {
    fn from(b: &Budget) -> Self {
        BudgetInfo {
            p99_ms: b.p99.as_ms(),
            applies_to: BudgetMetric::EndToEndP99Upper,
            accuracy_tolerance_pp: b.accuracy_tolerance_pp,
            metric: b.metric,
        }
    }
}

/// Where the figures were measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub logical_cores: usize,
    pub os: String,
    pub arch: String,
    /// `release` (lto, one codegen unit) or `debug`: debug figures are not
    /// representative.
    pub build: String,
    pub threads_used: usize,
    /// The compiler that built optbench.
    #[serde(default)]
    pub rustc: String,
    /// The git commit optbench was built from (`unknown` outside a checkout).
    #[serde(default)]
    pub git_commit: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Machine {
            cpu,
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, kernel.trim())
                .trim()
                .to_string(),
            arch: std::env::consts::ARCH.into(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            threads_used: 1,
            rustc: crate::build_info::RUSTC_VERSION.into(),
            git_commit: crate::build_info::GIT_COMMIT.into(),
        }
    }
}

/// One candidate's figures: a row of `results.csv`.
/// A derived variant left out because an earlier candidate is the same model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    pub id: String,
    pub same_as: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    pub id: String,
    pub family: String,
    pub params: serde_json::Value,
    /// The candidate this one was derived from (`null` for trained models).
    pub parent: Option<String>,
    /// How it was derived, with the transform's parameters.
    pub transform: Option<Transform>,
    /// Accuracy minus the parent's (`null` for trained models).
    pub accuracy_delta: Option<f64>,
    /// Share of test rows where this and the parent predict the same class.
    pub agreement_with_parent: Option<f64>,
    /// Size of the model, e.g. "100 trees, 50,580 nodes, max depth 24".
    pub model: String,
    pub fit_seconds: f64,
    pub accuracy: f64,
    pub f1_macro: f64,
    /// The other metrics (`measure::Quality`); `null` in files written
    /// before they were recorded, and `roc_auc` when the test set holds
    /// one class.
    #[serde(default)]
    pub balanced_accuracy: Option<f64>,
    #[serde(default)]
    pub roc_auc: Option<f64>,
    #[serde(default)]
    pub log_loss: Option<f64>,
    /// End-to-end single-row latency (validate → preprocess → predict).
    pub latency_ns: LatencyStats,
    /// Model-only single-row latency (preprocessed row in, class out).
    pub model_latency_ns: LatencyStats,
    /// Median per round of the end-to-end p50 (spread = noise).
    pub round_p50_ns: Vec<Nanos>,
    /// `(max − min) / median` of `round_p50_ns` with the machine's speed
    /// (`host_speed`) divided out…
    pub round_spread: f64,
    /// …above `measure.noise_tolerance`: the rounds disagree beyond what
    /// the whole machine did, so this candidate's figures deserve less
    /// trust (re-run on a quieter machine).
    pub noisy: bool,
    pub throughput_rows_per_s: f64,
    pub size_bytes: Sizes,
    /// Bytes of the loaded model's arrays (`Model::heap_bytes`: nodes,
    /// thresholds, leaves, weights and run-time layouts).
    #[serde(default)]
    pub memory_bytes: u64,
    pub load_ns: Nanos,
    /// Every zstd level tried (size, compress and load time)…
    pub compression: Vec<Compression>,
    /// …and the one the artifact uses.
    pub zstd_level: i32,
    pub pareto_optimal: bool,
    pub within_budget: bool,
}

impl CandidateResult {
    /// The value of one quality metric (`None`: not recorded or undefined).
    pub fn quality(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Accuracy => Some(self.accuracy),
            Metric::F1Macro => Some(self.f1_macro),
            Metric::BalancedAccuracy => self.balanced_accuracy,
            Metric::RocAuc => self.roc_auc,
            Metric::LogLoss => self.log_loss,
        }
    }
}

impl RunResults {
    /// The metric that chose.
    pub fn metric(&self) -> Metric {
        self.budget.metric
    }

    pub fn chosen(&self) -> Option<&CandidateResult> {
        let id = self.chosen.as_ref()?;
        self.candidates.iter().find(|c| &c.id == id)
    }

    /// When nothing fits: the candidate closest to fitting.
    pub fn closest(&self) -> Option<&CandidateResult> {
        let id = self.closest.as_ref()?;
        self.candidates.iter().find(|c| &c.id == id)
    }
}

pub fn render_json(r: &RunResults) -> String {
    // Plain data with string keys: serialisation cannot fail.
    serde_json::to_string_pretty(r).expect("results serialise") + "\n"
}

/// A recorded figure to six decimals; empty when there is none.
fn opt6(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.6}")).unwrap_or_default()
}

pub fn render_csv(r: &RunResults) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "family",
        "parent",
        "transform",
        "accuracy",
        "accuracy_delta",
        "agreement_with_parent",
        "f1_macro",
        "balanced_accuracy",
        "roc_auc",
        "log_loss",
        "p50_ns",
        "p95_ns",
        "p99_ns",
        "p99_9_ns",
        "max_ns",
        "p99_upper_ns",
        "model_p50_ns",
        "model_p99_ns",
        "throughput_rows_per_s",
        "size_raw_bytes",
        "size_compressed_bytes",
        "load_ns",
        "fit_seconds",
        "pareto_optimal",
        "within_budget",
        "chosen",
        "round_spread",
        "noisy",
    ];
    // Writing to a Vec cannot fail.
    w.write_record(header).expect("csv to memory");
    for c in &r.candidates {
        let l = &c.latency_ns;
        w.write_record([
            c.id.clone(),
            c.family.clone(),
            c.parent.clone().unwrap_or_default(),
            c.transform
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            format!("{:.6}", c.accuracy),
            c.accuracy_delta
                .map(|d| format!("{d:.6}"))
                .unwrap_or_default(),
            c.agreement_with_parent
                .map(|a| format!("{a:.6}"))
                .unwrap_or_default(),
            format!("{:.6}", c.f1_macro),
            opt6(c.balanced_accuracy),
            opt6(c.roc_auc),
            opt6(c.log_loss),
            l.p50.0.to_string(),
            l.p95.0.to_string(),
            l.p99.0.to_string(),
            l.p99_9.0.to_string(),
            l.max.0.to_string(),
            l.p99_upper.0.to_string(),
            c.model_latency_ns.p50.0.to_string(),
            c.model_latency_ns.p99.0.to_string(),
            format!("{:.0}", c.throughput_rows_per_s),
            c.size_bytes.raw.to_string(),
            c.size_bytes.compressed.to_string(),
            c.load_ns.0.to_string(),
            format!("{:.3}", c.fit_seconds),
            c.pareto_optimal.to_string(),
            c.within_budget.to_string(),
            (r.chosen.as_deref() == Some(c.id.as_str())).to_string(),
            format!("{:.4}", c.round_spread),
            c.noisy.to_string(),
        ])
        .expect("csv to memory");
    }
    String::from_utf8(w.into_inner().expect("csv to memory")).expect("csv of UTF-8 strings")
}

/// Writes `results.json`, `results.csv`, `pareto.svg` and `report.html` into
/// `dir`, each atomically.
pub fn write_all(dir: &Path, r: &RunResults) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let svg = render_pareto_svg(r);
    crate::fsutil::write_atomic(&dir.join("results.json"), render_json(r).as_bytes())?;
    crate::fsutil::write_atomic(&dir.join("results.csv"), render_csv(r).as_bytes())?;
    crate::fsutil::write_atomic(&dir.join("pareto.svg"), svg.as_bytes())?;
    crate::fsutil::write_atomic(&dir.join("report.html"), render_html(r, &svg).as_bytes())?;
    Ok(())
}

/// `test_predictions.csv`: the chosen model's predictions on the test set,
/// computed in the training process (`row` is the 1-based test row,
/// `actual` its label). Probabilities are written in the shortest form that
/// reads back to the same `f32`, as `optbench predict` writes them, so the
/// two files can be compared bit for bit.
pub fn render_predictions_csv(
    classes: &[String],
    actual: &[u32],
    predicted: &[u32],
    proba: &[f32],
) -> String {
    let k = classes.len();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "actual".into(), "prediction".into()];
    header.extend(classes.iter().map(|c| format!("proba_{c}")));
    // Writing to a Vec cannot fail.
    w.write_record(&header).expect("csv to memory");
    for (i, (&a, &p)) in actual.iter().zip(predicted).enumerate() {
        let mut f = vec![
            (i + 1).to_string(),
            classes[a as usize].clone(),
            classes[p as usize].clone(),
        ];
        f.extend(proba[i * k..(i + 1) * k].iter().map(f32::to_string));
        w.write_record(&f).expect("csv to memory");
    }
    String::from_utf8(w.into_inner().expect("csv to memory")).expect("UTF-8 fields")
}

/// Reads a `results.json` back (to re-render a report without measuring).
pub fn read_json(path: &Path) -> Result<RunResults> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::data(path, format!("not an optbench results file: {e}")))
}

#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    fn lat(p50: u64) -> LatencyStats {
        LatencyStats {
            calls: 10_000,
            mean: Nanos(p50 + 5),
            p50: Nanos(p50),
            p95: Nanos(p50 * 2),
            p99: Nanos(p50 * 3),
            p99_9: Nanos(p50 * 4),
            max: Nanos(p50 * 10),
            p99_upper: Nanos(p50 * 3 + 7),
        }
    }

    fn cand(id: &str, acc: f64, p50: u64, pareto: bool) -> CandidateResult {
        CandidateResult {
            id: id.into(),
            family: "decision tree".into(),
            params: serde_json::json!({"max_depth": 3}),
            parent: None,
            transform: None,
            accuracy_delta: None,
            agreement_with_parent: None,
            model: "1 trees, 15 nodes, max depth 3".into(),
            fit_seconds: 0.01,
            accuracy: acc,
            f1_macro: acc - 0.01,
            balanced_accuracy: Some(acc - 0.02),
            roc_auc: Some(acc + 0.05),
            log_loss: Some(1.0 - acc),
            latency_ns: lat(p50),
            model_latency_ns: lat(p50 / 2),
            round_p50_ns: vec![Nanos(p50); 3],
            round_spread: 0.0,
            noisy: false,
            throughput_rows_per_s: 1e6,
            size_bytes: Sizes {
                raw: 1000,
                compressed: 400,
            },
            memory_bytes: 1000,
            load_ns: Nanos(2000),
            compression: vec![Compression {
                level: 19,
                bytes: 400,
                compress_ns: Nanos(9000),
                load_ns: Nanos(2000),
            }],
            zstd_level: 19,
            pareto_optimal: pareto,
            within_budget: true,
        }
    }

    /// A small, fixed results value for renderer tests.
    pub fn results() -> RunResults {
        RunResults {
            served: None,
            optbench_version: "0.1.0".into(),
            created_utc: "2026-11-26T20:12:10Z".into(),
            seed: 42,
            dataset: DatasetInfo {
                source: serde_json::json!({"kind": "synthetic"}),
                rows: 100,
                rows_train: 80,
                rows_test: 20,
                features: 2,
                feature_names: vec!["a".into(), "b".into()],
                feature_kinds: vec![FeatureKind::Numeric, FeatureKind::Categorical],
                model_inputs: 4,
                classes: vec!["0".into(), "1".into()],
                sha256: "ab".repeat(32),
            },
            budget: BudgetInfo {
                p99_ms: 0.05,
                applies_to: BudgetMetric::EndToEndP99Upper,
                accuracy_tolerance_pp: None,
                metric: Metric::Accuracy,
            },
            measure: MeasureSettings::default(),
            machine: Machine::detect(),
            timer_overhead_ns: TimerOverhead {
                p50: Nanos(20),
                p99: Nanos(40),
            },
            interleaving: Some(Interleaving::CURRENT),
            host_speed: vec![1.0, 1.0],
            host_spread: 0.0,
            stage_latency_ns: StageLatency {
                request: crate::data::RequestForm::Numbers,
                validate: lat(12),
                preprocess: lat(35),
            },
            candidates: vec![
                cand("tree-d3", 0.85, 100, true),
                cand("forest-<10>", 0.9, 5000, true),
                cand("slow", 0.8, 9000, false),
            ],
            chosen: Some("forest-<10>".into()),
            closest: None,
            reason: "`forest-<10>` is the most accurate & fits.".into(),
            duplicates: vec![Duplicate {
                id: "forest-<10>/first5".into(),
                same_as: "forest-5".into(),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_and_has_the_documented_keys() {
        let r = sample::results();
        let text = render_json(&r);
        let back: RunResults = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let c = &v["candidates"][0];
        for key in [
            "id",
            "family",
            "params",
            "parent",
            "accuracy",
            "f1_macro",
            "balanced_accuracy",
            "roc_auc",
            "log_loss",
            "throughput_rows_per_s",
            "pareto_optimal",
            "within_budget",
        ] {
            assert!(c.get(key).is_some(), "missing {key}");
        }
        assert_eq!(c["latency_ns"]["p99_upper"], 307);
        assert_eq!(c["size_bytes"]["compressed"], 400);
        assert_eq!(v["budget"]["metric"], "accuracy");
        for key in ["budget", "chosen", "reason", "dataset"] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["dataset"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(v["interleaving"]["slices"], crate::measure::SLICES);
        assert_eq!(
            v["interleaving"]["rewarm_calls"],
            crate::measure::REWARM_CALLS
        );
        // Results written before the interleaving was recorded still load.
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("interleaving");
        let old: RunResults = serde_json::from_value(old).unwrap();
        assert_eq!(old.interleaving, None);
    }

    #[test]
    fn csv_has_one_row_per_candidate_and_marks_the_choice() {
        let text = render_csv(&sample::results());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("id,family,parent,transform,accuracy,accuracy_delta"));
        assert!(lines[2].starts_with("forest-<10>,decision tree,,,0.900000,,,"));
        assert!(lines[2].ends_with(",true,true,true,0.0000,false"));
        assert!(lines[3].ends_with(",false,true,false,0.0000,false"));
    }
}
