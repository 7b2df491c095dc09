//! The run-time form of a [`TreeEnsemble`] ([`CompiledTrees`]): the same
//! trees rearranged for traversal speed, built from the stored nodes (never
//! written to disk) and
//! taking exactly the branches the stored form takes (`x <= t` left, so a
//! `NaN` goes right), so predictions are bit-identical whichever is used.
//!
//! - [`LayoutKind::Pointers`]: the stored form itself, 16-byte nodes with
//!   explicit children, one tree after another.
//! - [`LayoutKind::Packed`]: 8-byte nodes in depth-first order, one child
//!   implicit (the next node) and the other a `u16` offset; a leaf is a node
//!   whose threshold is a NaN carrying the leaf number and whose offset is
//!   0, so `x <= NaN` is false for every `x` and a walk that reaches it stays
//!   there. That lets [`PACKED_LANES`] trees be walked in lock-step, with no
//!   branch on the data, until all of them stand on a leaf: independent
//!   chains of loads the CPU overlaps, which is what deep forests (thousands
//!   of nodes a tree, a cache miss at most levels) need. The implicit child
//!   is the one with the larger subtree, the side more rows take, so a walk
//!   mostly moves to the next node, often on the same cache line; a flag in
//!   the node says when that child is the right one.
//! - [`LayoutKind::Implicit`]: shallow trees (depth ≤ [`MAX_IMPLICIT_DEPTH`])
//!   padded to complete binary trees in heap order (children of `i` at
//!   `2i + 1`, `2i + 2`): no child references at all and exactly `D` steps a
//!   tree, walked [`LANES`] trees at a time (the float twin of the binned
//!   form's `Implicit`, `compiled/binned/implicit.rs`).
//!
//! [`Built::choose`] picks the one measured fastest for the ensemble's shape
//! (`cargo bench --bench layouts`).

use crate::model::tree::{Output, TreeEnsemble};

/// Which traversal a [`TreeEnsemble`] uses at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    Pointers,
    Packed,
    Implicit,
}

/// Trees walked at once by the complete-tree layout.
pub(crate) const LANES: usize = 8;

/// Trees walked at once by the packed layout. Fewer than [`LANES`]: its walk
/// ends when the longest of the lanes' paths does, and the longest of more
/// paths is longer. Measured on forests of 100 deep trees (`cargo bench
/// --bench layouts`, rounds interleaved in one process): 4 lanes beat 2, 3,
/// 6 and 8 by 6–20 %.
pub(crate) const PACKED_LANES: usize = 4;

/// Deepest trees the complete-tree layout takes (256 leaf slots a tree).
pub const MAX_IMPLICIT_DEPTH: u32 = 8;

/// A tree ensemble ready to predict: the checked saved form and the layout
/// its trees are walked in, built together and never changed after.
#[derive(Debug, Clone)]
pub struct CompiledTrees {
    ens: TreeEnsemble,
    built: Built,
}

#[derive(Debug, Clone)]
enum Built {
    /// The stored nodes, one tree after another.
    Pointers,
    Packed(Packed),
    Implicit(Implicit),
}

impl Built {
    /// The layout measured fastest for this ensemble's shape: complete trees
    /// when every tree is shallow and padding at most quadruples the nodes
    /// (boosted trees), else packed nodes (deep forests), else none.
    fn choose(ens: &TreeEnsemble) -> Built {
        Implicit::build(ens)
            .map(Built::Implicit)
            .or_else(|| Packed::build(ens).map(Built::Packed))
            .unwrap_or(Built::Pointers)
    }

    /// A given layout, if the trees fit it.
    fn of_kind(ens: &TreeEnsemble, kind: LayoutKind) -> Option<Built> {
        match kind {
            LayoutKind::Pointers => Some(Built::Pointers),
            LayoutKind::Packed => Packed::build(ens).map(Built::Packed),
            LayoutKind::Implicit => Implicit::build(ens).map(Built::Implicit),
        }
    }
}

impl CompiledTrees {
    /// The layout [`Built::choose`] picks. Checked ensembles only: the
    /// layouts trust node references.
    pub(crate) fn chosen(ens: TreeEnsemble) -> CompiledTrees {
        let built = Built::choose(&ens);
        CompiledTrees { ens, built }
    }

