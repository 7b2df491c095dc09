//! What a served row must look like, and how a text field becomes a value.
//!
//! A raw row is a slice of [`Value`]s, one per input column in schema order:
//! numbers for numeric columns, text for categorical ones, or `Missing`.
//! Parsing is lenient ([`InputSchema::parse_field`] never fails) and
//! validation is strict ([`InputSchema::validate_row`] names the first bad
//! column), so one function decides what is acceptable, for `run`, `bench`
//! and `predict` alike. Neither allocates: both run on every request.

use serde::{Deserialize, Serialize};

/// Tokens read as a missing value (compared case-insensitively).
pub const MISSING_TOKENS: [&str; 6] = ["", "na", "n/a", "nan", "null", "none"];

/// Whether a text field stands for a missing value.
pub fn is_missing(cell: &str) -> bool {
    MISSING_TOKENS.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

/// What kind of values a feature column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

impl std::fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub kind: FeatureKind,
}

/// One cell of a raw row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
}

/// A served row in one of the two forms serving takes: typed cells (any
/// schema), or, for an all-numeric schema, plain numbers with `NaN` for a
/// missing value, the form a numeric client sends (a numpy row, a JSON
/// array) and 8 bytes a cell where a tagged [`Value`] is 24. Reading and
/// checking 20 tagged cells costs 23–31 ns, as much as a logistic
/// regression; 20 numbers are checked and transformed in a few vector
/// instructions (`cargo bench --bench predict`, `end_to_end` against
/// `end_to_end_numbers`). Both forms give the same model input, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Request<'r, 'a> {
    Cells(&'r [Value<'a>]),
    Numbers(&'r [f64]),
}

impl Request<'_, '_> {
    pub fn form(&self) -> RequestForm {
        match self {
            Request::Cells(_) => RequestForm::Cells,
            Request::Numbers(_) => RequestForm::Numbers,
        }
    }
}

/// Which form of [`Request`] a measurement served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestForm {
    /// Typed cells ([`Value`]s).
    #[default]
    Cells,
    /// Plain numbers, `NaN` missing.
    Numbers,
}

impl RequestForm {
    /// How a report words it.
    pub fn describe(self) -> &'static str {
        match self {
            RequestForm::Cells => "rows of typed cells (numbers, categories, missing)",
            RequestForm::Numbers => "rows of numbers (NaN for missing)",
        }
    }
}

/// Why a row was refused. Carries no strings, so refusing a row costs no
/// allocation; [`Invalid::message`] words it when someone reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Invalid {
    /// The row has `found` values where the schema has `expected` columns.
    Width { expected: usize, found: usize },
    /// Text in a numeric column.
    NotANumber { column: usize },
    /// ±inf in a numeric column.
    NotFinite { column: usize, value: f64 },
    /// A number given for a categorical column (a caller bug: text parsed by
    /// [`InputSchema::parse_field`] never produces it).
    NotText { column: usize },
}

impl Invalid {
    /// The column the problem is in (`None` for a row of the wrong width).
    pub fn column(&self) -> Option<usize> {
        match *self {
            Invalid::Width { .. } => None,
            Invalid::NotANumber { column }
            | Invalid::NotFinite { column, .. }
            | Invalid::NotText { column } => Some(column),
        }
    }

    /// As the library's error, for a row numbered `row` by the caller.
    pub fn to_error(&self, schema: &InputSchema, row: usize) -> crate::Error {
        let (column, message) = self.message(schema, None);
        crate::Error::Input {
            row,
            column,
            message,
        }
    }

    /// The column's name (`*` for the whole row) and what was wrong, with
    /// `field` the offending text when the caller still has it.
    pub fn message(&self, schema: &InputSchema, field: Option<&str>) -> (String, String) {
        let name = self
            .column()
            .and_then(|j| schema.features.get(j))
            .map_or_else(|| "*".to_string(), |f| f.name.clone());
        let found = field.map_or(String::new(), |f| format!(", found `{f}`"));
        let message = match *self {
            Invalid::Width { expected, found } => {
                format!("expected {expected} values, found {found}")
            }
            Invalid::NotANumber { .. } => {
                format!("expected a number (or an empty cell / NA for a missing value){found}")
            }
            Invalid::NotFinite { value, .. } => {
                format!("expected a finite number, found {value}")
            }
            Invalid::NotText { .. } => "expected a category (text), found a number".into(),
        };
        (name, message)
    }
}

/// The input columns a model serves, in order, with their kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSchema {
    pub features: Vec<FeatureSpec>,
}

