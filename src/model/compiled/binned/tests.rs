//! The binned walks' tests: every walk reaches the leaves the reference walk
//! reaches and predicts bit for bit what it (and, f32 leaves, the float
//! parent) predicts; the binner counts as a binary search does; the rule
//! picks the cut walk for few trees.

use super::binner::Binner;
use super::blocks::{Blocks, Row64};
use super::implicit::implicit;
use super::packed::FAR_FLIPPED;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
use super::x86;
use super::*;
use crate::model::binned::testing::{ensemble, grow, leaf_forms, push_root, random_row};
use crate::model::compiled::tests::assert_batches_equal_single_rows;
use crate::model::{CompiledModel, LeafPrecision, Link, Model, QNode, Scratch, TreeEnsemble};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `c` behind the model-wide prediction interface.
fn run(c: CompiledBinned) -> CompiledModel {
    CompiledModel::from_binned(c)
}

fn binned(q: &QuantTrees) -> CompiledBinned {
    CompiledBinned::binned(q.clone())
}

fn cut(q: &QuantTrees) -> CompiledBinned {
    CompiledBinned::with(q.clone(), BinnedWalk::Cuts).expect("sorted cuts")
}

/// The binner of a binned walk with `walker` instead.
fn with_walker(q: &QuantTrees, walker: Walker) -> CompiledBinned {
    CompiledBinned {
        walker,
        ..binned(q)
    }
}

fn float(f: &TreeEnsemble) -> CompiledModel {
    Model::Trees(f.clone()).compile().unwrap()
}

/// The binned walks (narrow, one node at a time, and over the raw row) of
/// two small trees predict the float form's classes, on rows at and just
/// above the thresholds and NaN.
#[test]
fn binned_walks_predict_like_the_float_form() {
    let f = ensemble();
    for precision in [LeafPrecision::F32, LeafPrecision::Int8] {
        let inner = QuantTrees::from_ensemble(&f, precision).unwrap();
        let narrow = binned(&inner);
        assert!(
            matches!(narrow.walker, Walker::Implicit8(_) | Walker::Blocks(_)),
            "two shallow trees on two features: complete trees, u8 bins"
        );
        let pointers = run(with_walker(&inner, Walker::Pointers));
        let (q, float) = (run(narrow), float(&f));
        let cut = run(cut(&inner));
        let mut s = [
            q.scratch(),
            float.scratch(),
            pointers.scratch(),
            cut.scratch(),
        ];
        for row in [
            [0.5, 2.0],
            [0.5, 2.1],
            [0.6, 0.0],
            [f32::NAN, 0.0],
            [0.0, f32::NAN],
        ] {
            let expected = float.predict(&row, &mut s[1]);
            assert_eq!(q.predict(&row, &mut s[0]), expected, "{row:?}");
            assert_eq!(pointers.predict(&row, &mut s[2]), expected, "{row:?}");
            assert_eq!(cut.predict(&row, &mut s[3]), expected, "{row:?}");
        }
    }
}

