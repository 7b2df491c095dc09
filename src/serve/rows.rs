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
    /// Read for `binary_data_output` (every output in binary); the rest
    /// the protocol allows is accepted and unused.
    #[serde(default)]
    pub parameters: Option<Json>,
}

impl InferRequest {
    /// Whether the request asks for every output in binary form (Triton's
    /// binary tensor extension; what `tritonclient` asks when it names no
    /// outputs).
    pub fn binary_output(&self) -> bool {
        flag(self.parameters.as_ref(), "binary_data_output")
    }
}

/// A boolean parameter, false when absent.
fn flag(parameters: Option<&Json>, key: &str) -> bool {
    parameters
        .and_then(|p| p.get(key))
        .and_then(Json::as_bool)
        .unwrap_or(false)
}

#[derive(Debug, Deserialize)]
pub(crate) struct InputTensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    /// The values in JSON; absent when they follow the JSON in binary
    /// (`parameters.binary_data_size`).
    #[serde(default)]
    pub data: Option<Json>,
    #[serde(default)]
    pub parameters: Option<Json>,
}

impl InputTensor {
    /// The size of the tensor's binary data after the JSON header, if sent
    /// so.
    fn binary_size(&self) -> Option<u64> {
        self.parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
            .and_then(Json::as_u64)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RequestedOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Json>,
}

impl RequestedOutput {
    /// Whether this output is asked for in binary form.
    pub fn binary(&self) -> bool {
        flag(self.parameters.as_ref(), "binary_data")
    }
}

const NUMERIC_TYPES: [&str; 11] = [
    "FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16",
    "UINT8",
];

/// The request's JSON header and binary tail: with Triton's binary tensor
/// extension the `Inference-Header-Content-Length` header gives the JSON's
/// length and the tensors' bytes follow it; without it the body is JSON.
pub(crate) fn split_body<'b>(
    body: &'b [u8],
    header_length: Option<&str>,
) -> Result<(&'b [u8], &'b [u8]), Refused> {
    let Some(text) = header_length else {
        return Ok((body, &[]));
    };
    match text.trim().parse::<usize>() {
        Ok(n) if n <= body.len() => Ok(body.split_at(n)),
        _ => Err(bad(format!(
            "Inference-Header-Content-Length `{text}`: expected the JSON header's length in bytes, at most the body's {}",
            body.len()
        ))),
    }
}

