//! The float layouts against the stored nodes, and how they are chosen.

use super::packed::{PNode, Packed, FLIPPED};
use super::*;
use crate::model::compiled::walk::MAX_IMPLICIT_DEPTH;
use crate::model::{Link, Output};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Thresholds come from this grid, and rows take grid values, the next
/// `f32` above them, and NaN, so every tie and NaN route is exercised.
const GRID: [f32; 5] = [-1.5, -0.25, 0.0, 0.5, 2.0];

/// Appends a random tree of depth ≤ `max_depth` (pre-order); returns
/// its root.
fn grow(ens: &mut TreeEnsemble, rng: &mut ChaCha8Rng, depth: u32, max_depth: u32) -> u32 {
    let width = ens.leaf_width();
    if depth == max_depth || (depth > 0 && rng.random_bool(0.25)) {
        let values: Vec<f32> = (0..width).map(|_| rng.random_range(-1.0..1.0)).collect();
        return ens.push_leaf(&values);
    }
    let f = rng.random_range(0..ens.n_features) as u32;
    let node = ens.push_split(f, GRID[rng.random_range(0..GRID.len())]);
    let l = grow(ens, rng, depth + 1, max_depth);
    let r = grow(ens, rng, depth + 1, max_depth);
    ens.set_children(node, l, r);
    node
}

fn ensemble(seed: u64, output: Output, n_classes: usize, trees: usize, depth: u32) -> TreeEnsemble {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ens = TreeEnsemble::new(6, n_classes);
    ens.output = output;
    for t in 0..trees {
        let root = grow(&mut ens, &mut rng, 0, depth);
        ens.roots.push(root);
        if let Output::Boosted {
            tree_output, link, ..
        } = &mut ens.output
        {
            tree_output.push((t % link.n_outputs(n_classes)) as u32);
        }
    }
    ens.check().unwrap();
    ens
}

fn rows(seed: u64, n: usize) -> Vec<[f32; 6]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            std::array::from_fn(|_| {
                let g = GRID[rng.random_range(0..GRID.len())];
                match rng.random_range(0..5) {
                    0 => g,
                    1 => g.next_up(),
                    2 => f32::NAN,
                    _ => rng.random_range(-3.0..3.0),
                }
            })
        })
        .collect()
}

