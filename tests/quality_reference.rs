//! optbench's quality metrics against scikit-learn: the values in
//! `tests/fixtures/quality_reference.json` were computed by scikit-learn
//! from the inputs stored beside them (see `scripts/quality_reference.py`,
//! which also re-verifies them in CI).

use optbench::measure::quality::{Metric, Quality, LOG_LOSS_EPSILON};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/quality_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn classes(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn every_metric_matches_scikit_learn() {
    let f = fixture();
    assert_eq!(f["log_loss_epsilon"].as_f64().unwrap(), LOG_LOSS_EPSILON);
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let truth = classes(&case["truth"]);
        let pred = classes(&case["pred"]);
        let proba: Vec<f64> = case["proba"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|p| p.as_f64().unwrap()))
            .collect();
        assert_eq!(proba.len(), truth.len() * k, "{name}");
        let q = Quality::compute(&truth, &pred, &proba, k);
        for metric in Metric::ALL {
            let want = case["sklearn"][metric.key()].as_f64().unwrap();
            let got = q.get(metric).unwrap_or(f64::NAN);
            assert!(
                (got - want).abs() <= TOLERANCE,
                "{name}: {metric} is {got}, scikit-learn says {want}"
            );
        }
    }
}

#[test]
fn roc_auc_is_undefined_with_one_class_in_the_truth() {
    let q = Quality::compute(&[1, 1], &[1, 0], &[0.2, 0.8, 0.6, 0.4], 2);
    assert_eq!(q.roc_auc, None);
    assert_eq!(Metric::RocAuc.score(q.roc_auc), f64::NEG_INFINITY);
}
