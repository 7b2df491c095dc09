//! Missing values where the file and the IR disagree: the IR sends `NaN`
//! to a split's false (right) branch, and a file may send it to the true
//! one (`nodes_missing_value_tracks_true = 1`, as onnxmltools writes
//! LightGBM's). Per feature, a value that every split on it sends where the
//! file sends a missing one stands in for it in the pipeline
//! ([`nan_routes`], [`fill_stand_ins`]); where none does, the tree reader
//! rewrites the splits instead.

use super::graph::Attrs;
use super::pipeline::{NumericStep, Preprocessing};
use super::trees::ir_threshold;
use crate::error::Result;
use crate::model::Model;
use crate::pipeline::Step;
use std::collections::{HashMap, HashSet};

/// How a feature's splits route a missing value, when some send it to the
/// true branch (`nodes_missing_value_tracks_true = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum NanRoute {
    /// `v` goes wherever a missing value goes, at every split on the feature.
    StandIn(f32),
    /// No value does: some splits send a missing value left above
    /// thresholds where others send it right.
    Conflict,
}

/// Per feature (file numbering) with a split sending a missing value to
/// its true branch, how the splits on it route one.
///
/// onnxmltools writes LightGBM's models with such splits: LightGBM sends a
/// missing value where `0` goes when training saw none, and where it
/// learned to otherwise. A value `v` stands in for a missing one when every
/// split on the feature sends `v` where it sends a missing value: `v <= t`
/// at the splits sending it to the true (left) branch, `v > t` at the
/// others, so `max(others) < v <= min(true-branch splits)`: `0` when it is
/// in that range (LightGBM's own rule), else the lowest such threshold.
fn nan_routes(
    modes: &[String],
    features: &[i64],
    values: &[f32],
    missing: &[i64],
) -> HashMap<i64, NanRoute> {
    // Per feature: the lowest threshold sending NaN left, the highest
    // sending it right.
    let mut bounds: HashMap<i64, (f32, f32)> = HashMap::new();
    let n = modes
        .len()
        .min(features.len())
        .min(values.len())
        .min(missing.len());
    for i in 0..n {
        if !matches!(modes[i].as_str(), "BRANCH_LEQ" | "BRANCH_LT") {
            continue;
        }
        let t = ir_threshold(&modes[i], values[i]);
        let b = bounds
            .entry(features[i])
            .or_insert((f32::INFINITY, f32::NEG_INFINITY));
        if missing[i] != 0 {
            b.0 = b.0.min(t);
        } else {
            b.1 = b.1.max(t);
        }
    }
    bounds
        .into_iter()
        .filter(|(_, (l, _))| *l != f32::INFINITY)
        .map(|(f, (l, r))| {
            let route = if r >= l {
                NanRoute::Conflict
            } else if r < 0.0 && 0.0 <= l {
                NanRoute::StandIn(0.0)
            } else {
                NanRoute::StandIn(l)
            };
            (f, route)
        })
        .collect()
}

/// [`nan_routes`] of a tree operator's splits (none for a linear model or
/// a file whose splits all send missing values to the false branch).
pub(super) fn file_nan_routes(a: &Attrs<'_>) -> Result<HashMap<i64, NanRoute>> {
    if a.node.op_type() == "LinearClassifier" {
        return Ok(HashMap::new());
    }
    let missing = a.ints("nodes_missing_value_tracks_true")?;
    if missing.iter().all(|&m| m == 0) {
        return Ok(HashMap::new());
    }
    Ok(nan_routes(
        &a.strings("nodes_modes")?,
        a.ints("nodes_featureids")?,
        a.floats("nodes_values")?,
        missing,
    ))
}

/// For each of the `d` model features, a value to stand in for a missing
/// one, or `None` when a `NaN` may reach the trees as it is (no split on it
/// sends one left, or its splits are in `rewrite`:
/// `Forest::send_missing_right` in `trees.rs`).
pub(super) fn stand_ins(
    routes: &HashMap<i64, NanRoute>,
    d: usize,
    rewrite: &HashSet<i64>,
) -> Vec<Option<f32>> {
    let mut out = vec![None; d];
    for (f, route) in routes {
        if let (NanRoute::StandIn(v), false) = (route, rewrite.contains(f)) {
            if let Some(slot) = usize::try_from(*f).ok().and_then(|f| out.get_mut(f)) {
                *slot = Some(*v);
            }
        }
    }
    out
}

/// Nodes of a tree model (0 for a linear one).
pub(super) fn model_nodes(model: &Model) -> usize {
    match model {
        Model::Trees(t) => t.nodes.len(),
        _ => 0,
    }
}

/// Nodes in a tree operator's attributes.
pub(super) fn file_nodes(a: &Attrs<'_>) -> usize {
    a.strings("nodes_modes").map_or(0, |m| m.len())
}

/// What [`fill_stand_ins`] did.
#[derive(Debug, PartialEq)]
pub(super) enum StandIns {
    /// Every stand-in went where a `NaN` would have reached the trees;
    /// what it did, for the notes (none when nothing was needed).
    Placed(Option<String>),
    /// These outputs are scaled with no imputer in front (a stand-in would
    /// be scaled too): their splits must be rewritten instead.
    Scaled(Vec<usize>),
}