/// Every layout gives bit-identical probabilities and the same class as
/// the stored nodes, on rows at, just above and around every threshold
/// and with NaNs.
#[test]
fn every_layout_predicts_bit_for_bit_like_the_stored_nodes() {
    let shapes = [
        (Output::Average, 2, 37, 12),
        (Output::Average, 3, 9, 5),
        (
            Output::Boosted {
                link: Link::Logistic,
                base: vec![0.3],
                tree_output: vec![],
            },
            2,
            53,
            6,
        ),
        (
            Output::Boosted {
                link: Link::Softmax,
                base: vec![0.1, -0.2, 0.05],
                tree_output: vec![],
            },
            3,
            30,
            3,
        ),
    ];
    let mut implicit_tested = 0;
    for (seed, (output, k, trees, depth)) in shapes.into_iter().enumerate() {
        let ens = ensemble(seed as u64, output, k, trees, depth);
        let plain = CompiledTrees::with_kind(ens.clone(), LayoutKind::Pointers).unwrap();
        assert_eq!(plain.layout_kind(), LayoutKind::Pointers);
        let mut kinds = vec![LayoutKind::Packed];
        if depth <= MAX_IMPLICIT_DEPTH {
            kinds.push(LayoutKind::Implicit);
        }
        for kind in kinds {
            let Some(laid) = CompiledTrees::with_kind(ens.clone(), kind) else {
                // Padding too costly for this random shape.
                assert_eq!(kind, LayoutKind::Implicit);
                continue;
            };
            assert_eq!(laid.layout_kind(), kind);
            implicit_tested += usize::from(kind == LayoutKind::Implicit);
            let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
            for row in rows(seed as u64 + 100, 2000) {
                plain.predict_proba(&row, &mut a);
                laid.predict_proba(&row, &mut b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{kind:?} on {row:?}");
                assert_eq!(plain.predict(&row, &mut a), laid.predict(&row, &mut b));
            }
        }
    }
    assert_eq!(
        implicit_tested, 3,
        "every shallow shape is tested as complete trees"
    );
}

/// The shapes above exercise both orders: splits whose next node is the
/// left child and splits whose next node is the right one.
#[test]
fn packed_nodes_put_the_larger_subtree_next() {
    let ens = ensemble(0, Output::Average, 2, 37, 12);
    let packed = Packed::build(&ens).unwrap();
    let splits: Vec<&PNode> = packed.nodes.iter().filter(|n| !n.is_leaf()).collect();
    let flipped = splits.iter().filter(|n| n.feature & FLIPPED != 0).count();
    assert!(
        flipped > 0 && flipped < splits.len(),
        "{flipped} of {}",
        splits.len()
    );
    // The next node starts the larger subtree: its subtree ends at `far`.
    // Stored nodes → subtree size (children come after their parent).
    let mut size = vec![1u32; ens.nodes.len()];
    for i in (0..ens.nodes.len()).rev() {
        let n = &ens.nodes[i];
        if !n.is_leaf() {
            size[i] = 1 + size[n.left as usize] + size[n.right as usize];
        }
    }
    let stored: Vec<u32> = {
        // Packed position → subtree size, from the packed nodes alone.
        let mut sizes = vec![1u32; packed.nodes.len()];
        for i in (0..packed.nodes.len()).rev() {
            let n = &packed.nodes[i];
            if !n.is_leaf() {
                let far = i + usize::from(n.far);
                sizes[i] = 1 + sizes[i + 1] + sizes[far];
                assert!(sizes[i + 1] >= sizes[far], "node {i}: next subtree smaller");
            }
        }
        sizes
    };
    assert_eq!(
        stored.iter().filter(|&&s| s > 1).count(),
        size.iter().filter(|&&s| s > 1).count()
    );
}

#[test]
fn shallow_trees_get_complete_trees_deep_ones_packed_nodes() {
    let boosted = Output::Boosted {
        link: Link::Logistic,
        base: vec![0.0],
        tree_output: vec![],
    };
    let shallow = CompiledTrees::chosen(ensemble(1, boosted, 2, 20, 3));
    assert_eq!(shallow.layout_kind(), LayoutKind::Implicit);
    let deep = ensemble(2, Output::Average, 2, 10, 14);
    assert_eq!(
        CompiledTrees::chosen(deep.clone()).layout_kind(),
        LayoutKind::Packed
    );
    // The saved form round-trips as plain data; compiling it again
    // chooses the same layout.
    let bytes = postcard::to_stdvec(&deep).unwrap();
    let back: TreeEnsemble = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, deep);
    assert_eq!(
        CompiledTrees::chosen(back).layout_kind(),
        LayoutKind::Packed
    );
}

/// A block of rows walked tree-major gives every row the scores the
/// row-by-row walk gives, bit for bit: every output kind, tree counts that
/// are not multiples of the lanes, NaNs and ties; in every layout (the
/// others fall back to the row walk).
#[test]
fn blocks_of_rows_score_bit_for_bit_like_single_rows() {
    let boosted = |link: Link, base: Vec<f32>| Output::Boosted {
        link,
        base,
        tree_output: vec![],
    };
    let shapes = [
        (Output::Average, 2, 37, 12),
        (Output::Average, 3, 9, 5),
        (boosted(Link::Logistic, vec![0.3]), 2, 53, 6),
        (boosted(Link::Softmax, vec![0.1, -0.2, 0.05]), 3, 30, 9),
    ];
    for (seed, (output, k, trees, depth)) in shapes.into_iter().enumerate() {
        let ens = ensemble(seed as u64 + 7, output, k, trees, depth);
        for kind in [LayoutKind::Packed, LayoutKind::Pointers] {
            let laid = CompiledTrees::with_kind(ens.clone(), kind).unwrap();
            assert_eq!(laid.walks_in_blocks(), kind == LayoutKind::Packed);
            let rows = rows(seed as u64 + 200, 301);
            let flat: Vec<f32> = rows.iter().flatten().copied().collect();
            // A wider stride than the scores, as a caller may use.
            let width = k + 1;
            let mut block = vec![f32::NAN; rows.len() * width];
            laid.accumulate_rows(&flat, &mut block, width);
            let mut one = vec![0.0; k];
            for (r, row) in rows.iter().enumerate() {
                laid.accumulate(row, &mut one);
                let n = match &ens.output {
                    Output::Average => k,
                    Output::Boosted { base, .. } => base.len(),
                };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&block[r * width..r * width + n]),
                    bits(&one[..n]),
                    "{kind:?}, shape {seed}, row {r}"
                );
            }
        }
    }
}
