"""Intake of the schools' files (issue 13): messy files → contract panel, pseudonymised at the door.

The fixtures (:mod:`analysis.data.intake_fixtures`) write a SIMULATED panel as the files schools
and the implementer send, with fictitious people and known problems injected; the intake must
rebuild the same panel (up to the pseudonymous ids), report every injected problem, and never
let a codice fiscale, a name or a full date of birth out of ``data/raw/programme/``.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DataValidationError

REPO = Path(__file__).resolve().parents[1]
KEY = b"0123456789abcdef0123456789abcdef-test-key"


@pytest.fixture(scope="module")
def intake_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("intake") / "repo"
    shutil.copytree(REPO / "config", root / "config")
    with pytest.MonkeyPatch.context() as mp:
        from conftest import point_paths_at

        point_paths_at(mp, root)
        from analysis.data import intake
        from analysis.data.intake_fixtures import write_fixture_files
        from analysis.data.simulate import programme_panel

        sim = programme_panel(seed=5, n_schools=4, n_pupils=400)
        manifest = write_fixture_files(sim.data, root, seed=1)
        result = intake.run_intake(manifest.config, key=KEY)
        yield root, sim, manifest, result
    import analysis.paths

    importlib.reload(analysis.paths)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    key = ["school_id", "year", "grade_level", "sex", "birth_year", "cohort", "baseline_absence"]
    return df.sort_values(key).reset_index(drop=True)


def test_intake_rebuilds_the_simulated_panel(intake_run):
    _, _, manifest, result = intake_run
    exp, got = _sorted(manifest.expected), _sorted(result.panel)
    assert len(got) == len(exp)
    for c in ["school_id", "year", "grade_level", "sex", "birth_year", "cohort", "course"]:
        assert (got[c].astype(str).to_numpy() == exp[c].astype(str).to_numpy()).all(), c
    for c in [
        "absence_rate",
        "grade_avg",
        "baseline_absence",
        "repeated_grade",
        "dropped_out",
        "dose",
    ]:
        np.testing.assert_allclose(got[c].astype(float), exp[c].astype(float), atol=1e-8, err_msg=c)
    assert got["pupil_id"].str.fullmatch(r"P[0-9a-f]{20}").all()


def test_intake_panel_satisfies_the_contract_and_gives_the_same_estimate(intake_run):
    from analysis.data.programme import load_panel
    from analysis.did import staggered

    _, _, manifest, result = intake_run
    panel = load_panel(result.panel)
    assert "dose" in panel.columns
    kw = dict(
        outcome="absence_rate", unit="pupil_id", time="year", cohort="cohort", allow_unbalanced=True
    )
    a = staggered(panel, **kw).aggregate("simple").overall
    b = staggered(load_panel(manifest.expected), **kw).aggregate("simple").overall
    assert a.estimate == pytest.approx(b.estimate, abs=1e-8)
    assert a.se == pytest.approx(b.se, abs=1e-8)


def test_every_injected_problem_is_in_the_intake_report(intake_run):
    _, _, _, r = intake_run
    rules = set(r.rejections["rule"])
    assert any("invalid codice fiscale and no surname" in x for x in rules)
    assert "the same pupil twice in one school and year" in rules
    assert r.conflicts["resolution"].str.startswith("kept").any()
    assert len(r.unmatched) == 1
    assert (r.linkage["linkage_rate"] < 1).sum() == 1
    rec = r.recodings
    assert (rec["to"] == "linked by surname, name and date of birth").any()
    assert ((rec["from"] == "promosso") & (rec["to"] == "ammesso (school value map)")).any()
    files = r.files
    assert (files["totals_rows"] > 0).any() and (files["notes_rows"] > 0).any()
    schools = files[files["kind"] == "school"]  # every layout, incl. the merged header
    assert schools["columns_mapped"].str.contains("ore_assenza").all()


def test_no_identifier_leaves_data_raw_programme(intake_run):
    root, _, manifest, result = intake_run
    from analysis.data import intake_fixtures

    outputs = [result.output, *result.report_dir.glob("*")]
    assert outputs and all(p.exists() for p in outputs)
    forbidden = set()
    for f in manifest.files:
        if f.suffix == ".csv":
            raw = pd.read_csv(f, sep=None, engine="python", dtype=str, encoding_errors="replace")
        else:
            continue
        for col in raw.columns:
            if any(k in col.lower() for k in ("fisc", "cf", "nato", "nascita")):
                forbidden |= {v for v in raw[col].dropna() if len(str(v)) >= 8}
    forbidden |= set(intake_fixtures._SURNAMES)
    assert forbidden
    for p in outputs:
        if p.suffix == ".parquet":
            text = pd.read_parquet(p).to_csv()
        elif p.suffix == ".xlsx":
            text = "\n".join(df.to_csv() for df in pd.read_excel(p, sheet_name=None).values())
        else:
            text = p.read_text(encoding="utf-8")
        leaked = [v for v in forbidden if v in text]
        assert leaked == [], (p.name, leaked[:3])


def test_without_a_key_intake_refuses_and_says_how(monkeypatch, tmp_path):
    from analysis.data import intake

    monkeypatch.delenv(intake.KEY_FILE_ENV, raising=False)
    monkeypatch.delenv(intake.KEY_ENV, raising=False)
    with pytest.raises(DataValidationError, match="token_hex"):
        intake.load_key()
    inside = REPO / "config" / "key.txt"
    monkeypatch.setenv(intake.KEY_FILE_ENV, str(inside))
    with pytest.raises(DataValidationError, match="outside the repository"):
        intake.load_key()
    short = tmp_path / "k"
    short.write_text("abc")
    monkeypatch.setenv(intake.KEY_FILE_ENV, str(short))
    with pytest.raises(DataValidationError, match="shorter than"):
        intake.load_key()
    good = tmp_path / "good"
    good.write_text("x" * 64)
    monkeypatch.setenv(intake.KEY_FILE_ENV, str(good))
    assert intake.load_key() == b"x" * 64


def test_pseudonyms_are_keyed_and_contract_valid():
    from analysis.data import intake
    from analysis.data.programme import _PUPIL_ID

    a = intake.pseudonym(KEY, "CF:RSSMRA80A01H501U")
    assert a == intake.pseudonym(KEY, "CF:RSSMRA80A01H501U")
    assert a != intake.pseudonym(KEY[::-1], "CF:RSSMRA80A01H501U")
    assert _PUPIL_ID.match(a)


def test_bad_config_names_the_key(tmp_path):
    from analysis.data import intake

    p = tmp_path / "intake.yaml"
    p.write_text(
        "schools:\n  - school_id: X\n    order: middle\n    files:\n      - {path: a.csv}\n"
    )
    with pytest.raises(DataValidationError) as info:
        intake.load_config(p)
    cols = {v.column for v in info.value.violations}
    assert "schools[0].order" in cols and "schools[0].files[0]" in cols


def test_codice_fiscale_rules():
    from analysis.data import codice_fiscale as cf

    assert cf.is_valid("RSSMRA80A01H501U") and cf.is_valid("rss mra 80a01 h501u")
    assert not cf.is_valid("RSSMRA80A01H501X") and not cf.is_valid("RSSMRA80A01H5")
    assert cf.mask("RSSMRA80A01H501U") == "RSS••••••••••••U"
    assert cf.born_abroad(
        cf.synthetic_code("Kola", "Arben", 2008, 1, 2, female=False, place="Z100")
    )


def test_data_request_templates_are_read_with_no_mapping(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from analysis.data import codice_fiscale as cf
    from analysis.data import intake
    from analysis.data.data_request import TEMPLATES, write_data_request

    root = tmp_path / "repo"
    shutil.copytree(REPO / "config", root / "config")
    from conftest import point_paths_at

    point_paths_at(monkeypatch, root)
    folder = root / "data" / "raw" / "programme" / "request"
    files = write_data_request(folder)
    assert [p.name for p in files] == [f"richiesta_dati_{k}.xlsx" for k in TEMPLATES]
    wb = load_workbook(files[0])
    assert wb.sheetnames == ["Alunni", "Istruzioni", "Dizionario dati"]
    ws = wb["Alunni"]
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert '"M,F"' in lists and any("non ammesso" in f for f in lists)
    code = cf.synthetic_code("Rossi", "Anna", 2008, 2, 3, female=True, place="E506")
    for year in (2021, 2022):
        ws.append(
            [
                code,
                "Rossi",
                "Anna",
                "03/02/2008",
                "F",
                "ITALIANA",
                year - 2020,
                "A",
                "Liceo",
                "12,5",
                "990",
                "7,25",
                "ammesso",
            ]
        )
    wb.save(files[0])
    cfg = root / "config" / "intake.yaml"
    rel = files[0].relative_to(root).as_posix()
    cfg.write_text(
        f"schools:\n  - school_id: LEIS04200R\n    files:\n      - {{path: {rel}, year: 2021}}\n"
    )
    importlib.reload(intake)
    res = intake.run_intake(cfg, key=KEY)
    row = res.files.iloc[0]
    assert row["rows_read"] == 2 and row["columns_unmapped"] == ""
    assert {"ore_assenza", "monte_ore", "media_voti", "esito"} <= set(
        row["columns_mapped"].split(", ")
    )


def test_programme_report_runs_on_the_intake_panel_with_the_same_estimate(intake_run, monkeypatch):
    """Intake → contract panel → notebook 03's analysis object (``data: intake``): the headline
    equals the one on the same panel loaded directly from a contract file."""
    root, _, manifest, _ = intake_run
    from conftest import point_paths_at

    point_paths_at(monkeypatch, root)
    from analysis.reports.programme import ProgrammeAnalysis

    direct = root / "data" / "raw" / "programme" / "expected.parquet"
    manifest.expected.to_parquet(direct)
    kw = dict(outcome="absence_rate", seed=7, bootstrap_reps=19, ri_reps=9, band_draws=19)
    via_intake = ProgrammeAnalysis.build(data="intake", **kw).headline()
    via_file = ProgrammeAnalysis.build(data="data/raw/programme/expected.parquet", **kw).headline()
    assert via_intake.keys() == via_file.keys()
    for k in via_intake:
        assert via_intake[k] == pytest.approx(via_file[k], abs=1e-8), k
    with pytest.raises(DataValidationError, match="only to data='simulated'"):
        ProgrammeAnalysis.build(data="intake", n_pupils=10, **kw)


def test_vectorised_codice_fiscale_check_equals_the_scalar_one():
    """is_valid_array agrees with is_valid on many generated, corrupted and odd codes."""
    import random
    import string

    from analysis.data import codice_fiscale as cf

    rng = random.Random(0)
    good = [
        cf.synthetic_code(
            rng.choice(["Rossi", "Li", "Bo", "Esposito"]),
            rng.choice(["Anna", "Ugo", "Francesca"]),
            rng.randint(1990, 2015),
            rng.randint(1, 12),
            rng.randint(1, 28),
            female=rng.random() < 0.5,
            place=rng.choice(["E506", "Z100"]),
        )
        for _ in range(3000)
    ]
    odd = (
        [c[:15] + rng.choice(string.ascii_uppercase) for c in good[:800]]
        + [c.lower() for c in good[:100]]
        + [" " + c[:3] + "." + c[3:] + "-" for c in good[:100]]
        + [c[:14] + "LZ" for c in good[:50]]  # omocodia letter in a digit place
        + ["", None, "X" * 16, "é" * 16, 12345, float("nan"), "RSSMRA80A01H501"]
    )
    codes = pd.Series(good + odd, dtype=object)
    expected = np.array([cf.is_valid(c) for c in codes])
    assert expected.sum() > 3000  # the test can fail both ways
    np.testing.assert_array_equal(cf.is_valid_array(codes), expected)


def test_register_intake_rebuilds_the_register(tmp_path, monkeypatch):
    """The scalable register writer and the column-wise intake: every pupil-year after the
    baseline year comes back, with the register's values."""
    from conftest import point_paths_at

    root = tmp_path / "repo"
    point_paths_at(monkeypatch, root)
    try:
        from analysis.data import intake
        from analysis.data.intake_fixtures import register_panel, write_register_files

        cfg = write_register_files(root, 400, fmt="csv", n_schools=3, seed=7)
        res = intake.run_intake(cfg, key=KEY)
        reg = register_panel(400, seed=7, first_year=2018, n_schools=3)
        after_first = reg[reg["year"] > reg.groupby("pupil_id")["year"].transform("min")]
        assert len(res.panel) == len(after_first)
        assert len(res.rejections) == 0
        assert res.panel["pupil_id"].nunique() == after_first["pupil_id"].nunique()
        np.testing.assert_allclose(
            np.sort(res.panel["grade_avg"].dropna()), np.sort(after_first["grade_avg"].dropna())
        )
    finally:
        import analysis.paths

        monkeypatch.undo()
        importlib.reload(analysis.paths)


