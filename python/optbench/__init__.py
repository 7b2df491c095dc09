"""Score pandas and Arrow tables with an optbench model package.

    import optbench
    m = optbench.load("reports/latest/model")   # verifies SHA-256 and format
    m.predict(df)          # numpy array of class names, one per row
    m.predict_proba(df)    # numpy float32 [rows, classes], columns in m.classes order

Rows are read, validated and predicted by the optbench library itself, so
they get exactly the classes and probabilities `optbench predict` writes for
the same cells. Columns are matched by name; others are ignored. See
docs/python.md in the repository.
"""

from __future__ import annotations

import json
from typing import Any, List, Tuple

import numpy as np
import pyarrow as pa

from ._native import InvalidRowError, OptbenchError, PackageError
from ._native import load as _load_native

__all__ = ["load", "Model", "OptbenchError", "PackageError", "InvalidRowError"]


def _record_batches(data: Any) -> List[pa.RecordBatch]:
    """The input as record batches, without copying where Arrow allows."""
    if isinstance(data, pa.RecordBatch):
        return [data]
    if isinstance(data, pa.Table):
        table = data
    else:
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is optional
            pd = None
        if pd is None or not isinstance(data, pd.DataFrame):
            raise TypeError(
                "expected a pandas DataFrame or a pyarrow Table or RecordBatch, "
                f"found {type(data).__name__}"
            )
        # Column names must be text to be matched with the schema.
        table = pa.Table.from_pandas(data, preserve_index=False)
    batches = table.to_batches()
    if not batches:
        batches = [pa.RecordBatch.from_pylist([], schema=table.schema)]
    return batches


class Model:
    """A loaded, verified optbench package (see `load`)."""

    def __init__(self, native: Any, path: str):
        self._native = native
        self.path = path
        self.classes: List[str] = list(native.classes)
        self._class_names = np.array(self.classes, dtype=object)
        self.schema: List[Tuple[str, str]] = list(native.schema)
        self.metadata: dict = json.loads(native.metadata_json)

    def __repr__(self) -> str:
        return (
            f"optbench.Model({self.path!r}: {self.metadata['model']['id']}, "
            f"{len(self.schema)} columns, classes {self.classes})"
        )

    def score(
        self,
        data: Any,
        *,
        proba: bool = True,
        skip_invalid: bool = False,
        strict: bool = False,
        range_margin: float = 0.1,
    ):
        """The low-level call behind `predict` and `predict_proba`.

        Returns `(class_indices, probabilities or None, rejected)`: indices
        into `classes` (uint32) and float32 probabilities for the rows
        scored, and the rejected rows as a list of `(row, column, reason)`
        (0-based row positions), empty unless `skip_invalid`.
        """
        batches = _record_batches(data)
        return self._native.score(batches, proba, skip_invalid, strict, float(range_margin))

    def predict(
        self,
        data: Any,
        *,
        skip_invalid: bool = False,
        strict: bool = False,
        range_margin: float = 0.1,
    ):
        """The predicted class name of every row: a numpy array (object dtype).

        The first invalid row raises `InvalidRowError` (its `row`, `column`
        and `reason` say where and why). With `skip_invalid=True`, returns
        `(predictions, rejected)` instead: predictions for the valid rows
        only, in order, and the rejected rows as a table with columns `row`
        (0-based position in `data`), `column` and `reason` (a pandas
        DataFrame for a DataFrame input, else a pyarrow Table). `strict`
        also refuses unknown columns, values far outside the training range
        (beyond `range_margin` of its width) and categories never seen in
        training, as `optbench predict --strict` does.
        """
        idx, _, rejected = self.score(
            data, proba=False, skip_invalid=skip_invalid, strict=strict, range_margin=range_margin
        )
        names = self._class_names[idx]
        return (names, _rejected_table(data, rejected)) if skip_invalid else names

    def predict_proba(
        self,
        data: Any,
        *,
        skip_invalid: bool = False,
        strict: bool = False,
        range_margin: float = 0.1,
    ):
        """Class probabilities, numpy float32 `[rows, classes]` (columns in
        `classes` order); the options are `predict`'s."""
        _, probabilities, rejected = self.score(
            data, proba=True, skip_invalid=skip_invalid, strict=strict, range_margin=range_margin
        )
        return (probabilities, _rejected_table(data, rejected)) if skip_invalid else probabilities


def _rejected_table(data: Any, rejected: List[Tuple[int, str, str]]):
    columns = {
        "row": pa.array([r[0] for r in rejected], type=pa.int64()),
        "column": pa.array([r[1] for r in rejected], type=pa.string()),
        "reason": pa.array([r[2] for r in rejected], type=pa.string()),
    }
    table = pa.table(columns)
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return table
    return table.to_pandas()


def load(path: Any) -> Model:
    """Loads and verifies the package folder `path` (the `model/` folder an
    `optbench run` writes): format version, the model file's SHA-256 and the
    consistency of schema, pipeline and model, as `optbench predict` does.
    Raises `PackageError` when it cannot be used."""
    import os

    path = os.fspath(path)
    return Model(_load_native(path), path)
