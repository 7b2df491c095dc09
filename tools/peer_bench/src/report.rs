//! Markdown rendering of the measured rows and the agreement checks (a pure
//! function of the results: nothing here measures).

use crate::harness::{Protocol, Timing, BLOCK};
use std::fmt::Write;

/// One table line: optbench (or one of its binned forms) beside onnxruntime.
pub struct Row {
    pub data: String,
    pub name: String,
    /// (trees, nodes) of a tree model.
    pub size: Option<(usize, usize)>,
    pub visits: Option<f64>,
    pub ours: Timing,
    /// onnxruntime's figures, shown on the model's first line only.
    pub theirs: Option<Timing>,
    /// onnxruntime through IoBinding (first line only).
    pub bound: Option<Timing>,
    /// onnxruntime's figures from the same run, for the ratios.
    pub reference: Timing,
}

/// What the checks before timing found for one model.
pub struct Agreement {
    pub data: String,
    pub name: String,
    pub rows: usize,
    pub max_dp: f32,
    pub labels_equal: usize,
    pub label_ties: usize,
    pub accuracy: f64,
    pub sklearn_accuracy: String,
    /// (form, classes equal to the float model's, max |dp| against it).
    pub quant: Vec<(String, usize, f32)>,
}

/// Thousands separators, no decimals: `13892` → `13,892`.
fn ns(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn per_visit(v: f64, visits: Option<f64>) -> String {
    match visits {
        Some(n) if n > 0.0 => format!("{:.1}", v / n),
        _ => "–".into(),
    }
}

pub fn markdown(
    rows: &[Row],
    agreements: &[Agreement],
    protocol: Protocol,
    timer: f64,
    tol: f32,
) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        s,
        "Protocol: float32 rows preloaded; {} warm-up calls each, then {} interleaved rounds of \
         {} individually timed calls + {} blocks of {BLOCK} calls per contender, cycling through \
         the test rows in the same order; one thread. Timer overhead {} ns (median), subtracted. \
         p50 / p99 per call in ns; \"block\" = median over blocks of the per-call mean. \
         ratio = optbench ÷ onnxruntime from the same run (below 1: optbench faster).\n",
        protocol.warmup,
        protocol.rounds,
        protocol.calls,
        protocol.calls / BLOCK,
        ns(timer)
    );
    let _ = writeln!(
        s,
        "| data | model | trees | nodes | visits/row | optbench p50 / p99 | block | ns/visit | onnxruntime p50 / p99 | block | ns/visit | ratio p50 | ratio block |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (trees, nodes) = match r.size {
            Some((t, n)) => (ns(t as f64), ns(n as f64)),
            None => ("–".into(), "–".into()),
        };
        let visits = match r.visits {
            Some(v) if v >= 100.0 => ns(v),
            Some(v) => format!("{v:.1}"),
            None => "–".into(),
        };
        let theirs = match &r.theirs {
            Some(t) => format!(
                "{} / {} | {} | {}",
                ns(t.p50),
                ns(t.p99),
                ns(t.block_mean),
                per_visit(t.p50, r.visits)
            ),
            None => "as above | | ".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {trees} | {nodes} | {visits} | {} / {} | {} | {} | {theirs} | {:.3} | {:.3} |",
            r.data,
            r.name,
            ns(r.ours.p50),
            ns(r.ours.p99),
            ns(r.ours.block_mean),
            per_visit(r.ours.p50, r.visits),
            r.ours.p50 / r.reference.p50,
            r.ours.block_mean / r.reference.block_mean,
        );
    }
    let _ = writeln!(
        s,
        "\nonnxruntime's own fastest path, IoBinding (input bound per call, outputs bound once), same run:\n"
    );
    let _ = writeln!(
        s,
        "| data | model | run p50 / p99 | IoBinding p50 / p99 | block | optbench p50 | ratio p50 optbench ÷ IoBinding |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in rows {
        if let (Some(t), Some(b)) = (&r.theirs, &r.bound) {
            let _ = writeln!(
                s,
                "| {} | {} | {} / {} | {} / {} | {} | {} | {:.3} |",
                r.data,
                r.name,
                ns(t.p50),
                ns(t.p99),
                ns(b.p50),
                ns(b.p99),
                ns(b.block_mean),
                ns(r.ours.p50),
                r.ours.p50 / b.p50
            );
        }
    }
    let _ = writeln!(
        s,
        "\nAgreement on every test row (checked before timing; |dp| above {tol:.0e} stops the run, \
         and so does any difference between onnxruntime's run and IoBinding paths):\n"
    );
    let _ = writeln!(
        s,
        "| data | model | rows | max \\|dp\\| optbench vs onnxruntime | labels equal | accuracy optbench / sklearn | binned forms: classes equal to float, max \\|dp\\| |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for a in agreements {
        let quant = if a.quant.is_empty() {
            "–".to_string()
        } else {
            a.quant
                .iter()
                .map(|(form, same, dp)| format!("{form}: {same}/{}, {dp:.1e}", a.rows))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let ties = if a.label_ties > 0 {
            format!(" (+{} exact ties)", a.label_ties)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1e} | {}/{}{ties} | {:.4} / {} | {quant} |",
            a.data,
            a.name,
            a.rows,
            a.max_dp,
            a.labels_equal,
            a.rows,
            a.accuracy,
            a.sklearn_accuracy
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::ns;

    #[test]
    fn thousands_separators() {
        assert_eq!(ns(0.4), "0");
        assert_eq!(ns(999.0), "999");
        assert_eq!(ns(13_892.2), "13,892");
        assert_eq!(ns(1_234_567.0), "1,234,567");
        assert_eq!(ns(f64::NAN), "–");
    }
}
