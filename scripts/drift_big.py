#!/usr/bin/env python3
"""Two 1,000,000 x 20 CSV files for timing `optbench drift` (about 190 MB
each; not committed). `current` has a 0.2-sigma mean shift in x3 and 1.3x the
standard deviation in x7.

    python3 scripts/drift_big.py DIR     # needs numpy; about a minute
"""
import sys
from pathlib import Path

import numpy as np

if len(sys.argv) != 2:
    sys.exit(__doc__)
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(42)
n, d = 1_000_000, 20
header = ",".join(f"x{j}" for j in range(d))
ref = rng.normal(size=(n, d))
cur = rng.normal(size=(n, d))
cur[:, 3] += 0.2
cur[:, 7] *= 1.3
for name, a in (("reference", ref), ("current", cur)):
    np.savetxt(out / f"{name}.csv", a, fmt="%.6f", delimiter=",", header=header, comments="")
print(f"wrote {out}/reference.csv and {out}/current.csv")
