//! The open-loop generator counts a server's stall in every request that
//! was due during it (no coordinated omission), and `optbench loadtest`
//! measures a package end to end: client percentiles, the server's own
//! stages, cold start and memory. Servers listen on 127.0.0.1, port 0;
//! every run is bounded by its schedule and timeout.

use optbench::loadtest::generator::{run_step, Step, Target};
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// A minimal HTTP/1.1 responder (the stalling server under test): answers
/// `ok` at once on each connection, except that it sleeps `stall` before
/// answering request number `stall_at` of a connection.
fn stalling_server(stall_at: usize, stall: Duration) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || respond(stream, stall_at, stall));
        }
    });
    addr
}

fn respond(stream: std::net::TcpStream, stall_at: usize, stall: Duration) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    for n in 0.. {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if n == stall_at {
            std::thread::sleep(stall);
        }
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    }
}

#[test]
fn a_stall_counts_in_every_request_due_during_it() {
    let addr = stalling_server(60, Duration::from_millis(400));
    let target = Target {
        addr,
        path: "/".into(),
        headers: Vec::new(),
        bodies: Arc::new(vec!["{}".into()]),
    };
    let r = run_step(
        &target,
        &Step {
            rate: 200.0,
            duration: Duration::from_millis(1500),
            warmup: Duration::ZERO,
            connections: 1,
            timeout: Duration::from_secs(5),
        },
    )
    .unwrap();
    assert_eq!(r.requests, 300, "{r:?}");
    assert_eq!((r.ok, r.errors, r.timeouts), (300, 0, 0), "{r:?}");
    let latency = r.latency.unwrap();
    let service = r.service.unwrap();
    // One request of 300 took 400 ms to serve: the service times' p99
    // does not see it...
    assert!(service.p99_us < 100_000.0, "{service:?}");
    assert!(service.max_us >= 400_000.0, "{service:?}");
    // ...but the ~80 requests due during the stall waited for it, and the
    // client-observed latency says so.
    assert!(latency.p90_us > 100_000.0, "{latency:?}");
    assert!(latency.p99_us > 300_000.0, "{latency:?}");
}

fn optbench() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_optbench"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn loadtest_measures_a_package_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lt");
    let status = optbench()
        .args([
            "loadtest",
            "--model",
            "tests/fixtures/packages/penguins-boost-20-int8",
            "--input",
            "tests/fixtures/penguins/test.csv",
            "--rates",
            "100,300",
            "--rows",
            "1,16",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--connections",
            "4",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let bench: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("serve_bench.json")).unwrap())
            .unwrap();
    let server = &bench["server"];
    assert_eq!(server["name"], "boost-20_int8");
    assert!(server["cold_start_ms"].as_f64().unwrap() > 0.0);
    assert!(server["rss_kib"].as_u64().unwrap() > 0);
    let series = bench["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    for s in series {
        for step in s["steps"].as_array().unwrap() {
            let rate = step["offered_rate"].as_f64().unwrap();
            assert_eq!(step["requests"].as_f64().unwrap(), rate, "{step}");
            assert_eq!(step["ok"], step["requests"], "{step}");
            let latency = &step["latency"];
            assert!(latency["p50_us"].as_f64() <= latency["p99_us"].as_f64());
            // 100 requests cannot bound p99; 300 can.
            let p99 = latency["p99_us"].as_f64().unwrap();
            match latency["p99_upper_us"].as_f64() {
                Some(upper) => assert!(upper >= p99 && rate >= 299.0, "{latency}"),
                None => assert!(rate < 299.0, "{latency}"),
            }
            let server = &step["server"];
            // Every request of the step (warm-up included) was timed by
            // the server, stage by stage.
            let handled = server["requests"].as_f64().unwrap();
            assert!((handled - rate * 1.2).abs() <= 2.0, "{server}");
            let stages = server["stages_mean_us"].as_object().unwrap();
            for stage in ["parse", "preprocess", "predict", "serialize"] {
                assert!(stages[stage].as_f64().unwrap() > 0.0, "{server}");
            }
        }
    }
    for f in ["serve_bench.svg", "serve_bench.html"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 500, "{f}");
    }
}

