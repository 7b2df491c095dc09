//! The single-row latency harness, built to measure what a serving system
//! sees (DESIGN.md):
//!
//! - held-out rows are preloaded and cycled in a seeded order (never one row
//!   repeated, which would let branch predictors and caches learn it);
//! - each candidate is warmed up (at least `warmup_calls` and `warmup_ms`);
//! - then candidates take turns in interleaved rounds, so a noisy neighbour
//!   slows them all alike; in a round every candidate sees the same rows.
//!   A round is taken in [`SLICES`] slices, the candidates in a fresh seeded
//!   order in each, so every candidate's calls are spread over the whole
//!   round; each candidate's turn starts with [`REWARM_CALLS`] untimed calls;
//! - every call is timed on its own, model-only and end-to-end
//!   (validate → preprocess → predict), the two paths taking turns call by
//!   call: timed in blocks, the model-only block came first after the
//!   re-warm and caught the cache colder (a forest of 100 full-depth trees
//!   measured 0.83× end to end against model-only p50);
//! - the timer's own cost (two clock reads back to back, median of 10,000)
//!   is measured, reported, and subtracted from every timed call: a caller
//!   does not read our clock, so the net time is what it would observe.
//!
//! The clock is injected ([`Clock`]), so tests can drive the harness with a
//! fake clock; no test asserts a real time.

use super::{MeasureSettings, Nanos, Subject};
use crate::data::{Dataset, Request, RequestForm};
use crate::error::{Error, Result};
use crate::model::Scratch;
use crate::pipeline::RowPlan;
use crate::progress::Progress;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::Instant;

/// Fewest timed calls from which a p99 is reported (the project's floor).
/// With n calls a 95% distribution-free upper bound on p99 exists as an order
/// statistic only when 1 − 0.99ⁿ ≥ 0.95 (n ≥ 299), and it sits below the
/// maximum only from n = 473; 662 leaves a margin of a few order statistics
/// (at n = 662 the bound is X₍₆₆₀₎).
pub const MIN_CALLS_FOR_P99: usize = 662;

/// Slices per round. Taken whole, a round gave a fast candidate's 1,000
/// calls a tenth of a millisecond: one instant of a host whose speed
/// changes over milliseconds, so its p50 was whichever state it caught, and
/// the candidates' latency order moved between runs (Kendall τ 0.82-0.86 on
/// end-to-end p50 and p99 for pairs of default runs on a noisy host).
pub const SLICES: usize = 10;

/// Untimed calls at the start of each candidate's turn in a slice (end to
/// end, so the model and the pipeline are both touched): they bring the
/// model back into the caches the other candidates' turns used, so the
/// figures are those of a server serving this one model, whose first call
/// after another model's 100 calls would otherwise be timed cold.
pub const REWARM_CALLS: usize = 8;

/// How the harness interleaved the candidates, recorded with the results
/// (`results.json`: `interleaving`) so a report rebuilt from them describes
/// the run that made them, whatever the binary that rebuilds it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interleaving {
    /// [`SLICES`].
    pub slices: usize,
    /// [`REWARM_CALLS`].
    pub rewarm_calls: usize,
}

impl Interleaving {
    /// This binary's harness.
    pub const CURRENT: Interleaving = Interleaving {
        slices: SLICES,
        rewarm_calls: REWARM_CALLS,
    };
}

/// A monotonic time source in nanoseconds.
pub trait Clock {
    fn now(&self) -> u64;
}

