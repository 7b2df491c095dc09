//! Support-vector reduction: a kernel SVM's single-row cost is one kernel
//! evaluation per support vector, so keeping fewer vectors is the direct
//! way to a faster SVM. [`reduce_svm`] keeps a share of each class's
//! vectors and re-fits, pair by pair, the kept vectors' coefficients and the
//! intercept to the parent's decision values on the training rows.
//!
//! Which vectors: in each class the `fraction` with the largest summed
//! |dual coefficient| over their one-vs-one pairs (ties to the earlier
//! vector), at least one per class. Each class keeps the same share, so no
//! pair loses one side. A vector is kept or dropped in all its pairs at once,
//! as the layout shares vectors between pairs.
//!
//! Why the re-fit: with `C` small most vectors sit at the bound, their
//! |coefficients| all equal `C`, and the unbounded ones (on the margin,
//! smaller coefficients) are the ones that place the boundary; simply
//! dropping vectors moves every decision value by the dropped terms, which
//! on exercise 4's SVM (most of its vectors at the bound) leaves worse than
//! chance accuracy at half the vectors (BENCHMARKS.md, 2026-12-06).
//! Instead, with the kept vectors as fixed centres (a reduced-set method in the
//! sense of Burges, "Simplified support vector decision rules", ICML 1996,
//! with the centres chosen rather than optimised), each pair `(i, j)` gets
//! the coefficients `β` and intercept `b` minimising
//!
//! `Σ_x (f_ij(x) − Σ_v β_v K(x, v) − b)² + λ ‖β‖²`
//!
//! over the training rows `x` of classes `i` and `j`, `f_ij` the parent's
//! decision value: a least-squares fit of the parent's decision function
//! where the pair decides, solved by Cholesky on the normal equations;
//! `λ` = [`RIDGE`] × the mean squared column norm keeps them well
//! conditioned when kernel columns are nearly alike. With
//! [`Refit::None`] the kept vectors keep the parent's coefficients and
//! intercepts (the plain truncation, for comparison). Platt's sigmoids are
//! kept as fitted for the parent.

use crate::model::SvmModel;
use crate::train::TrainData;
use serde::{Deserialize, Serialize};

/// The ridge term relative to the mean squared kernel column norm.
pub const RIDGE: f64 = 1e-6;

/// What a reduced SVM's coefficients are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refit {
    /// Re-fitted per pair to the parent's decision values on the training
    /// rows (least squares, see the module docs).
    #[default]
    LeastSquares,
    /// The parent's coefficients and intercepts, the dropped vectors' terms
    /// simply gone.
    None,
}

/// How many vectors [`reduce_svm`] keeps of a class with `n`: the
/// `fraction`, rounded, at least one (when it has any).
pub fn kept_of_class(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).round() as usize).clamp(n.min(1), n)
}

/// How many vectors [`reduce_svm`] keeps of `m` at `fraction`.
pub fn kept_vectors(m: &SvmModel, fraction: f64) -> usize {
    m.per_class
        .iter()
        .map(|&n| kept_of_class(n as usize, fraction))
        .sum()
}

/// `m` keeping, per class, the `fraction` of its support vectors of largest
/// summed |dual coefficient| (see the module docs), in their order; with
/// [`Refit::LeastSquares`] and training rows, each pair's coefficients and
/// intercept re-fitted (a pair without rows keeps the parent's). At a
/// fraction that keeps every vector the result is `m` itself.
pub fn reduce_svm(
    m: &SvmModel,
    fraction: f64,
    refit: Refit,
    data: Option<&TrainData<'_>>,
) -> SvmModel {
    let (n_sv, k, d) = (m.n_sv(), m.n_classes, m.n_features);
    let class_of = class_of_vectors(m);
    let weight: Vec<f64> = (0..n_sv)
        .map(|v| {
            (0..k - 1)
                .map(|r| f64::from(m.dual_coef[r * n_sv + v].abs()))
                .sum()
        })
        .collect();
    let mut keep = vec![false; n_sv];
    for c in 0..k {
        let mut of_class: Vec<usize> = (0..n_sv).filter(|&v| class_of[v] == c).collect();
        // Largest first; ties to the earlier vector (a stable sort).
        of_class.sort_by(|&a, &b| weight[b].total_cmp(&weight[a]));
        for &v in &of_class[..kept_of_class(of_class.len(), fraction)] {
            keep[v] = true;
        }
    }
    let idx: Vec<usize> = (0..n_sv).filter(|&v| keep[v]).collect();
    if idx.len() == n_sv {
        return m.clone();
    }
    let mut per_class = vec![0u32; k];
    for &v in &idx {
        per_class[class_of[v]] += 1;
    }
    let vectors = idx
        .iter()
        .flat_map(|&v| m.vectors[v * d..(v + 1) * d].iter().copied())
        .collect();
    let mut dual_coef: Vec<f32> = (0..k - 1)
        .flat_map(|r| idx.iter().map(move |&v| m.dual_coef[r * n_sv + v]))
        .collect();
    let mut intercepts = m.intercepts.clone();
    if let (Refit::LeastSquares, Some(data)) = (refit, data) {
        if data.n_features == d {
            refit_pairs(m, &idx, &class_of, data, &mut dual_coef, &mut intercepts);
        }
    }
    SvmModel {
        per_class,
        vectors,
        dual_coef,
        intercepts,
        ..m.clone()
    }
}

