//! What `GET /metrics` reports, in the Prometheus text format
//! (`prometheus-client`): requests by route and status, requests in
//! flight, rows scored by route, invalid rows (refused or given the
//! fallback class), values outside the training profile by column, the
//! server-side handling time by route and by stage (parse, preprocess,
//! predict, serialize), reloads, and the model loaded with its load time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOutcome {
    route: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Column {
    column: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Stage {
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    id: String,
    version: String,
}

/// The stages of an inference request's handling on the server, in order;
/// reading the body off the connection comes before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The body to cells: JSON decoding and the tensors' shapes and types.
    Parse,
    /// Cells to the model's input: validation, the profile checks, the
    /// pipeline.
    Preprocess,
    /// The compiled model's class and probabilities.
    Predict,
    /// The response body.
    Serialize,
}

impl Step {
    fn label(self) -> &'static str {
        match self {
            Step::Parse => "parse",
            Step::Preprocess => "preprocess",
            Step::Predict => "predict",
            Step::Serialize => "serialize",
        }
    }
}

pub(super) struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    in_flight: Gauge,
    rows: Family<Route, Counter>,
    invalid: Family<RouteOutcome, Counter>,
    out_of_range: Family<Column, Counter>,
    unseen: Family<Column, Counter>,
    seconds: Family<Route, Histogram>,
    stages: Family<Stage, Histogram>,
    reloads: Family<Outcome, Counter>,
    model: Family<ModelLabels, Gauge>,
    /// The labels of the model now served, to retire them on a reload.
    current: Mutex<Option<ModelLabels>>,
    load_seconds: Gauge<f64, AtomicU64>,
    request_log: Family<LogOutcome, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LogOutcome {
    outcome: &'static str,
}

/// 1 µs to about 8 s, doubling: a one-row request's stages take
/// microseconds, a 100,000-row one seconds.
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-6, 2.0, 24))
}

impl Metrics {
    pub(super) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("optbench");
        let requests = Family::<RouteStatus, Counter>::default();
        let in_flight = Gauge::default();
        let rows = Family::<Route, Counter>::default();
        let invalid = Family::<RouteOutcome, Counter>::default();
        let out_of_range = Family::<Column, Counter>::default();
        let unseen = Family::<Column, Counter>::default();
        let seconds = Family::<Route, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let stages = Family::<Stage, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let reloads = Family::<Outcome, Counter>::default();
        let model = Family::<ModelLabels, Gauge>::default();
        let load_seconds = Gauge::<f64, AtomicU64>::default();
        let request_log = Family::<LogOutcome, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and HTTP status",
            requests.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Requests being handled",
            in_flight.clone(),
        );
        registry.register("rows", "Rows scored, by route", rows.clone());
        registry.register(
            "invalid_rows",
            "Rows that failed validation (or a --strict check), by route and outcome: refused (the request answered 400) or fallback (given the fallback class)",
            invalid.clone(),
        );
        registry.register(
            "out_of_range_values",
            "Numbers further outside the training range than the margin, by column",
            out_of_range.clone(),
        );
        registry.register(
            "unseen_categories",
            "Categories training never saw (ignored by the one-hot encoder), by column",
            unseen.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Server-side handling time of a request (from its arrival at the router to its response), by route",
            seconds.clone(),
        );
        registry.register(
            "stage_duration_seconds",
            "Server-side time of an inference request's stages: parse, preprocess (validation, profile checks, pipeline), predict, serialize",
            stages.clone(),
        );
        registry.register(
            "reloads",
            "Package reloads (SIGHUP or the repository load route), by result",
            reloads.clone(),
        );
        registry.register("model", "The model served (value 1)", model.clone());
        registry.register(
            "model_load_seconds",
            "Time to load, verify, compile and warm the package served",
            load_seconds.clone(),
        );
        registry.register(
            "request_log_rows",
            "Rows sampled for --log-requests, by outcome: queued (handed to the writer), written, dropped (the queue was full or the file could not be written)",
            request_log.clone(),
        );
        Metrics {
            registry,
            requests,
            in_flight,
            rows,
            invalid,
            out_of_range,
            unseen,
            seconds,
            stages,
            reloads,
            model,
            current: Mutex::new(None),
            load_seconds,
            request_log,
        }
    }

    /// The request log's counters: rows queued, dropped and written.
    pub(super) fn request_log(&self) -> (Counter, Counter, Counter) {
        let c = |outcome| {
            self.request_log
                .get_or_create(&LogOutcome { outcome })
                .clone()
        };
        (c("queued"), c("dropped"), c("written"))
    }

    /// The package now served: its name, id and version as the `model`
    /// info metric (replacing the previous one's), and its load time.
    pub(super) fn serving(&self, name: &str, id: &str, version: &str, load_seconds: f64) {
        let labels = ModelLabels {
            model: name.into(),
            id: id.into(),
            version: version.into(),
        };
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = current.take() {
            self.model.remove(&old);
        }
        self.model.get_or_create(&labels).set(1);
        *current = Some(labels);
        self.load_seconds.set(load_seconds);
    }

    /// A request starts; the guard counts it out when dropped.
    pub(super) fn start(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    pub(super) fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    pub(super) fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteStatus {
                route: route.into(),
                status: status.to_string(),
            })
            .inc();
        self.seconds
            .get_or_create(&Route {
                route: route.into(),
            })
            .observe(seconds);
    }

    pub(super) fn rows(&self, route: &str, n: usize) {
        self.rows
            .get_or_create(&Route {
                route: route.into(),
            })
            .inc_by(n as u64);
    }

    /// `n` invalid rows of a request on `route`, refused or given the
    /// fallback class.
    pub(super) fn invalid(&self, route: &str, fallback: bool, n: usize) {
        if n > 0 {
            self.invalid
                .get_or_create(&RouteOutcome {
                    route: route.into(),
                    outcome: if fallback { "fallback" } else { "refused" }.into(),
                })
                .inc_by(n as u64);
        }
    }

    /// A request's counts of unusual values, by column.
    pub(super) fn unusual(&self, column: &str, out_of_range: u64, unseen: u64) {
        if out_of_range > 0 {
            self.out_of_range
                .get_or_create(&Column {
                    column: column.into(),
                })
                .inc_by(out_of_range);
        }
        if unseen > 0 {
            self.unseen
                .get_or_create(&Column {
                    column: column.into(),
                })
                .inc_by(unseen);
        }
    }

    pub(super) fn stage(&self, step: Step, seconds: f64) {
        self.stages
            .get_or_create(&Stage {
                stage: step.label(),
            })
            .observe(seconds);
    }

    pub(super) fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&Outcome {
                result: if ok { "ok" } else { "failed" },
            })
            .inc();
    }

    /// The text exposition.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A request being handled; counted out of `requests_in_flight` on drop,
/// so a request cancelled by a timeout or a closed connection is too.
pub(super) struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
