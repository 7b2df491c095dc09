//! Measurement, identical for every candidate: every quality metric on the
//! test set ([`Quality`]), single-row latency (model-only and end-to-end), batch
//! throughput, size on disk and load time.
//!
//! Uses `data`, `pipeline`, `model`. Key types: [`MeasureSettings`] (from the
//! config), [`Subject`] (what is measured: the serving path of one
//! candidate), [`Offline`] and [`LatencyRun`] (its figures),
//! [`RoundAnalysis`] (a run's rounds judged together), [`Nanos`].

mod latency;
pub mod quality;

pub(crate) use latency::upper_bound_rank;
pub use latency::{
    measure_latency, Clock, Interleaving, LatencyRun, LatencyStats, MonotonicClock, StageLatency,
    SubjectLatency, TimerOverhead, MIN_CALLS_FOR_P99, REWARM_CALLS, SLICES,
};
pub use quality::{accuracy, f1_macro, Metric, Quality};

use crate::data::{Dataset, InputSchema};
use crate::error::{Error, Result};
use crate::model::{CompiledModel, Model};
use crate::pipeline::FittedPipeline;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A duration in nanoseconds: what the tool measures. Milliseconds appear
/// only where a person reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Nanos(pub u64);

impl Nanos {
    pub fn from_ms(ms: f64) -> Nanos {
        Nanos((ms * 1e6).round() as u64)
    }

    pub fn as_ms(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl std::fmt::Display for Nanos {
    /// In the unit that reads best: `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0 as f64;
        if n < 1e3 {
            write!(f, "{} ns", self.0)
        } else if n < 1e6 {
            write!(f, "{:.3} µs", n / 1e3)
        } else if n < 1e9 {
            write!(f, "{:.3} ms", n / 1e6)
        } else {
            write!(f, "{:.2} s", n / 1e9)
        }
    }
}

/// How measurements are taken; the `[measure]` table of the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeasureSettings {
    /// Warm-up calls per candidate before timing (at least this many…)
    pub warmup_calls: usize,
    /// …and for at least this long.
    pub warmup_ms: u64,
    /// Timed single-row calls per candidate and per path (model-only and
    /// end-to-end). Never below 662, so a p99 always has a confidence bound.
    pub timed_calls: usize,
    /// Candidates are measured in this many interleaved rounds, so a noisy
    /// neighbour hurts them all alike.
    pub rounds: usize,
    /// Batch throughput runs the whole test set repeatedly for this long.
    pub batch_ms: u64,
    /// Loads timed per candidate (the median is reported).
    pub load_repeats: usize,
    /// A candidate whose per-round p50s spread (max − min) by more than
    /// this share of their median — and by more than two timer reads — is
    /// flagged "noisy".
    pub noise_tolerance: f64,
    /// zstd levels tried on every model; the artifact uses the one
    /// [`Compression::choose`] picks.
    pub zstd_levels: Vec<i32>,
}

impl Default for MeasureSettings {
    fn default() -> Self {
        MeasureSettings {
            warmup_calls: 1000,
            warmup_ms: 1000,
            timed_calls: 10_000,
            rounds: 10,
            batch_ms: 200,
            load_repeats: 5,
            noise_tolerance: 0.5,
            zstd_levels: vec![1, 3, 9, 19],
        }
    }
}

impl MeasureSettings {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.timed_calls < MIN_CALLS_FOR_P99 {
            return Err(format!(
                "timed_calls = {}: at least {MIN_CALLS_FOR_P99} are needed for a p99 with a 95% upper bound",
                self.timed_calls
            ));
        }
        if self.rounds == 0 || self.rounds > self.timed_calls {
            return Err(format!(
                "rounds = {}: expected 1 to timed_calls",
                self.rounds
            ));
        }
        if self.load_repeats == 0 {
            return Err("load_repeats must be at least 1".into());
        }
        if !(self.noise_tolerance.is_finite() && self.noise_tolerance > 0.0) {
            return Err(format!(
                "noise_tolerance = {}: expected a share > 0, e.g. 0.5",
                self.noise_tolerance
            ));
        }
        if self.zstd_levels.is_empty() {
            return Err("zstd_levels: name at least one level, e.g. [3, 19]".into());
        }
        if let Some(l) = self.zstd_levels.iter().find(|l| !(1..=22).contains(*l)) {
            return Err(format!("zstd_levels: {l} — expected 1 to 22"));
        }
        Ok(())
    }
}