#[test]
fn bad_flags_are_refused() {
    for (args, words) in [
        (vec!["--rates", "0"], "--rates"),
        (vec!["--rows", "0"], "--rows"),
        (vec!["--connections", "0"], "--connections"),
        (vec!["--addr", "127.0.0.1:9"], "no ready V2 server"),
    ] {
        let out = optbench()
            .args([
                "loadtest",
                "--model",
                "tests/fixtures/packages/penguins-forest-10",
            ])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
}

/// `run --serve-check`: the chosen package is served and measured after
/// the choice; the served figures land in results.json and the report. A
/// budget the in-process bound meets but the served one cannot (a quarter
/// of a millisecond, through loopback HTTP) exits 4, loudly.
#[test]
fn run_serve_check_writes_the_served_figures_and_exits_4_over_budget() {
    for (budget, code) in [("1000", 0), ("0.25", 4)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("report");
        let output = optbench()
            .args(["run", "--config", "configs/tiny.toml", "--quiet", "--out"])
            .arg(&out)
            .args([
                "--train",
                "tests/fixtures/penguins/train.csv",
                "--test",
                "tests/fixtures/penguins/test.csv",
                "--target",
                "species",
                "--budget-ms",
                budget,
                "--serve-check",
                "300",
                "--serve-check-seconds",
                "1",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(code), "{stdout}\n{stderr}");
        assert!(stdout.contains("served at 300/s: p50"), "{stdout}");
        let results: Json =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        let served = &results["served"];
        assert_eq!(served["requests"], 300, "{served}");
        assert_eq!(served["errors"], 0, "{served}");
        assert_eq!(served["within_budget"], code == 0, "{served}");
        assert!(served["p99_us"].as_f64().unwrap() > served["in_process_p50_us"].as_f64().unwrap());
        // The package states every quality figure of the chosen candidate.
        let meta: Json = serde_json::from_str(
            &std::fs::read_to_string(out.join("model/metadata.json")).unwrap(),
        )
        .unwrap();
        let chosen = results["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == results["chosen"])
            .unwrap();
        for m in ["accuracy", "balanced_accuracy", "roc_auc", "log_loss"] {
            assert_eq!(meta["metrics"][m], chosen[m], "{m}");
        }
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("<h2>Served</h2>"), "no served section");
        assert!(out.join("serve_check/serve_bench.json").exists());
        if code == 4 {
            assert!(
                stderr.contains("SERVED LATENCY BREAKS THE BUDGET"),
                "{stderr}"
            );
        }
    }
}

/// `--url` and `--body`: the same generator on any HTTP server.
#[test]
fn loadtest_loads_any_url_with_one_body() {
    let addr = stalling_server(usize::MAX, Duration::ZERO);
    let tmp = tempfile::tempdir().unwrap();
    let body = tmp.path().join("body.json");
    std::fs::write(&body, "{\"rows\": [[1, 2]]}").unwrap();
    let out = tmp.path().join("lt");
    let status = optbench()
        .args([
            "loadtest",
            "--url",
            &format!("http://{addr}/predict"),
            "--body",
        ])
        .arg(&body)
        .args([
            "--header",
            "x-api-key: k",
            "--rates",
            "200",
            "--duration",
            "0.5",
        ])
        .args(["--warmup", "0", "--connections", "2", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let bench: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("serve_bench.json")).unwrap())
            .unwrap();
    let step = &bench["series"][0]["steps"][0];
    assert_eq!(step["requests"], 100, "{step}");
    assert_eq!(step["ok"], 100, "{step}");
    assert!(step["server"].is_null(), "{step}");
}
