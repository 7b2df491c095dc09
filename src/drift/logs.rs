//! Served traffic as the current data: the files `optbench serve
//! --log-requests DIR` writes (one JSON object a line, see
//! `serve::traffic`), read as a drift table, with the predictions the
//! server made.
//!
//! Rows logged by another model (id and version) than the package given
//! are counted and left out unless every version is asked for; rows given
//! the fallback class count for the features (they are what production
//! sent; a cell of theirs that failed validation counts as missing) but
//! not for prediction drift (the fallback is not the model's answer). A last line without its newline (a file being written) is
//! skipped.

use super::model::Predictions;
use super::table::{Column, Kind, Known, Table, Values, MISSING_CATEGORY};
use crate::artifact::Artifact;
use crate::error::{Error, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Which logged rows to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Rows logged at or after this instant (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Keep rows of every model version, not only the package's.
    pub all_versions: bool,
}

/// Rows of a model version left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherVersion {
    pub id: String,
    pub version: String,
    pub rows: usize,
}

/// What was read from the log folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSummary {
    pub files: usize,
    /// Every complete line of every file.
    pub rows_read: usize,
    /// Rows compared (after the filters).
    pub rows_used: usize,
    /// Rows before `--since`.
    pub rows_before_since: usize,
    pub since: Option<String>,
    /// Rows of other model versions (left out unless `--all-versions`).
    pub other_versions: Vec<OtherVersion>,
    pub other_versions_included: bool,
    /// Rows served the fallback class (in the feature comparison, not in
    /// the prediction drift).
    pub fallback_rows: usize,
    /// First and last timestamps of the rows used.
    pub first: Option<String>,
    pub last: Option<String>,
    /// Last lines without their newline (files still being written).
    pub incomplete_lines: usize,
    /// Rows of other versions whose predicted class the package does not
    /// have (left out of the prediction drift).
    pub unknown_predictions: usize,
}

/// A JSON object's entries in file order (the writer writes the package's
/// column order).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of column values")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct Line {
    ts: String,
    id: String,
    version: String,
    fallback: bool,
    prediction: String,
    proba: BTreeMap<String, f32>,
    row: Ordered,
}

enum Acc {
    Numeric(Vec<f64>),
    Categorical(HashMap<String, u64>),
}

