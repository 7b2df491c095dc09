//! Two-sample Kolmogorov–Smirnov test, two-sided, computed the way
//! `scipy.stats.ks_2samp(method="auto")` computes it (scipy 1.17), so that
//! the statistic agrees to rounding and the p-value to far better than 1e-6.
//!
//! * Statistic: the largest gap between the two empirical CDFs, evaluated at
//!   every observed value (ties handled by counting `≤ v` on both sides).
//! * Choice rule: the exact null distribution when both samples have at most
//!   10,000 values (`MAX_AUTO_N`), otherwise the asymptotic one. In the exact
//!   branch the statistic is rounded to the lattice `h / lcm(n1, n2)`, as
//!   scipy does, and a numerically failed exact attempt falls back to the
//!   asymptotic branch.
//! * Exact: Hodges' lattice-path "inside" method with Viehmann's recursion for
//!   `1 − p` (arXiv:2102.08037); equal sizes use the closed form
//!   alternating sum.
//! * Asymptotic: scipy does *not* use Kolmogorov's limit; it evaluates the
//!   one-sample two-sided distribution `kstwo.sf(d, round(n1·n2/(n1+n2)))`,
//!   whose algorithm choice follows Simard & L'Ecuyer (2011): Ruben–Gambino
//!   closed forms near the ends, the Durbin matrix (Marsaglia–Tsang–Wang
//!   2003), Pomeranz (1974), the Pelz–Good (1976) expansion, and twice the
//!   one-sided Smirnov tail for large `n·x²`.
//!
//! Written by hand because no Rust crate implements this rule: statrs' exact
//! two-sample KS refuses samples of 1,000 or more and has no asymptotic
//! branch matching scipy.

use serde::{Deserialize, Serialize};

/// scipy's `MAX_AUTO_N`: `auto` tries the exact distribution when
/// `max(n1, n2)` is at most this.
pub const MAX_EXACT_N: usize = 10_000;

/// Which null distribution gave the p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    Exact,
    Asymptotic,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    pub method: KsMethod,
}

/// The KS statistic of two *sorted*, non-empty, NaN-free samples.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d = 0.0f64;
    while i < a.len() || j < b.len() {
        // The next distinct value of the pooled sample.
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!("loop condition"),
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        // Same arithmetic as scipy's `searchsorted(..., 'right') / n`.
        let diff = i as f64 / n1 - j as f64 / n2;
        d = d.max(diff.abs());
    }
    d.min(1.0)
}

/// Two-sided two-sample KS test on *sorted*, non-empty, NaN-free samples.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> KsResult {
    assert!(!a.is_empty() && !b.is_empty(), "ks_2samp needs data");
    let d = ks_statistic(a, b);
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    if a.len().max(b.len()) <= MAX_EXACT_N {
        if let Some((d, p)) = attempt_exact(n1, n2, d) {
            return KsResult {
                statistic: d,
                p_value: p.clamp(0.0, 1.0),
                method: KsMethod::Exact,
            };
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    KsResult {
        statistic: d,
        p_value: kolmogn_sf(en as u64, d).clamp(0.0, 1.0),
        method: KsMethod::Asymptotic,
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// scipy's `_attempt_exact_2kssamp` (two-sided): `None` when the exact
/// computation is numerically unusable.
fn attempt_exact(n1: u64, n2: u64, d: f64) -> Option<(f64, f64)> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Some((d, 1.0));
    }
    let p = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside_method(n1, n2, g, h)
    };
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some((d, p))
}