    /// A given layout (benchmarks and tests), if the trees fit it. Checked
    /// ensembles only.
    pub(crate) fn with_kind(ens: TreeEnsemble, kind: LayoutKind) -> Option<CompiledTrees> {
        let built = Built::of_kind(&ens, kind)?;
        Some(CompiledTrees { ens, built })
    }

    /// The saved form this was compiled from.
    pub fn saved(&self) -> &TreeEnsemble {
        &self.ens
    }

    /// The layout predictions use.
    pub fn layout_kind(&self) -> LayoutKind {
        match &self.built {
            Built::Pointers => LayoutKind::Pointers,
            Built::Packed(_) => LayoutKind::Packed,
            Built::Implicit(_) => LayoutKind::Implicit,
        }
    }

    /// Bytes of the saved arrays and of the layout's.
    pub fn heap_bytes(&self) -> usize {
        let layout = match &self.built {
            Built::Pointers => 0,
            Built::Packed(p) => {
                p.nodes.len() * size_of::<PNode>() + p.tree_start.len() * size_of::<u32>()
            }
            Built::Implicit(i) => {
                i.nodes.len() * size_of::<INode>() + i.leaf_ref.len() * size_of::<u32>()
            }
        };
        self.ens.heap_bytes() + layout
    }

    /// Calls `visit(tree, leaf number)` for every tree, in tree order,
    /// through the layout: the leaves [`CompiledTrees::accumulate`] sums.
    /// Tests use it to check that the binned form's cut walk reaches the
    /// binned walks' leaves.
    #[cfg(test)]
    pub(crate) fn walk_leaves(&self, row: &[f32], visit: impl FnMut(usize, u32)) {
        let row = &row[..self.ens.n_features];
        match &self.built {
            Built::Implicit(l) => l.walk(row, visit),
            Built::Packed(l) => l.walk(row, visit),
            Built::Pointers => Pointers(&self.ens).walk(row, visit),
        }
    }

    /// Raw scores into `acc[..n_outputs]`: summed leaf vectors (averaging)
    /// or base + summed leaf scores (boosting). Also the binned form's cut
    /// walk (`binned::Cuts`), over its copy of the trees.
    #[inline]
    pub(crate) fn accumulate(&self, row: &[f32], acc: &mut [f32]) {
        // The layouts' unchecked loads rely on this (and it panics on a
        // short row as indexing it would).
        let row = &row[..self.ens.n_features];
        // One monomorphic loop per layout.
        match &self.built {
            Built::Implicit(l) => self.accumulate_with(l, row, acc),
            Built::Packed(l) => self.accumulate_with(l, row, acc),
            Built::Pointers => self.accumulate_with(&Pointers(&self.ens), row, acc),
        }
    }

    /// The accumulation shared by every layout: trees are visited in order,
    /// so every layout adds the same values in the same order.
    #[inline(always)]
    fn accumulate_with(&self, walk: &impl Walk, row: &[f32], acc: &mut [f32]) {
        let ens = &self.ens;
        match &ens.output {
            Output::Average => {
                acc.fill(0.0);
                let k = ens.n_classes;
                walk.walk(row, |_, leaf| {
                    let leaf = leaf as usize;
                    let values = &ens.leaf_values[leaf * k..leaf * k + k];
                    for (a, v) in acc.iter_mut().zip(values) {
                        *a += v;
                    }
                });
            }
            Output::Boosted {
                base, tree_output, ..
            } => {
                if let [b] = base[..] {
                    // One output: sum in a register, not through memory
                    // (a store-to-load chain per tree otherwise).
                    let mut sum = b;
                    walk.walk(row, |_, leaf| sum += ens.leaf_values[leaf as usize]);
                    acc[0] = sum;
                } else {
                    acc[..base.len()].copy_from_slice(base);
                    walk.walk(row, |t, leaf| {
                        acc[tree_output[t] as usize] += ens.leaf_values[leaf as usize];
                    });
                }
            }
        }
    }

