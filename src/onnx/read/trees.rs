//! Tree operators → the IR's trees: `TreeEnsembleClassifier` (averaging
//! forests; boosting with a softmax, or with one logistic score for two
//! classes) and `TreeEnsembleRegressor` read as a classifier through the
//! tail's sigmoid pair or softmax. [`Forest`] holds the file's flat
//! `nodes_*` attributes, rewrites the splits that send a missing value to
//! their true branch on the features it is given
//! ([`Forest::send_missing_right`]), and builds the trees in pre-order.

use super::graph::Attrs;
use super::link::{Head, Tail};
use crate::error::Result;
use crate::model::{Link, Model, Output, TreeEnsemble};
use std::collections::{HashMap, HashSet};

/// Per-leaf weights: (tree, node) → [(class or target, weight)].
type LeafWeights = HashMap<(i64, i64), Vec<(usize, f32)>>;

/// The tree structure of a tree operator, and its leaf weights.
struct Forest {
    tree_ids: Vec<i64>,
    tree_of: Vec<i64>,
    node_ids: Vec<i64>,
    features: Vec<i64>,
    modes: Vec<String>,
    values: Vec<f32>,
    trues: Vec<i64>,
    falses: Vec<i64>,
    index: HashMap<(i64, i64), usize>,
    weights: LeafWeights,
}

impl Forest {
    /// `rewrite`: features whose splits sending a missing value to the true
    /// branch are rewritten ([`Forest::send_missing_right`]).
    fn read(
        a: &Attrs<'_>,
        prefix: &str,
        n_outputs: usize,
        rewrite: &HashSet<i64>,
    ) -> Result<Forest> {
        let tree_of = a.ints("nodes_treeids")?.to_vec();
        let node_ids = a.ints("nodes_nodeids")?.to_vec();
        let features = a.ints("nodes_featureids")?.to_vec();
        let modes = a.strings("nodes_modes")?;
        let values = a.floats("nodes_values")?.to_vec();
        let trues = a.ints("nodes_truenodeids")?.to_vec();
        let falses = a.ints("nodes_falsenodeids")?.to_vec();
        let missing = a.ints("nodes_missing_value_tracks_true")?;
        let n = tree_of.len();
        if n == 0 {
            return Err(a.err("has no tree nodes"));
        }
        if [
            node_ids.len(),
            features.len(),
            modes.len(),
            values.len(),
            trues.len(),
            falses.len(),
        ]
        .iter()
        .any(|&l| l != n)
            || (!missing.is_empty() && missing.len() != n)
        {
            return Err(a.err("the nodes_* attributes have different lengths"));
        }
        // Splits that send missing values to their true branch are rewritten
        // below on the features the caller names; on the others the
        // pipeline gives a stand-in value (`stand_ins`).
        let mut index = HashMap::with_capacity(n);
        let mut tree_ids = Vec::new();
        let mut seen = HashSet::new();
        for i in 0..n {
            if index.insert((tree_of[i], node_ids[i]), i).is_some() {
                return Err(a.err(format!(
                    "tree {} has node {} twice",
                    tree_of[i], node_ids[i]
                )));
            }
            if seen.insert(tree_of[i]) {
                tree_ids.push(tree_of[i]);
            }
        }
        let w_trees = a.ints(&format!("{prefix}_treeids"))?;
        let w_nodes = a.ints(&format!("{prefix}_nodeids"))?;
        let w_ids = a.ints(&format!("{prefix}_ids"))?;
        let w = a.floats(&format!("{prefix}_weights"))?;
        let m = w.len();
        if w_trees.len() != m || w_nodes.len() != m || w_ids.len() != m {
            return Err(a.err(format!("the {prefix}_* attributes have different lengths")));
        }
        let mut weights: LeafWeights = HashMap::new();
        for j in 0..m {
            let key = (w_trees[j], w_nodes[j]);
            match index.get(&key) {
                Some(&i) if modes[i] == "LEAF" => {}
                _ => {
                    return Err(a.err(format!(
                        "a weight names tree {} node {}, which is not a leaf",
                        key.0, key.1
                    )))
                }
            }
            let id = usize::try_from(w_ids[j])
                .ok()
                .filter(|&id| id < n_outputs)
                .ok_or_else(|| {
                    a.err(format!("a weight names output {} of {n_outputs}", w_ids[j]))
                })?;
            weights.entry(key).or_default().push((id, w[j]));
        }
        let mut missing = missing.to_vec();
        missing.resize(n, 0);
        let mut forest = Forest {
            tree_ids,
            tree_of,
            node_ids,
            features,
            modes,
            values,
            trues,
            falses,
            index,
            weights,
        };
        if !rewrite.is_empty() {
            forest.send_missing_right(a, rewrite, &mut missing)?;
        }
        Ok(forest)
    }

