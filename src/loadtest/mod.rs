//! `optbench loadtest`: served latency measured where the client stands.
//! Starts `optbench serve` on a package (or targets a running server),
//! steps an open-loop request rate ([`generator`]) for each request size
//! (rows per request), and reads the server's own stage timings from its
//! `/metrics` between steps, so the time a client sees splits into the
//! server's parse, preprocess, predict and serialize, and what lies outside
//! the server (the network stack, HTTP, queueing). Writes
//! `serve_bench.json`, `serve_bench.svg` (p99 against offered rate: the
//! knee where the server saturates) and `serve_bench.html`.
//!
//! Uses `artifact`, `data` and `serve`'s command line. Key items:
//! [`Options`], [`loadtest`], [`Bench`].

pub mod generator;
mod report;
mod server;

use crate::artifact::Artifact;
use crate::data::{FeatureKind, FeatureProfile};
use crate::error::{Error, Result};
use generator::{run_step, Step, StepResult, Target};
use hyper::body::Bytes;
use serde::Serialize;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Any HTTP server, sent one fixed request: how the same generator loads
/// the servers a user would pick instead (`scripts/compare_serving.sh`).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// Path and query.
    pub path: String,
    pub body: Vec<u8>,
    /// Header lines sent with every request (a content type, at least).
    pub headers: Vec<(String, String)>,
    /// What the series is labelled with: the rows the body carries.
    pub rows: usize,
}

/// What `optbench loadtest` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The package to serve (and whose rows make the requests); with
    /// `endpoint`, nothing is served or read from a package.
    pub model: PathBuf,
    /// Load this endpoint with its one request instead of an optbench
    /// server on `model`.
    pub endpoint: Option<Endpoint>,
    /// A server already running on the package (`host:port`); otherwise
    /// `optbench serve` is started on 127.0.0.1 with a free port.
    pub addr: Option<SocketAddr>,
    /// Rows for the requests (a CSV with the package's columns); default
    /// rows built from the training profile's quantiles.
    pub input: Option<PathBuf>,
    /// Requests per second, stepped in order.
    pub rates: Vec<f64>,
    /// Rows per request; each size gets its own rate steps.
    pub rows: Vec<usize>,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    pub timeout: Duration,
    /// Stop stepping a size once its p99 passes this (or a request fails).
    pub stop_p99: Duration,
    /// `--threads` of the server started (0: one per core).
    pub server_threads: usize,
    /// Where the report goes.
    pub out: PathBuf,
    /// No line per rate step on standard error.
    pub quiet: bool,
    /// With each step's line, where the server spent its time.
    pub verbose: bool,
}

/// The server's own handling of one step's requests, from its `/metrics`
/// (means over every request of the step, warm-up included).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerSide {
    pub requests: u64,
    /// From the request's arrival at the router to its response.
    pub handling_mean_us: f64,
    /// parse, preprocess, predict, serialize.
    pub stages_mean_us: BTreeMap<String, f64>,
    /// The client's mean service time (request written → answer read)
    /// minus the server's mean handling: the network stack, HTTP framing
    /// and the client itself.
    pub outside_server_mean_us: Option<f64>,
}

/// One step, as the client and the server saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    #[serde(flatten)]
    pub client: StepResult,
    pub server: Option<ServerSide>,
}

/// The steps of one request size.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub rows_per_request: usize,
    pub steps: Vec<Measured>,
    /// The highest offered rate whose p99 stayed within the stop threshold
    /// with no failed request.
    pub knee_rate: Option<f64>,
}

/// Everything `serve_bench.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Bench {
    pub created_utc: String,
    pub optbench_version: String,
    pub generator: Json,
    pub server: server::ServerInfo,
    pub series: Vec<Series>,
}

/// Runs the load test and writes its report.
pub fn loadtest(options: &Options) -> Result<Bench> {
    let (running, targets) = match &options.endpoint {
        Some(e) => {
            let running = server::Running::endpoint(e.addr, &e.path)?;
            let target = Target {
                addr: e.addr,
                path: e.path.clone(),
                headers: e.headers.clone(),
                bodies: Arc::new(vec![Bytes::from(e.body.clone())]),
            };
            (running, vec![(e.rows, target)])
        }
        None => {
            let artifact = Artifact::load(&options.model)?;
            let pool = row_pool(&artifact, options)?;
            let running = match options.addr {
                Some(addr) => server::Running::existing(addr, &artifact)?,
                None => server::Running::start(&options.model, options.server_threads, &artifact)?,
            };
            let path = format!("/v2/models/{}/infer", running.name);
            let targets = options
                .rows
                .iter()
                .map(|&rows| {
                    let target = Target {
                        addr: running.addr,
                        path: path.clone(),
                        headers: vec![("content-type".into(), "application/json".into())],
                        bodies: Arc::new(bodies(&artifact, &pool, rows)),
                    };
                    (rows, target)
                })
                .collect();
            (running, targets)
        }
    };
    let result = run_series(options, &targets, &running);
    let info = running.finish();
    let bench = Bench {
        created_utc: crate::timefmt::utc_now(),
        optbench_version: env!("CARGO_PKG_VERSION").into(),
        generator: json!({
            "kind": "optbench loadtest: open loop, latency from each request's due time",
            "connections": options.connections,
            "duration_s": options.duration.as_secs_f64(),
            "warmup_s": options.warmup.as_secs_f64(),
            "timeout_s": options.timeout.as_secs_f64(),
            "stop_p99_ms": options.stop_p99.as_secs_f64() * 1e3,
        }),
        server: info?,
        series: result?,
    };
    report::write(&options.out, &bench)?;
    Ok(bench)
}

