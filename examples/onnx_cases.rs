//! The Rust half of the ONNX proof (`scripts/onnx_check.py` is the other):
//!
//! ```text
//! onnx_cases export DIR        every family × {binary, 3-class} × {float, quantized}, and
//!                              SVMs of every kernel with and without Platt's sigmoids
//!                              (float and int8 support vectors):
//!                              DIR/<case>.onnx + DIR/<case>.json (rows, optbench's labels
//!                              and probabilities) for onnxruntime to compare against
//! onnx_cases check-import DIR  imports every DIR/<case>.onnx (written by skl2onnx) and
//!                              compares optbench's predictions with onnxruntime's in
//!                              DIR/<case>.json; exit 1 on any disagreement. A case with
//!                              `"raw": true` (a scikit-learn Pipeline: Imputer → Scaler →
//!                              model) must import with its preprocessing, and each raw
//!                              row goes through the imported pipeline, then the model;
//!                              its scaled features are compared with onnxruntime's too.
//!                              A case with `columns` (a ColumnTransformer: one input
//!                              per column, numeric and categorical) has raw cells
//!                              (`cells`: numbers or null, texts or "" for missing),
//!                              must import with a per-column pipeline and the case's
//!                              class labels, and its cells go through that pipeline.
//!                              An SVM case (scikit-learn's SVC) also holds onnxruntime's
//!                              pair decision values and its probability tolerance: the
//!                              classes must be equal but where a decision value is zero
//!                              up to rounding
//! onnx_cases export-serving DIR the whole serving path (pipeline + model) of every family,
//!                              float and int8 (and rbf SVMs, with and without Platt), on mixed-type data with missing cells and
//!                              unseen categories (exercise 2: 2 classes; penguins: 3):
//!                              DIR/<case>.onnx + DIR/<case>.json (raw rows per column,
//!                              optbench's labels and probabilities through its own
//!                              validate → preprocess → predict path)
//! onnx_cases bench DIR [PAT]   optbench's single-row latency on the imported models (those
//!                              whose case name contains PAT), the same rows and rounds as
//!                              the script's onnxruntime timing
//! ```
//!
//! Data: `tests/fixtures/breast_cancer` (2 classes) and `tests/fixtures/wine`
//! (3 classes), read as plain numeric CSV (label column `label`); no
//! preprocessing (trees do not need it, and the export is the model alone),
//! except for SVMs, whose cases hold rows standardized by the training
//! rows' means and deviations (kernels assume comparable scales).

use optbench::model::{LeafPrecision, Model, QuantLinear, QuantSvm, QuantTrees};
use optbench::onnx::{
    imported_pipeline, model_to_onnx, read_onnx, write_onnx, Imported, Preprocessing,
};
use optbench::train::{train, CandidateSpec, TrainData};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Probabilities must agree within this; classes must be equal unless the
/// two highest probabilities are this close (an exact tie up to rounding).
const PROBA_TOL: f32 = 1e-5;

/// SVM decision values are sums over every support vector, in f32 lanes
/// here and accumulated otherwise by onnxruntime: they agree within this,
/// relative to their size (at least 1) (5.4e-5 seen on w1's 1,597 vectors).
const DECISION_TOL: f32 = 1e-4;

