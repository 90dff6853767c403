"""School-site pupil counts (issue 15): known values, privacy markers, splice checks, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import paths
from analysis.data import panels, schools
from analysis.errors import DataValidationError

PARTNER_SITES = ["LETL04201D", "LETD042013", "LERI04201C", "LERC04201Q"]
ONDATA = paths.raw("ondata_alunni_per_scuola_2018_2021", "alunni-scuole.csv")
MIM_DIR = paths.raw("mim_alunni_frequentanti_2021_2025")


@pytest.fixture(scope="module")
def sites() -> pd.DataFrame:
    return panels.load("school_sites")


@pytest.fixture(scope="module")
def sources() -> dict[str, pd.DataFrame]:
    return {
        "ondata": schools.read_ondata_counts(ONDATA),
        "mim": schools.read_mim_counts(sorted(MIM_DIR.glob("*.xlsx"))),
        "uaar": schools.read_uaar_2020(MIM_DIR / "DATIPRECEDENTI202021.csv"),
        "grades": panels.load("school_grades_2022"),
        "registry": panels.load("school_registry_2022"),
    }


def test_partner_sites_known_values(sites):
    """2018–2020 as printed in ondata's PROVENANCE; 2021–2024 read from the MIM workbooks."""
    wide = sites[sites["school_code"].isin(PARTNER_SITES)].pivot(
        index="school_code", columns="year", values="pupils"
    )
    assert wide.loc["LETD042013", [2018, 2019, 2020]].tolist() == [279, 274, 269]
    assert wide.loc["LERI04201C", [2018, 2019, 2020]].tolist() == [311, 296, 288]
    assert wide.loc["LERC04201Q", [2018, 2019, 2020]].tolist() == [158, 154, 146]
    assert wide.loc["LETL04201D", [2018, 2019, 2020]].tolist() == [171, 204, 218]
    assert wide.loc["LETD042013", [2021, 2022, 2023, 2024]].tolist() == [249, 224, 204, 196]
    assert list(wide.columns) == list(range(2018, 2025))


def test_mim_reader_equals_a_plain_cell_by_cell_reading(sources):
    """Every (site, year) of read_mim_counts against pandas.read_excel's cells read row by row.

    The plain reading takes the year from the sheet name (``Alu_Rel_Catt_2021-22``), not from
    the header text the reader uses, and parses each total cell on its own.
    """
    expected = {}
    for path in sorted(MIM_DIR.glob("*.xlsx")):
        book = pd.read_excel(
            path,
            sheet_name=None,
            header=None,
            dtype=object,
            engine="calamine",
            keep_default_na=False,
            na_values=[""],
        )
        for sheet, raw in book.items():
            rows = raw.to_numpy().tolist()
            names = ("Codice Scuola", "Codice Sede scolastica")
            h = next(i for i, r in enumerate(rows) if any(str(v).strip() in names for v in r))
            header = [str(v).strip() for v in rows[h]]
            code = next(j for j, name in enumerate(header) if name in names)
            total = next(
                j
                for j, name in enumerate(header)
                if name.startswith("Alunni frequentanti totali") or name == "n° Alunni"
            )
            year = int(sheet.rsplit("_", 1)[1][:4])
            for r in rows[h + 1 :]:
                if isinstance(r[code], str) and r[code].strip():
                    cell = r[total]
                    suppressed = str(cell).strip() == schools.SUPPRESSED_MARK
                    expected[(r[code].strip(), year)] = (
                        None if suppressed else int(cell),
                        suppressed,
                    )
    mim = sources["mim"]
    got = {
        (c, y): (None if pd.isna(p) else int(p), bool(s))
        for c, y, p, s in zip(
            mim["school_code"], mim["year"], mim["pupils"], mim["suppressed"], strict=True
        )
    }
    assert len(got) == len(mim) == len(expected) == 207906
    assert got == expected
    # no evening-course code: the school_sites panel keeps every MIM row (puglia_splice_checks)
    assert not schools.is_evening(mim["school_code"]).any()
    assert mim.dtypes.astype(str).to_dict() == {
        "school_code": "str",
        "year": "int64",
        "pupils": "Int64",
        "suppressed": "bool",
        "source": "str",
    }


