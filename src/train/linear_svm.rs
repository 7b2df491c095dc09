//! Linear SVMs as scikit-learn's `LinearSVC` (liblinear) trains them, in
//! house: L2-regularised hinge or squared hinge loss, one-vs-rest for more
//! than two classes, the intercept learned as the weight of a constant
//! feature 1 (liblinear's `intercept_scaling = 1`, so it is regularised
//! too, as in scikit-learn). Per binary problem (labels ±1):
//!
//! `min ½‖w‖² + C Σ_i ξ(y_i w·x_i)`, `ξ(m) = max(0, 1 − m)` (hinge) or
//! `max(0, 1 − m)²` (squared hinge),
//!
//! solved in its dual by coordinate descent (Hsieh, Chang, Lin, Keerthi and
//! Sundararajan, "A dual coordinate descent method for large-scale linear
//! SVM", ICML 2008; liblinear's `solve_l2r_l1l2_svc`):
//! one α per row, in a seeded random order each pass, with its shrinking
//! of variables stuck at a bound, until the projected gradients of every
//! row span at most `tol` (liblinear's stopping rule) or after
//! `max_iterations` passes. The objective is strictly convex in `w`, so the
//! optimum is the one scikit-learn's solver approaches, primal or dual.
//!
//! The model is the IR's linear form: one score row for two classes
//! (positive: class 1, the logistic link), one per class otherwise (the
//! first highest score wins, as `LinearSVC.predict`'s argmax; softmax
//! link). `LinearSVC` has no probabilities: the link's are the scores
//! squashed, not calibrated.

use super::TrainData;
use crate::model::{LinearModel, Link, Model};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The loss, as `LinearSVC(loss=…)` names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvmLoss {
    Hinge,
    /// scikit-learn's default.
    #[default]
    SquaredHinge,
}

impl SvmLoss {
    pub fn name(self) -> &'static str {
        match self {
            SvmLoss::Hinge => "hinge",
            SvmLoss::SquaredHinge => "squared_hinge",
        }
    }
}

/// `w·x` over the `d` features of `x` plus the constant 1 (`w[d]`).
#[inline]
fn dot1(w: &[f64], x: &[f64]) -> f64 {
    let d = x.len();
    w[..d].iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + w[d]
}

/// One binary problem: `positive[i]` says whether row `i` is +1; `c` is
/// `(C_+, C_−)`, the cost of the positive and of the negative rows
/// (liblinear's `Cp`, `Cn`). Returns `w` (length `d + 1`, the intercept
/// last). `x` is the rows in f64.
#[allow(clippy::too_many_arguments)]
fn fit_binary(
    x: &[f64],
    d: usize,
    positive: &dyn Fn(usize) -> bool,
    c: (f64, f64),
    loss: SvmLoss,
    tol: f64,
    max_iterations: u64,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let n = x.len() / d.max(1);
    let row = |i: usize| &x[i * d..(i + 1) * d];
    // liblinear: the hinge bounds a row's α by its C; the squared hinge
    // adds 1/(2C) to its diagonal and leaves α unbounded.
    let bounds = |c: f64| match loss {
        SvmLoss::Hinge => (0.0, c),
        SvmLoss::SquaredHinge => (0.5 / c, f64::INFINITY),
    };
    let y: Vec<f64> = (0..n)
        .map(|i| if positive(i) { 1.0 } else { -1.0 })
        .collect();
    let bound = |i: usize| bounds(if y[i] > 0.0 { c.0 } else { c.1 });
    let diag: Vec<f64> = (0..n).map(|i| bound(i).0).collect();
    let upper: Vec<f64> = (0..n).map(|i| bound(i).1).collect();
    let qd: Vec<f64> = (0..n)
        .map(|i| diag[i] + 1.0 + row(i).iter().map(|v| v * v).sum::<f64>())
        .collect();
    let mut alpha = vec![0.0f64; n];
    let mut w = vec![0.0f64; d + 1];
    let mut index: Vec<usize> = (0..n).collect();
    // liblinear's shrinking: a variable at a bound whose gradient points
    // outward by more than last pass's extreme projected gradient leaves the
    // active set until the active set has converged; then every variable
    // is checked again, and the fit stops only when all of them pass.
    let mut active = n;
    let (mut pg_max_old, mut pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut passes = 0;
    while passes < max_iterations {
        rand::seq::SliceRandom::shuffle(&mut index[..active], rng);
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let xi = row(i);
            let g = y[i] * dot1(&w, xi) - 1.0 + diag[i] * alpha[i];
            let pg = if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.min(0.0)
            } else if alpha[i] == upper[i] {
                if g < pg_min_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.max(0.0)
            } else {
                g
            };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).clamp(0.0, upper[i]);
                let step = (alpha[i] - old) * y[i];
                for (wj, &xj) in w[..d].iter_mut().zip(xi) {
                    *wj += step * xj;
                }
                w[d] += step;
            }
            s += 1;
        }
        passes += 1;
        if pg_max - pg_min <= tol {
            if active == n {
                break;
            }
            active = n;
            pg_max_old = f64::INFINITY;
            pg_min_old = f64::NEG_INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        pg_min_old = if pg_min >= 0.0 {
            f64::NEG_INFINITY
        } else {
            pg_min
        };
    }
    w
}

