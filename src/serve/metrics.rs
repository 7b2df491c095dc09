//! What `GET /metrics` reports, in the Prometheus text format
//! (`prometheus-client`): requests by route and status, rows scored by
//! route, the server-side handling time by route (from the request's arrival
//! at the router to its response, parse → validate → preprocess → predict →
//! serialize), and the loaded model.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

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
struct ModelLabels {
    model: String,
    id: String,
    version: String,
}

pub(super) struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    rows: Family<Route, Counter>,
    seconds: Family<Route, Histogram>,
}

impl Metrics {
    /// The registry, with the loaded model's name, id and version as an
    /// info metric and its load time (read, verify, decode, compile, warm).
    pub(super) fn new(model: &str, id: &str, version: &str, load_seconds: f64) -> Metrics {
        let mut registry = Registry::with_prefix("optbench");
        let requests = Family::<RouteStatus, Counter>::default();
        let rows = Family::<Route, Counter>::default();
        // 10 µs to about 5 s, doubling.
        let seconds = Family::<Route, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(1e-5, 2.0, 20))) as fn() -> Histogram,
        );
        registry.register(
            "requests",
            "Requests answered, by route and HTTP status",
            requests.clone(),
        );
        registry.register("rows", "Rows scored, by route", rows.clone());
        registry.register(
            "request_duration_seconds",
            "Server-side handling time of a request, by route",
            seconds.clone(),
        );
        let info = Family::<ModelLabels, Gauge>::default();
        info.get_or_create(&ModelLabels {
            model: model.into(),
            id: id.into(),
            version: version.into(),
        })
        .set(1);
        registry.register("model", "The model served (value 1)", info);
        let load = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        load.set(load_seconds);
        registry.register(
            "model_load_seconds",
            "Time to load, verify, compile and warm the package",
            load,
        );
        Metrics {
            registry,
            requests,
            rows,
            seconds,
        }
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

    /// The text exposition.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
