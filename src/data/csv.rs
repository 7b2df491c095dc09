//! CSV input: a header line, feature columns and one target column (string
//! or integer labels). A column whose every present cell is a finite number
//! is numeric, any other is categorical, unless [`ColumnTypes`] says
//! otherwise. Missing cells (empty, `NA`, `N/A`, `NaN`, `null`, `None`)
//! become `NaN` for the pipeline's imputer; anything a column cannot hold is
//! an error naming the file, line and column.

use super::schema::{is_missing, FeatureKind};
use super::Dataset;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// A column's type as a config file names it (`[columns] city = "categorical"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Numeric,
    Categorical,
    /// Not a feature (an id, a timestamp…): read past, never served.
    Ignore,
}

/// Column types given by the user; the rest are inferred.
pub type ColumnTypes = BTreeMap<String, ColumnType>;

/// A CSV file read into a [`Dataset`], with the line number of each row for
/// later messages.
#[derive(Debug, Clone)]
pub struct CsvTable {
    pub data: Dataset,
    pub lines: Vec<u64>,
    /// Columns read past because `types` said `ignore`.
    pub ignored: Vec<String>,
    /// Whether the file had the target column (always, for training and
    /// test files).
    pub labelled: bool,
}

/// Reads `path`, taking `target` as the label column and every other column
/// (except those `types` ignores) as a feature. Classes are the distinct
/// labels, ordered numerically if they all are integers, else
/// lexicographically.
pub fn read_csv(path: &Path, target: &str, types: &ColumnTypes) -> Result<CsvTable> {
    let (header, target_col, records) = read_records(path, target, true)?;
    let target_col = target_col.unwrap_or(usize::MAX);
    for name in types.keys() {
        if !header.contains(name) {
            return Err(Error::data(
                path,
                format!(
                    "the config types a column `{name}` ([columns]) that the file does not have; columns are: {}",
                    header.join(", ")
                ),
            ));
        }
        if name == target {
            return Err(Error::data(
                path,
                format!("`{name}` is the target; [columns] types only features"),
            ));
        }
    }
    let mut features = Vec::new();
    let mut ignored = Vec::new();
    for (i, h) in header.iter().enumerate() {
        if i == target_col {
            continue;
        }
        let kind = match types.get(h) {
            Some(ColumnType::Ignore) => {
                ignored.push(h.clone());
                continue;
            }
            Some(ColumnType::Numeric) => FeatureKind::Numeric,
            Some(ColumnType::Categorical) => FeatureKind::Categorical,
            None => infer_kind(path, h, i, &records)?,
        };
        features.push((h.clone(), i, kind, Vec::new()));
    }
    if features.is_empty() {
        return Err(Error::data(path, "no feature columns besides the target"));
    }
    let labels: Vec<&str> = records.iter().map(|(_, r)| &r[target_col]).collect();
    let distinct: BTreeSet<&str> = labels.iter().copied().collect();
    let mut classes: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or(0));
    }
    if classes.len() < 2 {
        return Err(Error::data(
            path,
            format!(
                "target column `{target}` has {} distinct value(s); classification needs at least 2",
                classes.len()
            ),
        ));
    }
    let mut table = build(
        path,
        target,
        Some(target_col),
        &records,
        &mut features,
        &classes,
    )?;
    table.ignored = ignored;
    Ok(table)
}

/// Reads a second file (a test set) against the training table `reference`:
/// the same feature columns (in any order; they are reordered), read as the
/// training data typed them, columns it ignored skipped, and only labels
/// among its classes. Categories the training data never had are kept (the
/// pipeline ignores them).
pub fn read_csv_with_schema(
    path: &Path,
    target: &str,
    reference: &Dataset,
    ignored: &[String],
) -> Result<CsvTable> {
    read_with_schema(path, target, reference, ignored, true)
}

/// Rows to serve or time, typed by `reference` (whose `levels` name the
/// categories it knows): like [`read_csv_with_schema`], but a file without
/// the target column reads too (every label is then class 0, and
/// `CsvTable::labelled` is false).
pub fn read_rows_with_schema(
    path: &Path,
    target: &str,
    reference: &Dataset,
    ignored: &[String],
) -> Result<CsvTable> {
    read_with_schema(path, target, reference, ignored, false)
}