    #[inline]
    pub fn predict_proba(&self, row: &[f32], out: &mut [f32]) {
        self.accumulate(row, out);
        self.ens.finish_proba(out);
    }

    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        self.accumulate(row, scratch);
        self.ens.finish_class(scratch)
    }
}

/// A layout's traversal: calls `visit(tree, leaf number)` for every tree, in
/// tree order (so sums follow the stored form's order exactly).
pub(crate) trait Walk {
    fn walk(&self, row: &[f32], visit: impl FnMut(usize, u32));
}

/// The stored nodes, one tree after another.
struct Pointers<'a>(&'a TreeEnsemble);

impl Walk for Pointers<'_> {
    #[inline(always)]
    fn walk(&self, row: &[f32], mut visit: impl FnMut(usize, u32)) {
        for (t, &root) in self.0.roots.iter().enumerate() {
            visit(t, self.0.leaf_of(root, row));
        }
    }
}

/// An 8-byte depth-first node: `row[feature] <= threshold` goes left. The
/// next node is the left child, or the right one when the [`FLIPPED`] bit of
/// `feature` is set; the other child is `far` nodes further. A leaf:
/// `threshold` is a quiet NaN whose low 22 bits are the leaf number, `far`
/// is 0, `feature` 0.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct PNode {
    threshold: f32,
    feature: u16,
    far: u16,
}

/// The bit of [`PNode::feature`] saying that the next node is the right child.
const FLIPPED: u16 = 1 << 15;

const QUIET_NAN: u32 = 0x7fc0_0000;
const NAN_PAYLOAD: u32 = (1 << 22) - 1;

impl PNode {
    fn leaf(id: u32) -> PNode {
        PNode {
            threshold: f32::from_bits(QUIET_NAN | id),
            feature: 0,
            far: 0,
        }
    }

    #[cfg(test)]
    fn is_leaf(&self) -> bool {
        self.far == 0
    }

    #[inline(always)]
    fn leaf_id(&self) -> u32 {
        self.threshold.to_bits() & NAN_PAYLOAD
    }

