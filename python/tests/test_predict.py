"""optbench from Python gives what `optbench predict` gives, bit for bit,
and refuses what it refuses, naming the row and column."""

import shutil
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import optbench
from conftest import PACKAGES, PENGUINS, cli_predict, extra_cases, shortest

PENGUIN_PACKAGES = [PACKAGES / "penguins-forest-10", PACKAGES / "penguins-boost-20-int8"]


def penguins_with_gaps(tmp_path):
    """The penguins test rows with missing cells in every form the CSV
    reader knows, in numeric and categorical columns alike."""
    df = pd.read_csv(PENGUINS, dtype=str, keep_default_na=False)
    df.loc[0, "sex"] = "NA"
    df.loc[1, "bill_length_mm"] = ""
    df.loc[2, "island"] = "null"
    df.loc[3, "body_mass_g"] = "nan"
    df.loc[4, "sex"] = ""
    df.loc[5, "island"] = "Atlantis"  # never seen in training: ignored by one-hot
    path = tmp_path / "gaps.csv"
    df.to_csv(path, index=False)
    return path


def assert_same(model, data, header, rows):
    """Classes exactly; probabilities as the CLI prints them, and as f32 bits."""
    expected_classes = np.array([r[1] for r in rows], dtype=object)
    got = model.predict(data)
    assert got.dtype == object and got.shape == (len(rows),)
    np.testing.assert_array_equal(got, expected_classes)
    p = model.predict_proba(data)
    assert p.dtype == np.float32 and p.shape == (len(rows), len(model.classes))
    assert header[2:] == [f"proba_{c}" for c in model.classes]
    printed = [[shortest(x) for x in row] for row in p]
    assert printed == [r[2:] for r in rows]
    cli = np.array([[np.float32(np.float64(x)) for x in r[2:]] for r in rows], dtype=np.float32)
    np.testing.assert_array_equal(p.view(np.uint32), cli.view(np.uint32))


def forms(csv_path):
    """The same CSV as a frame of text (what the CLI reads), a typed frame
    and a pyarrow Table (numbers parsed exactly, missing as null)."""
    text = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    typed = pd.read_csv(csv_path)
    table = pacsv.read_csv(csv_path)
    return {"text": text, "pandas": typed, "arrow": table, "batch": table.combine_chunks().to_batches()[0]}


@pytest.mark.parametrize("package", PENGUIN_PACKAGES, ids=lambda p: p.name)
def test_penguins_equal_the_cli_in_every_input_form(package, tmp_path):
    model = optbench.load(package)
    for csv_path in [PENGUINS, penguins_with_gaps(tmp_path)]:
        header, rows = cli_predict(package, csv_path, tmp_path)
        for name, data in forms(csv_path).items():
            try:
                assert_same(model, data, header, rows)
            except AssertionError as e:
                raise AssertionError(f"{csv_path.name} as {name}: {e}") from e


@pytest.mark.parametrize("package,csv_path", extra_cases())
def test_other_packages_equal_the_cli(package, csv_path, tmp_path):
    model = optbench.load(package)
    header, rows = cli_predict(package, csv_path, tmp_path)
    for name, data in forms(csv_path).items():
        if name == "pandas":
            continue  # pandas reads tokens like "#N/A" as missing; the CLI does not
        assert_same(model, data, header, rows)


def test_schema_classes_and_metadata():
    model = optbench.load(PACKAGES / "penguins-forest-10")
    assert model.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert model.schema[0] == ("island", "categorical")
    assert ("bill_length_mm", "numeric") in model.schema
    assert model.metadata["model"]["id"] == "forest-10"
    assert model.metadata["classes"] == model.classes
    assert "forest-10" in repr(model)


