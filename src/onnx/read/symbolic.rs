//! The values `columns.rs` evaluates the graph to: what each column of a
//! tensor is in terms of one graph input ([`Col`]), tensors of such
//! columns or of constants ([`Sym`]), and what operators do to them that
//! needs no graph: moving columns (`Concat`, `Gather`, `Reshape`), an
//! affine map on a numeric column, an initializer's values.

use crate::error::{Error, Result};
use crate::onnx::proto::{tensor_proto::DataType, TensorProto};

/// What one column of a tensor is, in terms of the graph input it comes
/// from (`input` indexes the graph's column inputs).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Col {
    /// `(x, or fill when x is NaN, − center) × inv_scale`; `fill` is `NaN`
    /// when nothing imputes.
    Num {
        input: usize,
        fill: f64,
        center: f64,
        inv_scale: f64,
    },
    /// The text, with missing replaced by `fill` once a `Where` imputes it.
    Text { input: usize, fill: Option<String> },
    /// Whether the (not yet imputed) text is `key`.
    IsKey { input: usize, key: String },
    /// 1 when the text (after imputation with `fill`) is `category`.
    Hot {
        input: usize,
        fill: Option<String>,
        category: String,
    },
}

/// A tensor on the way to the model: `dims` are its dimensions after the
/// batch one, `cols` its columns row-major (`cols.len()` is their product).
#[derive(Debug, Clone)]
pub(super) enum Sym {
    Cols { dims: Vec<usize>, cols: Vec<Col> },
    Ints { dims: Vec<usize>, v: Vec<i64> },
    Floats { v: Vec<f64> },
    Strings { v: Vec<String> },
}

pub(super) fn col_input(c: &Col) -> usize {
    match c {
        Col::Num { input, .. }
        | Col::Text { input, .. }
        | Col::IsKey { input, .. }
        | Col::Hot { input, .. } => *input,
    }
}

/// `x ↦ (x + shift) × mul` applied to a numeric column, when the pipeline's
/// `(x − center) × inv_scale` can say it exactly: one shift, before any
/// scaling.
pub(super) fn affine(c: &mut Col, shift: f64, mul: f64) -> std::result::Result<(), String> {
    let Col::Num {
        center, inv_scale, ..
    } = c
    else {
        return Err("computes on something other than a numeric column".into());
    };
    if !(shift.is_finite() && mul.is_finite()) {
        return Err("has a constant that is not finite".into());
    }
    if shift != 0.0 {
        if *center != 0.0 || *inv_scale != 1.0 {
            return Err(
                "shifts a column that is already shifted or scaled; optbench's pipeline \
                 centres once, then scales"
                    .into(),
            );
        }
        *center = -shift;
    }
    if mul != 1.0 {
        if *inv_scale != 1.0 {
            return Err("scales a column twice".into());
        }
        *inv_scale = mul;
    }
    Ok(())
}

pub(super) fn broadcast(v: Vec<f64>, k: usize) -> Option<Vec<f64>> {
    match v.len() {
        1 => Some(vec![v[0]; k]),
        n if n == k => Some(v),
        _ => None,
    }
}

/// Concatenation along the last axis, or axis 1 of two-dimensional inputs.
pub(super) fn concat(
    parts: Vec<(Vec<usize>, Vec<Col>)>,
    axis: i64,
) -> std::result::Result<Sym, String> {
    let Some((first, _)) = parts.first() else {
        return Err("has no inputs".into());
    };
    let rank = first.len() as i64 + 1;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis != rank - 1 || axis == 0 {
        return Err(format!(
            "concatenates along axis {axis} of {rank}; optbench reads concatenation of columns (the last axis)"
        ));
    }
    let lead = &first[..first.len() - 1];
    if parts
        .iter()
        .any(|(d, _)| d.len() != first.len() || &d[..d.len() - 1] != lead)
    {
        return Err("concatenates tensors of different shapes".into());
    }
    let rows: usize = lead.iter().product();
    let last: usize = parts.iter().map(|(d, _)| d[d.len() - 1]).sum();
    let mut cols = Vec::with_capacity(rows * last);
    for r in 0..rows {
        for (d, c) in &parts {
            let w = d[d.len() - 1];
            cols.extend_from_slice(&c[r * w..(r + 1) * w]);
        }
    }
    let mut dims = lead.to_vec();
    dims.push(last);
    Ok(Sym::Cols { dims, cols })
}

