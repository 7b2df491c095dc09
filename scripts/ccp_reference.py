"""Reference for optbench's minimal cost-complexity pruning: scikit-learn's
`cost_complexity_pruning_path` on a decision tree, with the tree itself, so
a Rust test can load the same tree into optbench's IR and compare the path.

    /tmp/skvenv/bin/python scripts/ccp_reference.py tests/fixtures/wine/train.csv > tests/fixtures/ccp_wine.json
"""
import json
import sys

import numpy as np
from sklearn.tree import DecisionTreeClassifier


def main(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    target = header.index("label")
    rows = [line.strip().split(",") for line in open(path).readlines()[1:]]
    labels = sorted({r[target] for r in rows})
    y = np.array([labels.index(r[target]) for r in rows])
    x = np.array([[float(v) for i, v in enumerate(r) if i != target] for r in rows])
    # scikit-learn trees work on float32 features, as optbench's IR does.
    x = x.astype(np.float32)
    tree = DecisionTreeClassifier(random_state=0).fit(x, y)
    path = tree.cost_complexity_pruning_path(x, y)
    t = tree.tree_
    json.dump(
        {
            "generator": "scikit-learn DecisionTreeClassifier(random_state=0) on " + sys.argv[1],
            "n_features": int(x.shape[1]),
            "n_classes": len(labels),
            "x": x.astype(float).tolist(),
            "y": y.tolist(),
            "children_left": t.children_left.tolist(),
            "children_right": t.children_right.tolist(),
            "feature": t.feature.tolist(),
            "threshold": t.threshold.tolist(),
            "ccp_alphas": path.ccp_alphas.tolist(),
            "impurities": path.impurities.tolist(),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1])