/// Pr(D_{n,n} ≥ h/n) = 2·Σ_k (−1)^(k−1) C(2n, n−kh)/C(2n, n), in scipy's
/// Horner-like form that avoids the subtractive cancellation.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let mut p = 0.0f64;
    let mut k = (n / h) as i64;
    while k >= 0 {
        let ku = k as u64;
        let mut p1 = 1.0f64;
        for j in 0..h {
            // The numerator may reach zero (k·h + j ≥ n): the term vanishes.
            let num = n as f64 - (ku * h + j) as f64;
            p1 = num * p1 / (n + ku * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// 1 − (share of lattice paths from (0,0) to (m,n) that stay strictly inside
/// |x/m − y/n| < h/lcm), by scipy's `_compute_outer_prob_inside_method`.
fn outer_prob_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (h, n_i) = (h as i64, n as i64);
    let ceil_div = |a: i64, b: i64| -(-a).div_euclid(b);
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n_i + 1);
    let mut curlen = maxj - minj;
    let len_a = ((2 * maxj + 2).min(n_i + 1)) as usize;
    let mut a = vec![1.0f64; len_a];
    for v in &mut a[minj as usize..maxj as usize] {
        *v = 0.0;
    }
    for i in 1..=m as i64 {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((ng * i - h).div_euclid(mg) + 1).max(0).min(n_i);
        maxj = ceil_div(ng * i + h, mg).min(n_i + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            val = (a[(jj + minj - lastminj) as usize] * fi + val * j) / (fi + j);
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            for v in &mut a[from..from + (lastlen - curlen) as usize] {
                *v = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

// ---------------------------------------------------------------------------
// kstwo: the one-sample two-sided KS distribution (scipy.stats._ksstats).
// ---------------------------------------------------------------------------

const E128: i32 = 128;
const MIN_LOG: f64 = -708.0;
const PI2: f64 = std::f64::consts::PI * std::f64::consts::PI;

fn two_pow(e: i32) -> f64 {
    2f64.powi(e)
}

/// `x · 2^e` without overflowing an intermediate power of two.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= two_pow(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= two_pow(-1000);
        e += 1000;
    }
    x * two_pow(e as i32)
}

/// Survival function Pr(D_n > x) of the one-sample two-sided KS statistic,
/// scipy's `_kolmogn(n, x, cdf=False)`.
pub fn kolmogn_sf(n: u64, x: f64) -> f64 {
    let clip = |p: f64| p.clamp(0.0, 1.0);
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: 1/2n ≤ x ≤ 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |acc, i| {
                acc * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
            })
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip(1.0 - clip(durbin_mtw_cdf(n, x)));
        }
        if nxsquared <= 4.0 {
            return clip(1.0 - clip(pomeranz_cdf(n, x)));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if nxsquared >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        clip(durbin_mtw_cdf(n, x))
    } else {
        pelz_good_cdf(nf, x)
    };
    clip(1.0 - cdf)
}

/// log(n! / n^n) by Stirling's series (scipy's coefficients).
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    // scipy's coefficients exactly as written there (they round to the same doubles).
    #[allow(clippy::excessive_precision)]
    const C: [f64; 8] = [
        -2.955065359477124183e-2,
        6.4102564102564102564e-3,
        -1.9175269175269175269e-3,
        8.4175084175084175084e-4,
        -5.952380952380952381e-4,
        7.9365079365079365079e-4,
        -2.7777777777777777778e-3,
        8.3333333333333333333e-2,
    ];
    let rn = 1.0 / n;
    let poly = C.iter().fold(0.0, |acc, &c| acc * (rn / n) + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + rn * poly
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for k in 0..m {
            let aik = a[i * m + k];
            if aik == 0.0 {
                continue;
            }
            let (brow, crow) = (&b[k * m..(k + 1) * m], &mut c[i * m..(i + 1) * m]);
            for (cv, bv) in crow.iter_mut().zip(brow) {
                *cv += aik * bv;
            }
        }
    }
    c
}

/// Pr(D_n ≤ d) by the Durbin matrix as organised by Marsaglia, Tsang and
/// Wang (2003), with scipy's power-of-two rescaling.
fn durbin_mtw_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0f64;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        // H[i-1:, i] = w[:m-i+1]
        for (r, &wv) in (i - 1..m).zip(&w[..m - i + 1]) {
            hm[r * m + i] = wv;
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut pwr = vec![0.0; m * m];
    for i in 0..m {
        pwr[i * m + i] = 1.0;
    }
    let (mut nn, mut expnt, mut hexpnt) = (n, 0i64, 0i64);
    while nn > 0 {
        if nn % 2 == 1 {
            pwr = matmul(&pwr, &hm, m);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm, m);
        hexpnt *= 2;
        if hm[(k - 1) * m + k - 1].abs() > two_pow(E128) {
            for v in &mut hm {
                *v /= two_pow(E128);
            }
            hexpnt += i64::from(E128);
        }
        nn /= 2;
    }
    let mut p = pwr[(k - 1) * m + k - 1];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < two_pow(-E128) {
            p *= two_pow(E128);
            expnt -= i64::from(E128);
        }
    }
    if expnt != 0 {
        p = ldexp(p, expnt);
    }
    p
}

fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// Pr(D_n ≤ x) by Pomeranz's recursion (1974), scipy's arrangement.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let n_i = n as i64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let mut gpower = vec![1.0f64; npwrs];
    let mut twogpower = vec![1.0f64; npwrs];
    let mut onem2gpower = vec![1.0f64; npwrs];
    let (g_n, two_g_n, one_m2g_n) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    for m in 1..npwrs {
        let mf = m as f64;
        gpower[m] = gpower[m - 1] * g_n / mf;
        twogpower[m] = twogpower[m - 1] * two_g_n / mf;
        onem2gpower[m] = onem2gpower[m - 1] * one_m2g_n / mf;
    }
    let mut v0 = vec![0.0f64; npwrs];
    let mut v1 = vec![0.0f64; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt = 0i64;
    let (mut j1, _) = pomeranz_j1j2(0, n_i, ll, ceilf, roundf);
    for i in 1..(2 * n_i + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.fill(0.0);
        let (nj1, j2) = pomeranz_j1j2(i, n_i, ll, ceilf, roundf);
        j1 = nj1;
        let pwrs = if i == 1 || i == 2 * n_i + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let ln2u = ln2 as usize;
            let start = (k1 - v0s) as usize;
            let a = &v0[start..(start + ln2u).min(v0.len())];
            let b = &pwrs[..ln2u.min(pwrs.len())];
            let conv_start = (j1 - k1) as usize;
            let conv_len = (j2 - j1 + 1).max(0) as usize;
            // Full convolution, entries [conv_start, conv_start + conv_len).
            for (out, idx) in v1.iter_mut().zip(conv_start..conv_start + conv_len) {
                let mut s = 0.0;
                for (ia, &av) in a.iter().enumerate() {
                    if idx >= ia && idx - ia < b.len() {
                        s += av * b[idx - ia];
                    }
                }
                *out = s;
            }
            let mx = v1.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < mx && mx < two_pow(-E128) {
                for v in &mut v1 {
                    *v *= two_pow(E128);
                }
                expnt -= i64::from(E128);
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1[(n_i - v1s) as usize];
    for m in 1..=n {
        if ans.abs() > two_pow(E128) {
            ans *= two_pow(-E128);
            expnt += i64::from(E128);
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = ldexp(ans, expnt);
    }
    ans.clamp(0.0, 1.0)
}

/// Pelz–Good (1976) approximation to Pr(D_n ≤ x), scipy's evaluation.
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let pi = std::f64::consts::PI;
    let (pi4, pi6) = (PI2 * PI2, PI2 * PI2 * PI2);
    let sqrt2pi = (2.0 * pi).sqrt();
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI2 / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = PI2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * PI2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = PI2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / pi).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * kk) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (kv, c) in k.iter_mut().zip(coeffs) {
            *kv = *kv * qpower + c;
        }
    }
    let div = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (kv, d) in k.iter_mut().zip(div) {
        *kv = *kv * q * sqrt2pi / d;
    }
    let q = (-PI2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let kf = kk as f64;
        let ksq = kf * kf;
        let qp = q.powf(ksq);
        let kspi = pi * kf;
        k2extra += ksq * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    k[2] += k2extra * PI2 * sqrt2pi / (-36.0 * z3);
    k[3] += k3extra * PI2 * sqrt2pi / (216.0 * z6);
    let mut sum = 0.0;
    for (i, kv) in k.iter().enumerate() {
        sum += kv / n.powf(i as f64 / 2.0);
    }
    sum
}

/// scipy's `MINLOG` (log of the smallest normal double): beyond it the
/// one-sided tail underflows.
const CEPHES_MINLOG: f64 = -7.083_964_185_322_641e2;
/// Above this n scipy's `smirnov` switches to an approximation.
const SMIRNOV_MAX_COMPUTE_N: u64 = 1_000_000;

