//! `class_weight = "balanced"` against scikit-learn: the fixture
//! `tests/fixtures/class_weight_reference.json` holds imbalanced data and
//! scikit-learn's fits on it (`scripts/class_weight_reference.py`, which
//! `.ci/run` re-verifies).

use super::boost::{self, one_hot, BoostParams};
use super::logistic::{fit_to, Targets};
use super::{forest, CandidateSpec, ClassWeight, TrainData};
use crate::model::Model;
use serde_json::Value;

struct Case {
    x: Vec<f32>,
    y: Vec<u32>,
    n_features: usize,
    n_classes: usize,
    x_test: Vec<f32>,
    theirs: Value,
}

impl Case {
    fn train(&self) -> TrainData<'_> {
        TrainData {
            x: &self.x,
            n_features: self.n_features,
            y: &self.y,
            n_classes: self.n_classes,
        }
    }

    fn balanced(&self) -> Vec<f64> {
        ClassWeight::Balanced
            .per_class(&self.y, self.n_classes)
            .expect("balanced weights")
    }
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("expected numbers, found {other}"),
    }
}

fn case(name: &str) -> Case {
    let all: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/class_weight_reference.json"
    ))
    .expect("the fixture parses");
    let theirs = all[name].clone();
    let data = match theirs.get("same_data_as").and_then(Value::as_str) {
        Some(other) => &all[other],
        None => &all[name],
    };
    let to_f32 = |v: &Value| floats(v).into_iter().map(|x| x as f32).collect::<Vec<_>>();
    Case {
        x: to_f32(&data["x"]),
        y: floats(&data["y"]).into_iter().map(|c| c as u32).collect(),
        n_features: data["n_features"].as_u64().expect("n_features") as usize,
        n_classes: data["n_classes"].as_u64().expect("n_classes") as usize,
        x_test: data.get("x_test").map(to_f32).unwrap_or_default(),
        theirs,
    }
}

