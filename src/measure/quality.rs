//! Classification quality on the test set: every metric a candidate can be
//! chosen by ([`Metric`]), each defined as scikit-learn defines it and
//! checked against scikit-learn's values in `tests/quality_reference.rs`
//! (fixture written by `scripts/quality_reference.py`).

use serde::{Deserialize, Serialize};

/// What the choice within the budget maximises (or, for log-loss,
/// minimises). Strings only at the parsing boundary: `--metric` and
/// `[select] metric` parse into this.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Metric {
    #[default]
    Accuracy,
    BalancedAccuracy,
    F1Macro,
    RocAuc,
    LogLoss,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::F1Macro,
        Metric::RocAuc,
        Metric::LogLoss,
    ];

    /// The name used in flags, config keys, `results.json` and the CSV.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::F1Macro => "f1_macro",
            Metric::RocAuc => "roc_auc",
            Metric::LogLoss => "log_loss",
        }
    }

    /// The name a person reads in sentences and axis labels.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced accuracy",
            Metric::F1Macro => "macro F1",
            Metric::RocAuc => "ROC AUC",
            Metric::LogLoss => "log-loss",
        }
    }

    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::LogLoss)
    }

    /// Whether the metric is a share in [0, 1], whose tolerance the user
    /// gives in percentage points (as `--accuracy-tolerance` always was);
    /// log-loss is not, and its tolerance is in nats.
    pub fn is_share(self) -> bool {
        self.higher_is_better()
    }

    /// The metric's value turned "higher is better" (log-loss negated), so
    /// that selection keeps one code path for every metric. An undefined
    /// value (ROC AUC with one class in the test set) ranks last.
    pub fn score(self, value: Option<f64>) -> f64 {
        match value {
            Some(v) if v.is_finite() && self.higher_is_better() => v,
            Some(v) if v.is_finite() => -v,
            _ => f64::NEG_INFINITY,
        }
    }

    /// Inverse of [`Metric::score`]: the value a person reads.
    pub fn value(self, score: f64) -> f64 {
        if self.higher_is_better() {
            score
        } else {
            -score
        }
    }

    /// A user's tolerance (points for shares, nats for log-loss) in the
    /// units of [`Metric::score`].
    pub fn tolerance_in_score_units(self, tolerance: f64) -> f64 {
        if self.is_share() {
            tolerance / 100.0
        } else {
            tolerance
        }
    }

    /// The tolerance's unit, for sentences.
    pub fn tolerance_unit(self) -> &'static str {
        if self.is_share() {
            "points"
        } else {
            "nats"
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// Probabilities are clipped to `[LOG_LOSS_EPSILON, 1 − LOG_LOSS_EPSILON]`
/// before the logarithm, as scikit-learn's `log_loss` clips them: its
/// epsilon is the machine epsilon of the probabilities' dtype, here f64
/// (2.220446049250313e-16), so a confident wrong answer costs at most
/// −ln(2.22e-16) ≈ 36.04 nats instead of infinity.
pub const LOG_LOSS_EPSILON: f64 = f64::EPSILON;

/// Every metric of one candidate on the test set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub f1_macro: f64,
    /// `None` when the test set holds a single class (undefined).
    pub roc_auc: Option<f64>,
    pub log_loss: f64,
}

impl Quality {
    /// `truth` and `pred` are class indices; `proba` is row-major,
    /// `n_classes` per row.
    pub fn compute(truth: &[u32], pred: &[u32], proba: &[f64], n_classes: usize) -> Quality {
        Quality {
            accuracy: accuracy(truth, pred),
            balanced_accuracy: balanced_accuracy(truth, pred, n_classes),
            f1_macro: f1_macro(truth, pred, n_classes),
            roc_auc: roc_auc(truth, proba, n_classes),
            log_loss: log_loss(truth, proba, n_classes),
        }
    }

    /// The value of one metric (`None`: undefined).
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Accuracy => Some(self.accuracy),
            Metric::BalancedAccuracy => Some(self.balanced_accuracy),
            Metric::F1Macro => Some(self.f1_macro),
            Metric::RocAuc => self.roc_auc,
            Metric::LogLoss => Some(self.log_loss),
        }
    }
}

