//! The timing protocol: warm-up, then interleaved rounds in which every
//! contender makes the same number of single-row calls, cycling through the
//! test rows in the same order. Each call is timed on its own (the median
//! timer overhead subtracted), and blocks of [`BLOCK`] calls are timed as one
//! so that sub-microsecond models also get a figure that no timer read
//! distorts (BENCHMARKS.md: a timer read costs ~43 ns here).

use std::hint::black_box;
use std::time::Instant;

/// Calls per timed block.
pub const BLOCK: usize = 100;

/// How much to measure; the same for every contender of a model.
#[derive(Debug, Clone, Copy)]
pub struct Protocol {
    pub warmup: usize,
    pub rounds: usize,
    /// Individually timed calls per round (also the number of calls made
    /// in blocks per round, rounded down to whole blocks).
    pub calls: usize,
}

/// Something that predicts test row `i` (its probabilities, discarded).
pub trait Contender {
    fn call(&mut self, i: usize) -> Result<(), String>;
}

/// A contender's figures, in nanoseconds per call.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub p50: f64,
    pub p99: f64,
    /// Median over blocks of the block's time ÷ [`BLOCK`].
    pub block_mean: f64,
    pub calls: usize,
}

/// Median cost of one `Instant::now()` + `elapsed()` pair, in ns: what a
/// single timed call's figure includes beyond the call itself.
pub fn timer_overhead() -> f64 {
    let mut v: Vec<u64> = (0..20_001)
        .map(|_| {
            let t = Instant::now();
            black_box(&t);
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2] as f64
}

/// Runs the protocol on `contenders` over `n_rows` test rows; round `r`
/// starts with contender `r mod len`, so a noisy neighbour hurts all alike.
pub fn measure(
    contenders: &mut [&mut dyn Contender],
    n_rows: usize,
    protocol: Protocol,
    timer: f64,
) -> Result<Vec<Timing>, String> {
    let k = contenders.len();
    let mut single: Vec<Vec<f64>> = vec![Vec::with_capacity(protocol.rounds * protocol.calls); k];
    let mut blocks: Vec<Vec<f64>> = vec![Vec::new(); k];
    // Every contender walks the rows with its own cursor; all make the same
    // calls, so all see the same rows in the same order.
    let mut cursor = vec![0usize; k];
    for (c, pos) in contenders.iter_mut().zip(cursor.iter_mut()) {
        for _ in 0..protocol.warmup {
            c.call(*pos)?;
            *pos = (*pos + 1) % n_rows;
        }
    }
    for round in 0..protocol.rounds {
        for j in 0..k {
            let which = (round + j) % k;
            let c = &mut *contenders[which];
            let pos = &mut cursor[which];
            for _ in 0..protocol.calls {
                let t = Instant::now();
                c.call(*pos)?;
                let ns = t.elapsed().as_nanos() as f64;
                single[which].push((ns - timer).max(0.0));
                *pos = (*pos + 1) % n_rows;
            }
            for _ in 0..protocol.calls / BLOCK {
                let t = Instant::now();
                for _ in 0..BLOCK {
                    c.call(*pos)?;
                    *pos = (*pos + 1) % n_rows;
                }
                let ns = t.elapsed().as_nanos() as f64;
                blocks[which].push((ns - timer).max(0.0) / BLOCK as f64);
            }
        }
    }
    Ok(single
        .into_iter()
        .zip(blocks)
        .map(|(mut s, mut b)| {
            s.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            Timing {
                p50: quantile(&s, 0.50),
                p99: quantile(&s, 0.99),
                block_mean: quantile(&b, 0.50),
                calls: s.len(),
            }
        })
        .collect())
}

/// The `q` quantile of sorted `v` (nearest rank); NaN for an empty slice.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.5), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    /// Records the rows it is called with.
    struct Recorder(Vec<usize>);
    impl Contender for Recorder {
        fn call(&mut self, i: usize) -> Result<(), String> {
            self.0.push(i);
            Ok(())
        }
    }

    #[test]
    fn every_contender_sees_the_same_rows_in_the_same_order() {
        let (mut a, mut b) = (Recorder(Vec::new()), Recorder(Vec::new()));
        let protocol = Protocol {
            warmup: 3,
            rounds: 3,
            calls: 200,
        };
        let t = measure(&mut [&mut a, &mut b], 7, protocol, 0.0).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.0.len(), 3 + 3 * 400);
        assert!(a.0.iter().enumerate().all(|(n, &i)| i == n % 7));
        assert_eq!(t[0].calls, 600);
    }
}
