//! ONNX → IR: one classifier operator fed by the float feature input, and the
//! chain of standard operators from its scores to the probabilities output.
//!
//! Read as written by skl2onnx (scikit-learn's forests, trees, gradient
//! boosting and logistic regression, `zipmap` on or off) and by optbench's
//! own export (`onnx::write`):
//! - the model operator: `TreeEnsembleClassifier`, `TreeEnsembleRegressor`,
//!   `LinearClassifier` or `SVMClassifier` (`ai.onnx.ml`), exactly one,
//!   whose input is the graph's float input (through `Identity` / `Cast` at
//!   most);
//! - between that input and the model operator, the numeric preprocessing
//!   skl2onnx writes for `SimpleImputer` → `StandardScaler`: an `Imputer`
//!   (`imputed_value_floats`, replacing `NaN`) and / or a `Scaler`
//!   (`offset`, `scale`), in that order, each at most once. They become
//!   [`Imported::preprocessing`], one [`NumericStep`] per feature, which
//!   optbench's pipeline applies as `Step::Numeric` (see
//!   [`imported_pipeline`]);
//! - or, when the graph has one input per column (several inputs, or a
//!   string one: skl2onnx's `ColumnTransformer` with numeric and one-hot
//!   categorical branches), whatever `columns.rs` reads between them and
//!   the model operator: the pipeline on those columns
//!   ([`Preprocessing::Columns`]), the model's features renumbered to its
//!   output order;
//! - between its scores and the `probabilities` output: `Identity`, `Cast`,
//!   `Mul` / `Add` by constants, then at most one of `Softmax` or the
//!   logistic pair `Concat(1 − Sigmoid(z), Sigmoid(z))`, then at most an L1
//!   `Normalizer` (a no-op on probabilities, as skl2onnx adds it);
//! - `ArgMax` and `ZipMap` may compute other outputs; they are ignored.
//! - except after an `SVMClassifier` (scikit-learn's `SVC`): its model is
//!   the operator alone, and the probabilities output may be its scores or
//!   scikit-learn's one-vs-rest decision function built from them (`svm.rs`).
//!
//! Anything else — other preprocessing (a `OneHotEncoder` in front of a
//! single float input, a `Normalizer` in front of the model, …), other
//! model operators — is an error naming the operators. Splits: `BRANCH_LEQ` as it is, `BRANCH_LT`
//! as `<=` the next `f32` below the threshold (the same comparisons on
//! `f32` inputs); other modes are refused. The IR sends `NaN` right; splits
//! that send it to their true branch (`nodes_missing_value_tracks_true = 1`,
//! as onnxmltools writes LightGBM's) are served through a stand-in value for
//! missing cells in the pipeline when one exists (`nan_routes` in
//! `missing.rs`), and rewritten to send it to the false branch otherwise
//! (`Forest::send_missing_right` in `trees.rs`). XGBoost's files
//! (onnxmltools) send `NaN` right. CI compares both libraries' files with
//! onnxruntime.
//!
//! The two-class `TreeEnsembleClassifier` whose weights name one class
//! (skl2onnx's binary forests and boosting) is read as onnxruntime runs it:
//! the one score `s` is class 1's; with `post_transform = NONE` and
//! non-negative weights the probabilities are `(1 − s, s)`, with `LOGISTIC`
//! they are `(σ(−s), σ(s))`.
//!
//! Precision of the preprocessing: onnxruntime's `Scaler` computes
//! `(x − offset) × scale` in `f32`, rounding after the subtraction; the
//! pipeline computes it in `f64` on the same `f32` constants and rounds once.
//! On `f32` inputs the two agree unless `x − offset` is not an `f32`, and
//! then differ by at most one `f32` step of the feature (the CI comparison
//! counts how often, and whether a class changes).
//!
//! One file per job: `graph.rs` (which node writes which tensor, attribute
//! access), `pipeline.rs` (what an import gives in front of its model),
//! `numeric.rs` (the float feature input and its `Imputer` / `Scaler`),
//! `columns.rs` with `symbolic.rs` (one input per column), `link.rs` (from
//! the scores to the probabilities), `trees.rs`, `linear.rs` and `svm.rs`
//! (the model operators), `missing.rs` (stand-ins for missing values); this file puts
//! them together.

