//! The saved form of a binned tree ensemble ([`QuantTrees`]): a tree
//! ensemble whose thresholds are bin numbers.
//!
//! A quantized tree ensemble replaces every threshold by its index among the
//! sorted distinct thresholds of its feature ("cuts"). A row is binned once
//! per prediction — `bin(x)` = the number of cuts below `x`, and `NaN` gets
//! the bin past every cut — and the trees then compare small integers:
//! `x <= cuts[j]` exactly when `bin(x) <= j`, so the binned form takes every
//! branch the float form takes. It is lossless by construction; only the leaf
//! precision ([`LeafPrecision::Int8`]) can change a prediction.
//!
//! Layout: only internal nodes are stored (8 bytes each, tree-local `i16`
//! child references whose sign marks a leaf), so a tree's nodes are half
//! as many and half as wide as in [`TreeEnsemble`](super::TreeEnsemble).
//! Trees with more than 32,767 internal nodes or leaves, or features with
//! more than 65,535 distinct thresholds, cannot take this form;
//! [`QuantTrees::from_ensemble`] says so.
//!
//! Owns the saved types ([`QNode`], [`QTree`], [`Leaves`] at a
//! [`LeafPrecision`]), the checks a loaded model passes
//! ([`QuantTrees::check`]), and the facts about int8 leaf sums the run-time
//! form relies on ([`QuantTrees::summed_leaves`],
//! [`QuantTrees::int_sums_exact_in_f32`]).
//! `convert.rs` builds it from a float ensemble and quantizes its leaves to
//! int8; `stored.rs` is its on-disk encoding. Uses the float form's
//! [`Output`] and [`Link`]; nothing here runs a model (that is
//! `compiled/binned/`).

mod convert;
mod stored;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use super::tree::Output;
use super::Link;
use serde::{Deserialize, Serialize};
use stored::Stored;

/// An internal node: `bins[feature] <= bin` goes left. A child is the
/// index of an internal node of the same tree (≥ 0) or `!leaf` (< 0): the
/// sign tells a leaf, and an internal child is used as an index as it is,
/// with no decoding on the traversal's critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(C)]
pub struct QNode {
    pub feature: u16,
    pub bin: u16,
    pub left: i16,
    pub right: i16,
}

/// Where a tree's nodes and leaves start, and its root reference (a leaf
/// reference when the tree is a single leaf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QTree {
    pub node_base: u32,
    pub leaf_base: u32,
    pub root: i16,
}

