//! The pipeline's fit, its row and table paths, and its serving plan.

use super::plan::Plan;
use super::*;
use crate::data::{FeatureKind, Invalid, Value};

fn table() -> Dataset {
    Dataset::numeric(
        vec!["a".into(), "b".into()],
        vec![1.0, 5.0, 2.0, 5.0, f64::NAN, 5.0, 4.0, 5.0],
        vec![0, 1, 0, 1],
        vec!["0".into(), "1".into()],
    )
}

fn row(values: &[f64]) -> Vec<Value<'static>> {
    values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                Value::Missing
            } else {
                Value::Number(v)
            }
        })
        .collect()
}

#[test]
fn imputes_median_then_standardises_like_sklearn() {
    let p = FittedPipeline::fit(&table(), &PipelineConfig::default()).unwrap();
    // Column a after imputation: 1, 2, 2, 4 → mean 2.25, population sd.
    let sd = ((1.25f64.powi(2) + 0.25f64.powi(2) * 2.0 + 1.75f64.powi(2)) / 4.0).sqrt();
    let Step::Numeric {
        fill,
        center,
        inv_scale,
        ..
    } = p.steps[0]
    else {
        panic!()
    };
    assert_eq!(fill, 2.0);
    assert!((center - 2.25).abs() < 1e-12);
    assert!((inv_scale - 1.0 / sd).abs() < 1e-12);
    // Constant column: centred, not scaled.
    assert!(matches!(
        p.steps[1],
        Step::Numeric {
            center: 5.0,
            inv_scale: 1.0,
            ..
        }
    ));
    let mut out = [0f32; 2];
    p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
    assert_eq!(out, [((2.0 - 2.25) / sd) as f32, 1.0]);
}

#[test]
fn other_numeric_imputers_and_no_scaling() {
    let mut cfg = PipelineConfig {
        numeric_impute: NumericImpute::Mean,
        scale: false,
        ..Default::default()
    };
    let p = FittedPipeline::fit(&table(), &cfg).unwrap();
    let mut out = [0f32; 2];
    p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
    assert_eq!(out, [7.0 / 3.0, 6.0]);
    cfg.numeric_impute = NumericImpute::Constant;
    cfg.numeric_fill = -1.0;
    let p = FittedPipeline::fit(&table(), &cfg).unwrap();
    p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
    assert_eq!(out, [-1.0, 6.0]);
    let mut t = table();
    t.x[2] = 4.0; // column a: 1, 4, NaN, 4
    cfg.numeric_impute = NumericImpute::MostFrequent;
    let p = FittedPipeline::fit(&t, &cfg).unwrap();
    p.transform_row(&row(&[f64::NAN, 6.0]), &mut out);
    assert_eq!(out, [4.0, 6.0]);
    assert_eq!(most_frequent(&mut [3.0, 1.0, 3.0, 1.0, 2.0]), 1.0);
}

#[test]
fn all_missing_column_is_an_error_naming_it() {
    let mut t = table();
    for i in 0..4 {
        t.x[i * 2 + 1] = f64::NAN;
    }
    let e = FittedPipeline::fit(&t, &PipelineConfig::default()).unwrap_err();
    assert!(e.to_string().contains("column `b` has no values"), "{e}");
}

/// Column `c`: red ×3, blue ×2, green ×1, one missing.
fn mixed() -> Dataset {
    let mut d = Dataset::numeric(
        vec!["x".into(), "c".into()],
        vec![
            1.0,
            0.0,
            2.0,
            1.0,
            3.0,
            0.0,
            4.0,
            2.0,
            5.0,
            1.0,
            6.0,
            f64::NAN,
            7.0,
            0.0,
        ],
        vec![0, 1, 0, 1, 0, 1, 0],
        vec!["n".into(), "y".into()],
    );
    d.kinds[1] = FeatureKind::Categorical;
    d.levels[1] = vec!["red".into(), "blue".into(), "green".into()];
    d
}

