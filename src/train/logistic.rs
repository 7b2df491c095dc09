//! L2-regularised logistic regression, in house: on labels (the
//! `logistic_regression` candidate) and on soft targets (a teacher's class
//! probabilities, for distillation). One objective, one solver:
//!
//! `(1/n) (Σ_i −Σ_k t_ik log p_ik + α/2 ‖W‖²)` (bias not penalised), with `p`
//! the logistic (two classes, one score) or softmax (more, one score per
//! class) of `W x + b`, and `t` one-hot labels or the soft targets. This is
//! linfa-logistic's objective divided by `n`, which is scikit-learn's
//! (`LogisticRegression(C = 1/α)`, lbfgs: mean loss + 1/(2Cn) ‖W‖²); the
//! minimiser is the same. It is minimised with argmin's L-BFGS (10 pairs,
//! as scipy's) and a Moré–Thuente line search, from zero.
//!
//! With class weights, row `i`'s loss term is multiplied by `s_i =
//! class_weight[y_i]`, as scikit-learn's `class_weight` multiplies its
//! `sample_weight`. Balanced weights sum to `n`, so the mean and the
//! penalty keep scikit-learn's scaling (`1/(C Σ s_i)`).
//!
//! Why in house rather than linfa-logistic (kept as a dev-dependency: the
//! tests check this trainer reaches its optimum): on the shared splits,
//! pinned to one core, linfa fitted w2 (8,000 × 30) in 0.035 s against
//! scikit-learn's 0.013 s. Its loss and gradient are separate passes
//! allocating ndarray temporaries, and its stopping rule is a gradient norm
//! of 1e-4 on the *summed* loss, n times stricter than scikit-learn's.
//! Here one pass gives loss and gradient, without allocating per row, on
//! rayon's threads; the measured figures are in BENCHMARKS.md.
//!
//! Stopping rule, matched to scikit-learn's lbfgs (`gtol = tol = 1e-4` on
//! the largest absolute gradient component of the mean objective,
//! `maxiter = max_iter`): argmin stops when the *Euclidean norm* of the
//! gradient of the mean objective is below 1e-4, which implies scikit-learn's
//! criterion (and is at most √p times stricter), or after `max_iterations`.

use super::TrainData;
use crate::model::{LinearModel, Link, Model};
use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::Array1;
use rayon::prelude::*;
use std::cell::RefCell;

/// Rows per partial sum of the loss and gradient. Fixed, not derived from
/// the thread count: partial sums are added in chunk order, so the fit is
/// the same bit for bit on any number of threads.
const CHUNK_ROWS: usize = 256;

/// Gradient tolerance on the mean objective (scikit-learn's `tol`).
const GRAD_TOL: f64 = 1e-4;

/// L-BFGS memory (scipy's `maxcor` default, which scikit-learn keeps).
const LBFGS_MEMORY: usize = 10;

/// What the model is fitted to.
#[derive(Clone, Copy)]
pub(super) enum Targets<'a> {
    /// Class indices, one per row.
    Labels(&'a [u32]),
    /// Class probabilities, `n_rows × n_classes`.
    Soft(&'a [f32]),
}

impl Targets<'_> {
    /// `t_ij`: row `i`'s target for class `j` of `k`.
    #[inline]
    fn get(self, i: usize, j: usize, k: usize) -> f64 {
        match self {
            Targets::Labels(y) => f64::from(u8::from(y[i] as usize == j)),
            Targets::Soft(t) => f64::from(t[i * k + j]),
        }
    }
}

/// The data and the objective's constants; shared by the threads.
struct Objective<'a> {
    x: &'a [f32],
    d: usize,
    n: usize,
    targets: Targets<'a>,
    k: usize,
    link: Link,
    alpha: f64,
    /// Per-row loss weights as `class_weight[y[i]]` (scikit-learn's
    /// `class_weight`, which multiplies each row's loss); `None` weighs
    /// every row 1.
    row_weight: Option<RowWeight<'a>>,
}

/// A row's weight from its class: `class_weight[y[i]]`.
#[derive(Clone, Copy)]
struct RowWeight<'a> {
    y: &'a [u32],
    class_weight: &'a [f64],
}

