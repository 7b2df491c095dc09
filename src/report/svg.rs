//! `pareto.svg`, two panels sharing one accuracy axis:
//! - accuracy against end-to-end p50 (log axis) — the frontier's
//!   coordinates (see `select`) — with a whisker from each p50 to its p99
//!   upper bound (the figure the budget is checked against) and a tick at the
//!   p99 itself, the Pareto frontier as a staircase, the budget as a vertical
//!   line and the chosen model ringed;
//! - accuracy against the compressed model size (log axis), the other figure
//!   a production team trades.
//!
//! Written by hand rather than through plotters: the plot needs a `<title>`
//! on every point (hover), a link from each point to its row of the report's
//! table, and labels whose width is fixed in the file (`textLength`), so the
//! placement below can prove that no two labels overlap whatever font the
//! viewer substitutes. Only the frontier points, the chosen model and the
//! closest candidate over the budget are labelled; the y-range fits them, and
//! candidates below it are drawn as markers on the bottom edge and counted.

use super::{CandidateResult, RunResults};
use crate::measure::Metric;
use std::fmt::Write as _;

pub const WIDTH: f64 = 960.0;
pub const HEIGHT: f64 = 1010.0;
/// Label font size in px; the label boxes below are computed from it.
pub const LABEL_FONT: f64 = 12.0;
/// A label's box above and below its baseline, as shares of the font size:
/// the largest ascent and descent of the common sans-serif faces (DejaVu
/// Sans: 0.928 / 0.236).
pub const ASCENT: f64 = 0.93;
pub const DESCENT: f64 = 0.24;

const FRONTIER: &str = "#1f77b4";
const DOMINATED: &str = "#969696";
const BUDGET: &str = "#d62728";
const CHOSEN: &str = "#2ca02c";
const OVER: &str = "#b85c00";
const INK: &str = "#282828";
const GRID: &str = "#ebebeb";
const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// Marker radius in px.
const R: f64 = 5.0;

/// A rectangle in pixels: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    pub fn inside(&self, o: &Rect) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }
    fn grow(&self, m: f64) -> Rect {
        Rect {
            x0: self.x0 - m,
            y0: self.y0 - m,
            x1: self.x1 + m,
            y1: self.y1 + m,
        }
    }
}

/// The two plot areas, fixed so that tick labels, titles and the legend lie
/// outside them and labels (kept inside) can never touch those.
pub const LATENCY_AREA: Rect = Rect {
    x0: 86.0,
    y0: 62.0,
    x1: 940.0,
    y1: 520.0,
};
pub const SIZE_AREA: Rect = Rect {
    x0: 86.0,
    y0: 650.0,
    x1: 940.0,
    y1: 920.0,
};

/// Advance widths (shares of the font size) of Arial/Helvetica, rounded up
/// to cover DejaVu Sans too; the SVG states each label's width with
/// `textLength`, so the renderer fits the glyphs to it.
fn char_width(c: char) -> f64 {
    match c {
        'i' | 'j' | 'l' | '.' | ',' | '\'' | '|' | '!' | ':' | ';' => 0.3,
        'f' | 't' | 'r' | '/' | '-' | '(' | ')' | ' ' | 'I' | '[' | ']' => 0.4,
        'm' | 'w' => 0.92,
        'M' | 'W' | '@' => 0.95,
        'A'..='Z' => 0.72,
        '0'..='9' => 0.64,
        '<' | '>' | '=' | '+' | '~' => 0.84,
        '★' => 0.84,
        _ if c.is_ascii() => 0.62,
        _ => 1.0,
    }
}

/// The width a label is given (its `textLength`), in px.
pub fn text_width(s: &str, font: f64) -> f64 {
    (s.chars().map(char_width).sum::<f64>() * font).ceil()
}

/// The box of a left-anchored text whose baseline starts at `(x, y)`.
pub fn text_box(x: f64, y: f64, width: f64, font: f64) -> Rect {
    Rect {
        x0: x,
        y0: y - ASCENT * font,
        x1: x + width,
        y1: y + DESCENT * font,
    }
}

/// An HTML id for a candidate's table row: the id with every character
/// other than ASCII letters, digits, `-` and `_` written as `.XX` (hex), so
/// distinct ids stay distinct.
pub fn row_anchor(id: &str) -> String {
    let mut s = String::from("cand-");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            s.push(b as char);
        } else {
            let _ = write!(s, ".{b:02X}");
        }
    }
    s
}