mod columns;
mod graph;
mod linear;
mod link;
mod missing;
mod numeric;
mod pipeline;
mod svm;
mod symbolic;
mod trees;

pub use pipeline::{imported_pipeline, NumericStep, Preprocessing};

use crate::error::{Error, Result};
use crate::model::Model;
use crate::onnx::proto::{ModelProto, NodeProto};
use graph::{describe, is_ml, Attrs, Graph, MODEL_OPS};
use linear::linear;
use missing::{file_nan_routes, file_nodes, model_nodes};
use missing::{fill_stand_ins, stand_ins, NanRoute, StandIns};
use numeric::preprocessing;
use prost::Message;
use std::collections::HashSet;
use std::path::Path;
use svm::svm_classifier;
use trees::{tree_classifier, tree_regressor};

/// An imported model with what the file says about its classes and input.
#[derive(Debug, Clone)]
pub struct Imported {
    pub model: Model,
    /// The file's class labels, in the order of the model's class indices.
    pub classes: Vec<String>,
    /// Name of the float feature input (the column inputs' names, joined
    /// by `, `, for a per-column file).
    pub input: String,
    /// The file's preprocessing in front of the model; `None` when the
    /// model reads its float input as it is.
    pub preprocessing: Option<Preprocessing>,
    /// What the import changes that the user should know (for instance a
    /// `OneHotEncoder` that refuses unknown categories, imported as one
    /// that ignores them).
    pub notes: Vec<String>,
}

/// Reads and imports an `.onnx` file.
pub fn read_onnx(path: &Path) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    import_onnx(&bytes).map_err(|e| match e {
        Error::Onnx { what, message } => {
            Error::onnx(format!("{}, {what}", path.display()), message)
        }
        e => e,
    })
}