/// Deep trees get the packed layout; it predicts bit for bit what the
/// stored nodes and the float form predict, on rows at, just above and
/// around every threshold and NaN.
#[test]
fn deep_binned_trees_walk_packed_like_the_stored_nodes() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Random trees 12 deep over 3 features, thresholds on a grid.
    let grid = [-1.0f32, -0.5, 0.0, 0.25, 1.5];
    let mut f = TreeEnsemble::new(3, 2);
    fn grow(f: &mut TreeEnsemble, next: &mut impl FnMut() -> u64, grid: &[f32], depth: u32) -> u32 {
        if depth == 12 || (depth > 1 && next() % 4 == 0) {
            let p = (next() % 1000) as f32 / 1000.0;
            return f.push_leaf(&[1.0 - p, p]);
        }
        let node = f.push_split((next() % 3) as u32, grid[(next() % 5) as usize]);
        let l = grow(f, next, grid, depth + 1);
        let r = grow(f, next, grid, depth + 1);
        f.set_children(node, l, r);
        node
    }
    for _ in 0..11 {
        let root = grow(&mut f, &mut next, &grid, 0);
        f.roots.push(root);
    }
    f.check().unwrap();
    for (form, (precision, f)) in leaf_forms(&f).into_iter().enumerate() {
        let saved = QuantTrees::from_ensemble(&f, precision).unwrap();
        if form == 2 {
            assert!(matches!(saved.leaves, Leaves::Int8Shifted { .. }));
        }
        let q = CompiledBinned::new(saved.clone());
        let Walker::Packed8(p8) = &q.walker else {
            panic!("deep, 3 features, few cuts: narrow packed")
        };
        let flipped = p8.nodes.iter();
        let flipped = flipped.filter(|n| n.far & !FAR_FLIPPED != 0 && n.far & FAR_FLIPPED != 0);
        assert!(flipped.count() > 0, "some splits put the right child next");
        let pointers = run(with_walker(&saved, Walker::Pointers));
        // 11 deep trees on 3 features: binning pays, the cut walk is
        // only forced.
        let cut = run(cut(&saved));
        let (q, float) = (run(q), float(&f));
        let (mut a, mut b, mut c) = (q.scratch(), pointers.scratch(), float.scratch());
        let mut u = cut.scratch();
        let mut values = grid.to_vec();
        values.extend(grid.iter().map(|g| g.next_up()));
        values.extend([f32::NAN, -3.0, 3.0]);
        for &x in &values {
            for &y in &values {
                for &z in &[values[(next() % values.len() as u64) as usize], f32::NAN] {
                    let row = [x, y, z];
                    let (mut pa, mut pb) = ([0f32; 2], [0f32; 2]);
                    q.predict_proba(&row, &mut a, &mut pa);
                    pointers.predict_proba(&row, &mut b, &mut pb);
                    assert_eq!(pa.map(f32::to_bits), pb.map(f32::to_bits), "{row:?}");
                    cut.predict_proba(&row, &mut u, &mut pb);
                    assert_eq!(pa.map(f32::to_bits), pb.map(f32::to_bits), "{row:?}");
                    if precision == LeafPrecision::F32 {
                        float.predict_proba(&row, &mut c, &mut pb);
                        assert_eq!(pa.map(f32::to_bits), pb.map(f32::to_bits), "{row:?}");
                    }
                }
            }
        }
    }
}

/// The two-level count bins exactly as a binary search does, for every
/// cut count around the block sizes (and past the two-level limit), at,
/// just around and between the cuts, infinities and NaN.
#[test]
fn binner_counts_the_cuts_below_the_value() {
    let sizes = [0usize, 1, 2, 15, 16, 17, 31, 32, 100, 254, 255, 256, 300];
    let mut cuts = Vec::new();
    let mut cut_start = vec![0u32];
    for &n in &sizes {
        cuts.extend((0..n).map(|i| i as f32 * 0.5 - 20.0));
        cut_start.push(cuts.len() as u32);
    }
    let used: Vec<u16> = (0..sizes.len() as u16).collect();
    let binner = Binner::build(&cuts, &cut_start, &used);
    let mut values = vec![f32::NEG_INFINITY, f32::INFINITY, f32::NAN, -1e9, 1e9];
    for i in 0..320 {
        let c = i as f32 * 0.5 - 20.0;
        values.extend([c, c.next_up(), c.next_down(), c + 0.25]);
    }
    for &x in &values {
        let row = vec![x; sizes.len()];
        binner.bin_row(&row, |f, bin| {
            let fc = &cuts[cut_start[f] as usize..cut_start[f + 1] as usize];
            let expected = if x.is_nan() {
                fc.len()
            } else {
                fc.partition_point(|&c| c < x)
            };
            assert_eq!(usize::from(bin), expected, "{} cuts, x = {x}", fc.len());
        });
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if Blocks::cpu_supported() {
            // The vector binning (u8 bins: up to 255 cuts).
            let mut bins = Row64([0; 64]);
            // SAFETY: checked just above; 13 features.
            unsafe { x86::bin_row(&binner, &row, &mut bins) };
            for f in 0..sizes.len() {
                let fc = &cuts[cut_start[f] as usize..cut_start[f + 1] as usize];
                let expected = if x.is_nan() {
                    fc.len()
                } else {
                    fc.partition_point(|&c| c < x)
                };
                if fc.len() <= 255 {
                    assert_eq!(
                        usize::from(bins.0[f]),
                        expected,
                        "{} cuts, x = {x}",
                        fc.len()
                    );
                }
            }
        }
    }
}

