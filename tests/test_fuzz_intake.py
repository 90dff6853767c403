"""Fuzzing the intake readers (issue 13): every corrupted school or attendance file gives a
DataValidationError naming the file, or an intake whose rejections count what was lost —
never an unhandled exception, never a silent drop."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import (
    BAD_NUMBERS,
    ERROR,
    SAME,
    byte_corruption,
    fuzz_settings,
    outcome_of,
    record,
)  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
RELINKED = ["baseline_absence, not a panel row", "linked by surname, name and date of birth"]
KEY = b"fuzz-key-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_intake") / "repo"
    shutil.copytree(REPO / "config", root / "config")
    with pytest.MonkeyPatch.context() as mp:
        from conftest import point_paths_at

        point_paths_at(mp, root)
        from analysis.data import intake
        from analysis.data.intake_fixtures import write_fixture_files
        from analysis.data.simulate import programme_panel

        sim = programme_panel(seed=2, n_schools=3, n_pupils=60)
        manifest = write_fixture_files(sim.data, root, seed=3)
        baseline = intake.run_intake(manifest.config, key=KEY)
        yield root, manifest, baseline, intake
    import analysis.paths

    importlib.reload(analysis.paths)


def _csv(manifest):
    return next(p for p in manifest.files if p.suffix == ".csv" and "extra" not in p.parts)


@fuzz_settings(0.3)
@given(data=st.data())
def test_corrupted_school_file_is_an_error_or_counted(fixtures, data):
    root, manifest, baseline, intake = fixtures
    target = _csv(manifest)
    original = target.read_bytes()
    lines = original.split(b"\n")
    kind = data.draw(st.sampled_from(["bytes", "cell", "truncate_line", "drop_header_cell"]))
    if kind == "bytes":
        _, blob = data.draw(byte_corruption(original))
    elif kind == "cell":
        i = data.draw(st.integers(1, max(1, len(lines) - 2)))
        cells = lines[i].split(b";")
        j = data.draw(st.integers(0, len(cells) - 1))
        cells[j] = data.draw(st.sampled_from(BAD_NUMBERS + ("", "XYZ", "31/02/2008", "7"))).encode()
        lines[i] = b";".join(cells)
        blob = b"\n".join(lines)
    elif kind == "truncate_line":
        i = data.draw(st.integers(1, max(1, len(lines) - 2)))
        lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]) - 1)))]
        blob = b"\n".join(lines)
    else:
        head = lines[0].split(b";")
        head[data.draw(st.integers(0, len(head) - 1))] = b"???"
        blob = b"\n".join([b";".join(head), *lines[1:]])
    try:
        target.write_bytes(blob)
        outcome, res = outcome_of(
            lambda: intake.run_intake(manifest.config, key=KEY),
            source=str(target.relative_to(root)) if kind == "drop_header_cell" else "",
        )
    finally:
        target.write_bytes(original)
    if outcome == ERROR:
        record("intake (school csv)", ERROR)
        return

    # accepted: whatever was lost is counted (rejections, conflicts, or rows the file table
    # counts as blank, totals or notes), never silently dropped
    def counted(r):
        f = r.files
        return (
            len(r.rejections)
            + len(r.conflicts)
            + int(f[["blank_rows", "totals_rows", "notes_rows"]].to_numpy().sum())
            + int(r.recodings.loc[r.recodings["to"].isin(RELINKED), "rows"].sum())
        )

    # a corruption that removes lines (a file cut after its header line) removes rows the
    # intake cannot count: lines counted on the bytes, not from the intake's report
    removed = len(original.splitlines()) - len(blob.splitlines())
    lost = len(baseline.panel) - len(res.panel)
    assert lost <= 0 or counted(res) > counted(baseline) or removed > 0, (
        f"{lost} pupil-years lost uncounted"
    )
    record(
        "intake (school csv)",
        "accepted: same size"
        if lost <= 0
        else "accepted: losses counted"
        if counted(res) > counted(baseline)
        else "accepted: rows cut from the file",
    )


# ---- the columnar CSV reader reads every file as the row reader does -----------------------

_HEADERS = [
    "Codice fiscale",
    "Cognome",
    "Nome",
    "Data di nascita",
    "Sesso",
    "Classe",
    "Ore di assenza",
    "Monte ore annuo",
    "Media voti",
    "Esito",
    "Note",
]
_CELLS = [
    "RSSNNA08B43E506U",
    "rssnna08b43e506u",
    "Rossi",
    "Nicolò",
    "03/02/2008",
    "F",
    "2",
    "12,5",
    "1.000",
    "ammesso",
    "",
    " ",
    "\u00a0",
    "Totale",
    "tot. classe",
    "Media classe",
    "somma",
    "Fonte: registro",
    '"a;b"',
    '"a,b"',
    'a"b',
    '"x""y"',
    '"ab"c',
    ' "a"',
    "\t",
]
_NASTY = ['"Rossi\nMaria"', '"p\r\nq"', '"unterminated', "x\ry"]


@st.composite
def _csv_files(draw):
    sep = draw(st.sampled_from([";", ",", "\t"]))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    cell = st.sampled_from(_CELLS + _NASTY) if draw(st.booleans()) else st.sampled_from(_CELLS)
    titles = draw(
        st.lists(st.lists(st.sampled_from(["Istituto X", "", "Assenze"]), max_size=4), max_size=3)
    )
    head = draw(st.lists(st.sampled_from(_HEADERS), min_size=2, max_size=11, unique=True))
    width = len(head)
    lines = [sep.join(t) for t in titles] + [sep.join(head)]
    for _ in range(draw(st.integers(0, 25))):
        k = draw(st.sampled_from([width] * 8 + [0, 1, width - 1, width + 1]))
        lines.append(sep.join(draw(st.lists(cell, min_size=k, max_size=k))))
    text = nl.join(lines) + draw(st.sampled_from(["", nl, nl * 2]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding, errors="replace")


@fuzz_settings(0.5)
@given(blob=_csv_files())
def test_columnar_and_row_readers_read_every_csv_alike(tmp_path_factory, blob):
    import pyarrow as pa

    from analysis.data import intake
    from analysis.errors import DataValidationError

    path = tmp_path_factory.mktemp("csv") / "school.csv"
    path.write_bytes(blob)
    src = intake.SourceFile(path=path, kind="school", school_id="S", year=2020)
    seen = []
    real = intake._COLUMNAR_CSV
    try:
        for columnar in (True, False):
            intake._COLUMNAR_CSV = columnar
            log = intake._Log()
            try:
                rec = intake._read_records(src, intake.SCHOOL_FIELDS, log)
            except DataValidationError as err:
                seen.append(("error", str(err)))
                continue
            cols = {
                f: c.to_pylist() if isinstance(c, pa.ChunkedArray) else list(c)
                for f, c in rec.columns.items()
            }
            seen.append((cols, list(rec.columns), rec.lines.tolist(), log.files, log.rejections))
    finally:
        intake._COLUMNAR_CSV = real
    assert seen[0] == seen[1]
    record("intake (columnar = row reader)", ERROR if seen[0][0] == "error" else SAME)
