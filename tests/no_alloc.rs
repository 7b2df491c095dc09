//! The single-row serving path never allocates: validate → preprocess →
//! predict (and predict_proba), for every model form, with buffers made once
//! by the caller. Proved with a counting global allocator (this test binary
//! only), counting the calls made on this thread. The data (penguins) have
//! categorical columns and missing cells, so imputation and the one-hot
//! lookup are on the counted path.

use optbench::data::{read_csv, read_csv_with_schema, ColumnTypes, Value};
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::pipeline::{FittedPipeline, PipelineConfig};
use optbench::train::{train, CandidateSpec, TrainData};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn serving_a_row_allocates_nothing_for_any_model_form() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/penguins");
    let train_set = read_csv(&dir.join("train.csv"), "species", &ColumnTypes::new())
        .unwrap()
        .data;
    let test_set = read_csv_with_schema(&dir.join("test.csv"), "species", &train_set, &[])
        .unwrap()
        .data;
    // Serve the test rows and the training rows (which have the missing cells).
    let mut raw_rows = test_set.raw_rows();
    raw_rows.extend(train_set.raw_rows());
    assert!(raw_rows.contains(&Value::Missing), "missing cells served");
    let w = test_set.n_features();
    let n_served = raw_rows.len() / w;
    let pipeline = FittedPipeline::fit(&train_set, &PipelineConfig::default()).unwrap();
    let x = pipeline.transform(&train_set);
    let td = TrainData {
        x: &x,
        n_features: pipeline.n_outputs(),
        y: &train_set.y,
        n_classes: 3,
    };
    let specs = [
        CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 100,
        },
        CandidateSpec::DecisionTree {
            max_depth: None,
            min_samples_leaf: 1,
        },
        CandidateSpec::RandomForest {
            n_trees: 10,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
        },
        CandidateSpec::GradientBoosting {
            n_trees: 20,
            learning_rate: 0.1,
            max_depth: 4,
            min_samples_leaf: 1,
            subsample: 1.0,
            l2_regularization: 0.0,
            max_bins: 255,
        },
    ];
    let mut forms: Vec<Candidate> = Vec::new();
    for spec in &specs {
        let c: Candidate = train(spec, &td, 1).unwrap().into();
        for kind in [QuantizeKind::Bins, QuantizeKind::Int8] {
            if let Some(q) = quantize(&c, kind).unwrap() {
                forms.push(q);
            }
        }
        forms.push(c);
    }
    // The counter sees this thread's allocations (so the test can fail).
    let probe = allocations();
    std::hint::black_box(Vec::<u8>::with_capacity(16));
    assert_eq!(allocations(), probe + 1);

    let schema = test_set.schema();
    let d = pipeline.n_outputs();
    for form in &forms {
        let model = &form.model;
        // Everything the caller owns, made before counting.
        let mut scratch = model.scratch();
        let mut features = vec![0.0f32; d];
        let mut proba = vec![0.0f32; model.n_classes()];
        let before = allocations();
        let mut checksum = 0u64;
        for i in 0..n_served {
            let raw = &raw_rows[i * w..(i + 1) * w];
            schema.validate_row(raw).unwrap();
            pipeline.transform_row(raw, &mut features);
            checksum += u64::from(model.predict(&features, &mut scratch));
            model.predict_proba(&features, &mut scratch, &mut proba);
        }
        let after = allocations();
        assert_eq!(
            after - before,
            0,
            "{}: {} allocations serving {} rows",
            form.id,
            after - before,
            n_served
        );
        std::hint::black_box(checksum);
    }
    assert_eq!(forms.len(), 4 + 3 * 2 + 1, "every form was checked");
}
