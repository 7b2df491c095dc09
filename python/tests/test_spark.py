"""optbench.spark in local mode: the fixtures and a generated Parquet table
of $OPTBENCH_SPARK_ROWS rows (1,000,000 by default) score in Spark exactly
as `optbench predict` scores the same rows."""

import os
import re
import shutil
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import optbench
import optbench.spark
from conftest import PACKAGES, PENGUINS, cli_predict, cli_predict_arrow

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402
import pyspark.sql.functions  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    # Spark's Python workers run this interpreter, where optbench is installed.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("optbench-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def collect_sorted(df, key="row_id"):
    """The scored rows as a pyarrow Table in `key` order."""
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False).sort_by(key)


def with_row_id(csv_path):
    table = pacsv.read_csv(csv_path)
    return table.append_column("row_id", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def assert_equals_cli(scored, classes, header, rows):
    assert scored.column("prediction").to_pylist() == [r[1] for r in rows]
    for k, c in enumerate(classes):
        assert header[2 + k] == f"proba_{c}"
        got = scored.column(f"proba_{c}").to_numpy().astype(np.float32)
        # The CLI writes each f32 in its shortest round-trip form: read back
        # through f64, it is the same f32.
        cli = np.array([r[2 + k] for r in rows], dtype=np.float64).astype(np.float32)
        np.testing.assert_array_equal(got.view(np.uint32), cli.view(np.uint32))


@pytest.mark.parametrize("package", ["penguins-forest-10", "penguins-boost-20-int8"])
def test_fixture_rows_score_as_the_cli(spark, package, tmp_path):
    path = str(PACKAGES / package)
    header, rows = cli_predict(path, PENGUINS, tmp_path)
    df = spark.createDataFrame(with_row_id(PENGUINS).to_pandas()).repartition(3)
    scored = collect_sorted(optbench.spark.predict(df, path, proba=True))
    assert scored.column_names[-4:] == ["prediction"] + [f"proba_{c}" for c in optbench.load(path).classes]
    assert_equals_cli(scored, optbench.load(path).classes, header, rows)
    only = collect_sorted(optbench.spark.predict(df, path))
    assert only.column("prediction") == scored.column("prediction")
    assert "proba_Adelie" not in only.column_names


def test_a_package_shipped_with_add_file(spark, tmp_path):
    """A path that exists on no worker is looked up among the shipped files."""
    shipped = tmp_path / "shipped" / "forest-pkg"
    shutil.copytree(PACKAGES / "penguins-forest-10", shipped)
    spark.sparkContext.addFile(str(shipped), recursive=True)
    df = spark.createDataFrame(with_row_id(PENGUINS).to_pandas())
    # Relative name, resolved by SparkFiles on the driver and the executors.
    scored = collect_sorted(optbench.spark.predict(df, "elsewhere/forest-pkg"))
    expected = optbench.load(PACKAGES / "penguins-forest-10").predict(pacsv.read_csv(PENGUINS))
    assert scored.column("prediction").to_pylist() == list(expected)
    with pytest.raises(optbench.PackageError, match="nor shipped"):
        optbench.spark.predict(df, str(tmp_path / "no-such-package"))


def test_invalid_rows_fail_the_job_or_are_flagged(spark):
    path = str(PACKAGES / "penguins-forest-10")
    table = with_row_id(PENGUINS).to_pandas()
    table["bill_length_mm"] = table["bill_length_mm"].astype(object)
    table.loc[5, "bill_length_mm"] = "long"
    table["bill_length_mm"] = table["bill_length_mm"].astype(str)
    df = spark.createDataFrame(table)
    with pytest.raises(Exception, match="column `bill_length_mm`: expected a number") as e:
        optbench.spark.predict(df, path).collect()
    # Where the row sits in its partition, and what it holds.
    assert re.search(r"partition \d+, row \d+ of the partition: column `bill_length_mm`", str(e.value))
    assert "'bill_length_mm': 'long'" in str(e.value)
    assert "'island': 'Biscoe'" in str(e.value)
    scored = collect_sorted(optbench.spark.predict(df, path, proba=True, skip_invalid=True))
    reasons = scored.column("invalid_reason").to_pylist()
    assert [i for i, r in enumerate(reasons) if r] == [5]
    assert "found `long`" in reasons[5]
    assert scored.column("prediction")[5].as_py() is None
    assert scored.column("proba_Adelie")[5].as_py() is None
    valid = table.drop(index=5)
    valid["bill_length_mm"] = valid["bill_length_mm"].astype(float)
    expected = optbench.load(path).predict(valid)
    assert [p for i, p in enumerate(scored.column("prediction").to_pylist()) if i != 5] == list(expected)
    with pytest.raises(ValueError, match="already has column"):
        optbench.spark.predict(df.withColumnRenamed("year", "prediction"), path)


def generate_penguins(n, seed=24):
    """`n` rows shaped like the penguins data: every category seen in
    training, one never seen, and about 3% missing cells in each column."""
    rng = np.random.default_rng(seed)

    def gaps(values):
        return pa.array(values, mask=rng.random(n) < 0.03)

    islands = np.array(["Biscoe", "Dream", "Torgersen", "Atlantis"])
    sexes = np.array(["male", "female"])
    return pa.table({
        "row_id": pa.array(np.arange(n, dtype=np.int64)),
        "island": gaps(islands[rng.choice(4, n, p=[0.4, 0.35, 0.2, 0.05])]),
        "bill_length_mm": gaps(np.round(rng.uniform(30, 62, n), 2)),
        "bill_depth_mm": gaps(np.round(rng.uniform(12, 22, n), 2)),
        "flipper_length_mm": gaps(np.round(rng.uniform(170, 235, n), 1)),
        "body_mass_g": gaps(np.round(rng.uniform(2600, 6400, n), 0)),
        "sex": gaps(sexes[rng.integers(0, 2, n)]),
        "year": gaps(rng.integers(2007, 2010, n)),
    })


def test_a_generated_parquet_table_scores_as_the_cli(spark, tmp_path):
    n = int(os.environ.get("OPTBENCH_SPARK_ROWS", "1000000"))
    package = str(PACKAGES / "penguins-boost-20-int8")
    table = generate_penguins(n)
    pq.write_table(table, tmp_path / "rows.parquet")
    # The same rows as the CLI reads them: shortest round-trip numbers, an
    # empty field for a missing cell.
    pacsv.write_csv(table, tmp_path / "rows.csv")
    classes = optbench.load(package).classes
    cli = cli_predict_arrow(package, tmp_path / "rows.csv", tmp_path, classes)
    assert cli.num_rows == n

    df = spark.read.parquet(str(tmp_path / "rows.parquet"))
    out = tmp_path / "scored.parquet"
    optbench.spark.predict(df, package, proba=True).write.parquet(str(out))
    scored = pq.read_table(out).sort_by("row_id")
    assert scored.num_rows == n
    np.testing.assert_array_equal(scored.column("row_id").to_numpy(), np.arange(n))
    assert scored.column("prediction").combine_chunks().equals(cli.column("prediction").combine_chunks())
    for c in classes:
        got = scored.column(f"proba_{c}").to_numpy().astype(np.float32)
        # Shortest round-trip text, read back through f64: the same f32.
        want = cli.column(f"proba_{c}").to_numpy().astype(np.float32)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_only_the_packages_columns_travel_to_python(spark):
    """PySpark 4.1+: the Arrow UDF sends the package's columns only, so
    `strict` (which refuses unknown columns) accepts the DataFrame's others,
    which come back untouched; a package column the DataFrame lacks is named
    before any job runs."""
    path = str(PACKAGES / "penguins-forest-10")
    df = spark.createDataFrame(with_row_id(PENGUINS).to_pandas()).withColumn("note", pyspark.sql.functions.lit("kept"))
    scored = collect_sorted(optbench.spark.predict(df, path, strict=True))
    expected = optbench.load(path).predict(pacsv.read_csv(PENGUINS))
    assert scored.column("prediction").to_pylist() == list(expected)
    assert set(scored.column("note").to_pylist()) == {"kept"}
    assert scored.column_names == df.columns + ["prediction"]
    with pytest.raises(ValueError, match="no column 'island'"):
        optbench.spark.predict(df.drop("island"), path)