#[derive(Serialize, Deserialize)]
struct Case {
    name: String,
    n_features: usize,
    n_classes: usize,
    /// Feature rows; `null` is NaN (JSON has no NaN).
    #[serde(default)]
    rows: Vec<Vec<Option<f32>>>,
    label: Vec<u32>,
    probabilities: Vec<Vec<f32>>,
    /// The rows are raw columns that the file preprocesses (Imputer /
    /// Scaler) before its model.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    raw: bool,
    /// The import may add a pipeline of its own (stand-in values for missing
    /// cells where the file's splits send them left): the rows go through it
    /// when it does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    stand_ins: bool,
    /// onnxruntime's preprocessed features of the raw rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    features: Option<Vec<Vec<f32>>>,
    /// A per-column case: each column's name and kind (`numeric` or
    /// `categorical`), in the order of `cells`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<(String, String)>>,
    /// A per-column case's raw rows: a number or `null` (missing) for a
    /// numeric column, a text for a categorical one (`""`: missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cells: Option<Vec<Vec<serde_json::Value>>>,
    /// The class labels the file must import with, in class-index order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<String>>,
    /// An SVM's pair decision values in onnxruntime (positive for the
    /// pair's first class): the imported SVM's must agree within
    /// [`DECISION_TOL`], and its class may differ only on a row where one
    /// of them is that close to zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decisions: Option<Vec<Vec<f32>>>,
    /// The probability tolerance when it is not [`PROBA_TOL`] (SVMs: the
    /// script says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proba_tol: Option<f32>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["export", dir] => export(Path::new(dir)),
        ["export-serving", dir] => export_serving(Path::new(dir)),
        ["check-import", dir] => check_import(Path::new(dir)),
        ["bench", dir] => bench(Path::new(dir), ""),
        ["bench", dir, pattern] => bench(Path::new(dir), pattern),
        _ => Err(
            "usage: onnx_cases export|export-serving|check-import DIR | bench DIR [PATTERN]".into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, String>;

/// Features (row-major) and class indices of a fixture CSV.
fn read_csv(path: &Path) -> Res<(Vec<f32>, Vec<u32>, usize)> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = r.headers().map_err(|e| e.to_string())?.clone();
    let target = headers
        .iter()
        .position(|h| h == "label")
        .ok_or("no `label` column")?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        for (i, v) in rec.iter().enumerate() {
            let v: f32 = v
                .parse()
                .map_err(|_| format!("{}: bad number {v}", path.display()))?;
            if i == target {
                y.push(v as u32);
            } else {
                x.push(v);
            }
        }
    }
    Ok((x, y, headers.len() - 1))
}

fn specs() -> Vec<(&'static str, CandidateSpec)> {
    vec![
        (
            "logistic_regression",
            CandidateSpec::LogisticRegression {
                alpha: 1.0,
                max_iterations: 200,
                class_weight: Default::default(),
            },
        ),
        (
            "decision_tree",
            CandidateSpec::DecisionTree {
                max_depth: Some(8),
                min_samples_leaf: 1,
                class_weight: Default::default(),
            },
        ),
        (
            "random_forest",
            CandidateSpec::RandomForest {
                n_trees: 25,
                max_depth: None,
                min_samples_leaf: 1,
                max_features: None,
                class_weight: Default::default(),
            },
        ),
        (
            "gradient_boosting",
            CandidateSpec::GradientBoosting {
                n_trees: 50,
                learning_rate: 0.1,
                max_depth: 3,
                min_samples_leaf: 1,
                subsample: 1.0,
                l2_regularization: 0.0,
                max_bins: 255,
                class_weight: Default::default(),
            },
        ),
    ]
}

/// SVM cases: every kernel without probabilities, and with Platt's
/// sigmoids (coupled for 3 classes) for every kernel too.
fn svm_specs() -> Vec<(String, CandidateSpec)> {
    use optbench::train::SvmKernel;
    let mut v = Vec::new();
    for kernel in [
        SvmKernel::Rbf,
        SvmKernel::Linear,
        SvmKernel::Poly,
        SvmKernel::Sigmoid,
    ] {
        for platt in [false, true] {
            let mut spec = CandidateSpec::svm(kernel);
            if let CandidateSpec::Svm { probability, .. } = &mut spec {
                *probability = platt;
            }
            let tag = if platt { "_platt" } else { "" };
            v.push((format!("svm_{}{tag}", kernel.name()), spec));
        }
    }
    v
}

/// `x` (the training rows) and `rows` standardized by `x`'s means and
/// standard deviations (a constant column is only centred).
fn standardized(x: &[f32], rows: &[Vec<f32>], d: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let n = (x.len() / d).max(1) as f64;
    let mut mean = vec![0.0f64; d];
    let mut var = vec![0.0f64; d];
    for r in x.chunks_exact(d) {
        for j in 0..d {
            mean[j] += f64::from(r[j]) / n;
        }
    }
    for r in x.chunks_exact(d) {
        for j in 0..d {
            var[j] += (f64::from(r[j]) - mean[j]).powi(2) / n;
        }
    }
    let sd: Vec<f64> = var
        .iter()
        .map(|&v| if v > 0.0 { v.sqrt() } else { 1.0 })
        .collect();
    let z = |r: &[f32]| -> Vec<f32> {
        (0..d)
            .map(|j| ((f64::from(r[j]) - mean[j]) / sd[j]) as f32)
            .collect()
    };
    (
        x.chunks_exact(d).flat_map(z).collect(),
        rows.iter().map(|r| z(r)).collect(),
    )
}