fn esc(s: &str) -> String {
    super::html::escape(s)
}

/// Renders `pareto.svg`.
pub fn render_pareto_svg(r: &RunResults) -> String {
    let metric = r.metric();
    if metric == Metric::Accuracy {
        return render(r);
    }
    // The y-axis is the metric that chose: each candidate's plotted value
    // takes accuracy's place in a copy, so every panel, range and frontier
    // below draws it unchanged.
    let mut view = r.clone();
    for c in &mut view.candidates {
        c.accuracy = plotted(metric, c.quality(metric));
    }
    render(&view)
}

/// The value drawn on the y-axis: the metric itself for the shares; for
/// log-loss (lower is better, unbounded) exp(−log-loss), the geometric mean
/// of the probability given to the true class — a share in (0, 1], higher
/// is better, in the same order as log-loss, so the frontier is the one
/// log-loss chose on. A missing value (not recorded, or ROC AUC with one
/// class) draws at 0.
fn plotted(metric: Metric, value: Option<f64>) -> f64 {
    match (metric, value) {
        (Metric::LogLoss, Some(v)) => (-v).exp(),
        (_, Some(v)) if v.is_finite() => v,
        _ => 0.0,
    }
}

/// What the y-axis shows, in words.
fn y_name(r: &RunResults) -> String {
    match r.metric() {
        Metric::LogLoss => "exp(−log-loss)".to_string(),
        m => m.label().to_string(),
    }
}

fn render(r: &RunResults) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"{FONT}\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    );
    if r.candidates.is_empty() {
        out.push_str("<text x=\"20\" y=\"40\">no candidates</text></svg>");
        return out;
    }
    let budget_ns = r.budget.p99_ms * 1e6;
    let y_desc = format!("test {}", y_name(r));
    let title = format!(
        "Latency–{} frontier · budget {} on the p99 upper bound",
        y_name(r),
        fmt_ns(budget_ns)
    );
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"24\" font-size=\"19\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>",
        WIDTH / 2.0,
        esc(&title)
    );
    legend(&mut out);

    let chosen = r.chosen().map(|c| c.id.as_str());
    let over = closest_over_budget(r).map(|c| c.id.as_str());
    let (y0, y1) = accuracy_range(r, chosen, over);

    // Latency panel.
    let lat = |c: &CandidateResult| ns(c.latency_ns.p50.0);
    let (lx0, lx1) = log_range(
        r.candidates
            .iter()
            .flat_map(|c| [lat(c), ns(c.latency_ns.p99_upper.0)])
            .chain([budget_ns]),
    );
    let lp = Panel {
        area: LATENCY_AREA,
        x: (lx0, lx1),
        y: (y0, y1),
    };
    axes(
        &mut out,
        &lp,
        "end-to-end latency per row, log scale: dot = p50, tick = p99, whisker end = p99's 95% upper bound",
        &y_desc,
    );
    // Budget line, labelled at its top inside the plot.
    let bx = lp.px(budget_ns);
    let _ = write!(
        out,
        "<line x1=\"{bx:.1}\" y1=\"{}\" x2=\"{bx:.1}\" y2=\"{}\" stroke=\"{BUDGET}\" stroke-width=\"2\" stroke-dasharray=\"8 5\"/>",
        lp.area.y0, lp.area.y1
    );
    staircase(
        &mut out,
        r.candidates
            .iter()
            .filter(|c| c.pareto_optimal)
            .map(|c| (lp.px(lat(c)), lp.py(c.accuracy)))
            .collect(),
    );
    // Whiskers (visible candidates only).
    for c in r.candidates.iter().filter(|c| c.accuracy >= y0) {
        let y = lp.py(c.accuracy);
        let (a, b, t) = (
            lp.px(lat(c)),
            lp.px(ns(c.latency_ns.p99_upper.0)),
            lp.px(ns(c.latency_ns.p99.0)),
        );
        let col = color(c);
        let _ = write!(
            out,
            "<line x1=\"{a:.1}\" y1=\"{y:.1}\" x2=\"{b:.1}\" y2=\"{y:.1}\" stroke=\"{col}\" stroke-opacity=\"0.6\"/>\
             <line x1=\"{t:.1}\" y1=\"{:.1}\" x2=\"{t:.1}\" y2=\"{:.1}\" stroke=\"{col}\" stroke-width=\"2\"/>",
            y - 4.0,
            y + 4.0
        );
    }
    // The budget's label sits at the top of its line, placed before the
    // point labels so they keep clear of it.
    let budget_label = format!("budget {}", fmt_ns(budget_ns));
    let bw = text_width(&budget_label, LABEL_FONT);
    let bl_x = if bx + 4.0 + bw <= lp.area.x1 {
        bx + 4.0
    } else {
        bx - 4.0 - bw
    };
    let by = lp.area.y0 + 16.0;
    label_text(&mut out, bl_x, by, &budget_label, BUDGET, "label");
    let reserved = [text_box(bl_x, by, bw, LABEL_FONT)];
    points_and_labels_where(&mut out, r, &lp, &lat, chosen, over, &reserved, |c| {
        c.pareto_optimal
    });

    // Size panel.
    let size = |c: &CandidateResult| c.size_bytes.compressed.max(1) as f64;
    let (sx0, sx1) = log_range(r.candidates.iter().map(size));
    let sp = Panel {
        area: SIZE_AREA,
        x: (sx0, sx1),
        y: (y0, y1),
    };
    let _ = write!(
        out,
        "<text x=\"{0}\" y=\"{1}\" font-size=\"17\" text-anchor=\"middle\" fill=\"{INK}\">{3} against model size</text>\
         <text x=\"{0}\" y=\"{2}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#666\">blue: no other candidate is smaller and at least as good by {4} · ring: the chosen model</text>",
        WIDTH / 2.0,
        SIZE_AREA.y0 - 28.0,
        SIZE_AREA.y0 - 9.0,
        esc(&capitalise(&y_name(r))),
        esc(&y_name(r))
    );
    axes(
        &mut out,
        &sp,
        "model size (zstd-compressed, as packaged), log scale",
        &y_desc,
    );
    let size_front = size_frontier(r);
    staircase(
        &mut out,
        r.candidates
            .iter()
            .filter(|c| size_front.contains(&c.id.as_str()) && c.accuracy >= y0)
            .map(|c| (sp.px(size(c)), sp.py(c.accuracy)))
            .collect(),
    );
    points_and_labels_where(&mut out, r, &sp, &size, chosen, over, &[], |c| {
        size_front.contains(&c.id.as_str())
    });
    out.push_str("</svg>");
    out
}