/// The block walk (SIMD where the CPU has it, and the portable one)
/// reaches the leaves the complete-tree walk reaches, tree by tree, and
/// the model predicts bit for bit what the float model predicts: trees
/// 1 to 6 deep (shallower ones and single leaves padded), 5 to 64
/// features (one to four registers), rows at, just around and between
/// cuts, NaN and infinities, bins 0 and 255.
#[test]
fn block_walk_reaches_the_leaves_the_complete_trees_reach() {
    // 255 cuts on the last feature: a NaN or a value above them all
    // gets bin 255.
    let grid: Vec<f32> = (0..255).map(|i| i as f32 * 0.25 - 30.0).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut saw_0, mut saw_255) = (false, false);
    let shapes = [
        (5, 3u32, 120),
        (16, 1, 300),
        (17, 2, 200),
        (20, 3, 151),
        (33, 4, 80),
        (40, 5, 60),
        (30, 6, 41),
        (64, 6, 40),
        (48, 3, 100),
    ];
    for (case, &(n_features, depth, n_trees)) in shapes.iter().enumerate() {
        let mut f = match case % 3 {
            0 => TreeEnsemble::boosted(n_features, 2, Link::Logistic, vec![0.3]),
            1 => TreeEnsemble::boosted(n_features, 3, Link::Softmax, vec![0.1, -0.2, 0.05]),
            _ => TreeEnsemble::new(n_features, 2),
        };
        let mut next_cut = 0;
        for t in 0..n_trees {
            // The first tree is complete, so the layout has `depth` levels.
            let d = if t == 0 {
                depth
            } else {
                rng.random_range(depth.saturating_sub(2).max(1)..=depth)
            };
            let root = if t == 0 {
                fn full(f: &mut TreeEnsemble, rng: &mut ChaCha8Rng, grid: &[f32], d: u32) -> u32 {
                    if d == 0 {
                        return f.push_leaf(&vec![0.5; f.leaf_width()]);
                    }
                    let node = f.push_split(
                        rng.random_range(0..f.n_features) as u32,
                        grid[rng.random_range(0..grid.len())],
                    );
                    let l = full(f, rng, grid, d - 1);
                    let r = full(f, rng, grid, d - 1);
                    f.set_children(node, l, r);
                    node
                }
                full(&mut f, &mut rng, &grid, d)
            } else {
                grow(&mut f, &mut rng, &grid, &mut next_cut, 0, d)
            };
            push_root(&mut f, root, t);
        }
        f.check().unwrap();
        for (form, (precision, f)) in leaf_forms(&f).into_iter().enumerate() {
            let q = QuantTrees::from_ensemble(&f, precision).unwrap();
            let shifted = matches!(q.leaves, Leaves::Int8Shifted { .. });
            assert!(shifted || form != 2, "case {case}");
            let im =
                implicit(&q).unwrap_or_else(|| panic!("case {case}: shallow trees are complete"));
            assert_eq!(im.depth, depth, "case {case}");
            let blocks = Blocks::build_unchecked(&q, &im).expect("≤ 6 deep, < 64 features");
            assert_eq!(blocks.regs as usize, n_features.div_ceil(16), "case {case}");
            let simd = Blocks::cpu_supported();
            // Many trees for their features: the block walk; 40 on 64
            // features (case 7): the cut walk, unless forced.
            let is_binned = q.trees.len() >= q.used_features.len();
            assert_eq!(is_binned, case != 7, "case {case}");
            let chosen = CompiledBinned::new(q.clone());
            assert_eq!(chosen.walker_name() == "cuts", !is_binned, "case {case}");
            let narrow = binned(&q);
            if simd {
                assert!(matches!(narrow.walker, Walker::Blocks(_)), "case {case}");
            }
            let implicit = with_walker(&q, Walker::Implicit8(im.clone()));
            // The same trees walked over the raw row (many trees: only
            // when forced).
            let cut = cut(&q);
            let Walker::Cuts(cw) = cut.walker.clone() else {
                unreachable!()
            };
            let binner = narrow.binner.clone();
            let float = float(&f);
            let (q, implicit) = (run(narrow), run(implicit));
            let cut = run(cut);
            let (mut s0, mut s1, mut s2) = (q.scratch(), implicit.scratch(), float.scratch());
            let mut s3 = cut.scratch();
            for r in 0..400 {
                let row = random_row(&mut rng, &grid, n_features, r);
                let mut bins = Row64([0; 64]);
                let mut wide = [0u8; 256];
                binner.bin_row(&row, |f, b| {
                    bins.0[f] = b as u8;
                    wide[f] = b as u8;
                    saw_0 |= b == 0;
                    saw_255 |= b == 255;
                });
                let (mut want, mut got) = (Vec::new(), Vec::new());
                im.walk(&wide, |t, l| want.push((t, l)));
                blocks.walk_portable(&bins, |t, l| got.push((t, l)));
                assert_eq!(got, want, "case {case}, portable, {row:?}");
                if simd {
                    got.clear();
                    blocks.walk(&bins, |t, l| got.push((t, l)));
                    assert_eq!(got, want, "case {case}, SSSE3, {row:?}");
                }
                got.clear();
                cw.walk(&row[..], |t, l| got.push((t, l)));
                assert_eq!(got, want, "case {case}, cuts, {row:?}");
                let k = q.n_classes();
                let (mut a, mut b, mut c) = (vec![0f32; k], vec![0f32; k], vec![0f32; k]);
                q.predict_proba(&row, &mut s0, &mut a);
                implicit.predict_proba(&row, &mut s1, &mut b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "case {case}, {row:?}");
                cut.predict_proba(&row, &mut s3, &mut b);
                assert_eq!(bits(&a), bits(&b), "case {case}, cuts, {row:?}");
                if precision == LeafPrecision::F32 {
                    float.predict_proba(&row, &mut s2, &mut c);
                    assert_eq!(bits(&a), bits(&c), "case {case}, {row:?}");
                }
            }
        }
    }
    assert!(saw_0 && saw_255, "rows reach the extreme bins");
}

