//! ONNX → IR: one classifier operator fed by the float feature input, and the
//! chain of standard operators from its scores to the probabilities output.
//!
//! Read as written by skl2onnx (scikit-learn's forests, trees, gradient
//! boosting and logistic regression, `zipmap` on or off) and by optbench's
//! own export (see `write.rs`):
//! - the model operator: `TreeEnsembleClassifier`, `TreeEnsembleRegressor`
//!   or `LinearClassifier` (`ai.onnx.ml`), exactly one, whose input is the
//!   graph's float input (through `Identity` / `Cast` at most);
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
//!
//! Anything else — other preprocessing (a `OneHotEncoder` in front of a
//! single float input, a `Normalizer` in front of the model, …), other
//! model operators — is an error naming the operators. Splits: `BRANCH_LEQ` as it is, `BRANCH_LT`
//! as `<=` the next `f32` below the threshold (the same comparisons on
//! `f32` inputs); other modes are refused. The IR sends `NaN` right; splits
//! that send it to their true branch (`nodes_missing_value_tracks_true = 1`,
//! as onnxmltools writes LightGBM's) are served through a stand-in value for
//! missing cells in the pipeline when one exists ([`nan_routes`]), and
//! rewritten to send it to the false branch otherwise
//! ([`Forest::send_missing_right`]). XGBoost's files (onnxmltools) send
//! `NaN` right. CI compares both libraries' files with onnxruntime.
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

mod columns;

use super::proto::{attribute_proto::AttributeType, tensor_proto::DataType, type_proto};
use super::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use crate::error::{Error, Result};
use crate::model::{LinearModel, Link, Model, Output, TreeEnsemble};
use crate::pipeline::{FittedPipeline, NumericImpute, PipelineConfig, Step};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::path::Path;

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

/// The preprocessing an ONNX file holds in front of its model.
#[derive(Debug, Clone, PartialEq)]
pub enum Preprocessing {
    /// `Imputer` / `Scaler` on one float feature tensor, one step per model
    /// feature; the columns are named by the data it is served on.
    Numeric(Vec<NumericStep>),
    /// One graph input per column (numeric or text): the pipeline on those
    /// columns, named as the inputs and in their order. The model's
    /// features are already in the pipeline's output order.
    Columns(FittedPipeline),
}

impl Preprocessing {
    /// The columns a per-column file reads, with their kinds; `None` for a
    /// file whose columns are named by the data.
    pub fn columns(&self) -> Option<Vec<(String, crate::data::FeatureKind)>> {
        match self {
            Preprocessing::Numeric(_) => None,
            Preprocessing::Columns(p) => Some(
                p.steps
                    .iter()
                    .map(|s| {
                        let kind = match s {
                            Step::Numeric { .. } => crate::data::FeatureKind::Numeric,
                            Step::OneHot { .. } => crate::data::FeatureKind::Categorical,
                        };
                        (s.name().to_string(), kind)
                    })
                    .collect(),
            ),
        }
    }
}

/// One feature's preprocessing as the file holds it:
/// `(x, or fill when x is NaN, − center) × inv_scale`. The values are the
/// file's `f32` constants, widened exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericStep {
    /// `NaN` when the file has no `Imputer` (missing stays missing).
    pub fill: f64,
    pub center: f64,
    pub inv_scale: f64,
}

/// The pipeline that serves an imported model on raw columns `names`: the
/// file's preprocessing when it has some, else a passthrough. A per-column
/// file names its own columns; `names` must be those, in its order.
pub fn imported_pipeline(pre: Option<&Preprocessing>, names: &[String]) -> Result<FittedPipeline> {
    let steps = match pre {
        None => return Ok(FittedPipeline::passthrough(names)),
        Some(Preprocessing::Columns(p)) => {
            let own: Vec<&str> = p.steps.iter().map(Step::name).collect();
            if own != names {
                return Err(Error::onnx(
                    "preprocessing",
                    format!(
                        "the file reads columns {}, not {}",
                        own.join(", "),
                        names.join(", ")
                    ),
                ));
            }
            return Ok(p.clone());
        }
        Some(Preprocessing::Numeric(steps)) => steps,
    };
    if steps.len() != names.len() {
        return Err(Error::onnx(
            "preprocessing",
            format!(
                "{} preprocessing steps for {} columns ({})",
                steps.len(),
                names.len(),
                names.join(", ")
            ),
        ));
    }
    let scale = steps.iter().any(|s| s.center != 0.0 || s.inv_scale != 1.0);
    Ok(FittedPipeline {
        // Descriptive only: the statistics come from the file.
        config: PipelineConfig {
            numeric_impute: NumericImpute::Constant,
            scale,
            ..PipelineConfig::default()
        },
        steps: steps
            .iter()
            .zip(names)
            .map(|(s, name)| Step::Numeric {
                name: name.clone(),
                fill: s.fill,
                center: s.center,
                inv_scale: s.inv_scale,
            })
            .collect(),
    })
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

const MODEL_OPS: [&str; 3] = [
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "LinearClassifier",
];
const ML_OPS: [&str; 8] = [
    "ZipMap",
    "Normalizer",
    "Imputer",
    "Scaler",
    "OneHotEncoder",
    "LabelEncoder",
    "ArrayFeatureExtractor",
    "FeatureVectorizer",
];
const PRE_OPS: [&str; 2] = ["Imputer", "Scaler"];
const STD_OPS: [&str; 14] = [
    "Identity", "Cast", "ArgMax", "Mul", "Add", "Sub", "Div", "Softmax", "Sigmoid", "Concat",
    "Gather", "Where", "Reshape", "Flatten",
];

pub(super) fn is_ml(node: &NodeProto) -> bool {
    node.domain() == "ai.onnx.ml"
}

pub(super) fn is_std(node: &NodeProto) -> bool {
    matches!(node.domain(), "" | "ai.onnx")
}

pub(super) fn describe(node: &NodeProto) -> String {
    format!("node `{}` ({})", node.name(), node.op_type())
}

pub(super) struct Graph<'a> {
    pub(super) g: &'a GraphProto,
    /// Tensor name → (producing node, output index).
    pub(super) producer: HashMap<&'a str, (&'a NodeProto, usize)>,
    pub(super) constants: HashMap<&'a str, &'a TensorProto>,
}

/// What lies between the model operator's scores and the probabilities.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Scale(Vec<f32>),
    Shift(Vec<f32>),
    Softmax,
    LogisticPair,
    Normalize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Head {
    None,
    Softmax,
    LogisticPair,
}

/// The stages folded: `head(a ∘ scores + b)`, `a` and `b` of length 1 or
/// the number of score columns.
#[derive(Debug, Clone)]
struct Tail {
    a: Vec<f32>,
    b: Vec<f32>,
    head: Head,
    normalize: bool,
}

impl Tail {
    fn is_identity(&self) -> bool {
        self.a.iter().all(|&v| v == 1.0) && self.b.iter().all(|&v| v == 0.0)
    }

    fn a(&self, j: usize) -> f32 {
        self.a[if self.a.len() == 1 { 0 } else { j }]
    }

    fn b(&self, j: usize) -> f32 {
        self.b[if self.b.len() == 1 { 0 } else { j }]
    }