# ---- quick paths equal the code they replace (issue 13) ------------------------------------


def _mixed_frame() -> pd.DataFrame:
    import datetime as dt

    cells = [
        "RSSMRA80A01H501U",
        "  ",
        "",
        None,
        float("nan"),
        3,
        2.5,
        "Totale",
        "  tot. classe",
        "Media classe 3A",
        "somma",
        "\u00a0",
        dt.date(2020, 1, 2),
        "x\ty",
        "totalmente",
    ]
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.choice(np.array(cells, dtype=object), size=(300, 4)), dtype=object)


def test_empty_and_totals_scans_share_one_conversion_and_agree_with_the_old_scans():
    from analysis.data import intake

    frame = _mixed_frame()
    frame = frame.where(frame.notna(), None)
    old_empty = np.zeros(frame.shape, dtype=bool)
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        na = col.isna().to_numpy()
        text = col.astype(object).where(~na, "").astype("str").str.strip()
        old_empty[:, j] = na | (text == "").to_numpy()
    old_totals = np.zeros(len(frame), dtype=bool)
    for j in range(frame.shape[1]):
        text = frame.iloc[:, j].astype(object).astype("str").to_numpy()
        for i, v in enumerate(text):
            if not old_empty[i, j] and isinstance(v, str) and intake._TOTALS.match(v):
                old_totals[i] = True
    empty = intake._empty_cells(frame)
    np.testing.assert_array_equal(empty, old_empty)
    assert old_empty.any() and not old_empty.all()  # the test can fail both ways
    texts = intake._cell_texts(frame)
    np.testing.assert_array_equal(intake._empty_cells(frame, texts), old_empty)
    np.testing.assert_array_equal(intake._totals_rows(frame, empty, texts), old_totals)
    assert old_totals.any() and not old_totals.all()


