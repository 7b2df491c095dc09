//! Quantized tree forms against their float parent, single-row model-only
//! latency, measured interleaved in one process: each round times every form
//! once (in a rotating order) over the same held-out rows, and the ratio
//! float/quantized is taken within the round, so machine noise that spans a
//! round cancels. Reports medians over rounds. Shapes: those of
//! `benches/layouts.rs` (forest 100 and boosting 200 × depth 3 on 5,000 × 20
//! synthetic rows; forest 100 and boosting 300 × depth 6 on 10,000 × 30).
//!
//! taskset -c 0 cargo bench --bench quant_ratio -j 1

mod common;

use optbench::model::Model;
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::train::train;
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 21;
/// Predictions per form per round (cycling through the held-out rows).
const CALLS: usize = 4_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks shapes.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("shape/model: median ns per prediction (float, bins-u16, bins, int8); median per-round ratio float/quantized (>1 = quantized faster)");
    for (name, data, specs) in common::peer_shapes() {
        let prepared = common::Prepared::new(data);
        let (d, td) = (prepared.d, prepared.train_data());
        let x = &prepared.x_test;
        let n_rows = prepared.test_set.n_rows();
        for spec in &specs {
            let parent: Candidate = train(spec, &td, 42).expect("training succeeds").into();
            let id = format!("{name}/{}", parent.id);
            if !filter.is_empty() && !filter.iter().any(|f| id.contains(f.as_str())) {
                continue;
            }
            let mut forms: Vec<(&str, Model)> = vec![("float", parent.model.clone())];
            for (label, kind) in [("bins", QuantizeKind::Bins), ("int8", QuantizeKind::Int8)] {
                let q = quantize(&parent, kind)
                    .expect("quantizes")
                    .expect("a tree model");
                if kind == QuantizeKind::Bins {
                    // The same binned model on the wide (`u16`) layout.
                    if let Model::QuantTrees(mut wide) = q.model.clone() {
                        wide.relayout(false);
                        forms.push(("bins-u16", Model::QuantTrees(wide)));
                    }
                }
                forms.push((label, q.model));
            }
            // Losslessness on these rows, while we are here.
            let mut s0 = forms[0].1.scratch();
            let k = forms[0].1.n_classes();
            let (mut p0, mut p1) = (vec![0f32; k], vec![0f32; k]);
            for (label, m) in forms.iter().filter(|(l, _)| l.starts_with("bins")) {
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
            println!("{id}: {}", cells.join(", "));
        }
    }
}
