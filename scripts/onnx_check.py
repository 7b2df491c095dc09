#!/usr/bin/env python3
"""The Python half of the ONNX proof (examples/onnx_cases.rs is the other).

  onnx_check.py check-export DIR
      Every DIR/<case>.onnx written by optbench passes the ONNX checker
      (full_check=True) and, run in onnxruntime (one thread), predicts what
      optbench predicted (DIR/<case>.json): classes 100% equal except exact
      ties (SVMs, whose class is the vote: no exception), probabilities
      within 1e-5 (SVMs: 1e-4, see SVM_TOL). Exit 1 otherwise.

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
      Also scikit-learn SVCs (DIR/sklearn_<data>_svm_<kernel>[_platt]:
      rbf, linear, poly, sigmoid, with and without probability=True, on
      standardized rows; see svm_expected for what their cases hold and
      the probability tolerances; and an rbf SVC on tests/fixtures/w1,
      about 1,600 support vectors, for scripts/onnx_bench.sh).
      Also scikit-learn Pipelines SimpleImputer (median or mean) →
      StandardScaler → model (DIR/sklearn_pipeline_*, SVCs among them): skl2onnx writes an
      Imputer and a Scaler in front of the model; their test rows are raw
      columns with some cells missing (NaN, null in the JSON, `"raw": true`),
      and the JSON also holds onnxruntime's scaled features (the Scaler's
      output) so that optbench's preprocessing can be compared value by value.
      And scikit-learn Pipelines of a ColumnTransformer (numeric columns:
      SimpleImputer(median) → StandardScaler; categorical columns:
      SimpleImputer(constant or most_frequent, missing_values="") →
      OneHotEncoder(handle_unknown="ignore")) and a model, fitted on
      tests/fixtures/penguins (3 classes) and tests/fixtures/exercise2
      (2 classes) and converted with one input per column (float [N, 1],
      NaN = missing; string [N, 1], "" = missing) (DIR/sklearn_columns_*):
      their cases hold the raw cells of the test rows (penguins' also
      again with cells blanked and with categories it never saw),
      onnxruntime's class indices and probabilities, and the class labels.
      On penguins also variants: the categorical block first without an
      imputer ("" is then a category), one transformer per categorical
      column with drop="first", handle_unknown="error" (zeros = 0; rows
      without unseen categories), and an SVC with probability=True.

  onnx_check.py check-predict CASE.json PREDICTIONS.csv [--exact]
      `optbench predict --proba` of a package imported from a
      sklearn_columns_* file, on the test CSV, against onnxruntime's outputs
      for the same rows (the case's first rows): classes equal except exact
      ties; with --exact also probabilities within 1e-5, otherwise their
      agreement is reported. (The file's inputs are float: onnxruntime
      rounds each number of the CSV to f32 before the Imputer and Scaler,
      optbench's pipeline scales the CSV's decimal value as it is read, so
      now and then a value next to a split threshold falls on the other side.
      make-import also writes DIR/<data>_test_f32.csv, the test CSV with its
      numbers written as the f32 values onnxruntime saw, for the --exact
      check.)

  onnx_check.py bench DIR [PATTERN]
      onnxruntime's single-row latency (Python API, one intra-op and one
      inter-op thread) on DIR/<case>.onnx, the same rows and rounds as
      `onnx_cases bench DIR`; and scikit-learn's own predict where the
      case has its estimator pickled (the SVCs). Only cases whose name
      contains PATTERN.
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
# Platt probabilities of an SVM: the pair decision values are sums over
# every support vector, accumulated in double by onnxruntime's SVMClassifier
# and in f32 lanes by optbench, so they differ by rounding that grows with
# the number of support vectors, and Platt's sigmoid passes it on
# (serving_exercise2_svm_rbf_platt, 1474 vectors: 2.2e-5). Vote shares are
# exact either way, and the classes must all be equal.
SVM_TOL = 1e-4
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
    """(ok, message): probabilities within TOL, classes equal but for ties.

    An SVM's class is its one-vs-one vote, not the most probable class, so
    near-equal probabilities excuse nothing there: its classes must all be
    equal."""
    diff = float(np.max(np.abs(proba_a - proba_b))) if proba_a.size else 0.0
    top2 = np.sort(proba_b, axis=1)[:, ::-1][:, :2]
    tie = (top2[:, 0] - top2[:, 1]) <= TOL
    tol = TOL
    if "svm" in name:
        tie[:] = False
        tol = SVM_TOL
    differ = label_a != label_b
    unexplained = int(np.sum(differ & ~tie))
    n = len(label_a)
    ok = diff <= tol and unexplained == 0 and proba_a.shape == proba_b.shape
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
        make_svms(folder, data, x, y, xt)
        make_xgboost(folder, data, x, y, xt)
        make_lightgbm(folder, data, x, y, xt)
    # An SVC of the size a real table gives (w1: 4,000 × 20, about 1,600
    # support vectors), for the single-row timing of scripts/onnx_bench.sh.
    x, y = read_fixture("w1", "train")
    xt, _ = read_fixture("w1", "test")
    make_svms(folder, "w1", x, y, xt, kernels=["rbf"], platts=[False])
    for data, target, categorical in [
        ("penguins", "species", ["island", "sex"]),
        ("exercise2", "churn", ["city", "device", "plan"]),
    ]:
        make_columns(folder, data, target, categorical)


# Two-class Platt probabilities in onnxruntime (and scikit-learn's libsvm)
# go through libsvm's iterative pairwise coupling, which stops once
# max_t |(Qp)_t − pᵀQp| < 0.005 / k. For one pair with probability r,
# (Qp)_0 − pᵀQp = (p_0 − r)(1 − p_0) and (Qp)_1 − pᵀQp = (r − p_0) p_0, so
# at the stop |p_0 − r| < 0.0025 / max(p_0, 1 − p_0) ≤ 0.005: optbench's
# SVM takes r itself, so the two agree within this (2.5e-3 seen).
SVM_BINARY_PLATT_TOL = 5e-3


def svm_expected(onx, rows):
    """onnxruntime's outputs for an SVC file, as optbench's SVM means them:
    the label (the one-vs-one vote); the pair decision values (positive for
    the pair's first class), from a copy of the file whose SVMClassifier
    has no prob_a / prob_b and whose scores are a graph output; and
    probabilities that are Platt's when the operator has prob_a (tolerance
    SVM_TOL, or SVM_BINARY_PLATT_TOL for two classes), otherwise the vote
    shares of those decision values (the file's own probabilities output
    is then the decision function, not probabilities)."""
    svm = [n for n in onx.graph.node if n.op_type == "SVMClassifier"][0]
    platt = any(a.name == "prob_a" for a in svm.attribute)
    k = len([a for a in svm.attribute if a.name == "vectors_per_class"][0].ints)

    def scores_of(strip):
        probe = onnx.ModelProto()
        probe.CopyFrom(onx)
        node = [n for n in probe.graph.node if n.op_type == "SVMClassifier"][0]
        if strip:
            keep = [a for a in node.attribute if a.name not in ("prob_a", "prob_b")]
            del node.attribute[:]
            node.attribute.extend(keep)
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(node.output[1], onnx.TensorProto.FLOAT, None)
        )
        sess = session_of_bytes(probe.SerializeToString())
        return sess.run([node.output[0], node.output[1]], {sess.get_inputs()[0].name: rows})

    label, scores = scores_of(False)
    _, dec = scores_of(True)
    # Two classes: onnxruntime writes [−f, f], f the pair's decision value.
    if k == 2:
        dec = dec[:, 1:]
    out = {
        "label": np.asarray(label).astype(np.int64).ravel().tolist(),
        "decisions": dec.astype(np.float32).tolist(),
    }
    if platt:
        out["probabilities"] = scores.astype(np.float32).tolist()
        out["proba_tol"] = SVM_BINARY_PLATT_TOL if k == 2 else SVM_TOL
        return out
    votes = np.zeros((len(rows), k))
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            votes[:, i] += dec[:, p] > 0
            votes[:, j] += dec[:, p] <= 0
            p += 1
    out["probabilities"] = (votes / p).astype(np.float32).tolist()
    out["proba_tol"] = TOL
    return out


def make_svms(folder, data, x, y, xt, kernels=("rbf", "linear", "poly", "sigmoid"), platts=(False, True)):
    """scikit-learn SVCs (every kernel, with and without probability=True
    unless told), on rows standardized by the training rows (kernels assume
    comparable scales): the file is the bare SVMClassifier (and, for 3+
    classes without probabilities, skl2onnx's one-vs-rest decision function
    after it). The fitted SVC is pickled beside it (DIR/<case>.pkl) for
    `bench` to time scikit-learn's own predict on the same rows."""
    import pickle

    from sklearn.svm import SVC
    from skl2onnx import to_onnx

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1
    xs, xts = ((x - mean) / std).astype(np.float32), ((xt - mean) / std).astype(np.float32)
    for kernel in kernels:
        for platt in platts:
            est = SVC(kernel=kernel, probability=platt, random_state=0).fit(xs, y)
            onx = to_onnx(
                est, xs[:1], options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3}
            )
            name = f"sklearn_{data}_svm_{kernel}{'_platt' if platt else ''}"
            path = folder / f"{name}.onnx"
            path.write_bytes(onx.SerializeToString())
            case = {
                "name": name,
                "n_features": int(xs.shape[1]),
                "n_classes": len(est.classes_),
                "rows": xts.tolist(),
                **svm_expected(onx, xts),
            }
            path.with_suffix(".json").write_text(json.dumps(case))
            path.with_suffix(".pkl").write_bytes(pickle.dumps(est))
            print(f"wrote {path.name}: {len(xts)} test rows, {int(est.n_support_.sum())} vectors")


