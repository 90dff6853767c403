"""Programme panel contract: schema, loader, violations, exclusions, sample flow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.programme import (
    COLUMNS,
    PANEL_SCHEMA,
    LoadedPanel,
    data_dictionary,
    load_panel,
    sample_flow,
    validate_panel,
)
from analysis.data.simulate import programme_panel
from analysis.errors import DataValidationError


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return programme_panel(seed=7, n_schools=6, n_pupils=400).data


def _treated_pupil(df: pd.DataFrame) -> str:
    """A participant with a pre-period and at least two post rows."""
    g = df[df["cohort"] > 0].groupby("pupil_id")
    first, n_post = g["year"].min(), g["treated"].sum()
    cohort = g["cohort"].first()
    ok = (first < cohort) & (n_post >= 2)
    return str(ok[ok].index[0])


def _never_treated_multi(df: pd.DataFrame) -> str:
    g = df[df["cohort"] == 0].groupby("pupil_id").size()
    return str(g[g >= 3].index[0])


def _first_row(df: pd.DataFrame, pid: str) -> int:
    return int(np.flatnonzero(df["pupil_id"].to_numpy() == pid)[0])


def _violation(err: DataValidationError, column: str, words: str):
    hits = [v for v in err.violations if v.column == column and words in v.rule]
    assert hits, f"no violation ({column!r}, {words!r}) in:\n{err}"
    return hits[0]


# ---- acceptance -------------------------------------------------------------------------


def test_schema_accepts_simulated_panel(panel):
    PANEL_SCHEMA.validate(panel, lazy=True)
    assert validate_panel(panel) is panel
    loaded = load_panel(panel)
    pd.testing.assert_frame_equal(loaded, panel)


def test_load_panel_does_not_modify_input(panel):
    copy = panel.copy()
    load_panel(panel.iloc[::-1])  # unsorted input is fine and gets sorted
    pd.testing.assert_frame_equal(panel, copy)
    out = load_panel(panel.sample(frac=1.0, random_state=0))
    pd.testing.assert_frame_equal(out, panel)


def test_csv_and_parquet_round_trip(panel, tmp_path):
    csv, pq = tmp_path / "panel.csv", tmp_path / "panel.parquet"
    panel.to_csv(csv, index=False)
    panel.to_parquet(pq)
    pd.testing.assert_frame_equal(load_panel(csv), panel, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(load_panel(pq), panel)


def test_canonical_dtypes_and_missing_cohort_normalised(panel, tmp_path):
    raw = panel.drop(columns="treated").copy()
    raw["cohort"] = raw["cohort"].astype(object).where(raw["cohort"] > 0, "")
    raw["year"] = raw["year"].astype(float)  # 2021.0 is an integer
    path = tmp_path / "p.csv"
    raw.to_csv(path, index=False)
    out = load_panel(path)
    for spec in COLUMNS:
        assert str(out[spec.name].dtype) == spec.dtype, spec.name
    assert (out.loc[out["course"] == "", "cohort"] == 0).all()
    pd.testing.assert_series_equal(out["treated"], panel["treated"])


def test_data_dictionary_lists_every_column():
    dd = data_dictionary()
    assert list(dd["column"]) == [c.name for c in COLUMNS]
    assert dd.loc[dd["column"] == "grade_level", "values"].item() == "6 to 13"


# ---- violations -------------------------------------------------------------------------


def _m_missing_column(df):
    return df.drop(columns="grade_avg")


def _m_wrong_type(df):
    df = df.astype({"year": object})
    df.loc[3, "year"] = "twenty-one"
    return df


def _m_non_integer(df):
    df = df.astype({"grade_level": float})
    df.loc[2, "grade_level"] = 7.5
    return df


def _m_out_of_range(df):
    df.loc[5, "absence_rate"] = 1.5
    return df


def _m_grade_out_of_range(df):
    df.loc[6, "grade_level"] = 14
    return df


def _m_binary_out_of_range(df):
    df.loc[0, "repeated_grade"] = 2.0
    return df


def _m_nan_not_allowed(df):
    df.loc[4, "baseline_absence"] = np.nan
    return df


def _m_nan_outcome_outside_dropout(df):
    i = int(np.flatnonzero((df["dropped_out"] == 0).to_numpy())[0])
    df.loc[i, "grade_avg"] = np.nan
    return df


def _m_infinite(df):
    df.loc[1, "ses_index"] = np.inf
    return df


def _m_duplicate(df):
    return pd.concat([df, df.iloc[[10]]], ignore_index=True)


def _m_two_schools(df):
    row = df.iloc[[10]].copy()
    row["school_id"] = "SCH999"
    return pd.concat([df, row], ignore_index=True)


def _m_cohort_not_constant(df):
    pid = _treated_pupil(df)
    i = _first_row(df, pid)
    df.loc[i, "cohort"] = 2021 if df.loc[i, "cohort"] != 2021 else 2022
    return df.drop(columns="treated")


def _m_cohort_outside_years(df):
    pid = _never_treated_multi(df)
    sel = df["pupil_id"] == pid
    df.loc[sel, "cohort"] = 2035
    df.loc[sel, "course"] = "STEAMcamp 2035/36"
    return df.drop(columns="treated")


def _m_treatment_reversal(df):
    pid = _treated_pupil(df)
    rows = np.flatnonzero(((df["pupil_id"] == pid) & (df["treated"] == 1)).to_numpy())
    df.loc[rows[-1], "treated"] = 0
    return df


def _m_unknown_sex(df):
    pid = _never_treated_multi(df)
    df.loc[df["pupil_id"] == pid, "sex"] = "X"
    return df


def _m_rows_after_dropout(df):
    pid = _never_treated_multi(df)
    df.loc[_first_row(df, pid), "dropped_out"] = 1.0
    return df


def _m_baseline_not_constant(df):
    pid = _never_treated_multi(df)
    df.loc[_first_row(df, pid), "foreign_born"] = 1 - df.loc[_first_row(df, pid), "foreign_born"]
    return df


def _m_course_never_treated(df):
    pid = _never_treated_multi(df)
    df.loc[df["pupil_id"] == pid, "course"] = "STEAMcamp"
    return df


def _m_age(df):
    pid = _never_treated_multi(df)
    df.loc[df["pupil_id"] == pid, "birth_year"] = 1985
    return df


def _m_codice_fiscale(df):
    pid = _never_treated_multi(df)
    df.loc[df["pupil_id"] == pid, "pupil_id"] = "RSSMRA85T10A562S"
    return df


def _m_identifier_column(df):
    return df.assign(Cognome="Rossi")


VIOLATIONS = [
    (_m_missing_column, "grade_avg", "required column missing"),
    (_m_wrong_type, "year", "wrong type"),
    (_m_non_integer, "grade_level", "wrong type"),
    (_m_out_of_range, "absence_rate", "out of range"),
    (_m_grade_out_of_range, "grade_level", "out of range"),
    (_m_binary_out_of_range, "repeated_grade", "out of range: must be 0 or 1"),
    (_m_nan_not_allowed, "baseline_absence", "missing value (NaN) not allowed"),
    (_m_nan_outcome_outside_dropout, "grade_avg", "not allowed in a year without dropout"),
    (_m_infinite, "ses_index", "infinite value"),
    (_m_duplicate, "pupil_id, year", "duplicate (pupil_id, year)"),
    (_m_two_schools, "school_id", "school not constant within pupil-year"),
    (_m_cohort_not_constant, "cohort", "cohort not constant within pupil"),
    (_m_cohort_outside_years, "cohort", "cohort outside the data's years"),
    (_m_treatment_reversal, "treated", "treatment reversal"),
    (_m_unknown_sex, "sex", "unknown sex code"),
    (_m_rows_after_dropout, "dropped_out", "rows after dropout"),
    (_m_baseline_not_constant, "foreign_born", "not constant within pupil"),
    (_m_course_never_treated, "course", "course must be empty for never-treated"),
    (_m_age, "birth_year", "age (year − birth_year)"),
    (_m_codice_fiscale, "pupil_id", "codice fiscale"),
    (_m_identifier_column, "Cognome", "direct identifier"),
]


@pytest.mark.parametrize(
    ("mutate", "column", "rule"), VIOLATIONS, ids=[m.__name__[3:] for m, _, _ in VIOLATIONS]
)
def test_each_rule_raises_with_column_rows_and_rule(panel, mutate, column, rule):
    bad = mutate(panel.copy())
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    err = info.value
    msg = str(err)
    assert "DataFrame argument" in msg
    assert column in msg and rule in msg
    v = _violation(err, column, rule)
    if rule not in ("required column missing", "direct identifier"):
        assert v.rows, "row-level rule must name the first offending rows"
        assert v.n_rows >= 1


def test_all_violations_are_collected_in_one_error(panel):
    bad = _m_infinite(_m_out_of_range(_m_unknown_sex(panel.copy())))
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    rules = {(v.column, v.rule.split(":")[0]) for v in info.value.violations}
    assert {
        ("ses_index", "infinite value (inf or -inf)"),
        ("absence_rate", "out of range"),
        ("sex", "unknown sex code"),
    } <= rules


def test_csv_error_names_file_line_and_year_never_the_pupil(panel, tmp_path):
    bad = panel.copy()
    bad.loc[5, "absence_rate"] = 1.5
    path = tmp_path / "school_registers.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_panel(path)
    v = _violation(info.value, "absence_rate", "out of range")
    pid, year = panel.loc[5, "pupil_id"], panel.loc[5, "year"]
    assert v.rows[0] == f"line 7 (year {year})"  # header is line 1, row 0 is line 2
    assert str(path) in str(info.value)
    assert pid not in str(info.value)  # positions, never pupil ids (issue 10)


def test_unparseable_cell_is_reported_once(panel, tmp_path):
    bad = panel.astype({"absence_rate": object})
    bad.loc[8, "absence_rate"] = "12%"
    path = tmp_path / "p.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_panel(path)
    cols = [v.column for v in info.value.violations]
    assert cols == ["absence_rate"]
    assert "wrong type" in info.value.violations[0].rule


def test_missing_column_does_not_hide_other_violations(panel):
    bad = _m_unknown_sex(panel.drop(columns=["grade_avg", "birth_year"]))
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    found = {(v.column, v.rule) for v in info.value.violations}
    assert ("grade_avg", "required column missing") in found
    assert ("birth_year", "required column missing") in found
    _violation(info.value, "sex", "unknown sex code")


def test_bad_sources():
    with pytest.raises(DataValidationError, match="file not found"):
        load_panel("/nonexistent/panel.csv")
    with pytest.raises(ValueError, match="exclusions"):
        load_panel(pd.DataFrame(), exclusions="drop")


# ---- exclusions and sample flow -----------------------------------------------------------


def _without_pre_period(df: pd.DataFrame) -> tuple[pd.DataFrame, str, int]:
    pid = _treated_pupil(df)
    pre = (df["pupil_id"] == pid) & (df["treated"] == 0)
    kept_rows = int(((df["pupil_id"] == pid) & ~pre).sum())
    return df.loc[~pre].reset_index(drop=True), pid, kept_rows


def test_no_pre_period_raises_by_default(panel, tmp_path):
    bad, pid, _ = _without_pre_period(panel)
    path = tmp_path / "p.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_panel(path)
    v = _violation(info.value, "cohort", "no pre-treatment year")
    assert "exclusions='report'" in v.rule
    i = _first_row(bad, pid)
    assert v.rows[0] == f"line {i + 2} (year {bad.loc[i, 'year']})"
    assert pid not in str(info.value)


def test_exclusions_report(panel):
    bad, pid, n_rows = _without_pre_period(panel)
    loaded = load_panel(bad, exclusions="report")
    assert isinstance(loaded, LoadedPanel)
    ex = loaded.exclusions.set_index("rule")
    assert ex.loc["no_pre_period", "n_pupils"] == 1
    assert ex.loc["no_pre_period", "n_rows"] == n_rows
    assert ex.loc["no_post_period", "n_rows"] == 0
    assert pid not in set(loaded.data["pupil_id"])
    assert set(loaded.excluded["pupil_id"]) == {pid}
    assert (loaded.excluded["exclusion_rule"] == "no_pre_period").all()
    assert len(loaded.data) + len(loaded.excluded) == len(bad)

    flow = sample_flow(loaded).set_index("step")
    n_in = bad["pupil_id"].nunique()
    assert flow.loc["input", "pupils"] == n_in
    assert flow.loc["analysis panel", "pupils"] == n_in - 1
    assert flow.loc["analysis panel", "pupil_years"] == len(bad) - n_rows
    assert flow.loc["input", "participants"] - 1 == flow.loc["analysis panel", "participants"]
    assert flow.loc["analysis panel", "cohorts"] == 3
    assert list(loaded.sample_flow().columns) == [
        "step",
        "pupils",
        "pupil_years",
        "schools",
        "participants",
        "never_treated",
        "cohorts",
    ]
    d = loaded.to_dict()
    assert d["analysis"]["pupils"] == n_in - 1
    assert "excluded by no_pre_period: " in loaded.summary()


def test_no_post_period_exclusion(panel):
    pid = _treated_pupil(panel)
    bad = panel.loc[~((panel["pupil_id"] == pid) & (panel["treated"] == 1))]
    bad = bad.drop(columns="treated").reset_index(drop=True)
    loaded = load_panel(bad, exclusions="report")
    ex = loaded.exclusions.set_index("rule")
    assert ex.loc["no_post_period", "n_pupils"] == 1
    assert ex.loc["no_pre_period", "n_pupils"] == 0


def test_report_without_exclusions_and_tables(panel):
    loaded = load_panel(panel, exclusions="report")
    assert loaded.exclusions["n_rows"].sum() == 0
    pd.testing.assert_frame_equal(loaded.data, panel)
    coh = loaded.cohorts().set_index("cohort")
    assert coh.loc[0, "courses"] == ""
    assert coh["pupils"].sum() == panel["pupil_id"].nunique()
    pupils = loaded.pupils()
    assert len(pupils) == panel["pupil_id"].nunique()
    assert {"baseline_school", "first_year", "n_years"} <= set(pupils.columns)


# ---------------------------------------------------------------- registers at scale (issue 14)


def test_register_panel_from_csv_equals_the_panel_from_parquet(tmp_path):
    """The pyarrow CSV path and parquet give the same canonical panel (a small register)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from analysis.data.intake_fixtures import register_panel

    panel = register_panel(3000, seed=4, n_schools=20)
    panel.to_parquet(tmp_path / "r.parquet", index=False)
    pa_csv.write_csv(pa.Table.from_pandas(panel, preserve_index=False), tmp_path / "r.csv")
    a = load_panel(tmp_path / "r.parquet", exclusions="report")
    b = load_panel(tmp_path / "r.csv", exclusions="report")
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.exclusions, b.exclusions)
    assert list(a.data["pupil_id"]) == sorted(a.data["pupil_id"])  # sorted by id, then year


