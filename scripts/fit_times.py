#!/usr/bin/env python3
"""The scikit-learn half of scripts/fit_times.sh, and its table.

Fit one model (one line of JSON: fit seconds and test accuracy):
    fit_times.py fit DATA_DIR WORKLOAD MODEL N_JOBS [SEED]
MODEL is optbench's candidate id in configs/peers/fit_<workload>.toml, so
the two halves join. N_JOBS only matters to the forest (the others fit on
one thread whatever it is; the script also pins BLAS to one thread).

Median table of a file of such lines (from both tools), in Markdown:
    fit_times.py table LINES.jsonl
"""
import json
import os
import statistics
import sys
import time

SEED = 42


def model(key, n_jobs, seed=SEED):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    return {
        "logreg": lambda: LogisticRegression(max_iter=1000),
        "tree-d10": lambda: DecisionTreeClassifier(max_depth=10, random_state=seed),
        "tree-full": lambda: DecisionTreeClassifier(random_state=seed),
        "forest-100": lambda: RandomForestClassifier(
            n_estimators=100, random_state=seed, n_jobs=n_jobs
        ),
        "boost-200": lambda: GradientBoostingClassifier(n_estimators=200, random_state=seed),
        "boost-300-d6": lambda: GradientBoostingClassifier(
            n_estimators=300, max_depth=6, random_state=seed
        ),
        "svm-rbf": lambda: SVC(),
        # liblinear's dual coordinate descent, the solver linear_svm follows.
        "linsvm": lambda: LinearSVC(dual=True, random_state=seed),
    }[key]()


def load(path):
    import numpy as np

    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    target = header.index("label")
    return np.delete(data, target, axis=1), data[:, target].astype(int)


def fit(root, workload, key, n_jobs, seed=SEED):
    xtr, ytr = load(os.path.join(root, workload, "train.csv"))
    xte, yte = load(os.path.join(root, workload, "test.csv"))
    if key.startswith("svm") or key == "linsvm":
        # An SVM is fitted on standardised features, as optbench's
        # pipeline (fitted before its clock starts) gives them.
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(xtr)
        xtr, xte = scaler.transform(xtr), scaler.transform(xte)
    m = model(key, int(n_jobs), int(seed))
    t0 = time.perf_counter()
    m.fit(xtr, ytr)
    seconds = time.perf_counter() - t0
    line = {
        "tool": "sklearn",
        "workload": workload,
        "model": key,
        "threads": int(n_jobs),
        "fit_seconds": seconds,
        "accuracy": float((m.predict(xte) == yte).mean()),
    }
    print(json.dumps(line))


def table(path):
    runs = {}
    for line in open(path):
        r = json.loads(line)
        key = (r["workload"], r["model"], r["threads"])
        runs.setdefault(key, {}).setdefault(r["tool"], []).append(r)
    print("| data | model | threads | optbench fit s | scikit-learn fit s | ratio | runs | optbench acc | sklearn acc |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (w, m, t), tools in sorted(runs.items()):
        ob, sk = tools.get("optbench", []), tools.get("sklearn", [])
        med = lambda rs: statistics.median(r["fit_seconds"] for r in rs) if rs else float("nan")
        acc = lambda rs: f"{rs[0]['accuracy']:.3f}" if rs else "–"
        o, s = med(ob), med(sk)
        print(
            f"| {w} | {m} | {t} | {o:.3f} | {s:.3f} | {o / s:.2f} | {len(ob)} / {len(sk)} "
            f"| {acc(ob)} | {acc(sk)} |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["fit"] and len(sys.argv) in (6, 7):
        fit(*sys.argv[2:])
    elif sys.argv[1:2] == ["table"] and len(sys.argv) == 3:
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
