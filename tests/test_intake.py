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
