//! CSV input: a header line, numeric feature columns and one target column
//! (string or integer labels). Missing cells (empty, `NA`, `N/A`, `NaN`,
//! `null`) become `NaN` for the pipeline's imputer; anything else that is not
//! a finite number is an error naming the file, line and column.

use super::Dataset;
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// Tokens read as a missing value (compared case-insensitively).
const MISSING: [&str; 6] = ["", "na", "n/a", "nan", "null", "none"];

/// A CSV file read into a [`Dataset`], with the line number of each row for
/// later messages.
#[derive(Debug, Clone)]
pub struct CsvTable {
    pub data: Dataset,
    pub lines: Vec<u64>,
}

/// Reads `path`, taking `target` as the label column and every other column as
/// a numeric feature. Classes are the distinct labels, ordered numerically if
/// they all are integers, else lexicographically.
pub fn read_csv(path: &Path, target: &str) -> Result<CsvTable> {
    let raw = read_raw(path, target, None)?;
    let distinct: BTreeSet<&str> = raw.labels.iter().map(String::as_str).collect();
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
    finish(path, target, raw, classes)
}

/// Reads a second file (a test set) against an existing training table: the
/// same feature columns (in any order; they are reordered to `features`) and
/// only labels among `classes`.
pub fn read_csv_with_classes(
    path: &Path,
    target: &str,
    features: &[String],
    classes: &[String],
) -> Result<CsvTable> {
    let raw = read_raw(path, target, Some(features))?;
    finish(path, target, raw, classes.to_vec())
}

struct Raw {
    feature_names: Vec<String>,
    x: Vec<f64>,
    labels: Vec<String>,
    label_lines: Vec<u64>,
}

fn finish(path: &Path, target: &str, raw: Raw, classes: Vec<String>) -> Result<CsvTable> {
    let mut y = Vec::with_capacity(raw.labels.len());
    for (label, &line) in raw.labels.iter().zip(&raw.label_lines) {
        match classes.iter().position(|c| c == label) {
            Some(i) => y.push(i as u32),
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
    }
    Ok(CsvTable {
        data: Dataset {
            feature_names: raw.feature_names,
            x: raw.x,
            y,
            classes,
        },
        lines: raw.label_lines,
    })
}

fn read_raw(path: &Path, target: &str, expect: Option<&[String]>) -> Result<Raw> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::new(file));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_owned)
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
    let Some(target_col) = header.iter().position(|h| h == target) else {
        return Err(Error::data(
            path,
            format!(
                "no target column `{target}`; columns are: {}",
                header.join(", ")
            ),
        ));
    };
    // `order[j]` is the file column that holds feature j.
    let (feature_names, order): (Vec<String>, Vec<usize>) = match expect {
        None => header
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != target_col)
            .map(|(i, h)| (h.clone(), i))
            .unzip(),
        Some(names) => {
            let mut order = Vec::with_capacity(names.len());
            for n in names {
                match header.iter().position(|h| h == n) {
                    Some(i) if i != target_col => order.push(i),
                    _ => {
                        return Err(Error::data(
                            path,
                            format!("missing column `{n}`, which the training data has"),
                        ))
                    }
                }
            }
            if let Some(extra) = header
                .iter()
                .enumerate()
                .find(|&(i, h)| i != target_col && !names.contains(h))
            {
                return Err(Error::data(
                    path,
                    format!("column `{}` is not in the training data", extra.1),
                ));
            }
            (names.to_vec(), order)
        }
    };
    if feature_names.is_empty() {
        return Err(Error::data(path, "no feature columns besides the target"));
    }

    let mut x = Vec::new();
    let mut labels = Vec::new();
    let mut label_lines = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue; // a blank line, e.g. at the end of the file
        }
        for (&col, name) in order.iter().zip(&feature_names) {
            x.push(parse_number(&record[col]).map_err(|message| Error::Cell {
                path: path.into(),
                line,
                column: name.clone(),
                message,
            })?);
        }
        let label = &record[target_col];
        if is_missing(label) {
            return Err(Error::Cell {
                path: path.into(),
                line,
                column: target.into(),
                message: "the target is missing; every training and test row needs a label".into(),
            });
        }
        labels.push(label.to_owned());
        label_lines.push(line);
    }
    if labels.is_empty() {
        return Err(Error::data(path, "no data rows after the header"));
    }
    Ok(Raw {
        feature_names,
        x,
        labels,
        label_lines,
    })
}

pub(crate) fn is_missing(cell: &str) -> bool {
    MISSING.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

fn parse_number(cell: &str) -> std::result::Result<f64, String> {
    if is_missing(cell) {
        return Ok(f64::NAN);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, found `{cell}`")),
        Err(_) => Err(format!(
            "expected a number (or an empty cell / NA for a missing value), found `{cell}`"
        )),
    }
}

pub(crate) fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Error::Cell {
            path: path.into(),
            line: pos.as_ref().map_or(0, |p| p.line()),
            column: "*".into(),
            message: format!("expected {expected_len} fields like the header, found {len}"),
        },
        csv::ErrorKind::Utf8 { pos, .. } => Error::Cell {
            path: path.into(),
            line: pos.as_ref().map_or(0, |p| p.line()),
            column: "*".into(),
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

    fn file(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_numbers_missing_cells_and_orders_integer_classes_numerically() {
        let f = file("a,y,b\n1.5,10,NA\n,2,3\n-1e3,10,4\n");
        let t = read_csv(f.path(), "y").unwrap();
        assert_eq!(t.data.feature_names, ["a", "b"]);
        assert_eq!(t.data.classes, ["2", "10"]);
        assert_eq!(t.data.y, [1, 0, 1]);
        assert_eq!(t.data.x[0], 1.5);
        assert!(t.data.x[1].is_nan() && t.data.x[2].is_nan());
        assert_eq!(t.lines, [2, 3, 4]);
    }

    #[test]
    fn bad_cell_names_line_and_column() {
        let f = file("a,b,y\n1,2,x\n1,oops,y\n");
        let e = read_csv(f.path(), "y").unwrap_err().to_string();
        assert!(e.ends_with("line 3, column `b`: expected a number (or an empty cell / NA for a missing value), found `oops`"), "{e}");
    }

    #[test]
    fn ragged_line_and_missing_target_are_reported() {
        let f = file("a,b,y\n1,2,x\n1,2\n");
        let e = read_csv(f.path(), "y").unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("expected 3 fields"),
            "{e}"
        );
        let e = read_csv(f.path(), "label").unwrap_err().to_string();
        assert!(
            e.contains("no target column `label`; columns are: a, b, y"),
            "{e}"
        );
    }

    #[test]
    fn test_file_is_reordered_and_checked_against_training_classes() {
        let f = file("b,y,a\n2,x,1\n");
        let t = read_csv_with_classes(
            f.path(),
            "y",
            &["a".into(), "b".into()],
            &["x".into(), "z".into()],
        )
        .unwrap();
        assert_eq!(t.data.x, [1.0, 2.0]);
        let g = file("b,y,a\n2,w,1\n");
        let e = read_csv_with_classes(g.path(), "y", &["a".into(), "b".into()], &["x".into()])
            .unwrap_err();
        assert!(e.to_string().contains("label `w` was not seen"), "{e}");
    }
}
