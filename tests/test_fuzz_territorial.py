"""Property-based tests of the territorial raw-file readers (issue 6, "Inputs").

Each example starts from a real raw file in ``data/raw`` (a small copy of the ed. 2025 BES
workbook for the xlsx reader), applies one mutation and checks the outcome.

* **Known-bad mutations** (bad cell, NaN/inf, out of range, duplicate or deleted line,
  unknown code, missing/renamed/shuffled header, wrong separator or encoding, empty file ...)
  must end in :class:`~analysis.errors.DataValidationError` naming the file.
* **Random corruption** (bytes overwritten, inserted, deleted, truncated; header names swapped
  without their data) may also be accepted when the result still satisfies the contract;
  such results are counted: ``accepted: identical result``, or ``accepted: different values``
  -- a corrupted digit or swapped CSV header that no content rule can tell from a real value.
  The documented handling for those is the SHA-256 manifest of ``data/raw``
  (:func:`analysis.data.integrity.verify_raw`, run before every plan run), which the test checks
  flags the file.
* **Valid shuffles** (rows, and CSV columns, permuted) give the same panel.

The "loader" of a panel is its reader followed by the processed-panel schema that
:func:`analysis.data.panels.build` applies before writing (a schema failure there is also a
``DataValidationError``).
"""

from __future__ import annotations

import hashlib
import io
import string
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pandera.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import paths
from analysis.data import eurostat, geography, istat_bes, other_sources, panels
from analysis.data.integrity import read_manifest
from analysis.errors import DataValidationError, violations_from_pandera
from fuzzing import (
    BAD_NUMBERS,
    ERROR,
    NON_FINITE,
    SAME,
    SCHEMA_ERROR,
    VALID_SAME,
    byte_corruption,
    encodings_of,
    expect_error,
    fuzz_settings,
    fuzz_summary,  # noqa: F401  (session fixture: prints the counts)
    outcome_of,
    permutation,
    record,
)

ELET_IT = paths.raw("eurostat_edat_lfse_16", "edat_lfse_16_italy_nuts2.tsv")
ELET_EU = paths.raw("eurostat_edat_lfse_16", "edat_lfse_16_eu27_total.tsv")
AROPE = paths.raw("eurostat_ilc_peps11", "ilc_peps11_italy_nuts2.tsv")
UNEMP = paths.raw("pspatreg_unemp_it", "unemp_it.csv")
INVALSI = paths.raw("schooldatait_invalsi_prov", "example_Invalsi23_prov.csv")
BES25 = paths.raw(
    "istat_bes_territori", "Bes_dei_territori_indicatori_per_provincia_sesso_ed.2025.xlsx"
)
SHEET = istat_bes.SHEET_PROVINCES
DIFFERENT = "accepted: different values (valid-looking; flagged by the SHA-256 manifest)"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A scratch folder; mutated files keep the raw file's name, so messages can be checked."""
    return tmp_path_factory.mktemp("fuzz_territorial")


