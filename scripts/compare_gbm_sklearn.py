"""Gradient boosting: scikit-learn's fit time and accuracy on the shared splits,
to put beside optbench's own (the `fit` and `accuracy` columns of
`optbench run` on the same files). One core, as optbench's boosting uses.

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn
    /tmp/skvenv/bin/python scripts/compare_gbm_sklearn.py ../shared/data

Prints one line per (data, model): accuracy and median fit seconds of 3 fits.
"""
import os
import statistics
import sys
import time

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

CASES = [
    ("w1", dict(n_estimators=50)),
    ("w1", dict(n_estimators=200)),
    ("w2", dict(n_estimators=200)),
    ("w2", dict(n_estimators=300, max_depth=6)),
    ("w2", dict(n_estimators=50, max_depth=6)),
    ("w2", dict(n_estimators=300, max_depth=3)),
]


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    y_col = header.index("label")
    y = data[:, y_col].astype(int)
    x = np.delete(data, y_col, axis=1)
    return x, y


def main(root):
    for name, params in CASES:
        xtr, ytr = load(os.path.join(root, name, "train.csv"))
        xte, yte = load(os.path.join(root, name, "test.csv"))
        times, acc = [], None
        for _ in range(3):
            m = GradientBoostingClassifier(random_state=42, **params)
            t = time.perf_counter()
            m.fit(xtr, ytr)
            times.append(time.perf_counter() - t)
            acc = (m.predict(xte) == yte).mean()
        print(f"{name} {params}: accuracy {acc:.4f}, fit {statistics.median(times):.2f} s")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