def make_xgboost(folder, data, x, y, xt):
    """XGBoost (the other library users bring boosted trees from), converted
    by onnxmltools: `BRANCH_LT` splits and per-class trees with base scores.
    Its converter sends missing values to each node's false branch, as
    optbench's trees do, so the test rows get some missing cells too."""
    import xgboost
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    est = xgboost.XGBClassifier(n_estimators=50, max_depth=4, random_state=0, n_jobs=1)
    est.fit(x, y)
    onx = convert_xgboost(
        est,
        initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
        target_opset=15,
    )
    write_case_with_missing(folder, f"xgboost_{data}_gradient_boosting", onx, xt)


def write_case_with_missing(folder, name, onx, xt, **extra):
    """Writes `onx` and its case: the test rows, then the same rows with an
    eighth of the cells missing, and onnxruntime's outputs on them."""
    path = folder / f"{name}.onnx"
    path.write_bytes(onx.SerializeToString())
    rows = np.concatenate([xt, with_missing(xt, 8, 1)])
    label, proba = run(session(path), rows)
    case = {
        "name": name,
        "n_features": int(xt.shape[1]),
        "n_classes": int(proba.shape[1]),
        "rows": [[None if np.isnan(v) else float(v) for v in r] for r in rows],
        "label": label.tolist(),
        "probabilities": proba.astype(np.float32).tolist(),
        **extra,
    }
    path.with_suffix(".json").write_text(json.dumps(case))
    print(f"wrote {path.name}: {len(rows)} test rows (half with missing cells), onnxruntime outputs")