    /// The offset given the row's value of the node's feature: to the next
    /// node when "goes left" and "next is left" agree (`x <= NaN` is false
    /// for a leaf, `far` 0 keeps the walk there).
    #[inline(always)]
    fn step_from(&self, x: f32) -> usize {
        let left = u16::from(x <= self.threshold);
        if left ^ (self.feature >> 15) != 0 {
            1
        } else {
            usize::from(self.far)
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Packed {
    nodes: Vec<PNode>,
    /// First node of each tree.
    tree_start: Vec<u32>,
}

impl Packed {
    /// `None` when a tree is too big for `u16` offsets, a feature index for
    /// 15 bits, or a leaf number for a NaN payload. (Leaf numbers are read
    /// from the nodes, not counted in `leaf_values`: the binned form's cut
    /// walk lays out a copy of its trees that has no leaf values.)
    fn build(ens: &TreeEnsemble) -> Option<Packed> {
        if ens.n_features == 0
            || ens.n_features > usize::from(!FLIPPED)
            || ens
                .nodes
                .iter()
                .any(|n| n.is_leaf() && n.left > NAN_PAYLOAD)
            // The lock-step walk loads features unchecked.
            || ens
                .nodes
                .iter()
                .any(|n| !n.is_leaf() && n.feature as usize >= ens.n_features)
        {
            return None;
        }
        let size = subtree_sizes(ens);
        let mut nodes: Vec<PNode> = Vec::with_capacity(ens.nodes.len());
        let mut tree_start = Vec::with_capacity(ens.n_trees());
        for t in 0..ens.n_trees() {
            let start = nodes.len();
            tree_start.push(u32::try_from(start).ok()?);
            // Depth-first, the larger subtree first (ties: left); `far`
            // patched when the other child is placed. (node, parent waiting
            // for it as its far child)
            let mut stack = vec![(ens.roots[t] as usize, None::<usize>)];
            while let Some((i, parent)) = stack.pop() {
                let here = nodes.len();
                if let Some(p) = parent {
                    nodes[p].far = u16::try_from(here - p).ok()?;
                }
                let n = &ens.nodes[i];
                if n.is_leaf() {
                    nodes.push(PNode::leaf(n.left));
                } else {
                    let (left, right) = (n.left as usize, n.right as usize);
                    let flipped = size[right] > size[left];
                    let (near, far) = if flipped {
                        (right, left)
                    } else {
                        (left, right)
                    };
                    nodes.push(PNode {
                        threshold: n.threshold,
                        feature: n.feature as u16 | if flipped { FLIPPED } else { 0 },
                        far: 0,
                    });
                    stack.push((far, Some(here)));
                    stack.push((near, None));
                }
            }
            if nodes.len() - start > usize::from(u16::MAX) {
                return None;
            }
        }
        Some(Packed { nodes, tree_start })
    }
}

/// The number of nodes under each node, itself included (children are
/// stored after their parent, so one backward pass does it).
fn subtree_sizes(ens: &TreeEnsemble) -> Vec<u32> {
    let mut size = vec![1u32; ens.nodes.len()];
    for i in (0..ens.nodes.len()).rev() {
        let n = &ens.nodes[i];
        if !n.is_leaf() {
            size[i] = 1 + size[n.left as usize] + size[n.right as usize];
        }
    }
    size
}

impl Walk for Packed {
    #[inline(always)]
    fn walk(&self, row: &[f32], mut visit: impl FnMut(usize, u32)) {
        let step = |p: usize| {
            // SAFETY: `lock_step` passes positions a walk reached: it starts
            // at a tree's first node and moves only to a child of the same
            // tree (offsets are built from the tree) or stays on a leaf, so
            // `p` is inside `nodes`; `build` keeps only features below
            // `n_features`, which `CompiledTrees::accumulate` checks `row`
            // covers.
            let n = unsafe { self.nodes.get_unchecked(p) };
            n.step_from(unsafe { *row.get_unchecked(usize::from(n.feature & !FLIPPED)) })
        };
        lock_step(&self.tree_start, step, |t, p| {
            visit(t, self.nodes[p].leaf_id())
        });
    }
}

/// The packed layouts' walk (float here, binned in `binned/packed.rs`): trees
/// [`PACKED_LANES`] at a time, each lane moving by `step(position)` (the
/// offset to the next node on the row's path, 0 on a leaf) in lock-step
/// until all of them stand on a leaf; then `leaf(tree, position)` for each,
/// in tree order. The trees left over are walked one by one.
#[inline(always)]
pub(crate) fn lock_step(
    tree_start: &[u32],
    step: impl Fn(usize) -> usize,
    mut leaf: impl FnMut(usize, usize),
) {
    let n = tree_start.len();
    let full = n - n % PACKED_LANES;
    for t0 in (0..full).step_by(PACKED_LANES) {
        let mut pos: [usize; PACKED_LANES] = std::array::from_fn(|k| tree_start[t0 + k] as usize);
        loop {
            // Nonzero while a lane stood on a split this step. (One extra
            // step once all are on leaves: cheaper than a test after every
            // move.)
            let mut moving = 0;
            for p in &mut pos {
                let off = step(*p);
                moving |= off;
                *p += off;
            }
            if moving == 0 {
                break;
            }
        }
        for (k, &p) in pos.iter().enumerate() {
            leaf(t0 + k, p);
        }
    }
    for (t, &start) in tree_start.iter().enumerate().skip(full) {
        let mut p = start as usize;
        loop {
            let off = step(p);
            if off == 0 {
                break;
            }
            p += off;
        }
        leaf(t, p);
    }
}

/// A complete-tree node: `row[feature] <= threshold` goes to `2i + 1`, else
/// `2i + 2`. Padding below a leaf goes anywhere: every slot under the leaf
/// names it.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct INode {
    feature: u32,
    threshold: f32,
}

impl INode {
    /// 1 when the row goes right: not `x <= t` (rather than `x > t`, so a
    /// NaN goes right, as in the stored form).
    #[inline(always)]
    fn goes_right(&self, row: &[f32]) -> usize {
        1 - usize::from(row[self.feature as usize] <= self.threshold)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Implicit {
    depth: u32,
    /// `2^D − 1` nodes per tree.
    nodes: Vec<INode>,
    /// The leaf number in each of the `2^D` leaf slots of each tree.
    leaf_ref: Vec<u32>,
}

impl Implicit {
    /// `None` unless every tree is at most [`MAX_IMPLICIT_DEPTH`] deep (and
    /// deeper than 0) and padding at most quadruples the node count.
    fn build(ens: &TreeEnsemble) -> Option<Implicit> {
        let depth = ens.tree_depths().into_iter().max()? as u32;
        let internal = (1usize << depth.min(MAX_IMPLICIT_DEPTH)) - 1;
        if depth == 0
            || depth > MAX_IMPLICIT_DEPTH
            || (2 * internal + 1) * ens.n_trees() > 4 * ens.nodes.len()
            // The walk loads features unchecked.
            || ens
                .nodes
                .iter()
                .any(|n| !n.is_leaf() && n.feature as usize >= ens.n_features)
        {
            return None;
        }
        let slots = internal + 1;
        let pad = INode {
            feature: 0,
            threshold: f32::INFINITY,
        };
        let mut im = Implicit {
            depth,
            nodes: vec![pad; internal * ens.n_trees()],
            leaf_ref: vec![0; slots * ens.n_trees()],
        };
        for (t, &root) in ens.roots.iter().enumerate() {
            let heap = &mut im.nodes[t * internal..(t + 1) * internal];
            let refs = &mut im.leaf_ref[t * slots..(t + 1) * slots];
            // (node, heap position, level)
            let mut stack = vec![(root as usize, 0usize, 0u32)];
            while let Some((i, pos, level)) = stack.pop() {
                let n = &ens.nodes[i];
                if n.is_leaf() {
                    let below = depth - level;
                    let first = ((pos + 1) << below) - 1 - internal;
                    refs[first..first + (1 << below)].fill(n.left);
                } else {
                    heap[pos] = INode {
                        feature: n.feature,
                        threshold: n.threshold,
                    };
                    stack.push((n.left as usize, 2 * pos + 1, level + 1));
                    stack.push((n.right as usize, 2 * pos + 2, level + 1));
                }
            }
        }
        Some(im)
    }

    #[inline(always)]
    fn leaf_of(&self, t: usize, row: &[f32]) -> u32 {
        let internal = (1usize << self.depth) - 1;
        let heap = &self.nodes[t * internal..(t + 1) * internal];
        let mut i = 0usize;
        for _ in 0..self.depth {
            let n = heap[i];
            i = 2 * i + 1 + n.goes_right(row);
        }
        self.leaf_ref[t * (internal + 1) + (i - internal)]
    }
}

impl Walk for Implicit {
    #[inline(always)]
    fn walk(&self, row: &[f32], mut visit: impl FnMut(usize, u32)) {
        let internal = (1usize << self.depth) - 1;
        let n = self.nodes.len() / internal;
        let full = n - n % LANES;
        for t0 in (0..full).step_by(LANES) {
            let heaps: [&[INode]; LANES] =
                std::array::from_fn(|k| &self.nodes[(t0 + k) * internal..(t0 + k + 1) * internal]);
            let mut pos = [0usize; LANES];
            for _ in 0..self.depth {
                for k in 0..LANES {
                    // SAFETY: after s < D steps from the root a heap position
                    // is below 2^(s+1) − 1 ≤ 2^D − 1 = `heaps[k].len()`, and
                    // `build` keeps only features below `n_features`, which
                    // `CompiledTrees::accumulate` checks `row` covers. (The
                    // bounds checks cost ~15% of this loop: measured.)
                    let n = unsafe { heaps[k].get_unchecked(pos[k]) };
                    let x = unsafe { *row.get_unchecked(n.feature as usize) };
                    pos[k] = 2 * pos[k] + 2 - usize::from(x <= n.threshold);
                }
            }
            for (k, &p) in pos.iter().enumerate() {
                let t = t0 + k;
                visit(t, self.leaf_ref[t * (internal + 1) + (p - internal)]);
            }
        }
        for t in full..n {
            visit(t, self.leaf_of(t, row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn ensemble(
        seed: u64,
        output: Output,
        n_classes: usize,
        trees: usize,
        depth: u32,
    ) -> TreeEnsemble {
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
        let size = subtree_sizes(&ens);
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
}
