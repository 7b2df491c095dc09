//! Tree ensembles as flat arrays, in the manner of Treelite: every tree's
//! nodes live in one contiguous `Vec<Node>` (16 bytes a node, `u32` indices),
//! and leaf payloads in one `Vec<f32>`.
//!
//! One rule for every source: an internal node sends the row left when
//! `row[feature] <= threshold` (so a `NaN` goes right). Trainers that send
//! `x < t` left are converted by moving the threshold down one `f32` step,
//! which reproduces their comparisons exactly on `f32` inputs.
//!
//! How leaves become a prediction is the ensemble's [`Output`]:
//! - [`Output::Average`]: a leaf holds one value per class; prediction
//!   averages the leaves the row reaches and takes the first highest class.
//!   A decision tree's leaf holds its class distribution; a forest's leaf
//!   the class fractions of its tree's bootstrap rows, so the average is
//!   scikit-learn's `predict_proba`. (A leaf holding a one-hot vote makes
//!   the average a vote share and the argmax a majority vote.)
//! - [`Output::Boosted`]: a leaf holds one score; each tree adds its leaf's
//!   score to one output (`tree_output`), a base score is added, and a
//!   logistic or softmax link gives probabilities (gradient boosting, the way
//!   Treelite stores one class per tree).

use super::{argmax, Link};
use serde::{Deserialize, Serialize};

/// Marks a leaf in [`Node::feature`].
pub const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[repr(C)]
pub struct Node {
    /// Feature to test, or [`LEAF`].
    pub feature: u32,
    pub threshold: f32,
    /// Internal node: index of the left child. Leaf: the leaf's number.
    pub left: u32,
    /// Internal node: index of the right child. Leaf: unused (0).
    pub right: u32,
}

impl Node {
    pub fn leaf(id: u32) -> Node {
        Node {
            feature: LEAF,
            threshold: 0.0,
            left: id,
            right: 0,
        }
    }

    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }
}

/// How the leaves a row reaches become class scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// Leaves hold `n_classes` values; probabilities are their mean.
    Average,
    /// Leaves hold one raw score; `score[tree_output[t]] += leaf` over trees,
    /// plus `base`, then `link`. `Logistic` has one output (class 1's
    /// log-odds), `Softmax` one per class.
    Boosted {
        link: Link,
        base: Vec<f32>,
        tree_output: Vec<u32>,
    },
}

impl Output {
    pub fn n_outputs(&self, n_classes: usize) -> usize {
        match self {
            Output::Average => n_classes,
            Output::Boosted { link, .. } => link.n_outputs(n_classes),
        }
    }

    /// Trees added per round: 1 for a forest, one per output for boosting.
    pub fn n_trees_per_round(&self, n_classes: usize) -> usize {
        match self {
            Output::Average => 1,
            Output::Boosted { link, .. } => link.n_outputs(n_classes),
        }
    }
}

/// The saved form of a tree ensemble: plain arrays, no run-time state.
/// [`super::Model::compile`] checks it and arranges it for traversal
/// ([`super::CompiledModel`]), so editing these arrays can never leave a
/// stale run-time layout behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    pub n_features: usize,
    pub n_classes: usize,
    pub output: Output,
    /// Index of each tree's root in `nodes`. Children always come after their
    /// parent (pre-order), which `TreeEnsemble::check` enforces.
    pub roots: Vec<u32>,
    pub nodes: Vec<Node>,
    /// `n_leaves × leaf_width()`.
    pub leaf_values: Vec<f32>,
}

impl TreeEnsemble {
    /// An empty averaging ensemble (trees and forests).
    pub fn new(n_features: usize, n_classes: usize) -> TreeEnsemble {
        TreeEnsemble {
            n_features,
            n_classes,
            output: Output::Average,
            roots: Vec::new(),
            nodes: Vec::new(),
            leaf_values: Vec::new(),
        }
    }

