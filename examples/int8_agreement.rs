//! How far each tree candidate's int8 variant (binned thresholds, int8
//! leaves, as `[optimize] quantize = ["int8"]` derives it) moves from its
//! float parent: test accuracy of both and the share of test rows on which
//! they predict the same class. Trains only, no timing: a quick check of
//! the int8 leaves' precision on a config's data or on CSV splits.
//!
//! ```text
//! cargo run --release --example int8_agreement -- --config configs/default.toml \
//!   [--train tests/fixtures/wine/train.csv --test tests/fixtures/wine/test.csv --target label] \
//!   [--only boost-50,boost-200,forest-100]
//! ```

use optbench::config::{Overrides, Plan};
use optbench::measure::accuracy;
use optbench::model::Model;
use optbench::optimize::{agreement, quantize, Candidate, QuantizeKind};
use optbench::pipeline::FittedPipeline;
use optbench::train::{train, TrainData};
use std::path::PathBuf;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let overrides = Overrides {
        train: arg(&args, "--train").map(PathBuf::from),
        test: arg(&args, "--test").map(PathBuf::from),
        target: arg(&args, "--target"),
        ..Default::default()
    };
    let config = PathBuf::from(arg(&args, "--config").expect("--config FILE"));
    let plan = Plan::load(Some(&config), &overrides).expect("a valid config");
    let only: Option<Vec<String>> =
        arg(&args, "--only").map(|s| s.split(',').map(str::to_owned).collect());

    let split = optbench::run::load_split(&plan).expect("the data load");
    let pipeline = FittedPipeline::fit(&split.train, &plan.pipeline).expect("a pipeline");
    let x_train = pipeline.transform(&split.train);
    let x_test = pipeline.transform(&split.test);
    let data = TrainData {
        x: &x_train,
        n_features: pipeline.n_outputs(),
        y: &split.train.y,
        n_classes: split.train.n_classes(),
    };
    println!(
        "{:<16} {:>9} {:>9} {:>8} {:>10}  leaves",
        "candidate", "float", "int8", "Δ pp", "agreement"
    );
    for spec in &plan.candidates {
        let id = spec.id();
        if only.as_ref().is_some_and(|o| !o.contains(&id)) {
            continue;
        }
        let t = train(spec, &data, plan.seed).expect("training succeeds");
        if !matches!(t.model, Model::Trees(_)) {
            continue;
        }
        let parent = Candidate::from(t);
        let mut want = Vec::new();
        parent
            .model
            .compile()
            .expect("trained models compile")
            .predict_batch(&x_test, &mut want);
        let acc = accuracy(&split.test.y, &want);
        match quantize(&parent, QuantizeKind::Int8).expect("quantizing") {
            Some(v) => {
                let mut got = Vec::new();
                v.model
                    .compile()
                    .expect("variants compile")
                    .predict_batch(&x_test, &mut got);
                let acc8 = accuracy(&split.test.y, &got);
                println!(
                    "{:<16} {:>8.2}% {:>8.2}% {:>+8.2} {:>9.2}%  {}",
                    id,
                    100.0 * acc,
                    100.0 * acc8,
                    100.0 * (acc8 - acc),
                    100.0 * agreement(&want, &got),
                    v.model.describe()
                );
            }
            None => println!("{id:<16} {:>8.2}%  no int8 variant", 100.0 * acc),
        }
    }
}