    fn check_width(&self, m: usize, what: &str) -> Result<()> {
        if [&self.a, &self.b]
            .iter()
            .any(|v| v.len() != 1 && v.len() != m)
        {
            return Err(Error::onnx(
                what,
                format!("a constant after the model operator does not fit its {m} score columns"),
            ));
        }
        Ok(())
    }
}

impl<'a> Graph<'a> {
    fn new(g: &'a GraphProto) -> Result<Graph<'a>> {
        let mut unsupported: Vec<String> = Vec::new();
        for n in &g.node {
            let op = n.op_type();
            let ok = (is_ml(n) && (MODEL_OPS.contains(&op) || ML_OPS.contains(&op)))
                || (is_std(n) && STD_OPS.contains(&op));
            let name = if n.domain().is_empty() {
                op.to_string()
            } else {
                format!("{op} ({})", n.domain())
            };
            if !ok && !unsupported.contains(&name) {
                unsupported.push(name);
            }
        }
        if !unsupported.is_empty() {
            return Err(Error::onnx(
                "graph",
                format!(
                    "unsupported operators: {}. optbench imports one TreeEnsembleClassifier, \
                     TreeEnsembleRegressor or LinearClassifier on a float feature input \
                     (through at most an Imputer and a Scaler) or on one input per column \
                     (numeric: Imputer, Scaler; categorical: SimpleImputer's string \
                     imputation, OneHotEncoder), followed by \
                     Mul/Add/Softmax/Sigmoid/Normalizer; other preprocessing is not imported",
                    unsupported.join(", ")
                ),
            ));
        }
        let mut producer = HashMap::new();
        for n in &g.node {
            for (i, o) in n.output.iter().enumerate() {
                if producer.insert(o.as_str(), (n, i)).is_some() {
                    return Err(Error::onnx(
                        describe(n),
                        format!("tensor `{o}` is written twice"),
                    ));
                }
            }
        }
        let constants = g.initializer.iter().map(|t| (t.name(), t)).collect();
        Ok(Graph {
            g,
            producer,
            constants,
        })
    }

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
                    "no TreeEnsembleClassifier, TreeEnsembleRegressor or LinearClassifier",
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
        let tail = self.tail(core)?;
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
        let (mut model, classes, preprocessing, mut notes) = loop {
            let (mut model, classes) = match core.op_type() {
                "LinearClassifier" => linear(&attrs, width, &tail)?,
                "TreeEnsembleClassifier" => tree_classifier(&attrs, width, &tail, &rewrite)?,
                _ => tree_regressor(&attrs, width, &tail, &rewrite)?,
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
        // Checked: now it may get its fast run-time layout.
        if let Model::Trees(t) = &mut model {
            t.prepare();
        }
        Ok(Imported {
            model,
            classes,
            input,
            preprocessing,
            notes,
        })
    }

    /// The graph input feeding `core`, its width when the shape says it, and
    /// the `Imputer` / `Scaler` nodes on the way (in forward order).
    fn feature_input(
        &self,
        core: &'a NodeProto,
    ) -> Result<(String, Option<usize>, Vec<&'a NodeProto>)> {
        let what = describe(core);
        let mut t = core
            .input
            .first()
            .ok_or_else(|| Error::onnx(&what, "has no input"))?
            .as_str();
        let mut chain = Vec::new();
        for _ in 0..=self.g.node.len() {
            match self.producer.get(t) {
                None => break,
                Some((n, _)) if n.op_type() == "Identity" && is_std(n) => {
                    t = n.input.first().map_or("", String::as_str);
                }
                Some((n, _)) if n.op_type() == "Cast" && is_std(n) => {
                    // A cast to an integer type would round the features.
                    let to = attr_int(n, "to");
                    if to != Some(DataType::Float as i64) && to != Some(DataType::Double as i64) {
                        return Err(Error::onnx(
                            describe(n),
                            "casts the features to another type than float or double",
                        ));
                    }
                    t = n.input.first().map_or("", String::as_str);
                }
                Some((n, _)) if is_ml(n) && PRE_OPS.contains(&n.op_type()) => {
                    chain.push(*n);
                    t = n.input.first().map_or("", String::as_str);
                }
                Some((n, _)) => {
                    return Err(Error::onnx(
                        &what,
                        format!(
                            "its input is computed by {}; optbench imports models fed by the \
                             feature input directly or through an Imputer and a Scaler",
                            describe(n)
                        ),
                    ))
                }
            }
        }
        chain.reverse();
        let ops: Vec<&str> = chain.iter().map(|n| n.op_type()).collect();
        if !matches!(
            ops[..],
            [] | ["Imputer"] | ["Scaler"] | ["Imputer", "Scaler"]
        ) {
            return Err(Error::onnx(
                &what,
                format!(
                    "its input goes through {}; optbench imports at most an Imputer then a Scaler",
                    ops.join(" → ")
                ),
            ));
        }
        // An Imputer or Scaler elsewhere computes something the import
        // would silently drop.
        if let Some(n) = self.g.node.iter().find(|n| {
            is_ml(n)
                && PRE_OPS.contains(&n.op_type())
                && !chain.iter().any(|c| std::ptr::eq(*c, *n))
        }) {
            return Err(Error::onnx(
                describe(n),
                "is not between the feature input and the model operator",
            ));
        }
        let info = self
            .g
            .input
            .iter()
            .find(|i| i.name() == t)
            .ok_or_else(|| Error::onnx(&what, format!("input `{t}` is not a graph input")))?;
        let tensor = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(tt)) => tt,
            _ => {
                return Err(Error::onnx(
                    format!("input `{t}`"),
                    "is not a tensor; optbench imports one float feature tensor",
                ))
            }
        };
        if tensor.elem_type() != DataType::Float as i32
            && tensor.elem_type() != DataType::Double as i32
        {
            return Err(Error::onnx(
                format!("input `{t}`"),
                format!(
                    "has element type {}; optbench imports a float (or double) feature tensor",
                    DataType::try_from(tensor.elem_type()).map_or("unknown", |d| d.as_str_name())
                ),
            ));
        }
        use super::proto::tensor_shape_proto::dimension::Value;
        let dims = tensor.shape.as_ref().map_or(&[][..], |s| &s.dim[..]);
        let width = match dims {
            [_, d] => match d.value {
                Some(Value::DimValue(v)) if v > 0 => Some(v as usize),
                _ => None,
            },
            [] => None,
            _ => {
                return Err(Error::onnx(
                    format!("input `{t}`"),
                    format!("has {} dimensions; expected [N, features]", dims.len()),
                ))
            }
        };
        Ok((t.to_string(), width, chain))
    }

