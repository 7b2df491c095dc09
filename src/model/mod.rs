//! optbench's own inference form (the IR). Every trainer's output is converted
//! into it once; optimizing, measuring, saving and exporting all work on it.
//!
//! Uses nothing else in the crate. Key types: [`Model`] (a closed enum, so a
//! new kind makes the compiler list every place to update),
//! [`LinearModel`], [`TreeEnsemble`] and their quantized forms
//! [`QuantLinear`] and [`QuantTrees`].
//!
//! Prediction takes an `f32` feature row (the pipeline's output) and a caller
//! owned [`Scratch`] (from [`Model::scratch`]), and never allocates.

mod layout;
mod linear;
mod quant;
mod tree;

pub use layout::LayoutKind;
pub use linear::{LinearModel, Link};
pub use quant::{LeafPrecision, Leaves, QNode, QTree, QuantLinear, QuantTrees};
pub use tree::{Node, Output, TreeEnsemble, LEAF};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    Linear(LinearModel),
    Trees(TreeEnsemble),
    QuantLinear(QuantLinear),
    QuantTrees(QuantTrees),
}

/// Working memory for one prediction, made once per caller by
/// [`Model::scratch`] so that predicting never allocates.
#[derive(Debug, Clone)]
pub struct Scratch {
    scores: Vec<f32>,
    bins: Vec<u16>,
}

impl Model {
    pub fn n_features(&self) -> usize {
        match self {
            Model::Linear(m) => m.n_features,
            Model::Trees(m) => m.n_features,
            Model::QuantLinear(m) => m.n_features,
            Model::QuantTrees(m) => m.n_features,
        }
    }

    pub fn n_classes(&self) -> usize {
        match self {
            Model::Linear(m) => m.n_classes,
            Model::Trees(m) => m.n_classes,
            Model::QuantLinear(m) => m.n_classes,
            Model::QuantTrees(m) => m.n_classes,
        }
    }

    /// Arranges tree ensembles for serving ([`TreeEnsemble::prepare`]);
    /// other kinds are ready as they are. Predictions do not change.
    pub fn prepare(&mut self) {
        if let Model::Trees(t) = self {
            t.prepare();
        }
    }

    /// Bytes held by the model's arrays once loaded (nodes, thresholds,
    /// leaves, weights, run-time layouts); `Vec` headers and the enum itself
    /// are not counted.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Model::Linear(m) => (m.weights.len() + m.bias.len()) * size_of::<f32>(),
            Model::Trees(m) => m.heap_bytes(),
            Model::QuantLinear(m) => {
                m.weights.len() + (m.scales.len() + m.bias.len()) * size_of::<f32>()
            }
            Model::QuantTrees(m) => m.heap_bytes(),
        }
    }

    /// Scratch space sized for this model.
    pub fn scratch(&self) -> Scratch {
        let bins = match self {
            Model::QuantTrees(m) => m.n_features,
            _ => 0,
        };
        Scratch {
            scores: vec![0.0; self.n_classes()],
            bins: vec![0; bins],
        }
    }

    /// Class probabilities into `out` (length `n_classes`).
    #[inline]
    pub fn predict_proba(&self, row: &[f32], scratch: &mut Scratch, out: &mut [f32]) {
        match self {
            Model::Linear(m) => m.predict_proba(row, out),
            Model::Trees(m) => m.predict_proba(row, out),
            Model::QuantLinear(m) => m.predict_proba(row, out),
            Model::QuantTrees(m) => m.predict_proba(row, &mut scratch.bins, out),
        }
    }

    /// The predicted class index.
    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut Scratch) -> u32 {
        let scores = &mut scratch.scores;
        match self {
            Model::Linear(m) => m.predict(row, scores),
            Model::Trees(m) => m.predict(row, scores),
            Model::QuantLinear(m) => m.predict(row, scores),
            Model::QuantTrees(m) => m.predict(row, &mut scratch.bins, scores),
        }
    }

    /// Predicted classes for a row-major batch.
    pub fn predict_batch(&self, rows: &[f32], out: &mut Vec<u32>) {
        let d = self.n_features().max(1);
        let mut scratch = self.scratch();
        out.clear();
        out.extend(rows.chunks_exact(d).map(|r| self.predict(r, &mut scratch)));
    }

    /// Class probabilities for a row-major batch (`n_rows × n_classes`).
    pub fn predict_proba_batch(&self, rows: &[f32]) -> Vec<f32> {
        let d = self.n_features().max(1);
        let k = self.n_classes();
        let mut scratch = self.scratch();
        let mut out = vec![0.0; rows.len() / d * k];
        for (r, o) in rows.chunks_exact(d).zip(out.chunks_exact_mut(k)) {
            self.predict_proba(r, &mut scratch, o);
        }
        out
    }

    /// Checks internal consistency (array lengths, node indices in range);
    /// run on every model loaded from disk so that prediction can trust it.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Model::Linear(m) => m.check(),
            Model::Trees(m) => m.check(),
            Model::QuantLinear(m) => m.check(),
            Model::QuantTrees(m) => m.check(),
        }
    }

    /// A one-line description of the model's size, for reports.
    pub fn describe(&self) -> String {
        match self {
            Model::Linear(m) => format!("{} weights", m.weights.len() + m.bias.len()),
            Model::Trees(m) => format!(
                "{} trees, {} nodes, max depth {}",
                m.n_trees(),
                m.nodes.len(),
                m.max_depth()
            ),
            Model::QuantLinear(m) => format!("{} int8 weights", m.weights.len()),
            Model::QuantTrees(m) => format!(
                "{} trees, {} binned splits, {} leaves",
                m.n_trees(),
                m.nodes.len(),
                match &m.leaves {
                    Leaves::F32(_) => "f32",
                    Leaves::Int8 { .. } => "int8",
                }
            ),
        }
    }
}

/// Index of the largest value; the first one wins a tie (the rule of
/// smartcore's `which_max`, ndarray's `argmax` and NumPy's `argmax`).
#[inline]
pub(crate) fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

impl Model {
    /// The compact binary encoding (postcard) used in artifacts and for the
    /// size figures.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of numbers into a Vec cannot fail.
        postcard::to_stdvec(self).expect("postcard encodes IR models")
    }

    /// Decodes and checks a model written by [`Model::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        let m: Model =
            postcard::from_bytes(bytes).map_err(|e| format!("cannot decode model: {e}"))?;
        m.check()?;
        Ok(m)
    }
}
