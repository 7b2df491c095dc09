//! `optbench run`.

use super::progress::Bars;
use super::{fail, EXIT_NOTHING_FITS};
use optbench::config::{Overrides, Plan};
use optbench::progress::{Progress, Silent};
use optbench::report::RunResults;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench run --budget-ms 50
  optbench run --data my.csv --target label --budget-ms 0.2 --out reports/mine
  optbench run --train train.csv --test test.csv --target y --config configs/default.toml

Exit codes: 0 a model was chosen; 1 error; 2 usage error; 3 no candidate fits the budget.")]
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
    /// Pick the fastest candidate within PP accuracy points of the most
    /// accurate one that fits, instead of the most accurate.
    #[arg(long, value_name = "PP", allow_negative_numbers = true)]
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
    /// Print only errors and the chosen model's id.
    #[arg(long, short)]
    quiet: bool,
}

pub fn execute(args: RunArgs) -> ExitCode {
    let overrides = Overrides {
        data: args.data,
        train: args.train,
        test: args.test,
        target: args.target,
        budget_ms: args.budget_ms,
        accuracy_tolerance_pp: args.accuracy_tolerance,
        seed: args.seed,
        out: Some(args.out),
        export_onnx: args.export.is_some(),
    };
    let plan = match Plan::load(args.config.as_deref(), &overrides) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if !args.quiet && cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; latency figures are not representative (use cargo run --release)");
    }
    let bars = Bars::new();
    let progress: &dyn Progress = if args.quiet { &Silent } else { &bars };
    let outcome = match optbench::run::run(&plan, progress) {
        Ok(o) => o,
        Err(e) => {
            progress.finish_stage();
            return fail(&e);
        }
    };
    report_outcome(&outcome, &plan.out, args.quiet)
}

/// Prints what a run (or an import) found and gives its exit code.
pub(super) fn report_outcome(
    outcome: &optbench::run::Outcome,
    out: &std::path::Path,
    quiet: bool,
) -> ExitCode {
    let r = &outcome.results;
    if quiet {
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
    println!(
        "\n  {:<w$}  {:>8}  {:>8}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}  {:>10}  {:>6}  {:>4}",
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
            "{mark} {:<w$}  {:>8.4}  {:>8}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}  {:>10}  {:>6}  {:>4}",
            c.id,
            c.accuracy,
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