def test_pseudonym_memo_across_files_gives_the_same_ids():
    import datetime as dt

    from analysis.data import intake

    r = pd.DataFrame(
        {
            "codice_fiscale": ["RSSMRA80A01H501U", "bad", None, "RSSMRA80A01H501U"],
            "cognome": ["Rossi", "Bianchi", "Verdi", "Rossi"],
            "nome": ["Mario", "Anna", "Luca", "Mario"],
            "data_nascita": [dt.date(1980, 1, 1), dt.date(2008, 5, 6), None, dt.date(1980, 1, 1)],
        },
        dtype=object,
    )
    plain = intake._identities(r, KEY)
    memo: dict[str, str] = {}
    first = intake._identities(r, KEY, memo)
    again = intake._identities(r.iloc[::-1].reset_index(drop=True), KEY, memo)
    for a, b in zip(plain, first, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again[0], plain[0][::-1])
    assert len(memo) == 2 and plain[0][2] is None


@pytest.mark.parametrize(
    "cells",
    [
        ["12", "3,5", "", " 7 ", None],
        ["1.234,5", "abc", "nan", "", None, "12"],
        [3, 2.5, None, "4,0", float("nan")],
        [None, None],
        [],
    ],
)
def test_float_columns_equal_the_numbers_with_none_as_nan(cells):
    from analysis.data import intake

    s = pd.Series(cells, dtype=object)
    old = np.array([np.nan if x is None else x for x in intake._numbers(s)], dtype=float)
    np.testing.assert_array_equal(intake._floats(s), old)


