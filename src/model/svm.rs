//! Kernel support vector classifiers ([`SvmModel`]), laid out as libsvm
//! (and so scikit-learn's `SVC` and ONNX's `SVMClassifier`) store them:
//! support vectors grouped by class, one-vs-one dual coefficients, one
//! intercept per pair of classes, and optionally Platt's sigmoid per pair
//! with pairwise coupling for probabilities. A saved form that runs as it
//! is stored. Uses [`argmax`] only.
//!
//! A row's cost is one kernel evaluation per support vector, computed once
//! and shared by every pair of classes; the vectors sit contiguously (row
//! major) so that the kernel loop streams through them, and the loops are
//! written with [`LANES`] independent accumulators, which the compiler
//! turns into SIMD adds without reassociating anything itself (the sum's
//! order is fixed by the code, so every build predicts the same bits).

use super::argmax;
use serde::{Deserialize, Serialize};

/// Accumulators in the kernel loops: 8 `f32`s fill an AVX register, two SSE
/// or NEON ones.
const LANES: usize = 8;

/// The kernel `K(x, v)`, with scikit-learn's parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Kernel {
    /// `x·v`.
    Linear,
    /// `exp(-gamma ‖x − v‖²)`.
    Rbf { gamma: f32 },
    /// `(gamma x·v + coef0)^degree`.
    Poly { gamma: f32, coef0: f32, degree: u32 },
    /// `tanh(gamma x·v + coef0)`.
    Sigmoid { gamma: f32, coef0: f32 },
}

impl Kernel {
    /// The kernel's name, as scikit-learn and ONNX spell it (lower case).
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Linear => "linear",
            Kernel::Rbf { .. } => "rbf",
            Kernel::Poly { .. } => "poly",
            Kernel::Sigmoid { .. } => "sigmoid",
        }
    }

    /// `K(x, v)` in `f32`, the run-time precision.
    #[inline]
    pub fn eval(&self, x: &[f32], v: &[f32]) -> f32 {
        match *self {
            Kernel::Linear => dot(x, v),
            Kernel::Rbf { gamma } => (-gamma * dist2(x, v)).exp(),
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => powi(gamma * dot(x, v) + coef0, degree),
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot(x, v) + coef0).tanh(),
        }
    }
}

#[inline]
fn powi(base: f32, exp: u32) -> f32 {
    // `powi` takes an i32; degrees are checked to fit when the model is.
    base.powi(exp as i32)
}

/// `Σ x_i v_i` over [`LANES`] accumulators, in a fixed order.
#[inline]
fn dot(x: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (xc, vc) = (x.chunks_exact(LANES), v.chunks_exact(LANES));
    let (xr, vr) = (xc.remainder(), vc.remainder());
    for (a, b) in xc.zip(vc) {
        for l in 0..LANES {
            acc[l] += a[l] * b[l];
        }
    }
    for (l, (a, b)) in xr.iter().zip(vr).enumerate() {
        acc[l] += a * b;
    }
    acc.iter().sum()
}

/// `Σ (x_i − v_i)²` over [`LANES`] accumulators, in a fixed order.
#[inline]
fn dist2(x: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (xc, vc) = (x.chunks_exact(LANES), v.chunks_exact(LANES));
    let (xr, vr) = (xc.remainder(), vc.remainder());
    for (a, b) in xc.zip(vc) {
        for l in 0..LANES {
            let d = a[l] - b[l];
            acc[l] += d * d;
        }
    }
    for (l, (a, b)) in xr.iter().zip(vr).enumerate() {
        let d = a - b;
        acc[l] += d * d;
    }
    acc.iter().sum()
}

/// Platt's sigmoid per pair of classes (libsvm's `probA`, `probB`):
/// P(first class of the pair) = 1 / (1 + exp(A f + B)) for decision value
/// `f`; the pairs' probabilities are coupled into class probabilities by
/// Wu, Lin and Weng's second method (JMLR 5, 2004), as libsvm does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

