//! Structural transforms of tree ensembles: depth pruning and truncation.

use crate::model::{Output, TreeEnsemble};
use crate::train::TrainData;

/// The first `rounds` rounds of `t` (a forest's first trees; a boosted
/// ensemble's first rounds of one tree per output), without retraining.
pub fn truncate(t: &TreeEnsemble, rounds: usize) -> TreeEnsemble {
    let per_round = t.output.n_trees_per_round(t.n_classes);
    let keep = (rounds * per_round).min(t.n_trees());
    let mut out = empty_like(t);
    for i in 0..keep {
        out.append_tree(t, i, tree_output(t, i));
    }
    out
}

/// An ensemble with `t`'s shape and output rule and no trees.
fn empty_like(t: &TreeEnsemble) -> TreeEnsemble {
    match &t.output {
        Output::Average => TreeEnsemble::new(t.n_features, t.n_classes),
        Output::Boosted { link, base, .. } => {
            TreeEnsemble::boosted(t.n_features, t.n_classes, *link, base.clone())
        }
    }
}

fn tree_output(t: &TreeEnsemble, i: usize) -> u32 {
    match &t.output {
        Output::Average => 0,
        Output::Boosted { tree_output, .. } => tree_output[i],
    }
}

/// Every tree of `t` cut at depth `max_depth`. A node at the cut becomes a
/// leaf whose value comes from the training rows that reach it:
/// - averaged ensembles (trees, forests): their class distribution, as the
///   leaves of a tree grown to that depth hold (a forest's trees counted
///   their bootstrap rows; every training row stands in for them here);
/// - boosted ensembles: the mean of the subtree's leaf scores weighted by
///   how many training rows reach each leaf. (A boosting trainer's own
///   internal value would weight by hessians; counts are what the model
///   alone allows — an approximation, measured by its agreement.)
///
/// A node no training row reaches keeps an unweighted mean. Cutting at a
/// depth ≥ the tree's changes nothing.
pub fn prune_depth(
    t: &TreeEnsemble,
    max_depth: u16,
    data: &TrainData<'_>,
    class_weight: Option<&[f64]>,
) -> TreeEnsemble {
    let cap = usize::from(max_depth);
    let depth = t.node_depths();
    let cut: Vec<bool> = depth.iter().map(|&d| d >= cap).collect();
    let counts = node_counts(t, data, class_weight);
    rebuild(t, &cut, &node_values(t, &counts))
}

/// Training rows reaching each node, per class (`n_nodes × n_classes`),
/// each row weighing its class's `class_weight` (the tree's training
/// weights: scikit-learn's `weighted_n_node_samples`) or 1. Unweighted
/// counts are whole numbers, exact in `f64`.
pub(crate) fn node_counts(
    t: &TreeEnsemble,
    data: &TrainData<'_>,
    class_weight: Option<&[f64]>,
) -> Vec<f64> {
    let k = t.n_classes;
    let mut counts = vec![0.0f64; t.nodes.len() * k];
    for r in 0..data.n_rows() {
        let row = data.row(r);
        let class = data.y[r] as usize;
        let weight = class_weight.map_or(1.0, |cw| cw[class]);
        for &root in &t.roots {
            let mut i = root as usize;
            loop {
                counts[i * k + class] += weight;
                let n = &t.nodes[i];
                if n.is_leaf() {
                    break;
                }
                i = if row[n.feature as usize] <= n.threshold {
                    n.left
                } else {
                    n.right
                } as usize;
            }
        }
    }
    counts
}

