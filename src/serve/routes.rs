//! The HTTP routes: health, model metadata, inference (V2 and plain JSON),
//! the repository extension's index and load, and the metrics; with the
//! middleware every routed request passes (in-flight count, timeout,
//! metrics, access log).

use super::metrics::Step;
use super::rows::{self, bad, Cell, InferRequest, Refused};
use super::score::{score, Scored};
use super::worker::Loaded;
use super::{reload, OnInvalid, Served};
use crate::data::FeatureKind;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

const INFER_ROUTE: &str = "/v2/models/{name}/infer";
const PREDICT_ROUTE: &str = "/predict";

/// Requests of more rows than this are scored with the worker thread
/// handed over to the runtime's blocking work (`block_in_place`), so the
/// other connections on that worker move to another one meanwhile.
const BLOCKING_ROWS: usize = 2048;

pub(super) fn router(served: Arc<Served>) -> Router {
    let max_body = served.options.max_body;
    Router::new()
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(INFER_ROUTE, post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_version),
        )
        .route("/v2/repository/index", post(repository_index))
        .route("/v2/repository/models/{name}/load", post(repository_load))
        .route(PREDICT_ROUTE, post(predict))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn_with_state(served.clone(), track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(served)
}

/// The rows a response scored, for the access log.
#[derive(Debug, Clone, Copy)]
struct RowsScored(usize);

fn json_response(status: StatusCode, body: &Json) -> Response {
    json_text(status, body.to_string())
}

fn json_text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refused(r: Refused) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, &json!({ "error": r.message }))
}

/// Counts every routed request in and out, bounds it by
/// `--request-timeout`, records its status and time under its route's
/// template, and writes the access-log line when asked.
async fn track(
    State(s): State<Arc<Served>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let logged = s.options.access_log.then(|| {
        let remote = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string());
        (
            request.method().to_string(),
            request.uri().to_string(),
            remote,
        )
    });
    let _in_flight = s.metrics.start();
    let start = Instant::now();
    let timeout = s.options.request_timeout;
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(r) => r,
        Err(_) => refused(Refused {
            status: 408,
            message: format!(
                "no answer within {} s (--request-timeout); the body came too slowly or the request was too large",
                timeout.as_secs_f64()
            ),
        }),
    };
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    s.metrics.request(&route, status, seconds);
    if let Some((method, uri, remote)) = logged {
        let rows = response.extensions().get::<RowsScored>().map(|r| r.0);
        eprintln!(
            "{}",
            json!({
                "time": crate::timefmt::utc_now(),
                "remote": remote,
                "method": method,
                "uri": uri,
                "route": route,
                "status": status,
                "rows": rows,
                "micros": (seconds * 1e6).round(),
            })
        );
    }
    response
}

async fn metrics_text(State(s): State<Arc<Served>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    refused(Refused {
        status: 404,
        message: "no such route; see `optbench serve --help`".into(),
    })
}

async fn method_not_allowed() -> Response {
    refused(Refused {
        status: 405,
        message: "method not allowed on this route; see `optbench serve --help`".into(),
    })
}

async fn live() -> Response {
    json_response(StatusCode::OK, &json!({ "live": true }))
}

async fn ready(State(s): State<Arc<Served>>) -> Response {
    let ready = s.ready.load(Ordering::SeqCst);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &json!({ "ready": ready }))
}

/// The model the path names, or a 404 naming the one served.
fn check_name(s: &Served, name: &str) -> Result<(), Refused> {
    if name == s.name {
        Ok(())
    } else {
        Err(Refused {
            status: 404,
            message: format!("unknown model `{name}`; this server serves `{}`", s.name),
        })
    }
}

/// 503 until the first package is warm.
fn check_ready(s: &Served) -> Result<(), Refused> {
    if s.ready.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(Refused {
            status: 503,
            message: "the model is warming up; retry when GET /v2/health/ready answers 200".into(),
        })
    }
}

