"""The driver of scripts/compare_spark.sh: trains the two models with
optbench and scikit-learn on the same rows, exports optbench's as ONNX,
generates the Parquet table and times each way of scoring it in local Spark.

Each timing is one Spark job that scores every row and writes to the
`noop` sink (the rows are computed, nothing is stored); the three ways run
interleaved, `--rounds` times, and the best round counts (the least
disturbed by the other sessions on this machine)."""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(20)]


def make_data(out: Path, seed: int):
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=5000, n_features=20, n_informative=10, n_redundant=4, random_state=seed
    )
    cols = {c: x[:, i] for i, c in enumerate(FEATURES)}
    train = pa.table({**{c: v[:4000] for c, v in cols.items()}, "y": y[:4000].astype(str)})
    test = pa.table({**{c: v[4000:] for c, v in cols.items()}, "y": y[4000:].astype(str)})
    import pyarrow.csv as pacsv

    pacsv.write_csv(train, out / "train.csv")
    pacsv.write_csv(test, out / "test.csv")
    return x[:4000], y[:4000].astype(str), x.mean(axis=0), x.std(axis=0)


def optbench_package(optbench: str, out: Path, name: str, candidate: str) -> Path:
    config = out / f"{name}.toml"
    config.write_text(
        "seed = 7\n\n[[candidates]]\n" + candidate + "\n\n"
        # The lossless binned variant (same predictions, bit for bit), as a
        # user's run derives it; the run packages whichever is faster.
        "[optimize]\nquantize = [\"bins\"]\n\n"
        "[measure]\nwarmup_calls = 100\nwarmup_ms = 20\ntimed_calls = 700\nrounds = 1\n"
        "batch_ms = 10\nload_repeats = 1\nzstd_levels = [3]\n"
    )
    run_dir = out / name
    subprocess.run(
        [optbench, "run", "--train", str(out / "train.csv"), "--test", str(out / "test.csv"),
         "--target", "y", "--config", str(config), "--budget-ms", "1000", "--out", str(run_dir),
         "--quiet"],
        check=True,
    )
    subprocess.run(
        [optbench, "export", "--model", str(run_dir / "model"), "--output", str(run_dir / "model.onnx")],
        check=True,
        capture_output=True,
    )
    return run_dir