def make_lightgbm(folder, data, x, y, xt):
    """LightGBM, converted by onnxmltools, which sends missing values to the
    true branch wherever LightGBM sends them left: trained on complete rows
    (a missing value goes where 0 goes: optbench imports it with a stand-in
    value for missing cells) and on rows with an eighth of the cells missing
    (directions learned per split: optbench rewrites those splits). The test
    rows have missing cells."""
    import lightgbm
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    for suffix, train in [("", x), ("_trained_with_missing", with_missing(x, 8, 2))]:
        est = lightgbm.LGBMClassifier(
            n_estimators=50, num_leaves=15, random_state=0, n_jobs=1, verbose=-1
        )
        est.fit(train, y)
        onx = convert_lightgbm(
            est,
            initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
            target_opset=15,
            zipmap=False,
        )
        # Missing cells take the import's stand-in values (a pipeline) where
        # one fits; where learned directions disagree on a feature, the
        # import rewrites the splits instead.
        write_case_with_missing(
            folder, f"lightgbm_{data}_gradient_boosting{suffix}", onx, xt, stand_ins=True
        )


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
    from sklearn.svm import SVC
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
        "svm_rbf": ("median", SVC()),
        "svm_rbf_platt": ("mean", SVC(probability=True, random_state=0)),
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
        if name.startswith("svm"):
            case.update(svm_expected(onx, xt))
        path.with_suffix(".json").write_text(json.dumps(case))
        print(f"wrote {path.name}: {len(xt)} raw test rows, onnxruntime outputs and features")


