//! Export → import round trips (no ONNX runtime needed: the runtime checks
//! are `scripts/onnx_check.py`, run by CI), and bad input. Files the
//! importer reads in front of or around a model have their own files:
//! `missing.rs` (splits sending missing values left), `numeric.rs` (an
//! Imputer and a Scaler on one float input), `columns.rs` (one input per
//! column).

mod columns;
mod missing;
mod numeric;

use super::proto::ModelProto;
use super::*;
use crate::model::{LeafPrecision, Model, QuantLinear, QuantTrees};
use crate::train::testdata::Problem;
use crate::train::{train, CandidateSpec};
use prost::Message;

/// Probabilities may differ by float rounding; classes only where the two
/// highest probabilities are that close.
const PROBA_TOL: f32 = 1e-5;

/// One model of each family trained on `problem`, and its quantized forms.
pub(crate) fn family_models(p: &Problem) -> Vec<(String, Model)> {
    let specs = [
        (
            "logistic_regression",
            CandidateSpec::LogisticRegression {
                alpha: 1.0,
                max_iterations: 100,
                class_weight: Default::default(),
            },
        ),
        (
            "decision_tree",
            CandidateSpec::DecisionTree {
                max_depth: Some(6),
                min_samples_leaf: 1,
                class_weight: Default::default(),
            },
        ),
        (
            "random_forest",
            CandidateSpec::RandomForest {
                n_trees: 10,
                max_depth: Some(6),
                min_samples_leaf: 1,
                max_features: None,
                class_weight: Default::default(),
            },
        ),
        (
            "gradient_boosting",
            CandidateSpec::GradientBoosting {
                n_trees: 20,
                learning_rate: 0.1,
                max_depth: 3,
                min_samples_leaf: 1,
                subsample: 1.0,
                l2_regularization: 0.0,
                max_bins: 255,
                class_weight: Default::default(),
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, spec) in specs {
        let model = train(&spec, &p.train(), 7).unwrap().model;
        match &model {
            Model::Linear(m) => {
                out.push((
                    format!("{name}_int8"),
                    Model::QuantLinear(QuantLinear::from_linear(m)),
                ));
            }
            Model::Trees(t) => {
                for (tag, precision) in
                    [("bins", LeafPrecision::F32), ("int8", LeafPrecision::Int8)]
                {
                    let q = QuantTrees::from_ensemble(t, precision).unwrap();
                    out.push((format!("{name}_{tag}"), Model::QuantTrees(q)));
                }
            }
            _ => unreachable!("trainers return float models"),
        }
        out.push((name.to_string(), model));
    }
    out
}

/// `a` and `b` predict alike on `rows`: probabilities within `PROBA_TOL`,
/// classes equal unless the top two probabilities are within it.
fn assert_agree(name: &str, a: &Model, b: &Model, rows: &[f32]) {
    let (pa, pb) = (
        a.compile().unwrap().predict_proba_batch(rows),
        b.compile().unwrap().predict_proba_batch(rows),
    );
    let (mut ca, mut cb) = (Vec::new(), Vec::new());
    a.compile().unwrap().predict_batch(rows, &mut ca);
    b.compile().unwrap().predict_batch(rows, &mut cb);
    let k = a.n_classes();
    assert_eq!(k, b.n_classes(), "{name}");
    for (r, (x, y)) in pa.chunks_exact(k).zip(pb.chunks_exact(k)).enumerate() {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= PROBA_TOL, "{name} row {r}: {x:?} vs {y:?}");
        }
        if ca[r] != cb[r] {
            let mut s = x.to_vec();
            s.sort_by(|u, v| v.total_cmp(u));
            assert!(
                s[0] - s[1] <= PROBA_TOL,
                "{name} row {r}: class {} vs {}",
                ca[r],
                cb[r]
            );
        }
    }
}

