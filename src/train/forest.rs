//! Random forests and single CART trees, trained in house on binned
//! features and written straight into the IR.
//!
//! Why in house: smartcore's forest fits about 1.6× slower than
//! scikit-learn's per thread (1.87 s against 1.15 s for 100 trees on w1) and
//! keeps only the majority class at a leaf, so its forest can only vote;
//! linfa-ensemble is slower still, samples features per tree rather than per
//! split, and breaks vote ties through a `HashMap` (not deterministic). No crate
//! grows scikit-learn's forest: CART on Gini, a bootstrap sample per tree,
//! `max_features` drawn afresh at every node, leaves holding class
//! fractions (so the forest's probabilities are the mean of its trees',
//! as `predict_proba` computes them).
//!
//! How, reusing the boosting trainer's binning (`binned.rs`):
//! - every feature is binned once into at most 256 bins; a split "bin ≤ b" is
//!   the IR threshold `x <= cuts[b]`, which the `f32` row reproduces exactly;
//!   between the highest bin that goes left and the lowest that goes right
//!   (none of the node's rows lie between) the middle cut is taken, as
//!   scikit-learn takes the midpoint between two values;
//! - a node's split is the best (feature, bin) by the Gini proxy
//!   `Σ_k L_k²/W_L + Σ_k R_k²/W_R` on bootstrap-weighted class counts; features
//!   are visited in random order, `max_features` of them, and more while
//!   every visited one was constant in the node (scikit-learn's rule);
//! - the counts come from a per-bin histogram of class weights, built for the
//!   visited features only; when a node tries at least half the features
//!   (`max_features` ≥ d/2, bagging) it keeps a histogram of every feature, and the
//!   larger child's is the parent's minus the smaller child's. With √d
//!   features per node, counting the visited features of both children costs
//!   fewer row visits than counting all features of the smaller one, so
//!   forests count directly;
//! - nodes with few rows skip histograms: a sort of their (bin, row) pairs
//!   visits only the occupied bins.
//!
//! A single tree (the `decision_tree` family) is the same grower on every
//! row once with every feature tried: smartcore's tree, which the family
//! used before, fitted 1.2× slower than scikit-learn's unlimited tree on w1
//! and kept only the majority class at a leaf; this one fits ~6× faster
//! than scikit-learn with the same accuracy (`scripts/fit_times.sh`).
//!
//! `min_samples_leaf` counts distinct rows (a bootstrap duplicate is one row
//! with weight 2), as scikit-learn's does. Each tree draws its bootstrap
//! sample and its features from its own seed, taken in order from the run's
//! seed, and trees grow in parallel on rayon's pool: the forest is the same
//! whatever the number of threads.

use super::binned::Binned;
use super::TrainData;
use crate::model::{Model, TreeEnsemble};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Bins per feature: all a `u8` holds.
const BINS: usize = 256;

/// Nodes with fewer distinct rows than this find their splits by sorting
/// instead of a 256-bin histogram (whose zeroing and scan then dominate).
const SMALL_NODE: usize = 48;

/// How one tree grows (the forest's parameters, resolved).
#[derive(Debug, Clone)]
pub(crate) struct TreeParams {
    /// Longest root-to-leaf path, in splits (scikit-learn's meaning).
    pub max_depth: Option<u16>,
    /// Distinct rows a leaf must hold.
    pub min_samples_leaf: usize,
    /// Features tried per node (`1..=n_features`).
    pub max_features: usize,
    /// Weight of each class (scikit-learn's `class_weight`), multiplying
    /// the (bootstrap) weight of its rows in the Gini criterion and the
    /// leaf fractions; `None` weighs every class 1.
    pub class_weight: Option<Vec<f64>>,
}

