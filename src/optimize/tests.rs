use super::*;
use crate::model::TreeEnsemble;
use crate::train::testdata::Problem;
use crate::train::{train, ClassWeight};

fn trained(spec: CandidateSpec, p: &Problem) -> Candidate {
    train(&spec, &p.train(), 42).unwrap().into()
}

fn forest(n: u16) -> CandidateSpec {
    CandidateSpec::RandomForest {
        n_trees: n,
        max_depth: None,
        min_samples_leaf: 1,
        max_features: None,
        class_weight: Default::default(),
    }
}

fn boost(n: u16, depth: u16) -> CandidateSpec {
    CandidateSpec::GradientBoosting {
        n_trees: n,
        learning_rate: 0.1,
        max_depth: depth,
        min_samples_leaf: 1,
        subsample: 1.0,
        l2_regularization: 0.0,
        max_bins: 255,
        class_weight: Default::default(),
    }
}

fn tree(depth: Option<u16>) -> CandidateSpec {
    CandidateSpec::DecisionTree {
        max_depth: depth,
        min_samples_leaf: 1,
        class_weight: Default::default(),
    }
}

fn trees(c: &Candidate) -> &TreeEnsemble {
    match &c.model {
        Model::Trees(t) => t,
        _ => panic!("{} is not a tree ensemble", c.id),
    }
}

/// Test rows plus the awkward ones: every threshold exactly, the next f32
/// above it, and NaN in every column.
fn probe_rows(p: &Problem, t: &TreeEnsemble) -> Vec<f32> {
    let d = p.n_features;
    let mut rows = p.x_test.clone();
    for (i, n) in t
        .nodes
        .iter()
        .filter(|n| !n.is_leaf())
        .enumerate()
        .take(400)
    {
        let mut r = p.x_test[(i % p.y_test.len()) * d..][..d].to_vec();
        r[n.feature as usize] = n.threshold;
        rows.extend_from_slice(&r);
        r[n.feature as usize] = f32::from_bits(n.threshold.to_bits() + 1);
        rows.extend_from_slice(&r);
    }
    rows.extend(std::iter::repeat_n(f32::NAN, d));
    rows
}

/// Bit-for-bit equality, reporting the first difference (not the vectors).
fn assert_same<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("{what}: first difference at {i}: {:?} vs {:?}", a[i], b[i]);
    }
}

fn classes(m: &Model, rows: &[f32]) -> Vec<u32> {
    let mut out = Vec::new();
    m.compile().unwrap().predict_batch(rows, &mut out);
    out
}

#[test]
fn no_op_pruning_and_truncation_change_nothing() {
    let p = Problem::new(800, 3, 21);
    for spec in [tree(None), forest(15), boost(20, 4)] {
        let c = trained(spec, &p);
        let t = trees(&c);
        let rounds = t.n_trees() / t.output.n_trees_per_round(t.n_classes);
        let same = truncate(t, rounds);
        assert_eq!(&same, t, "{}: truncating to every round", c.id);
        let pruned = prune_depth(t, t.max_depth() as u16, &p.train(), None);
        let rows = probe_rows(&p, t);
        assert_same(
            &Model::Trees(pruned)
                .compile()
                .unwrap()
                .predict_proba_batch(&rows),
            &c.model.compile().unwrap().predict_proba_batch(&rows),
            &format!("{}: pruning at the tree's own depth", c.id),
        );
    }
}

#[test]
fn truncation_keeps_the_first_rounds() {
    let p = Problem::new(600, 3, 2);
    let c = trained(boost(10, 3), &p);
    let t = trees(&c);
    let first = truncate(t, 4);
    first.check().unwrap();
    assert_eq!(
        first.n_trees(),
        4 * 3,
        "3 classes: one tree per class per round"
    );
    assert_eq!(first.nodes[..], t.nodes[..first.nodes.len()]);
    let f = trained(forest(10), &p);
    let first = truncate(trees(&f), 3);
    assert_eq!(first.n_trees(), 3);
}

