//! `optbench drift` end to end: verdicts and exit codes (0 no drift, 5 drift,
//! 6 too few rows, 1 error), the files it writes, its messages, and that a failure leaves no
//! file behind. Data are generated here with a fixed seed.

use assert_cmd::Command;
use optbench::config::{Overrides, Plan};
use predicates::str::contains;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn optbench() -> Command {
    let mut c = Command::cargo_bin("optbench").unwrap();
    c.current_dir(root());
    c
}

/// A CSV of `rows` rows: `noise` standard-normal columns `n0..`, plus the
/// named extra columns drawn by their closures.
type Col<'a> = (&'a str, &'a dyn Fn(&mut ChaCha8Rng) -> String);

fn write_csv(path: &Path, rows: usize, noise: usize, extra: &[Col<'_>], seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut s = String::new();
    let mut header: Vec<String> = (0..noise).map(|j| format!("n{j}")).collect();
    header.extend(extra.iter().map(|(n, _)| n.to_string()));
    s.push_str(&header.join(","));
    s.push('\n');
    for _ in 0..rows {
        let mut cells: Vec<String> = (0..noise)
            .map(|_| format!("{:.6}", normal.sample(&mut rng)))
            .collect();
        cells.extend(extra.iter().map(|(_, f)| f(&mut rng)));
        let _ = writeln!(s, "{}", cells.join(","));
    }
    std::fs::write(path, s).unwrap();
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("drift.json")).unwrap()).unwrap()
}

fn drift(reference: &Path, current: &Path, out: &Path) -> Command {
    let mut c = optbench();
    c.arg("drift")
        .arg("--reference")
        .arg(reference)
        .arg("--current")
        .arg(current)
        .arg("--out")
        .arg(out);
    c
}

#[test]
fn fifty_noise_features_from_one_distribution_raise_no_alarm() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, c, out) = (
        tmp.path().join("r.csv"),
        tmp.path().join("c.csv"),
        tmp.path().join("out"),
    );
    write_csv(&r, 3000, 50, &[], 1);
    write_csv(&c, 2000, 50, &[], 2);
    drift(&r, &c, &out)
        .assert()
        .code(0)
        .stdout(contains("verdict: no drift (0 of 50 features drifted)"))
        .stdout(contains("keep monitoring"));
    let j = report(&out);
    assert_eq!(j["verdict"], "no_drift");
    assert_eq!(j["drifted_features"], serde_json::json!([]));
    assert_eq!(j["correction"], "benjamini-hochberg");
    let features = j["features"].as_array().unwrap();
    assert_eq!(features.len(), 50);
    for f in features {
        assert_eq!(f["kind"], "numeric");
        assert_eq!(f["drifted"], false);
        assert_eq!(f["severity"], "none");
        let ks = &f["ks"];
        assert!(ks["p_adjusted"].as_f64().unwrap() >= ks["p_value"].as_f64().unwrap());
        assert!(f["psi"].as_f64().unwrap() < 0.1, "{f}");
    }
    let html = std::fs::read_to_string(out.join("drift.html")).unwrap();
    assert!(html.contains("Benjamini–Hochberg") && !html.contains("<script src"));
    // Deterministic: a second run writes the same bytes.
    let out2 = tmp.path().join("out2");
    drift(&r, &c, &out2).assert().code(0);
    for f in ["drift.json", "drift.html"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
}

#[test]
fn a_shifted_feature_is_named_and_exits_with_the_drift_code() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, c, out) = (
        tmp.path().join("r.csv"),
        tmp.path().join("c.csv"),
        tmp.path().join("out"),
    );
    let base = |rng: &mut ChaCha8Rng| format!("{:.4}", rng.random::<f64>() * 10.0);
    let shifted = |rng: &mut ChaCha8Rng| format!("{:.4}", rng.random::<f64>() * 10.0 + 3.0);
    write_csv(&r, 3000, 20, &[("amount", &base)], 3);
    write_csv(&c, 3000, 20, &[("amount", &shifted)], 4);
    drift(&r, &c, &out)
        .assert()
        .code(5)
        .stdout(contains("* amount"))
        .stdout(contains(
            "verdict: DRIFT (1 of 21 features drifted: amount)",
        ))
        .stdout(contains("retrain within a week"));
    let j = report(&out);
    assert_eq!(j["verdict"], "drift");
    assert_eq!(j["drifted_features"], serde_json::json!(["amount"]));
    let f = j["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "amount")
        .unwrap();
    assert_eq!(f["severity"], "major");
    assert!(f["psi"].as_f64().unwrap() > 0.25);
    assert!(f["ks"]["p_adjusted"].as_f64().unwrap() < 0.01);
    assert_eq!(f["ks"]["method"], "exact");
    // 30% of the current values lie above the reference's maximum.
    let oor = f["out_of_range"].as_f64().unwrap();
    assert!((0.25..0.35).contains(&oor), "{oor}");
    let html = std::fs::read_to_string(out.join("drift.html")).unwrap();
    assert!(html.contains("<h2>Drifted features</h2>") && html.contains("<svg"));
    assert_eq!(
        html.matches("<figure><svg").count(),
        1,
        "one plot per drifted feature"
    );
}