def generate_rows(path: Path, n: int, mean, std, files: int = 8, seed: int = 24):
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    per = -(-n // files)
    for k in range(files):
        m = min(per, n - k * per)
        x = rng.normal(mean, std, size=(m, len(FEATURES)))
        pq.write_table(pa.table({c: x[:, i] for i, c in enumerate(FEATURES)}), path / f"part-{k}.parquet")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--optbench", required=True)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--out", default="target/compare-spark")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import onnxruntime
    import pandas as pd
    import sklearn
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    import optbench
    import optbench.spark

    x, y, mean, std = make_data(out, seed=3)
    models = {
        "forest-100": (
            'family = "random_forest"\nn_trees = 100',
            RandomForestClassifier(n_estimators=100, random_state=0),
        ),
        "boost-200": (
            'family = "gradient_boosting"\nn_trees = 200',
            GradientBoostingClassifier(n_estimators=200, max_depth=3, random_state=0),
        ),
    }
    packages, chosen_ids = {}, {}
    for name, (candidate, skl) in models.items():
        packages[name] = optbench_package(args.optbench, out, name, candidate)
        skl.fit(x, y)
        chosen = chosen_ids[name] = optbench.load(packages[name] / "model").metadata["model"]["id"]
        print(f"{name}: optbench package {chosen}; scikit-learn {type(skl).__name__} fitted", flush=True)

    rows_path = out / "rows"
    generate_rows(rows_path, args.rows, mean, std)

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("compare_spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(str(rows_path))
    assert df.count() == args.rows

    def way_optbench(name, df):
        return optbench.spark.predict(df, str(packages[name] / "model"))

    def way_sklearn(name, df):
        model = spark.sparkContext.broadcast(models[name][1])

        @pandas_udf("string")
        def predict(batch: pd.DataFrame) -> pd.Series:
            return pd.Series(model.value.predict(batch[FEATURES].to_numpy()))

        return df.withColumn("prediction", predict(F.struct(*FEATURES)))

    def way_onnx(name, df):
        onnx_path = str(packages[name] / "model.onnx")

        @pandas_udf("long")
        def predict(batch: pd.DataFrame) -> pd.Series:
            # One session per Python worker, as a served model would be: kept
            # on a module the worker has imported (this function is
            # unpickled afresh for every task).
            sessions = onnxruntime.__dict__.setdefault("_compare_spark_sessions", {})
            session = sessions.get(onnx_path)
            if session is None:
                session = sessions[onnx_path] = onnxruntime.InferenceSession(onnx_path)
            feeds = {c: batch[c].to_numpy(dtype=np.float64).reshape(-1, 1) for c in FEATURES}
            return pd.Series(session.run(["label"], feeds)[0].reshape(-1))

        return df.withColumn("prediction", predict(F.struct(*FEATURES)))

    try:
        from pyspark.sql.functions import arrow_udf
        ours_label = "optbench (Arrow UDF)"
    except ImportError:
        arrow_udf, ours_label = None, "optbench (mapInArrow)"

    def way_floor(name, df):
        # Spark's own cost of a UDF over these columns: the same 20 columns
        # to Python and a null column back, no model. No scoring way can
        # take less, so scikit-learn's time over this one bounds the ratio
        # any model could reach against it here.
        def nothing(batches: Iterator[Tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
            for arrays in batches:
                yield pa.nulls(len(arrays[0]), pa.string())

        udf = arrow_udf(nothing, "string")
        return df.withColumn("prediction", udf(*[df[c] for c in FEATURES]))

    def way_pandas_floor(name, df):
        # The same for the pandas_udf ways: the struct of 20 columns to a
        # pandas DataFrame and a null column back, no model. Each way's time
        # over its own floor is what its model costs.
        @pandas_udf("string")
        def nothing(batch: pd.DataFrame) -> pd.Series:
            return pd.Series([None] * len(batch), dtype=object)

        return df.withColumn("prediction", nothing(F.struct(*FEATURES)))

    floor_label = "no model: Arrow UDF returning nulls (Spark's floor)"
    pandas_floor_label = "no model: pandas_udf returning nulls"
    ways = {ours_label: way_optbench, "scikit-learn (pandas_udf)": way_sklearn,
            "onnxruntime (pandas_udf, optbench export)": way_onnx,
            pandas_floor_label: way_pandas_floor}
    if arrow_udf is not None:
        ways[floor_label] = way_floor
    results = {}
    for name in models:
        # Warm-up: each way's workers started and its model loaded once
        # (every partition scored, so no worker is cut off mid-stream).
        small = df.limit(20_000).repartition(2)
        for way in ways.values():
            way(name, small).write.format("noop").mode("overwrite").save()
        times = {w: [] for w in ways}
        for _ in range(args.rounds):
            for w, way in ways.items():
                t = time.perf_counter()
                way(name, df).write.format("noop").mode("overwrite").save()
                times[w].append(time.perf_counter() - t)
                print(f"{name} {w}: {times[w][-1]:.2f} s", flush=True)
        results[name] = {w: {"seconds": min(s), "rows_per_s": args.rows / min(s), "all_seconds": s}
                         for w, s in times.items()}
    spark.stop()

    versions = {"pyspark": __import__("pyspark").__version__, "scikit-learn": sklearn.__version__,
                "onnxruntime": onnxruntime.__version__, "pyarrow": pa.__version__, "pandas": pd.__version__}
    (out / "compare_spark.json").write_text(json.dumps({"rows": args.rows, "results": results,
                                                        "optbench_packages": chosen_ids,
                                                        "versions": versions}, indent=2) + "\n")
    lines = [f"{args.rows:,} rows × 20 numeric features, local[2], best of {args.rounds} rounds; "
             + ", ".join(f"{k} {v}" for k, v in versions.items()),
             "optbench packages: " + ", ".join(f"{k} → {v}" for k, v in chosen_ids.items()), "",
             "| model | way | seconds | rows/s | optbench × |", "|---|---|---:|---:|---:|"]
    for name, r in results.items():
        ours = r[ours_label]["rows_per_s"]
        for w, v in r.items():
            ratio = "–" if w in (floor_label, pandas_floor_label) else f"{ours / v['rows_per_s']:.2f}"
            lines.append(f"| {name} | {w} | {v['seconds']:.2f} | {v['rows_per_s']:,.0f} | {ratio} |")
    if arrow_udf is not None:
        lines.append("")
        for name, r in results.items():
            skl = r["scikit-learn (pandas_udf)"]["seconds"]
            ceiling = skl / r[floor_label]["seconds"]
            # Each model's own cost: its way's time less the same UDF with
            # no model (optbench's Arrow UDF, the others' pandas_udf).
            ours_model = r[ours_label]["seconds"] - r[floor_label]["seconds"]
            skl_model = skl - r[pandas_floor_label]["seconds"]
            onnx_model = r["onnxruntime (pandas_udf, optbench export)"]["seconds"] - r[pandas_floor_label]["seconds"]
            lines.append(f"- {name}: the most any scoring could reach against the scikit-learn UDF "
                         f"here is {ceiling:.2f}× (its time over Spark's floor). Each model's time over "
                         f"its UDF's floor: optbench {ours_model:.2f} s, scikit-learn {skl_model:.2f} s "
                         f"({skl_model / ours_model:.1f}×), onnxruntime {onnx_model:.2f} s "
                         f"({onnx_model / ours_model:.1f}×).")
    (out / "compare_spark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
