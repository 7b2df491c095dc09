#!/usr/bin/env python3
"""The lesson's drift exercise (DESIGN.md, scenario 3), reproducible.

    python3 scripts/drift_exercise3.py data DIR    # write the five CSV files
    python3 scripts/drift_exercise3.py table DIR   # compare the drift.json files

A 10-feature reference (10,000 rows) and four production sets (5,000 rows):
  none      the same law
  mean      x0 and x1 shifted by half a standard deviation
  variance  x2, x3 and x4 with 1.5x the standard deviation
  shape     x5 bimodal (+-0.9 plus N(0, 0.19)): same mean and variance, new shape
Run `scripts/drift_exercise3.sh` for the whole sequence. Needs numpy.
"""
import json
import sys
from pathlib import Path

import numpy as np

N_REF, N_PROD, D = 10_000, 5_000, 10
SETS = ["none", "mean", "variance", "shape"]


def write(path, x):
    header = ",".join(f"x{j}" for j in range(D))
    np.savetxt(path, x, fmt="%.6f", delimiter=",", header=header, comments="")


def data(out):
    rng = np.random.default_rng(20240503)
    out.mkdir(parents=True, exist_ok=True)
    write(out / "reference.csv", rng.normal(size=(N_REF, D)))
    for name in SETS:
        x = rng.normal(size=(N_PROD, D))
        if name == "mean":
            x[:, [0, 1]] += 0.5
        elif name == "variance":
            x[:, [2, 3, 4]] *= 1.5
        elif name == "shape":
            sign = rng.choice([-1.0, 1.0], size=N_PROD)
            x[:, 5] = 0.9 * sign + rng.normal(scale=np.sqrt(1 - 0.81), size=N_PROD)
        write(out / f"{name}.csv", x)
    print(f"wrote reference.csv and {', '.join(s + '.csv' for s in SETS)} into {out}")


def table(out):
    print("| production set | KS p < 0.01 (raw) | KS, BH-corrected p < 0.01 | PSI >= 0.1 | PSI >= 0.25 | flagged (corrected p AND PSI/JS) | verdict |")
    print("|---|---|---|---|---|---|---|")
    for name in SETS:
        r = json.loads((out / name / "drift.json").read_text())
        fs = r["features"]
        pick = lambda ok: ", ".join(f["name"] for f in fs if ok(f)) or "—"
        print(f"| {name} | {pick(lambda f: f['ks']['p_value'] < 0.01)} "
              f"| {pick(lambda f: f['ks']['p_adjusted'] < 0.01)} "
              f"| {pick(lambda f: f['psi'] >= 0.1)} | {pick(lambda f: f['psi'] >= 0.25)} "
              f"| {', '.join(r['drifted_features']) or '—'} | {r['verdict']} |")
    print()
    print("| production set | feature | KS D | KS p | PSI | JS | W/sd |")
    print("|---|---|---|---|---|---|---|")
    for name in SETS:
        r = json.loads((out / name / "drift.json").read_text())
        for f in r["features"]:
            if f["drifted"] or f["ks"]["p_value"] < 0.01:
                print(f"| {name} | {f['name']} | {f['ks']['statistic']:.4f} | {f['ks']['p_value']:.2e} "
                      f"| {f['psi']:.3f} | {f['js']:.3f} | {f['wasserstein_scaled']:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("data", "table"):
        sys.exit(__doc__)
    {"data": data, "table": table}[sys.argv[1]](Path(sys.argv[2]))
