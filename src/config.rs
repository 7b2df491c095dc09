//! The run configuration: a TOML file (or the built-in `configs/default.toml`)
//! plus command-line overrides, checked once into a [`Plan`] that later code
//! trusts.

use crate::data::{ColumnTypes, SyntheticSpec};
use crate::error::{Error, Result};
use crate::measure::{MeasureSettings, Metric, Nanos};
use crate::optimize::OptimizePlan;
use crate::pipeline::PipelineConfig;
use crate::select::Budget;
use crate::train::CandidateSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The built-in default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../configs/default.toml");

/// A config file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub data: DataConfig,
    /// Column types that override inference: `city = "categorical"`,
    /// `zip = "categorical"`, `id = "ignore"`, `score = "numeric"`.
    #[serde(default)]
    pub columns: ColumnTypes,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub candidates: Vec<CandidateSpec>,
    #[serde(default)]
    pub optimize: OptimizePlan,
    #[serde(default)]
    pub measure: MeasureSettings,
    #[serde(default)]
    pub select: SelectConfig,
}

fn default_seed() -> u64 {
    42
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// One CSV file, split into train and test.
    pub csv: Option<PathBuf>,
    pub train: Option<PathBuf>,
    pub test: Option<PathBuf>,
    pub target: Option<String>,
    pub test_fraction: Option<f64>,
    pub synthetic: Option<SyntheticSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectConfig {
    pub budget_ms: Option<f64>,
    /// `tolerance` is the metric-neutral name (in the metric's units).
    #[serde(alias = "tolerance")]
    pub accuracy_tolerance_pp: Option<f64>,
    /// What the choice maximises (log-loss: minimises); accuracy when unset.
    pub metric: Option<Metric>,
}

/// Command-line values that override the config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data: Option<PathBuf>,
    pub train: Option<PathBuf>,
    pub test: Option<PathBuf>,
    pub target: Option<String>,
    pub budget_ms: Option<f64>,
    pub accuracy_tolerance_pp: Option<f64>,
    /// `--metric`, over `[select] metric`.
    pub metric: Option<Metric>,
    pub seed: Option<u64>,
    pub out: Option<PathBuf>,
    /// Also write the package's serving path as ONNX (`model/model.onnx`).
    pub export_onnx: bool,
    /// The plan is `import`'s: nothing is trained, so the config needs no
    /// `[[candidates]]` (only `[optimize]`, `[measure]`, `[select]`).
    pub import: bool,
}

/// Where the data come from, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataPlan {
    Synthetic {
        spec: SyntheticSpec,
        test_fraction: f64,
    },
    Csv {
        path: PathBuf,
        target: String,
        test_fraction: f64,
    },
    TrainTest {
        train: PathBuf,
        test: PathBuf,
        target: String,
    },
}

/// A checked run: every value valid, every path resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub data: DataPlan,
    pub columns: ColumnTypes,
    pub pipeline: PipelineConfig,
    pub candidates: Vec<CandidateSpec>,
    pub optimize: OptimizePlan,
    pub measure: MeasureSettings,
    pub budget: Budget,
    pub out: PathBuf,
    /// The config file, or `None` for the built-in default.
    pub config_path: Option<PathBuf>,
    /// Write `model/model.onnx` beside the package.
    pub export_onnx: bool,
}

