//! [`QuantTrees::from_ensemble`]: a float tree ensemble into the binned
//! saved form (each feature's cuts, trees renumbered depth-first with
//! tree-local child references, leaves in the new order), and the int8
//! quantization of its leaves ([`quantize_int8`]: one scale for the model,
//! refined by a power of two per tree).
//!
//! Uses the saved form's types and limits (`binned/mod.rs`) and the float
//! form it reads ([`TreeEnsemble`]).

use super::{
    internal, leaf, tree_values, LeafPrecision, Leaves, QNode, QTree, QuantTrees, EXACT_F32_SUM,
    MAX_LEAF_SHIFT, MAX_LOCAL,
};
use crate::model::TreeEnsemble;

/// 2^k, exactly.
fn pow2(k: u8) -> f32 {
    2f32.powi(i32::from(k))
}

/// Int8 leaves for `values` (tree by tree, `width` per leaf): the finest
/// common unit `scale` for which every tree's leaves, shifted left by their
/// tree's power of two, still add up below 2^24 ([`EXACT_F32_SUM`]), each
/// tree's shift the smallest that fits its largest |value| in 127 units.
/// The largest tree keeps the single scale's 127 levels (shift `K`, the
/// scale `max / 127 / 2^K`), and each halving of the scale gives every
/// smaller tree one more bit, so the largest `K` that keeps the sums exact
/// is taken. When every tree ends up with the same shift (forests, whose
/// leaves are class fractions with a largest near 1 in every tree) the
/// leaves are the single-scale [`Leaves::Int8`].
fn quantize_int8(values: &[f32], trees: &[QTree], width: usize) -> Leaves {
    let range = |t| tree_values(trees, values.len(), width, t);
    let tree_max: Vec<f32> = (0..trees.len())
        .map(|t| values[range(t)].iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .collect();
    let max = tree_max.iter().fold(0.0f32, |m, &v| m.max(v));
    let single = |scale: f32| Leaves::Int8 {
        values: values
            .iter()
            .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
        scale,
    };
    if max <= 0.0 {
        return single(1.0);
    }
    let unit = max / 127.0;
    for k in (1..=MAX_LEAF_SHIFT).rev() {
        let scale = unit / pow2(k);
        if scale < f32::MIN_POSITIVE {
            continue;
        }
        // The smallest shift whose range covers the tree's largest value.
        let mut shifts: Vec<u8> = tree_max
            .iter()
            .map(|&m| (0..k).find(|&s| m <= 127.0 * scale * pow2(s)).unwrap_or(k))
            .collect();
        let low = shifts.iter().copied().min().unwrap_or(0);
        if shifts.iter().all(|&s| s == low) {
            return single(scale * pow2(low));
        }
        shifts.iter_mut().for_each(|s| *s -= low);
        let scale = scale * pow2(low);
        let mut q = Vec::with_capacity(values.len());
        let mut bound = 0u64;
        for (t, &s) in shifts.iter().enumerate() {
            let unit = scale * pow2(s);
            let start = q.len();
            q.extend(
                values[range(t)]
                    .iter()
                    .map(|v| (v / unit).round().clamp(-127.0, 127.0) as i8),
            );
            let top = q[start..]
                .iter()
                .map(|v| v.unsigned_abs())
                .max()
                .unwrap_or(0);
            bound += u64::from(top) << s;
        }
        if bound < EXACT_F32_SUM {
            return Leaves::Int8Shifted {
                values: q,
                scale,
                shifts,
            };
        }
    }
    single(unit)
}

impl QuantTrees {
    /// The binned form of `ens`, with leaves stored at `precision`.
    pub fn from_ensemble(
        ens: &TreeEnsemble,
        precision: LeafPrecision,
    ) -> Result<QuantTrees, String> {
        if ens.n_features > usize::from(u16::MAX) {
            return Err(format!(
                "{} features: at most 65,535 fit a u16",
                ens.n_features
            ));
        }
        // Cuts per feature.
        let mut per_feature: Vec<Vec<f32>> = vec![Vec::new(); ens.n_features];
        for n in ens.nodes.iter().filter(|n| !n.is_leaf()) {
            per_feature[n.feature as usize].push(n.threshold);
        }
        let mut cuts = Vec::new();
        let mut cut_start = vec![0u32];
        let mut used_features = Vec::new();
        for (f, t) in per_feature.iter_mut().enumerate() {
            t.sort_by(f32::total_cmp);
            t.dedup();
            if t.len() > usize::from(u16::MAX) {
                return Err(format!(
                    "feature {f} has {} distinct thresholds; a u16 bin holds 65,535",
                    t.len()
                ));
            }
            if !t.is_empty() {
                used_features.push(f as u16);
            }
            cuts.extend_from_slice(t);
            cut_start.push(cuts.len() as u32);
        }

        let mut trees = Vec::with_capacity(ens.n_trees());
        let mut nodes = Vec::new();
        let width = ens.leaf_width();
        let mut leaf_order = Vec::new(); // float leaf numbers, in new order
        for t in 0..ens.n_trees() {
            let start = ens.roots[t] as usize;
            let end = ens.tree_end(t);
            let node_base = nodes.len();
            let leaf_base = leaf_order.len();
            // Depth-first order, left subtree first: an internal node's left
            // child, when internal, is the next internal node, and the stored
            // form can leave child references out (see `Stored`).
            let mut order = Vec::with_capacity(end - start);
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                order.push(i);
                let n = &ens.nodes[i];
                if !n.is_leaf() {
                    stack.push(n.right as usize);
                    stack.push(n.left as usize);
                }
            }
            // Local numbers: internal nodes and leaves each in that order.
            let mut local = vec![0i16; end - start];
            let (mut n_int, mut n_leaf) = (0usize, 0usize);
            for &i in &order {
                let is_leaf = ens.nodes[i].is_leaf();
                let count = if is_leaf {
                    leaf_order.push(ens.nodes[i].left);
                    &mut n_leaf
                } else {
                    &mut n_int
                };
                if *count >= MAX_LOCAL {
                    return Err(format!(
                        "tree {t} has more than {MAX_LOCAL} internal nodes or leaves"
                    ));
                }
                local[i - start] = if is_leaf {
                    leaf(*count)
                } else {
                    internal(*count)
                };
                *count += 1;
            }
            for &i in &order {
                let n = &ens.nodes[i];
                if n.is_leaf() {
                    continue;
                }
                let f = n.feature as usize;
                let fc = &cuts[cut_start[f] as usize..cut_start[f + 1] as usize];
                // The threshold is one of the feature's cuts by construction.
                let bin = fc.partition_point(|&c| c < n.threshold);
                nodes.push(QNode {
                    feature: n.feature as u16,
                    bin: bin as u16,
                    left: local[n.left as usize - start],
                    right: local[n.right as usize - start],
                });
            }
            trees.push(QTree {
                node_base: node_base as u32,
                leaf_base: leaf_base as u32,
                root: local[0],
            });
        }
        let mut values = Vec::with_capacity(leaf_order.len() * width);
        for &l in &leaf_order {
            let l = l as usize;
            values.extend_from_slice(&ens.leaf_values[l * width..(l + 1) * width]);
        }
        let leaves = match precision {
            LeafPrecision::F32 => Leaves::F32(values),
            LeafPrecision::Int8 => quantize_int8(&values, &trees, width),
        };
        let q = QuantTrees {
            n_features: ens.n_features,
            n_classes: ens.n_classes,
            output: ens.output.clone(),
            cuts,
            cut_start,
            used_features,
            trees,
            nodes,
            leaves,
        };
        q.check()?;
        Ok(q)
    }
}
