#!/usr/bin/env python3
"""scikit-learn references for `class_weight = "balanced"`
(src/train/class_weight_tests.rs compares optbench's trainers with them).

    python scripts/class_weight_reference.py > tests/fixtures/class_weight_reference.json
    python scripts/class_weight_reference.py --check tests/fixtures/class_weight_reference.json

Four cases, each on imbalanced data stored in the fixture as the trainer
sees it (float32 features, class indices), so the Rust test needs nothing
else:
- `logistic_binary`: breast_cancer's training split with 4 in 5 benign rows
  dropped (1 positive in ~6), standardised; `LogisticRegression(C=1,
  class_weight="balanced")` fitted to a tight tolerance: its coefficients
  and intercept.
- `logistic_multiclass`: wine's training split with classes thinned to
  about 6:3:1, standardised; the multinomial fit's coefficients and
  intercepts.
- `tree`: integer features (every value a bin, so optbench's binned grower
  sees the exact values) with ~8 % positives;
  `DecisionTreeClassifier(class_weight="balanced", max_depth=4,
  min_samples_leaf=5)`: its `predict_proba` on test rows and node count.
- `boosting`: the tree's data (`same_data_as`); `HistGradientBoostingClassifier(
  class_weight="balanced")` with optbench's boosting settings (depth 3, no
  leaf-count cap, one row a leaf, no L2, no early stopping, 20 rounds):
  `predict_proba` on test rows.

- `svc_binary`, `svc_multiclass`: the logistic cases' data; `SVC(kernel=
  "rbf", C=1, gamma="scale", tol=1e-6, class_weight="balanced")`: its
  one-vs-one decision values on the training rows and support-vector
  counts.
- `linear_svc_binary`, `linear_svc_multiclass`: the same data;
  `LinearSVC(C=1, class_weight="balanced")` (squared hinge) fitted to a
  tight tolerance: its coefficients and intercepts.

`--check` refits from the stored data and fails if scikit-learn's answers
moved (beyond 1e-9, or 1e-6 for the boosting's float32 gradients).
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def load(name):
    path = os.path.join(ROOT, name, "train.csv")
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    y_col = header.index("label")
    return np.delete(data, y_col, axis=1), data[:, y_col].astype(int)


def standardised(x):
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32)


def thin(x, y, keep, rng):
    """Keeps a `keep[c]` share of each class's rows, in their order."""
    mask = np.array([rng.random() < keep[c] for c in y])
    return x[mask], y[mask]


def logistic(x, y):
    m = LogisticRegression(C=1.0, class_weight="balanced", tol=1e-12, max_iter=100000)
    m.fit(x.astype(np.float64), y)
    return {"coef": m.coef_.tolist(), "intercept": m.intercept_.tolist()}


def integer_data(rng, n, d=6):
    x = rng.integers(0, 40, size=(n, d)).astype(np.float32)
    z = 0.15 * x[:, 0] - 0.1 * x[:, 1] + 0.08 * x[:, 2] * (x[:, 3] > 20) + rng.normal(0, 1.0, n) - 5.0
    y = (z > 0).astype(int)
    return x, y


def tree(x, y, x_test):
    m = DecisionTreeClassifier(class_weight="balanced", max_depth=4, min_samples_leaf=5, random_state=0)
    m.fit(x, y)
    return {"proba": m.predict_proba(x_test).tolist(), "node_count": int(m.tree_.node_count)}


def boosting(x, y, x_test):
    m = HistGradientBoostingClassifier(
        class_weight="balanced",
        max_iter=20,
        learning_rate=0.1,
        max_depth=3,
        max_leaf_nodes=None,
        min_samples_leaf=1,
        l2_regularization=0.0,
        max_bins=255,
        early_stopping=False,
        random_state=0,
    )
    m.fit(x, y)
    return {"proba": m.predict_proba(x_test).tolist()}


def svc(x, y):
    m = SVC(kernel="rbf", C=1.0, gamma="scale", tol=1e-6, class_weight="balanced",
            decision_function_shape="ovo")
    x = x.astype(np.float64)
    m.fit(x, y)
    return {"decision": m.decision_function(x).reshape(len(x), -1).tolist(),
            "n_support": m.n_support_.tolist()}


