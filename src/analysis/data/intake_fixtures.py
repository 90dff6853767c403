"""Realistic test fixtures for the intake: a simulated panel written as the messy files schools send.

:func:`write_fixture_files` takes a SIMULATED panel (:func:`analysis.data.simulate.programme_panel`)
and writes, for fictitious people with well-formed synthetic codici fiscali, the files the
intake reads: per school and school year one register export (xlsx with title rows, a merged
"Assenze" header, a totals row and notes below; csv with ``;`` separators, decimal commas and
Windows-1252; csv with ``,`` and a UTF-8 BOM; legacy Excel 97-2003 ``.xls`` with merged title
cells, a blank row under the header, numbers and dates stored as Excel numbers and dates — some
dates typed as text —, two totals rows and notes below), a lower- and an upper-secondary file
per school,
header spellings that differ from school to school, the attendance registers per course
edition, and ``config/intake.yaml`` declaring them.  It injects known problems and returns them
(:class:`FixtureManifest`), so a test can check that each one appears in the intake report and
that the panel the intake builds equals the simulated one (up to the pseudonymous ids).

No real person is described: names come from short lists, codes are computed from them.

The ``.xls`` (BIFF8) files are written with xlwt, the one Python writer of that format (pure
Python; no longer developed since 1.3.0, 2017, but stable; pandas dropped it as an engine in 2.0,
so it is called directly).  It is a test/dev dependency only: the intake reads ``.xls`` with
calamine, and nothing outside the fixtures writes ``.xls``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.data import codice_fiscale as cf

__all__ = ["FixtureManifest", "write_fixture_files"]

_SURNAMES = [
    "Rossi",
    "Bianchi",
    "Greco",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Conte",
    "Gallo",
    "Costa",
    "Fontana",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
]
_NAMES_F = ["Giulia", "Sofia", "Aurora", "Alice", "Ginevra", "Emma", "Chiara", "Martina"]
_NAMES_M = [
    "Leonardo",
    "Francesco",
    "Lorenzo",
    "Alessandro",
    "Mattia",
    "Andrea",
    "Gabriele",
    "Tommaso",
]
_ITALIAN_PLACE, _FOREIGN_PLACE = "E506", "Z100"  # Lecce; a foreign country code

# school -> (format, header spelling of each canonical field)
_LAYOUTS = [
    (
        "xlsx",
        {
            "codice_fiscale": "Codice Fiscale",
            "cognome": "Cognome",
            "nome": "Nome",
            "data_nascita": "Data di nascita",
            "sesso": "Sesso",
            "cittadinanza": "Cittadinanza",
            "classe": "Classe",
            "sezione": "Sezione",
            "ore_assenza": "Ore",
            "monte_ore": "Monte ore",
            "media_voti": "Media voti",
            "esito": "Esito",
        },
    ),
    (
        "csv;",
        {
            "codice_fiscale": "Cod. Fiscale",
            "cognome": "Cognome alunno",
            "nome": "Nome alunno",
            "data_nascita": "Nato il",
            "sesso": "M/F",
            "cittadinanza": "Nazionalità",
            "classe": "Anno di corso",
            "sezione": "Sez.",
            "ore_assenza": "Ore assenza",
            "monte_ore": "Monte ore annuo",
            "media_voti": "Media",
            "esito": "Esito finale",
        },
    ),
    (
        "csv,",
        {
            "codice_fiscale": "CF",
            "cognome": "COGNOME",
            "nome": "NOME",
            "data_nascita": "Data nascita",
            "sesso": "Genere",
            "cittadinanza": "Cittadinanza",
            "classe": "Classe",
            "sezione": "Sezione",
            "ore_assenza": "Tot. ore assenza",
            "monte_ore": "Ore annue",
            "media_voti": "Media finale",
            "esito": "Risultato",
        },
    ),
    (
        "xls",  # legacy Excel 97-2003 (BIFF8); "Ore" sits under a merged "Assenze" cell
        {
            "codice_fiscale": "C.F.",
            "cognome": "Cognome",
            "nome": "Nome",
            "data_nascita": "Data nasc.",
            "sesso": "Sesso",
            "cittadinanza": "Cittadinanza",
            "classe": "Cl.",
            "sezione": "Sez.",
            "ore_assenza": "Ore",
            "monte_ore": "Monte ore personalizzato",
            "media_voti": "Media voti",
            "esito": "Esito scrutinio",
        },
    ),
]
#: the .xls registers also carry a running number, a column the intake does not map
_XLS_NUMBER_COLUMN = "N."
#: every 4th date of birth in an .xls register is typed as text (GG/MM/AAAA), the rest are
#: Excel dates, as in registers filled partly by hand
_XLS_TEXT_DATE_EVERY = 4
_ESITO_SPELLING = {0: "ammesso", 1: "Promosso", 2: "AMMESSO"}  # school 1 uses a declared map


@dataclass(frozen=True)
class FixtureManifest:
    """What the fixtures hold: the files, the config, the expected panel and the injections."""

    config: Path
    files: tuple[Path, ...]
    expected: pd.DataFrame  # the simulated panel as the intake must rebuild it (original ids)
    injected: dict[str, str]  # problem -> what the intake report must show
    # school file (as written in the config) -> the counts its row of the intake report's files
    # sheet must show: header_line, rows_read, blank_rows, totals_rows, notes_rows
    file_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # school file (as written in the config) -> its format: "xlsx", "csv;", "csv," or "xls"
    formats: dict[str, str] = field(default_factory=dict)


def _people(panel: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    p = (
        panel.groupby("pupil_id")
        .agg(
            sex=("sex", "first"),
            birth_year=("birth_year", "first"),
            foreign_born=("foreign_born", "first"),
        )
        .reset_index()
    )
    p["surname"] = rng.choice(_SURNAMES, len(p))
    p["name"] = [rng.choice(_NAMES_F if s == "F" else _NAMES_M) for s in p["sex"]]
    p["month"] = rng.integers(1, 13, len(p))
    p["day"] = rng.integers(1, 29, len(p))
    p["dob"] = [
        dt.date(int(y), int(m), int(d))
        for y, m, d in zip(p["birth_year"], p["month"], p["day"], strict=True)
    ]
    # fictitious codes; distinct per pupil (a serial in the surname letters would not be valid)
    codes, seen = [], set()
    for r in p.itertuples():
        day = r.day
        while True:
            code = cf.synthetic_code(
                r.surname,
                r.name,
                r.birth_year,
                r.month,
                day,
                female=r.sex == "F",
                place=_FOREIGN_PLACE if r.foreign_born else _ITALIAN_PLACE,
            )
            if code not in seen:
                break
            day = day % 28 + 1
        seen.add(code)
        codes.append(code)
    p["cf"] = codes
    p["dob"] = [
        dt.date(int(y), int(m), int(c[9:11]) % 40)
        for y, m, c in zip(p["birth_year"], p["month"], p["cf"], strict=True)
    ]
    return p.set_index("pupil_id")


def _fmt(x: float, comma: bool) -> str:
    s = f"{x:.9f}".rstrip("0").rstrip(".")
    return s.replace(".", ",") if comma else s


def write_fixture_files(panel: pd.DataFrame, root: Path, *, seed: int = 0) -> FixtureManifest:
    """Write the messy source files of ``panel`` under ``root/data/raw/programme/fixtures``.

    School ``k`` (in sorted order) gets layout ``k mod 4``: xlsx, csv with ``;``, csv with
    ``,``, xls — a panel of four or more schools is needed for ``.xls`` files.  The manifest
    records each school file's format and the counts the intake report must show for it.

    Parameters
    ----------
    panel
        A SIMULATED contract panel (``programme_panel(...).data``).
    root
        The repository root the intake config's paths are relative to.
    seed
        Seed of the fictitious names, birth dates and hours attended.
    """
    rng = np.random.default_rng(seed)
    folder = root / "data" / "raw" / "programme" / "fixtures"
    folder.mkdir(parents=True, exist_ok=True)
    people = _people(panel, rng)
    schools = sorted(panel["school_id"].unique())
    monte = 1000.0
    # one pupil's code is mistyped everywhere; the intake links them by name and date of birth
    typo_pid = panel.loc[panel["cohort"] > 0, "pupil_id"].iloc[0]
    good = people.loc[typo_pid, "cf"]
    people.loc[typo_pid, "cf"] = good[:15] + ("A" if good[15] != "A" else "B")
    rows = []
    for _pid, grp in panel.sort_values(["pupil_id", "year"]).groupby("pupil_id"):
        first = grp.iloc[0]
        base = first.copy()
        base["year"] = int(first["year"]) - 1
        base["absence_rate"] = first["baseline_absence"]
        base["dropped_out"], base["repeated_grade"], base["grade_avg"] = 0, 0.0, 6.0
        rows.append(base)
        rows.extend(r for _, r in grp.iterrows())
    full = pd.DataFrame(rows).reset_index(drop=True)
    files: list[Path] = []
    cfg_schools = []
    injected: dict[str, str] = {}
    file_counts: dict[str, dict[str, int]] = {}
    formats: dict[str, str] = {}
    for k, school in enumerate(schools):
        fmt, headers = _LAYOUTS[k % len(_LAYOUTS)]
        sfiles = []
        for order, lo, hi in (("lower", 6, 8), ("upper", 9, 13)):
            part = full[(full["school_id"] == school) & full["grade_level"].between(lo, hi)]
            for year, yr in part.groupby("year"):
                recs = []
                for r in yr.itertuples():
                    person = people.loc[r.pupil_id]
                    dropped = int(r.dropped_out) == 1
                    classe = int(r.grade_level) - (5 if order == "lower" else 8)
                    esito = (
                        "ritirato"
                        if dropped
                        else ("non ammesso" if r.repeated_grade == 1 else _ESITO_SPELLING[k % 3])
                    )
                    comma = fmt == "csv;"
                    if fmt == "xls":  # Excel numbers and dates, not text
                        recs.append(
                            {
                                "codice_fiscale": person["cf"],
                                "cognome": person["surname"],
                                "nome": person["name"],
                                "data_nascita": person["dob"].strftime("%d/%m/%Y")
                                if len(recs) % _XLS_TEXT_DATE_EVERY == _XLS_TEXT_DATE_EVERY - 1
                                else person["dob"],
                                "sesso": r.sex,
                                "cittadinanza": "ALBANESE"
                                if person["foreign_born"]
                                else "ITALIANA",
                                "classe": classe,
                                "sezione": "A",
                                "ore_assenza": None
                                if pd.isna(r.absence_rate)
                                else float(r.absence_rate) * monte,
                                "monte_ore": monte,
                                "media_voti": None if pd.isna(r.grade_avg) else float(r.grade_avg),
                                "esito": esito,
                            }
                        )
                        continue
                    recs.append(
                        {
                            "codice_fiscale": person["cf"],
                            "cognome": person["surname"],
                            "nome": person["name"],
                            "data_nascita": person["dob"].strftime("%d/%m/%Y"),
                            "sesso": r.sex,
                            "cittadinanza": "ALBANESE" if person["foreign_born"] else "ITALIANA",
                            "classe": f"{classe}",
                            "sezione": "A",
                            "ore_assenza": ""
                            if pd.isna(r.absence_rate)
                            else _fmt(r.absence_rate * monte, comma),
                            "monte_ore": _fmt(monte, comma),
                            "media_voti": "" if pd.isna(r.grade_avg) else _fmt(r.grade_avg, comma),
                            "esito": esito,
                        }
                    )
                df = pd.DataFrame(recs)
                name = f"{school}_{order}_{year}-{str(year + 1)[-2:]}"
                path = _write(df.rename(columns=headers), folder, name, fmt, school, year)
                files.append(path)
                rel = path.relative_to(root).as_posix()
                sfiles.append({"path": rel, "year": int(year), "order": order})
                formats[rel] = fmt
                file_counts[rel] = {"rows_read": len(df), **_LAYOUT_COUNTS[fmt]}
        entry = {"school_id": school, "files": sfiles}
        if k % 3 == 1:
            entry["value_maps"] = {"esito": {"promosso": "ammesso"}}
        cfg_schools.append(entry)
    injected["header spellings"] = "files sheet: columns mapped for every layout"
    if "xls" in formats.values():
        injected["legacy .xls (BIFF8) registers"] = (
            "files sheet: read (sheet Scrutini), header found under merged title cells, "
            "N. unmapped, blank, totals and notes rows counted; dates as Excel dates or text"
        )
    injected["school-specific Esito spelling"] = "recodings: Promosso → ammesso"
    injected["mistyped codice fiscale, linked by name and date of birth"] = (
        "recodings: linked by surname, name and date of birth"
    )
    # extra rows that must be rejected or resolved (they are not in the expected panel)
    extra_dir = folder / "extra"
    extra_dir.mkdir(exist_ok=True)
    someone = panel[panel["cohort"] == 0].iloc[0]
    person = people.loc[someone["pupil_id"]]
    other_school = next(s for s in schools if s != someone["school_id"])
    extra = pd.DataFrame(
        [
            # a fictitious pupil with an invalid code and no date of birth: rejected
            {
                "Codice Fiscale": "XXXYYY00A00Z000Q",
                "Cognome": "Neri",
                "Nome": "Paolo",
                "Data di nascita": "",
                "Sesso": "M",
                "Classe": "2",
                "Ore di assenza": "10",
                "Monte ore annuo": "1000",
                "Media voti": "6",
                "Esito": "ammesso",
            },
            # the same fictitious pupil twice in one school and year: both rejected
            *[
                {
                    "Codice Fiscale": cf.synthetic_code(
                        "Verdi", "Luca", 2007, 3, 3, female=False, place=_ITALIAN_PLACE
                    ),
                    "Cognome": "Verdi",
                    "Nome": "Luca",
                    "Data di nascita": "03/03/2007",
                    "Sesso": "M",
                    "Classe": "2",
                    "Ore di assenza": "10",
                    "Monte ore annuo": "1000",
                    "Media voti": "6",
                    "Esito": "ammesso",
                }
            ]
            * 2,
            # a real (simulated) pupil also listed by another school that year, as transferred out
            {
                "Codice Fiscale": person["cf"],
                "Cognome": person["surname"],
                "Nome": person["name"],
                "Data di nascita": person["dob"].strftime("%d/%m/%Y"),
                "Sesso": person["sex"],
                "Classe": "1",
                "Ore di assenza": "",
                "Monte ore annuo": "1000",
                "Media voti": "",
                "Esito": "trasferito",
            },
        ]
    )
    xpath = extra_dir / f"{other_school}_extra_{int(someone['year'])}.csv"
    extra.to_csv(xpath, index=False, encoding="utf-8")
    files.append(xpath)
    cfg_schools.append(
        {
            "school_id": other_school,
            "files": [
                {
                    "path": xpath.relative_to(root).as_posix(),
                    "year": int(someone["year"]),
                    "order": "upper",
                }
            ],
        }
    )
    injected["invalid codice fiscale without name and date of birth"] = (
        "rejections: invalid codice fiscale and no surname, name and date of birth"
    )
    injected["the same pupil twice in one school and year"] = (
        "rejections: the same pupil twice in one school and year"
    )
    injected["a pupil in two schools in one year"] = (
        "conflicts: kept the school the pupil did not transfer out of"
    )
    # attendance registers: one file per course edition, plus a participant missing from the schools
    att_files = []
    parts = (
        panel[panel["cohort"] > 0]
        .groupby("pupil_id")
        .agg(course=("course", "first"), cohort=("cohort", "first"))
    )
    hours = pd.Series(rng.integers(8, 41, len(parts)).astype(float), index=parts.index)
    for (course, cohort), grp in parts.groupby(["course", "cohort"]):
        recs = []
        for pid in grp.index:
            person = people.loc[pid]
            typo = pid == typo_pid
            recs.append(
                {
                    "Codice fiscale": "" if typo else person["cf"],
                    "Cognome": person["surname"],
                    "Nome": person["name"],
                    "Data di nascita": person["dob"].strftime("%d/%m/%Y"),
                    "Corso": course,
                    "Edizione": f"{cohort}/{str(cohort + 1)[-2:]}",
                    "Data inizio": f"10/10/{cohort}",
                    "Data fine": f"20/05/{cohort + 1}",
                    "Ore frequentate": _fmt(hours[pid], True),
                }
            )
        if not att_files:
            recs.append(
                {
                    "Codice fiscale": cf.synthetic_code(
                        "Fabbri", "Marco", 2009, 9, 9, female=False, place=_ITALIAN_PLACE
                    ),
                    "Cognome": "Fabbri",
                    "Nome": "Marco",
                    "Data di nascita": "09/09/2009",
                    "Corso": course,
                    "Edizione": f"{cohort}/{str(cohort + 1)[-2:]}",
                    "Data inizio": f"10/10/{cohort}",
                    "Data fine": f"20/05/{cohort + 1}",
                    "Ore frequentate": "12",
                }
            )
        path = folder / f"presenze_{str(course).replace(' ', '_').replace('/', '-')}.xlsx"
        pd.DataFrame(recs).to_excel(path, index=False)
        att_files.append({"path": path.relative_to(root).as_posix()})
        files.append(path)
    injected["a participant missing from the school files"] = (
        "unmatched: one participant; linkage rate below 1 for that edition"
    )
    config = root / "config" / "intake.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    import yaml

    config.write_text(
        "# Written by analysis.data.intake_fixtures (SIMULATED pupils, fictitious identities)\n"
        + yaml.safe_dump(
            {
                "output": "data/processed/programme/panel.parquet",
                "report_dir": "data/intake",
                "schools": cfg_schools,
                "attendance": att_files,
            },
            sort_keys=False,
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    expected = panel.drop(
        columns=[c for c in ("invalsi_score", "ses_index", "treated") if c in panel]
    ).copy()
    expected["dose"] = expected["pupil_id"].map(hours).fillna(0.0)
    return FixtureManifest(
        config=config,
        files=tuple(files),
        expected=expected,
        injected=injected,
        file_counts=file_counts,
        formats=formats,
    )


#: what the intake report's files sheet counts in each layout's school files (see ``_write``)
_LAYOUT_COUNTS = {
    "xlsx": {"header_line": 4, "blank_rows": 2, "totals_rows": 1, "notes_rows": 1},
    "csv;": {"header_line": 1, "blank_rows": 0, "totals_rows": 0, "notes_rows": 0},
    "csv,": {"header_line": 1, "blank_rows": 0, "totals_rows": 0, "notes_rows": 0},
    "xls": {"header_line": 4, "blank_rows": 3, "totals_rows": 2, "notes_rows": 2},
}


def _write(df: pd.DataFrame, folder: Path, name: str, fmt: str, school: str, year: int) -> Path:
    if fmt == "csv;":
        path = folder / f"{name}.csv"
        text = df.to_csv(index=False, sep=";")
        path.write_bytes(text.encode("cp1252", errors="replace"))
        return path
    if fmt == "csv,":
        path = folder / f"{name}.csv"
        path.write_bytes(("\ufeff" + df.to_csv(index=False)).encode("utf-8"))
        return path
    if fmt == "xls":
        return _write_xls(df, folder / f"{name}.xls", school, year)
    from openpyxl import Workbook

    path = folder / f"{name}.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Scrutini"
    ws.append([f"Istituto {school}"])
    ws.append([f"Scrutini finali a.s. {year}/{str(year + 1)[-2:]}"])
    cols = list(df.columns)
    group = ["" for _ in cols]
    i = cols.index("Ore")
    group[i] = "Assenze"
    ws.append(group)
    ws.merge_cells(start_row=3, start_column=i + 1, end_row=3, end_column=i + 2)
    ws.append(cols)
    for r in df.itertuples(index=False):
        ws.append(list(r))
    ws.append([])
    ws.append(["Totale alunni", len(df)])
    ws.append([])
    ws.append(["Fonte: registro elettronico, estrazione del 30/06"])
    wb.save(path)
    return path


def _xlwt() -> Any:
    """The xlwt module, or an error saying how to install it (it is in the 'dev' extra)."""
    try:
        import xlwt
    except ImportError as exc:  # pragma: no cover - xlwt is pinned in requirements.lock
        raise ImportError(
            "writing .xls fixtures needs xlwt (the 'dev' extra: pip install -r requirements.lock)"
        ) from exc
    return xlwt


_XLS_MAX_ROWS = 65_536  # rows in a BIFF8 sheet


def _write_xls(df: pd.DataFrame, path: Path, school: str, year: int) -> Path:
    """One school's register as an Excel 97-2003 (.xls, BIFF8) sheet, laid out as exported.

    Two title rows merged across the table, "Assenze" merged over "Ore" and the annual hours,
    the header, a blank row, one row per pupil with a running number (``N.``, unmapped),
    numbers as Excel numbers, dates of birth as Excel dates formatted GG/MM/AAAA (or text where
    the frame holds text), then a blank row, "Totale alunni" and "Media classe", a blank row and
    two notes.  Missing values are empty cells.
    """
    if len(df) + 11 > _XLS_MAX_ROWS:
        raise ValueError(f"{path.name}: {len(df)} rows do not fit in one .xls sheet")
    xlwt = _xlwt()
    title = xlwt.easyxf("font: bold on; align: horiz centre")
    head = xlwt.easyxf("font: bold on; align: horiz centre, wrap on")
    date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    cols = [_XLS_NUMBER_COLUMN, *df.columns]
    last = len(cols) - 1
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Scrutini")
    ws.write_merge(0, 0, 0, last, f"Istituto {school} — Registro generale dei voti", title)
    ws.write_merge(1, 1, 0, last, f"Scrutini finali a.s. {year}/{str(year + 1)[-2:]}", title)
    i = cols.index("Ore")
    ws.write_merge(2, 2, i, i + 1, "Assenze", head)  # over "Ore" and the annual hours
    for j, c in enumerate(cols):
        ws.write(3, j, c, head)
    row = 5  # row 4 stays blank
    for n, rec in enumerate(df.itertuples(index=False), start=1):
        ws.write(row, 0, n)
        for j, v in enumerate(rec, start=1):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            if isinstance(v, dt.date):
                ws.write(row, j, v, date)
            else:
                ws.write(row, j, v.item() if isinstance(v, np.generic) else v)
        row += 1
    grades = pd.to_numeric(df["Media voti"], errors="coerce")
    ws.write(row + 1, 0, "Totale alunni")
    ws.write(row + 1, 1, len(df))
    ws.write(row + 2, 0, "Media classe")
    if grades.notna().any():
        ws.write(row + 2, cols.index("Media voti"), round(float(grades.mean()), 2))
    ws.write(row + 4, 0, "Fonte: registro elettronico, estrazione del 30/06")
    ws.write(row + 5, 0, "Ore di assenza al netto delle deroghe deliberate dal collegio")
    wb.save(str(path))
    return path


# --------------------------------------------------------------------------------------------
# Registers at scale (benchmarks): vectorised, no per-pupil Python
# --------------------------------------------------------------------------------------------


def register_panel(
    n_pupils: int, *, seed: int = 0, first_year: int = 2018, n_years: int = 6, n_schools: int = 500
) -> pd.DataFrame:
    """A contract panel of a regional register: ``n_pupils`` pupils followed for ``n_years``.

    SIMULATED.  Built with whole-array numpy operations so that 1,000,000 pupils × 6 school
    years take seconds (:func:`analysis.data.simulate.programme_panel` models selection and
    school effects and is meant for thousands of pupils).  Every pupil enters in
    ``first_year`` in grade 6, 7 or 8 and stays in one school; an annual dropout hazard of 1 %
    ends a pupil's rows (outcomes missing in the dropout year); 10 % take part in one of
    three editions (cohorts ``first_year + 2 … + 4``).  Rows are sorted by pupil and year.
    """
    if n_pupils < 1 or n_years < 3:
        raise ValueError("n_pupils must be ≥ 1 and n_years ≥ 3")
    rng = np.random.default_rng(seed)
    years = np.arange(first_year, first_year + n_years)
    g0 = rng.integers(6, 9, n_pupils)
    drop_t = rng.geometric(0.01, n_pupils) - 1  # event time of the dropout year (may be ≥ n_years)
    n_rows_p = np.minimum(drop_t + 1, n_years)
    pid = np.repeat(np.arange(n_pupils), n_rows_p)
    t = np.arange(len(pid)) - np.repeat(np.cumsum(n_rows_p) - n_rows_p, n_rows_p)
    part = rng.random(n_pupils) < 0.10
    cohort_p = np.where(part, first_year + rng.integers(2, 5, n_pupils), 0)
    course_p = np.where(
        part, np.array(["Coding", "Teatro", "Sport"])[rng.integers(0, 3, n_pupils)], ""
    )
    school_p = rng.integers(0, n_schools, n_pupils)
    sex_p = np.where(rng.random(n_pupils) < 0.49, "F", "M")
    foreign_p = (rng.random(n_pupils) < 0.08).astype("int64")
    base_abs_p = np.clip(rng.beta(2, 20, n_pupils), 0, 1)
    ses_p = rng.normal(0, 1, n_pupils)
    year = years[t]
    cohort = cohort_p[pid]
    treated = ((cohort > 0) & (year >= cohort)).astype("int64")
    dropped = (t == drop_t[pid]).astype(float)
    n = len(pid)
    absence = np.clip(base_abs_p[pid] + rng.normal(0, 0.03, n) - 0.02 * treated, 0, 1)
    repeated = (rng.random(n) < 0.05).astype(float)
    grades = np.clip(
        np.round(6.5 + 0.5 * ses_p[pid] + rng.normal(0, 0.8, n) + 0.2 * treated, 2), 1, 10
    )
    invalsi = np.clip(200 + 40 * rng.normal(0, 1, n), 50, 400)
    out_na = dropped == 1
    ids = pd.Series(np.arange(n_pupils)).astype("str").str.zfill(7)
    schools = pd.Series(np.arange(n_schools)).astype("str").str.zfill(4)
    frame = pd.DataFrame(
        {
            "pupil_id": ("P" + ids).to_numpy()[pid],
            "school_id": ("S" + schools).to_numpy()[school_p[pid]],
            "year": year.astype("int64"),
            "cohort": cohort.astype("int64"),
            "course": course_p[pid],
            "dropped_out": dropped,
            "absence_rate": np.where(out_na, np.nan, absence),
            "repeated_grade": np.where(out_na, np.nan, repeated),
            "grade_avg": np.where(out_na, np.nan, grades),
            "invalsi_score": np.where(out_na, np.nan, invalsi),
            "sex": sex_p[pid],
            "birth_year": (first_year - g0 - 6)[pid].astype("int64"),
            "grade_level": (g0[pid] + t).astype("int64"),
            "foreign_born": foreign_p[pid],
            "baseline_absence": base_abs_p[pid],
            "ses_index": ses_p[pid],
            "treated": treated,
        }
    )
    for c in ("pupil_id", "school_id", "course", "sex"):
        frame[c] = frame[c].astype("str")
    return frame


def _write_register_xls(part: pd.DataFrame, path: Path, school: str) -> Path:
    """One register file as an .xls sheet: title, header, rows, blank row, totals (xlwt)."""
    if len(part) + 4 > _XLS_MAX_ROWS:
        raise ValueError(
            f"{path.name}: {len(part)} rows do not fit in one .xls sheet (use more schools)"
        )
    xlwt = _xlwt()
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Scrutini")
    ws.write(0, 0, f"Istituto {school}")
    for j, c in enumerate(part.columns):
        ws.write(1, j, c)
    for i, r in enumerate(part.itertuples(index=False), start=2):
        for j, v in enumerate(r):
            if isinstance(v, float) and np.isnan(v):
                continue
            ws.write(i, j, v.item() if isinstance(v, np.generic) else v)
    ws.write(len(part) + 3, 0, "Totale alunni")
    ws.write(len(part) + 3, 1, len(part))
    wb.save(str(path))
    return path


_CF_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _synthetic_codes(
    n: int,
    rng: np.random.Generator,
    birth_year: np.ndarray,
    female: np.ndarray,
    foreign: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` distinct well-formed codes for fictitious people, with their letters and birth days."""
    letters = _CF_LETTERS[rng.integers(0, 26, (n, 6))]
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    surname = np.char.add(np.char.add(letters[:, 0], letters[:, 1]), letters[:, 2])
    name = np.char.add(np.char.add(letters[:, 3], letters[:, 4]), letters[:, 5])
    dd = day + np.where(female, 40, 0)
    first15 = (
        pd.Series(surname)
        + pd.Series(name)
        + pd.Series(birth_year % 100).astype(str).str.zfill(2)
        + pd.Series(np.array(list(cf._MONTHS))[month - 1])
        + pd.Series(dd).astype(str).str.zfill(2)
        + pd.Series(np.where(foreign, _FOREIGN_PLACE, _ITALIAN_PLACE))
    )
    b = np.frombuffer(first15.to_numpy(dtype=object).astype("S15").tobytes(), np.uint8).reshape(
        -1, 15
    )
    total = cf._ODD_TABLE[b[:, 0::2]].sum(axis=1) + cf._EVEN_TABLE[b[:, 1::2]].sum(axis=1)
    codes = (first15 + pd.Series(_CF_LETTERS[total % 26])).to_numpy(dtype=object)
    return codes, surname, name, np.stack([day, month], axis=1)


