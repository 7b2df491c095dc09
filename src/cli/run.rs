//! `optbench run`.

use super::progress::Bars;
use super::{fail, EXIT_NOTHING_FITS, EXIT_SERVED_OVER_BUDGET};
use optbench::config::{Overrides, Plan};
use optbench::measure::Metric;
use optbench::progress::{Progress, Silent};
use optbench::report::RunResults;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench run --budget-ms 50
  optbench run --data my.csv --target label --budget-ms 0.2 --out reports/mine
  optbench run --train train.csv --test test.csv --target y --config configs/default.toml

With --serve-check RATE, the chosen package is then served (optbench serve on
127.0.0.1) and offered RATE one-row requests a second for --serve-check-seconds
(open loop); the client-observed p50/p99 are printed beside the in-process
ones and written into results.json (`served`) and the report.

Exit codes: 0 a model was chosen; 1 error; 2 usage error; 3 no candidate fits
the budget; 4 the chosen model fits in process but its served p99 bound (from
--serve-check) breaks the budget, or a served request failed.")]
pub struct RunArgs {
    /// TOML config (data, candidates, measurement, budget); default: the built-in configs/default.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// One CSV file to split into train and test (stratified, seeded).
    #[arg(long, value_name = "CSV", conflicts_with_all = ["train", "test"])]
    data: Option<PathBuf>,
    /// Training CSV (with --test).
    #[arg(long, value_name = "CSV", requires = "test")]
    train: Option<PathBuf>,
    /// Test CSV (with --train).
    #[arg(long, value_name = "CSV", requires = "train")]
    test: Option<PathBuf>,
    /// Name of the label column in the CSV files.
    #[arg(long, value_name = "COLUMN")]
    target: Option<String>,
    /// Latency budget in milliseconds (fractions allowed), checked against the
    /// 95% upper bound of the end-to-end p99.
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    budget_ms: Option<f64>,
    /// What the choice within the budget maximises (log_loss: minimises),
    /// measured on the test set; every metric is recorded either way.
    /// Default: [select] metric, else accuracy.
    #[arg(long, value_name = "METRIC")]
    metric: Option<Metric>,
    /// Pick the fastest candidate within T of the best one that fits,
    /// instead of the best: in percentage points of the metric (log_loss:
    /// in nats).
    #[arg(
        long,
        visible_alias = "tolerance",
        value_name = "T",
        allow_negative_numbers = true
    )]
    accuracy_tolerance: Option<f64>,
    /// Output folder for the report and the model.
    #[arg(long, value_name = "DIR", default_value = "reports/latest")]
    out: PathBuf,
    /// Seed for the split, the trainers and the measurement order.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the chosen model's serving path (pipeline + model) as ONNX: <out>/model/model.onnx.
    #[arg(long, value_name = "FORMAT", value_parser = ["onnx"])]
    export: Option<String>,
    /// After choosing, serve the package and measure it at this many
    /// one-row requests per second (see below).
    #[arg(long, value_name = "RATE")]
    serve_check: Option<f64>,
    /// Seconds the serve check measures.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5.0,
        requires = "serve_check"
    )]
    serve_check_seconds: f64,
    /// Print only errors and the chosen model's id.
    #[arg(long, short)]
    quiet: bool,
    /// Print results.json to standard output instead of the summary (no
    /// progress bars).
    #[arg(long)]
    json: bool,
    /// Also print the settings the run resolved (config, flags, defaults)
    /// before it starts.
    #[arg(long, short)]
    verbose: bool,
}

pub fn execute(mut args: RunArgs) -> ExitCode {
    args.quiet |= args.json;
    let serve_check = match args.serve_check.map(|rate| {
        let positive = |flag: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v < 1e7 {
                Ok(v)
            } else {
                Err(optbench::Error::Flag {
                    flag: flag.into(),
                    message: format!("{v}: expected a positive number"),
                })
            }
        };
        Ok::<_, optbench::Error>((
            positive("--serve-check", rate)?,
            std::time::Duration::from_secs_f64(positive(
                "--serve-check-seconds",
                args.serve_check_seconds,
            )?),
        ))
    }) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return fail(&e),
    };
    let overrides = Overrides {
        data: args.data,
        train: args.train,
        test: args.test,
        target: args.target,
        budget_ms: args.budget_ms,
        accuracy_tolerance_pp: args.accuracy_tolerance,
        metric: args.metric,
        seed: args.seed,
        out: Some(args.out),
        export_onnx: args.export.is_some(),
        import: false,
    };
    let plan = match Plan::load(args.config.as_deref(), &overrides) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if args.verbose {
        print_plan(&plan);
    }
    if !args.quiet && cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; latency figures are not representative (use cargo run --release)");
    }
    let bars = Bars::new();
    let progress: &dyn Progress = if args.quiet { &Silent } else { &bars };
    let mut outcome = match optbench::run::run(&plan, progress) {
        Ok(o) => o,
        Err(e) => {
            progress.finish_stage();
            return fail(&e);
        }
    };
    let code = report_outcome(&outcome, &plan.out, args.quiet, args.json);
    let Some((rate, seconds)) = serve_check else {
        return code;
    };
    if outcome.results.chosen.is_none() {
        return code;
    }
    if !args.quiet {
        println!(
            "\nserve check: {rate} one-row requests/s for {} s through optbench serve…",
            seconds.as_secs_f64()
        );
    }
    if let Err(e) = optbench::run::serve_check(&mut outcome, &plan.out, rate, seconds) {
        return fail(&e);
    }
    let Some(s) = &outcome.results.served else {
        return code;
    };
    if args.json {
        // results.json again, now with its `served` section.
        print_json(&outcome.results);
    }
    let bound = s
        .p99_upper_us
        .map_or("–".to_string(), |b| format!("{b:.0} µs"));
    let say = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    say(format!(
        "served at {rate}/s: p50 {:.0} µs, p99 {:.0} µs (bound {bound}); in process: p50 {:.1} µs, p99 bound {:.1} µs; {} errors, {} timeouts",
        s.p50_us, s.p99_us, s.in_process_p50_us, s.in_process_p99_upper_us, s.errors, s.timeouts
    ));
    if s.within_budget {
        code
    } else {
        eprintln!(
            "SERVED LATENCY BREAKS THE BUDGET: `{}` fits {} ms in process, but served at {rate} requests/s its p99 bound is {bound} (or requests failed); see {}",
            outcome.results.chosen.as_deref().unwrap_or(""),
            outcome.results.budget.p99_ms,
            plan.out.join("report.html").display()
        );
        ExitCode::from(EXIT_SERVED_OVER_BUDGET)
    }
}

