//! Requests into rows of typed cells: the Open Inference Protocol's
//! tensors (one per column, `[N, 1]`, or one `[N, F]` tensor for an
//! all-numeric schema) and plain JSON objects (`{"column": value}`), both
//! read the way the CSV path reads a file (`InputSchema::parse_field`), so a
//! served row predicts what `optbench predict` predicts.

use crate::data::{FeatureKind, InputSchema, Value};
use serde::Deserialize;
use serde_json::Value as Json;

/// A request the server refuses, with the status it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

pub(crate) fn bad(message: impl Into<String>) -> Refused {
    Refused {
        status: 400,
        message: message.into(),
    }
}

/// One cell as the request sent it, before the schema reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    Null,
    Number(f64),
    Text(&'a str),
}

impl<'a> Cell<'a> {
    fn from_json(v: &'a Json) -> Option<Cell<'a>> {
        match v {
            Json::Null => Some(Cell::Null),
            Json::Number(n) => n.as_f64().map(Cell::Number),
            Json::String(s) => Some(Cell::Text(s)),
            _ => None,
        }
    }

    /// The cell as column `j` of `schema` reads it: text as the CSV path
    /// parses it (so `"NA"` or `""` is missing and `"3.5"` a number in a
    /// numeric column), a number as itself, `null` as missing. A number for
    /// a categorical column is refused: categories are text, and the text a
    /// client meant (`"7"`, `"7.0"`) cannot be told from the number.
    pub(crate) fn value(&self, schema: &InputSchema, j: usize) -> Result<Value<'a>, String> {
        match *self {
            Cell::Null => Ok(Value::Missing),
            Cell::Text(s) => Ok(schema.parse_field(j, s)),
            Cell::Number(x) => match schema.features[j].kind {
                FeatureKind::Numeric => Ok(Value::Number(x)),
                FeatureKind::Categorical => Err(format!(
                    "expected a category as text (a JSON string), found the number {x}"
                )),
            },
        }
    }
}

/// An inference request of the Open Inference Protocol (REST).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    pub inputs: Vec<InputTensor>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
    #[serde(default)]
    #[allow(dead_code)] // accepted as the protocol allows; none is used
    pub parameters: Option<Json>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InputTensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    pub data: Json,
    #[serde(default)]
    #[allow(dead_code)] // accepted as the protocol allows; none is used
    pub parameters: Option<Json>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RequestedOutput {
    pub name: String,
}

const NUMERIC_TYPES: [&str; 11] = [
    "FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16",
    "UINT8",
];

/// The tensor's data in row-major order (the protocol allows nested
/// arrays as well as a flat one).
fn flatten<'a>(data: &'a Json, out: &mut Vec<&'a Json>) {
    match data {
        Json::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// The cells of a tensor, checked against its datatype: numbers (or
/// `null` for a missing value) for the numeric types, strings (or `null`)
/// for `BYTES`.
fn tensor_cells<'a>(t: &'a InputTensor) -> Result<Vec<Cell<'a>>, Refused> {
    let mut flat = Vec::new();
    flatten(&t.data, &mut flat);
    let numeric = NUMERIC_TYPES.contains(&t.datatype.as_str());
    if !numeric && t.datatype != "BYTES" {
        return Err(bad(format!(
            "input `{}`: datatype `{}` is not served; expected BYTES or one of {}",
            t.name,
            t.datatype,
            NUMERIC_TYPES.join(", ")
        )));
    }
    flat.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let cell = Cell::from_json(v);
            match (cell, numeric) {
                (Some(c @ (Cell::Null | Cell::Number(_))), true) => Ok(c),
                (Some(c @ (Cell::Null | Cell::Text(_))), false) => Ok(c),
                _ => Err(bad(format!(
                    "input `{}`, element {i}: {} is not a {} value",
                    t.name,
                    v,
                    if numeric { "number" } else { "string (BYTES)" }
                ))),
            }
        })
        .collect()
}

/// The rows count a `[N, …]` shape gives, checked against the data.
fn rows_of(t: &InputTensor, width: usize, n_cells: usize) -> Result<usize, Refused> {
    let shape_ok = match t.shape[..] {
        [n] if width == 1 => Some(n),
        [n, w] if w == width as i64 => Some(n),
        _ => None,
    };
    match shape_ok {
        Some(n) if n >= 0 && n as usize * width == n_cells => Ok(n as usize),
        _ => Err(bad(format!(
            "input `{}`: shape {:?} with {} values; expected [N, {width}] (or [N]) holding N × {width} values",
            t.name, t.shape, n_cells
        ))),
    }
}

