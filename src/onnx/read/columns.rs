//! ONNX per-column preprocessing → the pipeline's steps: what lies between a
//! graph with one input per column (numeric `float` / `double [N, 1]`,
//! categorical `string [N, 1]`) and its model operator, as skl2onnx writes a
//! scikit-learn `ColumnTransformer` of `SimpleImputer` → `StandardScaler`
//! (numeric) and `SimpleImputer` → `OneHotEncoder` (categorical).
//!
//! Rather than match skl2onnx's node sequence, the graph from the inputs to
//! the model operator is evaluated symbolically: every tensor on the way is a
//! grid of columns, and each column says what it is in terms of one graph
//! input ([`Col`]). The operators move columns around (`Concat`,
//! `FeatureVectorizer`, `Gather`, `ArrayFeatureExtractor`, `Reshape`,
//! `Flatten`, `Identity`, `Cast`) or change what a column is:
//!
//! | operator | on | gives |
//! |---|---|---|
//! | `Imputer` (`imputed_value_floats`, replacing `NaN`) | a raw number | the number, its fill when missing |
//! | `Scaler`, or `Sub` then `Div` / `Mul` by constants | a number | `(x − offset) × scale` |
//! | `LabelEncoder` `{key: v ≠ 0}`, default 0, `key` a missing token (`""`) | a text | "the text is missing" |
//! | `Where(missing, fill, text)` | a text | the text, `fill` when missing (a `SimpleImputer` on strings) |
//! | `OneHotEncoder` (`cats_strings`) | a text | one 0/1 column per category |
//!
//! (`LabelEncoder` on a constant, skl2onnx's way of writing the fill, is
//! computed.) The model's input must come out as numbers and one-hot
//! columns, each graph input used exactly once: one numeric column, or one
//! text column's one-hot block with one fill. That is optbench's pipeline,
//! `Step::Numeric` and `Step::OneHot` one per input, in the graph's input
//! order; the one-hot outputs are the categories sorted by text (what
//! optbench's pipeline writes), and the model's features are renumbered to
//! the pipeline's output order.
//!
//! What the pipeline cannot do is refused by operator: an `OrdinalEncoder`
//! (`LabelEncoder` mapping categories to numbers), integer categories,
//! imputing a value that is not missing, a column used twice or not at all,
//! a number scaled before it is imputed. A `OneHotEncoder` with `zeros = 0`
//! (`handle_unknown="error"`) imports with a note: onnxruntime fails on a
//! category it has not seen, optbench's pipeline sets no output for it.
//!
//! Missing values: onnxruntime sees a missing text as the string the file
//! tests for (`""`); optbench reads every missing spelling of a cell (empty,
//! `NA`, `null`, …) as missing, so a cell `NA` is imputed by optbench where
//! the file, fed the string `"NA"`, would see an unknown category.

use super::graph::{attr, attr_int, describe, is_ml, is_std, Attrs, Graph};
use super::symbolic::{affine, broadcast, col_input, concat, constant, gather, reshape, Col, Sym};
use crate::data::is_missing;
use crate::error::{Error, Result};
use crate::onnx::proto::{tensor_proto::DataType, type_proto, NodeProto};
use crate::pipeline::{CategoricalImpute, FittedPipeline, NumericImpute, PipelineConfig, Step};
use std::collections::HashMap;

/// The per-column preprocessing found in front of the model.
pub(super) struct Columns {
    pub pipeline: FittedPipeline,
    /// Model feature `j` is pipeline output `position[j]`.
    pub position: Vec<usize>,
    /// The graph inputs, in order (the pipeline's columns).
    pub inputs: Vec<String>,
    /// What the import changes that the user should know.
    pub notes: Vec<String>,
}

/// Whether `g` takes one input per column (several inputs, or a string one)
/// rather than one float feature tensor.
pub(super) fn is_per_column(graph: &Graph<'_>) -> bool {
    let inputs: Vec<_> = graph
        .g
        .input
        .iter()
        .filter(|i| !graph.constants.contains_key(i.name()))
        .collect();
    inputs.len() > 1
        || inputs.iter().any(|i| {
            matches!(
                i.r#type.as_ref().and_then(|t| t.value.as_ref()),
                Some(type_proto::Value::TensorType(t)) if t.elem_type() == DataType::String as i32
            )
        })
}

