//! `optbench serve`: a saved package as a real-time HTTP service.

use super::fail;
use optbench::serve::{serve, LogOptions, OnInvalid, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench serve --model reports/latest/model
  optbench serve --model reports/latest/model --addr 127.0.0.1:0 --port-file port.txt

  curl -s -X POST 'http://127.0.0.1:8080/predict?proba=1' \\
    -d '{\"rows\": [{\"island\": \"Biscoe\", \"bill_length_mm\": 45.1, \"sex\": null}]}'

  # Open Inference Protocol (KServe V2), e.g. with tritonclient[http]:
  curl -s -X POST http://127.0.0.1:8080/v2/models/forest-500_int8/infer \\
    -d '{\"inputs\": [{\"name\": \"f0\", \"shape\": [1, 1], \"datatype\": \"FP64\", \"data\": [0.3]}, ...]}'

Routes: GET /v2/health/live, /v2/health/ready, /v2/models/NAME (metadata),
/v2/models/NAME/ready; POST /v2/models/NAME/infer (and
/v2/models/NAME/versions/VERSION/infer); POST /v2/repository/index,
/v2/repository/models/NAME/load (reload); POST /predict; GET /metrics
(Prometheus text: requests by route and status, rows, invalid rows, values
outside the training profile by column, handling time by route and stage,
reloads, the model served and its load time).

V2 inputs: one tensor per column, named as the column, shape [N, 1] (numeric
columns FP64, FP32 or INT64, null for a missing value; categorical columns
BYTES), or one [N, F] numeric tensor when every column is numeric. Outputs:
`label` (class names, BYTES [N, 1]), `probabilities` (FP32 [N, classes]) and,
with --on-invalid fallback, `fallback` (BOOL [N, 1]). The model's NAME is
--name, or the package's id with every character other than ASCII letters,
digits, `-`, `_` and `.` made `_` (forest-500/int8 is forest-500_int8); it
stays the same across reloads. Its VERSION is the first 12 hex digits of the
model file's SHA-256. Both are printed when the server is ready.

/predict takes {\"rows\": [{\"column\": value, ...}, ...]} or one such object:
numbers, strings (read as the CSV path reads a cell) and null (missing).

Every row is validated and preprocessed by the package itself: served
predictions equal `optbench predict`'s. A bad request gets a 4xx with a JSON
{\"error\": ...} naming the row (from 0), column and reason. A row that fails
validation (or, with --strict, holds a value far outside the training range
or a category never seen) refuses its request; with --on-invalid fallback it
gets the fallback class instead (probability 1), is flagged in the response
(`fallback`, and `invalid` on /predict with the reasons) and counted.

Lifecycle: the package is loaded and verified before the server listens (a
package that fails means exit 1), then warmed: /v2/health/ready answers 503
until it is warm. SIGHUP or POST /v2/repository/models/NAME/load reads the
package folder again, verifies and warms it, and swaps it in; requests in
flight finish on the old one, and a package that fails leaves the old one
serving. SIGINT or SIGTERM stops accepting connections, finishes the requests
in flight (at most --drain-timeout) and exits 0.

Exit codes: 0 stopped by a signal; 1 error (a package that fails
verification, an address that cannot be bound, a bad flag).")]
pub struct ServeArgs {
    /// The package folder (`<out>/model` of `optbench run`).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Address to listen on; port 0 picks a free one (see --port-file).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The model's name on the V2 routes (default: the package's id, URL-safe).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body: usize,
    /// Most rows in one request.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_rows: usize,
    /// Write the bound `host:port` here once the server listens (it is
    /// ready when /v2/health/ready answers 200).
    #[arg(long, value_name = "FILE")]
    port_file: Option<PathBuf>,
    /// Refuse values far outside the training range and categories never
    /// seen in training, as `predict --strict` does (they are counted either
    /// way).
    #[arg(long)]
    strict: bool,
    /// What an invalid row does: `reject` refuses its request (400),
    /// `fallback` gives it the fallback class and flags it.
    #[arg(long, value_name = "WHAT", default_value = "reject", value_parser = ["reject", "fallback"])]
    on_invalid: String,
    /// The class an invalid row gets with --on-invalid fallback (default:
    /// the training majority class).
    #[arg(long, value_name = "CLASS")]
    fallback_class: Option<String>,
    /// Predictions made to warm the package before the server is ready.
    #[arg(long, value_name = "N", default_value_t = 256)]
    warmup: usize,
    /// Answer 408 to a request not answered within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    request_timeout: f64,
    /// On SIGINT or SIGTERM, wait at most this many seconds for the
    /// requests in flight.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    drain_timeout: f64,
    /// `info` writes one access-log line (JSON) per request to standard
    /// error; `warn` only warnings and errors.
    #[arg(long, value_name = "LEVEL", default_value = "warn", value_parser = ["warn", "info"])]
    log: String,
    /// Print only errors and warnings (not the listening, ready and reload
    /// lines; --port-file and /v2/health/ready still tell when it is up).
    #[arg(long, short)]
    quiet: bool,
    /// The same as --log info: one access-log line per request.
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
    /// Write a sample of the rows served (cells as read, prediction,
    /// probabilities, time, model id and version, fallback flag) to rotating
    /// newline-delimited JSON files in DIR, for `optbench drift --current DIR`.
    #[arg(long, value_name = "DIR")]
    log_requests: Option<PathBuf>,
    /// Share of rows --log-requests writes, above 0 and at most 1.
    #[arg(
        long,
        value_name = "R",
        requires = "log_requests",
        allow_negative_numbers = true
    )]
    sample_rate: Option<f64>,
    /// Start a new request-log file once one reaches this many MiB.
    #[arg(long, value_name = "MIB", requires = "log_requests")]
    log_file_mib: Option<u64>,
    /// Request-log files kept; the oldest beyond it are deleted.
    #[arg(long, value_name = "N", requires = "log_requests")]
    log_max_files: Option<usize>,
}

/// Seconds given on the command line as a duration, or why not.
fn seconds(flag: &str, value: f64) -> Result<Duration, optbench::Error> {
    if value.is_finite() && value > 0.0 && value < 1e9 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(optbench::Error::Flag {
            flag: flag.into(),
            message: format!("{value}: expected a positive number of seconds"),
        })
    }
}

