//! The monitoring loop end to end: `optbench serve --log-requests DIR`
//! logs the rows it serves, and `optbench drift --current DIR` judges them.
//! Servers listen on 127.0.0.1 port 0; every request loop is bounded.

mod common;

use assert_cmd::prelude::OutputAssertExt;
use common::{optbench, penguin, read_csv, root, Server};
use serde_json::{json, Value as Json};
use std::path::Path;

const MODEL: &str = "tests/fixtures/packages/penguins-forest-10";
const OTHER_MODEL: &str = "tests/fixtures/packages/penguins-boost-20-int8";

/// The training rows, each one sent through /predict in batches of 50;
/// `shift` edits a row (header, cells) before it is sent.
fn send(server: &Server, shift: impl Fn(&[String], &mut Vec<String>)) -> usize {
    let (header, rows) = read_csv(&root().join("tests/fixtures/penguins/train.csv"));
    let mut sent = 0;
    for batch in rows.chunks(50) {
        let objects: Vec<Json> = batch
            .iter()
            .map(|r| {
                let mut r = r.clone();
                shift(&header, &mut r);
                Json::Object(penguin(&header, &r))
            })
            .collect();
        let (status, body) = server.json("POST", "/predict", &json!({ "rows": objects }));
        assert_eq!(status, 200, "{body}");
        sent += batch.len();
    }
    sent
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// `optbench drift` against the training file with the package; its exit
/// code and drift.json.
fn drift(current: &Path, out: &Path, extra: &[&str]) -> (i32, Json, String) {
    let o = optbench()
        .args(["drift", "--model", MODEL, "--target", "species"])
        .args([
            "--reference",
            "tests/fixtures/penguins/train.csv",
            "--current",
        ])
        .arg(current)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let code = o.status.code().unwrap();
    let report = if code == 1 {
        Json::Null
    } else {
        serde_json::from_str(&std::fs::read_to_string(out.join("drift.json")).unwrap()).unwrap()
    };
    (code, report, stdout + &String::from_utf8_lossy(&o.stderr))
}

#[test]
fn served_rows_are_logged_and_drift_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (same, shifted) = (tmp.path().join("same"), tmp.path().join("shifted"));
    let log = |dir: &Path| {
        vec![
            "--log-requests".to_string(),
            dir.display().to_string(),
            "--on-invalid".into(),
            "fallback".into(),
            "--fallback-class".into(),
            "Adelie".into(),
        ]
    };

    // The training rows as they are, and the same rows with longer bills and
    // every bird on Biscoe.
    let args = log(&same);
    let server = Server::start_with(
        &root().join(MODEL),
        tmp.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let n = send(&server, |_, _| {});
    assert!(server.terminate().success());
    let args = log(&shifted);
    let server = Server::start_with(
        &root().join(MODEL),
        tmp.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    send(&server, |h, r| {
        let j = column(h, "bill_length_mm");
        if let Ok(v) = r[j].parse::<f64>() {
            r[j] = format!("{:.1}", v + 8.0);
        }
        r[column(h, "island")] = "Biscoe".into();
    });
    // A row that fails validation gets the fallback class, and is logged
    // as such.
    let (header, rows) = read_csv(&root().join("tests/fixtures/penguins/train.csv"));
    let mut bad = penguin(&header, &rows[0]);
    bad.insert("bill_length_mm".into(), json!("long"));
    let (status, body) = server.json("POST", "/predict", &json!({ "rows": [bad] }));
    assert_eq!((status, &body["fallback"]), (200, &json!([true])), "{body}");
    let (_, metrics) = server.call("GET", "/metrics", "");
    assert!(
        metrics.contains(&format!(
            "optbench_request_log_rows_total{{outcome=\"queued\"}} {}",
            n + 1
        )),
        "{metrics}"
    );
    assert!(server.terminate().success());

    // One line per row, in the documented form.
    let files = optbench::serve::traffic::log_files(&shifted).unwrap();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let first: Json = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for key in [
        "ts",
        "model",
        "id",
        "version",
        "fallback",
        "prediction",
        "proba",
        "row",
    ] {
        assert!(first.get(key).is_some(), "{key}: {first}");
    }
    assert_eq!(first["row"]["island"], "Biscoe");
    assert_eq!(first["id"], "forest-10");

    // The same rows as the reference: no drift, and the served predictions
    // are the package's.
    let (code, r, out) = drift(&same, &tmp.path().join("d-same"), &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["current_log"]["rows_used"], n);
    assert_eq!(r["current"]["rows"], n);
    assert_eq!(
        r["prediction"]["predicted_reference"],
        r["prediction"]["predicted_current"]
    );
    assert!(
        out.contains(&format!("{n} served rows from 1 request-log file(s)")),
        "{out}"
    );

    // The shifted traffic: the two edited features are flagged, exit 5.
    let (code, r, out) = drift(&shifted, &tmp.path().join("d-shifted"), &[]);
    assert_eq!(code, 5, "{out}");
    assert_eq!(r["current_log"]["fallback_rows"], 1);
    assert_eq!(r["current_log"]["rows_used"], n + 1);
    let predicted: u64 = r["prediction"]["predicted_current"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(predicted, n as u64, "the fallback row is not a prediction");
    let flagged: Vec<&str> = r["drifted_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        flagged.contains(&"bill_length_mm") && flagged.contains(&"island"),
        "{flagged:?}"
    );
    assert!(!flagged.contains(&"flipper_length_mm"), "{flagged:?}");

    // Rows of another model version in the same folder are counted and
    // left out, unless asked for.
    let args = log(&shifted);
    let server = Server::start_with(
        &root().join(OTHER_MODEL),
        tmp.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    send(&server, |_, _| {});
    assert!(server.terminate().success());
    let (code, r, out) = drift(&shifted, &tmp.path().join("d-other"), &[]);
    assert_eq!(code, 5, "{out}");
    assert_eq!(r["current_log"]["rows_used"], n + 1);
    assert_eq!(r["current_log"]["other_versions"][0]["rows"], n);
    assert_eq!(r["current_log"]["other_versions"][0]["id"], "boost-20/int8");
    assert!(out.contains("left out"), "{out}");
    let (_, r, _) = drift(&shifted, &tmp.path().join("d-all"), &["--all-versions"]);
    assert_eq!(r["current_log"]["rows_used"], 2 * n + 1);

    // --since after every row: nothing to compare, a clear error.
    let (code, _, out) = drift(
        &shifted,
        &tmp.path().join("d-late"),
        &["--since", "2999-01-01"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no rows to compare"), "{out}");
    assert!(!tmp.path().join("d-late/drift.json").exists());
    // --since on a file is refused.
    let (code, _, out) = drift(
        Path::new("tests/fixtures/penguins/test.csv"),
        &tmp.path().join("d-file"),
        &["--since", "2026-01-01"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--since"), "{out}");
}

#[test]
fn a_sample_rate_logs_a_share_and_a_bad_rate_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let d = dir.display().to_string();
    let server = Server::start_with(
        &root().join(MODEL),
        tmp.path(),
        &["--log-requests", &d, "--sample-rate", "0.25"],
    );
    let n = send(&server, |_, _| {});
    assert!(server.terminate().success());
    let logged: usize = optbench::serve::traffic::log_files(&dir)
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    // 275 rows at 25 %: 69 expected, sd 7; far outside 30..110 is a bug.
    assert!((30..110).contains(&logged), "{logged} of {n}");

    optbench()
        .args([
            "serve",
            "--model",
            MODEL,
            "--log-requests",
            &d,
            "--sample-rate",
            "0",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--sample-rate"));
    optbench()
        .args(["serve", "--model", MODEL, "--sample-rate", "0.5"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--log-requests"));
}
