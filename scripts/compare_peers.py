#!/usr/bin/env python3
"""The Python half of scripts/compare_peers.sh: fits the peers' models on the
shared CSV splits and measures them as their users call them.

For each workload and model shape (BENCHMARKS.md's protocol):
- scikit-learn: fit time (one core), accuracy, single-row `predict` p50/p99
  (20 warm-up calls, then 1,000 timed calls cycling through the test rows; 300
  for forests, whose `predict` costs ~10 ms), batch throughput on 10,000 rows,
  joblib size raw / compress=3;
- onnxruntime (skl2onnx, float32, one intra-op and one inter-op thread):
  the same single-row and batch figures from Python, the ONNX file size, and
  its agreement with scikit-learn's labels;
- Treelite / TL2cgen: the generated C source (compiled and timed natively by
  `examples/peers_native.rs`, which also checks its accuracy);
- node visits per test row: for every tree, the nodes on the row's path, leaf
  included (`decision_path`), summed over trees and averaged over rows.

Writes OUT/peers.json and OUT/<workload>-<model>/ (C sources). Usage:
    compare_peers.py DATA_DIR OUT_DIR
"""
import json
import os
import sys
import time

import joblib
import numpy as np
import onnxruntime as ort
import sklearn
import skl2onnx
import tl2cgen
import treelite
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

SEED = 42
BATCH_ROWS = 10_000

# (workload, key, label, constructor). Keys match optbench's candidate ids in
# configs/peers/<workload>.toml, so the two halves can be joined.
MODELS = [
    ("w1", "logreg", "logistic regression", lambda: LogisticRegression(max_iter=1000)),
    ("w1", "forest-100", "forest 100", lambda: RandomForestClassifier(n_estimators=100, random_state=SEED)),
    ("w1", "boost-200", "boosting 200", lambda: GradientBoostingClassifier(n_estimators=200, random_state=SEED)),
    ("w2", "logreg", "logistic regression", lambda: LogisticRegression(max_iter=1000)),
    ("w2", "forest-100", "forest 100", lambda: RandomForestClassifier(n_estimators=100, random_state=SEED)),
    ("w2", "boost-300-d6", "boosting 300, depth 6",
     lambda: GradientBoostingClassifier(n_estimators=300, max_depth=6, random_state=SEED)),
]


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    target = header.index("label")
    x = np.delete(data, target, axis=1)
    y = data[:, target].astype(int)
    return x, y


def percentiles(ns):
    ns = np.asarray(ns, dtype=np.float64)
    return float(np.percentile(ns, 50)), float(np.percentile(ns, 99))


def time_single(call, rows, calls):
    """20 warm-up calls, then `calls` timed calls cycling through `rows`."""
    for i in range(20):
        call(rows[i % len(rows)])
    out = []
    for i in range(calls):
        r = rows[i % len(rows)]
        t0 = time.perf_counter_ns()
        call(r)
        out.append(time.perf_counter_ns() - t0)
    return percentiles(out)


