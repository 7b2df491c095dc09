#!/usr/bin/env python3
"""Calls `optbench serve` with clients nobody here wrote: tritonclient[http]
(the Open Inference Protocol, V2 REST) and the standard library's HTTP
client on /predict. The server runs on 127.0.0.1, port 0 (its address read
from --port-file); the served classes and probabilities must equal
`optbench predict --proba`'s on the same rows, bit for bit.

Usage: serve_check.py OPTBENCH MODEL_DIR TEST_CSV TARGET PREDICTIONS_CSV
  PREDICTIONS_CSV: `optbench predict --proba` of TEST_CSV with MODEL_DIR.

Numeric columns go as FP64 tensors; a numeric column with a missing cell
goes as BYTES text (JSON has no NaN), which the server reads as the CSV
path reads a cell. Categorical columns go as BYTES. Exit 1 on any
difference.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import tritonclient.http as httpclient


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def missing(cell):
    return cell == "" or cell == "NA"


def main():
    optbench, model_dir, test_csv, target, predictions_csv = sys.argv[1:6]
    header, rows = read_csv(test_csv)
    meta = json.load(open(os.path.join(model_dir, "metadata.json")))
    kinds = {f["name"]: f["kind"] for f in meta["features"]["features"]}
    classes = meta["classes"]
    _, want = read_csv(predictions_csv)
    want_labels = [r[1] for r in want]
    want_proba = np.array([[np.float32(p) for p in r[2:]] for r in want], dtype=np.float32)

    tmp = tempfile.mkdtemp()
    port_file = os.path.join(tmp, "port.txt")
    server = subprocess.Popen(
        [optbench, "serve", "--model", model_dir, "--addr", "127.0.0.1:0",
         "--port-file", port_file],
        stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and open(port_file).read().endswith("\n")):
            if time.time() > deadline or server.poll() is not None:
                sys.exit("optbench serve did not listen within 60 s")
            time.sleep(0.05)
        addr = open(port_file).read().strip()
        assert addr.startswith("127.0.0.1:"), addr

        # Listening comes before ready: the package warms in between.
        client = httpclient.InferenceServerClient(url=addr, network_timeout=30.0)
        assert client.is_server_live()
        while not client.is_server_ready():
            if time.time() > deadline:
                sys.exit("optbench serve did not become ready within 60 s")
            time.sleep(0.05)
        name = json.loads(urllib.request.urlopen(f"http://{addr}/v2/models/"
                                                 + meta_name(meta)).read())["name"]
        assert client.is_model_ready(name)
        model_meta = client.get_model_metadata(name)
        assert [i["name"] for i in model_meta["inputs"]] == [c for c in header if c != target]

        inputs = []
        for j, col in enumerate(header):
            if col == target:
                continue
            cells = [r[j] for r in rows]
            if kinds[col] == "categorical" or any(missing(c) for c in cells):
                data = np.array([[c] for c in cells], dtype=np.object_)
                t = httpclient.InferInput(col, [len(rows), 1], "BYTES")
            else:
                data = np.array([[float(c)] for c in cells], dtype=np.float64)
                t = httpclient.InferInput(col, [len(rows), 1], "FP64")
            t.set_data_from_numpy(data, binary_data=False)
            inputs.append(t)
        outputs = [httpclient.InferRequestedOutput("label", binary_data=False),
                   httpclient.InferRequestedOutput("probabilities", binary_data=False)]
        result = client.infer(name, inputs, outputs=outputs, request_id="ci")
        labels = [x.decode() if isinstance(x, bytes) else str(x)
                  for x in result.as_numpy("label").reshape(-1)]
        proba = result.as_numpy("probabilities").astype(np.float32).reshape(len(rows), len(classes))
        ok = labels == want_labels and np.array_equal(proba.view(np.uint32), want_proba.view(np.uint32))
        print(f"tritonclient {name}: {len(rows)} rows, classes equal: {labels == want_labels}, "
              f"probabilities bit for bit: {ok}")
        if not ok:
            sys.exit(1)

        # tritonclient's defaults: the inputs in binary (Triton's binary
        # tensor extension; NaN marks a missing number) and, no outputs
        # named, every output in binary.
        inputs = []
        for j, col in enumerate(header):
            if col == target:
                continue
            cells = [r[j] for r in rows]
            if kinds[col] == "categorical":
                data = np.array([[c] for c in cells], dtype=np.object_)
                t = httpclient.InferInput(col, [len(rows), 1], "BYTES")
            else:
                data = np.array([[np.nan if missing(c) else float(c)] for c in cells],
                                dtype=np.float64)
                t = httpclient.InferInput(col, [len(rows), 1], "FP64")
            t.set_data_from_numpy(data)
            inputs.append(t)
        result = client.infer(name, inputs)
        labels = [x.decode() for x in result.as_numpy("label").reshape(-1)]
        proba = result.as_numpy("probabilities").reshape(len(rows), len(classes))
        ok = labels == want_labels and np.array_equal(proba.view(np.uint32), want_proba.view(np.uint32))
        print(f"tritonclient {name} (binary tensors): {len(rows)} rows, equal bit for bit: {ok}")
        if not ok:
            sys.exit(1)

        # Plain JSON, as curl would send it.
        objects = []
        for r in rows:
            o = {}
            for j, col in enumerate(header):
                if col == target:
                    continue
                c = r[j]
                o[col] = None if missing(c) else (c if kinds[col] == "categorical" else float(c))
            objects.append(o)
        req = urllib.request.Request(f"http://{addr}/predict?proba=1",
                                     data=json.dumps({"rows": objects}).encode(),
                                     headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(req, timeout=30).read())
        got = np.array(answer["probabilities"], dtype=np.float64).astype(np.float32)
        ok = answer["predictions"] == want_labels and np.array_equal(
            got.view(np.uint32), want_proba.view(np.uint32))
        print(f"/predict: {len(rows)} rows, equal bit for bit: {ok}")
        if not ok:
            sys.exit(1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            sys.exit("optbench serve still running 20 s after SIGTERM")
    if code != 0:
        sys.exit(f"optbench serve exited {code} after SIGTERM")
    print("SIGTERM: exit 0")


def meta_name(meta):
    """The served name: the package's id with every character other than
    ASCII letters, digits, `-`, `_` and `.` made `_`."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_"
                   for c in meta["model"]["id"])


if __name__ == "__main__":
    main()
