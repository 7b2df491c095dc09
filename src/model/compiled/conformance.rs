//! One conformance test for every compiled layout: each model form (float
//! trees, binned trees with f32 and int8 leaves, linear and int8 linear),
//! compiled to every layout it can take, predicts bit for bit what the plain
//! reference walk of its saved form predicts ([`Layout::Reference`]); and a
//! binned form with f32 leaves predicts bit for bit what its float parent
//! predicts. Rows sit at, just above and just below every threshold, and
//! hold NaN and ±infinity.

use super::{CompiledModel, Layout, LayoutKind};
use crate::model::{
    LeafPrecision, Leaves, LinearModel, Link, Model, Output, QuantLinear, QuantTrees, TreeEnsemble,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every layout a caller can ask for.
const LAYOUTS: [Layout; 7] = [
    Layout::Chosen,
    Layout::Reference,
    Layout::Trees(LayoutKind::Pointers),
    Layout::Trees(LayoutKind::Packed),
    Layout::Trees(LayoutKind::Implicit),
    Layout::Binned,
    Layout::Cuts,
];

/// A tree shape: features, classes, how leaves combine, trees, depth, and
/// the number of distinct thresholds per feature.
struct Shape {
    name: &'static str,
    features: usize,
    classes: usize,
    output: Output,
    trees: usize,
    depth: u32,
    cuts: usize,
}

fn shapes() -> Vec<Shape> {
    let logistic = || Output::Boosted {
        link: Link::Logistic,
        base: vec![0.3],
        tree_output: vec![],
    };
    let softmax = || Output::Boosted {
        link: Link::Softmax,
        base: vec![0.1, -0.2, 0.05],
        tree_output: vec![],
    };
    let shape = |name, features, classes, output, trees, depth, cuts| Shape {
        name,
        features,
        classes,
        output,
        trees,
        depth,
        cuts,
    };
    vec![
        shape("single tree", 8, 2, Output::Average, 1, 10, 40),
        shape("single tree, 3 classes", 5, 3, Output::Average, 1, 6, 40),
        shape("shallow boosting", 12, 2, logistic(), 60, 3, 60),
        shape("shallow boosting, 3 classes", 6, 3, softmax(), 45, 4, 60),
        shape("deep forest", 6, 2, Output::Average, 24, 12, 100),
        shape("deep forest, 3 classes", 6, 3, Output::Average, 20, 12, 100),
        shape("few trees", 16, 2, Output::Average, 3, 8, 60),
        // More than 255 cuts a feature: rows need u16 bins, so the rule
        // takes the cut walk and a binned layout the reference walk.
        shape("boosting over many cuts", 4, 2, logistic(), 50, 6, 600),
        shape("forest over many cuts", 4, 3, Output::Average, 30, 11, 600),
    ]
}

/// Thresholds of feature `f`: `n` values spread over [-30, 30).
fn grid(f: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 60.0 / n as f32 - 30.0) + f as f32 * 0.01)
        .collect()
}

/// Appends a random tree; a boosted tree's leaves are `size` at most (late
/// rounds fit smaller residuals, which gives int8 leaves a scale per tree).
fn grow(
    ens: &mut TreeEnsemble,
    rng: &mut ChaCha8Rng,
    grids: &[Vec<f32>],
    (depth, max_depth): (u32, u32),
    size: f32,
) -> u32 {
    if depth == max_depth || (depth > 1 && rng.random_bool(0.2)) {
        let values: Vec<f32> = match ens.output {
            Output::Average => {
                let raw: Vec<f32> = (0..ens.n_classes)
                    .map(|_| rng.random_range(0.0..1.0))
                    .collect();
                let sum: f32 = raw.iter().sum();
                raw.iter().map(|v| v / sum).collect()
            }
            Output::Boosted { .. } => vec![rng.random_range(-size..size)],
        };
        return ens.push_leaf(&values);
    }
    let f = rng.random_range(0..ens.n_features);
    let node = ens.push_split(f as u32, grids[f][rng.random_range(0..grids[f].len())]);
    let l = grow(ens, rng, grids, (depth + 1, max_depth), size);
    let r = grow(ens, rng, grids, (depth + 1, max_depth), size);
    ens.set_children(node, l, r);
    node
}

fn ensemble(shape: &Shape, seed: u64) -> (TreeEnsemble, Vec<Vec<f32>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let grids: Vec<Vec<f32>> = (0..shape.features).map(|f| grid(f, shape.cuts)).collect();
    let mut ens = TreeEnsemble::new(shape.features, shape.classes);
    ens.output = shape.output.clone();
    for t in 0..shape.trees {
        let size = 2.0 * 0.9f32.powi(t as i32);
        let root = grow(&mut ens, &mut rng, &grids, (0, shape.depth), size);
        ens.roots.push(root);
        if let Output::Boosted {
            tree_output, base, ..
        } = &mut ens.output
        {
            tree_output.push((t % base.len()) as u32);
        }
    }
    ens.check().unwrap();
    (ens, grids)
}

