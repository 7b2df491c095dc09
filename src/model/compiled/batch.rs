//! Splitting a batch across threads when, and only when, its measured work
//! pays for waking them.

use super::{CompiledModel, Scratch};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// How long the calling thread works through a batch's first rows before
/// deciding whether to split the rest: long enough for `Instant` (~20 ns a
/// read) to time a row's cost, short next to any split worth making.
const PROBE: Duration = Duration::from_micros(2);

/// The least work (measured rows × their measured cost) a batch's remainder
/// must hold for splitting it across threads to pay for waking them.
/// `examples/batch_split` on two quiet cores: split in two, a batch broke
/// even at 17–46 µs of work (64 rows: logistic regression's 1.9 µs took
/// 1.20× as long, boosting-50's 17 µs 1.03×, forest-10's 46 µs 0.80×).
const SPLIT_MIN_WORK_NS: u128 = 25_000;

/// Work per task once a batch is split: far above rayon's ~1 µs cost of a
/// task, and small enough that a few tasks per thread balance the load.
const TASK_WORK_NS: u128 = 100_000;

/// Rows per task for splitting `rest` rows of `row_ns` each over `threads`,
/// or `None` when the split cannot pay: one thread, fewer than two rows, or
/// less work than [`SPLIT_MIN_WORK_NS`]. A row-count threshold cannot be
/// right for both a 20 ns logistic regression and a 50 µs forest.
fn split_rows(rest: usize, row_ns: u128, threads: usize) -> Option<usize> {
    let work = rest as u128 * row_ns;
    if threads < 2 || rest < 2 || work < SPLIT_MIN_WORK_NS {
        return None;
    }
    let tasks = usize::try_from(work.div_ceil(TASK_WORK_NS))
        .unwrap_or(usize::MAX)
        .max(threads)
        .min(rest);
    Some(rest.div_ceil(tasks))
}

/// The per-row work of a batch: rows in (`d` values each), `k` values a row
/// out, with the caller's scratch.
type RowsFn<T> = fn(&CompiledModel, &[f32], &mut [T], &mut Scratch);

/// Runs `run` over a row-major batch (`d` values a row in, `k` a row out):
/// the calling thread does the first rows (4, then doubling) until they
/// have taken [`PROBE`], then the rest is split over rayon's current pool if
/// [`split_rows`] says it pays at the cost just measured, else done here.
/// Which thread predicts a row never changes its prediction.
pub(super) fn batch<T: Send>(
    model: &CompiledModel,
    rows: &[f32],
    out: &mut [T],
    k: usize,
    run: RowsFn<T>,
) {
    let d = model.n_features().max(1);
    let n = out.len() / k.max(1);
    let mut scratch = model.scratch();
    let threads = rayon::current_num_threads();
    if threads < 2 || n == 0 {
        return run(model, &rows[..n * d], out, &mut scratch);
    }
    let start = Instant::now();
    // Four rows before the first clock read: a clock read costs about a
    // cheap row (~20 ns), and an 8-row batch of one paid 1.7× its time.
    let (mut done, mut step) = (0, 4);
    // At least one row, even if the thread is descheduled before the first
    // clock check: the cost below divides by `done`.
    loop {
        let m = step.min(n - done);
        let (r, o) = (
            &rows[done * d..(done + m) * d],
            &mut out[done * k..(done + m) * k],
        );
        run(model, r, o, &mut scratch);
        done += m;
        step *= 2;
        if done == n {
            return;
        }
        if start.elapsed() >= PROBE {
            break;
        }
    }
    let row_ns = start.elapsed().as_nanos() / done as u128;
    let (rows, out) = (&rows[done * d..n * d], &mut out[done * k..]);
    match split_rows(n - done, row_ns, threads) {
        Some(chunk) => run_chunks(model, rows, out, k, chunk, run),
        None => run(model, rows, out, &mut scratch),
    }
}

/// [`batch`]'s split: tasks of `chunk` rows over rayon's current pool.
pub(super) fn run_chunks<T: Send>(
    model: &CompiledModel,
    rows: &[f32],
    out: &mut [T],
    k: usize,
    chunk: usize,
    run: RowsFn<T>,
) {
    let d = model.n_features().max(1);
    rows.par_chunks(chunk * d)
        .zip(out.par_chunks_mut(chunk * k))
        .for_each_init(|| model.scratch(), |s, (r, o)| run(model, r, o, s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_split_only_when_its_work_pays_for_it() {
        // One thread, one row, or too little work: not split.
        assert_eq!(split_rows(10_000, 1_000, 1), None);
        assert_eq!(split_rows(1, 10_000_000, 2), None);
        // 20 µs of logistic regression: too little.
        assert_eq!(split_rows(1_000, 20, 2), None);
        // 60 µs: past the threshold, one task a thread.
        assert_eq!(split_rows(3_000, 20, 2), Some(1_500));
        // 10 ms of forest: 100 tasks of 100 µs.
        assert_eq!(split_rows(200, 50_000, 2), Some(2));
        // Two 50 µs rows: a row each.
        assert_eq!(split_rows(2, 50_000, 2), Some(1));
    }
}