#[test]
fn depth_pruning_caps_depth_and_keeps_leaf_distributions() {
    let p = Problem::new(1000, 2, 8);
    let c = trained(tree(None), &p);
    let t = trees(&c);
    assert!(t.max_depth() > 4);
    let pruned = prune_depth(t, 3, &p.train(), None);
    pruned.check().unwrap();
    assert_eq!(pruned.max_depth(), 3);
    // Each new leaf holds the class distribution of the training rows that
    // reach it — the same as a tree grown to depth 3 along the same splits.
    let td = p.train();
    let mut counts = vec![[0u32; 2]; pruned.n_leaves()];
    for i in 0..td.n_rows() {
        counts[pruned.leaf_of(0, td.row(i)) as usize][td.y[i] as usize] += 1;
    }
    for (l, c) in counts.iter().enumerate() {
        let total = (c[0] + c[1]) as f32;
        if total > 0.0 {
            assert!((pruned.leaf_values[l * 2 + 1] - c[1] as f32 / total).abs() < 1e-6);
        }
    }
    // A forest's cut nodes hold the class distribution of the training rows
    // reaching them too.
    let f = trained(forest(8), &p);
    let pf = prune_depth(trees(&f), 2, &p.train(), None);
    assert_eq!(pf.max_depth(), 2);
    let mut counts = vec![[0u32; 2]; pf.n_leaves()];
    for i in 0..td.n_rows() {
        for &root in &pf.roots {
            counts[pf.leaf_of(root, td.row(i)) as usize][td.y[i] as usize] += 1;
        }
    }
    // The cut nodes: internal at depth 2 in the forest (a leaf there is the
    // tree's own, holding the fractions of its bootstrap rows). The pruned
    // trees keep the forest's nodes down to depth 2 in the same order.
    fn cut_leaves(t: &TreeEnsemble, pf: &TreeEnsemble, a: usize, b: usize, out: &mut Vec<u32>) {
        let (n, m) = (&t.nodes[a], &pf.nodes[b]);
        if n.is_leaf() {
            return;
        }
        if m.is_leaf() {
            out.push(m.left);
            return;
        }
        cut_leaves(t, pf, n.left as usize, m.left as usize, out);
        cut_leaves(t, pf, n.right as usize, m.right as usize, out);
    }
    let mut cut = Vec::new();
    for (&a, &b) in trees(&f).roots.iter().zip(&pf.roots) {
        cut_leaves(trees(&f), &pf, a as usize, b as usize, &mut cut);
    }
    assert!(cut.len() > 8, "{} cut nodes", cut.len());
    for l in cut {
        let c = counts[l as usize];
        let total = (c[0] + c[1]) as f32;
        assert!(total > 0.0, "every depth-2 node of a forest is reached");
        assert!((pf.leaf_values[l as usize * 2 + 1] - c[1] as f32 / total).abs() < 1e-6);
    }
}

#[test]
fn binned_thresholds_are_lossless_for_every_tree_family() {
    for (classes, seed) in [(2, 5), (3, 6)] {
        let p = Problem::new(900, classes, seed);
        for spec in [tree(Some(6)), forest(12), boost(25, 4)] {
            let c = trained(spec, &p);
            let q = quantize(&c, QuantizeKind::Bins).unwrap().unwrap();
            let rows = probe_rows(&p, trees(&c));
            assert_same(&classes_of(&q, &rows), &classes_of(&c, &rows), &q.id);
            assert_same(
                &q.model.compile().unwrap().predict_proba_batch(&rows),
                &c.model.compile().unwrap().predict_proba_batch(&rows),
                &q.id,
            );
            assert_eq!(
                q.lineage.as_ref().unwrap().parent,
                c.id,
                "the variant names its parent"
            );
        }
    }
}

fn classes_of(c: &Candidate, rows: &[f32]) -> Vec<u32> {
    classes(&c.model, rows)
}

#[test]
fn int8_forms_agree_with_their_parents_and_are_smaller() {
    let p = Problem::new(2000, 2, 13);
    for spec in [forest(30), boost(60, 5)] {
        let c = trained(spec, &p);
        let q = quantize(&c, QuantizeKind::Int8).unwrap().unwrap();
        let rows = &p.x_test;
        let agree = agreement(&classes_of(&q, rows), &classes_of(&c, rows));
        assert!(agree >= 0.99, "{}: agreement {agree}", q.id);
        let (a, b) = (c.model.to_bytes().len(), q.model.to_bytes().len());
        assert!(
            a >= 3 * b,
            "{}: {a} bytes → {b} bytes is not 3× smaller",
            q.id
        );
    }
    let lr = trained(
        CandidateSpec::LogisticRegression {
            alpha: 1.0,
            max_iterations: 200,
            class_weight: Default::default(),
        },
        &p,
    );
    let q = quantize(&lr, QuantizeKind::Int8).unwrap().unwrap();
    let agree = agreement(&classes_of(&q, &p.x_test), &classes_of(&lr, &p.x_test));
    assert!(agree >= 0.99, "int8 logistic regression: agreement {agree}");
    assert!(quantize(&lr, QuantizeKind::Bins).unwrap().is_none());
}