/// Rows whose every value is a threshold, the next `f32` above or below
/// one, NaN, ±infinity or a value in between.
fn rows(grids: &[Vec<f32>], seed: u64, n: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            grids
                .iter()
                .map(|g| {
                    let t = g[rng.random_range(0..g.len())];
                    match rng.random_range(0..8) {
                        0 | 1 => t,
                        2 => t.next_up(),
                        3 => t.next_down(),
                        4 => f32::NAN,
                        5 => f32::INFINITY,
                        6 => f32::NEG_INFINITY,
                        _ => rng.random_range(-35.0..35.0),
                    }
                })
                .collect()
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `model` in every layout it takes agrees with `reference` bit for bit on
/// `rows`; returns the layouts' names.
fn agree(name: &str, model: &Model, reference: &CompiledModel, rows: &[Vec<f32>]) -> Vec<String> {
    let k = reference.n_classes();
    let mut names = Vec::new();
    let mut rs = reference.scratch();
    let (mut want, mut got) = (vec![0.0; k], vec![0.0; k]);
    for layout in LAYOUTS {
        let Ok(c) = CompiledModel::with_layout(model, layout) else {
            continue;
        };
        names.push(format!("{layout:?}={}", c.layout_name()));
        let mut s = c.scratch();
        for row in rows {
            reference.predict_proba(row, &mut rs, &mut want);
            c.predict_proba(row, &mut s, &mut got);
            assert_eq!(bits(&got), bits(&want), "{name}, {layout:?}, {row:?}");
            assert_eq!(
                c.predict(row, &mut s),
                reference.predict(row, &mut rs),
                "{name}, {layout:?}, {row:?}"
            );
        }
    }
    names
}

#[test]
fn every_form_in_every_layout_predicts_like_the_reference_walk() {
    let mut walks = std::collections::BTreeSet::new();
    let mut shifted = false;
    for (i, shape) in shapes().iter().enumerate() {
        let (ens, grids) = ensemble(shape, 100 + i as u64);
        let rows = rows(&grids, 200 + i as u64, 600);
        let float = Model::Trees(ens.clone());
        let float_ref = CompiledModel::with_layout(&float, Layout::Reference).unwrap();
        let names = agree(shape.name, &float, &float_ref, &rows);
        assert!(names.len() >= 3, "{}: {names:?}", shape.name);
        walks.extend(names);
        for precision in [LeafPrecision::F32, LeafPrecision::Int8] {
            let saved = QuantTrees::from_ensemble(&ens, precision).unwrap();
            shifted |= matches!(saved.leaves, Leaves::Int8Shifted { .. });
            let q = Model::QuantTrees(saved);
            let name = format!("{} ({precision:?})", shape.name);
            let own_ref = CompiledModel::with_layout(&q, Layout::Reference).unwrap();
            walks.extend(agree(&name, &q, &own_ref, &rows));
            if precision == LeafPrecision::F32 {
                // Lossless: the binned form is its float parent, bit for bit.
                agree(
                    &format!("{name} against its float parent"),
                    &q,
                    &float_ref,
                    &rows,
                );
            }
        }
    }
    assert!(
        shifted,
        "some boosting takes int8 leaves with a scale per tree"
    );
    // Every walk the rule can pick was reached by some shape.
    for walk in [
        "trees-pointers",
        "trees-packed",
        "trees-implicit",
        "pointers",
        "implicit-u8",
        "packed-u8",
        "cuts",
    ] {
        assert!(
            walks.iter().any(|w| w.ends_with(&format!("={walk}"))),
            "{walk} untested: {walks:?}"
        );
    }
    if super::binned::blocks_supported() {
        assert!(walks.iter().any(|w| w.ends_with("=blocks")), "{walks:?}");
    }
}

#[test]
fn linear_forms_compile_to_themselves() {
    let m = LinearModel {
        n_features: 3,
        n_classes: 3,
        link: Link::Softmax,
        weights: vec![0.5, -1.0, 0.25, 2.0, 0.0, -0.5, 1.0, 1.0, 1.0],
        bias: vec![0.1, 0.0, -0.1],
    };
    let q = QuantLinear::from_linear(&m);
    let grids = vec![vec![-1.0, 0.0, 1.0]; 3];
    let rows = rows(&grids, 7, 200);
    for model in [Model::Linear(m), Model::QuantLinear(q)] {
        let reference = CompiledModel::with_layout(&model, Layout::Reference).unwrap();
        let names = agree("linear", &model, &reference, &rows);
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