fn export(dir: &Path) -> Res<()> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (data, k) in [("breast_cancer", 2), ("wine", 3)] {
        let (x, y, d) = read_csv(&fixtures.join(data).join("train.csv"))?;
        let (xt, _, _) = read_csv(&fixtures.join(data).join("test.csv"))?;
        let rows: Vec<Vec<f32>> = xt.chunks_exact(d).map(<[f32]>::to_vec).collect();
        // Missing values: the IR and the file must both send NaN right.
        let with_nan: Vec<Vec<f32>> = rows
            .iter()
            .take(d)
            .enumerate()
            .map(|(j, r)| {
                let mut r = r.clone();
                r[j] = f32::NAN;
                r[(j + 1) % d] = f32::NAN;
                r
            })
            .collect();
        let train_data = TrainData {
            x: &x,
            n_features: d,
            y: &y,
            n_classes: k,
        };
        // SVMs on standardized features (the kernels assume comparable
        // scales; the export is the model alone, so the rows the case holds
        // are standardized the same way).
        let (sx, srows) = standardized(&x, &rows, d);
        let svm_data = TrainData {
            x: &sx,
            n_features: d,
            y: &y,
            n_classes: k,
        };
        let all = specs()
            .into_iter()
            .map(|(f, s)| (f.to_string(), s, &train_data, &rows))
            .chain(
                svm_specs()
                    .into_iter()
                    .map(|(f, s)| (f, s, &svm_data, &srows)),
            );
        for (family, spec, train_data, rows) in all {
            let model = train(&spec, train_data, 7)
                .map_err(|e| e.to_string())?
                .model;
            let mut variants = vec![(family.to_string(), model.clone())];
            match &model {
                Model::Linear(m) => variants.push((
                    format!("{family}_int8"),
                    Model::QuantLinear(QuantLinear::from_linear(m)),
                )),
                Model::Svm(m) => variants.push((
                    format!("{family}_int8"),
                    Model::QuantSvm(QuantSvm::from_svm(m)),
                )),
                Model::Trees(t) => {
                    for (tag, p) in [("bins", LeafPrecision::F32), ("int8", LeafPrecision::Int8)] {
                        let q = QuantTrees::from_ensemble(t, p)?;
                        variants.push((format!("{family}_{tag}"), Model::QuantTrees(q)));
                    }
                }
                _ => {}
            }
            for (name, m) in variants {
                let name = format!("{data}_{name}");
                let mut case_rows = rows.clone();
                // Linear models and SVMs turn NaN into NaN; only trees route it.
                if !matches!(
                    m,
                    Model::Linear(_) | Model::QuantLinear(_) | Model::Svm(_) | Model::QuantSvm(_)
                ) {
                    case_rows.extend(with_nan.iter().cloned());
                }
                let onnx = model_to_onnx(&m).map_err(|e| e.to_string())?;
                write_onnx(&dir.join(format!("{name}.onnx")), &onnx).map_err(|e| e.to_string())?;
                let about = m.describe();
                let m = m.compile()?;
                let mut s = m.scratch();
                let mut p = vec![0.0; k];
                let mut case = Case {
                    name: name.clone(),
                    n_features: d,
                    n_classes: k,
                    rows: Vec::new(),
                    label: Vec::new(),
                    probabilities: Vec::new(),
                    raw: false,
                    features: None,
                    columns: None,
                    cells: None,
                    classes: None,
                    stand_ins: false,
                    decisions: None,
                    proba_tol: None,
                };
                for r in &case_rows {
                    case.label.push(m.predict(r, &mut s));
                    m.predict_proba(r, &mut s, &mut p);
                    case.probabilities.push(p.clone());
                    case.rows
                        .push(r.iter().map(|v| (!v.is_nan()).then_some(*v)).collect());
                }
                let json = serde_json::to_vec(&case).map_err(|e| e.to_string())?;
                optbench::fsutil::write_atomic(&dir.join(format!("{name}.json")), &json)
                    .map_err(|e| e.to_string())?;
                println!("{name}: {} rows, {about}", case.rows.len());
            }
        }
    }
    Ok(())
}