/// Few trees get the cut walk, whose leaves and probabilities are bit
/// for bit those of the binned walk one node at a time (`Pointers` over
/// `u16` bins), of the `u8` binned walk `CompiledBinned::binned` would
/// otherwise build, and (f32 leaves) of the float model: a single deep tree,
/// forests of 1–3 trees, boosting of 1–4 shallow trees (logistic and
/// softmax), f32 and int8 leaves; rows on, just above and just below the
/// cuts, NaN, infinities. The file holds no walker: a reload chooses the
/// cut walk again.
#[test]
fn few_trees_walk_the_cut_values_like_the_binned_walks() {
    let grid: Vec<f32> = (0..255).map(|i| i as f32 * 0.25 - 30.0).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    // (features, classes, output, trees, depth)
    let logistic = Output::Boosted {
        link: Link::Logistic,
        base: vec![0.3],
        tree_output: vec![],
    };
    let softmax = Output::Boosted {
        link: Link::Softmax,
        base: vec![0.1, -0.2, 0.05],
        tree_output: vec![],
    };
    let shapes = [
        (20, 2, Output::Average, 1, 10),
        (20, 3, Output::Average, 1, 14),
        (20, 2, Output::Average, 3, 12),
        (12, 2, logistic.clone(), 1, 3),
        (12, 2, logistic, 4, 4),
        (12, 3, softmax.clone(), 3, 3),
        (30, 3, softmax, 3, 6),
    ];
    for (case, (n_features, k, output, n_trees, depth)) in shapes.into_iter().enumerate() {
        let mut f = TreeEnsemble::new(n_features, k);
        f.output = output;
        let mut next_cut = 0;
        for t in 0..n_trees {
            let root = grow(&mut f, &mut rng, &grid, &mut next_cut, 0, depth);
            push_root(&mut f, root, t);
        }
        f.check().unwrap();
        for (form, (precision, f)) in leaf_forms(&f).into_iter().enumerate() {
            let q = QuantTrees::from_ensemble(&f, precision).unwrap();
            let shifted = matches!(q.leaves, Leaves::Int8Shifted { .. });
            assert!(shifted || form != 2 || n_trees == 1, "case {case}");
            let chosen = CompiledBinned::new(q.clone());
            let Walker::Cuts(cw) = chosen.walker.clone() else {
                panic!("case {case}: {} for few trees", chosen.walker_name())
            };
            assert!(chosen.heap_bytes() >= cw.heap_bytes() + q.nodes.len() * size_of::<QNode>());
            let back = Model::from_bytes(&Model::QuantTrees(q.clone()).to_bytes()).unwrap();
            assert_eq!(
                back.compile().unwrap().layout_name(),
                "cuts",
                "case {case}: reloaded"
            );
            let narrow = binned(&q);
            assert_ne!(narrow.walker_name(), "cuts");
            let pointers = with_walker(&q, Walker::Pointers);
            let binner = pointers.binner.clone();
            let models = [run(chosen), run(pointers), run(narrow), float(&f)];
            let mut scratch: Vec<_> = models.iter().map(CompiledModel::scratch).collect();
            let mut bins = vec![0u16; n_features];
            for r in 0..2000 {
                let row = random_row(&mut rng, &grid, n_features, r);
                let (mut want, mut got) = (Vec::new(), Vec::new());
                binner.bin_row(&row, |f, b| bins[f] = b);
                Pointers(&q).walk(&bins[..], |t, l| want.push((t, l)));
                cw.walk(&row[..], |t, l| got.push((t, l)));
                assert_eq!(got, want, "case {case}, {row:?}");
                let bits = |m: &CompiledModel, s: &mut Scratch| {
                    let mut p = vec![0f32; k];
                    m.predict_proba(&row, s, &mut p);
                    p.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                };
                let expected = bits(&models[0], &mut scratch[0]);
                let n = if precision == LeafPrecision::F32 {
                    4
                } else {
                    3
                };
                for (m, s) in models.iter().zip(&mut scratch).take(n).skip(1) {
                    assert_eq!(bits(m, s), expected, "case {case}, {row:?}");
                }
            }
        }
    }
}