def test_mim_privacy_marks_are_missing_and_flagged_never_guessed(sources):
    mim = sources["mim"]
    assert mim["suppressed"].sum() == 37 + 43 + 35 + 40
    assert mim.loc[mim["suppressed"], "pupils"].isna().all()
    assert mim.loc[~mim["suppressed"], "pupils"].notna().all()
    assert mim.groupby("year").size().to_dict() == {
        2021: 52436,
        2022: 52153,
        2023: 51920,
        2024: 51397,
    }


def test_napoli_initials_are_not_a_missing_value(sources):
    mim = sources["mim"]
    assert (mim["school_code"].str[:2] == "NA").sum() > 1000


def test_evening_codes_are_excluded_from_the_panel(sources, sites):
    assert schools.is_evening(pd.Series(["LERI04251T", "LERI04201C", "LE12"])).tolist() == [
        True,
        False,
        False,
    ]
    assert "LERI04251T" in set(sources["ondata"]["school_code"])
    assert not schools.is_evening(sites["school_code"]).any()


def test_splice_checks_reproduce_the_provenance_figures(sources):
    """PROVENANCE.md: 29,654/29,654 equal; ratio 1.010, r = 0.9998, 97 % within ±5 % (n = 387);
    median change across the splice −1.1 % against −1.8 % / +0.9 % (260 balanced sites)."""
    reg = sources["registry"]
    grades = sources["grades"]
    puglia = set(reg.loc[reg["region"] == "Puglia", "school_code"])
    hs = grades[grades["grade"].between(9, 13) & grades["school_code"].isin(puglia)]
    checks = schools.splice_checks(
        sources["ondata"],
        sources["mim"],
        sources["uaar"],
        grades,
        sites=pd.Series(sorted(hs["school_code"].unique())),
    ).set_index("check")
    uaar, ratio, yoy = checks.iloc[0], checks.iloc[1], checks.iloc[2]
    assert (uaar["n"], uaar["value"]) == (29654, 1.0)
    assert ratio["n"] == 387 and ratio["value"] == pytest.approx(1.010, abs=0.0005)
    assert "0.9998" in ratio["reading"] and "97%" in ratio["reading"]
    assert yoy["n"] == 260 and yoy["value"] == pytest.approx(-0.011, abs=0.0005)
    assert "2018→2019: -1.8%" in yoy["reading"] and "2019→2020: +0.9%" in yoy["reading"]


def test_grade_profile_of_the_partner_school(sources):
    g = sources["grades"]
    partner = g[g["school_code"].isin(PARTNER_SITES)]
    assert set(partner["grade"]) == {9, 10, 11, 12, 13}
    assert (partner["pupils"] == partner["male"] + partner["female"]).all()
    reg = sources["registry"].set_index("school_code")
    assert set(reg.loc[PARTNER_SITES, "institute_code"]) == {"LEIS04200R"}


# --------------------------------------------------------------------------- bad input


def _copy_csv(tmp_path: Path, edit) -> Path:
    lines = ONDATA.read_text(encoding="utf-8").splitlines()[:50]
    p = tmp_path / "alunni-scuole.csv"
    p.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("edit", "column", "rule"),
    [
        (lambda ls: [*ls[:5], ls[5].replace(",", ",X", 1), *ls[6:]], "school_code", "codice"),
        (lambda ls: [*ls[:5], ls[5].rsplit(",", 1)[0] + ",<=3", *ls[6:]], "ALUNNI", "privacy mark"),
        (lambda ls: [*ls[:5], ls[5].rsplit(",", 1)[0] + ",-4", *ls[6:]], "ALUNNI", "whole number"),
        (
            lambda ls: [*ls[:5], ls[5].rsplit(",", 1)[0] + ",12.5", *ls[6:]],
            "ALUNNI",
            "whole number",
        ),
        (lambda ls: [*ls[:5], "201820" + ls[5][6:], *ls[6:]], "ANNOSCOLASTICO", "YYYYyy"),
        (lambda ls: [*ls, ls[7]], "school_code,year", "duplicated key"),
        (lambda ls: [ls[0] + ",ALUNNI", *[r + ",1" for r in ls[1:]]], "ALUNNI", "more than once"),
    ],
)
def test_broken_ondata_copies_name_file_column_line_and_rule(tmp_path, edit, column, rule):
    with pytest.raises(DataValidationError) as info:
        schools.read_ondata_counts(_copy_csv(tmp_path, edit))
    v = info.value.violations[0]
    assert v.column == column and rule in v.rule
    assert "alunni-scuole.csv" in str(info.value)


