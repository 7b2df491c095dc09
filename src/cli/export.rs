//! `optbench export`: a packaged model in a standard format.

use super::fail;
use optbench::artifact::Artifact;
use optbench::onnx::{model_to_onnx, serving_to_onnx, write_onnx};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// ONNX (ai.onnx 17, ai.onnx.ml 3): outputs `label` (class index) and `probabilities`.
    Onnx,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  optbench export --model reports/latest/model --format onnx --output model.onnx

The graph is the whole serving path: one input per column, [N, 1] (numeric
columns as double with NaN for missing, categorical columns as string with \"\"
for missing), the fitted pipeline (imputation, scaling, one-hot with unknown
categories ignored) and the model. Outputs: `label` (int64 class index; the
class names are in metadata.json and the graph's doc string) and
`probabilities` (float [N, classes]). --model-only writes the model alone, on
the preprocessed feature vector `features`.")]
pub struct ExportArgs {
    /// A model package written by `optbench run` (the folder with metadata.json).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "onnx")]
    format: Format,
    /// File to write; `-` is standard output.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// Only the model, taking the preprocessed feature vector.
    #[arg(long)]
    model_only: bool,
    /// Print only errors (not the line saying what was written).
    #[arg(long, short)]
    quiet: bool,
    /// Also print the graph's operators and how many of each.
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
}

pub fn execute(args: ExportArgs) -> ExitCode {
    let artifact = match Artifact::load(&args.model) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let Format::Onnx = args.format;
    let graph = if args.model_only {
        model_to_onnx(artifact.model())
    } else {
        serving_to_onnx(
            &artifact.schema,
            &artifact.pipeline,
            artifact.model(),
            &artifact.metadata.classes,
        )
    };
    // `-` is standard output: the ONNX bytes, piped on (the note goes to
    // standard error).
    let to_stdout = args.output.as_os_str() == "-";
    let mut ops: std::collections::BTreeMap<String, usize> = Default::default();
    if let Ok(m) = &graph {
        for n in m.graph.iter().flat_map(|g| &g.node) {
            let op = n.op_type.as_deref().unwrap_or("?");
            let name = match n.domain.as_deref() {
                None | Some("") => op.to_string(),
                Some(d) => format!("{d}.{op}"),
            };
            *ops.entry(name).or_insert(0) += 1;
        }
    }
    let written = graph.and_then(|m| {
        if to_stdout {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&optbench::onnx::encode(&m))
                .and_then(|()| out.flush())
                .map_err(|e| optbench::Error::Io {
                    path: "<stdout>".into(),
                    source: e,
                })
        } else {
            write_onnx(&args.output, &m)
        }
    });
    if let Err(e) = written {
        return fail(&e);
    }
    let say = |line: String| {
        if to_stdout && !args.quiet {
            eprintln!("{line}");
        } else if !args.quiet {
            println!("{line}");
        }
    };
    let classes = &artifact.metadata.classes;
    if args.model_only {
        say(format!(
            "wrote {} (the model alone: {}; input `features`, {} preprocessed values -> {} classes: {})",
            args.output.display(),
            artifact.model().describe(),
            artifact.model().n_features(),
            classes.len(),
            classes.join(", ")
        ));
    } else {
        say(format!(
            "wrote {} (pipeline + {}; inputs: {} columns -> {} classes: {})",
            args.output.display(),
            artifact.model().describe(),
            artifact.schema.features.len(),
            classes.len(),
            classes.join(", ")
        ));
    }
    if args.verbose {
        let list: Vec<String> = ops.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        say(format!("operators: {}", list.join(", ")));
    }
    ExitCode::SUCCESS
}