    /// Bytes held by the model's arrays (nodes, leaves, roots, outputs).
    pub fn heap_bytes(&self) -> usize {
        let outputs = match &self.output {
            Output::Average => 0,
            Output::Boosted {
                base, tree_output, ..
            } => base.len() * size_of::<f32>() + tree_output.len() * size_of::<u32>(),
        };
        self.nodes.len() * size_of::<Node>()
            + self.leaf_values.len() * size_of::<f32>()
            + self.roots.len() * size_of::<u32>()
            + outputs
    }

    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// An empty boosted ensemble: trees are added with [`TreeEnsemble::push_leaf`]
    /// / [`TreeEnsemble::push_split`], each root with its output in `tree_output`.
    pub fn boosted(
        n_features: usize,
        n_classes: usize,
        link: Link,
        base: Vec<f32>,
    ) -> TreeEnsemble {
        TreeEnsemble {
            output: Output::Boosted {
                link,
                base,
                tree_output: Vec::new(),
            },
            ..TreeEnsemble::new(n_features, n_classes)
        }
    }

    /// Values per leaf: `n_classes` when averaging, 1 when boosting.
    pub fn leaf_width(&self) -> usize {
        match self.output {
            Output::Average => self.n_classes,
            Output::Boosted { .. } => 1,
        }
    }

    pub fn n_leaves(&self) -> usize {
        self.leaf_values.len() / self.leaf_width().max(1)
    }

    /// Appends a leaf with the given values; returns its node index.
    pub fn push_leaf(&mut self, values: &[f32]) -> u32 {
        debug_assert_eq!(values.len(), self.leaf_width());
        let id = self.n_leaves() as u32;
        self.leaf_values.extend_from_slice(values);
        self.nodes.push(Node::leaf(id));
        (self.nodes.len() - 1) as u32
    }

    /// Appends an internal node whose children are patched in later with
    /// [`TreeEnsemble::set_children`]; returns its index.
    pub fn push_split(&mut self, feature: u32, threshold: f32) -> u32 {
        self.nodes.push(Node {
            feature,
            threshold,
            left: 0,
            right: 0,
        });
        (self.nodes.len() - 1) as u32
    }

    pub fn set_children(&mut self, node: u32, left: u32, right: u32) {
        let n = &mut self.nodes[node as usize];
        n.left = left;
        n.right = right;
    }

