#!/usr/bin/env bash
# optbench vs onnxruntime called natively (no Python in the timed path), one
# thread, on the same scikit-learn models and test rows: the models of
# BENCHMARKS.md's "Native runtimes" table, converted with skl2onnx, imported
# into optbench, and run in onnxruntime through the `ort` crate (load-dynamic)
# with the libonnxruntime.so shipped inside the Python onnxruntime wheel.
# Prints a Markdown table (also saved under target/ortbench/). Not run in CI:
# fitting the models takes minutes and the timing a minute or more.
#
# Usage: scripts/onnx_native_bench.sh [peer_bench flags: --rounds N --calls N --warmup N --only FILE]
# Environment: OPTBENCH_DATA  folder with w1/ and w2/ (default ../shared/data)
#              ORTBENCH_VENV  virtualenv to use or create (default target/ortbench-venv)
#              ORTBENCH_CPU   the core the timing runs on (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."

data="${OPTBENCH_DATA:-../shared/data}"
venv="${ORTBENCH_VENV:-target/ortbench-venv}"
models="target/ortbench/models"

for split in w1/train.csv w1/test.csv w2/train.csv w2/test.csv; do
  if [ ! -f "$data/$split" ]; then
    echo "error: $data/$split not found; set OPTBENCH_DATA to the folder holding w1/ and w2/" >&2
    exit 2
  fi
done

# The versions CI uses (.ci/run), so the models are the ones CI checks.
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c "import onnxruntime, skl2onnx, sklearn" 2>/dev/null; then
  echo "installing numpy, scikit-learn, skl2onnx, onnxruntime into $venv…" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check numpy scikit-learn \
    onnx==1.23.2 onnxruntime==1.32.0 skl2onnx==1.20.0
fi

echo "fitting and converting the models (kept between runs in $models)…" >&2
"$venv/bin/python" scripts/onnx_native_models.py "$data" "$models"

capi=$("$venv/bin/python" -c "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))")
dylib=$(ls "$capi"/libonnxruntime.so* 2>/dev/null | head -n 1 || true)
if [ -z "$dylib" ]; then
  echo "error: no libonnxruntime.so* in $capi (is the onnxruntime wheel installed in $venv?)" >&2
  exit 2
fi

echo "building tools/peer_bench (release)…" >&2
cargo build --quiet --release --manifest-path tools/peer_bench/Cargo.toml --target-dir target

# One core, as in BENCHMARKS.md, when taskset is there (ORTBENCH_CPU picks it).
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "${ORTBENCH_CPU:-1}"); fi

out="target/ortbench/results-$(date -u +%Y%m%dT%H%M%SZ).md"
trap 'rm -f "$out.tmp"' EXIT
{
  echo "optbench vs onnxruntime $("$venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)') (native, ort crate, $(basename "$dylib")), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  ORT_DYLIB_PATH="$(realpath "$dylib")" "${pin[@]}" target/release/peer_bench "$models" "$data" "$@"
} | tee "$out.tmp"
mv "$out.tmp" "$out"
echo "saved $out" >&2