def test_fast_and_careful_csv_paths_agree(tmp_path):
    """A file the pyarrow path takes and the same file with quotes (csv-module path) agree."""
    from analysis.data.intake_fixtures import register_panel

    panel = register_panel(500, seed=2, n_schools=5)
    plain = tmp_path / "plain.csv"
    quoted = tmp_path / "quoted.csv"
    panel.to_csv(plain, index=False)
    panel.to_csv(quoted, index=False, quoting=1)  # csv.QUOTE_ALL
    pd.testing.assert_frame_equal(
        load_panel(plain, exclusions="report").data, load_panel(quoted, exclusions="report").data
    )


def test_ragged_line_numbers_on_the_streaming_path(tmp_path):
    text = "pupil_id,year\nP000001,2021\nP000002,2021,9\n\nP000003\n"
    path = tmp_path / "ragged.csv"
    path.write_text(text)
    with pytest.raises(DataValidationError) as e:
        load_panel(path)
    msg = str(e.value)
    assert "line 3" in msg and "line 4" in msg and "another number of fields" in msg
    assert "P000002" not in msg


# ---- equality of the quick paths with the patterns they replace (issue 14) ----------------


def _old_arrow_float_accepts(cells: list[str]) -> bool:
    """The earlier rule: every non-empty cell matches _PLAIN_NUMBER_RE2 and casts finite."""
    import math
    import re

    from analysis.data.programme import _PLAIN_NUMBER_RE2

    plain = re.compile(_PLAIN_NUMBER_RE2)
    return all(c == "" or (plain.match(c) and math.isfinite(float(c))) for c in cells)