/// Reads every log file in `dir` (oldest first). `artifact` (with `version`,
/// the first 12 hex digits of its model file's SHA-256, as `serve` names
/// it) fixes the columns' kinds, the version kept and the classes of the
/// predictions; `known` fixes kinds otherwise.
pub(super) fn read_logs(
    dir: &Path,
    artifact: Option<&Artifact>,
    known: &Known,
    filter: LogFilter,
) -> Result<(Table, LogSummary, Option<Predictions>)> {
    let files = crate::serve::traffic::log_files(dir)?;
    if files.is_empty() {
        return Err(Error::data(
            dir,
            "no request log files (requests-*.ndjson) in this folder: expected the --log-requests folder of `optbench serve`",
        ));
    }
    let version: Option<String> =
        artifact.map(|a| a.metadata.model_file.sha256.chars().take(12).collect());
    let id = artifact.map(|a| a.metadata.model.id.as_str());
    let classes: HashMap<&str, usize> = artifact.map_or_else(HashMap::new, |a| {
        a.metadata
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect()
    });
    let k = classes.len();
    let mut summary = LogSummary {
        files: files.len(),
        rows_read: 0,
        rows_used: 0,
        rows_before_since: 0,
        since: filter.since_ms.map(|_| String::new()),
        other_versions: Vec::new(),
        other_versions_included: filter.all_versions,
        fallback_rows: 0,
        first: None,
        last: None,
        incomplete_lines: 0,
        unknown_predictions: 0,
    };
    let mut names: Vec<String> = Vec::new();
    let mut acc: Vec<Acc> = Vec::new();
    let mut others: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut predictions = Predictions {
        classes: Vec::new(),
        score: Vec::new(),
    };
    let mut unknown_class = 0usize;
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (i, raw) in lines.iter().enumerate() {
            let line_no = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let last = i + 1 == lines.len();
            let line: Line = match serde_json::from_str(raw) {
                Ok(l) => l,
                Err(_) if last && !complete => {
                    summary.incomplete_lines += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::data(
                        path,
                        format!("line {line_no}: not a request log line: {e}"),
                    ))
                }
            };
            summary.rows_read += 1;
            let ts = crate::timefmt::parse_utc_ms(&line.ts).ok_or_else(|| {
                Error::data(
                    path,
                    format!(
                        "line {line_no}: timestamp `{}` is not YYYY-MM-DDTHH:MM:SS.fffZ",
                        line.ts
                    ),
                )
            })?;
            if filter.since_ms.is_some_and(|s| ts < s) {
                summary.rows_before_since += 1;
                continue;
            }
            let same = id.is_none_or(|id| id == line.id)
                && version.as_deref().is_none_or(|v| v == line.version);
            if !same {
                *others
                    .entry((line.id.clone(), line.version.clone()))
                    .or_insert(0) += 1;
                if !filter.all_versions {
                    continue;
                }
            }
            if names.is_empty() {
                names = line.row.0.iter().map(|(n, _)| n.clone()).collect();
                acc = names
                    .iter()
                    .map(|n| match known.get(n) {
                        Some((Kind::Categorical, _)) => Acc::Categorical(HashMap::new()),
                        Some((Kind::Numeric, _)) => Acc::Numeric(Vec::new()),
                        None => {
                            let first = line.row.0.iter().find(|(c, _)| c == n);
                            match first.map(|(_, v)| v) {
                                Some(serde_json::Value::String(_)) => {
                                    Acc::Categorical(HashMap::new())
                                }
                                _ => Acc::Numeric(Vec::new()),
                            }
                        }
                    })
                    .collect();
            }
            let cols = &line.row.0;
            if cols.len() != names.len() || cols.iter().zip(&names).any(|((c, _), n)| c != n) {
                return Err(Error::data(
                    path,
                    format!(
                        "line {line_no}: columns {} differ from the earlier rows' ({}); pass --model to keep one model's rows",
                        cols.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", "),
                        names.join(", ")
                    ),
                ));
            }
            for ((name, v), a) in cols.iter().zip(acc.iter_mut()) {
                match (a, v) {
                    (Acc::Numeric(x), serde_json::Value::Null) => x.push(f64::NAN),
                    (Acc::Numeric(x), serde_json::Value::Number(n)) => {
                        x.push(n.as_f64().unwrap_or(f64::NAN))
                    }
                    (Acc::Categorical(c), serde_json::Value::Null) => {
                        *c.entry(MISSING_CATEGORY.to_owned()).or_insert(0) += 1
                    }
                    (Acc::Categorical(c), serde_json::Value::String(s)) => {
                        *c.entry(s.clone()).or_insert(0) += 1
                    }
                    // A fallback row's cell that failed validation is logged
                    // as received; it carries no value to compare.
                    (Acc::Numeric(x), _) if line.fallback => x.push(f64::NAN),
                    (Acc::Categorical(c), _) if line.fallback => {
                        *c.entry(MISSING_CATEGORY.to_owned()).or_insert(0) += 1
                    }
                    (a, v) => {
                        let want = match a {
                            Acc::Numeric(_) => "a number or null",
                            Acc::Categorical(_) => "a text or null",
                        };
                        return Err(Error::data(
                            path,
                            format!("line {line_no}, column `{name}`: expected {want}, found {v}"),
                        ));
                    }
                }
            }
            summary.rows_used += 1;
            summary.first.get_or_insert_with(|| line.ts.clone());
            summary.last = Some(line.ts.clone());
            if line.fallback {
                summary.fallback_rows += 1;
                continue;
            }
            if let Some(a) = artifact {
                match classes.get(line.prediction.as_str()) {
                    Some(&c) => {
                        let p =
                            |name: &str| f64::from(line.proba.get(name).copied().unwrap_or(0.0));
                        let names = &a.metadata.classes;
                        predictions.classes.push(c as u32);
                        predictions
                            .score
                            .push(if k == 2 { p(&names[1]) } else { p(&names[c]) });
                    }
                    None => unknown_class += 1,
                }
            }
        }
    }
    if let Some(s) = filter.since_ms {
        summary.since = Some(crate::timefmt::format_utc(s.div_euclid(1000)));
    }
    summary.other_versions = others
        .into_iter()
        .map(|((id, version), rows)| OtherVersion { id, version, rows })
        .collect();
    if summary.rows_used == 0 {
        return Err(Error::data(
            dir,
            format!(
                "no rows to compare: {} read, {} before --since, {} of other model versions (--all-versions keeps them)",
                summary.rows_read,
                summary.rows_before_since,
                summary.other_versions.iter().map(|o| o.rows).sum::<usize>()
            ),
        ));
    }
    summary.unknown_predictions = unknown_class;
    let columns = names
        .into_iter()
        .zip(acc)
        .map(|(name, a)| Column {
            name,
            values: match a {
                Acc::Numeric(v) => Values::Numeric(v),
                Acc::Categorical(c) => Values::Categorical(c.into_iter().collect()),
            },
        })
        .collect();
    let table = Table {
        path: PathBuf::from(dir),
        rows: summary.rows_used,
        columns,
        labels: None,
    };
    Ok((table, summary, artifact.map(|_| predictions)))
}