/// Prints what a run (or an import) found — `results.json` itself with
/// `json` — and gives its exit code.
pub(super) fn report_outcome(
    outcome: &optbench::run::Outcome,
    out: &std::path::Path,
    quiet: bool,
    json: bool,
) -> ExitCode {
    let r = &outcome.results;
    if json {
        print_json(r);
    } else if quiet {
        if let Some(c) = &r.chosen {
            println!("{c}");
        }
    } else {
        print_summary(r);
        println!("\nreport: {}", out.join("report.html").display());
        if let Some(dir) = &outcome.model_dir {
            println!("model:  {}", dir.display());
        }
    }
    if r.chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        if quiet {
            eprintln!("{}", r.reason);
        }
        ExitCode::from(EXIT_NOTHING_FITS)
    }
}

/// The settings a run resolved, on standard error (`-v`).
pub(super) fn print_plan(plan: &optbench::config::Plan) {
    eprintln!(
        "config     {}",
        plan.config_path
            .as_ref()
            .map_or("built-in default".into(), |p| p.display().to_string())
    );
    eprintln!("seed       {}", plan.seed);
    eprintln!("data       {}", json(&plan.data));
    eprintln!("pipeline   {}", json(&plan.pipeline));
    let ids: Vec<String> = plan.candidates.iter().map(|c| c.id()).collect();
    eprintln!("candidates {}", ids.join(", "));
    eprintln!("optimize   {}", json(&plan.optimize));
    eprintln!("measure    {}", json(&plan.measure));
    eprintln!("budget     {}", json(&plan.budget));
    eprintln!("out        {}", plan.out.display());
}

/// Plain settings as one line of JSON.
fn json(v: &impl serde::Serialize) -> String {
    // Plain data with string keys: serialisation cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

/// The results as `results.json` holds them.
fn print_json(r: &RunResults) {
    // Plain data with string keys: serialisation cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(r).expect("results serialise")
    );
}

fn kib(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

fn print_summary(r: &RunResults) {
    let w = r
        .candidates
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(2)
        .max(9);
    // The metric that chose, beside accuracy, when it is another one.
    let metric = r.metric();
    let chose = |c: &optbench::report::CandidateResult| {
        if metric == Metric::Accuracy {
            String::new()
        } else {
            let v = c
                .quality(metric)
                .map_or_else(|| "–".to_string(), |v| format!("{v:.4}"));
            format!("{v:>17}  ")
        }
    };
    let chose_header = if metric == Metric::Accuracy {
        String::new()
    } else {
        format!("{:>17}  ", metric.key())
    };
    println!(
        "\n  {:<w$}  {:>8}  {chose_header}{:>8}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}  {:>10}  {:>6}  {:>4}",
        "candidate",
        "accuracy",
        "Δ parent",
        "agrees",
        "p50",
        "p99",
        "p99 bound",
        "model p50",
        "size zstd",
        "Pareto",
        "fits"
    );
    for c in &r.candidates {
        let mark = if r.chosen.as_deref() == Some(c.id.as_str()) {
            "*"
        } else {
            " "
        };
        println!(
            "{mark} {:<w$}  {:>8.4}  {}{:>8}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}  {:>10}  {:>6}  {:>4}",
            c.id,
            c.accuracy,
            chose(c),
            c.accuracy_delta
                .map(|d| format!("{:+.2}pt", d * 100.0))
                .unwrap_or_default(),
            c.agreement_with_parent
                .map(|a| format!("{:.1}%", a * 100.0))
                .unwrap_or_default(),
            c.latency_ns.p50.to_string(),
            c.latency_ns.p99.to_string(),
            c.latency_ns.p99_upper.to_string(),
            c.model_latency_ns.p50.to_string(),
            kib(c.size_bytes.compressed),
            if c.pareto_optimal { "yes" } else { "" },
            if c.within_budget { "yes" } else { "no" },
        );
    }
    let noisy: Vec<&str> = r
        .candidates
        .iter()
        .filter(|c| c.noisy)
        .map(|c| c.id.as_str())
        .collect();
    if !noisy.is_empty() {
        println!(
            "\nnoisy (rounds disagree by more than {:.0} %, beyond what the whole machine did): {}",
            r.measure.noise_tolerance * 100.0,
            noisy.join(", ")
        );
    }
    if r.host_spread > r.measure.noise_tolerance {
        println!(
            "\nthe machine's speed moved by {:.0} % between rounds (every candidate felt it, so \
             their order holds; absolute times are that uncertain: re-run on a quieter machine)",
            r.host_spread * 100.0
        );
    }
    println!("\n{}", r.reason);
}