#[test]
fn one_hot_sorted_unknown_ignored_missing_imputed() {
    let p = FittedPipeline::fit(&mixed(), &PipelineConfig::default()).unwrap();
    assert_eq!(p.output_names(), ["x", "c=blue", "c=green", "c=red"]);
    let mut out = [9f32; 4];
    let onehot = |p: &FittedPipeline, v: Value<'_>, out: &mut [f32]| {
        p.transform_row(&[Value::Number(4.0), v], out);
        out[1..].to_vec()
    };
    assert_eq!(onehot(&p, Value::Text("green"), &mut out), [0.0, 1.0, 0.0]);
    // Unknown: no output set. Missing: the most frequent (red).
    assert_eq!(onehot(&p, Value::Text("purple"), &mut out), [0.0; 3]);
    assert_eq!(onehot(&p, Value::Missing, &mut out), [0.0, 0.0, 1.0]);
    // The table path agrees bit for bit with the row path.
    let d = mixed();
    let all = p.transform(&d);
    let mut raw = Vec::new();
    for i in 0..d.n_rows() {
        d.raw_row(i, &mut raw);
        p.transform_row(&raw, &mut out);
        assert_eq!(all[i * 4..(i + 1) * 4], out, "row {i}");
    }
}

/// The one-pass serving path refuses exactly what the schema refuses,
/// with the same first problem, and otherwise writes what the two-pass
/// path writes, bit for bit: every pair of values of every kind, through
/// both plans (a numeric column then a categorical one; two numeric).
#[test]
fn one_pass_check_agrees_with_schema_then_transform() {
    let mut numeric = mixed();
    numeric.kinds[1] = FeatureKind::Numeric;
    numeric.levels[1].clear();
    // (data, accepted pairs: missing or a finite number, then missing or
    // text / missing or a finite number)
    for (d, accepted) in [(mixed(), 2 * 4), (numeric, 2 * 2)] {
        let p = FittedPipeline::fit(&d, &PipelineConfig::default()).unwrap();
        let schema = d.schema();
        let plan = p.row_plan();
        let all_numeric = d.kinds.iter().all(|&k| k == FeatureKind::Numeric);
        assert_eq!(matches!(plan.plan, Plan::Numeric(..)), all_numeric);
        let width = p.n_outputs();
        let values = [
            Value::Missing,
            Value::Number(2.5),
            Value::Number(f64::NAN),
            Value::Number(f64::INFINITY),
            Value::Number(f64::NEG_INFINITY),
            Value::Text("red"),
            Value::Text("purple"),
            Value::Text(""),
        ];
        let mut checked = 0;
        for &a in &values {
            for &b in &values {
                let row = [a, b];
                let (mut one, mut two) = (vec![7f32; width], vec![7f32; width]);
                let got = plan.transform_checked(&row, &mut one);
                let want = schema.validate_row(&row);
                // (Debug text: a NaN in the error is not equal to itself.)
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{row:?}");
                if want.is_ok() {
                    p.transform_row(&row, &mut two);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&one), bits(&two), "{row:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, accepted, "{:?}", d.kinds);
        for short in [&[Value::Number(1.0)][..], &[Value::Missing; 3][..]] {
            let mut out = vec![0f32; width];
            assert_eq!(
                plan.transform_checked(short, &mut out),
                schema.validate_row(short)
            );
            assert!(plan.transform_checked(short, &mut out).is_err());
        }
    }
}

/// A row of numbers is served like the same row of typed cells (`NaN`
/// as `Missing`): the same output bits, the same refusals, through the
/// checked path, the schema and the two-pass path, and by both builds of
/// the loop; a schema with a categorical column refuses it at that
/// column. Widths 1–37 cover whole vectors and every remainder.
#[test]
fn numbers_are_served_like_cells() {
    use crate::data::Request;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e300];
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for width in 1..=37 {
        let (n_rows, names) = (40, (0..width).map(|j| format!("c{j}")).collect());
        let x: Vec<f64> = (0..n_rows * width)
            .map(|_| match rng.random_range(0..10) {
                0 => f64::NAN,
                _ => rng.random_range(-50.0..50.0),
            })
            .collect();
        let d = Dataset::numeric(names, x, vec![0; n_rows], vec!["0".into()]);
        let p = FittedPipeline::fit(&d, &PipelineConfig::default()).unwrap();
        let (plan, schema) = (p.row_plan(), d.schema());
        for _ in 0..200 {
            let numbers: Vec<f64> = (0..width)
                .map(|_| match rng.random_range(0..8) {
                    0 => specials[rng.random_range(0..specials.len())],
                    _ => rng.random_range(-80.0..80.0),
                })
                .collect();
            let cells = row(&numbers);
            let row = numbers;
            let (mut one, mut two) = (vec![7f32; width], vec![7f32; width]);
            let got = plan.transform_numbers(&row, &mut one);
            let want = plan.transform_checked(&cells, &mut two);
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{row:?}");
            let request = Request::Numbers(&row);
            assert_eq!(
                format!("{:?}", schema.validate(request)),
                format!("{want:?}")
            );
            if want.is_ok() {
                assert_eq!(bits(&one), bits(&two), "{row:?}");
                plan.transform(request, &mut two);
                assert_eq!(bits(&one), bits(&two), "{row:?}");
                let Plan::Numeric(_, columns) = &plan.plan else {
                    unreachable!("an all-numeric plan")
                };
                assert!(!columns.transform(&row, &mut two));
                assert_eq!(bits(&one), bits(&two), "portable build");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    assert!(!unsafe { columns.transform_avx2(&row, &mut two) });
                    assert_eq!(bits(&one), bits(&two), "AVX2 build");
                }
            }
        }
        let long = vec![1.0; width + 1];
        assert_eq!(
            plan.transform_numbers(&long, &mut vec![0f32; width + 1]),
            Err(Invalid::Width {
                expected: width,
                found: width + 1
            })
        );
    }
    let d = mixed();
    let p = FittedPipeline::fit(&d, &PipelineConfig::default()).unwrap();
    let mut out = vec![0f32; p.n_outputs()];
    let want = Err(Invalid::NotText { column: 1 });
    assert_eq!(p.row_plan().transform_numbers(&[1.0, 2.0], &mut out), want);
    assert_eq!(d.schema().validate(Request::Numbers(&[1.0, 2.0])), want);
}