/// How leaf values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafPrecision {
    /// As in the float model: lossless.
    F32,
    /// Symmetric int8: one scale for the whole ensemble (largest |value|
    /// ↦ 127), refined by a power of two per tree where trees' leaves differ
    /// in size ([`Leaves::Int8Shifted`]).
    Int8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Leaves {
    F32(Vec<f32>),
    /// `value ≈ q × scale`. Sums of `q` are exact in `f32` (below 2²⁴), so
    /// the scale is applied once per output, after accumulation.
    Int8 {
        values: Vec<i8>,
        scale: f32,
    },
    /// `value ≈ (q << shifts[t]) × scale` for a leaf of tree `t`. Boosting's
    /// late rounds fit small residuals: under one scale set by the large
    /// early leaves they round to a few levels or to zero, which costs
    /// accuracy (the test `small_late_boosting_leaves_keep_their_precision`
    /// has such a model). A power of two per tree gives each tree's leaves
    /// 64–127 levels of their own, and the shifted integers still add up
    /// exactly, the scale applied once per output. The shifts keep every
    /// partial sum below 2^24 (see `QuantTrees::int_sum_bound`), so f32
    /// sums of them are exact too.
    /// (Last variant: files store variants by index.)
    Int8Shifted {
        values: Vec<i8>,
        scale: f32,
        shifts: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
pub struct QuantTrees {
    pub n_features: usize,
    pub n_classes: usize,
    pub output: Output,
    /// Sorted distinct thresholds of feature `f`: `cuts[cut_start[f]..cut_start[f + 1]]`.
    pub cuts: Vec<f32>,
    pub cut_start: Vec<u32>,
    /// Features some node tests; only these are binned.
    pub used_features: Vec<u16>,
    pub trees: Vec<QTree>,
    pub nodes: Vec<QNode>,
    pub leaves: Leaves,
}

const MAX_LOCAL: usize = i16::MAX as usize;

/// Below this many trees, every partial sum of int8 leaves (|v| ≤ 127)
/// stays below 2^24, so f32 sums of them are exact (the cut walk sums in
/// f32, the binned walks in `i32`).
const MAX_EXACT_INT8_TREES: usize = (1 << 24) / 127;

/// The largest power-of-two shift of a tree's int8 leaves
/// ([`Leaves::Int8Shifted`]): a tree whose leaves are 2^-16 of the largest
/// still gets 127 levels; smaller ones change no prediction.
const MAX_LEAF_SHIFT: u8 = 16;

/// Integers below this add up exactly in f32.
const EXACT_F32_SUM: u64 = 1 << 24;

/// Where tree `t`'s leaf values are: `[leaf_base × width, next leaf_base ×
/// width)`, the last tree's up to `n_values` (checked offsets).
fn tree_values(trees: &[QTree], n_values: usize, width: usize, t: usize) -> std::ops::Range<usize> {
    let end = trees
        .get(t + 1)
        .map_or(n_values, |n| n.leaf_base as usize * width);
    trees[t].leaf_base as usize * width..end
}

/// Child reference to internal node `i` of the same tree.
fn internal(i: usize) -> i16 {
    i as i16
}

/// Child reference to the tree's leaf `i`.
fn leaf(i: usize) -> i16 {
    !(i as i16)
}

/// `Ok(internal index)` or `Err(leaf index)`.
pub(crate) fn decode(c: i16) -> Result<usize, usize> {
    if c >= 0 {
        Ok(c as usize)
    } else {
        Err((!c) as usize)
    }
}

impl QuantTrees {
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Bytes held by the saved arrays (cuts, nodes, leaves, outputs).
    pub fn heap_bytes(&self) -> usize {
        let leaves = match &self.leaves {
            Leaves::F32(v) => v.len() * size_of::<f32>(),
            Leaves::Int8 { values, .. } => values.len(),
            Leaves::Int8Shifted { values, shifts, .. } => values.len() + shifts.len(),
        };
        let outputs = match &self.output {
            Output::Average => 0,
            Output::Boosted {
                base, tree_output, ..
            } => base.len() * size_of::<f32>() + tree_output.len() * size_of::<u32>(),
        };
        self.cuts.len() * size_of::<f32>()
            + self.cut_start.len() * size_of::<u32>()
            + self.used_features.len() * size_of::<u16>()
            + self.trees.len() * size_of::<QTree>()
            + self.nodes.len() * size_of::<QNode>()
            + leaves
            + outputs
    }

    fn n_leaves_stored(&self) -> usize {
        let values = match &self.leaves {
            Leaves::F32(v) => v.len(),
            Leaves::Int8 { values, .. } | Leaves::Int8Shifted { values, .. } => values.len(),
        };
        values / self.leaf_width().max(1)
    }

    fn leaf_width(&self) -> usize {
        match self.output {
            Output::Average => self.n_classes,
            Output::Boosted { .. } => 1,
        }
    }

    /// The int8 leaves' scale, when their integer sums must be scaled
    /// (`None` for f32 leaves, or single-scale leaves of scale exactly 1;
    /// shifted leaves are always summed as integers: a leaf's value is not
    /// its `q`).
    pub(crate) fn leaf_scale(&self) -> Option<f32> {
        match self.leaves {
            Leaves::Int8 { scale, .. } if scale != 1.0 => Some(scale),
            Leaves::Int8Shifted { scale, .. } => Some(scale),
            _ => None,
        }
    }

    /// The leaf values as the walks add them: f32 leaves as stored, int8
    /// ones as their integers, shifted by their tree's power of two (exact
    /// in f32: |q| × 2^16 < 2^24); the int8 scale turns their sums into
    /// scores. Checked models only.
    pub fn summed_leaves(&self) -> Vec<f32> {
        match &self.leaves {
            Leaves::F32(v) => v.clone(),
            Leaves::Int8 { values, .. } => values.iter().map(|&v| f32::from(v)).collect(),
            Leaves::Int8Shifted { values, shifts, .. } => {
                let mut out = Vec::with_capacity(values.len());
                for (t, &s) in shifts.iter().enumerate() {
                    let range = tree_values(&self.trees, values.len(), self.leaf_width(), t);
                    out.extend(values[range].iter().map(|&v| (i32::from(v) << s) as f32));
                }
                out
            }
        }
    }

    /// A bound on every partial sum of int8 leaves (as shifted integers) in
    /// any output: the sum over trees of each tree's largest |q| shifted by
    /// its tree's shift (single-scale leaves: 127 a tree). Checked offsets
    /// and shifts.
    fn int_sum_bound(&self) -> u64 {
        match &self.leaves {
            Leaves::F32(_) => 0,
            Leaves::Int8 { .. } => 127 * self.trees.len() as u64,
            Leaves::Int8Shifted { values, shifts, .. } => shifts
                .iter()
                .enumerate()
                .map(|(t, &s)| {
                    let range = tree_values(&self.trees, values.len(), self.leaf_width(), t);
                    let top = values[range].iter().map(|v| v.unsigned_abs()).max();
                    u64::from(top.unwrap_or(0)) << s
                })
                .sum(),
        }
    }

    /// Whether f32 sums of the int8 leaves' integers are exact, as their
    /// `i32` sums are, in any order: every partial sum stays below 2^24.
    pub(crate) fn int_sums_exact_in_f32(&self) -> bool {
        match &self.leaves {
            Leaves::Int8 { .. } => self.trees.len() < MAX_EXACT_INT8_TREES,
            _ => self.int_sum_bound() < EXACT_F32_SUM,
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.n_classes < 2 || self.trees.is_empty() {
            return Err("a quantized ensemble needs 2+ classes and 1+ trees".into());
        }
        if self.cut_start.len() != self.n_features + 1
            || self.cut_start.windows(2).any(|w| w[0] > w[1])
            || *self.cut_start.last().unwrap_or(&1) as usize != self.cuts.len()
        {
            return Err("quantized ensemble: cut offsets do not match the cuts".into());
        }
        let n_leaves = match &self.leaves {
            Leaves::F32(v) => v.len(),
            Leaves::Int8 { values, scale } => {
                if !scale.is_finite() || *scale <= 0.0 {
                    return Err("quantized ensemble: leaf scale must be finite and > 0".into());
                }
                values.len()
            }
            Leaves::Int8Shifted {
                values,
                scale,
                shifts,
            } => {
                if !scale.is_finite() || *scale <= 0.0 {
                    return Err("quantized ensemble: leaf scale must be finite and > 0".into());
                }
                if shifts.len() != self.trees.len() {
                    return Err(format!(
                        "quantized ensemble: {} leaf shifts for {} trees",
                        shifts.len(),
                        self.trees.len()
                    ));
                }
                if let Some((t, s)) = shifts.iter().enumerate().find(|(_, &s)| s > MAX_LEAF_SHIFT) {
                    return Err(format!(
                        "quantized tree {t}: leaf shift {s} is over {MAX_LEAF_SHIFT}"
                    ));
                }
                values.len()
            }
        } / self.leaf_width();
        if let Output::Boosted {
            link,
            base,
            tree_output,
        } = &self.output
        {
            let outputs = link.n_outputs(self.n_classes);
            if (*link == Link::Logistic && self.n_classes != 2)
                || base.len() != outputs
                || tree_output.len() != self.trees.len()
                || tree_output.iter().any(|&o| o as usize >= outputs)
            {
                return Err("quantized ensemble: boosted outputs do not match".into());
            }
        }
        for &f in &self.used_features {
            if usize::from(f) >= self.n_features {
                return Err(format!(
                    "quantized ensemble uses feature {f} of {}",
                    self.n_features
                ));
            }
        }
        for (t, tree) in self.trees.iter().enumerate() {
            let node_end = self
                .trees
                .get(t + 1)
                .map_or(self.nodes.len(), |n| n.node_base as usize);
            let leaf_end = self
                .trees
                .get(t + 1)
                .map_or(n_leaves, |n| n.leaf_base as usize);
            let (nb, lb) = (tree.node_base as usize, tree.leaf_base as usize);
            if nb > node_end || node_end > self.nodes.len() || lb > leaf_end || leaf_end > n_leaves
            {
                return Err(format!(
                    "quantized tree {t}: node or leaf range out of bounds"
                ));
            }
            let child_ok = |c: i16, parent: Option<usize>| match decode(c) {
                Err(i) => lb + i < leaf_end,
                Ok(i) => nb + i < node_end && parent.is_none_or(|p| i > p),
            };
            if !child_ok(tree.root, None) {
                return Err(format!("quantized tree {t}: bad root"));
            }
            for (i, n) in self.nodes[nb..node_end].iter().enumerate() {
                let f = usize::from(n.feature);
                if f >= self.n_features
                    || usize::from(n.bin) >= (self.cut_start[f + 1] - self.cut_start[f]) as usize
                    || !child_ok(n.left, Some(i))
                    || !child_ok(n.right, Some(i))
                {
                    return Err(format!("quantized tree {t}: node {i} is malformed"));
                }
            }
        }
        // The `i32` sums of shifted leaves must not overflow (the leaf
        // ranges are checked above).
        if matches!(self.leaves, Leaves::Int8Shifted { .. })
            && self.int_sum_bound() > i32::MAX as u64
        {
            return Err(format!(
                "quantized ensemble: int8 leaf sums could reach {}, over i32",
                self.int_sum_bound()
            ));
        }
        Ok(())
    }
}