/// Share of rows whose predicted class is the true class.
pub fn accuracy(truth: &[u32], pred: &[u32]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    truth.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

/// Macro-averaged F1, as scikit-learn's `f1_score(average="macro")`: the
/// unweighted mean of per-class F1 over the classes present in the truth or
/// the predictions; a class with no true and no predicted positive is left
/// out, and one with precision and recall both 0 counts as 0.
pub fn f1_macro(truth: &[u32], pred: &[u32], n_classes: usize) -> f64 {
    let mut tp = vec![0u64; n_classes];
    let mut fp = vec![0u64; n_classes];
    let mut fn_ = vec![0u64; n_classes];
    for (&t, &p) in truth.iter().zip(pred) {
        if t == p {
            tp[t as usize] += 1;
        } else {
            fp[p as usize] += 1;
            fn_[t as usize] += 1;
        }
    }
    let mut sum = 0.0;
    let mut present = 0;
    for c in 0..n_classes {
        if tp[c] + fp[c] + fn_[c] == 0 {
            continue;
        }
        present += 1;
        let denom = 2 * tp[c] + fp[c] + fn_[c];
        sum += 2.0 * tp[c] as f64 / denom as f64;
    }
    if present == 0 {
        0.0
    } else {
        sum / present as f64
    }
}

/// Balanced accuracy, as scikit-learn's `balanced_accuracy_score`: the
/// unweighted mean of per-class recall over the classes present in the
/// truth (a class only predicted has no recall and is left out).
pub fn balanced_accuracy(truth: &[u32], pred: &[u32], n_classes: usize) -> f64 {
    let mut support = vec![0u64; n_classes];
    let mut hits = vec![0u64; n_classes];
    for (&t, &p) in truth.iter().zip(pred) {
        support[t as usize] += 1;
        if t == p {
            hits[t as usize] += 1;
        }
    }
    let recalls: Vec<f64> = (0..n_classes)
        .filter(|&c| support[c] > 0)
        .map(|c| hits[c] as f64 / support[c] as f64)
        .collect();
    if recalls.is_empty() {
        0.0
    } else {
        recalls.iter().sum::<f64>() / recalls.len() as f64
    }
}

/// Area under the ROC curve of `score` for the rows where `positive` holds,
/// by the Mann–Whitney statistic with midranks: the share of
/// (positive, negative) pairs ranked the right way, a tie counting ½ —
/// the trapezoid area scikit-learn's `roc_curve` + `auc` compute. `None`
/// when either side is empty.
fn binary_auc(positive: impl Iterator<Item = bool>, score: &[f64]) -> Option<f64> {
    let positive: Vec<bool> = positive.collect();
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Sum of the positives' ranks (1-based; tied scores share their mean
    // rank). Ranks are integers or halves: exact in f64.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        let pos_here = order[i..=j].iter().filter(|&&r| positive[r]).count();
        rank_sum += mid * pos_here as f64;
        i = j + 1;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// ROC AUC from predicted probabilities (row-major, `n_classes` per row),
/// as scikit-learn's `roc_auc_score`: with two classes, of the positive
/// (second) class's probability; with more, one-vs-rest and macro-averaged
/// (`multi_class="ovr", average="macro"`) over the classes present in the
/// truth (scikit-learn has no value when a class is absent from the truth;
/// leaving it out keeps a small test set usable). `None` when the truth
/// holds a single class.
pub fn roc_auc(truth: &[u32], proba: &[f64], n_classes: usize) -> Option<f64> {
    if n_classes < 2 || truth.is_empty() {
        return None;
    }
    let column =
        |c: usize| -> Vec<f64> { proba.chunks_exact(n_classes).map(|row| row[c]).collect() };
    if n_classes == 2 {
        return binary_auc(truth.iter().map(|&t| t == 1), &column(1));
    }
    let aucs: Vec<f64> = (0..n_classes)
        .filter_map(|c| binary_auc(truth.iter().map(|&t| t as usize == c), &column(c)))
        .collect();
    let present = (0..n_classes)
        .filter(|&c| truth.iter().any(|&t| t as usize == c))
        .count();
    if present < 2 || aucs.is_empty() {
        return None;
    }
    Some(aucs.iter().sum::<f64>() / aucs.len() as f64)
}

/// Mean negative log-likelihood of the true class (natural log), as
/// scikit-learn's `log_loss` with `labels` = every class: probabilities
/// clipped to [[`LOG_LOSS_EPSILON`], 1 − [`LOG_LOSS_EPSILON`]] and not
/// renormalised. Lower is better.
pub fn log_loss(truth: &[u32], proba: &[f64], n_classes: usize) -> f64 {
    if truth.is_empty() || n_classes == 0 {
        return 0.0;
    }
    let sum: f64 = truth
        .iter()
        .zip(proba.chunks_exact(n_classes))
        .map(|(&t, row)| {
            -row[t as usize]
                .clamp(LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
                .ln()
        })
        .sum();
    sum / truth.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_matches_scikit_learn() {
        // sklearn.metrics.f1_score([0,0,1,1,2,2], [0,1,1,1,2,0], average="macro")
        // = mean(0.5, 0.8, 0.6666…) = 0.6555…
        let f1 = f1_macro(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0], 3);
        assert!((f1 - 0.655_555_555_555_555_6).abs() < 1e-12, "{f1}");
        assert!((accuracy(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0]) - 4.0 / 6.0).abs() < 1e-12);
        // A class never seen nor predicted does not dilute the mean.
        assert_eq!(f1_macro(&[0, 1], &[0, 1], 5), 1.0);
    }
}
