use super::*;
use crate::report::RunResults;

fn fixture(name: &str) -> RunResults {
    let path = format!(
        "{}/tests/fixtures/report/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    crate::report::read_json(std::path::Path::new(&path)).expect(&path)
}

/// The same run judged against a tighter budget: what would fit, the choice
/// (the most accurate that fits, ties to the faster p99 bound), so that some
/// more accurate candidates sit over the budget.
fn with_budget(mut r: RunResults, ms: f64) -> RunResults {
    r.budget.p99_ms = ms;
    for c in &mut r.candidates {
        c.within_budget = (c.latency_ns.p99_upper.0 as f64) <= ms * 1e6;
    }
    r.chosen = r
        .candidates
        .iter()
        .filter(|c| c.within_budget)
        .max_by(|a, b| {
            a.accuracy
                .total_cmp(&b.accuracy)
                .then(b.latency_ns.p99_upper.0.cmp(&a.latency_ns.p99_upper.0))
        })
        .map(|c| c.id.clone());
    r
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(tag[i..j].to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Every `<text class="label">` of the SVG: its text and its box, computed
/// from its position, `textLength` and font size.
fn labels(svg: &str) -> Vec<(String, Rect)> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text class=\"label\"") {
        rest = &rest[i..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        let close = rest.find("</text>").unwrap();
        let text = unescape(&rest[end + 1..close]);
        let num = |n: &str| attr(tag, n).unwrap().parse::<f64>().unwrap();
        let b = text_box(num("x"), num("y"), num("textLength"), num("font-size"));
        // The stated width covers the text at the metrics' widths.
        assert!(num("textLength") >= text_width(&text, num("font-size")));
        out.push((text, b));
        rest = &rest[close..];
    }
    out
}

/// Circle markers of the points (hover groups), as boxes.
fn markers(svg: &str) -> Vec<Rect> {
    let mut out = Vec::new();
    for part in svg.split("<g class=\"point\">").skip(1) {
        let Some(i) = part.find("<circle") else {
            continue;
        };
        let tag = &part[i..part[i..].find('>').unwrap() + i];
        let n = |k: &str| attr(tag, k).unwrap().parse::<f64>().unwrap();
        let (x, y, r) = (n("cx"), n("cy"), n("r"));
        out.push(Rect {
            x0: x - r,
            y0: y - r,
            x1: x + r,
            y1: y + r,
        });
    }
    out
}

fn check_layout(name: &str, r: &RunResults) {
    let svg = render_pareto_svg(r);
    let canvas = Rect {
        x0: 0.0,
        y0: 0.0,
        x1: WIDTH,
        y1: HEIGHT,
    };
    let ls = labels(&svg);
    for (i, (a, ba)) in ls.iter().enumerate() {
        assert!(
            ba.inside(&canvas),
            "{name}: label `{a}` leaves the canvas: {ba:?}"
        );
        assert!(
            ba.inside(&LATENCY_AREA) || ba.inside(&SIZE_AREA),
            "{name}: label `{a}` leaves its plot area (onto ticks or titles): {ba:?}"
        );
        for (b, bb) in &ls[i + 1..] {
            assert!(!ba.overlaps(bb), "{name}: labels `{a}` and `{b}` overlap");
        }
        for m in markers(&svg) {
            assert!(!ba.overlaps(&m), "{name}: label `{a}` covers a point");
        }
    }
    // What must be labelled is, in the latency panel: every frontier point,
    // the chosen model and the closest over the budget.
    let in_latency: Vec<&str> = ls
        .iter()
        .filter(|(_, b)| b.inside(&LATENCY_AREA))
        .map(|(t, _)| t.as_str())
        .collect();
    let named = |id: &str| {
        in_latency.iter().any(|t| {
            *t == id || t.starts_with(&format!("{id} ★")) || t.starts_with(&format!("{id} ("))
        })
    };
    for c in &r.candidates {
        if c.pareto_optimal {
            assert!(named(&c.id), "{name}: frontier point {} unlabelled", c.id);
        }
        // Every point has its hover title and its link to the table row.
        let title = format!("<title>{} · accuracy", esc(&c.id));
        assert_eq!(svg.matches(&title).count(), 2, "{name}: {} hover", c.id);
        assert!(svg.contains(&format!("href=\"#{}\"", row_anchor(&c.id))));
    }
    if let Some(c) = r.chosen() {
        assert!(
            in_latency.contains(&format!("{} ★ chosen", c.id).as_str()),
            "{name}: chosen unlabelled"
        );
    }
    if let Some(c) = closest_over_budget(r) {
        assert!(
            in_latency.contains(&format!("{} (over budget)", c.id).as_str()),
            "{name}: closest over budget unlabelled"
        );
    }
    // Labelled: only what matters (no dominated point that is neither).
    let over = closest_over_budget(r).map(|c| c.id.clone());
    let labelled_dominated = r
        .candidates
        .iter()
        .filter(|c| {
            !c.pareto_optimal && Some(&c.id) != r.chosen.as_ref() && Some(&c.id) != over.as_ref()
        })
        .filter(|c| in_latency.contains(&c.id.as_str()))
        .count();
    assert_eq!(labelled_dominated, 0, "{name}");
    // The budget line is drawn inside the latency panel.
    assert!(svg.contains(&format!(
        "stroke=\"{BUDGET}\" stroke-width=\"2\" stroke-dasharray"
    )));
}

#[test]
fn labels_never_overlap_nor_leave_the_plot_on_real_runs() {
    for name in ["default", "tenclass", "many"] {
        let r = fixture(name);
        check_layout(name, &r);
        // The same run with a budget that leaves the most accurate over it.
        let tight = r
            .candidates
            .iter()
            .filter(|c| c.pareto_optimal)
            .map(|c| c.latency_ns.p99_upper.0)
            .min()
            .unwrap();
        let r = with_budget(r, tight as f64 / 1e6);
        check_layout(&format!("{name}, tight budget"), &r);
    }
    assert!(fixture("many").candidates.len() >= 40);
    assert!(fixture("tenclass").dataset.classes.len() == 10);
}

#[test]
fn the_range_fits_the_frontier_and_counts_what_lies_below() {
    let r = fixture("default");
    let svg = render_pareto_svg(&r);
    // logreg (0.507) and the depth-3 trees (0.70) are dominated and far below
    // the frontier (0.885–0.895): counted, drawn on the bottom edge.
    let below = r.candidates.iter().filter(|c| c.accuracy < 0.8).count();
    assert!(below >= 4);
    assert!(svg.contains("dominated candidates below"), "no note");
    let (y0, _) = accuracy_range(&r, r.chosen.as_deref(), None);
    assert!(y0 > 0.86 && y0 < 0.885, "{y0}");
}

#[test]
fn svg_names_every_candidate_and_marks_budget_and_choice() {
    let r = crate::report::sample::results();
    let svg = render_pareto_svg(&r);
    assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
    for c in &r.candidates {
        assert!(svg.contains(&esc(&c.id)), "{} missing", c.id);
    }
    assert!(svg.contains("budget 50 µs"));
    assert!(svg.contains("★ chosen"));
    assert_eq!(fmt_ns(250.0), "250 ns");
    assert_eq!(fmt_ns(50_000_000.0), "50 ms");
    check_layout("sample", &r);
}

#[test]
fn a_zero_latency_is_drawn_not_lost() {
    let mut r = crate::report::sample::results();
    r.candidates[0].latency_ns.p50 = crate::measure::Nanos(0);
    let svg = render_pareto_svg(&r);
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "bad coordinates"
    );
    assert!(svg.contains(&esc(&r.candidates[0].id)));
}

#[test]
fn row_anchors_are_distinct_html_ids() {
    assert_eq!(row_anchor("forest-500"), "cand-forest-500");
    assert_eq!(
        row_anchor("boost-30<boost-300-d6/labels"),
        "cand-boost-30.3Cboost-300-d6.2Flabels"
    );
    assert_ne!(row_anchor("a/b"), row_anchor("a_b"));
}

/// Results written before the other metrics were recorded load as chosen by
/// accuracy, with those metrics absent, and draw as they always did.
#[test]
fn old_results_load_as_chosen_by_accuracy() {
    let r = fixture("default");
    assert_eq!(r.metric(), Metric::Accuracy);
    let c = &r.candidates[0];
    assert_eq!(c.balanced_accuracy, None);
    assert_eq!(c.quality(Metric::Accuracy), Some(c.accuracy));
    let svg = render_pareto_svg(&r);
    assert!(svg.contains("Latency–accuracy frontier") && svg.contains(">test accuracy<"));
}

/// Chosen by log-loss, the plot's y-axis is exp(−log-loss): the same order,
/// higher is better, and the axis says so.
#[test]
fn a_log_loss_choice_plots_exp_of_minus_log_loss() {
    let mut r = fixture("default");
    r.budget.metric = Metric::LogLoss;
    for (i, c) in r.candidates.iter_mut().enumerate() {
        c.log_loss = Some(0.1 + 0.05 * i as f64);
    }
    let svg = render_pareto_svg(&r);
    assert!(svg.contains(">test exp(−log-loss)<"), "y-axis label");
    assert!(svg.contains("Latency–exp(−log-loss) frontier"));
    assert!(!svg.contains(">test accuracy<"));
    assert!((plotted(Metric::LogLoss, Some(0.1)) - (-0.1f64).exp()).abs() < 1e-15);
    assert!(plotted(Metric::LogLoss, Some(0.1)) > plotted(Metric::LogLoss, Some(0.2)));
    assert_eq!(plotted(Metric::RocAuc, None), 0.0);
}
