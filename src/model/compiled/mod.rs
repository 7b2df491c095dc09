//! The run-time form of a model: what [`super::Model::compile`] returns and
//! what predicts. A saved form ([`super::Model`]) is plain data, compared and
//! written as it is; its compiled form holds the same model checked and
//! arranged for traversal, and is never written or edited. This is the
//! model's twin of the pipeline's `FittedPipeline::row_plan`.
//!
//! Which layout a model runs in is decided in one place, [`CompiledModel::new`]:
//! - linear models (float or int8) run as they are stored: a dot product per
//!   output has nothing to arrange;
//! - SVMs run as they are stored too: the saved form already keeps the
//!   support vectors contiguous, row after row, which is the order the
//!   kernel loop reads them in;
//! - float tree ensembles take complete trees when every tree is shallow,
//!   packed depth-first nodes otherwise, the stored nodes when neither fits
//!   (`trees/`; `cargo bench --bench layouts` is the measurement behind it);
//! - binned tree ensembles take a binned walk on `u8` bins when every
//!   feature has at most 255 cuts and binning the row pays for itself (many
//!   trees for the features they use); otherwise they walk the raw row with
//!   the cut values as thresholds, in the float form's own layout, which
//!   makes them as fast as their float parent (`binned/`,
//!   `CompiledBinned::new`; `cargo bench --bench quant_ratio`).
//!
//! Prediction takes an `f32` feature row (the pipeline's output) and a caller
//! owned [`Scratch`] (from [`CompiledModel::scratch`]), and never allocates.
//!
//! Files: `walk.rs` holds what every tree layout shares (the `Walk` trait,
//! the lock-step driver of the packed layouts, the lane counts and depth
//! limit); `implicit.rs` the complete-tree layout, written once for `f32`
//! thresholds and `u8` bins; `trees/` the float forms, `binned/` the binned
//! ones (their SIMD walk isolated in `binned/x86.rs`); `batch.rs` the
//! splitting of batches across threads; `conformance.rs` the test that
//! every form in every layout predicts like its reference walk.

mod batch;
mod binned;
#[cfg(test)]
mod conformance;
mod implicit;
pub(crate) mod trees;
pub(crate) mod walk;

pub use binned::CompiledBinned;
pub use trees::{CompiledTrees, LayoutKind};
pub use walk::MAX_IMPLICIT_DEPTH;

use super::{LinearModel, Model, QuantLinear, SvmModel};
use binned::BinnedWalk;

/// A layout asked for by name, for benchmarks and tests that compare them;
/// [`Layout::Chosen`] is the rule every other caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The layout [`CompiledModel::new`] decides (every model kind).
    Chosen,
    /// The plain walk of the saved form, which every other layout must
    /// match bit for bit: the stored nodes one tree after another (binned
    /// forms: on `u16` bins), linear models as they are.
    Reference,
    /// A float tree ensemble in the given layout.
    Trees(LayoutKind),
    /// A binned ensemble walked on binned rows: `u8` bins when every
    /// feature's bins fit a byte, else the reference walk on `u16` bins.
    Binned,
    /// A binned ensemble walked over the raw row, cut values as thresholds.
    Cuts,
}

/// A model ready to predict (see the module docs).
#[derive(Debug, Clone)]
pub struct CompiledModel(Form);

// One `Form` per model, held by whoever serves it: boxing the large
// variant would save bytes nobody has many of, and add a dependent load to
// every prediction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Form {
    Linear(LinearModel),
    Trees(CompiledTrees),
    QuantLinear(QuantLinear),
    QuantTrees(CompiledBinned),
    Svm(SvmModel),
}

/// Working memory for one prediction, made once per caller by
/// [`CompiledModel::scratch`] so that predicting never allocates.
#[derive(Debug, Clone)]
pub struct Scratch {
    scores: Vec<f32>,
    bins: Vec<u16>,
    /// An SVM's kernel values, pair decisions and coupling matrix.
    svm: Vec<f32>,
    /// Raw scores of [`BLOCK_ROWS`] rows, for forms whose batches walk
    /// blocks of rows (`CompiledTrees::walks_in_blocks`,
    /// `CompiledBinned::walks_in_blocks`).
    block: Vec<f32>,
    /// The binned block walk's rows and leaves.
    binned_block: binned::BlockScratch,
}