#[test]
fn a_new_category_is_counted_in_its_own_bucket() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, c, out) = (
        tmp.path().join("r.csv"),
        tmp.path().join("c.csv"),
        tmp.path().join("out"),
    );
    let old = |rng: &mut ChaCha8Rng| ["red", "green", "blue"][rng.random_range(0..3)].to_string();
    let new = |rng: &mut ChaCha8Rng| {
        ["red", "green", "blue", "purple"][rng.random_range(0..4)].to_string()
    };
    write_csv(&r, 2000, 3, &[("colour", &old)], 5);
    write_csv(&c, 2000, 3, &[("colour", &new)], 6);
    drift(&r, &c, &out)
        .args(["--json"])
        .assert()
        .code(5)
        .stdout(contains(
            "\"unseen_categories\": [\n        \"purple\"\n      ]",
        ));
    let j = report(&out);
    let f = j["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "colour")
        .unwrap();
    assert_eq!(f["kind"], "categorical");
    assert!(f.get("ks").is_none());
    assert!(f["chi2"]["p_value"].as_f64().unwrap() < 1e-10);
    assert_eq!(f["drifted"], true);
    let cats = f["categories"].as_array().unwrap();
    let unseen = cats.iter().find(|c| c["name"] == "(unseen)").unwrap();
    assert_eq!(unseen["reference"], 0);
    assert!(unseen["current"].as_u64().unwrap() > 400);
    assert_eq!(j["drifted_features"], serde_json::json!(["colour"]));
    let html = std::fs::read_to_string(out.join("drift.html")).unwrap();
    assert!(html.contains("<figcaption>new categories: purple</figcaption>"));
    for bar in ["blue", "green", "red", "(unseen)"] {
        assert!(
            html.contains(&format!(">\n{bar}\n</text>")),
            "no label {bar}"
        );
    }
}

#[test]
fn a_small_window_gets_a_warning_not_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, c, out) = (
        tmp.path().join("r.csv"),
        tmp.path().join("c.csv"),
        tmp.path().join("out"),
    );
    let far = |rng: &mut ChaCha8Rng| format!("{}", 100.0 + rng.random::<f64>());
    let near = |rng: &mut ChaCha8Rng| format!("{}", rng.random::<f64>());
    write_csv(&r, 1000, 2, &[("x", &near)], 7);
    write_csv(&c, 40, 2, &[("x", &far)], 8);
    drift(&r, &c, &out)
        .assert()
        .code(6)
        .stdout(contains("verdict: insufficient data"))
        .stdout(contains(
            "warning: the window is too small to judge: 1000 reference and 40 current rows",
        ));
    let j = report(&out);
    assert_eq!(j["verdict"], "insufficient_data");
    for f in j["features"].as_array().unwrap() {
        assert_eq!(f["severity"], "insufficient_data");
        assert_eq!(f["drifted"], false);
    }
}

