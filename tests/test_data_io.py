"""The spreadsheet reader of the data layer (``_io.read_workbook``) against ``pandas.read_excel``.

``read_workbook`` promises the frames of ``pandas.read_excel(..., engine="calamine",
dtype=object)``: the same values, Python types, column names and index.  These tests compare
the two on every workbook of ``data/raw`` and on a workbook holding every kind of cell (numbers
written as floats, whole and not, beyond 64 bits, booleans next to numbers, dates, times,
durations, the texts pandas reads as missing, empty, repeated and numeric header names), in
both header and missing-value modes, and check its errors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis import paths
from analysis.data import _io
from analysis.errors import DataValidationError

RAW_WORKBOOKS = sorted(paths.RAW_DIR.glob("*/*.xlsx"))
#: How each reader calls read_workbook: MIM and intake (no header, only empty cells missing),
#: ISTAT BES (header row, pandas' missing texts).
MODES = {"empty": (False, "empty"), "pandas": (True, "pandas")}


def _pandas(path: Path, *, header: bool, missing: str) -> dict[str, pd.DataFrame]:
    na = {"keep_default_na": False, "na_values": [""]} if missing == "empty" else {}
    return pd.read_excel(
        path, sheet_name=None, header=0 if header else None, dtype=object, engine="calamine", **na
    )


def _assert_same(got: dict[str, pd.DataFrame], ref: dict[str, pd.DataFrame]) -> None:
    assert list(got) == list(ref)
    for name in ref:
        a, b = got[name], ref[name]
        pd.testing.assert_frame_equal(
            a, b, check_exact=True, check_column_type=True, check_index_type=True
        )
        assert [type(c) for c in a.columns] == [type(c) for c in b.columns], name
        for j in range(b.shape[1]):
            types_a = [type(v) for v in a.iloc[:, j]]
            types_b = [type(v) for v in b.iloc[:, j]]
            assert types_a == types_b, (name, b.columns[j])


@pytest.mark.parametrize("path", RAW_WORKBOOKS, ids=lambda p: p.name[:40])
def test_every_raw_workbook_reads_as_pandas_reads_it(path):
    # the mode its reader uses, and the other one on the MIM workbooks (header on a title row)
    header, missing = MODES["pandas" if "istat_bes" in str(path) else "empty"]
    got = _io.read_workbook(path, header=header, missing=missing)
    _assert_same(got, _pandas(path, header=header, missing=missing))
    if "mim_" in str(path):
        got = _io.read_workbook(path, header=True, missing="pandas")
        _assert_same(got, _pandas(path, header=True, missing="pandas"))


@pytest.fixture(scope="module")
def odd_workbook(tmp_path_factory) -> Path:
    """Two worksheets and a chart sheet with every kind of cell calamine returns."""
    path = tmp_path_factory.mktemp("odd") / "odd.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cells"
    ws.append(["code", "", "code", "code.1", 2020, 2021.0, "NA", "value", None, "flag"])
    rows = [
        ["a", 1, True, 1.0, 2.5, 12, "NA", "nan", None, "x"],
        ["b", True, 1, 2.0**70, -0.0, 3.0, "N/A", "", "text", False],
        ["NA", 0, False, 1e300, float("inf"), 7, "NULL", "#N/A", 1.25, 0],
        [
            dt.date(2021, 3, 4),
            dt.datetime(2022, 1, 2, 3, 4, 5),
            dt.time(8, 30),
            5,
            9.0,
            1,
            "-",
            None,
            "",
            1,
        ],
        [None, None, None, None, None, None, None, None, None, None],
        ["  spaced ", dt.timedelta(hours=5), "<=3", -12.0, 0.1, 2, "null", "None", "0", True],
    ]
    for r in rows:
        ws.append(r)
    second = wb.create_sheet("numbers only")
    for i in range(30):
        second.append([i, i / 4, float(i), -i * 1.5])
    wb.create_sheet("empty")
    chart = wb.create_chartsheet("chart")
    assert chart is not None
    wb.save(path)
    return path


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("missing", ["empty", "pandas"])
def test_every_kind_of_cell_reads_as_pandas_reads_it(odd_workbook, header, missing):
    got = _io.read_workbook(odd_workbook, header=header, missing=missing)
    _assert_same(got, _pandas(odd_workbook, header=header, missing=missing))
    assert "chart" not in got  # a chart sheet is not a worksheet
    # the cases that are handled one by one are really in the workbook
    cells = got["cells"].to_numpy().ravel().tolist()
    assert any(type(v) is int and v > 2**62 for v in cells)  # a whole float beyond 62 bits
    assert dt.datetime(2021, 3, 4) in cells  # a date cell, given as a datetime
    assert ("NA" in cells) is (missing == "empty")


def test_legacy_xls_reads_as_pandas_reads_it(tmp_path):
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Scrutini")
    for i, row in enumerate([["Cognome", "Voto", "Data"], ["NA", 7, 3.5], ["", 8.0, "x"]]):
        for j, v in enumerate(row):
            sheet.write(i, j, v)
    path = tmp_path / "old.xls"
    book.save(str(path))
    for header, missing in MODES.values():
        got = _io.read_workbook(path, header=header, missing=missing)
        _assert_same(got, _pandas(path, header=header, missing=missing))


def test_sheets_first_and_named(odd_workbook):
    assert list(_io.read_workbook(odd_workbook, sheets="first")) == ["cells"]
    named = _io.read_workbook(odd_workbook, sheets=["numbers only"])
    assert list(named) == ["numbers only"] and named["numbers only"].shape == (30, 4)
    assert _io.read_workbook(odd_workbook, sheets=["empty"])["empty"].empty


def test_pandas_missing_texts_are_pandas_defaults():
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(STR_NA_VALUES) == _io.PANDAS_NA_TEXTS


@pytest.mark.parametrize(
    ("names", "unnamed"),
    [
        (["x", "x", "x"], []),
        (["x", "x", "x.1"], []),
        (["x.1", "x", "x"], []),
        (["Unnamed: 0", "a", "Unnamed: 0"], [0]),
        (["a", "Unnamed: 1", "a", "a.1", "a"], [1]),
        ([2020, 2020, "2020.1"], []),
    ],
)
def test_repeated_names_are_numbered_as_pandas_numbers_them(names, unnamed):
    from pandas.io.common import mangle_dupe_names

    assert _io._mangle_names(names, unnamed) == mangle_dupe_names(names, unnamed)


def test_errors_name_the_file_and_the_problem(tmp_path, odd_workbook):
    with pytest.raises(DataValidationError, match="file not found"):
        _io.read_workbook(tmp_path / "absent.xlsx")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(
        DataValidationError, match=r"(?s)broken\.xlsx.*not a readable \.xlsx workbook"
    ):
        _io.read_workbook(broken)
    with pytest.raises(DataValidationError, match=r"no sheet 'Foglio9' \(sheets: \['cells'"):
        _io.read_workbook(odd_workbook, sheets=["Foglio9"])
    with pytest.raises(ValueError, match="missing must be"):
        _io.read_workbook(odd_workbook, missing="none")  # type: ignore[arg-type]
