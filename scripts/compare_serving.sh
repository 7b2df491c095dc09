#!/usr/bin/env bash
# optbench serve side by side with the servers a user would pick instead —
# MLServer (mlserver-sklearn), FastAPI + scikit-learn, FastAPI + onnxruntime —
# on the same scikit-learn models, loaded by the same open-loop generator
# (optbench loadtest --url), interleaved, on loopback. Not in CI; one
# command on a fresh machine (makes its own virtualenv in target/compare-venv):
#
#   scripts/compare_serving.sh [OUT] [RATES] [SECONDS]
#
# Writes OUT/compare_serving.md (the table BENCHMARKS.md quotes) and
# OUT/compare_serving.json; default OUT target/compare.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/compare}"
rates="${2:-10,20,50,100,200,500,1000,2000,5000,10000,20000}"
seconds="${3:-5}"
venv=target/compare-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# uvloop 0.22 stops MLServer 1.7.1's inference workers at start ("There is no
# current event loop", SeldonIO/MLServer#2286), so it stays below.
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  numpy pandas scikit-learn joblib skl2onnx onnx onnxruntime \
  fastapi "uvicorn[standard]" mlserver mlserver-sklearn "uvloop<0.22"
cargo build --release --quiet
"$venv/bin/python" scripts/compare_serving.py --optbench target/release/optbench \
  --out "$out" --rates "$rates" --seconds "$seconds"