#[test]
fn penguins_train_against_itself_has_no_drift_and_reads_categories() {
    let tmp = tempfile::tempdir().unwrap();
    let data = root().join("tests/fixtures/penguins/train.csv");
    drift(&data, &data, &tmp.path().join("out"))
        .args(["--target", "species"])
        .assert()
        .code(0)
        .stdout(contains("island             categorical"))
        .stdout(contains("sex                categorical"));
    let j = report(&tmp.path().join("out"));
    let names: Vec<&str> = j["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"species"), "the target is not a feature");
    let bill = j["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "bill_length_mm")
        .unwrap();
    assert!(
        bill["missing_reference"].as_f64().unwrap() > 0.0,
        "NA cells are missing values"
    );
    assert_eq!(bill["ks"]["statistic"], 0.0);
}

/// Asserts exit 2, the message, and that no report file was written.
fn fails(cmd: &mut Command, out: &Path, message: &str) {
    fails_with(1, cmd, out, message);
}

/// `code` 1 for an error, 2 for a usage error (clap's).
fn fails_with(code: i32, cmd: &mut Command, out: &Path, message: &str) {
    cmd.assert().code(code).stderr(contains(message));
    assert!(!out.join("drift.json").exists() && !out.join("drift.html").exists());
}

#[test]
fn bad_input_names_the_file_column_or_flag_exits_1_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, c, out) = (
        tmp.path().join("r.csv"),
        tmp.path().join("c.csv"),
        tmp.path().join("out"),
    );
    write_csv(&r, 200, 3, &[], 9);
    write_csv(&c, 200, 3, &[], 10);
    let missing = tmp.path().join("nope.csv");
    fails(&mut drift(&r, &missing, &out), &out, "nope.csv");

    let other = tmp.path().join("other.csv");
    std::fs::write(&other, "n0,n1,zz\n1,2,3\n").unwrap();
    fails(
        &mut drift(&r, &other, &out),
        &out,
        "column `zz` is not in the reference",
    );
    let fewer = tmp.path().join("fewer.csv");
    std::fs::write(&fewer, "n0,n1\n1,2\n").unwrap();
    fails(
        &mut drift(&r, &fewer, &out),
        &out,
        "missing column `n2`, which the reference",
    );

    let text = tmp.path().join("text.csv");
    std::fs::write(&text, "n0,n1,n2\n1,2,3\n4,five,6\n").unwrap();
    fails(
        &mut drift(&r, &text, &out),
        &out,
        "text.csv, line 3, column `n1`: expected a number (or an empty cell / NA for a missing value), as the column is numeric in the reference; found `five`",
    );

    fails(
        drift(&r, &c, &out).args(["--bins", "1"]),
        &out,
        "--bins: expected a whole number from 2 to 1000, found 1",
    );
    fails(
        drift(&r, &c, &out).args(["--alpha", "1.5"]),
        &out,
        "--alpha: expected a probability",
    );
    fails_with(
        2,
        drift(&r, &c, &out).args(["--correction", "holm"]),
        &out,
        "invalid value 'holm' for '--correction",
    );
    fails(
        drift(&r, &c, &out).args(["--target", "label"]),
        &out,
        "--target: no column `label`",
    );
}

