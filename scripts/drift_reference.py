#!/usr/bin/env python3
"""Reference values for optbench's drift statistics, computed by scipy.

Writes tests/fixtures/drift_reference.json, which tests/drift_reference.rs
reads so that `cargo test` needs no Python. Samples are not stored: both sides
regenerate them from a tiny spec with SplitMix64 and only exact IEEE
operations (integer → float, +, −, ×, floor), so Python and Rust get the same
bits. Each sample value is

    loc + scale * (u0 + u1 + u2 + u3 - 2)        (Irwin–Hall, roughly normal)

optionally floored to a grid of step 1/ties (many tied values).

    python3 scripts/drift_reference.py                 # rewrite the fixture
    python3 scripts/drift_reference.py --check FIXTURE # recompute, compare

Needs numpy and scipy (python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scipy).
"""

import argparse
import json
import math
import sys

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
PSI_EPSILON = 1e-4


def splitmix_uniform(seed, count):
    """count uniforms in [0, 1) from SplitMix64 started at `seed`."""
    idx = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed & MASK) + idx * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def sample(spec):
    u = splitmix_uniform(spec["seed"], 4 * spec["n"]).reshape(spec["n"], 4)
    s = ((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3]
    v = spec["loc"] + spec["scale"] * (s - 2.0)
    if spec.get("ties"):
        v = np.floor(v * spec["ties"])
    return v


def spec(seed, n, loc=0.0, scale=1.0, ties=None):
    s = {"seed": seed, "n": n, "loc": loc, "scale": scale}
    if ties:
        s["ties"] = ties
    return s


# (name, sample a, sample b): sizes chosen to hit every branch of scipy's rule.
KS_CASES = [
    ("exact tiny, unequal", spec(1, 30), spec(2, 45, 0.3)),
    ("exact equal n", spec(3, 100), spec(4, 100, 0.25)),
    ("exact equal n, identical law", spec(5, 400), spec(6, 400)),
    ("exact with ties", spec(7, 500, ties=2), spec(8, 800, 0.1, ties=2)),
    ("exact heavy ties", spec(9, 1000, ties=1), spec(10, 1000, 0.0, 1.3, ties=1)),
    ("exact coprime sizes", spec(11, 997), spec(12, 1009, 0.05)),
    ("exact at the limit", spec(13, 3000), spec(14, 10000, 0.02)),
    ("asymptotic, no shift", spec(15, 20000), spec(16, 15000)),
    ("asymptotic, small shift", spec(17, 20000), spec(18, 15000, 0.03)),
    ("asymptotic, big shift", spec(19, 200000), spec(20, 100000, 0.05)),
    ("asymptotic, small window (n <= 140)", spec(21, 11000), spec(22, 120, 0.1)),
    ("asymptotic, small window shifted", spec(23, 11000), spec(24, 130, 0.6)),
    ("asymptotic with ties", spec(25, 30000, ties=4), spec(26, 30000, 0.01, ties=4)),
    ("asymptotic, variance change", spec(27, 50000), spec(28, 50000, 0.0, 1.02)),
]

# kstwo.sf(x, n) and smirnov(n, x) on a grid reaching each algorithm.
KSTWO_N = [5, 37, 140, 141, 1000, 25000, 100001, 500000, 2000000]
KSTWO_NX2 = [0.3, 0.7, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0]


def kstwo_grid():
    out = []
    for n in KSTWO_N:
        xs = {0.6 / n, 0.9 / n, 1.0 - 0.5 / n, 0.55, 0.8}
        xs |= {math.sqrt(v / n) for v in KSTWO_NX2}
        for x in sorted(xs):
            if 0.0 < x < 1.0:
                out.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    return out


def smirnov_grid():
    out = []
    for n in [2, 10, 140, 1000, 20000, 500000, 2000000]:
        for v in [0.5, 2.2, 5.0, 20.0, 100.0]:
            x = math.sqrt(v / n)
            if x < 1.0:
                out.append({"n": n, "x": x, "sf": float(special.smirnov(n, x))})
    return out


CHI2_CASES = [
    ([30, 50, 20], [28, 55, 17]),
    ([300, 500, 200], [200, 500, 300]),
    ([500, 500], [480, 520]),  # dof 1: no Yates correction
    ([1000, 2000, 3000, 0], [900, 2100, 2950, 50]),  # an unseen bucket
    ([12, 7, 3, 1, 1], [2, 9, 8, 4, 6]),
    ([100000, 50000, 25000], [80000, 60000, 35000]),
]

JS_CASES = [
    ([10, 20, 30, 40], [40, 30, 20, 10]),
    ([5, 0, 5], [0, 5, 5]),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ([1000, 1, 0, 0], [0, 0, 1, 1000]),
    ([123, 456, 789], [321, 654, 987]),
]

BH_CASES = [
    [0.01, 0.04, 0.03, 0.5],
    [1e-10, 0.2, 0.2, 0.0049, 0.9, 0.011, 0.012, 1.0],
    [0.5],
]


def psi_direct(a, b, bins):
    """PSI by its formula on the reference's deduplicated quantile edges,
    right-closed bins, open outer bins, proportions raised to PSI_EPSILON."""
    edges = np.unique(np.quantile(a, np.arange(1, bins) / bins))
    ra = np.bincount(np.searchsorted(edges, a, side="left"), minlength=len(edges) + 1)
    cb = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1)
    r = np.maximum(ra / ra.sum(), PSI_EPSILON)
    c = np.maximum(cb / cb.sum(), PSI_EPSILON)
    return edges, ra, cb, float(np.sum((c - r) * np.log(c / r)))