/// A frontier as a staircase through pixel points: right along the
/// accuracy reached, then up.
fn staircase(out: &mut String, mut front: Vec<(f64, f64)>) {
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut stair = String::new();
    for (i, &(x, y)) in front.iter().enumerate() {
        if i > 0 {
            let _ = write!(stair, "{x:.1},{:.1} ", front[i - 1].1);
        }
        let _ = write!(stair, "{x:.1},{y:.1} ");
    }
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{FRONTIER}\" stroke-width=\"2\"/>",
        stair.trim_end()
    );
}

/// One panel: its pixel area and its data ranges (x in log10 units of the
/// value, y in accuracy).
struct Panel {
    area: Rect,
    x: (f64, f64),
    y: (f64, f64),
}

impl Panel {
    fn px(&self, v: f64) -> f64 {
        let (a, b) = self.x;
        self.area.x0 + (v.max(1e-9).log10() - a) / (b - a) * (self.area.x1 - self.area.x0)
    }
    fn py(&self, acc: f64) -> f64 {
        let (a, b) = self.y;
        self.area.y1 - (acc - a) / (b - a) * (self.area.y1 - self.area.y0)
    }
}

/// Nanoseconds as f64; a latency of 0 (a call cheaper than the subtracted
/// timer overhead) is drawn at 1 ns.
fn ns(v: u64) -> f64 {
    v.max(1) as f64
}

fn fmt_ns(v: f64) -> String {
    if v < 1e3 {
        format!("{} ns", trim(v))
    } else if v < 1e6 {
        format!("{} µs", trim(v / 1e3))
    } else if v < 1e9 {
        format!("{} ms", trim(v / 1e6))
    } else {
        format!("{} s", trim(v / 1e9))
    }
}

