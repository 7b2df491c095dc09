#!/usr/bin/env bash
# The lesson's drift exercise end to end: generate the data, run
# `optbench drift` on each production set, print KS and PSI side by side.
#   scripts/drift_exercise3.sh [DIR]     (default target/exercise3; needs numpy)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/exercise3}"
py="${PYTHON:-python3}"
"$py" scripts/drift_exercise3.py data "$dir"
cargo build --release --quiet
for set in none mean variance shape; do
  echo "== $set"
  code=0
  target/release/optbench drift --reference "$dir/reference.csv" --current "$dir/$set.csv" \
    --out "$dir/$set" >"$dir/$set.txt" || code=$?
  echo "exit $code"
  grep -E '^\*|^verdict|^recommendation' "$dir/$set.txt" || true
done
"$py" scripts/drift_exercise3.py table "$dir"