    /// The graph output holding probabilities: `probabilities` or the only
    /// float tensor output.
    fn probabilities(&self) -> Result<&'a str> {
        if let Some(o) = self.g.output.iter().find(|o| o.name() == "probabilities") {
            return Ok(o.name());
        }
        let floats: Vec<&str> = self
            .g
            .output
            .iter()
            .filter(|o| match o.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(type_proto::Value::TensorType(t)) => t.elem_type() == DataType::Float as i32,
                _ => false,
            })
            .map(|o| o.name())
            .collect();
        match floats[..] {
            [one] => Ok(one),
            _ => Err(Error::onnx(
                "graph",
                "no output named `probabilities` and not exactly one float output",
            )),
        }
    }

    /// The stages from `core`'s scores to the probabilities, folded.
    fn tail(&self, core: &NodeProto) -> Result<Tail> {
        let scores_at = usize::from(core.op_type() != "TreeEnsembleRegressor");
        let mut t = self.probabilities()?;
        let mut stages = Vec::new();
        for _ in 0..=self.g.node.len() {
            let (n, i) = *self.producer.get(t).ok_or_else(|| {
                Error::onnx(
                    format!("tensor `{t}`"),
                    "is not computed from the model operator's scores",
                )
            })?;
            let what = describe(n);
            let bad = |m: &str| Error::onnx(&what, m.to_string());
            let input = |k: usize| n.input.get(k).map_or("", String::as_str);
            if std::ptr::eq(n, core) {
                if i != scores_at {
                    return Err(bad("the probabilities must come from the scores output"));
                }
                stages.reverse();
                return fold(stages, &describe(core));
            }
            t = match (n.op_type(), is_std(n)) {
                ("Identity", true) => input(0),
                ("Cast", true) => {
                    if attr_int(n, "to") != Some(DataType::Float as i64) {
                        return Err(bad("only a Cast to float is supported here"));
                    }
                    input(0)
                }
                ("Mul" | "Add", true) => {
                    let (c, x) = match (self.constant(input(0))?, self.constant(input(1))?) {
                        (None, Some(c)) => (c, input(0)),
                        (Some(c), None) => (c, input(1)),
                        _ => return Err(bad("needs exactly one constant operand")),
                    };
                    stages.push(if n.op_type() == "Mul" {
                        Stage::Scale(c)
                    } else {
                        Stage::Shift(c)
                    });
                    x
                }
                ("Softmax", true) => {
                    if !matches!(attr_int(n, "axis"), None | Some(-1) | Some(1)) {
                        return Err(bad("Softmax over another axis than the classes"));
                    }
                    stages.push(Stage::Softmax);
                    input(0)
                }
                ("Normalizer", false) => {
                    if attr_str(n, "norm").as_deref() != Some("L1") {
                        return Err(bad("only an L1 Normalizer (after a softmax) is supported"));
                    }
                    stages.push(Stage::Normalize);
                    input(0)
                }
                ("Concat", true) => {
                    let z = self.logistic_pair(n).ok_or_else(|| {
                        bad("only Concat(1 − Sigmoid(z), Sigmoid(z)) is supported here")
                    })?;
                    stages.push(Stage::LogisticPair);
                    z
                }
                _ => {
                    return Err(bad(
                        "is not supported between the model operator and the probabilities",
                    ))
                }
            };
        }
        Err(Error::onnx(
            "graph",
            "the probabilities' inputs form a cycle",
        ))
    }

    /// `z` when `concat` is `Concat(Sub(1, Sigmoid(z)), Sigmoid(z))` on axis 1.
    fn logistic_pair(&self, concat: &NodeProto) -> Option<&'a str> {
        if !matches!(attr_int(concat, "axis"), Some(1) | Some(-1)) || concat.input.len() != 2 {
            return None;
        }
        let p1 = concat.input[1].as_str();
        let (sig, _) = self.producer.get(p1)?;
        let (sub, _) = self.producer.get(concat.input[0].as_str())?;
        let one = self.constant(sub.input.first()?).ok()??;
        (sig.op_type() == "Sigmoid"
            && sub.op_type() == "Sub"
            && sub.input.get(1).map(String::as_str) == Some(p1)
            && one == [1.0])
        .then(|| sig.input.first().map(String::as_str))?
    }

    /// The values of a float constant (initializer), `None` when `name` is
    /// computed.
    fn constant(&self, name: &str) -> Result<Option<Vec<f32>>> {
        let Some(t) = self.constants.get(name) else {
            return Ok(None);
        };
        let what = format!("constant `{name}`");
        if t.data_type() != DataType::Float as i32 {
            return Err(Error::onnx(what, "is not float"));
        }
        if t.dims.len() > 2 || t.dims.iter().rev().skip(1).any(|&d| d != 1) {
            return Err(Error::onnx(what, "must be a scalar or one row"));
        }
        let values = if let Some(raw) = &t.raw_data {
            if raw.len() % 4 != 0 {
                return Err(Error::onnx(what, "raw data is not whole floats"));
            }
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            t.float_data.clone()
        };
        if values.is_empty() {
            return Err(Error::onnx(what, "is empty"));
        }
        Ok(Some(values))
    }
}

/// The per-feature steps of an `Imputer` and / or `Scaler` chain (forward
/// order) in front of a model with `d` features; `None` for no chain.
fn preprocessing(chain: &[&NodeProto], d: usize) -> Result<Option<Vec<NumericStep>>> {
    if chain.is_empty() {
        return Ok(None);
    }
    let mut steps = vec![
        NumericStep {
            fill: f64::NAN,
            center: 0.0,
            inv_scale: 1.0,
        };
        d
    ];
    // Values of length 1 apply to every feature (onnxruntime broadcasts).
    let per_feature = |a: &Attrs<'_>, name: &str, v: &[f32]| -> Result<Vec<f64>> {
        match v.len() {
            1 => Ok(vec![f64::from(v[0]); d]),
            n if n == d => Ok(v.iter().map(|&x| f64::from(x)).collect()),
            n => Err(a.err(format!("`{name}` has {n} values for {d} features"))),
        }
    };
    for &n in chain {
        let what = describe(n);
        let a = Attrs {
            node: n,
            what: &what,
        };
        if n.op_type() == "Imputer" {
            if !a.ints("imputed_value_int64s")?.is_empty() {
                return Err(a.err("imputes integers; optbench imports float imputation"));
            }
            let replaced = attr(n, "replaced_value_float")
                .and_then(|x| x.f)
                .unwrap_or(0.0);
            if !replaced.is_nan() {
                return Err(a.err(format!(
                    "replaces the value {replaced}; optbench's pipeline fills only missing (NaN) values"
                )));
            }
            let fills = per_feature(
                &a,
                "imputed_value_floats",
                a.floats("imputed_value_floats")?,
            )?;
            for (s, f) in steps.iter_mut().zip(fills) {
                if f.is_infinite() {
                    return Err(a.err("imputes an infinite value"));
                }
                s.fill = f;
            }
        } else {
            let offset = per_feature(&a, "offset", a.floats("offset")?)?;
            let scale = per_feature(&a, "scale", a.floats("scale")?)?;
            for ((s, o), m) in steps.iter_mut().zip(offset).zip(scale) {
                if !(o.is_finite() && m.is_finite()) {
                    return Err(a.err("has a non-finite offset or scale"));
                }
                s.center = o;
                s.inv_scale = m;
            }
        }
    }
    Ok(Some(steps))
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
        // The importer builds only the two float forms.
        _ => {}
    }
}