/// The class of each support vector (the layout groups them by class).
fn class_of_vectors(m: &SvmModel) -> Vec<usize> {
    m.per_class
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c, n as usize))
        .collect()
}

/// The row of `dual_coef` holding the coefficient, in pair `(i, j)`, of a
/// vector of class `c` (`c` is `i` or `j`): the layout's rule.
fn coef_row(c: usize, i: usize, j: usize) -> usize {
    if c == i {
        j - 1
    } else {
        i
    }
}

/// The least-squares re-fit of every pair (module docs). `idx`: the kept
/// parent vectors, in the reduced model's order; `dual_coef` and
/// `intercepts` are the reduced model's, overwritten pair by pair.
fn refit_pairs(
    m: &SvmModel,
    idx: &[usize],
    class_of: &[usize],
    data: &TrainData<'_>,
    dual_coef: &mut [f32],
    intercepts: &mut [f32],
) {
    let (n_sv, k, d) = (m.n_sv(), m.n_classes, m.n_features);
    let n_kept = idx.len();
    let vector = |v: usize| &m.vectors[v * d..(v + 1) * d];
    let mut p = 0;
    for i in 0..k {
        for j in i + 1..k {
            let in_pair = |c: usize| c == i || c == j;
            // Parent vectors of the pair (for its decision values) and the
            // kept ones (positions in the reduced model).
            let parent: Vec<usize> = (0..n_sv).filter(|&v| in_pair(class_of[v])).collect();
            let kept: Vec<usize> = (0..n_kept).filter(|&s| in_pair(class_of[idx[s]])).collect();
            let rows: Vec<usize> = (0..data.n_rows())
                .filter(|&r| in_pair(data.y[r] as usize))
                .collect();
            if rows.is_empty() || kept.is_empty() {
                p += 1;
                continue;
            }
            // Normal equations over the columns [K(x, kept…), 1].
            let q = kept.len() + 1;
            let mut gram = vec![0.0f64; q * q];
            let mut rhs = vec![0.0f64; q];
            let mut a = vec![0.0f64; q];
            for &r in &rows {
                let x = data.row(r);
                let target: f64 = parent
                    .iter()
                    .map(|&v| {
                        f64::from(m.dual_coef[coef_row(class_of[v], i, j) * n_sv + v])
                            * f64::from(m.kernel.eval(x, vector(v)))
                    })
                    .sum::<f64>()
                    + f64::from(m.intercepts[p]);
                for (slot, &s) in a.iter_mut().zip(&kept) {
                    *slot = f64::from(m.kernel.eval(x, vector(idx[s])));
                }
                a[q - 1] = 1.0;
                for u in 0..q {
                    rhs[u] += a[u] * target;
                    for w in u..q {
                        gram[u * q + w] += a[u] * a[w];
                    }
                }
            }
            for u in 0..q {
                for w in 0..u {
                    gram[u * q + w] = gram[w * q + u];
                }
            }
            let mean_norm = (0..q - 1).map(|u| gram[u * q + u]).sum::<f64>() / (q - 1) as f64;
            // A singular system (columns alike to rounding) retries with a
            // larger ridge; after that the pair keeps the parent's numbers.
            for scale in [1.0, 1e2, 1e4] {
                let mut g = gram.clone();
                let lambda = RIDGE * scale * mean_norm.max(f64::MIN_POSITIVE);
                for u in 0..q - 1 {
                    g[u * q + u] += lambda;
                }
                if let Some(beta) = cholesky_solve(&mut g, &rhs, q) {
                    for (t, &s) in kept.iter().enumerate() {
                        let row = coef_row(class_of[idx[s]], i, j);
                        dual_coef[row * n_kept + s] = beta[t] as f32;
                    }
                    intercepts[p] = beta[q - 1] as f32;
                    break;
                }
            }
            p += 1;
        }
    }
}

/// Solves `g x = b` for a symmetric positive definite `g` (`q × q`,
/// row-major, overwritten by its Cholesky factor); `None` when `g` is not
/// positive definite to rounding.
pub(crate) fn cholesky_solve(g: &mut [f64], b: &[f64], q: usize) -> Option<Vec<f64>> {
    for c in 0..q {
        let mut diag = g[c * q + c];
        for t in 0..c {
            diag -= g[c * q + t] * g[c * q + t];
        }
        if !(diag > 0.0 && diag.is_finite()) {
            return None;
        }
        let l = diag.sqrt();
        g[c * q + c] = l;
        for r in c + 1..q {
            let mut v = g[r * q + c];
            for t in 0..c {
                v -= g[r * q + t] * g[c * q + t];
            }
            g[r * q + c] = v / l;
        }
    }
    // L y = b, then Lᵀ x = y.
    let mut y = b.to_vec();
    for r in 0..q {
        for t in 0..r {
            y[r] -= g[r * q + t] * y[t];
        }
        y[r] /= g[r * q + r];
    }
    for r in (0..q).rev() {
        for t in r + 1..q {
            y[r] -= g[t * q + r] * y[t];
        }
        y[r] /= g[r * q + r];
    }
    Some(y)
}
