//! Scoring a CSV file through a package, one row at a time: the file's
//! columns are matched to the input schema by name, every row is validated,
//! preprocessed and predicted exactly as `run` measured it, and checked
//! against the training profile (values far outside the training range,
//! categories never seen). Memory does not grow with the file: a row is read,
//! scored, handed to the caller and forgotten.

use super::{Artifact, Predictor};
use crate::data::{csv_error, is_missing, FeatureProfile, Request, Value};
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

/// How strictly rows are judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreOptions {
    /// Refuse extra columns, values outside the training range and unseen
    /// categories (otherwise they are counted and reported).
    pub strict: bool,
    /// A value is out of range when it lies further than this share of the
    /// training range beyond the training minimum or maximum.
    pub range_margin: f64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            strict: false,
            range_margin: 0.1,
        }
    }
}

/// What happened to one row.
#[derive(Debug)]
pub enum RowOutcome<'a> {
    Scored {
        /// 1-based data row (the header is row 0).
        row: u64,
        class: u32,
        /// One per class.
        proba: &'a [f32],
        /// The row as read.
        record: &'a csv::StringRecord,
    },
    Rejected {
        row: u64,
        line: u64,
        column: String,
        reason: String,
        record: &'a csv::StringRecord,
    },
}

/// Per input column: what scoring noticed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnNotes {
    pub name: String,
    pub missing: u64,
    /// Numeric: values beyond the training range plus the margin.
    pub out_of_range: u64,
    /// Categorical: values the training data never had (ignored by the
    /// one-hot encoder), with up to five examples.
    pub unseen_categories: u64,
    pub unseen_examples: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScoreSummary {
    pub rows: u64,
    pub scored: u64,
    pub rejected: u64,
    /// Columns of the file the model does not use (not counting the target
    /// and the columns training ignored).
    pub extra_columns: Vec<String>,
    pub columns: Vec<ColumnNotes>,
    /// When the file carries the target column: correct predictions among
    /// the scored rows whose label the model knows.
    pub labelled: u64,
    pub correct: u64,
    /// Labels the model never saw in training.
    pub unknown_labels: u64,
}

impl ScoreSummary {
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct as f64 / self.labelled as f64)
    }
}

/// Per schema column: what training saw of it.
#[derive(Debug, Clone)]
struct ColumnCheck {
    /// Numeric: the accepted interval (training range widened by the margin).
    bounds: Option<(f64, f64)>,
    /// Categorical: every category training saw.
    seen: HashSet<String>,
    categorical: bool,
}

/// A value the schema accepts but training never saw the like of: what
/// `predict` and `serve` count, and refuse under `--strict`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unusual<'v> {
    /// A number further outside the training range than the margin allows.
    OutOfRange { x: f64, lo: f64, hi: f64 },
    /// A category the one-hot encoder ignores.
    Unseen(&'v str),
}

impl Unusual<'_> {
    /// Why `--strict` refuses it.
    pub fn reason(&self) -> String {
        match *self {
            Unusual::OutOfRange { x, lo, hi } => {
                format!("{x} is far outside the training range (accepted: {lo} to {hi}; --strict)")
            }
            Unusual::Unseen(s) => format!("category `{s}` was never seen in training (--strict)"),
        }
    }
}

/// The training profile's checks of a package's input columns, in schema
/// order: the same for a CSV file and a served request.
#[derive(Debug, Clone)]
pub struct ProfileChecks {
    columns: Vec<ColumnCheck>,
}

impl ProfileChecks {
    pub fn new(artifact: &Artifact, options: ScoreOptions) -> ProfileChecks {
        let columns = artifact
            .metadata
            .training_profile
            .iter()
            .enumerate()
            .map(|(j, prof)| {
                let bounds = prof.range().map(|(lo, hi)| {
                    let m = options.range_margin * (hi - lo);
                    (lo - m, hi + m)
                });
                let mut seen: HashSet<String> = match prof {
                    FeatureProfile::Categorical { categories, .. } => {
                        categories.iter().map(|c| c.value.clone()).collect()
                    }
                    FeatureProfile::Numeric { .. } => HashSet::new(),
                };
                // And the categories the one-hot encoder knows: the same for a
                // package optbench fitted; for an imported one (whose training
                // rows may not have been given) the file's categories.
                if let Some(crate::pipeline::Step::OneHot {
                    categories, folded, ..
                }) = artifact.pipeline.steps.get(j)
                {
                    seen.extend(categories.iter().chain(folded).cloned());
                }
                ColumnCheck {
                    bounds,
                    seen,
                    categorical: matches!(prof, FeatureProfile::Categorical { .. }),
                }
            })
            .collect();
        ProfileChecks { columns }
    }

