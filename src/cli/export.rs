//! `optbench export`: a packaged model in a standard format.

use super::fail;
use optbench::artifact::Artifact;
use optbench::export::{model_to_onnx, write_onnx};
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

For now the graph holds the model only: its input `features` is the
preprocessed feature vector (after imputation, scaling and one-hot), not the
raw columns. `label` is the class index; the class names are in metadata.json.")]
pub struct ExportArgs {
    /// A model package written by `optbench run` (the folder with metadata.json).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "onnx")]
    format: Format,
    /// File to write.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
}

pub fn execute(args: ExportArgs) -> ExitCode {
    let artifact = match Artifact::load(&args.model) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let Format::Onnx = args.format;
    let written = model_to_onnx(&artifact.model).and_then(|m| write_onnx(&args.output, &m));
    if let Err(e) = written {
        return fail(&e);
    }
    let classes = &artifact.metadata.classes;
    println!(
        "wrote {} ({}, {} features -> {} classes: {})",
        args.output.display(),
        artifact.model.describe(),
        artifact.model.n_features(),
        classes.len(),
        classes.join(", ")
    );
    eprintln!(
        "note: the preprocessing pipeline is not in the ONNX graph yet: its input `features` \
         takes the {} preprocessed values per row (imputed, scaled, one-hot), not the {} raw columns",
        artifact.model.n_features(),
        artifact.schema.features.len()
    );
    ExitCode::SUCCESS
}
