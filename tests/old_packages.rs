//! Packages written by an earlier optbench still load and predict what they
//! predicted then, bit for bit. The fixtures under `tests/fixtures/packages/`
//! were written by optbench 0.1.0 at commit 0307c93 (package format 3, the
//! last build whose saved tree forms carried their run-time layout), each
//! with `optbench predict --proba` of that build on the penguins test rows
//! (mixed types, missing cells): a float forest and an int8 boosted
//! ensemble, the two encodings the saved/compiled split touched.

use assert_cmd::Command;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn packages_written_before_the_compiled_form_predict_as_they_did() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["penguins-forest-10", "penguins-boost-20-int8"] {
        let dir = root().join("tests/fixtures/packages").join(name);
        let out = tmp.path().join(format!("{name}.csv"));
        Command::cargo_bin("optbench")
            .unwrap()
            .current_dir(root())
            .args(["predict", "--model"])
            .arg(&dir)
            .args(["--input", "tests/fixtures/penguins/test.csv", "--proba"])
            .arg("--output")
            .arg(&out)
            .assert()
            .success();
        let then = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
        let now = std::fs::read_to_string(&out).unwrap();
        assert_eq!(now.lines().count(), 70, "{name}: a header and 69 rows");
        // Probabilities print as the shortest decimal that reads back to the
        // same f32, so equal text is equal bits.
        assert_eq!(now, then, "{name}");
    }
}