def test_per_unique_codes_spread_to_the_per_cell_results():
    from analysis.data import intake

    s = pd.Series(["Ammesso", "ammesso", None, 1, 1.0, "Ammesso", ""], dtype=object)
    results, key = intake._per_unique_codes(s, lambda v: (type(v).__name__, str(v)))
    per_cell = [(type(v).__name__, str(v)) for v in s]
    assert list(results[key]) == per_cell
    assert len(results) == 6  # 1 and 1.0 apart, "Ammesso" once
    assert list(intake._per_unique(s, str)) == [str(v) for v in s]


@pytest.mark.parametrize(
    "cells",
    [
        ["RSSMRA80A01H501U", "rss mra 80a01-h501u", "", None, "AB", "ABCDE", " ", "x.y"],
        ["RSSMRA80A01H501U", "\u00dfMRA80A01H501U"],  # non-ASCII: the scalar path
        ["RSSMRA80A01H501U", float("nan")],  # a NaN is truthy: the scalar path
        [None, None],
        ["A\x0bB\x1cCDEFG"],  # spaces Python and RE2 disagree on
    ],
)
def test_whole_column_masks_equal_the_scalar_masks(cells):
    from analysis.data import codice_fiscale as cf

    s = pd.Series(cells, dtype=object)
    want = [cf.mask(c) if c else "" for c in cells]
    got = cf.mask_array(s)
    if got is None:  # the caller masks cell by cell: only for the cells the docstring names
        assert any(not isinstance(c, str) and c is not None for c in cells) or any(
            not (c or "").isascii() or any(ch in c for ch in "\x0b\x1c") for c in cells if c
        )
    else:
        assert list(got) == want


# ---- the columnar CSV reader reads what the row reader reads (issue 13) --------------------

_TABLES = ("panel", "files", "rejections", "recodings", "conflicts", "linkage", "unmatched")


