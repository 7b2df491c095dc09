"""Do two runs agree? Compares two results.json files: the Pareto sets, the
choice, and the order of candidates by latency (Kendall's tau-b on end-to-end
p50 and p99, and on model-only p50), and what a request adds to the model
(end-to-end over model-only, p50 and p99, per run). Exit 1 when tau on end-to-end p50 is
below --min-tau (default 0.9) or the Pareto sets differ.

    cargo run --release -- run --out target/stability/a
    cargo run --release -- run --out target/stability/b
    python3 scripts/stability.py target/stability/a/results.json target/stability/b/results.json

(`scripts/stability.sh` does all three.) Standard library only.
"""
import json
import sys


def tau_b(x, y):
    """Kendall's tau-b (ties in either ranking accounted for), O(n^2)."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denom = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denom if denom else 1.0


def main(a_path, b_path, min_tau):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    ca = {c["id"]: c for c in a["candidates"]}
    cb = {c["id"]: c for c in b["candidates"]}
    ids = sorted(set(ca) & set(cb))
    if set(ca) != set(cb):
        print(f"candidates differ: only in A {sorted(set(ca) - set(cb))}, only in B {sorted(set(cb) - set(ca))}")
    ok = True
    for label, get in [
        ("end-to-end p50", lambda c: c["latency_ns"]["p50"]),
        ("end-to-end p99", lambda c: c["latency_ns"]["p99"]),
        ("model-only p50", lambda c: c["model_latency_ns"]["p50"]),
    ]:
        t = tau_b([get(ca[i]) for i in ids], [get(cb[i]) for i in ids])
        print(f"Kendall tau-b, {label}: {t:.3f} over {len(ids)} candidates")
        if label == "end-to-end p50" and t < min_tau:
            ok = False
    pa = sorted(i for i in ids if ca[i]["pareto_optimal"])
    pb = sorted(i for i in ids if cb[i]["pareto_optimal"])
    print(f"Pareto set A: {pa}")
    print(f"Pareto set B: {pb}")
    print("Pareto sets " + ("agree" if pa == pb else "DIFFER"))
    print(f"chosen: {a['chosen']} / {b['chosen']}")
    noisy = sorted({c["id"] for c in a["candidates"] + b["candidates"] if c.get("noisy")})
    print(f"flagged noisy in either run: {noisy or 'none'}")
    # What a request adds to the model: end-to-end over model-only, per run.
    for name, run in [("A", a), ("B", b)]:
        for q in ["p50", "p99"]:
            r = sorted(
                (c["latency_ns"][q] / max(c["model_latency_ns"][q], 1), c["id"])
                for c in run["candidates"]
            )
            over = sum(1 for x, _ in r if x > 2.0)
            print(
                f"run {name}: end-to-end {q} / model-only {q}: {r[0][0]:.2f} ({r[0][1]}) to "
                f"{r[-1][0]:.2f} ({r[-1][1]}); {over} of {len(r)} above 2"
            )
    return ok and pa == pb


if __name__ == "__main__":
    args = [x for x in sys.argv[1:] if not x.startswith("--min-tau")]
    tau = 0.9
    for x in sys.argv[1:]:
        if x.startswith("--min-tau="):
            tau = float(x.split("=", 1)[1])
    sys.exit(0 if main(args[0], args[1], tau) else 1)
