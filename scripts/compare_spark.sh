#!/usr/bin/env bash
# Rows per second scoring the same generated Parquet table in local Spark
# three ways, and Spark's own cost with no model (an Arrow UDF and a
# pandas_udf returning nulls) to bound them: (a) optbench through
# optbench.spark.predict (an Arrow UDF) on the package its run chose
# between the model and its lossless binned variant (`quantize =
# ["bins"]`: the same predictions, bit for bit),
# (b) scikit-learn in a pandas_udf, the usual way, (c) onnxruntime in a
# pandas_udf on optbench's ONNX export of the same package; on a forest of
# 100 trees and a boosting of 200 (20 numeric features, 2 classes). Not in
# CI; one command on a fresh machine with Java (makes its own virtualenv,
# target/compare-spark-venv, and builds optbench and the Python package):
#
#   scripts/compare_spark.sh [ROWS] [OUT]
#
# Writes OUT/compare_spark.md (the table BENCHMARKS.md quotes) and
# OUT/compare_spark.json; defaults: 2,000,000 rows, target/compare-spark.
# OPTBENCH=path uses an optbench binary already built (it only trains and
# exports: the scoring is the Python package's); VENV=dir a virtualenv that
# already has the packages below and optbench installed.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-2000000}"
out="${2:-target/compare-spark}"
venv="${VENV:-target/compare-spark-venv}"
if [ -z "${VENV:-}" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    numpy pandas==2.3.3 pyarrow==26.0.1 pyspark==4.3.0 scikit-learn onnxruntime==1.32.0
  "$venv/bin/pip" install --quiet --disable-pip-version-check ./python
fi
optbench="${OPTBENCH:-}"
if [ -z "$optbench" ]; then
  cargo build --release --quiet
  optbench=target/release/optbench
fi
"$venv/bin/python" scripts/compare_spark.py --optbench "$optbench" --rows "$rows" --out "$out"