fn read_with_schema(
    path: &Path,
    target: &str,
    reference: &Dataset,
    ignored: &[String],
    labels_required: bool,
) -> Result<CsvTable> {
    let (header, target_col, records) = read_records(path, target, labels_required)?;
    let labelled = target_col.is_some();
    let target_col = target_col.unwrap_or(usize::MAX);
    let mut features = Vec::with_capacity(reference.n_features());
    for (j, n) in reference.feature_names.iter().enumerate() {
        match header.iter().position(|h| h == n) {
            Some(i) if i != target_col => features.push((
                n.clone(),
                i,
                reference.kinds[j],
                reference.levels[j].clone(),
            )),
            _ => {
                return Err(Error::data(
                    path,
                    format!(
                        "missing column `{n}`, which the training data has{}",
                        column_hint(n, &header)
                    ),
                ))
            }
        }
    }
    if let Some(extra) = header.iter().enumerate().find(|&(i, h)| {
        i != target_col && !reference.feature_names.contains(h) && !ignored.contains(h)
    }) {
        return Err(Error::data(
            path,
            format!("column `{}` is not in the training data", extra.1),
        ));
    }
    let mut table = build(
        path,
        target,
        labelled.then_some(target_col),
        &records,
        &mut features,
        &reference.classes,
    )?;
    table.ignored = ignored.to_vec();
    table.labelled = labelled;
    Ok(table)
}

/// A CSV file opened for streaming, positioned after its header.
pub type CsvReader = csv::Reader<CrlfToLf<std::io::BufReader<std::fs::File>>>;

/// Reads a file with each `\r\n` as `\n`. The csv crate counts a line when
/// it consumes a `\n`, and of a `\r\n` terminator it consumes the `\n` only
/// when it starts the next record, so with Windows line endings (Python's
/// `csv` module writes them) every record's line is one short
/// (BurntSushi/rust-csv#395, open) and errors would name the line above the
/// bad one. A lone `\r` is kept.
pub struct CrlfToLf<R> {
    inner: R,
    /// A `\r` ended the last chunk read: whether to keep it depends on the
    /// next byte.
    pending_cr: bool,
}

impl<R: std::io::BufRead> CrlfToLf<R> {
    pub fn new(inner: R) -> CrlfToLf<R> {
        CrlfToLf {
            inner,
            pending_cr: false,
        }
    }
}

impl<R: std::io::BufRead> std::io::Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let buf = self.inner.fill_buf()?;
            let mut n = 0;
            if self.pending_cr && buf.first() != Some(&b'\n') {
                out[0] = b'\r';
                n = 1;
            }
            self.pending_cr = false;
            if buf.is_empty() {
                return Ok(n);
            }
            // Copy runs between `\r`s whole: drift streams big files
            // through this. Drift of two 63 MB files took 0.80-0.86 s with
            // the adapter and 0.78-0.90 s without it, alternated.
            let mut used = 0;
            while used < buf.len() && n < out.len() {
                let take = (buf.len() - used).min(out.len() - n);
                let run = &buf[used..used + take];
                let Some(i) = memchr::memchr(b'\r', run) else {
                    out[n..n + take].copy_from_slice(run);
                    n += take;
                    used += take;
                    break;
                };
                out[n..n + i].copy_from_slice(&run[..i]);
                n += i;
                used += i + 1;
                // The `\r` lay within `take`, so there is room for it.
                match buf.get(used) {
                    Some(&b'\n') => {}
                    Some(_) => {
                        out[n] = b'\r';
                        n += 1;
                    }
                    None => self.pending_cr = true,
                }
            }
            self.inner.consume(used);
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

/// Opens `path` the way every optbench reader does (cells trimmed) and
/// checks its header: not empty, every column named, no name twice.
pub fn open_csv(path: &Path) -> Result<(CsvReader, Vec<String>)> {
    open_csv_with(path, false)
}

/// [`open_csv`]; a `flexible` reader hands over lines with the wrong number
/// of fields instead of failing on them (for a caller that sets such lines
/// aside).
pub fn open_csv_with(path: &Path, flexible: bool) -> Result<(CsvReader, Vec<String>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(flexible)
        .trim(csv::Trim::All)
        .from_reader(CrlfToLf::new(std::io::BufReader::new(file)));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.iter().all(String::is_empty) {
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
    Ok((rdr, header))
}

/// The header line of a CSV file.
pub fn read_header(path: &Path) -> Result<Vec<String>> {
    open_csv(path).map(|(_, header)| header)
}

type Records = Vec<(u64, csv::StringRecord)>;

/// The header, the target's column and every non-blank record with its line
/// number.
fn read_records(
    path: &Path,
    target: &str,
    target_required: bool,
) -> Result<(Vec<String>, Option<usize>, Records)> {
    let (mut rdr, header) = open_csv(path)?;
    let target_col = match target_column(path, &header, target) {
        Ok(c) => Some(c),
        Err(e) if target_required => return Err(e),
        Err(_) => None,
    };
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        if record.iter().all(str::is_empty) {
            continue; // a blank line, e.g. at the end of the file
        }
        let line = record.position().map_or(0, |p| p.line());
        records.push((line, record.clone()));
    }
    if records.is_empty() {
        return Err(Error::data(path, "no data rows after the header"));
    }
    Ok((header, target_col, records))
}

