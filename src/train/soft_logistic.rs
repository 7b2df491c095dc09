//! Logistic regression on soft targets: cross-entropy against class
//! probabilities (a teacher's), not labels. linfa-logistic fits labels only,
//! so this is its objective with soft targets, minimised by the same solver
//! (argmin's L-BFGS with a Moré–Thuente line search):
//!
//! `Σ_i −Σ_k t_ik log p_ik + α/2 ‖W‖²` (bias not penalised), with `p` the
//! logistic (two classes, one score) or softmax (more) of `W x + b`.
//! With one-hot targets this is exactly the labelled objective, which the
//! tests use to check it against linfa.

use super::TrainData;
use crate::model::{LinearModel, Link, Model};
use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::Array1;

struct Problem<'a> {
    x: &'a [f32],
    d: usize,
    targets: &'a [f32],
    k: usize,
    link: Link,
    alpha: f64,
}

impl Problem<'_> {
    fn outputs(&self) -> usize {
        self.link.n_outputs(self.k)
    }

    /// Loss and gradient together (one pass over the rows).
    fn eval(&self, w: &Array1<f64>) -> (f64, Array1<f64>) {
        let (d, o) = (self.d, self.outputs());
        let bias_at = o * d;
        let mut grad = Array1::<f64>::zeros(w.len());
        let mut loss = 0.0;
        let mut z = vec![0.0f64; o];
        for (row, t) in self
            .x
            .chunks_exact(d)
            .zip(self.targets.chunks_exact(self.k))
        {
            for (j, zj) in z.iter_mut().enumerate() {
                let wj = &w.as_slice().expect("contiguous")[j * d..(j + 1) * d];
                *zj = w[bias_at + j]
                    + wj.iter()
                        .zip(row)
                        .map(|(a, &b)| a * f64::from(b))
                        .sum::<f64>();
            }
            // Residuals p − t per output, and the cross-entropy.
            let resid: Vec<f64> = match self.link {
                Link::Logistic => {
                    let y = f64::from(t[1]);
                    let zz = z[0];
                    // log(1 + e^z) − y z, computed stably.
                    loss += zz.max(0.0) + (-zz.abs()).exp().ln_1p() - y * zz;
                    vec![1.0 / (1.0 + (-zz).exp()) - y]
                }
                Link::Softmax => {
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    z.iter()
                        .zip(t)
                        .map(|(&zj, &tj)| {
                            loss -= f64::from(tj) * (zj - lse);
                            (zj - lse).exp() - f64::from(tj)
                        })
                        .collect()
                }
            };
            for (j, r) in resid.iter().enumerate() {
                for (f, &xf) in row.iter().enumerate() {
                    grad[j * d + f] += r * f64::from(xf);
                }
                grad[bias_at + j] += r;
            }
        }
        for i in 0..bias_at {
            loss += 0.5 * self.alpha * w[i] * w[i];
            grad[i] += self.alpha * w[i];
        }
        (loss, grad)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Array1<f64>;
    type Output = f64;
    fn cost(&self, w: &Array1<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(w).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;
    fn gradient(&self, w: &Array1<f64>) -> Result<Array1<f64>, argmin::core::Error> {
        Ok(self.eval(w).1)
    }
}

/// Fits a logistic (2 classes) or softmax regression to `targets`
/// (`n_rows × n_classes` probabilities; `data.y` is not read).
pub(crate) fn fit(
    data: &TrainData<'_>,
    targets: &[f32],
    alpha: f64,
    max_iterations: u64,
) -> Result<Model, String> {
    let k = data.n_classes;
    let link = if k == 2 {
        Link::Logistic
    } else {
        Link::Softmax
    };
    let problem = Problem {
        x: data.x,
        d: data.n_features,
        targets,
        k,
        link,
        alpha,
    };
    let n_params = problem.outputs() * (data.n_features + 1);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-4)
        .map_err(|e| e.to_string())?;
    let result = Executor::new(problem, solver)
        .configure(|s| s.param(Array1::zeros(n_params)).max_iters(max_iterations))
        .run()
        .map_err(|e| format!("L-BFGS failed: {e}"))?;
    let w = result
        .state
        .best_param
        .ok_or("L-BFGS returned no parameters")?;
    let o = link.n_outputs(k);
    let d = data.n_features;
    let m = LinearModel {
        n_features: d,
        n_classes: k,
        link,
        weights: w.iter().take(o * d).map(|&v| v as f32).collect(),
        bias: w.iter().skip(o * d).map(|&v| v as f32).collect(),
    };
    Ok(Model::Linear(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::boost::one_hot;
    use crate::train::testdata::Problem as Data;

    /// On one-hot targets the objective is linfa-logistic's, so the two fits
    /// must predict the same classes (and nearly the same probabilities).
    #[test]
    fn one_hot_targets_reproduce_linfa() {
        for classes in [2, 3] {
            let p = Data::new(800, classes, 11);
            let td = p.train();
            let ours = fit(&td, &one_hot(td.y, classes), 1.0, 200).unwrap();
            let (_, theirs) = crate::train::logistic::fit(&td, 1.0, 200).unwrap();
            let a = ours.predict_proba_batch(&p.x_test);
            let b = theirs.predict_proba_batch(&p.x_test);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 2e-3,
                "{classes} classes: probabilities differ by {worst}"
            );
        }
    }

    #[test]
    fn soft_targets_are_followed() {
        // Targets that are a known logistic function of the first feature:
        // the fit recovers them.
        let p = Data::new(1000, 2, 4);
        let td = p.train();
        let targets: Vec<f32> =
            td.x.chunks_exact(td.n_features)
                .flat_map(|r| {
                    let q = 1.0 / (1.0 + (-(2.0 * r[0] - 0.5)).exp());
                    [1.0 - q, q]
                })
                .collect();
        let Model::Linear(m) = fit(&td, &targets, 1e-6, 500).unwrap() else {
            unreachable!()
        };
        assert!((m.weights[0] - 2.0).abs() < 0.05, "{:?}", m.weights);
        assert!((m.bias[0] + 0.5).abs() < 0.05, "{:?}", m.bias);
        assert!(m.weights[1..].iter().all(|w| w.abs() < 0.05));
    }
}
