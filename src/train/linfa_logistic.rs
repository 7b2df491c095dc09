//! Logistic regression through linfa-logistic, converted to a [`LinearModel`]:
//! the reference the in-house trainer (`logistic.rs`) is tested against.
//! Test-only: linfa-logistic is a dev-dependency since the in-house trainer
//! replaced it (see `logistic.rs` for why).

use super::TrainData;
use crate::model::{LinearModel, Link, Model};
use linfa::prelude::*;
use linfa_logistic::{
    FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression,
    MultiLogisticRegression,
};
use ndarray::{Array1, Array2};

/// The library model, kept for the agreement tests.
pub(crate) enum Fitted {
    Binary(FittedLogisticRegression<f64, usize>),
    Multi(MultiFittedLogisticRegression<f64, usize>),
}

pub(crate) fn fit(
    data: &TrainData<'_>,
    alpha: f64,
    max_iterations: u64,
) -> Result<(Fitted, Model), String> {
    let x = Array2::from_shape_vec((data.n_rows(), data.n_features), data.x_f64())
        .map_err(|e| e.to_string())?;
    let y: Array1<usize> = data.y.iter().map(|&c| c as usize).collect();
    let dataset = Dataset::new(x, y);
    let d = data.n_features;
    if data.n_classes == 2 {
        let fitted = LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(max_iterations)
            .fit(&dataset)
            .map_err(|e| e.to_string())?;
        // linfa's positive class is the more frequent one (its score is the
        // log-odds of that class); the IR's score is class 1's log-odds, so a
        // majority class 0 flips the signs.
        let sign = match (fitted.labels().pos.class, fitted.labels().neg.class) {
            (1, 0) => 1.0,
            (0, 1) => -1.0,
            _ => {
                return Err(
                    "binary logistic regression needs both classes in the training rows".into(),
                )
            }
        };
        let model = LinearModel {
            n_features: d,
            n_classes: 2,
            link: Link::Logistic,
            weights: fitted.params().iter().map(|&w| (sign * w) as f32).collect(),
            bias: vec![(sign * fitted.intercept()) as f32],
        };
        Ok((Fitted::Binary(fitted), Model::Linear(model)))
    } else {
        let fitted = MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(max_iterations)
            .fit(&dataset)
            .map_err(|e| e.to_string())?;
        // linfa's columns follow `classes()`; the IR's rows follow class index.
        let k = data.n_classes;
        let mut weights = vec![0.0f32; k * d];
        let mut bias = vec![0.0f32; k];
        let mut seen = vec![false; k];
        for (col, &class) in fitted.classes().iter().enumerate() {
            if class >= k {
                return Err(format!("linfa returned unknown class {class}"));
            }
            seen[class] = true;
            bias[class] = fitted.intercept()[col] as f32;
            for j in 0..d {
                weights[class * d + j] = fitted.params()[[j, col]] as f32;
            }
        }
        if seen.iter().any(|s| !s) {
            return Err("every class must appear in the training rows".into());
        }
        let model = LinearModel {
            n_features: d,
            n_classes: k,
            link: Link::Softmax,
            weights,
            bias,
        };
        Ok((Fitted::Multi(fitted), Model::Linear(model)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::testdata::Problem;

    /// The converted model predicts linfa's class on every test row and its
    /// probabilities within 1e-6.
    fn check_agreement(p: &Problem) {
        let (fitted, model) = fit(&p.train(), 1.0, 200).unwrap();
        let x = Array2::from_shape_vec(
            (p.y_test.len(), p.n_features),
            p.x_test.iter().map(|&v| f64::from(v)).collect(),
        )
        .unwrap();
        let (classes, probs): (Vec<usize>, Array2<f64>) = match &fitted {
            Fitted::Binary(f) => {
                // linfa gives the probability of its positive class.
                let pos = f.predict_probabilities(&x);
                let p1 = if f.labels().pos.class == 1 {
                    pos
                } else {
                    pos.mapv(|v| 1.0 - v)
                };
                let probs =
                    Array2::from_shape_fn(
                        (p1.len(), 2),
                        |(i, c)| if c == 1 { p1[i] } else { 1.0 - p1[i] },
                    );
                (f.predict(&x).to_vec(), probs)
            }
            Fitted::Multi(f) => (f.predict(&x).to_vec(), f.predict_probabilities(&x)),
        };
        let mut out = vec![0.0f32; p.n_classes];
        let model = model.compile().unwrap();
        let mut scratch = model.scratch();
        let mut worst = 0.0f64;
        for (i, row) in p.test_rows().enumerate() {
            assert_eq!(
                model.predict(row, &mut scratch) as usize,
                classes[i],
                "row {i}"
            );
            model.predict_proba(row, &mut scratch, &mut out);
            for c in 0..p.n_classes {
                worst = worst.max((f64::from(out[c]) - probs[[i, c]]).abs());
            }
        }
        assert!(worst < 1e-6, "largest probability difference {worst}");
    }

    #[test]
    fn binary_conversion_agrees_with_linfa() {
        check_agreement(&Problem::new(1200, 2, 3));
        // linfa names the majority class positive: a majority class 0 must
        // flip the signs, not fail.
        let p = Problem::new(800, 2, 11);
        let zeros = p.y_train.iter().filter(|&&c| c == 0).count();
        assert!(
            2 * zeros > p.y_train.len(),
            "the case needs a majority class 0"
        );
        check_agreement(&p);
    }

    #[test]
    fn multiclass_conversion_agrees_with_linfa() {
        check_agreement(&Problem::new(1200, 3, 4));
    }
}
