//! optbench's drift statistics against scipy: the values in
//! `tests/fixtures/drift_reference.json` were computed by scipy (see
//! `scripts/drift_reference.py`, which also re-verifies them in CI). The
//! samples are regenerated here bit for bit from their specs.

use optbench::drift::ks::{kolmogn_sf, ks_2samp, smirnov_sf, KsMethod};
use optbench::drift::stats::{self, Correction};
use serde_json::Value;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The fixture's generator: SplitMix64 uniforms, Irwin–Hall sums, optional
/// flooring onto a grid — exact IEEE operations only, as in the script.
fn sample(spec: &Value) -> Vec<f64> {
    let seed = spec["seed"].as_u64().unwrap();
    let n = spec["n"].as_u64().unwrap() as usize;
    let loc = spec["loc"].as_f64().unwrap();
    let scale = spec["scale"].as_f64().unwrap();
    let ties = spec.get("ties").and_then(Value::as_f64);
    let uniform = |i: u64| {
        let mut z = seed.wrapping_add(i.wrapping_mul(GOLDEN));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 * 2f64.powi(-53)
    };
    (0..n as u64)
        .map(|r| {
            let u: Vec<f64> = (1..=4).map(|j| uniform(4 * r + j)).collect();
            let s = ((u[0] + u[1]) + u[2]) + u[3];
            let v = loc + scale * (s - 2.0);
            match ties {
                Some(k) => (v * k).floor(),
                None => v,
            }
        })
        .collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_unstable_by(f64::total_cmp);
    v
}

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/drift_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rel_err(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs().max(f64::MIN_POSITIVE)
    }
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn ks_2samp_matches_scipy_statistic_to_1e12_and_p_value_to_1e6() {
    let f = fixture();
    let cases = f["ks_2samp"].as_array().unwrap();
    let (mut exact, mut asymptotic) = (0, 0);
    for c in cases {
        let a = sorted(sample(&c["a"]));
        let b = sorted(sample(&c["b"]));
        let r = ks_2samp(&a, &b);
        let name = c["name"].as_str().unwrap();
        let want_d = c["statistic"].as_f64().unwrap();
        let want_p = c["p_value"].as_f64().unwrap();
        assert!(
            (r.statistic - want_d).abs() <= 1e-12,
            "{name}: statistic {} vs scipy {want_d}",
            r.statistic
        );
        assert!(
            rel_err(r.p_value, want_p) <= 1e-6,
            "{name}: p {} vs scipy {want_p} (relative error {:e})",
            r.p_value,
            rel_err(r.p_value, want_p)
        );
        let method = match r.method {
            KsMethod::Exact => {
                exact += 1;
                "exact"
            }
            KsMethod::Asymptotic => {
                asymptotic += 1;
                "asymptotic"
            }
        };
        assert_eq!(method, c["method"].as_str().unwrap(), "{name}");
    }
    assert!(exact >= 5 && asymptotic >= 5, "both branches are exercised");
}

#[test]
fn kstwo_and_smirnov_match_scipy_on_a_grid_covering_every_algorithm() {
    let f = fixture();
    for c in f["kstwo_sf"].as_array().unwrap() {
        let (n, x, want) = (
            c["n"].as_u64().unwrap(),
            c["x"].as_f64().unwrap(),
            c["sf"].as_f64().unwrap(),
        );
        let got = kolmogn_sf(n, x);
        // Below ~1e-300 only the order of magnitude is meaningful.
        let ok = rel_err(got, want) <= 1e-6 || (want < 1e-300 && got < 1e-290);
        assert!(ok, "kstwo.sf({x}, {n}) = {want}, got {got}");
    }
    for c in f["smirnov"].as_array().unwrap() {
        let (n, x, want) = (
            c["n"].as_u64().unwrap(),
            c["x"].as_f64().unwrap(),
            c["sf"].as_f64().unwrap(),
        );
        let got = smirnov_sf(n, x);
        let ok = rel_err(got, want) <= 1e-6 || (want < 1e-300 && got < 1e-290);
        assert!(ok, "smirnov({n}, {x}) = {want}, got {got}");
    }
}