/// A kernel SVM classifier (see the module docs). Pairs of classes `(i, j)`,
/// `i < j`, come in libsvm's order: (0,1), (0,2), …, (0,k−1), (1,2), ….
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmModel {
    pub n_features: usize,
    pub n_classes: usize,
    pub kernel: Kernel,
    /// Support vectors of each class, in class order (libsvm's `nSV`).
    pub per_class: Vec<u32>,
    /// Row-major `n_sv × n_features`, grouped by class as `per_class` says.
    pub vectors: Vec<f32>,
    /// Row-major `(n_classes − 1) × n_sv` (libsvm's `sv_coef`): for a vector
    /// of class `c`, row `j − 1` (if `j > c`) or `j` (if `j < c`) is its
    /// coefficient `y α` in the pair of `c` and `j`.
    pub dual_coef: Vec<f32>,
    /// One per pair: the decision value is `Σ coef K(x, v) + intercept`
    /// (libsvm's `−rho`); positive votes for the pair's first class.
    pub intercepts: Vec<f32>,
    /// Platt's sigmoids, when the model was trained with probabilities;
    /// otherwise probabilities are the vote shares.
    pub platt: Option<Platt>,
}

/// Probabilities are kept inside `[MIN_PROB, 1 − MIN_PROB]` per pair before
/// coupling (libsvm's `min_prob`).
const MIN_PROB: f32 = 1e-7;

impl SvmModel {
    pub fn n_sv(&self) -> usize {
        self.vectors.len() / self.n_features.max(1)
    }

    pub fn n_pairs(&self) -> usize {
        self.n_classes * (self.n_classes - 1) / 2
    }

    /// Scratch floats [`SvmModel::decisions`] and
    /// [`SvmModel::predict_proba`] need: kernel values, pair decisions, and
    /// the coupling's `k × k` matrix and `k` products.
    pub fn scratch_len(&self) -> usize {
        let k = self.n_classes;
        self.n_sv() + self.n_pairs() + k * k + k
    }

    /// The one-vs-one decision values into `dec` (one per pair), using
    /// `kv` (`n_sv` floats) for the kernel values.
    #[inline]
    pub fn decisions(&self, row: &[f32], kv: &mut [f32], dec: &mut [f32]) {
        let d = self.n_features;
        let n_sv = self.n_sv();
        let row = &row[..d];
        for (k, v) in kv[..n_sv]
            .iter_mut()
            .zip(self.vectors.chunks_exact(d.max(1)))
        {
            *k = self.kernel.eval(row, v);
        }
        let starts = |c: usize| {
            self.per_class[..c]
                .iter()
                .map(|&n| n as usize)
                .sum::<usize>()
        };
        let mut p = 0;
        for i in 0..self.n_classes {
            let (si, ni) = (starts(i), self.per_class[i] as usize);
            for j in i + 1..self.n_classes {
                let (sj, nj) = (starts(j), self.per_class[j] as usize);
                let ci = &self.dual_coef[(j - 1) * n_sv..j * n_sv];
                let cj = &self.dual_coef[i * n_sv..(i + 1) * n_sv];
                let sum = dot(&ci[si..si + ni], &kv[si..si + ni])
                    + dot(&cj[sj..sj + nj], &kv[sj..sj + nj]);
                dec[p] = sum + self.intercepts[p];
                p += 1;
            }
        }
    }

    /// The class with the most pair wins; a tie goes to the lowest class
    /// (libsvm's and scikit-learn's rule). `votes` holds `n_classes` floats.
    #[inline]
    fn vote(&self, dec: &[f32], votes: &mut [f32]) -> u32 {
        votes.fill(0.0);
        let mut p = 0;
        for i in 0..self.n_classes {
            for j in i + 1..self.n_classes {
                votes[if dec[p] > 0.0 { i } else { j }] += 1.0;
                p += 1;
            }
        }
        argmax(&votes[..self.n_classes])
    }

