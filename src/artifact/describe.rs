//! `optbench inspect`: a package's metadata, for a person.

use super::Metadata;
use crate::data::FeatureProfile;
use std::fmt::Write;

/// A human summary of a package: what model, from which data, how good, how
/// fast, and what a row must look like.
pub fn describe(m: &Metadata) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "model      {} ({})", m.model.id, m.model.family);
    let _ = writeln!(o, "           {}", m.model.description);
    if let Some(parent) = &m.model.parent {
        let transform = m
            .model
            .transform
            .as_ref()
            .map_or_else(String::new, |t| format!(" by {t}"));
        let _ = writeln!(o, "derived    from {parent}{transform}");
    }
    let _ = writeln!(o, "params     {}", pairs(&m.model.params));
    let _ = writeln!(
        o,
        "created    {} by optbench {} (package format {})",
        m.created_utc, m.optbench_version, m.format_version
    );
    let _ = writeln!(
        o,
        "trained on {} rows, SHA-256 {}",
        m.training_data.rows, m.training_data.sha256
    );
    let _ = writeln!(o, "source     {}", pairs(&m.training_data.source));
    let _ = writeln!(
        o,
        "target     {} — classes: {}",
        m.target,
        m.classes.join(", ")
    );
    if !m.metrics.is_empty() {
        let _ = writeln!(
            o,
            "metrics (test set, as measured by the run that chose it)"
        );
        for (k, v) in &m.metrics {
            let shown = if k.ends_with("_ns") {
                crate::measure::Nanos(*v as u64).to_string()
            } else if k.contains("throughput") {
                format!("{v:.0} rows/s")
            } else {
                format!("{v:.4}")
            };
            let _ = writeln!(o, "  {k:<24} {shown}");
        }
    }
    let _ = writeln!(
        o,
        "input: {} columns ({} model inputs after the pipeline)",
        m.features.features.len(),
        m.pipeline_outputs.len()
    );
    for p in &m.training_profile {
        match p {
            FeatureProfile::Numeric {
                name,
                missing,
                min,
                max,
                quantiles,
                ..
            } => {
                let median = quantiles
                    .iter()
                    .find(|q| q.q == 0.5)
                    .map_or_else(|| "-".into(), |q| fmt_num(q.value));
                let range = match (min, max) {
                    (Some(lo), Some(hi)) => format!("{} .. {}", fmt_num(*lo), fmt_num(*hi)),
                    _ => "no values".into(),
                };
                let _ = writeln!(
                    o,
                    "  {name:<24} numeric      range {range}, median {median}, {missing} missing"
                );
            }
            FeatureProfile::Categorical {
                name,
                missing,
                categories,
            } => {
                let shown: Vec<String> = categories
                    .iter()
                    .take(8)
                    .map(|c| format!("{} ({})", c.value, c.rows))
                    .collect();
                let more = if categories.len() > 8 {
                    format!(", … {} more", categories.len() - 8)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    o,
                    "  {name:<24} categorical  {}{more}, {missing} missing",
                    shown.join(", ")
                );
            }
        }
    }
    if !m.ignored_columns.is_empty() {
        let _ = writeln!(o, "ignored    {}", m.ignored_columns.join(", "));
    }
    let _ = writeln!(
        o,
        "file       {} ({} bytes, zstd level {}), SHA-256 {}",
        m.model_file.name, m.model_file.bytes, m.model_file.zstd_level, m.model_file.sha256
    );
    match &m.reference_sample {
        Some(r) => {
            let _ = writeln!(
                o,
                "reference  {} ({} bytes): {} of {} training rows and held-out predictions, for `optbench drift --model`",
                r.file, r.bytes, r.rows, r.training_rows
            );
        }
        None => {
            let _ = writeln!(
                o,
                "reference  none stored: `optbench drift` needs --reference"
            );
        }
    }
    let versions: Vec<String> = m
        .crate_versions
        .iter()
        // The compiler's version string already starts with its name.
        .map(|(k, v)| {
            if v.starts_with(&format!("{k} ")) {
                v.clone()
            } else {
                format!("{k} {v}")
            }
        })
        .collect();
    let _ = writeln!(o, "built with {}", versions.join(", "));
    o
}

/// A JSON object as `key value, …` for a person (nested values as JSON,
/// strings without quotes, null as `none`); anything else as JSON.
fn pairs(v: &serde_json::Value) -> String {
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".into(),
        other => other.to_string(),
    };
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k} {}", scalar(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => scalar(other),
    }
}

/// Every numeric column's training quantiles, one line each (`inspect -v`).
pub fn describe_quantiles(m: &Metadata) -> String {
    let mut o = String::from("training quantiles\n");
    for p in &m.training_profile {
        if let FeatureProfile::Numeric {
            name, quantiles, ..
        } = p
        {
            let q: Vec<String> = quantiles
                .iter()
                .map(|q| format!("{}%: {}", q.q * 100.0, fmt_num(q.value)))
                .collect();
            let _ = writeln!(o, "  {name:<24} {}", q.join(", "));
        }
    }
    o
}

fn fmt_num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4)
    }
}