/// int8 support vectors (one scale per feature): the same classes as the
/// parent on almost every test row, and a smaller package (the vectors
/// shrink 4×; dual coefficients and intercepts stay f32).
#[test]
fn int8_svms_agree_with_their_parents_and_are_smaller() {
    let p = Problem::new(400, 3, 13);
    for platt in [false, true] {
        let mut spec = CandidateSpec::svm(crate::train::SvmKernel::Rbf);
        if let CandidateSpec::Svm { probability, .. } = &mut spec {
            *probability = platt;
        }
        let c = trained(spec, &p);
        let q = quantize(&c, QuantizeKind::Int8).unwrap().unwrap();
        assert_eq!(q.id, format!("{}/int8", c.id));
        let agree = agreement(&classes_of(&q, &p.x_test), &classes_of(&c, &p.x_test));
        assert!(agree >= 0.99, "{}: agreement {agree}", q.id);
        let (a, b) = (c.model.to_bytes().len(), q.model.to_bytes().len());
        assert!(a >= 2 * b, "{}: {a} bytes → {b} bytes", q.id);
        assert!(quantize(&c, QuantizeKind::Bins).unwrap().is_none());
    }
}

#[test]
fn a_linear_student_learns_a_linear_teacher_from_soft_targets() {
    let p = Problem::new(1500, 3, 17);
    let lr = CandidateSpec::LogisticRegression {
        alpha: 1.0,
        max_iterations: 300,
        class_weight: Default::default(),
    };
    let teacher = trained(lr.clone(), &p);
    let spec = DistillSpec {
        teacher: teacher.id.clone(),
        student: lr,
        extra_rows: 500,
        noise: 0.2,
    };
    let soft = distill(&teacher, &spec, Targets::Soft, &p.train(), 1).unwrap();
    let hard = distill(&teacher, &spec, Targets::Hard, &p.train(), 1).unwrap();
    assert_ne!(soft.id, hard.id);
    // A student of the teacher's own family can match it exactly from its
    // probabilities; agreement must be near-perfect.
    let agree = agreement(
        &classes_of(&soft, &p.x_test),
        &classes_of(&teacher, &p.x_test),
    );
    assert!(agree >= 0.99, "agreement {agree}");
    assert_eq!(
        soft.lineage.unwrap().transform,
        Transform::Distill {
            targets: Targets::Soft,
            extra_rows: 500,
            noise: 0.2
        }
    );
}

/// A student with `class_weight = "balanced"` weighs each row by its
/// label (the training label; the teacher's class on the extra rows): on
/// data with one positive in six, the hard-label control learned from the
/// same teacher calls the rare class far more often than the unweighted
/// one. (Soft targets are the teacher's probabilities, which a student
/// able to match them matches whatever the weights.)
/// `p`'s binary training rows with every negative and one positive in
/// `every`, in order.
fn rare_positives(p: &Problem, every: usize) -> (Vec<f32>, Vec<u32>) {
    let mut seen = 0;
    let keep: Vec<usize> = (0..p.y_train.len())
        .filter(|&i| {
            p.y_train[i] == 0 || {
                seen += 1;
                seen % every == 0
            }
        })
        .collect();
    let d = p.n_features;
    let x = keep
        .iter()
        .flat_map(|&i| p.x_train[i * d..(i + 1) * d].to_vec())
        .collect();
    (x, keep.iter().map(|&i| p.y_train[i]).collect())
}

