//! Decision trees through smartcore, converted to a [`TreeEnsemble`].
//! (Forests are grown in house: `forest.rs` says why.)
//!
//! smartcore keeps its nodes private but serialises them; the converter reads
//! `nodes[]{split_feature, split_value, true_child, false_child, output}` from
//! that serialisation. smartcore sends `x <= t` left, like the IR; its `f64`
//! threshold becomes the largest `f32` not above it, which gives the same
//! comparison for every `f32` input.
//!
//! smartcore's trees hold only the majority class at a leaf. A tree's leaf
//! probabilities are recomputed by routing the training rows through the
//! converted tree (the same rows smartcore counted).
//!
//! Single trees stay on smartcore: exact CART thresholds (no binning), and
//! it fits faster than scikit-learn's `DecisionTreeClassifier` here (0.16 s
//! against 0.20 s at depth 10 on w1, `scripts/fit_times.sh`).

use super::TrainData;
use crate::model::{Model, TreeEnsemble};
use serde_json::Value;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};

pub(crate) type SmartTree = DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

/// smartcore counts tree levels from 1 at the root and splits a node only
/// while its level is below `max_depth`, so its `max_depth = d` grows trees of
/// depth d − 1. optbench's `max_depth` means what scikit-learn's does (the
/// longest root-to-leaf path has `max_depth` splits), hence the + 1.
fn smartcore_depth(max_depth: Option<u16>) -> Option<u16> {
    max_depth.map(|d| d.saturating_add(1))
}

fn matrix(data: &TrainData<'_>) -> Result<DenseMatrix<f64>, String> {
    DenseMatrix::new(data.n_rows(), data.n_features, data.x_f64(), false).map_err(|e| e.to_string())
}

pub(crate) fn fit_tree(
    data: &TrainData<'_>,
    max_depth: Option<u16>,
    min_samples_leaf: usize,
) -> Result<(SmartTree, Model), String> {
    let params = DecisionTreeClassifierParameters {
        max_depth: smartcore_depth(max_depth),
        min_samples_leaf,
        ..Default::default()
    };
    let fitted =
        SmartTree::fit(&matrix(data)?, &data.y.to_vec(), params).map_err(|e| e.to_string())?;
    let json = serde_json::to_value(&fitted).map_err(|e| e.to_string())?;
    let classes = class_map(&json, data.n_classes)?;
    let mut ens = TreeEnsemble::new(data.n_features, data.n_classes);
    let mut leaf_class = Vec::new();
    let root = convert(&json, &mut ens, &classes, &mut leaf_class)?;
    ens.roots.push(root);
    // Leaf class distributions from the training rows.
    let mut counts = vec![0u64; ens.leaf_values.len()];
    for i in 0..data.n_rows() {
        let leaf = ens.leaf_of(root, data.row(i)) as usize;
        counts[leaf * data.n_classes + data.y[i] as usize] += 1;
    }
    for (leaf, chunk) in counts.chunks_exact(data.n_classes).enumerate() {
        let total: u64 = chunk.iter().sum();
        let values = &mut ens.leaf_values[leaf * data.n_classes..(leaf + 1) * data.n_classes];
        for (v, &c) in values.iter_mut().zip(chunk) {
            *v = if total > 0 {
                c as f32 / total as f32
            } else {
                0.0
            };
        }
        if total > 0 && crate::model::argmax(values) != leaf_class[leaf] {
            return Err(format!(
                "leaf {leaf}: smartcore's class {} is not the majority of the training rows that reach it",
                leaf_class[leaf]
            ));
        }
        if total == 0 {
            values[leaf_class[leaf] as usize] = 1.0;
        }
    }
    Ok((fitted, Model::Trees(ens)))
}

/// smartcore numbers classes by position in the sorted distinct labels it
/// saw; map those positions to our class indices.
fn class_map(json: &Value, n_classes: usize) -> Result<Vec<u32>, String> {
    let classes = json["classes"]
        .as_array()
        .ok_or("smartcore model has no `classes`")?;
    classes
        .iter()
        .map(|c| match c.as_u64() {
            Some(c) if (c as usize) < n_classes => Ok(c as u32),
            _ => Err(format!("smartcore model names an unknown class {c}")),
        })
        .collect()
}

