//! `serve_bench.json`, `serve_bench.svg` (p50 and p99 against offered
//! rate, one colour per request size, log scales: the knee where the server
//! saturates) and `serve_bench.html` (the plot and a table per size, with
//! where the time goes).

use super::{Bench, Series};
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

pub fn write(out: &Path, bench: &Bench) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let json = serde_json::to_string_pretty(bench)
        .map_err(|e| Error::Measure(format!("cannot write serve_bench.json: {e}")))?;
    crate::fsutil::write_atomic(&out.join("serve_bench.json"), json.as_bytes())?;
    let svg = plot(&bench.series);
    crate::fsutil::write_atomic(&out.join("serve_bench.svg"), svg.as_bytes())?;
    crate::fsutil::write_atomic(&out.join("serve_bench.html"), html(bench).as_bytes())?;
    Ok(())
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

fn plot(series: &[Series]) -> String {
    let mut out = String::new();
    let drawn = (|| -> std::result::Result<(), String> {
        let root = SVGBackend::with_string(&mut out, (640, 400)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let points: Vec<(f64, f64)> = series
            .iter()
            .flat_map(|s| &s.steps)
            .filter_map(|m| m.client.latency.map(|l| (m.client.offered_rate, l.p99_us)))
            .collect();
        let (x_lo, x_hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
        let y_lo = series
            .iter()
            .flat_map(|s| &s.steps)
            .filter_map(|m| m.client.latency.map(|l| l.p50_us))
            .fold(f64::INFINITY, f64::min);
        let y_hi = points.iter().map(|p| p.1).fold(0.0, f64::max);
        if points.is_empty() {
            return Err("no step answered".into());
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Client-observed latency against offered rate",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (x_lo * 0.8..x_hi * 1.25).log_scale(),
                (y_lo * 0.8..y_hi * 1.25).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("offered rate (requests/s)")
            .y_desc("latency (µs)")
            .label_style(("sans-serif", 11))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        for (s, color) in series.iter().zip(COLORS.iter().cycle()) {
            let p99: Vec<(f64, f64)> = s
                .steps
                .iter()
                .filter_map(|m| m.client.latency.map(|l| (m.client.offered_rate, l.p99_us)))
                .collect();
            let p50: Vec<(f64, f64)> = s
                .steps
                .iter()
                .filter_map(|m| m.client.latency.map(|l| (m.client.offered_rate, l.p50_us)))
                .collect();
            chart
                .draw_series(LineSeries::new(p99.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(format!("p99, {} row(s)/request", s.rows_per_request))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(p99.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(p50, color.mix(0.5).stroke_width(1)))
                .map_err(err)?
                .label(format!("p50, {} row(s)/request", s.rows_per_request))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.mix(0.5)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        root.present().map_err(|e| e.to_string())
    })();
    match drawn {
        Ok(()) => out,
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"40\"><text x=\"10\" y=\"25\">plot unavailable: {}</text></svg>",
            escape(&e)
        ),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html(bench: &Bench) -> String {
    let mut h = String::new();
    let s = &bench.server;
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>optbench loadtest: {}</title>\
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f4f4f4}}</style></head><body>\
<h1>Served latency: {}</h1><p>Version {} on {}{}{}. Open-loop load: every latency runs from the moment its request was due. {}</p>\
<img src=\"serve_bench.svg\" alt=\"p50 and p99 against offered rate\">",
        escape(&s.model_id),
        escape(&s.model_id),
        escape(&s.version),
        escape(&s.addr),
        s.cold_start_ms
            .map_or(String::new(), |c| format!(", exec to ready {c:.1} ms")),
        s.rss_kib
            .map_or(String::new(), |r| format!(", resident memory {:.1} MiB", r as f64 / 1024.0)),
        escape(&bench.generator.to_string()),
    );
    for series in &bench.series {
        let _ = write!(
            h,
            "<h2>{} row(s) per request</h2><p>Highest rate with p99 within the threshold and no failure: {}.</p>\
<table><tr><th>offered/s</th><th>achieved/s</th><th>p50 µs</th><th>p90 µs</th><th>p99 µs</th><th>p99 bound µs</th>\
<th>p99.9 µs</th><th>max µs</th><th>errors</th><th>timeouts</th><th>server µs (parse / preprocess / predict / serialize)</th>\
<th>outside server µs</th></tr>",
            series.rows_per_request,
            series
                .knee_rate
                .map_or("none".to_string(), |r| format!("{r} requests/s")),
        );
        for m in &series.steps {
            let c = &m.client;
            let l = c.latency;
            let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
            let server = m.server.as_ref().map_or("–".to_string(), |sv| {
                let st = |k: &str| sv.stages_mean_us.get(k).copied().unwrap_or(0.0);
                format!(
                    "{:.1} ({:.1} / {:.1} / {:.1} / {:.1})",
                    sv.handling_mean_us,
                    st("parse"),
                    st("preprocess"),
                    st("predict"),
                    st("serialize")
                )
            });
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{server}</td><td>{}</td></tr>",
                c.offered_rate,
                c.achieved_rate,
                f(l.map(|l| l.p50_us)),
                f(l.map(|l| l.p90_us)),
                f(l.map(|l| l.p99_us)),
                f(l.and_then(|l| l.p99_upper_us)),
                f(l.map(|l| l.p99_9_us)),
                f(l.map(|l| l.max_us)),
                c.errors,
                c.timeouts,
                f(m.server.as_ref().and_then(|s| s.outside_server_mean_us)),
            );
        }
        h.push_str("</table>");
    }
    h.push_str(
        "<p>Server figures are means over each step's requests, from the server's own histograms \
(<code>/metrics</code>); \"outside server\" is the client's mean service time (request written → \
answer read) minus the server's mean handling: the network stack, HTTP framing and the client.</p></body></html>",
    );
    h
}