#[test]
fn rare_categories_fold_into_other_and_missing_can_be_a_category() {
    let cfg = PipelineConfig {
        min_frequency: 2,
        categorical_impute: CategoricalImpute::Constant,
        ..Default::default()
    };
    let p = FittedPipeline::fit(&mixed(), &cfg).unwrap();
    // green (1 row) and the 1-row "missing" category fold into other.
    assert_eq!(p.output_names(), ["x", "c=blue", "c=red", "c=<other>"]);
    let mut out = [0f32; 4];
    p.transform_row(&[Value::Number(1.0), Value::Text("green")], &mut out);
    assert_eq!(out[1..], [0.0, 0.0, 1.0]);
    p.transform_row(&[Value::Number(1.0), Value::Missing], &mut out);
    assert_eq!(out[1..], [0.0, 0.0, 1.0]);
    p.transform_row(&[Value::Number(1.0), Value::Text("new")], &mut out);
    assert_eq!(out[1..], [0.0, 0.0, 0.0]);
    let cap = PipelineConfig {
        max_categories: Some(1),
        ..Default::default()
    };
    let p = FittedPipeline::fit(&mixed(), &cap).unwrap();
    // Missing imputed to red: red 4, blue 2, green 1; one kept.
    assert_eq!(p.output_names(), ["x", "c=red", "c=<other>"]);
    p.check().unwrap();
    assert!(PipelineConfig {
        min_frequency: 0,
        ..Default::default()
    }
    .validate()
    .is_err());
}