def _manifest_hash(raw: Path) -> str:
    return read_manifest(raw.parent / "SHA256SUMS")[raw.name]


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    p = folder / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def _as_panel(panel: str, df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Apply the processed-panel schema as :func:`panels.build` does."""
    try:
        panels.PANELS[panel].schema().validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise DataValidationError(
            f"processed panel {panel!r} built from {source}", violations_from_pandera(exc)
        ) from exc
    return df


def _classify_accepted(
    loader: str,
    result: pd.DataFrame,
    baseline: pd.DataFrame,
    raw: Path,
    mutated: bytes,
    *,
    sort: list[str] | None = None,
) -> str:
    """Outcome of a corrupted input the loader accepted (its output passed every rule)."""
    a, b = result, baseline
    if sort:
        a = a.sort_values(sort).reset_index(drop=True)
        b = b.sort_values(sort).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a, b)
        outcome = SAME
    except AssertionError:
        outcome = DIFFERENT
        # the documented handling: the raw-data manifest does not match the changed bytes
        assert hashlib.sha256(mutated).hexdigest() != _manifest_hash(raw)
    record(loader, outcome)
    return outcome


def _record_error(loader: str, err: DataValidationError) -> None:
    record(loader, SCHEMA_ERROR if err.source.startswith("processed panel") else ERROR)


# ============================================================================================
# Eurostat SDMX-TSV: read_elet (two files) and read_arope
# ============================================================================================

TSV_BAD_TOKENS = (
    tuple(t for t in BAD_NUMBERS if t != "1e")
    + NON_FINITE
    + ("12.5 q", "12.5 B", "1,5", ": x", "12.5b x", "NaN", "")
)
FLAGLESS = sorted(set(string.ascii_lowercase) - eurostat.KNOWN_FLAGS)
WRONG_DIM = {
    "freq": ["Q", "M", "a", ""],
    "unit": ["THS_PER", "PC_POP", "pc", ""],
    "sex": ["X", "f", "t", ""],
    "age": ["Y15-24", "Y18-29", ""],
}


TsvLoader = tuple[list[Path], Callable[[list[Path]], pd.DataFrame], tuple[str, ...]]


def _tsv_loader(loader: str) -> TsvLoader:
    """(raw files, reader + panel schema, SDMX dimensions) of an SDMX-TSV panel."""
    if loader == "elet":
        return (
            [ELET_IT, ELET_EU],
            lambda fs: _as_panel(
                "elet_regions", eurostat.read_elet(fs), ", ".join(f.name for f in fs)
            ),
            ("freq", "unit", "sex", "age", "geo"),
        )
    return (
        [AROPE],
        lambda fs: _as_panel("arope_regions", eurostat.read_arope(fs[0]), fs[0].name),
        ("freq", "unit", "geo"),
    )


@pytest.fixture(scope="module")
def tsv_baselines() -> dict[str, pd.DataFrame]:
    return {
        "elet": _as_panel("elet_regions", eurostat.read_elet([ELET_IT, ELET_EU]), "elet"),
        "arope": _as_panel("arope_regions", eurostat.read_arope(AROPE), "arope"),
    }


def _tsv_known_bad(draw: st.DrawFn, text: str, dims: tuple[str, ...]) -> tuple[str, bytes]:
    """One known-bad mutation of an SDMX-TSV text; returns (kind, bytes)."""
    lines = text.rstrip("\n").split("\n")
    kinds = [
        "bad_cell",
        "out_of_range",
        "unknown_flag",
        "cell_count",
        "key_codes",
        "duplicate_line",
        "delete_line",
        "unknown_geo",
        "dim_value",
        "separator",
        "header_dims",
        "year_header",
        "empty",
        "header_only",
        "encoding",
        "bom",
        "nul",
    ]
    kind = draw(st.sampled_from(kinds))
    i = draw(st.integers(1, len(lines) - 1))  # a data line
    cells = lines[i].split("\t")
    j = draw(st.integers(1, len(cells) - 1))  # a value cell
    keys = cells[0].split(",")
    if kind == "bad_cell":
        cells[j] = draw(st.sampled_from(TSV_BAD_TOKENS))
    elif kind == "out_of_range":
        v = draw(st.floats(100.1, 99999) | st.floats(-99999, -0.1))
        cells[j] = f"{v:.1f} {draw(st.sampled_from(['', 'b', 'e']))}"
    elif kind == "unknown_flag":
        cells[j] = f"12.3 {draw(st.sampled_from(FLAGLESS + ['B', 'E']))}"
    elif kind == "cell_count":
        if draw(st.booleans()):
            del cells[j]
        else:
            cells.insert(j, "1.0 ")
    elif kind == "key_codes":
        if draw(st.booleans()):
            del keys[draw(st.integers(0, len(keys) - 1))]
        else:
            keys.insert(draw(st.integers(0, len(keys))), "X")
        cells[0] = ",".join(keys)
    elif kind == "duplicate_line":
        lines.insert(draw(st.integers(1, len(lines))), lines[i])
    elif kind == "delete_line":
        del lines[i]
    elif kind == "unknown_geo":
        keys[-1] = draw(
            st.from_regex(r"[A-Z]{2}[A-Z0-9]{0,3}", fullmatch=True).filter(
                lambda g: g not in geography.NUTS
            )
        )
        cells[0] = ",".join(keys)
    elif kind == "dim_value":
        d = draw(st.sampled_from([x for x in dims if x != "geo"]))
        keys[dims.index(d)] = draw(st.sampled_from(WRONG_DIM[d]))
        cells[0] = ",".join(keys)
    elif kind == "separator":
        sep = draw(st.sampled_from([";", ",", "|", " ", "    "]))
        lines = [ln.replace("\t", sep) for ln in lines]
    elif kind == "header_dims":
        head = lines[0].split("\t")
        names = list(dims)
        if draw(st.booleans()):
            perm = draw(permutation(len(names)))
            names = [names[k] for k in perm]
        else:
            names[draw(st.integers(0, len(names) - 1))] = draw(
                st.sampled_from(["GEO", "time", "region", "sexe", "frq"])
            )
        head[0] = ",".join(names) + "\\TIME_PERIOD"
        lines[0] = "\t".join(head)
    elif kind == "year_header":
        head = lines[0].split("\t")
        k = draw(st.integers(1, len(head) - 1))
        choice = draw(st.sampled_from(["junk", "duplicate", "swap"]))
        if choice == "junk" or len(head) < 3:
            head[k] = draw(
                st.sampled_from(
                    ["", "20x5", "Y2005", "2005.0", "05", "2_005", "+2005", "٢٠٠٥", "TIME"]
                )
            )
        elif choice == "duplicate":
            other = k - 1 if k > 1 else k + 1
            head[k] = head[other]
        else:  # swap two year headers without their data
            other = draw(st.integers(1, len(head) - 1).filter(lambda x: x != k))
            head[k], head[other] = head[other], head[k]
        lines[0] = "\t".join(head)
    elif kind == "empty":
        return kind, draw(st.sampled_from([b"", b"\n", b"\n \n\t\n"]))
    elif kind == "header_only":
        lines = lines[:1]
    elif kind == "encoding":
        enc, data = draw(encodings_of(text))
        return f"{kind}:{enc}", data
    elif kind == "bom":
        return kind, "\ufeff".encode() + text.encode()
    elif kind == "nul":
        cells[j] = cells[j][:1] + "\x00" + cells[j][1:]
    if kind in (
        "bad_cell",
        "out_of_range",
        "unknown_flag",
        "cell_count",
        "key_codes",
        "unknown_geo",
        "dim_value",
        "nul",
    ):
        lines[i] = "\t".join(cells)
    return kind, ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("loader", ["elet", "arope"])
@fuzz_settings(1.6)
@given(data=st.data())
def test_tsv_known_bad_mutation_is_an_error(loader, work, data):
    files, load, dims = _tsv_loader(loader)
    target = data.draw(st.sampled_from(files), label="file")
    kind, mutated = _tsv_known_bad(data.draw, target.read_text(encoding="utf-8"), dims)
    bad = _write(work, target.name, mutated)
    use = [bad if f == target else f for f in files]
    err = expect_error(lambda: load(use), source=target.name)
    _record_error(loader, err)


@pytest.mark.parametrize("loader", ["elet", "arope"])
@fuzz_settings(0.5)
@given(data=st.data())
def test_tsv_random_corruption_is_an_error_or_a_documented_handling(
    loader, work, tsv_baselines, data
):
    files, load, _ = _tsv_loader(loader)
    target = data.draw(st.sampled_from(files), label="file")
    _, mutated = data.draw(byte_corruption(target.read_bytes()), label="corruption")
    bad = _write(work, target.name, mutated)
    use = [bad if f == target else f for f in files]
    status, res = outcome_of(lambda: load(use), source=target.name)
    if status == ERROR:
        _record_error(loader, res)
    else:
        _classify_accepted(loader, res, tsv_baselines[loader], target, mutated)


@pytest.mark.parametrize("loader", ["elet", "arope"])
@fuzz_settings(0.1)
@given(data=st.data())
def test_tsv_shuffled_lines_give_the_same_panel(loader, work, tsv_baselines, data):
    files, load, _ = _tsv_loader(loader)
    use = []
    for f in files:
        lines = f.read_text(encoding="utf-8").rstrip("\n").split("\n")
        perm = data.draw(permutation(len(lines) - 1))
        body = [lines[1 + k] for k in perm]
        use.append(_write(work, f.name, "\n".join([lines[0], *body]) + "\n"))
    if len(use) > 1 and data.draw(st.booleans()):
        use.reverse()  # file order does not matter either
    pd.testing.assert_frame_equal(load(use), tsv_baselines[loader])
    record(loader, VALID_SAME, kind="valid")


# ============================================================================================
# CSV exports: read_unemployment and read_invalsi
# ============================================================================================

CSV = {
    "unemployment": dict(
        raw=UNEMP,
        panel="unemployment_provinces",
        read=other_sources.read_unemployment,
        numeric=["prov", "year", "unrate", "partrate", "popdens", "South"],
        integer=["prov", "year", "South"],
        text=["name", "reg"],
        required_numbers=["unrate", "partrate", "popdens"],
        percent=["unrate", "partrate"],
        unbalance=("year", "2031"),
    ),
    "invalsi": dict(
        raw=INVALSI,
        panel="invalsi_provinces",
        read=other_sources.read_invalsi,
        numeric=[
            "Grade",
            "Province_code",
            "Average_percentage_score",
            "WLE_average_score",
            "Students_coverage",
        ],
        integer=["Grade", "Province_code"],
        text=["Year", "Subject", "Province_description"],
        required_numbers=["WLE_average_score"],
        percent=["Average_percentage_score"],
        unbalance=("Subject", "Maths"),
    ),
}

Table = tuple[list[str], list[list[str]]]  # header, rows (the files have no quoted cells)


def _csv_load(loader: str, path: Path) -> pd.DataFrame:
    spec = CSV[loader]
    return _as_panel(spec["panel"], spec["read"](path), path.name)


@pytest.fixture(scope="module")
def csv_baselines() -> dict[str, pd.DataFrame]:
    return {k: _csv_load(k, v["raw"]) for k, v in CSV.items()}


@pytest.fixture(scope="module")
def csv_tables() -> dict[str, Table]:
    """The raw CSV files as header + rows of cell strings, exactly as in the file."""
    out = {}
    for k, v in CSV.items():
        lines = v["raw"].read_text(encoding="utf-8").rstrip("\n").split("\n")
        rows = [ln.split(",") for ln in lines]
        assert {len(r) for r in rows} == {len(rows[0])}  # no quoted commas
        out[k] = (rows[0], rows[1:])
    return out


def _csv_bytes(header: list[str], rows: list[list[str]], sep: str = ",") -> bytes:
    return ("\n".join(sep.join(r) for r in [header, *rows]) + "\n").encode("utf-8")


def _set(rows: list[list[str]], i: int, j: int, value: str) -> list[list[str]]:
    """A shallow copy of ``rows`` with cell (i, j) replaced."""
    out = list(rows)
    out[i] = [*rows[i][:j], value, *rows[i][j + 1 :]]
    return out


def _csv_known_bad(draw: st.DrawFn, loader: str, table: Table) -> tuple[str, bytes]:
    spec = CSV[loader]
    header, rows = table
    kinds = [
        "not_a_number",
        "non_finite",
        "missing",
        "non_integral",
        "out_of_range",
        "duplicate_row",
        "delete_row",
        "missing_column",
        "renamed_column",
        "separator",
        "empty",
        "header_only",
        "encoding",
        "extra_field",
        "unbalanced_key",
    ]
    kind = draw(st.sampled_from(kinds))
    i = draw(st.integers(0, len(rows) - 1))

    def col(name: str) -> int:
        return header.index(name)

    if kind == "not_a_number":
        c = draw(st.sampled_from(spec["numeric"]))
        rows = _set(rows, i, col(c), draw(st.sampled_from(BAD_NUMBERS)))
    elif kind == "non_finite":
        c = draw(st.sampled_from(spec["numeric"]))
        rows = _set(rows, i, col(c), draw(st.sampled_from(["inf", "-inf", "Infinity"])))
    elif kind == "missing":
        c = draw(st.sampled_from(spec["integer"] + spec["text"] + spec["required_numbers"]))
        rows = _set(
            rows, i, col(c), draw(st.sampled_from(["", " "]) if c in spec["text"] else st.just(""))
        )
    elif kind == "non_integral":
        c = draw(st.sampled_from(spec["integer"]))
        frac = draw(st.sampled_from([0.5, 0.25, 0.1]))
        rows = _set(rows, i, col(c), f"{float(rows[i][col(c)]) + frac:g}")
    elif kind == "out_of_range":
        c = draw(st.sampled_from(spec["percent"] + (["South"] if loader == "unemployment" else [])))
        if c == "South":
            value = draw(st.sampled_from(["2", "-1", "5"]))
        else:
            v = draw(st.floats(100.01, 998.9) | st.floats(1000.5, 1e6) | st.floats(-1e6, -0.01))
            value = f"{v:.2f}"
        rows = _set(rows, i, col(c), value)
    elif kind == "duplicate_row":
        rows = [*rows[:i], rows[i], *rows[i:]]
        rows = [rows[k] for k in draw(permutation(len(rows)))]
    elif kind == "delete_row":
        rows = [*rows[:i], *rows[i + 1 :]]
    elif kind == "missing_column":
        j = col(draw(st.sampled_from(spec["numeric"] + spec["text"])))
        header = [*header[:j], *header[j + 1 :]]
        rows = [[*r[:j], *r[j + 1 :]] for r in rows]
    elif kind == "renamed_column":
        c = draw(st.sampled_from(spec["numeric"] + spec["text"]))
        new = draw(
            st.sampled_from(
                [c.upper(), c.lower() + "_", " " + c, c[:-1], c.capitalize() + "s"]
            ).filter(lambda n: n != c)
        )
        header = [new if h == c else h for h in header]
    elif kind == "separator":
        return kind, _csv_bytes(header, rows, draw(st.sampled_from([";", "\t", "|"])))
    elif kind == "empty":
        return kind, draw(st.sampled_from([b"", b"\n", b"\n\n"]))
    elif kind == "header_only":
        rows = []
    elif kind == "encoding":
        enc, data = draw(encodings_of(_csv_bytes(header, rows).decode("utf-8")))
        return f"{kind}:{enc}", data
    elif kind == "extra_field":
        rows = list(rows)
        rows[i] = [*rows[i], draw(st.sampled_from(["x", "", "1.5"]))]
    elif kind == "unbalanced_key":  # a key value that the other units do not have
        c, value = spec["unbalance"]
        rows = _set(rows, i, col(c), value)
    return kind, _csv_bytes(header, rows)


@pytest.mark.parametrize("loader", ["unemployment", "invalsi"])
@fuzz_settings(1.6)
@given(data=st.data())
def test_csv_known_bad_mutation_is_an_error(loader, work, csv_tables, data):
    _, mutated = _csv_known_bad(data.draw, loader, csv_tables[loader])
    bad = _write(work, CSV[loader]["raw"].name, mutated)
    err = expect_error(lambda: _csv_load(loader, bad), source=bad.name)
    _record_error(loader, err)


@pytest.mark.parametrize("loader", ["unemployment", "invalsi"])
@fuzz_settings(0.5)
@given(data=st.data())
def test_csv_random_corruption_is_an_error_or_a_documented_handling(
    loader, work, csv_tables, csv_baselines, data
):
    raw = CSV[loader]["raw"]
    if data.draw(st.booleans(), label="swap header names"):
        # header names permuted without their data ("shuffled headers")
        header, rows = csv_tables[loader]
        perm = data.draw(permutation(len(header)))
        mutated = _csv_bytes([header[k] for k in perm], rows)
    else:
        _, mutated = data.draw(byte_corruption(raw.read_bytes()), label="corruption")
    bad = _write(work, raw.name, mutated)
    status, res = outcome_of(lambda: _csv_load(loader, bad), source=bad.name)
    if status == ERROR:
        _record_error(loader, res)
    else:
        _classify_accepted(loader, res, csv_baselines[loader], raw, mutated)


@pytest.mark.parametrize("loader", ["unemployment", "invalsi"])
@fuzz_settings(0.1)
@given(data=st.data())
def test_csv_shuffled_rows_and_columns_give_the_same_panel(
    loader, work, csv_tables, csv_baselines, data
):
    header, rows = csv_tables[loader]
    order = data.draw(permutation(len(rows)), label="rows")
    cols = data.draw(permutation(len(header)), label="columns")
    shuffled = _csv_bytes([header[j] for j in cols], [[rows[i][j] for j in cols] for i in order])
    bad = _write(work, CSV[loader]["raw"].name, shuffled)
    pd.testing.assert_frame_equal(_csv_load(loader, bad), csv_baselines[loader])
    record(loader, VALID_SAME, kind="valid")


# ============================================================================================
# ISTAT BES workbooks: read_bes_workbook (file level) and parse_bes_sheet (sheet level)
# ============================================================================================

BES_BAD_TOKENS = (
    "abc",
    "12;5",
    "1.2.3",
    "x12",
    "12,5,3",
    "--5",
    "12 %",
    "#N/A",
    "?",
    "1e5",
    "١٢",
    "12,5 (ab)",
    "n.d.",
    True,
    pd.Timestamp("2020-01-01"),
    [1],
    "inf",
    "NaN",
)
EMPTY_ID = (None, np.nan, "", "   ")


@pytest.fixture(scope="module")
def small_bes(tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A 120-row copy of the ed. 2025 workbook (half of it percentages), written once.

    Returns the file, the sheet as :func:`read_bes_workbook` reads it (objects), and the
    parsed baseline.
    """
    dst = tmp_path_factory.mktemp("bes") / "small_bes25.xlsx"
    src = openpyxl.load_workbook(BES25, read_only=True)[SHEET]
    out = openpyxl.Workbook(write_only=True)
    ws = out.create_sheet(SHEET)
    n_pct = 0
    for i, row in enumerate(src.iter_rows(values_only=True)):
        is_pct = i > 0 and row[5] == istat_bes.PERCENT_UNIT
        if i <= 60 or (is_pct and n_pct < 60):
            ws.append(row)
            n_pct += bool(is_pct and i > 60)
        if n_pct >= 60:
            break
    out.save(dst)
    sheet = pd.read_excel(dst, sheet_name=SHEET, dtype=object, engine="openpyxl")
    base = istat_bes.read_bes_workbook(dst, sheet=SHEET, edition="2025")
    return dst, sheet, base


def _bes_parse(sheet: pd.DataFrame) -> pd.DataFrame:
    return istat_bes.parse_bes_sheet(sheet, source="small_bes25.xlsx", edition="2025")


def _bes_key(df: pd.DataFrame) -> pd.DataFrame:
    """Content of a parsed sheet without the Excel row numbers, in key order."""
    return (
        df.drop(columns="row")
        .sort_values(["indicator_code", "sex", "territory", "year"], kind="stable")
        .reset_index(drop=True)
    )


def _bes_known_bad(draw: st.DrawFn, sheet: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    df = sheet.copy()
    years = [c for c in df.columns if str(c).startswith("V2")]
    kinds = [
        "bad_cell",
        "non_finite",
        "out_of_range",
        "empty_id",
        "bad_sex",
        "duplicate_row",
        "missing_column",
        "renamed_column",
        "year_gap",
        "duplicate_year",
        "swapped_years",
        "no_year_columns",
        "no_rows",
        "unknown_column",
    ]
    kind = draw(st.sampled_from(kinds))
    i = draw(st.integers(0, len(df) - 1))
    col = draw(st.sampled_from(years))
    if kind == "bad_cell":
        df.at[i, col] = draw(st.sampled_from(BES_BAD_TOKENS))
    elif kind == "non_finite":
        df.at[i, col] = draw(st.sampled_from([np.inf, -np.inf, float("inf")]))
    elif kind == "out_of_range":
        pct = df.index[
            (df["UNITA_MISURA"] == istat_bes.PERCENT_UNIT)
            & ~df["CODICE"].map(istat_bes.series_code).isin(istat_bes.PERCENT_CAN_EXCEED_100)
        ]
        i = pct[draw(st.integers(0, len(pct) - 1))]
        v = draw(st.floats(100.1, 1e5) | st.floats(-1e5, -0.1))
        df.at[i, col] = draw(st.sampled_from([f"{v:.1f}".replace(".", ","), v]))
    elif kind == "empty_id":
        df.at[
            i,
            draw(
                st.sampled_from(
                    ["CODICE", "SESSO", "TERRITORIO", "DOMINIO", "INDICATORE", "UNITA_MISURA"]
                )
            ),
        ] = draw(st.sampled_from(EMPTY_ID))
    elif kind == "bad_sex":
        df.at[i, "SESSO"] = draw(st.sampled_from(["Tot", "maschi", "X", "M", "Femmina"]))
    elif kind == "duplicate_row":
        df = pd.concat([df, df.iloc[[i]]], ignore_index=True)
        df = df.iloc[draw(permutation(len(df)))].reset_index(drop=True)
    elif kind == "missing_column":
        df = df.drop(columns=draw(st.sampled_from(istat_bes.ID_COLUMNS)))
    elif kind == "renamed_column":
        c = draw(st.sampled_from([*istat_bes.ID_COLUMNS, *years]))
        new = draw(
            st.sampled_from(
                [c.lower(), c + " ", "X" + c[1:], c.replace("V", "V_V"), "Unnamed: 3"]
            ).filter(lambda n: n != c)
        )
        df = df.rename(columns={c: new})
    elif kind == "year_gap":  # a year column missing in the middle
        df = df.drop(columns=years[draw(st.integers(1, len(years) - 2))])
    elif kind == "duplicate_year":
        k = draw(st.integers(1, len(years) - 1))  # V2006 -> V_2005 next to V2005
        df = df.rename(columns={years[k]: f"V_{years[k - 1][1:]}"})
    elif kind == "swapped_years":  # header names swapped without their data
        a, b = draw(st.lists(st.sampled_from(years), min_size=2, max_size=2, unique=True))
        df = df.rename(columns={a: b, b: a})
    elif kind == "no_year_columns":
        df = df.drop(columns=years)
    elif kind == "no_rows":
        df = df.iloc[:0]
    elif kind == "unknown_column":
        df = df.assign(**{draw(st.sampled_from(["COMMENTO", "V2024b", "Unnamed: 40"])): "x"})
    return kind, df


@fuzz_settings(1.8)
@given(data=st.data())
def test_bes_sheet_known_bad_mutation_is_an_error(small_bes, data):
    _, sheet, _ = small_bes
    _, bad = _bes_known_bad(data.draw, sheet)
    expect_error(lambda: _bes_parse(bad), source="small_bes25.xlsx")
    record("bes", ERROR)


@pytest.fixture(scope="module")
def bad_workbooks(small_bes) -> dict[str, bytes]:
    """Whole-file mutations of the small workbook that are not byte corruption (built once)."""
    path, sheet, _ = small_bes
    out = {
        "empty": b"",
        "text": b"not a workbook",
        "zip header only": b"PK\x03\x04broken",
        "csv under .xlsx name": sheet.to_csv(index=False).encode("utf-8"),
        "half the file": path.read_bytes()[: path.stat().st_size // 2],
    }
    for title in ("Foglio1", SHEET.lower()):
        wb = openpyxl.load_workbook(path)
        wb[SHEET].title = title
        buf = io.BytesIO()
        wb.save(buf)
        out[f"sheet renamed {title}"] = buf.getvalue()
    return out


@fuzz_settings(0.3)
@given(data=st.data())
def test_bes_workbook_file_corruption_is_an_error_or_a_documented_handling(
    work, small_bes, bad_workbooks, data
):
    path, _, base = small_bes
    choice = data.draw(st.sampled_from(["bytes", "bytes", "bytes", *sorted(bad_workbooks)]))
    if choice == "bytes":
        _, mutated = data.draw(byte_corruption(path.read_bytes()), label="corruption")
    else:
        mutated = bad_workbooks[choice]
    bad = _write(work, "small_bes25.xlsx", mutated)
    status, res = outcome_of(
        lambda: istat_bes.read_bes_workbook(bad, sheet=SHEET, edition="2025"),
        source="small_bes25.xlsx",
    )
    if status == ERROR:
        record("bes", ERROR)
        return
    assert choice == "bytes", "a non-workbook was accepted"
    try:
        pd.testing.assert_frame_equal(res, base)
        outcome = SAME
    except AssertionError:
        outcome = "accepted: different values (a valid-looking workbook)"
    record("bes", outcome)


@fuzz_settings(0.1)
@given(data=st.data())
def test_bes_shuffled_rows_and_columns_give_the_same_values(small_bes, data):
    _, sheet, base = small_bes
    rows = data.draw(permutation(len(sheet)), label="rows")
    fixed = [c for c in sheet.columns if not str(c).startswith("V2")]
    cols = data.draw(st.permutations(fixed), label="id columns")
    years = [c for c in sheet.columns if str(c).startswith("V2")]
    shuffled = sheet.iloc[rows][[*cols, *years]].reset_index(drop=True)
    pd.testing.assert_frame_equal(_bes_key(_bes_parse(shuffled)), _bes_key(base))
    record("bes", VALID_SAME, kind="valid")