/// A serving case: raw rows, one value per column (a number or `null` for a
/// numeric column, text or `""` for a categorical one).
#[derive(Serialize)]
struct ServingCase {
    name: String,
    columns: Vec<(String, String)>,
    rows: Vec<Vec<serde_json::Value>>,
    label: Vec<u32>,
    probabilities: Vec<Vec<f32>>,
}

fn export_serving(dir: &Path) -> Res<()> {
    use optbench::data::{read_csv, read_csv_with_schema, ColumnTypes, Value};
    use optbench::onnx::serving_to_onnx;
    use optbench::pipeline::{FittedPipeline, PipelineConfig};
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let e = |e: optbench::Error| e.to_string();
    for (data, target, config) in [
        (
            "exercise2",
            "churn",
            PipelineConfig {
                min_frequency: 20,
                ..PipelineConfig::default()
            },
        ),
        (
            "penguins",
            "species",
            PipelineConfig {
                categorical_impute: optbench::pipeline::CategoricalImpute::Constant,
                ..PipelineConfig::default()
            },
        ),
    ] {
        let tr = read_csv(
            &fixtures.join(data).join("train.csv"),
            target,
            &ColumnTypes::new(),
        )
        .map_err(e)?
        .data;
        let te = read_csv_with_schema(&fixtures.join(data).join("test.csv"), target, &tr, &[])
            .map_err(e)?
            .data;
        // Serve the test rows and the first training rows (which have the
        // missing cells penguins' test rows lack).
        let mut served = te.clone();
        let extra: Vec<usize> = (0..tr.n_rows().min(100)).collect();
        let head = tr.subset(&extra);
        for i in 0..head.n_rows() {
            for (j, &v) in head.row(i).iter().enumerate() {
                served.x.push(
                    if v.is_nan() || head.kinds[j] == optbench::data::FeatureKind::Numeric {
                        v
                    } else {
                        let text = &head.levels[j][v as usize];
                        let code = served.levels[j]
                            .iter()
                            .position(|l| l == text)
                            .unwrap_or_else(|| {
                                served.levels[j].push(text.clone());
                                served.levels[j].len() - 1
                            });
                        code as f64
                    },
                );
            }
            served.y.push(head.y[i]);
        }
        let pipeline = FittedPipeline::fit(&tr, &config).map_err(e)?;
        let schema = tr.schema();
        let x = pipeline.transform(&tr);
        let k = tr.n_classes();
        let td = TrainData {
            x: &x,
            n_features: pipeline.n_outputs(),
            y: &tr.y,
            n_classes: k,
        };
        // rbf SVMs on the pipeline's standardized features, with and
        // without Platt's sigmoids (coupled on penguins' 3 classes).
        let svms = [false, true].map(|platt| {
            let mut spec = CandidateSpec::svm(optbench::train::SvmKernel::Rbf);
            if let CandidateSpec::Svm { probability, .. } = &mut spec {
                *probability = platt;
            }
            (if platt { "svm_rbf_platt" } else { "svm_rbf" }, spec)
        });
        for (family, spec) in specs().into_iter().chain(svms) {
            let model = train(&spec, &td, 7).map_err(e)?.model;
            let mut variants = vec![(family.to_string(), model.clone())];
            match &model {
                Model::Linear(m) => variants.push((
                    format!("{family}_int8"),
                    Model::QuantLinear(QuantLinear::from_linear(m)),
                )),
                Model::Svm(m) => variants.push((
                    format!("{family}_int8"),
                    Model::QuantSvm(QuantSvm::from_svm(m)),
                )),
                Model::Trees(t) => {
                    let q = QuantTrees::from_ensemble(t, LeafPrecision::Int8)?;
                    variants.push((format!("{family}_int8"), Model::QuantTrees(q)));
                }
                _ => {}
            }
            for (name, m) in variants {
                let name = format!("serving_{data}_{name}");
                let graph = serving_to_onnx(&schema, &pipeline, &m, &tr.classes).map_err(e)?;
                write_onnx(&dir.join(format!("{name}.onnx")), &graph).map_err(e)?;
                let mut case = ServingCase {
                    name: name.clone(),
                    columns: schema
                        .features
                        .iter()
                        .map(|f| (f.name.clone(), f.kind.to_string()))
                        .collect(),
                    rows: Vec::new(),
                    label: Vec::new(),
                    probabilities: Vec::new(),
                };
                let mut feats = vec![0.0f32; pipeline.n_outputs()];
                let about = m.describe();
                let m = m.compile()?;
                let mut s = m.scratch();
                let mut p = vec![0.0f32; k];
                let mut raw = Vec::new();
                for i in 0..served.n_rows() {
                    served.raw_row(i, &mut raw);
                    schema
                        .validate_row(&raw)
                        .map_err(|e| format!("{name}: row {i}: {e:?}"))?;
                    pipeline.transform_row(&raw, &mut feats);
                    case.label.push(m.predict(&feats, &mut s));
                    m.predict_proba(&feats, &mut s, &mut p);
                    case.probabilities.push(p.clone());
                    case.rows.push(
                        raw.iter()
                            .zip(&schema.features)
                            .map(|(v, f)| match (v, f.kind) {
                                (Value::Number(x), _) => serde_json::json!(x),
                                (Value::Text(t), _) => serde_json::json!(t),
                                (Value::Missing, optbench::data::FeatureKind::Numeric) => {
                                    serde_json::Value::Null
                                }
                                (Value::Missing, _) => serde_json::json!(""),
                            })
                            .collect(),
                    );
                }
                let json = serde_json::to_vec(&case).map_err(|e| e.to_string())?;
                optbench::fsutil::write_atomic(&dir.join(format!("{name}.json")), &json)
                    .map_err(e)?;
                println!("{name}: {} rows, {about}", case.rows.len());
            }
        }
    }
    Ok(())
}