    /// The class from the one-vs-one vote (as scikit-learn's `SVC.predict`,
    /// with or without probabilities).
    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        let (kv, rest) = scratch.split_at_mut(self.n_sv());
        let (dec, votes) = rest.split_at_mut(self.n_pairs());
        self.decisions(row, kv, dec);
        self.vote(dec, votes)
    }

    /// Class probabilities: Platt-coupled when the model has sigmoids,
    /// otherwise each class's share of the pair votes.
    #[inline]
    pub fn predict_proba(&self, row: &[f32], scratch: &mut [f32], out: &mut [f32]) {
        let (kv, rest) = scratch.split_at_mut(self.n_sv());
        let (dec, rest) = rest.split_at_mut(self.n_pairs());
        self.decisions(row, kv, dec);
        self.proba_from(dec, rest, out);
    }

    /// [`Self::predict`]'s class and [`Self::predict_proba`]'s probabilities
    /// from one computation of the decision values (the kernel rows are
    /// the cost).
    #[inline]
    pub fn predict_with_proba(&self, row: &[f32], scratch: &mut [f32], out: &mut [f32]) -> u32 {
        let (kv, rest) = scratch.split_at_mut(self.n_sv());
        let (dec, rest) = rest.split_at_mut(self.n_pairs());
        self.decisions(row, kv, dec);
        let class = self.vote(dec, &mut out[..self.n_classes]);
        self.proba_from(dec, rest, out);
        class
    }

    /// The probabilities from the pairs' decision values `dec`; `rest` is
    /// the scratch after them.
    #[inline]
    fn proba_from(&self, dec: &[f32], rest: &mut [f32], out: &mut [f32]) {
        let k = self.n_classes;
        let Some(platt) = &self.platt else {
            self.vote(dec, &mut out[..k]);
            let pairs = self.n_pairs() as f32;
            out[..k].iter_mut().for_each(|v| *v /= pairs);
            return;
        };
        // Wu, Lin and Weng's matrix Q, built straight from the pairs'
        // probabilities r_ij = P(i | i or j), r_ji = 1 − r_ij:
        // Q_tt = Σ_{j≠t} r_jt², Q_tj = −r_jt r_tj.
        let (q, qp) = rest.split_at_mut(k * k);
        q.fill(0.0);
        let mut p = 0;
        for i in 0..k {
            for j in i + 1..k {
                let r = sigmoid(dec[p], platt.a[p], platt.b[p]).clamp(MIN_PROB, 1.0 - MIN_PROB);
                if k == 2 {
                    out[0] = r;
                    out[1] = 1.0 - r;
                    return;
                }
                q[i * k + j] = -r * (1.0 - r);
                q[j * k + i] = -r * (1.0 - r);
                q[i * k + i] += (1.0 - r) * (1.0 - r);
                q[j * k + j] += r * r;
                p += 1;
            }
        }
        couple(q, &mut qp[..k], &mut out[..k]);
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let (d, k) = (self.n_features, self.n_classes);
        if k < 2 || self.per_class.len() != k {
            return Err(format!(
                "SVM with {k} classes has {} support vector counts",
                self.per_class.len()
            ));
        }
        let n_sv: usize = self.per_class.iter().map(|&n| n as usize).sum();
        if d == 0 || self.vectors.len() != n_sv * d {
            return Err(format!(
                "SVM with {n_sv} support vectors × {d} features has {} values",
                self.vectors.len()
            ));
        }
        if self.dual_coef.len() != (k - 1) * n_sv || self.intercepts.len() != self.n_pairs() {
            return Err(format!(
                "SVM with {n_sv} support vectors and {k} classes has {} dual coefficients and {} intercepts",
                self.dual_coef.len(),
                self.intercepts.len()
            ));
        }
        if let Some(p) = &self.platt {
            if p.a.len() != self.n_pairs() || p.b.len() != self.n_pairs() {
                return Err("SVM: Platt parameters do not match the pairs of classes".into());
            }
        }
        if let Kernel::Poly { degree, .. } = self.kernel {
            if i32::try_from(degree).is_err() {
                return Err(format!("SVM: polynomial degree {degree} is too large"));
            }
        }
        Ok(())
    }
}