    /// The leaf number reached by `row` from `root`.
    #[inline]
    pub fn leaf_of(&self, root: u32, row: &[f32]) -> u32 {
        let mut i = root as usize;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return n.left;
            }
            i = if row[n.feature as usize] <= n.threshold {
                n.left
            } else {
                n.right
            } as usize;
        }
    }

    /// Turns accumulated raw scores into probabilities in place.
    #[inline]
    pub(crate) fn finish_proba(&self, out: &mut [f32]) {
        match &self.output {
            Output::Average => {
                let scale = 1.0 / self.n_trees() as f32;
                for o in out.iter_mut() {
                    *o *= scale;
                }
            }
            Output::Boosted { link, .. } => link.apply(out),
        }
    }

    /// The class from accumulated raw scores.
    #[inline]
    pub(crate) fn finish_class(&self, scores: &[f32]) -> u32 {
        match &self.output {
            Output::Average => argmax(scores),
            Output::Boosted { link, .. } => link.class(scores),
        }
    }

    /// Appends tree `t` of `src` (same features, classes and leaf width);
    /// a boosted ensemble records that the tree adds to `output`.
    pub fn append_tree(&mut self, src: &TreeEnsemble, t: usize, output: u32) {
        let w = src.leaf_width();
        debug_assert_eq!(w, self.leaf_width());
        let (start, end) = (src.roots[t] as usize, src.tree_end(t));
        let node_offset = self.nodes.len() as u32 - start as u32;
        self.roots.push(self.nodes.len() as u32);
        for n in &src.nodes[start..end] {
            if n.is_leaf() {
                let l = n.left as usize;
                self.push_leaf(&src.leaf_values[l * w..(l + 1) * w]);
            } else {
                self.nodes.push(Node {
                    left: n.left + node_offset,
                    right: n.right + node_offset,
                    ..*n
                });
            }
        }
        if let Output::Boosted { tree_output, .. } = &mut self.output {
            tree_output.push(output);
        }
    }

    /// One past the last node of tree `t`.
    pub fn tree_end(&self, t: usize) -> usize {
        self.roots
            .get(t + 1)
            .map_or(self.nodes.len(), |&r| r as usize)
    }

    /// Depth of each tree (a lone leaf has depth 0).
    pub fn tree_depths(&self) -> Vec<usize> {
        let depth = self.node_depths();
        self.roots
            .iter()
            .enumerate()
            .map(|(t, &r)| {
                (r as usize..self.tree_end(t))
                    .map(|i| depth[i])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Depth of every node below its tree's root.
    pub(crate) fn node_depths(&self) -> Vec<usize> {
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_leaf() {
                depth[n.left as usize] = depth[i] + 1;
                depth[n.right as usize] = depth[i] + 1;
            }
        }
        depth
    }

    /// Depth of the deepest leaf (a lone leaf has depth 0).
    pub fn max_depth(&self) -> usize {
        self.node_depths().into_iter().max().unwrap_or(0)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.roots.is_empty() {
            return Err("a tree ensemble with no trees".into());
        }
        if self.n_classes < 2 || self.leaf_values.len() % self.leaf_width() != 0 {
            return Err("leaf values are not a whole number of leaf vectors".into());
        }
        if let Output::Boosted {
            link,
            base,
            tree_output,
        } = &self.output
        {
            let outputs = link.n_outputs(self.n_classes);
            if *link == Link::Logistic && self.n_classes != 2 {
                return Err("a logistic link needs 2 classes".into());
            }
            if base.len() != outputs || tree_output.len() != self.roots.len() {
                return Err(format!(
                    "boosted ensemble: {} base scores and {} tree outputs for {outputs} outputs and {} trees",
                    base.len(),
                    tree_output.len(),
                    self.roots.len()
                ));
            }
            if let Some(o) = tree_output.iter().find(|&&o| o as usize >= outputs) {
                return Err(format!("a tree adds to output {o} of {outputs}"));
            }
        }
        // Trees are stored one after another, each root first.
        for (t, &r) in self.roots.iter().enumerate() {
            if r as usize >= n || (t > 0 && r <= self.roots[t - 1]) || (t == 0 && r != 0) {
                return Err(format!(
                    "tree root {r} is out of order or past the {n} nodes"
                ));
            }
        }
        let leaves = self.n_leaves();
        let mut tree = 0;
        for (i, node) in self.nodes.iter().enumerate() {
            while self.roots.get(tree + 1).is_some_and(|&r| r as usize <= i) {
                tree += 1;
            }
            let end = self.tree_end(tree);
            if node.is_leaf() {
                if node.left as usize >= leaves {
                    return Err(format!("node {i} names leaf {} of {leaves}", node.left));
                }
            } else {
                if node.feature as usize >= self.n_features {
                    return Err(format!(
                        "node {i} tests feature {} of {}",
                        node.feature, self.n_features
                    ));
                }
                if node.threshold.is_nan() {
                    return Err(format!("node {i} has a NaN threshold"));
                }
                // Children after parents, inside their tree: traversal
                // always terminates, and trees can be cut apart.
                for c in [node.left, node.right] {
                    if c as usize <= i || c as usize >= end {
                        return Err(format!("node {i} has child {c} out of order or range"));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 <= 0.5 ? [1, 0] : (x1 <= 2 ? [0.25, 0.75] : [0, 1])
    fn stump() -> TreeEnsemble {
        let mut t = TreeEnsemble::new(2, 2);
        let root = t.push_split(0, 0.5);
        let l = t.push_leaf(&[1.0, 0.0]);
        let r = t.push_split(1, 2.0);
        let rl = t.push_leaf(&[0.25, 0.75]);
        let rr = t.push_leaf(&[0.0, 1.0]);
        t.set_children(root, l, r);
        t.set_children(r, rl, rr);
        t.roots.push(root);
        t
    }

    #[test]
    fn traversal_uses_le_and_nan_goes_right() {
        let t = stump();
        t.check().unwrap();
        assert_eq!(t.max_depth(), 2);
        let c = crate::model::Model::Trees(t).compile().unwrap();
        let (mut s, mut p) = (c.scratch(), [0.0; 2]);
        c.predict_proba(&[0.5, 9.0], &mut s, &mut p);
        assert_eq!(p, [1.0, 0.0]);
        c.predict_proba(&[0.6, 2.0], &mut s, &mut p);
        assert_eq!(p, [0.25, 0.75]);
        assert_eq!(c.predict(&[f32::NAN, 3.0], &mut s), 1);
    }

    #[test]
    fn check_rejects_backward_children_and_bad_features() {
        let mut t = stump();
        t.nodes[2].left = 0;
        assert!(t.check().unwrap_err().contains("out of order"));
        let mut t = stump();
        t.nodes[0].feature = 7;
        assert!(t.check().is_err());
    }
}
