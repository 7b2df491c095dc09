//! `optbench serve`: a saved package as a real-time HTTP service, on the
//! ecosystem's server stack (tokio, hyper through axum; HTTP/1.1 with
//! keep-alive).
//!
//! Routes: the Open Inference Protocol (KServe V2) over REST —
//! `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2/models/{name}`
//! (metadata), `GET /v2/models/{name}/ready`, `POST /v2/models/{name}/infer`
//! and `…/versions/{version}/infer` — and a plain JSON route for `curl`,
//! `POST /predict` (`?proba=1` adds the probabilities); `GET /metrics`
//! (Prometheus text: requests, rows, handling time, the model served).
//!
//! Every row goes through the package's own validate → preprocess →
//! predict path (`artifact::Predictor`, over the compiled model), so a
//! served class and its probabilities are `optbench predict`'s, bit for bit.
//! The package is loaded, verified (format, SHA-256) and warmed before the
//! server reports ready. A bad request gets a 4xx with a JSON `{"error":
//! …}` naming the row, column and reason, and harms no other request.
//!
//! Uses `artifact` and `data`. Key items: [`Options`], [`serve`],
//! [`model_name`].

mod metrics;
mod rows;

use crate::artifact::Artifact;
use crate::data::{FeatureKind, FeatureProfile, Value};
use crate::error::{Error, Result};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics::Metrics;
use rows::{bad, Cell, InferRequest, Refused};
use serde_json::{json, Value as Json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What `optbench serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The package folder.
    pub model: PathBuf,
    /// Where to listen; port 0 takes a free port (see `port_file`).
    pub addr: SocketAddr,
    /// The model's name on the V2 routes; default [`model_name`] of the
    /// package's id.
    pub name: Option<String>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Most rows one request may hold.
    pub max_rows: usize,
    /// Where to write the bound address (`host:port` and a newline) once
    /// the server listens and is ready.
    pub port_file: Option<PathBuf>,
}

/// The package's id made safe for a URL path segment: ASCII letters,
/// digits, `-`, `_` and `.` are kept, every other character (the `/` of
/// `forest-500/int8`, the `<` of a distilled student) becomes `_`.
pub fn model_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The loaded package and what the routes say about it.
struct Served {
    artifact: Artifact,
    name: String,
    /// The first 12 hex digits of the model file's SHA-256.
    version: String,
    max_rows: usize,
    ready: AtomicBool,
    metrics: Metrics,
}

/// Loads, verifies and warms the package, then serves it until SIGINT or
/// SIGTERM, and drains the requests in flight before returning.
pub fn serve(options: &Options) -> Result<()> {
    let started = Instant::now();
    let artifact = Artifact::load(&options.model)?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| model_name(&artifact.metadata.model.id));
    if name.is_empty() || model_name(&name) != name {
        return Err(Error::Flag {
            flag: "--name".into(),
            message: format!(
                "`{name}`: expected ASCII letters, digits, `-`, `_` or `.` (a URL path segment)"
            ),
        });
    }
    let version: String = artifact
        .metadata
        .model_file
        .sha256
        .chars()
        .take(12)
        .collect();
    warm(&artifact);
    let metrics = Metrics::new(
        &name,
        &artifact.metadata.model.id,
        &version,
        started.elapsed().as_secs_f64(),
    );
    let served = Arc::new(Served {
        artifact,
        name,
        version,
        max_rows: options.max_rows,
        ready: AtomicBool::new(false),
        metrics,
    });
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if options.threads > 0 {
        runtime.worker_threads(options.threads);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(|e| Error::io(&options.model, e))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|e| Error::Flag {
                flag: "--addr".into(),
                message: format!("cannot listen on {}: {e}", options.addr),
            })?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::io(&options.model, e))?;
        served.ready.store(true, Ordering::SeqCst);
        if let Some(path) = &options.port_file {
            crate::fsutil::write_atomic(path, format!("{bound}\n").as_bytes())?;
        }
        println!(
            "serving `{}` version {} on http://{bound}: POST http://{bound}/v2/models/{}/infer, POST http://{bound}/predict; ready in {} ms",
            served.name,
            served.version,
            served.name,
            started.elapsed().as_millis()
        );
        let app = router(served.clone(), options.max_body);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Error::io(&options.model, e))
    })
}

/// Resolves on SIGINT or SIGTERM: the server stops accepting connections
/// and finishes the requests in flight.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Predicts a row built from the training profile a few hundred times, so
/// the first client request meets warm caches and a loaded page set.
fn warm(artifact: &Artifact) {
    let row: Vec<Value<'_>> = artifact
        .metadata
        .training_profile
        .iter()
        .map(|p| match p {
            FeatureProfile::Numeric { mean, .. } => mean.map_or(Value::Missing, Value::Number),
            FeatureProfile::Categorical { categories, .. } => categories
                .first()
                .map_or(Value::Missing, |c| Value::Text(&c.value)),
        })
        .collect();
    let mut predictor = artifact.predictor();
    let mut proba = vec![0.0f32; artifact.metadata.classes.len()];
    for _ in 0..256 {
        let _ = std::hint::black_box(predictor.predict_proba(&row, &mut proba));
    }
}

fn router(served: Arc<Served>, max_body: usize) -> Router {
    Router::new()
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_version),
        )
        .route("/predict", post(predict))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn_with_state(served.clone(), track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(served)
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refused(r: Refused) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, &json!({ "error": r.message }))
}

/// Counts and times every routed request under its route's template.
async fn track(
    State(s): State<Arc<Served>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let start = Instant::now();
    let response = next.run(request).await;
    s.metrics.request(
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
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
fn check_name(s: &Served, name: &str) -> std::result::Result<(), Refused> {
    if name == s.name {
        Ok(())
    } else {
        Err(Refused {
            status: 404,
            message: format!("unknown model `{name}`; this server serves `{}`", s.name),
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
    let a = &s.artifact;
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
    json_response(
        StatusCode::OK,
        &json!({
            "name": s.name,
            "versions": [s.version],
            "platform": "optbench",
            "inputs": inputs,
            "outputs": [
                { "name": "label", "datatype": "BYTES", "shape": [-1, 1] },
                { "name": "probabilities", "datatype": "FP32", "shape": [-1, a.metadata.classes.len()] },
            ],
            "parameters": {
                "model_id": a.metadata.model.id,
                "classes": a.metadata.classes,
            },
        }),
    )
}

/// Classes and probabilities of rows given column by column: the
/// package's predictor on each row; the first invalid row refuses the
/// request, naming its row (from 0) and column.
fn predict_columns(
    s: &Served,
    route: &str,
    cols: &[Vec<Cell<'_>>],
) -> std::result::Result<(Vec<u32>, Vec<f32>), Refused> {
    let a = &s.artifact;
    let n = cols.first().map_or(0, Vec::len);
    if n > s.max_rows {
        return Err(Refused {
            status: 413,
            message: format!(
                "{n} rows; this server takes at most {} a request (--max-rows)",
                s.max_rows
            ),
        });
    }
    let k = a.metadata.classes.len();
    let mut predictor = a.predictor();
    let (mut classes, mut proba) = (Vec::with_capacity(n), vec![0.0f32; n * k]);
    let mut row: Vec<Value<'_>> = Vec::with_capacity(cols.len());
    for r in 0..n {
        row.clear();
        for (j, col) in cols.iter().enumerate() {
            let v = col[r].value(&a.schema, j).map_err(|m| {
                bad(format!(
                    "row {r}, column `{}`: {m}",
                    a.schema.features[j].name
                ))
            })?;
            row.push(v);
        }
        let class = predictor
            .predict_proba(&row, &mut proba[r * k..(r + 1) * k])
            .map_err(|e| {
                let (column, message) = e.message(&a.schema, None);
                bad(format!("row {r}, column `{column}`: {message}"))
            })?;
        classes.push(class);
    }
    s.metrics.rows(route, n);
    Ok((classes, proba))
}

/// A request body as the extractor read it: over `--max-body`, refused.
type Body = std::result::Result<Bytes, BytesRejection>;

/// The body, or the refusal of one that could not be read (over
/// `--max-body`: 413), in the routes' JSON error form.
fn read_body(body: Body) -> std::result::Result<Bytes, Refused> {
    body.map_err(|e| Refused {
        status: e.status().as_u16(),
        message: format!("cannot read the request body: {}", e.body_text()),
    })
}

async fn infer(State(s): State<Arc<Served>>, Path(name): Path<String>, body: Body) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(r) => return refused(r),
    };
    match infer_body(&s, &name, &body) {
        Ok(json) => json_response(StatusCode::OK, &json),
        Err(r) => refused(r),
    }
}

async fn infer_version(
    State(s): State<Arc<Served>>,
    Path((name, version)): Path<(String, String)>,
    body: Body,
) -> Response {
    if let Err(r) = check_name(&s, &name) {
        return refused(r);
    }
    if version != s.version {
        return refused(Refused {
            status: 404,
            message: format!(
                "model `{name}` has no version `{version}`; it serves version `{}`",
                s.version
            ),
        });
    }
    infer(State(s), Path(name), body).await
}

fn infer_body(s: &Served, name: &str, body: &[u8]) -> std::result::Result<Json, Refused> {
    check_name(s, name)?;
    let req: InferRequest =
        serde_json::from_slice(body).map_err(|e| bad(format!("not an inference request: {e}")))?;
    let cols = rows::v2_rows(&req, &s.artifact.schema)?;
    let (classes, proba) = predict_columns(s, "/v2/models/{name}/infer", &cols)?;
    let names = &s.artifact.metadata.classes;
    let n = classes.len();
    let wanted = |o: &str| {
        req.outputs
            .as_ref()
            .is_none_or(|outs| outs.iter().any(|w| w.name == o))
    };
    if let Some(outs) = &req.outputs {
        if let Some(o) = outs
            .iter()
            .find(|o| o.name != "label" && o.name != "probabilities")
        {
            return Err(bad(format!(
                "output `{}` does not exist; the outputs are `label` and `probabilities`",
                o.name
            )));
        }
    }
    let mut outputs = Vec::new();
    if wanted("label") {
        let labels: Vec<&str> = classes
            .iter()
            .map(|&c| names[c as usize].as_str())
            .collect();
        outputs
            .push(json!({ "name": "label", "datatype": "BYTES", "shape": [n, 1], "data": labels }));
    }
    if wanted("probabilities") {
        outputs.push(json!({
            "name": "probabilities", "datatype": "FP32", "shape": [n, names.len()], "data": proba,
        }));
    }
    let mut response = json!({
        "model_name": s.name,
        "model_version": s.version,
        "outputs": outputs,
    });
    if let Some(id) = &req.id {
        response["id"] = json!(id);
    }
    Ok(response)
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
    let result = (|| {
        let body = read_body(body)?;
        let body: Json =
            serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON: {e}")))?;
        let cols = rows::json_rows(&body, &s.artifact.schema)?;
        let (classes, proba) = predict_columns(&s, "/predict", &cols)?;
        let names = &s.artifact.metadata.classes;
        let mut out = json!({
            "model": s.artifact.metadata.model.id,
            "classes": names,
            "predictions": classes.iter().map(|&c| names[c as usize].as_str()).collect::<Vec<_>>(),
        });
        if with_proba {
            let rows: Vec<&[f32]> = proba.chunks_exact(names.len().max(1)).collect();
            out["probabilities"] = json!(rows);
        }
        Ok::<Json, Refused>(out)
    })();
    match result {
        Ok(json) => json_response(StatusCode::OK, &json),
        Err(r) => refused(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_url_path_segments() {
        assert_eq!(model_name("forest-500/int8"), "forest-500_int8");
        assert_eq!(
            model_name("boost-50<forest-500/labels"),
            "boost-50_forest-500_labels"
        );
        assert_eq!(model_name("logreg"), "logreg");
        assert_eq!(model_name("tree-d10/ccp"), "tree-d10_ccp");
    }
}