fn target_column(path: &Path, header: &[String], target: &str) -> Result<usize> {
    header.iter().position(|h| h == target).ok_or_else(|| {
        Error::data(
            path,
            format!(
                "no target column `{target}`; columns are: {}{}",
                header.join(", "),
                column_hint(target, header)
            ),
        )
    })
}

/// What to add to a "missing column `wanted`" message about a file whose
/// header is `header`: a header that reads as one column holding another
/// delimiter (a `;`- or tab-separated file), or a column whose name differs
/// only in case, spacing or a typo ("did you mean"); empty otherwise.
pub fn column_hint(wanted: &str, header: &[impl AsRef<str>]) -> String {
    if let [only] = header {
        let only = only.as_ref();
        for (d, name) in [(';', "semicolon"), ('\t', "tab"), ('|', "pipe")] {
            if only.contains(d) {
                return format!(
                    "; the header reads as one column `{only}`: the file looks {name}-separated, and optbench reads comma-separated files (save it as CSV with commas)"
                );
            }
        }
    }
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let w = norm(wanted);
    let close = header
        .iter()
        .map(AsRef::as_ref)
        .filter(|h| *h != wanted)
        .map(|h| {
            let n = norm(h);
            let d = if n == w {
                0
            } else {
                strsim::levenshtein(&n, &w)
            };
            (d, h)
        })
        .filter(|&(d, _)| d <= (w.chars().count() / 4).max(1))
        .min_by_key(|&(d, _)| d);
    match close {
        Some((_, h)) => format!("; did you mean `{h}`?"),
        None => String::new(),
    }
}

/// A column is numeric when every present cell is a finite number and
/// categorical when most are not. A column that is mostly numbers with a few
/// exceptions is far more often a typo than a category: that is an error
/// naming the first exception, and `[columns]` settles it either way.
fn infer_kind(path: &Path, name: &str, col: usize, records: &Records) -> Result<FeatureKind> {
    let mut numbers = 0usize;
    let mut texts = 0usize;
    let mut first_text = None;
    for (line, r) in records {
        let cell = &r[col];
        if is_missing(cell) {
            continue;
        }
        if matches!(cell.parse::<f64>(), Ok(v) if v.is_finite()) {
            numbers += 1;
        } else {
            texts += 1;
            first_text.get_or_insert((*line, cell.to_owned()));
        }
    }
    match first_text {
        None => Ok(FeatureKind::Numeric),
        Some(_) if numbers <= texts => Ok(FeatureKind::Categorical),
        Some((line, cell)) => Err(Error::Cell {
            path: path.into(),
            line,
            column: name.into(),
            message: format!(
                "expected a finite number (or an empty cell / NA for a missing value), found `{cell}`: \
                 {numbers} of the column's {} present cells are numbers; fix the cell, or declare the \
                 column in the config (`[columns] {name} = \"categorical\"`)",
                numbers + texts
            ),
        }),
    }
}

type FeatureColumn = (String, usize, FeatureKind, Vec<String>);