fn cases(dir: &Path) -> Res<Vec<(PathBuf, Case)>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for json in entries {
        let text = std::fs::read(&json).map_err(|e| e.to_string())?;
        let case: Case =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", json.display()))?;
        out.push((json.with_extension("onnx"), case));
    }
    if out.is_empty() {
        return Err(format!("no cases in {}", dir.display()));
    }
    Ok(out)
}

fn row(r: &[Option<f32>]) -> Vec<f32> {
    r.iter().map(|v| v.unwrap_or(f32::NAN)).collect()
}

/// The model's input for each case row: the row itself, or for a raw case
/// the row through the imported pipeline (as `optbench import` serves it).
fn model_rows(imported: &Imported, case: &Case) -> Res<Vec<Vec<f32>>> {
    use optbench::data::Value;
    let pre = match &imported.preprocessing {
        None => return Ok(case.rows.iter().map(|r| row(r)).collect()),
        Some(Preprocessing::Columns(_)) => return column_rows(imported, case),
        Some(p) => p,
    };
    let names: Vec<String> = (0..case.n_features).map(|j| format!("x{j}")).collect();
    let pipeline = imported_pipeline(Some(pre), &names).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(case.rows.len());
    let mut raw = Vec::with_capacity(case.n_features);
    for (i, r) in case.rows.iter().enumerate() {
        if r.len() != pipeline.n_inputs() {
            return Err(format!("{}: row {i} has {} values", case.name, r.len()));
        }
        raw.clear();
        raw.extend(r.iter().map(|v| match v {
            Some(x) => Value::Number(f64::from(*x)),
            None => Value::Missing,
        }));
        let mut f = vec![0.0; pipeline.n_outputs()];
        pipeline.transform_row(&raw, &mut f);
        out.push(f);
    }
    Ok(out)
}

