//! One conformance test for every compiled layout: each model form (float
//! trees, binned trees with f32 and int8 leaves, linear and int8 linear,
//! SVMs of every kernel with and without Platt probabilities),
//! compiled to every layout it can take, predicts bit for bit what the plain
//! reference walk of its saved form predicts ([`Layout::Reference`]); and a
//! binned form with f32 leaves predicts bit for bit what its float parent
//! predicts. Rows sit at, just above and just below every threshold, and
//! hold NaN and ±infinity.

use super::{CompiledModel, Layout, LayoutKind};
use crate::model::{
    Kernel, LeafPrecision, Leaves, LinearModel, Link, Model, Output, Platt, QuantLinear,
    QuantTrees, SvmModel, TreeEnsemble,
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
            let class = reference.predict(row, &mut rs);
            assert_eq!(c.predict(row, &mut s), class, "{name}, {layout:?}, {row:?}");
            // Both from one walk: the same class and probabilities.
            got.fill(f32::NAN);
            assert_eq!(
                c.predict_with_proba(row, &mut s, &mut got),
                class,
                "{name}, {layout:?}, {row:?}"
            );
            assert_eq!(bits(&got), bits(&want), "{name}, {layout:?}, {row:?}");
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

/// A random SVM: `per_class` vectors of each class in [-2, 2)^d, random
/// coefficients, intercepts and (optionally) Platt sigmoids.
fn svm(kernel: Kernel, d: usize, per_class: &[u32], platt: bool, seed: u64) -> SvmModel {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = per_class.len();
    let n_sv: usize = per_class.iter().map(|&n| n as usize).sum();
    let pairs = k * (k - 1) / 2;
    let mut uniform =
        |n: usize, r: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-r..r)).collect() };
    let m = SvmModel {
        n_features: d,
        n_classes: k,
        kernel,
        per_class: per_class.to_vec(),
        vectors: uniform(n_sv * d, 2.0),
        dual_coef: uniform((k - 1) * n_sv, 1.0),
        intercepts: uniform(pairs, 0.5),
        platt: platt.then(|| Platt {
            a: uniform(pairs, 3.0).iter().map(|a| -a.abs()).collect(),
            b: uniform(pairs, 0.3),
        }),
    };
    m.check().unwrap();
    m
}

/// The decision values in `f64`, the plain way (what the `f32` kernel loop
/// must approach), each with the sum of its terms' magnitudes (what bounds
/// the `f32` rounding).
fn svm_decisions_f64(m: &SvmModel, row: &[f32]) -> Vec<(f64, f64)> {
    let d = m.n_features;
    let x: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
    let kv: Vec<f64> = m
        .vectors
        .chunks_exact(d)
        .map(|v| {
            let v: Vec<f64> = v.iter().map(|&a| f64::from(a)).collect();
            let dot: f64 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
            match m.kernel {
                Kernel::Linear => dot,
                Kernel::Rbf { gamma } => {
                    let d2: f64 = x.iter().zip(&v).map(|(a, b)| (a - b).powi(2)).sum();
                    (-f64::from(gamma) * d2).exp()
                }
                Kernel::Poly {
                    gamma,
                    coef0,
                    degree,
                } => (f64::from(gamma) * dot + f64::from(coef0)).powi(degree as i32),
                Kernel::Sigmoid { gamma, coef0 } => {
                    (f64::from(gamma) * dot + f64::from(coef0)).tanh()
                }
            }
        })
        .collect();
    let n_sv = kv.len();
    let start: Vec<usize> = (0..m.n_classes)
        .map(|c| m.per_class[..c].iter().map(|&n| n as usize).sum())
        .collect();
    let mut out = Vec::new();
    for i in 0..m.n_classes {
        for j in i + 1..m.n_classes {
            let mut s = f64::from(m.intercepts[out.len()]);
            let mut size = s.abs();
            for (c, line) in [(i, j - 1), (j, i)] {
                let span = start[c]..start[c] + m.per_class[c] as usize;
                for (&coef, &k) in m.dual_coef[line * n_sv..][span.clone()]
                    .iter()
                    .zip(&kv[span])
                {
                    let term = f64::from(coef) * k;
                    s += term;
                    size += term.abs();
                }
            }
            out.push((s, size));
        }
    }
    out
}

#[test]
fn svm_forms_compile_to_themselves_and_match_a_plain_f64_evaluation() {
    let kernels = [
        Kernel::Rbf { gamma: 0.2 },
        Kernel::Linear,
        Kernel::Poly {
            gamma: 0.5,
            coef0: 1.0,
            degree: 3,
        },
        Kernel::Sigmoid {
            gamma: 0.1,
            coef0: -0.5,
        },
    ];
    // Feature counts below, at and above the kernel loop's lane count,
    // two and four classes.
    for (i, kernel) in kernels.into_iter().enumerate() {
        for (d, per_class) in [(3, vec![4, 7]), (8, vec![5, 1, 6, 3]), (21, vec![9, 12])] {
            for platt in [false, true] {
                let seed = 300 + i as u64 * 10 + d as u64;
                let m = svm(kernel, d, &per_class, platt, seed);
                let grids: Vec<Vec<f32>> = (0..d).map(|f| grid(f, 7)).collect();
                let model = Model::Svm(m.clone());
                let reference = CompiledModel::with_layout(&model, Layout::Reference).unwrap();
                let name = format!("svm {kernel:?}, d {d}, Platt {platt}");
                let names = agree(&name, &model, &reference, &rows(&grids, seed, 300));
                assert_eq!(names.len(), 2, "{names:?}");
                // Finite rows: decisions within f32 rounding of the f64 ones.
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let (mut kv, mut dec) = (vec![0.0; m.n_sv()], vec![0.0; m.n_pairs()]);
                let mut s = reference.scratch();
                let mut p = vec![0.0; m.n_classes];
                for _ in 0..200 {
                    let row: Vec<f32> = (0..d).map(|_| rng.random_range(-3.0..3.0)).collect();
                    m.decisions(&row, &mut kv, &mut dec);
                    let want = svm_decisions_f64(&m, &row);
                    for (a, (b, size)) in dec.iter().zip(&want) {
                        let tol = 1e-5 * size.max(1.0);
                        assert!((f64::from(*a) - b).abs() < tol, "{name}: {a} vs {b}");
                    }
                    reference.predict_proba(&row, &mut s, &mut p);
                    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{name}: {p:?}");
                }
            }
        }
    }
}