fn worst(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// scikit-learn's `compute_class_weight("balanced")`: n / (k × n_c).
#[test]
fn balanced_weights_are_scikit_learns() {
    let c = case("logistic_multiclass");
    let counts = floats(&c.theirs["class_counts"]);
    let n: f64 = counts.iter().sum();
    let expected: Vec<f64> = counts.iter().map(|&n_c| n / (3.0 * n_c)).collect();
    assert_eq!(c.balanced(), expected);
    // Every class then carries n / k of the total weight.
    for (w, n_c) in c.balanced().iter().zip(&counts) {
        assert!((w * n_c - n / 3.0).abs() < 1e-9);
    }
    assert_eq!(ClassWeight::None.per_class(&c.y, 3), None);
}

/// Fitted to a tight tolerance, the balanced logistic regression's
/// coefficients are scikit-learn's `LogisticRegression(class_weight=
/// "balanced")`'s, binary and multinomial; unweighted ones are not.
#[test]
fn balanced_logistic_regression_is_scikit_learns() {
    for name in ["logistic_binary", "logistic_multiclass"] {
        let c = case(name);
        let td = c.train();
        let fit = |cw: Option<&[f64]>| {
            let Model::Linear(m) = fit_to(&td, Targets::Labels(td.y), 1.0, 10_000, 1e-10, cw)
                .expect("the fit converges")
            else {
                unreachable!("logistic regression is linear")
            };
            m
        };
        let ours = fit(Some(&c.balanced()));
        let weights: Vec<f64> = ours.weights.iter().map(|&w| f64::from(w)).collect();
        let coef = floats(&c.theirs["coef"]);
        let gap = worst(&weights, &coef);
        assert!(gap < 1e-4, "{name}: coefficients differ by {gap}");
        let centred = |b: Vec<f64>| -> Vec<f64> {
            let mean = b.iter().sum::<f64>() / b.len() as f64;
            b.iter().map(|v| v - mean).collect()
        };
        let mut bias: Vec<f64> = ours.bias.iter().map(|&b| f64::from(b)).collect();
        let mut intercept = floats(&c.theirs["intercept"]);
        if c.n_classes > 2 {
            // Softmax biases are unpenalised, fixed up to a shared shift.
            bias = centred(bias);
            intercept = centred(intercept);
        }
        let gap = worst(&bias, &intercept);
        assert!(gap < 1e-4, "{name}: intercepts differ by {gap}");

        let plain = fit(None);
        let plain: Vec<f64> = plain.weights.iter().map(|&w| f64::from(w)).collect();
        assert!(
            worst(&plain, &coef) > 1e-2,
            "{name}: weighting changes the fit"
        );
    }
}

/// With every value its own bin, the balanced tree is scikit-learn's
/// `DecisionTreeClassifier(class_weight="balanced")`: the same
/// probabilities on every test row. (scikit-learn's tree has 29 nodes to
/// this one's 25: it also splits two nodes holding class 0 only, whose
/// fractional weights leave a rounded Gini impurity (4e-15, 8e-15) above
/// its `EPSILON`; both children predict what the node would.)
#[test]
fn balanced_tree_is_scikit_learns() {
    let c = case("tree");
    let model = forest::fit_tree(&c.train(), Some(4), 5, Some(&c.balanced()), 0);
    let Model::Trees(t) = &model else {
        unreachable!("a tree")
    };
    let theirs = c.theirs["node_count"].as_u64().expect("node_count");
    assert_eq!((t.nodes.len() as u64, theirs), (25, 29));
    let gap = proba_gap(&model, &c);
    assert!(gap < 1e-6, "probabilities differ by {gap}");
}

/// The largest difference between `model`'s probabilities on the case's
/// test rows and scikit-learn's.
fn proba_gap(model: &Model, c: &Case) -> f64 {
    let ours: Vec<f64> = model
        .compile()
        .unwrap()
        .predict_proba_batch(&c.x_test)
        .iter()
        .map(|&p| f64::from(p))
        .collect();
    worst(&ours, &floats(&c.theirs["proba"]))
}

/// 20 rounds of depth 3, every other setting the config's default (as the
/// fixture's scikit-learn model is set).
fn boost_params() -> BoostParams {
    CandidateSpec::gradient_boosting(20, 3)
        .boost_params()
        .expect("a boosting spec")
}

/// The balanced boosting is scikit-learn's
/// `HistGradientBoostingClassifier(class_weight="balanced")` with the same
/// settings: the same probabilities on every test row, up to its float32
/// gradients (7e-8 apart when written).
#[test]
fn balanced_boosting_is_scikit_learns() {
    let c = case("boosting");
    let td = c.train();
    let model = boost::fit(
        &td,
        &one_hot(td.y, 2),
        &boost_params(),
        Some(&c.balanced()),
        0,
    )
    .unwrap();
    let gap = proba_gap(&model, &c);
    assert!(gap < 1e-6, "probabilities differ by {gap}");
}

/// Weights of 1 change nothing, bit for bit: the weighted paths of the
/// tree, the forest and the boosting reduce to the unweighted ones.
#[test]
fn unit_class_weights_change_nothing() {
    let c = case("tree");
    let td = c.train();
    let ones = [1.0, 1.0];
    assert_eq!(
        forest::fit_tree(&td, Some(6), 1, Some(&ones), 3),
        forest::fit_tree(&td, Some(6), 1, None, 3)
    );
    assert_eq!(
        forest::fit_forest(&td, 5, None, 1, None, Some(&ones), 3).unwrap(),
        forest::fit_forest(&td, 5, None, 1, None, None, 3).unwrap()
    );
    let targets = one_hot(td.y, 2);
    assert_eq!(
        boost::fit(&td, &targets, &boost_params(), Some(&ones), 3).unwrap(),
        boost::fit(&td, &targets, &boost_params(), None, 3).unwrap()
    );
    let svm = super::SvmParams {
        probability: true,
        ..CandidateSpec::svm(super::SvmKernel::Rbf)
            .svm_params()
            .expect("an SVM spec")
    };
    assert_eq!(
        super::svm::fit(&td, &svm, Some(&ones), 3).unwrap(),
        super::svm::fit(&td, &svm, None, 3).unwrap()
    );
    let c = case("linear_svc_multiclass");
    let td = c.train();
    let ones = [1.0; 3];
    let linear = |cw| super::linear_svm::fit(&td, 1.0, super::SvmLoss::Hinge, 1e-4, 1000, cw, 3);
    assert_eq!(linear(Some(&ones)).unwrap(), linear(None).unwrap());
}

/// The candidate `spec` trained with balanced weights and without.
fn both(spec: impl Fn(ClassWeight) -> CandidateSpec, c: &Case) -> (Model, Model) {
    let td = c.train();
    let fit = |w| super::train(&spec(w), &td, 0).expect("trains").model;
    (fit(ClassWeight::Balanced), fit(ClassWeight::None))
}

/// Fitted to the same tolerance, the balanced SVM is scikit-learn's
/// `SVC(class_weight="balanced")`: the same support-vector counts and the
/// same one-vs-one decision values, binary and with three classes; the
/// unweighted SVM's are far from them.
#[test]
fn balanced_svm_is_scikit_learns() {
    for name in ["svc_binary", "svc_multiclass"] {
        let c = case(name);
        let spec = |class_weight| CandidateSpec::Svm {
            kernel: super::SvmKernel::Rbf,
            c: 1.0,
            gamma: Default::default(),
            degree: 3,
            coef0: 0.0,
            probability: false,
            tol: 1e-6,
            class_weight,
        };
        let (ours, plain) = both(spec, &c);
        let want = floats(&c.theirs["decision"]);
        let decisions = |m: &Model| -> Vec<f64> {
            let Model::Svm(svm) = m else {
                unreachable!("an svm candidate trains an SVM")
            };
            let (mut kv, mut dec) = (vec![0.0; svm.n_sv()], vec![0.0; svm.n_pairs()]);
            // scikit-learn's binary decision is positive for its second
            // class; libsvm's pair decision for the first.
            let sign = if c.n_classes == 2 { -1.0 } else { 1.0 };
            c.x.chunks_exact(c.n_features)
                .flat_map(|row| {
                    svm.decisions(row, &mut kv, &mut dec);
                    dec.iter().map(|&v| sign * f64::from(v)).collect::<Vec<_>>()
                })
                .collect()
        };
        let Model::Svm(svm) = &ours else {
            unreachable!()
        };
        let n_support: Vec<u32> = floats(&c.theirs["n_support"])
            .iter()
            .map(|&v| v as u32)
            .collect();
        assert_eq!(
            svm.per_class, n_support,
            "{name}: support vectors per class"
        );
        let gap = worst(&decisions(&ours), &want);
        assert!(gap < 1e-4, "{name}: decisions differ by {gap}");
        let gap = worst(&decisions(&plain), &want);
        assert!(gap > 1e-1, "{name}: weighting changes the fit ({gap})");
    }
}

/// Fitted to a tight tolerance, the balanced linear SVM is scikit-learn's
/// `LinearSVC(class_weight="balanced")`: its coefficients and intercepts,
/// binary and one class against the rest; the unweighted one's are not.
#[test]
fn balanced_linear_svm_is_scikit_learns() {
    for name in ["linear_svc_binary", "linear_svc_multiclass"] {
        let c = case(name);
        let spec = |class_weight| CandidateSpec::LinearSvm {
            loss: super::SvmLoss::SquaredHinge,
            c: 1.0,
            tol: 1e-10,
            max_iterations: 1_000_000,
            class_weight,
        };
        let (ours, plain) = both(spec, &c);
        let coefs = |m: &Model| -> (Vec<f64>, Vec<f64>) {
            let Model::Linear(l) = m else {
                unreachable!("a linear SVM is linear")
            };
            let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect();
            (wide(&l.weights), wide(&l.bias))
        };
        let (weights, bias) = coefs(&ours);
        let gap = worst(&weights, &floats(&c.theirs["coef"]));
        assert!(gap < 1e-4, "{name}: coefficients differ by {gap}");
        let gap = worst(&bias, &floats(&c.theirs["intercept"]));
        assert!(gap < 1e-4, "{name}: intercepts differ by {gap}");
        let gap = worst(&coefs(&plain).0, &floats(&c.theirs["coef"]));
        assert!(gap > 1e-2, "{name}: weighting changes the fit ({gap})");
    }
}
