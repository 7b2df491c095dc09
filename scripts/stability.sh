#!/usr/bin/env bash
# Two consecutive default runs, then: same Pareto set? Kendall's tau on the
# candidates' latency order? (See scripts/stability.py.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
for r in a b; do
  ./target/release/optbench run --quiet --out "target/stability/$r" "$@" >/dev/null || [ $? -eq 3 ]
done
python3 scripts/stability.py target/stability/a/results.json target/stability/b/results.json