struct Eval<'g, 'a> {
    graph: &'g Graph<'a>,
    inputs: Vec<(&'a str, bool)>,
    memo: HashMap<String, Sym>,
    busy: Vec<String>,
    notes: Vec<String>,
}

/// Traces the model operator `core`'s input back to the graph's column
/// inputs; `Columns` says how to build the model's features from them.
pub(super) fn trace(graph: &Graph<'_>, core: &NodeProto) -> Result<Columns> {
    let mut inputs = Vec::new();
    for i in &graph.g.input {
        if graph.constants.contains_key(i.name()) {
            continue;
        }
        let what = format!("input `{}`", i.name());
        let Some(type_proto::Value::TensorType(t)) =
            i.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Err(Error::onnx(what, "is not a tensor"));
        };
        let text = t.elem_type() == DataType::String as i32;
        if !text
            && t.elem_type() != DataType::Float as i32
            && t.elem_type() != DataType::Double as i32
        {
            return Err(Error::onnx(
                what,
                format!(
                    "has element type {}; optbench reads a column as float, double or string",
                    DataType::try_from(t.elem_type()).map_or("unknown", |d| d.as_str_name())
                ),
            ));
        }
        use crate::onnx::proto::tensor_shape_proto::dimension::Value;
        let dims = t.shape.as_ref().map_or(&[][..], |s| &s.dim[..]);
        let width = match dims {
            [_, d] => match d.value {
                Some(Value::DimValue(v)) => Some(v),
                _ => None,
            },
            _ => None,
        };
        if width != Some(1) {
            return Err(Error::onnx(
                what,
                "is not one column ([N, 1]); with several inputs optbench reads one input per column",
            ));
        }
        inputs.push((i.name(), text));
    }
    let mut ev = Eval {
        graph,
        inputs,
        memo: HashMap::new(),
        busy: Vec::new(),
        notes: Vec::new(),
    };
    let what = describe(core);
    let x = core
        .input
        .first()
        .ok_or_else(|| Error::onnx(&what, "has no input"))?;
    let cols = match ev.eval(x)? {
        Sym::Cols { cols, .. } => cols,
        _ => return Err(Error::onnx(&what, "its input is a constant")),
    };
    ev.build(&cols, &what)
}

