//! `optbench serve`: a saved package as a real-time HTTP service.

use super::fail;
use optbench::serve::{serve, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
/v2/models/NAME/versions/VERSION/infer); POST /predict; GET /metrics
(Prometheus text: requests by route and status, rows, handling time).

V2 inputs: one tensor per column, named as the column, shape [N, 1] (numeric
columns FP64, FP32 or INT64, null for a missing value; categorical columns
BYTES), or one [N, F] numeric tensor when every column is numeric. Outputs:
`label` (class names, BYTES [N, 1]) and `probabilities` (FP32 [N, classes]).
The model's NAME is --name, or the package's id with every character other
than ASCII letters, digits, `-`, `_` and `.` made `_` (forest-500/int8 is
forest-500_int8); its VERSION is the first 12 hex digits of the model file's
SHA-256. Both are printed when the server is ready.

/predict takes {\"rows\": [{\"column\": value, ...}, ...]} or one such object:
numbers, strings (read as the CSV path reads a cell) and null (missing).

Every row is validated and preprocessed by the package itself: served
predictions equal `optbench predict`'s. A bad request gets a 4xx with a JSON
{\"error\": ...} naming the row (from 0), column and reason. SIGINT or SIGTERM
stops accepting connections, finishes the requests in flight and exits 0.

Exit codes: 0 stopped by a signal; 1 error (a package that fails
verification, an address that cannot be bound).")]
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
    /// Write the bound `host:port` here once the server is ready.
    #[arg(long, value_name = "FILE")]
    port_file: Option<PathBuf>,
}

pub fn execute(args: ServeArgs) -> ExitCode {
    let options = Options {
        model: args.model,
        addr: args.addr,
        name: args.name,
        threads: args.threads,
        max_body: args.max_body,
        max_rows: args.max_rows,
        port_file: args.port_file,
    };
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
