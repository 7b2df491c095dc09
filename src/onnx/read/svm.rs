//! `SVMClassifier` → the IR's [`SvmModel`]. skl2onnx writes scikit-learn's
//! `SVC` in libsvm's layout, which is the IR's: support vectors grouped by
//! class (`vectors_per_class`), `coefficients` the `(k − 1) × n_sv` one-vs-one
//! dual coefficients, `rho` added to each pair's kernel sum (a positive sum
//! votes for the pair's first class), `kernel_params` = `[gamma, coef0,
//! degree]`, and `prob_a`, `prob_b` Platt's sigmoids when the model was
//! fitted with `probability=True`. The operator's label is the pairs' vote,
//! as the IR's class is.
//!
//! What the file computes after the operator is not folded into the model
//! (unlike the other model operators, [`super::link`]): the IR's SVM has one
//! meaning for its probabilities (Platt-coupled, or the vote shares), and
//! the file's `probabilities` output is one of these functions of the
//! operator's scores ([`SvmOutput`]):
//! - the operator's scores as they are: Platt's coupled probabilities when
//!   the operator has `prob_a`, the pair decision values otherwise (for two
//!   classes onnxruntime writes `[−f, f]`);
//! - scikit-learn's one-vs-rest `decision_function` (votes plus scaled
//!   confidences), which skl2onnx builds from the decision values with
//!   standard operators for three classes or more;
//! - the IR's own probabilities in standard operators, as
//!   `onnx::write::model` exports an SVM (the vote shares, or two-class
//!   Platt), so an exported SVM imports back as the same model.
//!
//! The import says in its notes when the file's output is not the IR's
//! probabilities. Two-class Platt probabilities differ too: onnxruntime (as
//! scikit-learn's libsvm) runs the iterative pairwise coupling even for one
//! pair and stops at libsvm's tolerance, while the IR takes the pair's
//! probability as it is (see `onnx::write::model`).

use super::graph::{describe, is_ml, is_std, Attrs, Graph};
use crate::error::{Error, Result};
use crate::model::{Kernel, Model, Platt, SvmModel};
use crate::onnx::proto::NodeProto;
use std::collections::HashSet;

/// Standard operators that compute an SVM's probabilities output from the
/// operator's scores: skl2onnx's one-vs-rest decision function (`Less`,
/// `Abs`, `Sum`, …) and optbench's own export (the vote in `Greater`,
/// `MatMul`; two-class Platt in `Slice`, `Sigmoid`, `Clip`).
pub(super) const SVM_TAIL_OPS: [&str; 16] = [
    "Less", "Neg", "Abs", "Sum", "Add", "Mul", "Div", "Concat", "Cast", "Greater", "MatMul",
    "Slice", "Sigmoid", "Clip", "Sub", "Identity",
];

/// What the file's `probabilities` output is, as a function of the
/// operator's scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum SvmOutput {
    /// The scores through `Identity` / `Cast` only.
    Scores,
    /// Computed from the scores and constants by [`SVM_TAIL_OPS`] (and
    /// `ArrayFeatureExtractor`), as skl2onnx writes scikit-learn's
    /// one-vs-rest decision function (it has `Less` and `Abs`).
    DecisionFunction,
    /// Computed likewise without `Less` or `Abs` but with the vote's
    /// `Greater` or a `Sigmoid`: optbench's own export, whose probabilities
    /// are the IR's; for two classes with Platt's sigmoid, its `A` and `B`
    /// (the one `Mul` and `Add` by constants before the `Sigmoid`), which
    /// the operator then does not hold. Any other function of the scores is
    /// refused.
    OwnExport { platt: Option<(f32, f32)> },
}

