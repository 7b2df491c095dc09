//! Reading a drift input: a CSV file whose columns are numeric or
//! categorical. A column is numeric when every non-missing cell parses as a
//! finite number; missing cells are the tokens the training reader accepts
//! (empty, `NA`, `N/A`, `NaN`, `null`, `none`, any case).
//!
//! Rows stream through once: a categorical column keeps only its category
//! counts; a numeric column keeps its values (the exact KS test and the
//! Wasserstein distance need every value, sorted). A column that turns out
//! to be categorical part-way through makes the reader start again with that
//! column known — in practice it is the first data row that tells.

use crate::data::{csv_error, is_missing, CrlfToLf};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Numeric,
    Categorical,
}

/// A column's kind fixed in advance, and what fixed it (for the message
/// when a cell disagrees), e.g. `"the model's schema"`.
pub type Known = HashMap<String, (Kind, &'static str)>;

/// Name used for the bucket of missing cells in a categorical column.
pub const MISSING_CATEGORY: &str = "(missing)";

#[derive(Debug, Clone)]
pub enum Values {
    /// One value per row, `NaN` where the cell is missing.
    Numeric(Vec<f64>),
    /// Rows per category (missing cells under [`MISSING_CATEGORY`]).
    Categorical(BTreeMap<String, u64>),
}

impl Values {
    pub fn kind(&self) -> Kind {
        match self {
            Values::Numeric(_) => Kind::Numeric,
            Values::Categorical(_) => Kind::Categorical,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

/// A file read for drift: its feature columns in file order and, when asked
/// for and present, the label of every row.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub rows: usize,
    pub columns: Vec<Column>,
    /// Labels as written, one per row, when the target column is present.
    pub labels: Option<Vec<String>>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads `path`. `target` (when given and present) is set aside as labels;
/// `known` fixes the kind of some columns: a cell that is not a number in a
/// column known to be numeric is an error naming its line and column.
pub fn read_table(path: &Path, target: Option<&str>, known: &Known) -> Result<Table> {
    let mut categorical: BTreeSet<usize> = BTreeSet::new();
    loop {
        match read_pass(path, target, known, &categorical)? {
            Pass::Done(t) => return Ok(t),
            Pass::Restart(more) => categorical.extend(more),
        }
    }
}

enum Pass {
    Done(Table),
    /// These columns turned out to be categorical: read again.
    Restart(Vec<usize>),
}

enum Acc {
    Numeric(Vec<f64>),
    Categorical(HashMap<String, u64>),
    Target(Vec<String>),
}

fn read_pass(
    path: &Path,
    target: Option<&str>,
    known: &Known,
    categorical: &BTreeSet<usize>,
) -> Result<Pass> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(CrlfToLf::new(std::io::BufReader::with_capacity(
            1 << 20,
            file,
        )));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(Error::data(
            path,
            "the file is empty: expected a header line",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            return Err(Error::data(
                path,
                format!("header column {} has no name", i + 1),
            ));
        }
        if !seen.insert(h.as_str()) {
            return Err(Error::data(
                path,
                format!("column `{h}` appears twice in the header"),
            ));
        }
    }
    let target_col = target.and_then(|t| header.iter().position(|h| h == t));
    let mut acc: Vec<Acc> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if Some(i) == target_col {
                Acc::Target(Vec::new())
            } else if categorical.contains(&i)
                || known.get(h).is_some_and(|k| k.0 == Kind::Categorical)
            {
                Acc::Categorical(HashMap::new())
            } else {
                Acc::Numeric(Vec::new())
            }
        })
        .collect();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        if record.iter().all(|f| f.trim_ascii().is_empty()) {
            continue; // a blank line, e.g. at the end of the file
        }
        let line = record.position().map_or(0, |p| p.line());
        let text = |i: usize, raw: &[u8]| -> Result<String> {
            std::str::from_utf8(raw)
                .map(str::to_owned)
                .map_err(|_| Error::Cell {
                    path: path.into(),
                    line,
                    column: header[i].clone(),
                    message: "the cell is not valid UTF-8".into(),
                })
        };
        let mut flipped = Vec::new();
        for (i, (raw, a)) in record.iter().zip(acc.iter_mut()).enumerate() {
            let raw = raw.trim_ascii();
            match a {
                Acc::Numeric(v) => match parse_cell(raw) {
                    Some(x) => v.push(x),
                    None => match known.get(&header[i]) {
                        Some(&(Kind::Numeric, because)) => {
                            return Err(Error::Cell {
                                path: path.into(),
                                line,
                                column: header[i].clone(),
                                message: format!(
                                    "expected a number (or an empty cell / NA for a missing value), as the column is numeric in {because}; found `{}`",
                                    String::from_utf8_lossy(raw)
                                ),
                            })
                        }
                        _ => flipped.push(i),
                    },
                },
                Acc::Categorical(counts) => {
                    let s = std::str::from_utf8(raw).map_err(|_| Error::Cell {
                        path: path.into(),
                        line,
                        column: header[i].clone(),
                        message: "the cell is not valid UTF-8".into(),
                    })?;
                    let key = if is_missing(s) { MISSING_CATEGORY } else { s };
                    match counts.get_mut(key) {
                        Some(c) => *c += 1,
                        None => {
                            counts.insert(key.to_owned(), 1);
                        }
                    }
                }
                Acc::Target(labels) => labels.push(text(i, raw)?),
            }
        }
        if !flipped.is_empty() {
            return Ok(Pass::Restart(flipped));
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::data(path, "no data rows after the header"));
    }
    let mut columns = Vec::new();
    let mut labels = None;
    for (name, a) in header.into_iter().zip(acc) {
        match a {
            Acc::Numeric(v) => columns.push(Column {
                name,
                values: Values::Numeric(v),
            }),
            Acc::Categorical(c) => columns.push(Column {
                name,
                values: Values::Categorical(c.into_iter().collect()),
            }),
            Acc::Target(l) => labels = Some(l),
        }
    }
    if columns.is_empty() {
        return Err(Error::data(path, "no feature columns besides the target"));
    }
    Ok(Pass::Done(Table {
        path: path.into(),
        rows,
        columns,
        labels,
    }))
}