def time_batch(call, x, repeats=3):
    """Rows per second, best of `repeats` (one call over the whole batch)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        call(x)
        best = min(best, time.perf_counter() - t0)
    return len(x) / best


def visits_per_row(model, x):
    if isinstance(model, RandomForestClassifier):
        trees = model.estimators_
    elif isinstance(model, GradientBoostingClassifier):
        trees = model.estimators_.ravel()
    else:
        return None
    x32 = x.astype(np.float32)
    total = sum(t.decision_path(x32).nnz for t in trees)
    return total / len(x)


def n_nodes(model):
    if isinstance(model, RandomForestClassifier):
        return sum(t.tree_.node_count for t in model.estimators_)
    if isinstance(model, GradientBoostingClassifier):
        return sum(t.tree_.node_count for t in model.estimators_.ravel())
    return None


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    results = []
    splits = {}
    for workload, key, label, make in MODELS:
        if workload not in splits:
            splits[workload] = (
                load(os.path.join(data_dir, workload, "train.csv")),
                load(os.path.join(data_dir, workload, "test.csv")),
            )
        (x_train, y_train), (x_test, y_test) = splits[workload]
        print(f"[peers] {workload} {label}: fitting", file=sys.stderr, flush=True)
        model = make()
        t0 = time.perf_counter()
        model.fit(x_train, y_train)
        fit_s = time.perf_counter() - t0
        pred = model.predict(x_test)
        accuracy = float((pred == y_test).mean())
        work = os.path.join(out_dir, f"{workload}-{key}")
        os.makedirs(work, exist_ok=True)

        raw = os.path.join(work, "model.joblib")
        c3 = os.path.join(work, "model.c3.joblib")
        joblib.dump(model, raw)
        joblib.dump(model, c3, compress=3)

        rows = [x_test[i : i + 1] for i in range(len(x_test))]
        forest = isinstance(model, RandomForestClassifier)
        sk_p50, sk_p99 = time_single(model.predict, rows, 300 if forest else 1000)
        x_batch = np.resize(x_test, (BATCH_ROWS, x_test.shape[1]))
        sk_batch = time_batch(model.predict, x_batch)

        onx = to_onnx(model, x_train[:1].astype(np.float32), options={id(model): {"zipmap": False}})
        onnx_path = os.path.join(work, "model.onnx")
        with open(onnx_path, "wb") as f:
            f.write(onx.SerializeToString())
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        label_out = sess.get_outputs()[0].name
        rows32 = [r.astype(np.float32) for r in rows]
        ort_p50, ort_p99 = time_single(lambda r: sess.run([label_out], {name: r}), rows32, 1000)
        ort_pred = sess.run([label_out], {name: x_test.astype(np.float32)})[0]
        ort_agree = float((ort_pred == pred).mean())
        xb32 = x_batch.astype(np.float32)
        ort_batch = time_batch(lambda x: sess.run([label_out], {name: x}), xb32)

        entry = {
            "workload": workload,
            "key": key,
            "label": label,
            "accuracy": accuracy,
            "fit_s": fit_s,
            "nodes": n_nodes(model),
            "visits_per_row": visits_per_row(model, x_test),
            "sklearn": {"p50_ns": sk_p50, "p99_ns": sk_p99, "batch_rows_per_s": sk_batch},
            "onnxruntime": {
                "p50_ns": ort_p50,
                "p99_ns": ort_p99,
                "batch_rows_per_s": ort_batch,
                "agreement": ort_agree,
            },
            "size": {
                "joblib_raw": os.path.getsize(raw),
                "joblib_c3": os.path.getsize(c3),
                "onnx": os.path.getsize(onnx_path),
            },
            # The identical trees for optbench (examples/peers_native.rs
            # imports this file and times it beside TL2cgen's C).
            "onnx_path": os.path.abspath(onnx_path),
            # Labels, for the native harness to check TL2cgen's output.
            "sklearn_pred": [int(p) for p in pred],
        }
        if key != "logreg":
            # TL2cgen C source; compiled and timed by examples/peers_native.rs.
            tl = treelite.sklearn.import_model(model)
            c_dir = os.path.join(work, "tl2cgen")
            # Several C files (one function per group of trees) so that gcc
            # compiles them in parallel and in minutes, not one giant function.
            tl2cgen.generate_c_code(tl, c_dir, params={"parallel_comp": 20})
            with open(os.path.join(c_dir, "recipe.json")) as f:
                recipe = json.load(f)
            entry["treelite"] = {
                "c_dir": os.path.abspath(c_dir),
                "sources": [s["name"] + ".c" for s in recipe["sources"]],
            }
        results.append(entry)
        print(
            f"[peers] {workload} {label}: acc {accuracy:.4f} fit {fit_s:.2f} s "
            f"sklearn p50 {sk_p50 / 1e3:.1f} us, onnxruntime p50 {ort_p50 / 1e3:.1f} us",
            file=sys.stderr,
            flush=True,
        )
    versions = {
        "scikit-learn": sklearn.__version__,
        "onnxruntime": ort.__version__,
        "skl2onnx": skl2onnx.__version__,
        "treelite": treelite.__version__,
        "tl2cgen": tl2cgen.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    with open(os.path.join(out_dir, "peers.json"), "w") as f:
        json.dump({"versions": versions, "models": results}, f, indent=1)


if __name__ == "__main__":
    main()