/// A form whose batches walk blocks of rows, and how it finishes scores.
enum Blocked<'a> {
    Trees(&'a CompiledTrees),
    Binned(&'a CompiledBinned),
}

impl Blocked<'_> {
    fn finish_proba(&self, out: &mut [f32]) {
        match self {
            Blocked::Trees(t) => t.saved().finish_proba(out),
            Blocked::Binned(b) => b.finish_proba(out),
        }
    }

    fn finish_class(&self, scores: &[f32]) -> u32 {
        match self {
            Blocked::Trees(t) => t.saved().finish_class(scores),
            Blocked::Binned(b) => b.finish_class(scores),
        }
    }
}

/// Rows a tree-major batch walk takes at a time: enough to reuse a group
/// of trees' nodes many times while they are in cache, few enough that the
/// rows and their scores stay there too.
const BLOCK_ROWS: usize = 128;

impl CompiledModel {
    /// The run-time form of `model` in the layout the rule picks. `model`
    /// is checked first ([`Model::check`]): the layouts' walks trust node
    /// and feature indices.
    pub fn new(model: &Model) -> Result<CompiledModel, String> {
        CompiledModel::with_layout(model, Layout::Chosen)
    }

    /// The run-time form of `model` in the layout asked for; an error when
    /// the model is invalid, or its kind or shape cannot take that layout.
    pub fn with_layout(model: &Model, layout: Layout) -> Result<CompiledModel, String> {
        model.check()?;
        let refused = || format!("a {} model cannot be laid out as {layout:?}", model.kind());
        let form = match (model, layout) {
            (Model::Linear(m), Layout::Chosen | Layout::Reference) => Form::Linear(m.clone()),
            (Model::QuantLinear(m), Layout::Chosen | Layout::Reference) => {
                Form::QuantLinear(m.clone())
            }
            (Model::Svm(m), Layout::Chosen | Layout::Reference) => Form::Svm(m.clone()),
            // Runs as the float model it stands for (see `QuantSvm`).
            (Model::QuantSvm(q), Layout::Chosen | Layout::Reference) => Form::Svm(q.dequantized()),
            (Model::Trees(t), Layout::Chosen) => Form::Trees(CompiledTrees::chosen(t.clone())),
            (Model::Trees(t), Layout::Reference) => Form::Trees(
                CompiledTrees::with_kind(t.clone(), LayoutKind::Pointers).ok_or_else(refused)?,
            ),
            (Model::Trees(t), Layout::Trees(kind)) => {
                Form::Trees(CompiledTrees::with_kind(t.clone(), kind).ok_or_else(refused)?)
            }
            (Model::QuantTrees(q), how) => {
                let how = match how {
                    Layout::Chosen => BinnedWalk::Chosen,
                    Layout::Reference => BinnedWalk::Reference,
                    Layout::Binned => BinnedWalk::Binned,
                    Layout::Cuts => BinnedWalk::Cuts,
                    Layout::Trees(_) => return Err(refused()),
                };
                Form::QuantTrees(CompiledBinned::with(q.clone(), how).ok_or_else(refused)?)
            }
            _ => return Err(refused()),
        };
        Ok(CompiledModel(form))
    }

    /// A binned form compiled by hand (tests of particular walkers).
    #[cfg(test)]
    pub(crate) fn from_binned(c: CompiledBinned) -> CompiledModel {
        CompiledModel(Form::QuantTrees(c))
    }

    pub fn n_features(&self) -> usize {
        match &self.0 {
            Form::Linear(m) => m.n_features,
            Form::Trees(m) => m.saved().n_features,
            Form::QuantLinear(m) => m.n_features,
            Form::QuantTrees(m) => m.saved().n_features,
            Form::Svm(m) => m.n_features,
        }
    }

