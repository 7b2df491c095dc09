//! The server's own per-request cost, without the network: a request driven
//! through `optbench serve`'s routes in process (body → parse → validate →
//! preprocess → predict → serialize → body), beside the package's predictor
//! alone on the same row, so a regression in parsing or serialization shows
//! as a growing gap. On the penguins fixture packages (mixed types): V2 JSON
//! with one row and 64 rows, Triton's binary tensors with one row, and
//! `/predict`.
//!
//! cargo bench --bench serve

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use optbench::artifact::Artifact;
use serde_json::{json, Value as Json};
use std::hint::black_box;
use std::path::PathBuf;
use tower::ServiceExt;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The penguins test rows: header and cells.
fn rows() -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(root().join("tests/fixtures/penguins/test.csv")).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn cell(text: &str, categorical: bool) -> Json {
    if text.is_empty() || text == "NA" {
        Json::Null
    } else if categorical {
        json!(text)
    } else {
        json!(text.parse::<f64>().unwrap())
    }
}

const CATEGORICAL: [&str; 2] = ["island", "sex"];

/// A V2 JSON body of `n` rows, one tensor per column.
fn v2_json(header: &[String], rows: &[Vec<String>], n: usize) -> Vec<u8> {
    let inputs: Vec<Json> = header
        .iter()
        .enumerate()
        .skip(1)
        .map(|(j, name)| {
            let c = CATEGORICAL.contains(&name.as_str());
            json!({ "name": name, "shape": [n, 1], "datatype": if c { "BYTES" } else { "FP64" },
                    "data": rows.iter().cycle().take(n).map(|r| cell(&r[j], c)).collect::<Vec<_>>() })
        })
        .collect();
    json!({ "inputs": inputs }).to_string().into_bytes()
}

/// One row in Triton's binary tensor extension: (body, JSON length).
fn v2_binary(header: &[String], row: &[String]) -> (Vec<u8>, usize) {
    let mut inputs = Vec::new();
    let mut tail = Vec::new();
    for (j, name) in header.iter().enumerate().skip(1) {
        let bytes: Vec<u8> = if CATEGORICAL.contains(&name.as_str()) {
            let s = row[j].as_bytes();
            [(s.len() as u32).to_le_bytes().as_slice(), s].concat()
        } else {
            row[j]
                .parse::<f64>()
                .unwrap_or(f64::NAN)
                .to_le_bytes()
                .to_vec()
        };
        let datatype = if CATEGORICAL.contains(&name.as_str()) {
            "BYTES"
        } else {
            "FP64"
        };
        inputs.push(json!({ "name": name, "shape": [1, 1], "datatype": datatype,
                            "parameters": { "binary_data_size": bytes.len() } }));
        tail.extend(bytes);
    }
    let head =
        json!({ "inputs": inputs, "parameters": { "binary_data_output": true } }).to_string();
    let n = head.len();
    ([head.into_bytes(), tail].concat(), n)
}

fn bench_serve(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (header, rows) = rows();
    let mut group = c.benchmark_group("serve");
    for package in ["penguins-forest-10", "penguins-boost-20-int8"] {
        let model = root().join("tests/fixtures/packages").join(package);
        let app = optbench::serve::app(&optbench::serve::Options::new(model.clone())).unwrap();
        let artifact = Artifact::load(&model).unwrap();
        let name = optbench::serve::model_name(&artifact.metadata.model.id);
        let infer = format!("/v2/models/{name}/infer");
        let call = |path: &str, body: &[u8], header_length: Option<usize>| {
            let mut request = Request::post(path).header("content-type", "application/json");
            if let Some(n) = header_length {
                request = request.header("inference-header-content-length", n);
            }
            let request = request.body(Body::from(body.to_vec())).unwrap();
            runtime.block_on(async {
                let response = app.clone().oneshot(request).await.unwrap();
                assert!(response.status().is_success());
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap()
            })
        };

        // The predictor alone on the first row: the floor under the routes.
        let schema = &artifact.schema;
        let row0: Vec<_> = header
            .iter()
            .enumerate()
            .skip(1)
            .map(|(j, _)| schema.parse_field(j - 1, &rows[0][j]))
            .collect();
        let mut predictor = artifact.predictor();
        let mut proba = vec![0.0f32; artifact.metadata.classes.len()];
        group.bench_function(BenchmarkId::new("predictor, 1 row", package), |b| {
            b.iter(|| black_box(predictor.predict_proba(black_box(&row0), &mut proba)))
        });

        let one = v2_json(&header, &rows, 1);
        group.bench_function(BenchmarkId::new("v2 json, 1 row", package), |b| {
            b.iter(|| black_box(call(&infer, &one, None)))
        });
        let (binary, n) = v2_binary(&header, &rows[0]);
        group.bench_function(BenchmarkId::new("v2 binary, 1 row", package), |b| {
            b.iter(|| black_box(call(&infer, &binary, Some(n))))
        });
        let many = v2_json(&header, &rows, 64);
        group.bench_function(BenchmarkId::new("v2 json, 64 rows", package), |b| {
            b.iter(|| black_box(call(&infer, &many, None)))
        });
        let mut object = serde_json::Map::new();
        for (j, name) in header.iter().enumerate().skip(1) {
            object.insert(
                name.clone(),
                cell(&rows[0][j], CATEGORICAL.contains(&name.as_str())),
            );
        }
        let plain = json!({ "rows": [object] }).to_string().into_bytes();
        group.bench_function(BenchmarkId::new("/predict, 1 row", package), |b| {
            b.iter(|| black_box(call("/predict?proba=1", &plain, None)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_serve);
criterion_main!(benches);
