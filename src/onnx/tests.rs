//! Export → import round trips (no ONNX runtime needed: the runtime checks
//! are `scripts/onnx_check.py`, run by CI), and bad input.

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
            },
        ),
        (
            "decision_tree",
            CandidateSpec::DecisionTree {
                max_depth: Some(6),
                min_samples_leaf: 1,
            },
        ),
        (
            "random_forest",
            CandidateSpec::RandomForest {
                n_trees: 10,
                max_depth: Some(6),
                min_samples_leaf: 1,
                max_features: None,
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
    let (pa, pb) = (a.predict_proba_batch(rows), b.predict_proba_batch(rows));
    let (mut ca, mut cb) = (Vec::new(), Vec::new());
    a.predict_batch(rows, &mut ca);
    b.predict_batch(rows, &mut cb);
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
    let mut s = back.model.scratch();
    assert_eq!(
        back.model.predict(&[0.5, 0.0], &mut s),
        1,
        "0.5 < 0.5 is false"
    );
    assert_eq!(back.model.predict(&[0.4999, 0.0], &mut s), 0);
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

/// `x0 <= t0` at the root; its left child tests `x0 <= t1`; the leaves
/// give class 1 a probability of 0, 0.5 and 1 (left to right).
/// `nan_left[i]` sends a missing value to split `i`'s true branch, as
/// onnxmltools writes LightGBM's splits.
fn two_splits_onnx(t0: f32, t1: f32, nan_left: [bool; 2]) -> ModelProto {
    let mut t = crate::model::TreeEnsemble::new(2, 2);
    let root = t.push_split(0, t0);
    let inner = t.push_split(0, t1);
    let a = t.push_leaf(&[1.0, 0.0]);
    let b = t.push_leaf(&[0.5, 0.5]);
    let c = t.push_leaf(&[0.0, 1.0]);
    t.set_children(inner, a, b);
    t.set_children(root, inner, c);
    t.roots.push(root);
    let mut m = model_to_onnx(&Model::Trees(t)).unwrap();
    let node = tree_node(&mut m);
    let values = node
        .attribute
        .iter()
        .find(|a| a.name() == "nodes_values")
        .unwrap()
        .floats
        .clone();
    for a in &mut node.attribute {
        if a.name() == "nodes_missing_value_tracks_true" {
            for (m, v) in a.ints.iter_mut().zip(&values) {
                *m = i64::from((*v == t0 && nan_left[0]) || (*v == t1 && nan_left[1]));
            }
        }
    }
    m
}

/// Class 1's probability as the imported package serves `raw` (through
/// its pipeline).
fn served(back: &Imported, raw: &[crate::data::Value<'_>]) -> f32 {
    let names = ["a".to_string(), "b".to_string()];
    let pipeline = imported_pipeline(back.preprocessing.as_ref(), &names).unwrap();
    let mut x = vec![0.0; 2];
    pipeline.transform_row(raw, &mut x);
    let mut p = vec![0.0; 2];
    back.model
        .predict_proba(&x, &mut back.model.scratch(), &mut p);
    p[1]
}

#[test]
fn splits_sending_missing_values_left_get_a_stand_in_value() {
    use crate::data::Value::{Missing, Number};
    // Both splits send NaN left (LightGBM on complete rows, thresholds
    // above 0): 0 stands in, and a missing x0 reaches the first leaf.
    let back = import_onnx(&encode(&two_splits_onnx(0.5, 0.25, [true, true]))).unwrap();
    let Some(Preprocessing::Numeric(steps)) = &back.preprocessing else {
        panic!("a stand-in needs a pipeline step")
    };
    assert_eq!(steps[0].fill, 0.0);
    assert!(steps[1].fill.is_nan(), "x1 is never split on");
    assert!(back.notes[0].contains("0 (feature 0)"), "{:?}", back.notes);
    assert_eq!(served(&back, &[Missing, Number(9.0)]), 0.0);
    assert_eq!(served(&back, &[Number(0.3), Missing]), 0.5);

    // Root left, inner right, both below 0: 0 would go right at the root,
    // so the root's threshold stands in (≤ −1, > −2).
    let back = import_onnx(&encode(&two_splits_onnx(-1.0, -2.0, [true, false]))).unwrap();
    let Some(Preprocessing::Numeric(steps)) = &back.preprocessing else {
        panic!("a stand-in needs a pipeline step")
    };
    assert_eq!(steps[0].fill, -1.0);
    assert_eq!(
        served(&back, &[Missing, Number(0.0)]),
        0.5,
        "left, then right"
    );

    // Only NaN-right splits: nothing to stand in, no pipeline.
    let back = import_onnx(&encode(&two_splits_onnx(0.5, 0.25, [false, false]))).unwrap();
    assert!(back.preprocessing.is_none() && back.notes.is_empty());
}

#[test]
fn splits_whose_missing_values_no_stand_in_serves_are_rewritten() {
    use crate::data::Value::{Missing, Number};
    // NaN left at 0.5 but right at 0.75 (in the left subtree, where every
    // number goes left) on one feature: no single value does both, so the
    // root is rewritten: numbers take their paths, and a missing value
    // reaches the middle leaf (left at the root, right at the inner split)
    // as in the file, with no pipeline.
    let back = import_onnx(&encode(&two_splits_onnx(0.5, 0.75, [true, false]))).unwrap();
    assert!(back.preprocessing.is_none());
    assert!(
        back.notes[0].contains("the file's splits on feature 0 send missing values"),
        "{:?}",
        back.notes
    );
    assert_eq!(served(&back, &[Missing, Number(0.0)]), 0.5);
    for (x, p) in [(0.5, 0.0), (0.75, 1.0), (-3.0, 0.0), (f64::MAX, 1.0)] {
        assert_eq!(served(&back, &[Number(x), Missing]), p, "x0 = {x}");
    }
    // The guard's +∞ threshold is a cut like any other: the binned form
    // takes the same branches, NaN included.
    let Model::Trees(t) = &back.model else {
        panic!("trees expected")
    };
    let bins = Model::QuantTrees(QuantTrees::from_ensemble(t, LeafPrecision::F32).unwrap());
    let (mut s, mut p, mut q) = (back.model.scratch(), vec![0.0; 2], vec![0.0; 2]);
    for x in [f32::NAN, 0.5, 0.75, -3.0, f32::MAX, f32::INFINITY] {
        back.model.predict_proba(&[x, 0.0], &mut s, &mut p);
        bins.predict_proba(&[x, 0.0], &mut bins.scratch(), &mut q);
        assert_eq!(p, q, "x0 = {x}");
    }
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
                    let mut s = m.model.scratch();
                    m.model.predict(&vec![0.1; d], &mut s);
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

/// The imputer, scaler and 3-class softmax regression of
/// [`preprocessed_onnx`].
const FILLS: [f32; 3] = [1.5, -2.0, 0.25];
const OFFSETS: [f32; 3] = [0.1, 3.0, -1.25];
const SCALES: [f32; 3] = [2.0, 0.5, 0.3];
const COEF: [f32; 9] = [0.4, -1.0, 0.2, -0.3, 0.8, 0.1, 0.5, 0.25, -0.7];
const INTERCEPTS: [f32; 3] = [0.1, -0.2, 0.05];

fn float_attr(name: &str, v: f32) -> proto::AttributeProto {
    proto::AttributeProto {
        name: Some(name.into()),
        r#type: Some(proto::attribute_proto::AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

/// `X → [front] → Imputer → Scaler → Cast → LinearClassifier`, as skl2onnx
/// writes a SimpleImputer → StandardScaler → LogisticRegression Pipeline
/// (`front`: an operator put before the imputer, by op type).
fn preprocessed_onnx(front: Option<&str>) -> ModelProto {
    let mut g = GraphBuilder::new("pre");
    g.float_input("X", 3);
    let mut x = "X".to_string();
    if let Some(op) = front {
        let out = g.fresh("front");
        g.node(op, ML_DOMAIN, &[&x], &[&out], vec![]);
        x = out;
    }
    let imp = g.fresh("imputed");
    g.node(
        "Imputer",
        ML_DOMAIN,
        &[&x],
        &[&imp],
        vec![
            attr_floats("imputed_value_floats", FILLS.to_vec()),
            float_attr("replaced_value_float", f32::NAN),
        ],
    );
    let sc = g.fresh("scaled");
    g.node(
        "Scaler",
        ML_DOMAIN,
        &[&imp],
        &[&sc],
        vec![
            attr_floats("offset", OFFSETS.to_vec()),
            attr_floats("scale", SCALES.to_vec()),
        ],
    );
    let cast = g.fresh("cast");
    g.node(
        "Cast",
        "",
        &[&sc],
        &[&cast],
        vec![attr_int("to", proto::tensor_proto::DataType::Float as i64)],
    );
    g.node(
        "LinearClassifier",
        ML_DOMAIN,
        &[&cast],
        &["label", "probabilities"],
        vec![
            attr_ints("classlabels_ints", vec![0, 1, 2]),
            attr_floats("coefficients", COEF.to_vec()),
            attr_floats("intercepts", INTERCEPTS.to_vec()),
            attr_string("multi_class", "MULTINOMIAL"),
            attr_string("post_transform", "SOFTMAX"),
        ],
    );
    g.int64_output("label");
    g.float_output("probabilities", 3);
    g.finish("imputer + scaler + linear")
}

#[test]
fn imputer_and_scaler_become_the_pipeline() {
    use crate::data::Value;
    let back = import_onnx(&encode(&preprocessed_onnx(None))).unwrap();
    let Some(Preprocessing::Numeric(steps)) = back.preprocessing.clone() else {
        panic!("numeric preprocessing imported");
    };
    for j in 0..3 {
        assert_eq!(
            steps[j],
            NumericStep {
                fill: f64::from(FILLS[j]),
                center: f64::from(OFFSETS[j]),
                inv_scale: f64::from(SCALES[j]),
            }
        );
    }
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let pipeline = imported_pipeline(Some(&Preprocessing::Numeric(steps.clone())), &names).unwrap();
    assert_eq!(pipeline.output_names(), names);
    assert!(pipeline.check().is_ok());
    assert!(imported_pipeline(Some(&Preprocessing::Numeric(steps.clone())), &names[..2]).is_err());

    let m = &back.model;
    let mut s = m.scratch();
    let mut p = vec![0.0f32; 3];
    let mut feats = vec![0.0f32; 3];
    for raw in [
        [Value::Number(0.7), Value::Number(-1.0), Value::Number(2.5)],
        [Value::Missing, Value::Number(4.0), Value::Missing],
        [Value::Missing, Value::Missing, Value::Missing],
    ] {
        pipeline.transform_row(&raw, &mut feats);
        m.predict_proba(&feats, &mut s, &mut p);
        // By hand, in f64: fill, centre, scale, scores, softmax.
        let z: Vec<f64> = (0..3)
            .map(|j| {
                let x = match raw[j] {
                    Value::Number(x) => x,
                    _ => f64::from(FILLS[j]),
                };
                (x - f64::from(OFFSETS[j])) * f64::from(SCALES[j])
            })
            .collect();
        let scores: Vec<f64> = (0..3)
            .map(|c| {
                f64::from(INTERCEPTS[c])
                    + (0..3)
                        .map(|j| f64::from(COEF[c * 3 + j]) * z[j])
                        .sum::<f64>()
            })
            .collect();
        let max = scores.iter().copied().fold(f64::MIN, f64::max);
        let e: Vec<f64> = scores.iter().map(|v| (v - max).exp()).collect();
        let total: f64 = e.iter().sum();
        for c in 0..3 {
            assert!(
                (f64::from(p[c]) - e[c] / total).abs() < 1e-6,
                "{raw:?}: {p:?} vs {e:?}"
            );
        }
        let best = (0..3).max_by(|&a, &b| e[a].total_cmp(&e[b])).unwrap() as u32;
        assert_eq!(m.predict(&feats, &mut s), best);
    }
    // No preprocessing: a passthrough.
    let plain = import_onnx(&encode(&stump_onnx())).unwrap();
    assert!(plain.preprocessing.is_none());
    let pass = imported_pipeline(None, &names[..2]).unwrap();
    // (Compared as text: the NaN fills are not equal to themselves.)
    assert_eq!(
        format!("{pass:?}"),
        format!(
            "{:?}",
            crate::pipeline::FittedPipeline::passthrough(&names[..2])
        )
    );
}

#[test]
fn other_preprocessing_is_refused_by_name() {
    let e = import_onnx(&encode(&preprocessed_onnx(Some("OneHotEncoder"))))
        .unwrap_err()
        .to_string();
    assert!(e.contains("OneHotEncoder"), "{e}");
    let e = import_onnx(&encode(&preprocessed_onnx(Some("Normalizer"))))
        .unwrap_err()
        .to_string();
    assert!(e.contains("(Normalizer)"), "{e}");
    // A second scaler, or a scaler before the imputer.
    let e = import_onnx(&encode(&preprocessed_onnx(Some("Scaler"))))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Scaler → Imputer → Scaler"), "{e}");

    // An imputer of zeros, not of missing values.
    let mut m = preprocessed_onnx(None);
    let g = m.graph.as_mut().unwrap();
    let imp = g
        .node
        .iter_mut()
        .find(|n| n.op_type() == "Imputer")
        .unwrap();
    imp.attribute.retain(|a| a.name() != "replaced_value_float");
    let e = import_onnx(&encode(&m)).unwrap_err().to_string();
    assert!(e.contains("replaces the value 0"), "{e}");

    // Offsets that do not fit the features.
    let mut m = preprocessed_onnx(None);
    let g = m.graph.as_mut().unwrap();
    let sc = g.node.iter_mut().find(|n| n.op_type() == "Scaler").unwrap();
    sc.attribute[0].floats.pop();
    let e = import_onnx(&encode(&m)).unwrap_err().to_string();
    assert!(e.contains("`offset` has 2 values for 3 features"), "{e}");
}

#[test]
fn damaged_preprocessing_is_an_error_not_a_panic() {
    use crate::data::Value;
    let bytes = encode(&preprocessed_onnx(None));
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    for i in 0..bytes.len() {
        for v in [0u8, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(m) = import_onnx(&b) {
                let d = m.model.n_features();
                if let Ok(p) = imported_pipeline(m.preprocessing.as_ref(), &names[..d.min(3)]) {
                    let raw = vec![Value::Missing; p.n_inputs()];
                    let mut out = vec![0.0; p.n_outputs()];
                    p.transform_row(&raw, &mut out);
                }
                let mut s = m.model.scratch();
                m.model.predict(&vec![0.5; d], &mut s);
            }
        }
    }
}

/// The per-column graph skl2onnx writes for a ColumnTransformer
/// (`city`: SimpleImputer(constant "Paris", missing_values="") → OneHotEncoder;
/// `age`, `income`: SimpleImputer → StandardScaler) in front of a 3-class
/// logistic regression, with the categorical block first in the graph's
/// inputs but last in the model's features, and categories not sorted.
/// `variant` changes one thing: `ordinal` (a LabelEncoder to numbers in
/// place of the one-hot), `int_cats`, `strict` (zeros = 0), `unused` (an
/// input the model never reads), `key` (imputes the text `?`).
fn columns_onnx(variant: &str) -> ModelProto {
    const CATS: [&str; 3] = ["Rome", "Berlin", "Paris"];
    let mut g = GraphBuilder::new("columns");
    g.string_input("city", 1);
    g.float_input("age", 1);
    g.float_input("income", 1);
    if variant == "unused" {
        g.float_input("id", 1);
    }
    let num = g.fresh("merged");
    g.node(
        "Concat",
        "",
        &["age", "income"],
        &[&num],
        vec![attr_int("axis", 1)],
    );
    let imp = g.fresh("imputed");
    g.node(
        "Imputer",
        ML_DOMAIN,
        &[&num],
        &[&imp],
        vec![
            attr_floats("imputed_value_floats", vec![30.0, 50000.0]),
            float_attr("replaced_value_float", f32::NAN),
        ],
    );
    let sc = g.fresh("scaled");
    g.node(
        "Scaler",
        ML_DOMAIN,
        &[&imp],
        &[&sc],
        vec![
            attr_floats("offset", vec![35.0, 40000.0]),
            attr_floats("scale", vec![0.1, 0.0001]),
        ],
    );
    // The fill, written as skl2onnx writes it: a LabelEncoder of a constant.
    let zero = g.constant_i64("zero", &[1], &[0]);
    let fill = g.fresh("fill");
    g.node(
        "LabelEncoder",
        ML_DOMAIN,
        &[&zero],
        &[&fill],
        vec![
            attr_ints("keys_int64s", vec![0]),
            attr_strings("values_strings", &["Paris"]),
            attr_string("default_string", "missing"),
        ],
    );
    let picked = g.fresh("picked");
    g.node(
        "ArrayFeatureExtractor",
        ML_DOMAIN,
        &["city", &zero],
        &[&picked],
        vec![],
    );
    let flag = g.fresh("flag");
    let key = if variant == "key" { "?" } else { "" };
    g.node(
        "LabelEncoder",
        ML_DOMAIN,
        &[&picked],
        &[&flag],
        vec![
            attr_strings("keys_strings", &[key]),
            attr_ints("values_int64s", vec![1]),
            attr_int("default_int64", 0),
        ],
    );
    let mask = g.fresh("mask");
    g.node("Cast", "", &[&flag], &[&mask], vec![attr_int("to", 9)]);
    let filled = g.fresh("filled");
    g.node("Where", "", &[&mask, &fill, &picked], &[&filled], vec![]);
    let cat = g.fresh("cat");
    if variant == "ordinal" {
        let codes = g.fresh("codes");
        g.node(
            "LabelEncoder",
            ML_DOMAIN,
            &[&filled],
            &[&codes],
            vec![
                attr_strings("keys_strings", &CATS),
                attr_ints("values_int64s", vec![0, 1, 2]),
                attr_int("default_int64", -1),
            ],
        );
        g.node("Cast", "", &[&codes], &[&cat], vec![attr_int("to", 1)]);
    } else {
        let hot = g.fresh("hot");
        let mut attrs = if variant == "int_cats" {
            vec![attr_ints("cats_int64s", vec![0, 1, 2])]
        } else {
            vec![attr_strings("cats_strings", &CATS)]
        };
        attrs.push(attr_int("zeros", i64::from(variant != "strict")));
        g.node("OneHotEncoder", ML_DOMAIN, &[&filled], &[&hot], attrs);
        let shape = g.constant_i64("shape", &[2], &[-1, 3]);
        g.node("Reshape", "", &[&hot, &shape], &[&cat], vec![]);
    }
    let x = g.fresh("features");
    g.node("Concat", "", &[&sc, &cat], &[&x], vec![attr_int("axis", 1)]);
    let d = if variant == "ordinal" { 3 } else { 5 };
    g.node(
        "LinearClassifier",
        ML_DOMAIN,
        &[&x],
        &["label", "probabilities"],
        vec![
            attr_strings("classlabels_strings", &["low", "mid", "high"]),
            attr_floats(
                "coefficients",
                (0..3 * d).map(|i| (i as f32 - 7.0) / 4.0).collect(),
            ),
            attr_floats("intercepts", vec![0.1, -0.2, 0.3]),
            attr_string("multi_class", "MULTINOMIAL"),
            attr_string("post_transform", "SOFTMAX"),
        ],
    );
    g.int64_output("label");
    g.float_output("probabilities", 3);
    g.finish("column transformer + linear")
}

#[test]
fn per_column_preprocessing_becomes_the_pipeline_in_the_inputs_order() {
    use crate::data::Value;
    use crate::pipeline::Step;
    let back = import_onnx(&encode(&columns_onnx("plain"))).unwrap();
    assert_eq!(back.classes, ["low", "mid", "high"]);
    assert!(back.notes.is_empty(), "{:?}", back.notes);
    let Some(Preprocessing::Columns(p)) = &back.preprocessing else {
        panic!(
            "per-column preprocessing imported: {:?}",
            back.preprocessing
        );
    };
    assert_eq!(
        p.steps[0],
        Step::OneHot {
            name: "city".into(),
            fill: "Paris".into(),
            categories: vec!["Berlin".into(), "Paris".into(), "Rome".into()],
            folded: vec![],
        }
    );
    assert_eq!(
        p.steps[1],
        Step::Numeric {
            name: "age".into(),
            fill: 30.0,
            center: 35.0,
            inv_scale: f64::from(0.1f32),
        }
    );
    assert_eq!(
        p.output_names(),
        ["city=Berlin", "city=Paris", "city=Rome", "age", "income"]
    );
    let names: Vec<String> = ["city", "age", "income"].map(String::from).to_vec();
    assert!(imported_pipeline(back.preprocessing.as_ref(), &names).is_ok());
    assert!(imported_pipeline(back.preprocessing.as_ref(), &names[1..]).is_err());

    // The model, renumbered to the pipeline's order, computes what the file
    // computes in its own order: [age, income, Rome, Berlin, Paris].
    let m = &back.model;
    let mut s = m.scratch();
    let mut p_ours = vec![0.0f32; 3];
    let mut feats = vec![0.0f32; 5];
    for raw in [
        [
            Value::Text("Rome"),
            Value::Number(40.0),
            Value::Number(60000.0),
        ],
        [Value::Missing, Value::Missing, Value::Number(41000.0)],
        [Value::Text("Oslo"), Value::Number(20.0), Value::Missing],
        [Value::Text("Berlin"), Value::Missing, Value::Missing],
    ] {
        p.transform_row(&raw, &mut feats);
        m.predict_proba(&feats, &mut s, &mut p_ours);
        let num = |j: usize, fill: f64, off: f64, sc: f32| match raw[j] {
            Value::Number(x) => (x - off) * f64::from(sc),
            _ => (fill - off) * f64::from(sc),
        };
        let city = match raw[0] {
            Value::Text(t) => t,
            _ => "Paris",
        };
        let file_x = [
            num(1, 30.0, 35.0, 0.1),
            num(2, 50000.0, 40000.0, 0.0001),
            f64::from(u8::from(city == "Rome")),
            f64::from(u8::from(city == "Berlin")),
            f64::from(u8::from(city == "Paris")),
        ];
        let scores: Vec<f64> = (0..3)
            .map(|c| {
                [0.1, -0.2, 0.3][c]
                    + (0..5)
                        .map(|j| f64::from((((c * 5 + j) as f32) - 7.0) / 4.0) * file_x[j])
                        .sum::<f64>()
            })
            .collect();
        let max = scores.iter().copied().fold(f64::MIN, f64::max);
        let e: Vec<f64> = scores.iter().map(|v| (v - max).exp()).collect();
        let total: f64 = e.iter().sum();
        for c in 0..3 {
            assert!(
                (f64::from(p_ours[c]) - e[c] / total).abs() < 1e-5,
                "{raw:?}: {p_ours:?} vs {e:?}"
            );
        }
    }
}

#[test]
fn per_column_preprocessing_optbench_cannot_serve_is_refused_by_name() {
    let err = |v: &str| {
        import_onnx(&encode(&columns_onnx(v)))
            .unwrap_err()
            .to_string()
    };
    let e = err("ordinal");
    assert!(
        e.contains("(LabelEncoder)") && e.contains("OrdinalEncoder"),
        "{e}"
    );
    let e = err("int_cats");
    assert!(
        e.contains("(OneHotEncoder)") && e.contains("integer categories"),
        "{e}"
    );
    let e = err("unused");
    assert!(
        e.contains("input `id`") && e.contains("not used by the model"),
        "{e}"
    );
    let e = err("key");
    assert!(e.contains("(LabelEncoder)") && e.contains("`?`"), "{e}");
    // handle_unknown="error": imported, with a note saying what changes.
    let strict = import_onnx(&encode(&columns_onnx("strict"))).unwrap();
    assert!(
        strict.notes.len() == 1 && strict.notes[0].contains("zeros = 0"),
        "{:?}",
        strict.notes
    );
    // An operator the importer does not read, in front of a per-column model.
    let mut m = columns_onnx("plain");
    let g = m.graph.as_mut().unwrap();
    let hot = g
        .node
        .iter_mut()
        .find(|n| n.op_type() == "Reshape")
        .unwrap();
    hot.op_type = Some("Squeeze".into());
    let e = import_onnx(&encode(&m)).unwrap_err().to_string();
    assert!(e.contains("unsupported operators: Squeeze"), "{e}");
}

#[test]
fn damaged_per_column_files_are_errors_not_panics() {
    use crate::data::Value;
    let bytes = encode(&columns_onnx("plain"));
    for i in 0..bytes.len() {
        for v in [0u8, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(m) = import_onnx(&b) {
                if let Some(Preprocessing::Columns(p)) = &m.preprocessing {
                    let raw = vec![Value::Missing; p.n_inputs()];
                    let mut out = vec![0.0; p.n_outputs()];
                    p.transform_row(&raw, &mut out);
                    assert_eq!(p.n_outputs(), m.model.n_features());
                }
                let mut s = m.model.scratch();
                m.model.predict(&vec![0.5; m.model.n_features()], &mut s);
            }
        }
    }
}

#[test]
fn a_scaled_feature_with_no_imputer_gets_its_splits_rewritten_not_a_stand_in() {
    use crate::data::Value::{Missing, Number};
    // X → Scaler → the stump x0 <= 0.5, which sends NaN to its true branch.
    // A stand-in (0) would be scaled on its way to the trees, so the split
    // is rewritten instead, and the file's Scaler is the whole pipeline.
    let mut m = stump_onnx();
    let tree = tree_node(&mut m);
    tree.input[0] = "scaled".into();
    for a in &mut tree.attribute {
        if a.name() == "nodes_missing_value_tracks_true" {
            a.ints[0] = 1;
        }
    }
    m.graph.as_mut().unwrap().node.insert(
        0,
        proto::NodeProto {
            op_type: Some("Scaler".into()),
            domain: Some(ML_DOMAIN.into()),
            input: vec!["features".into()],
            output: vec!["scaled".into()],
            attribute: vec![
                attr_floats("offset", vec![1.0, 0.0]),
                attr_floats("scale", vec![2.0, 1.0]),
            ],
            ..Default::default()
        },
    );
    let back = import_onnx(&encode(&m)).unwrap();
    let Some(Preprocessing::Numeric(steps)) = &back.preprocessing else {
        panic!("the Scaler is the pipeline")
    };
    assert!(steps[0].fill.is_nan(), "no stand-in: {steps:?}");
    assert!(
        back.notes
            .iter()
            .any(|n| n.contains("feature 0 send missing values")
                && n.contains("scaled with no imputer")),
        "{:?}",
        back.notes
    );
    // (x − 1) × 2 <= 0.5 goes left (class 1 at 0); a missing x0 too.
    assert_eq!(served(&back, &[Missing, Number(0.0)]), 0.0);
    assert_eq!(served(&back, &[Number(1.1), Number(0.0)]), 0.0);
    assert_eq!(served(&back, &[Number(1.9), Number(0.0)]), 1.0);
}