def test_damaged_or_missing_packages_are_refused(tmp_path):
    with pytest.raises(optbench.PackageError, match="not an optbench model folder"):
        optbench.load(tmp_path)
    copy = tmp_path / "pkg"
    shutil.copytree(PACKAGES / "penguins-forest-10", copy)
    data = bytearray((copy / "model.bin").read_bytes())
    data[len(data) // 2] ^= 1
    (copy / "model.bin").write_bytes(bytes(data))
    with pytest.raises(optbench.PackageError, match="damaged or was altered"):
        optbench.load(copy)


def test_bad_rows_name_row_column_and_reason():
    model = optbench.load(PACKAGES / "penguins-forest-10")
    df = pd.read_csv(PENGUINS, dtype=str, keep_default_na=False)
    df.loc[7, "flipper_length_mm"] = "tall"
    with pytest.raises(optbench.InvalidRowError) as e:
        model.predict(df)
    assert (e.value.row, e.value.column) == (7, "flipper_length_mm")
    assert "expected a number" in e.value.reason and "tall" in e.value.reason
    assert "row 7, column `flipper_length_mm`" in str(e.value)

    typed = pd.read_csv(PENGUINS)
    typed.loc[9, "body_mass_g"] = np.inf
    with pytest.raises(optbench.InvalidRowError, match="finite") as e:
        model.predict_proba(typed)
    assert (e.value.row, e.value.column) == (9, "body_mass_g")

    with pytest.raises(optbench.OptbenchError, match="missing column `island`"):
        model.predict(typed.drop(columns=["island"]))
    numbers = typed.assign(island=1)
    with pytest.raises(TypeError, match="column `island` is categorical"):
        model.predict(numbers)
    with pytest.raises(TypeError, match="pandas DataFrame or a pyarrow Table"):
        model.predict([[1, 2, 3]])
    with pytest.raises(ValueError, match="range_margin"):
        model.predict(typed, range_margin=-1)


def test_skip_invalid_sets_rows_aside_as_the_cli_does(tmp_path):
    package = PACKAGES / "penguins-boost-20-int8"
    model = optbench.load(package)
    df = pd.read_csv(PENGUINS, dtype=str, keep_default_na=False)
    df.loc[3, "bill_depth_mm"] = "deep"
    df.loc[11, "year"] = "-inf"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    header, rows = cli_predict(package, path, tmp_path, "--skip-invalid", "--rejected", str(tmp_path / "rej.csv"))
    cli_rejected = pd.read_csv(tmp_path / "rej.csv", dtype=str, keep_default_na=False)

    pred, rejected = model.predict(df, skip_invalid=True)
    np.testing.assert_array_equal(pred, np.array([r[1] for r in rows], dtype=object))
    assert isinstance(rejected, pd.DataFrame)
    assert list(rejected["row"]) == [3, 11]
    # The CLI numbers data rows from 1.
    assert list(rejected["row"] + 1) == [int(r) for r in cli_rejected["row"]]
    assert list(rejected["column"]) == list(cli_rejected["column"]) == ["bill_depth_mm", "year"]
    assert list(rejected["reason"]) == list(cli_rejected["reason"])

    proba, rejected_arrow = model.predict_proba(pa.Table.from_pandas(df), skip_invalid=True)
    assert isinstance(rejected_arrow, pa.Table) and rejected_arrow.column("row").to_pylist() == [3, 11]
    assert [[shortest(x) for x in r] for r in proba] == [r[2:] for r in rows]


def test_strict_refuses_what_the_cli_strict_refuses():
    model = optbench.load(PACKAGES / "penguins-forest-10")
    df = pd.read_csv(PENGUINS)
    model.predict(df, strict=True)  # the target column is allowed
    with pytest.raises(optbench.OptbenchError, match="`note` are not in the model's schema"):
        model.predict(df.assign(note="x"), strict=True)
    odd = df.copy()
    odd.loc[4, "island"] = "Atlantis"
    odd.loc[6, "body_mass_g"] = 1e6
    model.predict(odd)  # counted, not refused, unless strict
    with pytest.raises(optbench.InvalidRowError, match="never seen in training") as e:
        model.predict(odd, strict=True)
    assert e.value.row == 4
    _, rejected = model.predict(odd, strict=True, skip_invalid=True)
    assert list(rejected["row"]) == [4, 6] and "training range" in rejected["reason"][1]


def test_empty_and_multi_batch_tables():
    model = optbench.load(PACKAGES / "penguins-forest-10")
    table = pacsv.read_csv(PENGUINS)
    assert model.predict(table.slice(0, 0)).shape == (0,)
    assert model.predict_proba(table.slice(0, 0)).shape == (0, 3)
    whole = model.predict_proba(table)
    # Batches of 10 rows, the last one ragged: the same rows, the same bits;
    # row numbers in errors count over all batches.
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=10))
    assert chunked.num_rows == table.num_rows and len(chunked.to_batches()) > 1
    np.testing.assert_array_equal(model.predict_proba(chunked), whole)
    bad = pa.Table.from_batches(
        table.set_column(2, "bill_length_mm", pa.array([None] * 24 + [np.inf] + [1.0] * (table.num_rows - 25)))
        .to_batches(max_chunksize=10)
    )
    with pytest.raises(optbench.InvalidRowError) as e:
        model.predict(bad)
    assert e.value.row == 24


def test_threads_score_the_same_model_at_once():
    """The GIL is released while scoring, and one model serves threads."""
    model = optbench.load(PACKAGES / "penguins-boost-20-int8")
    table = pacsv.read_csv(PENGUINS)
    big = pa.concat_tables([table] * 2000)
    expected = model.predict_proba(big)
    results = [None] * 4

    def run(i):
        results[i] = model.predict_proba(big)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_decimal_columns_read_as_their_text(tmp_path):
    """Decimals (as a warehouse or Spark holds measures) predict what the
    same digits in a CSV predict; a scale too large for the quick division
    and a 256-bit decimal go through the text."""
    from decimal import Decimal

    package = PACKAGES / "penguins-boost-20-int8"
    model = optbench.load(package)
    path = penguins_with_gaps(tmp_path)
    header, rows = cli_predict(package, path, tmp_path)
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"", "na", "nan", "null"}

    def decimals(column, kind):
        return pa.array([None if v.lower() in missing else Decimal(v) for v in text[column]], type=kind)

    table = pa.Table.from_pandas(text).drop_columns(["bill_length_mm", "bill_depth_mm", "body_mass_g"])
    table = table.append_column("bill_length_mm", decimals("bill_length_mm", pa.decimal128(12, 3)))
    table = table.append_column("bill_depth_mm", decimals("bill_depth_mm", pa.decimal128(38, 30)))
    table = table.append_column("body_mass_g", decimals("body_mass_g", pa.decimal256(40, 2)))
    assert_same(model, table, header, rows)
