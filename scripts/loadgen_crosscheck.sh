#!/usr/bin/env bash
# Cross-checks optbench's open-loop generator against oha on the same server,
# the same request and the same rates, alternating the two (not in CI).
#
#   cargo install --locked oha
#   scripts/loadgen_crosscheck.sh reports/latest/model [RATES] [SECONDS]
#
# Starts `optbench serve` (release build) on the package, writes a one-row
# CSV from the package's training profile (so every request of both tools
# carries the same row), then for each rate runs, twice and in turn,
# `optbench loadtest --addr` and `oha -q RATE --latency-correction`, both
# with 32 connections, and prints p50/p99 of each. oha measures from the
# moment its 1 ms timer released a request; optbench from the moment the
# request was due (its release lag is printed beside).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: scripts/loadgen_crosscheck.sh PACKAGE [RATES] [SECONDS]}"
rates="${2:-1000,5000}"
seconds="${3:-5}"
oha="${OHA:-oha}"
command -v "$oha" >/dev/null || { echo "oha not found: cargo install --locked oha (or set OHA)"; exit 1; }
cargo build --release --quiet
bin=target/release/optbench
work="$(mktemp -d)"
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$model" "$work" <<'EOF'
import json, sys
model, work = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{model}/metadata.json"))
names, cells, inputs = [], [], []
for j, p in enumerate(meta["training_profile"]):
    if p["kind"] == "numeric":
        qs = p["quantiles"]
        v = qs[j % len(qs)]["value"] if qs else None
        inputs.append({"name": p["name"], "shape": [1, 1], "datatype": "FP64", "data": [v]})
    else:
        cs = p["categories"]
        v = cs[j % len(cs)]["value"] if cs else None
        inputs.append({"name": p["name"], "shape": [1, 1], "datatype": "BYTES", "data": [v]})
    names.append(p["name"])
    cells.append("" if v is None else repr(v) if isinstance(v, float) else str(v))
open(f"{work}/row.csv", "w").write(",".join(names) + "\n" + ",".join(cells) + "\n")
open(f"{work}/body.json", "w").write(json.dumps({"inputs": inputs}, separators=(",", ":")))
EOF

"$bin" serve --model "$model" --addr 127.0.0.1:0 --port-file "$work/port" >/dev/null &
server=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.05; done
addr="$(cat "$work/port")"
for _ in $(seq 1 300); do curl -sf "http://$addr/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.05; done
name="$(python3 -c "import json,sys; m=json.load(open(sys.argv[1]+'/metadata.json'))['model']['id']; print(''.join(c if c.isascii() and (c.isalnum() or c in '-_.') else '_' for c in m))" "$model")"
echo "server $addr, model $name; $("$oha" --version)"
printf "%-8s %-9s %10s %10s %12s\n" rate tool p50_us p99_us release_lag_p50_us
IFS=',' read -ra list <<<"$rates"
for rate in "${list[@]}"; do
  for pass in 1 2; do
    "$bin" loadtest --model "$model" --addr "$addr" --input "$work/row.csv" --rates "$rate" --rows 1 \
      --duration "$seconds" --warmup 1 --connections 32 --out "$work/lt" 2>/dev/null >/dev/null
    python3 - "$work/lt/serve_bench.json" "$rate" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["series"][0]["steps"][0]
print(f"{sys.argv[2]:<8} {'optbench':<9} {s['latency']['p50_us']:10.0f} {s['latency']['p99_us']:10.0f} {s['release_lag']['p50_us']:12.1f}")
EOF
    "$oha" -q "$rate" --latency-correction -z "$((seconds + 1))s" -c 32 --no-tui --output-format json \
      -m POST -H "content-type: application/json" -D "$work/body.json" \
      "http://$addr/v2/models/$name/infer" >"$work/oha.json"
    python3 - "$work/oha.json" "$rate" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["latencyPercentiles"]
ok = r["statusCodeDistribution"]
print(f"{sys.argv[2]:<8} {'oha':<9} {p['p50'] * 1e6:10.0f} {p['p99'] * 1e6:10.0f} {'':>12}  statuses {ok}")
EOF
  done
done
