//! The graph as the importer reads it: the operators it knows (the others
//! are refused by name, [`Graph::new`]), the node that writes each tensor,
//! the initializers, and typed access to a node's attributes with errors
//! that name the node ([`Attrs`]).

use crate::error::{Error, Result};
use crate::onnx::graph::ML_DOMAIN;
use crate::onnx::proto::{attribute_proto::AttributeType, tensor_proto::DataType};
use crate::onnx::proto::{AttributeProto, GraphProto, NodeProto, TensorProto};
use std::collections::HashMap;

pub(super) const MODEL_OPS: [&str; 4] = [
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "LinearClassifier",
    "SVMClassifier",
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
const STD_OPS: [&str; 14] = [
    "Identity", "Cast", "ArgMax", "Mul", "Add", "Sub", "Div", "Softmax", "Sigmoid", "Concat",
    "Gather", "Where", "Reshape", "Flatten",
];

pub(super) fn is_ml(node: &NodeProto) -> bool {
    node.domain() == ML_DOMAIN
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

impl<'a> Graph<'a> {
    pub(super) fn new(g: &'a GraphProto) -> Result<Graph<'a>> {
        let mut unsupported: Vec<String> = Vec::new();
        // An SVM's probabilities come from its scores through a few more
        // standard operators (`svm::SVM_TAIL_OPS`); `Graph::svm_output`
        // checks where they are.
        let svm = g
            .node
            .iter()
            .any(|n| is_ml(n) && n.op_type() == "SVMClassifier");
        for n in &g.node {
            let op = n.op_type();
            let ok = (is_ml(n) && (MODEL_OPS.contains(&op) || ML_OPS.contains(&op)))
                || (is_std(n) && STD_OPS.contains(&op))
                || (svm && is_std(n) && super::svm::SVM_TAIL_OPS.contains(&op));
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
                     TreeEnsembleRegressor, LinearClassifier or SVMClassifier on a float feature input \
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

    /// The values of a float constant (initializer), `None` when `name` is
    /// computed.
    pub(super) fn constant(&self, name: &str) -> Result<Option<Vec<f32>>> {
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

pub(super) fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}

pub(super) fn attr_int(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).and_then(|a| a.i)
}

pub(super) fn attr_str(n: &NodeProto, name: &str) -> Option<String> {
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
    pub(super) fn classes(&self, ints: &str) -> Result<Vec<String>> {
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
