//! The latency–quality Pareto frontier and the choice within a budget, with
//! a sentence that explains it.
//!
//! Uses only measurement results (as plain [`Point`]s). Key types: [`Budget`],
//! [`Selection`].
//!
//! Quality is one [`Metric`] (accuracy unless the user says otherwise),
//! carried as a "higher is better" score ([`Metric::score`]: log-loss is
//! negated), so the frontier, the choice and the tolerance have one code
//! path for every metric; the sentences turn the score back into the
//! metric's value.
//!
//! Two latencies, for two questions:
//! - the **frontier** compares candidates by their end-to-end **p50**, the
//!   latency of a typical request. It ranks candidates the same way run after
//!   run (Kendall τ 0.97 between two default runs), where the p99 of a
//!   sub-microsecond call is mostly the timer and interrupts and moves by
//!   30–70 % between runs (τ 0.86): a frontier drawn on it changed with the
//!   machine's mood, not the models;
//! - the **budget** is a promise about the tail, so it is checked against the
//!   end-to-end p99's 95% *upper confidence bound*, not the p99 itself, so
//!   that a lucky run cannot sneak in a model whose true p99 is over budget.

use crate::measure::{Metric, Nanos};
use serde::{Deserialize, Serialize};

/// One candidate as selection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: String,
    /// The chosen metric's value, made "higher is better"
    /// ([`Metric::score`]).
    pub score: f64,
    /// End-to-end p50: the frontier's latency.
    pub p50: Nanos,
    /// End-to-end p99.
    pub p99: Nanos,
    /// Its 95% upper confidence bound: the budget's latency.
    pub p99_upper: Nanos,
    /// The end-to-end p50 of each measurement round, the rounds interleaved
    /// with every other point's (so round `k` of two points met the same
    /// machine): what tells two latencies apart ([`clearly_faster`]).
    pub round_p50s: Vec<Nanos>,
    /// Two timer reads: no p50 difference below this is real.
    pub floor: Nanos,
    /// Bytes of the encoded model (deterministic): what breaks a tie
    /// between two equally accurate models that a clock cannot tell apart.
    pub size: u64,
}

/// The share of a p50 that two latencies must differ by to be told apart
/// when their rounds cannot say (fewer than [`MIN_ROUNDS`] paired rounds):
/// consecutive runs on a shared machine moved a p50 by 2–13 %, one
/// disturbed run's rounds by 30–160 %.
pub const LATENCY_RESOLUTION: f64 = 0.25;

/// Paired rounds needed for a 95% interval on their median ratio.
pub const MIN_ROUNDS: usize = 6;

/// The smallest latency ratio worth a different choice, however surely
/// measured: a 3 % difference that one run measures tightly can come out
/// the other way on the next run of the same models (layouts and caches
/// differ between processes), and the choice should not flip with it.
pub const MIN_EFFECT: f64 = 0.05;

/// A distribution-free confidence interval of at least 95% on the median
/// of the per-round ratios `a[k] / b[k]` (the sign test's order statistics:
/// the median lies between the `j`-th smallest and the `j`-th largest
/// ratio with probability 1 − 2·P(Binomial(n, ½) < j)); `None` with fewer
/// than [`MIN_ROUNDS`] paired rounds. Pairing by round cancels what a round
/// did to both (a noisy neighbour slows every candidate of that round).
pub fn ratio_interval(a: &[Nanos], b: &[Nanos]) -> Option<(f64, f64)> {
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| y.0 > 0 && x.0 > 0)
        .map(|(x, y)| x.0 as f64 / y.0 as f64)
        .collect();
    let n = ratios.len();
    if n < MIN_ROUNDS {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    // The largest j with 2·P(X ≤ j − 1) ≤ 0.05, X ~ Binomial(n, ½).
    let half_n = 0.5f64.powi(n as i32);
    let (mut tail, mut choose, mut j) = (0.0, 1.0f64, 0);
    for i in 0..n {
        tail += choose * half_n;
        if 2.0 * tail > 0.05 {
            break;
        }
        j = i + 1;
        choose = choose * (n - i) as f64 / (i + 1) as f64;
    }
    (j > 0).then(|| (ratios[j - 1], ratios[n - j]))
}

