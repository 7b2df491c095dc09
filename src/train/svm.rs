//! Kernel SVM classification (C-SVC), trained in house as libsvm trains it
//! (and so scikit-learn's `SVC`, which is libsvm): SMO with the
//! second-order working-set selection of Fan, Chen and Lin (JMLR 6, 2005),
//! an LRU cache of kernel rows, one-vs-one for more than two classes, and
//! Platt's sigmoid fitted on 5-fold cross-validated decision values with
//! the Newton method of Lin, Lin and Weng (Machine Learning 68, 2007).
//!
//! Why in house: linfa-svm keeps its hyperplane private (the IR needs the
//! support vectors and dual coefficients), has no one-vs-one multiclass
//! and no Platt probabilities; smartcore's `SVC` is binary only, has no
//! probabilities and no kernel cache. Following libsvm step by step is
//! also what makes the classes agree with scikit-learn's on the test rows
//! (`tests/svm_agreement.rs`), and the crate already trains every other
//! family in house.
//!
//! Shrinking (libsvm's heuristic that skips bound variables) is left out:
//! it changes the path to the optimum, not the optimum, and it is not
//! needed to fit as fast as scikit-learn (`BENCHMARKS.md`, kernel SVMs).

use super::TrainData;
use crate::model::{Kernel, Model, Platt, SvmModel};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The kernel a `svm` candidate uses (`kernel = "rbf"` in a config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SvmKernel {
    #[default]
    Rbf,
    Linear,
    Poly,
    Sigmoid,
}

impl SvmKernel {
    /// The name a config writes.
    pub fn name(self) -> &'static str {
        match self {
            SvmKernel::Rbf => "rbf",
            SvmKernel::Linear => "linear",
            SvmKernel::Poly => "poly",
            SvmKernel::Sigmoid => "sigmoid",
        }
    }
}

/// `gamma` as scikit-learn takes it: `"scale"` (1 / (d · Var(X)), the
/// default), `"auto"` (1 / d) or a positive number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gamma {
    Named(GammaRule),
    Value(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GammaRule {
    Scale,
    Auto,
}

impl Default for Gamma {
    fn default() -> Gamma {
        Gamma::Named(GammaRule::Scale)
    }
}

/// What to fit: the `svm` candidate's parameters, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvmParams {
    pub kernel: SvmKernel,
    pub c: f64,
    pub gamma: Gamma,
    pub degree: u32,
    pub coef0: f64,
    pub tol: f64,
    pub probability: bool,
    /// scikit-learn's `cache_size`, in MB.
    pub cache_mb: f64,
}

/// libsvm's `TAU`: the curvature used when a pair's is not positive.
const TAU: f64 = 1e-12;

/// The kernel on training rows, in `f64` as libsvm computes it.
struct KernelFn<'a> {
    x: &'a [f64],
    d: usize,
    /// ‖x_i‖², for the RBF kernel's ‖a‖² + ‖b‖² − 2 a·b (libsvm's form).
    sq: Vec<f64>,
    kind: SvmKernel,
    gamma: f64,
    coef0: f64,
    degree: u32,
}