/// An [`SvmModel`] whose support vectors are stored as int8 with one
/// symmetric scale per feature (`v = code × scale`, scale = the feature's
/// largest |value| over the vectors ÷ 127): a quarter of the vectors'
/// bytes in the package. It runs as its dequantized float model
/// ([`QuantSvm::dequantized`]), so its predictions are that model's and the
/// single-row cost is the parent's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantSvm {
    /// The parent with `vectors` empty: everything but the vectors.
    pub svm: SvmModel,
    /// Row-major `n_sv × n_features`, as `SvmModel::vectors`.
    pub codes: Vec<i8>,
    /// One per feature.
    pub scales: Vec<f32>,
}

impl QuantSvm {
    pub fn from_svm(m: &SvmModel) -> QuantSvm {
        let d = m.n_features.max(1);
        let mut scales = vec![0.0f32; m.n_features];
        for v in m.vectors.chunks_exact(d) {
            for (s, x) in scales.iter_mut().zip(v) {
                *s = s.max(x.abs());
            }
        }
        // A feature that is zero in every vector keeps scale 1 (codes 0).
        scales
            .iter_mut()
            .for_each(|s| *s = if *s > 0.0 { *s / 127.0 } else { 1.0 });
        let codes = m
            .vectors
            .chunks_exact(d)
            .flat_map(|v| {
                v.iter()
                    .zip(&scales)
                    .map(|(x, s)| (x / s).round().clamp(-127.0, 127.0) as i8)
            })
            .collect();
        QuantSvm {
            svm: SvmModel {
                vectors: Vec::new(),
                ..m.clone()
            },
            codes,
            scales,
        }
    }

    /// The float model this one stands for: vectors `code × scale`.
    pub fn dequantized(&self) -> SvmModel {
        let d = self.svm.n_features.max(1);
        let vectors = self
            .codes
            .chunks_exact(d)
            .flat_map(|c| c.iter().zip(&self.scales).map(|(&q, s)| f32::from(q) * s))
            .collect();
        SvmModel {
            vectors,
            ..self.svm.clone()
        }
    }

    pub fn n_sv(&self) -> usize {
        self.codes.len() / self.svm.n_features.max(1)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let d = self.svm.n_features;
        if self.scales.len() != d || d == 0 || self.codes.len() % d != 0 {
            return Err(format!(
                "int8 SVM with {d} features has {} scales and {} codes",
                self.scales.len(),
                self.codes.len()
            ));
        }
        if !self.svm.vectors.is_empty() {
            return Err("int8 SVM also holds float support vectors".into());
        }
        self.dequantized().check()
    }
}

/// libsvm's `sigmoid_predict`, written to avoid overflow on either side.
#[inline]
fn sigmoid(dec: f32, a: f32, b: f32) -> f32 {
    let f = dec * a + b;
    if f >= 0.0 {
        let e = (-f).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + f.exp())
    }
}

