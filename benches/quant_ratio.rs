//! Quantized tree forms against their float parent, single-row model-only
//! latency, measured interleaved in one process: each round times every form
//! once (in a rotating order) over the same held-out rows, and the ratio
//! float/quantized is taken within the round, so machine noise that spans a
//! round cancels. Reports medians over rounds. Shapes: those of
//! `benches/layouts.rs` (forest 100 and boosting 200 × depth 3 on 5,000 × 20
//! synthetic rows; forest 100 and boosting 300 × depth 6 on 10,000 × 30),
//! the same four with a threshold of its own at every split (`…/many-cuts`:
//! more than 255 cuts a feature, as in models fitted on continuous values
//! by other libraries), then few-tree shapes (single trees, forests and
//! boosting of 1 to 100 trees), where binning the row may cost more than it
//! saves.
//!
//! Forms: `float` (the parent), `cuts` (the binned model walked over the raw
//! row with cut values as thresholds), `bins` (the binned model forced onto
//! a binned walk: `u8` bins when they fit, else the reference walk on `u16`
//! bins), `int8-u8` (int8 leaves forced onto the same binned walk), `int8`
//! (int8 leaves, on the walk `CompiledBinned::new` chooses, named in
//! brackets, which the binned model with f32 leaves also gets).
//!
//! taskset -c 0 cargo bench --bench quant_ratio -j 1 [-- FILTER…]

mod common;

use optbench::data::SyntheticSpec;
use optbench::model::{CompiledModel, Layout, Model};
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::train::{train, CandidateSpec};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 21;
/// Predictions per form per round (cycling through the held-out rows).
const CALLS: usize = 4_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Few-tree shapes: the default config's single trees, and forests and
/// boosting of 1 to 100 trees, on both data shapes.
fn small_shapes() -> Vec<(&'static str, SyntheticSpec, Vec<CandidateSpec>)> {
    let spec = |n_samples, n_features| SyntheticSpec {
        n_samples,
        n_features,
        ..SyntheticSpec::default()
    };
    let tree = |max_depth| CandidateSpec::DecisionTree {
        max_depth,
        min_samples_leaf: 1,
        class_weight: Default::default(),
    };
    let mut w1 = vec![tree(Some(3)), tree(Some(10)), tree(None)];
    w1.extend([1, 3, 10, 20, 30].map(CandidateSpec::random_forest));
    w1.extend([1, 3, 10, 20, 30, 50, 100].map(|n| CandidateSpec::gradient_boosting(n, 3)));
    let mut w2 = vec![tree(Some(10))];
    w2.extend([3, 10, 20].map(CandidateSpec::random_forest));
    w2.extend([3, 10, 20, 30, 100].map(|n| CandidateSpec::gradient_boosting(n, 6)));
    vec![
        ("w1-small", spec(5_000, 20), w1),
        ("w2-small", spec(10_000, 30), w2),
    ]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks shapes.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("shape/model: median ns per prediction (float, cuts, bins [walker], int8-u8 [walker], int8 [walker chosen]); median per-round ratio float/form (>1 = form faster)");
    let shapes = common::peer_shapes()
        .into_iter()
        .map(|(name, data, specs)| (name, data, specs.to_vec()))
        .chain(small_shapes());
    for (name, data, specs) in shapes {
        let prepared = common::Prepared::new(data);
        let (d, td) = (prepared.d, prepared.train_data());
        let x = &prepared.x_test;
        let n_rows = prepared.test_set.n_rows();
        for spec in &specs {
            let parent: Candidate = train(spec, &td, 42).expect("training succeeds").into();
            let id = format!("{name}/{}", parent.id);
            let wanted =
                |id: &str| filter.is_empty() || filter.iter().any(|f| id.contains(f.as_str()));
            if wanted(&id) {
                compare(&id, &parent, x, d, n_rows);
            }
            let many = format!("{id}/many-cuts");
            if !name.ends_with("-small") && wanted(&many) {
                compare(&many, &with_many_cuts(&parent), x, d, n_rows);
            }
        }
    }
}

