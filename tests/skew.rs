//! The lesson's skew demonstration (exercise 2): the same random forest, fed
//! the test rows through the training pipeline and through four common
//! serving-time mistakes. Prints the share of predictions each mistake
//! changes (`cargo test --test skew -- --nocapture`; docs/serving.md quotes it)
//! and checks that every mistake is visible while the packaged path changes
//! nothing.

use optbench::config::{Overrides, Plan};
use optbench::data::Dataset;
use optbench::measure::accuracy;
use optbench::model::Model;
use optbench::pipeline::{FittedPipeline, Step};
use optbench::train::{train, TrainData};
use std::path::Path;

fn predict(model: &Model, pipeline: &FittedPipeline, rows: &Dataset) -> Vec<u32> {
    let x = pipeline.transform(rows);
    let mut out = Vec::new();
    model.compile().unwrap().predict_batch(&x, &mut out);
    out
}

fn changed(a: &[u32], b: &[u32]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
}

#[test]
fn serving_with_different_preprocessing_changes_predictions() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/exercise2.toml");
    let plan = Plan::load(Some(&config), &Overrides::default()).unwrap();
    let split = optbench::run::load_split(&plan).unwrap();
    let (tr, te) = (&split.train, &split.test);
    let pipeline = FittedPipeline::fit(tr, &plan.pipeline).unwrap();
    let x = pipeline.transform(tr);
    let model = train(
        &plan.candidates[0],
        &TrainData {
            x: &x,
            n_features: pipeline.n_outputs(),
            y: &tr.y,
            n_classes: tr.n_classes(),
        },
        plan.seed,
    )
    .unwrap()
    .model;
    let right = predict(&model, &pipeline, te);

    // 1. Imputation and scaling refit on each serving batch of 50 rows
    //    (fit_transform where transform was meant).
    let mut batch_refit = Vec::new();
    for start in (0..te.n_rows()).step_by(50) {
        let rows: Vec<usize> = (start..(start + 50).min(te.n_rows())).collect();
        let batch = te.subset(&rows);
        let refit = FittedPipeline::fit(&batch, &plan.pipeline).unwrap();
        let mut skewed = pipeline.clone();
        for (s, r) in skewed.steps.iter_mut().zip(&refit.steps) {
            if matches!(s, Step::Numeric { .. }) {
                *s = r.clone();
            }
        }
        batch_refit.extend(predict(&model, &skewed, &batch));
    }

    // 2. Missing numbers filled with 0 (fillna(0)) instead of the training
    //    median.
    let mut fill_zero = pipeline.clone();
    for s in &mut fill_zero.steps {
        if let Step::Numeric { fill, .. } = s {
            *fill = 0.0;
        }
    }

    // 3. One-hot columns in another order (get_dummies on a frame whose
    //    categories came in another order): here, reversed.
    let mut reordered = pipeline.clone();
    for s in &mut reordered.steps {
        if let Step::OneHot { categories, .. } = s {
            categories.reverse();
        }
    }

    // 4. No scaling at serving: raw numbers into a model trained on
    //    standardised ones.
    let mut unscaled = pipeline.clone();
    for s in &mut unscaled.steps {
        if let Step::Numeric {
            center, inv_scale, ..
        } = s
        {
            *center = 0.0;
            *inv_scale = 1.0;
        }
    }

    let base = accuracy(&te.y, &right);
    println!("training pipeline: accuracy {base:.4}");
    let cases = [
        ("statistics refit per serving batch of 50", batch_refit),
        (
            "missing numbers filled with 0",
            predict(&model, &fill_zero, te),
        ),
        (
            "one-hot columns in another order",
            predict(&model, &reordered, te),
        ),
        ("no scaling at serving", predict(&model, &unscaled, te)),
    ];
    // The packaged path is the training path: nothing changes.
    assert_eq!(predict(&model, &pipeline.clone(), te), right);
    for (name, preds) in &cases {
        let share = changed(&right, preds);
        println!(
            "{name:<42} {:>5.1}% of predictions change, accuracy {:.4} ({:+.1} points)",
            100.0 * share,
            accuracy(&te.y, preds),
            100.0 * (accuracy(&te.y, preds) - base)
        );
        assert!(share > 0.01, "{name}: only {share} changed");
    }
}