def write_irregular_files(root: Path) -> Path:
    """School, attendance and registry CSV files with every irregularity the readers handle.

    Fictitious people.  Returns the intake config.  School A: ``;``, Windows-1252, CRLF,
    accented names, title rows and a merged "Assenze" group above the header on row 4, a
    short and a long ragged line in the middle, decimal commas and thousands separators, a
    blank line of separators and an empty line, totals rows, notes below the table with
    fewer and with as many fields as the header.  School B: ``,``, UTF-8 with BOM, quoted
    fields with separators and quotes, a code linked by name and date of birth, rows
    rejected by every row rule, a pupil twice, a pupil also in school A (transferred out /
    not).  School C: a quoted note spanning two lines next to a ragged line (the row
    reader's case).  Also an attendance register and a registry file.
    """
    from analysis.data import codice_fiscale as cf

    folder = root / "data" / "raw" / "programme" / "irregular"
    folder.mkdir(parents=True, exist_ok=True)
    people = [
        ("Rossi", "Nicolò", 2008, 3, 4, False),
        ("Lucà", "Anna", 2008, 5, 6, True),
        ("D'Amico", "Maria", 2007, 7, 8, True),
        ("Greco", "Luca", 2008, 9, 10, False),
        ("Conte", "Sofia", 2007, 11, 12, True),
        ("Gallo", "Mattia", 2008, 1, 13, False),
    ]
    code = {
        p[0]: cf.synthetic_code(p[0], p[1], p[2], p[3], p[4], female=p[5], place="E506")
        for p in people
    }
    dob = {p[0]: f"{p[4]:02d}/{p[3]:02d}/{p[2]}" for p in people}
    sex = {p[0]: "F" if p[5] else "M" for p in people}
    name = {p[0]: p[1] for p in people}

    def pupil(s: str, classe: str, hours: str) -> list[str]:  # the first 10 of 12 fields
        return [code[s], s, name[s], dob[s], sex[s], "ITALIANA", classe, "A", hours, "1.000,0"]

    header_a = "Codice fiscale;Cognome;Nome;Data di nascita;Sesso;Cittadinanza;Classe;Sezione;Ore;Monte ore;Media voti;Esito"
    files = {}
    for year in (2020, 2021):
        k = year - 2019
        body = [
            ";".join([*pupil("Rossi", str(k), "12,5"), "7,25", "ammesso"]),
            ";".join([*pupil("Lucà", str(k), "30"), "6,5", "Promosso"]),
            ";".join([code["Greco"], "Greco", "Luca", dob["Greco"], "M"]),  # short ragged
            ";".join([*pupil("D'Amico", str(k), "0"), "8", "non ammesso", "x", "y"]),  # long
            ";".join([*pupil("Conte", str(k), "45,75"), "6", "ammesso"]),
            ";".join([*pupil("Gallo", str(k), ""), "", "ritirato"]),
            ";" * 11,
            "",
            ";".join([*pupil("Greco", str(k), "3"), "9", "ammesso"]),
            "Totale alunni;6" + ";" * 10,
            "Media classe" + ";" * 10 + "7,1;",
            "Fonte: registro elettronico",
            ";Il dirigente scolastico" + ";" * 10,
        ]
        text = "\r\n".join(
            [
                "Istituto Comprensivo Lecce Città;;;",
                f"Scrutini finali a.s. {year}/{year - 1999}",
                ";;;;;;;;Assenze;;;",
                header_a,
                *body,
            ]
        )
        files[f"A_{year}.csv"] = (text + "\r\n").encode("cp1252")
    rows_b = [
        "CF,COGNOME,NOME,Data nascita,Genere,Cittadinanza,Classe,Tot. ore assenza,Ore annue,Media finale,Risultato",
        f'{code["Conte"]},Conte,Sofia,{dob["Conte"]},F,ITALIANA,2,"10,5",1000,"7,5",trasferito',
        f"{code['Gallo']},Gallo,Mattia,{dob['Gallo']},M,ITALIANA,2,5,1000,6,ammesso",
        f'{code["Rossi"][:15]}X,Rossi,Nicolò,{dob["Rossi"]},M,ITALIANA,2,4,1000,"6,0",ammesso',
        "XXXYYY00A00Z000Q,Neri,Paolo,,M,ITALIANA,2,10,1000,6,ammesso",
        ",,,,,,3,10,1000,6,ammesso",
        f'{code["Lucà"]},"Lucà, detta ""Nina""",Anna,{dob["Lucà"]},F,ITALIANA,6,2000,1000,11,boh',
        *[
            f"{cf.synthetic_code('Verdi', 'Ugo', 2008, 2, 2, female=False, place='Z100')},Verdi,Ugo,02/02/2008,X,ALBANESE,2,1,1000,6,ammesso"
        ]
        * 2,
    ]
    files["B_2021.csv"] = ("\ufeff" + "\n".join(rows_b) + "\n").encode("utf-8")
    rows_c = [
        "Codice fiscale;Cognome;Nome;Data di nascita;Sesso;Classe;Ore di assenza;Monte ore annuo;Media voti;Esito",
        f"{code['Greco']};Greco;Luca;{dob['Greco']};M;2;4;1000;6;ammesso",
        '"Nota: alunno con\nPDP";;;;;;;;;',
        f"{code['Greco']};Greco",
    ]
    files["C_2020.csv"] = ("\n".join(rows_c) + "\n").encode("utf-8")
    att = [
        "Codice fiscale;Cognome;Nome;Data di nascita;Corso;Edizione;Data inizio;Data fine;Ore frequentate",
        f"{code['Rossi']};Rossi;Nicolò;{dob['Rossi']};Coding;2020/21;10/10/2020;20/05/2021;30",
        f";Lucà;Anna;{dob['Lucà']};Coding;2020/21;10/10/2020;20/05/2021;12,5",
        "XXXYYY00A00Z000Q;Neri;Paolo;;Coding;2020/21;10/10/2020;20/05/2021;10",
        f"{code['Conte']};Conte;Sofia;{dob['Conte']};Coding;2020/21;;20/05/2021;10",
        f"{code['Gallo']};Gallo;Mattia;{dob['Gallo']};Teatro;2020/21;10/10/2020;20/05/2021;-3",
        f"{cf.synthetic_code('Fabbri', 'Marco', 2009, 9, 9, female=False, place='E506')};Fabbri;Marco;09/09/2009;Teatro;2020/21;10/10/2020;20/05/2021;8",
        "Totale;;;;;;;;",
    ]
    files["presenze.csv"] = ("\n".join(att) + "\n").encode("cp1252")
    reg = [
        "Codice fiscale;Anno scolastico;Stato",
        f"{code['Greco']};2021/22;abbandono",
        f"{code['Rossi']};2021;frequentante",
        ";2021;ritirato",
    ]
    files["anagrafe.csv"] = ("\n".join(reg) + "\n").encode("utf-8")
    for f, data in files.items():
        (folder / f).write_bytes(data)
    rel = folder.relative_to(root).as_posix()
    cfg = root / "config" / "intake_irregular.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        "schools:\n"
        "  - school_id: A\n    order: lower\n    value_maps: {esito: {promosso: ammesso}}\n"
        f"    files:\n      - {{path: {rel}/A_2020.csv, year: 2020}}\n"
        f"      - {{path: {rel}/A_2021.csv, year: 2021}}\n"
        f"  - school_id: B\n    order: lower\n    files:\n      - {{path: {rel}/B_2021.csv, year: 2021}}\n"
        f"  - school_id: C\n    files:\n      - {{path: {rel}/C_2020.csv, year: 2020}}\n"
        f"attendance:\n  - {{path: {rel}/presenze.csv}}\n"
        f"registry:\n  - {{path: {rel}/anagrafe.csv}}\n"
        "output: data/processed/programme/irregular.parquet\n"
        "report_dir: data/intake/irregular\n",
        encoding="utf-8",
    )
    return cfg


