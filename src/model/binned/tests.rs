//! Tests of the saved form: encoding round trips, files written before
//! per-tree shifts, damaged bytes, int8 leaf precision and its checks.

use super::testing::{ensemble, grow, push_root, random_row, spread_leaves};
use super::*;
use crate::model::{Model, TreeEnsemble};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn binned_form_round_trips() {
    let f = ensemble();
    for precision in [LeafPrecision::F32, LeafPrecision::Int8] {
        let saved = Model::QuantTrees(QuantTrees::from_ensemble(&f, precision).unwrap());
        let back = Model::from_bytes(&saved.to_bytes()).unwrap();
        assert_eq!(back, saved);
    }
}

/// A model of [`ensemble`] with single-scale int8 leaves (scale 1/127),
/// as every int8 model was written before per-tree shifts, encoded.
const SINGLE_SCALE_INT8: &[u8] = &[
    3, 2, 2, 0, 2, 0, 0, 0, 63, 0, 0, 0, 64, 3, 0, 1, 2, 2, 0, 1, 2, 5, 1, 1, 60, 2, 0, 1, 2, 0, 0,
    1, 8, 127, 0, 0, 127, 32, 95, 64, 64, 4, 2, 1, 60,
];

/// Files hold `Leaves` by variant index: bytes of the single-scale form
/// still decode to it and predict what they predicted (scores bit for
/// bit with the model they were made from, classes as the float model's).
#[test]
fn single_scale_int8_files_still_load() {
    let f = ensemble();
    let mut q = QuantTrees::from_ensemble(&f, LeafPrecision::F32).unwrap();
    let Leaves::F32(v) = &q.leaves else {
        unreachable!()
    };
    let scale = 1.0f32 / 127.0;
    q.leaves = Leaves::Int8 {
        values: v.iter().map(|x| (x / scale).round() as i8).collect(),
        scale,
    };
    let q = Model::QuantTrees(q);
    assert_eq!(q.to_bytes(), SINGLE_SCALE_INT8);
    let back = Model::from_bytes(SINGLE_SCALE_INT8).unwrap();
    assert_eq!(back, q);
    let Model::QuantTrees(inner) = &back else {
        unreachable!()
    };
    assert!(matches!(inner.leaves, Leaves::Int8 { .. }));
    let float = Model::Trees(f.clone()).compile().unwrap();
    let (q, back) = (q.compile().unwrap(), back.compile().unwrap());
    let (mut s0, mut s1, mut s2) = (q.scratch(), back.scratch(), float.scratch());
    for row in [[0.5, 2.0], [0.5, 2.1], [0.6, 0.0], [f32::NAN, 0.0]] {
        let (mut a, mut b) = ([0f32; 2], [0f32; 2]);
        q.predict_proba(&row, &mut s0, &mut a);
        back.predict_proba(&row, &mut s1, &mut b);
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "{row:?}");
        assert_eq!(back.predict(&row, &mut s1), float.predict(&row, &mut s2));
    }
}

/// Largest error of an int8 leaf as a share of its tree's largest
/// |value|: half a step of 127 levels, doubled by the power-of-two
/// shift's slack (a tree's range is at most twice its largest leaf).
const QUANT_LEAF_ERROR: f32 = 1.0 / 127.0;

/// Least share of rows on which an int8 model must predict its float
/// parent's class.
const QUANT_MIN_AGREEMENT: f64 = 0.995;