/// The value every node would hold as a leaf (`n_nodes × leaf_width`); see
/// [`prune_depth`] for the rule.
fn node_values(t: &TreeEnsemble, counts: &[f64]) -> Vec<f32> {
    let w = t.leaf_width();
    let k = t.n_classes;
    let n_nodes = t.nodes.len();
    // Value of every node as a leaf, bottom-up for boosting (children come
    // after parents, so walk backwards).
    let mut value = vec![0.0f32; n_nodes * w];
    let mut weight = vec![0.0f64; n_nodes];
    for i in (0..n_nodes).rev() {
        let n = &t.nodes[i];
        let c = &counts[i * k..(i + 1) * k];
        let total: f64 = c.iter().sum();
        match t.output {
            Output::Average => {
                let v = &mut value[i * w..(i + 1) * w];
                if n.is_leaf() {
                    let l = n.left as usize;
                    v.copy_from_slice(&t.leaf_values[l * w..(l + 1) * w]);
                } else if total > 0.0 {
                    for (x, &cj) in v.iter_mut().zip(c) {
                        *x = cj as f32 / total as f32;
                    }
                } else {
                    // No training row: the mean of the children's values.
                    let (l, r) = (n.left as usize, n.right as usize);
                    let mean: Vec<f32> = (0..w)
                        .map(|j| (value[l * w + j] + value[r * w + j]) / 2.0)
                        .collect();
                    value[i * w..(i + 1) * w].copy_from_slice(&mean);
                }
            }
            Output::Boosted { .. } => {
                if n.is_leaf() {
                    value[i] = t.leaf_values[n.left as usize];
                    weight[i] = total;
                } else {
                    let (l, r) = (n.left as usize, n.right as usize);
                    let (wl, wr) = (weight[l], weight[r]);
                    let (a, b) = if wl + wr > 0.0 { (wl, wr) } else { (1.0, 1.0) };
                    value[i] =
                        ((f64::from(value[l]) * a + f64::from(value[r]) * b) / (a + b)) as f32;
                    weight[i] = wl + wr;
                }
            }
        }
    }
    value
}

/// `t` with every node marked in `cut` (and not already a leaf) turned into
/// a leaf holding its `value`; nodes below a cut are dropped.
fn rebuild(t: &TreeEnsemble, cut: &[bool], value: &[f32]) -> TreeEnsemble {
    let w = t.leaf_width();
    let mut out = empty_like(t);
    for (ti, &root) in t.roots.iter().enumerate() {
        // Copy the tree in pre-order, turning cut nodes into leaves.
        let mut single = empty_like(t);
        copy_cut(t, root as usize, cut, value, w, &mut single);
        single.roots.push(0);
        out.append_tree(&single, 0, tree_output(t, ti));
    }
    out
}

fn copy_cut(
    t: &TreeEnsemble,
    i: usize,
    cut: &[bool],
    value: &[f32],
    w: usize,
    out: &mut TreeEnsemble,
) -> u32 {
    let n = t.nodes[i];
    if n.is_leaf() || cut[i] {
        return out.push_leaf(&value[i * w..(i + 1) * w]);
    }
    let me = out.push_split(n.feature, n.threshold);
    let l = copy_cut(t, n.left as usize, cut, value, w, out);
    let r = copy_cut(t, n.right as usize, cut, value, w, out);
    out.set_children(me, l, r);
    me
}

/// The weakest-link sequence of minimal cost-complexity pruning (Breiman et
/// al., as scikit-learn's `ccp_alpha`) of a single tree: each step cuts the
/// internal node whose subtree buys the least impurity per extra leaf,
/// `g(t) = (R(t) − R(T_t)) / (|leaves(T_t)| − 1)` with `R(t) = (n_t / N) ×
/// gini(t)` over the training rows reaching `t`. Returns `(α, node)` pairs
/// in cutting order, with α the effective alpha (non-decreasing): the tree
/// pruned at α cuts every node listed with an α at or below it. Ties go to
/// the lowest node index.
///
/// A cut changes `g` only on the cut node's ancestors, so those are
/// re-scored (from their children, in the order a full re-score adds them:
/// the same bits) and pushed again on a heap whose stale entries are
/// skipped: O(n log n + cuts × depth) where re-scoring the whole tree at
/// each step was quadratic, which took minutes on the tens of thousands of
/// nodes a tree grown on 200,000 rows has.
pub(crate) fn weakest_links(t: &TreeEnsemble, counts: &[f64]) -> Vec<(f64, usize)> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// `g` ordered as `<` orders it (no NaN: an internal node has two
    /// leaves or more), then the node index.
    #[derive(PartialEq)]
    struct Key(f64, usize, u32);
    impl Eq for Key {}
    impl PartialOrd for Key {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Key {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.0
                .partial_cmp(&o.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(self.1.cmp(&o.1))
        }
    }

    let n = t.nodes.len();
    let risk = node_risk(t, counts);
    let mut subtree_risk = vec![0.0f64; n];
    let mut leaves = vec![0usize; n];
    let mut parent = vec![usize::MAX; n];
    // Children follow their parent (pre-order), so one backward pass scores
    // every subtree.
    for i in (0..n).rev() {
        let node = &t.nodes[i];
        if node.is_leaf() {
            subtree_risk[i] = risk[i];
            leaves[i] = 1;
        } else {
            let (l, r) = (node.left as usize, node.right as usize);
            subtree_risk[i] = subtree_risk[l] + subtree_risk[r];
            leaves[i] = leaves[l] + leaves[r];
            parent[l] = i;
            parent[r] = i;
        }
    }
    let g = |i: usize, subtree_risk: &[f64], leaves: &[usize]| {
        (risk[i] - subtree_risk[i]) / (leaves[i] - 1) as f64
    };
    // The internal nodes under the first root, not yet cut nor under a cut.
    let mut live = vec![false; n];
    let mut version = vec![0u32; n];
    let mut heap = BinaryHeap::new();
    let mut stack = vec![t.roots[0] as usize];
    while let Some(i) = stack.pop() {
        let node = &t.nodes[i];
        if !node.is_leaf() {
            live[i] = true;
            heap.push(Reverse(Key(g(i, &subtree_risk, &leaves), i, 0)));
            stack.push(node.left as usize);
            stack.push(node.right as usize);
        }
    }
    let mut out = Vec::new();
    let mut alpha = 0.0f64;
    while let Some(Reverse(Key(gi, i, v))) = heap.pop() {
        if !live[i] || v != version[i] {
            continue;
        }
        alpha = alpha.max(gi);
        out.push((alpha, i));
        // The cut node becomes a leaf; the internal nodes below it leave.
        live[i] = false;
        subtree_risk[i] = risk[i];
        leaves[i] = 1;
        let node = &t.nodes[i];
        stack.clear();
        stack.extend([node.left as usize, node.right as usize]);
        while let Some(j) = stack.pop() {
            let below = &t.nodes[j];
            if !below.is_leaf() && live[j] {
                live[j] = false;
                stack.extend([below.left as usize, below.right as usize]);
            }
        }
        let mut a = parent[i];
        while a != usize::MAX && live[a] {
            let node = &t.nodes[a];
            let (l, r) = (node.left as usize, node.right as usize);
            subtree_risk[a] = subtree_risk[l] + subtree_risk[r];
            leaves[a] = leaves[l] + leaves[r];
            version[a] += 1;
            heap.push(Reverse(Key(g(a, &subtree_risk, &leaves), a, version[a])));
            a = parent[a];
        }
    }
    out
}