pub fn execute(args: ServeArgs) -> ExitCode {
    let timeouts = seconds("--request-timeout", args.request_timeout)
        .and_then(|r| Ok((r, seconds("--drain-timeout", args.drain_timeout)?)));
    let (request_timeout, drain_timeout) = match timeouts {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let on_invalid = if args.on_invalid == "fallback" {
        OnInvalid::Fallback
    } else {
        OnInvalid::Reject
    };
    if args.fallback_class.is_some() && on_invalid != OnInvalid::Fallback {
        return fail(&optbench::Error::Flag {
            flag: "--fallback-class".into(),
            message: "applies with --on-invalid fallback only".into(),
        });
    }
    let options = Options {
        model: args.model,
        addr: args.addr,
        name: args.name,
        threads: args.threads,
        max_body: args.max_body,
        max_rows: args.max_rows,
        port_file: args.port_file,
        strict: args.strict,
        on_invalid,
        fallback_class: args.fallback_class,
        warmup: args.warmup,
        request_timeout,
        drain_timeout,
        access_log: args.log == "info" || args.verbose,
        quiet: args.quiet,
        request_log: args.log_requests.map(|dir| {
            let d = LogOptions::new(dir);
            LogOptions {
                sample_rate: args.sample_rate.unwrap_or(d.sample_rate),
                max_file_bytes: args
                    .log_file_mib
                    .map_or(d.max_file_bytes, |m| m.saturating_mul(1 << 20)),
                max_files: args.log_max_files.unwrap_or(d.max_files),
                ..d
            }
        }),
    };
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