/// Folds the stages (in forward order) into a [`Tail`].
fn fold(stages: Vec<Stage>, what: &str) -> Result<Tail> {
    let mut tail = Tail {
        a: vec![1.0],
        b: vec![0.0],
        head: Head::None,
        normalize: false,
    };
    let bad = |m: &str| Error::onnx(what, m.to_string());
    for s in stages {
        if tail.normalize {
            return Err(bad("operators after the Normalizer are not supported"));
        }
        match s {
            Stage::Scale(_) | Stage::Shift(_) if tail.head != Head::None => {
                return Err(bad(
                    "Mul or Add after the softmax or sigmoid is not supported",
                ))
            }
            Stage::Scale(c) => {
                tail.a = broadcast(&tail.a, &c, |x, y| x * y)
                    .ok_or_else(|| bad("constant shapes do not match"))?;
                tail.b = broadcast(&tail.b, &c, |x, y| x * y)
                    .ok_or_else(|| bad("constant shapes do not match"))?;
            }
            Stage::Shift(c) => {
                tail.b = broadcast(&tail.b, &c, |x, y| x + y)
                    .ok_or_else(|| bad("constant shapes do not match"))?;
            }
            Stage::Softmax | Stage::LogisticPair if tail.head != Head::None => {
                return Err(bad("two softmax or sigmoid steps"))
            }
            Stage::Softmax => tail.head = Head::Softmax,
            Stage::LogisticPair => tail.head = Head::LogisticPair,
            Stage::Normalize => tail.normalize = true,
        }
    }
    Ok(tail)
}

fn broadcast(x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32) -> Option<Vec<f32>> {
    match (x.len(), y.len()) {
        (1, _) => Some(y.iter().map(|&v| f(x[0], v)).collect()),
        (_, 1) => Some(x.iter().map(|&v| f(v, y[0])).collect()),
        (a, b) if a == b => Some(x.iter().zip(y).map(|(&u, &v)| f(u, v)).collect()),
        _ => None,
    }
}

pub(super) fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}

pub(super) fn attr_int(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).and_then(|a| a.i)
}

fn attr_str(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).and_then(|a| {
        a.s.as_ref()
            .map(|s| String::from_utf8_lossy(s).into_owned())
    })
}

/// Typed attribute access on the model operator, with errors that name it.
pub(super) struct Attrs<'a> {
    pub(super) node: &'a NodeProto,
    pub(super) what: &'a str,
}

impl Attrs<'_> {
    pub(super) fn err(&self, m: impl Into<String>) -> Error {
        Error::onnx(self.what, m)
    }

    fn get(&self, name: &str, kind: AttributeType) -> Result<Option<&AttributeProto>> {
        match attr(self.node, name) {
            Some(a) if a.r#type.is_some_and(|t| t != kind as i32) => Err(self.err(format!(
                "attribute `{name}` should be {}",
                kind.as_str_name()
            ))),
            a => Ok(a),
        }
    }

    pub(super) fn ints(&self, name: &str) -> Result<&[i64]> {
        Ok(self
            .get(name, AttributeType::Ints)?
            .map_or(&[][..], |a| &a.ints[..]))
    }

    pub(super) fn floats(&self, name: &str) -> Result<&[f32]> {
        if attr(self.node, &format!("{name}_as_tensor")).is_some() {
            return Err(self.err(format!(
                "`{name}_as_tensor` (double precision values) is not supported; write `{name}`"
            )));
        }
        Ok(self
            .get(name, AttributeType::Floats)?
            .map_or(&[][..], |a| &a.floats[..]))
    }

    pub(super) fn strings(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .get(name, AttributeType::Strings)?
            .map_or_else(Vec::new, |a| {
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            }))
    }

    pub(super) fn string(&self, name: &str, default: &str) -> Result<String> {
        Ok(self
            .get(name, AttributeType::String)?
            .and_then(|a| a.s.as_ref())
            .map_or_else(
                || default.into(),
                |s| String::from_utf8_lossy(s).into_owned(),
            ))
    }

    pub(super) fn int(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self
            .get(name, AttributeType::Int)?
            .and_then(|a| a.i)
            .unwrap_or(default))
    }

    /// Class labels: `classlabels_int64s` / `classlabels_ints` or `_strings`.
    fn classes(&self, ints: &str) -> Result<Vec<String>> {
        let i = self.ints(ints)?;
        let s = self.strings("classlabels_strings")?;
        let classes: Vec<String> = if !i.is_empty() {
            i.iter().map(i64::to_string).collect()
        } else {
            s
        };
        if classes.len() < 2 {
            return Err(self.err("needs at least two class labels"));
        }
        Ok(classes)
    }
}

/// Per-leaf weights: (tree, node) → [(class or target, weight)].
type LeafWeights = HashMap<(i64, i64), Vec<(usize, f32)>>;

/// The tree structure of a tree operator, and its leaf weights.
struct Forest {
    tree_ids: Vec<i64>,
    tree_of: Vec<i64>,
    node_ids: Vec<i64>,
    features: Vec<i64>,
    modes: Vec<String>,
    values: Vec<f32>,
    trues: Vec<i64>,
    falses: Vec<i64>,
    index: HashMap<(i64, i64), usize>,
    weights: LeafWeights,
}

impl Forest {
    /// `rewrite`: features whose splits sending a missing value to the true
    /// branch are rewritten ([`Forest::send_missing_right`]).
    fn read(
        a: &Attrs<'_>,
        prefix: &str,
        n_outputs: usize,
        rewrite: &HashSet<i64>,
    ) -> Result<Forest> {
        let tree_of = a.ints("nodes_treeids")?.to_vec();
        let node_ids = a.ints("nodes_nodeids")?.to_vec();
        let features = a.ints("nodes_featureids")?.to_vec();
        let modes = a.strings("nodes_modes")?;
        let values = a.floats("nodes_values")?.to_vec();
        let trues = a.ints("nodes_truenodeids")?.to_vec();
        let falses = a.ints("nodes_falsenodeids")?.to_vec();
        let missing = a.ints("nodes_missing_value_tracks_true")?;
        let n = tree_of.len();
        if n == 0 {
            return Err(a.err("has no tree nodes"));
        }
        if [
            node_ids.len(),
            features.len(),
            modes.len(),
            values.len(),
            trues.len(),
            falses.len(),
        ]
        .iter()
        .any(|&l| l != n)
            || (!missing.is_empty() && missing.len() != n)
        {
            return Err(a.err("the nodes_* attributes have different lengths"));
        }
        // Splits that send missing values to their true branch are rewritten
        // below on the features the caller names; on the others the
        // pipeline gives a stand-in value (`stand_ins`).
        let mut index = HashMap::with_capacity(n);
        let mut tree_ids = Vec::new();
        let mut seen = HashSet::new();
        for i in 0..n {
            if index.insert((tree_of[i], node_ids[i]), i).is_some() {
                return Err(a.err(format!(
                    "tree {} has node {} twice",
                    tree_of[i], node_ids[i]
                )));
            }
            if seen.insert(tree_of[i]) {
                tree_ids.push(tree_of[i]);
            }
        }
        let w_trees = a.ints(&format!("{prefix}_treeids"))?;
        let w_nodes = a.ints(&format!("{prefix}_nodeids"))?;
        let w_ids = a.ints(&format!("{prefix}_ids"))?;
        let w = a.floats(&format!("{prefix}_weights"))?;
        let m = w.len();
        if w_trees.len() != m || w_nodes.len() != m || w_ids.len() != m {
            return Err(a.err(format!("the {prefix}_* attributes have different lengths")));
        }
        let mut weights: LeafWeights = HashMap::new();
        for j in 0..m {
            let key = (w_trees[j], w_nodes[j]);
            match index.get(&key) {
                Some(&i) if modes[i] == "LEAF" => {}
                _ => {
                    return Err(a.err(format!(
                        "a weight names tree {} node {}, which is not a leaf",
                        key.0, key.1
                    )))
                }
            }
            let id = usize::try_from(w_ids[j])
                .ok()
                .filter(|&id| id < n_outputs)
                .ok_or_else(|| {
                    a.err(format!("a weight names output {} of {n_outputs}", w_ids[j]))
                })?;
            weights.entry(key).or_default().push((id, w[j]));
        }
        let mut missing = missing.to_vec();
        missing.resize(n, 0);
        let mut forest = Forest {
            tree_ids,
            tree_of,
            node_ids,
            features,
            modes,
            values,
            trues,
            falses,
            index,
            weights,
        };
        if !rewrite.is_empty() {
            forest.send_missing_right(a, rewrite, &mut missing)?;
        }
        Ok(forest)
    }

