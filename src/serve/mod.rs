//! `optbench serve`: a saved package as a real-time HTTP service, on the
//! ecosystem's server stack (tokio, hyper through axum; HTTP/1.1 with
//! keep-alive, and HTTP/2 over cleartext with prior knowledge).
//!
//! Routes: the Open Inference Protocol (KServe V2) over REST —
//! `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2/models/{name}`
//! (metadata), `GET /v2/models/{name}/ready`, `POST /v2/models/{name}/infer`
//! and `…/versions/{version}/infer`, and its model repository extension's
//! `POST /v2/repository/index` and `POST /v2/repository/models/{name}/load`
//! (reload) — a plain JSON route for `curl`, `POST /predict` (`?proba=1`
//! adds the probabilities), and `GET /metrics` (Prometheus text).
//!
//! Every row goes through the package's own validate → preprocess →
//! predict path (`artifact::Predictor`, over the compiled model), so a
//! served class and its probabilities are `optbench predict`'s, bit for bit.
//! The package is loaded and verified (format, SHA-256) before the server
//! listens, and warmed before it reports ready. A bad request gets a 4xx
//! with a JSON `{"error": …}` naming the row, column and reason, and harms
//! no other request.
//!
//! The package is swapped whole on a reload (SIGHUP or the repository
//! route): the new one is verified and warmed first, requests in flight
//! finish on the one they started with, and a package that fails leaves
//! the old one serving.
//!
//! Uses `artifact` and `data`. Key items: [`Options`], [`serve`],
//! [`model_name`].

mod metrics;
mod routes;
mod rows;
mod score;
pub mod traffic;
mod worker;

use crate::error::{Error, Result};
use arc_swap::ArcSwap;
use metrics::Metrics;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use traffic::LogOptions;
use traffic::RequestLog;
use worker::Loaded;

/// What an invalid row does to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// The request is refused (400), naming the row, column and reason.
    #[default]
    Reject,
    /// The row gets the fallback class, is marked as such in the response
    /// and counted; the other rows are scored.
    Fallback,
}

/// What `optbench serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The package folder; a reload reads it again.
    pub model: PathBuf,
    /// Where to listen; port 0 takes a free port (see `port_file`).
    pub addr: SocketAddr,
    /// The model's name on the V2 routes; default [`model_name`] of the
    /// package's id. It stays the same across reloads.
    pub name: Option<String>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Most rows one request may hold.
    pub max_rows: usize,
    /// Where to write the bound address (`host:port` and a newline) once
    /// the server listens.
    pub port_file: Option<PathBuf>,
    /// Refuse values far outside the training range and categories never
    /// seen in training, as `predict --strict` does (otherwise they are
    /// counted in the metrics).
    pub strict: bool,
    pub on_invalid: OnInvalid,
    /// The class an invalid row gets under [`OnInvalid::Fallback`];
    /// default the training majority class.
    pub fallback_class: Option<String>,
    /// Predictions made before the server reports ready.
    pub warmup: usize,
    /// A request not answered within this is answered 408.
    pub request_timeout: Duration,
    /// On SIGINT or SIGTERM, how long requests in flight may take to
    /// finish before the server exits anyway.
    pub drain_timeout: Duration,
    /// One access-log line (JSON, on standard error) per request.
    pub access_log: bool,
    /// A sample of the rows served, written for `drift` (see [`LogOptions`]).
    pub request_log: Option<LogOptions>,
    /// No listening, ready or reload lines on standard output.
    pub quiet: bool,
}

impl Options {
    /// The defaults of `optbench serve --model MODEL`.
    pub fn new(model: PathBuf) -> Options {
        Options {
            model,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            name: None,
            threads: 0,
            max_body: 16 * 1024 * 1024,
            max_rows: 100_000,
            port_file: None,
            strict: false,
            on_invalid: OnInvalid::Reject,
            fallback_class: None,
            warmup: 256,
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            access_log: false,
            request_log: None,
            quiet: false,
        }
    }
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

/// The server's state, shared by every request.
struct Served {
    /// The package served now; swapped whole on a reload.
    current: ArcSwap<Loaded>,
    name: String,
    options: Options,
    /// False until the first package is warm.
    ready: AtomicBool,
    metrics: Metrics,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    request_log: Option<RequestLog>,
}

/// Loads and verifies the package, listens, warms the package and reports
/// ready, then serves until SIGINT or SIGTERM and drains the requests in
/// flight (for at most `drain_timeout`) before returning. SIGHUP reloads
/// the package.
pub fn serve(options: &Options) -> Result<()> {
    let started = Instant::now();
    let served = Arc::new(open(options)?);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if options.threads > 0 {
        runtime.worker_threads(options.threads);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(|e| Error::io(&options.model, e))?;
    let result = runtime.block_on(run(served.clone(), started));
    // A request still scoring after the drain timeout is not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    if let Some(log) = &served.request_log {
        log.finish();
    }
    result
}

/// The routes over the package at `options.model`, loaded, verified,
/// warmed and ready: for a caller that runs its own server stack, or drives
/// the routes in process (`benches/serve.rs`). `serve` adds the listener,
/// the signals (SIGHUP reloads) and the drain.
pub fn app(options: &Options) -> Result<axum::Router> {
    let served = Arc::new(open(options)?);
    let loaded = served.current.load_full();
    loaded.warm(options.warmup);
    served.metrics.serving(
        &served.name,
        &loaded.artifact.metadata.model.id,
        &loaded.version,
        loaded.load_seconds,
    );
    served.ready.store(true, Ordering::SeqCst);
    Ok(routes::router(served))
}

/// The package loaded and verified, with its served name; not yet warm or
/// ready.
fn open(options: &Options) -> Result<Served> {
    let loaded = Loaded::open(&options.model, options)?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| model_name(&loaded.artifact.metadata.model.id));
    if name.is_empty() || model_name(&name) != name {
        return Err(Error::Flag {
            flag: "--name".into(),
            message: format!(
                "`{name}`: expected ASCII letters, digits, `-`, `_` or `.` (a URL path segment)"
            ),
        });
    }
    let metrics = Metrics::new();
    let request_log = match &options.request_log {
        Some(l) => {
            let (queued, dropped, written) = metrics.request_log();
            Some(RequestLog::start(
                l,
                name.clone(),
                queued,
                dropped,
                written,
            )?)
        }
        None => None,
    };
    Ok(Served {
        current: ArcSwap::from_pointee(loaded),
        name,
        options: options.clone(),
        ready: AtomicBool::new(false),
        metrics,
        reloading: tokio::sync::Mutex::new(()),
        request_log,
    })
}

