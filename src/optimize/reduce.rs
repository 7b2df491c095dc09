//! Support-vector reduction: a kernel SVM's single-row cost is one kernel
//! evaluation per support vector, so keeping fewer vectors is the direct
//! way to a faster SVM. [`reduce_svm`] keeps the vectors with the largest
//! dual coefficients and re-fits each pair's intercept on the training rows.
//!
//! Why the largest coefficients: dropping a set `D` of vectors changes a
//! pair's decision value at `x` by `−Σ_{v∈D} coef_v K(x, v)`, at most
//! `Σ_{v∈D} |coef_v| · max |K|` (`max |K|` = 1 for the rbf and sigmoid
//! kernels), so dropping the vectors with the smallest |coefficients|
//! minimises that bound. In one-vs-one a vector of class `c` has one
//! coefficient in each of the `k − 1` pairs with `c`; it is kept or dropped
//! in all of them at once (the layout shares vectors between pairs), ranked
//! by the sum of its |coefficients|, so every pair's decision stays the
//! parent's sum over the vectors it keeps. Each class keeps at least one
//! vector.
//!
//! The intercept re-fit adds to each pair's intercept the mean, over the
//! training rows of the pair's two classes, of the dropped vectors'
//! contribution to that pair's decision: the decision is then unchanged on
//! average where the pair is decided. Platt's sigmoids are kept as fitted
//! for the parent.

use crate::model::SvmModel;
use crate::train::TrainData;

/// The number of vectors [`reduce_svm`] keeps of `n_sv` at `fraction`:
/// rounded, at least one per class.
pub fn kept_vectors(n_sv: usize, n_classes: usize, fraction: f64) -> usize {
    ((n_sv as f64 * fraction).round() as usize).clamp(n_classes.min(n_sv), n_sv)
}

/// `m` with the `fraction` of its support vectors of largest summed
/// |dual coefficient| (see the module docs), the order of the kept vectors
/// unchanged; with `data`, each pair's intercept re-fitted on its training
/// rows (a pair with none keeps its intercept). At a fraction that keeps
/// every vector the result is `m` itself.
pub fn reduce_svm(m: &SvmModel, fraction: f64, data: Option<&TrainData<'_>>) -> SvmModel {
    let (n_sv, k, d) = (m.n_sv(), m.n_classes, m.n_features);
    let keep_n = kept_vectors(n_sv, k, fraction);
    let class_of = class_of_vectors(m);
    // Summed |coefficient| over each vector's k − 1 pairs.
    let weight: Vec<f64> = (0..n_sv)
        .map(|v| {
            (0..k - 1)
                .map(|r| f64::from(m.dual_coef[r * n_sv + v].abs()))
                .sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..n_sv).collect();
    // Largest first; ties to the earlier vector, so the choice is
    // deterministic.
    order.sort_by(|&a, &b| weight[b].total_cmp(&weight[a]).then(a.cmp(&b)));
    let mut keep = vec![false; n_sv];
    // The largest vector of each class first, then the rest by weight.
    for c in 0..k {
        if let Some(&v) = order.iter().find(|&&v| class_of[v] == c) {
            keep[v] = true;
        }
    }
    let mut kept = keep.iter().filter(|&&b| b).count();
    for &v in &order {
        if kept >= keep_n {
            break;
        }
        if !keep[v] {
            keep[v] = true;
            kept += 1;
        }
    }
    let mut intercepts = m.intercepts.clone();
    if let Some(data) = data {
        refit_intercepts(m, &keep, &class_of, data, &mut intercepts);
    }
    let idx: Vec<usize> = (0..n_sv).filter(|&v| keep[v]).collect();
    let mut per_class = vec![0u32; k];
    for &v in &idx {
        per_class[class_of[v]] += 1;
    }
    let vectors = idx
        .iter()
        .flat_map(|&v| m.vectors[v * d..(v + 1) * d].iter().copied())
        .collect();
    let dual_coef = (0..k - 1)
        .flat_map(|r| idx.iter().map(move |&v| m.dual_coef[r * n_sv + v]))
        .collect();
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

/// Adds to each pair's intercept the mean over its two classes' training
/// rows of `Σ_{dropped v} coef K(x, v)`, in f64 (the kernel in f32 as the
/// model computes it).
fn refit_intercepts(
    m: &SvmModel,
    keep: &[bool],
    class_of: &[usize],
    data: &TrainData<'_>,
    intercepts: &mut [f32],
) {
    let (n_sv, k, d) = (m.n_sv(), m.n_classes, m.n_features);
    let dropped: Vec<usize> = (0..n_sv).filter(|&v| !keep[v]).collect();
    if dropped.is_empty() || data.n_features != d {
        return;
    }
    // Per pair: the sum of dropped contributions and the rows counted.
    let pairs = m.n_pairs();
    let mut sum = vec![0.0f64; pairs];
    let mut rows = vec![0usize; pairs];
    let pair_index = |i: usize, j: usize| i * (2 * k - i - 1) / 2 + (j - i - 1);
    let mut kv = vec![0.0f64; dropped.len()];
    for r in 0..data.n_rows() {
        let y = data.y[r] as usize;
        if y >= k {
            continue;
        }
        let x = data.row(r);
        for (slot, &v) in kv.iter_mut().zip(&dropped) {
            *slot = f64::from(m.kernel.eval(x, &m.vectors[v * d..(v + 1) * d]));
        }
        for other in (0..k).filter(|&c| c != y) {
            let (i, j) = (y.min(other), y.max(other));
            let p = pair_index(i, j);
            rows[p] += 1;
            // Vectors of class i take row j − 1 of dual_coef in this pair,
            // vectors of class j row i (the layout's rule).
            for (&kval, &v) in kv.iter().zip(&dropped) {
                let c = class_of[v];
                let row = if c == i {
                    j - 1
                } else if c == j {
                    i
                } else {
                    continue;
                };
                sum[p] += f64::from(m.dual_coef[row * n_sv + v]) * kval;
            }
        }
    }
    for p in 0..pairs {
        if rows[p] > 0 {
            intercepts[p] = (f64::from(intercepts[p]) + sum[p] / rows[p] as f64) as f32;
        }
    }
}