impl InputSchema {
    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Position of the column called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }

    /// Reads one text field for column `j`: a missing token is `Missing`; in
    /// a numeric column anything that parses as `f64` (infinities included)
    /// is a `Number` and the rest stays `Text` for validation to refuse; in a
    /// categorical column every other field is `Text`.
    #[inline]
    pub fn parse_field<'a>(&self, j: usize, field: &'a str) -> Value<'a> {
        if is_missing(field) {
            return Value::Missing;
        }
        match self.features[j].kind {
            FeatureKind::Numeric => field
                .parse::<f64>()
                .map_or(Value::Text(field), Value::Number),
            FeatureKind::Categorical => Value::Text(field),
        }
    }

    /// Whether every column is numeric: requests may then come as plain
    /// numbers ([`Request::Numbers`]).
    pub fn is_numeric(&self) -> bool {
        self.features.iter().all(|f| f.kind == FeatureKind::Numeric)
    }

    /// [`Self::validate_row`] for either form of request. A row of numbers
    /// is refused for a schema with a categorical column (at its first one),
    /// and a `NaN` in it is a missing value.
    #[inline]
    pub fn validate(&self, request: Request<'_, '_>) -> Result<(), Invalid> {
        match request {
            Request::Cells(row) => self.validate_row(row),
            Request::Numbers(row) => {
                if row.len() != self.features.len() {
                    return Err(Invalid::Width {
                        expected: self.features.len(),
                        found: row.len(),
                    });
                }
                if let Some(column) = self
                    .features
                    .iter()
                    .position(|f| f.kind == FeatureKind::Categorical)
                {
                    return Err(Invalid::NotText { column });
                }
                match row.iter().position(|x| x.is_infinite()) {
                    Some(column) => Err(Invalid::NotFinite {
                        column,
                        value: row[column],
                    }),
                    None => Ok(()),
                }
            }
        }
    }

    /// Checks one raw row: its width, a finite number or `Missing` in every
    /// numeric column, text or `Missing` in every categorical one. Unknown
    /// categories are valid (the one-hot encoder ignores them).
    #[inline]
    pub fn validate_row(&self, row: &[Value<'_>]) -> Result<(), Invalid> {
        if row.len() != self.features.len() {
            return Err(Invalid::Width {
                expected: self.features.len(),
                found: row.len(),
            });
        }
        for (column, (v, f)) in row.iter().zip(&self.features).enumerate() {
            f.kind.check(column, *v)?;
        }
        Ok(())
    }
}

impl FeatureKind {
    /// Whether `v` can be a value of column `column` of this kind: missing
    /// anywhere, a finite number in a numeric column, text in a categorical
    /// one. The one statement of what serving accepts, used by
    /// [`InputSchema::validate_row`] and by the pipeline's one-pass serving
    /// path ([`crate::pipeline::RowPlan::transform_checked`]).
    #[inline(always)]
    pub fn check(self, column: usize, v: Value<'_>) -> Result<(), Invalid> {
        match (self, v) {
            (_, Value::Missing) => Ok(()),
            (FeatureKind::Numeric, Value::Number(value)) => {
                if value.is_finite() {
                    Ok(())
                } else {
                    Err(Invalid::NotFinite { column, value })
                }
            }
            (FeatureKind::Numeric, Value::Text(_)) => Err(Invalid::NotANumber { column }),
            (FeatureKind::Categorical, Value::Text(_)) => Ok(()),
            (FeatureKind::Categorical, Value::Number(_)) => Err(Invalid::NotText { column }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> InputSchema {
        InputSchema {
            features: vec![
                FeatureSpec {
                    name: "a".into(),
                    kind: FeatureKind::Numeric,
                },
                FeatureSpec {
                    name: "city".into(),
                    kind: FeatureKind::Categorical,
                },
            ],
        }
    }

    #[test]
    fn parsing_is_lenient_and_validation_names_the_column() {
        let s = schema();
        assert_eq!(s.parse_field(0, "NA"), Value::Missing);
        assert_eq!(s.parse_field(0, "null"), Value::Missing);
        assert_eq!(s.parse_field(0, "-1.5e3"), Value::Number(-1500.0));
        assert_eq!(s.parse_field(1, "12"), Value::Text("12"));
        assert_eq!(s.parse_field(1, ""), Value::Missing);
        let row = [s.parse_field(0, "oops"), s.parse_field(1, "Paris")];
        let e = s.validate_row(&row).unwrap_err();
        assert_eq!(e, Invalid::NotANumber { column: 0 });
        let (col, msg) = e.message(&s, Some("oops"));
        assert_eq!(col, "a");
        assert!(msg.ends_with("found `oops`"), "{msg}");
        let inf = [s.parse_field(0, "inf"), Value::Missing];
        assert!(matches!(
            s.validate_row(&inf),
            Err(Invalid::NotFinite { column: 0, .. })
        ));
        assert!(matches!(
            s.validate_row(&[Value::Missing]),
            Err(Invalid::Width {
                expected: 2,
                found: 1
            })
        ));
        s.validate_row(&[Value::Number(1.0), Value::Text("never seen")])
            .unwrap();
        assert_eq!(
            s.validate_row(&[Value::Number(1.0), Value::Number(2.0)]),
            Err(Invalid::NotText { column: 1 })
        );
    }
}