/// A model whose cuts are out of order, repeated or NaN (a damaged file
/// could hold one: `check` does not look) keeps a binned walk: only the
/// binning defines its branches then.
#[test]
fn unsorted_cuts_keep_the_binned_walk() {
    // x0 <= 2 ? (x0 <= 0.5 ? A : B) : C: one feature, two cuts.
    let mut f = TreeEnsemble::new(1, 2);
    let root = f.push_split(0, 2.0);
    let l = f.push_split(0, 0.5);
    let ll = f.push_leaf(&[1.0, 0.0]);
    let lr = f.push_leaf(&[0.0, 1.0]);
    let r = f.push_leaf(&[0.25, 0.75]);
    f.set_children(root, l, r);
    f.set_children(l, ll, lr);
    f.roots.push(root);
    let mut q = QuantTrees::from_ensemble(&f, LeafPrecision::F32).unwrap();
    assert_eq!(CompiledBinned::new(q.clone()).walker_name(), "cuts");
    assert_eq!(q.cuts, [0.5, 2.0]);
    for cuts in [[2.0, 0.5], [0.5, 0.5], [0.5, f32::NAN], [f32::NAN, 2.0]] {
        q.cuts = cuts.to_vec();
        q.check().unwrap();
        assert!(
            CompiledBinned::with(q.clone(), BinnedWalk::Cuts).is_none(),
            "{cuts:?}"
        );
        let c = CompiledBinned::new(q.clone());
        assert_ne!(c.walker_name(), "cuts", "{cuts:?}");
    }
}

/// A deep binned forest's batches find every row's leaves tree-major in
/// blocks, then sum them as a single row does: classes, probabilities and
/// both at once equal the single-row calls bit for bit, for averaging and
/// boosting (one and three outputs), every leaf precision, on one thread
/// and split over two (301 rows: a partial block).
#[test]
fn blocked_batches_of_packed_binned_trees_equal_single_rows() {
    let grid: Vec<f32> = (0..40).map(|i| i as f32 * 0.37 - 7.0).collect();
    let shapes = [
        TreeEnsemble::new(5, 3),
        TreeEnsemble::boosted(5, 2, Link::Logistic, vec![0.2]),
        TreeEnsemble::boosted(5, 3, Link::Softmax, vec![0.1, 0.0, -0.3]),
    ];
    for (case, mut f) in shapes.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(case as u64 + 40);
        let mut next_cut = 0;
        for t in 0..23 {
            let root = grow(&mut f, &mut rng, &grid, &mut next_cut, 0, 11);
            push_root(&mut f, root, t);
        }
        f.check().unwrap();
        let rows: Vec<f32> = (0..301)
            .flat_map(|r| random_row(&mut rng, &grid, 5, r))
            .collect();
        for (precision, f) in leaf_forms(&f) {
            let q = CompiledBinned::new(QuantTrees::from_ensemble(&f, precision).unwrap());
            assert!(q.walks_in_blocks(), "case {case}: {}", q.walker_name());
            let what = format!("case {case}, {precision:?}");
            assert_batches_equal_single_rows(&run(q), &rows, &what);
        }
    }
}
