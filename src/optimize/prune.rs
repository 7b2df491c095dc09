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
/// - averaged ensembles: their class distribution — or, for a forest whose
///   every leaf is a one-hot vote (majority vote), a vote for their majority
///   class, so the forest still votes;
/// - boosted ensembles: the mean of the subtree's leaf scores weighted by
///   how many training rows reach each leaf. (A boosting trainer's own
///   internal value would weight by hessians; counts are what the model
///   alone allows — an approximation, measured by its agreement.)
///
/// A node no training row reaches keeps an unweighted mean. Cutting at a
/// depth ≥ the tree's changes nothing.
pub fn prune_depth(t: &TreeEnsemble, max_depth: u16, data: &TrainData<'_>) -> TreeEnsemble {
    let cap = usize::from(max_depth);
    let w = t.leaf_width();
    let n_nodes = t.nodes.len();
    // Rows reaching each node, per class (averaging) or in total (boosting).
    let k = t.n_classes;
    let mut counts = vec![0u64; n_nodes * k];
    for r in 0..data.n_rows() {
        let row = data.row(r);
        let class = data.y[r] as usize;
        for &root in &t.roots {
            let mut i = root as usize;
            loop {
                counts[i * k + class] += 1;
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
    // A forest of one-hot leaves votes; a single tree's pure leaves are
    // still a class distribution.
    let votes = matches!(t.output, Output::Average)
        && t.n_trees() > 1
        && t.leaf_values.chunks_exact(w).all(|v| {
            v.iter().filter(|&&x| x == 1.0).count() == 1 && v.iter().all(|&x| x == 0.0 || x == 1.0)
        });
    // Value of every node as a leaf, bottom-up for boosting (children come
    // after parents, so walk backwards).
    let mut value = vec![0.0f32; n_nodes * w];
    let mut weight = vec![0.0f64; n_nodes];
    for i in (0..n_nodes).rev() {
        let n = &t.nodes[i];
        let c = &counts[i * k..(i + 1) * k];
        let total: u64 = c.iter().sum();
        match t.output {
            Output::Average => {
                let v = &mut value[i * w..(i + 1) * w];
                if n.is_leaf() {
                    let l = n.left as usize;
                    v.copy_from_slice(&t.leaf_values[l * w..(l + 1) * w]);
                } else if votes {
                    let best = (0..k).fold(0, |b, j| if c[j] > c[b] { j } else { b });
                    v[best] = 1.0;
                } else if total > 0 {
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
                    weight[i] = total as f64;
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
    let depth = t.node_depths();
    let mut out = empty_like(t);
    for (ti, &root) in t.roots.iter().enumerate() {
        // Copy the tree in pre-order, turning nodes at the cap into leaves.
        let mut single = empty_like(t);
        copy_capped(t, root as usize, cap, &depth, &value, w, &mut single);
        single.roots.push(0);
        out.append_tree(&single, 0, tree_output(t, ti));
    }
    out
}

fn copy_capped(
    t: &TreeEnsemble,
    i: usize,
    cap: usize,
    depth: &[usize],
    value: &[f32],
    w: usize,
    out: &mut TreeEnsemble,
) -> u32 {
    let n = t.nodes[i];
    // `depth` counts from each tree's root.
    if n.is_leaf() || depth[i] >= cap {
        return out.push_leaf(&value[i * w..(i + 1) * w]);
    }
    let me = out.push_split(n.feature, n.threshold);
    let l = copy_capped(t, n.left as usize, cap, depth, value, w, out);
    let r = copy_capped(t, n.right as usize, cap, depth, value, w, out);
    out.set_children(me, l, r);
    me
}
