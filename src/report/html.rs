//! The self-contained HTML report: summary and reason, the frontier plot
//! (inline SVG), a candidate table that sorts by any column (a few lines of
//! inline script, no network), the settings and the machine.

use super::{CandidateResult, RunResults};
use crate::measure::{Metric, Nanos};
use std::fmt::Write;

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `reason` sentences quote ids in backticks; show them as code.
fn reason_html(reason: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(reason).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", n as f64 / 1024.0 / 1024.0)
    }
}

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.0} /s")
    }
}

/// `{"max_depth": 3, "min_samples_leaf": 1}` → `max_depth=3 min_samples_leaf=1`
/// (unset options omitted).
fn params_text(params: &serde_json::Value) -> String {
    match params.as_object() {
        Some(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        None => params.to_string(),
    }
}

/// A table cell with a numeric sort key.
/// The summary's quality cards: the metric that chose first, then accuracy
/// when that was another metric (the figure everyone asks for).
fn metric_cards(metric: Metric, c: &CandidateResult) -> String {
    let card = |m: Metric| {
        let v = c
            .quality(m)
            .map_or_else(|| "–".to_string(), |v| format!("{v:.4}"));
        format!(
            "<div class=\"card\"><b>{v}</b><span>{}</span></div>",
            m.label()
        )
    };
    if metric == Metric::Accuracy {
        card(metric)
    } else {
        card(metric) + &card(Metric::Accuracy)
    }
}

fn num(out: &mut String, key: f64, text: &str) {
    let _ = write!(out, "<td data-v=\"{key}\">{}</td>", escape(text));
}

fn ns(out: &mut String, n: Nanos) {
    num(out, n.0 as f64, &n.to_string());
}

/// "What each optimization buys": every variant beside its parent, with the
/// ratios a reader wants (latency, size) and the costs (accuracy,
/// agreement).
fn lineage(o: &mut String, r: &RunResults) {
    let variants: Vec<&CandidateResult> =
        r.candidates.iter().filter(|c| c.parent.is_some()).collect();
    if variants.is_empty() {
        return;
    }
    o.push_str(
        "<h2>What each optimization buys</h2><p class=\"note\">Each variant against the model it came from \
         (ratios: parent ÷ variant, so above 1× is better). Agreement is the share of test rows with the same predicted class.</p>\
         <div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>parent</th><th>variant</th><th>transform</th>\
         <th>Δ accuracy</th><th>agreement</th><th>model p50</th><th>speed-up</th><th>size</th><th>smaller</th></tr></thead><tbody>\n",
    );
    for v in variants {
        let Some(p) = r
            .candidates
            .iter()
            .find(|c| Some(&c.id) == v.parent.as_ref())
        else {
            continue;
        };
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let speed = ratio(
            p.model_latency_ns.p50.0 as f64,
            v.model_latency_ns.p50.0 as f64,
        );
        let smaller = ratio(p.size_bytes.raw as f64, v.size_bytes.raw as f64);
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>",
            escape(&p.id),
            escape(&v.id),
            v.transform
                .as_ref()
                .map(|t| escape(&t.to_string()))
                .unwrap_or_default()
        );
        let d = v.accuracy_delta.unwrap_or(0.0);
        num(o, d, &format!("{:+.2} pt", d * 100.0));
        let a = v.agreement_with_parent.unwrap_or(1.0);
        num(o, a, &format!("{:.2} %", a * 100.0));
        let _ = write!(
            o,
            "<td data-v=\"{}\">{} → {}</td>",
            v.model_latency_ns.p50.0, p.model_latency_ns.p50, v.model_latency_ns.p50
        );
        num(o, speed, &format!("{speed:.2}×"));
        let _ = write!(
            o,
            "<td data-v=\"{}\">{} → {}</td>",
            v.size_bytes.raw,
            bytes(p.size_bytes.raw),
            bytes(v.size_bytes.raw)
        );
        num(o, smaller, &format!("{smaller:.2}×"));
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table></div>\n");
}

/// Each distilled student against its control twin (same student, same
/// rows, labels instead of the teacher's probabilities), in words.
fn distillation(o: &mut String, r: &RunResults) {
    use crate::optimize::{Targets, Transform};
    let soft: Vec<&CandidateResult> = r
        .candidates
        .iter()
        .filter(|c| {
            matches!(
                c.transform,
                Some(Transform::Distill {
                    targets: Targets::Soft,
                    ..
                })
            )
        })
        .collect();
    if soft.is_empty() {
        return;
    }
    o.push_str("<h2>Did distillation pay?</h2><ul>");
    for s in soft {
        let twin_id = s.id.replace("/distilled", "/labels");
        // The twin may have come out identical to another candidate (a
        // student on labels with no extra rows is the plain student).
        let twin_id = r
            .duplicates
            .iter()
            .find(|d| d.id == twin_id)
            .map_or(twin_id.clone(), |d| d.same_as.clone());
        let Some(h) = r.candidates.iter().find(|c| c.id == twin_id) else {
            continue;
        };
        let gain = (s.accuracy - h.accuracy) * 100.0;
        let verdict = if gain > 0.0 {
            format!("yes: {gain:+.2} points over the same student trained on labels")
        } else if gain == 0.0 {
            "no gain: the same accuracy as the student trained on labels".to_string()
        } else {
            format!("no: {gain:+.2} points against the same student trained on labels")
        };
        let teacher = r
            .candidates
            .iter()
            .find(|c| Some(&c.id) == s.parent.as_ref())
            .map_or(String::new(), |t| format!(" (teacher {:.4})", t.accuracy));
        let _ = write!(
            o,
            "<li><code>{}</code> {:.4} vs <code>{}</code> {:.4}{} — {}.</li>",
            escape(&s.id),
            s.accuracy,
            escape(&h.id),
            h.accuracy,
            teacher,
            escape(&verdict)
        );
    }
    o.push_str("</ul>\n");
}

/// Size and load time per zstd level, for the trained models (their
/// variants compress alike).
fn compression(o: &mut String, r: &RunResults) {
    let levels: Vec<i32> = r.measure.zstd_levels.clone();
    if levels.len() < 2 {
        return;
    }
    o.push_str(
        "<h2>Compression</h2><p class=\"note\">Compressed size and load time (decompress + decode + check) per zstd level; \
         the level each artifact uses is marked.</p><div class=\"scroll\"><table><thead><tr><th>model</th><th>raw</th>",
    );
    for l in &levels {
        let _ = write!(o, "<th>level {l}</th>");
    }
    o.push_str("</tr></thead><tbody>\n");
    for c in r.candidates.iter().filter(|c| c.parent.is_none()) {
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td>",
            escape(&c.id),
            bytes(c.size_bytes.raw)
        );
        for l in &levels {
            match c.compression.iter().find(|x| x.level == *l) {
                Some(x) => {
                    let mark = if x.level == c.zstd_level { " ✓" } else { "" };
                    let _ = write!(o, "<td>{} · {}{mark}</td>", bytes(x.bytes), x.load_ns);
                }
                None => o.push_str("<td></td>"),
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table></div>\n");
}

fn row(out: &mut String, c: &CandidateResult, chosen: bool) {
    let mut class = Vec::new();
    if chosen {
        class.push("chosen");
    }
    if !c.within_budget {
        class.push("over");
    }
    // The frontier plot's points link here (`#cand-…`).
    let _ = write!(
        out,
        "<tr class=\"{}\" id=\"{}\">",
        class.join(" "),
        super::svg::row_anchor(&c.id)
    );
    let mark = if chosen { " ★" } else { "" };
    let _ = write!(
        out,
        "<td data-v=\"{0}\"><code>{0}</code>{mark}</td><td>{1}</td><td class=\"params\">{2}</td>",
        escape(&c.id),
        escape(&c.family),
        // A variant trains nothing: its parameters are its parent's, so only
        // a distilled student (trained anew) shows its own.
        match &c.transform {
            None | Some(crate::optimize::Transform::Distill { .. }) =>
                escape(&params_text(&c.params)),
            Some(_) => "as parent".to_string(),
        }
    );
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td>",
        c.parent.as_deref().map(escape).unwrap_or_default(),
        c.transform
            .as_ref()
            .map(|t| escape(&t.to_string()))
            .unwrap_or_default()
    );
    num(out, c.accuracy, &format!("{:.4}", c.accuracy));
    match c.accuracy_delta {
        Some(d) => num(out, d, &format!("{:+.2} pt", d * 100.0)),
        None => out.push_str("<td data-v=\"0\"></td>"),
    }
    match c.agreement_with_parent {
        Some(a) => num(out, a, &format!("{:.2} %", a * 100.0)),
        None => out.push_str("<td data-v=\"1\"></td>"),
    }
    num(out, c.f1_macro, &format!("{:.4}", c.f1_macro));
    for v in [c.balanced_accuracy, c.roc_auc, c.log_loss] {
        match v {
            Some(v) => num(out, v, &format!("{v:.4}")),
            None => out.push_str("<td data-v=\"\"></td>"),
        }
    }
    ns(out, c.latency_ns.p50);
    ns(out, c.latency_ns.p95);
    ns(out, c.latency_ns.p99);
    ns(out, c.latency_ns.p99_upper);
    ns(out, c.latency_ns.p99_9);
    ns(out, c.latency_ns.max);
    ns(out, c.model_latency_ns.p50);
    ns(out, c.model_latency_ns.p99);
    num(out, c.throughput_rows_per_s, &rate(c.throughput_rows_per_s));
    num(out, c.size_bytes.raw as f64, &bytes(c.size_bytes.raw));
    num(
        out,
        c.size_bytes.compressed as f64,
        &bytes(c.size_bytes.compressed),
    );
    ns(out, c.load_ns);
    num(out, c.fit_seconds, &format!("{:.2} s", c.fit_seconds));
    let _ = write!(
        out,
        "<td data-v=\"{0}\">{1}</td><td data-v=\"{2}\">{3}</td>",
        c.pareto_optimal as u8,
        if c.pareto_optimal { "yes" } else { "" },
        c.within_budget as u8,
        if c.within_budget { "yes" } else { "no" },
    );
    // Written here rather than through `num`, which escapes its text: the
    // flag is markup.
    let _ = write!(
        out,
        "<td data-v=\"{}\">{:.0} %{}</td>",
        c.round_spread,
        c.round_spread * 100.0,
        if c.noisy { " <b>noisy</b>" } else { "" }
    );
    let _ = writeln!(out, "<td>{}</td></tr>", escape(&c.model));
}

const STYLE: &str = r#"
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:24px 32px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px}
.sub{color:#666;margin:0 0 18px}
.verdict{background:#fff;border-left:6px solid #2ca02c;padding:14px 18px;box-shadow:0 1px 3px #0002}
.verdict.none{border-color:#d62728}
.verdict .big{font-size:20px;font-weight:600}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:12px}
.card{background:#fff;padding:10px 14px;box-shadow:0 1px 3px #0002;min-width:130px}
.card b{display:block;font-size:18px}.card span{color:#666;font-size:13px}
figure{background:#fff;margin:0;padding:8px;box-shadow:0 1px 3px #0002;text-align:center}
figure svg{max-width:100%;height:auto}
tr:target td{background:#fff3b0}
figure .point{cursor:pointer}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px #0002;font-size:13px;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f0f0f0;cursor:pointer;user-select:none;position:sticky;top:0}
th:hover{background:#e4e4e4}
td:nth-child(-n+3),th:nth-child(-n+3),table.cands td:nth-child(-n+5),table.cands th:nth-child(-n+5){text-align:left}
td.params{white-space:normal;overflow-wrap:anywhere;min-width:160px;max-width:240px;color:#555;font-family:ui-monospace,monospace;font-size:12px}
tr.chosen{background:#eaf7ea;font-weight:600}tr.over td{color:#999}
.scroll{overflow-x:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;padding:12px 16px;box-shadow:0 1px 3px #0002}
dt{color:#666}dd{margin:0;font-family:ui-monospace,monospace;font-size:13px;word-break:break-all}
.note{color:#555;font-size:13px;max-width:900px}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('table.sortable th').forEach(th => {
  th.addEventListener('click', () => {
    const i = th.cellIndex;
    const body = th.closest('table').tBodies[0];
    const asc = th.dataset.dir !== 'asc';
    th.closest('tr').querySelectorAll('th').forEach(h => delete h.dataset.dir);
    th.dataset.dir = asc ? 'asc' : 'desc';
    const key = td => td.dataset.v !== undefined && !isNaN(parseFloat(td.dataset.v)) ? parseFloat(td.dataset.v) : td.textContent;
    [...body.rows].sort((a, b) => {
      const x = key(a.cells[i]), y = key(b.cells[i]);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return asc ? c : -c;
    }).forEach(r => body.appendChild(r));
  });
});
"#;

/// How the candidates took turns within a round, as recorded in the
/// results (nothing for results that predate the record).
fn interleaving_note(i: Option<crate::measure::Interleaving>) -> String {
    i.map_or_else(String::new, |i| {
        format!(
            " (each round in {} slices, the candidates in a fresh order in each; each turn starts with {} untimed calls \
             that bring the model back into cache)",
            i.slices, i.rewarm_calls
        )
    })
}

/// What the machine's own changes of speed did to the run, in a sentence.
fn host_note(r: &RunResults) -> String {
    let (lo, hi) = r
        .host_speed
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &f| {
            (lo.min(f), hi.max(f))
        });
    if r.host_speed.is_empty() || r.candidates.len() < crate::measure::MIN_CANDIDATES_FOR_HOST_SPEED
    {
        return String::new();
    }
    let moved = if r.host_spread > r.measure.noise_tolerance {
        "<b>The machine itself changed speed while measuring</b>: every candidate felt it, so their order holds, but absolute times \
         are that uncertain; re-run on a quieter machine before trusting them against a tight budget."
    } else {
        "That is within the noise tolerance."
    };
    format!(
        "The machine's speed per round, from the median change of all candidates, ran from {lo:.2}× to {hi:.2}× its usual \
         (a spread of {:.0} %). {moved}",
        r.host_spread * 100.0
    )
}

/// The end-to-end request of one candidate, stage by stage: validation and
/// preprocessing (timed on their own, the same for every candidate), the
/// model (its model-only figures), and the whole request as measured. The
/// parts are medians and p99s of separate measurements, so they need not add
/// up exactly; the table says how far they are from the measured whole.
fn stage_breakdown(o: &mut String, r: &RunResults, c: &CandidateResult) {
    let st = &r.stage_latency_ns;
    let parts = [
        ("validate (schema check of the request)", &st.validate),
        ("preprocess (impute, scale, one-hot)", &st.preprocess),
        (
            "model (predict on the preprocessed row)",
            &c.model_latency_ns,
        ),
    ];
    let _ = writeln!(
        o,
        "<h2>Where the time goes: <code>{}</code></h2><p class=\"note\">The latency budget broken down by stage, measured \
         (not guessed): each stage is timed on its own over the same rows; <em>end-to-end</em> is the whole request timed in one \
         piece. Requests came as {}. The budget is {} on the p99 upper bound.</p><table><thead><tr><th>stage</th><th>p50</th><th>p99</th>\
         <th>share of end-to-end p50</th></tr></thead><tbody>",
        escape(&c.id),
        st.request.describe(),
        crate::select::format_ms(Nanos::from_ms(r.budget.p99_ms)),
    );
    let whole = c.latency_ns.p50.0.max(1) as f64;
    let mut sum = (0u64, 0u64);
    for (name, l) in parts {
        sum = (sum.0 + l.p50.0, sum.1 + l.p99.0);
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td></tr>",
            escape(name),
            l.p50,
            l.p99,
            100.0 * l.p50.0 as f64 / whole
        );
    }
    let _ = writeln!(
        o,
        "<tr><td>sum of the stages</td><td>{}</td><td>{}</td><td>{:.0}%</td></tr>\
         <tr><th>end-to-end, measured</th><th>{}</th><th>{}</th><th>100%</th></tr></tbody></table>",
        Nanos(sum.0),
        Nanos(sum.1),
        100.0 * sum.0 as f64 / whole,
        c.latency_ns.p50,
        c.latency_ns.p99,
    );
}

/// The chosen package served (`run --serve-check`): client-observed
/// latency beside the in-process figures, and where the served time goes.
fn served_check(o: &mut String, r: &RunResults, s: &crate::report::ServedCheck) {
    let us = |v: f64| format!("{v:.0} µs");
    let bound = s.p99_upper_us.map_or("–".to_string(), us);
    let verdict = if s.within_budget {
        "within the budget"
    } else {
        "<b>over the budget</b> (or a request failed)"
    };
    let stage = |k: &str| s.stages_mean_us.get(k).copied().unwrap_or(0.0);
    let _ = writeln!(
        o,
        "<h2>Served</h2><p class=\"note\">The chosen package behind <code>optbench serve</code> on loopback, {rate} one-row \
         V2 requests a second (open loop, latency from each request's due time): p50 {p50}, p99 {p99}, p99 bound {bound} — {verdict} \
         of {budget}; in process p50 {ip50}, p99 bound {ibound}. {n} requests, {e} errors, {t} timeouts. Server means: parse \
         {parse:.1} µs, preprocess {pre:.1} µs, predict {pred:.1} µs, serialize {ser:.1} µs (handling {handling}); outside the \
         server (loopback, HTTP, both sides' wake-ups) {outside}. Details: <code>serve_check/serve_bench.html</code>.</p>",
        rate = s.rate,
        p50 = us(s.p50_us),
        p99 = us(s.p99_us),
        budget = crate::select::format_ms(Nanos::from_ms(r.budget.p99_ms)),
        ip50 = us(s.in_process_p50_us),
        ibound = us(s.in_process_p99_upper_us),
        n = s.requests,
        e = s.errors,
        t = s.timeouts,
        parse = stage("parse"),
        pre = stage("preprocess"),
        pred = stage("predict"),
        ser = stage("serialize"),
        handling = s.server_mean_us.map_or("–".to_string(), |v| format!("{v:.1} µs")),
        outside = s.outside_server_mean_us.map_or("–".to_string(), |v| format!("{v:.0} µs")),
    );
}

/// Renders `report.html` with `svg` (the frontier plot) inline.
pub fn render_html(r: &RunResults, svg: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>optbench report</title><style>{STYLE}</style></head><body><main>"
    );
    let _ = writeln!(
        o,
        "<h1>optbench report</h1><p class=\"sub\">{} candidates · {} training rows, {} test rows, {} features{}, {} classes · created {} · optbench {}</p>",
        r.candidates.len(),
        r.dataset.rows_train,
        r.dataset.rows_test,
        r.dataset.features,
        if r.dataset.model_inputs == r.dataset.features {
            String::new()
        } else {
            format!(" ({} model inputs after one-hot)", r.dataset.model_inputs)
        },
        r.dataset.classes.len(),
        escape(&r.created_utc),
        escape(&r.optbench_version)
    );

    match r.chosen() {
        Some(c) => {
            let _ = writeln!(
                o,
                "<section class=\"verdict\"><div class=\"big\">Ship <code>{}</code> ({})</div><p>{}</p>\
                 <div class=\"cards\">{}\
                 <div class=\"card\"><b>{}</b><span>end-to-end p99</span></div>\
                 <div class=\"card\"><b>{}</b><span>p99 95% upper bound</span></div>\
                 <div class=\"card\"><b>{}</b><span>budget</span></div>\
                 <div class=\"card\"><b>{}</b><span>model size (zstd)</span></div>\
                 <div class=\"card\"><b>{}</b><span>batch throughput</span></div></div></section>",
                escape(&c.id),
                escape(&c.family),
                reason_html(&r.reason),
                metric_cards(r.metric(), c),
                c.latency_ns.p99,
                c.latency_ns.p99_upper,
                crate::select::format_ms(Nanos::from_ms(r.budget.p99_ms)),
                bytes(c.size_bytes.compressed),
                rate(c.throughput_rows_per_s)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "<section class=\"verdict none\"><div class=\"big\">No candidate fits the budget</div><p>{}</p></section>",
                reason_html(&r.reason)
            );
        }
    }

    if let Some(c) = r.chosen().or_else(|| r.closest()) {
        stage_breakdown(&mut o, r, c);
    }
    if let Some(s) = &r.served {
        served_check(&mut o, r, s);
    }

    let _ = writeln!(
        o,
        "<h2>Latency–{} frontier</h2><figure>{svg}</figure>",
        r.metric().label()
    );

    o.push_str(
        "<h2>Candidates</h2><p class=\"note\">Click a column to sort. Latencies are per row, one thread: \
         <em>end-to-end</em> = validate → preprocess → predict on a raw row, <em>model</em> = predict on a preprocessed row. \
         The budget is checked against the p99 upper bound. Grey rows do not fit the budget. \
         <em>Round spread</em> is (max − min) ÷ median of the per-round end-to-end p50s, with the machine's own changes of speed (which \
         every candidate felt) divided out; above the noise tolerance a candidate is <b>noisy</b>: \
         its latency moved while it was measured, so re-run on a quieter machine before trusting small differences.</p>\
         <div class=\"scroll\"><table class=\"sortable cands\"><thead><tr>\
         <th>id</th><th>family</th><th>params</th><th>parent</th><th>transform</th><th>accuracy</th>\
         <th>Δ accuracy</th><th>agrees with parent</th><th>macro-F1</th>\
         <th>balanced accuracy</th><th>ROC AUC</th><th>log-loss</th>\
         <th>p50</th><th>p95</th><th>p99</th><th>p99 bound</th><th>p99.9</th><th>max</th>\
         <th>model p50</th><th>model p99</th><th>throughput</th><th>size</th><th>zstd</th><th>load</th><th>fit</th>\
         <th>Pareto</th><th>fits</th><th>round spread</th><th>model</th></tr></thead><tbody>\n",
    );
    for c in &r.candidates {
        row(&mut o, c, r.chosen.as_deref() == Some(c.id.as_str()));
    }
    o.push_str("</tbody></table></div>\n");
    if !r.duplicates.is_empty() {
        let list: Vec<String> = r
            .duplicates
            .iter()
            .map(|d| {
                format!(
                    "<code>{}</code> (= <code>{}</code>)",
                    escape(&d.id),
                    escape(&d.same_as)
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "<p class=\"note\">Not measured twice, being the same model as another candidate: {}.</p>",
            list.join(", ")
        );
    }
    lineage(&mut o, r);
    distillation(&mut o, r);
    compression(&mut o, r);

    let m = &r.measure;
    let _ = writeln!(
        o,
        "<h2>How this was measured</h2><p class=\"note\">Held-out rows are preloaded and cycled in a seeded order; each candidate \
         is warmed up (≥ {} calls and ≥ {} ms), then every call is timed on its own, {} calls per path and candidate, in {} \
         interleaved rounds so that a noisy neighbour hurts all candidates alike{}. {} Percentiles are nearest-rank; the p99 bound is the \
         distribution-free 95% binomial order-statistic bound. The frontier compares the end-to-end p50 (a typical request; the p99 of a \
         sub-microsecond call is mostly the timer and interrupts, and reorders between runs), and the budget the p99 bound. On the frontier, \
         two p50s are told apart only when the 95% confidence interval of the median of their per-round ratios (the interleaved rounds \
         paired, sign-test order statistics) lies wholly beyond 5% and they differ by more than two timer reads (without rounds, by 25%): \
         a point is dominated by one that is more accurate and not clearly slower, or as accurate and clearly faster, and equally accurate \
         points the rounds cannot tell apart go to the smaller model. Timer overhead (two clock reads) is {} at p50 and {} at p99; its \
         p50 is subtracted from every timed call. Sizes are of the encoded model (postcard); each model is compressed with zstd at levels {} \
         and keeps the smallest file (the <em>zstd</em> column; every level's size and load time is in \
         <code>results.json</code>); load is the median of {} decompress + decode + check runs.</p>",
        m.warmup_calls,
        m.warmup_ms,
        m.timed_calls,
        m.rounds,
        interleaving_note(r.interleaving),
        host_note(r),
        r.timer_overhead_ns.p50,
        r.timer_overhead_ns.p99,
        m.zstd_levels
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        m.load_repeats
    );

    o.push_str("<h2>Data, settings and machine</h2><dl>");
    let mut item = |k: &str, v: &str| {
        let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    };
    item("data source", &r.dataset.source.to_string());
    item(
        "rows (train / test)",
        &format!("{} / {}", r.dataset.rows_train, r.dataset.rows_test),
    );
    item("classes", &r.dataset.classes.join(", "));
    item("training data SHA-256", &r.dataset.sha256);
    item("seed", &r.seed.to_string());
    item(
        "budget",
        &format!(
            "{} ms on the end-to-end p99 upper bound{}",
            r.budget.p99_ms,
            r.budget
                .accuracy_tolerance_pp
                .map_or(String::new(), |t| format!(
                    ", {} tolerance {t} {}",
                    r.metric().label(),
                    r.metric().tolerance_unit()
                ))
        ),
    );
    if r.metric() != Metric::Accuracy {
        item(
            "chosen by",
            &format!(
                "{}{}",
                r.metric().label(),
                if r.metric().higher_is_better() {
                    " (higher is better)"
                } else {
                    " (lower is better; the plot's y-axis is exp(−log-loss))"
                }
            ),
        );
    }
    item("CPU", &r.machine.cpu);
    item(
        "cores (logical) / threads used",
        &format!("{} / {}", r.machine.logical_cores, r.machine.threads_used),
    );
    item(
        "OS / arch",
        &format!("{} / {}", r.machine.os, r.machine.arch),
    );
    item("build", &r.machine.build);
    item("compiler", &r.machine.rustc);
    item(
        "optbench",
        &format!("{} (commit {})", r.optbench_version, r.machine.git_commit),
    );
    o.push_str("</dl>\n");
    let _ = writeln!(
        o,
        "<p class=\"note\">The full figures are in <code>results.json</code> and <code>results.csv</code> beside this file.</p>\
         </main><script>{SCRIPT}</script></body></html>"
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_self_contained_escaped_and_sortable() {
        let r = super::super::sample::results();
        let html = render_html(&r, "<svg></svg>");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external resources"
        );
        assert!(html.contains("Ship <code>forest-&lt;10&gt;</code>"));
        assert!(html.contains("<code>forest-&lt;10&gt;</code> is the most accurate &amp; fits."));
        assert!(html.contains("class=\"sortable cands\""));
        assert!(html.contains("<code>forest-&lt;10&gt;/first5</code> (= <code>forest-5</code>)"));
        assert_eq!(html.matches("<tr class=").count(), 3);
        // The interleaving described is the one recorded, and none when
        // the results predate the record.
        let mut odd = r.clone();
        odd.interleaving = Some(crate::measure::Interleaving {
            slices: 7,
            rewarm_calls: 3,
        });
        let html_odd = render_html(&odd, "");
        assert!(html_odd.contains("each round in 7 slices"));
        assert!(html_odd.contains("starts with 3 untimed calls"));
        odd.interleaving = None;
        assert!(!render_html(&odd, "").contains("slices"));
        // A noisy candidate's flag is markup, not escaped text.
        let mut noisy = r.clone();
        noisy.candidates[0].noisy = true;
        let html_noisy = render_html(&noisy, "");
        assert!(html_noisy.contains(" % <b>noisy</b></td>"), "flag shown");
        assert!(!html_noisy.contains("&lt;b&gt;"), "flag escaped");
        // A distilled student is judged against its label twin, also when the
        // twin was the same model as another candidate.
        let mut d = r.clone();
        d.candidates[0].id = "lr<forest-<10>/distilled".into();
        d.candidates[0].parent = Some(d.candidates[1].id.clone());
        d.candidates[0].transform = Some(crate::optimize::Transform::Distill {
            targets: crate::optimize::Targets::Soft,
            extra_rows: 0,
            noise: 0.1,
        });
        d.duplicates = vec![super::super::Duplicate {
            id: "lr<forest-<10>/labels".into(),
            same_as: d.candidates[2].id.clone(),
        }];
        let html = render_html(&d, "");
        assert!(
            html.contains("Did distillation pay?"),
            "no distillation section"
        );
        assert!(
            html.contains(&format!(" vs <code>{}</code>", escape(&d.candidates[2].id))),
            "the twin is named"
        );
        let mut none = r.clone();
        none.chosen = None;
        assert!(render_html(&none, "").contains("No candidate fits the budget"));
    }
}
