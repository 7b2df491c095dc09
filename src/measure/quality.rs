//! Classification quality.

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