def linear_svc(x, y):
    m = LinearSVC(C=1.0, class_weight="balanced", tol=1e-10, max_iter=1_000_000, random_state=0)
    m.fit(x.astype(np.float64), y)
    return {"coef": m.coef_.tolist(), "intercept": m.intercept_.tolist()}


def build():
    rng = np.random.default_rng(7)
    x, y = load("breast_cancer")
    # breast_cancer's label 1 is benign (the majority): keep one in five.
    xb, yb = thin(x, y, {0: 1.0, 1: 0.2}, rng)
    xb = standardised(xb)
    x, y = load("wine")
    xw, yw = thin(x, y, {0: 1.0, 1: 0.5, 2: 0.2}, rng)
    xw = standardised(xw)
    xi, yi = integer_data(rng, 1500)
    xt, _ = integer_data(rng, 400)
    cases = {
        "logistic_binary": {"x": xb, "y": yb, "theirs": logistic(xb, yb)},
        "logistic_multiclass": {"x": xw, "y": yw, "theirs": logistic(xw, yw)},
        "tree": {"x": xi, "y": yi, "x_test": xt, "theirs": tree(xi, yi, xt)},
        "boosting": {"same_data_as": "tree", "theirs": boosting(xi, yi, xt)},
        "svc_binary": {"same_data_as": "logistic_binary", "theirs": svc(xb, yb)},
        "svc_multiclass": {"same_data_as": "logistic_multiclass", "theirs": svc(xw, yw)},
        "linear_svc_binary": {"same_data_as": "logistic_binary", "theirs": linear_svc(xb, yb)},
        "linear_svc_multiclass": {"same_data_as": "logistic_multiclass", "theirs": linear_svc(xw, yw)},
    }
    out = {"generator": f"scikit-learn {sklearn.__version__}, scripts/class_weight_reference.py"}
    for name, c in cases.items():
        if "same_data_as" in c:
            out[name] = {"same_data_as": c["same_data_as"], **c["theirs"]}
            continue
        entry = {
            "n_features": int(c["x"].shape[1]),
            "n_classes": int(c["y"].max() + 1),
            "class_counts": np.bincount(c["y"]).tolist(),
            "x": c["x"].astype(float).tolist(),
            "y": c["y"].tolist(),
        }
        if "x_test" in c:
            entry["x_test"] = c["x_test"].astype(float).tolist()
        entry.update(c["theirs"])
        out[name] = entry
    return out


def check(path):
    stored = json.load(open(path))
    for name, c in stored.items():
        if name == "generator":
            continue
        data = stored[c["same_data_as"]] if "same_data_as" in c else c
        x = np.array(data["x"], dtype=np.float32)
        y = np.array(data["y"])
        if name.startswith("logistic"):
            now = logistic(x, y)
            keys, tol = ["coef", "intercept"], 1e-9
        elif name.startswith("svc"):
            now = svc(x, y)
            keys, tol = ["decision"], 1e-9
            assert now["n_support"] == c["n_support"], f"{name}: support vectors moved"
        elif name.startswith("linear_svc"):
            now = linear_svc(x, y)
            keys, tol = ["coef", "intercept"], 1e-9
        elif name == "tree":
            now = tree(x, y, np.array(c["x_test"], dtype=np.float32))
            keys, tol = ["proba"], 1e-9
            assert now["node_count"] == c["node_count"], f"{name}: node count moved"
        else:
            now = boosting(x, y, np.array(data["x_test"], dtype=np.float32))
            keys, tol = ["proba"], 1e-6
        for k in keys:
            worst = np.max(np.abs(np.array(now[k]) - np.array(c[k])))
            assert worst <= tol, f"{name}: {k} moved by {worst}"
    print(f"{path}: scikit-learn {sklearn.__version__} reproduces every class_weight reference")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        for p in sys.argv[2:]:
            check(p)
    else:
        json.dump(build(), sys.stdout)
        sys.stdout.write("\n")
