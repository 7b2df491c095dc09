//! `run --serve-check RATE`: the chosen package measured through
//! `optbench serve` at a request rate after the choice, beside the
//! in-process figures the choice was made on, written into the results
//! and the report.

use super::Outcome;
use crate::error::{Error, Result};
use crate::loadtest::{loadtest, Options};
use crate::report::ServedCheck;
use std::path::Path;
use std::time::Duration;

/// Serves the chosen package (started on 127.0.0.1, a free port), offers
/// it `rate` one-row requests a second for `duration` (after one second of
/// warm-up), records the served latency in `outcome.results` and rewrites
/// the results and the report in `out`. The load test's own report goes
/// to `out/serve_check/`.
pub fn serve_check(outcome: &mut Outcome, out: &Path, rate: f64, duration: Duration) -> Result<()> {
    let (Some(model), Some(chosen)) = (&outcome.model_dir, &outcome.results.chosen) else {
        return Err(Error::Flag {
            flag: "--serve-check".into(),
            message: "no model was chosen, so none is served".into(),
        });
    };
    let candidate = outcome
        .results
        .candidates
        .iter()
        .find(|c| &c.id == chosen)
        .ok_or_else(|| {
            Error::Measure(format!("the chosen `{chosen}` is not among the candidates"))
        })?;
    let in_process = candidate.latency_ns;
    let bench = loadtest(&Options {
        model: model.clone(),
        endpoint: None,
        addr: None,
        input: None,
        rates: vec![rate],
        rows: vec![1],
        duration,
        warmup: Duration::from_secs(1),
        connections: 32,
        timeout: Duration::from_secs(2),
        stop_p99: Duration::from_secs(10),
        server_threads: 0,
        out: out.join("serve_check"),
        quiet: true,
        verbose: false,
    })?;
    let step = bench
        .series
        .first()
        .and_then(|s| s.steps.first())
        .ok_or_else(|| Error::Measure("the serve check measured nothing".into()))?;
    let c = &step.client;
    let latency = c
        .latency
        .ok_or_else(|| Error::Measure("the serve check got no answer".into()))?;
    let budget_us = outcome.results.budget.p99_ms * 1e3;
    let bound = latency.p99_upper_us.unwrap_or(latency.p99_us);
    let check = ServedCheck {
        rate,
        requests: c.requests,
        errors: c.errors,
        timeouts: c.timeouts,
        p50_us: latency.p50_us,
        p99_us: latency.p99_us,
        p99_upper_us: latency.p99_upper_us,
        in_process_p50_us: in_process.p50.0 as f64 / 1e3,
        in_process_p99_upper_us: in_process.p99_upper.0 as f64 / 1e3,
        server_mean_us: step.server.as_ref().map(|s| s.handling_mean_us),
        stages_mean_us: step
            .server
            .as_ref()
            .map(|s| s.stages_mean_us.clone())
            .unwrap_or_default(),
        outside_server_mean_us: step.server.as_ref().and_then(|s| s.outside_server_mean_us),
        within_budget: bound <= budget_us && c.errors == 0 && c.timeouts == 0,
    };
    outcome.results.served = Some(check);
    crate::report::write_all(out, &outcome.results)
}