/// `R(t) = (n_t / N) × gini(t)` of every node, over the training rows
/// reaching it.
fn node_risk(t: &TreeEnsemble, counts: &[f64]) -> Vec<f64> {
    let k = t.n_classes;
    let total: f64 = counts[..k].iter().sum();
    (0..t.nodes.len())
        .map(|i| {
            let c = &counts[i * k..(i + 1) * k];
            let m: f64 = c.iter().sum();
            if m == 0.0 || total == 0.0 {
                return 0.0;
            }
            let gini = 1.0 - c.iter().map(|&x| (x / m).powi(2)).sum::<f64>();
            m / total * gini
        })
        .collect()
}

/// A tree's pruning path computed once: the pruned tree at any alpha
/// without re-deriving the path (choosing alpha walks every one of them).
pub(crate) struct PrunePath<'t> {
    tree: &'t TreeEnsemble,
    values: Vec<f32>,
    links: Vec<(f64, usize)>,
}

impl<'t> PrunePath<'t> {
    pub(crate) fn new(
        tree: &'t TreeEnsemble,
        data: &TrainData<'_>,
        class_weight: Option<&[f64]>,
    ) -> PrunePath<'t> {
        let counts = node_counts(tree, data, class_weight);
        PrunePath {
            tree,
            values: node_values(tree, &counts),
            links: weakest_links(tree, &counts),
        }
    }

    /// The distinct effective alphas, 0 (the unpruned tree) first.
    pub(crate) fn alphas(&self) -> Vec<f64> {
        let mut alphas = vec![0.0];
        for &(a, _) in &self.links {
            if a > *alphas.last().expect("non-empty") {
                alphas.push(a);
            }
        }
        alphas
    }

    /// The tree pruned at `alpha`, as [`prune_cost_complexity`] prunes it.
    pub(crate) fn at(&self, alpha: f64) -> TreeEnsemble {
        let mut cut = vec![false; self.tree.nodes.len()];
        for &(a, i) in &self.links {
            if a <= alpha {
                cut[i] = true;
            }
        }
        rebuild(self.tree, &cut, &self.values)
    }
}

/// A single tree pruned at cost-complexity `alpha` (see [`weakest_links`]),
/// cut nodes holding the class distribution of the training rows that
/// reach them.
pub fn prune_cost_complexity(
    t: &TreeEnsemble,
    alpha: f64,
    data: &TrainData<'_>,
    class_weight: Option<&[f64]>,
) -> TreeEnsemble {
    PrunePath::new(t, data, class_weight).at(alpha)
}
