#!/usr/bin/env bash
# optbench against its peers, side by side, on the shared CSV splits: one
# command on a fresh machine (Rust, Python 3 with venv, gcc, the package
# index). Not run in CI: it takes 15–25 minutes on 2 cores.
#
#   scripts/compare_peers.sh [DATA_DIR]      # default ../shared/data
#
# 1. A virtualenv (target/peers-venv) with scikit-learn, onnxruntime,
#    skl2onnx, treelite and tl2cgen; scripts/compare_peers.py fits the peers'
#    models and measures them from Python, and writes TL2cgen's C.
# 2. gcc -O3 compiles each TL2cgen model into a shared library.
# 3. `optbench run` on each split with configs/peers/<workload>.toml
#    (accuracy, fit time, the harness's latency, sizes).
# 4. examples/peers_native.rs times optbench's models and TL2cgen's libraries
#    natively, interleaved in one process.
# 5. scripts/peers_table.py writes BENCHMARKS.md at the repo root.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data}")
OUT=target/peers
VENV=target/peers-venv
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "scikit-learn>=1.9,<1.10" "onnxruntime>=1.31" "skl2onnx>=1.20" onnx \
  "treelite>=4.8,<5" "tl2cgen>=1.0,<2" joblib numpy

echo "== peers (Python) =="
"$VENV/bin/python" scripts/compare_peers.py "$DATA" "$OUT"

echo "== TL2cgen: gcc -O3 =="
# TL2cgen splits big models into several C files (parallel_comp), so both
# cores compile and no single function takes gcc minutes.
for dir in "$OUT"/*/tl2cgen; do
  (cd "$dir" && ls ./*.c | xargs -P 2 -I{} gcc -O3 -fPIC -c {} -o {}.o \
    && gcc -shared -o libpredictor.so ./*.o -lm)
  echo "compiled $dir"
done

echo "== optbench =="
cargo build --release --bin optbench --example peers_native
for w in w1 w2; do
  target/release/optbench run --config "configs/peers/$w.toml" \
    --train "$DATA/$w/train.csv" --test "$DATA/$w/test.csv" --target label \
    --out "$OUT/run-$w" > "$OUT/run-$w.log" || [ $? -eq 3 ]
  target/release/examples/peers_native --config "configs/peers/$w.toml" \
    --train "$DATA/$w/train.csv" --test "$DATA/$w/test.csv" --target label \
    --peers "$OUT/peers.json" --workload "$w" --out "$OUT/native-$w.json"
done

echo "== BENCHMARKS.md =="
"$VENV/bin/python" scripts/peers_table.py "$OUT" BENCHMARKS.md
echo "wrote BENCHMARKS.md"
