//! `optbench serve` over its life: not ready until warm, drained on
//! SIGTERM (within --drain-timeout), requests bounded by
//! --request-timeout, reloaded under concurrent load without a failed
//! request (a damaged package leaving the old one serving), and rows
//! outside the training profile counted, refused under --strict, or given
//! the fallback class. Servers listen on 127.0.0.1, port 0; every wait and
//! request loop is bounded in count and time.

mod common;

use common::{bits, optbench, penguin, predicted, read_csv, root, served, v2_request, Server};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn package(name: &str) -> PathBuf {
    root().join("tests/fixtures/packages").join(name)
}

/// The first 12 hex digits of a package's model file SHA-256: its served
/// version.
fn version(model: &Path) -> String {
    let meta: Json =
        serde_json::from_str(&std::fs::read_to_string(model.join("metadata.json")).unwrap())
            .unwrap();
    meta["model_file"]["sha256"].as_str().unwrap()[..12].to_string()
}

/// A package's classes and probabilities (as bits) on the test rows.
type Expected = (Vec<String>, Vec<Vec<u32>>);

/// The value of the metric line starting with `prefix`.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Polls /metrics until a request besides the poll itself is in flight.
fn wait_in_flight(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = server.call("GET", "/metrics", "");
        if metric(&text, "optbench_requests_in_flight ").unwrap_or(0.0) >= 2.0 {
            return;
        }
        assert!(Instant::now() < deadline, "no request in flight:\n{text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (at most 20 s) for a stopped server's exit status.
fn exit_status(server: &mut Server) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "still running after 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(server: &Server, name: &str) {
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args([name, &pid])
        .status()
        .unwrap()
        .success());
}

/// Readiness is false (and inference 503) while the package warms; live is
/// true. SIGTERM then lets a request in flight finish before exit 0.
#[test]
fn ready_only_when_warm_and_sigterm_drains() {
    let tmp = tempfile::tempdir().unwrap();
    // Enough predictions to keep the package warming for a while on any
    // build, so the first calls below land before it is ready.
    let server = Server::spawn(
        &package("penguins-forest-10"),
        tmp.path(),
        &["--warmup", "1000000"],
    );
    let (status, body) = server.call("GET", "/v2/health/live", "");
    assert_eq!((status, body.as_str()), (200, "{\"live\":true}"));
    let (status, body) = server.call("GET", "/v2/health/ready", "");
    assert_eq!((status, body.as_str()), (503, "{\"ready\":false}"));
    let (status, body) = server.call("GET", "/v2/models/forest-10/ready", "");
    assert_eq!(status, 503, "{body}");
    let (status, body) = server.call("POST", "/predict", "{}");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("warming up"), "{body}");
    server.wait_ready();
    let stdout = std::fs::read_to_string(&server.stdout).unwrap();
    assert!(
        stdout.contains("listening on http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("ready in"), "{stdout}");

    let (header, rows) = read_csv(&root().join("tests/fixtures/penguins/test.csv"));
    let body = json!({ "rows": [penguin(&header, &rows[0])] }).to_string();
    let partial = server.open_partial("POST", "/predict", &body, body.len() / 2);
    wait_in_flight(&server);
    signal(&server, "-TERM");
    // The draining server takes no new request; the one in flight finishes.
    std::thread::sleep(Duration::from_millis(200));
    let (status, answer) = Server::finish(partial, &body[body.len() / 2..]);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"predictions\""), "{answer}");
    let mut server = server;
    assert!(exit_status(&mut server).success(), "SIGTERM exits 0");
}

/// A request whose body stops coming is answered 408 after
/// --request-timeout; a request in flight longer than --drain-timeout after
/// SIGTERM is given up, with a warning, and the exit is still 0.
#[test]
fn request_and_drain_timeouts() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &package("penguins-forest-10"),
        tmp.path(),
        &["--request-timeout", "0.5", "--drain-timeout", "0.3"],
    );
    let body = "{\"rows\": []}";
    let mut stalled = server.open_partial("POST", "/predict", body, 4);
    let (status, answer) = common::read_response(&mut stalled);
    assert_eq!(status, 408, "{answer}");
    assert!(answer.contains("--request-timeout"), "{answer}");

    let slow = Server::start_with(
        &package("penguins-forest-10"),
        &{
            let d = tmp.path().join("slow");
            std::fs::create_dir(&d).unwrap();
            d
        },
        &["--request-timeout", "60", "--drain-timeout", "0.3"],
    );
    let _held = slow.open_partial("POST", "/predict", body, 4);
    wait_in_flight(&slow);
    let sent = Instant::now();
    signal(&slow, "-TERM");
    let mut slow = slow;
    assert!(exit_status(&mut slow).success());
    assert!(sent.elapsed() < Duration::from_secs(15));
    let stderr = std::fs::read_to_string(&slow.stderr).unwrap();
    assert!(
        stderr.contains("1 request(s) still in flight") && stderr.contains("--drain-timeout"),
        "{stderr}"
    );
    assert!(server.terminate().success());
}

