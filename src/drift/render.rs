//! Pure renderers from a [`DriftReport`] to text: the terminal table and the
//! self-contained `drift.html` (inline CSS and plotters SVG, no network).

use super::{Action, DriftReport, FeatureDrift, FeatureKind, Histogram, Severity, Verdict};
use crate::report::html::escape;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write;

const REFERENCE: RGBColor = RGBColor(31, 119, 180);
const CURRENT: RGBColor = RGBColor(214, 39, 40);

/// p-values read best in scientific notation once small; one that
/// underflowed double precision is shown as a bound, not as 0.
pub(crate) fn p_text(p: f64) -> String {
    if p == 0.0 {
        "<1e-300".into()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

pub fn severity_text(s: Severity) -> &'static str {
    match s {
        Severity::None => "none",
        Severity::Moderate => "moderate",
        Severity::Major => "major",
        Severity::InsufficientData => "too few rows",
    }
}

pub fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::NoDrift => "no drift",
        Verdict::Drift => "DRIFT",
        Verdict::InsufficientData => "insufficient data",
    }
}

pub fn action_text(a: Action) -> &'static str {
    match a {
        Action::RetrainNow => "retrain now",
        Action::RetrainWithinAWeek => "retrain within a week",
        Action::KeepMonitoring => "keep monitoring",
    }
}

/// One sentence on the served rows compared.
fn log_text(l: &super::LogSummary) -> String {
    let mut t = format!(
        "{} served rows from {} request-log file(s)",
        l.rows_used, l.files
    );
    if let (Some(a), Some(b)) = (&l.first, &l.last) {
        let _ = write!(t, ", logged {a} to {b}");
    }
    if let Some(s) = &l.since {
        let _ = write!(
            t,
            " ({} earlier rows before --since {s} left out)",
            l.rows_before_since
        );
    }
    if l.fallback_rows > 0 {
        let _ = write!(
            t,
            "; {} given the fallback class (in the feature comparison, not in the prediction drift)",
            l.fallback_rows
        );
    }
    t.push('.');
    t
}

/// (test name, statistic, p, p adjusted) of one feature.
fn test_cells(f: &FeatureDrift) -> (&'static str, String, String, String) {
    if let Some(k) = &f.ks {
        (
            "KS",
            format!("{:.4}", k.statistic),
            p_text(k.p_value),
            p_text(k.p_adjusted),
        )
    } else if let Some(c) = &f.chi2 {
        (
            "chi2",
            format!("{:.2}", c.statistic),
            p_text(c.p_value),
            p_text(c.p_adjusted),
        )
    } else {
        ("–", "–".into(), "–".into(), "–".into())
    }
}

/// The terminal table: one line per feature, flagged ones marked `*`, then
/// the verdict, the recommendation and any warnings.
pub fn table(r: &DriftReport) -> String {
    let w = r
        .features
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "  {:<w$}  {:<11}  {:<4}  {:>9}  {:>9}  {:>9}  {:>7}  {:>6}  {:>6}  {:<12}",
        "feature", "kind", "test", "statistic", "p", "p adj.", "PSI", "JS", "W/sd", "severity"
    );
    for f in &r.features {
        let (test, stat, p, pa) = test_cells(f);
        let kind = match f.kind {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Categorical => "categorical",
        };
        let _ = writeln!(
            o,
            "{} {:<w$}  {:<11}  {:<4}  {:>9}  {:>9}  {:>9}  {:>7}  {:>6}  {:>6}  {:<12}",
            if f.drifted { "*" } else { " " },
            f.name,
            kind,
            test,
            stat,
            p,
            pa,
            opt(f.psi, 3),
            opt(f.js, 3),
            opt(f.wasserstein_scaled, 3),
            severity_text(f.severity),
        );
    }
    let _ = writeln!(
        o,
        "\n{} features; p-values corrected by {}; flagged (*) when p adj. < {} and PSI ≥ {} or JS ≥ {}.",
        r.features.len(),
        r.correction.describe(),
        r.settings.config.alpha,
        r.settings.config.psi_moderate,
        r.settings.config.js_threshold
    );
    if let Some(s) = &r.reference_sample {
        let _ = writeln!(o, "reference: {}", s.note);
    }
    if let Some(l) = &r.current_log {
        let _ = writeln!(o, "current: {}", log_text(l));
    }
    if let Some(p) = &r.prediction {
        let _ = writeln!(
            o,
            "predictions of `{}`: classes PSI {:.3} (chi2 p {}), {} KS {:.4} (p {}), PSI {:.3}{}",
            p.model_id,
            p.class_psi,
            p_text(p.class_chi2.p_value),
            p.score,
            p.score_ks.statistic,
            p_text(p.score_ks.p_value),
            p.score_psi,
            if p.drifted { " — shifted" } else { "" }
        );
    }
    let _ = writeln!(
        o,
        "\nverdict: {} ({} of {} features drifted{})",
        verdict_text(r.verdict),
        r.drifted_features.len(),
        r.features.len(),
        if r.drifted_features.is_empty() {
            String::new()
        } else {
            format!(": {}", r.drifted_features.join(", "))
        }
    );
    let _ = writeln!(
        o,
        "recommendation: {} — {}",
        action_text(r.recommendation.action),
        r.recommendation.reason
    );
    for wn in &r.warnings {
        let _ = writeln!(o, "warning: {wn}");
    }
    o
}