/// The real clock: `Instant` (CLOCK_MONOTONIC on Linux).
pub struct MonotonicClock {
    origin: Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for MonotonicClock {
    #[inline(always)]
    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// Percentiles of a set of timed calls (nearest-rank definition).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub calls: u64,
    pub mean: Nanos,
    pub p50: Nanos,
    pub p95: Nanos,
    pub p99: Nanos,
    pub p99_9: Nanos,
    pub max: Nanos,
    /// Distribution-free 95% upper confidence bound on the true p99: the
    /// smallest order statistic X₍ₖ₎ with P(Binomial(n, 0.99) ≤ k − 1) ≥ 0.95
    /// (the classical binomial bound, e.g. Hahn & Meeker, *Statistical
    /// Intervals*, §5.3). The budget is checked against this figure.
    pub p99_upper: Nanos,
}

impl LatencyStats {
    /// Computes the statistics; sorts `samples` in place.
    pub fn from_samples(samples: &mut [u64]) -> Result<LatencyStats> {
        let n = samples.len();
        if n < MIN_CALLS_FOR_P99 {
            return Err(Error::Measure(format!(
                "{n} timed calls: at least {MIN_CALLS_FOR_P99} are needed for a p99"
            )));
        }
        samples.sort_unstable();
        let rank = |q: f64| {
            let k = (q * n as f64).ceil() as usize;
            Nanos(samples[k.clamp(1, n) - 1])
        };
        let k_upper = upper_bound_rank(n, 0.99, 0.95).unwrap_or(n);
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Ok(LatencyStats {
            calls: n as u64,
            mean: Nanos((sum / n as u128) as u64),
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            p99_9: rank(0.999),
            max: Nanos(samples[n - 1]),
            p99_upper: Nanos(samples[k_upper - 1]),
        })
    }
}

/// The 1-based rank k of the order statistic that bounds the `q` quantile
/// from above with probability `confidence`, or None when n is too small.
pub(crate) fn upper_bound_rank(n: usize, q: f64, confidence: f64) -> Option<usize> {
    use statrs::distribution::{Binomial, DiscreteCDF};
    let b = Binomial::new(q, n as u64).ok()?;
    // The CDF is monotone: binary search the smallest k with cdf(k-1) ≥ conf.
    let (mut lo, mut hi) = ((q * n as f64).floor() as usize, n);
    if b.cdf((hi - 1) as u64) < confidence {
        return None;
    }
    lo = lo.max(1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if b.cdf((mid - 1) as u64) >= confidence {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The cost of reading the clock twice, measured like a timed call with
/// nothing inside.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimerOverhead {
    pub p50: Nanos,
    pub p99: Nanos,
}

/// Latency of one subject on its two paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectLatency {
    pub model_only: LatencyStats,
    pub end_to_end: LatencyStats,
    /// Median per round of the end-to-end p50, for spotting noisy runs.
    pub round_p50s: Vec<Nanos>,
}

/// The serving path's first two stages, timed on their own (they do not
/// depend on the model, so once per run): validating the raw row, and the
/// pipeline turning it into the model's input. With the model-only figures
/// they make the per-stage breakdown of an end-to-end request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageLatency {
    /// The form the requests came in (every end-to-end figure of the run
    /// served this form): numbers when every column is numeric.
    #[serde(default)]
    pub request: RequestForm,
    pub validate: LatencyStats,
    pub preprocess: LatencyStats,
}

/// Everything the harness measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRun {
    pub overhead: TimerOverhead,
    pub stages: StageLatency,
    /// In the order of the subjects.
    pub subjects: Vec<SubjectLatency>,
}