/// Decimal units, so the log axis ticks at 1, 2, 5 × 10ⁿ read as round
/// numbers.
fn fmt_bytes(v: f64) -> String {
    if v < 1e3 {
        format!("{} B", trim(v))
    } else if v < 1e6 {
        format!("{} kB", trim(v / 1e3))
    } else {
        format!("{} MB", trim(v / 1e6))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn color(c: &CandidateResult) -> &'static str {
    if c.pareto_optimal {
        FRONTIER
    } else {
        DOMINATED
    }
}

/// The candidate a reader wants to see beside the choice: the fastest (by
/// p99 upper bound) of those over the budget that are more accurate than the
/// chosen one — or, when nothing fits, the closest one the selection names.
pub fn closest_over_budget(r: &RunResults) -> Option<&CandidateResult> {
    match r.chosen() {
        None => r.closest(),
        Some(ch) => r
            .candidates
            .iter()
            .filter(|c| !c.within_budget && c.accuracy > ch.accuracy)
            .min_by(|a, b| {
                a.latency_ns
                    .p99_upper
                    .0
                    .cmp(&b.latency_ns.p99_upper.0)
                    .then(b.accuracy.total_cmp(&a.accuracy))
            }),
    }
}

/// The accuracy range: every frontier point, the chosen model and the
/// closest over the budget, padded; the candidates below it are counted.
fn accuracy_range(r: &RunResults, chosen: Option<&str>, over: Option<&str>) -> (f64, f64) {
    let keep = |c: &&CandidateResult| {
        c.pareto_optimal || Some(c.id.as_str()) == chosen || Some(c.id.as_str()) == over
    };
    let lo = r
        .candidates
        .iter()
        .filter(keep)
        .map(|c| c.accuracy)
        .fold(f64::INFINITY, f64::min);
    let hi = r.candidates.iter().map(|c| c.accuracy).fold(0.0, f64::max);
    let lo = if lo.is_finite() { lo } else { hi };
    let pad = ((hi - lo) * 0.1).max(0.004);
    ((lo - pad).max(0.0), (hi + pad).min(1.0 + pad))
}

/// log10 range around the values, widened to whole-ish steps.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        let l = v.max(1.0).log10();
        lo = lo.min(l);
        hi = hi.max(l);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.06).max(0.15);
    (lo - pad, hi + pad)
}

/// Ticks on a log axis: every decade, with 2 and 5 between when the axis
/// spans fewer than four decades.
fn log_ticks(a: f64, b: f64) -> Vec<f64> {
    let steps: &[f64] = if b - a < 4.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut out = Vec::new();
    let mut d = a.floor() as i32;
    while f64::from(d) <= b {
        for s in steps {
            let v = s * 10f64.powi(d);
            if (a..=b).contains(&v.log10()) {
                out.push(v);
            }
        }
        d += 1;
    }
    out
}

fn acc_ticks(a: f64, b: f64) -> (Vec<f64>, usize) {
    let span = b - a;
    let step = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
        .into_iter()
        .find(|s| span / s <= 8.0)
        .unwrap_or(0.5);
    let decimals = if step < 0.01 { 3 } else { 2 };
    let mut v = (a / step).ceil() * step;
    let mut out = Vec::new();
    while v <= b + 1e-12 {
        out.push(v);
        v += step;
    }
    (out, decimals)
}

fn axes(out: &mut String, p: &Panel, x_desc: &str, y_desc: &str) {
    let a = p.area;
    let is_latency = a == LATENCY_AREA;
    for t in log_ticks(p.x.0, p.x.1) {
        let x = p.px(t);
        let label = if is_latency { fmt_ns(t) } else { fmt_bytes(t) };
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{GRID}\"/>\
             <text x=\"{x:.1}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>",
            a.y0,
            a.y1,
            a.y1 + 18.0,
            esc(&label)
        );
    }
    let (ticks, decimals) = acc_ticks(p.y.0, p.y.1);
    for t in ticks {
        let y = p.py(t);
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"{GRID}\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\" fill=\"{INK}\">{t:.decimals$}</text>",
            a.x0,
            a.x1,
            a.x0 - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>\
         <text transform=\"translate({},{}) rotate(-90)\" font-size=\"14\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>",
        a.x0,
        a.y0,
        a.x1 - a.x0,
        a.y1 - a.y0,
        (a.x0 + a.x1) / 2.0,
        a.y1 + 38.0,
        esc(x_desc),
        a.x0 - 62.0,
        (a.y0 + a.y1) / 2.0,
        esc(y_desc)
    );
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn legend(out: &mut String) {
    let y = 46.0;
    let mut x = 200.0;
    let items: [(&str, &str); 5] = [
        ("frontier", FRONTIER),
        ("dominated", DOMINATED),
        ("chosen", CHOSEN),
        ("closest over budget", OVER),
        ("budget", BUDGET),
    ];
    for (name, col) in items {
        match name {
            "budget" => {
                let _ = write!(
                    out,
                    "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"{col}\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>",
                    y - 10.0,
                    y + 3.0
                );
            }
            "chosen" | "closest over budget" => {
                let _ = write!(
                    out,
                    "<circle cx=\"{x}\" cy=\"{}\" r=\"6\" fill=\"none\" stroke=\"{col}\" stroke-width=\"2.5\"/>",
                    y - 4.0
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "<circle cx=\"{x}\" cy=\"{}\" r=\"{R}\" fill=\"{col}\"/>",
                    y - 4.0
                );
            }
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{y}\" font-size=\"13\" fill=\"{INK}\">{name}</text>",
            x + 10.0
        );
        x += 30.0 + text_width(name, 13.0);
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#666\">hover a point: its figures · click it: its table row</text>",
        LATENCY_AREA.x1,
        LATENCY_AREA.y1 + 54.0
    );
}