def test_broken_mim_sheet_names_file_sheet_row_and_rule(tmp_path):
    raw = pd.read_excel(
        MIM_DIR / "Alunni che frequentano Rel Catt_2023-24.xlsx",
        header=None,
        dtype=object,
        engine="calamine",
        keep_default_na=False,
        na_values=[""],
    ).head(40)
    raw.iloc[10, 2] = "about 30"
    with pytest.raises(DataValidationError) as info:
        schools._read_mim_sheet(Path("x.xlsx"), "Alu_Rel_Catt_2023-24", raw)
    text = str(info.value)
    assert "x.xlsx [sheet Alu_Rel_Catt_2023-24]" in text and "11" in text and "n° Alunni" in text
    raw.iloc[12, 0] = "BA"  # province initials that contradict the code
    raw.iloc[10, 2] = 30
    with pytest.raises(DataValidationError, match="province initials"):
        schools._read_mim_sheet(Path("x.xlsx"), "Alu_Rel_Catt_2023-24", raw)


def test_unreadable_workbook_is_a_clear_error(tmp_path):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(b"not a zip")
    with pytest.raises(DataValidationError, match="not a readable .xlsx workbook"):
        schools.read_mim_counts([p])
    with pytest.raises(DataValidationError, match="not a readable .rda"):
        schools.read_grade_profile(p)


def test_comparison_panel_base_year_used_or_refused(sources, sites):
    """base_year rescales outcome='index'; with outcome='pupils' it would be ignored, so a
    non-default value is refused and the default 2020 keeps working."""
    kw = dict(
        treated_sites=PARTNER_SITES,
        institute="LEIS04200R",
        donor_pool="lecce_upper_secondary",
    )
    args = (sites, sources["grades"], sources["registry"])
    with pytest.raises(DataValidationError, match="base_year") as info:
        schools.comparison_panel(*args, outcome="pupils", base_year=2019, **kw)
    assert {v.column for v in info.value.violations} == {"base_year"}
    pupils = schools.comparison_panel(*args, outcome="pupils", **kw)
    assert pupils.base_year == 2020
    assert (pupils.data["value"] == pupils.data["pupils"]).all()
    assert schools.comparison_panel(*args, outcome="pupils", base_year=2020, **kw).data.equals(
        pupils.data
    )
    i19 = schools.comparison_panel(*args, outcome="index", base_year=2019, **kw).data
    i20 = schools.comparison_panel(*args, outcome="index", **kw).data
    assert (i19.loc[i19["year"] == 2019, "value"] == 100).all()
    assert not i19["value"].equals(i20["value"])


def test_count_errors_list_the_bad_cells_only():
    """Whole numbers, texts and the privacy mark in one column; the bad cells named by line."""
    values = pd.Series([12, "<=3", " 7 ", "x", 3.5, -1, None, True, 2**70], dtype=object)
    lines = pd.Series(range(2, 11))
    with pytest.raises(DataValidationError) as info:
        schools._counts(values, "x.xlsx", "n° Alunni", lines)
    v = info.value.violations[0]
    assert v.rows == (5, 6, 7, 8, 9) and v.n_rows == 6  # not line 3, the privacy mark
    num, sup = schools._counts(values[:3], "x.xlsx", "n° Alunni", lines[:3])
    assert num.tolist() == [12, pd.NA, 7] and str(num.dtype) == "Int64"
    assert sup.tolist() == [False, True, False]


def test_puglia_splice_checks_from_the_panel_equal_those_from_the_workbooks(sources):
    """The MIM rows of the school_sites panel give the splice checks the workbooks give."""
    grades, registry = sources["grades"], sources["registry"]
    puglia = set(registry.loc[registry["region"] == "Puglia", "school_code"])
    upper = grades[grades["grade"].between(9, 13) & grades["school_code"].isin(puglia)]
    from_raw = schools.splice_checks(
        sources["ondata"],
        sources["mim"],
        sources["uaar"],
        grades,
        sites=pd.Series(sorted(upper["school_code"].unique())),
    )
    got = schools.puglia_splice_checks(grades=grades, registry=registry)
    pd.testing.assert_frame_equal(got, from_raw, check_exact=True)
    assert got["n"].tolist() == [29654, 387, 260]
    no_mim = panels.load("school_sites").query("year < 2021")
    with pytest.raises(DataValidationError, match="no rows with source"):
        schools.puglia_splice_checks(grades=grades, registry=registry, sites=no_mim)