/// `Gather` with constant indices along a non-batch axis.
pub(super) fn gather(
    dims: &[usize],
    cols: &[Col],
    axis: i64,
    idims: &[usize],
    idx: &[i64],
) -> std::result::Result<Sym, String> {
    let rank = dims.len() as i64 + 1;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis <= 0 || axis >= rank {
        return Err(format!(
            "gathers along axis {axis} of {rank}; optbench reads selections of columns"
        ));
    }
    let a = axis as usize - 1;
    let size = dims[a];
    let outer: usize = dims[..a].iter().product();
    let inner: usize = dims[a + 1..].iter().product();
    let picks = idx
        .iter()
        .map(|&i| {
            let i = if i < 0 { i + size as i64 } else { i };
            usize::try_from(i)
                .ok()
                .filter(|&i| i < size)
                .ok_or_else(|| format!("index {i} is out of range 0..{size}"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(outer * picks.len() * inner);
    for o in 0..outer {
        for &p in &picks {
            let start = (o * size + p) * inner;
            out.extend_from_slice(&cols[start..start + inner]);
        }
    }
    let mut d = dims[..a].to_vec();
    d.extend_from_slice(idims);
    d.extend_from_slice(&dims[a + 1..]);
    Ok(Sym::Cols { dims: d, cols: out })
}

/// `Reshape` that keeps the batch: `[-1, …]` or `[0, …]`.
pub(super) fn reshape(
    dims: &[usize],
    cols: Vec<Col>,
    shape: &[i64],
) -> std::result::Result<Sym, String> {
    let keeps_batch = matches!(shape.first(), Some(-1) | Some(0));
    let rest = shape.get(1..).unwrap_or(&[]);
    let mut out = Vec::with_capacity(rest.len());
    for (i, &s) in rest.iter().enumerate() {
        match s {
            0 if i < dims.len() => out.push(dims[i]),
            s if s > 0 => out.push(s as usize),
            _ => out.push(usize::MAX),
        }
    }
    if !keeps_batch
        || out.contains(&usize::MAX)
        || out.iter().product::<usize>() != cols.len()
        || (shape.len() == 1 && cols.len() != 1)
    {
        return Err(format!(
            "reshapes {} columns to {shape:?}; optbench reads reshapes that keep the rows",
            cols.len()
        ));
    }
    Ok(Sym::Cols { dims: out, cols })
}

/// The value of an initializer.
pub(super) fn constant(t: &TensorProto) -> Result<Sym> {
    let what = format!("constant `{}`", t.name());
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let raw = t.raw_data.as_deref();
    let ty = DataType::try_from(t.data_type()).unwrap_or(DataType::Undefined);
    let chunks = |w: usize| -> Result<Vec<&[u8]>> {
        let r = raw.unwrap_or(&[]);
        if r.len() % w != 0 {
            return Err(Error::onnx(&what, "raw data is not whole values"));
        }
        Ok(r.chunks_exact(w).collect())
    };
    Ok(match ty {
        DataType::Int64 => Sym::Ints {
            dims,
            v: if raw.is_some() {
                chunks(8)?
                    .iter()
                    .map(|b| i64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])))
                    .collect()
            } else {
                t.int64_data.clone()
            },
        },
        DataType::Int32 => Sym::Ints {
            dims,
            v: if raw.is_some() {
                chunks(4)?
                    .iter()
                    .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect()
            } else {
                t.int32_data.iter().map(|&x| i64::from(x)).collect()
            },
        },
        DataType::Float => Sym::Floats {
            v: if raw.is_some() {
                chunks(4)?
                    .iter()
                    .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect()
            } else {
                t.float_data.iter().map(|&x| f64::from(x)).collect()
            },
        },
        DataType::Double => Sym::Floats {
            v: if raw.is_some() {
                chunks(8)?
                    .iter()
                    .map(|b| f64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])))
                    .collect()
            } else {
                t.double_data.clone()
            },
        },
        DataType::String => Sym::Strings {
            v: t.string_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        },
        _ => {
            return Err(Error::onnx(
                what,
                format!(
                    "has type {}, which optbench does not read",
                    ty.as_str_name()
                ),
            ))
        }
    })
}