/// Makes the preprocessing replace a missing value of model feature `f` by
/// `stand_ins[f]` wherever it would otherwise pass a `NaN` to the trees (a
/// passthrough, or a step with no imputer and no scaling; a file without
/// preprocessing gets passthrough steps).
pub(super) fn fill_stand_ins(
    pre: &mut Option<Preprocessing>,
    stand_ins: &[Option<f32>],
) -> StandIns {
    let wanted: Vec<(usize, f32)> = stand_ins
        .iter()
        .enumerate()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect();
    if wanted.is_empty() {
        return StandIns::Placed(None);
    }
    let passthrough = NumericStep {
        fill: f64::NAN,
        center: 0.0,
        inv_scale: 1.0,
    };
    let pre = pre.get_or_insert_with(|| Preprocessing::Numeric(vec![passthrough; stand_ins.len()]));
    let mut filled = Vec::new();
    let mut scaled = Vec::new();
    match pre {
        Preprocessing::Numeric(steps) => {
            for &(f, v) in &wanted {
                let s = &mut steps[f];
                if !s.fill.is_nan() {
                    continue; // imputed: no NaN reaches the trees
                }
                if s.center != 0.0 || s.inv_scale != 1.0 {
                    scaled.push(f);
                    continue;
                }
                s.fill = f64::from(v);
                filled.push((format!("{f}"), v));
            }
        }
        Preprocessing::Columns(p) => {
            // Model feature `f` is output `f` of the pipeline.
            let mut at = 0;
            for step in &mut p.steps {
                let width = step.width();
                if let Step::Numeric {
                    name,
                    fill,
                    center,
                    inv_scale,
                } = step
                {
                    match wanted.iter().find(|&&(f, _)| f == at) {
                        // Imputed: no NaN reaches the trees.
                        Some(_) if !fill.is_nan() => {}
                        Some(&(f, _)) if *center != 0.0 || *inv_scale != 1.0 => scaled.push(f),
                        Some(&(_, v)) => {
                            *fill = f64::from(v);
                            filled.push((format!("`{name}`"), v));
                        }
                        None => {}
                    }
                }
                // One-hot outputs are never NaN.
                at += width;
            }
        }
    }
    if !scaled.is_empty() {
        return StandIns::Scaled(scaled);
    }
    if filled.is_empty() {
        return StandIns::Placed(None);
    }
    // "0 (features 0, 1, …), 2.5 (feature 7)": one group per value.
    let mut groups: Vec<(f32, Vec<String>)> = Vec::new();
    for (feature, v) in filled {
        match groups.iter_mut().find(|g| g.0.to_bits() == v.to_bits()) {
            Some(g) => g.1.push(feature),
            None => groups.push((v, vec![feature])),
        }
    }
    let filled = groups
        .iter()
        .map(|(v, fs)| {
            let s = if fs.len() == 1 { "" } else { "s" };
            format!("{v} (feature{s} {})", fs.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    StandIns::Placed(Some(format!(
        "the file sends missing values to the true branch at some splits (as onnxmltools \
         writes LightGBM models) and optbench's trees send NaN to the false one, so the \
         package fills a missing value with {filled}: a value every split on its feature \
         sends where the file sends a missing one, so predictions are the file's"
    )))
}

#[cfg(test)]
mod stand_in_tests {
    use super::*;
    use crate::pipeline::FittedPipeline;

    fn numeric(fill: f64, center: f64, inv_scale: f64) -> Option<Preprocessing> {
        Some(Preprocessing::Numeric(vec![NumericStep {
            fill,
            center,
            inv_scale,
        }]))
    }

    #[test]
    fn a_stand_in_goes_where_a_nan_would_reach_the_trees() {
        let placed = |s: StandIns| match s {
            StandIns::Placed(note) => note,
            other => panic!("{other:?}"),
        };
        // Passthrough step: filled.
        let mut pre = numeric(f64::NAN, 0.0, 1.0);
        let note = placed(fill_stand_ins(&mut pre, &[Some(2.5)]));
        assert!(note.unwrap().contains("2.5 (feature 0)"));
        assert_eq!(pre, numeric(2.5, 0.0, 1.0));
        // Imputed already: no NaN reaches the trees, nothing to do.
        let mut pre = numeric(7.0, 1.0, 2.0);
        assert_eq!(
            fill_stand_ins(&mut pre, &[Some(2.5)]),
            StandIns::Placed(None)
        );
        assert_eq!(pre, numeric(7.0, 1.0, 2.0));
        // Scaled with no imputer: the stand-in would be scaled too, so the
        // splits are to be rewritten instead.
        let mut pre = numeric(f64::NAN, 1.0, 2.0);
        assert_eq!(
            fill_stand_ins(&mut pre, &[Some(2.5)]),
            StandIns::Scaled(vec![0])
        );
        // A per-column pipeline: the stand-in goes to the step whose output
        // the feature is.
        let names = ["a".to_string(), "b".to_string()];
        let mut pre = Some(Preprocessing::Columns(FittedPipeline::passthrough(&names)));
        let note = placed(fill_stand_ins(&mut pre, &[None, Some(1.0)]));
        assert!(note.unwrap().contains("1 (feature `b`)"));
        let Some(Preprocessing::Columns(p)) = &pre else {
            unreachable!()
        };
        assert!(matches!(p.steps[0], Step::Numeric { fill, .. } if fill.is_nan()));
        assert!(matches!(p.steps[1], Step::Numeric { fill, .. } if fill == 1.0));
        // No stand-ins: no pipeline made.
        let mut pre = None;
        assert_eq!(
            fill_stand_ins(&mut pre, &[None, None]),
            StandIns::Placed(None)
        );
        assert!(pre.is_none());
    }
}