fn run_series(
    options: &Options,
    targets: &[(usize, Target)],
    running: &server::Running,
) -> Result<Vec<Series>> {
    let mut all = Vec::new();
    for (rows, target) in targets {
        let rows = *rows;
        let mut steps = Vec::new();
        let mut knee = None;
        for &rate in &options.rates {
            let before = running.metrics();
            let client = run_step(
                target,
                &Step {
                    rate,
                    duration: options.duration,
                    warmup: options.warmup,
                    connections: options.connections,
                    timeout: options.timeout,
                },
            )
            .map_err(Error::Measure)?;
            let after = running.metrics();
            let server = match (before, after) {
                (Some(b), Some(a)) if a.contains("optbench_request_duration_seconds") => {
                    server_side(&b, &a, &client, route_of(&target.path))
                }
                _ => None,
            };
            let p99 = client.latency.map_or(f64::INFINITY, |l| l.p99_us);
            let clean = client.errors == 0 && client.timeouts == 0;
            let within = clean && p99 <= options.stop_p99.as_secs_f64() * 1e6;
            if !options.quiet {
                eprintln!(
                "{rows} row(s)/request at {rate} requests/s: p50 {:.0} µs, p99 {:.0} µs, achieved {:.0}/s, {} errors, {} timeouts",
                client.latency.map_or(f64::NAN, |l| l.p50_us),
                p99,
                client.achieved_rate,
                client.errors,
                client.timeouts
            );
            }
            if let (true, Some(s)) = (options.verbose && !options.quiet, &server) {
                let stages: Vec<String> = s
                    .stages_mean_us
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.1} µs"))
                    .collect();
                eprintln!(
                    "  server: {} requests, handling {:.1} µs mean ({}); outside the server {}",
                    s.requests,
                    s.handling_mean_us,
                    stages.join(", "),
                    s.outside_server_mean_us
                        .map_or("–".into(), |v| format!("{v:.1} µs mean"))
                );
            }
            steps.push(Measured { client, server });
            if within {
                knee = Some(rate);
            } else {
                break;
            }
        }
        all.push(Series {
            rows_per_request: rows,
            steps,
            knee_rate: knee,
        });
    }
    Ok(all)
}

/// The route template `optbench serve` counts a request path under.
fn route_of(path: &str) -> &'static str {
    if path.starts_with("/predict") {
        "/predict"
    } else if path.contains("/versions/") {
        "/v2/models/{name}/versions/{version}/infer"
    } else {
        "/v2/models/{name}/infer"
    }
}

/// The server-side means of a step on `route`: the difference of two
/// `/metrics` scrapes (sums and counts of the stage and handling
/// histograms); `None` when the server counted none.
fn server_side(before: &str, after: &str, client: &StepResult, route: &str) -> Option<ServerSide> {
    let delta =
        |name: &str| metric(after, name).unwrap_or(0.0) - metric(before, name).unwrap_or(0.0);
    let route = format!("route=\"{route}\"");
    let requests = delta(&format!(
        "optbench_request_duration_seconds_count{{{route}}}"
    ));
    let per_request = |sum: f64| {
        if requests > 0.0 {
            sum / requests * 1e6
        } else {
            0.0
        }
    };
    let handling = per_request(delta(&format!(
        "optbench_request_duration_seconds_sum{{{route}}}"
    )));
    let stages = ["parse", "preprocess", "predict", "serialize"]
        .iter()
        .map(|s| {
            let sum = delta(&format!(
                "optbench_stage_duration_seconds_sum{{stage=\"{s}\"}}"
            ));
            ((*s).to_string(), per_request(sum))
        })
        .collect();
    (requests > 0.0).then(|| ServerSide {
        requests: requests as u64,
        handling_mean_us: handling,
        stages_mean_us: stages,
        outside_server_mean_us: client.service.map(|s| s.mean_us - handling),
    })
}

