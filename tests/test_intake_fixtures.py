"""The intake fixtures' legacy Excel 97-2003 (.xls, BIFF8) school registers (issue 13).

:func:`analysis.data.intake_fixtures.write_fixture_files` writes the fourth school's registers
as ``.xls`` with the layout schools export: merged title cells, a merged group header, a header
spelled unlike the other schools', a blank row, Excel numbers and dates (some dates typed as
text), totals rows and notes below.  These tests read the files back with calamine (the
intake's reader) to check the layout, then run the intake on them: their rows reach the panel
and what they carry appears, counted, in the intake report.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
KEY = b"0123456789abcdef0123456789abcdef-fixtures-key"
OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")  # compound document: the container of BIFF8 .xls


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("intake_fixtures") / "repo"
    shutil.copytree(REPO / "config", root / "config")
    with pytest.MonkeyPatch.context() as mp:
        from conftest import point_paths_at

        point_paths_at(mp, root)
        from analysis.data import intake
        from analysis.data.intake_fixtures import write_fixture_files
        from analysis.data.simulate import programme_panel

        sim = programme_panel(seed=5, n_schools=4, n_pupils=200)
        manifest = write_fixture_files(sim.data, root, seed=1)
        result = intake.run_intake(manifest.config, key=KEY)
        yield root, manifest, result
    import analysis.paths

    importlib.reload(analysis.paths)


def _xls_files(root, manifest) -> list[Path]:
    files = [root / rel for rel, fmt in manifest.formats.items() if fmt == "xls"]
    assert files, "the fixtures must include .xls registers"
    return files


def _cells(path: Path) -> list[list[object]]:
    frame = pd.read_excel(path, sheet_name="Scrutini", header=None, dtype=object, engine="calamine")
    return [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]


def _blank(row: list[object]) -> bool:
    return all(v is None or str(v).strip() == "" for v in row)


# ---- the file itself -------------------------------------------------------------------------


def test_xls_register_has_the_messy_layout(fixture_run):
    root, manifest, _ = fixture_run
    from python_calamine import CalamineWorkbook

    from analysis.data import intake_fixtures as fx

    kinds_of_dates: set[type] = set()
    for path in _xls_files(root, manifest):
        assert path.suffix == ".xls" and path.read_bytes()[:8] == OLE2  # BIFF8, not xlsx renamed
        rows = _cells(path)
        header = rows[3]
        last = len(header) - 1
        i = header.index("Ore")
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Scrutini")
        merged = set(sheet.merged_cell_ranges)
        assert {((0, 0), (0, last)), ((1, 0), (1, last)), ((2, i), (2, i + 1))} <= merged
        assert str(rows[0][0]).startswith("Istituto ") and str(rows[1][0]).startswith("Scrutini")
        assert rows[2][i] == "Assenze" and _blank(rows[0][1:]) and _blank(rows[1][1:])
        assert header == ["N.", *dict(fx._LAYOUTS)["xls"].values()]
        assert _blank(rows[4])  # a blank row between the header and the pupils
        n = manifest.file_counts[path.relative_to(root).as_posix()]["rows_read"]
        data, tail = rows[5 : 5 + n], rows[5 + n :]
        assert [r[0] for r in data] == list(range(1, n + 1))  # the running number
        col = {h: j for j, h in enumerate(header)}
        for r in data:
            assert re.fullmatch(r"[A-Z0-9]{16}", r[col["C.F."]])
            dob = r[col["Data nasc."]]
            kinds_of_dates.add(type(dob))
            assert isinstance(dob, dt.datetime) or re.fullmatch(r"\d{2}/\d{2}/\d{4}", dob)
            assert isinstance(r[col["Cl."]], int) and isinstance(
                r[col["Monte ore personalizzato"]], int
            )
            for c in ("Ore", "Media voti"):  # Excel numbers, or an empty cell when missing
                assert r[col[c]] is None or isinstance(r[col[c]], int | float)
        # below the table: blank row, two totals rows, blank row, two notes
        assert _blank(tail[0]) and _blank(tail[3])
        assert tail[1][:2] == ["Totale alunni", n] and tail[2][0] == "Media classe"
        assert [str(r[0]).split()[0] for r in tail[4:]] == ["Fonte:", "Ore"]
        assert all(_blank(r[1:]) for r in tail[4:]) and len(tail) == 6
    assert kinds_of_dates == {dt.datetime, str}  # Excel dates and dates typed as text


def test_xls_header_is_spelled_unlike_the_other_schools():
    from analysis.data import intake_fixtures as fx

    layouts = dict(fx._LAYOUTS)
    xls = layouts.pop("xls")
    for fmt, other in layouts.items():
        assert list(xls.values()) != list(other.values()), fmt
    others = {h for other in layouts.values() for h in other.values()}
    own = {xls[f] for f in ("codice_fiscale", "data_nascita", "classe", "monte_ore", "esito")}
    assert own.isdisjoint(others)


def test_fixtures_of_three_schools_have_no_xls_and_four_have_one_school_of_them(tmp_path):
    from analysis.data.intake_fixtures import write_fixture_files
    from analysis.data.simulate import programme_panel

    three = write_fixture_files(
        programme_panel(seed=2, n_schools=3, n_pupils=60).data, tmp_path / "a", seed=3
    )
    assert set(three.formats.values()) == {"xlsx", "csv;", "csv,"}
    assert "legacy .xls (BIFF8) registers" not in three.injected
    four = write_fixture_files(
        programme_panel(seed=2, n_schools=4, n_pupils=80).data, tmp_path / "b", seed=3
    )
    xls = [rel for rel, fmt in four.formats.items() if fmt == "xls"]
    assert xls and all(rel.endswith(".xls") for rel in xls)
    assert len({Path(rel).name.split("_")[0] for rel in xls}) == 1
    assert "legacy .xls (BIFF8) registers" in four.injected
    config = four.config.read_text(encoding="utf-8")
    assert all(rel in config for rel in xls)


# ---- through the intake ----------------------------------------------------------------------


def test_every_school_file_is_counted_as_the_manifest_says(fixture_run):
    root, manifest, result = fixture_run
    files = result.files.set_index("file")
    assert set(manifest.file_counts) <= set(files.index)
    for rel, counts in manifest.file_counts.items():
        got = {k: int(files.at[rel, k]) for k in counts}
        assert got == counts, (rel, manifest.formats[rel])
    xls = files.loc[[p.relative_to(root).as_posix() for p in _xls_files(root, manifest)]]
    assert (xls["sheet"] == "Scrutini").all() and (xls["kind"] == "school").all()
    assert (xls["columns_unmapped"] == "N.").all()
    from analysis.data.intake import SCHOOL_FIELDS

    mapped = set(SCHOOL_FIELDS) - {"indirizzo"}
    assert all(set(m.split(", ")) == mapped for m in xls["columns_mapped"])
    assert not result.rejections["file"].str.endswith(".xls").any()


def test_xls_rows_reach_the_panel(fixture_run):
    root, manifest, result = fixture_run
    school = Path(next(r for r, f in manifest.formats.items() if f == "xls")).name.split("_")[0]
    key = ["year", "grade_level", "sex", "birth_year", "cohort", "baseline_absence"]
    exp = manifest.expected[manifest.expected["school_id"] == school]
    got = result.panel[result.panel["school_id"] == school]
    assert len(exp) > 0 and len(got) == len(exp)
    exp, got = (d.sort_values(key).reset_index(drop=True) for d in (exp, got))
    for c in ["year", "grade_level", "sex", "birth_year", "cohort", "course", "foreign_born"]:
        assert (got[c].astype(str).to_numpy() == exp[c].astype(str).to_numpy()).all(), c
    for c in ["absence_rate", "grade_avg", "baseline_absence", "repeated_grade", "dropped_out"]:
        np.testing.assert_allclose(
            got[c].astype(float), exp[c].astype(float), atol=1e-12, err_msg=c
        )
    np.testing.assert_allclose(got["dose"], exp["dose"], atol=1e-12)
    # the school's pupils are the same people in every year: one pseudonym per simulated pupil
    assert got["pupil_id"].nunique() == exp["pupil_id"].nunique()


def test_no_identifier_of_the_xls_files_leaves_data_raw_programme(fixture_run):
    root, manifest, result = fixture_run
    forbidden: set[str] = set()
    for path in _xls_files(root, manifest):
        rows = _cells(path)
        col = {h: j for j, h in enumerate(rows[3])}
        for r in rows[5:]:
            code, dob = r[col["C.F."]], r[col["Data nasc."]]
            if isinstance(code, str) and len(code) == 16:
                forbidden.add(code)
                forbidden.add(dob.strftime("%d/%m/%Y") if isinstance(dob, dt.datetime) else dob)
    assert len(forbidden) > 20
    outputs = [result.output, *result.report_dir.glob("*")]
    for p in outputs:
        if p.suffix == ".parquet":
            text = pd.read_parquet(p).to_csv()
        elif p.suffix == ".xlsx":
            book = pd.read_excel(p, sheet_name=None, engine="calamine")
            text = "\n".join(df.to_csv() for df in book.values())
        else:
            text = p.read_text(encoding="utf-8")
        assert [v for v in forbidden if v in text] == [], p.name


# ---- registers at scale ----------------------------------------------------------------------


def test_register_xls_gives_the_same_panel_as_the_csv(tmp_path, monkeypatch):
    from conftest import point_paths_at

    root = tmp_path / "repo"
    point_paths_at(monkeypatch, root)
    try:
        from analysis.data import intake
        from analysis.data.intake_fixtures import write_register_files

        panels = {}
        for fmt in ("xls", "csv"):
            cfg = write_register_files(root, 300, fmt=fmt, n_schools=3, seed=7)
            res = intake.run_intake(cfg, key=KEY)
            assert len(res.rejections) == 0, fmt
            panels[fmt] = res.panel.sort_values(["pupil_id", "year"]).reset_index(drop=True)
        assert (
            next((root / "data/raw/programme/register_xls").glob("*.xls")).read_bytes()[:8] == OLE2
        )
        a, b = panels["xls"], panels["csv"]
        assert len(a) > 1000 and a["pupil_id"].tolist() == b["pupil_id"].tolist()
        for c in ["school_id", "year", "grade_level", "sex", "birth_year", "cohort", "course"]:
            assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), c
        np.testing.assert_allclose(a["grade_avg"], b["grade_avg"], atol=1e-12)
        # the csv writes 6 significant digits; the .xls keeps the double
        np.testing.assert_allclose(a["absence_rate"], b["absence_rate"], rtol=1e-5, atol=1e-7)
    finally:
        import analysis.paths

        monkeypatch.undo()
        importlib.reload(analysis.paths)


def test_register_xls_refuses_more_rows_than_a_sheet_holds(tmp_path):
    from analysis.data import intake_fixtures as fx

    too_many = pd.DataFrame({"Codice Fiscale": np.zeros(fx._XLS_MAX_ROWS - 3)})
    with pytest.raises(ValueError, match="do not fit in one .xls sheet"):
        fx._write_register_xls(too_many, tmp_path / "S0000_upper_2018.xls", "S0000")
    assert not (tmp_path / "S0000_upper_2018.xls").exists()
    with pytest.raises(ValueError, match="'csv', 'xlsx' or 'xls'"):
        fx.write_register_files(tmp_path, 10, fmt="ods")