#[test]
fn a_balanced_student_weighs_rows_by_their_labels() {
    let p = Problem::new(3000, 2, 23);
    let (x, y) = rare_positives(&p, 5);
    let data = TrainData {
        x: &x,
        n_features: p.n_features,
        y: &y,
        n_classes: 2,
    };
    let lr = |class_weight| CandidateSpec::LogisticRegression {
        alpha: 1.0,
        max_iterations: 300,
        class_weight,
    };
    let teacher: Candidate = train(&lr(ClassWeight::None), &data, 1).unwrap().into();
    let positives = |student: CandidateSpec, extra_rows| {
        let spec = DistillSpec {
            teacher: teacher.id.clone(),
            student,
            extra_rows,
            noise: 0.2,
        };
        let c = distill(&teacher, &spec, Targets::Hard, &data, 1).unwrap();
        classes_of(&c, &p.x_test)
            .iter()
            .filter(|&&c| c == 1)
            .count()
    };
    for extra_rows in [0, 400] {
        let plain = positives(lr(ClassWeight::None), extra_rows);
        let balanced = positives(lr(ClassWeight::Balanced), extra_rows);
        assert!(
            balanced > plain + plain / 2,
            "{extra_rows} extra rows: {balanced} against {plain}"
        );
    }
}

#[test]
fn derive_follows_the_plan_and_is_deterministic() {
    let p = Problem::new(700, 2, 3);
    let parents: Vec<Candidate> = [forest(20), boost(30, 5)]
        .into_iter()
        .map(|s| trained(s, &p))
        .collect();
    let plan = OptimizePlan {
        quantize: vec![QuantizeKind::Bins, QuantizeKind::Int8],
        prune_depths: vec![3, 50],
        truncate: vec![10, 1000],
        cost_complexity: None,
        distill: vec![DistillSpec {
            teacher: "boost-30-d5".into(),
            student: boost(5, 2),
            extra_rows: 200,
            noise: 0.1,
        }],
        // No SVM among the parents: nothing to reduce.
        reduce_svm: vec![0.5],
        reduce_svm_refit: Refit::LeastSquares,
    };
    let a = derive(&plan, &parents, &p.train(), 9, Metric::Accuracy).unwrap();
    let ids: Vec<&str> = a.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "forest-20/bins",
            "forest-20/int8",
            "forest-20/depth3",
            "forest-20/first10",
            "boost-30-d5/bins",
            "boost-30-d5/int8",
            "boost-30-d5/depth3",
            "boost-30-d5/first10",
            "boost-5-d2<boost-30-d5/distilled",
            "boost-5-d2<boost-30-d5/labels",
        ]
    );
    let b = derive(&plan, &parents, &p.train(), 9, Metric::Accuracy).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.model, y.model, "{}", x.id);
    }
    let mut bad = plan.clone();
    bad.distill[0].teacher = "nope".into();
    assert!(derive(&bad, &parents, &p.train(), 9, Metric::Accuracy)
        .unwrap_err()
        .to_string()
        .contains("teacher `nope` is not one of the candidates"));
}

/// scikit-learn's tree and pruning path, from `scripts/ccp_reference.py`.
#[derive(serde::Deserialize)]
struct CcpReference {
    n_features: usize,
    n_classes: usize,
    x: Vec<Vec<f64>>,
    y: Vec<u32>,
    children_left: Vec<i64>,
    children_right: Vec<i64>,
    feature: Vec<i64>,
    threshold: Vec<f64>,
    ccp_alphas: Vec<f64>,
}

/// The largest `f32` not above `t`: for every `f32` value `x`,
/// `x <= result` exactly when `f64::from(x) <= t`.
fn f32_at_or_below(t: f64) -> f32 {
    let f = t as f32;
    if f64::from(f) > t {
        f.next_down()
    } else {
        f
    }
}

#[test]
fn threshold_rounding_reproduces_f64_comparisons() {
    for t in [
        0.1f64,
        -0.3,
        1e-40,
        2.5,
        (0.1f32 as f64 + 0.2f32 as f64) / 2.0,
    ] {
        let f = f32_at_or_below(t);
        for x in [f, f.next_up(), f.next_down(), t as f32] {
            assert_eq!(x <= f, f64::from(x) <= t, "t = {t}, x = {x}");
        }
    }
}