def test_number_fast_path_accepts_exactly_the_plain_numbers():
    """Byte check + pyarrow cast accept the same cells as the regular expression did."""
    import itertools

    from analysis.data.programme import _arrow_float

    alphabet = "10.+-eE"
    cells = ["".join(t) for k in range(1, 6) for t in itertools.product(alphabet, repeat=k)]
    rng = np.random.default_rng(3)
    chars = list("0123456789.+-eE x,an")
    cells += ["".join(rng.choice(chars, size=rng.integers(6, 25))) for _ in range(3000)]
    cells += ["1e400", "-1E999", "nan", "inf", " 1", "1 ", "+.5", "5.", "٣"]
    disagree = []
    for c in cells:
        fast = _arrow_float(pd.Series([c, "0.5"], dtype="str"))
        if (fast is not None) != _old_arrow_float_accepts([c, "0.5"]):
            disagree.append(c)
        elif fast is not None and c != "":
            assert fast[0] == float(c)
    assert disagree == []


def _old_identifier_values(s: pd.Series) -> str | None:
    """The identifier scan without the byte pre-check: every cell through the patterns."""
    from analysis.data.programme import _CODICE_FISCALE_ANYWHERE_RE2, _EMAIL_RE2

    text = s.dropna().astype("str")
    if text.str.contains(_CODICE_FISCALE_ANYWHERE_RE2).any():
        return "codice fiscale"
    if text.str.contains(_EMAIL_RE2).any():
        return "e-mail"
    return None


