"""Property-based tests of the programme-panel loader :func:`analysis.data.programme.load_panel`.

Each example starts from a simulated panel (``programme_panel(seed, n_schools=3,
n_pupils=60)``; SIMULATED data), applies one mutation and checks the outcome:

* **known-bad** (wrong type, non-integer, missing/renamed/duplicated column, NaN where not
  allowed, inf, out of range, duplicate pupil-year, two schools in a year, cohort not constant
  or outside the data's years, treatment reversal, unknown sex, rows after dropout, baseline
  not constant, course/cohort mismatch, implausible age, direct identifiers, empty ids, no
  rows, not a panel at all) → :class:`~analysis.errors.DataValidationError` naming the source;
* **file level** (CSV/parquet: wrong encoding or separator, empty or header-only file, ragged
  or truncated lines, random byte corruption) → the error, or, for random corruption only, a
  result that satisfies the contract (counted: identical, or different values);
* **unbalanced panels** (pupil-years removed, incl. a participant's pre- or post-period) →
  the documented handling: with ``exclusions="report"`` every removed row is counted in the
  exclusions table and no other row is lost; with the default ``"raise"`` the same input is
  an error exactly when an exclusion rule applies;
* **valid shuffles** (rows and columns permuted, as a DataFrame or a CSV file) → the same
  panel.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.data.programme import (
    COLUMNS,
    EXCLUSION_RULES,
    LoadedPanel,
    load_panel,
    validate_panel,
)
from analysis.data.simulate import programme_panel
from fuzzing import (
    BAD_NUMBERS,
    ERROR,
    NON_FINITE,
    SAME,
    VALID_SAME,
    byte_corruption,
    encodings_of,
    expect_error,
    fuzz_settings,
    fuzz_summary,  # noqa: F401  (session fixture: prints the counts)
    mutated,
    outcome_of,
    permutation,
    record,
)

LOADER = "programme"
SEEDS = (11, 12, 13)
SPECS = {c.name: c for c in COLUMNS}
NUMERIC = [c.name for c in COLUMNS if c.kind != "str"]
INTEGER = [c.name for c in COLUMNS if c.kind in ("int", "binary")]
NEVER_MISSING = [
    "pupil_id",
    "school_id",
    "year",
    "dropped_out",
    "sex",
    "birth_year",
    "grade_level",
    "foreign_born",
    "baseline_absence",
    "treated",
]
BASELINE = ["sex", "birth_year", "foreign_born", "baseline_absence", "ses_index"]
HANDLED = "handled: rows excluded and counted (exclusions='report'); error under 'raise'"
KEPT = "accepted: valid under the contract (gaps/attrition allowed), every row kept"
DIFFERENT = "accepted: different values (valid under the contract)"


@pytest.fixture(scope="module")
def panels() -> list[pd.DataFrame]:
    out = []
    for seed in SEEDS:
        df = programme_panel(seed=seed, n_schools=3, n_pupils=60).data
        assert (df["cohort"] > 0).any() and (df["cohort"] == 0).any()
        out.append(df)
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_programme")


def _pupils(df: pd.DataFrame, *, treated: bool | None = None, min_rows: int = 1) -> list[str]:
    g = df.groupby("pupil_id")
    ok = g.size() >= min_rows
    if treated is not None:
        ok &= (g["cohort"].first() > 0) == treated
    return sorted(ok[ok].index)


def _rows_of(df: pd.DataFrame, pid: str) -> np.ndarray:
    return np.flatnonzero(df["pupil_id"].to_numpy() == pid)


def _obj(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Allow any value in ``col`` (pandas 3 refuses to upcast on assignment)."""
    return df.astype({col: object})


# ============================================================================================
# Known-bad mutations of the panel
# ============================================================================================

KINDS = [
    "wrong_type",
    "non_integer",
    "missing_column",
    "renamed_column",
    "duplicate_column",
    "nan_not_allowed",
    "nan_outcome",
    "infinite",
    "out_of_range",
    "duplicate_row",
    "two_schools",
    "cohort_not_constant",
    "cohort_outside",
    "treatment_reversal",
    "treated_mismatch",
    "unknown_sex",
    "rows_after_dropout",
    "baseline_not_constant",
    "course_never_treated",
    "course_missing",
    "age",
    "codice_fiscale",
    "identifier_column",
    "empty_id",
    "no_rows",
]