/// scikit-learn's tree in the IR (pre-order), thresholds moved to the
/// largest f32 at or below them (which reproduces its f64 comparisons).
fn sklearn_tree(r: &CcpReference) -> TreeEnsemble {
    fn add(r: &CcpReference, i: usize, t: &mut TreeEnsemble) -> u32 {
        if r.children_left[i] < 0 {
            return t.push_leaf(&vec![0.0; r.n_classes]);
        }
        let me = t.push_split(r.feature[i] as u32, f32_at_or_below(r.threshold[i]));
        let l = add(r, r.children_left[i] as usize, t);
        let rr = add(r, r.children_right[i] as usize, t);
        t.set_children(me, l, rr);
        me
    }
    let mut t = TreeEnsemble::new(r.n_features, r.n_classes);
    let root = add(r, 0, &mut t);
    t.roots.push(root);
    t.check().unwrap();
    t
}

#[test]
fn cost_complexity_path_matches_scikit_learn() {
    for name in ["ccp_wine", "ccp_breast_cancer"] {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let r: CcpReference =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let t = sklearn_tree(&r);
        let x: Vec<f32> = r.x.iter().flatten().map(|&v| v as f32).collect();
        let data = TrainData {
            x: &x,
            n_features: r.n_features,
            y: &r.y,
            n_classes: r.n_classes,
        };
        let ours = prune::PrunePath::new(&t, &data, None).alphas();
        assert_eq!(
            ours.len(),
            r.ccp_alphas.len(),
            "{name}: {ours:?} vs {:?}",
            r.ccp_alphas
        );
        for (a, b) in ours.iter().zip(&r.ccp_alphas) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1e-12),
                "{name}: {a} vs {b}"
            );
        }
        // Pruned at the largest alpha, the tree is its root alone.
        let root_only = prune_cost_complexity(&t, *ours.last().unwrap(), &data, None);
        assert_eq!(root_only.nodes.len(), 1);
        // Pruned at 0 nothing goes: same structure.
        assert_eq!(
            prune_cost_complexity(&t, 0.0, &data, None).nodes.len(),
            t.nodes.len()
        );
    }
}

#[test]
fn cost_complexity_variant_is_no_larger_and_names_its_alpha() {
    let p = Problem::new(1500, 2, 31);
    let parent = trained(tree(None), &p);
    let plan = OptimizePlan {
        cost_complexity: Some(0.25),
        ..OptimizePlan::default()
    };
    let v = derive(
        &plan,
        std::slice::from_ref(&parent),
        &p.train(),
        4,
        Metric::Accuracy,
    )
    .unwrap();
    assert_eq!(v.len(), 1);
    let Some(Transform::CostComplexity { alpha, .. }) =
        v[0].lineage.as_ref().map(|l| l.transform.clone())
    else {
        panic!("{:?}", v[0].lineage)
    };
    assert!(alpha >= 0.0);
    let (a, b) = (trees(&parent).nodes.len(), trees(&v[0]).nodes.len());
    assert!(b <= a, "{b} nodes after pruning, {a} before");
    assert_eq!(v[0].id, "tree-full/ccp");
}

fn svm_of(c: &Candidate) -> &crate::model::SvmModel {
    match &c.model {
        Model::Svm(m) => m,
        _ => panic!("{} is not an SVM", c.id),
    }
}

/// Keeping every support vector changes nothing, bit for bit, whatever the
/// re-fit.
#[test]
fn reducing_an_svm_to_all_its_vectors_is_the_parent() {
    for k in [2, 3] {
        let p = Problem::new(300, k, 21);
        let c = trained(CandidateSpec::svm(crate::train::SvmKernel::Rbf), &p);
        let m = svm_of(&c);
        for refit in [Refit::LeastSquares, Refit::None] {
            assert_eq!(reduce_svm(m, 1.0, refit, Some(&p.train())), *m);
        }
        assert_eq!(reduce_svm(m, 1.0, Refit::LeastSquares, None), *m);
    }
}

/// The parent's class of each support vector, from its layout.
fn class_of(m: &crate::model::SvmModel, v: usize) -> usize {
    let mut end = 0;
    for (c, &n) in m.per_class.iter().enumerate() {
        end += n as usize;
        if v < end {
            return c;
        }
    }
    panic!("vector {v} of {}", m.n_sv())
}