fn build(
    path: &Path,
    target: &str,
    target_col: Option<usize>,
    records: &Records,
    features: &mut [FeatureColumn],
    classes: &[String],
) -> Result<CsvTable> {
    let class_index: HashMap<&str, u32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let mut codes: Vec<HashMap<String, u32>> = features
        .iter()
        .map(|(_, _, _, levels)| {
            levels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), i as u32))
                .collect()
        })
        .collect();
    let mut x = Vec::with_capacity(records.len() * features.len());
    let mut y = Vec::with_capacity(records.len());
    let mut lines = Vec::with_capacity(records.len());
    for (line, r) in records {
        let line = *line;
        for ((name, col, kind, levels), codes) in features.iter_mut().zip(&mut codes) {
            let cell = &r[*col];
            if is_missing(cell) {
                x.push(f64::NAN);
                continue;
            }
            match kind {
                FeatureKind::Numeric => {
                    x.push(parse_number(cell).map_err(|message| Error::Cell {
                        path: path.into(),
                        line,
                        column: name.clone(),
                        message,
                    })?)
                }
                FeatureKind::Categorical => {
                    let code = *codes.entry(cell.to_owned()).or_insert_with(|| {
                        levels.push(cell.to_owned());
                        (levels.len() - 1) as u32
                    });
                    x.push(f64::from(code));
                }
            }
        }
        let Some(target_col) = target_col else {
            y.push(0);
            lines.push(line);
            continue;
        };
        let label = &r[target_col];
        if is_missing(label) {
            return Err(Error::Cell {
                path: path.into(),
                line,
                column: target.into(),
                message: "the target is missing; every training and test row needs a label".into(),
            });
        }
        match class_index.get(label) {
            Some(&c) => y.push(c),
            None => {
                return Err(Error::Cell {
                    path: path.into(),
                    line,
                    column: target.into(),
                    message: format!(
                        "label `{label}` was not seen in the training data (classes: {})",
                        classes.join(", ")
                    ),
                })
            }
        }
        lines.push(line);
    }
    Ok(CsvTable {
        data: Dataset {
            feature_names: features.iter().map(|f| f.0.clone()).collect(),
            kinds: features.iter().map(|f| f.2).collect(),
            levels: features
                .iter_mut()
                .map(|f| std::mem::take(&mut f.3))
                .collect(),
            x,
            y,
            classes: classes.to_vec(),
        },
        lines,
        ignored: Vec::new(),
        labelled: true,
    })
}

fn parse_number(cell: &str) -> std::result::Result<f64, String> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, found `{cell}`")),
        Err(_) => Err(format!(
            "expected a number (or an empty cell / NA for a missing value), found `{cell}`"
        )),
    }
}

/// Why a line with `found` fields where the header has `expected` is broken.
pub(crate) fn fields_message(found: usize, expected: usize) -> String {
    format!(
        "the line has {found} field(s) where the header has {expected} (a stray delimiter, a missing one or an unbalanced quote?)"
    )
}