    /// Rewrites each split on a feature of `conflicts` that sends a missing
    /// value to its true branch `L` (which the IR cannot: it sends `NaN` to
    /// the false one) into the same split sending it false, to a guard
    /// `x <= +∞` (true for every number, false for `NaN`) whose true branch is
    /// the old false branch `R` and whose false branch is a copy of `L` for
    /// a missing value: in the copy, every split on the same feature is
    /// replaced by the branch the file sends a missing value to. Numbers take
    /// the paths they took; a missing value reaches the leaf it reached.
    /// Copies that hold such splits on other features are rewritten in turn.
    /// An error when the trees would grow more than sixteenfold. (LightGBM,
    /// 50 rounds of at most 15 leaves, trained on rows with an eighth of the
    /// cells missing: 2.4× on wine, 7.7× on breast cancer. The copies are
    /// walked by rows with missing values only, a guard by the rows that go
    /// right at its split.)
    fn send_missing_right(
        &mut self,
        a: &Attrs<'_>,
        conflicts: &HashSet<i64>,
        missing: &mut Vec<i64>,
    ) -> Result<()> {
        let original = self.modes.len();
        let limit = 16 * original;
        let mut next_id: HashMap<i64, i64> = HashMap::new();
        for (&t, &id) in self.tree_of.iter().zip(&self.node_ids) {
            let next = next_id.entry(t).or_insert(0);
            *next = (*next).max(id.saturating_add(1));
        }
        let mut i = 0;
        while i < self.modes.len() {
            if missing[i] != 0 && self.modes[i] != "LEAF" && conflicts.contains(&self.features[i]) {
                let (tree, f) = (self.tree_of[i], self.features[i]);
                let copy =
                    self.copy_for_missing(a, tree, self.trues[i], f, missing, &mut next_id)?;
                let guard = self.push_node(tree, f, "BRANCH_LEQ", f32::INFINITY, &mut next_id);
                missing.push(0);
                self.trues[guard] = self.falses[i];
                self.falses[guard] = copy;
                self.falses[i] = self.node_ids[guard];
                missing[i] = 0;
                if self.modes.len() > limit {
                    return Err(a.err(format!(
                        "sending missing values to the false branch at the splits that send them \
                         to the true one would take more than {limit} nodes ({original} in the file)"
                    )));
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// Appends a node to tree `tree` with a fresh id (children unset) and
    /// returns its position.
    fn push_node(
        &mut self,
        tree: i64,
        feature: i64,
        mode: &str,
        value: f32,
        next_id: &mut HashMap<i64, i64>,
    ) -> usize {
        let next = next_id.entry(tree).or_insert(0);
        let id = *next;
        *next += 1;
        let at = self.modes.len();
        self.tree_of.push(tree);
        self.node_ids.push(id);
        self.features.push(feature);
        self.modes.push(mode.to_string());
        self.values.push(value);
        self.trues.push(-1);
        self.falses.push(-1);
        self.index.insert((tree, id), at);
        at
    }

    /// Copies the subtree of tree `tree` under node id `root` as a missing
    /// value of feature `f` sees it (splits on `f` replaced by the branch
    /// that value takes); returns the copy's root id.
    fn copy_for_missing(
        &mut self,
        a: &Attrs<'_>,
        tree: i64,
        root: i64,
        f: i64,
        missing: &mut Vec<i64>,
        next_id: &mut HashMap<i64, i64>,
    ) -> Result<i64> {
        // (source node id, parent position and branch to link, or none).
        let mut stack = vec![(root, None::<(usize, bool)>)];
        let mut copy_root = None;
        // A damaged file's "tree" may reach a node twice; the copy must end.
        let mut seen = HashSet::new();
        let not_a_tree = || a.err(format!("tree {tree} is not a tree (node reached twice)"));
        while let Some((mut src, parent)) = stack.pop() {
            let mut j = self.node_at(a, tree, src)?;
            while self.modes[j] != "LEAF" && self.features[j] == f {
                if !seen.insert(src) {
                    return Err(not_a_tree());
                }
                src = if missing[j] != 0 {
                    self.trues[j]
                } else {
                    self.falses[j]
                };
                j = self.node_at(a, tree, src)?;
            }
            if !seen.insert(src) {
                return Err(not_a_tree());
            }
            let (feature, mode, value) = (self.features[j], self.modes[j].clone(), self.values[j]);
            let at = self.push_node(tree, feature, &mode, value, next_id);
            missing.push(missing[j]);
            let id = self.node_ids[at];
            if mode == "LEAF" {
                if let Some(w) = self.weights.get(&(tree, src)).cloned() {
                    self.weights.insert((tree, id), w);
                }
            } else {
                stack.push((self.falses[j], Some((at, false))));
                stack.push((self.trues[j], Some((at, true))));
            }
            match parent {
                Some((p, true)) => self.trues[p] = id,
                Some((p, false)) => self.falses[p] = id,
                None => copy_root = Some(id),
            }
        }
        copy_root.ok_or_else(|| a.err(format!("tree {tree} has no node {root}")))
    }

    fn node_at(&self, a: &Attrs<'_>, tree: i64, id: i64) -> Result<usize> {
        self.index
            .get(&(tree, id))
            .copied()
            .ok_or_else(|| a.err(format!("tree {tree} has no node {id}")))
    }

    fn n_features(&self, width: Option<usize>) -> usize {
        width.unwrap_or_else(|| {
            (0..self.modes.len())
                .filter(|&i| self.modes[i] != "LEAF")
                .map(|i| self.features[i].max(0) as usize + 1)
                .max()
                .unwrap_or(1)
        })
    }

    fn leaf_weights(&self, i: usize) -> &[(usize, f32)] {
        self.weights
            .get(&(self.tree_of[i], self.node_ids[i]))
            .map_or(&[][..], |v| &v[..])
    }

    /// The class (output) every leaf of tree `tree` adds to (0 when none).
    fn tree_output(&self, a: &Attrs<'_>, tree: i64) -> Result<u32> {
        let mut out = None;
        for (&(t, _), ws) in &self.weights {
            if t != tree {
                continue;
            }
            for &(id, _) in ws {
                if out.is_some_and(|o| o != id) {
                    return Err(a.err(format!(
                        "tree {tree} adds to several classes; a boosted tree adds to one"
                    )));
                }
                out = Some(id);
            }
        }
        Ok(out.unwrap_or(0) as u32)
    }

    /// Builds `ens` tree by tree, in pre-order; `leaf(i)` gives the values
    /// of the leaf at attribute position `i`.
    fn build(
        &self,
        a: &Attrs<'_>,
        ens: &mut TreeEnsemble,
        mut leaf: impl FnMut(usize) -> Result<Vec<f32>>,
    ) -> Result<()> {
        for &tree in &self.tree_ids {
            let mut children = HashSet::new();
            let members: Vec<usize> = (0..self.tree_of.len())
                .filter(|&i| self.tree_of[i] == tree)
                .collect();
            for &i in &members {
                if self.modes[i] != "LEAF" {
                    children.insert(self.trues[i]);
                    children.insert(self.falses[i]);
                }
            }
            let roots: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| !children.contains(&self.node_ids[i]))
                .collect();
            let [root] = roots[..] else {
                return Err(a.err(format!("tree {tree} has {} roots", roots.len())));
            };
            ens.roots.push(ens.nodes.len() as u32);
            let mut visited = HashSet::new();
            let mut stack = vec![(root, None::<(u32, bool)>)];
            while let Some((i, parent)) = stack.pop() {
                if !visited.insert(i) {
                    return Err(a.err(format!("tree {tree} is not a tree (node reached twice)")));
                }
                let id = match self.modes[i].as_str() {
                    "LEAF" => {
                        let values = leaf(i)?;
                        ens.push_leaf(&values)
                    }
                    mode @ ("BRANCH_LEQ" | "BRANCH_LT") => {
                        let f = self.features[i];
                        if f < 0 || f as usize >= ens.n_features {
                            return Err(a.err(format!(
                                "tree {tree} node {} tests feature {f} of {}",
                                self.node_ids[i], ens.n_features
                            )));
                        }
                        let t = self.values[i];
                        if t.is_nan() {
                            return Err(a.err(format!("tree {tree} has a NaN threshold")));
                        }
                        let id = ens.push_split(f as u32, ir_threshold(mode, t));
                        for (child, right) in [(self.falses[i], true), (self.trues[i], false)] {
                            let c = *self
                                .index
                                .get(&(tree, child))
                                .ok_or_else(|| a.err(format!("tree {tree} has no node {child}")))?;
                            stack.push((c, Some((id, right))));
                        }
                        id
                    }
                    other => {
                        return Err(a.err(format!(
                            "split mode {other} is not supported (BRANCH_LEQ and BRANCH_LT are)"
                        )))
                    }
                };
                if let Some((p, right)) = parent {
                    let n = &mut ens.nodes[p as usize];
                    if right {
                        n.right = id;
                    } else {
                        n.left = id;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The IR's threshold (`x <= t` goes left) for an ONNX split: `x < t` is
/// `x <=` the largest `f32` below `t`, on `f32` inputs.
pub(super) fn ir_threshold(mode: &str, t: f32) -> f32 {
    if mode == "BRANCH_LT" {
        t.next_down()
    } else {
        t
    }
}

pub(super) fn tree_classifier(
    a: &Attrs<'_>,
    width: Option<usize>,
    tail: &Tail,
    rewrite: &HashSet<i64>,
) -> Result<(Model, Vec<String>)> {
    let classes = a.classes("classlabels_int64s")?;
    let k = classes.len();
    let forest = Forest::read(a, "class", k, rewrite)?;
    let d = forest.n_features(width);
    let post = a.string("post_transform", "NONE")?;
    let base = a.floats("base_values")?.to_vec();
    let n_trees = forest.tree_ids.len();
    let used: HashSet<usize> = forest.weights.values().flatten().map(|&(c, _)| c).collect();
    let all_weights = || forest.weights.values().flatten().map(|&(_, w)| w);
    let plain = tail.is_identity() && tail.head == Head::None;
    let unsupported = || {
        a.err(format!(
            "post_transform {post} with {:?} after it, {} classes and weights naming {} of them is not supported",
            tail.head,
            k,
            used.len()
        ))
    };
    let ens = if k == 2 && used.len() == 1 {
        // One score column, class 1's (onnxruntime's reading).
        let s = |i: usize| forest.leaf_weights(i).iter().map(|&(_, w)| w).sum::<f32>();
        match post.as_str() {
            "NONE"
                if plain && base.iter().all(|&b| b == 0.0) && all_weights().all(|w| w >= 0.0) =>
            {
                let mut ens = TreeEnsemble::new(d, 2);
                let t = n_trees as f32;
                forest.build(a, &mut ens, |i| Ok(vec![1.0 - t * s(i), t * s(i)]))?;
                ens
            }
            "LOGISTIC" if plain && base.len() <= 1 => {
                let mut ens = TreeEnsemble::boosted(
                    d,
                    2,
                    Link::Logistic,
                    vec![base.first().copied().unwrap_or(0.0)],
                );
                forest.build(a, &mut ens, |i| Ok(vec![s(i)]))?;
                if let Output::Boosted { tree_output, .. } = &mut ens.output {
                    tree_output.resize(n_trees, 0);
                }
                ens
            }
            _ => return Err(unsupported()),
        }
    } else {
        tail.check_width(k, a.what)?;
        if !base.is_empty() && base.len() != k {
            return Err(a.err(format!("{} base values for {k} classes", base.len())));
        }
        let bv = |j: usize| base.get(j).copied().unwrap_or(0.0);
        match (post.as_str(), tail.head) {
            ("NONE", Head::None) => {
                // Averaging: probabilities = c × Σ leaf weights.
                let c = tail.a(0);
                if tail.a.iter().any(|&x| x != c)
                    || tail.b.iter().any(|&x| x != 0.0)
                    || base.iter().any(|&x| x != 0.0)
                {
                    return Err(unsupported());
                }
                // The IR divides the sum by T; a file that does the same
                // keeps its weights as they are.
                let factor = if c == 1.0 / n_trees as f32 {
                    1.0
                } else {
                    c * n_trees as f32
                };
                let mut ens = TreeEnsemble::new(d, k);
                forest.build(a, &mut ens, |i| {
                    let mut v = vec![0.0; k];
                    for &(j, w) in forest.leaf_weights(i) {
                        v[j] += w;
                    }
                    v.iter_mut().for_each(|x| *x *= factor);
                    Ok(v)
                })?;
                ens
            }
            ("NONE", Head::Softmax) | ("SOFTMAX", Head::None) => {
                if post == "SOFTMAX" && !tail.is_identity() {
                    return Err(unsupported());
                }
                boosted(a, &forest, d, k, Link::Softmax, tail, &bv)?
            }
            _ => return Err(unsupported()),
        }
    };
    Ok((Model::Trees(ens), classes))
}

/// A boosted ensemble: each tree adds to one output; scores pass through
/// the tail's affine map before `link`.
fn boosted(
    a: &Attrs<'_>,
    forest: &Forest,
    d: usize,
    k: usize,
    link: Link,
    tail: &Tail,
    base: &dyn Fn(usize) -> f32,
) -> Result<TreeEnsemble> {
    let outputs = link.n_outputs(k);
    let base_ir = (0..outputs)
        .map(|j| base(j) * tail.a(j) + tail.b(j))
        .collect();
    let mut ens = TreeEnsemble::boosted(d, k, link, base_ir);
    let mut tree_output = Vec::with_capacity(forest.tree_ids.len());
    for &t in &forest.tree_ids {
        tree_output.push(forest.tree_output(a, t)?);
    }
    let position: HashMap<i64, usize> = forest
        .tree_ids
        .iter()
        .enumerate()
        .map(|(p, &t)| (t, p))
        .collect();
    forest.build(a, &mut ens, |i| {
        let out = tree_output[position[&forest.tree_of[i]]] as usize;
        let w: f32 = forest.leaf_weights(i).iter().map(|&(_, w)| w).sum();
        Ok(vec![w * tail.a(out)])
    })?;
    if let Output::Boosted {
        tree_output: to, ..
    } = &mut ens.output
    {
        *to = tree_output;
    }
    Ok(ens)
}

pub(super) fn tree_regressor(
    a: &Attrs<'_>,
    width: Option<usize>,
    tail: &Tail,
    rewrite: &HashSet<i64>,
) -> Result<(Model, Vec<String>)> {
    let n_targets = a.int("n_targets", 1)?;
    let post = a.string("post_transform", "NONE")?;
    let agg = a.string("aggregate_function", "SUM")?;
    if post != "NONE" || agg != "SUM" || n_targets < 1 {
        return Err(a.err(format!(
            "a regressor with post_transform {post} and aggregate {agg} is not a classifier optbench reads"
        )));
    }
    let m = n_targets as usize;
    let forest = Forest::read(a, "target", m, rewrite)?;
    let d = forest.n_features(width);
    let base = a.floats("base_values")?.to_vec();
    if !base.is_empty() && base.len() != m {
        return Err(a.err(format!("{} base values for {m} targets", base.len())));
    }
    tail.check_width(m, a.what)?;
    let bv = |j: usize| base.get(j).copied().unwrap_or(0.0);
    let ens = match (tail.head, m) {
        (Head::LogisticPair, 1) => boosted(a, &forest, d, 2, Link::Logistic, tail, &bv)?,
        (Head::Softmax, m) if m >= 2 => boosted(a, &forest, d, m, Link::Softmax, tail, &bv)?,
        _ => {
            return Err(a.err(
                "a regressor is read as a classifier only when followed by a sigmoid pair (one target) or a softmax",
            ))
        }
    };
    let classes = (0..ens.n_classes).map(|c| c.to_string()).collect();
    Ok((Model::Trees(ens), classes))
}