async fn model_ready(State(s): State<Arc<Served>>, Path(name): Path<String>) -> Response {
    if let Err(r) = check_name(&s, &name) {
        return refused(r);
    }
    ready(State(s)).await
}

async fn metadata(State(s): State<Arc<Served>>, Path(name): Path<String>) -> Response {
    if let Err(r) = check_name(&s, &name) {
        return refused(r);
    }
    let loaded = s.current.load_full();
    let a = &loaded.artifact;
    let inputs: Vec<Json> = a
        .schema
        .features
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "datatype": match f.kind {
                    FeatureKind::Numeric => "FP64",
                    FeatureKind::Categorical => "BYTES",
                },
                "shape": [-1, 1],
            })
        })
        .collect();
    let mut outputs = vec![
        json!({ "name": "label", "datatype": "BYTES", "shape": [-1, 1] }),
        json!({ "name": "probabilities", "datatype": "FP32", "shape": [-1, a.metadata.classes.len()] }),
    ];
    if s.options.on_invalid == OnInvalid::Fallback {
        outputs.push(json!({ "name": "fallback", "datatype": "BOOL", "shape": [-1, 1] }));
    }
    json_response(
        StatusCode::OK,
        &json!({
            "name": s.name,
            "versions": [loaded.version],
            "platform": "optbench",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {
                "model_id": a.metadata.model.id,
                "classes": a.metadata.classes,
            },
        }),
    )
}

async fn repository_index(State(s): State<Arc<Served>>) -> Response {
    let loaded = s.current.load_full();
    let state = if s.ready.load(Ordering::SeqCst) {
        "READY"
    } else {
        "LOADING"
    };
    json_response(
        StatusCode::OK,
        &json!([{ "name": s.name, "version": loaded.version, "state": state }]),
    )
}

/// Reloads the package folder (the repository extension's `load`): 200
/// with the versions before and after, or 400 with why the old package is
/// still served.
async fn repository_load(State(s): State<Arc<Served>>, Path(name): Path<String>) -> Response {
    if let Err(r) = check_name(&s, &name) {
        return refused(r);
    }
    match reload(s.clone()).await {
        Ok(r) => json_response(
            StatusCode::OK,
            &json!({
                "name": s.name,
                "version": r.version,
                "previous_version": r.previous,
                "load_ms": (r.seconds * 1e3 * 10.0).round() / 10.0,
            }),
        ),
        Err(message) => refused(bad(message)),
    }
}

/// A request body as the extractor read it: over `--max-body`, refused.
type Body = Result<Bytes, BytesRejection>;

/// The body, or the refusal of one that could not be read (over
/// `--max-body`: 413), in the routes' JSON error form.
fn read_body(body: Body) -> Result<Bytes, Refused> {
    body.map_err(|e| Refused {
        status: e.status().as_u16(),
        message: format!("cannot read the request body: {}", e.body_text()),
    })
}

