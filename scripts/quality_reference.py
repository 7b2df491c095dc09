#!/usr/bin/env python3
"""Reference values for optbench's quality metrics, computed by scikit-learn.

Writes tests/fixtures/quality_reference.json, which tests/quality_reference.rs
reads so that `cargo test` needs no Python. Each case stores its inputs (true
classes, predicted classes, predicted probabilities, the number of classes)
beside scikit-learn's accuracy, balanced accuracy, macro F1, ROC AUC (binary:
the second class's probability; more classes: one-vs-rest, macro) and
log-loss (labels = every class; probabilities given as float64, so clipped to
[eps, 1 - eps] with eps = 2.220446049250313e-16).

    python3 scripts/quality_reference.py                 # rewrite the fixture
    python3 scripts/quality_reference.py --check FIXTURE # recompute, compare

Needs numpy and scikit-learn (python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scikit-learn).
"""

import argparse
import json
import sys

import numpy as np
import sklearn
from sklearn import metrics

TOLERANCE = 1e-12


def random_case(name, seed, n, k, decimals, absent_pred=None, skill=2.0):
    """n rows of k classes: probabilities leaning to the true class, rounded
    to `decimals` (many tied scores) so that each row still sums to one;
    predictions are the argmax, except that `absent_pred` (a class) is
    never predicted (its rows go to the next class)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    truth[:k] = np.arange(k)  # every class in the truth
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), truth] += skill
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    # Largest-remainder rounding to whole units of 10^-decimals: each row's
    # units sum to 10^decimals exactly, so the row sums to one.
    scale = 10**decimals
    units = np.floor(p * scale).astype(np.int64)
    for r in range(n):
        short = scale - units[r].sum()
        order = np.argsort(-(p[r] * scale - units[r]), kind="stable")
        units[r, order[:short]] += 1
    p = units / scale
    pred = p.argmax(axis=1)
    if absent_pred is not None:
        pred[pred == absent_pred] = (absent_pred + 1) % k
    return {
        "name": name,
        "n_classes": k,
        "truth": truth.tolist(),
        "pred": pred.tolist(),
        "proba": p.tolist(),
    }


def cases():
    hand = [
        {
            "name": "binary, hand-made, tied scores",
            "n_classes": 2,
            "truth": [0, 0, 1, 1, 0, 1, 0, 1, 1, 0],
            "pred": [0, 1, 1, 1, 0, 0, 0, 1, 1, 1],
            "proba": [[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.7, 0.3],
                      [0.7, 0.3], [0.5, 0.5], [0.5, 0.5], [0.0, 1.0], [0.25, 0.75]],
        },
        {
            "name": "binary, one class never predicted, certain wrong answers (clipped)",
            "n_classes": 2,
            "truth": [0, 0, 0, 0, 1, 0, 1, 0],
            "pred": [0, 0, 0, 0, 0, 0, 0, 0],
            "proba": [[1.0, 0.0], [0.9, 0.1], [1.0, 0.0], [0.6, 0.4], [1.0, 0.0],
                      [0.75, 0.25], [0.6, 0.4], [0.9, 0.1]],
        },
        {
            "name": "three classes, hand-made, a class absent from the predictions",
            "n_classes": 3,
            "truth": [0, 0, 1, 1, 2, 2],
            "pred": [0, 1, 1, 1, 0, 0],
            "proba": [[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.2, 0.6, 0.2],
                      [0.25, 0.5, 0.25], [0.5, 0.25, 0.25], [0.4, 0.2, 0.4]],
        },
    ]
    generated = [
        random_case("binary, 500 rows, scores to 2 decimals", 1, 500, 2, 2),
        random_case("binary, imbalanced (about one row in ten positive)", 2, 400, 2, 3, skill=1.0),
        random_case("three classes, 300 rows, scores to 2 decimals", 3, 300, 3, 2),
        random_case("four classes, class 2 never predicted", 4, 250, 4, 1, absent_pred=2),
        random_case("five classes, weak model, ties", 5, 600, 5, 1, skill=0.5),
    ]
    # Imbalance: most of the 400 rows negative.
    imb = generated[1]
    rng = np.random.default_rng(7)
    keep = [i for i, t in enumerate(imb["truth"]) if t == 0 or i < 2 or rng.random() < 0.1]
    for key in ("truth", "pred", "proba"):
        imb[key] = [imb[key][i] for i in keep]
    return hand + generated


def reference(case):
    k = case["n_classes"]
    labels = list(range(k))
    y = np.array(case["truth"])
    pred = np.array(case["pred"])
    p = np.array(case["proba"], dtype=np.float64)
    if k == 2:
        auc = metrics.roc_auc_score(y, p[:, 1])
    else:
        auc = metrics.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=labels)
    return {
        "accuracy": float(metrics.accuracy_score(y, pred)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y, pred)),
        "f1_macro": float(metrics.f1_score(y, pred, average="macro", zero_division=0)),
        "roc_auc": float(auc),
        "log_loss": float(metrics.log_loss(y, p, labels=labels)),
    }


def build():
    out = []
    for case in cases():
        case = dict(case)
        case["sklearn"] = reference(case)
        out.append(case)
    return {
        "generator": "scripts/quality_reference.py",
        "sklearn_version": sklearn.__version__,
        "log_loss_epsilon": float(np.finfo(np.float64).eps),
        "cases": out,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="tests/fixtures/quality_reference.json")
    ap.add_argument("--check", metavar="FIXTURE",
                    help="recompute from FIXTURE's inputs and compare with its values")
    args = ap.parse_args()
    if args.check:
        with open(args.check) as f:
            committed = json.load(f)
        diffs = []
        for case in committed["cases"]:
            now = reference(case)
            for key, old in case["sklearn"].items():
                if abs(old - now[key]) > TOLERANCE:
                    diffs.append(f"{case['name']}: {key} committed {old!r}, "
                                 f"scikit-learn now {now[key]!r}")
        for d in diffs[:20]:
            print(d, file=sys.stderr)
        if diffs:
            print(f"{len(diffs)} difference(s) from scikit-learn {sklearn.__version__}",
                  file=sys.stderr)
            sys.exit(1)
        print(f"{args.check}: every value matches scikit-learn {sklearn.__version__} "
              f"to {TOLERANCE:g}")
        return
    data = build()
    with open(args.out, "w") as f:
        json.dump(data, f)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
