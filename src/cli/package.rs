//! The commands that work on a saved package: `predict`, `inspect`, `bench`.

use super::{fail, EXIT_ERROR, EXIT_REJECTED};
use optbench::artifact::{describe, predict_csv, Artifact, PredictFiles, ScoreOptions};
use optbench::measure::{MeasureSettings, Nanos, MIN_CALLS_FOR_P99};
use optbench::progress::{Progress, Silent};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench predict --model reports/latest/model --input rows.csv --output preds.csv --proba
  optbench predict --model DIR --input rows.csv --output preds.csv --skip-invalid
  optbench predict --model DIR --input rows.csv --strict

Rows are checked against the package's schema: a missing column, text in a numeric
column or an infinite value is an error naming the row, line and column (with
--skip-invalid the row goes to the rejected file instead). Columns the model does not
use, values far outside the training range and categories never seen in training are
counted and reported; --strict refuses them.

Exit codes: 0 rows scored (the rejected ones in the rejected file); 7 more rows rejected
than --max-rejected (by default: every row); 1 error; 2 usage error.")]
pub struct PredictArgs {
    /// The package folder (`<out>/model` of `optbench run`).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// CSV rows to score (header line, the model's columns in any order).
    #[arg(long, value_name = "CSV")]
    input: PathBuf,
    /// Where to write `row,prediction[,proba_<class>…]`; default: standard output.
    #[arg(long, value_name = "CSV")]
    output: Option<PathBuf>,
    /// Print only errors and warnings (not the rows-scored and accuracy lines).
    #[arg(long, short)]
    quiet: bool,
    /// Also print every column's notes (missing cells, values out of range,
    /// unseen categories), including the clean ones.
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
    /// Print the summary (rows scored and rejected, per-column notes,
    /// accuracy) as JSON on standard output; the predictions then need
    /// --output FILE.
    #[arg(long)]
    json: bool,
    /// Copy this column of the input (an identifier) into the output, after
    /// `row`; it is not read as a feature unless the model has it.
    #[arg(long, value_name = "COLUMN")]
    id_column: Option<String>,
    /// Also write one probability column per class.
    #[arg(long)]
    proba: bool,
    /// Refuse columns the model does not use, values far outside the training
    /// range and unseen categories.
    #[arg(long)]
    strict: bool,
    /// Write invalid rows to the rejected file and go on, instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// With --skip-invalid: exit 7 when more rows than this are rejected
    /// (default: only when every row is).
    #[arg(long, value_name = "N", requires = "skip_invalid")]
    max_rejected: Option<u64>,
    /// The rejected-rows file (with --skip-invalid); default: `<output>.rejected.csv`.
    #[arg(long, value_name = "CSV", requires = "skip_invalid")]
    rejected: Option<PathBuf>,
    /// A value is out of range beyond the training [min, max] widened by this share of its width.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    range_margin: f64,
}