/// The data in row-major order (the protocol allows nested arrays as well
/// as a flat one).
fn flatten<'a>(data: &'a Json, out: &mut Vec<&'a Json>) {
    match data {
        Json::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// The cells of a tensor, checked against its datatype: numbers (or
/// `null` for a missing value) for the numeric types, strings (or `null`)
/// for `BYTES`; from its JSON `data`, or from `binary`, its bytes after
/// the JSON header.
fn tensor_cells<'a>(t: &'a InputTensor, binary: &'a [u8]) -> Result<Vec<Cell<'a>>, Refused> {
    let numeric = NUMERIC_TYPES.contains(&t.datatype.as_str());
    if !numeric && t.datatype != "BYTES" {
        return Err(bad(format!(
            "input `{}`: datatype `{}` is not served; expected BYTES or one of {}",
            t.name,
            t.datatype,
            NUMERIC_TYPES.join(", ")
        )));
    }
    let Some(data) = &t.data else {
        return binary_cells(t, binary);
    };
    let mut flat = Vec::new();
    flatten(data, &mut flat);
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

/// The cells of a tensor sent in binary: numbers little-endian (a float
/// `NaN` is a missing value, binary having no `null`), `BYTES` elements as
/// a 4-byte little-endian length and that many bytes of UTF-8.
fn binary_cells<'a>(t: &InputTensor, bytes: &'a [u8]) -> Result<Vec<Cell<'a>>, Refused> {
    let name = &t.name;
    let number = |x: f64| {
        if x.is_nan() {
            Cell::Null
        } else {
            Cell::Number(x)
        }
    };
    macro_rules! fixed {
        ($ty:ty) => {{
            const W: usize = std::mem::size_of::<$ty>();
            let chunks = bytes.chunks_exact(W);
            if !chunks.remainder().is_empty() {
                return Err(bad(format!(
                    "input `{name}`: {} bytes of binary data are not a whole number of {} values ({W} bytes each)",
                    bytes.len(),
                    t.datatype
                )));
            }
            chunks
                .map(|c| {
                    let mut b = [0u8; W];
                    b.copy_from_slice(c);
                    number(<$ty>::from_le_bytes(b) as f64)
                })
                .collect()
        }};
    }
    Ok(match t.datatype.as_str() {
        "FP64" => fixed!(f64),
        "FP32" => fixed!(f32),
        "INT64" => fixed!(i64),
        "INT32" => fixed!(i32),
        "INT16" => fixed!(i16),
        "INT8" => fixed!(i8),
        "UINT64" => fixed!(u64),
        "UINT32" => fixed!(u32),
        "UINT16" => fixed!(u16),
        "UINT8" => fixed!(u8),
        "BYTES" => {
            let mut cells = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let i = cells.len();
                let (len, tail) = match rest.split_first_chunk::<4>() {
                    Some((len, tail)) => (u32::from_le_bytes(*len) as usize, tail),
                    None => {
                        return Err(bad(format!(
                            "input `{name}`, element {i}: binary BYTES data ends inside a length prefix"
                        )))
                    }
                };
                if len > tail.len() {
                    return Err(bad(format!(
                        "input `{name}`, element {i}: binary BYTES length {len} runs past the data ({} bytes left)",
                        tail.len()
                    )));
                }
                let (value, tail) = tail.split_at(len);
                let text = std::str::from_utf8(value).map_err(|e| {
                    bad(format!("input `{name}`, element {i}: not UTF-8 text ({e})"))
                })?;
                cells.push(Cell::Text(text));
                rest = tail;
            }
            cells
        }
        other => {
            return Err(bad(format!(
                "input `{name}`: datatype `{other}` is not served in binary; send it as JSON data"
            )))
        }
    })
}

/// Each input's binary data, in the order the inputs come: a slice of the
/// binary tail per input that declares `binary_data_size` (empty for the
/// others), the sizes adding up to the tail's length.
fn binary_parts<'b>(req: &InferRequest, binary: &'b [u8]) -> Result<Vec<&'b [u8]>, Refused> {
    let mut rest = binary;
    let mut parts = Vec::with_capacity(req.inputs.len());
    for t in &req.inputs {
        match (t.binary_size(), &t.data) {
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "input `{}`: both `data` and `binary_data_size`; send one",
                    t.name
                )))
            }
            (None, None) => {
                return Err(bad(format!(
                    "input `{}` has no data (neither `data` nor `parameters.binary_data_size`)",
                    t.name
                )))
            }
            (None, Some(_)) => parts.push(&rest[..0]),
            (Some(size), None) => {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if size > rest.len() {
                    return Err(bad(format!(
                        "input `{}`: binary_data_size {size} but only {} bytes of binary data are left",
                        t.name,
                        rest.len()
                    )));
                }
                let (part, tail) = rest.split_at(size);
                parts.push(part);
                rest = tail;
            }
        }
    }
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} bytes of binary data after the inputs' declared sizes",
            rest.len()
        )));
    }
    Ok(parts)
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
    binary: &'a [u8],
    schema: &InputSchema,
) -> Result<Vec<Vec<Cell<'a>>>, Refused> {
    let f = schema.len();
    if req.inputs.is_empty() {
        return Err(bad("the request has no inputs"));
    }
    let parts = binary_parts(req, binary)?;
    // One tensor holding every column.
    if let [t] = &req.inputs[..] {
        if f > 1 && t.shape.len() == 2 && t.shape[1] == f as i64 {
            if !schema.is_numeric() {
                return Err(bad(format!(
                    "input `{}`: one [N, {f}] tensor serves an all-numeric model; this model has categorical columns, so send one tensor per column",
                    t.name
                )));
            }
            let cells = tensor_cells(t, parts[0])?;
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
    for (t, part) in req.inputs.iter().zip(parts) {
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
        let cells = tensor_cells(t, part)?;
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
