#!/usr/bin/env python3
"""Writes BENCHMARKS.md from scripts/compare_peers.sh's outputs: OUT/peers.json
(Python side), OUT/native-<w>.json (examples/peers_native.rs) and
OUT/run-<w>/results.json (optbench run). Usage: peers_table.py OUT BENCHMARKS.md
"""
import datetime
import json
import os
import platform
import subprocess
import sys

WORKLOADS = ["w1", "w2"]


def cmd(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def us(ns):
    return "–" if ns is None else f"{ns / 1000:,.2f}"


def num(v, fmt):
    return "–" if v is None else format(v, fmt)


def kb(b):
    if b is None:
        return "–"
    return f"{b} B" if b < 1024 else f"{b / 1024:,.0f}"


KEPT_MARKER = "<!-- kept by scripts/peers_table.py -->"


def main():
    out, target = sys.argv[1], sys.argv[2]
    peers = json.load(open(os.path.join(out, "peers.json")))
    rows = []
    for w in WORKLOADS:
        native = json.load(open(os.path.join(out, f"native-{w}.json")))
        run = json.load(open(os.path.join(out, f"run-{w}", "results.json")))
        timer = native["timer_overhead_ns"]
        cands = {c["id"]: c for c in run["candidates"]}
        nat = {m["key"]: m for m in native["models"]}
        for p in peers["models"]:
            if p["workload"] != w:
                continue
            rows.append((w, p, cands[p["key"]], nat[p["key"]], timer))

    def per_visit(p50, visits, timer):
        if visits is None or p50 is None:
            return None
        return max(p50 - timer, 0) / visits

    q = [
        "| data | model | optbench accuracy | scikit-learn accuracy | TL2cgen accuracy (agreement with sklearn) "
        "| onnxruntime agreement | optbench fit s | scikit-learn fit s (1 core) | fit ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lat = [
        "| data | model | visits/row optbench / sklearn | optbench p50 / p99 ns | TL2cgen p50 / p99 ns "
        "| optbench / TL2cgen block mean ns | ns/visit optbench | ns/visit TL2cgen | ns/visit ratio "
        "| optbench harness model-only p50 / p99 ns | onnxruntime (Python) p50 / p99 µs | scikit-learn (Python) p50 / p99 µs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    batch = [
        "| data | model | optbench 1 thread | optbench 2 threads | TL2cgen `predict` loop, 1 thread "
        "| onnxruntime (Python, 1 thread) | scikit-learn (Python) | optbench raw / zstd KB "
        "| joblib raw / c3 KB | ONNX KB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    same = [
        "| data | model | optbench p50 / p99 ns | TL2cgen p50 / p99 ns | p50 ratio optbench / TL2cgen "
        "| block mean ratio | classes equal | batch rows/s optbench 1 / 2 threads | TL2cgen loop, 1 thread "
        "| batch ratio (1 thread) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w, p, c, n, timer in rows:
        tl, st = n.get("treelite"), n.get("optbench_same_trees")
        if tl is None or st is None:
            continue
        sb = st["batch_rows_per_s"]
        same.append(
            f"| {w} | {p['label']} | {st['p50_ns']:,} / {st['p99_ns']:,} | {tl['p50_ns']:,} / {tl['p99_ns']:,} "
            f"| **{st['p50_ns'] / tl['p50_ns']:.2f}×** | {st['block_mean_ns'] / tl['block_mean_ns']:.2f}× "
            f"| {st['agreement_with_treelite'] * 100:.1f} % "
            f"| {sb['threads_1']:,.0f} / {sb['threads_2']:,.0f} | {tl['batch_rows_per_s']:,.0f} "
            f"| {sb['threads_1'] / tl['batch_rows_per_s']:.2f}× |"
        )
    for w, p, c, n, timer in rows:
        tl = n.get("treelite")
        ob = n["optbench"]
        tl_acc = "–" if tl is None else f"{tl['accuracy']:.4f} ({tl['agreement_with_sklearn'] * 100:.1f} %)"
        q.append(
            f"| {w} | {p['label']} | {c['accuracy']:.4f} | {p['accuracy']:.4f} | {tl_acc} "
            f"| {p['onnxruntime']['agreement'] * 100:.1f} % | {c['fit_seconds']:.2f} | {p['fit_s']:.2f} "
            f"| {c['fit_seconds'] / p['fit_s']:.2f}× |"
        )
        ov = per_visit(ob["p50_ns"], n["visits_per_row"], timer)
        tv = None if tl is None else per_visit(tl["p50_ns"], p["visits_per_row"], timer)
        ratio = "–" if ov is None or tv is None or tv == 0 else f"{ov / tv:.2f}×"
        visits = (
            "–"
            if n["visits_per_row"] is None
            else f"{n['visits_per_row']:,.0f} / {p['visits_per_row']:,.0f}"
        )
        tl_lat = "–" if tl is None else f"{tl['p50_ns']:,} / {tl['p99_ns']:,}"
        tl_block = "–" if tl is None else f"{tl['block_mean_ns']:,.0f}"
        ml = c["model_latency_ns"]
        lat.append(
            f"| {w} | {p['label']} | {visits} | {ob['p50_ns']:,} / {ob['p99_ns']:,} | {tl_lat} "
            f"| {ob['block_mean_ns']:,.0f} / {tl_block} | {num(ov, '.2f')} | {num(tv, '.2f')} | {ratio} "
            f"| {ml['p50']:,} / {ml['p99']:,} "
            f"| {us(p['onnxruntime']['p50_ns'])} / {us(p['onnxruntime']['p99_ns'])} "
            f"| {us(p['sklearn']['p50_ns'])} / {us(p['sklearn']['p99_ns'])} |"
        )
        obb = n["optbench_batch_rows_per_s"]
        tlb = "–" if tl is None else f"{tl['batch_rows_per_s']:,.0f}"
        s = p["size"]
        batch.append(
            f"| {w} | {p['label']} | {obb['threads_1']:,.0f} | {obb['threads_2']:,.0f} | {tlb} "
            f"| {p['onnxruntime']['batch_rows_per_s']:,.0f} | {p['sklearn']['batch_rows_per_s']:,.0f} "
            f"| {kb(c['size_bytes']['raw'])} / {kb(c['size_bytes']['compressed'])} "
            f"| {kb(s['joblib_raw'])} / {kb(s['joblib_c3'])} | {kb(s['onnx'])} |"
        )

    v = peers["versions"]
    rustc = cmd("rustc", "--version")
    gcc = cmd("gcc", "--version").splitlines()[0] if cmd("gcc", "--version") != "?" else "?"
    commit = cmd("git", "rev-parse", "--short", "HEAD")
    timers = ", ".join(
        f"{w} {json.load(open(os.path.join(out, f'native-{w}.json')))['timer_overhead_ns']} ns"
        for w in WORKLOADS
    )
    text = f"""# optbench against its peers

Written by `scripts/compare_peers.sh` (one command; about 15–25 minutes on 2
cores). Do not edit by hand: re-run the script.

- **Date**: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; optbench commit `{commit}`
- **Machine**: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}
- **Versions**: {rustc}; {gcc}; Python {v['python']}, scikit-learn {v['scikit-learn']}, onnxruntime {v['onnxruntime']},
  skl2onnx {v['skl2onnx']}, treelite {v['treelite']}, tl2cgen {v['tl2cgen']}, numpy {v['numpy']}
- **Data**: the shared splits (`w1` 4,000 / 1,000 rows × 20 features; `w2` 8,000 / 2,000 × 30).

## The identical trees: optbench against TL2cgen
scikit-learn's own models, exported by skl2onnx and imported into optbench
(`optbench::onnx::read_onnx`), against TL2cgen's C compiled from the same
scikit-learn models: one thread, natively, in the same interleaved rounds on
the same raw test rows (protocol under "Single row" below). Ratios below 1
mean optbench is faster. "Classes equal": the share of test rows on which both
predict the same class (the ONNX file holds float32 thresholds, TL2cgen
float64 ones, so a value between the two roundings can split differently).
Batch: `CompiledModel::predict_batch` on 10,000 rows against TL2cgen's `predict` in a
loop (best of 5).

{chr(10).join(same)}

## optbench's own models
optbench also trains its own models (in-house forests and histogram boosting,
logistic regression) with the shapes of scikit-learn's
(`configs/peers/<w>.toml`); those are different trees, so their tree runtime
is compared by **nanoseconds per node visit**: visits/row = nodes on each
tree's path, leaf included, summed over trees, averaged over the test rows
(optbench: its own IR; scikit-learn: `decision_path`); ns/visit = (p50 − timer
overhead) ÷ visits/row.

## Quality and training
Fit times: scikit-learn on one core; optbench trains all candidates of a run in
parallel on both cores (each trainer single-threaded unless said otherwise).

{chr(10).join(q)}

## Single row, one thread
optbench and TL2cgen natively (`examples/peers_native.rs`): TL2cgen's generated
C (`parallel_comp` 20, `gcc -O3`, shared library) called through its per-row
`predict`; rows preloaded; 2,000 warm-up calls each, then 20,000 calls each,
each timed with `Instant`, in 10 interleaved rounds of 20 slices, each
subject taking a turn of 8 re-warming, 100 timed and 50 untimed calls per
slice in a rotating order, cycling through the test rows. Timer overhead (two clock reads, median,
not subtracted from p50/p99): {timers}. "Block mean" = mean of the untimed
calls (1,000 per round; median round). The harness column is `optbench run`'s own
model-only figure (net of the timer). Python figures (`scripts/compare_peers.py`):
20 warm-up calls, then 1,000 timed calls (300 for scikit-learn forests).

{chr(10).join(lat)}

## Batch of 10,000 rows (rows per second) and size
optbench: `CompiledModel::predict_batch` on 10,000 preprocessed rows in a rayon pool of
1 or 2 threads, best of 5. TL2cgen: its per-row `predict` in a loop, one thread.
onnxruntime and scikit-learn: one call on the whole batch from Python, best of 3.
Sizes: optbench's encoded model (postcard) raw and zstd; joblib raw / compress=3;
the ONNX file.

{chr(10).join(batch)}
"""
    # The dated measurements of optbench's own runtime below the marker are
    # written by hand (one table per change they back): kept as they are.
    kept = ""
    if os.path.exists(target):
        previous = open(target).read()
        at = previous.find(KEPT_MARKER)
        if at >= 0:
            kept = "\n" + previous[at:]
    with open(target, "w") as f:
        f.write(text + kept)


if __name__ == "__main__":
    main()