/// Pr(D⁺_n ≥ x), the one-sided one-sample tail (`scipy.special.smirnov`).
///
/// scipy evaluates the Smirnov/Birnbaum–Tingey sum exactly in double-double
/// arithmetic; here the same all-positive sum
/// `x · Σ_{j=0}^{⌊n(1−x)⌋} C(n,j) (x + j/n)^(j−1) (1 − x − j/n)^(n−j)`
/// is evaluated term by term in logarithms (log-sum-exp), which keeps about
/// 1e-10 relative accuracy for the n this crate meets — far inside the 1e-6
/// agreement the tests demand — and stops once the remaining terms cannot
/// change the sum. The special cases and the large-n approximation are
/// scipy's.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if n == 1 {
        return 1.0 - x;
    }
    let nf = n as f64;
    let nx = nf * x;
    if nx <= 1.0 {
        // x ≤ 1/n: cdf = x (1 + x)^(n−1).
        return 1.0 - x * (1.0 + x).powf(nf - 1.0);
    }
    if -2.0 * nf * x * x < CEPHES_MINLOG {
        return 0.0;
    }
    if nx >= nf - 1.0 {
        return (1.0 - x).powf(nf);
    }
    if n > SMIRNOV_MAX_COMPUTE_N {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 + logp.exp_m1()
        };
    }
    let last = (nf * (1.0 - x)).floor() as u64;
    let ln_n_fact = statrs::function::factorial::ln_factorial(n);
    let (mut max, mut sum) = (f64::NEG_INFINITY, 0.0f64);
    let mut prev = f64::NEG_INFINITY;
    for j in 0..=last {
        let jf = j as f64;
        let u = x + jf / nf;
        if u >= 1.0 {
            break;
        }
        let lt = ln_n_fact
            - statrs::function::factorial::ln_factorial(j)
            - statrs::function::factorial::ln_factorial(n - j)
            + (jf - 1.0) * u.ln()
            + (nf - jf) * (-u).ln_1p();
        if lt > max {
            sum = sum * (max - lt).exp() + 1.0;
            max = lt;
        } else {
            sum += (lt - max).exp();
        }
        // Past the peak the terms only shrink: stop when all that are left
        // together are below a rounding error of the sum.
        let remaining = (last - j) as f64;
        if lt < prev && (lt - max) + remaining.max(1.0).ln() < -40.0 {
            break;
        }
        prev = lt;
    }
    (x.ln() + max + sum.ln()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_zero_statistic_and_p_one() {
        let a: Vec<f64> = (0..50).map(f64::from).collect();
        let r = ks_2samp(&a, &a);
        assert_eq!(
            (r.statistic, r.p_value, r.method),
            (0.0, 1.0, KsMethod::Exact)
        );
    }

    #[test]
    fn disjoint_samples_have_statistic_one() {
        let a: Vec<f64> = (0..30).map(f64::from).collect();
        let b: Vec<f64> = (100..140).map(f64::from).collect();
        let r = ks_2samp(&a, &b);
        assert_eq!(r.statistic, 1.0);
        assert!(r.p_value < 1e-15, "{r:?}");
    }

    #[test]
    fn ties_are_counted_on_both_sides() {
        // ECDFs at 1: 2/3 vs 1/3; at 2: 1 vs 2/3 → D = 1/3.
        let r = ks_statistic(&[1.0, 1.0, 2.0], &[1.0, 2.0, 2.0]);
        assert!((r - 1.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn large_samples_take_the_asymptotic_branch() {
        let a: Vec<f64> = (0..20_000).map(|i| f64::from(i) / 20_000.0).collect();
        let b: Vec<f64> = (0..15_000)
            .map(|i| f64::from(i) / 15_000.0 + 0.01)
            .collect();
        let r = ks_2samp(&a, &b);
        assert_eq!(r.method, KsMethod::Asymptotic);
        assert!(r.p_value > 0.0 && r.p_value < 1.0);
    }

    #[test]
    fn smirnov_matches_closed_forms_at_the_ends() {
        // n = 1: Pr(D+ ≥ x) = 1 − x.
        assert!((smirnov_sf(1, 0.3) - 0.7).abs() < 1e-15);
        // x ≥ 1 − 1/n: (1 − x)^n.
        assert!((smirnov_sf(10, 0.95) - 0.05f64.powi(10)).abs() < 1e-25);
    }
}
