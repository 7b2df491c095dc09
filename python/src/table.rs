//! One Arrow record batch, imported through the C data interface and read
//! cell by cell as the library's `Columns`. The arrays stay where their
//! producer (pyarrow) put them: a float64 column is read in place; other
//! numeric types are widened per cell; text columns (string, large string,
//! string view, dictionary of strings) are read as CSV fields are.

use crate::OptbenchError;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Decimal256Type, DecimalType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray, StructArray};
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::DataType;
use optbench::artifact::Columns;
use optbench::data::{FeatureKind, InputSchema, Value};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// One column, typed once so that reading a cell is a match and an index.
enum Col {
    /// A column the schema does not use: never read.
    Unused,
    /// Arrow's null type: every cell missing.
    Null,
    F64(PrimitiveArray<Float64Type>),
    F32(PrimitiveArray<Float32Type>),
    I8(PrimitiveArray<Int8Type>),
    I16(PrimitiveArray<Int16Type>),
    I32(PrimitiveArray<Int32Type>),
    I64(PrimitiveArray<Int64Type>),
    U8(PrimitiveArray<UInt8Type>),
    U16(PrimitiveArray<UInt16Type>),
    U32(PrimitiveArray<UInt32Type>),
    U64(PrimitiveArray<UInt64Type>),
    /// Decimals (a warehouse's money and measures, as Spark and Parquet
    /// hold them): read as the number their text is.
    Dec128(PrimitiveArray<Decimal128Type>),
    Dec256(PrimitiveArray<Decimal256Type>),
    Utf8(arrow_array::StringArray),
    LargeUtf8(arrow_array::LargeStringArray),
    View(arrow_array::StringViewArray),
    /// A dictionary of strings: each row's key into `values` (`None`:
    /// missing).
    Dict {
        keys: Vec<Option<usize>>,
        values: Box<Col>,
    },
}

macro_rules! number {
    ($a:expr, $row:expr) => {
        if $a.is_null($row) {
            Value::Missing
        } else {
            // Widening to f64 rounds to nearest, as parsing the same
            // integer's text does.
            Value::Number($a.value($row) as f64)
        }
    };
}

impl Col {
    fn is_text(&self) -> bool {
        matches!(
            self,
            Col::Utf8(_) | Col::LargeUtf8(_) | Col::View(_) | Col::Dict { .. }
        )
    }

    /// The column as read, or why it cannot be.
    fn new(array: &ArrayRef) -> Result<Col, String> {
        Ok(match array.data_type() {
            DataType::Null => Col::Null,
            DataType::Float64 => Col::F64(array.as_primitive().clone()),
            DataType::Float32 => Col::F32(array.as_primitive().clone()),
            DataType::Int8 => Col::I8(array.as_primitive().clone()),
            DataType::Int16 => Col::I16(array.as_primitive().clone()),
            DataType::Int32 => Col::I32(array.as_primitive().clone()),
            DataType::Int64 => Col::I64(array.as_primitive().clone()),
            DataType::UInt8 => Col::U8(array.as_primitive().clone()),
            DataType::UInt16 => Col::U16(array.as_primitive().clone()),
            DataType::UInt32 => Col::U32(array.as_primitive().clone()),
            DataType::UInt64 => Col::U64(array.as_primitive().clone()),
            DataType::Decimal128(..) => Col::Dec128(array.as_primitive().clone()),
            DataType::Decimal256(..) => Col::Dec256(array.as_primitive().clone()),
            DataType::Utf8 => Col::Utf8(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Col::LargeUtf8(array.as_string::<i64>().clone()),
            DataType::Utf8View => Col::View(array.as_string_view().clone()),
            DataType::Dictionary(_, value_type)
                if matches!(
                    value_type.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                let dict = array.as_any_dictionary_opt().ok_or_else(|| {
                    format!("cannot read the dictionary type {}", array.data_type())
                })?;
                let values = Col::new(dict.values())?;
                let keys = dict
                    .normalized_keys()
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| (!array.is_null(i)).then_some(k))
                    .collect();
                Col::Dict {
                    keys,
                    values: Box::new(values),
                }
            }
            t => {
                return Err(format!(
                    "the Arrow type {t} is not read (expected numbers or text)"
                ))
            }
        })
    }

    #[inline]
    fn value(&self, row: usize) -> Value<'_> {
        match self {
            Col::Unused | Col::Null => Value::Missing,
            Col::F64(a) => number!(a, row),
            Col::F32(a) => number!(a, row),
            Col::I8(a) => number!(a, row),
            Col::I16(a) => number!(a, row),
            Col::I32(a) => number!(a, row),
            Col::I64(a) => number!(a, row),
            Col::U8(a) => number!(a, row),
            Col::U16(a) => number!(a, row),
            Col::U32(a) => number!(a, row),
            Col::U64(a) => number!(a, row),
            Col::Dec128(a) => decimal128(a, row),
            Col::Dec256(a) => decimal_text(a, row),
            Col::Utf8(a) => text(a, row),
            Col::LargeUtf8(a) => text(a, row),
            Col::View(a) => {
                if a.is_null(row) {
                    Value::Missing
                } else {
                    Value::Text(a.value(row))
                }
            }
            Col::Dict { keys, values } => match keys[row] {
                Some(k) => values.value(k),
                None => Value::Missing,
            },
        }
    }
}