/// Spread of per-round medians relative to their median: `(max − min) /
/// median`, 0 with fewer than two rounds.
pub fn round_spread(round_p50s: &[Nanos]) -> f64 {
    relative_range(round_p50s.iter().map(|n| n.0 as f64).collect(), 1.0)
}

/// `(max − min) / median` (the upper median, at least `floor`), 0 for
/// fewer than two values: how [`round_spread`] (floor 1 ns) and
/// [`host_spread`] measure.
fn relative_range(mut v: Vec<f64>, floor: f64) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    (v[v.len() - 1] - v[0]) / upper_median(&v).max(floor)
}

/// The upper median of sorted values.
fn upper_median(sorted: &[f64]) -> f64 {
    sorted[sorted.len() / 2]
}

/// Largest minus smallest of the per-round medians.
pub fn round_range(round_p50s: &[Nanos]) -> Nanos {
    let max = round_p50s.iter().max().copied().unwrap_or_default();
    let min = round_p50s.iter().min().copied().unwrap_or_default();
    Nanos(max.0 - min.0)
}

/// Fewest candidates from which a round's common slowdown is told apart
/// from one candidate's own: the median of three outvotes one.
pub const MIN_CANDIDATES_FOR_HOST_SPEED: usize = 3;

/// The machine's speed in each round, as a factor on every candidate's
/// time: the median over candidates of their round p50 ÷ their median
/// round p50 (1 in every round when the machine held steady). The
/// candidates take turns within every slice of a round, so a host that
/// slows down slows them all by about this factor; dividing it out leaves
/// each candidate's own noise. All 1 with fewer than
/// [`MIN_CANDIDATES_FOR_HOST_SPEED`] candidates or rounds of unequal count.
pub fn host_speed(round_p50s: &[&[Nanos]]) -> Vec<f64> {
    let rounds = round_p50s.first().map_or(0, |r| r.len());
    if round_p50s.len() < MIN_CANDIDATES_FOR_HOST_SPEED
        || round_p50s.iter().any(|r| r.len() != rounds)
    {
        return vec![1.0; rounds];
    }
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let relative: Vec<Vec<f64>> = round_p50s
        .iter()
        .map(|r| {
            let ns: Vec<f64> = r.iter().map(|n| n.0 as f64).collect();
            let median = upper_median(&sorted(ns.clone())).max(1.0);
            ns.iter().map(|x| x / median).collect()
        })
        .collect();
    (0..rounds)
        .map(|k| {
            let factor = upper_median(&sorted(relative.iter().map(|r| r[k]).collect()));
            if factor > 0.0 {
                factor
            } else {
                1.0
            }
        })
        .collect()
}

/// A candidate's round p50s with the host's speed divided out
/// ([`host_speed`]): what [`round_spread`] and [`round_range`] judge.
pub fn without_host(round_p50s: &[Nanos], speed: &[f64]) -> Vec<Nanos> {
    round_p50s
        .iter()
        .zip(speed)
        .map(|(n, f)| Nanos((n.0 as f64 / f).round() as u64))
        .collect()
}

/// How far the host's speed moved between rounds: `(max − min) / median`
/// of [`host_speed`]'s factors, as [`round_spread`] measures a candidate.
pub fn host_spread(speed: &[f64]) -> f64 {
    relative_range(speed.to_vec(), f64::MIN_POSITIVE)
}

/// A run's rounds judged together: the host's speed in each round and how
/// far it moved, and each candidate's own spread and noisy flag once that
/// speed is divided out.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundAnalysis {
    /// [`host_speed`]'s factor for each round.
    pub host_speed: Vec<f64>,
    /// [`host_spread`] of those factors.
    pub host_spread: f64,
    /// Per candidate: [`round_spread`] of its rounds without the host.
    pub spread: Vec<f64>,
    /// Per candidate: whether its rounds disagree beyond the tolerance.
    pub noisy: Vec<bool>,
}

