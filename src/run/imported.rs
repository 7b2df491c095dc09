//! `optbench import`: a model trained outside optbench (an ONNX file) is
//! read beside the rows to measure it on, optimized, measured, selected
//! and packaged by the same steps as the candidates of a training run.
//!
//! Uses `data`, `export` (the file's preprocessing as a pipeline),
//! `optimize` and the run's shared evaluation. Key types: [`External`],
//! [`ImportData`].

use super::evaluate::{optimize_and_evaluate, train_data};
use super::Outcome;
use crate::config::Plan;
use crate::data::{read_csv_with_schema, DataSource, Dataset, FeatureKind, Split};
use crate::error::{Error, Result};
use crate::optimize::Candidate;
use crate::pipeline::FittedPipeline;
use crate::progress::Progress;
use std::path::PathBuf;

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
    let columns = feature_columns(plan, &external, data)?;
    let (train, test) = read_rows(&external, data, &columns)?;
    progress.finish_stage();
    progress.note(&format!(
        "imported {} ({}{}): {} test rows{}",
        external.id,
        external.model.describe(),
        match (&external.preprocessing, columns.per_column) {
            (None, _) => "",
            (Some(_), false) => ", behind the file's imputer / scaler",
            (Some(_), true) => ", behind the file's per-column preprocessing",
        },
        test.n_rows(),
        data.train.as_ref().map_or_else(String::new, |_| format!(
            ", {} training rows",
            train.n_rows()
        ))
    ));

    let pipeline = checked_pipeline(&external, &columns.names)?;
    let x_train = pipeline.transform(&train);
    let x_test = pipeline.transform(&test);
    let plan = applicable_plan(plan, &external.id, data.train.is_some(), progress);
    let candidate = Candidate {
        id: external.id,
        family: crate::train::Family::Imported,
        params: external.params,
        model: external.model,
        fit_seconds: 0.0,
        lineage: None,
        spec: None,
    };
    let split = Split {
        train,
        test,
        source: DataSource::Imported {
            model: external.path,
            test: data.test.clone(),
            train: data.train.clone(),
        },
        target: data.target.clone(),
        ignored: columns.ignored,
    };
    let td = train_data(&split.train, &x_train, &pipeline);
    optimize_and_evaluate(
        &plan,
        &split,
        &pipeline,
        &td,
        &x_test,
        vec![candidate],
        progress,
    )
}

/// The test file's columns as the model reads them.
struct Columns {
    /// Columns the config sets to "ignore".
    ignored: Vec<String>,
    /// The model's input columns, in its order, and their kinds.
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    /// The file's preprocessing names the columns (and their kinds);
    /// otherwise every column but the target and those the config names is
    /// a numeric input.
    per_column: bool,
}

/// Reads the test file's header and checks it against the model: the
/// target is there, and the feature columns are the ones the model reads
/// (those its preprocessing names, or as many as it has inputs).
fn feature_columns(plan: &Plan, external: &External, data: &ImportData) -> Result<Columns> {
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
    let (names, kinds): (Vec<String>, Vec<FeatureKind>) = match &own {
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
            let kinds = vec![FeatureKind::Numeric; names.len()];
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
    Ok(Columns {
        ignored,
        names,
        kinds,
        per_column: own.is_some(),
    })
}

/// The training rows (or, without `--train`, none: the schema alone) and
/// the test rows, typed by `columns` and labelled with the model's classes.
fn read_rows(
    external: &External,
    data: &ImportData,
    columns: &Columns,
) -> Result<(Dataset, Dataset)> {
    let mut reference = Dataset::numeric(
        columns.names.clone(),
        Vec::new(),
        Vec::new(),
        external.classes.clone(),
    );
    reference.kinds = columns.kinds.clone();
    let ignored = &columns.ignored;
    let test = read_csv_with_schema(&data.test, &data.target, &reference, ignored)?.data;
    let train = match &data.train {
        Some(p) => read_csv_with_schema(p, &data.target, &reference, ignored)?.data,
        None => reference.clone(),
    };
    Ok((train, test))
}

/// The file's own preprocessing as the package's pipeline over `names`,
/// checked to make as many features as the model takes.
fn checked_pipeline(external: &External, names: &[String]) -> Result<FittedPipeline> {
    let pipeline = crate::onnx::imported_pipeline(external.preprocessing.as_ref(), names)?;
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
    Ok(pipeline)
}

/// `plan` without the optimizations an imported model cannot have: depth
/// pruning and distillation without its training rows (`has_train`), and
/// distillation from any teacher but the model (`id`).
fn applicable_plan(plan: &Plan, id: &str, has_train: bool, progress: &dyn Progress) -> Plan {
    let mut plan = plan.clone();
    if !has_train && (!plan.optimize.prune_depths.is_empty() || !plan.optimize.distill.is_empty()) {
        progress.note("depth pruning and distillation need the training rows (--train): skipped");
        plan.optimize.prune_depths.clear();
        plan.optimize.distill.clear();
    }
    // A reduced SVM re-fits its coefficients on the training rows.
    if !has_train
        && !plan.optimize.reduce_svm.is_empty()
        && plan.optimize.reduce_svm_refit == crate::optimize::Refit::LeastSquares
    {
        progress.note(
            "support-vector reduction re-fits the coefficients on the training rows (--train): skipped",
        );
        plan.optimize.reduce_svm.clear();
    }
    // Distillation from a trained candidate of the config has no teacher here.
    let before = plan.optimize.distill.len();
    plan.optimize.distill.retain(|d| d.teacher == id);
    if plan.optimize.distill.len() < before {
        progress.note(&format!(
            "distillation entries whose teacher is not `{id}` skipped"
        ));
    }
    plan
}