def _intake_both_ways(cfg: Path, monkeypatch) -> tuple:
    """The intake with the columnar CSV reader and with the row reader (where each was used)."""
    from analysis.data import intake

    used: list[bool] = []
    real = intake._csv_body

    def spy(*args, **kwargs):
        body = real(*args, **kwargs)
        used.append(body is not None)
        return body

    monkeypatch.setattr(intake, "_csv_body", spy)
    results = []
    for columnar in (True, False):
        monkeypatch.setattr(intake, "_COLUMNAR_CSV", columnar)
        results.append(intake.run_intake(cfg, key=KEY))
    return results[0], results[1], used


def _assert_same_intake(a, b) -> None:
    for name in _TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_columnar_and_row_readers_give_the_same_intake_on_irregular_files(tmp_path, monkeypatch):
    from conftest import point_paths_at

    root = tmp_path / "repo"
    point_paths_at(monkeypatch, root)
    try:
        cfg = write_irregular_files(root)
        col, rows, used = _intake_both_ways(cfg, monkeypatch)
        _assert_same_intake(col, rows)
        # every file but C (a quoted note over two lines next to a ragged line) read column-wise
        assert used == [True, True, True, False, True, True]
        files = col.files.set_index("file").rename(index=lambda f: f.rsplit("/", 1)[-1])
        a = files.loc["A_2020.csv"]
        assert (a["header_line"], a["rows_read"], a["blank_rows"]) == (4, 5, 2)
        assert (a["totals_rows"], a["notes_rows"]) == (2, 1)
        assert "ore_assenza" in a["columns_mapped"]  # "Ore" under the merged "Assenze"
        rules = col.rejections.groupby("rule").size()
        assert rules["line has 5 fields, the header 12 (a broken or merged line)"] == 2
        assert rules["line has 14 fields, the header 12 (a broken or merged line)"] == 2
        assert rules["line has 1 fields, the header 12 (a broken or merged line)"] == 2  # note
        assert rules["row without any pupil identifier"] == 2
        assert {"Sesso must be M or F", "class year must be 1–5"} <= set(rules.index)
        assert len(col.conflicts) == 3 and len(col.unmatched) == 2
        # decimal commas, thousands separators and cp1252 accents read the same way
        assert sorted(col.panel["grade_avg"]) == [6.0, 6.5, 7.25]
        assert sorted(col.panel["absence_rate"]) == [0.0125, 0.03, 0.04575]
    finally:
        import analysis.paths

        monkeypatch.undo()
        importlib.reload(analysis.paths)


def test_columnar_and_row_readers_give_the_same_intake_on_the_fixture_files(
    intake_run, monkeypatch
):
    root, _, manifest, _ = intake_run
    from conftest import point_paths_at

    point_paths_at(monkeypatch, root)
    col, rows, used = _intake_both_ways(manifest.config, monkeypatch)
    _assert_same_intake(col, rows)
    n_csv = sum(p.suffix == ".csv" for p in manifest.files)
    assert used.count(True) == n_csv and len(used) == n_csv


def test_a_lone_carriage_return_is_an_error_naming_the_file_in_both_readers(tmp_path, monkeypatch):
    from analysis.data import intake

    p = tmp_path / "cr.csv"
    p.write_bytes(b"Codice fiscale;Cognome;Nome\rRSSMRA80A01H501U;Rossi;Mario\r")
    src = intake.SourceFile(path=p, kind="school", school_id="S", year=2020)
    errors = []
    for columnar in (True, False):
        monkeypatch.setattr(intake, "_COLUMNAR_CSV", columnar)
        with pytest.raises(DataValidationError, match="not readable as CSV") as info:
            intake._read_records(src, intake.SCHOOL_FIELDS, intake._Log())
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "cr.csv" in errors[0]