fn label_text(out: &mut String, x: f64, y: f64, s: &str, col: &str, class: &str) {
    let w = text_width(s, LABEL_FONT);
    let _ = write!(
        out,
        "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{LABEL_FONT}\" textLength=\"{w}\" \
         lengthAdjust=\"spacingAndGlyphs\" fill=\"{col}\" stroke=\"white\" stroke-width=\"3\" \
         paint-order=\"stroke\">{}</text>",
        esc(s)
    );
}

/// Draws every candidate's marker (with its hover title and row link),
/// blue where `wanted` (the panel's frontier), and labels the chosen one,
/// the closest over the budget and the `wanted` ones, clear of the `reserved` boxes.
#[allow(clippy::too_many_arguments)]
fn points_and_labels_where(
    out: &mut String,
    r: &RunResults,
    p: &Panel,
    x: &dyn Fn(&CandidateResult) -> f64,
    chosen: Option<&str>,
    over: Option<&str>,
    reserved: &[Rect],
    wanted: impl Fn(&CandidateResult) -> bool,
) {
    let a = p.area;
    let mut below = 0;
    let mut anchors: Vec<(f64, f64)> = Vec::new();
    // Dominated first, so frontier points and the choice are drawn on top.
    let mut order: Vec<&CandidateResult> = r.candidates.iter().collect();
    order.sort_by_key(|c| (wanted(c), Some(c.id.as_str()) == chosen));
    for c in &order {
        let px = p.px(x(c));
        let title = format!(
            "{} · {} {:.4} · p50 {} · p99 {} (bound {}) · size {}{}",
            c.id,
            y_name(r),
            c.accuracy,
            fmt_ns(ns(c.latency_ns.p50.0)),
            fmt_ns(ns(c.latency_ns.p99.0)),
            fmt_ns(ns(c.latency_ns.p99_upper.0)),
            fmt_bytes(c.size_bytes.compressed as f64),
            if c.within_budget {
                ""
            } else {
                " · over budget"
            }
        );
        let _ = write!(
            out,
            "<a href=\"#{}\"><g class=\"point\"><title>{}</title>",
            row_anchor(&c.id),
            esc(&title)
        );
        if c.accuracy < p.y.0 {
            // Below the range: a marker on the bottom edge.
            below += 1;
            let yb = a.y1 - 2.0;
            let _ = write!(
                out,
                "<path d=\"M{:.1},{:.1} l-4,-7 h8 z\" fill=\"{DOMINATED}\"/></g></a>",
                px, yb
            );
            anchors.push((px, yb - 4.0));
            continue;
        }
        let py = p.py(c.accuracy);
        anchors.push((px, py));
        let _ = write!(
            out,
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"{R}\" fill=\"{}\"/>",
            if wanted(c) { FRONTIER } else { DOMINATED }
        );
        if Some(c.id.as_str()) == chosen {
            let _ = write!(
                out,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"10\" fill=\"none\" stroke=\"{CHOSEN}\" stroke-width=\"3\"/>"
            );
        } else if Some(c.id.as_str()) == over {
            let _ = write!(
                out,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"10\" fill=\"none\" stroke=\"{OVER}\" stroke-width=\"2.5\" stroke-dasharray=\"4 3\"/>"
            );
        }
        out.push_str("</g></a>");
    }
    if below > 0 {
        let note = format!(
            "▼ {below} dominated candidate{} below {:.3} (markers on the bottom edge; all in the table)",
            if below == 1 { "" } else { "s" },
            p.y.0
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#555\">{}</text>",
            a.x0,
            a.y1 + 54.0,
            esc(&note)
        );
    }

    // Labels: the choice first, then the closest over budget, then the
    // wanted points from the most accurate down.
    let mut todo: Vec<(&CandidateResult, String, &str)> = Vec::new();
    if let Some(c) = r.candidates.iter().find(|c| Some(c.id.as_str()) == chosen) {
        todo.push((c, format!("{} ★ chosen", c.id), CHOSEN));
    }
    if let Some(c) = r.candidates.iter().find(|c| Some(c.id.as_str()) == over) {
        todo.push((c, format!("{} (over budget)", c.id), OVER));
    }
    let mut rest: Vec<&CandidateResult> = r
        .candidates
        .iter()
        .filter(|c| wanted(c) && Some(c.id.as_str()) != chosen && Some(c.id.as_str()) != over)
        .filter(|c| c.accuracy >= p.y.0)
        .collect();
    rest.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy).then(a.id.cmp(&b.id)));
    todo.extend(rest.into_iter().map(|c| (c, c.id.clone(), INK)));

    let markers: Vec<Rect> = anchors
        .iter()
        .map(|&(x, y)| Rect {
            x0: x - R - 1.0,
            y0: y - R - 1.0,
            x1: x + R + 1.0,
            y1: y + R + 1.0,
        })
        .collect();
    let mut placed: Vec<Rect> = reserved.to_vec();
    for (c, text, col) in todo {
        let (ax, ay) = (p.px(x(c)), p.py(c.accuracy));
        let w = text_width(&text, LABEL_FONT);
        if let Some((bx, by, far)) = place(ax, ay, w, &a, &placed, &markers) {
            if far {
                let b = text_box(bx, by, w, LABEL_FONT);
                let tx = ax.clamp(b.x0, b.x1);
                let ty = ay.clamp(b.y0, b.y1);
                let _ = write!(
                    out,
                    "<line x1=\"{ax:.1}\" y1=\"{ay:.1}\" x2=\"{tx:.1}\" y2=\"{ty:.1}\" stroke=\"#aaa\"/>"
                );
            }
            label_text(out, bx, by, &text, col, "label");
            placed.push(text_box(bx, by, w, LABEL_FONT));
        }
    }
}

