//! The latency–accuracy plot: every candidate at (end-to-end p50, accuracy)
//! on a log latency axis — the frontier's coordinates (see `select`) — with a
//! whisker from there to its p99 upper bound (the figure the budget is
//! checked against) and a tick at the p99 itself, the Pareto frontier as a
//! staircase, the budget as a vertical line and the chosen model ringed.

use super::RunResults;
use plotters::coord::Shift;
use plotters::prelude::*;

const FRONTIER: RGBColor = RGBColor(31, 119, 180);
const DOMINATED: RGBColor = RGBColor(150, 150, 150);
const BUDGET: RGBColor = RGBColor(214, 39, 40);
const CHOSEN: RGBColor = RGBColor(44, 160, 44);

/// Renders `pareto.svg`.
pub fn render_pareto_svg(r: &RunResults) -> String {
    let mut out = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut out, (960, 600)).into_drawing_area();
        draw(&root, r).and_then(|_| root.present().map_err(|e| e.to_string()))
    };
    match drawn {
        Ok(()) => out,
        // Drawing into a string has no I/O to fail; keep a readable fallback anyway.
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"60\"><text x=\"10\" y=\"30\">plot unavailable: {}</text></svg>",
            super::html::escape(&e)
        ),
    }
}

/// Frontier points in blue, dominated ones in grey.
fn color_of(c: &super::CandidateResult) -> RGBColor {
    if c.pareto_optimal {
        FRONTIER
    } else {
        DOMINATED
    }
}

/// Microseconds for the log axis; a latency of 0 (a call cheaper than the
/// subtracted timer overhead) is drawn at 1 ns.
fn us(ns: u64) -> f64 {
    ns.max(1) as f64 / 1e3
}