    /// What is unusual about value `v` of column `j`, if anything. A value
    /// of the wrong kind is validation's to refuse, not unusual.
    #[inline]
    pub fn check<'v>(&self, j: usize, v: Value<'v>) -> Option<Unusual<'v>> {
        let c = &self.columns[j];
        match v {
            Value::Missing => None,
            Value::Number(x) => match c.bounds.filter(|_| !c.categorical) {
                Some((lo, hi)) if x < lo || x > hi => Some(Unusual::OutOfRange { x, lo, hi }),
                _ => None,
            },
            Value::Text(s) => (c.categorical && !c.seen.contains(s)).then_some(Unusual::Unseen(s)),
        }
    }
}

/// Scores every row of `input`, handing each outcome to `sink`. A row that
/// fails validation (or, with `strict`, a range or category check) ends the
/// scoring with an error naming its line and column, unless `skip_invalid`,
/// in which case it goes to the sink as `Rejected`.
pub fn score_csv(
    artifact: &Artifact,
    input: &Path,
    options: ScoreOptions,
    skip_invalid: bool,
    sink: impl FnMut(RowOutcome<'_>) -> Result<()>,
) -> Result<ScoreSummary> {
    score_csv_with(artifact, input, options, skip_invalid, &[], sink)
}

/// [`score_csv`], with `pass_through` columns (an id column to copy into
/// the output) that are neither features nor extra columns.
pub fn score_csv_with(
    artifact: &Artifact,
    input: &Path,
    options: ScoreOptions,
    skip_invalid: bool,
    pass_through: &[&str],
    mut sink: impl FnMut(RowOutcome<'_>) -> Result<()>,
) -> Result<ScoreSummary> {
    // Flexible: a line with the wrong number of fields is one bad row,
    // rejected like the others under `skip_invalid`.
    let (mut rdr, header) = crate::data::open_csv_with(input, true)?;
    let meta = &artifact.metadata;
    let schema = &artifact.schema;
    let mut summary = ScoreSummary::default();
    let checks = ProfileChecks::new(artifact, options);
    let mut file_cols = Vec::with_capacity(schema.len());
    for f in &schema.features {
        let file_col = match header.iter().position(|h| *h == f.name) {
            Some(i) => i,
            None => {
                return Err(Error::data(
                    input,
                    format!(
                    "missing column `{}` ({}), which the model needs; the model's columns are: {}{}",
                    f.name,
                    f.kind,
                    schema
                        .features
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    crate::data::column_hint(&f.name, &header)
                ),
                ))
            }
        };
        file_cols.push(file_col);
        summary.columns.push(ColumnNotes {
            name: f.name.clone(),
            ..Default::default()
        });
    }
    let target_col = header.iter().position(|h| *h == meta.target);
    summary.extra_columns = header
        .iter()
        .filter(|h| {
            **h != meta.target
                && schema.position(h).is_none()
                && !meta.ignored_columns.contains(h)
                && !pass_through.contains(&h.as_str())
        })
        .cloned()
        .collect();
    if options.strict && !summary.extra_columns.is_empty() {
        return Err(Error::data(
            input,
            format!(
                "column(s) {} are not in the model's schema (--strict refuses unknown columns)",
                summary
                    .extra_columns
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }

    let mut predictor: Predictor<'_> = artifact.predictor();
    let mut proba = vec![0.0f32; artifact.compiled().n_classes()];
    let mut record = csv::StringRecord::new();
    let mut bytes;
    let numeric = schema.is_numeric();
    let mut numbers: Vec<f64> = Vec::with_capacity(schema.len());
    loop {
        // The last row's buffer, reused: no allocation per row.
        bytes = std::mem::take(&mut record).into_byte_record();
        match rdr.read_byte_record(&mut bytes) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(input, e)),
        }
        if bytes.iter().all(<[u8]>::is_empty) {
            continue;
        }
        summary.rows += 1;
        let row = summary.rows;
        let line = bytes.position().map_or(0, |p| p.line());
        // A line broken as a whole: the wrong number of fields, or not
        // UTF-8. Its fields go to the rejected file as well as they read.
        let broken = if bytes.len() != header.len() {
            Some(crate::data::fields_message(bytes.len(), header.len()))
        } else {
            match csv::StringRecord::from_byte_record(std::mem::take(&mut bytes)) {
                Ok(r) => {
                    record = r;
                    None
                }
                Err(e) => {
                    bytes = e.into_byte_record();
                    Some("the line is not valid UTF-8".to_string())
                }
            }
        };
        if let Some(reason) = broken {
            if !skip_invalid {
                return Err(Error::Line {
                    path: input.into(),
                    line,
                    message: reason,
                });
            }
            summary.rejected += 1;
            let lossy: csv::StringRecord = bytes
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            sink(RowOutcome::Rejected {
                row,
                line,
                column: String::new(),
                reason,
                record: &lossy,
            })?;
            continue;
        }
        // Borrows the record, so one small vector per row.
        let values: Vec<Value<'_>> = file_cols
            .iter()
            .enumerate()
            .map(|(j, &c)| schema.parse_field(j, &record[c]))
            .collect();
        // Validation first (what serving refuses), then the profile checks
        // (what serving only reports, unless strict).
        let mut problem: Option<(usize, String)> = None;
        if let Err(e) = schema.validate_row(&values) {
            let j = e.column().unwrap_or(0);
            let field = e.column().map(|j| &record[file_cols[j]]);
            let (_, msg) = e.message(schema, field);
            problem = Some((j, msg));
        } else {
            for (j, &v) in values.iter().enumerate() {
                let notes = &mut summary.columns[j];
                if matches!(v, Value::Missing) {
                    notes.missing += 1;
                }
                let Some(unusual) = checks.check(j, v) else {
                    continue;
                };
                match unusual {
                    Unusual::OutOfRange { .. } => notes.out_of_range += 1,
                    Unusual::Unseen(s) => {
                        notes.unseen_categories += 1;
                        if notes.unseen_examples.len() < 5
                            && !notes.unseen_examples.iter().any(|e| e == s)
                        {
                            notes.unseen_examples.push(s.to_owned());
                        }
                    }
                }
                if options.strict && problem.is_none() {
                    problem = Some((j, unusual.reason()));
                }
            }
        }
        if let Some((j, reason)) = problem {
            let column = schema.features[j].name.clone();
            if !skip_invalid {
                return Err(Error::Cell {
                    path: input.into(),
                    line,
                    column,
                    message: format!("data row {row}: {reason}"),
                });
            }
            summary.rejected += 1;
            sink(RowOutcome::Rejected {
                row,
                line,
                column,
                reason,
                record: &record,
            })?;
            continue;
        }
        let request = request_form(numeric, &values, &mut numbers);
        // Validated above, so this cannot refuse; if it did, say so.
        let class = predictor
            .predict_proba_request(request, &mut proba)
            .map_err(|e| {
                let (column, message) = e.message(schema, None);
                Error::Cell {
                    path: input.into(),
                    line,
                    column,
                    message,
                }
            })?;
        summary.scored += 1;
        if let Some(t) = target_col {
            let label = &record[t];
            if !is_missing(label) {
                match meta.classes.iter().position(|c| c == label) {
                    Some(k) => {
                        summary.labelled += 1;
                        summary.correct += u64::from(k as u32 == class);
                    }
                    None => summary.unknown_labels += 1,
                }
            }
        }
        sink(RowOutcome::Scored {
            row,
            class,
            proba: &proba,
            record: &record,
        })?;
    }
    if summary.rows == 0 {
        return Err(Error::data(input, "no data rows after the header"));
    }
    Ok(summary)
}

/// A validated row in the form `run` measured: numbers when every column
/// is numeric (`numbers` is the reused buffer; a `NaN` there is a missing
/// cell), typed cells otherwise.
pub(super) fn request_form<'r, 'v>(
    numeric: bool,
    values: &'r [Value<'v>],
    numbers: &'r mut Vec<f64>,
) -> Request<'r, 'v> {
    if numeric {
        numbers.clear();
        numbers.extend(values.iter().map(|v| match *v {
            Value::Number(x) => x,
            _ => f64::NAN,
        }));
        Request::Numbers(numbers)
    } else {
        Request::Cells(values)
    }
}

/// Where `predict` writes.
#[derive(Debug, Clone, Copy)]
pub struct PredictFiles<'a> {
    pub input: &'a Path,
    /// `None`: standard output.
    pub output: Option<&'a Path>,
    /// Rows refused by validation go here (with `skip_invalid`); without
    /// it, the first such row ends the command.
    pub rejected: Option<&'a Path>,
    /// Also write one probability column per class.
    pub proba: bool,
    /// A column of the input copied into the output after `row` (an
    /// identifier; not a feature unless the model has it).
    pub id_column: Option<&'a str>,
}

/// `optbench predict`: scores `files.input` into a CSV of `row,prediction`
/// (and `proba_<class>` columns), rejected rows into their own CSV (`row`,
/// `line`, `column`, `reason`, then the row's original fields). Files appear
/// only complete: on an error nothing is left behind. Probabilities are
/// written in the shortest form that reads back to the same `f32`.
pub fn predict_csv(
    artifact: &Artifact,
    files: PredictFiles<'_>,
    options: ScoreOptions,
) -> Result<ScoreSummary> {
    use std::io::Write;
    let input_header = crate::data::read_header(files.input)?;
    let mut file = files
        .output
        .map(crate::fsutil::AtomicFile::create)
        .transpose()?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let sink: &mut dyn Write = match &mut file {
        Some(f) => f,
        None => &mut stdout,
    };
    let out_name = files
        .output
        .map_or_else(|| Path::new("<stdout>").to_path_buf(), Path::to_path_buf);
    let io_out = |e: csv::Error| Error::io(&out_name, e.into());
    let mut out = csv::Writer::from_writer(sink);
    let classes = &artifact.metadata.classes;
    let id = match files.id_column {
        Some(name) => match input_header.iter().position(|h| h == name) {
            Some(i) => Some(i),
            None => {
                return Err(Error::flag(
                    "--id-column",
                    format!(
                        "no column `{name}` in {}; its columns are: {}",
                        files.input.display(),
                        input_header.join(", ")
                    ),
                ))
            }
        },
        None => None,
    };
    let mut header = vec!["row".to_string()];
    header.extend(files.id_column.map(str::to_owned));
    header.push("prediction".to_string());
    if files.proba {
        header.extend(classes.iter().map(|c| format!("proba_{c}")));
    }
    // Written with the first scored row (or at the end), not before the
    // input's columns are checked: on standard output, which cannot be
    // written atomically, a file refused outright then prints nothing.
    let mut header = Some(header);

    let mut rejected_file = files
        .rejected
        .map(crate::fsutil::AtomicFile::create)
        .transpose()?;
    let rej_name = files.rejected.map(Path::to_path_buf).unwrap_or_default();
    let io_rej = |e: csv::Error| Error::io(&rej_name, e.into());
    // Flexible: a line broken as a whole keeps the fields it had, more or
    // fewer than the header's.
    let mut rejected = rejected_file
        .as_mut()
        .map(|f| csv::WriterBuilder::new().flexible(true).from_writer(f));
    if let Some(r) = rejected.as_mut() {
        let mut h = vec!["row", "line", "column", "reason"];
        h.extend(input_header.iter().map(String::as_str));
        r.write_record(&h).map_err(io_rej)?;
    }
    // One reused buffer for the numbers: no allocation per scored row.
    let mut buf = String::new();
    let summary = score_csv_with(
        artifact,
        files.input,
        options,
        rejected.is_some(),
        files.id_column.as_slice(),
        |outcome| match outcome {
            RowOutcome::Scored {
                row,
                class,
                proba,
                record,
            } => {
                use std::fmt::Write as _;
                if let Some(h) = header.take() {
                    out.write_record(&h).map_err(io_out)?;
                }
                buf.clear();
                let _ = write!(buf, "{row}");
                out.write_field(&buf).map_err(io_out)?;
                if let Some(i) = id {
                    out.write_field(record.get(i).unwrap_or(""))
                        .map_err(io_out)?;
                }
                out.write_field(&classes[class as usize]).map_err(io_out)?;
                if files.proba {
                    for p in proba {
                        buf.clear();
                        let _ = write!(buf, "{p}");
                        out.write_field(&buf).map_err(io_out)?;
                    }
                }
                out.write_record(None::<&[u8]>).map_err(io_out)
            }
            RowOutcome::Rejected {
                row,
                line,
                column,
                reason,
                record,
            } => {
                let Some(r) = rejected.as_mut() else {
                    return Ok(());
                };
                let mut f = vec![row.to_string(), line.to_string(), column, reason];
                f.extend(record.iter().map(str::to_owned));
                r.write_record(&f).map_err(io_rej)
            }
        },
    )?;
    if let Some(h) = header {
        out.write_record(&h).map_err(io_out)?;
    }
    out.flush().map_err(|e| io_out(e.into()))?;
    drop(out);
    if let Some(flushed) = rejected.map(|mut r| r.flush()) {
        flushed.map_err(|e| io_rej(e.into()))?;
    }
    if let Some(f) = file {
        f.commit()?;
    }
    if let Some(f) = rejected_file {
        f.commit()?;
    }
    Ok(summary)
}
