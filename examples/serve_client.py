"""Calls `optbench serve` with a V2 client nobody here wrote (Triton's).

    pip install "tritonclient[http]" numpy
    optbench serve --model tests/fixtures/packages/penguins-forest-10 &
    python examples/serve_client.py 127.0.0.1:8080

One tensor per column, named as the column: numbers as FP64 (NaN for a
missing value), categories as BYTES ("NA" or "" for a missing one).
"""
import sys

import numpy as np
import tritonclient.http as httpclient

url = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
client = httpclient.InferenceServerClient(url=url)
name = client.get_model_repository_index()[0]["name"]
print("model", name, "inputs", [i["name"] for i in client.get_model_metadata(name)["inputs"]])

rows = {
    "island": ["Biscoe", "Dream"],
    "bill_length_mm": [45.1, 39.5],
    "bill_depth_mm": [14.5, 17.4],
    "flipper_length_mm": [215.0, 186.0],
    "body_mass_g": [5000.0, np.nan],
    "sex": ["female", "NA"],
    "year": [2008.0, 2009.0],
}
inputs = []
for column, values in rows.items():
    text = isinstance(values[0], str)
    data = np.array(values, dtype=np.object_ if text else np.float64).reshape(-1, 1)
    tensor = httpclient.InferInput(column, list(data.shape), "BYTES" if text else "FP64")
    tensor.set_data_from_numpy(data)
    inputs.append(tensor)

result = client.infer(name, inputs)
labels = [label.decode() for label in result.as_numpy("label").reshape(-1)]
print("label", labels)
print("probabilities", result.as_numpy("probabilities").tolist())