/// `Σ w_f x_f` in f64, four independent sums so the loop vectorises (the
/// order is fixed, so the result is too).
#[inline]
fn dot(w: &[f64], x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let wc = w.chunks_exact(4);
    let xc = x.chunks_exact(4);
    let tail: f64 = wc
        .remainder()
        .iter()
        .zip(xc.remainder())
        .map(|(a, &b)| a * f64::from(b))
        .sum();
    for (a, b) in wc.zip(xc) {
        for l in 0..4 {
            acc[l] += a[l] * f64::from(b[l]);
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `g += r x`.
#[inline]
fn axpy(g: &mut [f64], r: f64, x: &[f32]) {
    for (gf, &xf) in g.iter_mut().zip(x) {
        *gf += r * f64::from(xf);
    }
}

impl Objective<'_> {
    fn outputs(&self) -> usize {
        self.link.n_outputs(self.k)
    }

    fn n_params(&self) -> usize {
        self.outputs() * (self.d + 1)
    }

    /// The summed cross-entropy of the rows `rows` (starting at row
    /// `first`), adding their gradient to `grad` (weights, then biases).
    fn chunk(&self, w: &[f64], first: usize, rows: &[f32], grad: &mut [f64]) -> f64 {
        let (d, o, k) = (self.d, self.outputs(), self.k);
        let (weights, bias) = w.split_at(o * d);
        let (gw, gb) = grad.split_at_mut(o * d);
        // Scores, then residuals p − t, one per output.
        let mut z = vec![0.0f64; o];
        let mut loss = 0.0;
        for (r, row) in rows.chunks_exact(d).enumerate() {
            let i = first + r;
            let s_i = self
                .row_weight
                .map_or(1.0, |rw| rw.class_weight[rw.y[i] as usize]);
            let before = loss;
            for (j, zj) in z.iter_mut().enumerate() {
                *zj = bias[j] + dot(&weights[j * d..(j + 1) * d], row);
            }
            match self.link {
                Link::Logistic => {
                    let y = self.targets.get(i, 1, k);
                    let s = z[0];
                    // log(1 + e^s) − y s and the logistic of s, computed
                    // stably from one exponential.
                    let e = (-s.abs()).exp();
                    loss += s.max(0.0) + e.ln_1p() - y * s;
                    let p = if s >= 0.0 {
                        1.0 / (1.0 + e)
                    } else {
                        e / (1.0 + e)
                    };
                    z[0] = p - y;
                }
                Link::Softmax => {
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    for (j, zj) in z.iter_mut().enumerate() {
                        let t = self.targets.get(i, j, k);
                        let log_p = *zj - lse;
                        loss -= t * log_p;
                        *zj = log_p.exp() - t;
                    }
                }
            }
            if self.row_weight.is_some() {
                loss = before + s_i * (loss - before);
                z.iter_mut().for_each(|zj| *zj *= s_i);
            }
            for (j, &rj) in z.iter().enumerate() {
                axpy(&mut gw[j * d..(j + 1) * d], rj, row);
                gb[j] += rj;
            }
        }
        loss
    }

    /// The mean objective and its gradient, in one pass over the rows.
    fn eval(&self, w: &[f64]) -> (f64, Vec<f64>) {
        let p = self.n_params();
        let partials: Vec<(f64, Vec<f64>)> = self
            .x
            .par_chunks(CHUNK_ROWS * self.d)
            .enumerate()
            .map(|(c, rows)| {
                let mut g = vec![0.0; p];
                let l = self.chunk(w, c * CHUNK_ROWS, rows, &mut g);
                (l, g)
            })
            .collect();
        // Added in chunk order whatever thread computed them.
        let mut loss = 0.0;
        let mut grad = vec![0.0; p];
        for (l, g) in &partials {
            loss += l;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        let weights = self.outputs() * self.d;
        for (wi, gi) in w[..weights].iter().zip(&mut grad[..weights]) {
            loss += 0.5 * self.alpha * wi * wi;
            *gi += self.alpha * wi;
        }
        let inv_n = 1.0 / self.n as f64;
        grad.iter_mut().for_each(|g| *g *= inv_n);
        (loss * inv_n, grad)
    }
}

/// The objective as argmin sees it. argmin asks for the cost and the
/// gradient separately, almost always at the same point (the line search
/// asks for both at each trial step, L-BFGS again for the gradient at the
/// accepted one), so the last evaluation is kept and reused.
struct Problem<'a> {
    objective: Objective<'a>,
    last: RefCell<Option<Evaluation>>,
}

/// The objective and its gradient at a point.
struct Evaluation {
    at: Array1<f64>,
    loss: f64,
    grad: Array1<f64>,
}

impl Problem<'_> {
    fn eval(&self, w: &Array1<f64>) -> (f64, Array1<f64>) {
        if let Some(e) = &*self.last.borrow() {
            if e.at == w {
                return (e.loss, e.grad.clone());
            }
        }
        let (loss, grad) = match w.as_slice() {
            Some(s) => self.objective.eval(s),
            None => self.objective.eval(&w.to_vec()),
        };
        let grad = Array1::from(grad);
        *self.last.borrow_mut() = Some(Evaluation {
            at: w.clone(),
            loss,
            grad: grad.clone(),
        });
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

/// Fits a logistic (2 classes) or softmax regression to the labels `data.y`,
/// each row's loss weighted by its class's `class_weight` when given.
pub(crate) fn fit(
    data: &TrainData<'_>,
    alpha: f64,
    max_iterations: u64,
    class_weight: Option<&[f64]>,
) -> Result<Model, String> {
    fit_to(
        data,
        Targets::Labels(data.y),
        alpha,
        max_iterations,
        GRAD_TOL,
        class_weight,
    )
}

/// Fits a logistic (2 classes) or softmax regression to `targets`
/// (`n_rows × n_classes` probabilities); `data.y` is read only to weigh
/// rows by `class_weight`.
pub(crate) fn fit_soft(
    data: &TrainData<'_>,
    targets: &[f32],
    alpha: f64,
    max_iterations: u64,
    class_weight: Option<&[f64]>,
) -> Result<Model, String> {
    if targets.len() != data.n_rows() * data.n_classes {
        return Err(format!(
            "{} soft targets for {} rows of {} classes",
            targets.len(),
            data.n_rows(),
            data.n_classes
        ));
    }
    fit_to(
        data,
        Targets::Soft(targets),
        alpha,
        max_iterations,
        GRAD_TOL,
        class_weight,
    )
}

pub(super) fn fit_to(
    data: &TrainData<'_>,
    targets: Targets<'_>,
    alpha: f64,
    max_iterations: u64,
    grad_tol: f64,
    class_weight: Option<&[f64]>,
) -> Result<Model, String> {
    let (d, k) = (data.n_features, data.n_classes);
    if d == 0 {
        return Err("logistic regression needs at least one feature".into());
    }
    if k < 2 {
        return Err("logistic regression needs at least two classes".into());
    }
    let link = if k == 2 {
        Link::Logistic
    } else {
        Link::Softmax
    };
    let objective = Objective {
        x: data.x,
        d,
        n: data.n_rows(),
        targets,
        k,
        link,
        alpha,
        row_weight: class_weight.map(|class_weight| RowWeight {
            y: data.y,
            class_weight,
        }),
    };
    let n_params = objective.n_params();
    let problem = Problem {
        objective,
        last: RefCell::new(None),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), LBFGS_MEMORY)
        .with_tolerance_grad(grad_tol)
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

    fn linear(m: Model) -> LinearModel {
        match m {
            Model::Linear(m) => m,
            _ => unreachable!("the trainer returns linear models"),
        }
    }

    /// The objective is linfa-logistic's (divided by n): fitted to a
    /// tolerance far below the default, the coefficients are linfa's; at
    /// the default tolerance the classes predicted are linfa's on every test
    /// row and the probabilities nearly so.
    #[test]
    fn reaches_linfa_logistics_optimum() {
        for classes in [2, 3] {
            let p = Data::new(800, classes, 11);
            let td = p.train();
            let (_, theirs) = crate::train::linfa_logistic::fit(&td, 1.0, 200).unwrap();
            let ours = fit(&td, 1.0, 200, None).unwrap();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            ours.compile().unwrap().predict_batch(&p.x_test, &mut a);
            theirs.compile().unwrap().predict_batch(&p.x_test, &mut b);
            assert_eq!(a, b, "{classes} classes: predicted classes");
            let pa = ours.compile().unwrap().predict_proba_batch(&p.x_test);
            let pb = theirs.compile().unwrap().predict_proba_batch(&p.x_test);
            let worst = pa
                .iter()
                .zip(&pb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "{classes} classes: probabilities by {worst}");

            let tight = linear(fit_to(&td, Targets::Labels(td.y), 1.0, 1000, 1e-9, None).unwrap());
            let theirs = linear(theirs);
            let worst = tight
                .weights
                .iter()
                .zip(&theirs.weights)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{classes} classes: weights by {worst}");
            // Softmax biases are unpenalised, so fixed only up to a shared
            // shift: compare them centred.
            let centred = |b: &[f32]| -> Vec<f32> {
                let mean = b.iter().sum::<f32>() / b.len() as f32;
                b.iter().map(|v| v - mean).collect()
            };
            let (bt, bl) = if classes == 2 {
                (tight.bias.clone(), theirs.bias.clone())
            } else {
                (centred(&tight.bias), centred(&theirs.bias))
            };
            let worst = bt
                .iter()
                .zip(&bl)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{classes} classes: biases by {worst}");
        }
    }

    /// Partial sums over fixed row chunks, added in order: the same model,
    /// bit for bit, on 1, 2 and 3 threads (the problems span many chunks).
    #[test]
    fn the_fit_does_not_depend_on_the_thread_count() {
        for classes in [2, 3] {
            let p = Data::new(4000, classes, 5);
            let td = p.train();
            assert!(td.n_rows() > 8 * CHUNK_ROWS);
            let objective = Objective {
                x: td.x,
                d: td.n_features,
                n: td.n_rows(),
                targets: Targets::Labels(td.y),
                k: classes,
                link: if classes == 2 {
                    Link::Logistic
                } else {
                    Link::Softmax
                },
                alpha: 1.0,
                row_weight: None,
            };
            let w: Vec<f64> = (0..objective.n_params())
                .map(|i| (i as f64 * 0.37).sin())
                .collect();
            let one = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let (m1, e1) = one.install(|| (fit(&td, 1.0, 200, None).unwrap(), objective.eval(&w)));
            for threads in [2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (m, e) =
                    pool.install(|| (fit(&td, 1.0, 200, None).unwrap(), objective.eval(&w)));
                assert_eq!(e.0.to_bits(), e1.0.to_bits(), "{threads} threads: loss");
                assert!(
                    e.1.iter()
                        .zip(&e1.1)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{threads} threads: gradient"
                );
                assert_eq!(m, m1, "{threads} threads: model");
            }
        }
    }

    /// The loss and gradient of the fast pass, against a plain per-row
    /// computation of the formula.
    #[test]
    fn loss_and_gradient_follow_the_formula() {
        for classes in [2, 3] {
            let p = Data::new(700, classes, 2);
            let td = p.train();
            let (d, n) = (td.n_features, td.n_rows());
            let link = if classes == 2 {
                Link::Logistic
            } else {
                Link::Softmax
            };
            let o = link.n_outputs(classes);
            let objective = Objective {
                x: td.x,
                d,
                n,
                targets: Targets::Labels(td.y),
                k: classes,
                link,
                alpha: 0.7,
                row_weight: None,
            };
            let w: Vec<f64> = (0..o * (d + 1))
                .map(|i| 0.3 * (i as f64 * 1.3).cos())
                .collect();
            let (loss, grad) = objective.eval(&w);
            let mut want = 0.0;
            let mut want_g = vec![0.0; w.len()];
            for i in 0..n {
                let row = td.row(i);
                let z: Vec<f64> = (0..o)
                    .map(|j| {
                        w[o * d + j]
                            + (0..d)
                                .map(|f| w[j * d + f] * f64::from(row[f]))
                                .sum::<f64>()
                    })
                    .collect();
                let probs: Vec<f64> = if o == 1 {
                    let q = 1.0 / (1.0 + (-z[0]).exp());
                    vec![1.0 - q, q]
                } else {
                    let s: f64 = z.iter().map(|v| v.exp()).sum();
                    z.iter().map(|v| v.exp() / s).collect()
                };
                want -= probs[td.y[i] as usize].ln();
                for j in 0..o {
                    let class = if o == 1 { 1 } else { j };
                    let r = probs[class] - f64::from(u8::from(td.y[i] as usize == class));
                    for f in 0..d {
                        want_g[j * d + f] += r * f64::from(row[f]);
                    }
                    want_g[o * d + j] += r;
                }
            }
            for i in 0..o * d {
                want += 0.35 * w[i] * w[i];
                want_g[i] += 0.7 * w[i];
            }
            let n = n as f64;
            assert!((loss - want / n).abs() < 1e-12, "{loss} vs {}", want / n);
            for (g, wg) in grad.iter().zip(&want_g) {
                assert!((g - wg / n).abs() < 1e-12, "{g} vs {}", wg / n);
            }
        }
    }

    /// Labels and their one-hot targets are the same objective, evaluated
    /// the same way: the same model, bit for bit.
    #[test]
    fn labels_and_one_hot_targets_fit_the_same_model() {
        for classes in [2, 3] {
            let p = Data::new(800, classes, 7);
            let td = p.train();
            let a = fit(&td, 1.0, 200, None).unwrap();
            let b = fit_soft(&td, &one_hot(td.y, classes), 1.0, 200, None).unwrap();
            assert_eq!(a, b, "{classes} classes");
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
        let m = linear(fit_soft(&td, &targets, 1e-6, 500, None).unwrap());
        assert!((m.weights[0] - 2.0).abs() < 0.05, "{:?}", m.weights);
        assert!((m.bias[0] + 0.5).abs() < 0.05, "{:?}", m.bias);
        assert!(m.weights[1..].iter().all(|w| w.abs() < 0.05));
    }

    #[test]
    fn soft_targets_of_the_wrong_length_are_refused() {
        let p = Data::new(100, 2, 1);
        let td = p.train();
        let e = fit_soft(&td, &[0.5; 3], 1.0, 10, None).unwrap_err();
        assert_eq!(
            e,
            format!("3 soft targets for {} rows of 2 classes", td.n_rows())
        );
    }
}