/// Measures every subject. `test` holds the raw held-out rows (the
/// end-to-end input, served as the [`Request`]s a client sends: numbers
/// when every column is numeric, typed cells otherwise) and `features` the same rows after the pipeline (the model-only input). The
/// stage breakdown uses the first subject's schema and pipeline (a run's
/// candidates share one).
pub fn measure_latency<C: Clock>(
    subjects: &[Subject<'_>],
    test: &Dataset,
    features: &[f32],
    settings: &MeasureSettings,
    seed: u64,
    clock: &C,
    progress: &dyn Progress,
) -> Result<LatencyRun> {
    settings.validate().map_err(Error::Measure)?;
    let n_rows = test.n_rows();
    if n_rows == 0 || subjects.is_empty() {
        return Err(Error::Measure(
            "nothing to measure: no test rows or no candidates".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n_rows).collect();
    order.shuffle(&mut rng);

    let overhead = timer_overhead(clock);
    // Every sample is reported net of the median cost of reading the clock
    // twice (what a call would measure if it did nothing).
    let net = overhead.p50.0;

    let width = subjects
        .iter()
        .map(|s| s.pipeline.n_outputs())
        .max()
        .unwrap_or(0);
    let mut buf = vec![0.0f32; width];
    let mut scratches: Vec<Scratch> = subjects.iter().map(|s| s.compiled.scratch()).collect();
    let plans: Vec<RowPlan<'_>> = subjects.iter().map(|s| s.pipeline.row_plan()).collect();
    let d = subjects[0].pipeline.n_outputs();
    let requests = test.requests();
    let raw = |i: usize| requests.row(i);

    progress.stage("warming up", subjects.len() as u64);
    for ((s, plan), scratch) in subjects.iter().zip(&plans).zip(&mut scratches) {
        let start = clock.now();
        let mut calls = 0usize;
        let mut cursor = 0usize;
        while calls < settings.warmup_calls
            || clock.now().saturating_sub(start) < settings.warmup_ms * 1_000_000
        {
            let i = order[cursor];
            cursor = (cursor + 1) % n_rows;
            black_box(end_to_end(s, plan, raw(i), &mut buf, scratch));
            calls += 1;
        }
        progress.advance(1);
    }
    progress.finish_stage();

    let per_round = settings.timed_calls.div_ceil(settings.rounds);
    let mut model_samples: Vec<Vec<u64>> =
        vec![Vec::with_capacity(settings.timed_calls); subjects.len()];
    let mut e2e_samples: Vec<Vec<u64>> =
        vec![Vec::with_capacity(settings.timed_calls); subjects.len()];
    let mut round_p50s: Vec<Vec<Nanos>> = vec![Vec::with_capacity(settings.rounds); subjects.len()];
    let mut validate_samples = Vec::with_capacity(settings.timed_calls);
    let mut preprocess_samples = Vec::with_capacity(settings.timed_calls);
    let first_subject = subjects[0];
    // The stages on their own (once per run: every candidate shares the
    // pipeline) take a turn of their own, like a candidate: timed at the end
    // of each round, they met rows the largest models had pushed out of
    // cache, and validation (the first to read the row) measured 8-138 ns
    // at p50 from run to run.
    let stage_turn = subjects.len();
    let mut turn: Vec<usize> = (0..=stage_turn).collect();
    progress.stage("timing", (settings.rounds * subjects.len()) as u64);
    for round in 0..settings.rounds {
        let calls = per_round.min(settings.timed_calls - round * per_round);
        if calls == 0 {
            break;
        }
        let first = (round * per_round) % n_rows;
        let from: Vec<usize> = e2e_samples.iter().map(Vec::len).collect();
        let per_slice = calls.div_ceil(SLICES);
        for slice_first in (0..calls).step_by(per_slice) {
            let slice = slice_first..calls.min(slice_first + per_slice);
            turn.shuffle(&mut rng);
            for &si in &turn {
                let row_of = |c: usize| order[(first + c) % n_rows];
                if si == stage_turn {
                    let (s, plan, out) = (first_subject, &plans[0], &mut buf[..d]);
                    for c in 0..REWARM_CALLS {
                        let row = raw(row_of(slice.end + c));
                        black_box(s.schema.validate(row).is_ok());
                        plan.transform(row, out);
                    }
                    for c in slice.clone() {
                        let row = raw(row_of(c));
                        let t0 = clock.now();
                        black_box(s.schema.validate(black_box(row)).is_ok());
                        let t1 = clock.now();
                        plan.transform(black_box(row), out);
                        black_box(&*out);
                        let t2 = clock.now();
                        validate_samples.push(t1.saturating_sub(t0).saturating_sub(net));
                        preprocess_samples.push(t2.saturating_sub(t1).saturating_sub(net));
                    }
                    continue;
                }
                let s = &subjects[si];
                let (plan, scratch) = (&plans[si], &mut scratches[si]);
                // On the rows after the slice, so no timed call repeats a
                // row the re-warm just served.
                for c in 0..REWARM_CALLS {
                    let i = row_of(slice.end + c);
                    black_box(end_to_end(s, plan, raw(i), &mut buf, scratch));
                }
                // The two paths take turns call by call, so they are timed
                // in the same cache state, each on the slice's rows; the
                // end-to-end call takes the row half a slice on, so no call
                // repeats the one before it.
                let (model_samples, e2e_samples) = (&mut model_samples[si], &mut e2e_samples[si]);
                for c in slice.clone() {
                    let i = row_of(c);
                    let row = &features[i * d..(i + 1) * d];
                    let t0 = clock.now();
                    black_box(s.compiled.predict(black_box(row), scratch));
                    let t1 = clock.now();
                    model_samples.push(t1.saturating_sub(t0).saturating_sub(net));
                    let shifted = slice.start + (c - slice.start + slice.len() / 2) % slice.len();
                    let row = raw(row_of(shifted));
                    let t0 = clock.now();
                    black_box(end_to_end(s, plan, black_box(row), &mut buf, scratch));
                    let t1 = clock.now();
                    e2e_samples.push(t1.saturating_sub(t0).saturating_sub(net));
                }
            }
        }
        for (si, samples) in e2e_samples.iter().enumerate() {
            let mut this_round = samples[from[si]..].to_vec();
            this_round.sort_unstable();
            round_p50s[si].push(Nanos(this_round[this_round.len() / 2]));
            progress.advance(1);
        }
    }
    progress.finish_stage();

    let stages = StageLatency {
        request: requests.form(),
        validate: LatencyStats::from_samples(&mut validate_samples)?,
        preprocess: LatencyStats::from_samples(&mut preprocess_samples)?,
    };
    let mut out = Vec::with_capacity(subjects.len());
    for si in 0..subjects.len() {
        out.push(SubjectLatency {
            model_only: LatencyStats::from_samples(&mut model_samples[si])?,
            end_to_end: LatencyStats::from_samples(&mut e2e_samples[si])?,
            round_p50s: std::mem::take(&mut round_p50s[si]),
        });
    }
    Ok(LatencyRun {
        overhead,
        stages,
        subjects: out,
    })
}

/// One served request: validate the raw row, run the pipeline into `buf`,
/// predict. An invalid row is answered with `u32::MAX` (what a server would
/// turn into an error response), so its cost is still counted.
#[inline(always)]
fn end_to_end(
    s: &Subject<'_>,
    plan: &RowPlan<'_>,
    raw: Request<'_, '_>,
    buf: &mut [f32],
    scratch: &mut Scratch,
) -> u32 {
    let out = &mut buf[..plan.n_outputs()];
    if plan.serve(raw, out).is_err() {
        return u32::MAX;
    }
    s.compiled.predict(out, scratch)
}

fn timer_overhead<C: Clock>(clock: &C) -> TimerOverhead {
    let mut samples: Vec<u64> = (0..10_000)
        .map(|_| {
            let t0 = clock.now();
            let t1 = clock.now();
            t1.saturating_sub(t0)
        })
        .collect();
    samples.sort_unstable();
    TimerOverhead {
        p50: Nanos(samples[samples.len() / 2]),
        p99: Nanos(samples[samples.len() * 99 / 100]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LinearModel, Link, Model};
    use crate::pipeline::{FittedPipeline, PipelineConfig};
    use crate::progress::Silent;
    use std::cell::Cell;

    /// Advances a fixed step on every read.
    struct FakeClock {
        t: Cell<u64>,
        step: u64,
    }

    impl Clock for FakeClock {
        fn now(&self) -> u64 {
            let t = self.t.get() + self.step;
            self.t.set(t);
            t
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s: Vec<u64> = (1..=1000).rev().collect();
        let st = LatencyStats::from_samples(&mut s).unwrap();
        assert_eq!(
            (st.p50, st.p95, st.p99, st.p99_9, st.max),
            (Nanos(500), Nanos(950), Nanos(990), Nanos(999), Nanos(1000))
        );
        assert_eq!(st.mean, Nanos(500));
        assert!(st.p99_upper >= st.p99 && st.p99_upper < st.max, "{st:?}");
        assert!(LatencyStats::from_samples(&mut vec![1; 661]).is_err());
    }

    #[test]
    fn upper_bound_rank_matches_the_binomial_definition() {
        // n = 10,000, q = 0.99: 9,917 by exact binomial sums in Python
        // (normal approximation: 9,900 + 1.645 · 9.95 + 1 ≈ 9,917).
        let k = upper_bound_rank(10_000, 0.99, 0.95).unwrap();
        assert_eq!(k, 9917);
        // 1 − 0.99^298 < 0.95: no order statistic bounds p99 from 298 calls.
        assert_eq!(upper_bound_rank(298, 0.99, 0.95), None);
        assert_eq!(upper_bound_rank(299, 0.99, 0.95), Some(299));
        // Below the maximum from 473 calls on (values checked in Python
        // with exact binomial sums).
        assert_eq!(upper_bound_rank(472, 0.99, 0.95), Some(472));
        assert_eq!(upper_bound_rank(473, 0.99, 0.95), Some(472));
        assert_eq!(upper_bound_rank(662, 0.99, 0.95), Some(660));
        assert_eq!(upper_bound_rank(1000, 0.99, 0.95), Some(996));
    }

    #[test]
    fn harness_times_every_call_in_interleaved_rounds_with_a_fake_clock() {
        let test = Dataset::numeric(
            vec!["a".into()],
            (0..50).map(f64::from).collect(),
            vec![0; 50],
            vec!["0".into(), "1".into()],
        );
        let pipeline = FittedPipeline::fit(&test, &PipelineConfig::default()).unwrap();
        let features = pipeline.transform(&test);
        let model = Model::Linear(LinearModel {
            n_features: 1,
            n_classes: 2,
            link: Link::Logistic,
            weights: vec![1.0],
            bias: vec![0.0],
        });
        let compiled = model.compile().unwrap();
        let schema = test.schema();
        let s = Subject {
            schema: &schema,
            pipeline: &pipeline,
            model: &model,
            compiled: &compiled,
        };
        let settings = MeasureSettings {
            warmup_calls: 10,
            warmup_ms: 0,
            timed_calls: 700,
            rounds: 7,
            ..Default::default()
        };
        let clock = FakeClock {
            t: Cell::new(0),
            step: 40,
        };
        let run =
            measure_latency(&[s, s], &test, &features, &settings, 1, &clock, &Silent).unwrap();
        assert_eq!(run.overhead.p50, Nanos(40));
        assert_eq!(run.subjects.len(), 2);
        // Each stage is timed once per call, also net of the timer.
        assert_eq!(run.stages.validate.calls, 700);
        assert_eq!(run.stages.preprocess.p99, Nanos(0));
        for l in &run.subjects {
            // Each timed call spans exactly one clock step, which is all
            // timer overhead: net of it, the fake calls cost nothing.
            assert_eq!(l.model_only.calls, 700);
            assert_eq!(l.end_to_end.p99, Nanos(0));
            assert_eq!(l.round_p50s.len(), 7);
        }
        let too_few = MeasureSettings {
            timed_calls: 100,
            ..settings
        };
        assert!(measure_latency(&[s], &test, &features, &too_few, 1, &clock, &Silent).is_err());
    }
}