#[test]
fn export_then_import_predicts_what_the_model_predicts() {
    for k in [2, 3] {
        let p = Problem::new(400, k, 11);
        for (name, model) in family_models(&p) {
            let onnx = model_to_onnx(&model).unwrap();
            let bytes = encode(&onnx);
            let back = import_onnx(&bytes).unwrap_or_else(|e| panic!("{name}, {k} classes: {e}"));
            assert_eq!(back.input, "features");
            assert_eq!(back.classes.len(), k);
            assert_eq!(back.model.n_features(), model.n_features());
            assert_agree(
                &format!("{name}, {k} classes"),
                &model,
                &back.model,
                &p.x_test,
            );
            // Float trees come back as the same trees (the IR's own form).
            if let (Model::Trees(a), Model::Trees(b)) = (&model, &back.model) {
                assert_eq!(a.nodes, b.nodes, "{name}");
            }
        }
    }
}

#[test]
fn the_file_declares_opsets_inputs_and_outputs() {
    let p = Problem::new(200, 3, 3);
    let (_, model) = family_models(&p).pop().unwrap();
    let m = ModelProto::decode(&encode(&model_to_onnx(&model).unwrap())[..]).unwrap();
    assert_eq!(m.ir_version, Some(IR_VERSION));
    let opsets: Vec<(&str, i64)> = m
        .opset_import
        .iter()
        .map(|o| (o.domain(), o.version()))
        .collect();
    assert_eq!(opsets, [("", OPSET), (ML_DOMAIN, OPSET_ML)]);
    let g = m.graph.unwrap();
    assert_eq!(
        g.input.iter().map(|i| i.name()).collect::<Vec<_>>(),
        ["features"]
    );
    assert_eq!(
        g.output.iter().map(|o| o.name()).collect::<Vec<_>>(),
        ["label", "probabilities"]
    );
}

/// The exported stump x0 <= 0.5 → [1, 0] else [0, 1].
fn stump_onnx() -> ModelProto {
    let mut t = crate::model::TreeEnsemble::new(2, 2);
    let root = t.push_split(0, 0.5);
    let l = t.push_leaf(&[1.0, 0.0]);
    let r = t.push_leaf(&[0.0, 1.0]);
    t.set_children(root, l, r);
    t.roots.push(root);
    model_to_onnx(&Model::Trees(t)).unwrap()
}

fn tree_node(m: &mut ModelProto) -> &mut proto::NodeProto {
    let g = m.graph.as_mut().unwrap();
    g.node
        .iter_mut()
        .find(|n| n.op_type() == "TreeEnsembleClassifier")
        .unwrap()
}

