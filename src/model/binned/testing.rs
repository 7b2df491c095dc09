//! Models for the binned forms' tests (saved and compiled): small and
//! random tree ensembles, rows around their thresholds, and leaves spread
//! over orders of magnitude (the int8 shifted form).

use super::LeafPrecision;
use crate::model::{Output, TreeEnsemble};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Appends a random tree of depth ≤ `max_depth` (pre-order) whose
/// thresholds come from `grid`, the last feature taking them in turn
/// (so it gets many cuts); returns its root.
pub(crate) fn grow(
    f: &mut TreeEnsemble,
    rng: &mut ChaCha8Rng,
    grid: &[f32],
    next_cut: &mut usize,
    depth: u32,
    max_depth: u32,
) -> u32 {
    let leaf_p = if depth == 0 { 0.05 } else { 0.1 };
    if depth == max_depth || rng.random_bool(leaf_p) {
        let v: Vec<f32> = (0..f.leaf_width())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        return f.push_leaf(&v);
    }
    let top = f.n_features - 1;
    let feature = if rng.random_bool(0.4) {
        top
    } else {
        rng.random_range(0..f.n_features)
    };
    let threshold = if feature == top {
        *next_cut += 1;
        grid[*next_cut % grid.len()]
    } else {
        grid[rng.random_range(0..grid.len())]
    };
    let node = f.push_split(feature as u32, threshold);
    let l = grow(f, rng, grid, next_cut, depth + 1, max_depth);
    let r = grow(f, rng, grid, next_cut, depth + 1, max_depth);
    f.set_children(node, l, r);
    node
}

/// Adds tree `t` (root `root`): boosted trees take the outputs in turn.
pub(crate) fn push_root(f: &mut TreeEnsemble, root: u32, t: usize) {
    f.roots.push(root);
    if let Output::Boosted {
        tree_output, base, ..
    } = &mut f.output
    {
        tree_output.push((t % base.len()) as u32);
    }
}

/// A row of values on, just above and just below `grid` values (the
/// cuts), NaN, infinities, huge values (one kind a row, by `r`) and
/// values in between.
pub(crate) fn random_row(
    rng: &mut ChaCha8Rng,
    grid: &[f32],
    n_features: usize,
    r: usize,
) -> Vec<f32> {
    (0..n_features)
        .map(|_| {
            let g = grid[rng.random_range(0..grid.len())];
            match rng.random_range(0..9) {
                0 => g,
                1 => g.next_up(),
                2 => g.next_down(),
                3 => f32::NAN,
                4 => [f32::NEG_INFINITY, f32::INFINITY, -1e9, 1e9][r % 4],
                _ => rng.random_range(-32.0..32.0),
            }
        })
        .collect()
}

/// `f` with tree `t`'s leaves scaled by 2^-(3 × (t mod 6)): leaves six
/// orders of magnitude apart take [`Leaves::Int8Shifted`].
pub(crate) fn spread_leaves(f: &TreeEnsemble) -> TreeEnsemble {
    let mut f = f.clone();
    let w = f.leaf_width();
    for t in 0..f.n_trees() {
        let factor = 0.5f32.powi(3 * (t % 6) as i32);
        for i in f.roots[t] as usize..f.tree_end(t) {
            if f.nodes[i].is_leaf() {
                let l = f.nodes[i].left as usize;
                f.leaf_values[l * w..(l + 1) * w]
                    .iter_mut()
                    .for_each(|v| *v *= factor);
            }
        }
    }
    f
}

/// The three leaf forms the walk tests cover: f32, int8 of the trees'
/// own leaves, and int8 of leaves spread over six orders of magnitude
/// (shifted as soon as there are two trees).
pub(crate) fn leaf_forms(f: &TreeEnsemble) -> [(LeafPrecision, TreeEnsemble); 3] {
    [
        (LeafPrecision::F32, f.clone()),
        (LeafPrecision::Int8, f.clone()),
        (LeafPrecision::Int8, spread_leaves(f)),
    ]
}

/// Two small trees: x0 <= 0.5 ? (x1 <= 2 ? A : B) : C, and a lone leaf.
pub(crate) fn ensemble() -> TreeEnsemble {
    let mut t = TreeEnsemble::new(2, 2);
    let root = t.push_split(0, 0.5);
    let l = t.push_split(1, 2.0);
    let ll = t.push_leaf(&[1.0, 0.0]);
    let lr = t.push_leaf(&[0.0, 1.0]);
    let r = t.push_leaf(&[0.25, 0.75]);
    t.set_children(root, l, r);
    t.set_children(l, ll, lr);
    t.roots.push(root);
    let lone = t.push_leaf(&[0.5, 0.5]);
    t.roots.push(lone);
    t
}