/// A reduced SVM keeps, per class, the share of vectors of largest summed
/// |coefficient|, and its coefficients are a reference computation's: the
/// least-squares fit of the parent's decision values on each pair's
/// training rows, checked through its optimality condition (the normal
/// equations' residual, computed here independently in f64, vanishes);
/// without the re-fit the kept vectors keep the parent's numbers.
#[test]
fn a_reduced_svm_keeps_its_largest_vectors_and_matches_a_reference() {
    for (k, kernel) in [
        (2, crate::train::SvmKernel::Rbf),
        (3, crate::train::SvmKernel::Rbf),
        (3, crate::train::SvmKernel::Poly),
    ] {
        let p = Problem::new(300, k, 22);
        let rows = p.train();
        let c = trained(CandidateSpec::svm(kernel), &p);
        let m = svm_of(&c);
        let (n, d) = (m.n_sv(), m.n_features);
        let r = reduce_svm(m, 0.3, Refit::LeastSquares, Some(&rows));
        r.check().unwrap();
        assert_eq!(r.n_sv(), kept_vectors(m, 0.3));
        assert!(r.n_sv() < n, "{} of {n}", r.n_sv());
        for (c, (&kept, &all)) in r.per_class.iter().zip(&m.per_class).enumerate() {
            assert_eq!(
                kept as usize,
                ((all as f64 * 0.3).round() as usize).clamp(1, all as usize),
                "class {c}"
            );
        }
        // Which parent vectors were kept: matched by their values.
        let kept: Vec<usize> = r
            .vectors
            .chunks_exact(d)
            .map(|v| {
                (0..n)
                    .find(|&i| m.vectors[i * d..(i + 1) * d] == *v)
                    .unwrap()
            })
            .collect();
        assert!(kept.windows(2).all(|w| w[0] < w[1]), "order kept");
        let weight = |v: usize| -> f64 {
            (0..k - 1)
                .map(|q| f64::from(m.dual_coef[q * n + v].abs()))
                .sum()
        };
        for v in (0..n).filter(|v| !kept.contains(v)) {
            let lightest = kept
                .iter()
                .filter(|&&u| class_of(m, u) == class_of(m, v))
                .map(|&u| weight(u))
                .fold(f64::INFINITY, f64::min);
            assert!(
                weight(v) <= lightest,
                "dropped vector {v} outweighs a kept one of its class"
            );
        }
        let raw = reduce_svm(m, 0.3, Refit::None, Some(&rows));
        assert_eq!(raw.intercepts, m.intercepts);
        assert_eq!(raw.vectors, r.vectors);
        // The reference: per pair, columns [K(x, kept of the pair), 1] over
        // the pair's training rows, target the parent's decision value.
        let kern = |x: &[f32], v: &[f32]| f64::from(m.kernel.eval(x, v));
        let (nk, mut p_idx) = (r.n_sv(), 0);
        let (mut kv, mut dec) = (vec![0.0; n], vec![0.0; m.n_pairs()]);
        let mut kr = vec![0.0; nk];
        let (mut err_ls, mut err_raw) = (0.0f64, 0.0f64);
        for i in 0..k {
            for j in i + 1..k {
                let cols: Vec<usize> = (0..nk)
                    .filter(|&s| [i, j].contains(&class_of(m, kept[s])))
                    .collect();
                let coef = |s: usize| {
                    let row = if class_of(m, kept[s]) == i { j - 1 } else { i };
                    f64::from(r.dual_coef[row * nk + s])
                };
                let q = cols.len() + 1;
                let mut grad = vec![0.0f64; q];
                let mut gram_diag = 0.0;
                for row in (0..rows.n_rows()).filter(|&x| [i, j].contains(&(rows.y[x] as usize))) {
                    let x = rows.row(row);
                    m.decisions(x, &mut kv, &mut dec);
                    let target = f64::from(dec[p_idx]);
                    let a: Vec<f64> = cols
                        .iter()
                        .map(|&s| kern(x, &r.vectors[s * d..(s + 1) * d]))
                        .chain([1.0])
                        .collect();
                    let fit: f64 = cols
                        .iter()
                        .zip(&a)
                        .map(|(&s, av)| coef(s) * av)
                        .sum::<f64>()
                        + f64::from(r.intercepts[p_idx]);
                    for (g, av) in grad.iter_mut().zip(&a) {
                        *g += av * (fit - target);
                    }
                    gram_diag += a[..q - 1].iter().map(|v| v * v).sum::<f64>();
                    err_ls += (fit - target).powi(2);
                    let mut draw = vec![0.0; raw.n_pairs()];
                    raw.decisions(x, &mut kr, &mut draw);
                    err_raw += (f64::from(draw[p_idx]) - target).powi(2);
                }
                // ∂/∂β of the objective: Aᵀ(Aβ − t) + λβ; ∂/∂b: Σ(Aβ − t).
                let lambda = crate::optimize::reduce::RIDGE * gram_diag / (q - 1) as f64;
                let scale = gram_diag.sqrt().max(1.0);
                for (t, &s) in cols.iter().enumerate() {
                    let g = grad[t] + lambda * coef(s);
                    assert!(
                        g.abs() <= 1e-3 * scale,
                        "pair {i},{j}, column {t}: gradient {g}"
                    );
                }
                assert!(
                    grad[q - 1].abs() <= 1e-3 * scale,
                    "pair {i},{j}: intercept gradient {}",
                    grad[q - 1]
                );
                p_idx += 1;
            }
        }
        assert!(
            err_ls < err_raw,
            "{k} classes: the re-fit is closer to the parent ({err_ls} vs {err_raw})"
        );
        // And it predicts the parent's classes on more test rows than the
        // plain truncation does.
        let agree = |model: &crate::model::SvmModel| {
            agreement(
                &classes_of(
                    &Candidate {
                        model: Model::Svm(model.clone()),
                        ..c.clone()
                    },
                    &p.x_test,
                ),
                &classes_of(&c, &p.x_test),
            )
        };
        let (a_ls, a_raw) = (agree(&r), agree(&raw));
        println!("{k} classes, {kernel:?}: agreement {a_ls}, raw {a_raw}");
        assert!(
            a_ls >= a_raw && a_ls >= 0.8,
            "{k} classes: agreement {a_ls} (raw {a_raw})"
        );
    }
}

