//! What every tree layout shares: the [`Walk`] trait through which the
//! accumulation loops read a layout, how a form describes its trees to a
//! layout ([`Node`]), the packed layouts' node order ([`packed_order`]) and
//! lock-step driver ([`lock_step`]), and the constants that shape the walks.

/// A layout's traversal: calls `visit(tree, leaf number)` for every tree, in
/// tree order (so sums follow the stored form's order exactly), given the
/// row `R`: raw `f32` values for the float layouts and the cut walk, the
/// row's bins for the binned ones.
pub(crate) trait Walk<R: ?Sized> {
    fn walk(&self, row: &R, visit: impl FnMut(usize, usize));
}

/// A node as a form describes its trees to a layout (`Implicit::build`,
/// [`packed_order`]).
pub(crate) enum Node<F, K, N> {
    /// Goes left when `row[feature] <= key`, to `left`, else to `right`.
    Split {
        feature: F,
        key: K,
        left: N,
        right: N,
    },
    /// The leaf's global number (its row in the leaf values).
    Leaf(u32),
}

/// Trees walked at once by the complete-tree layouts: their walks are
/// independent chains of loads, so the CPU works on all of them at once
/// instead of waiting on one tree's loads.
pub(crate) const LANES: usize = 8;

/// Trees walked at once by the packed layouts. Fewer than [`LANES`]: a
/// packed walk ends when the longest of the lanes' paths does, and the
/// longest of more paths is longer (4 lanes beat 2, 3, 6 and 8 on forests
/// of 100 deep trees: `cargo bench --bench layouts`).
pub(crate) const PACKED_LANES: usize = 4;

/// Deepest trees the complete-tree layouts take (256 leaf slots a tree).
pub const MAX_IMPLICIT_DEPTH: u32 = 8;

/// The packed layouts' walk (float and binned): trees [`PACKED_LANES`] at a
/// time, each lane moving by `step(position)` (the offset to the next node
/// on the row's path, 0 on a leaf) in lock-step until all of them stand on
/// a leaf; then `leaf(tree, position)` for each, in tree order. The trees
/// left over are walked one by one.
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

/// One position of a tree in the packed layouts' order.
pub(crate) enum Slot<F, K> {
    /// A split; `flipped`: the next position is its right child; its other
    /// child is `far` positions further.
    Split {
        feature: F,
        key: K,
        flipped: bool,
        far: usize,
    },
    /// The leaf's number, as the form described it.
    Leaf(u32),
}

/// The tree under `root` in the packed layouts' order: depth-first, the
/// child with the larger subtree next (ties: left), the side more rows take,
/// so a walk mostly moves to the next position, often on the same cache
/// line. `node(n)` describes node `n` (`None`: the layout cannot hold it,
/// and neither can the tree). Checked trees only.
pub(crate) fn packed_order<F: Copy, K: Copy, N: Copy>(
    root: N,
    node: impl Fn(N) -> Option<Node<F, K, N>>,
) -> Option<Vec<Slot<F, K>>> {
    // The tree in pre-order with tree-local child indices (children come
    // after their parent), so subtree sizes take one backward pass.
    let mut local: Vec<Node<F, K, usize>> = Vec::new();
    let mut stack = vec![(root, None::<(usize, bool)>)];
    while let Some((n, parent)) = stack.pop() {
        let here = local.len();
        if let Some((p, right)) = parent {
            if let Node::Split { left, right: r, .. } = &mut local[p] {
                *(if right { r } else { left }) = here;
            }
        }
        match node(n)? {
            Node::Split {
                feature,
                key,
                left,
                right,
            } => {
                local.push(Node::Split {
                    feature,
                    key,
                    left: 0,
                    right: 0,
                });
                stack.push((right, Some((here, true))));
                stack.push((left, Some((here, false))));
            }
            Node::Leaf(l) => local.push(Node::Leaf(l)),
        }
    }
    let mut size = vec![1usize; local.len()];
    for i in (0..local.len()).rev() {
        if let Node::Split { left, right, .. } = local[i] {
            size[i] = 1 + size[left] + size[right];
        }
    }
    let mut slots = Vec::with_capacity(local.len());
    // (local node, position waiting for it as its far child)
    let mut stack = vec![(0usize, None::<usize>)];
    while let Some((i, waiting)) = stack.pop() {
        let here = slots.len();
        if let Some(p) = waiting {
            if let Slot::Split { far, .. } = &mut slots[p] {
                *far = here - p;
            }
        }
        match local[i] {
            Node::Leaf(l) => slots.push(Slot::Leaf(l)),
            Node::Split {
                feature,
                key,
                left,
                right,
            } => {
                let flipped = size[right] > size[left];
                let (near, other) = if flipped {
                    (right, left)
                } else {
                    (left, right)
                };
                slots.push(Slot::Split {
                    feature,
                    key,
                    flipped,
                    far: 0,
                });
                stack.push((other, Some(here)));
                stack.push((near, None));
            }
        }
    }
    Some(slots)
}