def _read_both_ways(path: Path, monkeypatch) -> list:
    from analysis.data import intake

    src = intake.SourceFile(path=path, kind="school", school_id="S", year=2020)
    out = []
    for columnar in (True, False):
        monkeypatch.setattr(intake, "_COLUMNAR_CSV", columnar)
        log = intake._Log()
        try:
            rec = intake._read_records(src, intake.SCHOOL_FIELDS, log)
        except DataValidationError as err:
            out.append(("error", str(err)))
            continue
        cols = {
            f: c.to_pylist() if hasattr(c, "to_pylist") else list(c) for f, c in rec.columns.items()
        }
        out.append((cols, rec.lines.tolist(), rec.sheet, log.files, log.rejections))
    return out


def test_ragged_lines_are_placed_right_across_pyarrow_blocks(tmp_path, monkeypatch):
    """Ragged lines set aside by pyarrow come back at their line, wherever the blocks end."""
    from analysis.data import codice_fiscale as cf
    from analysis.data import intake

    head = "Codice fiscale;Cognome;Nome;Data di nascita;Sesso;Classe;Ore di assenza;Monte ore annuo;Media voti;Esito"
    lines = [head]
    for i in range(600):
        code = cf.synthetic_code(
            "Rossi", "Anna", 2008, 1 + i % 12, 1 + i % 28, female=True, place="E506"
        )
        row = f"{code};Rossi;Anna;01/01/2008;F;2;{i % 50},5;1000;7;ammesso"
        if i % 37 == 5:
            row = row.rsplit(";", 3)[0]  # short
        elif i % 53 == 7:
            row += ";;extra"  # long
        elif i % 71 == 3:
            row = ""
        lines.append(row)
    path = tmp_path / "big.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    monkeypatch.setattr(intake, "_CSV_BLOCK_BYTES", 2048)  # ~30 blocks
    text, sep = intake._decode_csv(path, "big.csv")
    body = intake._csv_body(text, sep, intake.SCHOOL_FIELDS, {})
    assert body is not None and len(body.odd) > 20  # the columnar path, with ragged lines
    col, rows = _read_both_ways(path, monkeypatch)
    assert col == rows
    assert len(col[4]) == len(body.odd)  # every ragged line rejected, none lost


@pytest.mark.parametrize(
    "text",
    [
        'Cognome;Nome\n"Rossi\nMaria";Anna\nVerdi\n',  # a record over two lines, a ragged line
        'Cognome;Nome\n"unterminated;Anna\nVerdi;Ugo\n',
        "Cognome;Nome\n\n\nRossi;Anna",  # empty lines, no final line break
        'x\ny\n"Cognome";"Nome"\n"Ros""si";"An;na"\n"a"b;c\n',  # header on row 3, quotes
        "Cognome;Nome\r\nRossi;Anna\r\n;\r\n\r\nTotale;1;2\r\n",
        "Cognome;Nome\n",
    ],
)
def test_columnar_and_row_readers_agree_on_odd_csv(text, tmp_path, monkeypatch):
    path = tmp_path / "odd.csv"
    path.write_text(text, encoding="utf-8")
    col, rows = _read_both_ways(path, monkeypatch)
    assert col == rows


def test_first_lines_equal_splitlines():
    from analysis.data import intake

    rng = np.random.default_rng(3)
    for _ in range(40):
        pieces = rng.choice(["a;b", "x" * 5000, "\r", "\n", "\r\n", "\x0c", "\u2028", ""], 60)
        text = "".join(pieces)
        for k in (1, 20, 100):
            assert intake._first_lines(text, k) == text.splitlines()[:k]


