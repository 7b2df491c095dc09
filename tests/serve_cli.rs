//! Serving a saved package from a fresh process: `optbench run` trains and
//! packages (writing the chosen model's test predictions from its in-memory
//! model), then `optbench predict` — another process, knowing only the
//! package folder — must reproduce them bit for bit, categorical columns,
//! missing cells and unseen categories included.

use assert_cmd::Command;
use predicates::str::contains;
use std::path::{Path, PathBuf};

fn optbench() -> Command {
    Command::cargo_bin("optbench").unwrap()
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// Compares `optbench predict --proba` output with the run's
/// `test_predictions.csv`: same classes, probabilities with the same bits.
fn assert_same_predictions(trained: &Path, served: &Path) -> usize {
    let (th, trows) = read_csv(trained);
    let (sh, srows) = read_csv(served);
    assert_eq!(th[0], "row");
    assert_eq!(sh[0], "row");
    // trained: row, actual, prediction, proba…; served: row, prediction, proba…
    assert_eq!(th[2..], sh[1..], "same class columns");
    assert_eq!(trows.len(), srows.len(), "every test row served");
    for (t, s) in trows.iter().zip(&srows) {
        assert_eq!(t[0], s[0], "row numbers");
        assert_eq!(t[2], s[1], "row {}: class", t[0]);
        for (a, b) in t[3..].iter().zip(&s[2..]) {
            let (a, b): (f32, f32) = (a.parse().unwrap(), b.parse().unwrap());
            assert_eq!(a.to_bits(), b.to_bits(), "row {}: probability", t[0]);
        }
    }
    trows.len()
}

/// `optbench run` (tiny config) on the penguins fixture: the report folder
/// and the data folder.
fn penguins_run(tmp: &Path) -> (PathBuf, PathBuf) {
    let out = tmp.join("peng");
    let data = repo("tests/fixtures/penguins");
    optbench()
        .args(["run", "-q", "--config"])
        .arg(repo("configs/tiny.toml"))
        .arg("--train")
        .arg(data.join("train.csv"))
        .arg("--test")
        .arg(data.join("test.csv"))
        .args(["--target", "species", "--out"])
        .arg(&out)
        .assert()
        .success();
    (out, data)
}

#[test]
fn exercise2_package_served_in_a_fresh_process_matches_training_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ex2");
    optbench()
        .args(["run", "-q", "--config"])
        .arg(repo("configs/exercise2.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model/metadata.json")).unwrap())
            .unwrap();
    assert_eq!(meta["model"]["family"], "random forest");
    let outputs: Vec<&str> = meta["pipeline_outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Rare cities (fewer than 20 training rows) share one output.
    assert!(outputs.contains(&"city=<other>"), "{outputs:?}");
    assert!(outputs.contains(&"plan=basic"), "{outputs:?}");

    let preds = tmp.path().join("preds.csv");
    optbench()
        .args(["predict", "--proba", "--model"])
        .arg(out.join("model"))
        .arg("--input")
        .arg(repo("tests/fixtures/exercise2/test.csv"))
        .arg("--output")
        .arg(&preds)
        .assert()
        .success()
        // The test file has categories training never saw: reported, ignored.
        .stderr(contains("never seen in training"))
        .stderr(contains("scored 1000 of 1000 rows"));
    let n = assert_same_predictions(&out.join("test_predictions.csv"), &preds);
    assert_eq!(n, 1000);
}

#[test]
fn penguins_run_predict_inspect_and_bench_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, data) = penguins_run(tmp.path());
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let chosen = results["chosen"].as_str().unwrap();
    let acc = results["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chosen)
        .unwrap()["accuracy"]
        .as_f64()
        .unwrap();
    assert_eq!(results["dataset"]["feature_kinds"][0], "categorical");

    let preds = tmp.path().join("p.csv");
    optbench()
        .args(["predict", "--proba", "--model"])
        .arg(out.join("model"))
        .arg("--input")
        .arg(data.join("test.csv"))
        .arg("--output")
        .arg(&preds)
        .assert()
        .success()
        .stderr(contains(format!("accuracy {acc:.4}")));
    assert_same_predictions(&out.join("test_predictions.csv"), &preds);

    optbench()
        .arg("inspect")
        .arg(out.join("model"))
        .assert()
        .success()
        .stdout(contains("island"))
        .stdout(contains("categorical  Biscoe (134)"))
        .stdout(contains("target     species"));
    let json = optbench()
        .args(["inspect", "--json"])
        .arg(out.join("model"))
        .output()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(m["model"]["id"], chosen);

    optbench()
        .args(["bench", "-q", "--calls", "700", "--model"])
        .arg(out.join("model"))
        .arg("--data")
        .arg(data.join("test.csv"))
        .assert()
        .success()
        .stdout(contains("end-to-end"))
        .stdout(contains("preprocess"))
        .stdout(contains("cold start in 5 fresh processes"))
        .stdout(contains(format!("accuracy {acc:.4}")));
}

#[test]
fn skip_invalid_writes_valid_rows_and_reports_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = penguins_run(tmp.path());
    let input = tmp.path().join("rows.csv");
    std::fs::write(
        &input,
        "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year,note\n\
         Biscoe,45.1,14.5,215,5000,female,2008,a\n\
         Dream,abc,17.9,190,3450,female,2007,b\n\
         Torgersen,39.1,18.7,181,inf,male,2007,c\n\
         Atlantis,50.0,,200,4000,NA,2009,d\n\
         Biscoe,46.1,13.2,211,4500,female,2030,e\n",
    )
    .unwrap();
    // Without --skip-invalid the first bad row stops everything, naming it.
    let stopped = tmp.path().join("stopped.csv");
    optbench()
        .args(["predict", "--model"])
        .arg(out.join("model"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&stopped)
        .assert()
        .code(1)
        .stderr(contains(
            "rows.csv, line 3, column `bill_length_mm`: data row 2: expected a number",
        ));
    assert!(!stopped.exists(), "no half-written output");

    let preds = tmp.path().join("p.csv");
    optbench()
        .args(["predict", "--skip-invalid", "--model"])
        .arg(out.join("model"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&preds)
        .assert()
        .success()
        .stderr(contains("scored 3 of 5 rows"))
        .stderr(contains("rejected 2 rows"))
        .stderr(contains("column(s) not used by the model: note"))
        .stderr(contains("`island`: 1 value(s) in categories never seen"))
        .stderr(contains(
            "`year`: 1 value(s) far outside the training range",
        ));
    let (_, rows) = read_csv(&preds);
    let served: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(served, ["1", "4", "5"]);
    let (h, rej) = read_csv(&tmp.path().join("p.rejected.csv"));
    assert_eq!(h[..4], ["row", "line", "column", "reason"]);
    assert_eq!(rej.len(), 2);
    assert_eq!(
        (rej[0][0].as_str(), rej[0][2].as_str()),
        ("2", "bill_length_mm")
    );
    assert_eq!(
        (rej[1][0].as_str(), rej[1][2].as_str()),
        ("3", "body_mass_g")
    );
    assert!(rej[1][3].contains("finite"), "{:?}", rej[1]);
    assert_eq!(
        rej[1][4..],
        [
            "Torgersen",
            "39.1",
            "18.7",
            "181",
            "inf",
            "male",
            "2007",
            "c"
        ]
    );

    // --strict also refuses the unknown column up front.
    optbench()
        .args(["predict", "--strict", "--model"])
        .arg(out.join("model"))
        .arg("--input")
        .arg(&input)
        .assert()
        .code(1)
        .stderr(contains("`note` are not in the model's schema"));
}