/// `Some(NaN)` for a missing cell, `Some(x)` for a finite number, `None` for
/// anything else (text, infinities).
fn parse_cell(raw: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(raw).ok()?;
    if is_missing(s) {
        return Some(f64::NAN);
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn text_columns_become_categorical_even_late_in_the_file() {
        let f = file("a,b,y\n1,2,x\n NA ,3,x\n2,red,z\n4,,z\n");
        let t = read_table(f.path(), Some("y"), &HashMap::new()).unwrap();
        assert_eq!(t.rows, 4);
        let Values::Numeric(a) = &t.column("a").unwrap().values else {
            panic!("a is numeric")
        };
        assert_eq!(a[0], 1.0);
        assert!(a[1].is_nan());
        let Values::Categorical(b) = &t.column("b").unwrap().values else {
            panic!("b is categorical")
        };
        let want: BTreeMap<String, u64> = [("2", 1), ("3", 1), ("red", 1), (MISSING_CATEGORY, 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(b, &want);
        assert_eq!(t.labels.unwrap(), ["x", "x", "z", "z"]);
    }

    #[test]
    fn text_in_a_column_known_numeric_names_line_and_column() {
        let f = file("a,b\n1,2\n3,oops\n");
        let known = HashMap::from([("b".to_string(), (Kind::Numeric, "the reference"))]);
        let e = read_table(f.path(), None, &known).unwrap_err().to_string();
        assert!(
            e.contains("line 3, column `b`") && e.contains("`oops`"),
            "{e}"
        );
    }

    /// Windows line endings: the error names the bad line, not the one
    /// above it (rust-csv#395; see `CrlfToLf`).
    #[test]
    fn line_numbers_are_right_with_windows_line_endings() {
        let f = file("a,b\r\n1,2\r\n3,oops\r\n");
        let known = HashMap::from([("b".to_string(), (Kind::Numeric, "the reference"))]);
        let e = read_table(f.path(), None, &known).unwrap_err().to_string();
        assert!(e.contains("line 3, column `b`"), "{e}");
        let f = file("a,b\r\n1,2\r\n3,4,5\r\n");
        let e = read_table(f.path(), None, &known).unwrap_err().to_string();
        assert!(
            e.contains("line 3: the line has 3 field(s) where the header has 2"),
            "{e}"
        );
    }
}