/// Cells of every row, column by column in schema order, from the request's
/// tensors: one tensor a column (named as the column), or one `[N, F]`
/// tensor of numbers when every column is numeric.
pub(crate) fn v2_rows<'a>(
    req: &'a InferRequest,
    schema: &InputSchema,
) -> Result<Vec<Vec<Cell<'a>>>, Refused> {
    let f = schema.len();
    if req.inputs.is_empty() {
        return Err(bad("the request has no inputs"));
    }
    // One tensor holding every column.
    if let [t] = &req.inputs[..] {
        if f > 1 && t.shape.len() == 2 && t.shape[1] == f as i64 {
            if !schema.is_numeric() {
                return Err(bad(format!(
                    "input `{}`: one [N, {f}] tensor serves an all-numeric model; this model has categorical columns, so send one tensor per column",
                    t.name
                )));
            }
            let cells = tensor_cells(t)?;
            let n = rows_of(t, f, cells.len())?;
            let mut cols = vec![Vec::with_capacity(n); f];
            for (i, c) in cells.into_iter().enumerate() {
                cols[i % f].push(c);
            }
            return Ok(cols);
        }
    }
    let mut cols: Vec<Option<Vec<Cell<'a>>>> = vec![None; f];
    let mut n_rows = None;
    for t in &req.inputs {
        let Some(j) = schema.features.iter().position(|c| c.name == t.name) else {
            let names: Vec<&str> = schema.features.iter().map(|c| c.name.as_str()).collect();
            return Err(bad(format!(
                "input `{}` is not a column of the model; its columns are: {}",
                t.name,
                names.join(", ")
            )));
        };
        if cols[j].is_some() {
            return Err(bad(format!("input `{}` is given twice", t.name)));
        }
        let cells = tensor_cells(t)?;
        let n = rows_of(t, 1, cells.len())?;
        if *n_rows.get_or_insert(n) != n {
            return Err(bad(format!(
                "input `{}` has {n} rows where the others have {}",
                t.name,
                n_rows.unwrap_or(0)
            )));
        }
        cols[j] = Some(cells);
    }
    cols.into_iter()
        .enumerate()
        .map(|(j, c)| {
            c.ok_or_else(|| {
                bad(format!(
                    "missing input `{}` ({}), which the model needs",
                    schema.features[j].name,
                    kind_name(schema.features[j].kind)
                ))
            })
        })
        .collect()
}

fn kind_name(kind: FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Numeric => "numeric: FP64, FP32 or INT64",
        FeatureKind::Categorical => "categorical: BYTES",
    }
}

/// Cells of every row, column by column in schema order, from the plain
/// JSON form: `{"rows": [{"column": value, …}, …]}` or one such object.
pub(crate) fn json_rows<'a>(
    body: &'a Json,
    schema: &InputSchema,
) -> Result<Vec<Vec<Cell<'a>>>, Refused> {
    let rows: Vec<&Json> = match body.get("rows") {
        Some(Json::Array(rows)) => rows.iter().collect(),
        Some(_) => return Err(bad("`rows` must be an array of objects")),
        None if body.is_object() => vec![body],
        None => return Err(bad("expected an object, or {\"rows\": [objects]}")),
    };
    let mut cols = vec![Vec::with_capacity(rows.len()); schema.len()];
    for (r, row) in rows.iter().enumerate() {
        let Json::Object(fields) = row else {
            return Err(bad(format!("row {r}: expected an object of column values")));
        };
        for (name, v) in fields {
            if !schema.features.iter().any(|c| &c.name == name) {
                return Err(bad(format!(
                    "row {r}: `{name}` is not a column of the model"
                )));
            }
            if Cell::from_json(v).is_none() {
                return Err(bad(format!(
                    "row {r}, column `{name}`: {v} is not a number, a string or null"
                )));
            }
        }
        for (j, c) in schema.features.iter().enumerate() {
            let Some(v) = fields.get(&c.name) else {
                return Err(bad(format!(
                    "row {r}: missing column `{}` ({}), which the model needs (null for a missing value)",
                    c.name,
                    match c.kind {
                        FeatureKind::Numeric => "numeric",
                        FeatureKind::Categorical => "categorical",
                    }
                )));
            };
            // Checked above.
            cols[j].push(Cell::from_json(v).unwrap_or(Cell::Null));
        }
    }
    Ok(cols)
}
