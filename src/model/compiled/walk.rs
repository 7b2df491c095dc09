//! What every tree layout shares: the [`Walk`] trait through which the
//! accumulation loops read a layout, the lock-step driver of the packed
//! layouts ([`lock_step`]), and the constants that shape the walks.

/// A layout's traversal: calls `visit(tree, leaf number)` for every tree, in
/// tree order (so sums follow the stored form's order exactly), given the
/// row `R`: raw `f32` values for the float layouts and the cut walk, the
/// row's bins for the binned ones.
pub(crate) trait Walk<R: ?Sized> {
    fn walk(&self, row: &R, visit: impl FnMut(usize, usize));
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
