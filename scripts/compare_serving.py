"""Serves the same scikit-learn model with the servers a user would pick
instead of optbench, and with optbench, and loads them all with the same
open-loop generator (`optbench loadtest --url`), interleaved, on loopback.

Run through scripts/compare_serving.sh (which makes the virtualenv). Per
model (forest 100 and boosting 200 on the w1 split in tests/fixtures/w1, and
a mixed-type Pipeline — ColumnTransformer then forest 100 — on
tests/fixtures/exercise2):
1. MLServer with mlserver-sklearn (its defaults, one worker per core);
2. FastAPI + uvicorn + scikit-learn (a `/predict` app as the FastAPI docs
   write one; one worker per core);
3. FastAPI + uvicorn + onnxruntime on the skl2onnx export;
4. optbench serve on the same model imported through ONNX (`optbench
   import`): as imported (float), and its lossless binned variant when
   `import` finds it faster.
Each gets the same row (the first test row) in its own protocol. For each
rate, every server still holding (no failed request, p99 under 200 ms) gets
one step in turn. Writes compare_serving.json and compare_serving.md in --out.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FASTAPI_SKLEARN = '''
import os
import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["MODEL_PATH"])
app = FastAPI()


class Rows(BaseModel):
    rows: list[list[float]]


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/predict")
def predict(request: Rows):
    x = np.asarray(request.rows, dtype=np.float64)
    return {
        "predictions": model.predict(x).tolist(),
        "probabilities": model.predict_proba(x).tolist(),
    }
'''

FASTAPI_ONNX = '''
import os
import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

session = ort.InferenceSession(os.environ["MODEL_PATH"], providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
app = FastAPI()


class Rows(BaseModel):
    rows: list[list[float]]


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/predict")
def predict(request: Rows):
    x = np.asarray(request.rows, dtype=np.float32)
    label, probabilities = session.run(None, {input_name: x})
    return {"predictions": label.tolist(), "probabilities": probabilities.tolist()}
'''


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except Exception:
        return None


def rss_kib(pid):
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                kids = open(f"/proc/{p}/task/{task}/children").read().split()
                todo.extend(int(k) for k in kids)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


class Server:
    def __init__(self, name, cmd, health, url, body, env=None, cwd=None):
        self.name, self.url, self.body = name, url, body
        self.log = open(os.path.join(ARGS.out, f"{name}.log"), "w")
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, cwd=cwd,
                                     start_new_session=True)
        deadline = started + 120
        while get(health, 0.5) != 200:
            if time.perf_counter() > deadline or self.proc.poll() is not None:
                self.stop()
                sys.exit(f"{name} did not become ready; see {self.log.name}")
            time.sleep(0.005)
        self.cold_start_ms = (time.perf_counter() - started) * 1e3
        self.steps = {}
        self.holding = True

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except Exception:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except Exception:
                pass


def loadtest(server, rate):
    out = os.path.join(ARGS.out, "lt", server.name, str(rate))
    body = os.path.join(ARGS.out, f"{server.name}.body.json")
    with open(body, "w") as f:
        f.write(server.body)
    subprocess.run([ARGS.optbench, "loadtest", "--url", server.url, "--body", body,
                    "--rates", str(rate), "--duration", str(ARGS.seconds), "--warmup", "1",
                    "--connections", "32", "--timeout", "2", "--out", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    step = json.load(open(os.path.join(out, "serve_bench.json")))["series"][0]["steps"][0]
    lat = step["latency"] or {}
    return {
        "p50_us": lat.get("p50_us"), "p99_us": lat.get("p99_us"),
        "achieved": step["achieved_rate"], "errors": step["errors"],
        "timeouts": step["timeouts"],
    }


def import_package(onnx_path, quantize, name, test=None, target="label"):
    cfg = os.path.join(ARGS.out, f"{name}.toml")
    with open(cfg, "w") as f:
        f.write(f"[optimize]\nquantize = {json.dumps(quantize)}\n\n[select]\nbudget_ms = 1000\n")
    out = os.path.join(ARGS.out, name)
    r = subprocess.run([ARGS.optbench, "import", onnx_path, "--test", test or TEST, "--target",
                        target, "--config", cfg, "--out", out, "--quiet"],
                       check=True, capture_output=True, text=True)
    return os.path.join(out, "model"), r.stdout.strip()


def compare(model_name, model, x_train, y_train, x_test):
    from skl2onnx import to_onnx
    model.fit(x_train, y_train)
    d = os.path.join(ARGS.out, model_name)
    os.makedirs(d, exist_ok=True)
    joblib.dump(model, os.path.join(d, "model.joblib"))
    onx = to_onnx(model, x_train[:1].astype(np.float32), options={"zipmap": False},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    onnx_path = os.path.join(d, "model.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onx.SerializeToString())
    float_pkg, float_id = import_package(onnx_path, [], f"{model_name}-optbench-float")
    fast_pkg, fast_id = import_package(onnx_path, ["bins"], f"{model_name}-optbench-lossless")

    row = [float(v) for v in x_test[0]]
    f = len(row)
    v2_body = json.dumps({"inputs": [{"name": "x", "shape": [1, f], "datatype": "FP64", "data": row}]})
    ml_body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, f], "datatype": "FP64", "data": row}],
                          "outputs": [{"name": "predict"}, {"name": "predict_proba"}]})
    rows_body = json.dumps({"rows": [row]})
    return serve_and_step(model_name, d, onnx_path,
                          ((float_pkg, float_id), (fast_pkg, fast_id)),
                          (ml_body, rows_body, v2_body), (FASTAPI_SKLEARN, FASTAPI_ONNX))


def serve_and_step(model_name, d, onnx_path, packages, bodies, apps):
    """Starts the five servers on one model — MLServer on `d/model.joblib`,
    the two FastAPI apps (`apps`: scikit-learn, onnxruntime sources),
    optbench on `packages` (float, lossless: (path, id) each; the lossless
    one only when `import` chose a variant) — checks that each answers its
    body (`bodies`: mlserver, rows, v2), steps them all, and stops them."""
    (float_pkg, float_id), (fast_pkg, fast_id) = packages
    ml_body, rows_body, v2_body = bodies
    sklearn_app, onnx_app = apps
    joblib_path = os.path.join(d, "model.joblib")
    ml_dir = os.path.join(d, "mlserver")
    os.makedirs(ml_dir, exist_ok=True)
    ml_port, ml_grpc, ml_metrics = free_port(), free_port(), free_port()
    json.dump({"http_port": ml_port, "grpc_port": ml_grpc, "metrics_port": ml_metrics,
               "parallel_workers": CORES}, open(os.path.join(ml_dir, "settings.json"), "w"))
    json.dump({"name": "model", "implementation": "mlserver_sklearn.SKLearnModel",
               "parameters": {"uri": joblib_path}},
              open(os.path.join(ml_dir, "model-settings.json"), "w"))
    bin_dir = os.path.dirname(sys.executable)
    servers = []

    def uvicorn(name, app_source, model_path):
        app_dir = os.path.join(d, name)
        os.makedirs(app_dir, exist_ok=True)
        with open(os.path.join(app_dir, "app.py"), "w") as fh:
            fh.write(app_source)
        port = free_port()
        return Server(name, [os.path.join(bin_dir, "uvicorn"), "app:app", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(CORES), "--log-level", "warning"],
                      f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/predict",
                      rows_body, env={"MODEL_PATH": model_path}, cwd=app_dir)

    def optbench(name, pkg):
        port = free_port()
        return Server(name, [ARGS.optbench, "serve", "--model", pkg, "--addr", f"127.0.0.1:{port}",
                             "--name", "m"],
                      f"http://127.0.0.1:{port}/v2/health/ready",
                      f"http://127.0.0.1:{port}/v2/models/m/infer", v2_body)

    try:
        servers.append(Server("mlserver", [os.path.join(bin_dir, "mlserver"), "start", ml_dir],
                              f"http://127.0.0.1:{ml_port}/v2/models/model/ready",
                              f"http://127.0.0.1:{ml_port}/v2/models/model/infer", ml_body,
                              cwd=ml_dir))
        servers.append(uvicorn("fastapi-sklearn", sklearn_app, joblib_path))
        servers.append(uvicorn("fastapi-onnxruntime", onnx_app, onnx_path))
        servers.append(optbench("optbench-float", float_pkg))
        if fast_id != float_id:
            servers.append(optbench("optbench-lossless", fast_pkg))
        # Every server answers its row before it is loaded.
        for srv in servers:
            req = urllib.request.Request(srv.url, data=srv.body.encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status != 200:
                    sys.exit(f"{srv.name} answered {r.status}")
        return {"model": model_name, "optbench_float_id": float_id,
                "optbench_lossless_id": fast_id, "servers": step_all(model_name, servers)}
    finally:
        for srv in servers:
            srv.stop()


def step_all(model_name, servers):
    """Every rate in turn, every server still holding taking one step at
    each; what each held."""
    for rate in ARGS.rates:
        for s in servers:
            if not s.holding:
                continue
            step = loadtest(s, rate)
            s.steps[rate] = step
            p99 = step["p99_us"] if step["p99_us"] is not None else float("inf")
            print(f"{model_name:8} {s.name:20} {rate:>6}/s  p50 {step['p50_us'] or 0:9.0f} µs"
                  f"  p99 {p99:9.0f} µs  errors {step['errors']} timeouts {step['timeouts']}",
                  flush=True)
            # Saturated: failures, or a p99 no budget of interest admits (an
            # idle server's p99 can be worse at a low rate than at a higher
            # one, so 10 ms alone does not stop it).
            if p99 > 200_000 or step["errors"] or step["timeouts"]:
                s.holding = False
    result = []
    for s in servers:
        def held(limit_us):
            ok = [r for r, st in s.steps.items()
                  if st["p99_us"] is not None and st["p99_us"] <= limit_us
                  and not st["errors"] and not st["timeouts"]]
            return max(ok) if ok else None
        result.append({"server": s.name, "cold_start_ms": s.cold_start_ms,
                       "rss_mib": rss_kib(s.proc.pid) / 1024, "steps": s.steps,
                       "max_rate_p99_1ms": held(1_000), "max_rate_p99_10ms": held(10_000),
                       "errors": sum(st["errors"] + st["timeouts"] for st in s.steps.values())})
    return result


FASTAPI_SKLEARN_FRAME = '''
import os
import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["MODEL_PATH"])
app = FastAPI()


class Rows(BaseModel):
    rows: list[dict[str, float | str | None]]


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/predict")
def predict(request: Rows):
    x = pd.DataFrame(request.rows)
    return {
        "predictions": model.predict(x).tolist(),
        "probabilities": model.predict_proba(x).tolist(),
    }
'''

FASTAPI_ONNX_COLUMNS = '''
import os
import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

session = ort.InferenceSession(os.environ["MODEL_PATH"], providers=["CPUExecutionProvider"])
kinds = {i.name: i.type for i in session.get_inputs()}
app = FastAPI()


class Rows(BaseModel):
    rows: list[dict[str, float | str | None]]


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/predict")
def predict(request: Rows):
    feeds = {}
    for name, kind in kinds.items():
        values = [r.get(name) for r in request.rows]
        if kind == "tensor(string)":
            feeds[name] = np.array([["" if v is None else v] for v in values], dtype=object)
        else:
            feeds[name] = np.array([[np.nan if v is None else v] for v in values], dtype=np.float32)
    label, probabilities = session.run(None, feeds)
    return {"predictions": label.tolist(), "probabilities": probabilities.tolist()}
'''


def compare_mixed(model_name="exercise2-forest-100"):
    """The lesson's mixed-type table (tests/fixtures/exercise2: numeric
    columns with missing cells, categorical columns) as a scikit-learn
    Pipeline: ColumnTransformer (median impute → scale; impute → one-hot,
    unknown categories ignored) → RandomForestClassifier(100)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    categorical = ["city", "device", "plan"]
    data = os.path.join(ROOT, "tests/fixtures/exercise2")
    test_csv = os.path.join(data, "test.csv")

    def read(split):
        df = pd.read_csv(os.path.join(data, f"{split}.csv"), dtype=str, keep_default_na=False)
        y = df.pop("churn").to_numpy()
        for c in df.columns:
            if c in categorical:
                df[c] = df[c].astype(object)
            else:
                df[c] = pd.to_numeric(df[c].replace("", np.nan)).astype(np.float32)
        return df, y

    x, y = read("train")
    xt, _ = read("test")
    numeric = [c for c in x.columns if c not in categorical]
    pre = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("scale", StandardScaler())]), numeric),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", missing_values="",
                                                   fill_value="missing")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), categorical),
    ])
    pipe = Pipeline([("pre", pre),
                     ("model", RandomForestClassifier(n_estimators=100, random_state=0,
                                                      n_jobs=1))]).fit(x, y)
    d = os.path.join(ARGS.out, model_name)
    os.makedirs(d, exist_ok=True)
    joblib.dump(pipe, os.path.join(d, "model.joblib"))
    types = [(c, StringTensorType([None, 1]) if c in categorical else FloatTensorType([None, 1]))
             for c in x.columns]
    onx = to_onnx(pipe, initial_types=types, options={"zipmap": False},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    onnx_path = os.path.join(d, "model.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onx.SerializeToString())
    float_pkg, float_id = import_package(onnx_path, [], f"{model_name}-optbench-float",
                                         test_csv, "churn")
    fast_pkg, fast_id = import_package(onnx_path, ["bins"], f"{model_name}-optbench-lossless",
                                       test_csv, "churn")

    # The first test row with every cell present: every server's protocol
    # can carry it the same way.
    complete = xt[xt.apply(lambda r: all(v == v and v != "" for v in r), axis=1)]
    first = complete.iloc[0]
    row = {c: (str(first[c]) if c in categorical else float(first[c])) for c in x.columns}
    tensor = lambda c: {"name": c, "shape": [1], "datatype": "BYTES" if c in categorical else "FP64",
                        "data": [row[c]]}
    ml_body = json.dumps({"parameters": {"content_type": "pd"},
                          "inputs": [tensor(c) for c in x.columns],
                          "outputs": [{"name": "predict"}, {"name": "predict_proba"}]})
    v2_body = json.dumps({"inputs": [{**tensor(c), "shape": [1, 1]} for c in x.columns]})
    rows_body = json.dumps({"rows": [row]})
    return serve_and_step(model_name, d, onnx_path,
                          ((float_pkg, float_id), (fast_pkg, fast_id)),
                          (ml_body, rows_body, v2_body),
                          (FASTAPI_SKLEARN_FRAME, FASTAPI_ONNX_COLUMNS))


def markdown(results, versions):
    lines = [f"Versions: {versions}", ""]
    for r in results:
        lines.append(f"**{r['model']}** (optbench float `{r['optbench_float_id']}`, lossless "
                     f"`{r['optbench_lossless_id']}`)")
        lines.append("")
        head = "| server | " + " | ".join(f"p50 / p99 µs at {x}/s" for x in (100, 1000, 5000))
        lines.append(head + " | max rate, p99 ≤ 1 ms | max rate, p99 ≤ 10 ms | failed requests (all steps) | RSS MiB | exec to ready ms |")
        lines.append("|---" * 9 + "|")
        for s in r["servers"]:
            cells = []
            for x in (100, 1000, 5000):
                st = s["steps"].get(x)
                cells.append("–" if not st or st["p50_us"] is None
                             else f"{st['p50_us']:.0f} / {st['p99_us']:.0f}")
            lines.append(f"| {s['server']} | " + " | ".join(cells) +
                         f" | {s['max_rate_p99_1ms'] or '–'} | {s['max_rate_p99_10ms'] or '–'} | {s['errors']} |"
                         f" {s['rss_mib']:.0f} | {s['cold_start_ms']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main():
    global ARGS, TEST, CORES
    p = argparse.ArgumentParser()
    p.add_argument("--optbench", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rates", default="10,20,50,100,200,500,1000,2000,5000,10000,20000")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--models", default="forest-100,boost-200,exercise2-forest-100")
    ARGS = p.parse_args()
    ARGS.rates = [int(r) for r in ARGS.rates.split(",")]
    ARGS.out = os.path.abspath(ARGS.out)
    ARGS.optbench = os.path.abspath(ARGS.optbench)
    os.makedirs(ARGS.out, exist_ok=True)
    CORES = os.cpu_count() or 1
    TEST = os.path.join(ROOT, "tests/fixtures/w1/test.csv")
    train = pd.read_csv(os.path.join(ROOT, "tests/fixtures/w1/train.csv"))
    test = pd.read_csv(TEST)
    x_train, y_train = train.drop(columns="label").to_numpy(), train["label"].to_numpy()
    x_test = test.drop(columns="label").to_numpy()
    models = {
        "forest-100": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
        "boost-200": GradientBoostingClassifier(n_estimators=200, random_state=0),
    }
    import importlib.metadata as md
    versions = ", ".join(f"{p} {md.version(p)}" for p in
                         ["scikit-learn", "mlserver", "mlserver-sklearn", "fastapi", "uvicorn",
                          "onnxruntime", "skl2onnx"])
    versions += ", " + subprocess.run([ARGS.optbench, "--version"], capture_output=True,
                                      text=True).stdout.strip()
    results = [compare_mixed(name) if name.startswith("exercise2") else
               compare(name, models[name], x_train, y_train, x_test)
               for name in ARGS.models.split(",")]
    json.dump({"versions": versions, "cores": CORES, "seconds": ARGS.seconds, "results": results},
              open(os.path.join(ARGS.out, "compare_serving.json"), "w"), indent=1)
    md_text = markdown(results, versions)
    open(os.path.join(ARGS.out, "compare_serving.md"), "w").write(md_text)
    print(md_text)


if __name__ == "__main__":
    main()