/// A float attribute (the graph builder writes lists of floats only).
fn float_attr(name: &str, v: f32) -> proto::AttributeProto {
    proto::AttributeProto {
        name: Some(name.into()),
        r#type: Some(proto::attribute_proto::AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

#[test]
fn branch_lt_moves_the_threshold_one_step_down() {
    let mut m = stump_onnx();
    let node = tree_node(&mut m);
    let modes = node
        .attribute
        .iter_mut()
        .find(|a| a.name() == "nodes_modes")
        .unwrap();
    modes.strings[0] = b"BRANCH_LT".to_vec();
    let back = import_onnx(&encode(&m)).unwrap();
    let Model::Trees(t) = &back.model else {
        panic!("trees expected")
    };
    assert_eq!(t.nodes[0].threshold, 0.5f32.next_down());
    let c = back.model.compile().unwrap();
    let mut s = c.scratch();
    assert_eq!(c.predict(&[0.5, 0.0], &mut s), 1, "0.5 < 0.5 is false");
    assert_eq!(c.predict(&[0.4999, 0.0], &mut s), 0);
}

#[test]
fn unsupported_operators_are_named() {
    let front = |op: &str| {
        let mut m = stump_onnx();
        let g = m.graph.as_mut().unwrap();
        g.node.insert(
            0,
            proto::NodeProto {
                op_type: Some(op.into()),
                domain: Some(ML_DOMAIN.into()),
                input: vec!["raw".into()],
                output: vec!["features".into()],
                ..Default::default()
            },
        );
        import_onnx(&encode(&m)).unwrap_err().to_string()
    };
    let e = front("Binarizer");
    assert!(
        e.contains("unsupported operators: Binarizer (ai.onnx.ml)"),
        "{e}"
    );
    // Read in a per-column graph, not in front of one float input.
    let e = front("OneHotEncoder");
    assert!(
        e.contains("(OneHotEncoder); optbench imports models fed by the feature input"),
        "{e}"
    );
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let bytes = encode(&stump_onnx());
    assert!(import_onnx(b"not an onnx file").is_err());
    for n in 0..bytes.len() {
        let _ = import_onnx(&bytes[..n]);
    }
    for i in 0..bytes.len() {
        for v in [0u8, 1, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(m) = import_onnx(&b) {
                // A damaged width is a different model, not a crash: serve
                // it rows of its own width.
                let d = m.model.n_features();
                if d <= 4096 {
                    let c = m.model.compile().unwrap();
                    c.predict(&vec![0.1; d], &mut c.scratch());
                }
            }
        }
    }
}

#[test]
fn written_files_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    write_onnx(&path, &stump_onnx()).unwrap();
    let back = read_onnx(&path).unwrap();
    assert_eq!(back.model.n_classes(), 2);
    let e = read_onnx(&dir.path().join("missing.onnx")).unwrap_err();
    assert!(e.to_string().contains("missing.onnx"), "{e}");
}

/// An SVM is written as one `SVMClassifier` holding the model's own
/// layout (coefficients and intercepts as stored: the operator's and the
/// IR's sign conventions agree), with Platt's parameters only where the
/// operator's coupling is used (3+ classes). Whether the graph computes the
/// model's classes and probabilities is checked in onnxruntime
/// (`examples/onnx_cases.rs`, `scripts/onnx_check.py`).
#[test]
fn an_svm_exports_as_one_svm_classifier_in_its_own_layout() {
    use crate::train::SvmKernel;
    for (k, platt) in [(2, false), (2, true), (3, false), (3, true)] {
        let p = Problem::new(120, k, 2);
        let mut spec = CandidateSpec::svm(SvmKernel::Poly);
        if let CandidateSpec::Svm { probability, .. } = &mut spec {
            *probability = platt;
        }
        let model = train(&spec, &p.train(), 0).unwrap().model;
        let Model::Svm(svm) = &model else {
            panic!("not an SVM")
        };
        let m = ModelProto::decode(&encode(&model_to_onnx(&model).unwrap())[..]).unwrap();
        let g = m.graph.unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type()).collect();
        let node = g
            .node
            .iter()
            .find(|n| n.op_type() == "SVMClassifier")
            .unwrap();
        let attr = |name: &str| node.attribute.iter().find(|a| a.name() == name);
        assert_eq!(attr("coefficients").unwrap().floats, svm.dual_coef);
        assert_eq!(attr("rho").unwrap().floats, svm.intercepts);
        assert_eq!(attr("support_vectors").unwrap().floats, svm.vectors);
        let per_class: Vec<i64> = svm.per_class.iter().map(|&n| n.into()).collect();
        assert_eq!(attr("vectors_per_class").unwrap().ints, per_class);
        assert_eq!(attr("kernel_type").unwrap().s(), b"POLY");
        assert_eq!(attr("kernel_params").unwrap().floats[2], 3.0);
        let coupled = platt && k > 2;
        assert_eq!(attr("prob_a").is_some(), coupled, "k {k}, Platt {platt}");
        // The operator's own label only where it also couples; otherwise
        // the vote in standard operators.
        assert_eq!(node.output[0] == "label", coupled, "{ops:?}");
        assert_eq!(ops.contains(&"ArgMax"), !coupled, "{ops:?}");
        assert_eq!(ops.contains(&"Sigmoid"), platt && k == 2, "{ops:?}");
    }
}

