//! From the model operator's scores to the probabilities output: the
//! standard operators in between (`Identity`, `Cast`, `Mul` / `Add` by
//! constants, `Softmax`, the logistic pair, an L1 `Normalizer`), folded
//! into one [`Tail`]: an affine map, then at most one link.

use super::graph::{attr_int, attr_str, describe, is_std, Graph};
use crate::error::{Error, Result};
use crate::onnx::proto::{tensor_proto::DataType, type_proto, NodeProto};

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
pub(super) enum Head {
    None,
    Softmax,
    LogisticPair,
}

/// The stages folded: `head(a ∘ scores + b)`, `a` and `b` of length 1 or
/// the number of score columns.
#[derive(Debug, Clone)]
pub(super) struct Tail {
    pub(super) a: Vec<f32>,
    pub(super) b: Vec<f32>,
    pub(super) head: Head,
    normalize: bool,
}

impl Tail {
    pub(super) fn is_identity(&self) -> bool {
        self.a.iter().all(|&v| v == 1.0) && self.b.iter().all(|&v| v == 0.0)
    }

    pub(super) fn a(&self, j: usize) -> f32 {
        self.a[if self.a.len() == 1 { 0 } else { j }]
    }

    pub(super) fn b(&self, j: usize) -> f32 {
        self.b[if self.b.len() == 1 { 0 } else { j }]
    }

    pub(super) fn check_width(&self, m: usize, what: &str) -> Result<()> {
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
    /// The graph output holding probabilities: `probabilities` or the only
    /// float tensor output.
    pub(super) fn probabilities(&self) -> Result<&'a str> {
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
    pub(super) fn tail(&self, core: &NodeProto) -> Result<Tail> {
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