@pytest.mark.parametrize(
    "cells",
    [
        ["0.1", "2.5e-05", "", "7"],
        ["S0001", "S0002"],
        ["RSSMRA80A01H501U", "x"],
        ["note: rssmra80a01h501u."],
        ["RSSMRA80A01H501U2"],  # followed by a digit: not a codice fiscale
        ["\u212assMRA80A01H501U"],  # Kelvin sign: case-insensitive [A-Z] matches it
        ["ab" * 10, "xyz"],
        ["EEEEEE12E12E123E"],
        ["mario@example.it"],
        ["a@b", "x.it"],
        ["café au lait", "ſſſſſſ12A12A123A"],
        [],
    ],
)
def test_identifier_byte_check_agrees_with_the_patterns(cells):
    from analysis.data.programme import _identifier_values

    s = pd.Series(cells, dtype="str")
    assert _identifier_values(s) == _old_identifier_values(s)
    big = pd.Series(cells * 400 + [f"{i / 7:.6f}" for i in range(2000)], dtype="str")
    assert _identifier_values(big) == _old_identifier_values(big)


def test_multi_line_cell_still_goes_to_the_csv_module(tmp_path):
    """A quoted line break (and a blank line) still reach the careful path, as before."""
    from analysis.data.intake_fixtures import register_panel
    from analysis.data.programme import _read_csv_fast

    panel = register_panel(50, seed=1, n_schools=2)
    path = tmp_path / "r.csv"
    panel.to_csv(path, index=False)
    assert _read_csv_fast(path, "r.csv") is not None
    panel.loc[3, "course"] = "a\nb"
    panel.to_csv(path, index=False)
    assert _read_csv_fast(path, "r.csv") is None
    with pytest.raises(DataValidationError):
        load_panel(path)


@pytest.mark.parametrize(
    "values",
    [
        np.repeat(np.arange(1000), 5)[::-1],
        np.array([5, 3, 3, 9, -2, 5], dtype=np.int64),
        np.array([-100, 100, 0, -100], dtype=np.int8),
        np.array([7, 1, 255, 1], dtype=np.uint8),
        np.array([2**63 + 5, 2**63 + 1, 2**63 + 5], dtype=np.uint64),
        np.array([1, 10**12, 1], dtype=np.int64),  # sparse: the hash path
        np.array(["b", "a", "b"], dtype=object),
        np.array([2.5, 1.0, 2.5]),
        np.array([], dtype=np.int64),
    ],
)
def test_staggered_unit_codes_equal_pandas_factorize(values):
    """The wrapper's integer-id ranking (issue 14) gives pandas' sorted codes and uniques."""
    from analysis.did.staggered import _sorted_codes

    s = pd.Series(values)
    codes, uniq = _sorted_codes(s)
    want_codes, want_uniq = pd.factorize(s, sort=True)
    np.testing.assert_array_equal(codes, want_codes)
    np.testing.assert_array_equal(uniq, np.asarray(want_uniq))
    assert np.asarray(uniq).dtype == np.asarray(want_uniq).dtype