pub fn predict(mut args: PredictArgs) -> ExitCode {
    // `-` is standard output, as everywhere.
    if args.output.as_deref() == Some(Path::new("-")) {
        args.output = None;
    }
    if args.json && args.output.is_none() {
        return fail(&optbench::Error::Flag {
            flag: "--json".into(),
            message:
                "the summary goes to standard output: write the predictions with --output FILE"
                    .into(),
        });
    }
    if !(args.range_margin.is_finite() && args.range_margin >= 0.0) {
        return fail(&optbench::Error::Flag {
            flag: "--range-margin".into(),
            message: format!("{}: expected a share ≥ 0, e.g. 0.1", args.range_margin),
        });
    }
    let rejected =
        match (&args.rejected, &args.output, args.skip_invalid) {
            (Some(r), _, true) => Some(r.clone()),
            (None, Some(out), true) => Some(rejected_path(out)),
            (None, None, true) => return fail(&optbench::Error::Flag {
                flag: "--skip-invalid".into(),
                message:
                    "writing to standard output: name the rejected-rows file with --rejected FILE"
                        .into(),
            }),
            (_, _, false) => None,
        };
    let artifact = match Artifact::load(&args.model) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let (input, _stdin) = match super::Stdin::resolve(&args.input) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let files = PredictFiles {
        input: &input,
        output: args.output.as_deref(),
        rejected: rejected.as_deref(),
        proba: args.proba,
        id_column: args.id_column.as_deref(),
    };
    let options = ScoreOptions {
        strict: args.strict,
        range_margin: args.range_margin,
    };
    let summary = match predict_csv(&artifact, files, options) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let say = |line: String| {
        if !args.quiet {
            eprintln!("{line}");
        }
    };
    say(format!(
        "scored {} of {} rows with {}{}",
        summary.scored,
        summary.rows,
        artifact.metadata.model.id,
        args.output
            .as_ref()
            .map_or_else(String::new, |p| format!(" → {}", p.display()))
    ));
    if summary.rejected > 0 {
        say(format!(
            "rejected {} rows → {}",
            summary.rejected,
            rejected.as_deref().unwrap_or(Path::new("-")).display()
        ));
    }
    if !summary.extra_columns.is_empty() {
        eprintln!(
            "warning: column(s) not used by the model: {}",
            summary.extra_columns.join(", ")
        );
    }
    if args.verbose {
        eprintln!(
            "{:<24} {:>9} {:>13} {:>18}",
            "column", "missing", "out of range", "unseen categories"
        );
        for c in &summary.columns {
            eprintln!(
                "{:<24} {:>9} {:>13} {:>18}",
                c.name, c.missing, c.out_of_range, c.unseen_categories
            );
        }
    }
    for c in &summary.columns {
        if c.out_of_range > 0 {
            eprintln!(
                "warning: `{}`: {} value(s) far outside the training range (margin {})",
                c.name, c.out_of_range, args.range_margin
            );
        }
        if c.unseen_categories > 0 {
            eprintln!(
                "warning: `{}`: {} value(s) in categories never seen in training (ignored by the one-hot encoder), e.g. {}",
                c.name,
                c.unseen_categories,
                c.unseen_examples.join(", ")
            );
        }
    }
    if let Some(acc) = summary.accuracy() {
        say(format!(
            "accuracy {:.4} on {} labelled rows (`{}` column){}",
            acc,
            summary.labelled,
            artifact.metadata.target,
            if summary.unknown_labels > 0 {
                format!(
                    "; {} rows have labels the model never saw",
                    summary.unknown_labels
                )
            } else {
                String::new()
            }
        ));
    }
    let too_many = match args.max_rejected {
        Some(n) => summary.rejected > n,
        None => summary.scored == 0,
    };
    if args.json {
        let mut j = serde_json::to_value(&summary).unwrap_or_default();
        if let Some(o) = j.as_object_mut() {
            o.insert("model".into(), artifact.metadata.model.id.clone().into());
            o.insert("accuracy".into(), summary.accuracy().into());
            o.insert(
                "output".into(),
                args.output.as_ref().map(|p| p.display().to_string()).into(),
            );
            o.insert(
                "rejected_file".into(),
                rejected.as_ref().map(|p| p.display().to_string()).into(),
            );
        }
        println!("{j:#}");
    }
    if too_many {
        eprintln!(
            "error: {} of {} rows rejected ({}); exit {EXIT_REJECTED}",
            summary.rejected,
            summary.rows,
            args.max_rejected.map_or_else(
                || "every row".to_string(),
                |n| format!("more than --max-rejected {n}")
            )
        );
        return ExitCode::from(EXIT_REJECTED);
    }
    ExitCode::SUCCESS
}

/// `preds.csv` → `preds.rejected.csv`.
fn rejected_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(
        || "predictions".into(),
        |s| s.to_string_lossy().into_owned(),
    );
    out.with_file_name(format!("{stem}.rejected.csv"))
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench inspect reports/latest/model
  optbench inspect --model reports/latest/model --json")]
pub struct InspectArgs {
    /// The package folder (or --model DIR, as the other subcommands take it).
    #[arg(value_name = "DIR", required_unless_present = "model_flag")]
    model: Option<PathBuf>,
    #[arg(long = "model", value_name = "DIR", conflicts_with = "model")]
    model_flag: Option<PathBuf>,
    /// Print metadata.json (verified) instead of the summary.
    #[arg(long)]
    json: bool,
    /// Also print every numeric column's training quantiles.
    #[arg(long, short, conflicts_with = "json")]
    verbose: bool,
}

pub fn inspect(args: InspectArgs) -> ExitCode {
    // clap requires one of the two.
    let model = args.model.or(args.model_flag).unwrap_or_default();
    // Loading verifies the package: a damaged one is reported, not described.
    let artifact = match Artifact::load(&model) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    if args.json {
        match serde_json::to_string_pretty(&artifact.metadata) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
        }
    } else {
        print!("{}", describe(&artifact.metadata));
        if args.verbose {
            print!(
                "{}",
                optbench::artifact::describe_quantiles(&artifact.metadata)
            );
        }
    }
    ExitCode::SUCCESS
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench bench --model reports/latest/model --input test.csv

Times validate → preprocess → predict on every row of --input, single rows, one thread,
as `optbench run` does (warm-up, interleaved rounds, timer overhead subtracted), and
the package's load time. With the target column in --input, also the accuracy.")]
pub struct BenchArgs {
    /// The package folder.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Rows to time (the package's columns; the target column is optional);
    /// `--data` is the older spelling.
    #[arg(long, value_name = "CSV", alias = "data")]
    input: PathBuf,
    /// Timed calls per path.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    calls: usize,
    /// Seed for the order of the rows.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also measure the cold start (load + first prediction) in N fresh processes.
    #[arg(long, value_name = "N", default_value_t = 5)]
    cold_start: usize,
    /// Print only the figures.
    #[arg(long, short)]
    quiet: bool,
    /// Print the figures as JSON (nanoseconds) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also print each round's end-to-end p50 (how steady the machine was).
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
}

