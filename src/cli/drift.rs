//! `optbench drift`: exit 0 no drift, 5 drift found, 6 too few rows to
//! judge, 1 error — so cron and CI can act on it.

use super::{fail, EXIT_DRIFT, EXIT_TOO_FEW_ROWS};
use optbench::drift::render;
use optbench::drift::stats::Correction;
use optbench::drift::{detect, write_report, DriftConfig, DriftInputs, LogFilter, Verdict};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
enum CorrectionArg {
    /// Benjamini–Hochberg (false discovery rate).
    Bh,
    /// Bonferroni (family-wise error rate; stricter).
    Bonferroni,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench drift --model reports/latest/model --current last_week.csv
  optbench drift --model reports/latest/model --current request-logs/ --since 2026-12-01
  optbench drift --reference train.csv --current last_week.csv
  optbench drift --reference train.csv --current last_week.csv --target label --model reports/latest/model
  optbench drift --reference a.csv --current b.csv --json --correction bonferroni --alpha 0.05

A feature is flagged when its corrected p-value (KS for numeric, chi-square for
categorical columns) is below --alpha AND PSI >= --psi-moderate or JS >= --js-threshold.

Exit codes: 0 no drift; 5 drift found; 6 too few rows to judge (the figures are written,
see the warning); 1 error; 2 usage error.")]
pub struct DriftArgs {
    /// The data the model was trained on (or a trusted past window). Without
    /// it, --model's package is the reference: the sample of its training
    /// rows it stores, with its predictions on them.
    #[arg(long, value_name = "CSV", required_unless_present = "model")]
    reference: Option<PathBuf>,
    /// The data to check: a CSV file, or the folder `optbench serve
    /// --log-requests` writes (its rows as served, with the predictions made).
    #[arg(long, value_name = "CSV|DIR")]
    current: PathBuf,
    /// With a log folder: only rows logged at or after this UTC instant
    /// (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// With a log folder: keep rows logged by other model versions than
    /// --model's (left out and counted by default).
    #[arg(long)]
    all_versions: bool,
    /// A model package (from `optbench run`): validates the columns against its
    /// schema and adds prediction drift (and accuracy when labels are in both
    /// files); the reference when --reference is not given.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Output folder for drift.json and drift.html.
    #[arg(long, value_name = "DIR", default_value = "reports/drift")]
    out: PathBuf,
    /// Print drift.json to stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Print only the verdict and the recommendation (and warnings).
    #[arg(long, short)]
    quiet: bool,
    /// Also print what was compared (files, rows) and the settings used.
    #[arg(long, short, conflicts_with_all = ["quiet", "json"])]
    verbose: bool,
    /// Label column: left out of the feature comparison (default with
    /// --model: the package's target column, when a file has it).
    #[arg(long, value_name = "COLUMN")]
    target: Option<String>,
    /// Quantile bins of the reference for PSI and JS.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    bins: i64,
    /// Multiple-testing correction of the per-feature p-values.
    #[arg(long, value_enum, default_value = "bh")]
    correction: CorrectionArg,
    /// Significance level for the corrected p-values.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.01,
        allow_negative_numbers = true
    )]
    alpha: f64,
    /// PSI from which a shift is moderate (and large enough to flag).
    #[arg(
        long,
        value_name = "PSI",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    psi_moderate: f64,
    /// PSI from which a shift is major (retrain within a week).
    #[arg(
        long,
        value_name = "PSI",
        default_value_t = 0.25,
        allow_negative_numbers = true
    )]
    psi_major: f64,
    /// Jensen–Shannon distance (natural log) large enough to flag.
    #[arg(
        long,
        value_name = "JS",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    js_threshold: f64,
}

pub fn execute(args: DriftArgs) -> ExitCode {
    let bins = match usize::try_from(args.bins) {
        Ok(b) => b,
        Err(_) => {
            return fail(&optbench::Error::Flag {
                flag: "--bins".into(),
                message: format!(
                    "expected a whole number from 2 to 1000, found {}",
                    args.bins
                ),
            })
        }
    };
    let cfg = DriftConfig {
        bins,
        alpha: args.alpha,
        correction: match args.correction {
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
            CorrectionArg::Bonferroni => Correction::Bonferroni,
        },
        psi_moderate: args.psi_moderate,
        psi_major: args.psi_major,
        js_threshold: args.js_threshold,
        ..DriftConfig::default()
    };
    let since_ms = match args
        .since
        .as_deref()
        .map(|s| (s, optbench::timefmt::parse_utc_ms(s)))
    {
        None => None,
        Some((_, Some(ms))) => Some(ms),
        Some((s, None)) => {
            return fail(&optbench::Error::Flag {
                flag: "--since".into(),
                message: format!(
                    "`{s}`: expected a UTC date YYYY-MM-DD or instant YYYY-MM-DDTHH:MM:SSZ"
                ),
            })
        }
    };
    if (since_ms.is_some() || args.all_versions) && !args.current.is_dir() {
        return fail(&optbench::Error::Flag {
            flag: if since_ms.is_some() {
                "--since"
            } else {
                "--all-versions"
            }
            .into(),
            message: format!(
                "applies when --current is a request-log folder; {} is a file",
                args.current.display()
            ),
        });
    }
    if args.current.as_os_str() == "-" && args.reference.as_deref() == Some(Path::new("-")) {
        return fail(&optbench::Error::Flag {
            flag: "--reference".into(),
            message: "standard input (`-`) can be read once: --current or --reference, not both"
                .into(),
        });
    }
    let (current, _stdin) = match super::Stdin::resolve(&args.current) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let (reference, _stdin_reference) = match args.reference.as_deref().map(super::Stdin::resolve) {
        Some(Ok((r, guard))) => (Some(r), guard),
        Some(Err(e)) => return fail(&e),
        None => (None, None),
    };
    let inputs = DriftInputs {
        logs: LogFilter {
            since_ms,
            all_versions: args.all_versions,
        },
        reference: reference.as_deref(),
        current: &current,
        target: args.target.as_deref(),
        model: args.model.as_deref(),
    };
    let report = match detect(&inputs, &cfg) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let Err(e) = write_report(&report, &args.out) {
        return fail(&e);
    }
    if args.json {
        // Plain data with string keys: serialisation cannot fail.
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    } else if args.quiet {
        println!(
            "verdict: {} — {}: {}",
            render::verdict_text(report.verdict),
            render::action_text(report.recommendation.action),
            report.recommendation.reason
        );
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    } else {
        if args.verbose {
            println!(
                "reference {} ({} rows); current {} ({} rows)",
                report.reference.path.display(),
                report.reference.rows,
                report.current.path.display(),
                report.current.rows
            );
            println!(
                "settings  {}\n",
                serde_json::to_string(&report.settings).unwrap_or_default()
            );
        }
        print!("{}", render::table(&report));
        println!(
            "\nreport: {}",
            args.out.join(optbench::drift::HTML_FILE).display()
        );
    }
    match report.verdict {
        Verdict::Drift => ExitCode::from(EXIT_DRIFT),
        Verdict::InsufficientData => ExitCode::from(EXIT_TOO_FEW_ROWS),
        Verdict::NoDrift => ExitCode::SUCCESS,
    }
}