/// A per-column case's cells through the imported pipeline, the columns
/// matched by name, each cell read as optbench reads a CSV cell.
fn column_rows(imported: &Imported, case: &Case) -> Res<Vec<Vec<f32>>> {
    use optbench::data::{is_missing, FeatureKind, Value};
    let (Some(columns), Some(cells)) = (&case.columns, &case.cells) else {
        return Err(format!(
            "{}: the file reads one input per column, the case has no `columns`",
            case.name
        ));
    };
    let Some(Preprocessing::Columns(pipeline)) = &imported.preprocessing else {
        return Err(format!("{}: no per-column pipeline", case.name));
    };
    let own = imported
        .preprocessing
        .as_ref()
        .and_then(Preprocessing::columns);
    let mut at = Vec::new();
    for (name, kind) in own.unwrap_or_default() {
        let j = columns.iter().position(|c| c.0 == name).ok_or_else(|| {
            format!(
                "{}: the file reads `{name}`, the case has no such column",
                case.name
            )
        })?;
        let expected = match kind {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        };
        if columns[j].1 != expected {
            return Err(format!(
                "{}: column `{name}` is {} in the case, {expected} in the import",
                case.name, columns[j].1
            ));
        }
        at.push(j);
    }
    let mut out = Vec::with_capacity(cells.len());
    let mut raw = Vec::with_capacity(at.len());
    for (i, r) in cells.iter().enumerate() {
        raw.clear();
        for &j in &at {
            raw.push(match r.get(j) {
                Some(serde_json::Value::Number(x)) => Value::Number(x.as_f64().unwrap_or(f64::NAN)),
                Some(serde_json::Value::String(t)) if is_missing(t) => Value::Missing,
                Some(serde_json::Value::String(t)) => Value::Text(t),
                Some(serde_json::Value::Null) => Value::Missing,
                _ => {
                    return Err(format!(
                        "{}: row {i} has no value for column {j}",
                        case.name
                    ))
                }
            });
        }
        let mut f = vec![0.0; pipeline.n_outputs()];
        pipeline.transform_row(&raw, &mut f);
        out.push(f);
    }
    Ok(out)
}

fn check_import(dir: &Path) -> Res<()> {
    let mut failed = 0;
    let cases = cases(dir)?;
    let n_cases = cases.len();
    for (onnx, case) in cases {
        let imported = read_onnx(&onnx).map_err(|e| e.to_string())?;
        let about = imported.model.describe();
        let m = imported.model.compile()?;
        let with_pre = imported.preprocessing.is_some();
        let rows = model_rows(&imported, &case)?;
        let mut s = m.scratch();
        let mut p = vec![0.0; m.n_classes()];
        let classes_ok = case.classes.as_ref().is_none_or(|c| *c == imported.classes);
        let proba_tol = case.proba_tol.unwrap_or(PROBA_TOL);
        let svm = match &imported.model {
            Model::Svm(svm) => Some(svm),
            _ => None,
        };
        // An SVM's class is its vote: a probability tie excuses nothing,
        // a decision value at zero up to rounding does.
        let (mut kv, mut dec) = match svm {
            Some(svm) => (vec![0.0; svm.n_sv()], vec![0.0; svm.n_pairs()]),
            None => (Vec::new(), Vec::new()),
        };
        // Decision values where the case holds them (not for per-column
        // cases, whose inputs the script cannot probe as one tensor).
        let decisions_ok = case
            .decisions
            .as_ref()
            .is_none_or(|d| d.len() == rows.len());
        let (mut same, mut ties, mut max_diff, mut max_dd) = (0usize, 0usize, 0f32, 0f32);
        for (i, ((r, &label), expected)) in rows
            .iter()
            .zip(&case.label)
            .zip(&case.probabilities)
            .enumerate()
        {
            m.predict_proba(r, &mut s, &mut p);
            for (a, b) in p.iter().zip(expected) {
                max_diff = max_diff.max((a - b).abs());
            }
            let theirs = case.decisions.as_ref().and_then(|d| d.get(i));
            if let (Some(svm), Some(theirs)) = (svm, theirs) {
                svm.decisions(r, &mut kv, &mut dec);
                for (a, b) in dec.iter().zip(theirs) {
                    max_dd = max_dd.max((a - b).abs() / b.abs().max(1.0));
                }
            }
            if m.predict(r, &mut s) == label {
                same += 1;
            } else if svm.is_some() {
                if theirs.is_some_and(|d| d.iter().any(|v| v.abs() <= DECISION_TOL)) {
                    ties += 1;
                }
            } else {
                let mut sorted = expected.clone();
                sorted.sort_by(|a, b| b.total_cmp(a));
                if sorted[0] - sorted[1] <= PROBA_TOL {
                    ties += 1;
                }
            }
        }
        let decision_note = if svm.is_some() && case.decisions.is_some() {
            format!(", max relative |Δdecision| {max_dd:.1e}")
        } else {
            String::new()
        };
        // optbench's preprocessing (f64, one rounding) against
        // onnxruntime's Scaler (f32): bit-equal features, and the largest
        // difference in f32 steps.
        let mut feature_note = String::new();
        let mut features_ok = true;
        if let Some(expected) = &case.features {
            let (mut equal, mut total, mut max_ulps) = (0usize, 0usize, 0u32);
            for (ours, theirs) in rows.iter().zip(expected) {
                for (a, b) in ours.iter().zip(theirs) {
                    total += 1;
                    if a.to_bits() == b.to_bits() {
                        equal += 1;
                    } else {
                        max_ulps = max_ulps.max(ulps(*a, *b));
                    }
                }
            }
            // Two roundings in f32 against one: at most about two steps apart.
            features_ok = expected.len() == rows.len() && max_ulps <= 2;
            feature_note =
                format!(", features {equal}/{total} bit-equal (others within {max_ulps} f32 step)");
        }
        let n = rows.len();
        let ok = same + ties == n
            && max_diff <= proba_tol
            && decisions_ok
            && max_dd <= DECISION_TOL
            && (case.raw == with_pre || (case.stand_ins && !case.raw))
            && rows.len() == case.label.len()
            && features_ok
            && classes_ok;
        failed += usize::from(!ok);
        println!(
            "{} {:<48} classes {same}/{n} equal ({ties} exact ties), max |Δp| {max_diff:.2e} (≤ {proba_tol:.0e}){decision_note}{feature_note}  [{}{}]",
            if ok { "ok  " } else { "FAIL" },
            case.name,
            match &imported.preprocessing {
                None => "",
                Some(Preprocessing::Numeric(_)) => "imputer/scaler → ",
                Some(Preprocessing::Columns(_)) => "per-column pipeline → ",
            },
            about
        );
        if !classes_ok {
            println!(
                "     classes imported as {:?}, expected {:?}",
                imported.classes, case.classes
            );
        }
        for note in &imported.notes {
            println!("     note: {note}");
        }
        if case.raw != with_pre {
            println!(
                "     the case's rows are {}, but the import {} preprocessing",
                if case.raw { "raw" } else { "features" },
                if with_pre { "has" } else { "has no" }
            );
        }
    }
    println!("{} passed, {failed} failed", n_cases - failed);
    if failed > 0 {
        return Err(format!(
            "{failed} imported models disagree with onnxruntime"
        ));
    }
    Ok(())
}