def _known_bad(draw: st.DrawFn, panel: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    df = panel.copy()
    kind = draw(st.sampled_from(KINDS), label="kind")
    i = draw(st.integers(0, len(df) - 1), label="row")
    if kind == "wrong_type":
        col = draw(st.sampled_from(NUMERIC))
        df = _obj(df, col)
        df.at[i, col] = draw(
            st.sampled_from(
                [*BAD_NUMBERS, "2021-22", "yes", "0,5", (1,), {"a": 1}, pd.Timestamp("2021-09-01")]
            )
        )
    elif kind == "non_integer":
        col = draw(
            st.sampled_from(
                ["year", "cohort", "birth_year", "grade_level", "dropped_out", "foreign_born"]
            )
        )
        if col == "cohort":  # a participant's cohort, so that it is not the 0 of never-treated
            i = int(np.flatnonzero((df["cohort"] > 0).to_numpy())[0])
        df = df.astype({col: float})
        df.at[i, col] = df.at[i, col] + draw(st.sampled_from([0.5, 0.25, 0.001]))
    elif kind == "missing_column":
        df = df.drop(columns=draw(st.sampled_from([c.name for c in COLUMNS if c.required])))
    elif kind == "renamed_column":
        col = draw(st.sampled_from([c.name for c in COLUMNS if c.required]))
        new = draw(
            st.sampled_from([col.upper(), col + " ", col.replace("_", ""), col[:-1]]).filter(
                lambda n: n != col
            )
        )
        df = df.rename(columns={col: new})
    elif kind == "duplicate_column":
        col = draw(st.sampled_from(list(df.columns)))
        df = pd.concat([df, df[[col]]], axis=1)
    elif kind == "nan_not_allowed":
        col = draw(st.sampled_from(NEVER_MISSING))
        df = _obj(df, col)
        df.at[i, col] = draw(st.sampled_from([None, np.nan, pd.NA]))
    elif kind == "nan_outcome":
        rows = np.flatnonzero((df["dropped_out"] == 0).to_numpy())
        i = int(rows[draw(st.integers(0, len(rows) - 1))])
        df.at[i, draw(st.sampled_from(["absence_rate", "repeated_grade", "grade_avg"]))] = np.nan
    elif kind == "infinite":
        col = draw(
            st.sampled_from(
                [
                    "absence_rate",
                    "grade_avg",
                    "invalsi_score",
                    "baseline_absence",
                    "ses_index",
                    "year",
                    "birth_year",
                ]
            )
        )
        df = df.astype({col: float})
        df.at[i, col] = draw(st.sampled_from([np.inf, -np.inf]))
    elif kind == "out_of_range":
        col = draw(
            st.sampled_from([c.name for c in COLUMNS if c.low is not None and c.name != "treated"])
        )
        spec = SPECS[col]
        value = draw(
            st.floats(spec.high + 1e-3, spec.high + 1e4)
            | st.floats(spec.low - 1e4, spec.low - 1e-3)
        )
        if spec.kind in ("int", "binary"):
            value = float(np.floor(value) if value > spec.high else np.ceil(value))
            value = value if not spec.low <= value <= spec.high else spec.high + 1
        df = df.astype({col: float})
        df.at[i, col] = value
    elif kind == "duplicate_row":
        df = pd.concat([df, df.iloc[[i]]], ignore_index=True)
    elif kind == "two_schools":
        row = df.iloc[[i]].copy()
        row["school_id"] = draw(st.sampled_from(["SCH999", "X", row["school_id"].iloc[0] + "b"]))
        df = pd.concat([df, row], ignore_index=True)
    elif kind == "cohort_not_constant":
        pid = draw(st.sampled_from(_pupils(df, min_rows=2)))
        k = _rows_of(df, pid)[draw(st.integers(0, len(_rows_of(df, pid)) - 1))]
        years = sorted(df["year"].unique())
        df.at[k, "cohort"] = draw(
            st.sampled_from([y for y in [0, *years] if y != df.at[k, "cohort"]])
        )
        df = df.drop(columns="treated")
    elif kind == "cohort_outside":
        pid = draw(st.sampled_from(_pupils(df)))
        lo, hi = int(df["year"].min()), int(df["year"].max())
        c = draw(st.integers(hi + 1, 2040) | st.integers(2000, lo - 1))
        rows = _rows_of(df, pid)
        df.loc[rows, "cohort"] = c
        df.loc[rows, "course"] = "STEAMcamp"
        df = df.drop(columns="treated")
    elif kind == "treatment_reversal":
        pids = [
            p for p in _pupils(df, treated=True) if df.loc[_rows_of(df, p), "treated"].sum() >= 2
        ]
        pid = draw(st.sampled_from(pids))
        rows = [r for r in _rows_of(df, pid) if df.at[r, "treated"] == 1]
        k = rows[draw(st.integers(1, len(rows) - 1))]  # not the first treated year
        df.at[k, "treated"] = 0
    elif kind == "treated_mismatch":
        df.at[i, "treated"] = 1 - df.at[i, "treated"]
    elif kind == "unknown_sex":
        df.loc[_rows_of(df, df.at[i, "pupil_id"]), "sex"] = draw(
            st.sampled_from(["X", "f", "Male", "U", "0"])
        )
    elif kind == "rows_after_dropout":
        pid = draw(st.sampled_from(_pupils(df, min_rows=2)))
        rows = _rows_of(df, pid)
        last = rows[np.argmax(df.loc[rows, "year"].to_numpy())]
        k = draw(st.sampled_from([r for r in rows if r != last]))
        df.at[k, "dropped_out"] = 1
    elif kind == "baseline_not_constant":
        pid = draw(st.sampled_from(_pupils(df, min_rows=2)))
        k = _rows_of(df, pid)[0]
        col = draw(st.sampled_from(BASELINE))
        if col == "sex":
            df.at[k, col] = "M" if df.at[k, col] == "F" else "F"
        elif col == "foreign_born":
            df.at[k, col] = 1 - df.at[k, col]
        elif col == "birth_year":
            df.at[k, col] = df.at[k, col] + draw(st.sampled_from([-1, 1]))
        else:
            df.at[k, col] = min(1.0, df.at[k, col] + 0.01) if df.at[k, col] < 0.99 else 0.5
    elif kind == "course_never_treated":
        pid = draw(st.sampled_from(_pupils(df, treated=False)))
        df.loc[_rows_of(df, pid), "course"] = draw(st.sampled_from(["STEAMcamp", "x", "0"]))
    elif kind == "course_missing":
        pid = draw(st.sampled_from(_pupils(df, treated=True)))
        df.loc[_rows_of(df, pid), "course"] = draw(st.sampled_from(["", " ", "NA"]))
    elif kind == "age":
        pid = draw(st.sampled_from(_pupils(df)))
        df.loc[_rows_of(df, pid), "birth_year"] = draw(
            st.sampled_from([1985, 1990, 1995, 2018, 2020])
        )
    elif kind == "codice_fiscale":
        pid = draw(st.sampled_from(_pupils(df)))
        df.loc[_rows_of(df, pid), "pupil_id"] = draw(
            st.sampled_from(["RSSMRA85T10A562S", "bncgnn07a41e506x"])
        )
    elif kind == "identifier_column":
        df[
            draw(
                st.sampled_from(["nome", "Cognome", "Codice Fiscale", "e-mail", "dob", "Indirizzo"])
            )
        ] = "x"
    elif kind == "empty_id":
        col = draw(st.sampled_from(["pupil_id", "school_id"]))
        df.at[i, col] = draw(st.sampled_from(["", "  "]))
    elif kind == "no_rows":
        df = df.iloc[:0]
    return kind, df


@fuzz_settings(1.2)
@given(data=st.data())
def test_known_bad_panel_is_an_error(panels, data):
    panel = panels[data.draw(st.integers(0, len(panels) - 1), label="panel")]
    _, bad = _known_bad(data.draw, panel)
    bad = bad.iloc[data.draw(permutation(len(bad)), label="row order")] if len(bad) > 1 else bad
    expect_error(lambda: load_panel(bad), source="DataFrame argument")
    record(LOADER, ERROR)


@fuzz_settings(0.05)
@given(
    source=st.sampled_from(
        [None, 5, 3.5, ["a.csv"], {"pupil_id": ["P1"]}, b"panel.csv", np.zeros((2, 2))]
    )
)
def test_a_source_that_is_not_a_panel_is_an_error(source):
    expect_error(lambda: load_panel(source), source="argument")
    record(LOADER, ERROR)


# ============================================================================================
# Files: CSV and parquet
# ============================================================================================


def _csv(df: pd.DataFrame, **kw) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", **kw)
    return buf.getvalue().encode("utf-8")


def _file_known_bad(draw: st.DrawFn, panel: pd.DataFrame) -> tuple[str, str, bytes]:
    """(kind, suffix, bytes) of a file that must be refused."""
    text = _csv(panel).decode()
    kind = draw(
        st.sampled_from(
            [
                "encoding",
                "separator",
                "empty",
                "header_only",
                "ragged",
                "truncated_line",
                "parquet_broken",
                "unsupported_suffix",
            ]
        )
    )
    if kind == "encoding":
        return kind, ".csv", draw(encodings_of(text))[1]
    if kind == "separator":
        return kind, ".csv", _csv(panel, sep=draw(st.sampled_from([";", "\t", "|"])))
    if kind == "empty":
        return kind, ".csv", draw(st.sampled_from([b"", b"\n", b"\n\n"]))
    if kind == "header_only":
        return kind, ".csv", text.split("\n")[0].encode() + b"\n"
    lines = text.rstrip("\n").split("\n")
    k = draw(st.integers(1, len(lines) - 1))
    if kind == "ragged":  # a field added or removed
        cells = lines[k].split(",")
        lines[k] = ",".join([*cells, "x"] if draw(st.booleans()) else cells[:-1])
        return kind, ".csv", ("\n".join(lines) + "\n").encode()
    if kind == "truncated_line":  # a line cut before its last field
        cut = draw(st.integers(1, lines[k].rfind(",")))
        return kind, ".csv", ("\n".join([*lines[:k], lines[k][:cut]]) + "\n").encode()
    if kind == "parquet_broken":
        buf = io.BytesIO()
        panel.to_parquet(buf)
        data = buf.getvalue()
        return (
            kind,
            ".parquet",
            draw(
                st.sampled_from(
                    [
                        mutated(b"", "empty"),
                        mutated(data[: len(data) // 2], "first half"),
                        mutated(text.encode(), "a CSV"),
                        mutated(data[:-8], "footer cut"),
                    ]
                )
            ),
        )
    return kind, draw(st.sampled_from([".xlsx", ".txt", ".json", ""])), text.encode()


@fuzz_settings(0.3)
@given(data=st.data())
def test_known_bad_file_is_an_error(panels, work, data):
    panel = panels[data.draw(st.integers(0, len(panels) - 1), label="panel")]
    kind, suffix, blob = _file_known_bad(data.draw, panel)
    path = work / f"registers{suffix}"
    path.write_bytes(blob)
    expect_error(lambda: load_panel(path), source=str(path))
    record(LOADER, ERROR)


@fuzz_settings(0.25)
@given(data=st.data())
def test_random_file_corruption_is_an_error_or_a_valid_panel(panels, work, data):
    panel = panels[data.draw(st.integers(0, len(panels) - 1), label="panel")]
    suffix = data.draw(st.sampled_from([".csv", ".csv", ".parquet"]))
    if suffix == ".csv":
        original = _csv(panel)
    else:
        buf = io.BytesIO()
        panel.to_parquet(buf)
        original = buf.getvalue()
    _, blob = data.draw(byte_corruption(original), label="corruption")
    path = work / f"registers{suffix}"
    path.write_bytes(blob)
    status, res = outcome_of(lambda: load_panel(path), source=str(path))
    if status == ERROR:
        record(LOADER, ERROR)
        return
    validate_panel(res)  # whatever is accepted satisfies the whole contract
    try:
        pd.testing.assert_frame_equal(res, panel, check_exact=False, rtol=1e-12)
        record(LOADER, SAME)
    except AssertionError:
        record(LOADER, DIFFERENT)


# ============================================================================================
# Unbalanced panels: pupil-years removed
# ============================================================================================


def _drop_rows(draw: st.DrawFn, panel: pd.DataFrame) -> pd.DataFrame:
    how = draw(st.sampled_from(["random", "pre_period", "post_period"]), label="drop")
    if how == "random":
        k = draw(st.integers(1, 6))
        rows = draw(st.lists(st.integers(0, len(panel) - 1), min_size=k, max_size=k, unique=True))
        drop = panel.index[rows]
    else:
        pid = draw(st.sampled_from(_pupils(panel, treated=True)))
        rows = panel.index[panel["pupil_id"] == pid]
        post = panel.loc[rows, "treated"] == 1
        drop = rows[~post] if how == "pre_period" else rows[post]
        if len(drop) == 0:  # no such rows: drop one of the pupil's rows instead
            drop = rows[:1]
    return panel.drop(index=drop).reset_index(drop=True)


@fuzz_settings(0.4)
@given(data=st.data())
def test_unbalanced_panel_rows_are_excluded_and_counted_or_kept(panels, data):
    panel = panels[data.draw(st.integers(0, len(panels) - 1), label="panel")]
    bad = _drop_rows(data.draw, panel)
    if data.draw(st.booleans(), label="treated column given"):
        bad = bad.drop(columns="treated")
    status, res = outcome_of(
        lambda: load_panel(bad, exclusions="report"), source="DataFrame argument"
    )
    if status == ERROR:  # e.g. a gap that breaks another rule
        record(LOADER, ERROR)
        return
    assert isinstance(res, LoadedPanel)
    ex = res.exclusions.set_index("rule")
    assert set(ex.index) == set(EXCLUSION_RULES)
    # every input row is either in the analysis panel or in the excluded table: none lost
    assert len(res.data) + len(res.excluded) == len(bad)
    assert ex["n_rows"].sum() == len(res.excluded)  # every excluded row counted once
    assert ex["n_pupils"].sum() == res.excluded["pupil_id"].nunique()
    keys = set(zip(bad["pupil_id"], bad["year"], strict=True))
    kept = set(zip(res.data["pupil_id"], res.data["year"], strict=True))
    gone = set(zip(res.excluded["pupil_id"], res.excluded["year"], strict=True))
    assert kept | gone == keys and not kept & gone
    assert res.input_counts["pupil_years"] == len(bad)
    flow = res.sample_flow().set_index("step")
    assert flow.loc["analysis panel", "pupil_years"] == len(res.data)
    if len(res.excluded):
        expect_error(lambda: load_panel(bad), source="DataFrame argument")
        record(LOADER, HANDLED)
    else:
        out = load_panel(bad)
        pd.testing.assert_frame_equal(out, res.data)
        record(LOADER, KEPT)


# ============================================================================================
# Valid shuffles
# ============================================================================================


@fuzz_settings(0.1)
@given(data=st.data())
def test_shuffled_rows_and_columns_give_the_same_panel(panels, work, data):
    i = data.draw(st.integers(0, len(panels) - 1), label="panel")
    panel = panels[i]
    rows = data.draw(permutation(len(panel)), label="rows")
    cols = [panel.columns[k] for k in data.draw(permutation(len(panel.columns)), label="cols")]
    shuffled = panel.iloc[rows][cols]
    if data.draw(st.booleans(), label="as CSV"):
        path = work / "shuffled.csv"
        path.write_bytes(_csv(shuffled))
        out = load_panel(path)
        pd.testing.assert_frame_equal(out, panel, check_exact=False, rtol=1e-12)
    else:
        pd.testing.assert_frame_equal(load_panel(shuffled), panel)
    record(LOADER, VALID_SAME, kind="valid")


def test_nonfinite_spellings_in_a_csv_are_errors(panels, work):
    """The CSV spellings of NaN/inf the fuzz tests use are refused where not allowed."""
    for token in NON_FINITE:
        bad = _obj(panels[0].copy(), "baseline_absence")
        bad.at[3, "baseline_absence"] = token
        path = work / "nonfinite.csv"
        path.write_bytes(_csv(bad))
        err = expect_error(lambda p=path: load_panel(p), source=str(path))
        assert any(v.column == "baseline_absence" for v in err.violations), str(err)
        record(LOADER, ERROR)