/// The powers of ten an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal `m × 10^-scale` as the f64 its text parses to. When `m` and
/// `10^scale` are exact in an f64 (|m| < 2^53, 0 ≤ scale ≤ 22) one
/// division, correctly rounded, gives that f64 (Clinger's fast path);
/// otherwise the text itself is parsed.
#[inline]
fn decimal128(a: &PrimitiveArray<Decimal128Type>, row: usize) -> Value<'static> {
    if a.is_null(row) {
        return Value::Missing;
    }
    let (m, scale) = (a.value(row), a.scale());
    if m.unsigned_abs() < 1 << 53 && (0..=22).contains(&scale) {
        return Value::Number(m as f64 / POW10[scale as usize]);
    }
    decimal_text(a, row)
}

fn decimal_text<T: DecimalType>(a: &PrimitiveArray<T>, row: usize) -> Value<'static> {
    if a.is_null(row) {
        return Value::Missing;
    }
    // Arrow formats a decimal as plain digits, a sign and a point, which
    // always parse; were one not to, NaN reads as a missing cell.
    Value::Number(a.value_as_string(row).parse().unwrap_or(f64::NAN))
}

#[inline]
fn text<O: arrow_array::OffsetSizeTrait>(
    a: &arrow_array::GenericStringArray<O>,
    row: usize,
) -> Value<'_> {
    if a.is_null(row) {
        Value::Missing
    } else {
        Value::Text(a.value(row))
    }
}

/// A record batch as the library reads it.
pub struct Table {
    names: Vec<String>,
    columns: Vec<Col>,
    rows: usize,
}

impl Table {
    /// Imports `batch` (anything with `__arrow_c_array__` giving a struct
    /// array: a pyarrow `RecordBatch`) and types the columns `schema` uses;
    /// a column whose type cannot hold its schema kind is refused here,
    /// naming it.
    pub fn import(batch: &Bound<'_, PyAny>, schema: &InputSchema) -> PyResult<Table> {
        let (schema_capsule, array_capsule): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = batch
            .call_method0("__arrow_c_array__")
            .map_err(|e| {
                PyTypeError::new_err(format!(
                    "expected a pyarrow RecordBatch (an object with __arrow_c_array__): {e}"
                ))
            })?
            .extract()?;
        let schema_ptr =
            capsule_pointer(&schema_capsule, c"arrow_schema")? as *const FFI_ArrowSchema;
        let array_ptr = capsule_pointer(&array_capsule, c"arrow_array")? as *mut FFI_ArrowArray;
        // SAFETY: the capsules are the Arrow C data interface's, named as it
        // names them (checked above) and alive for this call; `from_raw`
        // moves the array out and marks the capsule's copy released, so
        // the buffers are freed once, when the arrays here are dropped.
        let data = unsafe {
            let array = FFI_ArrowArray::from_raw(array_ptr);
            arrow_array::ffi::from_ffi(array, &*schema_ptr)
        }
        .map_err(|e| OptbenchError::new_err(format!("cannot import the Arrow batch: {e}")))?;
        let DataType::Struct(fields) = data.data_type().clone() else {
            return Err(PyTypeError::new_err(format!(
                "expected a record batch (an Arrow struct array), found {}",
                data.data_type()
            )));
        };
        let batch = StructArray::from(data);
        let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        let mut columns = Vec::with_capacity(names.len());
        for (name, array) in names.iter().zip(batch.columns()) {
            let Some(j) = schema.position(name) else {
                columns.push(Col::Unused);
                continue;
            };
            let col = Col::new(array)
                .map_err(|m| PyTypeError::new_err(format!("column `{name}`: {m}")))?;
            if schema.features[j].kind == FeatureKind::Categorical
                && !col.is_text()
                && !matches!(col, Col::Null)
            {
                return Err(PyTypeError::new_err(format!(
                    "column `{name}` is categorical: expected text (string or a dictionary of strings), found {}; categories are compared as text, so convert it, e.g. df[\"{name}\"].astype(str)",
                    array.data_type()
                )));
            }
            columns.push(col);
        }
        Ok(Table {
            names,
            columns,
            rows: batch.len(),
        })
    }
}

/// The pointer a capsule holds, once its name is the one Arrow gives it.
fn capsule_pointer(
    capsule: &Bound<'_, PyCapsule>,
    name: &std::ffi::CStr,
) -> PyResult<*mut std::ffi::c_void> {
    capsule
        .pointer_checked(Some(name))
        .map(std::ptr::NonNull::as_ptr)
        .map_err(|e| PyTypeError::new_err(format!("expected an Arrow capsule named {name:?}: {e}")))
}

impl Columns for Table {
    fn n_rows(&self) -> usize {
        self.rows
    }

    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    #[inline]
    fn value(&self, column: usize, row: usize) -> Value<'_> {
        self.columns[column].value(row)
    }
}