/// Appends one smartcore tree to `ens` in pre-order (children after their
/// parent) with zeroed leaf values, recording each new leaf's class in
/// `leaf_class`. Returns the root's index. Iterative, so a degenerate deep
/// tree cannot overflow the stack.
fn convert(
    tree: &Value,
    ens: &mut TreeEnsemble,
    classes: &[u32],
    leaf_class: &mut Vec<u32>,
) -> Result<u32, String> {
    let nodes = tree["nodes"]
        .as_array()
        .ok_or("smartcore tree has no `nodes` array")?;
    if nodes.is_empty() {
        return Err("smartcore tree has no nodes".into());
    }
    let zeros = vec![0.0f32; ens.n_classes];
    let field = |i: usize, name: &str| -> Option<u64> { nodes.get(i)?.get(name)?.as_u64() };
    // (smartcore node, IR parent, is left child)
    let mut stack: Vec<(usize, Option<(u32, bool)>)> = vec![(0, None)];
    let mut root = None;
    let mut visited = 0usize;
    while let Some((src, parent)) = stack.pop() {
        visited += 1;
        if visited > nodes.len() {
            return Err("smartcore tree is not a tree (a node is reached twice)".into());
        }
        let node = nodes
            .get(src)
            .ok_or(format!("smartcore node {src} does not exist"))?;
        let idx = match (field(src, "true_child"), field(src, "false_child")) {
            (Some(t), Some(f)) => {
                let feature = field(src, "split_feature").ok_or("split without a feature")?;
                let t_value = node["split_value"]
                    .as_f64()
                    .ok_or("split without a threshold")?;
                let idx = ens.push_split(feature as u32, f32_at_or_below(t_value));
                // Right first, so that the left subtree is emitted first.
                stack.push((f as usize, Some((idx, false))));
                stack.push((t as usize, Some((idx, true))));
                idx
            }
            _ => {
                let out = field(src, "output").ok_or("leaf without an output")? as usize;
                let class = *classes
                    .get(out)
                    .ok_or(format!("leaf output {out} is not a class"))?;
                leaf_class.push(class);
                ens.push_leaf(&zeros)
            }
        };
        match parent {
            None => root = Some(idx),
            Some((p, true)) => ens.nodes[p as usize].left = idx,
            Some((p, false)) => ens.nodes[p as usize].right = idx,
        }
    }
    root.ok_or_else(|| "empty tree".to_string())
}

/// The largest `f32` not above `t`: for every `f32` value `x`,
/// `x <= result` exactly when `f64::from(x) <= t`.
pub(crate) fn f32_at_or_below(t: f64) -> f32 {
    let f = t as f32;
    if f64::from(f) > t {
        f.next_down()
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::testdata::Problem;

    fn x_matrix(p: &Problem) -> DenseMatrix<f64> {
        DenseMatrix::new(
            p.y_test.len(),
            p.n_features,
            p.x_test.iter().map(|&v| f64::from(v)).collect(),
            false,
        )
        .unwrap()
    }

    fn assert_same_classes(p: &Problem, model: &Model, expected: &[u32]) {
        let mut scratch = model.scratch();
        let mut proba = vec![0.0f32; p.n_classes];
        for (i, row) in p.test_rows().enumerate() {
            assert_eq!(
                model.predict(row, &mut scratch),
                expected[i],
                "test row {i}"
            );
            model.predict_proba(row, &mut scratch, &mut proba);
            assert!((proba.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        model.check().unwrap();
    }

    #[test]
    fn threshold_rounding_reproduces_f64_comparisons() {
        for t in [
            0.1f64,
            -0.3,
            1e-40,
            2.5,
            (0.1f32 as f64 + 0.2f32 as f64) / 2.0,
        ] {
            let f = f32_at_or_below(t);
            for x in [f, f.next_up(), f.next_down(), t as f32] {
                assert_eq!(x <= f, f64::from(x) <= t, "t = {t}, x = {x}");
            }
        }
    }

    #[test]
    fn tree_conversion_agrees_with_smartcore() {
        for (classes, depth, leaf) in [
            (2, Some(3), 1),
            (2, None, 1),
            (3, Some(10), 5),
            (3, None, 1),
        ] {
            let p = Problem::new(1500, classes, 11);
            let (fitted, model) = fit_tree(&p.train(), depth, leaf).unwrap();
            let expected = fitted.predict(&x_matrix(&p)).unwrap();
            assert_same_classes(&p, &model, &expected);
            if let (Model::Trees(t), Some(d)) = (&model, depth) {
                // max_depth as scikit-learn means it: exactly d splits deep
                // here (1,125 rows are plenty to fill depth 3 and 10).
                assert_eq!(t.max_depth(), d as usize);
            }
        }
    }
}
