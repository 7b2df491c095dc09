#!/usr/bin/env bash
# Fit times of every family, optbench beside scikit-learn on the shared
# splits: one command on a fresh machine (Rust, Python 3 with venv, the
# package index). About 10 minutes on 2 cores (the w2 teacher alone is ~50 s
# a scikit-learn fit).
#
#   scripts/fit_times.sh [DATA_DIR] [ROUNDS]    # defaults ../shared/data, 5
#
# Each round fits every (data, model) once with each tool, alternating
# optbench and scikit-learn, one process per fit, so a noisy neighbour hurts
# both alike; the table gives medians over the rounds. "1 thread" runs
# optbench with RAYON_NUM_THREADS=1 and scikit-learn with n_jobs=1 (BLAS on
# one thread too); "2 threads" runs the forests (the only family either tool
# fits on several threads) with 2 and n_jobs=2.
#
# VENV names another virtualenv to use (created if missing). ONLY, an
# extended regex, keeps the cases whose "workload model threads" line
# matches, e.g. ONLY=logreg for the logistic regressions alone.
# On a shared machine, pin the runs: PIN1 and PIN2 are command prefixes for
# the 1- and 2-thread runs, e.g.
#   PIN1="taskset -c 1" PIN2="taskset -c 0,1" scripts/fit_times.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data}")
ROUNDS=${2:-5}
PIN1=${PIN1:-}
PIN2=${PIN2:-}
ONLY=${ONLY:-}
OUT=target/fit-times
VENV=${VENV:-target/peers-venv}   # shared with compare_peers.sh
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "scikit-learn>=1.9,<1.10" numpy
cargo build --release --example fit_times

# (workload, model id, threads)
CASES=(
  "w1 logreg 1" "w1 tree-d10 1" "w1 tree-full 1" "w1 forest-100 1" "w1 boost-200 1"
  "w2 logreg 1" "w2 forest-100 1" "w2 boost-300-d6 1"
  "w1 forest-100 2" "w2 forest-100 2"
  "w1 svm-rbf 1" "w2 svm-rbf 1"
  "w1 linsvm 1" "w2 linsvm 1"
)
LINES="$OUT/runs.jsonl"
: > "$LINES"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
for round in $(seq "$ROUNDS"); do
  for case in "${CASES[@]}"; do
    if [ -n "$ONLY" ] && ! grep -Eq -- "$ONLY" <<< "$case"; then
      continue
    fi
    read -r w model threads <<< "$case"
    pin=$PIN1
    [ "$threads" = 1 ] || pin=$PIN2
    echo "round $round/$ROUNDS: $w $model, $threads thread(s)" >&2
    RAYON_NUM_THREADS=$threads $pin target/release/examples/fit_times \
      --config "configs/peers/fit_$w.toml" --workload "$w" --candidate "$model" \
      --train "$DATA/$w/train.csv" --test "$DATA/$w/test.csv" --target label >> "$LINES"
    $pin "$VENV/bin/python" scripts/fit_times.py fit "$DATA" "$w" "$model" "$threads" >> "$LINES"
  done
done
"$VENV/bin/python" scripts/fit_times.py table "$LINES" | tee "$OUT/table.md"
