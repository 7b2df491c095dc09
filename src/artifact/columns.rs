//! Scoring a table held in memory column by column (Arrow record batches,
//! data frames) through a package: the table's columns are matched to the
//! input schema by name, and every row is read, validated, checked against
//! the training profile and preprocessed exactly as [`score_csv`] does a CSV
//! row, so a row predicts the class and the probabilities, bit for bit, that
//! `optbench predict` writes for the same cells. The model then runs over
//! the prepared rows with [`CompiledModel::predict_batch`] and its siblings,
//! which split a batch across rayon's threads when the work pays for it.
//!
//! [`score_csv`]: super::score_csv
//! [`CompiledModel::predict_batch`]: crate::model::CompiledModel::predict_batch

use super::{Artifact, ProfileChecks, ScoreOptions};
use crate::data::Value;
use crate::error::{Error, Result};
use std::path::Path;

/// Rows prepared, then predicted, at a time: the prepared features of a
/// chunk stay small (64 Ki rows × the pipeline's outputs), and a chunk is
/// far more work than a split across threads needs to pay off.
const CHUNK_ROWS: usize = 1 << 16;

/// A table the caller holds column by column.
pub trait Columns {
    /// Rows in the table.
    fn n_rows(&self) -> usize;
    /// The table's column names, in its own order.
    fn names(&self) -> Vec<&str>;
    /// Cell `row` of the table's column `column` (an index into
    /// [`Self::names`]). A cell that holds text is `Value::Text`, read here
    /// as a CSV field is ([`InputSchema::parse_field`]: a missing token is a
    /// missing value, and in a numeric column text that parses is a
    /// number); a number is `Value::Number`, `NaN` standing for a missing
    /// value as the CSV's `nan` does.
    ///
    /// [`InputSchema::parse_field`]: crate::data::InputSchema::parse_field
    fn value(&self, column: usize, row: usize) -> Value<'_>;
}

/// A row [`score_columns`] refused with `skip_invalid`.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    /// 0-based position in the table.
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// What [`score_columns`] gives: one class (and, when asked, one
/// probability per class) for every row not rejected, in table order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnScores {
    /// Indices into the package's `classes`.
    pub classes: Vec<u32>,
    /// Row-major, `classes.len() × n_classes`; empty unless asked for.
    pub proba: Vec<f32>,
    pub rejected: Vec<RejectedRow>,
}

