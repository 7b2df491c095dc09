//! Gradient boosted trees, trained in house on histograms and written
//! straight into the IR.
//!
//! Why in house: linfa has no boosting, smartcore's `XGRegressor` is
//! squared-error only with private trees, and the maintained Rust GBMs either
//! lack multiclass (forust-ml) or need nightly / a C++ build (perpetual,
//! lightgbm3). The design is the one LightGBM and
//! scikit-learn's `HistGradientBoostingClassifier` use:
//! - every feature is binned once into at most `max_bins` bins (cut points
//!   halfway between distinct values, or at quantiles when there are more
//!   distinct values than bins);
//! - a tree grows depth-first to `max_depth`; a node's split is the best
//!   (feature, cut) by the second-order gain `G_L²/(H_L+λ) + G_R²/(H_R+λ) −
//!   G²/(H+λ)` read off per-bin gradient/hessian sums, and the larger child's
//!   histogram is the parent's minus the smaller child's;
//! - a leaf's value is the Newton step `−G/(H+λ)` times the learning rate
//!   (times `(K−1)/K` for K-class softmax, as Friedman's multiclass rule).
//!
//! Binary log-loss boosts one score (class 1's log-odds); K classes boost one
//! tree per class per round on the softmax cross-entropy. Targets may be soft
//! (class probabilities, e.g. a teacher's), which is how distillation fits a
//! boosted student. A split on cut `c` becomes the IR threshold `x <= c`, so
//! the IR takes exactly the branches the binned trainer took.

use super::binned::Binned;
use super::TrainData;
use crate::model::{Link, Model, TreeEnsemble};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Boosting parameters (see [`super::CandidateSpec::GradientBoosting`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoostParams {
    pub n_trees: u16,
    pub learning_rate: f64,
    pub max_depth: u16,
    pub min_samples_leaf: usize,
    pub subsample: f64,
    pub l2_regularization: f64,
    pub max_bins: u16,
}

/// Smallest hessian sum a child may have (LightGBM's `min_sum_hessian_in_leaf`).
const MIN_CHILD_HESSIAN: f64 = 1e-3;

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

/// Gradient/hessian/count sums per (feature, bin), `256` bins per feature.
#[derive(Clone)]
struct Histogram(Vec<Cell>);

impl Histogram {
    fn build(b: &Binned, rows: &[u32], grad: &[f64], hess: &[f64]) -> Histogram {
        let d = b.n_features;
        let mut cells = vec![Cell::default(); d * 256];
        for &r in rows {
            let r = r as usize;
            let (g, h) = (grad[r], hess[r]);
            let row = &b.bins[r * d..(r + 1) * d];
            for (f, &bin) in row.iter().enumerate() {
                let c = &mut cells[f * 256 + bin as usize];
                c.g += g;
                c.h += h;
                c.n += 1;
            }
        }
        Histogram(cells)
    }

    fn minus(&self, other: &Histogram) -> Histogram {
        Histogram(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(a, b)| Cell {
                    g: a.g - b.g,
                    h: a.h - b.h,
                    n: a.n - b.n,
                })
                .collect(),
        )
    }

    fn totals(&self) -> Cell {
        self.0[..256].iter().fold(Cell::default(), |t, c| Cell {
            g: t.g + c.g,
            h: t.h + c.h,
            n: t.n + c.n,
        })
    }
}

struct Split {
    feature: usize,
    bin: u8,
    gain: f64,
}

struct TreeBuilder<'a> {
    binned: &'a Binned,
    params: &'a BoostParams,
    grad: &'a [f64],
    hess: &'a [f64],
    /// Leaf value multiplier: learning rate (× (K−1)/K for softmax).
    shrink: f64,
    tree: TreeEnsemble,
}