def read_mixed(data, split, target, categorical):
    """A fixture CSV as skl2onnx's per-column inputs see it: numeric
    columns float32 with NaN for an empty cell, categorical ones text with ""
    for an empty cell; and the labels."""
    import pandas as pd

    df = pd.read_csv(
        ROOT / "tests" / "fixtures" / data / f"{split}.csv",
        dtype=str,
        keep_default_na=False,
    )
    y = df.pop(target).to_numpy()
    for c in df.columns:
        if c in categorical:
            df[c] = df[c].astype(object)
        else:
            df[c] = pd.to_numeric(df[c].replace("", np.nan)).astype(np.float32)
    return df, y


def blanked(df, categorical, every, seed):
    """A copy of df with about one cell in `every` missing (NaN / ""),
    deterministic."""
    rng = np.random.default_rng(seed)
    df = df.copy()
    mask = rng.random(df.shape) < 1.0 / every
    for j, c in enumerate(df.columns):
        df.loc[mask[:, j], c] = "" if c in categorical else np.nan
    return df


def unseen(df, categorical):
    """A copy of df whose categorical cells are, by turns, categories
    never seen in training."""
    df = df.copy()
    for j, c in enumerate(categorical):
        rows = np.arange(len(df)) % (len(categorical) + 1) == j
        df.loc[rows, c] = f"never-seen-{c}"
    return df


def feeds_of(df, categorical):
    return {
        c: (
            df[c].to_numpy(dtype=object).reshape(-1, 1)
            if c in categorical
            else df[c].to_numpy(dtype=np.float32).reshape(-1, 1)
        )
        for c in df.columns
    }