/// The tiny config grown to 2,000 rows with half held out: a model from
/// `optbench run`, and its test split cut into a reference half and a
/// current half (both held out, both labelled), plus the current half with
/// every label moved to the next class (concept drift) and the training
/// split (what users often pass as the reference).
fn tiny_model(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let config = dir.join("tiny.toml");
    let text = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let text = text
        .replace("n_samples = 600", "n_samples = 2000")
        .replace("test_fraction = 0.25", "test_fraction = 0.5");
    std::fs::write(&config, text).unwrap();
    let model_out = dir.join("run");
    optbench()
        .args(["run", "-q", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&model_out)
        .assert()
        .success();
    let plan = Plan::load(Some(&config), &Overrides::default()).unwrap();
    let split = optbench::run::load_split(&plan).unwrap();
    let write =
        |name: &str, d: &optbench::data::Dataset, rows: std::ops::Range<usize>, relabel: bool| {
            let mut s = d.feature_names.join(",") + ",label\n";
            for i in rows {
                let row: Vec<String> = d.row(i).iter().map(|v| v.to_string()).collect();
                let y = if relabel {
                    (d.y[i] + 1) % d.n_classes() as u32
                } else {
                    d.y[i]
                };
                let _ = writeln!(s, "{},{}", row.join(","), d.classes[y as usize]);
            }
            let p = dir.join(name);
            std::fs::write(&p, s).unwrap();
            p
        };
    let (t, half) = (&split.test, split.test.n_rows() / 2);
    write("concept.csv", t, half..t.n_rows(), true);
    write("train.csv", &split.train, 0..split.train.n_rows(), false);
    (
        write("reference.csv", t, 0..half, false),
        write("current.csv", t, half..t.n_rows(), false),
        model_out.join("model"),
    )
}

#[test]
fn with_a_model_predictions_and_accuracy_are_compared_and_the_schema_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, c, model) = tiny_model(tmp.path());
    let out = tmp.path().join("out");
    drift(&r, &c, &out)
        .args(["--target", "label", "--model"])
        .arg(&model)
        .assert()
        .code(0)
        .stdout(contains("predictions of `"));
    let j = report(&out);
    let p = &j["prediction"];
    assert_eq!(p["drifted"], false, "{p}");
    assert_eq!(p["predicted_reference"].as_array().unwrap().len(), 3);
    let a = &j["accuracy"];
    assert!(a["reference"].as_f64().unwrap() > 0.5, "{a}");
    assert_eq!(
        a["baseline_source"],
        "the test accuracy recorded in the model package"
    );
    // No drop beyond the retrain rule's 2 points. (The current half may
    // score above the whole test set: 500 rows move by ±2 points by chance.)
    assert!(a["drop_points"].as_f64().unwrap() < 2.0, "{a}");
    assert!(j["settings"]["range_source"]
        .as_str()
        .unwrap()
        .contains("reference file"));
    assert_eq!(j["recommendation"]["action"], "keep_monitoring");

    // Same features, labels the model no longer predicts: retrain now.
    let concept = tmp.path().join("concept.csv");
    drift(&r, &concept, &out)
        .args(["--target", "label", "--model"])
        .arg(&model)
        .assert()
        .code(5)
        .stdout(contains("retrain now"));
    let j = report(&out);
    assert_eq!(j["recommendation"]["action"], "retrain_now");
    assert!(j["accuracy"]["drop_points"].as_f64().unwrap() > 2.0);
    assert_eq!(j["drifted_features"], serde_json::json!([]));

    // The training rows as the reference: the tool says why that misleads.
    drift(&tmp.path().join("train.csv"), &c, &out)
        .args(["--target", "label", "--model"])
        .arg(&model)
        .assert()
        .stdout(contains("the reference looks like its training data"));

    // A text cell where the model's schema wants a number.
    let text = tmp.path().join("text.csv");
    let body = std::fs::read_to_string(&c).unwrap();
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    let first = lines[2].find(',').unwrap();
    lines[2] = format!("oops{}", &lines[2][first..]);
    std::fs::write(&text, lines.join("\n") + "\n").unwrap();
    let out3 = tmp.path().join("out3");
    fails(
        drift(&r, &text, &out3).args(["--target", "label", "--model"]).arg(&model),
        &out3,
        "text.csv, line 3, column `f0`: expected a number (or an empty cell / NA for a missing value), as the column is numeric in the model's schema; found `oops`",
    );

    // Without --target the label column is not in the model's schema.
    let out2 = tmp.path().join("out2");
    fails(
        drift(&r, &c, &out2).arg("--model").arg(&model),
        &out2,
        "column `label` is not in the model's schema",
    );
}