impl Graph<'_> {
    /// How the graph's probabilities output comes from `core`'s scores;
    /// an error when it depends on anything else (the label, the input).
    pub(super) fn svm_output(&self, core: &NodeProto) -> Result<SvmOutput> {
        let out = self.probabilities()?;
        let (mut direct, mut ovr_only, mut sigmoid, mut vote) = (true, false, false, false);
        // The constants of `Mul` and `Add` nodes, for two-class Platt.
        let (mut scale, mut shift) = (Vec::new(), Vec::new());
        let mut stack = vec![out];
        let mut seen: HashSet<&str> = HashSet::new();
        while let Some(t) = stack.pop() {
            if !seen.insert(t) || self.constants.contains_key(t) {
                continue;
            }
            let Some(&(n, i)) = self.producer.get(t) else {
                return Err(Error::onnx(
                    format!("tensor `{t}`"),
                    "the probabilities depend on it, but it is not computed from the \
                     SVMClassifier's scores",
                ));
            };
            if std::ptr::eq(n, core) {
                if i != 1 {
                    return Err(Error::onnx(
                        describe(core),
                        "the probabilities must come from its scores output",
                    ));
                }
                continue;
            }
            let passes = is_std(n) && matches!(n.op_type(), "Identity" | "Cast");
            let computes = (is_std(n) && SVM_TAIL_OPS.contains(&n.op_type()))
                || (is_ml(n) && n.op_type() == "ArrayFeatureExtractor");
            if !passes && !computes {
                return Err(Error::onnx(
                    describe(n),
                    "is not supported between the SVMClassifier and the probabilities",
                ));
            }
            direct &= passes;
            ovr_only |= matches!(n.op_type(), "Less" | "Abs");
            sigmoid |= n.op_type() == "Sigmoid";
            vote |= n.op_type() == "Greater";
            if matches!(n.op_type(), "Mul" | "Add") {
                for c in &n.input {
                    if let Some(v) = self.constant(c)? {
                        if n.op_type() == "Mul" {
                            scale.push(v);
                        } else {
                            shift.push(v);
                        }
                    }
                }
            }
            stack.extend(n.input.iter().map(String::as_str).filter(|s| !s.is_empty()));
        }
        Ok(if direct {
            SvmOutput::Scores
        } else if ovr_only {
            SvmOutput::DecisionFunction
        } else if sigmoid {
            match (&scale[..], &shift[..]) {
                ([a], [b]) if a.len() == 1 && b.len() == 1 => SvmOutput::OwnExport {
                    platt: Some((a[0], b[0])),
                },
                _ => {
                    return Err(Error::onnx(
                        describe(core),
                        "a Sigmoid after the SVMClassifier that is not one Platt sigmoid \
                         (one Mul and one Add by constants)",
                    ))
                }
            }
        } else if vote {
            SvmOutput::OwnExport { platt: None }
        } else {
            // Some other function of the decision values: the import would
            // not know what the file's probabilities mean.
            return Err(Error::onnx(
                describe(core),
                "its probabilities output is computed from its scores in a way optbench does \
                 not recognise (neither scikit-learn's one-vs-rest decision function nor \
                 optbench's own vote or Platt sigmoid)",
            ));
        })
    }
}