impl<'a> Eval<'_, 'a> {
    fn eval(&mut self, t: &str) -> Result<Sym> {
        if let Some(s) = self.memo.get(t) {
            return Ok(s.clone());
        }
        if self.busy.iter().any(|b| b == t) {
            return Err(Error::onnx(
                format!("tensor `{t}`"),
                "is computed from itself (a cycle)",
            ));
        }
        self.busy.push(t.to_string());
        let s = self.compute(t);
        self.busy.pop();
        let s = s?;
        self.memo.insert(t.to_string(), s.clone());
        Ok(s)
    }

    fn compute(&mut self, t: &str) -> Result<Sym> {
        if let Some(c) = self.graph.constants.get(t) {
            return constant(c);
        }
        if let Some(k) = self.inputs.iter().position(|i| i.0 == t) {
            let col = if self.inputs[k].1 {
                Col::Text {
                    input: k,
                    fill: None,
                }
            } else {
                Col::Num {
                    input: k,
                    fill: f64::NAN,
                    center: 0.0,
                    inv_scale: 1.0,
                }
            };
            return Ok(Sym::Cols {
                dims: vec![1],
                cols: vec![col],
            });
        }
        let Some(&(n, _)) = self.graph.producer.get(t) else {
            return Err(Error::onnx(
                format!("tensor `{t}`"),
                "is neither a graph input, a constant nor computed",
            ));
        };
        self.node(n)
    }

    fn arg(&mut self, n: &NodeProto, k: usize) -> Result<Sym> {
        match n.input.get(k).filter(|s| !s.is_empty()) {
            Some(t) => self.eval(t),
            None => Err(Error::onnx(describe(n), format!("has no input {k}"))),
        }
    }

    fn cols(&mut self, n: &NodeProto, k: usize) -> Result<(Vec<usize>, Vec<Col>)> {
        match self.arg(n, k)? {
            Sym::Cols { dims, cols } => Ok((dims, cols)),
            _ => Err(Error::onnx(
                describe(n),
                format!("input {k} is a constant where optbench expects columns"),
            )),
        }
    }

    fn ints(&mut self, n: &NodeProto, k: usize) -> Result<(Vec<usize>, Vec<i64>)> {
        match self.arg(n, k)? {
            Sym::Ints { dims, v } => Ok((dims, v)),
            _ => Err(Error::onnx(
                describe(n),
                format!("input {k} should be constant integers"),
            )),
        }
    }

    /// Constant numbers, one or one per column (`k`).
    fn per_col(&mut self, n: &NodeProto, at: usize, k: usize) -> Result<Vec<f64>> {
        let v = match self.arg(n, at)? {
            Sym::Floats { v } => v,
            _ => {
                return Err(Error::onnx(
                    describe(n),
                    "needs a constant float operand (its second input)",
                ))
            }
        };
        broadcast(v, k).ok_or_else(|| {
            Error::onnx(
                describe(n),
                format!("its constant does not fit {k} columns"),
            )
        })
    }

    fn node(&mut self, n: &'a NodeProto) -> Result<Sym> {
        let what = describe(n);
        let bad = |m: String| Error::onnx(&what, m);
        let op = n.op_type();
        if is_std(n) {
            match op {
                "Identity" => return self.arg(n, 0),
                "Cast" => return self.cast(n),
                "Concat" => {
                    let axis = attr_int(n, "axis").unwrap_or(1);
                    let parts = (0..n.input.len())
                        .map(|k| self.cols(n, k))
                        .collect::<Result<Vec<_>>>()?;
                    return concat(parts, axis).map_err(bad);
                }
                "Gather" => {
                    let (dims, cols) = self.cols(n, 0)?;
                    let (idims, idx) = self.ints(n, 1)?;
                    let axis = attr_int(n, "axis").unwrap_or(0);
                    return gather(&dims, &cols, axis, &idims, &idx).map_err(bad);
                }
                "Reshape" => {
                    let (dims, cols) = self.cols(n, 0)?;
                    let (_, shape) = self.ints(n, 1)?;
                    return reshape(&dims, cols, &shape).map_err(bad);
                }
                "Flatten" => {
                    let (_, cols) = self.cols(n, 0)?;
                    if !matches!(attr_int(n, "axis"), None | Some(1)) {
                        return Err(bad("flattens another axis than 1".into()));
                    }
                    return Ok(Sym::Cols {
                        dims: vec![cols.len()],
                        cols,
                    });
                }
                "Where" => return self.impute_text(n),
                "Sub" | "Add" | "Mul" | "Div" => return self.arith(n),
                _ => {}
            }
        }
        if is_ml(n) {
            match op {
                "FeatureVectorizer" => {
                    let parts = (0..n.input.len())
                        .map(|k| self.cols(n, k))
                        .map(|p| p.map(|(_, c)| (vec![c.len()], c)))
                        .collect::<Result<Vec<_>>>()?;
                    return concat(parts, 1).map_err(bad);
                }
                "ArrayFeatureExtractor" => {
                    let (dims, cols) = self.cols(n, 0)?;
                    let (idims, idx) = self.ints(n, 1)?;
                    // Selects along the last axis.
                    let axis = dims.len() as i64;
                    let idims = if idims.is_empty() { vec![1] } else { idims };
                    return gather(&dims, &cols, axis, &idims, &idx).map_err(bad);
                }
                "LabelEncoder" => return self.label_encoder(n),
                "Imputer" => return self.imputer(n),
                "Scaler" => return self.scaler(n),
                "OneHotEncoder" => return self.one_hot(n),
                _ => {}
            }
        }
        Err(bad(
            "is not supported in front of the model: optbench reads per-column preprocessing \
             made of Imputer, Scaler, Sub/Div/Mul/Add by constants, SimpleImputer's string \
             imputation (LabelEncoder, Cast, Where), OneHotEncoder, and Concat, \
             FeatureVectorizer, Gather, ArrayFeatureExtractor, Reshape, Flatten, Identity"
                .into(),
        ))
    }

    fn cast(&mut self, n: &NodeProto) -> Result<Sym> {
        let to = attr_int(n, "to").unwrap_or(0);
        let float = to == DataType::Float as i64 || to == DataType::Double as i64;
        let flag = [DataType::Bool, DataType::Int64, DataType::Int32]
            .iter()
            .any(|d| *d as i64 == to);
        let s = self.arg(n, 0)?;
        let ok = match &s {
            Sym::Cols { cols, .. } => cols.iter().all(|c| match c {
                Col::Num { .. } | Col::Hot { .. } => float,
                Col::IsKey { .. } => flag || float,
                Col::Text { .. } => to == DataType::String as i64,
            }),
            Sym::Ints { .. } => flag,
            Sym::Floats { .. } => float,
            Sym::Strings { .. } => to == DataType::String as i64,
        };
        if !ok {
            return Err(Error::onnx(
                describe(n),
                format!(
                    "casts to {}, which would change the values on the way to the model",
                    DataType::try_from(to as i32).map_or("an unknown type", |d| d.as_str_name())
                ),
            ));
        }
        Ok(s)
    }

    /// `Where(is_missing, fill, text)`: a `SimpleImputer` on strings.
    fn impute_text(&mut self, n: &NodeProto) -> Result<Sym> {
        let what = describe(n);
        let (dims, cond) = self.cols(n, 0)?;
        let fill = match self.arg(n, 1)? {
            Sym::Strings { v } if v.len() == 1 => v[0].clone(),
            _ => {
                return Err(Error::onnx(
                    what,
                    "is read only as a string imputation: Where(text is missing, one constant text, text)",
                ))
            }
        };
        let (ydims, y) = self.cols(n, 2)?;
        if ydims != dims || y.len() != cond.len() {
            return Err(Error::onnx(what, "its condition and text differ in shape"));
        }
        let cols = cond
            .iter()
            .zip(&y)
            .map(|(c, t)| match (c, t) {
                (
                    Col::IsKey { input, .. },
                    Col::Text {
                        input: i2,
                        fill: None,
                    },
                ) if input == i2 => Ok(Col::Text {
                    input: *input,
                    fill: Some(fill.clone()),
                }),
                _ => Err(Error::onnx(
                    &what,
                    "is read only as a string imputation: Where(text is missing, fill, the same text not yet imputed)",
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sym::Cols { dims, cols })
    }

    fn label_encoder(&mut self, n: &NodeProto) -> Result<Sym> {
        let what = describe(n);
        let a = Attrs {
            node: n,
            what: &what,
        };
        for t in ["keys_tensor", "values_tensor", "default_tensor"] {
            if attr(n, t).is_some() {
                return Err(a.err(format!(
                    "`{t}` is not supported; optbench reads the opset-2 attributes"
                )));
            }
        }
        match self.arg(n, 0)? {
            // skl2onnx writes a constant text this way: computed here.
            Sym::Ints { v, .. } => {
                let keys = a.ints("keys_int64s")?;
                let values = a.strings("values_strings")?;
                if keys.len() != values.len() || keys.is_empty() {
                    return Err(a.err("maps integers, but not to texts"));
                }
                let default = a.string("default_string", "_Unused")?;
                let v = v
                    .iter()
                    .map(|k| {
                        keys.iter()
                            .position(|x| x == k)
                            .map_or_else(|| default.clone(), |p| values[p].clone())
                    })
                    .collect();
                Ok(Sym::Strings { v })
            }
            Sym::Cols { dims, cols } => {
                let keys = a.strings("keys_strings")?;
                let values = a.ints("values_int64s")?;
                let default = a.int("default_int64", -1)?;
                let flag = match (&keys[..], values) {
                    ([k], [v]) if *v != 0 && default == 0 => Some(k.clone()),
                    _ => None,
                };
                let Some(key) = flag else {
                    return Err(a.err(format!(
                        "maps {} categories to numbers (an OrdinalEncoder or a label \
                         encoding); optbench's pipeline encodes categories one-hot only",
                        keys.len()
                    )));
                };
                if !is_missing(&key) {
                    return Err(a.err(format!(
                        "tests the texts for `{key}`; optbench imputes missing cells only \
                         (empty, NA, null, …), so a SimpleImputer's missing_values must be \"\""
                    )));
                }
                let cols = cols
                    .into_iter()
                    .map(|c| match c {
                        Col::Text { input, fill: None } => Ok(Col::IsKey {
                            input,
                            key: key.clone(),
                        }),
                        _ => Err(a.err("tests something other than a column's raw text")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Sym::Cols { dims, cols })
            }
            _ => Err(a.err("its input is neither texts nor constant integers")),
        }
    }

    fn imputer(&mut self, n: &NodeProto) -> Result<Sym> {
        let what = describe(n);
        let a = Attrs {
            node: n,
            what: &what,
        };
        let (dims, mut cols) = self.cols(n, 0)?;
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
        let v: Vec<f64> = a
            .floats("imputed_value_floats")?
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        let fills = broadcast(v, cols.len()).ok_or_else(|| {
            a.err(format!(
                "`imputed_value_floats` does not fit its {} columns",
                cols.len()
            ))
        })?;
        for (c, f) in cols.iter_mut().zip(fills) {
            match c {
                Col::Num {
                    fill,
                    center,
                    inv_scale,
                    ..
                } if fill.is_nan() && *center == 0.0 && *inv_scale == 1.0 => {
                    if !f.is_finite() {
                        return Err(a.err("imputes a value that is not finite"));
                    }
                    *fill = f;
                }
                _ => {
                    return Err(a.err(
                        "imputes something other than a raw numeric column (imputed twice, \
                         scaled first, or text)",
                    ))
                }
            }
        }
        Ok(Sym::Cols { dims, cols })
    }

    fn scaler(&mut self, n: &NodeProto) -> Result<Sym> {
        let what = describe(n);
        let a = Attrs {
            node: n,
            what: &what,
        };
        let (dims, mut cols) = self.cols(n, 0)?;
        let k = cols.len();
        let get = |name: &str| -> Result<Vec<f64>> {
            let v = a.floats(name)?.iter().map(|&x| f64::from(x)).collect();
            broadcast(v, k).ok_or_else(|| a.err(format!("`{name}` does not fit its {k} columns")))
        };
        let (offset, scale) = (get("offset")?, get("scale")?);
        for ((c, o), s) in cols.iter_mut().zip(offset).zip(scale) {
            affine(c, -o, s).map_err(|m| a.err(m))?;
        }
        Ok(Sym::Cols { dims, cols })
    }

    fn arith(&mut self, n: &NodeProto) -> Result<Sym> {
        let what = describe(n);
        let (dims, mut cols) = self.cols(n, 0)?;
        let c = self.per_col(n, 1, cols.len())?;
        for (col, v) in cols.iter_mut().zip(c) {
            let (shift, mul) = match n.op_type() {
                "Sub" => (-v, 1.0),
                "Add" => (v, 1.0),
                "Mul" => (0.0, v),
                _ => (0.0, 1.0 / v),
            };
            affine(col, shift, mul).map_err(|m| Error::onnx(&what, m))?;
        }
        Ok(Sym::Cols { dims, cols })
    }

    fn one_hot(&mut self, n: &NodeProto) -> Result<Sym> {
        let what = describe(n);
        let a = Attrs {
            node: n,
            what: &what,
        };
        if !a.ints("cats_int64s")?.is_empty() {
            return Err(a.err(
                "one-hot encodes integer categories; optbench imports text categories (cats_strings)",
            ));
        }
        let cats = a.strings("cats_strings")?;
        if cats.is_empty() {
            return Err(a.err("has no categories"));
        }
        let mut sorted = cats.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != cats.len() {
            return Err(a.err("names a category twice"));
        }
        if a.int("zeros", 1)? == 0 {
            let note = format!(
                "{what} has zeros = 0 (scikit-learn's handle_unknown=\"error\"): onnxruntime \
                 refuses a category it was not trained on; optbench's pipeline ignores it \
                 (sets none of the column's outputs)"
            );
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
        }
        let (mut dims, cols) = self.cols(n, 0)?;
        let mut out = Vec::with_capacity(cols.len() * cats.len());
        for c in cols {
            let Col::Text { input, fill } = c else {
                return Err(a.err("encodes something other than a text column"));
            };
            out.extend(cats.iter().map(|cat| Col::Hot {
                input,
                fill: fill.clone(),
                category: cat.clone(),
            }));
        }
        dims.push(cats.len());
        Ok(Sym::Cols { dims, cols: out })
    }

    /// The steps, one per graph input, and where each model feature lands.
    fn build(self, features: &[Col], what: &str) -> Result<Columns> {
        let mut steps = Vec::with_capacity(self.inputs.len());
        let mut position = vec![usize::MAX; features.len()];
        let mut at = 0;
        let mut scale = false;
        for (k, &(name, text)) in self.inputs.iter().enumerate() {
            let uses: Vec<(usize, &Col)> = features
                .iter()
                .enumerate()
                .filter(|(_, c)| col_input(c) == k)
                .collect();
            let input = format!("input `{name}`");
            if uses.is_empty() {
                return Err(Error::onnx(
                    input,
                    "is not used by the model (a dropped column); optbench's package reads \
                     every column it has, so the file should not list it",
                ));
            }
            if !text {
                let [(
                    j,
                    Col::Num {
                        fill,
                        center,
                        inv_scale,
                        ..
                    },
                )] = uses[..]
                else {
                    return Err(Error::onnx(
                        input,
                        format!(
                            "reaches the model as {} features; optbench's pipeline makes one \
                             feature of a numeric column",
                            uses.len()
                        ),
                    ));
                };
                scale |= *center != 0.0 || *inv_scale != 1.0;
                position[j] = at;
                steps.push(Step::Numeric {
                    name: name.to_string(),
                    fill: *fill,
                    center: *center,
                    inv_scale: *inv_scale,
                });
                at += 1;
                continue;
            }
            let mut fills = Vec::new();
            let mut cats: Vec<(&str, usize)> = Vec::new();
            for &(j, c) in &uses {
                let Col::Hot { fill, category, .. } = c else {
                    return Err(Error::onnx(
                        &input,
                        format!(
                            "reaches {what} as something other than one-hot columns (its \
                             text, or a missing-value test)"
                        ),
                    ));
                };
                if !fills.contains(&fill) {
                    fills.push(fill);
                }
                cats.push((category.as_str(), j));
            }
            if fills.len() > 1 {
                return Err(Error::onnx(
                    input,
                    "is imputed two ways on the way to the model",
                ));
            }
            cats.sort();
            if cats.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(Error::onnx(
                    input,
                    "reaches the model with the same category twice",
                ));
            }
            for (r, &(_, j)) in cats.iter().enumerate() {
                position[j] = at + r;
            }
            at += cats.len();
            steps.push(Step::OneHot {
                name: name.to_string(),
                // Not imputed: onnxruntime sees a missing cell as "", which
                // sets the output of a category "" if the file has one.
                fill: fills[0].clone().unwrap_or_default(),
                categories: cats.iter().map(|c| c.0.to_string()).collect(),
                folded: Vec::new(),
            });
        }
        let pipeline = FittedPipeline {
            // Descriptive only: the statistics come from the file.
            config: PipelineConfig {
                numeric_impute: NumericImpute::Constant,
                scale,
                categorical_impute: CategoricalImpute::Constant,
                ..PipelineConfig::default()
            },
            steps,
        };
        pipeline
            .check()
            .map_err(|m| Error::onnx("preprocessing", m))?;
        Ok(Columns {
            pipeline,
            position,
            inputs: self.inputs.iter().map(|i| i.0.to_string()).collect(),
            notes: self.notes,
        })
    }
}