/// An inconsistent SVM is an export error, not a panic or a wrong graph.
#[test]
fn an_inconsistent_svm_is_refused() {
    let p = Problem::new(120, 3, 1);
    let spec = CandidateSpec::svm(crate::train::SvmKernel::Rbf);
    let Model::Svm(mut svm) = train(&spec, &p.train(), 0).unwrap().model else {
        panic!("not an SVM")
    };
    svm.intercepts.pop();
    let e = model_to_onnx(&Model::Svm(svm)).unwrap_err().to_string();
    assert!(
        e.contains("inconsistent model") && e.contains("intercepts"),
        "{e}"
    );
}

/// An SVM exported by optbench imports back as the same model, every
/// number as it was (the operator holds the IR's layout; two-class Platt
/// parameters come back from the `Mul` and `Add` before the `Sigmoid`).
#[test]
fn an_exported_svm_imports_back_as_the_same_model() {
    use crate::train::SvmKernel;
    for kernel in [
        SvmKernel::Rbf,
        SvmKernel::Linear,
        SvmKernel::Poly,
        SvmKernel::Sigmoid,
    ] {
        for (k, platt) in [(2, false), (2, true), (3, false), (3, true)] {
            let p = Problem::new(120, k, 5);
            let mut spec = CandidateSpec::svm(kernel);
            if let CandidateSpec::Svm { probability, .. } = &mut spec {
                *probability = platt;
            }
            let model = train(&spec, &p.train(), 0).unwrap().model;
            let back = import_onnx(&encode(&model_to_onnx(&model).unwrap())).unwrap();
            let what = format!("{kernel:?}, {k} classes, Platt {platt}");
            assert_eq!(back.model, model, "{what}");
            assert!(back.notes.is_empty(), "{what}: {:?}", back.notes);
            assert_eq!(back.classes.len(), k, "{what}");
        }
    }
}

/// An `SVMClassifier` the IR cannot hold is an error naming what is wrong.
#[test]
fn an_svm_classifier_the_ir_cannot_hold_is_refused() {
    let p = Problem::new(80, 3, 4);
    let model = train(
        &CandidateSpec::svm(crate::train::SvmKernel::Rbf),
        &p.train(),
        0,
    )
    .unwrap()
    .model;
    let onnx = model_to_onnx(&model).unwrap();
    let edit = |name: &str, f: &dyn Fn(&mut proto::AttributeProto)| {
        let mut m = onnx.clone();
        let g = m.graph.as_mut().unwrap();
        let node = g
            .node
            .iter_mut()
            .find(|n| n.op_type() == "SVMClassifier")
            .unwrap();
        let a = node
            .attribute
            .iter_mut()
            .find(|a| a.name() == name)
            .unwrap();
        f(a);
        import_onnx(&encode(&m)).unwrap_err().to_string()
    };
    let e = edit("vectors_per_class", &|a| a.ints.clear());
    assert!(e.contains("no support vectors"), "{e}");
    let e = edit("rho", &|a| {
        a.floats.pop();
    });
    assert!(e.contains("rho"), "{e}");
    let e = edit("kernel_type", &|a| a.s = Some(b"CUBIC".to_vec()));
    assert!(e.contains("kernel_type CUBIC"), "{e}");
    // Probabilities that are some other function of the decision values
    // (here: twice them) are refused, not read as the vote shares.
    let mut m = onnx.clone();
    let g = m.graph.as_mut().unwrap();
    let svm = g
        .node
        .iter()
        .position(|n| n.op_type() == "SVMClassifier")
        .unwrap();
    let scores = g.node[svm].output[1].clone();
    g.node.retain(|n| n.op_type() == "SVMClassifier");
    g.initializer.retain(|_| false);
    g.initializer.push(proto::TensorProto {
        name: Some("two".into()),
        data_type: Some(proto::tensor_proto::DataType::Float as i32),
        dims: vec![1],
        float_data: vec![2.0],
        ..Default::default()
    });
    g.node.push(proto::NodeProto {
        op_type: Some("Mul".into()),
        input: vec![scores, "two".into()],
        output: vec!["probabilities".into()],
        ..Default::default()
    });
    let e = import_onnx(&encode(&m)).unwrap_err().to_string();
    assert!(e.contains("does not recognise"), "{e}");
}
