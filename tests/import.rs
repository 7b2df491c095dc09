//! A model trained outside optbench goes through what trained candidates
//! go through: measured, optimized, selected and packaged on a passthrough
//! pipeline (here the outside model is one of optbench's own, trained on the
//! raw columns, standing in for an imported file).

use optbench::artifact::Artifact;
use optbench::config::{Overrides, Plan};
use optbench::data::{read_csv, ColumnTypes};
use optbench::pipeline::FittedPipeline;
use optbench::progress::Silent;
use optbench::run::{run_imported, External, ImportData};
use optbench::train::{train, CandidateSpec, TrainData};
use std::path::Path;

/// The tiny config, writing under `tmp`, with a 50 ms budget.
fn tiny_plan(root: &Path, tmp: &Path) -> Plan {
    Plan::load(
        Some(&root.join("configs/tiny.toml")),
        &Overrides {
            out: Some(tmp.join("out")),
            budget_ms: Some(50.0),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn an_external_model_is_measured_optimized_and_packaged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fixtures/wine");
    let tr = read_csv(&dir.join("train.csv"), "label", &ColumnTypes::new())
        .unwrap()
        .data;
    let pass = FittedPipeline::passthrough(&tr.feature_names);
    let x = pass.transform(&tr);
    let model = train(
        &CandidateSpec::RandomForest {
            n_trees: 20,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
            class_weight: Default::default(),
        },
        &TrainData {
            x: &x,
            n_features: tr.n_features(),
            y: &tr.y,
            n_classes: tr.n_classes(),
        },
        3,
    )
    .unwrap()
    .model;

    let tmp = tempfile::tempdir().unwrap();
    let plan = tiny_plan(root, tmp.path());
    let outcome = run_imported(
        &plan,
        External {
            id: "outside".into(),
            model: model.clone(),
            classes: tr.classes.clone(),
            params: serde_json::json!({"file": "none"}),
            path: "outside.onnx".into(),
            preprocessing: None,
        },
        &ImportData {
            test: dir.join("test.csv"),
            train: Some(dir.join("train.csv")),
            target: "label".into(),
        },
        &Silent,
    )
    .unwrap();
    let r = &outcome.results;
    let ids: Vec<&str> = r.candidates.iter().map(|c| c.id.as_str()).collect();
    // The plan's transforms apply to it: quantized, truncated, pruned.
    for id in [
        "outside",
        "outside/bins",
        "outside/int8",
        "outside/first5",
        "outside/depth2",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let outside = &r.candidates[0];
    assert_eq!(outside.family, "imported");
    let bins = r
        .candidates
        .iter()
        .find(|c| c.id == "outside/bins")
        .unwrap();
    assert_eq!(bins.agreement_with_parent, Some(1.0), "bins are lossless");

    // Its accuracy is the model's own on the test rows, features as they are.
    let te = optbench::data::read_csv_with_schema(&dir.join("test.csv"), "label", &tr, &[])
        .unwrap()
        .data;
    let mut pred = Vec::new();
    model
        .compile()
        .unwrap()
        .predict_batch(&pass.transform(&te), &mut pred);
    assert_eq!(outside.accuracy, optbench::measure::accuracy(&te.y, &pred));

    // The package serves the raw columns.
    let a = Artifact::load(&outcome.model_dir.unwrap()).unwrap();
    assert_eq!(a.metadata.features.features.len(), 13);
    assert_eq!(a.metadata.training_data.rows, tr.n_rows());
    assert!(a.metadata.training_data.source["kind"] == "imported");
}

#[test]
fn an_external_models_own_imputer_and_scaler_become_the_packages_pipeline() {
    use optbench::onnx::{NumericStep, Preprocessing};
    use optbench::pipeline::{PipelineConfig, Step};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fixtures/wine");
    let tr = read_csv(&dir.join("train.csv"), "label", &ColumnTypes::new())
        .unwrap()
        .data;
    // The outside model was trained behind its own imputer and scaler (as a
    // scikit-learn Pipeline is); the import hands them over as steps.
    let fitted = FittedPipeline::fit(&tr, &PipelineConfig::default()).unwrap();
    let steps: Vec<NumericStep> = fitted
        .steps
        .iter()
        .map(|s| match s {
            Step::Numeric {
                fill,
                center,
                inv_scale,
                ..
            } => NumericStep {
                fill: *fill,
                center: *center,
                inv_scale: *inv_scale,
            },
            Step::OneHot { .. } => unreachable!("wine is numeric"),
        })
        .collect();
    let x = fitted.transform(&tr);
    let model = train(
        &CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 200,
            class_weight: Default::default(),
        },
        &TrainData {
            x: &x,
            n_features: tr.n_features(),
            y: &tr.y,
            n_classes: tr.n_classes(),
        },
        3,
    )
    .unwrap()
    .model;
    let tmp = tempfile::tempdir().unwrap();
    let plan = tiny_plan(root, tmp.path());
    let external = |preprocessing| External {
        id: "outside".into(),
        model: model.clone(),
        classes: tr.classes.clone(),
        params: serde_json::json!({"file": "none"}),
        path: "outside.onnx".into(),
        preprocessing,
    };
    let data = ImportData {
        test: dir.join("test.csv"),
        train: Some(dir.join("train.csv")),
        target: "label".into(),
    };
    let outcome = run_imported(
        &plan,
        external(Some(Preprocessing::Numeric(steps.clone()))),
        &data,
        &Silent,
    )
    .unwrap();

    // Measured through the steps: the accuracy of pipeline → model.
    let te = optbench::data::read_csv_with_schema(&dir.join("test.csv"), "label", &tr, &[])
        .unwrap()
        .data;
    let mut pred = Vec::new();
    model
        .compile()
        .unwrap()
        .predict_batch(&fitted.transform(&te), &mut pred);
    let outside = &outcome.results.candidates[0];
    assert_eq!(outside.accuracy, optbench::measure::accuracy(&te.y, &pred));
    // Packaged with them, under the CSV's column names.
    let a = Artifact::load(&outcome.model_dir.unwrap()).unwrap();
    assert_eq!(a.pipeline.steps, fitted.steps);

    // Steps that do not fit the columns are an error, not a panic.
    let e = run_imported(
        &plan,
        external(Some(Preprocessing::Numeric(steps[..3].to_vec()))),
        &data,
        &Silent,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("3 preprocessing steps for 13 columns"),
        "{e}"
    );
}

#[test]
fn a_per_column_models_csv_is_read_by_its_column_names_and_kinds() {
    use optbench::artifact::{score_csv, ScoreOptions};
    use optbench::data::read_csv_with_schema;
    use optbench::onnx::Preprocessing;
    use optbench::pipeline::PipelineConfig;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fixtures/exercise2");
    let tr = read_csv(&dir.join("train.csv"), "churn", &ColumnTypes::new())
        .unwrap()
        .data;
    // A model behind numeric and one-hot steps, named as the columns (what
    // the import of a per-column file hands over).
    let fitted = FittedPipeline::fit(&tr, &PipelineConfig::default()).unwrap();
    let x = fitted.transform(&tr);
    let model = train(
        &CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 200,
            class_weight: Default::default(),
        },
        &TrainData {
            x: &x,
            n_features: fitted.n_outputs(),
            y: &tr.y,
            n_classes: tr.n_classes(),
        },
        3,
    )
    .unwrap()
    .model;
    let tmp = tempfile::tempdir().unwrap();
    let plan = tiny_plan(root, tmp.path());
    let external = External {
        id: "columns".into(),
        model: model.clone(),
        classes: tr.classes.clone(),
        params: serde_json::json!({"file": "none"}),
        path: "columns.onnx".into(),
        preprocessing: Some(Preprocessing::Columns(fitted.clone())),
    };
    // No training rows: the package knows the categories from its pipeline.
    let data = ImportData {
        test: dir.join("test.csv"),
        train: None,
        target: "churn".into(),
    };
    let outcome = run_imported(&plan, external.clone(), &data, &Silent).unwrap();
    let te = read_csv_with_schema(&dir.join("test.csv"), "churn", &tr, &[])
        .unwrap()
        .data;
    let mut pred = Vec::new();
    model
        .compile()
        .unwrap()
        .predict_batch(&fitted.transform(&te), &mut pred);
    let outside = &outcome.results.candidates[0];
    assert_eq!(outside.accuracy, optbench::measure::accuracy(&te.y, &pred));

    // The package serves the raw columns; only categories the one-hot
    // encoder does not know are reported as unseen.
    let a = Artifact::load(&outcome.model_dir.unwrap()).unwrap();
    assert_eq!(a.pipeline.steps, fitted.steps);
    let mut classes = Vec::new();
    let summary = score_csv(
        &a,
        &dir.join("test.csv"),
        ScoreOptions::default(),
        false,
        |r| {
            if let optbench::artifact::RowOutcome::Scored { class, .. } = r {
                classes.push(class);
            }
            Ok(())
        },
    )
    .unwrap();
    // The package holds the chosen candidate, which may be a variant of the
    // imported model (int8 here): compare with what that model predicts.
    let mut served = Vec::new();
    a.model()
        .compile()
        .unwrap()
        .predict_batch(&fitted.transform(&te), &mut served);
    assert_eq!(classes, served);
    let city = summary.columns.iter().find(|c| c.name == "city").unwrap();
    let mut unseen = city.unseen_examples.clone();
    unseen.sort();
    assert_eq!(unseen, ["Dublin", "Helsinki"]);

    // A column the file does not read is named, as is one it lacks.
    let mut fewer = fitted.clone();
    fewer.steps.retain(|s| s.name() != "plan");
    let e = run_imported(
        &plan,
        External {
            preprocessing: Some(Preprocessing::Columns(fewer)),
            ..external
        },
        &data,
        &Silent,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("column `plan` is not one the model"), "{e}");
}