/// Scores every row of `table` (named `source` in errors about the table
/// as a whole). A row that fails validation (or, with `options.strict`, a
/// range or category check) ends the scoring with [`Error::Input`] naming
/// its 0-based row and its column, unless `skip_invalid`, in which case it
/// is listed in [`ColumnScores::rejected`] and left out of the predictions.
pub fn score_columns<T: Columns + ?Sized>(
    artifact: &Artifact,
    table: &T,
    source: &Path,
    options: ScoreOptions,
    skip_invalid: bool,
    proba: bool,
) -> Result<ColumnScores> {
    let schema = &artifact.schema;
    let meta = &artifact.metadata;
    let names = table.names();
    let mut columns = Vec::with_capacity(schema.len());
    for f in &schema.features {
        match names.iter().position(|n| *n == f.name) {
            Some(c) => columns.push(c),
            None => {
                return Err(Error::Data {
                    path: source.into(),
                    message: format!(
                    "missing column `{}` ({}), which the model needs; the model's columns are: {}",
                    f.name,
                    f.kind,
                    schema
                        .features
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                })
            }
        }
    }
    if options.strict {
        let extra: Vec<String> = names
            .iter()
            .filter(|n| {
                **n != meta.target
                    && schema.position(n).is_none()
                    && !meta.ignored_columns.iter().any(|c| c == *n)
            })
            .map(|n| format!("`{n}`"))
            .collect();
        if !extra.is_empty() {
            return Err(Error::Data {
                path: source.into(),
                message: format!(
                    "column(s) {} are not in the model's schema (strict refuses unknown columns)",
                    extra.join(", ")
                ),
            });
        }
    }

    let checks = ProfileChecks::new(artifact, options);
    let plan = artifact.pipeline.row_plan();
    let compiled = artifact.compiled();
    let width = artifact.pipeline.n_outputs();
    let numeric = schema.is_numeric();
    let n = table.n_rows();
    let mut out = ColumnScores::default();
    let mut values: Vec<Value<'_>> = Vec::with_capacity(schema.len());
    let mut numbers: Vec<f64> = Vec::with_capacity(schema.len());
    let mut features: Vec<f32> = Vec::new();
    let (mut chunk_classes, mut chunk_proba) = (Vec::new(), Vec::new());
    for start in (0..n).step_by(CHUNK_ROWS) {
        features.clear();
        for row in start..(start + CHUNK_ROWS).min(n) {
            values.clear();
            values.extend(
                columns
                    .iter()
                    .enumerate()
                    .map(|(j, &c)| match table.value(c, row) {
                        Value::Text(s) => schema.parse_field(j, s),
                        Value::Number(x) if x.is_nan() => Value::Missing,
                        v => v,
                    }),
            );
            // Validation first (what serving refuses), then the profile
            // checks (refused only when strict), as `score_csv` orders them.
            let problem = match schema.validate_row(&values) {
                Err(e) => {
                    let field = e.column().and_then(|j| match values[j] {
                        Value::Text(s) => Some(s),
                        _ => None,
                    });
                    Some(e.message(schema, field))
                }
                Ok(()) if options.strict => values.iter().enumerate().find_map(|(j, &v)| {
                    checks
                        .check(j, v)
                        .map(|u| (schema.features[j].name.clone(), u.reason()))
                }),
                Ok(()) => None,
            };
            if let Some((column, reason)) = problem {
                if !skip_invalid {
                    return Err(Error::Input {
                        row,
                        column,
                        message: reason,
                    });
                }
                out.rejected.push(RejectedRow {
                    row,
                    column,
                    reason,
                });
                continue;
            }
            let request = super::score::request_form(numeric, &values, &mut numbers);
            let at = features.len();
            features.resize(at + width, 0.0);
            // Validated above, so this cannot refuse; if it did, say so.
            plan.serve(request, &mut features[at..]).map_err(|e| {
                let (column, message) = e.message(schema, None);
                Error::Input {
                    row,
                    column,
                    message,
                }
            })?;
        }
        if proba {
            compiled.predict_with_proba_batch(&features, &mut chunk_classes, &mut chunk_proba);
            out.proba.extend_from_slice(&chunk_proba);
        } else {
            compiled.predict_batch(&features, &mut chunk_classes);
        }
        out.classes.extend_from_slice(&chunk_classes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{score_csv, RowOutcome};
    use crate::data::read_header;
    use std::path::PathBuf;

    /// A CSV file read into memory as text columns: the cells
    /// `optbench predict` reads, in the form a data frame of strings holds.
    struct TextColumns {
        names: Vec<String>,
        cells: Vec<Vec<String>>,
    }

    impl TextColumns {
        fn read(path: &Path) -> TextColumns {
            let names = read_header(path).unwrap();
            let mut cells = vec![Vec::new(); names.len()];
            let mut rdr = csv::Reader::from_path(path).unwrap();
            for record in rdr.records() {
                for (c, field) in record.unwrap().iter().enumerate() {
                    cells[c].push(field.to_string());
                }
            }
            TextColumns { names, cells }
        }
    }

    impl Columns for TextColumns {
        fn n_rows(&self) -> usize {
            self.cells[0].len()
        }
        fn names(&self) -> Vec<&str> {
            self.names.iter().map(String::as_str).collect()
        }
        fn value(&self, column: usize, row: usize) -> Value<'_> {
            Value::Text(&self.cells[column][row])
        }
    }

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    /// Every class and every probability's bits equal the CSV path's, for
    /// both fixture packages (mixed numeric and categorical, missing cells;
    /// a float forest and an int8 boosting).
    #[test]
    fn columns_score_as_the_csv_path_does() {
        let input = fixture("tests/fixtures/penguins/test.csv");
        let table = TextColumns::read(&input);
        for package in ["penguins-forest-10", "penguins-boost-20-int8"] {
            let a = Artifact::load(&fixture("tests/fixtures/packages").join(package)).unwrap();
            let k = a.metadata.classes.len();
            let (mut classes, mut proba) = (Vec::new(), Vec::new());
            score_csv(&a, &input, ScoreOptions::default(), false, |o| {
                if let RowOutcome::Scored {
                    class, proba: p, ..
                } = o
                {
                    classes.push(class);
                    proba.extend(p.iter().map(|x| x.to_bits()));
                }
                Ok(())
            })
            .unwrap();
            let opts = ScoreOptions::default();
            let got = score_columns(&a, &table, Path::new("<t>"), opts, false, true).unwrap();
            assert_eq!(got.classes, classes, "{package}");
            assert_eq!(got.proba.len(), classes.len() * k);
            assert!(got.proba.iter().map(|x| x.to_bits()).eq(proba), "{package}");
            let only = score_columns(&a, &table, Path::new("<t>"), opts, false, false).unwrap();
            assert_eq!(only.classes, classes);
            assert!(only.proba.is_empty());
        }
    }

    #[test]
    fn bad_cells_name_row_and_column_or_are_set_aside() {
        let input = fixture("tests/fixtures/penguins/test.csv");
        let mut table = TextColumns::read(&input);
        let a = Artifact::load(&fixture("tests/fixtures/packages/penguins-forest-10")).unwrap();
        let n = table.n_rows();
        let bill = table
            .names
            .iter()
            .position(|c| c == "bill_length_mm")
            .unwrap();
        table.cells[bill][3] = "long".into();
        table.cells[bill][5] = "inf".into();
        let opts = ScoreOptions::default();
        let e = score_columns(&a, &table, Path::new("<t>"), opts, false, false).unwrap_err();
        assert!(
            matches!(&e, Error::Input { row: 3, column, message }
                if column == "bill_length_mm" && message.contains("found `long`")),
            "{e}"
        );
        let got = score_columns(&a, &table, Path::new("<t>"), opts, true, true).unwrap();
        assert_eq!(got.classes.len(), n - 2);
        assert_eq!(got.proba.len(), (n - 2) * a.metadata.classes.len());
        let rows: Vec<usize> = got.rejected.iter().map(|r| r.row).collect();
        assert_eq!(rows, [3, 5]);
        assert!(
            got.rejected[1].reason.contains("finite"),
            "{:?}",
            got.rejected
        );

        // Strict: an unseen category is refused, an unknown column too.
        table.cells[bill][3] = "40".into();
        table.cells[bill][5] = "40".into();
        let island = table.names.iter().position(|c| c == "island").unwrap();
        table.cells[island][7] = "Atlantis".into();
        let strict = ScoreOptions {
            strict: true,
            ..opts
        };
        score_columns(&a, &table, Path::new("<t>"), opts, false, false).unwrap();
        let e = score_columns(&a, &table, Path::new("<t>"), strict, false, false).unwrap_err();
        assert!(
            matches!(&e, Error::Input { row: 7, column, .. } if column == "island"),
            "{e}"
        );
        table.names[island] = "isle".into();
        let e = score_columns(&a, &table, Path::new("<t>"), opts, false, false).unwrap_err();
        assert!(e.to_string().contains("missing column `island`"), "{e}");
    }
}
