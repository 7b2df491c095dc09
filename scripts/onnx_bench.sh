#!/usr/bin/env bash
# Single-row latency, optbench vs onnxruntime, on the same imported
# scikit-learn models (skl2onnx) and the same test rows: every row once per
# round, 20 rounds after one warm-up round, median and p99 per call.
# onnxruntime: Python API, intra_op_num_threads = inter_op_num_threads = 1,
# so its figures include the Python call overhead (a few microseconds);
# optbench: the release build of examples/onnx_cases.rs. For the SVCs
# (pickled by make-import) also scikit-learn's own SVC.predict on the same
# rows, right after onnxruntime, in the same Python process.
# Usage: scripts/onnx_bench.sh [VENV] [PATTERN]   (default target/ci-venv,
# created when missing; only the cases whose name contains PATTERN, e.g. svm)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-target/ci-venv}"
pattern="${2:-}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check numpy scikit-learn \
  onnx==1.23.2 onnxruntime==1.32.0 skl2onnx==1.20.0
dir="target/onnx-bench"
rm -rf "$dir"
"$venv/bin/python" scripts/onnx_check.py make-import "$dir" >/dev/null
cargo build --quiet --release --example onnx_cases
ours=$(target/release/examples/onnx_cases bench "$dir" "$pattern")
theirs=$("$venv/bin/python" scripts/onnx_check.py bench "$dir" "$pattern")
"$venv/bin/python" - "$ours" "$theirs" <<'PY'
import sys
def parse(text):
    out = {}
    for line in text.splitlines():
        f = line.split()
        out.setdefault(f[0], {})[f[1]] = (float(f[3]), float(f[6]))
    return out
ours, theirs = parse(sys.argv[1])["optbench"], parse(sys.argv[2])
ort, skl = theirs["onnxruntime"], theirs.get("scikit-learn", {})
print(f"{'model':<40} {'optbench p50':>13} {'onnxruntime p50':>16} {'ratio':>7}   {'optbench p99':>13} {'onnxruntime p99':>16}"
      + (f"   {'scikit-learn p50':>17} {'p99':>10}" if skl else ""))
for name in sorted(ours):
    (a50, a99), (b50, b99) = ours[name], ort[name]
    line = f"{name:<40} {a50:>10.0f} ns {b50:>13.0f} ns {b50 / a50:>6.1f}x   {a99:>10.0f} ns {b99:>13.0f} ns"
    if name in skl:
        line += f"   {skl[name][0]:>14.0f} ns {skl[name][1]:>7.0f} ns"
    print(line)
print("ratio = onnxruntime median / optbench median (higher: optbench faster)")
PY