/// A random forest: `n_trees` trees, each on its own bootstrap sample.
pub(crate) fn fit_forest(
    data: &TrainData<'_>,
    n_trees: u16,
    max_depth: Option<u16>,
    min_samples_leaf: usize,
    max_features: Option<usize>,
    class_weight: Option<&[f64]>,
    seed: u64,
) -> Result<Model, String> {
    let d = data.n_features;
    let max_features = match max_features {
        Some(m) if m > d => {
            return Err(format!("max_features = {m} exceeds the {d} features"));
        }
        Some(m) => m,
        // scikit-learn's "sqrt": max(1, ⌊√d⌋).
        None => ((d as f64).sqrt().floor() as usize).max(1),
    };
    let params = TreeParams {
        max_depth,
        min_samples_leaf,
        max_features,
        class_weight: class_weight.map(<[f64]>::to_vec),
    };
    let binned = Binned::new(data, BINS);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let seeds: Vec<u64> = (0..n_trees).map(|_| rng.next_u64()).collect();
    let trees: Vec<TreeEnsemble> = seeds
        .par_iter()
        .map(|&tree_seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(tree_seed);
            let weights = bootstrap(data.n_rows(), &mut rng);
            grow(&binned, data, &weights, &params, &mut rng)
        })
        .collect();
    let mut ens = TreeEnsemble::new(d, data.n_classes);
    for t in &trees {
        ens.append_tree(t, 0, 0);
    }
    Ok(Model::Trees(ens))
}

/// A single CART tree (the `decision_tree` family): every training row
/// once, every feature tried at each node (the full-histogram path with
/// subtraction). The seed only orders the features, which decides between
/// equally good splits, as scikit-learn's `random_state` does for a tree.
pub(crate) fn fit_tree(
    data: &TrainData<'_>,
    max_depth: Option<u16>,
    min_samples_leaf: usize,
    class_weight: Option<&[f64]>,
    seed: u64,
) -> Model {
    let params = TreeParams {
        max_depth,
        min_samples_leaf,
        max_features: data.n_features,
        class_weight: class_weight.map(<[f64]>::to_vec),
    };
    let binned = Binned::new(data, BINS);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Model::Trees(grow(
        &binned,
        data,
        &vec![1; data.n_rows()],
        &params,
        &mut rng,
    ))
}

/// A bootstrap sample as weights: `n` draws with replacement, `w[i]` the
/// times row `i` was drawn.
pub(crate) fn bootstrap(n: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut w = vec![0u32; n];
    for _ in 0..n {
        w[rng.random_range(0..n)] += 1;
    }
    w
}

/// A node waiting to be grown: its rows are `rows[lo..hi]`.
struct Task {
    lo: usize,
    hi: usize,
    depth: usize,
    /// The parent's node index and whether this is its left child.
    parent: Option<(u32, bool)>,
    /// Histogram of every feature (when the tree keeps them).
    hist: Option<Vec<u32>>,
}

/// The best split found so far at a node.
#[derive(Clone, Copy)]
struct Best {
    proxy: f64,
    feature: usize,
    /// Highest occupied bin going left, lowest occupied bin going right.
    lo_bin: usize,
    hi_bin: usize,
}

/// Grows one tree on the rows with a positive weight; returns it as a
/// one-tree ensemble whose leaves hold weighted class fractions.
pub(crate) fn grow(
    binned: &Binned,
    data: &TrainData<'_>,
    weights: &[u32],
    params: &TreeParams,
    rng: &mut ChaCha8Rng,
) -> TreeEnsemble {
    let keep_full = 2 * params.max_features >= binned.n_features;
    grow_with(binned, data, weights, params, rng, keep_full)
}