const STYLE: &str = r#"
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:24px 32px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px}h3{font-size:16px;margin:6px 0}
.sub{color:#666;margin:0 0 18px}
.verdict{background:#fff;border-left:6px solid #2ca02c;padding:14px 18px;box-shadow:0 1px 3px #0002}
.verdict.drift{border-color:#d62728}.verdict.insufficient_data{border-color:#ff7f0e}
.verdict .big{font-size:20px;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{background:#fff;margin:0;padding:8px;box-shadow:0 1px 3px #0002;text-align:center}
figure svg{max-width:100%;height:auto}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px #0002;font-size:13px;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f0f0f0}
td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}
tr.drifted{background:#fdecea;font-weight:600}
.scroll{overflow-x:auto}
.note{color:#555;font-size:13px;max-width:900px}
ul.warn li{color:#a04000}
"#;

/// The self-contained HTML report.
pub fn html(r: &DriftReport) -> String {
    let mut o = String::new();
    let cfg = &r.settings.config;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>optbench drift</title><style>{STYLE}</style></head><body><main>\
         <h1>Drift report</h1><p class=\"sub\">reference <code>{}</code> ({} rows) → current <code>{}</code> ({} rows)</p>",
        escape(&r.reference.path.display().to_string()),
        r.reference.rows,
        escape(&r.current.path.display().to_string()),
        r.current.rows
    );
    if let Some(s) = &r.reference_sample {
        let _ = write!(o, "<p class=\"note\">{}</p>", escape(&s.note));
    }
    if let Some(l) = &r.current_log {
        let _ = write!(o, "<p class=\"note\">{}</p>", escape(&log_text(l)));
    }
    let class = serde_json::to_value(r.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = write!(
        o,
        "<div class=\"verdict {class}\"><div class=\"big\">{} — {}</div><p>{}</p></div>",
        escape(verdict_text(r.verdict)),
        escape(action_text(r.recommendation.action)),
        escape(&r.recommendation.reason)
    );
    if !r.warnings.is_empty() {
        o.push_str("<ul class=\"warn\">");
        for w in &r.warnings {
            let _ = write!(o, "<li>{}</li>", escape(w));
        }
        o.push_str("</ul>");
    }
    o.push_str(
        "<h2>Features</h2><div class=\"scroll\"><table><thead><tr><th>feature</th><th>kind</th>\
         <th>test</th><th>statistic</th><th>p</th><th>p adjusted</th><th>PSI</th><th>JS</th>\
         <th>Wasserstein / sd</th><th>outside ref. range</th><th>missing ref. → cur.</th><th>severity</th></tr></thead><tbody>",
    );
    for f in &r.features {
        let (test, stat, p, pa) = test_cells(f);
        let _ = write!(
            o,
            "<tr{}><td>{}</td><td>{}</td><td>{test}</td><td>{stat}</td><td>{p}</td><td>{pa}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}% → {:.1}%</td><td>{}</td></tr>",
            if f.drifted { " class=\"drifted\"" } else { "" },
            escape(&f.name),
            match f.kind {
                FeatureKind::Numeric => "numeric",
                FeatureKind::Categorical => "categorical",
            },
            opt(f.psi, 3),
            opt(f.js, 3),
            opt(f.wasserstein_scaled, 3),
            f.out_of_range.map_or_else(|| "–".into(), |v| format!("{:.2}%", v * 100.0)),
            f.missing_reference * 100.0,
            f.missing_current * 100.0,
            severity_text(f.severity)
        );
    }
    o.push_str("</tbody></table></div>");
    let _ = write!(
        o,
        "<p class=\"note\">A feature is flagged when its p-value, corrected by {} over {} features, is below {} \
         <em>and</em> its effect is large enough: PSI ≥ {} or Jensen–Shannon distance ≥ {} (natural log). \
         Severity: PSI ≥ {} major, otherwise moderate. PSI and JS use the reference's {}-quantile bins \
         (tied edges merged, outer bins open-ended, empty bins raised to {} for PSI); categories the reference \
         never had share one <code>(unseen)</code> bucket. Numeric features: two-sample Kolmogorov–Smirnov ({}). \
         Categorical features: chi-square test of homogeneity. Wasserstein distance is in reference standard deviations. \
         Ranges: {}.</p>",
        escape(r.correction.describe()),
        r.features.len(),
        cfg.alpha,
        cfg.psi_moderate,
        cfg.js_threshold,
        cfg.psi_major,
        cfg.bins,
        r.settings.psi_epsilon,
        escape(&r.settings.ks_method_rule),
        escape(&r.settings.range_source),
    );
    let drifted: Vec<&FeatureDrift> = r.features.iter().filter(|f| f.drifted).collect();
    if !drifted.is_empty() {
        o.push_str("<h2>Drifted features</h2><p class=\"note\">Blue: reference; red: current (share of rows per bin).</p><div class=\"grid\">");
        for f in drifted {
            let svg = if let Some(h) = &f.histogram {
                histogram_svg(&f.name, h)
            } else if let Some(c) = &f.categories {
                let labels: Vec<String> = c.iter().map(|c| c.name.clone()).collect();
                let tot = |f: fn(&super::CategoryCount) -> u64| {
                    let t: u64 = c.iter().map(f).sum();
                    c.iter()
                        .map(|x| f(x) as f64 / t.max(1) as f64)
                        .collect::<Vec<f64>>()
                };
                bars_svg(&f.name, &labels, &tot(|x| x.reference), &tot(|x| x.current))
            } else {
                continue;
            };
            let caption = if f.unseen_categories.is_empty() {
                String::new()
            } else {
                let mut names = f.unseen_categories.clone();
                let more = names.len().saturating_sub(10);
                names.truncate(10);
                format!(
                    "<figcaption>new categories: {}{}</figcaption>",
                    escape(&names.join(", ")),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            };
            let _ = write!(o, "<figure>{svg}{caption}</figure>");
        }
        o.push_str("</div>");
    }
    if let Some(p) = &r.prediction {
        let _ = write!(
            o,
            "<h2>Predictions of <code>{}</code></h2><p>Predicted classes: PSI {:.3}, chi-square {:.2} (p {}). \
             Score ({}) KS {:.4} (p {}), PSI {:.3}, JS {:.3}. {}</p><div class=\"grid\"><figure>{}</figure><figure>{}</figure></div>",
            escape(&p.model_id),
            p.class_psi,
            p.class_chi2.statistic,
            p_text(p.class_chi2.p_value),
            escape(&p.score),
            p.score_ks.statistic,
            p_text(p.score_ks.p_value),
            p.score_psi,
            p.score_js,
            if p.drifted { "The predictions shifted." } else { "No shift in the predictions." },
            histogram_svg("score", &p.score_histogram),
            {
                let share = |v: &[u64]| {
                    let t: u64 = v.iter().sum();
                    v.iter().map(|&x| x as f64 / t.max(1) as f64).collect::<Vec<f64>>()
                };
                bars_svg(
                    "predicted class",
                    &p.classes,
                    &share(&p.predicted_reference),
                    &share(&p.predicted_current),
                )
            }
        );
    }
    if let Some(a) = &r.accuracy {
        let _ = write!(
            o,
            "<h2>Accuracy</h2><p>reference file {:.2}%, current {:.2}%; baseline {:.2}% ({}), so {:+.2} points</p>",
            a.reference * 100.0,
            a.current * 100.0,
            a.baseline * 100.0,
            escape(&a.baseline_source),
            -a.drop_points
        );
    }
    o.push_str("</main></body></html>\n");
    o
}

fn svg_or_note(draw: impl FnOnce(&mut String) -> Result<(), String>) -> String {
    let mut out = String::new();
    match draw(&mut out) {
        Ok(()) => out,
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"420\" height=\"40\"><text x=\"10\" y=\"25\">plot unavailable: {}</text></svg>",
            escape(&e)
        ),
    }
}

/// Overlaid step histograms of the reference and the current sample.
fn histogram_svg(name: &str, h: &Histogram) -> String {
    svg_or_note(|out| {
        let root = SVGBackend::with_string(out, (420, 260)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let n = h.reference.len();
        let width = (h.hi - h.lo) / n as f64;
        let top = h
            .reference
            .iter()
            .chain(&h.current)
            .cloned()
            .fold(0.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(name, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(h.lo..h.hi, 0.0..top.max(1e-9))
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(240, 240, 240))
            .label_style(("sans-serif", 11))
            .x_labels(5)
            .y_labels(4)
            .draw()
            .map_err(err)?;
        for (shares, color) in [(&h.reference, REFERENCE), (&h.current, CURRENT)] {
            let mut pts = vec![(h.lo, 0.0)];
            for (i, &s) in shares.iter().enumerate() {
                let x0 = h.lo + i as f64 * width;
                pts.push((x0, s));
                pts.push((x0 + width, s));
            }
            pts.push((h.hi, 0.0));
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?;
        }
        root.present().map_err(|e| e.to_string())
    })
}

/// Side-by-side bars per category (at most 20 shown, the largest first).
fn bars_svg(name: &str, labels: &[String], reference: &[f64], current: &[f64]) -> String {
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.sort_by(|&a, &b| {
        (reference[b] + current[b])
            .total_cmp(&(reference[a] + current[a]))
            .then(a.cmp(&b))
    });
    idx.truncate(20);
    svg_or_note(|out| {
        let root = SVGBackend::with_string(out, (420, 260)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let top = idx
            .iter()
            .map(|&i| reference[i].max(current[i]))
            .fold(0.0, f64::max)
            * 1.1;
        let k = idx.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(name, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..k as f64, 0.0..top.max(1e-9))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .light_line_style(RGBColor(240, 240, 240))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        // plotters puts axis labels at round numbers; name each group of bars
        // under its own centre instead.
        let style =
            TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (pos, &i) in idx.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(pos as f64 + 0.5, 0.0));
            let mut name = labels[i].clone();
            if name.chars().count() > 12 {
                name = name.chars().take(11).collect::<String>() + "…";
            }
            root.draw(&Text::new(name, (px, py + 4), style.clone()))
                .map_err(err)?;
        }
        for (pos, &i) in idx.iter().enumerate() {
            let x = pos as f64;
            chart
                .draw_series([
                    Rectangle::new(
                        [(x + 0.1, 0.0), (x + 0.5, reference[i])],
                        REFERENCE.filled(),
                    ),
                    Rectangle::new([(x + 0.5, 0.0), (x + 0.9, current[i])], CURRENT.filled()),
                ])
                .map_err(err)?;
        }
        root.present().map_err(|e| e.to_string())
    })
}