    pub fn n_classes(&self) -> usize {
        match &self.0 {
            Form::Linear(m) => m.n_classes,
            Form::Trees(m) => m.saved().n_classes,
            Form::QuantLinear(m) => m.n_classes,
            Form::QuantTrees(m) => m.saved().n_classes,
            Form::Svm(m) => m.n_classes,
        }
    }

    /// The layout's name, for reports and benchmarks: `linear`,
    /// `linear-int8`, `trees-pointers` / `trees-packed` / `trees-implicit`,
    /// or the binned walker's name.
    pub fn layout_name(&self) -> &'static str {
        match &self.0 {
            Form::Linear(_) => "linear",
            Form::QuantLinear(_) => "linear-int8",
            Form::Trees(t) => match t.layout_kind() {
                LayoutKind::Pointers => "trees-pointers",
                LayoutKind::Packed => "trees-packed",
                LayoutKind::Implicit => "trees-implicit",
            },
            Form::QuantTrees(q) => q.walker_name(),
            Form::Svm(_) => "svm",
        }
    }

    /// The float trees' layout, for a float tree ensemble.
    pub fn trees_layout(&self) -> Option<LayoutKind> {
        match &self.0 {
            Form::Trees(t) => Some(t.layout_kind()),
            _ => None,
        }
    }

    /// Bytes held by the model's arrays once compiled (nodes, thresholds,
    /// leaves, weights, and the run-time layout); `Vec` headers and the
    /// enum itself are not counted.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Form::Linear(m) => (m.weights.len() + m.bias.len()) * size_of::<f32>(),
            Form::Trees(m) => m.heap_bytes(),
            Form::QuantLinear(m) => {
                m.weights.len() + (m.scales.len() + m.bias.len()) * size_of::<f32>()
            }
            Form::QuantTrees(m) => m.heap_bytes(),
            Form::Svm(m) => {
                let platt = m.platt.as_ref().map_or(0, |p| p.a.len() + p.b.len());
                (m.vectors.len() + m.dual_coef.len() + m.intercepts.len() + platt)
                    * size_of::<f32>()
                    + m.per_class.len() * size_of::<u32>()
            }
        }
    }

    /// Scratch space sized for this model.
    pub fn scratch(&self) -> Scratch {
        let bins = match &self.0 {
            Form::QuantTrees(m) => m.saved().n_features,
            _ => 0,
        };
        let svm = match &self.0 {
            Form::Svm(m) => m.scratch_len(),
            _ => 0,
        };
        Scratch {
            scores: vec![0.0; self.n_classes()],
            bins: vec![0; bins],
            svm: vec![0.0; svm],
            block: match self.blocked() {
                Some(_) => vec![0.0; BLOCK_ROWS * self.n_classes()],
                None => Vec::new(),
            },
            binned_block: Default::default(),
        }
    }

    /// Class probabilities into `out` (length `n_classes`).
    #[inline]
    pub fn predict_proba(&self, row: &[f32], scratch: &mut Scratch, out: &mut [f32]) {
        match &self.0 {
            Form::Linear(m) => m.predict_proba(row, out),
            Form::Trees(m) => m.predict_proba(row, out),
            Form::QuantLinear(m) => m.predict_proba(row, out),
            Form::QuantTrees(m) => m.predict_proba(row, &mut scratch.bins, out),
            Form::Svm(m) => m.predict_proba(row, &mut scratch.svm, out),
        }
    }

    /// [`Self::predict`]'s class and [`Self::predict_proba`]'s
    /// probabilities (into `out`) at the cost of one: every form finishes
    /// the same accumulated scores both ways.
    #[inline]
    pub fn predict_with_proba(&self, row: &[f32], scratch: &mut Scratch, out: &mut [f32]) -> u32 {
        let scores = &mut scratch.scores;
        match &self.0 {
            Form::Linear(m) => m.predict_with_proba(row, scores, out),
            Form::Trees(m) => m.predict_with_proba(row, scores, out),
            Form::QuantLinear(m) => m.predict_with_proba(row, scores, out),
            Form::QuantTrees(m) => m.predict_with_proba(row, &mut scratch.bins, scores, out),
            Form::Svm(m) => m.predict_with_proba(row, &mut scratch.svm, out),
        }
    }

    /// The predicted class index.
    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut Scratch) -> u32 {
        let scores = &mut scratch.scores;
        match &self.0 {
            Form::Linear(m) => m.predict(row, scores),
            Form::Trees(m) => m.predict(row, scores),
            Form::QuantLinear(m) => m.predict(row, scores),
            Form::QuantTrees(m) => m.predict(row, &mut scratch.bins, scores),
            Form::Svm(m) => m.predict(row, &mut scratch.svm),
        }
    }

    /// Predicted classes for a row-major batch. A batch with enough work
    /// is split across rayon's current pool (see `batch.rs`); every row's
    /// prediction is the single-row one either way.
    pub fn predict_batch(&self, rows: &[f32], out: &mut Vec<u32>) {
        let d = self.n_features().max(1);
        out.clear();
        out.resize(rows.len() / d, 0);
        batch::batch(self, rows, out, 1, CompiledModel::classes_into);
    }

    /// The trees' block walk for `rows`: `each(row, raw scores)` in row
    /// order, and `true`; `false` (nothing called) for forms that walk
    /// row by row.
    fn in_blocks(
        &self,
        rows: &[f32],
        scratch: &mut Scratch,
        mut each: impl FnMut(usize, &Blocked<'_>, &[f32]),
    ) -> bool {
        let Some(form) = self.blocked() else {
            return false;
        };
        let (d, k) = (self.n_features().max(1), self.n_classes());
        for (b, block) in rows.chunks(BLOCK_ROWS * d).enumerate() {
            let m = block.len() / d;
            match &form {
                Blocked::Trees(t) => t.accumulate_rows(block, &mut scratch.block, k),
                Blocked::Binned(q) => {
                    q.accumulate_rows(block, &mut scratch.block, k, &mut scratch.binned_block)
                }
            }
            for (r, scores) in scratch.block[..m * k].chunks_exact(k).enumerate() {
                each(b * BLOCK_ROWS + r, &form, scores);
            }
        }
        true
    }

    /// The form, when its batches walk blocks of rows.
    fn blocked(&self) -> Option<Blocked<'_>> {
        match &self.0 {
            Form::Trees(t) if t.walks_in_blocks() => Some(Blocked::Trees(t)),
            Form::QuantTrees(q) if q.walks_in_blocks() => Some(Blocked::Binned(q)),
            _ => None,
        }
    }

    fn classes_into(&self, rows: &[f32], out: &mut [u32], scratch: &mut Scratch) {
        if self.in_blocks(rows, scratch, |r, ens, scores| {
            out[r] = ens.finish_class(scores)
        }) {
            return;
        }
        let d = self.n_features().max(1);
        for (r, o) in rows.chunks_exact(d).zip(out) {
            *o = self.predict(r, scratch);
        }
    }

    fn proba_into(&self, rows: &[f32], out: &mut [f32], scratch: &mut Scratch) {
        let (d, k) = (self.n_features().max(1), self.n_classes());
        if self.in_blocks(rows, scratch, |r, ens, scores| {
            let o = &mut out[r * k..(r + 1) * k];
            o.copy_from_slice(scores);
            ens.finish_proba(o);
        }) {
            return;
        }
        for (r, o) in rows.chunks_exact(d).zip(out.chunks_exact_mut(k)) {
            self.predict_proba(r, scratch, o);
        }
    }

    /// Class probabilities for a row-major batch (`n_rows × n_classes`),
    /// split across threads like [`CompiledModel::predict_batch`].
    pub fn predict_proba_batch(&self, rows: &[f32]) -> Vec<f32> {
        let (d, k) = (self.n_features().max(1), self.n_classes());
        let mut out = vec![0.0; rows.len() / d * k];
        batch::batch(self, rows, &mut out, k, CompiledModel::proba_into);
        out
    }

    /// [`Self::predict_with_proba`] for a row-major batch: the classes into
    /// `classes` and the probabilities (`n_rows × n_classes`) into `proba`,
    /// split across threads like [`CompiledModel::predict_batch`].
    pub fn predict_with_proba_batch(
        &self,
        rows: &[f32],
        classes: &mut Vec<u32>,
        proba: &mut Vec<f32>,
    ) {
        let (d, k) = (self.n_features().max(1), self.n_classes());
        let n = rows.len() / d;
        // One pass of `batch` gives both: each row's output is its class
        // (exact as an `f32`: far fewer than 2^24 classes) then its
        // probabilities.
        let mut out = vec![0.0f32; n * (k + 1)];
        batch::batch(self, rows, &mut out, k + 1, CompiledModel::class_proba_into);
        classes.clear();
        proba.clear();
        proba.reserve(n * k);
        for o in out.chunks_exact(k + 1) {
            classes.push(o[0] as u32);
            proba.extend_from_slice(&o[1..]);
        }
    }

    fn class_proba_into(&self, rows: &[f32], out: &mut [f32], scratch: &mut Scratch) {
        let (d, k) = (self.n_features().max(1), self.n_classes());
        if self.in_blocks(rows, scratch, |r, ens, scores| {
            let o = &mut out[r * (k + 1)..(r + 1) * (k + 1)];
            o[1..].copy_from_slice(scores);
            ens.finish_proba(&mut o[1..]);
            o[0] = ens.finish_class(scores) as f32;
        }) {
            return;
        }
        for (r, o) in rows.chunks_exact(d).zip(out.chunks_exact_mut(k + 1)) {
            o[0] = self.predict_with_proba(r, scratch, &mut o[1..]) as f32;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::TreeEnsemble;

    /// Classes, probabilities and both at once from the batch calls equal
    /// the single-row calls bit for bit, on one thread and split over two.
    pub(crate) fn assert_batches_equal_single_rows(
        model: &CompiledModel,
        rows: &[f32],
        what: &str,
    ) {
        let (d, k) = (model.n_features(), model.n_classes());
        let mut s = model.scratch();
        let (mut one_c, mut one_p) = (Vec::new(), Vec::new());
        let mut p = vec![0.0; k];
        for r in rows.chunks_exact(d) {
            one_c.push(model.predict(r, &mut s));
            model.predict_proba(r, &mut s, &mut p);
            one_p.extend(p.iter().map(|v| v.to_bits()));
        }
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (mut c, mut both_c, mut both_p) = (Vec::new(), Vec::new(), Vec::new());
            let proba = pool.install(|| {
                model.predict_batch(rows, &mut c);
                model.predict_with_proba_batch(rows, &mut both_c, &mut both_p);
                model.predict_proba_batch(rows)
            });
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let what = format!("{what}, {threads} threads");
            assert_eq!(c, one_c, "{what}");
            assert_eq!(both_c, one_c, "{what}");
            assert_eq!(bits(&proba), one_p, "{what}");
            assert_eq!(bits(&both_p), one_p, "{what}");
        }
    }

    /// A deep forest's batches walk blocks of rows tree-major: classes,
    /// probabilities and both at once equal the single-row calls bit for
    /// bit, on one thread and split over two (300 rows: a partial block).
    #[test]
    fn a_deep_forests_blocked_batches_equal_single_rows() {
        let mut t = TreeEnsemble::new(3, 3);
        // 13 trees of 7 levels, leaves with uneven class vectors.
        for tree in 0..13u32 {
            fn grow(t: &mut TreeEnsemble, tree: u32, depth: u32, at: u32) -> u32 {
                if depth == 7 {
                    let a = ((tree * 31 + at * 17) % 97) as f32 / 97.0;
                    let b = (1.0 - a) * (((at * 7) % 5) as f32 / 5.0);
                    return t.push_leaf(&[a, b, 1.0 - a - b]);
                }
                let f = (tree + depth + at) % 3;
                let x = ((at * 13 + tree * 5) % 11) as f32 / 5.0 - 1.0;
                let node = t.push_split(f, x);
                let l = grow(t, tree, depth + 1, 2 * at + 1);
                let r = grow(t, tree, depth + 1, 2 * at + 2);
                t.set_children(node, l, r);
                node
            }
            let root = grow(&mut t, tree, 0, 0);
            t.roots.push(root);
        }
        t.check().unwrap();
        let packed = CompiledTrees::with_kind(t.clone(), LayoutKind::Packed).unwrap();
        let model = CompiledModel(Form::Trees(packed));
        let rows: Vec<f32> = (0..300 * 3)
            .map(|i| {
                if i % 29 == 0 {
                    f32::NAN
                } else {
                    ((i * 37) % 101) as f32 / 25.0 - 2.0
                }
            })
            .collect();
        assert_batches_equal_single_rows(&model, &rows, "float trees");
    }

    /// A batch predicts what the rows predict one by one, in order, split
    /// across threads or not (3,000 rows; tasks of 7: a ragged last one).
    #[test]
    fn a_parallel_batch_equals_single_rows() {
        let mut t = TreeEnsemble::new(2, 2);
        let root = t.push_split(0, 0.5);
        let l = t.push_leaf(&[0.9, 0.1]);
        let r = t.push_split(1, -0.25);
        let rl = t.push_leaf(&[0.3, 0.7]);
        let rr = t.push_leaf(&[0.0, 1.0]);
        t.set_children(root, l, r);
        t.set_children(r, rl, rr);
        t.roots.push(root);
        let model = Model::Trees(t).compile().unwrap();
        let rows: Vec<f32> = (0..3_000 * 2)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (classes, proba) = pool.install(|| {
            let mut c = Vec::new();
            model.predict_batch(&rows, &mut c);
            (c, model.predict_proba_batch(&rows))
        });
        let (mut both_c, mut both_p) = (Vec::new(), Vec::new());
        pool.install(|| model.predict_with_proba_batch(&rows, &mut both_c, &mut both_p));
        assert_eq!((&both_c, &both_p), (&classes, &proba));
        // The split itself, forced: tasks of 7 rows, a ragged last one.
        let (mut c7, mut p7) = (vec![0; 3_000], vec![0.0; 6_000]);
        pool.install(|| {
            batch::run_chunks(&model, &rows, &mut c7, 1, 7, CompiledModel::classes_into);
            batch::run_chunks(&model, &rows, &mut p7, 2, 7, CompiledModel::proba_into);
        });
        assert_eq!((&c7, &p7), (&classes, &proba));
        // 5 nodes of 16 bytes, 3 leaves × 2 f32, 1 root; the complete-tree
        // layout: 3 heap nodes of 8 bytes and 4 leaf slots of 4.
        assert_eq!(model.heap_bytes(), 5 * 16 + 6 * 4 + 4 + 3 * 8 + 4 * 4);
        let mut scratch = model.scratch();
        let mut p = [0.0; 2];
        for (i, row) in rows.chunks_exact(2).enumerate() {
            assert_eq!(classes[i], model.predict(row, &mut scratch));
            model.predict_proba(row, &mut scratch, &mut p);
            assert_eq!(proba[2 * i..2 * i + 2], p);
        }
    }

    #[test]
    fn an_invalid_model_or_an_impossible_layout_is_refused() {
        let mut t = TreeEnsemble::new(2, 2);
        let root = t.push_split(5, 0.5);
        let l = t.push_leaf(&[0.9, 0.1]);
        let r = t.push_leaf(&[0.1, 0.9]);
        t.set_children(root, l, r);
        t.roots.push(root);
        let err = Model::Trees(t.clone()).compile().unwrap_err();
        assert!(err.contains("feature 5"), "{err}");
        t.nodes[0].feature = 1;
        let m = Model::Trees(t);
        assert!(CompiledModel::with_layout(&m, Layout::Cuts).is_err());
        let packed = CompiledModel::with_layout(&m, Layout::Trees(LayoutKind::Packed)).unwrap();
        assert_eq!(packed.layout_name(), "trees-packed");
    }
}
