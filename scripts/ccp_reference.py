"""Reference for optbench's minimal cost-complexity pruning: scikit-learn's
`cost_complexity_pruning_path` on a decision tree, with the tree itself, so
a Rust test can load the same tree into optbench's IR and compare the path.

    python scripts/ccp_reference.py tests/fixtures/wine/train.csv > tests/fixtures/ccp_wine.json
    python scripts/ccp_reference.py --check tests/fixtures/ccp_wine.json

`--check` refits from the CSV named in the fixture's x/y (stored in it) and
fails if the tree or the path differ from the committed ones.
"""
import json
import sys

import numpy as np
from sklearn.tree import DecisionTreeClassifier


def fit(x, y):
    tree = DecisionTreeClassifier(random_state=0).fit(x, y)
    return tree, tree.cost_complexity_pruning_path(x, y)


def check(fixture):
    d = json.load(open(fixture))
    x = np.array(d["x"], dtype=np.float32)
    y = np.array(d["y"])
    tree, path = fit(x, y)
    t = tree.tree_
    for key, ours in [
        ("children_left", t.children_left),
        ("children_right", t.children_right),
        ("feature", t.feature),
    ]:
        assert ours.tolist() == d[key], f"{fixture}: {key} differs"
    assert np.allclose(t.threshold, d["threshold"], rtol=0, atol=0), f"{fixture}: thresholds differ"
    assert np.allclose(path.ccp_alphas, d["ccp_alphas"], rtol=1e-12, atol=0), f"{fixture}: path differs"
    print(f"{fixture}: scikit-learn reproduces the tree and its {len(path.ccp_alphas)} pruning alphas")


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
    tree, path = fit(x, y)
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
    if sys.argv[1] == "--check":
        for f in sys.argv[2:]:
            check(f)
    else:
        main(sys.argv[1])
