#!/usr/bin/env python3
"""The Python half of the ONNX proof (examples/onnx_cases.rs is the other).

  onnx_check.py check-export DIR
      Every DIR/<case>.onnx written by optbench passes the ONNX checker
      (full_check=True) and, run in onnxruntime (one thread), predicts what
      optbench predicted (DIR/<case>.json): classes 100% equal except exact
      ties, probabilities within 1e-5. Exit 1 otherwise.

  onnx_check.py check-serving DIR
      The same for the whole serving path (DIR/serving_*.onnx, written by
      `onnx_cases export-serving`): one input per column, numeric as double
      [N, 1] (NaN = missing), categorical as string [N, 1] ("" = missing).

  onnx_check.py make-import DIR
      Trains scikit-learn models (random forest, gradient boosting, decision
      tree, logistic regression) on tests/fixtures/breast_cancer (2 classes)
      and tests/fixtures/wine (3 classes), converts them with skl2onnx
      (zipmap off) and writes DIR/<case>.onnx with onnxruntime's labels and
      probabilities on the test rows in DIR/<case>.json, for
      `onnx_cases check-import DIR` to compare optbench's import against.
      Also scikit-learn Pipelines SimpleImputer (median or mean) →
      StandardScaler → model (DIR/sklearn_pipeline_*): skl2onnx writes an
      Imputer and a Scaler in front of the model; their test rows are raw
      columns with some cells missing (NaN, null in the JSON, `"raw": true`),
      and the JSON also holds onnxruntime's scaled features (the Scaler's
      output) so that optbench's preprocessing can be compared value by value.

  onnx_check.py bench DIR
      onnxruntime's single-row latency (Python API, one intra-op and one
      inter-op thread) on DIR/<case>.onnx, the same rows and rounds as
      `onnx_cases bench DIR`.
"""

import json
import pathlib
import sys
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-5
ROOT = pathlib.Path(__file__).resolve().parent.parent


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def rows_of(case):
    return np.array(
        [[np.nan if v is None else v for v in r] for r in case["rows"]], dtype=np.float32
    )


def run(sess, x):
    inp = sess.get_inputs()[0].name
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, {inp: x})))
    return np.asarray(out["label"]).astype(np.int64).ravel(), np.asarray(out["probabilities"])


def compare(name, label_a, proba_a, label_b, proba_b):
    """(ok, message): probabilities within TOL, classes equal but for ties."""
    diff = float(np.max(np.abs(proba_a - proba_b))) if proba_a.size else 0.0
    top2 = np.sort(proba_b, axis=1)[:, ::-1][:, :2]
    tie = (top2[:, 0] - top2[:, 1]) <= TOL
    differ = label_a != label_b
    unexplained = int(np.sum(differ & ~tie))
    n = len(label_a)
    ok = diff <= TOL and unexplained == 0 and proba_a.shape == proba_b.shape
    msg = (
        f"{'ok  ' if ok else 'FAIL'} {name:<44} classes {n - int(differ.sum())}/{n} equal "
        f"({int(np.sum(differ & tie))} exact ties), max |dp| {diff:.2e}"
    )
    return ok, msg