def write_register_files(
    root: Path, n_pupils: int, *, fmt: str = "csv", n_schools: int = 100, seed: int = 0
) -> Path:
    """Write a regional register as the schools send it; return the intake config's path.

    SIMULATED, fictitious people, for benchmarks (issue 13, "Scale").  ``n_pupils`` pupils are
    followed for 6 school years (the first is the baseline year the intake keeps as
    ``baseline_absence``) in ``n_schools`` schools; each school sends one file per school year
    and order (lower secondary classes 1–3, upper secondary 1–5): ``fmt="csv"`` — ``;``
    separated, decimal commas, Windows-1252 —, ``fmt="xlsx"`` (openpyxl, write-only) or
    ``fmt="xls"`` (Excel 97-2003 with xlwt; a BIFF8 sheet holds at most 65,536 rows, so a
    school file of more pupils is refused: use more schools).
    10 % of the pupils are in the attendance registers of three editions.  Built from
    :func:`register_panel` with whole-array operations.
    """
    if fmt not in ("csv", "xlsx", "xls"):
        raise ValueError("fmt must be 'csv', 'xlsx' or 'xls'")
    panel = register_panel(n_pupils, seed=seed, first_year=2018, n_schools=n_schools)
    rng = np.random.default_rng(seed + 1)
    pupils = panel.drop_duplicates("pupil_id").set_index("pupil_id")
    codes, surname, name, dm = _synthetic_codes(
        len(pupils),
        rng,
        pupils["birth_year"].to_numpy(),
        (pupils["sex"] == "F").to_numpy(),
        pupils["foreign_born"].to_numpy() == 1,
    )
    person = pd.DataFrame(
        {
            "cf": codes,
            "surname": surname,
            "name": name,
            "dob": [
                f"{d:02d}/{m:02d}/{y}" for (d, m), y in zip(dm, pupils["birth_year"], strict=True)
            ],
        },
        index=pupils.index,
    )
    monte = 1000.0
    dropped = panel["dropped_out"] == 1
    esito = np.where(
        dropped, "ritirato", np.where(panel["repeated_grade"] == 1, "non ammesso", "ammesso")
    )
    comma = fmt == "csv"
    fmt_num = (
        (lambda x: np.char.replace(np.char.mod("%.6g", x), ".", ",")) if comma else (lambda x: x)
    )
    hours = np.where(dropped, np.nan, panel["absence_rate"].to_numpy() * monte)
    rows = pd.DataFrame(
        {
            "Codice Fiscale": person["cf"].reindex(panel["pupil_id"]).to_numpy(),
            "Cognome": person["surname"].reindex(panel["pupil_id"]).to_numpy(),
            "Nome": person["name"].reindex(panel["pupil_id"]).to_numpy(),
            "Data di nascita": person["dob"].reindex(panel["pupil_id"]).to_numpy(),
            "Sesso": panel["sex"].to_numpy(),
            "Cittadinanza": np.where(panel["foreign_born"] == 1, "ALBANESE", "ITALIANA"),
            "Classe": np.where(
                panel["grade_level"] <= 8, panel["grade_level"] - 5, panel["grade_level"] - 8
            ),
            "Sezione": "A",
            "Ore di assenza": fmt_num(hours) if comma else hours,
            "Monte ore annuo": fmt_num(np.full(len(panel), monte)) if comma else monte,
            "Media voti": fmt_num(panel["grade_avg"].to_numpy())
            if comma
            else panel["grade_avg"].to_numpy(),
            "Esito": esito,
        }
    )
    if comma:
        for c in ("Ore di assenza", "Media voti"):
            rows.loc[rows[c] == "nan", c] = ""
    order = np.where(panel["grade_level"] <= 8, "lower", "upper")
    folder = root / "data" / "raw" / "programme" / f"register_{fmt}"
    folder.mkdir(parents=True, exist_ok=True)
    schools: dict[str, list[dict[str, object]]] = {}
    keys = pd.DataFrame({"s": panel["school_id"], "y": panel["year"], "o": order})
    for (school, year, o), idx in keys.groupby(["s", "y", "o"], sort=True).indices.items():
        part = rows.iloc[idx]
        name_ = f"{school}_{o}_{year}"
        if fmt == "csv":
            path = folder / f"{name_}.csv"
            path.write_bytes(part.to_csv(index=False, sep=";").encode("cp1252"))
        elif fmt == "xls":
            path = _write_register_xls(part, folder / f"{name_}.xls", str(school))
        else:
            from openpyxl import Workbook

            path = folder / f"{name_}.xlsx"
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("Scrutini")
            ws.append([f"Istituto {school}"])
            ws.append(list(part.columns))
            for r in part.itertuples(index=False):
                ws.append([None if isinstance(v, float) and np.isnan(v) else v for v in r])
            ws.append([])
            ws.append(["Totale alunni", len(part)])
            wb.save(path)
        schools.setdefault(str(school), []).append(
            {"path": path.relative_to(root).as_posix(), "year": int(year), "order": str(o)}
        )
    parts = pupils[pupils["cohort"] > 0]
    att_files = []
    for cohort, grp in parts.groupby("cohort"):
        p = person.loc[grp.index]
        att = pd.DataFrame(
            {
                "Codice fiscale": p["cf"].to_numpy(),
                "Cognome": p["surname"].to_numpy(),
                "Nome": p["name"].to_numpy(),
                "Data di nascita": p["dob"].to_numpy(),
                "Corso": grp["course"].to_numpy(),
                "Edizione": f"{cohort}/{str(cohort + 1)[-2:]}",
                "Data inizio": f"10/10/{cohort}",
                "Data fine": f"20/05/{cohort + 1}",
                "Ore frequentate": rng.integers(8, 41, len(grp)),
            }
        )
        path = folder / f"presenze_{cohort}.csv"
        path.write_bytes(att.to_csv(index=False, sep=";").encode("cp1252"))
        att_files.append({"path": path.relative_to(root).as_posix()})
    import yaml

    config = root / "config" / f"intake_register_{fmt}.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        yaml.safe_dump(
            {
                "output": f"data/processed/programme/register_{fmt}.parquet",
                "report_dir": f"data/intake/register_{fmt}",
                "schools": [{"school_id": s, "files": f} for s, f in schools.items()],
                "attendance": att_files,
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return config