/// Judges every candidate on its per-round p50s (`round_p50s`, one slice a
/// candidate) with the machine's own changes of speed divided out: every
/// candidate took turns in every slice, so they all felt them, and those
/// are reported once for the run. A candidate is noisy when its spread is
/// above `noise_tolerance` and its rounds differ by more than two timer
/// reads (`timer.p50` each): rounds closer than that cannot be told apart,
/// and cheap models are not called noisy for that.
pub fn analyse_rounds(
    round_p50s: &[&[Nanos]],
    timer: TimerOverhead,
    noise_tolerance: f64,
) -> RoundAnalysis {
    let host_speed = host_speed(round_p50s);
    let own: Vec<Vec<Nanos>> = round_p50s
        .iter()
        .map(|r| without_host(r, &host_speed))
        .collect();
    let spread: Vec<f64> = own.iter().map(|r| round_spread(r)).collect();
    let noisy: Vec<bool> = own
        .iter()
        .zip(&spread)
        .map(|(r, &s)| s > noise_tolerance && round_range(r).0 > 2 * timer.p50.0)
        .collect();
    RoundAnalysis {
        host_spread: host_spread(&host_speed),
        host_speed,
        spread,
        noisy,
    }
}

/// The serving path of one candidate: validate → preprocess → predict.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub schema: &'a InputSchema,
    pub pipeline: &'a FittedPipeline,
    /// The saved form: sizes and load times.
    pub model: &'a Model,
    /// Its run-time form: every prediction.
    pub compiled: &'a CompiledModel,
}

/// Sizes of the encoded model: raw, and compressed at the chosen level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    pub raw: u64,
    pub compressed: u64,
}

/// One zstd level tried on a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Compression {
    pub level: i32,
    pub bytes: u64,
    /// Time to compress (once, at packaging).
    pub compress_ns: Nanos,
    /// Median time to decompress, decode, check and compile the model.
    pub load_ns: Nanos,
}

impl Compression {
    /// The level an artifact should use: the smallest file (ties: the lower
    /// level, which compresses faster). Load times are recorded beside each
    /// level but do not enter the rule: zstd decompresses at nearly the same
    /// speed at every level, and a rule on measured times would make the
    /// package's bytes depend on a noisy neighbour (same seed, same bytes).
    pub fn choose(tried: &[Compression]) -> Option<Compression> {
        tried.iter().min_by_key(|c| (c.bytes, c.level)).copied()
    }
}

/// Quality on the test set, and the cost of storing and loading a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offline {
    pub accuracy: f64,
    pub f1_macro: f64,
    #[serde(default)]
    pub balanced_accuracy: f64,
    /// `None` when the test set holds one class.
    #[serde(default)]
    pub roc_auc: Option<f64>,
    #[serde(default)]
    pub log_loss: f64,
    pub size_bytes: Sizes,
    pub load: Nanos,
    /// Every level tried, and the one chosen.
    pub compression: Vec<Compression>,
    pub zstd_level: i32,
    /// End-to-end rows per second on whole-test-set batches, one thread.
    pub throughput_rows_per_s: f64,
}

impl Offline {
    /// Its quality metrics together.
    pub fn quality(&self) -> Quality {
        Quality {
            accuracy: self.accuracy,
            balanced_accuracy: self.balanced_accuracy,
            f1_macro: self.f1_macro,
            roc_auc: self.roc_auc,
            log_loss: self.log_loss,
        }
    }
}

