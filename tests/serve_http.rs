//! `optbench serve` as a client sees it: the binary started on loopback
//! (port 0, the address read from --port-file), called over HTTP, its
//! answers compared with `optbench predict`'s on the same rows, bit for
//! bit; bad requests answered with a 4xx naming what was wrong while the
//! server keeps serving; SIGTERM ending it with exit 0. Every wait and
//! every request loop here is bounded.

mod common;

use common::{
    bits, cell, optbench, penguin, predicted, read_csv, root, served, v2_request, Server,
};
use serde_json::{json, Value as Json};

/// Mixed types and missing cells (penguins): per-column V2 tensors and
/// plain JSON rows predict what `optbench predict` predicts, bit for bit,
/// for a float forest and an int8 boosted ensemble.
#[test]
fn served_predictions_equal_predict_on_mixed_types() {
    let test_csv = root().join("tests/fixtures/penguins/test.csv");
    let (header, rows) = read_csv(&test_csv);
    for package in ["penguins-forest-10", "penguins-boost-20-int8"] {
        let tmp = tempfile::tempdir().unwrap();
        let model = root().join("tests/fixtures/packages").join(package);
        let (want_classes, want_proba) = predicted(&model, &test_csv, tmp.path());
        let server = Server::start(&model, tmp.path());
        let meta = server.json("GET", "/v2/health/ready", &Json::Null).1;
        assert_eq!(meta["ready"], true);
        let name = server.json("GET", "/v2/models/nope", &Json::Null);
        assert_eq!(name.0, 404);
        let id = if package.ends_with("int8") {
            "boost-20_int8"
        } else {
            "forest-10"
        };
        let (status, meta) = server.json("GET", &format!("/v2/models/{id}"), &Json::Null);
        assert_eq!(status, 200, "{meta}");
        assert_eq!(meta["inputs"].as_array().unwrap().len(), header.len() - 1);

        let mut request = v2_request(&header, &rows);
        request["id"] = json!("t1");
        let (status, response) = server.json("POST", &format!("/v2/models/{id}/infer"), &request);
        assert_eq!(status, 200, "{response}");
        assert_eq!(response["id"], "t1");
        let (classes, proba) = served(&response);
        assert_eq!(classes, want_classes, "{package}: V2 classes");
        assert_eq!(
            bits(&proba),
            bits(&want_proba),
            "{package}: V2 probabilities"
        );

        let objects: Vec<Json> = rows
            .iter()
            .map(|r| Json::Object(penguin(&header, r)))
            .collect();
        let (status, response) =
            server.json("POST", "/predict?proba=1", &json!({ "rows": objects }));
        assert_eq!(status, 200, "{response}");
        let classes: Vec<String> = response["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let proba: Vec<Vec<f32>> = response["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect();
        assert_eq!(classes, want_classes, "{package}: /predict classes");
        assert_eq!(
            bits(&proba),
            bits(&want_proba),
            "{package}: /predict probabilities"
        );
        assert!(server.terminate().success(), "SIGTERM exits 0");
    }
}

/// An all-numeric package (wine, trained here on the tiny config) takes one
/// [N, F] tensor, and answers as `optbench predict` does; then a list of bad
/// requests, each refused with its status and words, the server still
/// serving correct predictions after them.
#[test]
fn one_numeric_tensor_and_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let status = optbench()
        .args(["run", "--config", "configs/tiny.toml", "--quiet", "--out"])
        .arg(&out)
        .args([
            "--train",
            "tests/fixtures/wine/train.csv",
            "--test",
            "tests/fixtures/wine/test.csv",
            "--target",
            "label",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let model = out.join("model");
    let test_csv = root().join("tests/fixtures/wine/test.csv");
    let (want_classes, want_proba) = predicted(&model, &test_csv, tmp.path());
    let (header, rows) = read_csv(&test_csv);
    let f = header.len() - 1; // the last column is the target
    let data: Vec<Json> = rows
        .iter()
        .flat_map(|r| r[..f].iter().map(|c| cell(c, false)).collect::<Vec<_>>())
        .collect();
    let server = Server::start(&model, tmp.path());
    let meta = server.json("GET", "/v2/health/ready", &Json::Null).1;
    assert_eq!(meta["ready"], true);
    let id = serde_json::from_str::<Json>(
        &std::fs::read_to_string(model.join("metadata.json")).unwrap(),
    )
    .unwrap()["model"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let name = optbench::serve::model_name(&id);
    let infer = format!("/v2/models/{name}/infer");
    let good = json!({ "inputs": [{ "name": "x", "shape": [rows.len(), f], "datatype": "FP64", "data": data }] });
    let check_good = |server: &Server| {
        let (status, response) = server.json("POST", &infer, &good);
        assert_eq!(status, 200, "{response}");
        let (classes, proba) = served(&response);
        assert_eq!(classes, want_classes);
        assert_eq!(bits(&proba), bits(&want_proba));
    };
    check_good(&server);

    // The same rows in Triton's binary tensor extension (what tritonclient
    // sends by default): the JSON header, then the values as little-endian
    // FP64 (NaN for a missing value); every output asked for in binary.
    let numbers: Vec<f64> = data
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    let binary = |json_head: &Json, tail: &[u8]| {
        let mut body = json_head.to_string().into_bytes();
        let n = body.len();
        body.extend_from_slice(tail);
        (n, body)
    };
    let tail: Vec<u8> = numbers.iter().flat_map(|x| x.to_le_bytes()).collect();
    let (n, body) = binary(
        &json!({
            "inputs": [{ "name": "x", "shape": [rows.len(), f], "datatype": "FP64",
                         "parameters": { "binary_data_size": tail.len() } }],
            "parameters": { "binary_data_output": true },
        }),
        &tail,
    );
    let length = ("Inference-Header-Content-Length", n.to_string());
    let (status, head, answer) = server.call_bytes(&infer, &[length], &body);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let json_length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("inference-header-content-length: "))
        .unwrap_or_else(|| panic!("no header length in {head}"))
        .parse()
        .unwrap();
    let answer_head: Json = serde_json::from_slice(&answer[..json_length]).unwrap();
    let outputs = answer_head["outputs"].as_array().unwrap();
    assert_eq!(outputs[0]["name"], "label");
    let label_size = outputs[0]["parameters"]["binary_data_size"]
        .as_u64()
        .unwrap() as usize;
    let (mut labels_bytes, proba_bytes) = answer[json_length..].split_at(label_size);
    let mut labels = Vec::new();
    while !labels_bytes.is_empty() {
        let len = u32::from_le_bytes(labels_bytes[..4].try_into().unwrap()) as usize;
        labels.push(String::from_utf8(labels_bytes[4..4 + len].to_vec()).unwrap());
        labels_bytes = &labels_bytes[4 + len..];
    }
    assert_eq!(labels, want_classes, "binary labels");
    let k = want_proba[0].len();
    let proba: Vec<Vec<f32>> = proba_bytes
        .chunks(4 * k)
        .map(|r| {
            r.chunks(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        })
        .collect();
    assert_eq!(bits(&proba), bits(&want_proba), "binary probabilities");
    // Binary requests that do not add up.
    let sized = |size: usize, datatype: &str| {
        json!({ "inputs": [{ "name": "x", "shape": [1, f], "datatype": datatype,
                             "parameters": { "binary_data_size": size } }] })
    };
    let one_row: Vec<u8> = tail[..8 * f].to_vec();
    for (json_head, tail, length, words) in [
        (
            sized(8 * f, "FP64"),
            one_row.clone(),
            Some(100_000),
            "Inference-Header-Content-Length",
        ),
        (
            sized(8 * f + 8, "FP64"),
            one_row.clone(),
            None,
            "bytes of binary data are left",
        ),
        (
            sized(8 * f - 1, "FP64"),
            one_row[..8 * f - 1].to_vec(),
            None,
            "not a whole number",
        ),
        (
            sized(3, "BYTES"),
            vec![1, 0, 0],
            None,
            "inside a length prefix",
        ),
        (
            sized(8 * f, "FP64"),
            [one_row.clone(), vec![0]].concat(),
            None,
            "after the inputs' declared sizes",
        ),
    ] {
        let (n, body) = binary(&json_head, &tail);
        let length = (
            "Inference-Header-Content-Length",
            length.unwrap_or(n).to_string(),
        );
        let (status, _, answer) = server.call_bytes(&infer, &[length], &body);
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(words), "`{text}` lacks `{words}`");
    }

    let row0: Vec<Json> = rows[0][..f].iter().map(|c| cell(c, false)).collect();
    let one = |data: Json, shape: Json, datatype: &str| json!({ "inputs": [{ "name": "x", "shape": shape, "datatype": datatype, "data": data }] });
    let mut text_cell = row0.clone();
    text_cell[2] = json!("abc");
    let mut bool_cell = row0.clone();
    bool_cell[1] = json!(true);
    let mut first = serde_json::Map::new();
    for (j, name) in header[..f].iter().enumerate() {
        first.insert(name.clone(), row0[j].clone());
    }
    let mut missing_col = first.clone();
    missing_col.remove(&header[3]);
    let mut extra_col = first.clone();
    extra_col.insert("colour".into(), json!(1.0));
    let per_column_missing: Vec<Json> = header[..f - 1]
        .iter()
        .enumerate()
        .map(|(j, n)| json!({ "name": n, "shape": [1, 1], "datatype": "FP64", "data": [row0[j]] }))
        .collect();
    let missing_input = format!("missing input `{}`", header[f - 1]);
    let missing_column = format!("missing column `{}`", header[3]);
    // (route, body, status, words the error must hold)
    let cases: Vec<(String, String, u16, &str)> = vec![
        (infer.clone(), "{not json".into(), 400, "not an inference request"),
        (infer.clone(), "{}".into(), 400, "not an inference request"),
        (infer.clone(), json!({ "inputs": [] }).to_string(), 400, "no inputs"),
        (
            infer.clone(),
            one(json!(row0), json!([1, f + 1]), "FP64").to_string(),
            400,
            "is not a column",
        ),
        (
            infer.clone(),
            one(json!(row0), json!([2, f]), "FP64").to_string(),
            400,
            "shape",
        ),
        (
            infer.clone(),
            one(json!(row0), json!([1, f]), "STRING").to_string(),
            400,
            "datatype `STRING`",
        ),
        (
            infer.clone(),
            one(json!(text_cell), json!([1, f]), "FP64").to_string(),
            400,
            "element 2",
        ),
        (
            infer.clone(),
            one(json!(bool_cell), json!([1, f]), "FP64").to_string(),
            400,
            "is not a number",
        ),
        (
            infer.clone(),
            json!({ "inputs": per_column_missing }).to_string(),
            400,
            &missing_input,
        ),
        (
            infer.clone(),
            json!({ "inputs": [{ "name": header[0], "shape": [1, 1], "datatype": "BYTES", "data": ["x"] }] })
                .to_string(),
            400,
            "missing input",
        ),
        (
            infer.clone(),
            json!({ "inputs": good["inputs"], "outputs": [{ "name": "logits" }] }).to_string(),
            400,
            "output `logits` does not exist",
        ),
        (
            infer.clone(),
            json!({ "inputs": good["inputs"], "bogus": 1 }).to_string(),
            400,
            "unknown field",
        ),
        (
            "/v2/models/other/infer".into(),
            good.to_string(),
            404,
            "unknown model `other`",
        ),
        (
            format!("/v2/models/{name}/versions/000000000000/infer"),
            good.to_string(),
            404,
            "has no version",
        ),
        ("/nowhere".into(), "{}".into(), 404, "no such route"),
        ("/predict".into(), "[1, 2]".into(), 400, "expected an object"),
        ("/predict".into(), "{\"rows\": 3}".into(), 400, "`rows` must be an array"),
        (
            "/predict".into(),
            json!({ "rows": [missing_col] }).to_string(),
            400,
            &missing_column,
        ),
        (
            "/predict".into(),
            json!({ "rows": [extra_col] }).to_string(),
            400,
            "`colour` is not a column",
        ),
        (
            "/predict".into(),
            json!({ "rows": [{ "alcohol": [1] }] }).to_string(),
            400,
            "is not a number, a string or null",
        ),
        (
            "/predict".into(),
            json!({ "rows": [first.clone(), 5] }).to_string(),
            400,
            "row 1: expected an object",
        ),
    ];
    // Text where a number is expected, and an infinity, through /predict:
    // refused by the package's own validation, naming the row and column.
    let mut text_obj = first.clone();
    text_obj.insert(header[2].clone(), json!("abc"));
    let mut inf_obj = first.clone();
    inf_obj.insert(header[0].clone(), json!("inf"));
    let mut cases = cases;
    cases.push((
        "/predict".into(),
        json!({ "rows": [first.clone(), text_obj] }).to_string(),
        400,
        "row 1, column `ash`: expected a number",
    ));
    cases.push((
        "/predict".into(),
        json!({ "rows": [inf_obj] }).to_string(),
        400,
        "row 0, column `alcohol`: expected a finite number",
    ));
    let mut per_column: Vec<Json> = header[..f]
        .iter()
        .enumerate()
        .map(|(j, n)| json!({ "name": n, "shape": [1, 1], "datatype": "FP64", "data": [row0[j]] }))
        .collect();
    let mut twice = per_column.clone();
    twice.push(per_column[0].clone());
    per_column[1] = json!({ "name": header[1], "shape": [2, 1], "datatype": "FP64", "data": [row0[1], row0[1]] });
    let text_row: Vec<Json> = rows[0][..f].iter().map(|c| json!(c)).collect();
    let mut bytes_row = text_row.clone();
    bytes_row[0] = json!("abc");
    let mut bool_obj = first.clone();
    bool_obj.insert(header[4].clone(), json!(true));
    let good_inputs = good["inputs"].to_string();
    let mut cases: Vec<(&str, String, String, u16, &str)> = cases
        .into_iter()
        .map(|(route, body, status, words)| ("POST", route, body, status, words))
        .collect();
    cases.extend([
        ("POST", infer.clone(), "{\"inputs\": 3}".into(), 400, "not an inference request"),
        (
            "POST",
            infer.clone(),
            one(json!("abc"), json!([1, f]), "FP64").to_string(),
            400,
            "element 0",
        ),
        (
            "POST",
            infer.clone(),
            one(json!(row0[1..]), json!([1, f]), "FP64").to_string(),
            400,
            "shape",
        ),
        (
            "POST",
            infer.clone(),
            one(json!(row0), json!([-1, f]), "FP64").to_string(),
            400,
            "shape",
        ),
        (
            "POST",
            infer.clone(),
            json!({ "inputs": twice }).to_string(),
            400,
            "is given twice",
        ),
        (
            "POST",
            infer.clone(),
            json!({ "inputs": per_column }).to_string(),
            400,
            "rows where the others have",
        ),
        (
            "POST",
            infer.clone(),
            "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1], \"datatype\": \"FP64\", \"data\": [1e999]}]}".to_string(),
            400,
            "not an inference request",
        ),
        (
            "POST",
            infer.clone(),
            format!("{{\"id\": 5, \"inputs\": {good_inputs}}}"),
            400,
            "not an inference request",
        ),
        (
            "POST",
            infer.clone(),
            format!("{{\"inputs\": {good_inputs}, \"outputs\": \"label\"}}"),
            400,
            "not an inference request",
        ),
        (
            "POST",
            infer.clone(),
            one(json!(bytes_row), json!([1, f]), "BYTES").to_string(),
            400,
            "row 0, column `alcohol`: expected a number",
        ),
        ("GET", infer.clone(), String::new(), 405, "method not allowed"),
        ("GET", "/v2/models/other".into(), String::new(), 404, "unknown model `other`"),
        ("GET", "/v2/models/other/ready".into(), String::new(), 404, "unknown model `other`"),
        (
            "POST",
            "/v2/models/other/versions/1/infer".into(),
            good.to_string(),
            404,
            "unknown model `other`",
        ),
        (
            "POST",
            "/v2/repository/models/other/load".into(),
            String::new(),
            404,
            "unknown model `other`",
        ),
        ("POST", "/predict".into(), String::new(), 400, "not JSON"),
        (
            "POST",
            "/predict".into(),
            json!({ "rows": [bool_obj] }).to_string(),
            400,
            "is not a number, a string or null",
        ),
    ]);
    for (method, route, body, want_status, words) in &cases {
        let (status, text) = server.call(method, route, body);
        assert_eq!(status, *want_status, "{route} {body}: {text}");
        let error: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let message = error["error"].as_str().unwrap_or_else(|| panic!("{text}"));
        assert!(
            message.contains(words),
            "{route} {body}: `{message}` lacks `{words}`"
        );
    }
    assert!(cases.len() >= 40, "{} kinds", cases.len());
    // Still serving, and still right.
    check_good(&server);
    assert!(server.terminate().success(), "SIGTERM exits 0");
}

#[test]
fn a_package_that_fails_verification_is_not_served() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    let src = root().join("tests/fixtures/packages/penguins-forest-10");
    for f in ["metadata.json", "model.bin"] {
        std::fs::copy(src.join(f), model.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(model.join("model.bin")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(model.join("model.bin"), bytes).unwrap();
    let out = optbench()
        .args(["serve", "--addr", "127.0.0.1:0", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SHA-256"), "{stderr}");
}

/// A body over --max-body and more rows than --max-rows: 413 with a JSON
/// error, and the server goes on serving.
#[test]
fn limits_answer_413_in_json() {
    let tmp = tempfile::tempdir().unwrap();
    let model = root().join("tests/fixtures/packages/penguins-forest-10");
    let server = Server::start_with(
        &model,
        tmp.path(),
        &["--max-body", "2000", "--max-rows", "2"],
    );
    let row = json!({ "island": "Biscoe", "bill_length_mm": 45.1, "bill_depth_mm": 14.5,
        "flipper_length_mm": 215, "body_mass_g": 5000, "sex": null, "year": 2008 });
    let (status, ok) = server.json(
        "POST",
        "/predict",
        &json!({ "rows": [row.clone(), row.clone()] }),
    );
    assert_eq!(status, 200, "{ok}");
    let (status, text) = server.call(
        "POST",
        "/predict",
        &json!({ "rows": vec![row.clone(); 3] }).to_string(),
    );
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("at most 2 a request"), "{text}");
    let big = json!({ "rows": vec![row.clone(); 40] }).to_string();
    assert!(big.len() > 2000);
    let (status, text) = server.call("POST", "/predict", &big);
    assert_eq!(status, 413, "{text}");
    let error: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("cannot read the request body"),
        "{text}"
    );
    let (status, again) = server.json("POST", "/predict", &json!({ "rows": [row] }));
    assert_eq!(status, 200, "{again}");
    // Three answered, two refused, 3 rows scored; the model and its timing.
    let (status, metrics) = server.call("GET", "/metrics", "");
    assert_eq!(status, 200);
    for line in [
        "optbench_requests_total{route=\"/predict\",status=\"200\"} 2",
        "optbench_requests_total{route=\"/predict\",status=\"413\"} 2",
        "optbench_rows_total{route=\"/predict\"} 3",
        "optbench_request_duration_seconds_count{route=\"/predict\"} 4",
        "optbench_model{model=\"forest-10\",id=\"forest-10\",version=\"",
        "optbench_model_load_seconds ",
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }
    assert!(server.terminate().success());
}
