use super::*;
use crate::model::TreeEnsemble;
use crate::train::testdata::Problem;
use crate::train::train;

fn trained(spec: CandidateSpec, p: &Problem) -> Candidate {
    train(&spec, &p.train(), 42).unwrap().into()
}

fn forest(n: u16) -> CandidateSpec {
    CandidateSpec::RandomForest {
        n_trees: n,
        max_depth: None,
        min_samples_leaf: 1,
        max_features: None,
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
    }
}

fn tree(depth: Option<u16>) -> CandidateSpec {
    CandidateSpec::DecisionTree {
        max_depth: depth,
        min_samples_leaf: 1,
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
    m.predict_batch(rows, &mut out);
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
        let pruned = prune_depth(t, t.max_depth() as u16, &p.train());
        let rows = probe_rows(&p, t);
        assert_same(
            &Model::Trees(pruned).predict_proba_batch(&rows),
            &c.model.predict_proba_batch(&rows),
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
    let pruned = prune_depth(t, 3, &p.train());
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
    // A majority-vote forest still votes after pruning.
    let f = trained(forest(8), &p);
    let pf = prune_depth(trees(&f), 2, &p.train());
    assert!(pf
        .leaf_values
        .chunks_exact(2)
        .all(|v| v == [0.0, 1.0] || v == [1.0, 0.0]));
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
                &q.model.predict_proba_batch(&rows),
                &c.model.predict_proba_batch(&rows),
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
        },
        &p,
    );
    let q = quantize(&lr, QuantizeKind::Int8).unwrap().unwrap();
    let agree = agreement(&classes_of(&q, &p.x_test), &classes_of(&lr, &p.x_test));
    assert!(agree >= 0.99, "int8 logistic regression: agreement {agree}");
    assert!(quantize(&lr, QuantizeKind::Bins).unwrap().is_none());
}

#[test]
fn a_linear_student_learns_a_linear_teacher_from_soft_targets() {
    let p = Problem::new(1500, 3, 17);
    let lr = CandidateSpec::LogisticRegression {
        alpha: 1.0,
        max_iterations: 300,
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
        distill: vec![DistillSpec {
            teacher: "boost-30-d5".into(),
            student: boost(5, 2),
            extra_rows: 200,
            noise: 0.1,
        }],
    };
    let a = derive(&plan, &parents, &p.train(), 9).unwrap();
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
    let b = derive(&plan, &parents, &p.train(), 9).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.model, y.model, "{}", x.id);
    }
    let mut bad = plan.clone();
    bad.distill[0].teacher = "nope".into();
    assert!(derive(&bad, &parents, &p.train(), 9)
        .unwrap_err()
        .to_string()
        .contains("teacher `nope` is not one of the candidates"));
}
