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
use crate::data::{read_csv_with_schema, DataSource, Dataset, Split};
use crate::error::{Error, Result};
use crate::optimize::Candidate;
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
    pub preprocessing: Option<crate::export::Preprocessing>,
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
        .and_then(crate::export::Preprocessing::columns);
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

    let pipeline = crate::export::imported_pipeline(external.preprocessing.as_ref(), &names)?;
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