/// Fits the linear SVM: one binary problem for two classes (class 1
/// positive), one per class against the rest otherwise. `class_weight`
/// (per class) multiplies `C` as liblinear's `weight` (scikit-learn's
/// `class_weight`) does: for two classes each class's rows cost their
/// class's `C`; one class against the rest, its rows cost its `C` and the
/// rest cost `C` unweighted (liblinear's `train` passes `param->C` as the
/// negative cost there).
pub(super) fn fit(
    data: &TrainData<'_>,
    c: f64,
    loss: SvmLoss,
    tol: f64,
    max_iterations: u64,
    class_weight: Option<&[f64]>,
    seed: u64,
) -> Result<Model, String> {
    let (k, d) = (data.n_classes, data.n_features);
    if k < 2 {
        return Err("a linear SVM needs at least two classes".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x11_5e_b5);
    // Widened once: every pass reads every active row.
    let x: Vec<f64> = data.x.iter().map(|&v| f64::from(v)).collect();
    let problems: Vec<u32> = if k == 2 {
        vec![1]
    } else {
        (0..k as u32).collect()
    };
    let (mut weights, mut bias) = (Vec::new(), Vec::new());
    let weighted = |class: usize| c * class_weight.map_or(1.0, |w| w[class]);
    for class in problems {
        let costs = if k == 2 {
            (weighted(1), weighted(0))
        } else {
            (weighted(class as usize), c)
        };
        let w = fit_binary(
            &x,
            d,
            &|i| data.y[i] == class,
            costs,
            loss,
            tol,
            max_iterations,
            &mut rng,
        );
        weights.extend(w[..d].iter().map(|&v| v as f32));
        bias.push(w[d] as f32);
    }
    Ok(Model::Linear(LinearModel {
        n_features: d,
        n_classes: k,
        link: if k == 2 {
            Link::Logistic
        } else {
            Link::Softmax
        },
        weights,
        bias,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::testdata::Problem;

    /// The fit minimises the primal objective (½‖w‖² + C Σ loss, the
    /// intercept a weight): moving any weight of any score row either way
    /// raises it; and the same seed gives the same model.
    #[test]
    fn the_fit_reaches_the_dual_optimum_and_is_deterministic() {
        for k in [2, 3] {
            let p = Problem::new(300, k, 9);
            let data = p.train();
            for loss in [SvmLoss::Hinge, SvmLoss::SquaredHinge] {
                let a = fit(&data, 1.0, loss, 1e-6, 10_000, None, 4).unwrap();
                let b = fit(&data, 1.0, loss, 1e-6, 10_000, None, 4).unwrap();
                assert_eq!(a, b, "{loss:?}: same seed, same model");
                let Model::Linear(m) = &a else { panic!() };
                assert_eq!(m.weights.len(), m.n_outputs() * p.n_features);
                // Primal objective at this w against a perturbed w: the
                // optimum is lower than any nearby point.
                let objective = |w: &[f64], class: u32| -> f64 {
                    let mut o = 0.5 * w.iter().map(|v| v * v).sum::<f64>();
                    for i in 0..data.n_rows() {
                        let y = if (k == 2 && data.y[i] == 1) || (k > 2 && data.y[i] == class) {
                            1.0
                        } else {
                            -1.0
                        };
                        let xi: Vec<f64> = data.row(i).iter().map(|&v| f64::from(v)).collect();
                        let m = y * dot1(w, &xi);
                        let h = (1.0 - m).max(0.0);
                        o += match loss {
                            SvmLoss::Hinge => h,
                            SvmLoss::SquaredHinge => h * h,
                        };
                    }
                    o
                };
                let d = p.n_features;
                for (r, class) in (0..m.n_outputs()).zip(if k == 2 { 1.. } else { 0.. }) {
                    let mut w: Vec<f64> = m.weights[r * d..(r + 1) * d]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect();
                    w.push(f64::from(m.bias[r]));
                    let best = objective(&w, class);
                    for j in 0..=d {
                        for step in [-1e-2, 1e-2] {
                            let mut v = w.clone();
                            v[j] += step;
                            assert!(
                                objective(&v, class) >= best - 1e-3,
                                "{loss:?}, {k} classes, row {r}: moving weight {j} by {step} lowers the objective"
                            );
                        }
                    }
                }
            }
        }
    }
}