impl<'a> KernelFn<'a> {
    fn new(x: &'a [f64], d: usize, p: &SvmParams, gamma: f64) -> KernelFn<'a> {
        let sq = x.chunks_exact(d).map(|r| dot64(r, r)).collect();
        KernelFn {
            x,
            d,
            sq,
            kind: p.kernel,
            gamma,
            coef0: p.coef0,
            degree: p.degree,
        }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    fn k(&self, i: usize, j: usize) -> f64 {
        let dot = dot64(self.row(i), self.row(j));
        match self.kind {
            SvmKernel::Linear => dot,
            SvmKernel::Rbf => (-self.gamma * (self.sq[i] + self.sq[j] - 2.0 * dot)).exp(),
            SvmKernel::Poly => (self.gamma * dot + self.coef0).powi(self.degree as i32),
            SvmKernel::Sigmoid => (self.gamma * dot + self.coef0).tanh(),
        }
    }
}

fn dot64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Rows of Q (`Q_st = y_s y_t K(x_s, x_t)`) of one binary problem, kept in
/// `f32` (libsvm's `Qfloat`) under a memory budget, least recently used
/// evicted first.
struct QCache<'k> {
    kernel: &'k KernelFn<'k>,
    /// Training row of each problem variable.
    idx: &'k [usize],
    y: &'k [f64],
    rows: Vec<Option<Box<[f32]>>>,
    stamp: Vec<u64>,
    clock: u64,
    cached: usize,
    max_rows: usize,
}

impl<'k> QCache<'k> {
    fn new(kernel: &'k KernelFn<'k>, idx: &'k [usize], y: &'k [f64], mb: f64) -> QCache<'k> {
        let l = idx.len();
        let bytes = (mb * 1024.0 * 1024.0) as usize;
        // At least two rows: an update reads Q_i and Q_j together.
        let max_rows = (bytes / (4 * l.max(1))).max(2);
        QCache {
            kernel,
            idx,
            y,
            rows: vec![None; l],
            stamp: vec![0; l],
            clock: 0,
            cached: 0,
            max_rows,
        }
    }

    /// Makes row `i` resident, evicting the least recently used row if the
    /// budget is full (never the row used just before, so two rows asked
    /// for in turn are both resident).
    fn ensure(&mut self, i: usize) {
        self.clock += 1;
        self.stamp[i] = self.clock;
        if self.rows[i].is_some() {
            return;
        }
        if self.cached >= self.max_rows {
            let oldest = (0..self.rows.len())
                .filter(|&t| self.rows[t].is_some())
                .min_by_key(|&t| self.stamp[t]);
            if let Some(t) = oldest {
                self.rows[t] = None;
                self.cached -= 1;
            }
        }
        let (a, ya) = (self.idx[i], self.y[i]);
        let row: Box<[f32]> = self
            .idx
            .iter()
            .zip(self.y)
            .map(|(&b, &yb)| (ya * yb * self.kernel.k(a, b)) as f32)
            .collect();
        self.rows[i] = Some(row);
        self.cached += 1;
    }

    fn get(&self, i: usize) -> &[f32] {
        // `ensure(i)` ran first, and at most one other row was made since.
        self.rows[i]
            .as_deref()
            .expect("row made resident by ensure")
    }
}

/// One binary C-SVC problem's solution: `α_s y_s` per variable, and the
/// decision's constant `ρ` (decision = Σ α_s y_s K(x_s, x) − ρ).
struct Binary {
    coef: Vec<f64>,
    rho: f64,
}

/// The bounds of a binary problem's α: `C` times the class weight of the
/// positive rows (`positive`) and of the negative ones (libsvm's `Cp`,
/// `Cn`; both `C` without class weights).
#[derive(Debug, Clone, Copy)]
struct Bounds {
    positive: f64,
    negative: f64,
}

impl Bounds {
    fn of(&self, y: f64) -> f64 {
        if y > 0.0 {
            self.positive
        } else {
            self.negative
        }
    }
}