def check_export(folder):
    folder = pathlib.Path(folder)
    failed, n = 0, 0
    for js in sorted(folder.glob("*.json")):
        case = json.loads(js.read_text())
        path = js.with_suffix(".onnx")
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        label, proba = run(session(path), rows_of(case))
        ok, msg = compare(
            case["name"],
            label,
            proba,
            np.array(case["label"], dtype=np.int64),
            np.array(case["probabilities"], dtype=np.float32),
        )
        print(msg + "  [checker: ok]")
        failed += not ok
        n += 1
    if n == 0:
        sys.exit(f"no cases in {folder}")
    print(f"{n - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def check_serving(folder):
    folder = pathlib.Path(folder)
    failed, n = 0, 0
    for js in sorted(folder.glob("serving_*.json")):
        case = json.loads(js.read_text())
        path = js.with_suffix(".onnx")
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        feeds = {}
        for j, (name, kind) in enumerate(case["columns"]):
            col = [r[j] for r in case["rows"]]
            if kind == "numeric":
                feeds[name] = np.array(
                    [[np.nan if v is None else v] for v in col], dtype=np.float64
                )
            else:
                feeds[name] = np.array([[v] for v in col], dtype=object)
        sess = session(path)
        names = [o.name for o in sess.get_outputs()]
        out = dict(zip(names, sess.run(None, feeds)))
        ok, msg = compare(
            case["name"],
            np.asarray(out["label"]).astype(np.int64).ravel(),
            np.asarray(out["probabilities"]),
            np.array(case["label"], dtype=np.int64),
            np.array(case["probabilities"], dtype=np.float32),
        )
        print(msg + "  [checker: ok]")
        failed += not ok
        n += 1
    if n == 0:
        sys.exit(f"no serving cases in {folder}")
    print(f"{n - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def read_fixture(name, split):
    import csv

    with open(ROOT / "tests" / "fixtures" / name / f"{split}.csv") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], np.array(rows[1:], dtype=np.float64)
    t = header.index("label")
    x = np.delete(body, t, axis=1).astype(np.float32)
    return x, body[:, t].astype(np.int64)


def make_import(folder):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    from skl2onnx import to_onnx

    warnings.filterwarnings("ignore")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for data in ["breast_cancer", "wine"]:
        x, y = read_fixture(data, "train")
        xt, _ = read_fixture(data, "test")
        models = {
            "random_forest": RandomForestClassifier(n_estimators=50, random_state=0),
            "gradient_boosting": GradientBoostingClassifier(n_estimators=50, random_state=0),
            "decision_tree": DecisionTreeClassifier(max_depth=8, random_state=0),
            "logistic_regression": LogisticRegression(max_iter=5000),
        }
        for name, est in models.items():
            est.fit(x, y)
            onx = to_onnx(
                est,
                x[:1],
                options={"zipmap": False},
                target_opset={"": 17, "ai.onnx.ml": 3},
            )
            path = folder / f"sklearn_{data}_{name}.onnx"
            path.write_bytes(onx.SerializeToString())
            label, proba = run(session(path), xt)
            case = {
                "name": f"sklearn_{data}_{name}",
                "n_features": int(x.shape[1]),
                "n_classes": int(proba.shape[1]),
                "rows": xt.tolist(),
                "label": label.tolist(),
                "probabilities": proba.astype(np.float32).tolist(),
            }
            path.with_suffix(".json").write_text(json.dumps(case))
            print(f"wrote {path.name}: {len(xt)} test rows, onnxruntime outputs")
        make_pipelines(folder, data, x, y, xt)


def with_missing(x, every, seed):
    """A copy of x with about one cell in `every` set to NaN (never a
    whole row), deterministic."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    mask = rng.random(x.shape) < 1.0 / every
    mask[:, 0] &= ~mask[:, 1:].all(axis=1)
    x[mask] = np.nan
    return x


def make_pipelines(folder, data, x, y, xt):
    """SimpleImputer → StandardScaler → model Pipelines, converted whole."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier
    from skl2onnx import to_onnx

    # Missing cells in training (so the fills are the statistics of what
    # was seen) and more in the test rows (so imputation is exercised).
    x = with_missing(x, 20, 1)
    xt = np.vstack([xt, with_missing(xt, 4, 2)])
    models = {
        "random_forest": ("median", RandomForestClassifier(n_estimators=50, random_state=0)),
        "logistic_regression": ("mean", LogisticRegression(max_iter=5000)),
        "gradient_boosting": ("mean", GradientBoostingClassifier(n_estimators=50, random_state=0)),
        "decision_tree": ("median", DecisionTreeClassifier(max_depth=8, random_state=0)),
    }
    for name, (strategy, est) in models.items():
        pipe = Pipeline(
            [
                ("impute", SimpleImputer(strategy=strategy)),
                ("scale", StandardScaler()),
                ("model", est),
            ]
        ).fit(x, y)
        onx = to_onnx(
            pipe,
            x[:1],
            options={"zipmap": False},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
        case_name = f"sklearn_pipeline_{data}_{name}"
        path = folder / f"{case_name}.onnx"
        path.write_bytes(onx.SerializeToString())
        label, proba = run(session(path), xt)
        # onnxruntime's scaled features: the Scaler's output made a graph
        # output of a copy of the file.
        scaler = [n for n in onx.graph.node if n.op_type == "Scaler"]
        probe = onnx.ModelProto()
        probe.CopyFrom(onx)
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(scaler[0].output[0], onnx.TensorProto.FLOAT, None)
        )
        sess = session_of_bytes(probe.SerializeToString())
        features = sess.run([scaler[0].output[0]], {sess.get_inputs()[0].name: xt})[0]
        case = {
            "name": case_name,
            "n_features": int(x.shape[1]),
            "n_classes": int(proba.shape[1]),
            "raw": True,
            "rows": [[None if np.isnan(v) else float(v) for v in r] for r in xt],
            "features": features.astype(np.float32).tolist(),
            "label": label.tolist(),
            "probabilities": proba.astype(np.float32).tolist(),
        }
        path.with_suffix(".json").write_text(json.dumps(case))
        print(f"wrote {path.name}: {len(xt)} raw test rows, onnxruntime outputs and features")


def session_of_bytes(data):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def bench(folder, rounds=20):
    for js in sorted(pathlib.Path(folder).glob("*.json")):
        case = json.loads(js.read_text())
        sess = session(js.with_suffix(".onnx"))
        inp = sess.get_inputs()[0].name
        rows = [r.reshape(1, -1) for r in rows_of(case)]
        times = []
        for rnd in range(rounds + 1):
            for r in rows:
                t = time.perf_counter_ns()
                sess.run(["probabilities"], {inp: r})
                ns = time.perf_counter_ns() - t
                if rnd:
                    times.append(ns)
        times.sort()
        print(
            f"onnxruntime {case['name']:<32} median {times[len(times) // 2]:>9.0f} ns  "
            f"p99 {times[len(times) * 99 // 100]:>9.0f} ns"
        )


if __name__ == "__main__":
    commands = {
        "check-export": check_export,
        "check-serving": check_serving,
        "make-import": make_import,
        "bench": bench,
    }
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](
        sys.argv[2]
    )