/// `parent` with each split's threshold moved up by a few `f32` steps (its
/// node index mod 4,096), so that every split has a threshold of its own,
/// as in a model fitted on continuous values (scikit-learn splits at the
/// midpoints between training values): deep forests and depth-6 boosting
/// get more than 255 cuts on most features, which optbench's own trainers,
/// binning each feature into 256 bins, never give.
fn with_many_cuts(parent: &Candidate) -> Candidate {
    let Model::Trees(mut ens) = parent.model.clone() else {
        panic!("a tree model")
    };
    for (i, n) in ens.nodes.iter_mut().enumerate() {
        if !n.is_leaf() {
            for _ in 0..i % 4096 {
                n.threshold = n.threshold.next_up();
            }
        }
    }
    Candidate {
        model: Model::Trees(ens),
        ..parent.clone()
    }
}

/// Times the forms of `parent` (see the module docs) and prints one line.
fn compare(id: &str, parent: &Candidate, x: &[f32], d: usize, n_rows: usize) {
    let quantized = |kind| {
        quantize(parent, kind)
            .expect("quantizes")
            .expect("a tree model")
            .model
    };
    let (bins, int8) = (quantized(QuantizeKind::Bins), quantized(QuantizeKind::Int8));
    let Model::QuantTrees(q) = &bins else {
        panic!("a tree model quantizes to binned trees")
    };
    let used = q.used_features.len();
    let over_255 = (0..q.n_features)
        .filter(|&f| q.cut_start[f + 1] - q.cut_start[f] > 255)
        .count();
    let laid =
        |m: &Model, layout| CompiledModel::with_layout(m, layout).expect("trained cuts are sorted");
    let int8_chosen = laid(&int8, Layout::Chosen);
    let chosen = int8_chosen.layout_name();
    assert_eq!(
        laid(&bins, Layout::Chosen).layout_name(),
        chosen,
        "{id}: one choice per shape"
    );
    let binned = laid(&bins, Layout::Binned);
    let int8_binned = laid(&int8, Layout::Binned);
    let forms: Vec<(String, CompiledModel)> = vec![
        ("float".into(), laid(&parent.model, Layout::Chosen)),
        ("cuts".into(), laid(&bins, Layout::Cuts)),
        (format!("bins [{}]", binned.layout_name()), binned),
        (
            format!("int8-u8 [{}]", int8_binned.layout_name()),
            int8_binned,
        ),
        (format!("int8 [{chosen}]"), int8_chosen),
    ];
    // Losslessness on these rows, while we are here (int8 leaves excepted).
    let mut s0 = forms[0].1.scratch();
    let k = forms[0].1.n_classes();
    let (mut p0, mut p1) = (vec![0f32; k], vec![0f32; k]);
    for (label, m) in forms.iter().filter(|(l, _)| !l.starts_with("int8")) {
        let mut s1 = m.scratch();
        for i in 0..n_rows {
            let row = &x[i * d..(i + 1) * d];
            forms[0].1.predict_proba(row, &mut s0, &mut p0);
            m.predict_proba(row, &mut s1, &mut p1);
            assert_eq!(p0, p1, "{id}: {label} differs from float on row {i}");
        }
    }
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); forms.len()];
    let mut ratio: Vec<Vec<f64>> = vec![Vec::new(); forms.len()];
    let mut scratch: Vec<_> = forms.iter().map(|(_, m)| m.scratch()).collect();
    for round in 0..ROUNDS {
        let mut this = vec![0f64; forms.len()];
        for k in 0..forms.len() {
            let f = (k + round) % forms.len();
            let model = &forms[f].1;
            let s = &mut scratch[f];
            let t = Instant::now();
            let mut i = 0usize;
            for _ in 0..CALLS {
                i += 1;
                if i == n_rows {
                    i = 0;
                }
                black_box(model.predict(black_box(&x[i * d..(i + 1) * d]), s));
            }
            this[f] = t.elapsed().as_nanos() as f64 / CALLS as f64;
        }
        if round == 0 {
            continue; // warm-up
        }
        for f in 0..forms.len() {
            ns[f].push(this[f]);
            ratio[f].push(this[0] / this[f]);
        }
    }
    let cells: Vec<String> = forms
        .iter()
        .enumerate()
        .map(|(f, (label, _))| {
            format!(
                "{label} {:.0} ns (×{:.2})",
                median(&mut ns[f]),
                median(&mut ratio[f])
            )
        })
        .collect();
    println!(
        "{id} ({used} features used, {over_255} with > 255 cuts): {}",
        cells.join(", ")
    );
}