def test_pyarrow_and_python_strip_the_same_whitespace():
    """Every code point: pyarrow's utf8_trim_whitespace empties it iff str.strip does, and
    utf8_is_space calls it a space iff ``str.isspace`` does."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    arr = pa.array(chars)
    arrow = pc.equal(pc.utf8_trim_whitespace(arr), "").to_numpy(zero_copy_only=False)
    python = np.array([c.strip() == "" for c in chars])
    assert python.sum() > 20  # the test can fail both ways
    np.testing.assert_array_equal(arrow, python)
    # and utf8_is_space (the columnar reader's test of empty cells) agrees with both
    np.testing.assert_array_equal(pc.utf8_is_space(arr).to_numpy(zero_copy_only=False), python)


@pytest.mark.parametrize(
    "cells",
    [
        ["12", "3,5", "", " 7 ", "1.234,5", "abc", "1e-05", "\u00a012\u2003", None, 4, 2.5],
        ["-0", "0,0", "12,", ",5", "0012"],
        [None],
        [3, 2.5, float("nan"), -0.0, 10**20, np.int64(4), float("inf")],  # spreadsheet numbers
        [True, 2, 1.5],
    ],
)
def test_floats_of_distinct_cells_equal_the_floats_of_the_column(cells):
    from analysis.data import intake

    values = np.array(cells, dtype=object)
    got = intake._floats_distinct(values)
    want = np.array([intake._floats(pd.Series([v], dtype=object))[0] for v in cells])
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_coded_columns_of_several_files_spread_to_their_cells():
    import pyarrow as pa

    from analysis.data import intake

    parts = [
        pa.chunked_array([["a", "b"], ["a"]]),
        None,
        np.array([1, 1.0, "a", None], dtype=object),
        pa.chunked_array([["b", "c"]]),
        np.array([], dtype=object),
    ]
    sizes = np.array([3, 2, 4, 2, 0])
    uniques, codes = intake._coded(parts, sizes, "default")
    cells = list(uniques[codes])
    assert cells == ["a", "b", "a", "default", "default", 1, 1.0, "a", None, "b", "c"]
    assert [type(c) for c in cells[5:7]] == [int, float]  # 1 and 1.0 kept apart
    assert len(uniques) == 1 + 4 + 3  # text pooled across files, spreadsheet cells per file


def test_a_registry_without_leavers_is_read(tmp_path, monkeypatch):
    """Statuses that mark no dropout leave every row as it is (the previous version raised
    a TypeError building an empty index of leavers)."""
    from conftest import point_paths_at

    root = tmp_path / "repo"
    point_paths_at(monkeypatch, root)
    try:
        from analysis.data import intake

        cfg = write_irregular_files(root)
        registry = root / "data" / "raw" / "programme" / "irregular" / "anagrafe.csv"
        rows = registry.read_text(encoding="utf-8").splitlines()
        registry.write_text(
            "\n".join(r.replace("abbandono", "frequentante") for r in rows) + "\n",
            encoding="utf-8",
        )
        res = intake.run_intake(cfg, key=KEY)
        rec = res.recodings.set_index(["file", "column"])["rows"]
        assert rec[("registry", "stato")] == 0
        assert len(res.panel) == 3
    finally:
        import analysis.paths

        monkeypatch.undo()
        importlib.reload(analysis.paths)


def test_a_code_valid_column_wise_is_valid_and_normalised_alike_cell_by_cell():
    """The attendance reader trusts the whole-column check where it says valid."""
    from analysis.data import codice_fiscale as cf

    good = cf.synthetic_code("Rossi", "Anna", 2008, 2, 3, female=True, place="E506")
    odd = [
        good,
        good.lower(),
        f" {good[:3]}.{good[3:8]}-{good[8:]}\t",
        good[:6] + "\u00a0" + good[6:],  # no-break space: Python's \\s, not RE2's
        good[:6] + "\x0b" + good[6:],
        good.replace("S", "ß", 1),
        good[:15] + "Z",
        "",
        None,
        12345,
    ]
    codes = pd.Series(odd, dtype=object)
    fast = cf.is_valid_array(codes)
    norm = cf.normalise_array(codes)
    assert fast.sum() >= 3 and not fast.all()
    for c, ok, n in zip(odd, fast, norm, strict=True):
        if ok:
            assert cf.is_valid(c) and cf.normalise(c) == n


def test_the_delimiter_is_the_one_csv_sniffer_finds():
    """Quote-free samples are sniffed by a copy of the Sniffer's rule for three candidates."""
    import csv

    from analysis.data import intake

    rng = np.random.default_rng(11)
    alphabet = np.array(list(";;;,,,\t\taAb1 .:|") + ["\n"] * 3 + ['"', "'"])
    found = set()
    for i in range(2000):
        size = int(rng.integers(0, 400))
        p = np.ones(len(alphabet))
        if i % 2:  # half the samples without quotes: the copied rule
            p[-2:] = 0
        sample = "".join(rng.choice(alphabet, size, p=p / p.sum()))
        try:
            want = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
        except csv.Error:
            want = None
        assert intake._sniff_delimiter(sample) == want, repr(sample)
        found.add(want)
    for _ in range(1500):  # tables: a delimiter per file, decimal commas, ragged and empty lines
        sep = str(rng.choice([";", ",", "\t"]))
        width = int(rng.integers(1, 8))
        lines = []
        for _ in range(int(rng.integers(0, 21))):
            k = width + int(rng.choice([0, 0, 0, 0, -1, 1]))
            cells = rng.choice(["12,5", "a", "7", "", "x;y", "b\tc", "ab,cd,e"], max(k, 0))
            lines.append(sep.join(cells) if rng.random() > 0.05 else "")
        sample = "\n".join(lines)
        try:
            want = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
        except csv.Error:
            want = None
        assert intake._sniff_delimiter(sample) == want, repr(sample)
        found.add(want)
    assert found == {";", ",", "\t", None}  # the test can fail every way