/// Reloads under concurrent load: clients send V2 requests from eight
/// threads while the package folder (a symlink) is swapped between a float
/// forest and an int8 boosted ensemble and reloaded, by SIGHUP and by the
/// repository route, then swapped to a damaged package. Every request is
/// answered 200 by one of the two versions, with that version's
/// predictions; the damaged package is refused and the old one serves on.
#[test]
fn reload_under_load_drops_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = package("penguins-forest-10");
    let b = package("penguins-boost-20-int8");
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    for f in ["metadata.json", "model.bin"] {
        std::fs::copy(a.join(f), bad.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(bad.join("model.bin")).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(bad.join("model.bin"), bytes).unwrap();
    let link = tmp.path().join("model");
    let point = |to: &Path| {
        let next = tmp.path().join("model.next");
        let _ = std::fs::remove_file(&next);
        std::os::unix::fs::symlink(to, &next).unwrap();
        std::fs::rename(&next, &link).unwrap();
    };
    point(&a);

    let test_csv = root().join("tests/fixtures/penguins/test.csv");
    let (header, rows) = read_csv(&test_csv);
    let (va, vb) = (version(&a), version(&b));
    let want: Vec<(String, Expected)> = [(&a, &va), (&b, &vb)]
        .iter()
        .map(|(p, v)| {
            let (classes, proba) = predicted(p, &test_csv, tmp.path());
            ((*v).clone(), (classes, bits(&proba)))
        })
        .collect();
    let want = Arc::new(want);
    let server = Arc::new(Server::start(&link, tmp.path()));
    // The name comes from the first package's id and stays.
    let infer = "/v2/models/forest-10/infer";
    let body = Arc::new(v2_request(&header, &rows).to_string());

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (server, body, stop, want) =
                (server.clone(), body.clone(), stop.clone(), want.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(90);
                let mut seen = Vec::new();
                // Bounded by count and time, whatever the reloads do.
                for _ in 0..3000 {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let (status, text) = server.call("POST", infer, &body);
                    assert_eq!(status, 200, "{text}");
                    let response: Json = serde_json::from_str(&text).unwrap();
                    let v = response["model_version"].as_str().unwrap().to_string();
                    let (classes, proba) = served(&response);
                    let (_, (wc, wp)) = want
                        .iter()
                        .find(|(w, _)| *w == v)
                        .unwrap_or_else(|| panic!("version {v} was never served"));
                    assert_eq!(&classes, wc, "classes of version {v}");
                    assert_eq!(&bits(&proba), wp, "probabilities of version {v}");
                    seen.push(v);
                }
                seen
            })
        })
        .collect();

    let served_version = |server: &Server| {
        let (_, meta) = server.json("GET", "/v2/models/forest-10", &Json::Null);
        meta["versions"][0].as_str().unwrap().to_string()
    };
    let mut reloads = 0;
    for i in 0..8 {
        std::thread::sleep(Duration::from_millis(150));
        let (to, v) = if i % 2 == 0 { (&b, &vb) } else { (&a, &va) };
        point(to);
        if i % 4 == 3 {
            signal(&server, "-HUP");
            let deadline = Instant::now() + Duration::from_secs(30);
            while served_version(&server) != *v {
                assert!(Instant::now() < deadline, "SIGHUP did not reload");
                std::thread::sleep(Duration::from_millis(10));
            }
        } else {
            let (status, r) =
                server.json("POST", "/v2/repository/models/forest-10/load", &Json::Null);
            assert_eq!(status, 200, "{r}");
            assert_eq!(r["version"], json!(v));
        }
        assert_eq!(served_version(&server), *v);
        reloads += 1;
    }
    // Serving version `va` now; a damaged package is refused.
    point(&bad);
    let (status, r) = server.json("POST", "/v2/repository/models/forest-10/load", &Json::Null);
    assert_eq!(status, 400, "{r}");
    let error = r["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("still serving version {va}")) && error.contains("SHA-256"),
        "{error}"
    );
    assert_eq!(served_version(&server), va);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    let mut by_version = [0usize; 2];
    for c in clients {
        for v in c.join().expect("a client thread saw a failed request") {
            total += 1;
            by_version[usize::from(v == vb)] += 1;
        }
    }
    assert!(total >= 200, "only {total} requests");
    assert!(total < 8 * 3000, "the load stopped before the reloads did");
    assert!(by_version[0] > 0 && by_version[1] > 0, "{by_version:?}");
    let (_, metrics) = server.call("GET", "/metrics", "");
    assert_eq!(
        metric(&metrics, "optbench_reloads_total{result=\"ok\"}"),
        Some(f64::from(reloads))
    );
    assert_eq!(
        metric(&metrics, "optbench_reloads_total{result=\"failed\"}"),
        Some(1.0)
    );
    assert!(
        metrics.contains(&format!(
            "optbench_model{{model=\"forest-10\",id=\"forest-10\",version=\"{va}\"}} 1"
        )),
        "{metrics}"
    );
    eprintln!(
        "reload under load: {total} requests, {} on {va}, {} on {vb}, {reloads} reloads, 0 failed",
        by_version[0], by_version[1]
    );
    let server = Arc::try_unwrap(server).ok().expect("clients are done");
    assert!(server.terminate().success());
}