/// libsvm's `multiclass_probability` (Wu, Lin and Weng 2004, method 2):
/// `q` holds their matrix Q (`k × k`), `qp` is scratch, `p` receives the
/// class probabilities. Iterates a bounded number of times, so a row costs a
/// bounded amount.
#[inline]
fn couple(q: &[f32], qp: &mut [f32], p: &mut [f32]) {
    let k = p.len();
    let max_iter = 100.max(k);
    let eps = 0.005 / k as f32;
    p.fill(1.0 / k as f32);
    for _ in 0..max_iter {
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = (0..k).map(|j| q[t * k + j] * p[j]).sum();
            pqp += p[t] * qp[t];
        }
        let max_error = (0..k).fold(0.0f32, |m, t| m.max((qp[t] - pqp).abs()));
        if max_error < eps {
            break;
        }
        for t in 0..k {
            let diff = (-qp[t] + pqp) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes, two support vectors at ±1 on one axis: the decision is
    /// the kernel difference, positive (class 0) nearer the first vector.
    fn toy(kernel: Kernel) -> SvmModel {
        SvmModel {
            n_features: 2,
            n_classes: 2,
            kernel,
            per_class: vec![1, 1],
            vectors: vec![1.0, 0.0, -1.0, 0.0],
            dual_coef: vec![1.0, -1.0],
            intercepts: vec![0.0],
            platt: None,
        }
    }

    #[test]
    fn kernels_and_votes_follow_libsvm() {
        let m = toy(Kernel::Rbf { gamma: 0.5 });
        m.check().unwrap();
        let mut s = vec![0.0; m.scratch_len()];
        assert_eq!(m.predict(&[0.8, 3.0], &mut s), 0);
        assert_eq!(m.predict(&[-0.2, 0.0], &mut s), 1);
        let (mut kv, mut dec) = ([0.0; 2], [0.0; 1]);
        m.decisions(&[0.0, 1.0], &mut kv, &mut dec);
        assert_eq!(kv, [(-1.0f32).exp(), (-1.0f32).exp()]);
        let x: Vec<f32> = (0..19).map(|i| i as f32 * 0.1 - 0.7).collect();
        let v: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.05).collect();
        let naive: f32 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
        assert!((dot(&x, &v) - naive).abs() < 1e-5);
        let poly = Kernel::Poly {
            gamma: 2.0,
            coef0: 1.0,
            degree: 3,
        };
        assert_eq!(poly.eval(&[1.0, 2.0], &[0.5, 0.25]), 27.0);
        let sig = Kernel::Sigmoid {
            gamma: 1.0,
            coef0: 0.0,
        };
        assert_eq!(sig.eval(&[1.0, 0.0], &[0.5, 9.0]), 0.5f32.tanh());
    }

    #[test]
    fn int8_vectors_round_to_within_half_a_step_per_feature() {
        let mut m = toy(Kernel::Rbf { gamma: 0.5 });
        m.vectors = vec![1.0, 0.0, -0.3, 0.0];
        let q = QuantSvm::from_svm(&m);
        q.check().unwrap();
        // Feature 0: scale 1/127; feature 1 is zero everywhere: scale 1.
        assert_eq!(q.scales, [1.0 / 127.0, 1.0]);
        assert_eq!(q.codes, [127, 0, -38, 0]);
        let back = q.dequantized();
        for (a, b) in back.vectors.iter().zip(&m.vectors) {
            assert!((a - b).abs() <= 0.5 / 127.0, "{a} {b}");
        }
        assert_eq!(back.dual_coef, m.dual_coef);
        let mut bad = q.clone();
        bad.codes.pop();
        assert!(bad.check().unwrap_err().contains("codes"));
    }

    #[test]
    fn coupled_probabilities_sum_to_one_and_follow_the_pairs() {
        // Three classes, one vector each; class 0's vector is nearest.
        let m = SvmModel {
            n_features: 1,
            n_classes: 3,
            kernel: Kernel::Rbf { gamma: 1.0 },
            per_class: vec![1, 1, 1],
            vectors: vec![0.0, 1.0, 2.0],
            // Vector of class 0: pairs (0,1), (0,2); class 1: (0,1), (1,2);
            // class 2: (0,2), (1,2).
            dual_coef: vec![1.0, -1.0, -1.0, 1.0, 1.0, -1.0],
            intercepts: vec![0.0; 3],
            platt: Some(Platt {
                a: vec![-3.0; 3],
                b: vec![0.0; 3],
            }),
        };
        m.check().unwrap();
        let mut s = vec![0.0; m.scratch_len()];
        let mut p = [0.0; 3];
        m.predict_proba(&[0.1], &mut s, &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
        assert!(p[0] > p[1] && p[1] > p[2], "{p:?}");
        assert_eq!(m.predict(&[0.1], &mut s), 0);
        assert_eq!(m.predict(&[1.9], &mut s), 2);
        let mut bad = m.clone();
        bad.intercepts.pop();
        assert!(bad.check().unwrap_err().contains("intercepts"));
    }
}
