//! A request's rows through the package: each row's cells read as the
//! schema reads them, checked against the training profile, then the
//! package's own validate → preprocess → predict path on the worker
//! thread's predictor. An invalid row refuses the request (naming its row
//! and column) or, under `--on-invalid fallback`, gets the fallback class
//! and is reported as such.

use super::metrics::{Metrics, Step};
use super::rows::{bad, Cell, Refused};
use super::traffic::{now_ms, Logged, Record, RequestLog};
use super::worker::{with_predictor, Loaded};
use crate::artifact::Unusual;
use crate::data::{Request, Value};
use std::sync::Arc;
use std::time::Instant;

/// A row given the fallback class, and why.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fallback {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// What a request's rows came to.
pub(super) struct Scored {
    /// Class indices into the package's classes.
    pub classes: Vec<u32>,
    /// One row of probabilities per row, row-major. A fallback row's is 1
    /// for the fallback class and 0 elsewhere.
    pub proba: Vec<f32>,
    /// Under `--on-invalid fallback`: one flag per row.
    pub fallback: Option<Vec<bool>>,
    /// The fallback rows with their reasons, in row order.
    pub fallbacks: Vec<Fallback>,
}

/// Scores the rows given column by column (`cols[j][r]`), counting values
/// outside the training profile and invalid rows into `metrics` under
/// `route`, and the time spent preprocessing and predicting. With `log`, a
/// sample of the rows (scored or given the fallback class) is handed to the
/// request log.
pub(super) fn score(
    loaded: &Arc<Loaded>,
    strict: bool,
    cols: &[Vec<Cell<'_>>],
    metrics: &Metrics,
    route: &str,
    log: Option<&RequestLog>,
) -> Result<Scored, Refused> {
    let shared = loaded;
    let unix_ms = if log.is_some() { now_ms() } else { 0 };
    let keep = |row: &[Value<'_>], fallback: bool, class: u32, proba: &[f32]| {
        if let Some(log) = log.filter(|l| l.sample()) {
            log.push(Record {
                unix_ms,
                loaded: shared.clone(),
                fallback,
                class,
                proba: proba.into(),
                values: row
                    .iter()
                    .map(|v| match *v {
                        Value::Missing => Logged::Missing,
                        Value::Number(x) => Logged::Number(x),
                        Value::Text(t) => Logged::Text(t.into()),
                    })
                    .collect(),
            });
        }
    };
    with_predictor(loaded, |loaded, predictor| {
        let a = &loaded.artifact;
        let schema = &a.schema;
        let n = cols.first().map_or(0, Vec::len);
        let k = a.metadata.classes.len();
        let mut classes = Vec::with_capacity(n);
        let mut proba = vec![0.0f32; n * k];
        let mut flags = loaded.fallback.map(|_| Vec::with_capacity(n));
        let mut fallbacks = Vec::new();
        // Per column: out-of-range numbers and unseen categories.
        let mut unusual = vec![(0u64, 0u64); cols.len()];
        let mut row: Vec<Value<'_>> = Vec::with_capacity(cols.len());
        let (mut preprocess, mut predict) = (0.0f64, 0.0f64);
        let mut t = Instant::now();
        for r in 0..n {
            row.clear();
            // The first problem of the row: (column, reason).
            let mut problem: Option<(usize, String)> = None;
            for (j, col) in cols.iter().enumerate() {
                match col[r].value(schema, j) {
                    Ok(v) => row.push(v),
                    Err(m) => {
                        problem.get_or_insert((j, m));
                        row.push(Value::Missing);
                    }
                }
            }
            if problem.is_none() {
                for (j, &v) in row.iter().enumerate() {
                    if let Some(u) = loaded.checks.check(j, v) {
                        match u {
                            Unusual::OutOfRange { .. } => unusual[j].0 += 1,
                            Unusual::Unseen(_) => unusual[j].1 += 1,
                        }
                        if strict && problem.is_none() {
                            problem = Some((j, u.reason()));
                        }
                    }
                }
            }
            let out = &mut proba[r * k..(r + 1) * k];
            let (j, reason) = match problem {
                Some(p) => p,
                None => match predictor.prepare_request(Request::Cells(&row)) {
                    Ok(()) => {
                        let now = Instant::now();
                        preprocess += (now - t).as_secs_f64();
                        t = now;
                        let class = predictor.predict_prepared(out);
                        classes.push(class);
                        let now = Instant::now();
                        predict += (now - t).as_secs_f64();
                        t = now;
                        if let Some(f) = &mut flags {
                            f.push(false);
                        }
                        keep(&row, false, class, out);
                        continue;
                    }
                    Err(e) => (e.column().unwrap_or(0), e.message(schema, None).1),
                },
            };
            let column = schema.features[j].name.clone();
            let Some(class) = loaded.fallback else {
                metrics.invalid(route, false, 1);
                return Err(bad(format!("row {r}, column `{column}`: {reason}")));
            };
            out.fill(0.0);
            out[class as usize] = 1.0;
            classes.push(class);
            keep(&row, true, class, out);
            if let Some(f) = &mut flags {
                f.push(true);
            }
            fallbacks.push(Fallback {
                row: r,
                column,
                reason,
            });
            let now = Instant::now();
            preprocess += (now - t).as_secs_f64();
            t = now;
        }
        metrics.stage(Step::Preprocess, preprocess);
        metrics.stage(Step::Predict, predict);
        metrics.rows(route, n);
        metrics.invalid(route, true, fallbacks.len());
        for (f, &(out_of_range, unseen)) in schema.features.iter().zip(&unusual) {
            metrics.unusual(&f.name, out_of_range, unseen);
        }
        Ok(Scored {
            classes,
            proba,
            fallback: flags,
            fallbacks,
        })
    })
}
