//! The fitted pipeline as ONNX nodes in front of the model: one typed, named
//! graph input per column, the same arithmetic as
//! [`FittedPipeline::transform_row`], and the model's input assembled by
//! `Concat` in the pipeline's output order.
//!
//! | step | input | nodes |
//! |---|---|---|
//! | numeric | `double [N, 1]`, `NaN` = missing | `IsNaN`, `Where` (the fill), `Sub` (centre), `Mul` (1 / scale), `Cast` to float |
//! | categorical | `string [N, 1]`, `""` (or `NA`, `null`, … as optbench reads them) = missing | `LabelEncoder` (category → output slot; missing → the fill's slot; folded → `<other>`; unseen → −1), `OneHotEncoder` over the slots (−1 sets none: unknown ignored), `Reshape` to `[N, width]` |
//!
//! Why double inputs and plain arithmetic rather than `Imputer` and
//! `Scaler`: optbench standardises in `f64` and rounds once to `f32`;
//! `Scaler` computes in `f32`, which would move a value across a tree
//! threshold now and then. With double arithmetic the exported graph feeds
//! the model bit-identical features.

use crate::data::{InputSchema, MISSING_TOKENS};
use crate::onnx::graph::{attr_int, attr_ints, attr_strings, GraphBuilder, ML_DOMAIN};
use crate::pipeline::{FittedPipeline, Step};

/// Appends the pipeline to `g`, declaring one graph input per schema
/// column (named as the column); returns the name of the float
/// `[N, n_outputs]` feature tensor.
pub fn append_pipeline(g: &mut GraphBuilder, schema: &InputSchema, p: &FittedPipeline) -> String {
    let mut blocks = Vec::with_capacity(p.steps.len());
    for (step, spec) in p.steps.iter().zip(&schema.features) {
        let input = spec.name.as_str();
        match step {
            Step::Numeric {
                fill,
                center,
                inv_scale,
                ..
            } => {
                g.double_input(input, 1);
                let missing = g.fresh("is_missing");
                g.node("IsNaN", "", &[input], &[&missing], vec![]);
                let fill_c = g.constant_f64("fill", &[1], &[*fill]);
                let filled = g.fresh("filled");
                g.node("Where", "", &[&missing, &fill_c, input], &[&filled], vec![]);
                let center_c = g.constant_f64("center", &[1], &[*center]);
                let centred = g.fresh("centred");
                g.node("Sub", "", &[&filled, &center_c], &[&centred], vec![]);
                let scale_c = g.constant_f64("inv_scale", &[1], &[*inv_scale]);
                let scaled = g.fresh("scaled");
                g.node("Mul", "", &[&centred, &scale_c], &[&scaled], vec![]);
                let out = g.fresh("numeric");
                // TensorProto.DataType.FLOAT = 1.
                g.node("Cast", "", &[&scaled], &[&out], vec![attr_int("to", 1)]);
                blocks.push(out);
            }
            Step::OneHot {
                fill,
                categories,
                folded,
                ..
            } => {
                g.string_input(input, 1);
                let width = step.width();
                let other = categories.len() as i64;
                let slot_of = |s: &str| -> Option<i64> {
                    categories
                        .binary_search_by(|c| c.as_str().cmp(s))
                        .ok()
                        .map(|k| k as i64)
                        .or_else(|| {
                            folded
                                .binary_search_by(|c| c.as_str().cmp(s))
                                .ok()
                                .map(|_| other)
                        })
                };
                let mut keys: Vec<String> = Vec::new();
                let mut values: Vec<i64> = Vec::new();
                for (k, c) in categories.iter().enumerate() {
                    keys.push(c.clone());
                    values.push(k as i64);
                }
                for c in folded {
                    keys.push(c.clone());
                    values.push(other);
                }
                // Missing cells, as optbench reads them, take the fill's slot.
                let fill_slot = slot_of(fill).unwrap_or(-1);
                for t in MISSING_TOKENS {
                    // optbench reads them in any case; the file maps the
                    // usual spellings.
                    let spellings = [
                        t.to_string(),
                        t.to_uppercase(),
                        capitalised(t),
                        "NaN".into(),
                    ];
                    for v in spellings {
                        if !keys.contains(&v) {
                            keys.push(v);
                            values.push(fill_slot);
                        }
                    }
                }
                let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let slot = g.fresh("slot");
                g.node(
                    "LabelEncoder",
                    ML_DOMAIN,
                    &[input],
                    &[&slot],
                    vec![
                        attr_strings("keys_strings", &key_refs),
                        attr_ints("values_int64s", values),
                        attr_int("default_int64", -1),
                    ],
                );
                let onehot = g.fresh("onehot");
                g.node(
                    "OneHotEncoder",
                    ML_DOMAIN,
                    &[&slot],
                    &[&onehot],
                    vec![
                        attr_ints("cats_int64s", (0..width as i64).collect()),
                        attr_int("zeros", 1),
                    ],
                );
                let shape = g.constant_i64("shape", &[2], &[-1, width as i64]);
                let out = g.fresh("categorical");
                g.node("Reshape", "", &[&onehot, &shape], &[&out], vec![]);
                blocks.push(out);
            }
        }
    }
    let features = g.fresh("features");
    let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
    g.node("Concat", "", &refs, &[&features], vec![attr_int("axis", 1)]);
    features
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
