//! `optbench loadtest`: served latency under open-loop load.

use super::fail;
use optbench::loadtest::{loadtest, Endpoint, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench loadtest --model reports/latest/model
  optbench loadtest --model reports/latest/model --rates 1000,5000 --rows 1 --duration 10
  optbench loadtest --model reports/latest/model --addr 127.0.0.1:8080 --input test.csv
  optbench loadtest --url http://127.0.0.1:8000/predict --body request.json --rates 100,1000

Starts `optbench serve` on the package (127.0.0.1, a free port; timed from
exec to ready), or loads a server already running with --addr. For each
request size (--rows), steps the offered rate through --rates: requests are
due on a fixed schedule whatever the server does, and each latency runs from
the moment its request was due (open loop: a stalled server cannot hide its
stalls). A size stops stepping once its p99 passes --stop-p99-ms or a
request fails. Requests are V2 JSON, one tensor per column, with rows from
--input (default: rows built from the package's training profile).

Writes serve_bench.json, serve_bench.svg (p50 and p99 against offered rate)
and serve_bench.html into --out: per step p50, p90, p99 (and its 95% upper
confidence bound), p99.9, max, achieved rate, errors, timeouts, and where
the time goes — the server's parse, preprocess, predict and serialize (from
its /metrics) and what lies outside it.

With --url and --body instead of --model, the same generator loads any HTTP
server with one fixed request (POST, --header lines added; content type JSON
unless given): how scripts/compare_serving.sh loads the servers users would
pick instead. The server's own stages are then not known.

Exit codes: 0 measured; 1 error.")]
#[command(group = clap::ArgGroup::new("target").required(true).args(["model", "url"]))]
pub struct LoadtestArgs {
    /// Print only errors (not the per-step lines nor where the files went).
    #[arg(long, short)]
    quiet: bool,
    /// With each step's line, where the server spent its time (its own
    /// stages, scraped from /metrics).
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
    /// The package folder: served, and the source of the request rows.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Load any HTTP server at this URL (http://IP:PORT/PATH) with --body.
    #[arg(long, value_name = "URL", requires = "body", conflicts_with_all = ["model", "addr", "input"])]
    url: Option<String>,
    /// The request body sent with --url, every time.
    #[arg(long, value_name = "FILE", requires = "url")]
    body: Option<PathBuf>,
    /// A header line sent with --url ("Name: value"); repeatable.
    #[arg(long, value_name = "LINE", requires = "url")]
    header: Vec<String>,
    /// Load a server already running on the package here instead of
    /// starting one.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<SocketAddr>,
    /// Rows for the requests: a CSV file with the package's columns.
    #[arg(long, value_name = "CSV")]
    input: Option<PathBuf>,
    /// Offered rates, requests per second, in order.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "100,1000,2000,5000,10000,20000"
    )]
    rates: Vec<f64>,
    /// Rows per request; each size is stepped through the rates (default
    /// 1,64; with --url, the one number of rows the body carries, default 1).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    rows: Vec<usize>,
    /// Seconds measured per step.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    duration: f64,
    /// Seconds of load before each step's measured window.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    warmup: f64,
    /// Client connections (kept alive).
    #[arg(long, value_name = "N", default_value_t = 32)]
    connections: usize,
    /// Seconds after which a request counts as timed out.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    timeout: f64,
    /// Stop stepping a request size once its p99 passes this.
    #[arg(long, value_name = "MS", default_value_t = 10.0)]
    stop_p99_ms: f64,
    /// Worker threads of the server started (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    server_threads: usize,
    /// Where the report goes.
    #[arg(long, value_name = "DIR", default_value = "reports/loadtest")]
    out: PathBuf,
}

fn positive(flag: &str, value: f64) -> Result<f64, optbench::Error> {
    if value.is_finite() && value > 0.0 && value < 1e9 {
        Ok(value)
    } else {
        Err(optbench::Error::Flag {
            flag: flag.into(),
            message: format!("{value}: expected a positive number"),
        })
    }
}

/// `http://IP:PORT/PATH` as an address and a path.
fn parse_url(url: &str) -> Result<(SocketAddr, String), optbench::Error> {
    let bad = || optbench::Error::Flag {
        flag: "--url".into(),
        message: format!("`{url}`: expected http://IP:PORT/PATH (an IP address, not a name)"),
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host.parse().map_err(|_| bad())?;
    Ok((
        addr,
        if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    ))
}

/// The --url endpoint, its body and headers.
fn endpoint(args: &LoadtestArgs) -> Result<Option<Endpoint>, optbench::Error> {
    let (Some(url), Some(body)) = (&args.url, &args.body) else {
        return Ok(None);
    };
    let (addr, path) = parse_url(url)?;
    let bytes = std::fs::read(body).map_err(|e| optbench::Error::Io {
        path: body.clone(),
        source: e,
    })?;
    let mut headers = Vec::new();
    for line in &args.header {
        let (name, value) = line.split_once(':').ok_or_else(|| optbench::Error::Flag {
            flag: "--header".into(),
            message: format!("`{line}`: expected \"Name: value\""),
        })?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if args.rows.len() > 1 {
        return Err(optbench::Error::Flag {
            flag: "--rows".into(),
            message: "with --url, one number: the rows the body carries (a label)".into(),
        });
    }
    Ok(Some(Endpoint {
        addr,
        path,
        body: bytes,
        headers,
        rows: args.rows.first().copied().unwrap_or(1),
    }))
}

fn options(mut args: LoadtestArgs) -> Result<Options, optbench::Error> {
    let endpoint = endpoint(&args)?;
    if args.rows.is_empty() {
        args.rows = vec![1, 64];
    }
    for &r in &args.rates {
        positive("--rates", r)?;
    }
    if args.rows.contains(&0) || args.rows.is_empty() {
        return Err(optbench::Error::Flag {
            flag: "--rows".into(),
            message: "expected positive numbers of rows per request".into(),
        });
    }
    if args.connections == 0 {
        return Err(optbench::Error::Flag {
            flag: "--connections".into(),
            message: "expected at least 1".into(),
        });
    }
    let secs = |flag: &str, v: f64| positive(flag, v).map(Duration::from_secs_f64);
    Ok(Options {
        model: args.model.unwrap_or_default(),
        endpoint,
        addr: args.addr,
        input: args.input,
        rates: args.rates,
        rows: args.rows,
        duration: secs("--duration", args.duration)?,
        warmup: if args.warmup == 0.0 {
            Duration::ZERO
        } else {
            secs("--warmup", args.warmup)?
        },
        connections: args.connections,
        timeout: secs("--timeout", args.timeout)?,
        stop_p99: secs("--stop-p99-ms", args.stop_p99_ms)? / 1000,
        server_threads: args.server_threads,
        out: args.out,
        quiet: args.quiet,
        verbose: args.verbose,
    })
}

pub fn execute(args: LoadtestArgs) -> ExitCode {
    let quiet = args.quiet;
    let result = options(args).and_then(|o| loadtest(&o).map(|b| (o, b)));
    match result {
        Ok(_) if quiet => ExitCode::SUCCESS,
        Ok((o, _)) => {
            println!(
                "wrote {} (serve_bench.json, serve_bench.svg, serve_bench.html)",
                o.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