/// [`grow`], keeping every feature's histogram (and subtracting) or not:
/// the same tree either way, at a different cost.
fn grow_with(
    binned: &Binned,
    data: &TrainData<'_>,
    weights: &[u32],
    params: &TreeParams,
    rng: &mut ChaCha8Rng,
    keep_full: bool,
) -> TreeEnsemble {
    let d = binned.n_features;
    let k = data.n_classes;
    // A histogram cell per bin: [distinct rows, weight of class 0, …].
    let stride = k + 1;
    let n_bins: Vec<usize> = binned.cuts.iter().map(|c| c.len() + 1).collect();
    let mut offsets = Vec::with_capacity(d + 1);
    offsets.push(0);
    for nb in &n_bins {
        offsets.push(offsets.last().copied().unwrap_or(0) + nb * stride);
    }
    let full_cells = offsets[d];
    let max_depth = params.max_depth.map_or(usize::MAX, usize::from);
    let msl = params.min_samples_leaf.max(1);

    let mut g = Grower {
        binned,
        y: data.y,
        weights,
        stride,
        n_bins,
        offsets,
        msl: msl as u32,
        class_weight: params.class_weight.clone(),
        scratch: vec![0; BINS * stride],
        keys: Vec::new(),
        left: vec![0; stride],
        totals: vec![0; stride],
    };
    let mut tree = TreeEnsemble::new(d, k);
    let mut rows: Vec<u32> = (0..data.n_rows() as u32)
        .filter(|&r| weights[r as usize] > 0)
        .collect();
    let mut features: Vec<usize> = (0..d).collect();
    let mut pool: Vec<Vec<u32>> = Vec::new();
    let root_hist = (keep_full && rows.len() >= SMALL_NODE).then(|| {
        let mut h = vec![0u32; full_cells];
        g.add_rows(&mut h, &rows);
        h
    });
    let mut stack = vec![Task {
        lo: 0,
        hi: rows.len(),
        depth: 0,
        parent: None,
        hist: root_hist,
    }];
    let mut leaf_values = vec![0.0f32; k];
    let mut root = 0;
    while let Some(task) = stack.pop() {
        let node_rows = &mut rows[task.lo..task.hi];
        let m = node_rows.len();
        g.node_totals(node_rows);
        let pure = g.totals[1..].iter().filter(|&&w| w > 0).count() <= 1;
        let split = if task.depth >= max_depth || m < 2 * msl || m < 2 || pure {
            None
        } else {
            g.best_split(node_rows, task.hist.as_deref(), &mut features, params, rng)
        };
        let idx = match split {
            None => {
                if let Some(cw) = &params.class_weight {
                    let weighted = |(&w, &c): (&u32, &f64)| f64::from(w) * c;
                    let total: f64 = g.totals[1..].iter().zip(cw).map(weighted).sum();
                    for (v, wc) in leaf_values.iter_mut().zip(g.totals[1..].iter().zip(cw)) {
                        *v = (weighted(wc) / total) as f32;
                    }
                } else {
                    let total: u32 = g.totals[1..].iter().sum();
                    for (v, &w) in leaf_values.iter_mut().zip(&g.totals[1..]) {
                        *v = w as f32 / total as f32;
                    }
                }
                if let Some(h) = task.hist {
                    pool.push(h);
                }
                tree.push_leaf(&leaf_values)
            }
            Some(best) => {
                // Any cut from lo_bin to hi_bin − 1 splits the node's rows
                // alike; the middle one, like scikit-learn's midpoint.
                let cut = (best.lo_bin + best.hi_bin - 1) / 2;
                let node = tree.push_split(best.feature as u32, binned.cuts[best.feature][cut]);
                let n_left = partition(node_rows, binned, best.feature, cut);
                let mid = task.lo + n_left;
                let (m_left, m_right) = (n_left, m - n_left);
                // Children's histograms: the smaller one's counted, the
                // larger one's the parent's minus it.
                let (left_hist, right_hist) = match task.hist {
                    Some(mut parent) if m_left.max(m_right) >= SMALL_NODE => {
                        let (small_lo, small_hi) = if m_left <= m_right {
                            (task.lo, mid)
                        } else {
                            (mid, task.hi)
                        };
                        let mut small = pool.pop().unwrap_or_default();
                        small.clear();
                        small.resize(full_cells, 0);
                        g.add_rows(&mut small, &rows[small_lo..small_hi]);
                        for (p, s) in parent.iter_mut().zip(&small) {
                            *p -= s;
                        }
                        let small = if small_hi - small_lo >= SMALL_NODE {
                            Some(small)
                        } else {
                            pool.push(small);
                            None
                        };
                        if m_left <= m_right {
                            (small, Some(parent))
                        } else {
                            (Some(parent), small)
                        }
                    }
                    Some(parent) => {
                        pool.push(parent);
                        (None, None)
                    }
                    None => (None, None),
                };
                // Right pushed first so the left subtree is emitted first
                // (pre-order, as the IR wants).
                stack.push(Task {
                    lo: mid,
                    hi: task.hi,
                    depth: task.depth + 1,
                    parent: Some((node, false)),
                    hist: right_hist,
                });
                stack.push(Task {
                    lo: task.lo,
                    hi: mid,
                    depth: task.depth + 1,
                    parent: Some((node, true)),
                    hist: left_hist,
                });
                node
            }
        };
        match task.parent {
            None => root = idx,
            Some((p, true)) => tree.nodes[p as usize].left = idx,
            Some((p, false)) => tree.nodes[p as usize].right = idx,
        }
    }
    tree.roots.push(root);
    tree
}

