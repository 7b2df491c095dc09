//! Tree ensembles as flat arrays, in the manner of Treelite: every tree's
//! nodes live in one contiguous `Vec<Node>` (16 bytes a node, `u32` indices),
//! and leaf payloads in one `Vec<f32>`.
//!
//! One rule for every source: an internal node sends the row left when
//! `row[feature] <= threshold` (so a `NaN` goes right). Trainers that send
//! `x < t` left are converted by moving the threshold down one `f32` step,
//! which reproduces their comparisons exactly on `f32` inputs.
//!
//! A leaf holds one value per class. Prediction averages the leaves the row
//! reaches and takes the first highest class. A decision tree's leaf holds its
//! class distribution; a majority-vote forest's leaf holds a one-hot vote, so
//! the average is the vote share and the argmax is the majority vote.

use super::argmax;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    pub n_features: usize,
    pub n_classes: usize,
    /// Index of each tree's root in `nodes`. Children always come after their
    /// parent (pre-order), which [`TreeEnsemble::check`] enforces.
    pub roots: Vec<u32>,
    pub nodes: Vec<Node>,
    /// `n_leaves × n_classes`.
    pub leaf_values: Vec<f32>,
}

impl TreeEnsemble {
    pub fn new(n_features: usize, n_classes: usize) -> TreeEnsemble {
        TreeEnsemble {
            n_features,
            n_classes,
            roots: Vec::new(),
            nodes: Vec::new(),
            leaf_values: Vec::new(),
        }
    }

    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    pub fn n_leaves(&self) -> usize {
        self.leaf_values.len() / self.n_classes.max(1)
    }

    /// Appends a leaf with the given per-class values; returns its node index.
    pub fn push_leaf(&mut self, values: &[f32]) -> u32 {
        debug_assert_eq!(values.len(), self.n_classes);
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

    #[inline]
    fn accumulate(&self, row: &[f32], acc: &mut [f32]) {
        acc.fill(0.0);
        let k = self.n_classes;
        for &root in &self.roots {
            let leaf = self.leaf_of(root, row) as usize;
            let values = &self.leaf_values[leaf * k..leaf * k + k];
            for (a, v) in acc.iter_mut().zip(values) {
                *a += v;
            }
        }
    }

    #[inline]
    pub fn predict_proba(&self, row: &[f32], out: &mut [f32]) {
        self.accumulate(row, out);
        let scale = 1.0 / self.n_trees() as f32;
        for o in out.iter_mut() {
            *o *= scale;
        }
    }

    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        self.accumulate(row, scratch);
        argmax(scratch)
    }

    /// Depth of the deepest leaf (a lone leaf has depth 0).
    pub fn max_depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            max = max.max(depth[i]);
            if !n.is_leaf() {
                depth[n.left as usize] = depth[i] + 1;
                depth[n.right as usize] = depth[i] + 1;
            }
        }
        max
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.roots.is_empty() {
            return Err("a tree ensemble with no trees".into());
        }
        if self.n_classes == 0 || self.leaf_values.len() % self.n_classes != 0 {
            return Err("leaf values are not a whole number of class vectors".into());
        }
        for &r in &self.roots {
            if r as usize >= n {
                return Err(format!("tree root {r} is past the {n} nodes"));
            }
        }
        let leaves = self.n_leaves();
        for (i, node) in self.nodes.iter().enumerate() {
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
                // Children after parents: traversal always terminates.
                for c in [node.left, node.right] {
                    if c as usize <= i || c as usize >= n {
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
        let mut p = [0.0; 2];
        t.predict_proba(&[0.5, 9.0], &mut p);
        assert_eq!(p, [1.0, 0.0]);
        t.predict_proba(&[0.6, 2.0], &mut p);
        assert_eq!(p, [0.25, 0.75]);
        assert_eq!(t.predict(&[f32::NAN, 3.0], &mut p), 1);
        assert_eq!(t.max_depth(), 2);
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
