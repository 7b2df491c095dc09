//! A float feature input behind an `Imputer` and a `Scaler` (skl2onnx's
//! SimpleImputer → StandardScaler Pipeline).

use super::*;

/// The imputer, scaler and 3-class softmax regression of
/// [`preprocessed_onnx`].
const FILLS: [f32; 3] = [1.5, -2.0, 0.25];
const OFFSETS: [f32; 3] = [0.1, 3.0, -1.25];
const SCALES: [f32; 3] = [2.0, 0.5, 0.3];
const COEF: [f32; 9] = [0.4, -1.0, 0.2, -0.3, 0.8, 0.1, 0.5, 0.25, -0.7];
const INTERCEPTS: [f32; 3] = [0.1, -0.2, 0.05];

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

    let m = back.model.compile().unwrap();
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
                let c = m.model.compile().unwrap();
                c.predict(&vec![0.5; d], &mut c.scratch());
            }
        }
    }
}
