//! Drift from the package alone against drift from the full training file,
//! on a training set three times larger than the stored sample: the
//! lesson's exercise-3 scenarios (the same law; a mean shift in x0 and x1;
//! 1.5× the spread in x2..x4; x5 bimodal with the same mean and variance)
//! must get the same verdict and the same flagged features either way.

use assert_cmd::Command;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const D: usize = 10;
const TRAIN_ROWS: usize = 30_000;

fn optbench() -> Command {
    let mut c = Command::cargo_bin("optbench").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn header(label: bool) -> String {
    let mut h: Vec<String> = (0..D).map(|j| format!("x{j}")).collect();
    if label {
        h.push("label".into());
    }
    h.join(",") + "\n"
}

/// `rows` rows of the scenario's law; with `label`, a class that depends on
/// x0, x1 and x2 (so the model has something to learn).
fn write(path: &Path, rows: usize, scenario: &str, label: bool, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut s = header(label);
    for _ in 0..rows {
        let mut x: Vec<f64> = (0..D).map(|_| normal.sample(&mut rng)).collect();
        match scenario {
            "mean" => {
                x[0] += 0.5;
                x[1] += 0.5;
            }
            "variance" => x[2..5].iter_mut().for_each(|v| *v *= 1.5),
            "shape" => {
                let sign = if rng.random::<bool>() { 0.9 } else { -0.9 };
                x[5] = sign + (1.0f64 - 0.81).sqrt() * normal.sample(&mut rng);
            }
            _ => {}
        }
        let mut cells: Vec<String> = x.iter().map(|v| format!("{v:.6}")).collect();
        if label {
            let z = x[0] - x[1] + 0.5 * x[2] + 0.5 * normal.sample(&mut rng);
            cells.push(if z > 0.0 { "yes" } else { "no" }.into());
        }
        let _ = writeln!(s, "{}", cells.join(","));
    }
    std::fs::write(path, s).unwrap();
}

fn drift(model: &Path, reference: Option<&Path>, current: &Path, out: &Path) -> (i32, Value) {
    let mut c = optbench();
    c.args(["drift", "--model"])
        .arg(model)
        .arg("--current")
        .arg(current)
        .arg("--out")
        .arg(out);
    if let Some(r) = reference {
        c.arg("--reference").arg(r);
    }
    let o = c.output().unwrap();
    let code = o.status.code().unwrap();
    assert!(
        code == 0 || code == 5,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j = serde_json::from_str(&std::fs::read_to_string(out.join("drift.json")).unwrap());
    (code, j.unwrap())
}

fn flagged(j: &Value) -> Vec<String> {
    j["drifted_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_stored_sample_gives_the_full_references_verdicts_on_exercise_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (train, test) = (dir.join("train.csv"), dir.join("test.csv"));
    write(&train, TRAIN_ROWS, "none", true, 1);
    write(&test, 5_000, "none", true, 2);
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "seed = 3\n[[candidates]]\nfamily = \"logistic_regression\"\n\n\
         [measure]\nwarmup_calls = 100\nwarmup_ms = 20\ntimed_calls = 700\nrounds = 2\n\
         batch_ms = 10\nload_repeats = 2\nzstd_levels = [3]\n",
    )
    .unwrap();
    let run = dir.join("run");
    optbench()
        .args([
            "run",
            "-q",
            "--budget-ms",
            "50",
            "--target",
            "label",
            "--config",
        ])
        .arg(&config)
        .arg("--train")
        .arg(&train)
        .arg("--test")
        .arg(&test)
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    let model: PathBuf = run.join("model");

    let mut table = String::from(
        "| scenario | flagged, full reference (30,000 rows) | flagged, stored sample (10,000) | verdict (both) | largest KS p adj. among flagged, full / sample |\n|---|---|---|---|---|\n",
    );
    for (k, scenario) in ["none", "mean", "variance", "shape"].iter().enumerate() {
        let current = dir.join(format!("{scenario}.csv"));
        write(&current, 5_000, scenario, false, 10 + k as u64);
        let (cf, full) = drift(
            &model,
            Some(&train),
            &current,
            &dir.join(format!("{scenario}-full")),
        );
        let (cs, sample) = drift(
            &model,
            None,
            &current,
            &dir.join(format!("{scenario}-sample")),
        );
        let s = &sample["reference_sample"];
        assert_eq!(
            (s["rows"].as_u64(), s["training_rows"].as_u64()),
            (Some(10_000), Some(30_000))
        );
        assert!(s["note"]
            .as_str()
            .unwrap()
            .contains("sample of 10000 of the 30000"));
        // Unlabelled production rows against the package: nothing to warn
        // about.
        assert_eq!(sample["warnings"], serde_json::json!([]), "{scenario}");
        assert_eq!(full["verdict"], sample["verdict"], "{scenario}");
        assert_eq!(cf, cs, "{scenario}");
        assert_eq!(flagged(&full), flagged(&sample), "{scenario}");
        let want: &[&str] = match *scenario {
            "none" => &[],
            "mean" => &["x0", "x1"],
            "variance" => &["x2", "x3", "x4"],
            _ => &["x5"],
        };
        assert_eq!(flagged(&sample), want, "{scenario}");
        let worst = |j: &Value| {
            j["features"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["drifted"] == true)
                .map(|f| f["ks"]["p_adjusted"].as_f64().unwrap())
                .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))))
                .map_or("–".to_string(), |p| format!("{p:.1e}"))
        };
        let _ = writeln!(
            table,
            "| {scenario} | {} | {} | {} | {} / {} |",
            flagged(&full).join(", "),
            flagged(&sample).join(", "),
            sample["verdict"].as_str().unwrap(),
            worst(&full),
            worst(&sample)
        );
    }
    println!("{table}");
}
