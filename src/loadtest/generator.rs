//! An open-loop HTTP load generator. Requests are due on a fixed schedule
//! (a constant arrival rate), whatever the server does; each one's latency
//! runs from the moment it was *due*, so a server that stalls cannot hide
//! its stalls by slowing the client down (coordinated omission). A request
//! due while every connection is busy waits for one, and that wait counts.
//!
//! The schedule runs on its own thread with a 1 ns timer slack, so a
//! request is released within microseconds of its due time (the release
//! lag is measured and reported), instead of on the async runtime's 1 ms
//! timer ticks, which alone would add up to a millisecond to a
//! 50-microsecond request. Connections are hyper's own HTTP/1.1 client,
//! one task each, on a single-threaded runtime.
//!
//! It is written here rather than driving an external tool because
//! `optbench loadtest` steps the rate against a server it starts, reads the
//! server's own stage timings between steps, and needs no install; it is
//! cross-checked against `oha --latency-correction` (see BENCHMARKS.md).

use crate::measure::upper_bound_rank;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where requests go and what they carry.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The request path (and query).
    pub path: String,
    /// Extra header lines, e.g. a content type.
    pub headers: Vec<(String, String)>,
    /// Request bodies, sent in turn.
    pub bodies: Arc<Vec<Bytes>>,
}

/// One rate step.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Requests per second.
    pub rate: f64,
    /// The measured window; requests due in the warm-up before it are
    /// sent but not counted.
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    /// A request not answered within this is a timeout (and its connection
    /// is replaced).
    pub timeout: Duration,
}

/// Latency percentiles of a step's requests, in microseconds
/// (nearest-rank), with the distribution-free 95% upper confidence bound
/// on p99 that `run` uses in-process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub n: u64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p99_9_us: f64,
    pub max_us: f64,
    /// `None` when too few requests bound p99 (fewer than 299).
    pub p99_upper_us: Option<f64>,
}

impl Percentiles {
    /// From latencies in nanoseconds (sorted here); `None` when empty.
    pub fn from_nanos(samples: &mut [u64]) -> Option<Percentiles> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        samples.sort_unstable();
        let us = |ns: u64| ns as f64 / 1e3;
        let rank = |q: f64| us(samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1]);
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Some(Percentiles {
            n: n as u64,
            mean_us: sum as f64 / n as f64 / 1e3,
            p50_us: rank(0.50),
            p90_us: rank(0.90),
            p99_us: rank(0.99),
            p99_9_us: rank(0.999),
            max_us: us(samples[n - 1]),
            p99_upper_us: upper_bound_rank(n, 0.99, 0.95).map(|k| us(samples[k - 1])),
        })
    }
}

/// What one step measured.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub offered_rate: f64,
    /// Requests answered 2xx per second of the measured window.
    pub achieved_rate: f64,
    /// Requests due in the measured window.
    pub requests: u64,
    pub ok: u64,
    /// Answers other than 2xx, and connection failures.
    pub errors: u64,
    /// No answer within the timeout, or still waiting for a connection
    /// when the step ended.
    pub timeouts: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// From each request's due time to its answer (timeouts and errors
    /// included, at the time they were given up): what a client sees.
    pub latency: Option<Percentiles>,
    /// From the moment the request was written to its answer: the server
    /// and the network alone, without the wait for a free connection.
    pub service: Option<Percentiles>,
    /// How late the schedule thread released requests (the generator's own
    /// floor under `latency`).
    pub release_lag: Option<Percentiles>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Status(u16),
    Failed,
    TimedOut,
}

/// One request's times.
#[derive(Debug, Clone, Copy)]
struct Record {
    due: Instant,
    /// `None`: never sent (the step ended first).
    sent: Option<Instant>,
    done: Instant,
    outcome: Outcome,
}