/// Imports an ONNX model from its protobuf bytes.
pub fn import_onnx(bytes: &[u8]) -> Result<Imported> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| Error::onnx("file", format!("not a readable ONNX model: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::onnx("file", "the model has no graph"))?;
    Graph::new(graph)?.import()
}

impl Graph<'_> {
    fn import(&self) -> Result<Imported> {
        let cores: Vec<&NodeProto> = self
            .g
            .node
            .iter()
            .filter(|n| is_ml(n) && MODEL_OPS.contains(&n.op_type()))
            .collect();
        let core = match cores[..] {
            [one] => one,
            [] => {
                return Err(Error::onnx(
                    "graph",
                    "no TreeEnsembleClassifier, TreeEnsembleRegressor, LinearClassifier or SVMClassifier",
                ))
            }
            _ => {
                return Err(Error::onnx(
                    "graph",
                    format!("{} model operators; optbench imports one", cores.len()),
                ))
            }
        };
        let columns = if columns::is_per_column(self) {
            Some(columns::trace(self, core)?)
        } else {
            None
        };
        let (input, width, chain) = match &columns {
            Some(c) => (c.inputs.join(", "), Some(c.position.len()), Vec::new()),
            None => self.feature_input(core)?,
        };
        // An SVM's probabilities are its own (`svm.rs`): what the file
        // computes from its scores is checked, not folded into the model.
        let after = match core.op_type() {
            "SVMClassifier" => After::Svm(self.svm_output(core)?),
            _ => After::Tail(self.tail(core)?),
        };
        let what = describe(core);
        let attrs = Attrs {
            node: core,
            what: &what,
        };
        let routes = file_nan_routes(&attrs)?;
        // Features whose splits sending NaN left are rewritten: those no
        // single value stands in for, and, after a first attempt, those the
        // pipeline cannot give one.
        let mut rewrite: HashSet<i64> = routes
            .iter()
            .filter(|(_, r)| **r == NanRoute::Conflict)
            .map(|(f, _)| *f)
            .collect();
        let mut retried = false;
        let (model, classes, preprocessing, mut notes) = loop {
            let (mut model, classes, model_notes) = match &after {
                After::Svm(output) => svm_classifier(&attrs, width, *output)?,
                After::Tail(tail) => {
                    let (m, c) = match core.op_type() {
                        "LinearClassifier" => linear(&attrs, width, tail)?,
                        "TreeEnsembleClassifier" => tree_classifier(&attrs, width, tail, &rewrite)?,
                        _ => tree_regressor(&attrs, width, tail, &rewrite)?,
                    };
                    (m, c, Vec::new())
                }
            };
            model.check().map_err(|m| {
                Error::onnx(&what, format!("converts to an inconsistent model: {m}"))
            })?;
            let stand_ins = stand_ins(&routes, model.n_features(), &rewrite);
            // Model feature `j` is pipeline output `position[j]`.
            let position: Vec<usize> = match &columns {
                Some(c) => c.position.clone(),
                None => (0..model.n_features()).collect(),
            };
            let (mut preprocessing, mut notes) = match &columns {
                Some(c) => {
                    renumber_features(&mut model, &c.position);
                    model.check().map_err(|m| {
                        Error::onnx(&what, format!("renumbered, an inconsistent model: {m}"))
                    })?;
                    (
                        Some(Preprocessing::Columns(c.pipeline.clone())),
                        c.notes.clone(),
                    )
                }
                None => (
                    preprocessing(&chain, model.n_features())?.map(Preprocessing::Numeric),
                    Vec::new(),
                ),
            };
            // Stand-ins follow their features to the pipeline's outputs.
            let mut moved = vec![None; model.n_features()];
            for (j, v) in stand_ins.iter().enumerate() {
                moved[position[j]] = *v;
            }
            match fill_stand_ins(&mut preprocessing, &moved) {
                StandIns::Placed(note) => {
                    notes.extend(note);
                    notes.extend(model_notes);
                    break (model, classes, preprocessing, notes);
                }
                StandIns::Scaled(outputs) if !retried => {
                    // Once more, with those features' splits rewritten.
                    retried = true;
                    rewrite.extend(
                        (0..position.len())
                            .filter(|&j| outputs.contains(&position[j]))
                            .map(|j| j as i64),
                    );
                }
                StandIns::Scaled(_) => {
                    return Err(Error::onnx(
                        &what,
                        "a stand-in for missing values is still needed after the rewrite",
                    ))
                }
            }
        };
        if !rewrite.is_empty() {
            let mut rewritten: Vec<i64> = rewrite.into_iter().collect();
            rewritten.sort_unstable();
            let listed: Vec<String> = rewritten.iter().map(i64::to_string).collect();
            let (s, nodes) = if listed.len() == 1 {
                ("", "it")
            } else {
                ("s", "them")
            };
            notes.push(format!(
                "the file's splits on feature{s} {} send missing values to the true branch, \
                 which optbench's trees cannot (they send NaN to the false one), and no value \
                 in front of the trees stands in for a missing one (the splits disagree on \
                 where it goes, or the feature is scaled with no imputer), so those splits \
                 were rewritten to send it false, to a copy of their true branch as a missing \
                 value sees {nodes}: the same leaves for every row ({} nodes, {} in the file)",
                listed.join(", "),
                model_nodes(&model),
                file_nodes(&attrs)
            ));
        }
        Ok(Imported {
            model,
            classes,
            input,
            preprocessing,
            notes,
        })
    }
}

/// What follows the model operator, as the import reads it.
enum After {
    /// An SVM's probabilities output, checked but not folded (`svm.rs`).
    Svm(svm::SvmOutput),
    /// Standard operators folded into the model (`link.rs`).
    Tail(link::Tail),
}

/// Renumbers the model's features: feature `j` becomes `position[j]`.
/// (`position` is a permutation, as `columns::trace` builds it.)
fn renumber_features(model: &mut Model, position: &[usize]) {
    match model {
        Model::Trees(t) => {
            for n in &mut t.nodes {
                if n.feature != crate::model::LEAF {
                    n.feature = position[n.feature as usize] as u32;
                }
            }
        }
        Model::Linear(m) => {
            let d = m.n_features;
            let old = m.weights.clone();
            for (row_new, row_old) in m.weights.chunks_exact_mut(d).zip(old.chunks_exact(d)) {
                for (j, &w) in row_old.iter().enumerate() {
                    row_new[position[j]] = w;
                }
            }
        }
        Model::Svm(m) => {
            let d = m.n_features;
            let old = m.vectors.clone();
            for (v_new, v_old) in m.vectors.chunks_exact_mut(d).zip(old.chunks_exact(d)) {
                for (j, &x) in v_old.iter().enumerate() {
                    v_new[position[j]] = x;
                }
            }
        }
        // The importer builds only the three float forms.
        _ => {}
    }
}