/// Whether `a`'s latency is below `b`'s by more than the measurement can
/// blur: by more than two timer reads, and — from their interleaved rounds
/// — with the whole 95% interval of the median per-round ratio `a / b`
/// below 1 / (1 + [`MIN_EFFECT`]). A quiet pair at 1.2× is told apart; a pair at 1.4× whose rounds
/// scatter across 1 is not. Without enough rounds (an older results file),
/// the fixed [`LATENCY_RESOLUTION`] band decides.
pub fn clearly_faster(a: &Point, b: &Point) -> bool {
    if b.p50.0 <= a.p50.0 + a.floor.0.max(b.floor.0) {
        return false;
    }
    match ratio_interval(&a.round_p50s, &b.round_p50s) {
        Some((_, upper)) => upper * (1.0 + MIN_EFFECT) < 1.0,
        None => a.p50.0 as f64 * (1.0 + LATENCY_RESOLUTION) < b.p50.0 as f64,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Limit on the end-to-end p99 upper bound.
    pub p99: Nanos,
    /// When set, pick the *fastest* candidate within this much of the best
    /// one that fits, in the metric's units as the user gives them
    /// (percentage points for shares, nats for log-loss:
    /// [`Metric::tolerance_in_score_units`]).
    pub accuracy_tolerance_pp: Option<f64>,
    /// What the choice maximises.
    #[serde(default)]
    pub metric: Metric,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Index of the chosen point; `None` when nothing fits.
    pub chosen: Option<usize>,
    /// When nothing fits: the candidate closest to fitting (smallest bound).
    pub closest: Option<usize>,
    pub pareto_optimal: Vec<bool>,
    pub within_budget: Vec<bool>,
    pub reason: String,
}

/// Indices on the frontier (score against p50), under measurement noise:
/// a point is dominated when another scores higher and not clearly
/// slower, or as high and clearly faster — "clearly" as
/// [`clearly_faster`] judges from the two points' rounds. Equally accurate
/// points whose latencies are within noise of each other all stay on the
/// frontier, so the small moves between two runs of the same models leave
/// it as it is (a pair whose ratio sits at the band's edge can still fall
/// either side); with latencies told apart exactly this is the textbook
/// Pareto front.
pub fn pareto_front(points: &[Point]) -> Vec<bool> {
    points
        .iter()
        .map(|a| {
            !points.iter().any(|b| {
                (b.score > a.score && !clearly_faster(a, b))
                    || (b.score == a.score && clearly_faster(b, a))
            })
        })
        .collect()
}

pub fn select(points: &[Point], budget: &Budget) -> Selection {
    let pareto_optimal = pareto_front(points);
    let within_budget: Vec<bool> = points.iter().map(|p| p.p99_upper <= budget.p99).collect();
    let limit = format_ms(budget.p99);
    let fits: Vec<usize> = (0..points.len()).filter(|&i| within_budget[i]).collect();
    let metric = budget.metric;
    let name = metric.label();
    // The metric's value as a person reads it (log-loss back to positive).
    let shown = |p: &Point| format!("{:.4}", metric.value(p.score));
    // Accuracy keeps its long-standing words; the other metrics say theirs.
    let (best_word, better_word) = if metric == Metric::Accuracy {
        ("most accurate", "more accurate".to_string())
    } else if metric.higher_is_better() {
        ("best", format!("better-scoring ({name})"))
    } else {
        ("best", format!("lower-{name}"))
    };

    // Highest score among those that fit; ties → the faster, within noise.
    let top = fits
        .iter()
        .map(|&i| points[i].score)
        .fold(f64::NEG_INFINITY, f64::max);
    let tied: Vec<usize> = fits
        .iter()
        .copied()
        .filter(|&i| points[i].score == top)
        .collect();
    let best = fastest_within_noise(points, &tied);
    let Some(best) = best else {
        let closest = (0..points.len()).min_by_key(|&i| points[i].p99_upper);
        let reason = match closest {
            Some(c) => format!(
                "No candidate fits the {limit} budget: the closest, `{}`, has an end-to-end p99 upper bound of {} (p99 {}).",
                points[c].id, points[c].p99_upper, points[c].p99
            ),
            None => "No candidates were measured.".to_string(),
        };
        return Selection {
            chosen: None,
            closest,
            pareto_optimal,
            within_budget,
            reason,
        };
    };

    let over: Vec<&Point> = points
        .iter()
        .enumerate()
        .filter(|&(i, p)| !within_budget[i] && p.score > points[best].score)
        .map(|(_, p)| p)
        .collect();
    let mut tail = String::new();
    if let Some(top) = over.iter().max_by(|a, b| a.score.total_cmp(&b.score)) {
        tail = format!(
            " The {better_word} `{}` ({}) is out: its p99 bound of {} exceeds the budget.",
            top.id,
            shown(top),
            top.p99_upper
        );
    }

    let (chosen, reason) = match budget.accuracy_tolerance_pp {
        None => {
            let b = &points[best];
            let twins: Vec<String> = tied
                .iter()
                .filter(|&&i| i != best)
                .map(|&i| format!("`{}`", points[i].id))
                .collect();
            let tie = if twins.is_empty() {
                String::new()
            } else if metric == Metric::Accuracy {
                format!(
                    " As accurate: {}; it is faster at p50 than each of them, or as fast within noise and smaller.",
                    twins.join(", ")
                )
            } else {
                format!(
                    " As good by {name}: {}; it is faster at p50 than each of them, or as fast within noise and smaller.",
                    twins.join(", ")
                )
            };
            let by = if metric == Metric::Accuracy {
                String::new()
            } else {
                format!(" by {name}")
            };
            (
                best,
                format!(
                    "`{}` is the {best_word}{by} of the {} candidates whose end-to-end p99 upper bound fits the {limit} budget: {name} {}, p99 {} (bound {}).{tie}{tail}",
                    b.id,
                    fits.len(),
                    shown(b),
                    b.p99,
                    b.p99_upper
                ),
            )
        }
        Some(tol) => {
            let floor = points[best].score - metric.tolerance_in_score_units(tol);
            // Fastest within the tolerance (within noise: then the higher
            // score, then the smaller).
            let close: Vec<usize> = fits
                .iter()
                .copied()
                .filter(|&i| points[i].score >= floor - 1e-12)
                .collect();
            let pick = fastest_within_noise(points, &close).unwrap_or(best);
            let p = &points[pick];
            let unit = if metric == Metric::Accuracy {
                "accuracy points".to_string()
            } else {
                format!("{} of {name}", metric.tolerance_unit())
            };
            (
                pick,
                format!(
                    "`{}` is the fastest candidate within {tol} {unit} of the best that fits the {limit} budget (`{}`, {}): {name} {}, p99 {} (bound {}).{tail}",
                    p.id,
                    points[best].id,
                    shown(&points[best]),
                    shown(p),
                    p.p99,
                    p.p99_upper
                ),
            )
        }
    };
    Selection {
        chosen: Some(chosen),
        closest: None,
        pareto_optimal,
        within_budget,
        reason,
    }
}

/// The fastest of `among` by p50 — except that the points whose p50 is
/// the fastest one is not [`clearly_faster`] than are not told apart by the clock, so among those the most
/// accurate (highest score) wins, then the smallest model, then the first id. Two runs of
/// the same models then pick the same one: a pick decided by which of two
/// alike latencies came out lower would flip from run to run.
fn fastest_within_noise(points: &[Point], among: &[usize]) -> Option<usize> {
    let &fastest = among.iter().min_by_key(|&&i| points[i].p50)?;
    let f = &points[fastest];
    among
        .iter()
        .copied()
        .filter(|&i| !clearly_faster(f, &points[i]))
        .min_by(|&a, &b| {
            let (a, b) = (&points[a], &points[b]);
            b.score
                .total_cmp(&a.score)
                .then(a.size.cmp(&b.size))
                .then(a.id.cmp(&b.id))
        })
}

/// A budget as the user wrote it: milliseconds, with no trailing zeros.
pub fn format_ms(n: Nanos) -> String {
    let ms = n.as_ms();
    let s = format!("{ms:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A point whose p50 is its p99 (the tests of the frontier are about
    /// one latency); [`frontier_uses_p50_and_budget_the_bound`] separates them.
    fn p(id: &str, accuracy: f64, p99: u64, upper: u64) -> Point {
        Point {
            id: id.into(),
            score: accuracy,
            p50: Nanos(p99),
            p99: Nanos(p99),
            p99_upper: Nanos(upper),
            // Rounds that all agree: latencies told apart exactly.
            round_p50s: vec![Nanos(p99); 10],
            floor: Nanos(0),
            size: 1_000,
        }
    }

    fn points() -> Vec<Point> {
        vec![
            p("logreg", 0.86, 1_000, 1_100),
            p("tree", 0.88, 900, 1_000),
            p("forest-10", 0.90, 5_000, 5_500),
            p("forest-100", 0.92, 40_000, 45_000),
            p("slow-bad", 0.85, 50_000, 52_000),
        ]
    }

    #[test]
    fn frontier_excludes_dominated_points() {
        assert_eq!(pareto_front(&points()), [false, true, true, true, false]);
    }

    /// Rounds whose p50s scatter by ±`spread` around `p50` (a fixed
    /// pattern, the same for every point: what one noisy round does to one
    /// candidate it need not do to another).
    fn rounds(p50: u64, spread: f64, phase: usize) -> Vec<Nanos> {
        let pattern = [0.0, 1.0, -1.0, 0.5, -0.5, 0.8, -0.8, 0.2, -0.2, 0.9];
        (0..10)
            .map(|k| Nanos((p50 as f64 * (1.0 + spread * pattern[(k + phase) % 10])) as u64))
            .collect()
    }

    fn with_rounds(mut x: Point, p50: u64, spread: f64, phase: usize) -> Point {
        x.p50 = Nanos(p50);
        x.round_p50s = rounds(p50, spread, phase);
        x
    }

    #[test]
    fn latencies_are_told_apart_by_their_rounds() {
        // A quiet pair at 1.2×, every round agreeing within 4 %: told
        // apart, so the equally accurate slower one leaves the frontier.
        let quiet = [
            with_rounds(p("a", 0.9, 0, 1_000), 1_000, 0.02, 0),
            with_rounds(p("b", 0.9, 0, 1_300), 1_200, 0.02, 3),
        ];
        assert!(clearly_faster(&quiet[0], &quiet[1]));
        assert_eq!(pareto_front(&quiet), [true, false]);
        // A noisy pair at 1.4×, its rounds scattering by ±60 % each way:
        // not told apart; both stay.
        let noisy = [
            with_rounds(p("a", 0.9, 0, 1_000), 1_000, 0.6, 0),
            with_rounds(p("b", 0.9, 0, 1_500), 1_400, 0.6, 3),
        ];
        assert!(!clearly_faster(&noisy[0], &noisy[1]));
        assert_eq!(pareto_front(&noisy), [true, true]);
        // More accurate and not clearly slower: dominates; clearly slower:
        // does not.
        let pts = [
            with_rounds(p("fast", 0.8, 0, 1_100), 1_000, 0.3, 0),
            with_rounds(p("acc", 0.9, 0, 1_200), 1_080, 0.3, 5),
        ];
        assert_eq!(pareto_front(&pts), [false, true]);
        let pts = [
            with_rounds(p("fast", 0.8, 0, 1_100), 1_000, 0.02, 0),
            with_rounds(p("acc", 0.9, 0, 1_300), 1_200, 0.02, 5),
        ];
        assert_eq!(pareto_front(&pts), [true, true]);
        // A sure 3 % is not worth a different choice.
        let close = [
            with_rounds(p("a", 0.9, 0, 1_000), 1_000, 0.0, 0),
            with_rounds(p("b", 0.9, 0, 1_100), 1_030, 0.0, 0),
        ];
        assert!(!clearly_faster(&close[0], &close[1]));
        // Below two timer reads nothing is told apart.
        let mut floor = quiet.clone();
        for x in &mut floor {
            x.floor = Nanos(250);
        }
        assert!(!clearly_faster(&floor[0], &floor[1]));
        // Too few rounds to say: the fixed 25 % band decides.
        let mut few = quiet.clone();
        for x in &mut few {
            x.round_p50s.truncate(MIN_ROUNDS - 1);
        }
        assert!(!clearly_faster(&few[0], &few[1]));
        few[1].p50 = Nanos(1_300);
        assert!(clearly_faster(&few[0], &few[1]));
    }

    #[test]
    fn the_ratio_interval_is_the_sign_tests() {
        let a: Vec<Nanos> = (1..=10).map(|k| Nanos(100 * k)).collect();
        let b = vec![Nanos(1_000); 10];
        // n = 10: the 2nd smallest and the 2nd largest ratio (97.9 %).
        assert_eq!(ratio_interval(&a, &b), Some((0.2, 0.9)));
        // n = 6: the extremes (96.9 %); n = 5 is too few.
        assert_eq!(ratio_interval(&a[..6], &b[..6]), Some((0.1, 0.6)));
        assert_eq!(ratio_interval(&a[..5], &b[..5]), None);
    }

    #[test]
    fn frontier_uses_p50_and_budget_the_bound() {
        // `tail` is the faster at p50 and the slower at p99: it stays on the
        // frontier (typical latency), but the budget judges its tail bound.
        let mut tail = p("tail", 0.80, 5_000, 6_000);
        tail.p50 = Nanos(500);
        tail.round_p50s = vec![tail.p50; 10];
        let steady = p("steady", 0.90, 2_000, 2_100);
        let mut steady_fast = steady.clone();
        steady_fast.p50 = Nanos(1_000);
        steady_fast.round_p50s = vec![steady_fast.p50; 10];
        assert_eq!(pareto_front(&[tail.clone(), steady]), [true, true]);
        // Against a more accurate point that is also faster at p50, no p99
        // figure saves it.
        tail.p50 = Nanos(1_500);
        tail.round_p50s = vec![tail.p50; 10];
        assert_eq!(pareto_front(&[tail.clone(), steady_fast]), [false, true]);
        let s = select(
            &[tail, p("steady", 0.90, 2_000, 2_100)],
            &Budget {
                p99: Nanos(3_000),
                accuracy_tolerance_pp: None,
                metric: Metric::Accuracy,
            },
        );
        assert_eq!(s.within_budget, [false, true]);
        assert_eq!(s.chosen, Some(1));
    }

    #[test]
    fn picks_most_accurate_whose_upper_bound_fits() {
        let s = select(
            &points(),
            &Budget {
                p99: Nanos(44_000),
                accuracy_tolerance_pp: None,
                metric: Metric::Accuracy,
            },
        );
        // forest-100's p99 (40 µs) fits but its bound (45 µs) does not.
        assert_eq!(s.chosen, Some(2));
        assert!(
            s.reason
                .starts_with("`forest-10` is the most accurate of the 3 candidates"),
            "{}",
            s.reason
        );
        assert!(
            s.reason.contains("`forest-100` (0.9200) is out"),
            "{}",
            s.reason
        );
        let s = select(
            &points(),
            &Budget {
                p99: Nanos(50_000_000),
                accuracy_tolerance_pp: None,
                metric: Metric::Accuracy,
            },
        );
        assert_eq!(s.chosen, Some(3));
    }

    #[test]
    fn log_loss_chooses_the_lowest_and_its_tolerance_is_in_nats() {
        // Log-losses, as results record them; selection sees them negated.
        let losses = [
            ("logreg", 0.40, 1_000),
            ("tree", 0.55, 900),
            ("forest-10", 0.30, 5_000),
            ("forest-100", 0.20, 40_000),
            ("slow-bad", 0.60, 50_000),
        ];
        let pts: Vec<Point> = losses
            .iter()
            .map(|&(id, loss, t)| p(id, Metric::LogLoss.score(Some(loss)), t, t + t / 10))
            .collect();
        assert_eq!(pareto_front(&pts), [true, true, true, true, false]);
        let budget = |tol| Budget {
            p99: Nanos(10_000),
            accuracy_tolerance_pp: tol,
            metric: Metric::LogLoss,
        };
        let s = select(&pts, &budget(None));
        assert_eq!(s.chosen, Some(2), "{}", s.reason);
        assert!(
            s.reason.contains("is the best by log-loss")
                && s.reason.contains("log-loss 0.3000")
                && s.reason
                    .contains("The lower-log-loss `forest-100` (0.2000) is out"),
            "{}",
            s.reason
        );
        // Within 0.15 nats of 0.30: logreg (0.40) is the fastest such.
        let s = select(&pts, &budget(Some(0.15)));
        assert_eq!(s.chosen, Some(0), "{}", s.reason);
        assert!(
            s.reason.contains("within 0.15 nats of log-loss"),
            "{}",
            s.reason
        );
        // A share metric's tolerance stays in points.
        let pts: Vec<Point> = points();
        let s = select(
            &pts,
            &Budget {
                p99: Nanos(10_000),
                accuracy_tolerance_pp: Some(2.0),
                metric: Metric::RocAuc,
            },
        );
        assert_eq!(s.chosen, Some(1), "{}", s.reason);
        assert!(
            s.reason.contains("within 2 points of ROC AUC"),
            "{}",
            s.reason
        );
    }

    #[test]
    fn ties_go_to_the_faster_and_tolerance_picks_the_fastest_close_enough() {
        let mut pts = points();
        pts.push(p("forest-100-twin", 0.92, 30_000, 31_000));
        let s = select(
            &pts,
            &Budget {
                p99: Nanos(50_000_000),
                accuracy_tolerance_pp: None,
                metric: Metric::Accuracy,
            },
        );
        assert_eq!(s.chosen, Some(5));
        let s = select(
            &pts,
            &Budget {
                p99: Nanos(50_000_000),
                accuracy_tolerance_pp: Some(2.0),
                metric: Metric::Accuracy,
            },
        );
        assert_eq!(s.chosen, Some(2), "{}", s.reason);
        let s = select(
            &pts,
            &Budget {
                p99: Nanos(50_000_000),
                accuracy_tolerance_pp: Some(4.0),
                metric: Metric::Accuracy,
            },
        );
        assert_eq!(s.chosen, Some(1), "{}", s.reason);
    }

    /// Equally accurate models whose latencies are within noise of each
    /// other: the smaller wins, whichever measured faster this time.
    #[test]
    fn a_tie_within_noise_goes_to_the_smaller_model() {
        let budget = Budget {
            p99: Nanos(1_000_000),
            accuracy_tolerance_pp: None,
            metric: Metric::Accuracy,
        };
        let pts = |int8_p50: u64| {
            let mut float = p("forest", 0.9, 100_000, 110_000);
            float.p50 = Nanos(60_000);
            float.round_p50s = vec![float.p50; 10];
            float.size = 800_000;
            let mut int8 = p("forest/int8", 0.9, 100_000, 110_000);
            int8.p50 = Nanos(int8_p50);
            int8.round_p50s = vec![int8.p50; 10];
            int8.size = 400_000;
            // No rounds (an older results file): the fixed band decides.
            for x in [&mut float, &mut int8] {
                x.round_p50s.clear();
                x.floor = Nanos(40);
            }
            [float, int8]
        };
        for int8_p50 in [55_000, 60_000, 70_000] {
            assert_eq!(
                select(&pts(int8_p50), &budget).chosen,
                Some(1),
                "{int8_p50}"
            );
        }
        // Clearly slower (by more than 25 %): the faster one wins.
        assert_eq!(select(&pts(90_000), &budget).chosen, Some(0));
    }

    #[test]
    fn nothing_fits_names_the_closest() {
        let s = select(
            &points(),
            &Budget {
                p99: Nanos(500),
                accuracy_tolerance_pp: None,
                metric: Metric::Accuracy,
            },
        );
        assert_eq!((s.chosen, s.closest), (None, Some(1)));
        assert_eq!(
            s.reason,
            "No candidate fits the 0.0005 ms budget: the closest, `tree`, has an end-to-end p99 upper bound of 1.000 µs (p99 900 ns)."
        );
    }
}
