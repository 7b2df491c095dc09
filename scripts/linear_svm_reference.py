#!/usr/bin/env python3
"""scikit-learn `LinearSVC` references for optbench's `linear_svm` family
(tests/linear_svm_agreement.rs checks classes, accuracy and decision values
against them).

    python scripts/linear_svm_reference.py > tests/fixtures/linear_svm_reference.json

The features are optbench's default pipeline replicated column by column,
exactly as scripts/svm_reference.py builds them (its `load` and `features`).
`LinearSVC(dual=True)`: liblinear's dual coordinate descent, the solver
optbench follows (the optimum is the same primal or dual; the dual is the
only one for the hinge loss).

Per case: the parameters as an optbench `[[candidates]]` table, scikit-learn's
predicted test labels, its test accuracy, fit seconds and decision values
(one column for two classes, positive for the second class; one per class
otherwise).
"""
import json
import os
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.svm import LinearSVC

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svm_reference import features, load  # noqa: E402

# (data set, optbench candidate table); LinearSVC gets the same parameters.
CASES = [
    ("w1", {}),
    ("wine", {"loss": "hinge"}),
    ("breast_cancer", {}),
    ("breast_cancer", {"loss": "hinge", "C": 0.1}),
    ("wine", {}),
    # liblinear needs more than its default 1,000 passes here.
    ("penguins", {"C": 10.0, "max_iterations": 20000}),
]


def linear_svc(params):
    p = dict(params)
    return LinearSVC(
        loss=p.pop("loss", "squared_hinge"),
        C=p.pop("C", 1.0),
        tol=p.pop("tol", 1e-4),
        max_iter=p.pop("max_iterations", 1000),
        dual=True,
        random_state=0,
    )


def case(name, params):
    meta, train, test = load(name)
    target = meta["target"]
    xtr, xte = features(meta, train, test)
    ytr, yte = train[target].astype(str), test[target].astype(str)
    m = linear_svc(params)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(xtr, ytr)
    seconds = time.perf_counter() - t0
    pred = m.predict(xte)
    dec = m.decision_function(xte)
    return {
        "data": name,
        "target": target,
        "candidate": {"family": "linear_svm", **params},
        "classes": [str(c) for c in m.classes_],
        "labels": [str(v) for v in pred],
        "accuracy": float((pred == yte.to_numpy()).mean()),
        "converged": not any("converge" in str(w.message) for w in caught),
        "n_iter": int(np.max(m.n_iter_)),
        "fit_seconds": seconds,
        "decision": np.atleast_2d(dec.T).T.round(6).tolist(),
    }


def main():
    cases = [case(name, params) for name, params in CASES]
    json.dump({"sklearn": sklearn.__version__, "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
