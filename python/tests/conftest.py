"""Shared helpers: the repository's fixtures and `optbench predict`, the
reference every prediction here is compared with."""

import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "tests" / "fixtures" / "packages"
PENGUINS = ROOT / "tests" / "fixtures" / "penguins" / "test.csv"


def optbench_bin() -> Path:
    """The CLI to compare with: $OPTBENCH_BIN, else the debug build."""
    path = Path(os.environ.get("OPTBENCH_BIN", ROOT / "target" / "debug" / "optbench"))
    if not path.exists():
        pytest.fail(f"{path} not found: build it with `cargo build` or set OPTBENCH_BIN")
    return path


def extra_cases():
    """More (package, CSV) pairs from $OPTBENCH_EXTRA_CASES, as
    `package=csv` separated by `;` (.ci/run passes the packages it makes)."""
    spec = os.environ.get("OPTBENCH_EXTRA_CASES", "")
    return [tuple(item.split("=", 1)) for item in spec.split(";") if item]


def cli_predict(package, csv_path, out_dir, *extra):
    """`optbench predict --proba` on a CSV: (header, rows of text fields)."""
    out = Path(out_dir) / "cli.csv"
    subprocess.run(
        [str(optbench_bin()), "predict", "--model", str(package), "--input", str(csv_path),
         "--proba", "--output", str(out), *extra],
        check=True,
        capture_output=True,
    )
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def shortest(x: np.float32) -> str:
    """An f32 as optbench writes it: the shortest text that reads back to the
    same f32, positional (Rust's `{}`)."""
    return np.format_float_positional(np.float32(x), unique=True, trim="-")


def cli_predict_arrow(package, csv_path, out_dir, classes):
    """`optbench predict --proba` read as a pyarrow Table (fast on a
    million rows): `prediction` as text, each `proba_<class>` as float64."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out = Path(out_dir) / "cli.csv"
    subprocess.run(
        [str(optbench_bin()), "predict", "--model", str(package), "--input", str(csv_path),
         "--proba", "--output", str(out)],
        check=True,
        capture_output=True,
    )
    types = {"prediction": pa.string(), **{f"proba_{c}": pa.float64() for c in classes}}
    return pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(column_types=types))
