"""Loaders on the real raw files (known published values) and on broken copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis import paths
from analysis.data import eurostat, indicators, istat_bes, other_sources, splice
from analysis.data.integrity import verify_raw
from analysis.errors import DataValidationError

ELET_IT = paths.raw("eurostat_edat_lfse_16", "edat_lfse_16_italy_nuts2.tsv")
ELET_EU = paths.raw("eurostat_edat_lfse_16", "edat_lfse_16_eu27_total.tsv")
BES21 = paths.raw("istat_bes_territori", "Indicatori_per_provincia_sesso_ed.2021.xlsx")
BES25 = paths.raw(
    "istat_bes_territori", "Bes_dei_territori_indicatori_per_provincia_sesso_ed.2025.xlsx"
)
UNEMP = paths.raw("pspatreg_unemp_it", "unemp_it.csv")


def _value(df: pd.DataFrame, **kw) -> float:
    sel = df
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, kw
    return float(sel["value"].iloc[0])


# --- real files -----------------------------------------------------------------------------


def test_raw_data_match_manifests():
    hashes = verify_raw()
    assert len(hashes) == 19
    assert hashes["data/raw/eurostat_edat_lfse_16/edat_lfse_16_italy_nuts2.tsv"].startswith(
        "9c4f4485"
    )


def test_elet_known_values(built_panels):
    elet = built_panels["elet_regions"]
    # 27 Italian geos x 3 sexes x 26 years + EU27 total x 26 years
    assert len(elet) == 27 * 3 * 26 + 26
    assert _value(elet, geo="ITF4", sex="T", year=2023) == 12.8
    assert _value(elet, geo="ITF4", sex="T", year=2025) == 8.6
    assert _value(elet, geo="ITF4", sex="M", year=2025) == 11.3
    assert _value(elet, geo="ITF4", sex="F", year=2025) == 5.8
    assert _value(elet, geo="IT", sex="T", year=2025) == 8.2
    assert _value(elet, geo="EU27_2020", sex="T", year=2025) == 9.1
    row = elet[(elet.geo == "ITF4") & (elet.sex == "T") & (elet.year == 2021)].iloc[0]
    assert row["flags"] == "b"  # break kept, not dropped
    # ':' cells are kept as missing rows
    assert elet[(elet.geo == "EU27_2020") & (elet.year == 2000)]["value"].isna().all()


def test_bes_provinces_lecce_neet_both_editions(built_panels):
    bes = built_panels["bes_provinces"]
    neet = bes[(bes.province_name == "Lecce") & (bes.series_code == "02IST006") & (bes.sex == "T")]
    old = neet[neet.edition == "2021"].set_index("year")["value"]
    new = neet[neet.edition == "2025"].set_index("year")["value"]
    assert old[[2004, 2008, 2012, 2014, 2016, 2018, 2019, 2020]].tolist() == [
        25.0,
        26.1,
        27.9,
        35.4,
        30.3,
        27.7,
        26.8,
        29.0,
    ]
    assert new[[2018, 2019, 2020, 2021, 2022, 2023, 2024]].tolist() == [
        27.5,
        26.5,
        30.0,
        29.4,
        24.3,
        20.4,
        20.0,
    ]
    lecce = bes[bes.province_name == "Lecce"].iloc[0]
    assert (lecce.region, lecce.macro_area, lecce.level, lecce.province_code) == (
        "Puglia",
        "Sud",
        "province",
        "04-17-085",
    )
    assert bes.groupby("edition").indicator_code.nunique().to_dict() == {"2021": 62, "2025": 67}
    trento = bes[bes.province_name == "Trento"].iloc[0]  # W_GEO 02-06-001: no region row 06
    assert (trento.region, trento.level) == ("Trentino-Alto Adige/Südtirol", "province")
    assert (bes.loc[bes.level == "province", "region"] != "").all()


def test_bes_other_known_values(built_panels):
    bes = built_panels["bes_provinces"]

    def v(unit, code, year):
        return _value(bes, province_name=unit, series_code=code, sex="T", year=year, edition="2025")

    assert [v("Puglia", "02IST006", y) for y in range(2018, 2025)] == [
        30.4,
        29.6,
        30.5,
        30.6,
        26.0,
        22.2,
        21.4,
    ]
    assert v("Italia", "02IST006", 2018) == 23.2 and v("Italia", "02IST006", 2024) == 15.2
    assert v("Lecce", "03LAV006P", 2018) == 50.0 and v("Lecce", "03LAV006P", 2024) == 36.8
    assert v("Lecce", "02IST011P", 2018) == 32.8 and v("Lecce", "02IST011P", 2024) == 35.4


def test_splice_lecce_neet(built_panels):
    sp = built_panels["bes_spliced"]
    s = sp[(sp.province_name == "Lecce") & (sp.series_code == "02IST006") & (sp.sex == "T")]
    s = s.set_index("year")
    shift = ((27.5 - 27.7) + (26.5 - 26.8) + (30.0 - 29.0)) / 3
    assert s.loc[2018, "source"] == "ed.2025" and s.loc[2018, "value"] == 27.5
    assert s.loc[2004, "source"] == "ed.2021+shift"
    assert s.loc[2004, "value"] == pytest.approx(25.0 + shift, abs=1e-9)
    assert s.index.min() == 2004 and s.index.max() == 2024 and s.index.is_unique
    ov = built_panels["bes_overlap"]
    row = ov[(ov.series_code == "02IST006") & (ov.province_code == "04-17-085") & (ov.sex == "T")]
    assert int(row.n_overlap.iloc[0]) == 3
    assert row.min_diff.iloc[0] == pytest.approx(-0.3) and row.max_diff.iloc[0] == pytest.approx(
        1.0
    )


def test_splice_without_overlap_keeps_old_edition_apart():
    base = dict(
        province_code="x",
        province_name="X",
        region="R",
        macro_area="Sud",
        level="province",
        indicator_code="C",
        series_code="C",
        indicator_name="c",
        unit="%",
        sex="T",
        flag="",
    )
    rows = [dict(base, edition="2021", year=y, value=10.0) for y in (2010, 2011)]
    rows += [dict(base, edition="2025", year=y, value=20.0) for y in (2018, 2019)]
    spliced, overlap = splice.splice_editions(pd.DataFrame(rows))
    assert spliced["year"].tolist() == [2018, 2019]  # no overlap: old edition not mixed in
    assert overlap["n_overlap"].tolist() == [0] and not overlap["spliced"].iloc[0]


def test_bes_regions_and_other_panels(built_panels):
    reg = built_panels["bes_regions"]
    puglia = reg[(reg.region_name == "Puglia") & (reg.series_code == "02IST005") & (reg.sex == "T")]
    assert puglia.set_index("year").loc[[2018, 2019, 2020, 2021], "value"].tolist() == [
        17.6,
        17.8,
        18.5,
        17.6,
    ]
    arope = built_panels["arope_regions"]
    assert (
        _value(arope, geo="ITF4", year=2020) == 34.8 and _value(arope, geo="IT", year=2020) == 25.3
    )
    un = built_panels["unemployment_provinces"]
    assert len(un) == 103 * 24
    lecce = un[un.prov == 75].set_index("year")["unrate"]
    assert lecce[1996] == 19.9 and lecce[2014] == 25.8
    assert lecce[2019] == pytest.approx(17.5, abs=0.05)  # PROVENANCE rounds 17.469831
    inv = built_panels["invalsi_provinces"]
    assert len(inv) == 240 and inv.pct_sufficient.max() <= 100  # 999 codes -> missing
    napoli = inv[inv.province_name == "Napoli"]
    assert len(napoli) == 16  # not lost to pandas' "NA" parsing


def test_indicator_series_accessor():
    s = indicators.series("elet", units=["Puglia", "Italia", "EU27"], sex="T")
    assert set(s.unit) == {"Puglia", "Italia", "EU27"}
    assert s[(s.unit == "Puglia") & (s.year == 2021)]["break"].item()
    with pytest.raises(DataValidationError, match="did you mean 'Lecce'"):
        indicators.series("neet", units=["Leece"])
    with pytest.raises(DataValidationError, match="did you mean 'neet'"):
        indicators.get("nete")


# --- broken copies ----------------------------------------------------------------------------


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


def test_eurostat_unparseable_cell_names_file_column_row(tmp_path):
    f = _copy(ELET_IT, tmp_path)
    lines = f.read_text().splitlines()
    cells = lines[3].split("\t")
    cells[5] = "12,x b"
    lines[3] = "\t".join(cells)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as e:
        eurostat.read_elet([f])
    msg = str(e.value)
    assert f.name in msg and "'2004'" in msg and "rows [4]" in msg and "cell must be" in msg


def test_eurostat_wrong_header_and_separator(tmp_path):
    f = _copy(ELET_IT, tmp_path)
    f.write_text(f.read_text().replace("\t", ";"))
    with pytest.raises(DataValidationError, match="first header cell"):
        eurostat.read_elet([f])


def test_eurostat_duplicate_and_range(tmp_path):
    f = _copy(ELET_IT, tmp_path)
    lines = f.read_text().splitlines()
    f.write_text("\n".join([*lines, lines[5]]) + "\n")
    with pytest.raises(DataValidationError, match="duplicated key"):
        eurostat.read_elet([f])
    cells = lines[2].split("\t")
    cells[3] = "122.2 "
    lines[2] = "\t".join(cells)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataValidationError, match=r"percentage outside \[0, 100\]"):
        eurostat.read_elet([f])


def test_eurostat_empty_and_bad_encoding(tmp_path):
    f = tmp_path / "empty.tsv"
    f.write_text("")
    with pytest.raises(DataValidationError, match="empty"):
        eurostat.read_elet([f])
    f.write_bytes(
        "freq,unit,sex,age,geo\\TIME_PERIOD\t2000 \nA,PC,T,Y18-24,IT\t\xe9\n".encode("latin-1")
    )
    with pytest.raises(DataValidationError, match="not UTF-8"):
        eurostat.read_elet([f])


def _edit_xlsx(src: Path, dst: Path, edit) -> Path:
    wb = openpyxl.load_workbook(src)
    edit(wb["Indicatori_per_provincia_sesso"])
    wb.save(dst)
    return dst


@pytest.fixture(scope="module")
def small_bes25(tmp_path_factory) -> Path:
    """A 300-row copy of the ed. 2025 workbook (fast to rewrite)."""
    dst = tmp_path_factory.mktemp("bes") / "small25.xlsx"
    src = openpyxl.load_workbook(BES25, read_only=True)["Indicatori_per_provincia_sesso"]
    out = openpyxl.Workbook()
    ws = out.active
    ws.title = "Indicatori_per_provincia_sesso"
    n_pct = 0
    for i, row in enumerate(src.iter_rows(values_only=True)):
        is_pct = row[5] == "Valori percentuali"
        if i <= 150 or (is_pct and n_pct < 150):
            ws.append(row)
            n_pct += bool(is_pct and i > 150)
        if n_pct >= 150:
            break
    out.save(dst)
    return dst


def test_bes_unparseable_cell(tmp_path, small_bes25):
    f = _edit_xlsx(small_bes25, tmp_path / "b.xlsx", lambda ws: setattr(ws["J10"], "value", "12;5"))
    with pytest.raises(DataValidationError) as e:
        istat_bes.read_bes_workbook(f, sheet="Indicatori_per_provincia_sesso", edition="2025")
    msg = str(e.value)
    assert "b.xlsx" in msg and "'V2006'" in msg and "rows [10]" in msg and "12;5" in msg


def test_bes_missing_column_duplicates_and_sex(tmp_path, small_bes25):
    f = _edit_xlsx(small_bes25, tmp_path / "c.xlsx", lambda ws: setattr(ws["B1"], "value", "CODE"))
    with pytest.raises(DataValidationError, match="column 'CODICE'.*required column missing"):
        istat_bes.read_bes_workbook(f, sheet="Indicatori_per_provincia_sesso", edition="2025")

    def dup(ws):
        for col in range(1, ws.max_column + 1):
            ws.cell(row=3, column=col).value = ws.cell(row=2, column=col).value

    f = _edit_xlsx(small_bes25, tmp_path / "d.xlsx", dup)
    with pytest.raises(DataValidationError, match=r"rows \[2, 3\].*duplicated key"):
        istat_bes.read_bes_workbook(f, sheet="Indicatori_per_provincia_sesso", edition="2025")
    f = _edit_xlsx(small_bes25, tmp_path / "e.xlsx", lambda ws: setattr(ws["D7"], "value", "Tot"))
    with pytest.raises(DataValidationError, match=r"column 'SESSO', rows \[7\]"):
        istat_bes.read_bes_workbook(f, sheet="Indicatori_per_provincia_sesso", edition="2025")


def test_bes_out_of_range_percentage(tmp_path, small_bes25):
    wb = openpyxl.load_workbook(small_bes25)
    ws = wb["Indicatori_per_provincia_sesso"]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 6).value == "Valori percentuali")
    ws.cell(row, 10).value = "140,0"
    f = tmp_path / "f.xlsx"
    wb.save(f)
    with pytest.raises(DataValidationError, match=rf"rows \[{row}\]: percentage outside"):
        istat_bes.read_bes_workbook(f, sheet="Indicatori_per_provincia_sesso", edition="2025")


def _melted_reference(raw: pd.DataFrame, *, edition: str) -> pd.DataFrame:
    """The long table as the reader built it before it worked by position (melt, then
    parse every cell and clean every id column once per year): the new path must equal it."""
    from analysis.data._io import _NUMBER, ISTAT_SIGNS

    years = istat_bes._year_columns(raw.columns)
    raw = raw.reset_index(drop=True)
    raw["row"] = raw.index + 2
    long = raw.melt(
        id_vars=[*istat_bes.ID_COLUMNS, "row"] + (["W_GEO"] if "W_GEO" in raw else []),
        value_vars=list(years),
        var_name="year_col",
        value_name="cell",
    )
    s = long["cell"].astype(object)
    is_num = s.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    value = pd.Series(float("nan"), index=s.index, dtype=float)
    flag = pd.Series("", index=s.index, dtype=object)
    value[is_num] = s[is_num].astype(float)
    txt = s[~is_num]
    txt = txt[~txt.isna()].astype(str).str.strip()
    parts = txt.str.extract(_NUMBER)
    num_txt = parts["num"].notna()
    conv = parts.loc[num_txt, "num"]
    if edition == "2025" or conv.str.contains(",").any():
        conv = conv.str.replace(",", ".", regex=False)
    value[conv.index] = conv.astype(float)
    notes = parts.loc[num_txt, "note"].dropna()
    flag[notes.index] = notes
    signs = txt[~num_txt]
    known = signs.isin(list(ISTAT_SIGNS)) | (signs == "")
    flag[signs[known].index] = signs[known]
    return pd.DataFrame(
        {
            "domain": long["DOMINIO"].astype(str),
            "indicator_code": long["CODICE"].astype(str).str.strip(),
            "indicator_name": long["INDICATORE"].astype(str).str.strip(),
            "unit": long["UNITA_MISURA"].astype(str),
            "territory": long["TERRITORIO"].astype(str).str.strip(),
            "sex": long["SESSO"].map(istat_bes.SEX),
            "w_geo": long["W_GEO"].astype(str) if "W_GEO" in long else "",
            "year": long["year_col"].map(years).astype(int),
            "value": value.astype(float),
            "flag": flag.astype(str),
            "edition": edition,
            "row": long["row"].astype(int),
        }
    )


def test_bes_reader_equals_the_melted_reference_and_openpyxl_cells(small_bes25):
    sheet = "Indicatori_per_provincia_sesso"
    by_openpyxl = pd.read_excel(small_bes25, sheet_name=sheet, dtype=object, engine="openpyxl")
    by_calamine = pd.read_excel(small_bes25, sheet_name=sheet, dtype=object, engine="calamine")
    # calamine gives the cells openpyxl gave: same values and Python types
    assert list(by_calamine.columns) == list(by_openpyxl.columns)
    for col in by_openpyxl.columns:
        a, b = by_openpyxl[col].tolist(), by_calamine[col].tolist()
        assert [type(v) for v in a] == [type(v) for v in b], col
        assert [str(v) for v in a] == [str(v) for v in b], col
    # comma decimals, footnote markers, conventional signs and empty cells, parsed per cell
    edited = by_openpyxl.copy()
    edited.loc[3, "V2010"] = " 12,5 (a)"
    edited.loc[4, "V2010"] = "...."
    edited.loc[5, "V2011"] = None
    edited.loc[6, "V2011"] = 7
    edited.loc[7, "V2012"] = "-"
    for edition in ("2025", "2021"):
        got = istat_bes.parse_bes_sheet(edited.copy(), source="s.xlsx", edition=edition)
        pd.testing.assert_frame_equal(got, _melted_reference(edited.copy(), edition=edition))
    assert istat_bes.read_bes_workbook(small_bes25, sheet=sheet, edition="2025").equals(
        _melted_reference(by_openpyxl, edition="2025")
    )


def test_load_reads_a_panel_file_once_and_returns_copies(built_panels, monkeypatch):
    import os

    from analysis.data import panels

    reads = []
    read_parquet = pd.read_parquet
    monkeypatch.setattr(
        pd, "read_parquet", lambda *a, **k: reads.append(a) or read_parquet(*a, **k)
    )
    panels._LOADED.clear()
    first = panels.load("elet_regions")
    first["value"] = -1.0  # a caller may modify what it received
    second = panels.load("elet_regions")
    assert len(reads) == 1
    pd.testing.assert_frame_equal(second, read_parquet(paths.processed("elet_regions")))
    # a rewritten file is read again
    target = paths.processed("elet_regions")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    panels.load("elet_regions")
    assert len(reads) == 2


def test_the_splice_panels_come_from_one_splice(built_panels, monkeypatch):
    from analysis.data import panels

    calls = []
    splice_editions = splice.splice_editions
    monkeypatch.setattr(
        splice, "splice_editions", lambda bes: calls.append(1) or splice_editions(bes)
    )
    panels._SPLICE.clear()
    spliced, overlap = panels.build("bes_spliced"), panels.build("bes_overlap")
    assert len(calls) == 1
    fresh = splice_editions(panels.load("bes_provinces"))
    pd.testing.assert_frame_equal(spliced, fresh[0])
    pd.testing.assert_frame_equal(overlap, fresh[1])


def test_bes_not_a_workbook(tmp_path):
    f = tmp_path / "fake.xlsx"
    f.write_text("not a workbook")
    with pytest.raises(DataValidationError, match="fake.xlsx"):
        istat_bes.read_bes_workbook(f, sheet="Indicatori_per_provincia_sesso", edition="2025")


def test_unemployment_broken_copies(tmp_path):
    f = _copy(UNEMP, tmp_path)
    text = f.read_text().splitlines()
    header = text[0].split(",")
    row = text[5].split(",")
    row[header.index("unrate")] = "abc"
    text[5] = ",".join(row)
    f.write_text("\n".join(text) + "\n")
    with pytest.raises(DataValidationError, match=r"column 'unrate', rows \[6\]: not a number"):
        other_sources.read_unemployment(f)
    f.write_text(
        "\n".join(
            [
                UNEMP.read_text().splitlines()[0],
                *UNEMP.read_text().splitlines()[1:3],
                UNEMP.read_text().splitlines()[2],
            ]
        )
        + "\n"
    )
    with pytest.raises(DataValidationError, match="duplicated key"):
        other_sources.read_unemployment(f)
    f.write_text(UNEMP.read_text().replace("unrate", "unemployment", 1))
    with pytest.raises(DataValidationError, match="column 'unrate'.*required column missing"):
        other_sources.read_unemployment(f)


def test_manifest_mismatch_names_the_file(sandbox):
    target = sandbox / "data/raw/eurostat_ilc_peps11/ilc_peps11_italy_nuts2.tsv"
    target.write_text(target.read_text().replace("34.8", "34.9"))
    with pytest.raises(DataValidationError, match="ilc_peps11_italy_nuts2.tsv.*SHA-256 differs"):
        verify_raw()


def _provinces_reference(file_2021: Path, file_2025: Path) -> pd.DataFrame:
    """The provincial panel the plain way: stack the two long tables, join, sort (stable)."""
    b25 = istat_bes.read_bes_workbook(file_2025, sheet=istat_bes.SHEET_PROVINCES, edition="2025")
    b21 = istat_bes.read_bes_workbook(file_2021, sheet=istat_bes.SHEET_PROVINCES, edition="2021")
    terr = istat_bes.territory_table(b25)
    both = pd.concat([b25.drop(columns="w_geo"), b21.drop(columns="w_geo")], ignore_index=True)
    both = both.merge(terr, on="territory", how="left", validate="many_to_one")
    both["series_code"] = istat_bes.series_codes(both["indicator_code"])
    out = both.rename(columns={"w_geo": "province_code", "territory": "province_name"})
    cols = [
        "province_code",
        "province_name",
        "region",
        "macro_area",
        "level",
        "indicator_code",
        "series_code",
        "indicator_name",
        "unit",
        "sex",
        "year",
        "value",
        "flag",
        "edition",
    ]
    keys = ["series_code", "edition", "province_code", "sex", "year"]
    return out[cols].sort_values(keys, kind="stable").reset_index(drop=True)


def test_bes_provinces_equal_the_stacked_joined_and_sorted_long_tables(tmp_path, small_bes25):
    """read_bes_provinces orders sheet rows, not cells: the same panel, ties included.

    Sheet rows whose codes share a series code (``X`` and ``X-N22``: one series) tie on the
    sort keys; their cells keep the order of a stable sort of the long tables (by year, then
    file order), which the copies below make happen in both editions.
    """

    def with_ties(ws):
        rows = list(ws.iter_rows(min_row=2, max_row=21, values_only=True))
        for r in rows:  # the same indicator again as its "-N22" series, other values
            ws.append([f"{r[0]}-N22" if c == 1 else v for c, v in enumerate(r)])
        for r in rows[:5]:  # and once more before the original rows' code
            ws.append([f"{r[0]}-N21" if c == 1 else v for c, v in enumerate(r)])

    f25 = _edit_xlsx(small_bes25, tmp_path / "b25.xlsx", with_ties)
    territories = set(
        istat_bes.read_bes_workbook(f25, sheet="Indicatori_per_provincia_sesso", edition="2025")[
            "territory"
        ]
    )
    src = openpyxl.load_workbook(BES21, read_only=True)["Indicatori_per_provincia_sesso"]
    out = openpyxl.Workbook()
    ws = out.active
    ws.title = "Indicatori_per_provincia_sesso"
    for i, row in enumerate(src.iter_rows(values_only=True)):
        if i == 0 or (row[4] in territories and ws.max_row < 200):
            ws.append(row)
    out.save(tmp_path / "b21.xlsx")
    f21 = _edit_xlsx(tmp_path / "b21.xlsx", tmp_path / "b21t.xlsx", with_ties)
    got = istat_bes.read_bes_provinces(f21, f25)
    ref = _provinces_reference(f21, f25)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    tied = got.duplicated(["series_code", "edition", "province_code", "sex", "year"], keep=False)
    assert tied.sum() > 100 and set(got["edition"]) == {"2021", "2025"}


def test_a_built_panel_is_what_its_file_reads_back_and_is_served_without_reading(
    tmp_path, monkeypatch
):
    """build() keeps the frame it wrote for later loads in the process (the BES splice loads
    bes_provinces right after building it): that frame must be the one the file reads back."""
    from analysis.data import panels

    monkeypatch.setattr(paths, "PROCESSED_DIR", tmp_path)
    monkeypatch.setattr(panels, "_LOADED", {})
    strict = {"check_exact": True, "check_index_type": True, "check_column_type": True}
    for name in ("bes_provinces", "elet_regions"):
        built = panels.build(name)
        back = pd.read_parquet(paths.processed(name))
        pd.testing.assert_frame_equal(built, back, **strict)
        assert type(built.index) is type(back.index)
        with monkeypatch.context() as m:
            m.setattr(pd, "read_parquet", lambda *a, **k: pytest.fail("panel read again"))
            loaded = panels.load(name)
            pd.testing.assert_frame_equal(loaded, back, **strict)
            loaded.loc[0, "year"] = -1  # a caller's change stays in its copy
            built.loc[0, "year"] = -1
            assert panels.load(name).loc[0, "year"] == back.loc[0, "year"]


def test_build_all_keeps_the_panel_order_and_raises_the_first_error_in_it(monkeypatch):
    """The school panels are built in a second thread; the result and the error raised are
    those of building the panels one after the other."""
    import threading

    from analysis.data import panels

    failing: set[str] = set()
    threads: dict[str, str] = {}

    def fake_build(name: str) -> pd.DataFrame:
        threads[name] = threading.current_thread().name
        if name in failing:
            raise DataValidationError(name, "broken on purpose")
        return pd.DataFrame({"panel": [name]})

    monkeypatch.setattr(panels, "build", fake_build)
    out = panels.build_all(force=True)
    assert list(out) == list(panels.PANELS)
    assert all(df["panel"].iloc[0] == name for name, df in out.items())
    assert {n for n, t in threads.items() if t.startswith("panels")} == set(panels.SECOND_THREAD)
    names = list(panels.PANELS)
    assert names.index("bes_regions") < names.index("school_sites")
    failing.update({"school_sites", "bes_regions"})
    with pytest.raises(DataValidationError, match="bes_regions"):
        panels.build_all(force=True)
    failing.clear()
    failing.add("school_registry_2022")
    with pytest.raises(DataValidationError, match="school_registry_2022"):
        panels.build_all(force=True)