/// Moves the rows with `bin <= cut` on `feature` to the front; returns how
/// many there are.
fn partition(rows: &mut [u32], binned: &Binned, feature: usize, cut: usize) -> usize {
    let d = binned.n_features;
    let mut n_left = 0;
    for i in 0..rows.len() {
        if usize::from(binned.bins[rows[i] as usize * d + feature]) <= cut {
            rows.swap(i, n_left);
            n_left += 1;
        }
    }
    n_left
}

/// What a tree's nodes share: the data and scratch buffers.
struct Grower<'a> {
    binned: &'a Binned,
    y: &'a [u32],
    weights: &'a [u32],
    stride: usize,
    n_bins: Vec<usize>,
    /// Where each feature's cells start in a full histogram.
    offsets: Vec<usize>,
    msl: u32,
    class_weight: Option<Vec<f64>>,
    /// One feature's histogram.
    scratch: Vec<u32>,
    /// Small nodes: `(bin << 32) | row`, sorted.
    keys: Vec<u64>,
    /// Running left-hand cell while scanning.
    left: Vec<u32>,
    /// The node's cell: distinct rows and class weights.
    totals: Vec<u32>,
}

impl Grower<'_> {
    fn add_rows(&self, hist: &mut [u32], rows: &[u32]) {
        let d = self.binned.n_features;
        let s = self.stride;
        for &r in rows {
            let r = r as usize;
            let (w, class) = (self.weights[r], 1 + self.y[r] as usize);
            let bins = &self.binned.bins[r * d..(r + 1) * d];
            for (f, &b) in bins.iter().enumerate() {
                let c = self.offsets[f] + usize::from(b) * s;
                hist[c] += 1;
                hist[c + class] += w;
            }
        }
    }

    fn node_totals(&mut self, rows: &[u32]) {
        self.totals.fill(0);
        self.totals[0] = rows.len() as u32;
        for &r in rows {
            self.totals[1 + self.y[r as usize] as usize] += self.weights[r as usize];
        }
    }

    /// scikit-learn's feature sampling: draw features without replacement,
    /// `max_features` of them, and go on while every one drawn was constant
    /// in the node. `None` when no feature splits the node.
    fn best_split(
        &mut self,
        rows: &[u32],
        hist: Option<&[u32]>,
        features: &mut [usize],
        params: &TreeParams,
        rng: &mut ChaCha8Rng,
    ) -> Option<Best> {
        let mut best: Option<Best> = None;
        let mut remaining = features.len();
        let mut visited = 0;
        let mut non_constant = 0;
        while remaining > 0 && (visited < params.max_features || non_constant == 0) {
            let j = rng.random_range(0..remaining);
            remaining -= 1;
            features.swap(j, remaining);
            let f = features[remaining];
            visited += 1;
            if self.scan_feature(f, rows, hist, &mut best) {
                non_constant += 1;
            }
        }
        best
    }

    /// Scans feature `f`'s occupied bins in order, updating `best`; returns
    /// whether the node's rows occupy more than one bin.
    fn scan_feature(
        &mut self,
        f: usize,
        rows: &[u32],
        hist: Option<&[u32]>,
        best: &mut Option<Best>,
    ) -> bool {
        let s = self.stride;
        let nb = self.n_bins[f];
        let mut scan = Scan {
            class_weight: self.class_weight.as_deref(),
            totals: &self.totals,
            left: &mut self.left,
            msl: self.msl,
            feature: f,
            prev: None,
            occupied: 0,
            best,
        };
        scan.left.fill(0);
        if let Some(h) = hist {
            let cells = &h[self.offsets[f]..self.offsets[f] + nb * s];
            for (b, cell) in cells.chunks_exact(s).enumerate() {
                if cell[0] > 0 && !scan.push(b, cell) {
                    break;
                }
            }
        } else if rows.len() >= SMALL_NODE {
            let d = self.binned.n_features;
            let cells = &mut self.scratch[..nb * s];
            cells.fill(0);
            for &r in rows {
                let r = r as usize;
                let c = usize::from(self.binned.bins[r * d + f]) * s;
                cells[c] += 1;
                cells[c + 1 + self.y[r] as usize] += self.weights[r];
            }
            for (b, cell) in cells.chunks_exact(s).enumerate() {
                if cell[0] > 0 && !scan.push(b, cell) {
                    break;
                }
            }
        } else {
            let d = self.binned.n_features;
            self.keys.clear();
            self.keys.extend(
                rows.iter().map(|&r| {
                    (u64::from(self.binned.bins[r as usize * d + f]) << 32) | u64::from(r)
                }),
            );
            self.keys.sort_unstable();
            let cell = &mut self.scratch[..s];
            let mut i = 0;
            while i < self.keys.len() {
                let b = (self.keys[i] >> 32) as usize;
                cell.fill(0);
                while i < self.keys.len() && (self.keys[i] >> 32) as usize == b {
                    let r = self.keys[i] as u32 as usize;
                    cell[0] += 1;
                    cell[1 + self.y[r] as usize] += self.weights[r];
                    i += 1;
                }
                if !scan.push(b, cell) {
                    break;
                }
            }
        }
        // A scan stopped early (right side too small) had seen two bins.
        scan.occupied > 1
    }
}

