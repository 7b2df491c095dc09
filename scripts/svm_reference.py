#!/usr/bin/env python3
"""scikit-learn `SVC` references for optbench's `svm` family
(tests/svm_agreement.rs checks classes and accuracy against them).

    python scripts/svm_reference.py > tests/fixtures/svm_reference.json

Reads the splits under tests/fixtures/ (w1, breast_cancer, wine, penguins)
and each one's meta.json. The SVM is trained on the features optbench's
default pipeline produces, replicated here column by column: numeric
columns median-imputed then standardised (population variance, computed
after imputation), categorical columns most-frequent-imputed then one-hot
over the training categories sorted by text, unknown categories all zeros.
The features are rounded to float32 (what optbench's trainer receives) and
handed to `SVC` as float64, as optbench's trainer widens them.
Replicating the pipeline rather than reading optbench's output keeps this
script independent of the code under test; the two agree to float32
rounding (`pipeline` is tested against scikit-learn's scaler elsewhere).

Per case: the parameters as an optbench `[[candidates]]` table, scikit-learn's
predicted test labels, its test accuracy, support vector counts, fit seconds
and one-vs-one decision values (and probabilities with `probability=True`).
"""
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.svm import SVC

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
MISSING = ["", "na", "n/a", "nan", "null", "none", "NA", "N/A", "NaN", "NULL", "None"]

# (data set, optbench candidate table); SVC gets the same parameters.
CASES = [
    ("w1", {"kernel": "rbf"}),
    ("breast_cancer", {"kernel": "rbf"}),
    ("wine", {"kernel": "rbf"}),
    ("penguins", {"kernel": "rbf"}),
    ("breast_cancer", {"kernel": "linear"}),
    ("breast_cancer", {"kernel": "poly", "C": 10.0}),
    ("breast_cancer", {"kernel": "sigmoid", "gamma": 0.01}),
    ("wine", {"kernel": "rbf", "probability": True}),
    ("penguins", {"kernel": "poly", "degree": 2, "coef0": 1.0, "probability": True}),
    ("w1", {"kernel": "rbf", "C": 10.0, "gamma": "auto"}),
]


def load(name):
    meta = json.load(open(os.path.join(ROOT, name, "meta.json")))
    read = lambda part: pd.read_csv(
        os.path.join(ROOT, name, f"{part}.csv"),
        keep_default_na=False,
        na_values=MISSING,
        dtype={c: str for c in meta["categorical"]},
    )
    return meta, read("train"), read("test")


def features(meta, train, test):
    """optbench's default pipeline, column by column in schema order."""
    out_tr, out_te = [], []
    for col in meta["columns"]:
        tr, te = train[col], test[col]
        if col in meta["categorical"]:
            counts = tr.dropna().value_counts()
            # Most frequent; a tie goes to the smallest text.
            fill = sorted(counts[counts == counts.max()].index)[0]
            tr, te = tr.fillna(fill), te.fillna(fill)
            for cat in sorted(tr.unique()):
                out_tr.append((tr == cat).to_numpy(float))
                out_te.append((te == cat).to_numpy(float))
        else:
            tr, te = tr.astype(float), te.astype(float)
            fill = float(np.median(tr.dropna()))
            tr, te = tr.fillna(fill).to_numpy(), te.fillna(fill).to_numpy()
            mean = tr.mean()
            sd = np.sqrt(((tr - mean) ** 2).mean())
            inv = 1.0 / sd if sd > 0 else 1.0
            out_tr.append((tr - mean) * inv)
            out_te.append((te - mean) * inv)
    f32 = lambda cols: np.column_stack(cols).astype(np.float32).astype(np.float64)
    return f32(out_tr), f32(out_te)


def svc(params):
    p = dict(params)
    return SVC(
        kernel=p.pop("kernel", "rbf"),
        C=p.pop("C", 1.0),
        gamma=p.pop("gamma", "scale"),
        degree=p.pop("degree", 3),
        coef0=p.pop("coef0", 0.0),
        probability=p.pop("probability", False),
        decision_function_shape="ovo",
        random_state=0,
    )


def case(name, params):
    meta, train, test = load(name)
    target = meta["target"]
    xtr, xte = features(meta, train, test)
    ytr, yte = train[target].astype(str), test[target].astype(str)
    m = svc(params)
    t0 = time.perf_counter()
    m.fit(xtr, ytr)
    seconds = time.perf_counter() - t0
    pred = m.predict(xte)
    dec = m.decision_function(xte)
    out = {
        "data": name,
        "target": target,
        "candidate": {"family": "svm", **params},
        "classes": [str(c) for c in m.classes_],
        "labels": [str(v) for v in pred],
        "accuracy": float((pred == yte.to_numpy()).mean()),
        "n_support": [int(v) for v in m.n_support_],
        "fit_seconds": seconds,
        "decision": np.atleast_2d(dec.T).T.round(6).tolist(),
    }
    if params.get("probability"):
        out["probabilities"] = m.predict_proba(xte).round(6).tolist()
    return out


def main():
    # scikit-learn 1.9 deprecates `probability=True` in favour of
    # CalibratedClassifierCV, but it is still libsvm's Platt scaling, the
    # method optbench follows.
    warnings.filterwarnings("ignore", message="The `probability` parameter")
    cases = [case(name, params) for name, params in CASES]
    json.dump({"sklearn": sklearn.__version__, "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
