//! The lesson's retraining rules, applied to a finished analysis.

use super::{
    AccuracyCheck, Action, DriftConfig, FeatureDrift, PredictionDrift, Recommendation, Severity,
    Verdict,
};

/// The lesson's retraining rules, first match wins: an accuracy drop beyond
/// the limit → retrain now; a major shift in any feature → within a week;
/// otherwise keep monitoring. A window too small to judge comes first: a
/// two-point accuracy drop on a few dozen rows is noise.
pub(super) fn recommend(
    verdict: Verdict,
    features: &[FeatureDrift],
    prediction: Option<&PredictionDrift>,
    acc: Option<&AccuracyCheck>,
    cfg: &DriftConfig,
) -> Recommendation {
    let acc_note = acc.map_or(String::new(), |a| {
        format!(
            " Accuracy moved from {:.1}% ({}) to {:.1}% ({:+.1} points), within the {}-point limit.",
            a.baseline * 100.0,
            a.baseline_source,
            a.current * 100.0,
            -a.drop_points,
            cfg.retrain_accuracy_drop_points
        )
    });
    if verdict == Verdict::InsufficientData {
        return Recommendation {
            action: Action::KeepMonitoring,
            reason: format!(
                "the current window is too small to judge (fewer than {} rows): collect more data and run again",
                cfg.min_rows
            ),
        };
    }
    let major: Vec<String> = features
        .iter()
        .filter(|f| f.severity == Severity::Major)
        .map(evidence)
        .collect();
    if let Some(a) = acc {
        if a.drop_points > cfg.retrain_accuracy_drop_points {
            return Recommendation {
                action: Action::RetrainNow,
                reason: format!(
                    "accuracy fell from {:.1}% ({}) to {:.1}% on the current data, a drop of {:.1} points (more than {}): retrain now.{}",
                    a.baseline * 100.0,
                    a.baseline_source,
                    a.current * 100.0,
                    a.drop_points,
                    cfg.retrain_accuracy_drop_points,
                    if major.is_empty() {
                        String::new()
                    } else {
                        format!(" Major drift too in {}.", major.join(", "))
                    }
                ),
            };
        }
    }
    if !major.is_empty() {
        return Recommendation {
            action: Action::RetrainWithinAWeek,
            reason: format!(
                "major drift (PSI ≥ {}, corrected p < {}) in {}: retrain within a week.{acc_note}",
                cfg.psi_major,
                cfg.alpha,
                major.join(", ")
            ),
        };
    }
    let moderate: Vec<String> = features
        .iter()
        .filter(|f| f.severity == Severity::Moderate)
        .map(evidence)
        .collect();
    let pred = match prediction {
        Some(p) if p.drifted => {
            " The model's predictions shifted too (see the prediction section)."
        }
        _ => "",
    };
    let reason = if moderate.is_empty() {
        format!(
            "no feature drifted (corrected p < {} and PSI ≥ {} or JS ≥ {}): keep monitoring and retrain on the usual schedule.{pred}{acc_note}",
            cfg.alpha, cfg.psi_moderate, cfg.js_threshold
        )
    } else {
        format!(
            "moderate drift only, in {}: keep monitoring closely; retrain on schedule unless it grows past PSI {}.{pred}{acc_note}",
            moderate.join(", "),
            cfg.psi_major
        )
    };
    Recommendation {
        action: Action::KeepMonitoring,
        reason,
    }
}

/// "`x7` (PSI 0.09, JS 0.10, p adj. 1.2e-40)": the figures that flagged a feature.
fn evidence(f: &FeatureDrift) -> String {
    format!(
        "`{}` (PSI {:.2}, JS {:.2}, p adj. {})",
        f.name,
        f.psi.unwrap_or(0.0),
        f.js.unwrap_or(0.0),
        super::render::p_text(f.p_adjusted().unwrap_or(1.0))
    )
}