def make_columns(folder, data, target, categorical):
    """ColumnTransformer (numeric: impute, scale; categorical: impute, one-hot)
    → model Pipelines, converted with one input per column; on penguins also
    variants of the preprocessing (see `variants`)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    x, y = read_mixed(data, "train", target, categorical)
    xt, _ = read_mixed(data, "test", target, categorical)
    write_f32_csv(folder / f"{data}_test_f32.csv", data, categorical)
    known = [xt]
    if data == "penguins":
        # Its test rows have no missing cells and no new categories: add
        # them.
        known.append(blanked(xt, categorical, 4, 3))
        served = pd.concat(known + [unseen(xt, categorical)], ignore_index=True)
    else:
        served = xt
    known = pd.concat(known, ignore_index=True)
    numeric = [c for c in x.columns if c not in categorical]

    def numbers():
        return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])

    def categories(strategy, **onehot):
        onehot.setdefault("handle_unknown", "ignore")
        return Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(strategy=strategy, missing_values="", fill_value="missing"),
                ),
                ("onehot", OneHotEncoder(**onehot)),
            ]
        )

    def standard(strategy):
        return ColumnTransformer(
            [("num", numbers(), numeric), ("cat", categories(strategy), categorical)]
        )

    models = {
        "random_forest": (
            standard("constant"),
            RandomForestClassifier(n_estimators=50, random_state=0),
        ),
        "gradient_boosting": (
            standard("most_frequent"),
            GradientBoostingClassifier(n_estimators=50, random_state=0),
        ),
        "logistic_regression": (standard("constant"), LogisticRegression(max_iter=5000)),
        "decision_tree": (
            standard("most_frequent"),
            DecisionTreeClassifier(max_depth=8, random_state=0),
        ),
    }
    for name, (pre, est) in models.items():
        write_columns_case(folder, f"{data}_{name}", pre, est, x, y, served, categorical)
    if data != "penguins":
        return
    # An SVC with Platt's probabilities (3 classes: onnxruntime's coupling,
    # as optbench's) on the per-column pipeline: its support vectors are
    # renumbered to the pipeline's outputs like any model's features.
    from sklearn.svm import SVC

    write_columns_case(
        folder,
        f"{data}_svm_rbf_platt",
        standard("constant"),
        SVC(probability=True, random_state=0),
        x,
        y,
        served,
        categorical,
        proba_tol=SVM_TOL,
    )
    # Variants: (name, preprocessing, model, rows). (Not double inputs:
    # skl2onnx then writes a double Imputer, which onnxruntime 1.32 has no
    # kernel for.)
    variants = [
        # Categorical block first; no imputer, so "" (missing) is a category.
        (
            "cat_first_no_imputer",
            ColumnTransformer(
                [
                    ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ("num", numbers(), numeric),
                ]
            ),
            LogisticRegression(max_iter=5000),
            served,
        ),
        # One transformer per categorical column; the first category dropped.
        (
            "per_column_drop_first",
            ColumnTransformer(
                [("num", numbers(), numeric)]
                + [
                    (f"cat_{c}", categories("constant", drop="first"), [c])
                    for c in categorical
                ]
            ),
            GradientBoostingClassifier(n_estimators=30, random_state=0),
            served,
        ),
        # handle_unknown="error" (zeros = 0): onnxruntime refuses unseen
        # categories, so only rows without them.
        (
            "unknown_error",
            ColumnTransformer(
                [
                    ("num", numbers(), numeric),
                    ("cat", categories("most_frequent", handle_unknown="error"), categorical),
                ]
            ),
            DecisionTreeClassifier(max_depth=6, random_state=0),
            known,
        ),
    ]
    for name, pre, est, rows in variants:
        write_columns_case(folder, f"{data}_{name}", pre, est, x, y, rows, categorical)


def write_columns_case(folder, name, pre, est, x, y, served, categorical, **extra):
    """Fits pre → est, converts it with one input per column and writes
    DIR/sklearn_columns_<name>.onnx and its case: the raw cells of `served`,
    onnxruntime's class indices and probabilities, the class labels."""
    from sklearn.pipeline import Pipeline
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    pipe = Pipeline([("pre", pre), ("model", est)]).fit(x, y)
    types = [
        (c, StringTensorType([None, 1]) if c in categorical else FloatTensorType([None, 1]))
        for c in x.columns
    ]
    onx = to_onnx(
        pipe,
        initial_types=types,
        options={"zipmap": False},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    case_name = f"sklearn_columns_{name}"
    path = folder / f"{case_name}.onnx"
    path.write_bytes(onx.SerializeToString())
    sess = session(path)
    out = dict(
        zip([o.name for o in sess.get_outputs()], sess.run(None, feeds_of(served, categorical)))
    )
    classes = [str(c) for c in pipe.classes_]
    label = [classes.index(str(v)) for v in np.asarray(out["label"]).ravel()]
    cells = [
        [
            v if c in categorical else (None if np.isnan(v) else float(v))
            for c, v in zip(served.columns, r)
        ]
        for r in served.itertuples(index=False)
    ]
    case = {
        "name": case_name,
        "n_features": len(served.columns),
        "n_classes": len(classes),
        "raw": True,
        "columns": [[c, "categorical" if c in categorical else "numeric"] for c in served.columns],
        "cells": cells,
        "classes": classes,
        "label": label,
        "probabilities": np.asarray(out["probabilities"]).astype(np.float32).tolist(),
        **extra,
    }
    path.with_suffix(".json").write_text(json.dumps(case))
    ops = sorted({n.op_type for n in onx.graph.node})
    print(f"wrote {path.name}: {len(served)} raw rows; operators {', '.join(ops)}")


def write_f32_csv(path, data, categorical):
    """The fixture's test CSV with every number written as the float32
    value the file's float inputs make of it (shortest round-trip text)."""
    import csv

    with open(ROOT / "tests" / "fixtures" / data / "test.csv") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows[1:]:
            w.writerow(
                [
                    v
                    if c in categorical or v == "" or not is_number(v)
                    else repr(float(np.float32(float(v))))
                    for c, v in zip(header, r)
                ]
            )


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def check_predict(case_path, predictions, exact):
    import csv

    case = json.loads(pathlib.Path(case_path).read_text())
    classes = case["classes"]
    with open(predictions) as f:
        rows = list(csv.DictReader(f))
    n = len(rows)
    label = np.array([classes.index(r["prediction"]) for r in rows], dtype=np.int64)
    proba = np.array([[float(r[f"proba_{c}"]) for c in classes] for r in rows], dtype=np.float32)
    expected = np.array(case["probabilities"][:n], dtype=np.float32)
    ok, msg = compare(
        f"optbench predict vs {case['name']}",
        label,
        proba,
        np.array(case["label"][:n], dtype=np.int64),
        expected,
    )
    if not exact:
        # Classes only: equal but for exact ties.
        top2 = np.sort(expected, axis=1)[:, ::-1][:, :2]
        tie = (top2[:, 0] - top2[:, 1]) <= TOL
        ok = proba.shape == expected.shape and not np.any(
            (label != np.array(case["label"][:n])) & ~tie
        )
        within = int(np.sum(np.max(np.abs(proba - expected), axis=1) <= TOL))
        msg = ("ok  " if ok else "FAIL") + msg[4:] + f"; {within}/{n} rows within {TOL:g}"
    print(msg)
    sys.exit(0 if ok and n > 0 else 1)


def session_of_bytes(data):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def bench(folder, pattern="", rounds=20):
    import pickle

    for js in sorted(pathlib.Path(folder).glob("*.json")):
        case = json.loads(js.read_text())
        if "columns" in case or pattern not in case["name"]:
            continue  # one input per column: not timed here
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
        pkl = js.with_suffix(".pkl")
        if not pkl.exists():
            continue
        # scikit-learn's own model (an SVC pickled by make_svms): predict on
        # the same rows, the same rounds, right after onnxruntime.
        est = pickle.loads(pkl.read_bytes())
        times = []
        for rnd in range(rounds + 1):
            for r in rows:
                t = time.perf_counter_ns()
                est.predict(r)
                ns = time.perf_counter_ns() - t
                if rnd:
                    times.append(ns)
        times.sort()
        print(
            f"scikit-learn {case['name']:<32} median {times[len(times) // 2]:>9.0f} ns  "
            f"p99 {times[len(times) * 99 // 100]:>9.0f} ns"
        )


if __name__ == "__main__":
    commands = {
        "check-export": check_export,
        "check-serving": check_serving,
        "make-import": make_import,
        "bench": bench,
    }
    if sys.argv[1:2] == ["check-predict"] and sys.argv[4:] in ([], ["--exact"]):
        check_predict(sys.argv[2], sys.argv[3], sys.argv[4:] == ["--exact"])
    elif sys.argv[1:2] == ["bench"] and len(sys.argv) == 4:
        bench(sys.argv[2], sys.argv[3])
    elif len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    else:
        commands[sys.argv[1]](sys.argv[2])