pub(crate) fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Error::Line {
            path: path.into(),
            line: pos.as_ref().map_or(0, |p| p.line()),
            message: fields_message(*len as usize, *expected_len as usize),
        },
        csv::ErrorKind::Utf8 { pos, .. } => Error::Line {
            path: path.into(),
            line: pos.as_ref().map_or(0, |p| p.line()),
            message: "the line is not valid UTF-8".into(),
        },
        csv::ErrorKind::Io(_) => {
            let csv::ErrorKind::Io(io) = e.into_kind() else {
                unreachable!("matched Io above")
            };
            Error::io(path, io)
        }
        _ => Error::data(path, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `\r\n` becomes `\n` and nothing else changes, whatever the
    /// chunk sizes (a `\r\n` split between two reads included).
    #[test]
    fn crlf_reads_as_lf_across_every_chunk_boundary() {
        // A fixed text with every corner, then random ones over the bytes
        // that matter (a tiny LCG: the test needs no seed crate).
        let mut texts = vec![b"a,b\r\n1,\r\r\n\r\n\rx\n\r\r\n2,3\r".to_vec()];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in [7, 19, 40] {
            let text = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    b"ab\r\r\n,"[(state >> 60) as usize % 6]
                })
                .collect();
            texts.push(text);
        }
        for text in &texts {
            let want: Vec<u8> = String::from_utf8(text.clone())
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes();
            check_crlf(text, &want);
        }
    }

    fn check_crlf(text: &[u8], want: &[u8]) {
        use std::io::Read;
        for capacity in 1..9 {
            for chunk in 1..10 {
                let inner = std::io::BufReader::with_capacity(capacity, text);
                let mut r = CrlfToLf::new(inner);
                let (mut got, mut buf) = (Vec::new(), vec![0u8; chunk]);
                loop {
                    let n = r.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                assert_eq!(got, want, "{text:?}: capacity {capacity}, chunk {chunk}");
            }
        }
    }

    /// Errors in a file with Windows line endings name the bad line itself
    /// (line 3 without the conversion).
    #[test]
    fn line_numbers_are_right_with_windows_line_endings() {
        let f = file("x,y\r\n1,a\r\n2,b\r\n1,2,3\r\n");
        let err = read_csv(f.path(), "y", &ColumnTypes::new()).unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_numbers_missing_cells_and_orders_integer_classes_numerically() {
        let f = file("a,y,b\n1.5,10,NA\n,2,3\n-1e3,10,4\n");
        let t = read_csv(f.path(), "y", &ColumnTypes::new()).unwrap();
        assert_eq!(t.data.feature_names, ["a", "b"]);
        assert_eq!(t.data.classes, ["2", "10"]);
        assert_eq!(t.data.y, [1, 0, 1]);
        assert_eq!(t.data.x[0], 1.5);
        assert!(t.data.x[1].is_nan() && t.data.x[2].is_nan());
        assert_eq!(t.lines, [2, 3, 4]);
    }

    #[test]
    fn a_mostly_numeric_column_with_a_stray_word_is_an_error_naming_it() {
        let f = file("a,b,y\n1,2,x\n1,oops,y\n1,3,y\n");
        let e = read_csv(f.path(), "y", &ColumnTypes::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3, column `b`: expected a finite number"),
            "{e}"
        );
        assert!(
            e.contains("found `oops`") && e.contains("b = \"categorical\""),
            "{e}"
        );
        // Declared categorical, it reads; declared numeric, the cell is refused.
        let types = ColumnTypes::from([("b".to_string(), ColumnType::Categorical)]);
        let t = read_csv(f.path(), "y", &types).unwrap();
        assert_eq!(
            t.data.kinds,
            [FeatureKind::Numeric, FeatureKind::Categorical]
        );
        assert_eq!(t.data.levels[1], ["2", "oops", "3"]);
        let types = ColumnTypes::from([("b".to_string(), ColumnType::Numeric)]);
        let e = read_csv(f.path(), "y", &types).unwrap_err().to_string();
        assert!(e.ends_with("line 3, column `b`: expected a number (or an empty cell / NA for a missing value), found `oops`"), "{e}");
    }

    #[test]
    fn text_columns_are_categorical_and_ignored_columns_are_skipped() {
        let f = file("id,city,t,y\n7,Paris,1.5,a\n8,,2,b\n9,Oslo,NA,a\n10,Paris,3,b\n");
        let types = ColumnTypes::from([("id".to_string(), ColumnType::Ignore)]);
        let t = read_csv(f.path(), "y", &types).unwrap();
        assert_eq!(t.data.feature_names, ["city", "t"]);
        assert_eq!(t.ignored, ["id"]);
        assert_eq!(
            t.data.kinds,
            [FeatureKind::Categorical, FeatureKind::Numeric]
        );
        assert_eq!(t.data.levels[0], ["Paris", "Oslo"]);
        assert_eq!(t.data.x[0], 0.0);
        assert!(t.data.x[2].is_nan() && t.data.x[5].is_nan());
        assert_eq!(t.data.x[4], 1.0);
        // The test file: reordered, typed as training, new categories kept.
        let g = file("y,t,city,id\nb,4,Rome,1\na,NA,Oslo,2\n");
        let u = read_csv_with_schema(g.path(), "y", &t.data, &t.ignored).unwrap();
        assert_eq!(u.data.levels[0], ["Paris", "Oslo", "Rome"]);
        assert_eq!(u.data.x[0], 2.0);
        assert_eq!(u.data.x[2], 1.0);
        assert_eq!(u.data.y, [1, 0]);
        let h = file("y,t,city\nb,x4,Rome\n");
        let e = read_csv_with_schema(h.path(), "y", &t.data, &t.ignored).unwrap_err();
        assert!(e.to_string().contains("line 2, column `t`"), "{e}");
        let bad = ColumnTypes::from([("zip".to_string(), ColumnType::Categorical)]);
        let e = read_csv(f.path(), "y", &bad).unwrap_err().to_string();
        assert!(e.contains("column `zip`"), "{e}");
    }

    #[test]
    fn ragged_line_and_missing_target_are_reported() {
        let f = file("a,b,y\n1,2,x\n1,2\n");
        let e = read_csv(f.path(), "y", &ColumnTypes::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3: the line has 2 field(s) where the header has 3"),
            "{e}"
        );
        let e = read_csv(f.path(), "label", &ColumnTypes::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no target column `label`; columns are: a, b, y"),
            "{e}"
        );
    }

    #[test]
    fn test_file_is_reordered_and_checked_against_training_classes() {
        let train = file("a,b,y\n1,2,x\n3,4,z\n");
        let t = read_csv(train.path(), "y", &ColumnTypes::new()).unwrap();
        let f = file("b,y,a\n2,x,1\n");
        let u = read_csv_with_schema(f.path(), "y", &t.data, &[]).unwrap();
        assert_eq!(u.data.x, [1.0, 2.0]);
        let g = file("b,y,a\n2,w,1\n");
        let e = read_csv_with_schema(g.path(), "y", &t.data, &[]).unwrap_err();
        assert!(e.to_string().contains("label `w` was not seen"), "{e}");
        let h = file("b,y,a,c\n2,x,1,5\n");
        let e = read_csv_with_schema(h.path(), "y", &t.data, &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("column `c` is not in the training data"),
            "{e}"
        );
    }
}
