#!/usr/bin/env python3
"""Models for scripts/onnx_native_bench.sh (optbench vs native onnxruntime).

  onnx_native_models.py DATA_ROOT OUT_DIR

Fits the scikit-learn models of BENCHMARKS.md's "Native runtimes" table on
DATA_ROOT/w1 and DATA_ROOT/w2 (train.csv, label column `label`, all
random_state=42), converts each with skl2onnx (zipmap off, so the outputs are
`label` and `probabilities`) and writes OUT_DIR/<name>.onnx plus
OUT_DIR/manifest.tsv: one line per model with its display name, data folder,
ONNX file, scikit-learn's test accuracy and fit time.

A model whose .onnx file is already in OUT_DIR (and listed in the manifest)
is kept, not refitted: boosting 300 of depth 6 takes about a minute to fit.
"""

import csv
import pathlib
import sys
import time
import warnings

import numpy as np

MANIFEST_HEADER = ["file", "name", "data", "sklearn_accuracy", "fit_seconds"]


def models():
    """(file stem, display name, data set, estimator), in table order."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    return [
        ("w1_logistic", "logistic regression", "w1", LogisticRegression(max_iter=1000, random_state=42)),
        ("w1_tree10", "tree depth 10", "w1", DecisionTreeClassifier(max_depth=10, random_state=42)),
        ("w1_forest100", "forest 100", "w1", RandomForestClassifier(n_estimators=100, random_state=42)),
        ("w1_boost200", "boosting 200", "w1", GradientBoostingClassifier(n_estimators=200, random_state=42)),
        ("w2_forest100", "forest 100", "w2", RandomForestClassifier(n_estimators=100, random_state=42)),
        ("w2_boost200", "boosting 200", "w2", GradientBoostingClassifier(n_estimators=200, random_state=42)),
        (
            "w2_boost300d6",
            "boosting 300, depth 6",
            "w2",
            GradientBoostingClassifier(n_estimators=300, max_depth=6, random_state=42),
        ),
    ]


def read_split(path):
    """(features as float64, labels as int64) from a CSV with a `label` column."""
    if not path.is_file():
        sys.exit(f"error: {path} not found (the shared data sets w1 and w2 are expected there)")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], np.array(rows[1:], dtype=np.float64)
    if "label" not in header:
        sys.exit(f"error: {path} has no `label` column")
    t = header.index("label")
    return np.delete(body, t, axis=1), body[:, t].astype(np.int64)


def read_manifest(path):
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    from skl2onnx import to_onnx

    warnings.filterwarnings("ignore")
    data_root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    old = read_manifest(out / "manifest.tsv")
    lines = []
    for stem, name, data, est in models():
        onnx_path = out / f"{stem}.onnx"
        if onnx_path.is_file() and stem in old:
            lines.append(old[stem])
            print(f"kept {onnx_path.name} ({data} {name})", file=sys.stderr)
            continue
        x, y = read_split(data_root / data / "train.csv")
        xt, yt = read_split(data_root / data / "test.csv")
        start = time.perf_counter()
        est.fit(x, y)
        fit_s = time.perf_counter() - start
        accuracy = float(np.mean(est.predict(xt) == yt))
        onx = to_onnx(
            est,
            x[:1].astype(np.float32),
            options={"zipmap": False},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
        # Written under a temporary name, then renamed: a stopped run never
        # leaves a truncated model that a later run would keep.
        tmp = onnx_path.with_suffix(".onnx.tmp")
        tmp.write_bytes(onx.SerializeToString())
        tmp.replace(onnx_path)
        lines.append(
            {
                "file": stem,
                "name": name,
                "data": data,
                "sklearn_accuracy": f"{accuracy:.4f}",
                "fit_seconds": f"{fit_s:.2f}",
            }
        )
        print(f"wrote {onnx_path.name} ({data} {name}): accuracy {accuracy:.4f}, fit {fit_s:.1f} s", file=sys.stderr)
    tmp = out / "manifest.tsv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_HEADER, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(lines)
    tmp.replace(out / "manifest.tsv")


if __name__ == "__main__":
    main()