/// A penguins package trained here (so it records its class counts).
fn trained_penguins(dir: &Path) -> PathBuf {
    let out = dir.join("report");
    let status = optbench()
        .args(["run", "--config", "configs/tiny.toml", "--quiet", "--out"])
        .arg(&out)
        .args([
            "--train",
            "tests/fixtures/penguins/train.csv",
            "--test",
            "tests/fixtures/penguins/test.csv",
            "--target",
            "species",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    out.join("model")
}

/// Values outside the training profile are counted (by column) and served;
/// under --strict they refuse the request; with --on-invalid fallback an
/// invalid row gets the majority class, flagged, and the others are scored
/// as before. Mixed-type bad requests are refused with their reasons.
#[test]
fn strict_and_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let model = trained_penguins(tmp.path());
    let (header, rows) = read_csv(&root().join("tests/fixtures/penguins/test.csv"));
    let ok = penguin(&header, &rows[0]);
    let mut far = ok.clone();
    far.insert("bill_length_mm".into(), json!(1000.0));
    let mut unseen = ok.clone();
    unseen.insert("island".into(), json!("Atlantis"));
    let mut text = ok.clone();
    text.insert("body_mass_g".into(), json!("heavy"));
    let mut number_category = ok.clone();
    number_category.insert("sex".into(), json!(1));

    // Counted, served, logged.
    let lenient = Server::start_with(&model, tmp.path(), &["--log", "info"]);
    let (status, plain) = lenient.json(
        "POST",
        "/predict?proba=1",
        &json!({ "rows": [ok, far, unseen] }),
    );
    assert_eq!(status, 200, "{plain}");
    assert!(plain.get("fallback").is_none(), "{plain}");
    let mut one_row = v2_request(&header, &rows[..1]);
    let bytes_number =
        json!({ "name": "island", "shape": [1, 1], "datatype": "BYTES", "data": [3] });
    one_row["inputs"][0] = bytes_number;
    let inf_text = {
        let mut r = v2_request(&header, &rows[..1]);
        r["inputs"][1] = json!({ "name": "bill_length_mm", "shape": [1, 1], "datatype": "BYTES", "data": ["inf"] });
        r
    };
    let one_tensor = json!({ "inputs": [{ "name": "x", "shape": [1, 7], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6, 7] }] });
    let name = lenient.json("GET", "/v2/repository/index", &Json::Null);
    assert_eq!(name.0, 405, "the index is POST");
    let (_, index) = lenient.json("POST", "/v2/repository/index", &Json::Null);
    let infer = format!("/v2/models/{}/infer", index[0]["name"].as_str().unwrap());
    for (route, body, words) in [
        (
            "/predict",
            json!({ "rows": [number_category] }),
            "row 0, column `sex`: expected a category as text",
        ),
        (
            "/predict",
            json!({ "rows": [text.clone()] }),
            "row 0, column `body_mass_g`: expected a number",
        ),
        (
            infer.as_str(),
            one_row,
            "input `island`, element 0: 3 is not a string (BYTES) value",
        ),
        (
            infer.as_str(),
            inf_text,
            "row 0, column `bill_length_mm`: expected a finite number",
        ),
        (infer.as_str(), one_tensor, "serves an all-numeric model"),
    ] {
        let (status, r) = lenient.json("POST", route, &body);
        assert_eq!(status, 400, "{r}");
        let e = r["error"].as_str().unwrap();
        assert!(e.contains(words), "`{e}` lacks `{words}`");
    }
    let (_, metrics) = lenient.call("GET", "/metrics", "");
    for (line, want) in [
        (
            "optbench_out_of_range_values_total{column=\"bill_length_mm\"}",
            1.0,
        ),
        ("optbench_unseen_categories_total{column=\"island\"}", 1.0),
        (
            "optbench_invalid_rows_total{route=\"/predict\",outcome=\"refused\"}",
            2.0,
        ),
        ("optbench_rows_total{route=\"/predict\"}", 3.0),
        (
            "optbench_stage_duration_seconds_count{stage=\"predict\"}",
            1.0,
        ),
    ] {
        assert_eq!(metric(&metrics, line), Some(want), "{line} in:\n{metrics}");
    }
    let lenient_probabilities = plain["probabilities"][0].clone();
    assert!(lenient.terminate().success());
    let log = std::fs::read_to_string(tmp.path().join("stderr.txt")).unwrap();
    let lines: Vec<Json> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let predict_line = lines
        .iter()
        .find(|l| l["route"] == "/predict" && l["status"] == 200)
        .unwrap_or_else(|| panic!("no access-log line for /predict in:\n{log}"));
    assert_eq!(predict_line["rows"], 3);
    assert!(predict_line["remote"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    // Refused under --strict.
    let strict = Server::start_with(&model, tmp.path(), &["--strict"]);
    for (row, words) in [
        (
            &far,
            "row 0, column `bill_length_mm`: 1000 is far outside the training range",
        ),
        (
            &unseen,
            "row 0, column `island`: category `Atlantis` was never seen in training",
        ),
    ] {
        let (status, r) = strict.json("POST", "/predict", &json!({ "rows": [row] }));
        assert_eq!(status, 400, "{r}");
        let e = r["error"].as_str().unwrap();
        assert!(e.contains(words), "`{e}` lacks `{words}`");
    }
    assert!(strict.terminate().success());

    // Fallback: the majority class of the training rows (Adelie), flagged.
    let fallback = Server::start_with(
        &model,
        tmp.path(),
        &["--strict", "--on-invalid", "fallback"],
    );
    let (status, r) = fallback.json(
        "POST",
        "/predict?proba=1",
        &json!({ "rows": [ok, far, text] }),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["fallback"], json!([false, true, true]));
    assert_eq!(r["predictions"][1], "Adelie");
    assert_eq!(r["predictions"][2], "Adelie");
    assert_eq!(r["probabilities"][0], lenient_probabilities);
    let adelie = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "Adelie")
        .unwrap();
    let one_hot: Vec<f64> = (0..3).map(|k| f64::from(u8::from(k == adelie))).collect();
    assert_eq!(r["probabilities"][1], json!(one_hot));
    assert_eq!(r["invalid"][0]["row"], 1);
    assert_eq!(r["invalid"][0]["column"], "bill_length_mm");
    assert_eq!(r["invalid"][1]["column"], "body_mass_g");
    let mut v2 = v2_request(&header, &rows[..2]);
    v2["inputs"][1]["data"][1] = json!(1000.0);
    let (status, r) = fallback.json("POST", &infer, &v2);
    assert_eq!(status, 200, "{r}");
    let flags = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "fallback")
        .unwrap_or_else(|| panic!("no fallback output in {r}"));
    assert_eq!(flags["datatype"], "BOOL");
    assert_eq!(flags["data"], json!([false, true]));
    assert_eq!(r["parameters"]["fallback_rows"], 1);
    let (_, metrics) = fallback.call("GET", "/metrics", "");
    assert_eq!(
        metric(
            &metrics,
            "optbench_invalid_rows_total{route=\"/predict\",outcome=\"fallback\"}"
        ),
        Some(2.0)
    );
    assert!(fallback.terminate().success());

    // A package without class counts needs the class named; a class that
    // is not the package's is refused.
    let old = package("penguins-forest-10");
    for (extra, words) in [
        (vec!["--on-invalid", "fallback"], "name the fallback class"),
        (
            vec!["--on-invalid", "fallback", "--fallback-class", "Emperor"],
            "`Emperor` is not a class",
        ),
        (
            vec!["--fallback-class", "Gentoo"],
            "applies with --on-invalid fallback only",
        ),
    ] {
        let out = optbench()
            .args(["serve", "--addr", "127.0.0.1:0", "--model"])
            .arg(&old)
            .args(&extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{extra:?}: {stderr}");
    }
    let named = Server::start_with(
        &old,
        tmp.path(),
        &["--on-invalid", "fallback", "--fallback-class", "Gentoo"],
    );
    let (status, r) = named.json("POST", "/predict", &json!({ "rows": [text] }));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["predictions"][0], "Gentoo");
    assert!(named.terminate().success());
}