/// `reduce_svm` in the plan gives one variant per fraction that drops a
/// vector, named `/sv{percent}` (`-raw` without the re-fit), measured
/// as any other; the same seed gives the same models.
#[test]
fn derive_reduces_svms_as_the_plan_says() {
    let p = Problem::new(300, 3, 23);
    let c = trained(CandidateSpec::svm(crate::train::SvmKernel::Rbf), &p);
    let m = svm_of(&c);
    let mut plan = OptimizePlan {
        reduce_svm: vec![0.5, 0.125, 1.0],
        ..Default::default()
    };
    let out = derive(
        &plan,
        std::slice::from_ref(&c),
        &p.train(),
        1,
        Metric::Accuracy,
    )
    .unwrap();
    let ids: Vec<&str> = out.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        [format!("{}/sv50", c.id), format!("{}/sv12.5", c.id)],
        "1.0 keeps every vector: no variant"
    );
    assert_eq!(svm_of(&out[0]).n_sv(), kept_vectors(m, 0.5));
    assert_eq!(
        out[0].lineage.as_ref().unwrap().transform,
        Transform::ReduceSvm {
            fraction: 0.5,
            kept: kept_vectors(m, 0.5),
            of: m.n_sv(),
            refit: Refit::LeastSquares,
        }
    );
    let again = derive(
        &plan,
        std::slice::from_ref(&c),
        &p.train(),
        1,
        Metric::Accuracy,
    )
    .unwrap();
    assert_eq!(again[1].model, out[1].model);
    plan.reduce_svm_refit = Refit::None;
    let raw = derive(
        &plan,
        std::slice::from_ref(&c),
        &p.train(),
        1,
        Metric::Accuracy,
    )
    .unwrap();
    assert_eq!(raw[0].id, format!("{}/sv50-raw", c.id));
    plan.reduce_svm = vec![0.0];
    assert!(derive(&plan, &[c], &p.train(), 1, Metric::Accuracy).is_err());
}

