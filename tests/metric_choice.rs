//! Choosing by a metric other than accuracy on an imbalanced problem: 20,000
//! rows, 5 % positives, generated here (seeded). Accuracy rewards the models
//! that rarely predict the minority class (predicting none scores 0.95);
//! balanced accuracy (mean recall per class) does not: the averaging
//! ensembles call a positive only when sure, and an unpruned tree, which
//! calls one wherever a training positive sat, finds more of them at the
//! cost of false alarms. So the two choices differ.
//!
//! The config also trains four models with `class_weight = "balanced"`
//! (ids ending in `-bal`): the rare class weighs as much as the common one
//! in their training loss, so they trade accuracy for balanced accuracy,
//! and balanced accuracy chooses one of them.

use assert_cmd::Command;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// SplitMix64: a fixed, versionless generator, so the data never changes.
struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 * 2f64.powi(-53)
    }

    /// A standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `rows` rows of 6 features; about 5 % positive. Positives sit in four
/// tight clusters in corners the negatives also reach, so every model
/// trades missed positives against false alarms.
fn write_imbalanced(path: &Path, rows: usize, rng: &mut SplitMix) {
    let mut text = String::from("x0,x1,x2,x3,x4,x5,label\n");
    for _ in 0..rows {
        let positive = rng.uniform() < 0.05;
        let mut x: Vec<f64> = (0..6).map(|_| rng.normal()).collect();
        if positive {
            // One of four small clusters, each a corner of two features.
            let k = (rng.uniform() * 4.0) as usize;
            let (a, b) = [(0, 1), (2, 3), (4, 5), (1, 4)][k];
            x[a] = 2.0 + 0.8 * x[a];
            x[b] = -2.0 + 0.8 * x[b];
        }
        for v in &x {
            let _ = write!(text, "{v:.4},");
        }
        text.push_str(if positive { "1\n" } else { "0\n" });
    }
    std::fs::write(path, text).unwrap();
}

fn run(dir: &Path, metric: &str) -> Value {
    let out = dir.join(metric);
    Command::cargo_bin("optbench")
        .unwrap()
        .current_dir(root())
        .args(["run", "--config", "configs/imbalanced.toml", "--train"])
        .arg(dir.join("train.csv"))
        .arg("--test")
        .arg(dir.join("test.csv"))
        .args(["--target", "label", "--quiet", "--metric", metric, "--out"])
        .arg(&out)
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

fn chosen(r: &Value) -> &Value {
    let id = r["chosen"].as_str().unwrap();
    r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

#[test]
fn on_imbalanced_data_balanced_accuracy_chooses_another_model_than_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = SplitMix(22);
    write_imbalanced(&tmp.path().join("train.csv"), 15_000, &mut rng);
    write_imbalanced(&tmp.path().join("test.csv"), 5_000, &mut rng);
    let by_accuracy = run(tmp.path(), "accuracy");
    let by_balanced = run(tmp.path(), "balanced_accuracy");
    let (a, b) = (chosen(&by_accuracy), chosen(&by_balanced));
    let figures = |c: &Value| {
        format!(
            "{}: accuracy {}, balanced accuracy {}, ROC AUC {}",
            c["id"], c["accuracy"], c["balanced_accuracy"], c["roc_auc"]
        )
    };
    for c in by_balanced["candidates"].as_array().unwrap() {
        eprintln!("{}", figures(c));
    }
    eprintln!(
        "by accuracy: {}\nby balanced accuracy: {}",
        figures(a),
        figures(b)
    );
    assert_ne!(a["id"], b["id"]);
    // Each choice is the best by its own metric among those that fit (the
    // budget is generous: all do), and worse by the other's.
    let f = |c: &Value, k: &str| c[k].as_f64().unwrap();
    assert!(f(b, "balanced_accuracy") > f(a, "balanced_accuracy") + 0.01);
    assert!(f(a, "accuracy") > f(b, "accuracy"));
    assert_eq!(by_balanced["budget"]["metric"], "balanced_accuracy");
    assert!(b["id"].as_str().unwrap().ends_with("-bal"), "{}", b["id"]);

    // Balancing the weights moves each of these models towards the rare
    // class: balanced accuracy up, accuracy down. (Not the unlimited-depth
    // forest: its leaves are pure either way, and the weights only move
    // its splits.)
    let by_id = |id: &str| {
        by_balanced["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no candidate {id}"))
    };
    for id in ["logreg", "tree-d3", "boost-50"] {
        let (plain, balanced) = (by_id(id), by_id(&format!("{id}-bal")));
        assert!(
            f(balanced, "balanced_accuracy") > f(plain, "balanced_accuracy") + 0.05,
            "{id}"
        );
        assert!(f(balanced, "accuracy") < f(plain, "accuracy"), "{id}");
    }
}