impl TreeBuilder<'_> {
    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.params.l2_regularization)
    }

    fn best_split(&self, hist: &Histogram, total: Cell) -> Option<Split> {
        let msl = self.params.min_samples_leaf as u32;
        let parent = self.score(total.g, total.h);
        let mut best: Option<Split> = None;
        for (f, cuts) in self.binned.cuts.iter().enumerate() {
            let cells = &hist.0[f * 256..f * 256 + 256];
            let mut left = Cell::default();
            for (b, c) in cells.iter().enumerate().take(cuts.len()) {
                left.g += c.g;
                left.h += c.h;
                left.n += c.n;
                let (rn, rh) = (total.n - left.n, total.h - left.h);
                if left.n < msl || left.h < MIN_CHILD_HESSIAN {
                    continue;
                }
                if rn < msl || rh < MIN_CHILD_HESSIAN {
                    break;
                }
                let gain = self.score(left.g, left.h) + self.score(total.g - left.g, rh) - parent;
                if gain > 1e-12 && best.as_ref().is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: f,
                        bin: b as u8,
                        gain,
                    });
                }
            }
        }
        best
    }

    /// Grows the subtree for `rows` (whose histogram is `hist`) and returns
    /// its root's node index. Nodes are appended in pre-order.
    fn grow(&mut self, rows: &mut [u32], hist: Histogram, depth: u16) -> u32 {
        let total = hist.totals();
        let split = if depth < self.params.max_depth
            && total.n as usize >= 2 * self.params.min_samples_leaf
        {
            self.best_split(&hist, total)
        } else {
            None
        };
        let Some(split) = split else {
            let value = -total.g / (total.h + self.params.l2_regularization).max(1e-12);
            return self.tree.push_leaf(&[(value * self.shrink) as f32]);
        };
        let threshold = self.binned.cuts[split.feature][split.bin as usize];
        let node = self.tree.push_split(split.feature as u32, threshold);
        // Partition rows: bin <= split.bin goes left.
        let d = self.binned.n_features;
        let bins = &self.binned.bins;
        let mut n_left = 0;
        for i in 0..rows.len() {
            if bins[rows[i] as usize * d + split.feature] <= split.bin {
                rows.swap(i, n_left);
                n_left += 1;
            }
        }
        let (left_rows, right_rows) = rows.split_at_mut(n_left);
        // Histogram of the smaller child by a pass over its rows; the other by
        // subtraction.
        let (left_hist, right_hist) = if left_rows.len() <= right_rows.len() {
            let l = Histogram::build(self.binned, left_rows, self.grad, self.hess);
            let r = hist.minus(&l);
            (l, r)
        } else {
            let r = Histogram::build(self.binned, right_rows, self.grad, self.hess);
            let l = hist.minus(&r);
            (l, r)
        };
        drop(hist);
        let left = self.grow(left_rows, left_hist, depth + 1);
        let right = self.grow(right_rows, right_hist, depth + 1);
        self.tree.set_children(node, left, right);
        node
    }
}

/// Labels as target probabilities (`n_rows × n_classes`, one-hot), the form
/// the soft-target trainers take.
pub fn one_hot(y: &[u32], n_classes: usize) -> Vec<f32> {
    let mut t = vec![0.0; y.len() * n_classes];
    for (i, &c) in y.iter().enumerate() {
        t[i * n_classes + c as usize] = 1.0;
    }
    t
}

