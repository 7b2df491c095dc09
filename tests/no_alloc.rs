//! The single-row serving path never allocates: validate → preprocess →
//! predict (and predict_proba), for every model form, with buffers made once
//! by the caller. Proved with a counting global allocator (this test binary
//! only), counting the calls made on this thread. The data (penguins) have
//! categorical columns and missing cells, so imputation and the one-hot
//! lookup are on the counted path.

use optbench::data::{read_csv, read_csv_with_schema, ColumnTypes, Dataset, RequestForm};
use optbench::optimize::{quantize, Candidate, QuantizeKind};
use optbench::pipeline::{FittedPipeline, PipelineConfig};
use optbench::train::{train, CandidateSpec, Gamma, SvmKernel, TrainData};
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

/// Penguins (categorical columns and missing cells: imputation and the
/// one-hot lookup are on the counted path) are served as typed cells; breast
/// cancer (all numeric, a tenth of its test cells blanked) as rows of
/// numbers, the form `run` measures for numeric data.
#[test]
fn serving_a_row_allocates_nothing_for_any_model_form() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for (name, target, form) in [
        ("penguins", "species", RequestForm::Cells),
        ("breast_cancer", "label", RequestForm::Numbers),
    ] {
        let dir = fixtures.join(name);
        let train_set = read_csv(&dir.join("train.csv"), target, &ColumnTypes::new())
            .unwrap()
            .data;
        let mut test_set = read_csv_with_schema(&dir.join("test.csv"), target, &train_set, &[])
            .unwrap()
            .data;
        for (i, v) in test_set.x.iter_mut().enumerate() {
            if i % 10 == 3 {
                *v = f64::NAN;
            }
        }
        checked += serve_every_form(&train_set, &test_set, form);
    }
    // Per dataset: the 5 trained models; bins and int8 of the three tree
    // models; int8 of the logistic regression and of the SVM.
    assert_eq!(checked, 2 * (5 + 3 * 2 + 2), "every form was checked");
}

/// Serves the test rows and the training rows through every model form,
/// counting allocations; returns the number of forms.
fn serve_every_form(train_set: &Dataset, test_set: &Dataset, form: RequestForm) -> usize {
    // Serve the test rows and the training rows (penguins' training rows
    // have the missing cells).
    let served = [test_set.requests(), train_set.requests()];
    assert!(served.iter().all(|r| r.form() == form));
    let n_served = test_set.n_rows() + train_set.n_rows();
    let pipeline = FittedPipeline::fit(train_set, &PipelineConfig::default()).unwrap();
    let x = pipeline.transform(train_set);
    let td = TrainData {
        x: &x,
        n_features: pipeline.n_outputs(),
        y: &train_set.y,
        n_classes: train_set.n_classes(),
    };
    let specs = [
        CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 100,
            class_weight: Default::default(),
        },
        CandidateSpec::DecisionTree {
            max_depth: None,
            min_samples_leaf: 1,
            class_weight: Default::default(),
        },
        CandidateSpec::RandomForest {
            n_trees: 10,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
            class_weight: Default::default(),
        },
        CandidateSpec::GradientBoosting {
            n_trees: 20,
            learning_rate: 0.1,
            max_depth: 4,
            min_samples_leaf: 1,
            subsample: 1.0,
            l2_regularization: 0.0,
            max_bins: 255,
            class_weight: Default::default(),
        },
        // Platt probabilities: the coupling runs on the counted path too.
        CandidateSpec::Svm {
            kernel: SvmKernel::Rbf,
            c: 1.0,
            gamma: Gamma::default(),
            degree: 3,
            coef0: 0.0,
            probability: true,
            tol: 1e-3,
            class_weight: Default::default(),
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

    let plan = pipeline.row_plan();
    let d = pipeline.n_outputs();
    for form in &forms {
        let model = form.model.compile().unwrap();
        // Everything the caller owns, made before counting.
        let mut scratch = model.scratch();
        let mut features = vec![0.0f32; d];
        let mut proba = vec![0.0f32; model.n_classes()];
        let before = allocations();
        let mut checksum = 0u64;
        for requests in &served {
            for i in 0..requests.n_rows() {
                plan.serve(requests.row(i), &mut features).unwrap();
                checksum += u64::from(model.predict(&features, &mut scratch));
                model.predict_proba(&features, &mut scratch, &mut proba);
            }
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
    forms.len()
}
