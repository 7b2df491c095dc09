//! The complete-tree layout, written once for every split key: shallow
//! trees padded to complete binary trees of one depth `D`, in heap order
//! (node `i`'s children are `2i + 1` and `2i + 2`), so a prediction walks
//! exactly `D` levels a tree with no branch on the data and no child
//! references, [`LANES`] trees in lock-step (their walks are independent
//! chains of loads the CPU overlaps). A node sends the row left when
//! `row[feature] <= key`: for float trees the key is the `f32` threshold
//! over the raw row (so a `NaN` goes right, as in the stored form), for
//! binned trees the `u8` bin over the row's bins. A leaf above depth `D`
//! owns every leaf slot below it, so the padding nodes under it may send the
//! row either way.
//!
//! Float trees ([`super::CompiledTrees`]) and binned trees
//! ([`super::CompiledBinned`], which also builds its block walk from it)
//! each decide whether their trees take this layout and describe their
//! nodes to [`Implicit::build`]; the layout and its walk are this file.

use super::walk::{Node, Walk, LANES, MAX_IMPLICIT_DEPTH};

/// A row the walk reads: `at(feature)` is the value a node with that
/// feature compares with its key.
pub(crate) trait Row<F, K> {
    /// # Safety
    /// `feature` must be in bounds of the row (see each implementation).
    unsafe fn at(&self, feature: F) -> K;
}

/// The raw row of a float tree. `CompiledTrees::accumulate` cuts the row to
/// the model's feature count, and every feature a node (or padding, feature
/// 0) tests is below it: the callers' safety argument.
impl Row<u32, f32> for [f32] {
    #[inline(always)]
    unsafe fn at(&self, feature: u32) -> f32 {
        // SAFETY: the caller's contract.
        unsafe { *self.get_unchecked(feature as usize) }
    }
}

/// A binned row: any `u8` feature indexes its 256 slots.
impl Row<u8, u8> for [u8; 256] {
    #[inline(always)]
    unsafe fn at(&self, feature: u8) -> u8 {
        self[usize::from(feature)]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Implicit<F, K> {
    pub(crate) depth: u32,
    /// `(feature, key)` per heap node, `2^D − 1` per tree.
    pub(crate) nodes: Vec<(F, K)>,
    /// Global leaf number per leaf slot, `2^D` per tree.
    pub(crate) leaf_ref: Vec<u32>,
}

impl<F: Copy, K: Copy + PartialOrd> Implicit<F, K> {
    /// Lays out the trees whose roots are `roots`, `depth` deep at most
    /// (1 to [`MAX_IMPLICIT_DEPTH`]), padding with `pad`; `node(n)`
    /// describes node `n`, or is `None` when its feature or key does not
    /// fit `F` or `K` (then so is the layout). Checked trees only: every
    /// path must end within `depth` levels.
    pub(crate) fn build<N: Copy>(
        depth: u32,
        roots: &[N],
        pad: (F, K),
        node: impl Fn(N) -> Option<Node<F, K, N>>,
    ) -> Option<Implicit<F, K>> {
        if depth == 0 || depth > MAX_IMPLICIT_DEPTH {
            return None;
        }
        let internal = (1usize << depth) - 1;
        let slots = internal + 1;
        let mut im = Implicit {
            depth,
            nodes: vec![pad; internal * roots.len()],
            leaf_ref: vec![0; slots * roots.len()],
        };
        for (t, &root) in roots.iter().enumerate() {
            let heap = &mut im.nodes[t * internal..(t + 1) * internal];
            let refs = &mut im.leaf_ref[t * slots..(t + 1) * slots];
            // (node, heap position, level)
            let mut stack = vec![(root, 0usize, 0u32)];
            while let Some((n, pos, level)) = stack.pop() {
                match node(n)? {
                    Node::Split {
                        feature,
                        key,
                        left,
                        right,
                    } => {
                        heap[pos] = (feature, key);
                        stack.push((left, 2 * pos + 1, level + 1));
                        stack.push((right, 2 * pos + 2, level + 1));
                    }
                    Node::Leaf(leaf) => {
                        // Leaf slots under heap position `pos`.
                        let below = depth - level;
                        let first = ((pos + 1) << below) - 1 - internal;
                        refs[first..first + (1 << below)].fill(leaf);
                    }
                }
            }
        }
        Some(im)
    }

    /// Bytes held by the heap nodes and leaf slots.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.len() * size_of::<(F, K)>() + self.leaf_ref.len() * size_of::<u32>()
    }

    /// Trees laid out.
    fn n_trees(&self) -> usize {
        self.leaf_ref.len() >> self.depth
    }

    /// The leaf tree `t` sends `row` to, one level at a time.
    #[inline(always)]
    fn leaf_of<R: Row<F, K> + ?Sized>(&self, t: usize, row: &R) -> usize {
        let internal = (1usize << self.depth) - 1;
        let heap = &self.nodes[t * internal..(t + 1) * internal];
        let mut i = 0usize;
        for _ in 0..self.depth {
            let (f, k) = heap[i];
            // SAFETY: the `Row` implementation's contract, which the
            // callers of `walk` meet.
            let x = unsafe { row.at(f) };
            i = 2 * i + 2 - usize::from(x <= k);
        }
        self.leaf_ref[t * (internal + 1) + (i - internal)] as usize
    }
}

impl<F: Copy, K: Copy + PartialOrd, R: Row<F, K> + ?Sized> Walk<R> for Implicit<F, K> {
    #[inline(always)]
    fn walk(&self, row: &R, mut visit: impl FnMut(usize, usize)) {
        let internal = (1usize << self.depth) - 1;
        let n = self.n_trees();
        let full = n - n % LANES;
        for t0 in (0..full).step_by(LANES) {
            let heaps: [&[(F, K)]; LANES] =
                std::array::from_fn(|k| &self.nodes[(t0 + k) * internal..(t0 + k + 1) * internal]);
            let mut pos = [0usize; LANES];
            for _ in 0..self.depth {
                for k in 0..LANES {
                    // SAFETY: after s < D steps from the root a heap
                    // position is below 2^(s+1) − 1 ≤ 2^D − 1 =
                    // `heaps[k].len()`; the row read is the `Row`
                    // implementation's contract, which the callers of
                    // `walk` meet. (Bounds checks cost ~15 % of this loop.)
                    let (f, key) = unsafe { *heaps[k].get_unchecked(pos[k]) };
                    let x = unsafe { row.at(f) };
                    pos[k] = 2 * pos[k] + 2 - usize::from(x <= key);
                }
            }
            for (k, &p) in pos.iter().enumerate() {
                let t = t0 + k;
                visit(
                    t,
                    self.leaf_ref[t * (internal + 1) + (p - internal)] as usize,
                );
            }
        }
        for t in full..n {
            visit(t, self.leaf_of(t, row));
        }
    }
}