/// Boosting's late rounds fit small residuals: 200 rounds of depth 3
/// whose leaves shrink from ±1 to ±1e-3. Every int8 leaf stays within
/// [`QUANT_LEAF_ERROR`] of its tree's largest value (under one scale
/// the last rounds' leaves all round to 0), and the model predicts its
/// float parent's class on at least [`QUANT_MIN_AGREEMENT`] of rows.
/// (Exact sums bound the span: the large trees' shifted leaves count
/// against 2^24, and with these 200 trees one whose leaves are below
/// about 2^-12 of the largest gets fewer than 127 levels — ±1e-4 does.)
#[test]
fn small_late_boosting_leaves_keep_their_precision() {
    let grid: Vec<f32> = (0..255).map(|i| i as f32 * 0.25 - 30.0).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut f = TreeEnsemble::boosted(10, 2, Link::Logistic, vec![0.1]);
    let mut next_cut = 0;
    for t in 0..200 {
        let first = f.nodes.len();
        let root = grow(&mut f, &mut rng, &grid, &mut next_cut, 0, 3);
        let factor = 10f32.powf(-3.0 * t as f32 / 199.0);
        for i in first..f.nodes.len() {
            if f.nodes[i].is_leaf() {
                f.leaf_values[f.nodes[i].left as usize] *= factor;
            }
        }
        push_root(&mut f, root, t);
    }
    f.check().unwrap();
    let exact = QuantTrees::from_ensemble(&f, LeafPrecision::F32).unwrap();
    let q = QuantTrees::from_ensemble(&f, LeafPrecision::Int8).unwrap();
    let (Leaves::F32(want), Leaves::Int8Shifted { scale, .. }) = (&exact.leaves, &q.leaves) else {
        panic!("leaves three orders of magnitude apart: shifted")
    };
    let got: Vec<f32> = q.summed_leaves().iter().map(|v| v * scale).collect();
    let single = 1.0 / 127.0 * want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for t in 0..q.n_trees() {
        let range = tree_values(&q.trees, want.len(), 1, t);
        let top = want[range.clone()].iter().fold(0f32, |m, v| m.max(v.abs()));
        for i in range {
            let err = (got[i] - want[i]).abs();
            assert!(
                err <= QUANT_LEAF_ERROR * top,
                "tree {t}: {} for {}",
                got[i],
                want[i]
            );
        }
        if t == q.n_trees() - 1 {
            assert!(
                top < single / 2.0,
                "one scale rounds the last tree's leaves to 0"
            );
        }
    }
    let float = Model::Trees(f).compile().unwrap();
    let q = Model::QuantTrees(q).compile().unwrap();
    let (mut s0, mut s1) = (float.scratch(), q.scratch());
    let rows = 4000;
    let same = (0..rows)
        .filter(|&r| {
            let row = random_row(&mut rng, &grid, 10, r);
            float.predict(&row, &mut s0) == q.predict(&row, &mut s1)
        })
        .count();
    let agreement = same as f64 / rows as f64;
    assert!(agreement >= QUANT_MIN_AGREEMENT, "{agreement}");
}

/// A loaded model's shifts are checked: one per tree, at most
/// [`MAX_LEAF_SHIFT`], and sums that fit an `i32`.
#[test]
fn bad_leaf_shifts_are_refused() {
    let f = spread_leaves(&ensemble());
    let q = QuantTrees::from_ensemble(&f, LeafPrecision::Int8).unwrap();
    let Leaves::Int8Shifted {
        values,
        scale,
        shifts,
    } = q.leaves.clone()
    else {
        panic!("leaves 2^3 apart: shifted, got {:?}", q.leaves)
    };
    let with = |values: Vec<i8>, shifts: Vec<u8>| {
        let mut bad = q.clone();
        bad.leaves = Leaves::Int8Shifted {
            values,
            scale,
            shifts,
        };
        bad.check().unwrap_err()
    };
    let e = with(values.clone(), shifts[..1].to_vec());
    assert!(e.contains("1 leaf shifts for 2 trees"), "{e}");
    let e = with(values.clone(), vec![0, MAX_LEAF_SHIFT + 1]);
    assert!(e.contains("tree 1: leaf shift 17 is over 16"), "{e}");
    // 300 lone leaves of 127 << 16: each fits, their sum does not.
    let mut lone = TreeEnsemble::boosted(2, 2, Link::Logistic, vec![0.0]);
    for t in 0..300 {
        let root = lone.push_leaf(&[1.0]);
        push_root(&mut lone, root, t);
    }
    let mut bad = QuantTrees::from_ensemble(&lone, LeafPrecision::F32).unwrap();
    bad.leaves = Leaves::Int8Shifted {
        values: vec![127; 300],
        scale: 1.0,
        shifts: vec![MAX_LEAF_SHIFT; 300],
    };
    let e = bad.check().unwrap_err();
    assert!(e.contains("could reach 2496921600, over i32"), "{e}");
    if let Leaves::Int8Shifted { shifts, .. } = &mut bad.leaves {
        shifts.iter_mut().for_each(|s| *s = 0);
    }
    bad.check().unwrap();
}

#[test]
fn damaged_bytes_are_refused_not_trusted() {
    let q = Model::QuantTrees(QuantTrees::from_ensemble(&ensemble(), LeafPrecision::F32).unwrap());
    let bytes = q.to_bytes();
    // Every truncation and every single-byte change either decodes to a
    // model that passes its checks or is refused — never a panic.
    for n in 0..bytes.len() {
        let _ = Model::from_bytes(&bytes[..n]);
    }
    for i in 0..bytes.len() {
        for v in [0u8, 1, 2, 0x7f, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(m) = Model::from_bytes(&b) {
                let m = m.compile().unwrap();
                let mut s = m.scratch();
                m.predict(&[0.1, 0.2], &mut s);
            }
        }
    }
}