#[test]
fn the_lessons_exercise_variance_and_shape_changes_are_found() {
    // The lesson's scenario 3 in small: 10 features; a production set with
    // 1.5x the spread in x2..x4 and x5 bimodal with the same mean and variance.
    let tmp = tempfile::tempdir().unwrap();
    let (r, c) = (tmp.path().join("r.csv"), tmp.path().join("c.csv"));
    write_csv(&r, 10_000, 10, &[], 11);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut s = (0..10)
        .map(|j| format!("n{j}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for _ in 0..5_000 {
        let row: Vec<String> = (0..10)
            .map(|j| {
                let z: f64 = normal.sample(&mut rng);
                let v = match j {
                    2..=4 => 1.5 * z,
                    5 => {
                        let sign = if rng.random::<bool>() { 0.9 } else { -0.9 };
                        sign + (1.0f64 - 0.81).sqrt() * z
                    }
                    _ => z,
                };
                format!("{v:.6}")
            })
            .collect();
        let _ = writeln!(s, "{}", row.join(","));
    }
    std::fs::write(&c, s).unwrap();
    let report = optbench::drift::detect(
        &optbench::drift::DriftInputs {
            reference: Some(&r),
            logs: Default::default(),
            current: &c,
            target: None,
            model: None,
        },
        &optbench::drift::DriftConfig::default(),
    )
    .unwrap();
    assert_eq!(report.drifted_features, ["n2", "n3", "n4", "n5"]);
    let n5 = report.features.iter().find(|f| f.name == "n5").unwrap();
    // Same mean and variance, new shape: the Wasserstein distance stays small
    // while KS and PSI see it.
    assert!(
        n5.psi.unwrap() > 0.25 && n5.wasserstein_scaled.unwrap() < 0.3,
        "{n5:?}"
    );
}

#[test]
fn without_a_reference_the_package_sample_is_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, c, model) = tiny_model(tmp.path());
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("metadata.json")).unwrap())
            .unwrap();
    let info = &meta["reference_sample"];
    assert_eq!(info["file"], "reference.bin", "{info}");
    // About 1,000 training rows: fewer than the sample's cap, so every one
    // is kept.
    let train = tmp.path().join("train.csv");
    let n = std::fs::read_to_string(&train).unwrap().lines().count() - 1;
    assert_eq!(info["rows"], n, "{info}");
    assert_eq!(info["training_rows"], n, "{info}");

    let (stored, file) = (tmp.path().join("stored"), tmp.path().join("file"));
    optbench()
        .args(["drift", "--target", "label", "--model"])
        .arg(&model)
        .arg("--current")
        .arg(&c)
        .arg("--out")
        .arg(&stored)
        .assert()
        .code(0)
        .stdout(contains(format!(
            "every training row ({n}), stored in the package"
        )));
    drift(&train, &c, &file)
        .args(["--target", "label", "--model"])
        .arg(&model)
        .assert()
        .code(5);
    // The sample is the training file, value for value: the same figures.
    let (s, f) = (report(&stored), report(&file));
    assert_eq!(s["reference_sample"]["training_rows"], n);
    assert!(f.get("reference_sample").is_none());
    for key in ["features", "drifted_features"] {
        assert_eq!(s[key], f[key], "{key}");
    }
    assert_eq!(
        s["prediction"]["predicted_current"],
        f["prediction"]["predicted_current"]
    );
    // Predictions are compared with the held-out ones: on the whole test set
    // (the current rows are half of it) the score does not shift, where the
    // forest's over-confident scores on its own training rows do.
    assert_eq!(s["prediction"]["drifted"], false, "{}", s["prediction"]);
    assert_eq!(f["prediction"]["drifted"], true, "{}", f["prediction"]);
    assert_eq!(s["verdict"], "no_drift");
    let held = s["reference_sample"]["holdout_rows"].as_u64().unwrap();
    let predicted: u64 = s["prediction"]["predicted_reference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(predicted, held);
    // The reference accuracy is the held-out rows': the package's test accuracy.
    assert_eq!(s["accuracy"]["reference"], meta["metrics"]["accuracy"]);
    assert_eq!(
        s["settings"]["range_source"],
        "the training ranges recorded in the model package"
    );
    // Scoring the sample again gives the stored predictions: no skew warning.
    assert!(
        !s["warnings"].to_string().contains("skew"),
        "{}",
        s["warnings"]
    );

    // Labels the model no longer predicts: retrain now, from the package alone.
    let concept = tmp.path().join("concept.csv");
    optbench()
        .args(["drift", "--target", "label", "--model"])
        .arg(&model)
        .arg("--current")
        .arg(&concept)
        .arg("--out")
        .arg(&stored)
        .assert()
        .code(5)
        .stdout(contains("retrain now"));

    // A sample that was altered is refused, naming the file.
    let bin = model.join("reference.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&bin, bytes).unwrap();
    let out = tmp.path().join("altered");
    fails(
        optbench()
            .args(["drift", "--target", "label", "--model"])
            .arg(&model)
            .arg("--current")
            .arg(&c)
            .arg("--out")
            .arg(&out),
        &out,
        "reference.bin is damaged or was altered",
    );
}

#[test]
fn a_package_without_a_sample_asks_for_a_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Written before packages stored a sample.
    fails(
        optbench()
            .args([
                "drift",
                "--model",
                "tests/fixtures/packages/penguins-forest-10",
                "--current",
                "tests/fixtures/penguins/test.csv",
                "--out",
            ])
            .arg(&out),
        &out,
        "stores no reference sample",
    );
    // Neither a reference nor a package.
    optbench()
        .args([
            "drift",
            "--current",
            "tests/fixtures/penguins/test.csv",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("--reference"));
}
