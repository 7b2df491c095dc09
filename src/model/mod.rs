//! optbench's own inference form (the IR). Every trainer's output is converted
//! into it once; optimizing, measuring, saving and exporting all work on it.
//!
//! Uses nothing else in the crate. Key types: [`Model`], the saved form (a
//! closed enum, so a new kind makes the compiler list every place to
//! update: [`LinearModel`], [`TreeEnsemble`] and their quantized forms
//! [`QuantLinear`] and [`QuantTrees`], and kernel SVMs [`SvmModel`]), plain data with no run-time state;
//! and [`CompiledModel`], what [`Model::compile`] returns and what predicts
//! (`compiled/`: layouts, walks, SIMD).

mod binned;
pub mod compiled;
mod linear;
mod svm;
mod tree;

pub use binned::{LeafPrecision, Leaves, QNode, QTree, QuantTrees};
pub use compiled::{CompiledModel, Layout, LayoutKind, Scratch};
pub use linear::{LinearModel, Link, QuantLinear};
pub use svm::{Kernel, Platt, QuantSvm, SvmModel};
pub use tree::{Node, Output, TreeEnsemble, LEAF};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Model {
    Linear(LinearModel),
    Trees(TreeEnsemble),
    QuantLinear(QuantLinear),
    QuantTrees(QuantTrees),
    // New kinds go last: postcard writes the variant's index, and packages
    // saved before a kind existed must still load.
    Svm(SvmModel),
    QuantSvm(QuantSvm),
}

impl Model {
    pub fn n_features(&self) -> usize {
        match self {
            Model::Linear(m) => m.n_features,
            Model::Trees(m) => m.n_features,
            Model::QuantLinear(m) => m.n_features,
            Model::QuantTrees(m) => m.n_features,
            Model::Svm(m) => m.n_features,
            Model::QuantSvm(m) => m.svm.n_features,
        }
    }

    pub fn n_classes(&self) -> usize {
        match self {
            Model::Linear(m) => m.n_classes,
            Model::Trees(m) => m.n_classes,
            Model::QuantLinear(m) => m.n_classes,
            Model::QuantTrees(m) => m.n_classes,
            Model::Svm(m) => m.n_classes,
            Model::QuantSvm(m) => m.svm.n_classes,
        }
    }

    /// The run-time form in the layout the rule picks
    /// ([`CompiledModel::new`]); an error when the model is invalid.
    pub fn compile(&self) -> Result<CompiledModel, String> {
        CompiledModel::new(self)
    }

    /// The kind's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Linear(_) => "linear",
            Model::Trees(_) => "tree ensemble",
            Model::QuantLinear(_) => "int8 linear",
            Model::QuantTrees(_) => "binned tree ensemble",
            Model::Svm(_) => "SVM",
            Model::QuantSvm(_) => "int8 SVM",
        }
    }

    /// Checks internal consistency (array lengths, node indices in range);
    /// run on every model loaded from disk so that prediction can trust it.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Model::Linear(m) => m.check(),
            Model::Trees(m) => m.check(),
            Model::QuantLinear(m) => m.check(),
            Model::QuantTrees(m) => m.check(),
            Model::Svm(m) => m.check(),
            Model::QuantSvm(m) => m.check(),
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
                    Leaves::Int8Shifted { .. } => "int8 (power-of-two scale per tree)",
                }
            ),
            Model::Svm(m) => svm_description(m, m.n_sv(), ""),
            Model::QuantSvm(q) => svm_description(&q.svm, q.n_sv(), "int8 "),
        }
    }
}

fn svm_description(m: &SvmModel, n_sv: usize, precision: &str) -> String {
    format!(
        "{n_sv} {precision}support vectors, {} kernel{}",
        m.kernel.name(),
        if m.platt.is_some() {
            ", Platt probabilities"
        } else {
            ""
        }
    )
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