def build():
    ks_out, w_out, psi_out = [], [], []
    for name, sa, sb in KS_CASES:
        a, b = sample(sa), sample(sb)
        r = stats.ks_2samp(a, b, method="auto")
        method = "exact" if max(len(a), len(b)) <= 10000 else "asymptotic"
        ks_out.append({
            "name": name, "a": sa, "b": sb,
            "statistic": float(r.statistic), "p_value": float(r.pvalue),
            "method": method,
        })
        w_out.append({"name": name, "a": sa, "b": sb,
                      "distance": float(stats.wasserstein_distance(a, b))})
        for bins in (10, 4):
            edges, rc, cc, value = psi_direct(a, b, bins)
            psi_out.append({"name": name, "a": sa, "b": sb, "bins": bins,
                            "edges": edges.tolist(), "reference": rc.tolist(),
                            "current": cc.tolist(), "psi": value})
    chi = []
    for r, c in CHI2_CASES:
        res = stats.chi2_contingency(np.array([r, c]), correction=False)
        chi.append({"reference": r, "current": c, "statistic": float(res.statistic),
                    "dof": int(res.dof), "p_value": float(res.pvalue)})
    js = [{"p": p, "q": q, "distance": float(jensenshannon(p, q))} for p, q in JS_CASES]
    bh = [{"p": p, "adjusted": stats.false_discovery_control(p, method="bh").tolist()}
          for p in BH_CASES]
    return {
        "generator": "scripts/drift_reference.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "ks_2samp": ks_out,
        "kstwo_sf": kstwo_grid(),
        "smirnov": smirnov_grid(),
        "wasserstein": w_out,
        "psi": psi_out,
        "chi2_contingency": chi,
        "jensenshannon": js,
        "benjamini_hochberg": bh,
    }


def compare(old, new, path="$"):
    """Differences between two fixtures; numbers agree to 1e-12 relative."""
    diffs = []
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            if k in ("numpy", "scipy"):
                continue
            if k not in old or k not in new:
                diffs.append(f"{path}.{k}: present on one side only")
            else:
                diffs += compare(old[k], new[k], f"{path}.{k}")
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            diffs.append(f"{path}: {len(old)} vs {len(new)} entries")
        for i, (o, n) in enumerate(zip(old, new)):
            diffs += compare(o, n, f"{path}[{i}]")
    elif isinstance(old, (int, float)) and isinstance(new, (int, float)):
        if not math.isclose(old, new, rel_tol=1e-12, abs_tol=1e-300):
            diffs.append(f"{path}: committed {old!r}, scipy now {new!r}")
    elif old != new:
        diffs.append(f"{path}: committed {old!r}, now {new!r}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="tests/fixtures/drift_reference.json")
    ap.add_argument("--check", metavar="FIXTURE",
                    help="recompute and compare with FIXTURE instead of writing")
    args = ap.parse_args()
    data = build()
    if args.check:
        with open(args.check) as f:
            committed = json.load(f)
        diffs = compare(committed, data)
        for d in diffs[:20]:
            print(d, file=sys.stderr)
        if diffs:
            print(f"{len(diffs)} difference(s) from scipy {scipy.__version__}", file=sys.stderr)
            sys.exit(1)
        print(f"{args.check}: every value matches scipy {scipy.__version__} to 1e-12")
        return
    with open(args.out, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