/// The value of the metric line that starts with `name` followed by a
/// space.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Rows as JSON cells in schema order: from `--input` (cells read as the
/// CSV path reads them), or from the training profile — for row `i`,
/// column `j` takes the profile's quantile or category `(i + j) mod m`.
fn row_pool(artifact: &Artifact, options: &Options) -> Result<Vec<Vec<Json>>> {
    let schema = &artifact.schema;
    if let Some(path) = &options.input {
        let (mut reader, header) = crate::data::open_csv(path)?;
        let columns: Vec<usize> = schema
            .features
            .iter()
            .map(|f| {
                header.iter().position(|h| *h == f.name).ok_or_else(|| {
                    Error::data(
                        path,
                        format!("missing column `{}`, which the model needs", f.name),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let mut rows = Vec::new();
        let mut record = csv::StringRecord::new();
        while rows.len() < 10_000
            && reader
                .read_record(&mut record)
                .map_err(|e| crate::data::csv_error(path, e))?
        {
            rows.push(
                columns
                    .iter()
                    .enumerate()
                    .map(|(j, &c)| cell(schema.features[j].kind, &record[c]))
                    .collect(),
            );
        }
        if rows.is_empty() {
            return Err(Error::data(path, "no data rows after the header"));
        }
        return Ok(rows);
    }
    let choices: Vec<Vec<Json>> = artifact
        .metadata
        .training_profile
        .iter()
        .map(|p| match p {
            FeatureProfile::Numeric { quantiles, .. } => {
                quantiles.iter().map(|q| json!(q.value)).collect()
            }
            FeatureProfile::Categorical { categories, .. } => {
                categories.iter().map(|c| json!(c.value)).collect()
            }
        })
        .map(|c: Vec<Json>| if c.is_empty() { vec![Json::Null] } else { c })
        .collect();
    Ok((0..256)
        .map(|i| {
            choices
                .iter()
                .enumerate()
                .map(|(j, c)| c[(i + j) % c.len()].clone())
                .collect()
        })
        .collect())
}

/// A CSV cell as a V2 client sends it: a number, `null` when missing, or
/// the text (a category, or a number the client left as text).
fn cell(kind: FeatureKind, text: &str) -> Json {
    if crate::data::is_missing(text) {
        Json::Null
    } else if kind == FeatureKind::Numeric {
        text.parse::<f64>()
            .map_or_else(|_| json!(text), |x| json!(x))
    } else {
        json!(text)
    }
}

/// 32 V2 request bodies of `rows` rows each, taken in turn from the pool:
/// one tensor per column, numbers as FP64 (text in a numeric column as
/// BYTES), categories as BYTES.
fn bodies(artifact: &Artifact, pool: &[Vec<Json>], rows: usize) -> Vec<Bytes> {
    let schema = &artifact.schema;
    (0..32)
        .map(|b| {
            let picked: Vec<&Vec<Json>> = (0..rows)
                .map(|r| &pool[(b * rows + r) % pool.len()])
                .collect();
            let inputs: Vec<Json> = schema
                .features
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    let data: Vec<&Json> = picked.iter().map(|row| &row[j]).collect();
                    let text =
                        f.kind == FeatureKind::Categorical || data.iter().any(|v| v.is_string());
                    json!({
                        "name": f.name,
                        "shape": [rows, 1],
                        "datatype": if text { "BYTES" } else { "FP64" },
                        "data": data,
                    })
                })
                .collect();
            Bytes::from(json!({ "inputs": inputs }).to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_means_come_from_the_difference_of_two_scrapes() {
        let before = "optbench_request_duration_seconds_sum{route=\"/v2/models/{name}/infer\"} 1.0\n\
                      optbench_request_duration_seconds_count{route=\"/v2/models/{name}/infer\"} 100\n\
                      optbench_stage_duration_seconds_sum{stage=\"predict\"} 0.5\n";
        let after = "optbench_request_duration_seconds_sum{route=\"/v2/models/{name}/infer\"} 1.2\n\
                     optbench_request_duration_seconds_count{route=\"/v2/models/{name}/infer\"} 1100\n\
                     optbench_stage_duration_seconds_sum{stage=\"predict\"} 0.55\n";
        let client = StepResult {
            offered_rate: 1000.0,
            achieved_rate: 1000.0,
            requests: 1000,
            ok: 1000,
            errors: 0,
            timeouts: 0,
            statuses: BTreeMap::new(),
            latency: None,
            service: generator::Percentiles::from_nanos(&mut [500_000; 10]),
            release_lag: None,
        };
        let s = server_side(before, after, &client, route_of("/v2/models/m/infer")).unwrap();
        assert_eq!(route_of("/predict?proba=1"), "/predict");
        assert_eq!(s.requests, 1000);
        assert!((s.handling_mean_us - 200.0).abs() < 1e-6, "{s:?}");
        assert!((s.stages_mean_us["predict"] - 50.0).abs() < 1e-6, "{s:?}");
        assert_eq!(s.stages_mean_us["parse"], 0.0);
        assert!((s.outside_server_mean_us.unwrap() - 300.0).abs() < 1e-6);
    }
}
