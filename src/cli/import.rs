//! `optbench import`: a model trained elsewhere (ONNX), measured, optimized,
//! selected and packaged like optbench's own candidates.

use super::fail;
use super::progress::Bars;
use optbench::config::{Overrides, Plan};
use optbench::measure::Metric;
use optbench::onnx::read_onnx;
use optbench::progress::{Progress, Silent};
use optbench::run::{run_imported, External, ImportData};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench import forest.onnx --test test.csv --target label --budget-ms 1
  optbench import gbm.onnx --test test.csv --train train.csv --target y --config configs/default.toml

The ONNX file holds one TreeEnsembleClassifier, TreeEnsembleRegressor (binary
boosting) or LinearClassifier (as skl2onnx writes scikit-learn forests, trees,
gradient boosting and logistic regression, ZipMap on or off, and as
onnxmltools writes XGBoost and LightGBM classifiers), either
- on one float input, optionally behind an Imputer and a Scaler (a
  SimpleImputer → StandardScaler Pipeline): the columns of --test other than
  the target are its inputs, in file order; or
- on one input per column (float or string [N, 1], as skl2onnx converts a
  ColumnTransformer of SimpleImputer → StandardScaler on numeric columns and
  SimpleImputer(missing_values=\"\") → OneHotEncoder on categorical ones):
  --test must have those columns (by name, any order) and the target.
The file's preprocessing becomes the package's. Where the file's splits send
missing values to their true branch (LightGBM's), a value every split on the
feature sends the same way stands in for a missing one, or the splits are
rewritten to send it to the false branch with the same result. The config's [optimize] plan
applies to it (depth pruning and distillation need --train); its
[[candidates]] are not trained.

Exit codes: 0 a model was chosen; 1 error; 2 usage error; 3 nothing fits the budget.")]
pub struct ImportArgs {
    /// The ONNX model file.
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,
    /// Labelled rows to measure it on (its test set); `--data` is the
    /// older spelling.
    #[arg(long, value_name = "CSV", alias = "data")]
    test: PathBuf,
    /// The rows it was trained on (for depth pruning and distillation).
    #[arg(long, value_name = "CSV")]
    train: Option<PathBuf>,
    /// The label column.
    #[arg(long, value_name = "COLUMN")]
    target: String,
    /// TOML config for [optimize], [measure] and [select]; default: the built-in one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Latency budget in milliseconds, on the end-to-end p99 upper bound.
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    budget_ms: Option<f64>,
    /// What the choice maximises (log_loss: minimises); as `optbench run`.
    #[arg(long, value_name = "METRIC")]
    metric: Option<Metric>,
    /// The fastest within T of the best that fits (points; log_loss: nats).
    #[arg(
        long,
        visible_alias = "tolerance",
        value_name = "T",
        allow_negative_numbers = true
    )]
    accuracy_tolerance: Option<f64>,
    /// Output folder for the report and the package.
    #[arg(long, value_name = "DIR", default_value = "reports/import")]
    out: PathBuf,
    #[arg(long)]
    seed: Option<u64>,
    /// Print only errors and the chosen model's id.
    #[arg(long, short)]
    quiet: bool,
    /// Print results.json to standard output instead of the summary (no
    /// progress bars).
    #[arg(long)]
    json: bool,
    /// Also print the settings the import resolved before it starts.
    #[arg(long, short)]
    verbose: bool,
}

pub fn execute(mut args: ImportArgs) -> ExitCode {
    args.quiet |= args.json;
    let overrides = Overrides {
        budget_ms: args.budget_ms,
        metric: args.metric,
        accuracy_tolerance_pp: args.accuracy_tolerance,
        seed: args.seed,
        out: Some(args.out.clone()),
        import: true,
        ..Default::default()
    };
    let plan = match Plan::load(args.config.as_deref(), &overrides) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if args.verbose {
        super::run::print_plan(&plan);
    }
    let imported = match read_onnx(&args.model) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    if !args.quiet {
        for n in &imported.notes {
            eprintln!("note: {n}");
        }
    }
    let bytes = std::fs::read(&args.model).unwrap_or_default();
    let stem = args
        .model
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let external = External {
        id: format!("onnx-{stem}"),
        params: serde_json::json!({
            "file": args.model.display().to_string(),
            "sha256": optbench::fsutil::sha256_hex(&bytes),
            "input": imported.input,
        }),
        model: imported.model,
        classes: imported.classes,
        path: args.model.clone(),
        preprocessing: imported.preprocessing,
    };
    let data = ImportData {
        test: args.test,
        train: args.train,
        target: args.target,
    };
    let bars = Bars::new();
    let progress: &dyn Progress = if args.quiet { &Silent } else { &bars };
    match run_imported(&plan, external, &data, progress) {
        Ok(outcome) => super::run::report_outcome(&outcome, &plan.out, args.quiet, args.json),
        Err(e) => {
            progress.finish_stage();
            fail(&e)
        }
    }
}