/// Every quality metric ([`Quality`]), sizes, load time and batch throughput of one subject.
/// `features` is the test set after the pipeline (row-major).
pub fn measure_offline(
    subject: Subject<'_>,
    test: &Dataset,
    features: &[f32],
    settings: &MeasureSettings,
) -> Result<Offline> {
    let mut pred = Vec::with_capacity(test.n_rows());
    subject.compiled.predict_batch(features, &mut pred);
    // One column per class of the data: a model that knows fewer classes
    // (an imported file) gives the others probability 0.
    let (k, n) = (subject.compiled.n_classes().max(1), test.n_classes());
    let mut proba = vec![0.0f64; test.n_rows() * n];
    for (row, out) in subject
        .compiled
        .predict_proba_batch(features)
        .chunks_exact(k)
        .zip(proba.chunks_exact_mut(n.max(1)))
    {
        for (o, &p) in out.iter_mut().zip(row) {
            *o = f64::from(p);
        }
    }
    let quality = Quality::compute(&test.y, &pred, &proba, n);

    let raw = subject.model.to_bytes();
    let mut tried = Vec::with_capacity(settings.zstd_levels.len());
    for &level in &settings.zstd_levels {
        let t = Instant::now();
        let compressed =
            zstd::bulk::compress(&raw, level).map_err(|e| Error::Measure(format!("zstd: {e}")))?;
        let compress_ns = Nanos(t.elapsed().as_nanos() as u64);
        let mut loads = Vec::with_capacity(settings.load_repeats);
        for _ in 0..settings.load_repeats {
            let t = Instant::now();
            let bytes = zstd::bulk::decompress(&compressed, raw.len())
                .map_err(|e| Error::Measure(format!("zstd: {e}")))?;
            let m = Model::from_bytes(&bytes)
                .and_then(|m| m.compile())
                .map_err(Error::Measure)?;
            std::hint::black_box(&m);
            loads.push(t.elapsed().as_nanos() as u64);
        }
        loads.sort_unstable();
        tried.push(Compression {
            level,
            bytes: compressed.len() as u64,
            compress_ns,
            load_ns: Nanos(loads[loads.len() / 2]),
        });
    }
    let chosen = Compression::choose(&tried).expect("validated: at least one level");

    Ok(Offline {
        accuracy: quality.accuracy,
        f1_macro: quality.f1_macro,
        balanced_accuracy: quality.balanced_accuracy,
        roc_auc: quality.roc_auc,
        log_loss: quality.log_loss,
        size_bytes: Sizes {
            raw: raw.len() as u64,
            compressed: chosen.bytes,
        },
        load: chosen.load_ns,
        compression: tried,
        zstd_level: chosen.level,
        throughput_rows_per_s: batch_throughput(subject, test, settings.batch_ms),
    })
}

