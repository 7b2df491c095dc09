//! `optbench export`: a packaged model written as ONNX, read back, predicts
//! what the package predicts; errors leave no file behind.

use assert_cmd::Command;
use optbench::artifact::Artifact;
use optbench::onnx::read_onnx;
use predicates::str::contains;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn optbench() -> Command {
    let mut c = Command::cargo_bin("optbench").unwrap();
    c.current_dir(root());
    c
}

#[test]
fn exported_package_predicts_what_the_package_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    optbench()
        .args(["run", "--quiet", "--config"])
        .arg(root().join("configs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let onnx = tmp.path().join("model.onnx");
    optbench()
        .args(["export", "--format", "onnx", "--model-only", "--model"])
        .arg(out.join("model"))
        .arg("--output")
        .arg(&onnx)
        .assert()
        .success()
        .stdout(contains("the model alone"));
    let artifact = Artifact::load(&out.join("model")).unwrap();
    let imported = read_onnx(&onnx).unwrap();
    let (a, b) = (artifact.model(), &imported.model);
    assert_eq!(b.n_features(), a.n_features());
    assert_eq!(b.n_classes(), a.n_classes());
    let d = a.n_features();
    // Rows spread over the feature space (the preprocessed scale is ~N(0, 1)).
    let rows: Vec<f32> = (0..200 * d)
        .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
        .collect();
    let (pa, pb) = (
        a.compile().unwrap().predict_proba_batch(&rows),
        b.compile().unwrap().predict_proba_batch(&rows),
    );
    for (x, y) in pa.iter().zip(&pb) {
        assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
    }
}

#[test]
fn the_default_export_is_the_whole_serving_path() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    // `run --export onnx` writes it into the package too.
    optbench()
        .args(["run", "--quiet", "--export", "onnx", "--config"])
        .arg(root().join("configs/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("model/model.onnx").exists());
    let onnx = tmp.path().join("serving.onnx");
    optbench()
        .args(["export", "--model"])
        .arg(out.join("model"))
        .arg("--output")
        .arg(&onnx)
        .assert()
        .success()
        .stdout(contains("pipeline + "));
    assert_eq!(
        std::fs::read(&onnx).unwrap(),
        std::fs::read(out.join("model/model.onnx")).unwrap(),
        "the same graph either way"
    );
    // optbench's importer reads classifiers, not preprocessing: it says so.
    let e = read_onnx(&onnx).unwrap_err().to_string();
    assert!(
        e.contains("unsupported operators") && e.contains("IsNaN"),
        "{e}"
    );
}

#[test]
fn a_folder_without_a_package_is_an_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("model.onnx");
    optbench()
        .args(["export", "--format", "onnx", "--model"])
        .arg(tmp.path())
        .arg("--output")
        .arg(&onnx)
        .assert()
        .code(1)
        .stderr(contains("not an optbench model folder"));
    assert!(!onnx.exists());
}

/// An SVM (and its int8 variant) exports from `run --export onnx` and
/// `optbench export`; the file holds an `SVMClassifier`, which optbench's
/// importer reads back as an SVM with its Platt sigmoids and no note.
/// (Whether the graph predicts what the package predicts is checked in
/// onnxruntime: `examples/onnx_cases.rs` and `scripts/onnx_check.py`.)
#[test]
fn an_svm_package_exports_as_svm_classifier() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let (head, rest) = tiny.split_at(tiny.find("[[candidates]]").unwrap());
    let measure = &rest[rest.find("[measure]").unwrap()..];
    let config = tmp.path().join("svm.toml");
    std::fs::write(
        &config,
        format!(
            "{head}[[candidates]]\nfamily = \"svm\"\nprobability = true\n\n\
             [optimize]\nquantize = [\"int8\"]\n\n{measure}"
        ),
    )
    .unwrap();
    let out = tmp.path().join("report");
    optbench()
        .args(["run", "--quiet", "--export", "onnx", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("svm-rbf-proba"));
    let serving = std::fs::read(out.join("model/model.onnx")).unwrap();
    assert!(serving.windows(13).any(|w| w == b"SVMClassifier"));
    let onnx = tmp.path().join("model.onnx");
    optbench()
        .args(["export", "--model-only", "--model"])
        .arg(out.join("model"))
        .arg("--output")
        .arg(&onnx)
        .assert()
        .success()
        .stdout(contains("support vectors"));
    let back = read_onnx(&onnx).unwrap();
    let optbench::model::Model::Svm(svm) = &back.model else {
        panic!("{}", back.model.describe())
    };
    assert_eq!(svm.n_classes, 3);
    assert!(svm.platt.is_some());
    assert!(back.notes.is_empty(), "{:?}", back.notes);
}