/// The weakest-link sequence as its definition computes it: every step
/// re-scores the whole tree and cuts the reachable internal node of least
/// `g` (ties: the lowest index).
fn weakest_links_by_definition(t: &TreeEnsemble, counts: &[f64]) -> Vec<(f64, usize)> {
    let n = t.nodes.len();
    let k = t.n_classes;
    let total: f64 = counts[..k].iter().sum();
    let risk: Vec<f64> = (0..n)
        .map(|i| {
            let c = &counts[i * k..(i + 1) * k];
            let m: f64 = c.iter().sum();
            if m == 0.0 {
                return 0.0;
            }
            let gini = 1.0 - c.iter().map(|&x| (x / m).powi(2)).sum::<f64>();
            m / total * gini
        })
        .collect();
    let (mut cut, mut out, mut alpha) = (vec![false; n], Vec::new(), 0.0f64);
    let (mut sr, mut leaves, mut reach) = (vec![0.0; n], vec![0usize; n], vec![false; n]);
    loop {
        for i in (0..n).rev() {
            let node = &t.nodes[i];
            if node.is_leaf() || cut[i] {
                (sr[i], leaves[i]) = (risk[i], 1);
            } else {
                let (l, r) = (node.left as usize, node.right as usize);
                (sr[i], leaves[i]) = (sr[l] + sr[r], leaves[l] + leaves[r]);
            }
        }
        reach.fill(false);
        reach[t.roots[0] as usize] = true;
        let mut best: Option<(f64, usize)> = None;
        for i in 0..n {
            let node = &t.nodes[i];
            if !reach[i] || node.is_leaf() || cut[i] {
                continue;
            }
            reach[node.left as usize] = true;
            reach[node.right as usize] = true;
            let g = (risk[i] - sr[i]) / (leaves[i] - 1) as f64;
            if best.is_none_or(|(b, _)| g < b) {
                best = Some((g, i));
            }
        }
        let Some((g, i)) = best else { break };
        alpha = alpha.max(g);
        cut[i] = true;
        out.push((alpha, i));
    }
    out
}

#[test]
fn the_incremental_weakest_links_are_the_definitions_bit_for_bit() {
    for (rows, classes, seed) in [(600, 2, 1), (1500, 3, 5), (3000, 2, 9), (800, 4, 13)] {
        let p = Problem::new(rows, classes, seed);
        let c = trained(tree(None), &p);
        let t = trees(&c);
        let counts = prune::node_counts(t, &p.train(), None);
        let fast = prune::weakest_links(t, &counts);
        let slow = weakest_links_by_definition(t, &counts);
        assert!(fast.len() > 10, "{rows}: a tree worth pruning");
        assert_eq!(fast.len(), slow.len(), "{rows} rows, {classes} classes");
        for (a, b) in fast.iter().zip(&slow) {
            assert_eq!((a.0.to_bits(), a.1), (b.0.to_bits(), b.1), "{rows} rows");
        }
    }
}

/// The alpha of `ccp` is chosen by the run's metric: on rare positives,
/// accuracy prunes the tree further than balanced accuracy does, and the
/// tree balanced accuracy keeps finds more of the positives.
#[test]
fn cost_complexity_chooses_its_alpha_by_the_runs_metric() {
    let p = Problem::new(4000, 2, 37);
    let (x, y) = rare_positives(&p, 8);
    let data = TrainData {
        x: &x,
        n_features: p.n_features,
        y: &y,
        n_classes: 2,
    };
    let parent: Candidate = train(&tree(None), &data, 42).unwrap().into();
    let plan = OptimizePlan {
        cost_complexity: Some(0.3),
        ..OptimizePlan::default()
    };
    let pruned = |metric| {
        let v = derive(&plan, std::slice::from_ref(&parent), &data, 4, metric).unwrap();
        let Some(Transform::CostComplexity { alpha, .. }) =
            v[0].lineage.as_ref().map(|l| l.transform.clone())
        else {
            panic!("{:?}", v[0].lineage)
        };
        let pred = classes_of(&v[0], &p.x_test);
        let balanced = crate::measure::quality::balanced_accuracy(&p.y_test, &pred, 2);
        (alpha, trees(&v[0]).nodes.len(), balanced)
    };
    // (alpha, nodes, balanced accuracy on the test rows): (0.0031, 29,
    // 0.708) by accuracy, (0.0015, 53, 0.748) by balanced accuracy.
    let (a_acc, nodes_acc, test_acc) = pruned(Metric::Accuracy);
    let (a_bal, nodes_bal, test_bal) = pruned(Metric::BalancedAccuracy);
    assert!(
        a_bal < a_acc,
        "alpha {a_bal} by balanced accuracy, {a_acc} by accuracy"
    );
    assert!(
        nodes_bal > nodes_acc,
        "{nodes_bal} nodes against {nodes_acc}"
    );
    assert!(
        test_bal > test_acc + 0.02,
        "test balanced accuracy {test_bal} against {test_acc}"
    );
}