/// The operator as an [`SvmModel`], its class labels, and what the import
/// notes about the file's probabilities output.
pub(super) fn svm_classifier(
    a: &Attrs<'_>,
    width: Option<usize>,
    output: SvmOutput,
) -> Result<(Model, Vec<String>, Vec<String>)> {
    let classes = a.classes("classlabels_ints")?;
    let k = classes.len();
    let pairs = k * (k - 1) / 2;
    let post = a.string("post_transform", "NONE")?;
    if post != "NONE" {
        return Err(a.err(format!("post_transform {post} is not supported")));
    }
    let per_class = a.ints("vectors_per_class")?;
    if per_class.is_empty() {
        return Err(a.err(
            "has no support vectors (the operator's linear mode, one weight row per class); \
             optbench imports kernel SVMs",
        ));
    }
    if per_class.len() != k || per_class.iter().any(|&n| n < 0 || n > i64::from(u32::MAX)) {
        return Err(a.err(format!(
            "vectors_per_class {per_class:?} does not fit {k} classes"
        )));
    }
    let n_sv: usize = per_class.iter().map(|&n| n as usize).sum();
    let vectors = a.floats("support_vectors")?;
    if n_sv == 0 || vectors.is_empty() || vectors.len() % n_sv != 0 {
        return Err(a.err(format!(
            "{} support vector values do not make {n_sv} vectors",
            vectors.len()
        )));
    }
    let d = vectors.len() / n_sv;
    if width.is_some_and(|w| w != d) {
        return Err(a.err(format!(
            "support vectors of {d} features for {} input features",
            width.unwrap_or(0)
        )));
    }
    let coef = a.floats("coefficients")?;
    let rho = a.floats("rho")?;
    if coef.len() != (k - 1) * n_sv || rho.len() != pairs {
        return Err(a.err(format!(
            "{} coefficients and {} rho for {n_sv} support vectors and {k} classes \
             (expected {} and {pairs})",
            coef.len(),
            rho.len(),
            (k - 1) * n_sv
        )));
    }
    let params = a.floats("kernel_params")?;
    let param = |i: usize| params.get(i).copied().unwrap_or(0.0);
    let kernel_type = a.string("kernel_type", "LINEAR")?;
    let kernel = match kernel_type.as_str() {
        "LINEAR" => Kernel::Linear,
        "RBF" => Kernel::Rbf { gamma: param(0) },
        "POLY" => {
            let degree = param(2);
            if !(degree >= 0.0 && degree.fract() == 0.0 && degree <= i32::MAX as f32) {
                return Err(a.err(format!(
                    "polynomial degree {degree} is not a whole number the IR holds"
                )));
            }
            Kernel::Poly {
                gamma: param(0),
                coef0: param(1),
                degree: degree as u32,
            }
        }
        "SIGMOID" => Kernel::Sigmoid {
            gamma: param(0),
            coef0: param(1),
        },
        other => return Err(a.err(format!("kernel_type {other} is not supported"))),
    };
    if kernel != Kernel::Linear && params.is_empty() {
        return Err(a.err(format!("kernel {kernel_type} without kernel_params")));
    }
    let (prob_a, prob_b) = (a.floats("prob_a")?, a.floats("prob_b")?);
    let platt = match (prob_a.len(), prob_b.len()) {
        (0, 0) => match output {
            SvmOutput::OwnExport {
                platt: Some((pa, pb)),
            } if k == 2 => Some(Platt {
                a: vec![pa],
                b: vec![pb],
            }),
            SvmOutput::OwnExport { platt: Some(_) } => {
                return Err(a.err("Platt's sigmoid in standard operators for more than two classes"))
            }
            _ => None,
        },
        (x, y) if x == pairs && y == pairs => Some(Platt {
            a: prob_a.to_vec(),
            b: prob_b.to_vec(),
        }),
        (x, y) => {
            return Err(a.err(format!(
                "{x} prob_a and {y} prob_b for {pairs} pairs of classes"
            )))
        }
    };
    let mut notes = Vec::new();
    match (output, &platt) {
        (SvmOutput::Scores, Some(_)) if k == 2 => notes.push(
            "the file's probabilities are Platt's, coupled iteratively as libsvm does for \
             any number of classes (to within 5e-3 of the pair's probability for two \
             classes); the imported SVM takes the pair's probability as it is"
                .to_string(),
        ),
        (SvmOutput::Scores, Some(_)) | (SvmOutput::OwnExport { .. }, _) => {}
        (SvmOutput::Scores, None) => notes.push(
            "the file's probabilities output holds the SVM's decision values, not \
             probabilities; the imported SVM's probabilities are the shares of the \
             one-vs-one vote, its class that vote (the file's label)"
                .to_string(),
        ),
        (SvmOutput::DecisionFunction, _) => notes.push(
            "the file's probabilities output holds scikit-learn's one-vs-rest decision \
             function (votes plus scaled confidences), not probabilities; the imported \
             SVM's probabilities are Platt's when the file has them, otherwise the shares \
             of the one-vs-one vote, and its class is that vote (the file's label)"
                .to_string(),
        ),
    }
    let m = SvmModel {
        n_features: d,
        n_classes: k,
        kernel,
        per_class: per_class.iter().map(|&n| n as u32).collect(),
        vectors: vectors.to_vec(),
        dual_coef: coef.to_vec(),
        intercepts: rho.to_vec(),
        platt,
    };
    Ok((Model::Svm(m), classes, notes))
}