    /// Rewrites each split on a feature of `conflicts` that sends a missing
    /// value to its true branch `L` (which the IR cannot: it sends `NaN` to
    /// the false one) into the same split sending it false, to a guard
    /// `x <= +∞` (true for every number, false for `NaN`) whose true branch is
    /// the old false branch `R` and whose false branch is a copy of `L` for
    /// a missing value: in the copy, every split on the same feature is
    /// replaced by the branch the file sends a missing value to. Numbers take
    /// the paths they took; a missing value reaches the leaf it reached.
    /// Copies that hold such splits on other features are rewritten in turn.
    /// An error when the trees would grow more than sixteenfold. (LightGBM,
    /// 50 rounds of at most 15 leaves, trained on rows with an eighth of the
    /// cells missing: 2.4× on wine, 7.7× on breast cancer. The copies are
    /// walked by rows with missing values only, a guard by the rows that go
    /// right at its split.)
    fn send_missing_right(
        &mut self,
        a: &Attrs<'_>,
        conflicts: &HashSet<i64>,
        missing: &mut Vec<i64>,
    ) -> Result<()> {
        let original = self.modes.len();
        let limit = 16 * original;
        let mut next_id: HashMap<i64, i64> = HashMap::new();
        for (&t, &id) in self.tree_of.iter().zip(&self.node_ids) {
            let next = next_id.entry(t).or_insert(0);
            *next = (*next).max(id.saturating_add(1));
        }
        let mut i = 0;
        while i < self.modes.len() {
            if missing[i] != 0 && self.modes[i] != "LEAF" && conflicts.contains(&self.features[i]) {
                let (tree, f) = (self.tree_of[i], self.features[i]);
                let copy =
                    self.copy_for_missing(a, tree, self.trues[i], f, missing, &mut next_id)?;
                let guard = self.push_node(tree, f, "BRANCH_LEQ", f32::INFINITY, &mut next_id);
                missing.push(0);
                self.trues[guard] = self.falses[i];
                self.falses[guard] = copy;
                self.falses[i] = self.node_ids[guard];
                missing[i] = 0;
                if self.modes.len() > limit {
                    return Err(a.err(format!(
                        "sending missing values to the false branch at the splits that send them \
                         to the true one would take more than {limit} nodes ({original} in the file)"
                    )));
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// Appends a node to tree `tree` with a fresh id (children unset) and
    /// returns its position.
    fn push_node(
        &mut self,
        tree: i64,
        feature: i64,
        mode: &str,
        value: f32,
        next_id: &mut HashMap<i64, i64>,
    ) -> usize {
        let next = next_id.entry(tree).or_insert(0);
        let id = *next;
        *next += 1;
        let at = self.modes.len();
        self.tree_of.push(tree);
        self.node_ids.push(id);
        self.features.push(feature);
        self.modes.push(mode.to_string());
        self.values.push(value);
        self.trues.push(-1);
        self.falses.push(-1);
        self.index.insert((tree, id), at);
        at
    }

    /// Copies the subtree of tree `tree` under node id `root` as a missing
    /// value of feature `f` sees it (splits on `f` replaced by the branch
    /// that value takes); returns the copy's root id.
    fn copy_for_missing(
        &mut self,
        a: &Attrs<'_>,
        tree: i64,
        root: i64,
        f: i64,
        missing: &mut Vec<i64>,
        next_id: &mut HashMap<i64, i64>,
    ) -> Result<i64> {
        // (source node id, parent position and branch to link, or none).
        let mut stack = vec![(root, None::<(usize, bool)>)];
        let mut copy_root = None;
        // A damaged file's "tree" may reach a node twice; the copy must end.
        let mut seen = HashSet::new();
        let not_a_tree = || a.err(format!("tree {tree} is not a tree (node reached twice)"));
        while let Some((mut src, parent)) = stack.pop() {
            let mut j = self.node_at(a, tree, src)?;
            while self.modes[j] != "LEAF" && self.features[j] == f {
                if !seen.insert(src) {
                    return Err(not_a_tree());
                }
                src = if missing[j] != 0 {
                    self.trues[j]
                } else {
                    self.falses[j]
                };
                j = self.node_at(a, tree, src)?;
            }
            if !seen.insert(src) {
                return Err(not_a_tree());
            }
            let (feature, mode, value) = (self.features[j], self.modes[j].clone(), self.values[j]);
            let at = self.push_node(tree, feature, &mode, value, next_id);
            missing.push(missing[j]);
            let id = self.node_ids[at];
            if mode == "LEAF" {
                if let Some(w) = self.weights.get(&(tree, src)).cloned() {
                    self.weights.insert((tree, id), w);
                }
            } else {
                stack.push((self.falses[j], Some((at, false))));
                stack.push((self.trues[j], Some((at, true))));
            }
            match parent {
                Some((p, true)) => self.trues[p] = id,
                Some((p, false)) => self.falses[p] = id,
                None => copy_root = Some(id),
            }
        }
        copy_root.ok_or_else(|| a.err(format!("tree {tree} has no node {root}")))
    }

    fn node_at(&self, a: &Attrs<'_>, tree: i64, id: i64) -> Result<usize> {
        self.index
            .get(&(tree, id))
            .copied()
            .ok_or_else(|| a.err(format!("tree {tree} has no node {id}")))
    }

    fn n_features(&self, width: Option<usize>) -> usize {
        width.unwrap_or_else(|| {
            (0..self.modes.len())
                .filter(|&i| self.modes[i] != "LEAF")
                .map(|i| self.features[i].max(0) as usize + 1)
                .max()
                .unwrap_or(1)
        })
    }

    fn leaf_weights(&self, i: usize) -> &[(usize, f32)] {
        self.weights
            .get(&(self.tree_of[i], self.node_ids[i]))
            .map_or(&[][..], |v| &v[..])
    }

    /// The class (output) every leaf of tree `tree` adds to (0 when none).
    fn tree_output(&self, a: &Attrs<'_>, tree: i64) -> Result<u32> {
        let mut out = None;
        for (&(t, _), ws) in &self.weights {
            if t != tree {
                continue;
            }
            for &(id, _) in ws {
                if out.is_some_and(|o| o != id) {
                    return Err(a.err(format!(
                        "tree {tree} adds to several classes; a boosted tree adds to one"
                    )));
                }
                out = Some(id);
            }
        }
        Ok(out.unwrap_or(0) as u32)
    }

    /// Builds `ens` tree by tree, in pre-order; `leaf(i)` gives the values
    /// of the leaf at attribute position `i`.
    fn build(
        &self,
        a: &Attrs<'_>,
        ens: &mut TreeEnsemble,
        mut leaf: impl FnMut(usize) -> Result<Vec<f32>>,
    ) -> Result<()> {
        for &tree in &self.tree_ids {
            let mut children = HashSet::new();
            let members: Vec<usize> = (0..self.tree_of.len())
                .filter(|&i| self.tree_of[i] == tree)
                .collect();
            for &i in &members {
                if self.modes[i] != "LEAF" {
                    children.insert(self.trues[i]);
                    children.insert(self.falses[i]);
                }
            }
            let roots: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| !children.contains(&self.node_ids[i]))
                .collect();
            let [root] = roots[..] else {
                return Err(a.err(format!("tree {tree} has {} roots", roots.len())));
            };
            ens.roots.push(ens.nodes.len() as u32);
            let mut visited = HashSet::new();
            let mut stack = vec![(root, None::<(u32, bool)>)];
            while let Some((i, parent)) = stack.pop() {
                if !visited.insert(i) {
                    return Err(a.err(format!("tree {tree} is not a tree (node reached twice)")));
                }
                let id = match self.modes[i].as_str() {
                    "LEAF" => {
                        let values = leaf(i)?;
                        ens.push_leaf(&values)
                    }
                    mode @ ("BRANCH_LEQ" | "BRANCH_LT") => {
                        let f = self.features[i];
                        if f < 0 || f as usize >= ens.n_features {
                            return Err(a.err(format!(
                                "tree {tree} node {} tests feature {f} of {}",
                                self.node_ids[i], ens.n_features
                            )));
                        }
                        let t = self.values[i];
                        if t.is_nan() {
                            return Err(a.err(format!("tree {tree} has a NaN threshold")));
                        }
                        let id = ens.push_split(f as u32, ir_threshold(mode, t));
                        for (child, right) in [(self.falses[i], true), (self.trues[i], false)] {
                            let c = *self
                                .index
                                .get(&(tree, child))
                                .ok_or_else(|| a.err(format!("tree {tree} has no node {child}")))?;
                            stack.push((c, Some((id, right))));
                        }
                        id
                    }
                    other => {
                        return Err(a.err(format!(
                            "split mode {other} is not supported (BRANCH_LEQ and BRANCH_LT are)"
                        )))
                    }
                };
                if let Some((p, right)) = parent {
                    let n = &mut ens.nodes[p as usize];
                    if right {
                        n.right = id;
                    } else {
                        n.left = id;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The IR's threshold (`x <= t` goes left) for an ONNX split: `x < t` is
/// `x <=` the largest `f32` below `t`, on `f32` inputs.
fn ir_threshold(mode: &str, t: f32) -> f32 {
    if mode == "BRANCH_LT" {
        t.next_down()
    } else {
        t
    }
}

/// How a feature's splits route a missing value, when some send it to the
/// true branch (`nodes_missing_value_tracks_true = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum NanRoute {
    /// `v` goes wherever a missing value goes, at every split on the feature.
    StandIn(f32),
    /// No value does: some splits send a missing value left above
    /// thresholds where others send it right.
    Conflict,
}

/// Per feature (file numbering) with a split sending a missing value to
/// its true branch, how the splits on it route one.
///
/// onnxmltools writes LightGBM's models with such splits: LightGBM sends a
/// missing value where `0` goes when training saw none, and where it
/// learned to otherwise. A value `v` stands in for a missing one when every
/// split on the feature sends `v` where it sends a missing value: `v <= t`
/// at the splits sending it to the true (left) branch, `v > t` at the
/// others, so `max(others) < v <= min(true-branch splits)`: `0` when it is
/// in that range (LightGBM's own rule), else the lowest such threshold.
fn nan_routes(
    modes: &[String],
    features: &[i64],
    values: &[f32],
    missing: &[i64],
) -> HashMap<i64, NanRoute> {
    // Per feature: the lowest threshold sending NaN left, the highest
    // sending it right.
    let mut bounds: HashMap<i64, (f32, f32)> = HashMap::new();
    let n = modes
        .len()
        .min(features.len())
        .min(values.len())
        .min(missing.len());
    for i in 0..n {
        if !matches!(modes[i].as_str(), "BRANCH_LEQ" | "BRANCH_LT") {
            continue;
        }
        let t = ir_threshold(&modes[i], values[i]);
        let b = bounds
            .entry(features[i])
            .or_insert((f32::INFINITY, f32::NEG_INFINITY));
        if missing[i] != 0 {
            b.0 = b.0.min(t);
        } else {
            b.1 = b.1.max(t);
        }
    }
    bounds
        .into_iter()
        .filter(|(_, (l, _))| *l != f32::INFINITY)
        .map(|(f, (l, r))| {
            let route = if r >= l {
                NanRoute::Conflict
            } else if r < 0.0 && 0.0 <= l {
                NanRoute::StandIn(0.0)
            } else {
                NanRoute::StandIn(l)
            };
            (f, route)
        })
        .collect()
}

/// [`nan_routes`] of a tree operator's splits (none for a linear model or
/// a file whose splits all send missing values to the false branch).
fn file_nan_routes(a: &Attrs<'_>) -> Result<HashMap<i64, NanRoute>> {
    if a.node.op_type() == "LinearClassifier" {
        return Ok(HashMap::new());
    }
    let missing = a.ints("nodes_missing_value_tracks_true")?;
    if missing.iter().all(|&m| m == 0) {
        return Ok(HashMap::new());
    }
    Ok(nan_routes(
        &a.strings("nodes_modes")?,
        a.ints("nodes_featureids")?,
        a.floats("nodes_values")?,
        missing,
    ))
}

/// For each of the `d` model features, a value to stand in for a missing
/// one, or `None` when a `NaN` may reach the trees as it is (no split on it
/// sends one left, or its splits are in `rewrite`:
/// [`Forest::send_missing_right`]).
fn stand_ins(
    routes: &HashMap<i64, NanRoute>,
    d: usize,
    rewrite: &HashSet<i64>,
) -> Vec<Option<f32>> {
    let mut out = vec![None; d];
    for (f, route) in routes {
        if let (NanRoute::StandIn(v), false) = (route, rewrite.contains(f)) {
            if let Some(slot) = usize::try_from(*f).ok().and_then(|f| out.get_mut(f)) {
                *slot = Some(*v);
            }
        }
    }
    out
}

/// Nodes of a tree model (0 for a linear one).
fn model_nodes(model: &Model) -> usize {
    match model {
        Model::Trees(t) => t.nodes.len(),
        _ => 0,
    }
}

/// Nodes in a tree operator's attributes.
fn file_nodes(a: &Attrs<'_>) -> usize {
    a.strings("nodes_modes").map_or(0, |m| m.len())
}

/// What [`fill_stand_ins`] did.
#[derive(Debug, PartialEq)]
enum StandIns {
    /// Every stand-in went where a `NaN` would have reached the trees;
    /// what it did, for the notes (none when nothing was needed).
    Placed(Option<String>),
    /// These outputs are scaled with no imputer in front (a stand-in would
    /// be scaled too): their splits must be rewritten instead.
    Scaled(Vec<usize>),
}

/// Makes the preprocessing replace a missing value of model feature `f` by
/// `stand_ins[f]` wherever it would otherwise pass a `NaN` to the trees (a
/// passthrough, or a step with no imputer and no scaling; a file without
/// preprocessing gets passthrough steps).
fn fill_stand_ins(pre: &mut Option<Preprocessing>, stand_ins: &[Option<f32>]) -> StandIns {
    let wanted: Vec<(usize, f32)> = stand_ins
        .iter()
        .enumerate()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect();
    if wanted.is_empty() {
        return StandIns::Placed(None);
    }
    let passthrough = NumericStep {
        fill: f64::NAN,
        center: 0.0,
        inv_scale: 1.0,
    };
    let pre = pre.get_or_insert_with(|| Preprocessing::Numeric(vec![passthrough; stand_ins.len()]));
    let mut filled = Vec::new();
    let mut scaled = Vec::new();
    match pre {
        Preprocessing::Numeric(steps) => {
            for &(f, v) in &wanted {
                let s = &mut steps[f];
                if !s.fill.is_nan() {
                    continue; // imputed: no NaN reaches the trees
                }
                if s.center != 0.0 || s.inv_scale != 1.0 {
                    scaled.push(f);
                    continue;
                }
                s.fill = f64::from(v);
                filled.push((format!("{f}"), v));
            }
        }
        Preprocessing::Columns(p) => {
            // Model feature `f` is output `f` of the pipeline.
            let mut at = 0;
            for step in &mut p.steps {
                let width = step.width();
                if let Step::Numeric {
                    name,
                    fill,
                    center,
                    inv_scale,
                } = step
                {
                    match wanted.iter().find(|&&(f, _)| f == at) {
                        // Imputed: no NaN reaches the trees.
                        Some(_) if !fill.is_nan() => {}
                        Some(&(f, _)) if *center != 0.0 || *inv_scale != 1.0 => scaled.push(f),
                        Some(&(_, v)) => {
                            *fill = f64::from(v);
                            filled.push((format!("`{name}`"), v));
                        }
                        None => {}
                    }
                }
                // One-hot outputs are never NaN.
                at += width;
            }
        }
    }
    if !scaled.is_empty() {
        return StandIns::Scaled(scaled);
    }
    if filled.is_empty() {
        return StandIns::Placed(None);
    }
    // "0 (features 0, 1, …), 2.5 (feature 7)": one group per value.
    let mut groups: Vec<(f32, Vec<String>)> = Vec::new();
    for (feature, v) in filled {
        match groups.iter_mut().find(|g| g.0.to_bits() == v.to_bits()) {
            Some(g) => g.1.push(feature),
            None => groups.push((v, vec![feature])),
        }
    }
    let filled = groups
        .iter()
        .map(|(v, fs)| {
            let s = if fs.len() == 1 { "" } else { "s" };
            format!("{v} (feature{s} {})", fs.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    StandIns::Placed(Some(format!(
        "the file sends missing values to the true branch at some splits (as onnxmltools \
         writes LightGBM models) and optbench's trees send NaN to the false one, so the \
         package fills a missing value with {filled}: a value every split on its feature \
         sends where the file sends a missing one, so predictions are the file's"
    )))
}

fn tree_classifier(
    a: &Attrs<'_>,
    width: Option<usize>,
    tail: &Tail,
    rewrite: &HashSet<i64>,
) -> Result<(Model, Vec<String>)> {
    let classes = a.classes("classlabels_int64s")?;
    let k = classes.len();
    let forest = Forest::read(a, "class", k, rewrite)?;
    let d = forest.n_features(width);
    let post = a.string("post_transform", "NONE")?;
    let base = a.floats("base_values")?.to_vec();
    let n_trees = forest.tree_ids.len();
    let used: HashSet<usize> = forest.weights.values().flatten().map(|&(c, _)| c).collect();
    let all_weights = || forest.weights.values().flatten().map(|&(_, w)| w);
    let plain = tail.is_identity() && tail.head == Head::None;
    let unsupported = || {
        a.err(format!(
            "post_transform {post} with {:?} after it, {} classes and weights naming {} of them is not supported",
            tail.head,
            k,
            used.len()
        ))
    };
    let ens = if k == 2 && used.len() == 1 {
        // One score column, class 1's (onnxruntime's reading).
        let s = |i: usize| forest.leaf_weights(i).iter().map(|&(_, w)| w).sum::<f32>();
        match post.as_str() {
            "NONE"
                if plain && base.iter().all(|&b| b == 0.0) && all_weights().all(|w| w >= 0.0) =>
            {
                let mut ens = TreeEnsemble::new(d, 2);
                let t = n_trees as f32;
                forest.build(a, &mut ens, |i| Ok(vec![1.0 - t * s(i), t * s(i)]))?;
                ens
            }
            "LOGISTIC" if plain && base.len() <= 1 => {
                let mut ens = TreeEnsemble::boosted(
                    d,
                    2,
                    Link::Logistic,
                    vec![base.first().copied().unwrap_or(0.0)],
                );
                forest.build(a, &mut ens, |i| Ok(vec![s(i)]))?;
                if let Output::Boosted { tree_output, .. } = &mut ens.output {
                    tree_output.resize(n_trees, 0);
                }
                ens
            }
            _ => return Err(unsupported()),
        }
    } else {
        tail.check_width(k, a.what)?;
        if !base.is_empty() && base.len() != k {
            return Err(a.err(format!("{} base values for {k} classes", base.len())));
        }
        let bv = |j: usize| base.get(j).copied().unwrap_or(0.0);
        match (post.as_str(), tail.head) {
            ("NONE", Head::None) => {
                // Averaging: probabilities = c × Σ leaf weights.
                let c = tail.a(0);
                if tail.a.iter().any(|&x| x != c)
                    || tail.b.iter().any(|&x| x != 0.0)
                    || base.iter().any(|&x| x != 0.0)
                {
                    return Err(unsupported());
                }
                // The IR divides the sum by T; a file that does the same
                // keeps its weights as they are.
                let factor = if c == 1.0 / n_trees as f32 {
                    1.0
                } else {
                    c * n_trees as f32
                };
                let mut ens = TreeEnsemble::new(d, k);
                forest.build(a, &mut ens, |i| {
                    let mut v = vec![0.0; k];
                    for &(j, w) in forest.leaf_weights(i) {
                        v[j] += w;
                    }
                    v.iter_mut().for_each(|x| *x *= factor);
                    Ok(v)
                })?;
                ens
            }
            ("NONE", Head::Softmax) | ("SOFTMAX", Head::None) => {
                if post == "SOFTMAX" && !tail.is_identity() {
                    return Err(unsupported());
                }
                boosted(a, &forest, d, k, Link::Softmax, tail, &bv)?
            }
            _ => return Err(unsupported()),
        }
    };
    Ok((Model::Trees(ens), classes))
}

/// A boosted ensemble: each tree adds to one output; scores pass through
/// the tail's affine map before `link`.
fn boosted(
    a: &Attrs<'_>,
    forest: &Forest,
    d: usize,
    k: usize,
    link: Link,
    tail: &Tail,
    base: &dyn Fn(usize) -> f32,
) -> Result<TreeEnsemble> {
    let outputs = link.n_outputs(k);
    let base_ir = (0..outputs)
        .map(|j| base(j) * tail.a(j) + tail.b(j))
        .collect();
    let mut ens = TreeEnsemble::boosted(d, k, link, base_ir);
    let mut tree_output = Vec::with_capacity(forest.tree_ids.len());
    for &t in &forest.tree_ids {
        tree_output.push(forest.tree_output(a, t)?);
    }
    let position: HashMap<i64, usize> = forest
        .tree_ids
        .iter()
        .enumerate()
        .map(|(p, &t)| (t, p))
        .collect();
    forest.build(a, &mut ens, |i| {
        let out = tree_output[position[&forest.tree_of[i]]] as usize;
        let w: f32 = forest.leaf_weights(i).iter().map(|&(_, w)| w).sum();
        Ok(vec![w * tail.a(out)])
    })?;
    if let Output::Boosted {
        tree_output: to, ..
    } = &mut ens.output
    {
        *to = tree_output;
    }
    Ok(ens)
}

fn tree_regressor(
    a: &Attrs<'_>,
    width: Option<usize>,
    tail: &Tail,
    rewrite: &HashSet<i64>,
) -> Result<(Model, Vec<String>)> {
    let n_targets = a.int("n_targets", 1)?;
    let post = a.string("post_transform", "NONE")?;
    let agg = a.string("aggregate_function", "SUM")?;
    if post != "NONE" || agg != "SUM" || n_targets < 1 {
        return Err(a.err(format!(
            "a regressor with post_transform {post} and aggregate {agg} is not a classifier optbench reads"
        )));
    }
    let m = n_targets as usize;
    let forest = Forest::read(a, "target", m, rewrite)?;
    let d = forest.n_features(width);
    let base = a.floats("base_values")?.to_vec();
    if !base.is_empty() && base.len() != m {
        return Err(a.err(format!("{} base values for {m} targets", base.len())));
    }
    tail.check_width(m, a.what)?;
    let bv = |j: usize| base.get(j).copied().unwrap_or(0.0);
    let ens = match (tail.head, m) {
        (Head::LogisticPair, 1) => boosted(a, &forest, d, 2, Link::Logistic, tail, &bv)?,
        (Head::Softmax, m) if m >= 2 => boosted(a, &forest, d, m, Link::Softmax, tail, &bv)?,
        _ => {
            return Err(a.err(
                "a regressor is read as a classifier only when followed by a sigmoid pair (one target) or a softmax",
            ))
        }
    };
    let classes = (0..ens.n_classes).map(|c| c.to_string()).collect();
    Ok((Model::Trees(ens), classes))
}

fn linear(a: &Attrs<'_>, width: Option<usize>, tail: &Tail) -> Result<(Model, Vec<String>)> {
    let classes = a.classes("classlabels_ints")?;
    let k = classes.len();
    let coef = a.floats("coefficients")?;
    let intercepts = a.floats("intercepts")?;
    let post = a.string("post_transform", "NONE")?;
    let rows = if intercepts.is_empty() {
        match width {
            Some(d) if d > 0 && coef.len() % d == 0 => coef.len() / d,
            _ => {
                return Err(
                    a.err("cannot tell the number of score rows: no intercepts and no input width")
                )
            }
        }
    } else {
        intercepts.len()
    };
    if rows == 0 || coef.is_empty() || coef.len() % rows != 0 {
        return Err(a.err(format!(
            "{} coefficients do not make {rows} rows",
            coef.len()
        )));
    }
    let d = coef.len() / rows;
    if width.is_some_and(|w| w != d) {
        return Err(a.err(format!(
            "{d} coefficients per row for {} input features",
            width.unwrap_or(0)
        )));
    }
    let b = |j: usize| intercepts.get(j).copied().unwrap_or(0.0);
    tail.check_width(rows, a.what)?;
    let m = match (post.as_str(), tail.head) {
        ("NONE", Head::Softmax) | ("SOFTMAX", Head::None) if rows == k => {
            if post == "SOFTMAX" && !tail.is_identity() {
                return Err(a.err("Mul or Add after a SOFTMAX post_transform is not supported"));
            }
            LinearModel {
                n_features: d,
                n_classes: k,
                link: Link::Softmax,
                weights: coef
                    .chunks_exact(d)
                    .enumerate()
                    .flat_map(|(j, r)| r.iter().map(move |&w| w * tail.a(j)))
                    .collect(),
                bias: (0..k).map(|j| b(j) * tail.a(j) + tail.b(j)).collect(),
            }
        }
        // scikit-learn's binary logistic regression: rows −w and w, each
        // through a sigmoid.
        ("LOGISTIC", Head::None)
            if k == 2
                && rows == 2
                && tail.is_identity()
                && coef[..d].iter().zip(&coef[d..]).all(|(x, y)| *x == -*y)
                && b(0) == -b(1) =>
        {
            LinearModel {
                n_features: d,
                n_classes: 2,
                link: Link::Logistic,
                weights: coef[d..].to_vec(),
                bias: vec![b(1)],
            }
        }
        _ => {
            return Err(a.err(format!(
                "post_transform {post} with {:?} after it, {rows} score rows and {k} classes is not supported",
                tail.head
            )))
        }
    };
    Ok((Model::Linear(m), classes))
}

#[cfg(test)]
mod stand_in_tests {
    use super::*;

    fn numeric(fill: f64, center: f64, inv_scale: f64) -> Option<Preprocessing> {
        Some(Preprocessing::Numeric(vec![NumericStep {
            fill,
            center,
            inv_scale,
        }]))
    }

    #[test]
    fn a_stand_in_goes_where_a_nan_would_reach_the_trees() {
        let placed = |s: StandIns| match s {
            StandIns::Placed(note) => note,
            other => panic!("{other:?}"),
        };
        // Passthrough step: filled.
        let mut pre = numeric(f64::NAN, 0.0, 1.0);
        let note = placed(fill_stand_ins(&mut pre, &[Some(2.5)]));
        assert!(note.unwrap().contains("2.5 (feature 0)"));
        assert_eq!(pre, numeric(2.5, 0.0, 1.0));
        // Imputed already: no NaN reaches the trees, nothing to do.
        let mut pre = numeric(7.0, 1.0, 2.0);
        assert_eq!(
            fill_stand_ins(&mut pre, &[Some(2.5)]),
            StandIns::Placed(None)
        );
        assert_eq!(pre, numeric(7.0, 1.0, 2.0));
        // Scaled with no imputer: the stand-in would be scaled too, so the
        // splits are to be rewritten instead.
        let mut pre = numeric(f64::NAN, 1.0, 2.0);
        assert_eq!(
            fill_stand_ins(&mut pre, &[Some(2.5)]),
            StandIns::Scaled(vec![0])
        );
        // A per-column pipeline: the stand-in goes to the step whose output
        // the feature is.
        let names = ["a".to_string(), "b".to_string()];
        let mut pre = Some(Preprocessing::Columns(FittedPipeline::passthrough(&names)));
        let note = placed(fill_stand_ins(&mut pre, &[None, Some(1.0)]));
        assert!(note.unwrap().contains("1 (feature `b`)"));
        let Some(Preprocessing::Columns(p)) = &pre else {
            unreachable!()
        };
        assert!(matches!(p.steps[0], Step::Numeric { fill, .. } if fill.is_nan()));
        assert!(matches!(p.steps[1], Step::Numeric { fill, .. } if fill == 1.0));
        // No stand-ins: no pipeline made.
        let mut pre = None;
        assert_eq!(
            fill_stand_ins(&mut pre, &[None, None]),
            StandIns::Placed(None)
        );
        assert!(pre.is_none());
    }
}
