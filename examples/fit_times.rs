//! optbench's half of `scripts/fit_times.sh`: fits one candidate of a
//! config on CSV splits and prints one JSON line with its fit time (the
//! trainer and the conversion into the IR, as `optbench run` reports it; the
//! preprocessing pipeline is fitted before the clock starts) and its test
//! accuracy. One candidate per process, so the script can interleave
//! optbench and scikit-learn fits; rayon's threads follow
//! `RAYON_NUM_THREADS`.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release --example fit_times -- \
//!   --config configs/peers/fit_w1.toml --workload w1 --candidate forest-100 \
//!   --train TRAIN.csv --test TEST.csv --target label
//! ```
//! `--seed N` replaces the config's seed.

use optbench::config::{Overrides, Plan};
use optbench::measure::accuracy;
use optbench::pipeline::FittedPipeline;
use optbench::train::{train, TrainData};
use serde_json::json;
use std::path::PathBuf;

fn arg(args: &[String], name: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .unwrap_or_else(|| panic!("missing {name}"))
        .clone()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let overrides = Overrides {
        train: Some(PathBuf::from(arg(&args, "--train"))),
        test: Some(PathBuf::from(arg(&args, "--test"))),
        target: Some(arg(&args, "--target")),
        // Optional: another seed than the config's.
        seed: args
            .iter()
            .position(|a| a == "--seed")
            .and_then(|i| args.get(i + 1))
            .map(|s| s.parse().expect("--seed: a whole number")),
        ..Default::default()
    };
    let plan = Plan::load(Some(&PathBuf::from(arg(&args, "--config"))), &overrides)
        .expect("a valid config");
    let id = arg(&args, "--candidate");
    let spec = plan
        .candidates
        .iter()
        .find(|c| c.id() == id)
        .unwrap_or_else(|| panic!("no candidate `{id}` in the config"));

    let split = optbench::run::load_split(&plan).expect("the CSV files load");
    let pipeline = FittedPipeline::fit(&split.train, &plan.pipeline).expect("a pipeline");
    let x_train = pipeline.transform(&split.train);
    let x_test = pipeline.transform(&split.test);
    let data = TrainData {
        x: &x_train,
        n_features: pipeline.n_outputs(),
        y: &split.train.y,
        n_classes: split.train.n_classes(),
    };
    let t = train(spec, &data, plan.seed).expect("training succeeds");
    let mut predicted = Vec::new();
    t.model
        .compile()
        .unwrap()
        .predict_batch(&x_test, &mut predicted);
    let line = json!({
        "tool": "optbench",
        "workload": arg(&args, "--workload"),
        "model": id,
        "threads": rayon::current_num_threads(),
        "fit_seconds": t.fit_seconds,
        "accuracy": accuracy(&split.test.y, &predicted),
    });
    println!("{line}");
}
