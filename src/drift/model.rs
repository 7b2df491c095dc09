//! With `--model`: the files checked against the package's schema, every row
//! served through validate → preprocess → predict, and the predictions and
//! accuracy compared.

use super::table::Table;
use super::{numeric_figures, sorted_present, stats, DriftConfig, KsOut, PredictionDrift};
use crate::artifact::{score_csv, Artifact, RowOutcome, ScoreOptions};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

pub(super) fn check_schema(a: &Artifact, t: &Table, model: &Path) -> Result<()> {
    for f in &a.schema.features {
        if t.column(&f.name).is_none() {
            return Err(Error::data(
                &t.path,
                format!(
                    "missing column `{}`, which the model {} needs{}",
                    f.name,
                    model.display(),
                    crate::data::column_hint(
                        &f.name,
                        &t.columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                    )
                ),
            ));
        }
    }
    for c in &t.columns {
        if !a.schema.features.iter().any(|f| f.name == c.name) {
            return Err(Error::data(
                &t.path,
                format!(
                    "column `{}` is not in the model's schema ({}); pass --target {} if it is the label",
                    c.name,
                    model.display(),
                    c.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) struct Predictions {
    pub classes: Vec<u32>,
    pub score: Vec<f64>,
}

/// Every row of the table's file served through the package, as `optbench
/// predict` serves it: the predicted class and a score (the positive class's
/// probability for two classes, else the winning probability).
pub(super) fn predict_all(a: &Artifact, t: &Table) -> Result<Predictions> {
    let k = a.compiled().n_classes();
    let mut p = Predictions {
        classes: Vec::with_capacity(t.rows),
        score: Vec::with_capacity(t.rows),
    };
    score_csv(a, &t.path, ScoreOptions::default(), false, |o| {
        if let RowOutcome::Scored { class, proba, .. } = o {
            p.classes.push(class);
            p.score.push(if k == 2 {
                f64::from(proba[1])
            } else {
                f64::from(proba[class as usize])
            });
        }
        Ok(())
    })?;
    Ok(p)
}

pub(super) fn accuracy(classes: &[String], labels: &[String], predicted: &[u32]) -> (f64, usize) {
    let index: HashMap<&str, u32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let mut correct = 0usize;
    let mut unknown = 0usize;
    for (l, &p) in labels.iter().zip(predicted) {
        match index.get(l.as_str()) {
            Some(&c) if c == p => correct += 1,
            Some(_) => {}
            None => unknown += 1,
        }
    }
    (correct as f64 / labels.len().max(1) as f64, unknown)
}

pub(super) fn prediction_drift(
    a: &Artifact,
    pr: Predictions,
    pc: Predictions,
    cfg: &DriftConfig,
) -> PredictionDrift {
    let k = a.compiled().n_classes();
    let count = |c: &[u32]| {
        let mut v = vec![0u64; k];
        for &i in c {
            v[i as usize] += 1;
        }
        v
    };
    let (cr, cc) = (count(&pr.classes), count(&pc.classes));
    // Drop classes neither side predicts (the chi-square needs non-empty columns).
    let (kr, kc): (Vec<u64>, Vec<u64>) = cr
        .iter()
        .zip(&cc)
        .filter(|(r, c)| **r + **c > 0)
        .map(|(r, c)| (*r, *c))
        .unzip();
    let chi = stats::chi2_homogeneity(&kr, &kc);
    let class_psi = stats::psi(&kr, &kc);
    let (sr, _) = sorted_present(pr.score);
    let (sc, _) = sorted_present(pc.score);
    let n = numeric_figures(&sr, &sc, cfg.bins);
    let score_flag =
        n.ks.p_value < cfg.alpha && (n.psi >= cfg.psi_moderate || n.js >= cfg.js_threshold);
    let class_flag = chi.p_value < cfg.alpha && class_psi >= cfg.psi_moderate;
    PredictionDrift {
        model_id: a.metadata.model.id.clone(),
        classes: a.metadata.classes.clone(),
        predicted_reference: cr,
        predicted_current: cc,
        class_psi,
        class_js: stats::js_distance(&kr, &kc),
        class_chi2: chi,
        score: if k == 2 {
            format!("probability of class `{}`", a.metadata.classes[1])
        } else {
            "probability of the predicted class".into()
        },
        score_ks: KsOut {
            statistic: n.ks.statistic,
            p_value: n.ks.p_value,
            p_adjusted: n.ks.p_value,
            method: n.ks.method,
        },
        score_psi: n.psi,
        score_js: n.js,
        score_histogram: n.histogram,
        drifted: score_flag || class_flag,
    }
}