/// End-to-end rows per second over the whole test set, repeated for at least
/// `batch_ms` (and at least twice).
fn batch_throughput(subject: Subject<'_>, test: &Dataset, batch_ms: u64) -> f64 {
    let d = subject.pipeline.n_outputs();
    let requests = test.requests();
    let plan = subject.pipeline.row_plan();
    let mut features = vec![0.0f32; test.n_rows() * d];
    let mut pred = Vec::with_capacity(test.n_rows());
    // The figure is one thread's, as reported: big batches would otherwise
    // spread over rayon's global pool.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool starts");
    let start = Instant::now();
    let mut rows = 0u64;
    let mut passes = 0;
    while passes < 2 || start.elapsed().as_millis() < u128::from(batch_ms) {
        for (i, out) in features.chunks_exact_mut(d.max(1)).enumerate() {
            let request = requests.row(i);
            if subject.schema.validate(request).is_ok() {
                plan.transform(request, out);
            }
        }
        one_thread.install(|| subject.compiled.predict_batch(&features, &mut pred));
        std::hint::black_box(&pred);
        rows += test.n_rows() as u64;
        passes += 1;
    }
    rows as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_print_in_the_unit_that_reads_best() {
        assert_eq!(Nanos(850).to_string(), "850 ns");
        assert_eq!(Nanos(12_345).to_string(), "12.345 µs");
        assert_eq!(Nanos(4_560_000).to_string(), "4.560 ms");
        assert_eq!(Nanos::from_ms(0.2), Nanos(200_000));
    }

    #[test]
    fn compression_takes_the_smallest_file_whatever_the_timings() {
        let c = |level, bytes, load| Compression {
            level,
            bytes,
            compress_ns: Nanos(1),
            load_ns: Nanos(load),
        };
        let tried = [
            c(1, 900, 100),
            c(3, 800, 105),
            c(19, 700, 140),
            c(22, 650, 160),
        ];
        assert_eq!(Compression::choose(&tried).unwrap().level, 22);
        let tie = [c(3, 700, 100), c(19, 700, 100)];
        assert_eq!(Compression::choose(&tie).unwrap().level, 3);
        assert!(Compression::choose(&[]).is_none());
    }

    fn ns(v: &[u64]) -> Vec<Nanos> {
        v.iter().map(|&x| Nanos(x)).collect()
    }

    /// Three candidates that felt only the host (twice as slow in round 2,
    /// 1.5 times in round 5), and one whose round 4 is slow on its own.
    fn steady_and_jumpy() -> [Vec<Nanos>; 4] {
        [
            ns(&[100, 200, 100, 100, 150]),
            ns(&[40, 80, 40, 40, 60]),
            ns(&[1000, 2000, 1000, 1000, 1500]),
            ns(&[500, 1000, 500, 2000, 750]),
        ]
    }

    /// A slowdown every candidate feels is the host's and is divided out;
    /// one candidate's own jump is not; with two candidates nothing can be
    /// told apart, so nothing is divided out.
    #[test]
    fn host_speed_divides_out_what_every_candidate_felt() {
        let [a, b, c, jumpy] = steady_and_jumpy();
        let speed = host_speed(&[&a, &b, &c, &jumpy]);
        assert_eq!(speed, [1.0, 2.0, 1.0, 1.0, 1.5]);
        assert_eq!(host_spread(&speed), 1.0);
        for steady in [&a, &b, &c] {
            assert_eq!(round_spread(steady), 1.0, "raw: the host's doing");
            assert_eq!(round_spread(&without_host(steady, &speed)), 0.0);
        }
        let own = without_host(&jumpy, &speed);
        assert_eq!(own, ns(&[500, 500, 500, 2000, 500]));
        assert_eq!(round_spread(&own), 3.0);
        assert_eq!(host_speed(&[&a, &jumpy]), [1.0; 5]);
        assert_eq!(host_speed(&[&a, &b, &ns(&[1, 2])]), [1.0; 5]);
        assert_eq!(host_spread(&[1.0]), 0.0);
    }

    /// The host's slowdown flags nobody; a candidate's own jump does, unless
    /// its rounds differ by no more than two timer reads.
    #[test]
    fn analyse_rounds_flags_own_noise_beyond_two_timer_reads() {
        let [a, b, c, jumpy] = steady_and_jumpy();
        let cheap = ns(&[2, 4, 2, 6, 3]);
        let timer = |p50| TimerOverhead {
            p50: Nanos(p50),
            p99: Nanos(p50),
        };
        let rounds = [&a[..], &b, &c, &jumpy, &cheap];
        let r = analyse_rounds(&rounds, timer(10), 0.5);
        assert_eq!(r.host_speed, [1.0, 2.0, 1.0, 1.0, 1.5]);
        assert_eq!(r.host_spread, 1.0);
        assert_eq!(r.spread[..4], [0.0, 0.0, 0.0, 3.0]);
        // The cheap one's own rounds are 2, 2, 2, 6, 2 ns: a spread of 2,
        // but a range of 4 ns, within two timer reads of 10 ns.
        assert_eq!(r.spread[4], 2.0);
        assert_eq!(r.noisy, [false, false, false, true, false]);
        let r = analyse_rounds(&rounds, timer(1), 0.5);
        assert_eq!(r.noisy, [false, false, false, true, true]);
        let r = analyse_rounds(&rounds, timer(1), 3.0);
        assert_eq!(r.noisy, [false; 5]);
    }

    #[test]
    fn round_spread_is_range_over_median() {
        assert_eq!(round_spread(&[Nanos(100)]), 0.0);
        let s = round_spread(&[Nanos(100), Nanos(120), Nanos(90), Nanos(150)]);
        assert!((s - 60.0 / 120.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn settings_refuse_too_few_calls_for_a_p99() {
        let s = MeasureSettings {
            timed_calls: 500,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().contains("at least 662"));
    }
}
