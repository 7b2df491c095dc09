//! The float tree runtime's layouts side by side in one run (single-row,
//! model-only, cycling through held-out rows), on the peer comparison's
//! shapes: forest 100 and boosting 200 × depth 3 on 5,000 × 20 synthetic rows
//! (w1's shape), forest 100 and boosting 300 × depth 6 on 10,000 × 30 (w2's).
//! Also the binned (lossless quantized) form, to keep the quantized-vs-float
//! ratio in view. The machine is shared: compare ratios within one run.
//!
//! cargo bench --bench layouts

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use optbench::model::{CompiledModel, Layout, LayoutKind};
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::train::train;
use std::hint::black_box;

fn bench_layouts(c: &mut Criterion) {
    let mut group = c.benchmark_group("layouts");
    for (name, data, specs) in common::peer_shapes() {
        let prepared = common::Prepared::new(data);
        let common::Prepared {
            test_set,
            x_test,
            d,
            ..
        } = &prepared;
        let (d, td) = (*d, prepared.train_data());
        for spec in &specs {
            let parent: Candidate = train(spec, &td, 42).expect("training succeeds").into();
            let mut forms = Vec::new();
            for (label, kind) in [
                ("pointers", LayoutKind::Pointers),
                ("packed", LayoutKind::Packed),
                ("implicit", LayoutKind::Implicit),
            ] {
                if let Ok(c) = CompiledModel::with_layout(&parent.model, Layout::Trees(kind)) {
                    forms.push((label, c));
                }
            }
            let bins = quantize(&parent, QuantizeKind::Bins)
                .expect("quantizes")
                .expect("a tree model");
            forms.push(("bins", bins.model.compile().expect("binned forms compile")));
            for (label, model) in &forms {
                let mut scratch = model.scratch();
                let mut i = 0usize;
                let id = format!("{name}/{}/{label}", parent.id);
                group.bench_function(BenchmarkId::new("model", id), |b| {
                    b.iter(|| {
                        i = (i + 1) % test_set.n_rows();
                        black_box(
                            model.predict(black_box(&x_test[i * d..(i + 1) * d]), &mut scratch),
                        )
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_layouts);
criterion_main!(benches);