/// The left-to-right scan over one feature's occupied bins.
struct Scan<'s, 'b> {
    class_weight: Option<&'s [f64]>,
    totals: &'s [u32],
    left: &'s mut [u32],
    msl: u32,
    feature: usize,
    prev: Option<usize>,
    occupied: usize,
    best: &'b mut Option<Best>,
}

impl Scan<'_, '_> {
    /// Adds occupied bin `b` (cell `[rows, class weights…]`), first
    /// weighing the split between the previous occupied bin and it. Returns
    /// `false` once no later split can leave enough rows on the right.
    #[inline]
    fn push(&mut self, b: usize, cell: &[u32]) -> bool {
        self.occupied += 1;
        if let Some(prev) = self.prev {
            let n_left = self.left[0];
            let n_right = self.totals[0] - n_left;
            if n_right < self.msl {
                return false;
            }
            if n_left >= self.msl {
                let proxy = match self.class_weight {
                    None => {
                        // Integer sums: exact, so equal splits tie exactly.
                        let (mut wl, mut wr, mut sl, mut sr) = (0u64, 0u64, 0u64, 0u64);
                        for (&l, &t) in self.left[1..].iter().zip(&self.totals[1..]) {
                            let (l, r) = (u64::from(l), u64::from(t - l));
                            wl += l;
                            wr += r;
                            sl += l * l;
                            sr += r * r;
                        }
                        sl as f64 / wl as f64 + sr as f64 / wr as f64
                    }
                    Some(cw) => {
                        let (mut wl, mut wr, mut sl, mut sr) = (0.0, 0.0, 0.0, 0.0);
                        for ((&l, &t), &c) in self.left[1..].iter().zip(&self.totals[1..]).zip(cw) {
                            let (l, r) = (f64::from(l) * c, f64::from(t - l) * c);
                            wl += l;
                            wr += r;
                            sl += l * l;
                            sr += r * r;
                        }
                        sl / wl + sr / wr
                    }
                };
                if self.best.is_none_or(|best| proxy > best.proxy) {
                    *self.best = Some(Best {
                        proxy,
                        feature: self.feature,
                        lo_bin: prev,
                        hi_bin: b,
                    });
                }
            }
        }
        for (l, &c) in self.left.iter_mut().zip(cell) {
            *l += c;
        }
        self.prev = Some(b);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::accuracy;
    use crate::train::testdata::Problem;

    fn trees(m: &Model) -> &TreeEnsemble {
        match m {
            Model::Trees(t) => t,
            _ => panic!("a forest converts to trees"),
        }
    }

    /// One tree grown on a seeded bootstrap sample: (binned, weights, tree).
    fn one_tree(p: &Problem, params: &TreeParams, seed: u64) -> (Binned, Vec<u32>, TreeEnsemble) {
        let td = p.train();
        let binned = Binned::new(&td, BINS);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let weights = bootstrap(td.n_rows(), &mut rng);
        let tree = grow(&binned, &td, &weights, params, &mut rng);
        tree.check().unwrap();
        (binned, weights, tree)
    }

    #[test]
    fn learns_binary_and_multiclass() {
        for classes in [2, 3] {
            let p = Problem::new(1200, classes, 7);
            let model = fit_forest(&p.train(), 30, None, 1, None, None, 3).unwrap();
            model.check().unwrap();
            assert_eq!(trees(&model).n_trees(), 30);
            let mut pred = Vec::new();
            model.compile().unwrap().predict_batch(&p.x_test, &mut pred);
            let acc = accuracy(&p.y_test, &pred);
            assert!(acc > 0.8, "{classes} classes: accuracy {acc}");
            for row in model
                .compile()
                .unwrap()
                .predict_proba_batch(&p.x_test)
                .chunks_exact(classes)
            {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
            // A single tree learns too, and fits its training rows.
            let tree = fit_tree(&p.train(), None, 1, None, 3);
            tree.check().unwrap();
            tree.compile().unwrap().predict_batch(&p.x_train, &mut pred);
            assert!(accuracy(&p.y_train, &pred) > 0.97);
        }
    }

    /// Leaves hold their bootstrap rows' class fractions, each class's
    /// rows weighed by its `class_weight` when there is one (scikit-learn's
    /// `tree_.value`, normalised).
    #[test]
    fn leaves_hold_the_weighted_class_fractions_of_their_bootstrap_rows() {
        for classes in [2, 3] {
            let p = Problem::new(800, classes, 4);
            let balanced = crate::train::ClassWeight::Balanced
                .per_class(&p.y_train, classes)
                .unwrap();
            for class_weight in [None, Some(balanced)] {
                let params = TreeParams {
                    max_depth: Some(5),
                    min_samples_leaf: 1,
                    max_features: 3,
                    class_weight: class_weight.clone(),
                };
                let (_, weights, tree) = one_tree(&p, &params, 8);
                let mut counts = vec![0u32; tree.n_leaves() * classes];
                for (r, &w) in weights.iter().enumerate() {
                    let leaf = tree.leaf_of(0, p.train().row(r)) as usize;
                    counts[leaf * classes + p.y_train[r] as usize] += w;
                }
                let cw = class_weight.unwrap_or_else(|| vec![1.0; classes]);
                for (l, c) in counts.chunks_exact(classes).enumerate() {
                    let total: f64 = c.iter().zip(&cw).map(|(&n, w)| f64::from(n) * w).sum();
                    assert!(total > 0.0, "leaf {l} holds no bootstrap row");
                    for (j, &cj) in c.iter().enumerate() {
                        let expected = (f64::from(cj) * cw[j] / total) as f32;
                        let got = tree.leaf_values[l * classes + j];
                        assert!(
                            (got - expected).abs() <= f32::EPSILON,
                            "{got} vs {expected}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn min_samples_leaf_counts_distinct_rows() {
        let p = Problem::new(1000, 2, 5);
        for (msl, max_features) in [(1, 2), (7, 2), (40, 2), (7, 8), (40, 8)] {
            let params = TreeParams {
                max_depth: None,
                min_samples_leaf: msl,
                max_features,
                class_weight: None,
            };
            let (_, weights, tree) = one_tree(&p, &params, 1);
            let mut distinct = vec![0usize; tree.n_leaves()];
            for (r, &w) in weights.iter().enumerate() {
                if w > 0 {
                    distinct[tree.leaf_of(0, p.train().row(r)) as usize] += 1;
                }
            }
            assert!(distinct.iter().all(|&n| n >= msl), "{msl}: {distinct:?}");
            if msl == 1 {
                assert!(distinct.contains(&1), "unlimited trees reach single rows");
            }
        }
    }

    #[test]
    fn subtracted_histograms_grow_the_same_trees_as_direct_counts() {
        let p = Problem::new(1500, 3, 12);
        let td = p.train();
        let binned = Binned::new(&td, BINS);
        for (max_features, msl) in [(8, 1), (5, 3), (2, 1)] {
            let params = TreeParams {
                max_depth: None,
                min_samples_leaf: msl,
                max_features,
                class_weight: None,
            };
            let tree = |keep_full| {
                let mut rng = ChaCha8Rng::seed_from_u64(4);
                let weights = bootstrap(td.n_rows(), &mut rng);
                grow_with(&binned, &td, &weights, &params, &mut rng, keep_full)
            };
            let full = tree(true);
            assert!(full.n_leaves() > 50);
            assert_eq!(full, tree(false), "max_features {max_features}");
        }
    }

    #[test]
    fn max_depth_is_respected() {
        let p = Problem::new(1500, 2, 6);
        for depth in [1, 3, 8] {
            let model = fit_forest(&p.train(), 5, Some(depth), 1, None, None, 2).unwrap();
            // 1,125 rows are plenty to fill depths up to 8.
            assert_eq!(
                trees(&model).tree_depths(),
                vec![usize::from(depth); 5],
                "max_depth {depth}"
            );
            let tree = fit_tree(&p.train(), Some(depth), 1, None, 2);
            assert_eq!(trees(&tree).max_depth(), usize::from(depth));
        }
        let full = fit_forest(&p.train(), 3, None, 1, None, None, 2).unwrap();
        assert!(trees(&full).max_depth() > 8);
    }

    #[test]
    fn thresholds_reproduce_binned_decisions() {
        // Every split's threshold is one of its feature's cuts, and on every
        // training row `x <= threshold` is the binned trainer's `bin <= cut`:
        // the IR takes the branches the trainer took.
        let p = Problem::new(900, 3, 9);
        let td = p.train();
        for params in [
            TreeParams {
                max_depth: None,
                min_samples_leaf: 1,
                max_features: 2,
                class_weight: None,
            },
            TreeParams {
                max_depth: None,
                min_samples_leaf: 3,
                max_features: td.n_features,
                class_weight: None,
            },
        ] {
            let (binned, _, tree) = one_tree(&p, &params, 2);
            let d = td.n_features;
            for node in tree.nodes.iter().filter(|n| !n.is_leaf()) {
                let f = node.feature as usize;
                let cut = binned.cuts[f]
                    .iter()
                    .position(|&c| c == node.threshold)
                    .expect("the threshold is a cut");
                for r in 0..td.n_rows() {
                    assert_eq!(
                        td.x[r * d + f] <= node.threshold,
                        usize::from(binned.bins[r * d + f]) <= cut
                    );
                }
            }
        }
    }

    #[test]
    fn same_seed_same_forest_whatever_the_threads() {
        let p = Problem::new(600, 3, 2);
        let fit = |seed| fit_forest(&p.train(), 6, None, 1, None, None, seed).unwrap();
        let a = fit(1);
        assert_eq!(a, fit(1));
        assert_ne!(a, fit(2));
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            // Bit for bit, leaf values included.
            let b = pool.install(|| fit(1));
            assert_eq!(b, a, "{threads} threads");
        }
    }

    #[test]
    fn max_features_beyond_the_features_is_refused() {
        let p = Problem::new(200, 2, 1);
        let e = fit_forest(&p.train(), 2, None, 1, Some(9), None, 0).unwrap_err();
        assert_eq!(e, "max_features = 9 exceeds the 8 features");
    }
}