pub fn bench(mut args: BenchArgs) -> ExitCode {
    args.quiet |= args.json;
    if cfg!(debug_assertions) && !args.quiet {
        eprintln!("warning: this is a debug build; latency figures are not representative (use cargo run --release)");
    }
    if args.calls < MIN_CALLS_FOR_P99 {
        return fail(&optbench::Error::Flag {
            flag: "--calls".into(),
            message: format!(
                "{}: at least {MIN_CALLS_FOR_P99} timed calls are needed for a p99 with a 95% upper bound",
                args.calls
            ),
        });
    }
    let settings = MeasureSettings {
        timed_calls: args.calls,
        ..MeasureSettings::default()
    };
    let bars = super::progress::Bars::new();
    let progress: &dyn Progress = if args.quiet { &Silent } else { &bars };
    let (input, _stdin) = match super::Stdin::resolve(&args.input) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let b = match optbench::run::bench_artifact(&args.model, &input, &settings, args.seed, progress)
    {
        Ok(b) => b,
        Err(e) => {
            progress.finish_stage();
            return fail(&e);
        }
    };
    let l = &b.latency;
    let s = &l.subjects[0];
    let cold = if args.cold_start > 0 {
        let runs = match std::env::current_exe()
            .map_err(|e| optbench::Error::Measure(format!("cannot find this program: {e}")))
            .and_then(|exe| optbench::run::cold_starts(&exe, &args.model, &input, args.cold_start))
        {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        let stat = |mut v: Vec<u64>| {
            v.sort_unstable();
            (Nanos(v[v.len() / 2]), Nanos(v[v.len() - 1]))
        };
        Some((
            runs.len(),
            stat(runs.iter().map(|r| r.0.load.0).collect()),
            stat(runs.iter().map(|r| r.0.first_prediction.0).collect()),
            stat(runs.iter().map(|r| r.1 .0).collect()),
        ))
    } else {
        None
    };
    let stages = [
        ("validate", &l.stages.validate),
        ("preprocess", &l.stages.preprocess),
        ("model", &s.model_only),
        ("end_to_end", &s.end_to_end),
    ];
    if args.json {
        let mut stage_map = serde_json::Map::new();
        for (name, st) in stages {
            stage_map.insert(
                name.into(),
                serde_json::json!({
                    "p50_ns": st.p50.0, "p95_ns": st.p95.0, "p99_ns": st.p99.0,
                    "p99_upper_ns": st.p99_upper.0,
                }),
            );
        }
        let j = serde_json::json!({
            "rows": b.rows,
            "request_form": l.stages.request.describe(),
            "timed_calls": s.end_to_end.calls,
            "stages": stage_map,
            "timer_overhead_ns": l.overhead.p50.0,
            "load_ns": b.load.0,
            "cold_start": cold.map(|(n, load, first, wall)| serde_json::json!({
                "processes": n,
                "load_ns": {"median": load.0 .0, "max": load.1 .0},
                "first_prediction_ns": {"median": first.0 .0, "max": first.1 .0},
                "process_ns": {"median": wall.0 .0, "max": wall.1 .0},
            })),
            "accuracy": b.accuracy,
            "recorded_accuracy": b.recorded_accuracy,
        });
        println!("{j:#}");
        return ExitCode::SUCCESS;
    }
    println!(
        "{} rows, served as {}; {} timed calls per path",
        b.rows,
        l.stages.request.describe(),
        s.end_to_end.calls
    );
    println!(
        "{:<12} {:>12} {:>12} {:>12} {:>12}",
        "stage", "p50", "p95", "p99", "p99 bound"
    );
    for (name, st) in stages {
        println!(
            "{:<12} {:>12} {:>12} {:>12} {:>12}",
            name.replace('_', "-"),
            st.p50.to_string(),
            st.p95.to_string(),
            st.p99.to_string(),
            st.p99_upper.to_string()
        );
    }
    println!(
        "timer overhead {} (subtracted); package load {}",
        l.overhead.p50, b.load
    );
    if args.verbose {
        let rounds: Vec<String> = s.round_p50s.iter().map(ToString::to_string).collect();
        println!("end-to-end p50 by round: {}", rounds.join(", "));
    }
    if let Some((n, (load50, loadmax), (first50, firstmax), (wall50, wallmax))) = cold {
        println!(
            "cold start in {n} fresh processes (median / max): load {load50} / {loadmax}, first prediction {first50} / {firstmax}, whole process {wall50} / {wallmax}"
        );
    }
    if let Some(acc) = b.accuracy {
        println!(
            "accuracy {:.4}{}",
            acc,
            b.recorded_accuracy.map_or_else(String::new, |r| format!(
                " (the package recorded {r:.4} on its test set)"
            ))
        );
    }
    ExitCode::SUCCESS
}