/// The first position, nearest first, where a label of width `w` for the
/// point `(ax, ay)` stays inside `area` and clear of every placed label and
/// every marker: the baseline start and whether it is far enough from the
/// point to need a leader line.
fn place(
    ax: f64,
    ay: f64,
    w: f64,
    area: &Rect,
    placed: &[Rect],
    markers: &[Rect],
) -> Option<(f64, f64, bool)> {
    let h = (ASCENT + DESCENT) * LABEL_FONT;
    let free = |b: &Rect| {
        b.inside(area)
            && !placed.iter().any(|p| p.grow(2.0).overlaps(b))
            && !markers.iter().any(|m| m.overlaps(b))
    };
    for dist in [8.0, 16.0, 28.0, 44.0, 64.0, 90.0, 120.0] {
        // Right, left, above, below, then the four diagonals.
        let tries = [
            (ax + dist, ay - h / 2.0),
            (ax - dist - w, ay - h / 2.0),
            (ax - w / 2.0, ay - dist - h),
            (ax - w / 2.0, ay + dist),
            (ax + dist * 0.7, ay - dist * 0.7 - h),
            (ax + dist * 0.7, ay + dist * 0.7),
            (ax - dist * 0.7 - w, ay - dist * 0.7 - h),
            (ax - dist * 0.7 - w, ay + dist * 0.7),
        ];
        for (left, top) in tries {
            let b = Rect {
                x0: left,
                y0: top,
                x1: left + w,
                y1: top + h,
            };
            if free(&b) {
                return Some((left, top + ASCENT * LABEL_FONT, dist > 20.0));
            }
        }
    }
    None
}

/// Candidates no other beats on accuracy without being smaller (ties on
/// both: the first in the results).
fn size_frontier(r: &RunResults) -> Vec<&str> {
    let cs = &r.candidates;
    cs.iter()
        .enumerate()
        .filter(|&(i, c)| {
            !cs.iter().enumerate().any(|(j, o)| {
                let (os, cs_) = (o.size_bytes.compressed, c.size_bytes.compressed);
                j != i
                    && o.accuracy >= c.accuracy
                    && os <= cs_
                    && (o.accuracy > c.accuracy || os < cs_ || j < i)
            })
        })
        .map(|(_, c)| c.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests;