/// How many f32 steps apart two finite floats are.
fn ulps(a: f32, b: f32) -> u32 {
    // Maps the floats onto a line of integers ordered like the floats.
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 {
            i32::MIN - i
        } else {
            i
        }
    };
    if a.is_nan() || b.is_nan() {
        return u32::MAX;
    }
    key(a).abs_diff(key(b))
}

/// Single-row latency: every row once per round, `ROUNDS` rounds after one
/// warm-up round; the median per-call time. The same protocol as the
/// script's onnxruntime timing.
fn bench(dir: &Path, pattern: &str) -> Res<()> {
    const ROUNDS: usize = 20;
    for (onnx, case) in cases(dir)? {
        if !case.name.contains(pattern) {
            continue;
        }
        let imported = read_onnx(&onnx).map_err(|e| e.to_string())?;
        // Raw rows are preprocessed once, outside the timing: this is the
        // model's latency (onnxruntime's includes its Imputer and Scaler).
        let rows = model_rows(&imported, &case)?;
        let about = imported.model.describe();
        let m = imported.model.compile()?;
        let mut s = m.scratch();
        let mut p = vec![0.0; m.n_classes()];
        let mut times = Vec::with_capacity(rows.len() * ROUNDS);
        for round in 0..=ROUNDS {
            for r in &rows {
                let t = Instant::now();
                m.predict_proba(std::hint::black_box(r), &mut s, &mut p);
                std::hint::black_box(&p);
                let ns = t.elapsed().as_nanos() as f64;
                if round > 0 {
                    times.push(ns);
                }
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "optbench {:<32} median {:>9.0} ns  p99 {:>9.0} ns  ({})",
            case.name,
            times[times.len() / 2],
            times[times.len() * 99 / 100],
            about
        );
    }
    Ok(())
}