fn fmt_us(v: f64) -> String {
    if v < 1.0 {
        format!("{:.0} ns", v * 1e3)
    } else if v < 1e3 {
        format!("{} µs", trim(v))
    } else if v < 1e6 {
        format!("{} ms", trim(v / 1e3))
    } else {
        format!("{} s", trim(v / 1e6))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, r: &RunResults) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let cands = &r.candidates;
    if cands.is_empty() {
        return Ok(());
    }
    let budget = r.budget.p99_ms * 1e3;
    let lo = cands
        .iter()
        .map(|c| us(c.latency_ns.p50.0))
        .fold(f64::INFINITY, f64::min)
        .min(budget);
    let hi = cands
        .iter()
        .map(|c| us(c.latency_ns.p99_upper.0))
        .fold(0.0, f64::max)
        .max(budget);
    let (x0, x1) = ((lo / 2.0).max(1e-3), hi * 2.0);
    let amin = cands
        .iter()
        .map(|c| c.accuracy)
        .fold(f64::INFINITY, f64::min);
    let amax = cands.iter().map(|c| c.accuracy).fold(0.0, f64::max);
    let pad = ((amax - amin) * 0.12).max(0.005);
    let (y0, y1) = (amin - pad, amax + pad);

    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Latency–accuracy frontier · budget {} on the p99 upper bound",
                fmt_us(budget)
            ),
            ("sans-serif", 20),
        )
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("end-to-end latency per row, log scale: dot = p50, tick = p99, whisker end = p99's 95% upper bound")
        .y_desc("test accuracy")
        .x_label_formatter(&|v| fmt_us(*v))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .light_line_style(RGBColor(235, 235, 235))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;

    // Budget.
    chart
        .draw_series(DashedLineSeries::new(
            vec![(budget, y0), (budget, y1)],
            8,
            5,
            BUDGET.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("budget {}", fmt_us(budget)))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BUDGET.stroke_width(2)));

    // Frontier staircase: right along the accuracy reached, then up.
    let mut front: Vec<(f64, f64)> = cands
        .iter()
        .filter(|c| c.pareto_optimal)
        .map(|c| (us(c.latency_ns.p50.0), c.accuracy))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut stair = Vec::new();
    for (i, &(x, y)) in front.iter().enumerate() {
        if i > 0 {
            stair.push((x, front[i - 1].1));
        }
        stair.push((x, y));
    }
    chart
        .draw_series(LineSeries::new(stair, FRONTIER.stroke_width(2)))
        .map_err(err)?
        .label("Pareto frontier")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FRONTIER.stroke_width(2)));

    // Whiskers from the p50 to the p99's upper bound, ticked at the p99.
    chart
        .draw_series(cands.iter().map(|c| {
            PathElement::new(
                vec![
                    (us(c.latency_ns.p50.0), c.accuracy),
                    (us(c.latency_ns.p99_upper.0), c.accuracy),
                ],
                color_of(c).mix(0.6).stroke_width(1),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(cands.iter().map(|c| {
            EmptyElement::at((us(c.latency_ns.p99.0), c.accuracy))
                + PathElement::new(vec![(0, -4), (0, 4)], color_of(c).stroke_width(2))
        }))
        .map_err(err)?;

    // Points, then labels placed where they do not overprint each other.
    chart
        .draw_series(cands.iter().map(|c| {
            Circle::new(
                (us(c.latency_ns.p50.0), c.accuracy),
                5,
                color_of(c).filled(),
            )
        }))
        .map_err(err)?;
    let anchors: Vec<(i32, i32)> = cands
        .iter()
        .map(|c| chart.backend_coord(&(us(c.latency_ns.p50.0), c.accuracy)))
        .collect();
    let lengths: Vec<usize> = cands.iter().map(|c| c.id.chars().count()).collect();
    let offsets = place_labels(&anchors, &lengths);
    chart
        .draw_series(cands.iter().zip(offsets).map(|(c, off)| {
            EmptyElement::at((us(c.latency_ns.p50.0), c.accuracy))
                + Text::new(
                    c.id.clone(),
                    off,
                    ("sans-serif", 13).into_font().color(&RGBColor(40, 40, 40)),
                )
        }))
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Circle::new(
            (0.0, 0.0),
            0,
            DOMINATED.filled(),
        )))
        .map_err(err)?
        .label("dominated")
        .legend(|(x, y)| Circle::new((x + 9, y), 5, DOMINATED.filled()));

    if let Some(c) = r.chosen() {
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((us(c.latency_ns.p50.0), c.accuracy))
                    + Circle::new((0, 0), 11, CHOSEN.stroke_width(3))
                    + Text::new(
                        "chosen",
                        (8, 6),
                        ("sans-serif", 13).into_font().color(&CHOSEN),
                    ),
            ))
            .map_err(err)?
            .label("chosen")
            .legend(|(x, y)| Circle::new((x + 9, y), 6, CHOSEN.stroke_width(2)));
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Greedy label placement: for each point (in pixel coordinates), the first
/// of a few offsets whose text box (about 7 px a character, 14 px high)
/// overlaps no label placed before it and no other point.
fn place_labels(anchors: &[(i32, i32)], lengths: &[usize]) -> Vec<(i32, i32)> {
    const CANDIDATES: [(i32, i32); 8] = [
        (8, -16),
        (8, 4),
        (-8, -16),
        (-8, 4),
        (8, -30),
        (8, 18),
        (-8, -30),
        (-8, 18),
    ];
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let mut out = Vec::with_capacity(anchors.len());
    for (i, (&(x, y), &len)) in anchors.iter().zip(lengths).enumerate() {
        let w = 7 * len as i32;
        // A negative dx puts the text to the left of the point.
        let boxed = |(dx, dy): (i32, i32)| {
            let x0 = if dx < 0 { x + dx - w } else { x + dx };
            (x0, y + dy, x0 + w, y + dy + 14)
        };
        let hits = |b: (i32, i32, i32, i32)| {
            placed
                .iter()
                .any(|p| b.0 < p.2 && p.0 < b.2 && b.1 < p.3 && p.1 < b.3)
                || anchors.iter().enumerate().any(|(j, &(px, py))| {
                    j != i && px + 5 > b.0 && px - 5 < b.2 && py + 5 > b.1 && py - 5 < b.3
                })
        };
        let pick = CANDIDATES
            .iter()
            .copied()
            .find(|&o| !hits(boxed(o)))
            .unwrap_or(CANDIDATES[0]);
        placed.push(boxed(pick));
        let (dx, dy) = pick;
        out.push(if dx < 0 { (dx - w, dy) } else { (dx, dy) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_names_every_candidate_and_marks_budget_and_choice() {
        let r = super::super::sample::results();
        let svg = render_pareto_svg(&r);
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        for c in &r.candidates {
            let escaped = c.id.replace('<', "&lt;").replace('>', "&gt;");
            assert!(
                svg.contains(&escaped) || svg.contains(&c.id),
                "{} missing",
                c.id
            );
        }
        assert!(svg.contains("budget 50 µs"));
        assert!(svg.contains("chosen"));
        assert_eq!(fmt_us(0.25), "250 ns");
        assert_eq!(fmt_us(50_000.0), "50 ms");
    }

    #[test]
    fn a_zero_latency_is_drawn_not_lost() {
        let mut r = super::super::sample::results();
        r.candidates[0].latency_ns.p50 = crate::measure::Nanos(0);
        let svg = render_pareto_svg(&r);
        assert!(
            !svg.contains("NaN") && !svg.contains("inf"),
            "bad coordinates"
        );
        let id = r.candidates[0].id.replace('<', "&lt;").replace('>', "&gt;");
        assert!(svg.contains(&id));
    }

    #[test]
    fn labels_of_close_points_do_not_overlap() {
        let offsets = place_labels(&[(100, 100), (102, 101), (300, 50)], &[8, 14, 5]);
        assert_eq!(offsets[0], (8, -16));
        assert_ne!(offsets[1], (8, -16));
        assert_eq!(offsets[2], (8, -16));
    }
}