/// libsvm's `Solver::Solve` for C-SVC (`p = −1`, bound `C_t` of row `t`
/// from `bounds`) without shrinking: rows `idx` of the training data with
/// labels `y` (±1).
fn solve(kernel: &KernelFn<'_>, idx: &[usize], y: &[f64], p: &SvmParams, bounds: Bounds) -> Binary {
    let l = idx.len();
    let cb: Vec<f64> = y.iter().map(|&v| bounds.of(v)).collect();
    let qd: Vec<f64> = idx.iter().map(|&i| kernel.k(i, i)).collect();
    let mut cache = QCache::new(kernel, idx, y, p.cache_mb);
    let mut alpha = vec![0.0f64; l];
    let mut g = vec![-1.0f64; l];
    let upper = |t: usize, a: f64| a >= cb[t];
    let lower = |a: f64| a <= 0.0;
    // libsvm's limit: max(10^7, 100 l) iterations.
    let max_iter = (100 * l).max(10_000_000);
    for _ in 0..max_iter {
        // Working set: i maximises −y_t G_t over I_up; j minimises the
        // second-order objective decrease over I_low.
        let (mut gmax, mut gmax_idx) = (f64::NEG_INFINITY, usize::MAX);
        for t in 0..l {
            let v = -y[t] * g[t];
            let movable = if y[t] > 0.0 {
                !upper(t, alpha[t])
            } else {
                !lower(alpha[t])
            };
            if movable && v >= gmax {
                gmax = v;
                gmax_idx = t;
            }
        }
        if gmax_idx == usize::MAX {
            break;
        }
        let i = gmax_idx;
        cache.ensure(i);
        let (mut gmax2, mut gmin_idx, mut obj_min) = (f64::NEG_INFINITY, usize::MAX, f64::INFINITY);
        {
            let qi = cache.get(i);
            for t in 0..l {
                let movable = if y[t] > 0.0 {
                    !lower(alpha[t])
                } else {
                    !upper(t, alpha[t])
                };
                if !movable {
                    continue;
                }
                let yg = y[t] * g[t];
                gmax2 = gmax2.max(yg);
                let grad_diff = gmax + yg;
                if grad_diff > 0.0 {
                    let quad = qd[i] + qd[t] - 2.0 * y[i] * y[t] * f64::from(qi[t]);
                    let obj = -(grad_diff * grad_diff) / if quad > 0.0 { quad } else { TAU };
                    if obj <= obj_min {
                        gmin_idx = t;
                        obj_min = obj;
                    }
                }
            }
        }
        if gmax + gmax2 < p.tol || gmin_idx == usize::MAX {
            break;
        }
        let j = gmin_idx;
        cache.ensure(j);
        let (qi, qj) = (cache.get(i), cache.get(j));
        let (old_i, old_j) = (alpha[i], alpha[j]);
        let (c_i, c_j) = (cb[i], cb[j]);
        if y[i] != y[j] {
            let mut quad = qd[i] + qd[j] + 2.0 * f64::from(qi[j]);
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (-g[i] - g[j]) / quad;
            let diff = alpha[i] - alpha[j];
            alpha[i] += delta;
            alpha[j] += delta;
            if diff > 0.0 {
                if alpha[j] < 0.0 {
                    alpha[j] = 0.0;
                    alpha[i] = diff;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = -diff;
            }
            if diff > c_i - c_j {
                if alpha[i] > c_i {
                    alpha[i] = c_i;
                    alpha[j] = c_i - diff;
                }
            } else if alpha[j] > c_j {
                alpha[j] = c_j;
                alpha[i] = c_j + diff;
            }
        } else {
            let mut quad = qd[i] + qd[j] - 2.0 * f64::from(qi[j]);
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (g[i] - g[j]) / quad;
            let sum = alpha[i] + alpha[j];
            alpha[i] -= delta;
            alpha[j] += delta;
            if sum > c_i {
                if alpha[i] > c_i {
                    alpha[i] = c_i;
                    alpha[j] = sum - c_i;
                }
            } else if alpha[j] < 0.0 {
                alpha[j] = 0.0;
                alpha[i] = sum;
            }
            if sum > c_j {
                if alpha[j] > c_j {
                    alpha[j] = c_j;
                    alpha[i] = sum - c_j;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = sum;
            }
        }
        let (di, dj) = (alpha[i] - old_i, alpha[j] - old_j);
        for t in 0..l {
            g[t] += f64::from(qi[t]) * di + f64::from(qj[t]) * dj;
        }
    }
    // ρ: the mean of y G over free variables, else the middle of the
    // bounds the others give (libsvm's `calculate_rho`).
    let (mut ub, mut lb, mut sum_free, mut n_free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0);
    for t in 0..l {
        let yg = y[t] * g[t];
        if upper(t, alpha[t]) {
            if y[t] < 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else if lower(alpha[t]) {
            if y[t] > 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else {
            n_free += 1;
            sum_free += yg;
        }
    }
    let rho = if n_free > 0 {
        sum_free / n_free as f64
    } else {
        (ub + lb) / 2.0
    };
    Binary {
        coef: alpha.iter().zip(y).map(|(a, y)| a * y).collect(),
        rho,
    }
}

/// The decision value of training row `row` under a binary solution over
/// rows `idx`.
fn decision(kernel: &KernelFn<'_>, idx: &[usize], b: &Binary, row: usize) -> f64 {
    idx.iter()
        .zip(&b.coef)
        .filter(|(_, &c)| c != 0.0)
        .map(|(&s, &c)| c * kernel.k(s, row))
        .sum::<f64>()
        - b.rho
}

/// libsvm's `svm_binary_svc_probability`: decision values from 5-fold
/// cross-validation (rows shuffled by `rng`, each fold's fit with the
/// pair's `bounds`), then Platt's sigmoid.
fn platt(
    kernel: &KernelFn<'_>,
    idx: &[usize],
    y: &[f64],
    p: &SvmParams,
    bounds: Bounds,
    rng: &mut ChaCha8Rng,
) -> (f64, f64) {
    const FOLDS: usize = 5;
    let l = idx.len();
    let mut perm: Vec<usize> = (0..l).collect();
    perm.shuffle(rng);
    let mut dec = vec![0.0; l];
    for f in 0..FOLDS {
        let (begin, end) = (f * l / FOLDS, (f + 1) * l / FOLDS);
        let train: Vec<usize> = perm[..begin].iter().chain(&perm[end..]).copied().collect();
        let sub_idx: Vec<usize> = train.iter().map(|&t| idx[t]).collect();
        let sub_y: Vec<f64> = train.iter().map(|&t| y[t]).collect();
        let pos = sub_y.iter().filter(|&&v| v > 0.0).count();
        let neg = sub_y.len() - pos;
        for &t in &perm[begin..end] {
            dec[t] = match (pos, neg) {
                (0, 0) => 0.0,
                (_, 0) => 1.0,
                (0, _) => -1.0,
                _ => f64::NAN,
            };
        }
        if pos > 0 && neg > 0 {
            let b = solve(kernel, &sub_idx, &sub_y, p, bounds);
            for &t in &perm[begin..end] {
                dec[t] = decision(kernel, &sub_idx, &b, idx[t]);
            }
        }
    }
    sigmoid_train(&dec, y)
}

/// Platt's sigmoid `P(+1 | f) = 1 / (1 + exp(A f + B))` fitted to decision
/// values `dec` with labels `y` (±1): libsvm's `sigmoid_train` (Newton's
/// method with backtracking, Lin, Lin and Weng 2007).
fn sigmoid_train(dec: &[f64], y: &[f64]) -> (f64, f64) {
    let prior1 = y.iter().filter(|&&v| v > 0.0).count() as f64;
    let prior0 = y.len() as f64 - prior1;
    let (max_iter, min_step, sigma, eps) = (100, 1e-10, 1e-12, 1e-5);
    let hi = (prior1 + 1.0) / (prior1 + 2.0);
    let lo = 1.0 / (prior0 + 2.0);
    let t: Vec<f64> = y.iter().map(|&v| if v > 0.0 { hi } else { lo }).collect();
    let objective = |a: f64, b: f64| -> f64 {
        dec.iter()
            .zip(&t)
            .map(|(&f, &t)| {
                let z = f * a + b;
                if z >= 0.0 {
                    t * z + (-z).exp().ln_1p()
                } else {
                    (t - 1.0) * z + z.exp().ln_1p()
                }
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((prior0 + 1.0) / (prior1 + 1.0)).ln());
    let mut fval = objective(a, b);
    for _ in 0..max_iter {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (sigma, sigma, 0.0, 0.0, 0.0);
        for (&f, &t) in dec.iter().zip(&t) {
            let z = f * a + b;
            let (p, q) = if z >= 0.0 {
                let e = (-z).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = z.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += f * f * d2;
            h22 += d2;
            h21 += f * d2;
            let d1 = t - p;
            g1 += f * d1;
            g2 += d1;
        }
        if g1.abs() < eps && g2.abs() < eps {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        while step >= min_step {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = objective(na, nb);
            if nf < fval + 0.0001 * step * gd {
                (a, b, fval) = (na, nb, nf);
                break;
            }
            step /= 2.0;
        }
        if step < min_step {
            break;
        }
    }
    (a, b)
}

/// Fits a C-SVC on `data` (one-vs-one over every pair of classes present)
/// and writes it as an [`SvmModel`]. `class_weight` (per class) multiplies
/// `C` for that class's rows, as libsvm's `weight` (scikit-learn's
/// `class_weight`) does. `seed` drives only the cross-validation folds of
/// Platt's sigmoid.
pub(super) fn fit(
    data: &TrainData<'_>,
    p: &SvmParams,
    class_weight: Option<&[f64]>,
    seed: u64,
) -> Result<Model, String> {
    let (n, d, k) = (data.n_rows(), data.n_features, data.n_classes);
    if k < 2 {
        return Err("an SVM needs at least 2 classes".into());
    }
    if d == 0 {
        return Err("an SVM needs at least one feature".into());
    }
    let x: Vec<f64> = data.x.iter().map(|&v| f64::from(v)).collect();
    if x.iter().any(|v| !v.is_finite()) {
        return Err("training features hold NaN or infinity".into());
    }
    let gamma = match p.gamma {
        Gamma::Value(g) => g,
        Gamma::Named(GammaRule::Auto) => 1.0 / d as f64,
        Gamma::Named(GammaRule::Scale) => {
            // scikit-learn: 1 / (d · X.var()), the variance of every value.
            let mean = x.iter().sum::<f64>() / x.len() as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64;
            if var > 0.0 {
                1.0 / (d as f64 * var)
            } else {
                1.0
            }
        }
    };
    let kernel = KernelFn::new(&x, d, p, gamma);
    // Rows by class, in row order (libsvm groups them so, with classes in
    // ascending order as scikit-learn's copy sorts them).
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &c) in data.y.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    if let Some(c) = by_class.iter().position(Vec::is_empty) {
        return Err(format!(
            "class {c} has no training rows; an SVM is fitted on every pair of classes"
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Per pair: the coefficient of each row of both classes, and ρ.
    let mut pair_coef: Vec<Vec<f64>> = Vec::new();
    let mut rho = Vec::new();
    let (mut prob_a, mut prob_b) = (Vec::new(), Vec::new());
    let mut nonzero = vec![false; n];
    for i in 0..k {
        for j in i + 1..k {
            let idx: Vec<usize> = by_class[i].iter().chain(&by_class[j]).copied().collect();
            let y: Vec<f64> = idx
                .iter()
                .map(|&r| if data.y[r] as usize == i { 1.0 } else { -1.0 })
                .collect();
            let weight = |c: usize| class_weight.map_or(1.0, |w| w[c]);
            let bounds = Bounds {
                positive: p.c * weight(i),
                negative: p.c * weight(j),
            };
            if p.probability {
                let (a, b) = platt(&kernel, &idx, &y, p, bounds, &mut rng);
                prob_a.push(a as f32);
                prob_b.push(b as f32);
            }
            let b = solve(&kernel, &idx, &y, p, bounds);
            for (&r, &c) in idx.iter().zip(&b.coef) {
                if c != 0.0 {
                    nonzero[r] = true;
                }
            }
            pair_coef.push(b.coef);
            rho.push(b.rho);
        }
    }
    // Support vectors: every row with a non-zero coefficient in some pair,
    // grouped by class.
    let svs: Vec<usize> = by_class
        .iter()
        .flat_map(|rows| rows.iter().copied().filter(|&r| nonzero[r]))
        .collect();
    let per_class: Vec<u32> = by_class
        .iter()
        .map(|rows| rows.iter().filter(|&&r| nonzero[r]).count() as u32)
        .collect();
    let n_sv = svs.len();
    let mut position = vec![usize::MAX; n];
    for (s, &r) in svs.iter().enumerate() {
        position[r] = s;
    }
    let mut dual_coef = vec![0.0f32; (k - 1) * n_sv];
    let mut pair = 0;
    for i in 0..k {
        for j in i + 1..k {
            let rows = by_class[i].iter().chain(&by_class[j]);
            for (&r, &c) in rows.zip(&pair_coef[pair]) {
                if position[r] == usize::MAX {
                    continue;
                }
                // A vector of class i keeps its pair-(i, j) coefficient in
                // row j − 1; one of class j in row i (libsvm's `sv_coef`).
                let line = if data.y[r] as usize == i { j - 1 } else { i };
                dual_coef[line * n_sv + position[r]] = c as f32;
            }
            pair += 1;
        }
    }
    let vectors: Vec<f32> = svs
        .iter()
        .flat_map(|&r| data.row(r).iter().copied())
        .collect();
    let g = gamma as f32;
    let kernel = match p.kernel {
        SvmKernel::Linear => Kernel::Linear,
        SvmKernel::Rbf => Kernel::Rbf { gamma: g },
        SvmKernel::Poly => Kernel::Poly {
            gamma: g,
            coef0: p.coef0 as f32,
            degree: p.degree,
        },
        SvmKernel::Sigmoid => Kernel::Sigmoid {
            gamma: g,
            coef0: p.coef0 as f32,
        },
    };
    let model = SvmModel {
        n_features: d,
        n_classes: k,
        kernel,
        per_class,
        vectors,
        dual_coef,
        intercepts: rho.iter().map(|&r| -r as f32).collect(),
        platt: p.probability.then_some(Platt {
            a: prob_a,
            b: prob_b,
        }),
    };
    model.check()?;
    Ok(Model::Svm(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::testdata::Problem;

    fn params(kernel: SvmKernel, probability: bool) -> SvmParams {
        SvmParams {
            kernel,
            c: 1.0,
            gamma: Gamma::default(),
            degree: 3,
            coef0: 0.0,
            tol: 1e-3,
            probability,
            cache_mb: 200.0,
        }
    }

    fn accuracy(m: &Model, p: &Problem) -> f64 {
        let c = m.compile().unwrap();
        let mut s = c.scratch();
        let right = p
            .test_rows()
            .zip(&p.y_test)
            .filter(|(r, &y)| c.predict(r, &mut s) == y)
            .count();
        right as f64 / p.y_test.len() as f64
    }

    #[test]
    fn every_kernel_learns_and_the_fit_is_deterministic() {
        let p = Problem::new(400, 3, 5);
        for kernel in [
            SvmKernel::Rbf,
            SvmKernel::Linear,
            SvmKernel::Poly,
            SvmKernel::Sigmoid,
        ] {
            let m = fit(&p.train(), &params(kernel, false), None, 1).unwrap();
            let acc = accuracy(&m, &p);
            // Chance is 1/3; the sigmoid kernel is the weakest of the four.
            assert!(acc > 0.5, "{kernel:?}: {acc}");
            assert_eq!(m, fit(&p.train(), &params(kernel, false), None, 1).unwrap());
        }
    }

    #[test]
    fn platt_probabilities_sum_to_one_and_a_tiny_cache_changes_nothing() {
        let p = Problem::new(300, 3, 9);
        let m = fit(&p.train(), &params(SvmKernel::Rbf, true), None, 4).unwrap();
        let c = m.compile().unwrap();
        let mut s = c.scratch();
        let mut proba = [0.0; 3];
        let mut agree = 0;
        for r in p.test_rows() {
            c.predict_proba(r, &mut s, &mut proba);
            assert!((proba.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{proba:?}");
            agree += usize::from(crate::model::argmax(&proba) == c.predict(r, &mut s));
        }
        // Platt's probabilities and the vote may disagree near the
        // boundary (scikit-learn documents the same), rarely.
        assert!(agree * 10 >= p.y_test.len() * 9, "{agree}");
        // Two cached rows at a time: the same model, slower.
        let tiny = SvmParams {
            cache_mb: 0.0,
            ..params(SvmKernel::Rbf, false)
        };
        assert_eq!(
            fit(&p.train(), &tiny, None, 4).unwrap(),
            fit(&p.train(), &params(SvmKernel::Rbf, false), None, 4).unwrap()
        );
    }

    #[test]
    fn sigmoid_train_separates_well_ordered_values() {
        let dec = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0];
        let y = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0];
        let (a, b) = sigmoid_train(&dec, &y);
        // P(+1 | f) = 1 / (1 + exp(A f + B)) rises with f: A < 0.
        assert!(a < 0.0 && b.abs() < 1e-6, "{a} {b}");
    }
}