/// Runs one rate step against `target`.
pub fn run_step(target: &Target, step: &Step) -> Result<StepResult, String> {
    if !(step.rate.is_finite() && step.rate > 0.0) || step.connections == 0 {
        return Err(format!(
            "a step needs a positive rate and connections (got {} requests/s, {} connections)",
            step.rate, step.connections
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the load generator's runtime: {e}"))?;
    runtime.block_on(drive(target, step))
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sleeps until `t` on this (schedule) thread.
fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Asks the kernel to wake this thread as close to the asked time as it
/// can (the default 50 µs slack would delay every release).
fn precise_timers() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and touches only the
    // calling thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

async fn drive(target: &Target, step: &Step) -> Result<StepResult, String> {
    if target.bodies.is_empty() {
        return Err("no request bodies".into());
    }
    // Connections first, so the schedule does not start with handshakes.
    let mut connections = Vec::with_capacity(step.connections);
    for _ in 0..step.connections {
        connections.push(connect(target.addr).await?);
    }
    let interval = Duration::from_secs_f64(1.0 / step.rate);
    let start = Instant::now() + Duration::from_millis(20);
    let measured_from = start + step.warmup;
    let end = measured_from + step.duration;
    let give_up = end + step.timeout;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let schedule = std::thread::spawn(move || {
        precise_timers();
        let mut lags = Vec::new();
        for i in 0.. {
            let due = start + interval.mul_f64(i as f64);
            if due >= end {
                break;
            }
            sleep_until(due);
            let released = Instant::now();
            if due >= measured_from {
                lags.push((released - due).as_nanos() as u64);
            }
            if tx.send((i, due)).is_err() {
                break;
            }
        }
        lags
    });
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut workers = Vec::with_capacity(connections.len());
    for sender in connections {
        let (rx, target, step) = (rx.clone(), target.clone(), *step);
        workers.push(tokio::spawn(async move {
            let mut sender = Some(sender);
            let mut records = Vec::new();
            loop {
                let next = rx.lock().await.recv().await;
                let Some((i, due)) = next else { break };
                if Instant::now() >= give_up {
                    records.push(Record {
                        due,
                        sent: None,
                        done: Instant::now(),
                        outcome: Outcome::TimedOut,
                    });
                    continue;
                }
                let body = target.bodies[i % target.bodies.len()].clone();
                let (sent, outcome) = send(&mut sender, &target, body, step.timeout).await;
                records.push(Record {
                    due,
                    sent,
                    done: Instant::now(),
                    outcome,
                });
            }
            records
        }));
    }
    let mut records = Vec::new();
    for w in workers {
        records.extend(
            w.await
                .map_err(|e| format!("a connection task failed: {e}"))?,
        );
    }
    let mut lags = schedule
        .join()
        .map_err(|_| "the schedule thread failed".to_string())?;
    Ok(summarize(records, step, measured_from, &mut lags))
}

/// Sends one request on the connection (reconnecting first when it was
/// lost): when it was written, and how it ended.
async fn send(
    sender: &mut Option<SendRequest<Full<Bytes>>>,
    target: &Target,
    body: Bytes,
    timeout: Duration,
) -> (Option<Instant>, Outcome) {
    let attempt = async {
        if sender.is_none() {
            *sender = Some(connect(target.addr).await?);
        }
        let Some(s) = sender.as_mut() else {
            return Err("no connection".to_string());
        };
        s.ready().await.map_err(|e| e.to_string())?;
        let mut request = hyper::Request::post(target.path.as_str())
            .header(hyper::header::HOST, target.addr.to_string());
        for (name, value) in &target.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let response = s.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // The whole answer, as a client reads it.
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((sent, status))
    };
    let started = Instant::now();
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok((sent, status))) => (Some(sent), Outcome::Status(status)),
        Ok(Err(_)) => {
            *sender = None;
            (Some(started), Outcome::Failed)
        }
        Err(_) => {
            *sender = None;
            (Some(started), Outcome::TimedOut)
        }
    }
}

fn summarize(
    records: Vec<Record>,
    step: &Step,
    measured_from: Instant,
    lags: &mut [u64],
) -> StepResult {
    let measured: Vec<&Record> = records.iter().filter(|r| r.due >= measured_from).collect();
    let mut statuses = BTreeMap::new();
    let (mut ok, mut errors, mut timeouts) = (0u64, 0u64, 0u64);
    let mut latency = Vec::with_capacity(measured.len());
    let mut service = Vec::with_capacity(measured.len());
    for r in &measured {
        match r.outcome {
            Outcome::Status(s) => {
                *statuses.entry(s).or_insert(0) += 1;
                if (200..300).contains(&s) {
                    ok += 1;
                } else {
                    errors += 1;
                }
            }
            Outcome::Failed => errors += 1,
            Outcome::TimedOut => timeouts += 1,
        }
        latency.push((r.done - r.due).as_nanos() as u64);
        if let (Some(sent), Outcome::Status(_)) = (r.sent, r.outcome) {
            service.push((r.done - sent).as_nanos() as u64);
        }
    }
    StepResult {
        offered_rate: step.rate,
        achieved_rate: ok as f64 / step.duration.as_secs_f64(),
        requests: measured.len() as u64,
        ok,
        errors,
        timeouts,
        statuses,
        latency: Percentiles::from_nanos(&mut latency),
        service: Percentiles::from_nanos(&mut service),
        release_lag: Percentiles::from_nanos(lags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_with_the_binomial_bound() {
        let mut ns: Vec<u64> = (1..=1000).rev().map(|i| i * 1000).collect();
        let p = Percentiles::from_nanos(&mut ns).unwrap();
        assert_eq!((p.p50_us, p.p90_us, p.p99_us), (500.0, 900.0, 990.0));
        assert_eq!((p.p99_9_us, p.max_us), (999.0, 1000.0));
        // n = 1000: X(996) bounds p99 (measure's upper_bound_rank).
        assert_eq!(p.p99_upper_us, Some(996.0));
        assert!((p.mean_us - 500.5).abs() < 1e-9);
        assert!(Percentiles::from_nanos(&mut []).is_none());
        let mut few = vec![5_000; 10];
        assert_eq!(
            Percentiles::from_nanos(&mut few).unwrap().p99_upper_us,
            None
        );
    }
}