/// Fits a boosted ensemble to `targets` (`n_rows × n_classes` probabilities;
/// `data.y` is read only to weigh rows by `class_weight`). A class weight
/// multiplies its rows' gradients and hessians and weighs the base score's
/// mean, as `HistGradientBoostingClassifier(class_weight=…)` does.
pub(crate) fn fit(
    data: &TrainData<'_>,
    targets: &[f32],
    params: &BoostParams,
    class_weight: Option<&[f64]>,
    seed: u64,
) -> Result<Model, String> {
    let n = data.n_rows();
    let k = data.n_classes;
    if targets.len() != n * k {
        return Err(format!(
            "{} targets for {n} rows × {k} classes",
            targets.len()
        ));
    }
    if !(2..=256).contains(&params.max_bins) {
        return Err(format!("max_bins = {}: expected 2 to 256", params.max_bins));
    }
    let binned = Binned::new(data, usize::from(params.max_bins));
    let link = if k == 2 {
        Link::Logistic
    } else {
        Link::Softmax
    };
    let outputs = link.n_outputs(k);

    let row_weight = |i: usize| class_weight.map_or(1.0, |cw| cw[data.y[i] as usize]);
    // Base scores: log-odds (binary) or log prior (softmax) of the targets.
    let total_weight: f64 = match class_weight {
        None => n as f64,
        Some(_) => (0..n).map(row_weight).sum(),
    };
    let mean = |c: usize| {
        let s: f64 = match class_weight {
            None => (0..n).map(|i| f64::from(targets[i * k + c])).sum(),
            Some(_) => (0..n)
                .map(|i| row_weight(i) * f64::from(targets[i * k + c]))
                .sum(),
        };
        (s / total_weight).clamp(1e-12, 1.0 - 1e-12)
    };
    let base: Vec<f32> = match link {
        Link::Logistic => {
            let p = mean(1);
            vec![(p / (1.0 - p)).ln() as f32]
        }
        Link::Softmax => (0..k).map(|c| mean(c).ln() as f32).collect(),
    };
    let mut ens = TreeEnsemble::boosted(data.n_features, k, link, base.clone());

    // Raw scores of the training rows, kept in f32 exactly as the IR sums them.
    let mut raw: Vec<f32> = (0..n).flat_map(|_| base.iter().copied()).collect();
    let mut grad = vec![vec![0.0f64; n]; outputs];
    let mut hess = vec![vec![0.0f64; n]; outputs];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_sample = ((params.subsample * n as f64).round() as usize).clamp(1, n);
    let shrink = match link {
        Link::Logistic => params.learning_rate,
        Link::Softmax => params.learning_rate * (k as f64 - 1.0) / k as f64,
    };
    let mut proba = vec![0.0f32; k];
    for _ in 0..params.n_trees {
        for i in 0..n {
            proba[..outputs].copy_from_slice(&raw[i * outputs..(i + 1) * outputs]);
            link.apply(&mut proba);
            for o in 0..outputs {
                let (p, y) = match link {
                    Link::Logistic => (f64::from(proba[1]), f64::from(targets[i * k + 1])),
                    Link::Softmax => (f64::from(proba[o]), f64::from(targets[i * k + o])),
                };
                grad[o][i] = p - y;
                hess[o][i] = (p * (1.0 - p)).max(1e-16);
                if class_weight.is_some() {
                    let w = row_weight(i);
                    grad[o][i] *= w;
                    hess[o][i] *= w;
                }
            }
        }
        let mut rows: Vec<u32> = if n_sample < n {
            let mut s: Vec<u32> = sample(&mut rng, n, n_sample)
                .into_iter()
                .map(|i| i as u32)
                .collect();
            s.sort_unstable();
            s
        } else {
            (0..n as u32).collect()
        };
        for o in 0..outputs {
            let mut b = TreeBuilder {
                binned: &binned,
                params,
                grad: &grad[o],
                hess: &hess[o],
                shrink,
                tree: TreeEnsemble::boosted(data.n_features, k, link, base.clone()),
            };
            let hist = Histogram::build(&binned, &rows, &grad[o], &hess[o]);
            let root = b.grow(&mut rows, hist, 0);
            b.tree.roots.push(root);
            ens.append_tree(&b.tree, 0, o as u32);
            let t = ens.n_trees() - 1;
            let root = ens.roots[t];
            for i in 0..n {
                let leaf = ens.leaf_of(root, data.row(i)) as usize;
                raw[i * outputs + o] += ens.leaf_values[leaf];
            }
            rows.sort_unstable();
        }
    }
    Ok(Model::Trees(ens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::accuracy;
    use crate::train::testdata::Problem;

    fn params(n_trees: u16, max_depth: u16) -> BoostParams {
        BoostParams {
            n_trees,
            learning_rate: 0.1,
            max_depth,
            min_samples_leaf: 1,
            subsample: 1.0,
            l2_regularization: 0.0,
            max_bins: 255,
        }
    }

    #[test]
    fn learns_binary_and_multiclass() {
        for classes in [2, 3] {
            let p = Problem::new(1200, classes, 7);
            let td = p.train();
            let model = fit(&td, &one_hot(td.y, classes), &params(60, 3), None, 1).unwrap();
            model.check().unwrap();
            let mut pred = Vec::new();
            model.compile().unwrap().predict_batch(&p.x_test, &mut pred);
            let acc = accuracy(&p.y_test, &pred);
            let trees = match &model {
                Model::Trees(t) => t,
                _ => unreachable!(),
            };
            assert_eq!(trees.n_trees(), 60 * if classes == 2 { 1 } else { classes });
            assert!(trees.max_depth() <= 3);
            assert!(acc > 0.8, "{classes} classes: accuracy {acc}");
            // Probabilities sum to one.
            let proba = model.compile().unwrap().predict_proba_batch(&p.x_test);
            for row in proba.chunks_exact(classes) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn same_seed_same_model_and_subsample_changes_it() {
        let p = Problem::new(600, 2, 3);
        let td = p.train();
        let t = one_hot(td.y, 2);
        let mut sp = params(20, 4);
        sp.subsample = 0.5;
        let a = fit(&td, &t, &sp, None, 9).unwrap();
        let b = fit(&td, &t, &sp, None, 9).unwrap();
        let c = fit(&td, &t, &sp, None, 10).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn min_samples_leaf_is_respected() {
        let p = Problem::new(400, 2, 5);
        let td = p.train();
        let mut sp = params(5, 8);
        sp.min_samples_leaf = 40;
        let Model::Trees(m) = fit(&td, &one_hot(td.y, 2), &sp, None, 0).unwrap() else {
            unreachable!()
        };
        let mut counts = vec![0usize; m.n_leaves()];
        for i in 0..td.n_rows() {
            for &r in &m.roots {
                counts[m.leaf_of(r, td.row(i)) as usize] += 1;
            }
        }
        assert!(counts.iter().all(|&c| c >= 40), "{counts:?}");
    }
}
