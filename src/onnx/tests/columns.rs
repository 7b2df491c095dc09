//! One input per column (skl2onnx's ColumnTransformer of numeric and
//! one-hot categorical branches).

use super::*;

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
    let m = back.model.compile().unwrap();
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
                let c = m.model.compile().unwrap();
                c.predict(&vec![0.5; c.n_features()], &mut c.scratch());
            }
        }
    }
}
