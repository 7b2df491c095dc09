"""Score a Spark DataFrame with an optbench package, through Arrow.

    import optbench.spark
    spark.sparkContext.addFile("reports/latest/model", recursive=True)  # ships the folder
    scored = optbench.spark.predict(df, "model", proba=True)

Each executor's Python worker loads the package once (cached by path) and
scores the Arrow batches Spark hands it with the optbench library, so every
row gets the class and probabilities `optbench predict` writes for it. The
output is the input's columns plus `prediction` (the class name) and, with
`proba=True`, one float column `proba_<class>` per class.

On PySpark 4.1 and later the scoring is an Arrow UDF (`arrow_udf`): only
the columns the package reads travel to Python, and only the predictions
come back; the other columns stay in the JVM. Earlier versions use
`mapInArrow`, which sends every column to Python and back.

Where the package comes from, on the driver and on every executor: `model`
is used as a path when a folder is there (a path every machine shares: NFS,
a mounted bucket, or local mode); otherwise it is looked up among the files
shipped with `SparkContext.addFile(folder, recursive=True)` or
`spark-submit --files`, by its last path component.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import pyarrow as pa

from . import InvalidRowError, Model, PackageError, load

# One loaded package per path, per Python process: a Spark Python worker is
# reused across tasks (spark.python.worker.reuse, on by default), so a
# package is read and verified once per worker, not once per batch.
_LOADED: Dict[str, Model] = {}


def _resolve(model: str) -> str:
    if os.path.isdir(model):
        return model
    from pyspark import SparkFiles

    name = os.path.basename(os.path.normpath(model))
    shipped = SparkFiles.get(name)
    if os.path.isdir(shipped):
        return shipped
    raise PackageError(
        f"{model}: no package folder at this path, nor shipped as `{name}` "
        "(SparkContext.addFile(folder, recursive=True) or spark-submit --files)"
    )


def _loaded(model: str) -> Model:
    m = _LOADED.get(model)
    if m is None:
        m = _LOADED[model] = load(_resolve(model))
    return m


def _score_batch(
    p: Model,
    batch: pa.RecordBatch,
    proba: bool,
    skip_invalid: bool,
    strict: bool,
    range_margin: float,
) -> List[pa.Array]:
    """The added columns for one batch: the class names, the probabilities
    (with `proba`) and the reasons (with `skip_invalid`); a rejected row's
    prediction and probabilities are null."""
    idx, probabilities, rejected = p.score(
        batch, proba=proba, skip_invalid=skip_invalid, strict=strict, range_margin=range_margin
    )
    n = batch.num_rows
    class_names = pa.array(p.classes, type=pa.string())
    if rejected:
        # Scored rows in place, rejected rows null.
        valid = np.ones(n, dtype=bool)
        valid[[r[0] for r in rejected]] = False
        full = np.zeros(n, dtype=np.uint32)
        full[valid] = idx
        keys = pa.array(full, mask=~valid)
    else:
        valid = None
        keys = pa.array(idx)
    columns = [class_names.take(keys)]
    if proba:
        for k in range(len(p.classes)):
            if valid is None:
                columns.append(pa.array(probabilities[:, k]))
            else:
                col = np.zeros(n, dtype=np.float32)
                col[valid] = probabilities[:, k]
                columns.append(pa.array(col, mask=~valid))
    if skip_invalid:
        reasons = [None] * n
        for row, column, reason in rejected:
            reasons[row] = f"column `{column}`: {reason}"
        columns.append(pa.array(reasons, type=pa.string()))
    return columns


def _located(e: InvalidRowError, batch: pa.RecordBatch, offset: int, p: Model) -> InvalidRowError:
    """`e`, raised at a position within one Arrow batch, restated with where
    the row sits in its Spark partition and the values the package read
    from it, so the row can be found in the table. Its `row` becomes the
    position within the partition; `partition` and `values` are added."""
    from pyspark import TaskContext

    context = TaskContext.get()
    partition = context.partitionId() if context is not None else None
    row = offset + e.row
    names = set(batch.schema.names)
    values = {c: batch.column(c)[e.row].as_py() for c, _ in p.schema if c in names}
    shown = repr(values)
    if len(shown) > 1000:
        shown = shown[:1000] + "…"
    where = f"row {row}" if partition is None else f"partition {partition}, row {row} of the partition"
    err = InvalidRowError(f"{where}: column `{e.column}`: {e.reason}; the row's values: {shown}")
    err.row, err.column, err.reason = row, e.column, e.reason
    err.partition, err.values = partition, values
    return err


def _scored_batches(p: Model, batches, options: dict):
    """Each batch with its added columns, the rows counted so that an
    invalid row is named by its place in the partition (`_located`)."""
    offset = 0
    for batch in batches:
        try:
            columns = _score_batch(p, batch, **options)
        except InvalidRowError as e:
            raise _located(e, batch, offset, p) from None
        offset += batch.num_rows
        yield batch, columns


def predict(
    df: Any,
    model: str,
    proba: bool = False,
    *,
    skip_invalid: bool = False,
    strict: bool = False,
    range_margin: float = 0.1,
    prediction_col: str = "prediction",
):
    """`df` with a `prediction_col` column of class names added (and, with
    `proba`, `proba_<class>` float columns, in the package's class order).

    A row the package's schema refuses fails the job with `InvalidRowError`
    naming its partition, its position within the partition, its column
    and the values the package read from it, unless
    `skip_invalid`: then its prediction and probabilities are null and an
    `invalid_reason` column says why (null for the rows scored). `strict`
    and `range_margin` are `Model.predict`'s; on PySpark 4.1 and later the
    package sees only the columns of its schema, so `strict` does not refuse
    the DataFrame's other columns.
    """
    from pyspark.sql.types import FloatType, StringType, StructField, StructType

    m = _loaded(model)  # on the driver: checks the package, gives the classes
    names = [prediction_col] + ([f"proba_{c}" for c in m.classes] if proba else [])
    if skip_invalid:
        names.append("invalid_reason")
    clash = [n for n in names if n in df.columns]
    if clash:
        raise ValueError(f"the DataFrame already has column(s) {clash}; choose another prediction_col")
    fields = [StructField(prediction_col, StringType(), True)]
    if proba:
        fields += [StructField(f"proba_{c}", FloatType(), True) for c in m.classes]
    if skip_invalid:
        fields.append(StructField("invalid_reason", StringType(), True))
    options = dict(proba=proba, skip_invalid=skip_invalid, strict=strict, range_margin=range_margin)
    try:
        from pyspark.sql.functions import arrow_udf
    except ImportError:  # PySpark before 4.1
        arrow_udf = None
    if arrow_udf is None:
        return _predict_map_in_arrow(df, model, names, StructType(df.schema.fields + fields), options)

    # The package's columns, as the DataFrame spells them (the schema is
    # matched by name, as `optbench predict` matches a CSV header).
    inputs = [c for c, _ in m.schema if c in df.columns]
    missing = [c for c, _ in m.schema if c not in df.columns]
    if missing:
        raise ValueError(
            f"the DataFrame has no column {missing[0]!r}, which the package reads "
            f"(missing: {missing}; the package's columns: {[c for c, _ in m.schema]})"
        )

    def score(batches: Iterator[Tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        p = _loaded(model)
        record_batches = (pa.RecordBatch.from_arrays(list(a), names=inputs) for a in batches)
        for _, columns in _scored_batches(p, record_batches, options):
            yield pa.StructArray.from_arrays(columns, names=names)

    # Non-deterministic for Spark's optimiser: the struct is computed once a
    # row and its fields read from it, never the UDF inlined once per field.
    udf = arrow_udf(score, StructType(fields)).asNondeterministic()
    column = "__optbench_scores"
    while column in df.columns:
        column += "_"
    scored = df.withColumn(column, udf(*[df[c] for c in inputs]))
    return scored.select(
        *[scored[c] for c in df.columns], *[scored[column][n].alias(n) for n in names]
    )


def _predict_map_in_arrow(df: Any, model: str, names: List[str], out_schema: Any, options: dict):
    """`predict` through `mapInArrow` (PySpark before 4.1): every column
    goes to Python and back."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        p = _loaded(model)
        for batch, added in _scored_batches(p, batches, options):
            columns = list(batch.columns) + added
            yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names + names)

    return df.mapInArrow(score, out_schema)
