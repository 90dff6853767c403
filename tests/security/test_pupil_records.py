"""Pupil records under attack (issue 10): no pupil data in errors, identifiers refused at load.

Errors about pupil files name the file, the line (or row), the column and the rule — never a
pupil id or any other value from an identifying column, because error texts reach logs, run
states, failed pages and the index.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.data.programme import load_panel
from analysis.data.simulate import programme_panel
from analysis.errors import DataValidationError


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return programme_panel(seed=7, n_schools=4, n_pupils=200).data


def _rules(err: DataValidationError) -> list[tuple[str | None, str]]:
    return [(v.column, v.rule) for v in err.violations]


def test_errors_about_bad_rows_name_lines_never_pupils(panel, tmp_path: Path):
    bad = panel.copy()
    rows = [3, 17, 40, 41]
    bad.loc[rows, "absence_rate"] = 2.0
    bad.loc[5, "sex"] = "X"
    path = tmp_path / "registers.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_panel(path)
    text = str(info.value)
    assert "line 5" in text and "absence_rate" in text and "registers.csv" in text
    leaked = [pid for pid in panel["pupil_id"].unique() if pid in text]
    assert leaked == []
    # the same through a DataFrame argument (rows by position)
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    assert not [pid for pid in panel["pupil_id"].unique() if pid in str(info.value)]


@pytest.mark.parametrize(
    "column",
    [
        "Codice Fiscale",
        "codicefiscale",
        "C.F.",
        "CodFisc",
        "Nominativo alunno",
        "Cognome e nome",
        "E-mail genitore",
        "Data di nascita",
        "student_name",
        "Telefono",
        "Indirizzo di residenza",
    ],
)
def test_identifier_columns_are_refused_under_any_spelling(panel, column: str):
    bad = panel.copy()
    bad[column] = "x"
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    assert (column, "direct identifier column not allowed (pseudonymised data only)") in _rules(
        info.value
    )


@pytest.mark.parametrize(
    ("values", "kind"),
    [(["RSSMRA80A01H501U"], "codice fiscale"), (["mario.rossi@example.it"], "e-mail")],
)
def test_identifier_values_are_refused_under_an_innocent_name(panel, values, kind):
    bad = panel.copy()
    bad["reference"] = "ok"
    bad.loc[0, "reference"] = values[0]
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    text = str(info.value)
    assert any(c == "reference" and kind in r for c, r in _rules(info.value))
    assert values[0] not in text  # the value itself is never repeated


def test_harmless_extra_columns_are_kept(panel):
    ok = panel.copy()
    ok["birth_year_check"] = ok["birth_year"]
    ok["school_type"] = "liceo"
    loaded = load_panel(ok)
    assert {"birth_year_check", "school_type"} <= set(loaded.columns)


@pytest.mark.parametrize("pid", ["NA", "na", "1234567", "P12", "12", "2021", "P 0001", "null"])
def test_pupil_ids_the_scanner_cannot_find_are_refused_at_load(panel, pid: str):
    bad = panel.copy()
    bad.loc[bad["pupil_id"] == bad.loc[0, "pupil_id"], "pupil_id"] = pid
    with pytest.raises(DataValidationError) as info:
        load_panel(bad)
    assert any(c == "pupil_id" and "6–64 letters" in r for c, r in _rules(info.value))


def test_duplicate_csv_header_is_an_error_not_first_wins(panel, tmp_path: Path):
    path = tmp_path / "dup.csv"
    text = panel.head(30).to_csv(index=False)
    header, rest = text.split("\n", 1)
    path.write_text(header + ",absence_rate\n" + "\n".join(r + ",0.99" for r in rest.splitlines()))
    with pytest.raises(DataValidationError) as info:
        load_panel(path)
    assert ("absence_rate", "column name appears more than once in the header") in _rules(
        info.value
    )


def test_semicolon_csv_with_decimal_commas_gets_a_hint(panel, tmp_path: Path):
    path = tmp_path / "excel.csv"
    panel.head(20).to_csv(path, index=False, sep=";", decimal=",")
    with pytest.raises(DataValidationError, match="semicolon-separated"):
        load_panel(path)


def test_quoted_newline_in_a_school_id_is_not_another_school(panel, tmp_path: Path):
    bad = panel.copy()
    bad["school_id"] = bad["school_id"].astype(str)
    bad.loc[bad["pupil_id"] == bad.loc[0, "pupil_id"], "school_id"] = "S01\nannex"
    path = tmp_path / "nl.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_panel(path)
    assert any(c == "school_id" and "line break" in r for c, r in _rules(info.value))


def test_public_readers_refuse_repeated_headers(tmp_path: Path):
    """Every reader, not only the pupil contract: a repeated column name is an error."""
    from analysis import paths
    from analysis.data import other_sources

    src = paths.raw("schooldatait_invalsi_prov")
    original = next(p for p in src.iterdir() if p.suffix == ".csv")
    lines = original.read_text(encoding="utf-8").splitlines()
    first = lines[0].split(",")[0]
    path = tmp_path / original.name
    path.write_text("\n".join([lines[0] + "," + first] + [ln + ",x" for ln in lines[1:]]) + "\n")
    with pytest.raises(DataValidationError, match="more than once in the header"):
        other_sources.read_invalsi(path)
