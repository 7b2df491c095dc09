//! A model fed by one float feature tensor: the graph input behind the
//! model operator (through `Identity` / `Cast`), and the `Imputer` and / or
//! `Scaler` skl2onnx writes on the way, read as one [`NumericStep`] per
//! feature.

use super::graph::{attr, attr_int, describe, is_ml, is_std, Attrs, Graph};
use super::pipeline::NumericStep;
use crate::error::{Error, Result};
use crate::onnx::proto::{tensor_proto::DataType, type_proto, NodeProto};

const PRE_OPS: [&str; 2] = ["Imputer", "Scaler"];

impl<'a> Graph<'a> {
    /// The graph input feeding `core`, its width when the shape says it, and
    /// the `Imputer` / `Scaler` nodes on the way (in forward order).
    pub(super) fn feature_input(
        &self,
        core: &'a NodeProto,
    ) -> Result<(String, Option<usize>, Vec<&'a NodeProto>)> {
        let what = describe(core);
        let mut t = core
            .input
            .first()
            .ok_or_else(|| Error::onnx(&what, "has no input"))?
            .as_str();
        let mut chain = Vec::new();
        for _ in 0..=self.g.node.len() {
            match self.producer.get(t) {
                None => break,
                Some((n, _)) if n.op_type() == "Identity" && is_std(n) => {
                    t = n.input.first().map_or("", String::as_str);
                }
                Some((n, _)) if n.op_type() == "Cast" && is_std(n) => {
                    // A cast to an integer type would round the features.
                    let to = attr_int(n, "to");
                    if to != Some(DataType::Float as i64) && to != Some(DataType::Double as i64) {
                        return Err(Error::onnx(
                            describe(n),
                            "casts the features to another type than float or double",
                        ));
                    }
                    t = n.input.first().map_or("", String::as_str);
                }
                Some((n, _)) if is_ml(n) && PRE_OPS.contains(&n.op_type()) => {
                    chain.push(*n);
                    t = n.input.first().map_or("", String::as_str);
                }
                Some((n, _)) => {
                    return Err(Error::onnx(
                        &what,
                        format!(
                            "its input is computed by {}; optbench imports models fed by the \
                             feature input directly or through an Imputer and a Scaler",
                            describe(n)
                        ),
                    ))
                }
            }
        }
        chain.reverse();
        let ops: Vec<&str> = chain.iter().map(|n| n.op_type()).collect();
        if !matches!(
            ops[..],
            [] | ["Imputer"] | ["Scaler"] | ["Imputer", "Scaler"]
        ) {
            return Err(Error::onnx(
                &what,
                format!(
                    "its input goes through {}; optbench imports at most an Imputer then a Scaler",
                    ops.join(" → ")
                ),
            ));
        }
        // An Imputer or Scaler elsewhere computes something the import
        // would silently drop.
        if let Some(n) = self.g.node.iter().find(|n| {
            is_ml(n)
                && PRE_OPS.contains(&n.op_type())
                && !chain.iter().any(|c| std::ptr::eq(*c, *n))
        }) {
            return Err(Error::onnx(
                describe(n),
                "is not between the feature input and the model operator",
            ));
        }
        let info = self
            .g
            .input
            .iter()
            .find(|i| i.name() == t)
            .ok_or_else(|| Error::onnx(&what, format!("input `{t}` is not a graph input")))?;
        let tensor = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(tt)) => tt,
            _ => {
                return Err(Error::onnx(
                    format!("input `{t}`"),
                    "is not a tensor; optbench imports one float feature tensor",
                ))
            }
        };
        if tensor.elem_type() != DataType::Float as i32
            && tensor.elem_type() != DataType::Double as i32
        {
            return Err(Error::onnx(
                format!("input `{t}`"),
                format!(
                    "has element type {}; optbench imports a float (or double) feature tensor",
                    DataType::try_from(tensor.elem_type()).map_or("unknown", |d| d.as_str_name())
                ),
            ));
        }
        use crate::onnx::proto::tensor_shape_proto::dimension::Value;
        let dims = tensor.shape.as_ref().map_or(&[][..], |s| &s.dim[..]);
        let width = match dims {
            [_, d] => match d.value {
                Some(Value::DimValue(v)) if v > 0 => Some(v as usize),
                _ => None,
            },
            [] => None,
            _ => {
                return Err(Error::onnx(
                    format!("input `{t}`"),
                    format!("has {} dimensions; expected [N, features]", dims.len()),
                ))
            }
        };
        Ok((t.to_string(), width, chain))
    }
}

/// The per-feature steps of an `Imputer` and / or `Scaler` chain (forward
/// order) in front of a model with `d` features; `None` for no chain.
pub(super) fn preprocessing(chain: &[&NodeProto], d: usize) -> Result<Option<Vec<NumericStep>>> {
    if chain.is_empty() {
        return Ok(None);
    }
    let mut steps = vec![
        NumericStep {
            fill: f64::NAN,
            center: 0.0,
            inv_scale: 1.0,
        };
        d
    ];
    // Values of length 1 apply to every feature (onnxruntime broadcasts).
    let per_feature = |a: &Attrs<'_>, name: &str, v: &[f32]| -> Result<Vec<f64>> {
        match v.len() {
            1 => Ok(vec![f64::from(v[0]); d]),
            n if n == d => Ok(v.iter().map(|&x| f64::from(x)).collect()),
            n => Err(a.err(format!("`{name}` has {n} values for {d} features"))),
        }
    };
    for &n in chain {
        let what = describe(n);
        let a = Attrs {
            node: n,
            what: &what,
        };
        if n.op_type() == "Imputer" {
            if !a.ints("imputed_value_int64s")?.is_empty() {
                return Err(a.err("imputes integers; optbench imports float imputation"));
            }
            let replaced = attr(n, "replaced_value_float")
                .and_then(|x| x.f)
                .unwrap_or(0.0);
            if !replaced.is_nan() {
                return Err(a.err(format!(
                    "replaces the value {replaced}; optbench's pipeline fills only missing (NaN) values"
                )));
            }
            let fills = per_feature(
                &a,
                "imputed_value_floats",
                a.floats("imputed_value_floats")?,
            )?;
            for (s, f) in steps.iter_mut().zip(fills) {
                if f.is_infinite() {
                    return Err(a.err("imputes an infinite value"));
                }
                s.fill = f;
            }
        } else {
            let offset = per_feature(&a, "offset", a.floats("offset")?)?;
            let scale = per_feature(&a, "scale", a.floats("scale")?)?;
            for ((s, o), m) in steps.iter_mut().zip(offset).zip(scale) {
                if !(o.is_finite() && m.is_finite()) {
                    return Err(a.err("has a non-finite offset or scale"));
                }
                s.center = o;
                s.inv_scale = m;
            }
        }
    }
    Ok(Some(steps))
}