#[test]
fn wasserstein_matches_scipy() {
    for c in fixture()["wasserstein"].as_array().unwrap() {
        let a = sorted(sample(&c["a"]));
        let b = sorted(sample(&c["b"]));
        let want = c["distance"].as_f64().unwrap();
        let got = stats::wasserstein_sorted(&a, &b);
        assert!(rel_err(got, want) <= 1e-9, "{}: {got} vs {want}", c["name"]);
    }
}

#[test]
fn psi_matches_the_direct_formula_on_numpy_quantile_edges() {
    for c in fixture()["psi"].as_array().unwrap() {
        let a = sorted(sample(&c["a"]));
        let b = sorted(sample(&c["b"]));
        let bins = c["bins"].as_u64().unwrap() as usize;
        let edges = stats::quantile_edges(&a, bins);
        let want_edges = floats(&c["edges"]);
        assert_eq!(edges.len(), want_edges.len(), "{}", c["name"]);
        for (e, w) in edges.iter().zip(&want_edges) {
            assert!(
                (e - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{}: edge {e} vs {w}",
                c["name"]
            );
        }
        let rc = stats::bin_counts_sorted(&a, &edges);
        let cc = stats::bin_counts_sorted(&b, &edges);
        assert_eq!(rc, counts(&c["reference"]), "{}", c["name"]);
        assert_eq!(cc, counts(&c["current"]), "{}", c["name"]);
        let want = c["psi"].as_f64().unwrap();
        let got = stats::psi(&rc, &cc);
        // And by the textbook formula, written out here independently:
        // bin = number of edges below the value; proportions floored at 1e-4.
        let naive = {
            let share = |s: &[f64]| {
                let mut h = vec![0.0; want_edges.len() + 1];
                for &v in s {
                    h[want_edges.iter().filter(|&&e| e < v).count()] += 1.0 / s.len() as f64;
                }
                h
            };
            let (r, q) = (share(&a), share(&b));
            r.iter()
                .zip(&q)
                .map(|(&r, &q)| {
                    let (r, q) = (r.max(1e-4), q.max(1e-4));
                    (q - r) * (q / r).ln()
                })
                .sum::<f64>()
        };
        assert!(
            (got - naive).abs() <= 1e-9 * naive.abs().max(1e-3),
            "{}: {got} vs {naive}",
            c["name"]
        );
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1e-3),
            "{}: {got} vs {want}",
            c["name"]
        );
    }
}

#[test]
fn chi_square_matches_chi2_contingency_without_yates() {
    for c in fixture()["chi2_contingency"].as_array().unwrap() {
        let r = stats::chi2_homogeneity(&counts(&c["reference"]), &counts(&c["current"]));
        let (ws, wp) = (
            c["statistic"].as_f64().unwrap(),
            c["p_value"].as_f64().unwrap(),
        );
        assert_eq!(r.dof, c["dof"].as_u64().unwrap());
        assert!(rel_err(r.statistic, ws) <= 1e-10, "{c}: {r:?}");
        assert!(rel_err(r.p_value, wp) <= 1e-6, "{c}: {r:?}");
    }
}

#[test]
fn jensen_shannon_matches_scipy_natural_log() {
    for c in fixture()["jensenshannon"].as_array().unwrap() {
        let got = stats::js_distance(&counts(&c["p"]), &counts(&c["q"]));
        let want = c["distance"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-12, "{c}: {got}");
    }
}

#[test]
fn benjamini_hochberg_matches_false_discovery_control() {
    for c in fixture()["benjamini_hochberg"].as_array().unwrap() {
        let got = Correction::BenjaminiHochberg.adjust(&floats(&c["p"]));
        for (g, w) in got.iter().zip(floats(&c["adjusted"])) {
            assert!(rel_err(*g, w) <= 1e-12, "{c}: {got:?}");
        }
    }
}