async fn run(served: Arc<Served>, started: Instant) -> Result<()> {
    let options = &served.options;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| Error::Flag {
            flag: "--addr".into(),
            message: format!("cannot listen on {}: {e}", options.addr),
        })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(&options.model, e))?;
    if let Some(path) = &options.port_file {
        crate::fsutil::write_atomic(path, format!("{bound}\n").as_bytes())?;
    }
    if !options.quiet {
        println!("listening on http://{bound}; warming up");
    }
    let app = routes::router(served.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .into_future();
    tokio::spawn(reload_on_hangup(served.clone(), hangup()));
    tokio::spawn(warm_then_ready(served.clone(), bound, started));
    let drain = served.options.drain_timeout;
    tokio::select! {
        r = server => r.map_err(|e| Error::io(&served.options.model, e)),
        () = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(drain).await;
        } => {
            eprintln!(
                "warning: {} request(s) still in flight {} s after the stop signal (--drain-timeout); exiting without them",
                served.metrics.in_flight(),
                drain.as_secs_f64()
            );
            Ok(())
        }
    }
}

/// Warms the first package off the workers, then turns ready and says so.
async fn warm_then_ready(s: Arc<Served>, bound: SocketAddr, started: Instant) {
    let loaded = s.current.load_full();
    let n = s.options.warmup;
    let warmed = loaded.clone();
    let warm_started = Instant::now();
    let _ = tokio::task::spawn_blocking(move || warmed.warm(n)).await;
    let warm_seconds = warm_started.elapsed().as_secs_f64();
    s.metrics.serving(
        &s.name,
        &loaded.artifact.metadata.model.id,
        &loaded.version,
        loaded.load_seconds + warm_seconds,
    );
    s.ready.store(true, Ordering::SeqCst);
    if s.options.quiet {
        return;
    }
    println!(
        "serving `{}` version {} on http://{bound}: POST http://{bound}/v2/models/{}/infer, POST http://{bound}/predict; ready in {} ms",
        s.name,
        loaded.version,
        s.name,
        started.elapsed().as_millis()
    );
}

/// The SIGHUP stream, registered before the server reports ready so that a
/// SIGHUP from then on reloads (the default action would end the process).
#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

fn hangup() -> Hangup {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    None
}

/// Reloads the package on every SIGHUP.
async fn reload_on_hangup(s: Arc<Served>, hangup: Hangup) {
    #[cfg(unix)]
    if let Some(mut hangup) = hangup {
        while hangup.recv().await.is_some() {
            // The outcome is printed and counted by `reload`.
            let _ = reload(s.clone()).await;
        }
    }
    #[cfg(not(unix))]
    let _ = (s, hangup);
}

/// What a reload did: the versions before and after, and its time.
#[derive(Debug, Clone)]
struct Reloaded {
    previous: String,
    version: String,
    seconds: f64,
}

/// Loads the package folder again, verifies and warms it off the workers,
/// and swaps it in; requests in flight finish on the package they started
/// with. A package that fails leaves the old one serving. The work runs
/// as its own task, so a caller that goes away (a request timeout) does
/// not cancel a swap half done.
async fn reload(s: Arc<Served>) -> std::result::Result<Reloaded, String> {
    let task = tokio::spawn(async move {
        let _one_at_a_time = s.reloading.lock().await;
        let previous = s.current.load_full();
        let options = s.options.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let loaded = Loaded::open(&options.model, &options)?;
            loaded.warm(options.warmup);
            Ok::<_, Error>((loaded, started.elapsed().as_secs_f64()))
        })
        .await;
        let (loaded, seconds) = match opened {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                s.metrics.reload(false);
                let message = format!(
                    "reload failed, still serving version {}: {e}",
                    previous.version
                );
                eprintln!("{message}");
                return Err(message);
            }
            Err(e) => {
                s.metrics.reload(false);
                return Err(format!(
                    "reload failed, still serving version {}: {e}",
                    previous.version
                ));
            }
        };
        let id = loaded.artifact.metadata.model.id.clone();
        let version = loaded.version.clone();
        s.current.store(Arc::new(loaded));
        s.metrics.serving(&s.name, &id, &version, seconds);
        s.metrics.reload(true);
        if !s.options.quiet {
            println!(
                "reloaded `{}`: version {} → {version} (id `{id}`) in {} ms",
                s.name,
                previous.version,
                (seconds * 1e3).round()
            );
        }
        Ok(Reloaded {
            previous: previous.version.clone(),
            version,
            seconds,
        })
    });
    task.await
        .unwrap_or_else(|e| Err(format!("reload failed: {e}")))
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
