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

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long the calling thread works through a batch's first rows before
/// deciding whether to split the rest: long enough for `Instant` (~20 ns a
/// read) to time a row's cost, short next to any split worth making.
const PROBE: Duration = Duration::from_micros(2);

/// The least work (measured rows × their measured cost) a batch's remainder
/// must hold for splitting it across threads to pay for waking them.
/// `examples/batch_split` on two quiet cores: split in two, a batch broke
/// even at 17–46 µs of work (64 rows: logistic regression's 1.9 µs took
/// 1.20× as long, boosting-50's 17 µs 1.03×, forest-10's 46 µs 0.80×).
const SPLIT_MIN_WORK_NS: u128 = 25_000;

/// Work per task once a batch is split: far above rayon's ~1 µs cost of a
/// task, and small enough that a few tasks per thread balance the load.
const TASK_WORK_NS: u128 = 100_000;

/// Rows per task for splitting `rest` rows of `row_ns` each over `threads`,
/// or `None` when the split cannot pay: one thread, fewer than two rows, or
/// less work than [`SPLIT_MIN_WORK_NS`]. A row-count threshold cannot be
/// right for both a 20 ns logistic regression and a 50 µs forest.
fn split_rows(rest: usize, row_ns: u128, threads: usize) -> Option<usize> {
    let work = rest as u128 * row_ns;
    if threads < 2 || rest < 2 || work < SPLIT_MIN_WORK_NS {
        return None;
    }
    let tasks = usize::try_from(work.div_ceil(TASK_WORK_NS))
        .unwrap_or(usize::MAX)
        .max(threads)
        .min(rest);
    Some(rest.div_ceil(tasks))
}

/// The per-row work of a batch: rows in (`d` values each), `k` values a row
/// out, with the caller's scratch.
type RowsFn<T> = fn(&Model, &[f32], &mut [T], &mut Scratch);

/// Runs `run` over a row-major batch (`d` values a row in, `k` a row out):
/// the calling thread does the first rows (4, then doubling) until they
/// have taken [`PROBE`], then the rest is split over rayon's current pool if
/// [`split_rows`] says it pays at the cost just measured, else done here.
/// Which thread predicts a row never changes its prediction.
fn batch<T: Send>(model: &Model, rows: &[f32], out: &mut [T], k: usize, run: RowsFn<T>) {
    let d = model.n_features().max(1);
    let n = out.len() / k.max(1);
    let mut scratch = model.scratch();
    let threads = rayon::current_num_threads();
    if threads < 2 || n == 0 {
        return run(model, &rows[..n * d], out, &mut scratch);
    }
    let start = Instant::now();
    // Four rows before the first clock read: a clock read costs about a
    // cheap row (~20 ns), and an 8-row batch of one paid 1.7× its time.
    let (mut done, mut step) = (0, 4);
    // At least one row, even if the thread is descheduled before the first
    // clock check: the cost below divides by `done`.
    loop {
        let m = step.min(n - done);
        let (r, o) = (
            &rows[done * d..(done + m) * d],
            &mut out[done * k..(done + m) * k],
        );
        run(model, r, o, &mut scratch);
        done += m;
        step *= 2;
        if done == n {
            return;
        }
        if start.elapsed() >= PROBE {
            break;
        }
    }
    let row_ns = start.elapsed().as_nanos() / done as u128;
    let (rows, out) = (&rows[done * d..n * d], &mut out[done * k..]);
    match split_rows(n - done, row_ns, threads) {
        Some(chunk) => run_chunks(model, rows, out, k, chunk, run),
        None => run(model, rows, out, &mut scratch),
    }
}

/// [`batch`]'s split: tasks of `chunk` rows over rayon's current pool.
fn run_chunks<T: Send>(
    model: &Model,
    rows: &[f32],
    out: &mut [T],
    k: usize,
    chunk: usize,
    run: RowsFn<T>,
) {
    let d = model.n_features().max(1);
    rows.par_chunks(chunk * d)
        .zip(out.par_chunks_mut(chunk * k))
        .for_each_init(|| model.scratch(), |s, (r, o)| run(model, r, o, s));
}

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

    /// Predicted classes for a row-major batch. A batch with enough work
    /// is split across rayon's current pool (see [`batch`]); every row's
    /// prediction is the single-row one either way.
    pub fn predict_batch(&self, rows: &[f32], out: &mut Vec<u32>) {
        let d = self.n_features().max(1);
        out.clear();
        out.resize(rows.len() / d, 0);
        batch(self, rows, out, 1, Model::classes_into);
    }

    fn classes_into(&self, rows: &[f32], out: &mut [u32], scratch: &mut Scratch) {
        let d = self.n_features().max(1);
        for (r, o) in rows.chunks_exact(d).zip(out) {
            *o = self.predict(r, scratch);
        }
    }

    fn proba_into(&self, rows: &[f32], out: &mut [f32], scratch: &mut Scratch) {
        let (d, k) = (self.n_features().max(1), self.n_classes());
        for (r, o) in rows.chunks_exact(d).zip(out.chunks_exact_mut(k)) {
            self.predict_proba(r, scratch, o);
        }
    }

    /// Class probabilities for a row-major batch (`n_rows × n_classes`),
    /// split across threads like [`Model::predict_batch`].
    pub fn predict_proba_batch(&self, rows: &[f32]) -> Vec<f32> {
        let (d, k) = (self.n_features().max(1), self.n_classes());
        let mut out = vec![0.0; rows.len() / d * k];
        batch(self, rows, &mut out, k, Model::proba_into);
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
                    Leaves::Int8Shifted { .. } => "int8 (power-of-two scale per tree)",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_split_only_when_its_work_pays_for_it() {
        // One thread, one row, or too little work: not split.
        assert_eq!(split_rows(10_000, 1_000, 1), None);
        assert_eq!(split_rows(1, 10_000_000, 2), None);
        // 20 µs of logistic regression: too little.
        assert_eq!(split_rows(1_000, 20, 2), None);
        // 60 µs: past the threshold, one task a thread.
        assert_eq!(split_rows(3_000, 20, 2), Some(1_500));
        // 10 ms of forest: 100 tasks of 100 µs.
        assert_eq!(split_rows(200, 50_000, 2), Some(2));
        // Two 50 µs rows: a row each.
        assert_eq!(split_rows(2, 50_000, 2), Some(1));
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
        t.prepare();
        let model = Model::Trees(t);
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
        // The split itself, forced: tasks of 7 rows, a ragged last one.
        let (mut c7, mut p7) = (vec![0; 3_000], vec![0.0; 6_000]);
        pool.install(|| {
            run_chunks(&model, &rows, &mut c7, 1, 7, Model::classes_into);
            run_chunks(&model, &rows, &mut p7, 2, 7, Model::proba_into);
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
}
