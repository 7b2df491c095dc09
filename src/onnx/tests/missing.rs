//! Splits that send a missing value to their true branch: a stand-in value
//! in the pipeline, or the splits rewritten.

use super::*;

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
    let c = back.model.compile().unwrap();
    c.predict_proba(&x, &mut c.scratch(), &mut p);
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
    let bins = Model::QuantTrees(QuantTrees::from_ensemble(t, LeafPrecision::F32).unwrap())
        .compile()
        .unwrap();
    let float = back.model.compile().unwrap();
    let (mut s, mut p, mut q) = (float.scratch(), vec![0.0; 2], vec![0.0; 2]);
    for x in [f32::NAN, 0.5, 0.75, -3.0, f32::MAX, f32::INFINITY] {
        float.predict_proba(&[x, 0.0], &mut s, &mut p);
        bins.predict_proba(&[x, 0.0], &mut bins.scratch(), &mut q);
        assert_eq!(p, q, "x0 = {x}");
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