impl Plan {
    /// Reads `config` (or the built-in default), applies the overrides and
    /// checks everything.
    pub fn load(config: Option<&Path>, overrides: &Overrides) -> Result<Plan> {
        let (text, label, base) = match config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (text, p.to_path_buf(), base)
            }
            None => (
                DEFAULT_CONFIG.to_string(),
                PathBuf::from("<built-in default>"),
                PathBuf::new(),
            ),
        };
        let cfg: RunConfig = toml::from_str(&text)
            .map_err(|e| Error::config(&label, e.to_string().trim_end().to_string()))?;
        Plan::from_config(cfg, &label, &base, config.map(Path::to_path_buf), overrides)
    }

    fn from_config(
        cfg: RunConfig,
        label: &Path,
        base: &Path,
        config_path: Option<PathBuf>,
        o: &Overrides,
    ) -> Result<Plan> {
        let resolve = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };
        let seed = o.seed.unwrap_or(cfg.seed);
        let d = &cfg.data;
        let test_fraction = d.test_fraction.unwrap_or(0.2);
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(Error::config(
                label,
                format!("data.test_fraction = {test_fraction}: expected a number between 0 and 1"),
            ));
        }
        let target = o.target.clone().or_else(|| d.target.clone());
        let need_target = |what: &str| {
            target.clone().ok_or_else(|| {
                Error::flag(
                    "--target",
                    format!(
                        "{what} needs the name of the label column (--target NAME or data.target)"
                    ),
                )
            })
        };
        // Command-line data replace the config's data altogether.
        let data = if let Some(path) = &o.data {
            if o.train.is_some() || o.test.is_some() {
                return Err(Error::flag(
                    "--data",
                    "give either --data or --train with --test, not both",
                ));
            }
            DataPlan::Csv {
                path: path.clone(),
                target: need_target("--data")?,
                test_fraction,
            }
        } else if o.train.is_some() || o.test.is_some() {
            match (&o.train, &o.test) {
                (Some(train), Some(test)) => DataPlan::TrainTest {
                    train: train.clone(),
                    test: test.clone(),
                    target: need_target("--train/--test")?,
                },
                (Some(_), None) => {
                    return Err(Error::flag(
                        "--train",
                        "--train needs --test (or use --data to split one file)",
                    ))
                }
                _ => return Err(Error::flag("--test", "--test needs --train")),
            }
        } else if let Some(path) = &d.csv {
            if d.train.is_some() || d.test.is_some() || d.synthetic.is_some() {
                return Err(Error::config(
                    label,
                    "data: give one of `csv`, `train` + `test`, or `synthetic`",
                ));
            }
            DataPlan::Csv {
                path: resolve(path),
                target: need_target("data.csv")?,
                test_fraction,
            }
        } else if d.train.is_some() || d.test.is_some() {
            match (&d.train, &d.test) {
                (Some(train), Some(test)) if d.synthetic.is_none() => DataPlan::TrainTest {
                    train: resolve(train),
                    test: resolve(test),
                    target: need_target("data.train")?,
                },
                _ => {
                    return Err(Error::config(
                        label,
                        "data: `train` and `test` go together, without `synthetic`",
                    ))
                }
            }
        } else {
            let spec = d.synthetic.clone().unwrap_or_default();
            spec.validate()
                .map_err(|m| Error::config(label, format!("data.synthetic: {m}")))?;
            DataPlan::Synthetic {
                spec,
                test_fraction,
            }
        };

        if !cfg.columns.is_empty() && matches!(data, DataPlan::Synthetic { .. }) {
            return Err(Error::config(
                label,
                "[columns] types CSV columns, but the data are synthetic (all numeric)",
            ));
        }
        cfg.pipeline
            .validate()
            .map_err(|m| Error::config(label, m))?;
        if cfg.candidates.is_empty() && !o.import {
            return Err(Error::config(
                label,
                "no [[candidates]]: name at least one model to train",
            ));
        }
        let mut ids = BTreeSet::new();
        for c in &cfg.candidates {
            c.validate()
                .map_err(|m| Error::config(label, format!("candidate `{}`: {m}", c.id())))?;
            if !ids.insert(c.id()) {
                return Err(Error::config(
                    label,
                    format!("candidate `{}` is listed twice", c.id()),
                ));
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        cfg.optimize
            .validate(&ids)
            .map_err(|m| Error::config(label, format!("optimize.{m}")))?;
        cfg.measure
            .validate()
            .map_err(|m| Error::config(label, format!("measure.{m}")))?;

        let (budget_ms, budget_src) = match (o.budget_ms, cfg.select.budget_ms) {
            (Some(b), _) => (b, "--budget-ms"),
            (None, Some(b)) => (b, "select.budget_ms"),
            (None, None) => {
                return Err(Error::flag(
                    "--budget-ms",
                    "no latency budget: pass --budget-ms MS or set select.budget_ms",
                ))
            }
        };
        if !(budget_ms.is_finite() && budget_ms > 0.0) {
            return Err(Error::flag(
                budget_src,
                format!("{budget_ms}: expected a positive number of milliseconds, e.g. 50 or 0.2"),
            ));
        }
        let metric = o.metric.or(cfg.select.metric).unwrap_or_default();
        let tolerance = o.accuracy_tolerance_pp.or(cfg.select.accuracy_tolerance_pp);
        if let Some(t) = tolerance {
            // Accuracy keeps the flag's historical name in its message.
            let flag = if metric == Metric::Accuracy {
                "--accuracy-tolerance"
            } else {
                "--tolerance"
            };
            let (valid, expected) = if metric.is_share() {
                (
                    t.is_finite() && (0.0..=100.0).contains(&t),
                    format!("{} points between 0 and 100", metric.label()),
                )
            } else {
                (
                    t.is_finite() && t >= 0.0,
                    format!("{} in nats, 0 or more", metric.label()),
                )
            };
            if !valid {
                return Err(Error::flag(flag, format!("{t}: expected {expected}")));
            }
        }
        Ok(Plan {
            seed,
            data,
            columns: cfg.columns,
            pipeline: cfg.pipeline,
            candidates: cfg.candidates,
            optimize: cfg.optimize,
            measure: cfg.measure,
            budget: Budget {
                p99: Nanos::from_ms(budget_ms),
                accuracy_tolerance_pp: tolerance,
                metric,
            },
            out: o
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("reports/latest")),
            config_path,
            export_onnx: o.export_onnx,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_default_is_valid() {
        let plan = Plan::load(None, &Overrides::default()).unwrap();
        assert_eq!(plan.candidates.len(), 10);
        assert_eq!(plan.optimize.distill[0].teacher, "forest-500");
        assert_eq!(plan.budget.p99, Nanos(50_000_000));
        assert!(
            matches!(plan.data, DataPlan::Synthetic { ref spec, .. } if spec.n_samples == 5000 && spec.seed == 42)
        );
    }

    /// The lesson's fourth exercise as it is written: the eight-plus models,
    /// the SVM among them, and a 30 ms budget.
    #[test]
    fn exercise4_holds_the_lessons_grid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/exercise4.toml");
        let plan = Plan::load(Some(&path), &Overrides::default()).unwrap();
        let ids: Vec<String> = plan.candidates.iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            [
                "logreg",
                "tree-d3",
                "tree-d10",
                "tree-d20",
                "forest-10",
                "forest-50",
                "forest-200",
                "boost-50",
                "boost-200",
                "svm-rbf"
            ]
        );
        assert_eq!(plan.budget.p99, Nanos(30_000_000));
        assert_eq!(plan.optimize.distill[0].teacher, "svm-rbf");
        assert_eq!(plan.optimize.reduce_svm, [0.5, 0.25]);
    }

    /// `[select] metric` and its metric-neutral `tolerance`; `--metric` wins.
    #[test]
    fn select_metric_comes_from_the_config_or_the_flag() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let tiny = std::fs::read_to_string(root.join("configs/tiny.toml")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metric.toml");
        std::fs::write(&path, tiny + "metric = \"roc_auc\"\ntolerance = 1.5\n").unwrap();
        let plan = Plan::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(plan.budget.metric, Metric::RocAuc);
        assert_eq!(plan.budget.accuracy_tolerance_pp, Some(1.5));
        let o = Overrides {
            metric: Some(Metric::LogLoss),
            ..Default::default()
        };
        assert_eq!(
            Plan::load(Some(&path), &o).unwrap().budget.metric,
            Metric::LogLoss
        );
        // Unset: accuracy, as before the key existed.
        let plan = Plan::load(Some(&root.join("configs/tiny.toml")), &Overrides::default());
        assert_eq!(plan.unwrap().budget.metric, Metric::Accuracy);
    }

    #[test]
    fn flags_override_and_are_checked() {
        let o = Overrides {
            budget_ms: Some(0.2),
            data: Some("x.csv".into()),
            target: Some("y".into()),
            ..Default::default()
        };
        let plan = Plan::load(None, &o).unwrap();
        assert_eq!(plan.budget.p99, Nanos(200_000));
        assert!(matches!(plan.data, DataPlan::Csv { ref target, .. } if target == "y"));
        let o = Overrides {
            data: Some("x.csv".into()),
            ..Default::default()
        };
        assert!(Plan::load(None, &o)
            .unwrap_err()
            .to_string()
            .starts_with("--target:"));
        let o = Overrides {
            budget_ms: Some(-1.0),
            ..Default::default()
        };
        assert!(Plan::load(None, &o)
            .unwrap_err()
            .to_string()
            .contains("expected a positive number"));
        let o = Overrides {
            train: Some("a.csv".into()),
            target: Some("y".into()),
            ..Default::default()
        };
        assert!(Plan::load(None, &o)
            .unwrap_err()
            .to_string()
            .starts_with("--train:"));
    }

    #[test]
    fn config_errors_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "seed = 1\n[measure]\ntimed_calls = 10\n[[candidates]]\nfamily = \"decision_tree\"\n",
        )
        .unwrap();
        let e = Plan::load(
            Some(&p),
            &Overrides {
                budget_ms: Some(1.0),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("config ") && e.contains("measure.timed_calls = 10"),
            "{e}"
        );
        std::fs::write(&p, "[[candidates]]\nfamily = \"mlp\"\n").unwrap();
        let e = Plan::load(Some(&p), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `mlp`"), "{e}");
    }

    /// `import` trains nothing: its config may hold `[optimize]`,
    /// `[measure]` and `[select]` alone; `run`'s may not.
    #[test]
    fn an_import_config_needs_no_candidates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[optimize]\nquantize = [\"bins\"]\n[select]\nbudget_ms = 5\n",
        )
        .unwrap();
        let e = Plan::load(Some(&p), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no [[candidates]]"), "{e}");
        let plan = Plan::load(
            Some(&p),
            &Overrides {
                import: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(plan.candidates.is_empty());
    }
}