/// Refuses a request of more rows than `--max-rows`.
fn check_rows(s: &Served, cols: &[Vec<Cell<'_>>]) -> Result<usize, Refused> {
    let n = cols.first().map_or(0, Vec::len);
    if n > s.options.max_rows {
        return Err(Refused {
            status: 413,
            message: format!(
                "{n} rows; this server takes at most {} a request (--max-rows)",
                s.options.max_rows
            ),
        });
    }
    Ok(n)
}

/// [`score`], on the worker thread, handed over to blocking work for a
/// large request.
fn score_rows(
    s: &Served,
    loaded: &Arc<Loaded>,
    cols: &[Vec<Cell<'_>>],
    route: &str,
) -> Result<Scored, Refused> {
    let n = check_rows(s, cols)?;
    let run = || {
        score(
            loaded,
            s.options.strict,
            cols,
            &s.metrics,
            route,
            s.request_log.as_ref(),
        )
    };
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    // block_in_place exists on the multi-threaded runtime only (an `app`
    // driven on a current-thread runtime scores in place).
    if n > BLOCKING_ROWS && multi_thread {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}

/// A response body: JSON, or with Triton's binary tensor extension a JSON
/// header of `json_length` bytes followed by the outputs' bytes.
struct Answer {
    body: Vec<u8>,
    json_length: Option<usize>,
    rows: usize,
}

impl Answer {
    fn json(text: String, rows: usize) -> Answer {
        Answer {
            body: text.into_bytes(),
            json_length: None,
            rows,
        }
    }
}

fn answered(result: Result<Answer, Refused>) -> Response {
    match result {
        Ok(a) => {
            let mut response = match a.json_length {
                None => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    a.body,
                )
                    .into_response(),
                Some(n) => (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                        (
                            header::HeaderName::from_static(HEADER_LENGTH),
                            n.to_string(),
                        ),
                    ],
                    a.body,
                )
                    .into_response(),
            };
            response.extensions_mut().insert(RowsScored(a.rows));
            response
        }
        Err(r) => refused(r),
    }
}

/// Triton's binary tensor extension: the length of the JSON that starts
/// the body.
const HEADER_LENGTH: &str = "inference-header-content-length";

async fn infer(
    State(s): State<Arc<Served>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answered(infer_body(&s, &name, None, &headers, body))
}

async fn infer_version(
    State(s): State<Arc<Served>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answered(infer_body(&s, &name, Some(&version), &headers, body))
}

/// One output tensor of a V2 response: its JSON entry, and its bytes when
/// sent in binary.
struct Output {
    json: Json,
    binary: Option<Vec<u8>>,
}

impl Output {
    /// `json` (without `data`) holding `data` in JSON, or sized in its
    /// parameters with `bytes` sent after the JSON header.
    fn new(mut json: Json, binary: bool, data: Json, bytes: impl FnOnce() -> Vec<u8>) -> Output {
        if binary {
            let bytes = bytes();
            json["parameters"] = json!({ "binary_data_size": bytes.len() });
            Output {
                json,
                binary: Some(bytes),
            }
        } else {
            json["data"] = data;
            Output { json, binary: None }
        }
    }
}

fn infer_body(
    s: &Served,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Answer, Refused> {
    check_name(s, name)?;
    let body = read_body(body)?;
    check_ready(s)?;
    let loaded = s.current.load_full();
    if let Some(v) = version.filter(|v| *v != loaded.version) {
        return Err(Refused {
            status: 404,
            message: format!(
                "model `{name}` has no version `{v}`; it serves version `{}`",
                loaded.version
            ),
        });
    }
    let t = Instant::now();
    let header_length = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| bad("Inference-Header-Content-Length: expected a number of bytes"))?,
        ),
    };
    let (head, binary) = rows::split_body(&body, header_length)?;
    let req: InferRequest =
        serde_json::from_slice(head).map_err(|e| bad(format!("not an inference request: {e}")))?;
    let fallback = loaded.fallback.is_some();
    if let Some(o) = req.outputs.iter().flatten().find(|o| {
        !(o.name == "label" || o.name == "probabilities" || fallback && o.name == "fallback")
    }) {
        return Err(bad(format!(
            "output `{}` does not exist; the outputs are `label`, `probabilities`{}",
            o.name,
            if fallback { " and `fallback`" } else { "" }
        )));
    }
    let cols = rows::v2_rows(&req, binary, &loaded.artifact.schema)?;
    s.metrics.stage(Step::Parse, t.elapsed().as_secs_f64());
    let scored = score_rows(s, &loaded, &cols, INFER_ROUTE)?;
    let t = Instant::now();
    let names = &loaded.artifact.metadata.classes;
    let n = scored.classes.len();
    let all_binary = req.binary_output();
    // Whether an output is wanted, and whether in binary.
    let wanted = |o: &str| match &req.outputs {
        None => Some(all_binary),
        Some(outs) => outs
            .iter()
            .find(|w| w.name == o)
            .map(|w| all_binary || w.binary()),
    };
    let mut outputs = Vec::new();
    if let Some(binary) = wanted("label") {
        let labels: Vec<&str> = scored
            .classes
            .iter()
            .map(|&c| names[c as usize].as_str())
            .collect();
        outputs.push(Output::new(
            json!({ "name": "label", "datatype": "BYTES", "shape": [n, 1] }),
            binary,
            json!(labels),
            || {
                let mut b = Vec::new();
                for l in &labels {
                    b.extend_from_slice(&(l.len() as u32).to_le_bytes());
                    b.extend_from_slice(l.as_bytes());
                }
                b
            },
        ));
    }
    if let Some(binary) = wanted("probabilities") {
        outputs.push(Output::new(
            json!({ "name": "probabilities", "datatype": "FP32", "shape": [n, names.len()] }),
            binary,
            json!(scored.proba),
            || scored.proba.iter().flat_map(|p| p.to_le_bytes()).collect(),
        ));
    }
    if let (Some(flags), Some(binary)) = (&scored.fallback, wanted("fallback")) {
        outputs.push(Output::new(
            json!({ "name": "fallback", "datatype": "BOOL", "shape": [n, 1] }),
            binary,
            json!(flags),
            || flags.iter().map(|&f| u8::from(f)).collect(),
        ));
    }
    let mut response = json!({
        "model_name": s.name,
        "model_version": loaded.version,
        "outputs": outputs.iter().map(|o| o.json.clone()).collect::<Vec<_>>(),
    });
    if let Some(id) = &req.id {
        response["id"] = json!(id);
    }
    if fallback {
        // The protocol's parameters hold strings, numbers and booleans.
        response["parameters"] = json!({
            "fallback_rows": scored.fallbacks.len(),
            "fallback_reasons": scored
                .fallbacks
                .iter()
                .map(|f| format!("row {}, column `{}`: {}", f.row, f.column, f.reason))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let mut body = response.to_string().into_bytes();
    let json_length = body.len();
    let mut any_binary = false;
    for o in &outputs {
        if let Some(b) = &o.binary {
            body.extend_from_slice(b);
            any_binary = true;
        }
    }
    s.metrics.stage(Step::Serialize, t.elapsed().as_secs_f64());
    Ok(Answer {
        body,
        json_length: any_binary.then_some(json_length),
        rows: n,
    })
}

#[derive(serde::Deserialize)]
struct PredictQuery {
    #[serde(default)]
    proba: Option<String>,
}

async fn predict(
    State(s): State<Arc<Served>>,
    Query(q): Query<PredictQuery>,
    body: Body,
) -> Response {
    let with_proba = matches!(q.proba.as_deref(), Some("1" | "true" | "yes"));
    answered(predict_body(&s, with_proba, body))
}

fn predict_body(s: &Served, with_proba: bool, body: Body) -> Result<Answer, Refused> {
    let body = read_body(body)?;
    check_ready(s)?;
    let loaded = s.current.load_full();
    let t = Instant::now();
    let body: Json = serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let cols = rows::json_rows(&body, &loaded.artifact.schema)?;
    s.metrics.stage(Step::Parse, t.elapsed().as_secs_f64());
    let scored = score_rows(s, &loaded, &cols, PREDICT_ROUTE)?;
    let t = Instant::now();
    let names = &loaded.artifact.metadata.classes;
    let mut out = json!({
        "model": loaded.artifact.metadata.model.id,
        "classes": names,
        "predictions": scored.classes.iter().map(|&c| names[c as usize].as_str()).collect::<Vec<_>>(),
    });
    if with_proba {
        let rows: Vec<&[f32]> = scored.proba.chunks_exact(names.len().max(1)).collect();
        out["probabilities"] = json!(rows);
    }
    if let Some(flags) = &scored.fallback {
        out["fallback"] = json!(flags);
        out["invalid"] = scored
            .fallbacks
            .iter()
            .map(|f| json!({ "row": f.row, "column": f.column, "reason": f.reason }))
            .collect();
    }
    let text = out.to_string();
    s.metrics.stage(Step::Serialize, t.elapsed().as_secs_f64());
    Ok(Answer::json(text, scored.classes.len()))
}
