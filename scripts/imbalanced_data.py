#!/usr/bin/env python3
"""An imbalanced binary problem: 20,000 rows, 5 % positives, for choosing
by a metric other than accuracy (docs/measurement.md, "Quality metrics").

Writes OUT/train.csv (15,000 rows) and OUT/test.csv (5,000 rows), target
column `label`, from scikit-learn's make_classification with a fixed seed:

    python3 scripts/imbalanced_data.py target/imbalanced
    optbench run --config configs/imbalanced.toml \\
        --train target/imbalanced/train.csv --test target/imbalanced/test.csv \\
        --target label --metric balanced_accuracy

Needs numpy and scikit-learn.
"""

import os
import sys

import numpy as np
from sklearn.datasets import make_classification


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/imbalanced"
    x, y = make_classification(
        n_samples=20_000, n_features=10, n_informative=4, n_redundant=2,
        n_clusters_per_class=2, weights=[0.95], flip_y=0.01, class_sep=0.8,
        random_state=22,
    )
    rng = np.random.default_rng(22)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    os.makedirs(out, exist_ok=True)
    header = ",".join([f"x{i}" for i in range(x.shape[1])] + ["label"])
    for name, rows in (("train", slice(0, 15_000)), ("test", slice(15_000, None))):
        data = np.column_stack([x[rows], y[rows]])
        np.savetxt(os.path.join(out, f"{name}.csv"), data, delimiter=",", header=header,
                   comments="", fmt=["%.5f"] * x.shape[1] + ["%d"])
        print(f"{out}/{name}.csv: {len(y[rows])} rows, {int(y[rows].sum())} positive "
              f"({y[rows].mean():.1%})")


if __name__ == "__main__":
    main()
