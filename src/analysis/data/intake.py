"""From the schools' files to the analysis panel: intake of real pupil records.

``python -m analysis intake --config config/intake.yaml`` reads every source file the config
declares — school register exports (one or more per school and school year), the
implementer's attendance registers per course edition and, optionally, pupil status from the
national student registry — maps each one's columns and codes onto the panel contract of
:mod:`analysis.data.programme`, pseudonymises pupils **at the door** and writes:

- ``data/processed/programme/panel.parquet`` — the contract panel (``pupil_id`` is a keyed
  HMAC-SHA256 of the normalised codice fiscale, or of surname, name and date of birth where the
  code is missing or invalid), with the participation ``dose`` (hours attended) as an extra
  column;
- ``data/intake/`` (git-ignored, never published) — the intake report for the data owners: per
  source file, rows read, columns mapped and unmapped, values recoded, rows rejected with the
  rule and the file/sheet/line (identifiers masked, ``RSS••••••••••••U``), duplicates and
  conflicts across schools, participants not found in any school file (linkage rate per
  edition), and one correction list per school (XLSX) to send back.

Nothing is dropped without being counted in that report, and names, full dates of birth and
codici fiscali never leave ``data/raw/programme/``: not in the panel, the report, logs or errors.

Reading: calamine for .xlsx/.xls/.ods (:func:`analysis.data._io.read_workbook`: the cells of
``pandas.read_excel`` with the calamine engine, converted per type); for CSV the separator
is sniffed with :mod:`csv`, the header found on the first rows read by :mod:`csv`, and the
table below it parsed column-wise by ``pyarrow.csv`` wherever that gives exactly the records
:mod:`csv` gives (:func:`_csv_body`; the :mod:`csv` row reader otherwise).  The rules then run
on whole columns of all school files at once, once per distinct value.  What is written by
hand here is the mapping of school-specific layouts onto the contract, which no library
knows, and the placement of ragged lines pyarrow sets aside.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hmac
import io
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analysis import paths
from analysis.data import codice_fiscale as cf
from analysis.data._io import read_workbook
from analysis.errors import DataValidationError, Violation
from analysis.yamlfile import read_yaml

__all__ = [
    "ATTENDANCE_FIELDS",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "SCHOOL_FIELDS",
    "IntakeConfig",
    "IntakeResult",
    "load_config",
    "load_key",
    "pseudonym",
    "run_intake",
]

KEY_FILE_ENV = "ANALYSIS_PSEUDONYM_KEY_FILE"
KEY_ENV = "ANALYSIS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32

#: Canonical fields of a school register export, with the Italian headers schools use for them
#: (compared after lower-casing and removing accents and punctuation).
SCHOOL_FIELDS: dict[str, tuple[str, ...]] = {
    "codice_fiscale": ("codice fiscale", "cf", "c f", "cod fiscale", "codicefiscale", "cod fisc"),
    "cognome": ("cognome", "cognome alunno"),
    "nome": ("nome", "nome alunno"),
    "data_nascita": ("data di nascita", "data nascita", "nato il", "nata il", "data nasc"),
    "sesso": ("sesso", "genere", "m f"),
    "cittadinanza": ("cittadinanza", "nazionalita"),
    "classe": ("classe", "anno di corso", "anno corso", "cl"),
    "sezione": ("sezione", "sez"),
    "indirizzo": ("indirizzo", "indirizzo di studio", "corso di studi"),
    "ore_assenza": ("ore di assenza", "ore assenza", "assenze ore", "tot ore assenza", "assenze"),
    "monte_ore": (
        "monte ore annuo",
        "monte ore",
        "ore annue",
        "monte ore personalizzato",
        "assenze monte ore",
    ),
    "media_voti": ("media voti", "media", "media finale"),
    "esito": ("esito", "esito finale", "risultato", "esito scrutinio"),
}
ATTENDANCE_FIELDS: dict[str, tuple[str, ...]] = {
    "codice_fiscale": SCHOOL_FIELDS["codice_fiscale"],
    "cognome": SCHOOL_FIELDS["cognome"] + ("cognome partecipante",),
    "nome": SCHOOL_FIELDS["nome"] + ("nome partecipante",),
    "data_nascita": SCHOOL_FIELDS["data_nascita"],
    "corso": ("corso", "percorso", "attivita"),
    "edizione": ("edizione", "ed"),
    "data_inizio": ("data inizio", "inizio", "dal"),
    "data_fine": ("data fine", "fine", "al"),
    "ore_frequentate": ("ore frequentate", "ore di presenza", "ore presenza", "presenze ore"),
}
REGISTRY_FIELDS: dict[str, tuple[str, ...]] = {
    "codice_fiscale": SCHOOL_FIELDS["codice_fiscale"],
    "anno": ("anno scolastico", "anno", "a s"),
    "stato": ("stato", "stato frequenza", "posizione"),
}
#: Identifying fields: used to build the key, then discarded.
IDENTIFYING = ("codice_fiscale", "cognome", "nome", "data_nascita")

#: Default recoding of *Esito* (school-specific spellings are added in the config).
DEFAULT_ESITO = {
    "ammesso": {"repeated_grade": 0, "dropped_out": 0},
    "ammessa": {"repeated_grade": 0, "dropped_out": 0},
    "promosso": {"repeated_grade": 0, "dropped_out": 0},
    "non ammesso": {"repeated_grade": 1, "dropped_out": 0},
    "non ammessa": {"repeated_grade": 1, "dropped_out": 0},
    "respinto": {"repeated_grade": 1, "dropped_out": 0},
    "sospensione del giudizio": {"repeated_grade": 0, "dropped_out": 0},
    "giudizio sospeso": {"repeated_grade": 0, "dropped_out": 0},
    "ritirato": {"dropped_out": 1},
    "ritirata": {"dropped_out": 1},
    "trasferito": {"transferred": 1},
    "trasferita": {"transferred": 1},
}
_TOTALS = re.compile(r"^\s*(tot(ale|ali)?\b|tot\.|somma|media classe)", re.IGNORECASE)


def _plain(text: object) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces (for matching headers)."""
    if type(text) is str:  # headers and codes recur in every file: remembered (by text only)
        return _plain_text(text)
    return _plain_text.__wrapped__(str(text))


@functools.lru_cache(maxsize=1 << 16)
def _plain_text(text: str) -> str:
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(_NOT_ALNUM.sub(" ", s).split())


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


# --------------------------------------------------------------------------------------------
# The key
# --------------------------------------------------------------------------------------------


def load_key() -> bytes:
    """Return the secret pseudonymisation key (never from inside the repository).

    Read from the file named by ``$ANALYSIS_PSEUDONYM_KEY_FILE`` or from
    ``$ANALYSIS_PSEUDONYM_KEY``.

    Raises
    ------
    DataValidationError
        Without a key, saying how to create one.
    """
    how = (
        "create one outside the repository and point the intake at it, e.g.\n"
        "  mkdir -p ~/.config/officine-mezzogiorno && umask 077 && \\\n"
        "  python -c 'import secrets; print(secrets.token_hex(32))' "
        "> ~/.config/officine-mezzogiorno/pseudonym.key\n"
        f"  export {KEY_FILE_ENV}=~/.config/officine-mezzogiorno/pseudonym.key\n"
        "Keep the key with the data owners' agreement: the same key gives the same pupil ids "
        "in every delivery; losing it means the panels of two deliveries cannot be linked."
    )
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        p = Path(path).expanduser().resolve()
        try:
            p.relative_to(paths.ROOT)
        except ValueError:
            pass
        else:
            raise DataValidationError(
                KEY_FILE_ENV, f"the key file must be outside the repository ({paths.ROOT}); {how}"
            )
        if not p.is_file():
            raise DataValidationError(KEY_FILE_ENV, f"no key file at {p}; {how}")
        key = p.read_bytes().strip()
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].strip().encode()
    else:
        raise DataValidationError("pseudonymisation key", f"no key is set; {how}")
    if len(key) < MIN_KEY_BYTES:
        raise DataValidationError(
            "pseudonymisation key", f"the key is shorter than {MIN_KEY_BYTES} bytes; {how}"
        )
    return key


def pseudonym(key: bytes, identity: str) -> str:
    """``P`` + 20 hex characters of HMAC-SHA256(key, identity): a contract-valid pupil id."""
    return "P" + hmac.digest(key, identity.encode("utf-8"), "sha256").hex()[:20]


def _identity(row: Mapping[str, Any]) -> tuple[str | None, str]:
    """The string the key is built from, and how (``"cf"``, ``"name_dob"`` or the reason none)."""
    code = row.get("codice_fiscale")
    if code is not None and str(code).strip() and cf.is_valid(code):
        return "CF:" + cf.normalise(code), "cf"
    surname, name, dob = row.get("cognome"), row.get("nome"), row.get("data_nascita")
    if surname and name and isinstance(dob, dt.date):
        return f"NDN:{_plain(surname)}|{_plain(name)}|{dob.isoformat()}", "name_dob"
    return None, ("invalid codice fiscale" if code else "no codice fiscale") + (
        " and no surname, name and date of birth to link by"
    )


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One declared source file."""

    path: Path
    kind: str  # school | attendance | registry
    school_id: str = ""
    order: str = "upper"
    year: int | None = None
    sheet: str | None = None
    course: str = ""
    edition: str = ""
    aliases: Mapping[str, str] = field(default_factory=dict)
    value_maps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeConfig:
    """The validated ``config/intake.yaml``."""

    sources: tuple[SourceFile, ...]
    output: Path
    report_dir: Path
    esito: Mapping[str, Mapping[str, int]]
    two_schools_same_year: str
    source: str


def _rel(p: str) -> Path:
    path = (paths.ROOT / p).resolve()
    try:
        path.relative_to(paths.ROOT)
    except ValueError as exc:
        raise DataValidationError(
            "config/intake.yaml", f"path {p!r} is outside the repository"
        ) from exc
    return path


def load_config(path: Path | None = None) -> IntakeConfig:
    """Read and validate the intake configuration (every problem named by its key)."""
    path = Path(path) if path is not None else paths.CONFIG_DIR / "intake.yaml"
    src = paths.relative(path)
    raw = read_yaml(path)
    problems: list[Violation] = []
    if not isinstance(raw, dict):
        raise DataValidationError(src, "the file must be a mapping")
    sources: list[SourceFile] = []
    esito = {**DEFAULT_ESITO}
    for k, v in (raw.get("esito") or {}).items():
        if not isinstance(v, dict) or not set(v) <= {
            "repeated_grade",
            "dropped_out",
            "transferred",
        }:
            problems.append(
                Violation(
                    rule="must map to repeated_grade/dropped_out/transferred", column=f"esito.{k}"
                )
            )
        else:
            esito[_plain(k)] = {kk: int(vv) for kk, vv in v.items()}
    for i, s in enumerate(raw.get("schools") or []):
        where = f"schools[{i}]"
        if not isinstance(s, dict) or "school_id" not in s or "files" not in s:
            problems.append(Violation(rule="needs school_id and files", column=where))
            continue
        order = s.get("order", "upper")
        if order not in ("upper", "lower"):
            problems.append(
                Violation(rule="order must be 'upper' or 'lower'", column=f"{where}.order")
            )
        aliases = {_plain(k): str(v) for k, v in (s.get("header_aliases") or {}).items()}
        bad = [v for v in aliases.values() if v not in SCHOOL_FIELDS]
        if bad:
            problems.append(
                Violation(
                    rule=f"aliases must name a field of {sorted(SCHOOL_FIELDS)}",
                    column=f"{where}.header_aliases",
                    rows=tuple(bad),
                )
            )
        for j, f in enumerate(s["files"]):
            fw = f"{where}.files[{j}]"
            if not isinstance(f, dict) or "path" not in f or not isinstance(f.get("year"), int):
                problems.append(
                    Violation(
                        rule="needs path and year (the school year's first calendar year, an integer)",
                        column=fw,
                    )
                )
                continue
            f_order = f.get("order", order)
            if f_order not in ("upper", "lower"):
                problems.append(
                    Violation(rule="order must be 'upper' or 'lower'", column=f"{fw}.order")
                )
            unknown = set(f) - {"path", "year", "sheet", "order"}
            if unknown:
                problems.append(Violation(rule=f"unknown key(s) {sorted(unknown)}", column=fw))
            sources.append(
                SourceFile(
                    path=_rel(f["path"]),
                    kind="school",
                    school_id=str(s["school_id"]),
                    order=f_order,
                    year=int(f["year"]),
                    sheet=f.get("sheet"),
                    aliases=aliases,
                    value_maps={
                        k: {_plain(a): b for a, b in m.items()}
                        for k, m in (s.get("value_maps") or {}).items()
                    },
                )
            )
    for i, f in enumerate(raw.get("attendance") or []):
        fw = f"attendance[{i}]"
        if not isinstance(f, dict) or "path" not in f:
            problems.append(
                Violation(
                    rule="needs path (and course, edition if the file has no such columns)",
                    column=fw,
                )
            )
            continue
        sources.append(
            SourceFile(
                path=_rel(f["path"]),
                kind="attendance",
                sheet=f.get("sheet"),
                course=str(f.get("course", "")),
                edition=str(f.get("edition", "")),
            )
        )
    for i, f in enumerate(raw.get("registry") or []):
        if not isinstance(f, dict) or "path" not in f:
            problems.append(Violation(rule="needs path", column=f"registry[{i}]"))
            continue
        sources.append(SourceFile(path=_rel(f["path"]), kind="registry", sheet=f.get("sheet")))
    rule = raw.get("two_schools_same_year", "keep_not_transferred")
    if rule not in ("keep_not_transferred", "reject"):
        problems.append(
            Violation(rule="must be keep_not_transferred or reject", column="two_schools_same_year")
        )
    if not any(s.kind == "school" for s in sources):
        problems.append(Violation(rule="declare at least one school file", column="schools"))
    if problems:
        raise DataValidationError(src, problems)
    return IntakeConfig(
        sources=tuple(sources),
        output=_rel(raw.get("output", "data/processed/programme/panel.parquet")),
        report_dir=_rel(raw.get("report_dir", "data/intake")),
        esito=esito,
        two_schools_same_year=rule,
        source=src,
    )


# --------------------------------------------------------------------------------------------
# Reading one file
# --------------------------------------------------------------------------------------------


@dataclass
class _Log:
    """Everything the intake report says, with identifiers masked."""

    files: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    recodings: Counter = field(default_factory=Counter)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    # Per-run memos (issue 13: a pupil is in six yearly files, a file has thousands of rows):
    # file paths as the report names them, pseudonyms and masked codes by their input.
    # Never written anywhere; they live as long as the run.
    _files: dict[Path, str] = field(default_factory=dict, repr=False)
    pseudonyms: dict[str, str] = field(default_factory=dict, repr=False)
    masks: dict[Any, str] = field(default_factory=dict, repr=False)

    def file(self, path: Path) -> str:
        """``paths.relative(path)``, resolved once per file."""
        if path not in self._files:
            self._files[path] = paths.relative(path)
        return self._files[path]

    def reject(
        self, src: SourceFile, sheet: str, line: int, column: str, rule: str, row: Mapping[str, Any]
    ) -> None:
        self.rejections.append(
            self.rejection(src, sheet, line, column, rule, row.get("codice_fiscale"))
        )

    def rejection(
        self, src: SourceFile, sheet: str, line: int, column: str, rule: str, code: Any
    ) -> dict[str, Any]:
        """A line of the rejections table (the identifier masked)."""
        return {
            "file": self.file(src.path),
            "sheet": sheet,
            "line": line,
            "column": column,
            "rule": rule,
            "school_id": src.school_id,
            "identifier (masked)": cf.mask(code) if code else "",
        }


def _decode_csv(path: Path, label: str) -> tuple[str, str]:
    """The text of a CSV file (UTF-8 with or without BOM, else Windows-1252) and its separator."""
    data = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly every byte
        raise DataValidationError(label, "file is neither UTF-8 nor Windows-1252 text")
    sample = "\n".join(_first_lines(text, 20))
    sep = _sniff_delimiter(sample)
    if sep is None:
        sep = ";" if sample.count(";") > sample.count(",") else ","
    return text, sep


_DELIMITERS = ";,\t"


def _sniff_delimiter(sample: str) -> str | None:
    """``csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter``, or None (it raises).

    A sample without quote characters gives the Sniffer's quote rule nothing to match, and
    its delimiter rule (``_guess_delimiter``) then depends only on how often each candidate
    delimiter occurs on each line: that rule is repeated here for the three candidates
    instead of all 127 ASCII characters (issue 13: the Sniffer was a tenth of the time of a
    small file).  Samples with quotes go to the Sniffer.  tests/test_intake.py compares the
    two on many samples.
    """
    if '"' in sample or "'" in sample:
        try:
            return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
        except csv.Error:
            return None
    # csv.Sniffer._guess_delimiter (Python 3.11), for the candidate delimiters only
    data = [line for line in sample.split("\n") if line]
    chunk = min(10, len(data))
    iteration = 0
    frequency: dict[str, dict[int, int]] = {}
    modes: dict[str, tuple[int, int]] = {}
    delims: dict[str, tuple[int, int]] = {}
    start, end = 0, chunk
    while start < len(data):
        iteration += 1
        for line in data[start:end]:
            for char in _DELIMITERS:
                meta = frequency.get(char, {})
                freq = line.count(char)
                meta[freq] = meta.get(freq, 0) + 1
                frequency[char] = meta
        for char in frequency:
            items = list(frequency[char].items())
            if len(items) == 1 and items[0][0] == 0:
                continue
            if len(items) > 1:
                mode = max(items, key=lambda x: x[1])
                items.remove(mode)
                modes[char] = (mode[0], mode[1] - sum(item[1] for item in items))
            else:
                modes[char] = items[0]
        total = float(min(chunk * iteration, len(data)))
        consistency = 1.0
        while len(delims) == 0 and consistency >= 0.9:
            for k, v in modes.items():
                if v[0] > 0 and v[1] > 0 and v[1] / total >= consistency:
                    delims[k] = v
            consistency -= 0.01
        if len(delims) == 1:
            return next(iter(delims))
        start = end
        end += chunk
    for d in csv.Sniffer().preferred:  # more than one: the Sniffer's preference
        if d in delims:
            return d
    return None


def _first_lines(text: str, k: int) -> list[str]:
    """``text.splitlines()[:k]`` without splitting a whole file of thousands of lines.

    A prefix holding more than ``k`` lines holds the first ``k`` complete, with the same line
    breaks (a carriage return ending the prefix leaves at most ``k`` lines in it).
    """
    size = 1 << 16
    while size < len(text):
        lines = text[:size].splitlines()
        if len(lines) > k:
            return lines[:k]
        size *= 4
    return text.splitlines()[:k]


def _csv_rows(text: str, sep: str, label: str) -> list[list[str]]:
    """The records of a CSV text as :mod:`csv` reads them (its error named, with the file)."""
    try:
        return [r for r in csv.reader(io.StringIO(text), delimiter=sep)]
    except csv.Error as exc:  # e.g. lines ended by a lone carriage return
        raise DataValidationError(label, f"not readable as CSV ({exc})") from exc


def _read_rows(path: Path, sheet: str | None) -> tuple[list[list[Any]], str]:
    """All cells of the file as rows (strings, numbers, dates), and the sheet name used."""
    label = paths.relative(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataValidationError(label, "file not found")
    if suffix == ".csv":
        text, sep = _decode_csv(path, label)
        return _csv_rows(text, sep, label), "(csv)"
    frame, name = _read_sheet(path, sheet, label)
    return _sheet_rows(frame), name


def _read_sheet(path: Path, sheet: str | None, label: str) -> tuple[pd.DataFrame, str]:
    """A spreadsheet's sheet as read by calamine (object cells, NaN if empty; ``read_workbook``)."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xls", ".xlsm", ".ods"):
        raise DataValidationError(
            label, f"unsupported file type {suffix!r}: .csv, .xlsx, .xls or .ods"
        )
    book = read_workbook(path, sheets="first" if sheet is None else [sheet], label=label)
    name, frame = next(iter(book.items()))
    return frame, str(name)


def _sheet_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """The rows of a sheet as lists (an empty cell is None)."""
    return [
        [None if (isinstance(v, float) and np.isnan(v)) else v for v in r]
        for r in frame.itertuples(index=False)
    ]


#: Read CSV files column-wise with pyarrow wherever that gives exactly the rows the row reader
#: (:mod:`csv`) gives; tests switch it off to compare the two paths.
_COLUMNAR_CSV = True
#: pyarrow's block size when parsing CSV (tests make it small so that files span blocks).
_CSV_BLOCK_BYTES = 1 << 22


@dataclass
class _CsvBody:
    """A CSV file read column-wise: the header found on its first rows, the table below it.

    ``table`` holds the records pyarrow parsed with the header's width (every cell text);
    ``odd`` the records of another width (ragged lines), at their position among the records
    ``n``, with their cells as the row reader gives them.
    """

    head: list[list[str]]
    header: int
    mapping: dict[int, str]
    unmapped: list[str]
    table: pa.Table
    odd: dict[int, list[str]]

    @property
    def width(self) -> int:
        return len(self.head[self.header])

    @property
    def n(self) -> int:
        return self.table.num_rows + len(self.odd)


def _csv_body(
    text: str, sep: str, fields: Mapping[str, tuple[str, ...]], extra: Mapping[str, str]
) -> _CsvBody | None:
    """The columnar reading of a CSV file, or None where it might differ from the row reader.

    The rows above and including the header (at most 15) are read with :mod:`csv`, as the
    row reader reads them; the records below are parsed by ``pyarrow.csv`` (a maintained
    C++ reader: text only, no type inference, the same quoting as :mod:`csv`'s default
    dialect, empty lines kept).  Records of another width than the header are set aside by
    pyarrow with their physical line number and re-read with :mod:`csv`; that placement is
    trusted only when every record is one physical line.  None — the caller uses the row
    reader — for a lone carriage return (the row reader's own error), a header the first
    15 rows do not give, and any record pyarrow and :mod:`csv` would split differently.
    """
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return None
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    head: list[list[str]] = []
    ends: list[int] = []
    try:
        for row in reader:
            head.append(row)
            ends.append(reader.line_num)
            if len(head) == 15:
                break
    except csv.Error:
        return None
    h, mapping, unmapped = _find_header(head, fields, extra)
    if h < 0 or not head[h]:
        return None
    width = len(head[h])
    pos = 0  # the body starts after the physical line that ends the header record
    for _ in range(ends[h]):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            pos = len(text)
            break
    body = text[pos:]
    names = [str(j) for j in range(width)]
    odd_rows: list[tuple[int | None, str]] = []

    def set_aside(row: Any) -> str:
        odd_rows.append((row.number, row.text))
        return "skip"

    if body:
        try:
            table = pa_csv.read_csv(
                io.BytesIO(body.encode("utf-8")),
                read_options=pa_csv.ReadOptions(
                    column_names=names, use_threads=False, block_size=_CSV_BLOCK_BYTES
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=sep,
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=set_aside,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid:
            return None
    else:
        table = pa.table({c: pa.array([], type=pa.string()) for c in names})
    odd: dict[int, list[str]] = {}
    if odd_rows:
        physical = body.count("\n") + (0 if body.endswith("\n") else 1)
        if table.num_rows + len(odd_rows) != physical:
            return None  # a record spans lines: positions by line number would be wrong
        for number, line in odd_rows:
            cells = list(csv.reader([line], delimiter=sep))
            if number is None or len(cells) != 1 or len(cells[0]) == width:
                return None
            odd[number - 1] = cells[0]
    return _CsvBody(head, h, mapping, unmapped, table, odd)


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def _find_header(
    rows: list[list[Any]], fields: Mapping[str, tuple[str, ...]], extra: Mapping[str, str]
) -> tuple[int, dict[int, str], list[str]]:
    """The header row (most matched fields in the first 15 rows), column → field, unmapped."""
    lookup = {a: f for f, al in fields.items() for a in al} | dict(extra)
    best: tuple[int, dict[int, str], list[str]] = (-1, {}, [])
    # every cell's plain text once (None: an empty cell), for its row and the row below
    plain = [
        [None if (_empty(c) if type(c) is not str else not c.strip()) else _plain(c) for c in row]
        for row in rows[:15]
    ]
    for i, row in enumerate(rows[:15]):
        above = plain[i - 1] if i > 0 else []
        mapping: dict[int, str] = {}
        unmapped: list[str] = []
        group = ""
        for j, cell in enumerate(row):
            # merged group headers ("Assenze" over "Ore" and "Monte ore") fill to the right
            if j < len(above) and above[j] is not None:
                group = above[j]
            name = plain[i][j] or ""
            if not name:
                continue
            f = lookup.get(name) or lookup.get(f"{group} {name}".strip())
            if f and f not in mapping.values():
                mapping[j] = f
            else:
                unmapped.append(str(cell).strip())
        if len(mapping) > len(best[1]):
            best = (i, mapping, unmapped)
    return best


def _date(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, int | float) and not _empty(v) and 20000 < float(v) < 60000:  # Excel serial
        return (dt.datetime(1899, 12, 30) + dt.timedelta(days=float(v))).date()
    m = re.match(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\s*$", str(v))
    if m:
        try:
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
    m = re.match(r"^\s*(\d{4})-(\d{2})-(\d{2})", str(v))
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


def _number(v: Any) -> float | None:
    if _empty(v):
        return None
    if isinstance(v, int | float):
        return float(v)
    s = str(v).strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?", s):  # 1.234,5
        s = s.replace(".", "")
    s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


def _per_unique(values: pd.Series, fn: Any) -> np.ndarray:
    """``fn`` of every cell, called once per distinct value (an object array).

    The scalar rules (dates, numbers, codes, spellings) stay written once, as functions of one
    cell; a register of 6 M rows has a few thousand distinct dates, grades and hours.  Values
    that Python calls equal but that ``str`` writes differently (``1`` and ``1.0``) are kept
    apart by their type.
    """
    results, key = _per_unique_codes(values, fn)
    return results[key]


def _per_unique_codes(values: pd.Series, fn: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_per_unique` as (``fn`` of each distinct value, code of every cell).

    What is derived from the results can then be derived once per distinct value too and
    spread with ``derived[key]`` (issue 13: no Python loop over millions of rows).
    """
    uniques, key = _distinct(values)
    return _apply(fn, uniques), key


def _distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The distinct cells of a column (first occurrences, an object array) and every cell's code.

    Values that Python calls equal but that ``str`` writes differently (``1`` and ``1.0``)
    are kept apart by their type.
    """
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=object), np.zeros(0, dtype=np.intp)
    obj = values.astype(object)
    key, _ = pd.factorize(obj, use_na_sentinel=False)
    if pd.api.types.infer_dtype(obj, skipna=True) not in ("string", "empty"):
        tcodes, _ = pd.factorize(obj.map(type).astype(str))
        key, _ = pd.factorize(key.astype(np.int64) * (int(tcodes.max()) + 1) + tcodes)
    first = np.full(int(key.max()) + 1, -1, dtype=np.int64)
    first[key[::-1]] = np.arange(n - 1, -1, -1)  # first row of every distinct value
    return obj.to_numpy()[first], key


_PLAIN_DECIMAL = r"^-?[0-9]+(?:,[0-9]+)?$"  # 12 or 12,5: what _number reads as 12.0 / 12.5


def _numbers(values: pd.Series) -> np.ndarray:
    """:func:`_number` of every cell (an object array of floats and None).

    Text cells that are all plain integers or comma decimals (or empty) are parsed by pyarrow
    in one pass; anything else goes through :func:`_number` once per distinct value.
    """
    fast = _plain_numbers(values)
    if fast is not None:
        return np.array(fast.to_pylist(), dtype=object)
    return _per_unique(values, _number)


def _floats(values: pd.Series) -> np.ndarray:
    """:func:`_numbers` as float64, ``None`` as NaN (what the row rules compare)."""
    fast = _plain_numbers(values)
    if fast is not None:
        return fast.to_numpy(zero_copy_only=False).astype("float64", copy=False)
    return np.array([np.nan if x is None else x for x in _numbers(values)], dtype="float64")


def _plain_numbers(values: pd.Series) -> pa.Array | None:
    """The pyarrow pass of :func:`_numbers` (nulls for empty cells), or None for other cells."""
    if len(values) and pd.api.types.infer_dtype(values, skipna=False) == "string":
        arr = pa.array(values.to_numpy(dtype=object), type=pa.string())
        stripped = pc.utf8_trim_whitespace(arr)
        filled = pc.not_equal(stripped, "")
        plain = pc.match_substring_regex(stripped, _PLAIN_DECIMAL)
        if pc.all(pc.or_(pc.invert(filled), plain)).as_py():
            text = pc.if_else(filled, pc.replace_substring(stripped, ",", "."), None)
            return pc.cast(text, pa.float64())
    return None


def _floats_distinct(values: np.ndarray) -> np.ndarray:
    """:func:`_floats` of distinct cells (float64, NaN for missing or unreadable).

    Text cells that are plain integers or comma decimals (or blank) are parsed by pyarrow, the
    others by :func:`_number`.  Per cell the two agree: pyarrow's ``utf8_trim_whitespace``
    and ``str.strip`` remove the same characters (every code point compared in
    tests/test_intake.py) and both parse decimals correctly rounded; so mixing them cell by
    cell gives what :func:`_floats` gives column by column.
    """
    out = np.full(len(values), np.nan)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        text = np.ones(len(values), dtype=bool)
    else:
        text = np.array([isinstance(v, str) for v in values], dtype=bool)
    fast = np.zeros(len(values), dtype=bool)
    if text.any():
        idx = np.flatnonzero(text)
        stripped = pc.utf8_trim_whitespace(pa.array(values[idx], type=pa.string()))
        filled = pc.not_equal(stripped, "")
        plain = pc.match_substring_regex(stripped, _PLAIN_DECIMAL)
        ok = pc.or_(pc.invert(filled), plain).to_numpy(zero_copy_only=False)
        sel = pa.array(ok)
        numbers = pc.if_else(
            pc.filter(filled, sel),
            pc.replace_substring(pc.filter(stripped, sel), ",", "."),
            None,
        )
        out[idx[ok]] = pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)
        fast[idx[ok]] = True
    rest = np.flatnonzero(~fast)
    if len(rest) and pd.api.types.infer_dtype(values[rest], skipna=False) in (
        "integer",
        "floating",
        "mixed-integer-float",
    ):  # spreadsheet numbers: _number is float() of them (NaN for NaN)
        out[rest] = np.asarray(list(values[rest]), dtype=float)
        return out
    for i in rest:
        x = _number(values[i])
        out[i] = np.nan if x is None else x
    return out


def _cell_texts(frame: pd.DataFrame) -> list[pd.Series]:
    """Every column as ``str`` (missing cells stay missing), converted once for both scans."""
    return [frame.iloc[:, j].astype(object).astype("str") for j in range(frame.shape[1])]


def _empty_cells(frame: pd.DataFrame, texts: list[pd.Series] | None = None) -> np.ndarray:
    """:func:`_empty` of every cell (n × columns booleans), column by column."""
    texts = _cell_texts(frame) if texts is None else texts
    out = np.zeros(frame.shape, dtype=bool)
    for j in range(frame.shape[1]):
        na = frame.iloc[:, j].isna().to_numpy()
        # a missing cell is empty whatever its text; the others: empty after strip
        out[:, j] = na | (texts[j].str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return out


_TOTALS_RE2 = r"^\s*(?:tot|somma|media classe)"  # a superset of _TOTALS, for RE2


def _totals_rows(
    frame: pd.DataFrame, empty: np.ndarray, texts: list[pd.Series] | None = None
) -> np.ndarray:
    """Rows with a non-empty cell matching :data:`_TOTALS` (RE2 prefilter, then ``re``)."""
    texts = _cell_texts(frame) if texts is None else texts
    out = np.zeros(len(frame), dtype=bool)
    for j in range(frame.shape[1]):
        text = texts[j]
        arr = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        hit_re2 = pc.match_substring_regex(arr, _TOTALS_RE2, ignore_case=True)
        cand = hit_re2.to_numpy(zero_copy_only=False).astype(bool) & ~empty[:, j]
        if cand.any():
            idx = np.flatnonzero(cand)
            hit = np.array([bool(_TOTALS.match(v)) for v in text.to_numpy()[idx]], dtype=bool)
            out[idx[hit]] = True
    return out


@dataclass
class _Records:
    """The data rows of one file: each mapped field's cells, their lines, the sheet.

    A field's cells are a pyarrow text column (every cell a string: CSV files) or an object
    array (cells as the spreadsheet gives them: strings, numbers, dates, None).
    """

    columns: dict[str, pa.ChunkedArray | np.ndarray]
    lines: np.ndarray
    sheet: str
    #: the file's line of the intake report, and the rows the reader rejected
    entry: dict[str, Any] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def frame(self) -> pd.DataFrame:
        """One object column per field (in the file's order), plus ``_line`` and ``_sheet``."""
        out = pd.DataFrame(
            {
                f: c.to_numpy() if isinstance(c, pa.ChunkedArray) else c
                for f, c in self.columns.items()
            },
            index=np.arange(len(self)),
            dtype=object,
        )
        out["_line"] = self.lines
        out["_sheet"] = self.sheet
        return out


def _classify(
    src: SourceFile,
    log: _Log,
    *,
    label: str,
    sheet: str,
    header: int,
    mapping: dict[int, str],
    unmapped: list[str],
    width: int,
    lengths: np.ndarray,
    empty: np.ndarray,
    totals: np.ndarray,
    cells_of: Any,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], list[dict[str, Any]]]:
    """The fate of every row below the header (both readers).

    Returns the rows kept, every row's line, the file's line of the intake report and the
    rows rejected (written to the log by the caller, in the order of the files).

    The row rules of the original row-by-row reader: a CSV line with another number of
    fields than the header is rejected, blank rows are counted (the first blank row after
    data ends the table), totals rows are counted, short text below the table is counted as
    notes, a row without any pupil identifier is rejected.  ``empty`` is the n × columns
    emptiness of the cells, ``cells_of(i)`` the mapped fields of row ``i`` (for the masked
    identifier of a rejection).
    """
    n = len(lengths)
    blank = empty.all(axis=1)
    ragged = (lengths != width) & ~blank if sheet == "(csv)" else np.zeros(n, dtype=bool)
    n_filled = (~empty).sum(axis=1)
    cols = list(mapping)
    ident_cols = [j for j, f in mapping.items() if f in IDENTIFYING]
    no_ident = empty[:, ident_cols].all(axis=1) if ident_cols else np.ones(n, dtype=bool)
    any_mapped = (~empty[:, cols]).any(axis=1) if cols else np.zeros(n, dtype=bool)

    def fates(ended: np.ndarray) -> np.ndarray:
        # 0 accept, 1 ragged (rejected), 2 blank, 3 totals, 4 notes, 5 no identifier (rejected)
        fate = np.zeros(n, dtype=np.int8)
        no_id_fate = np.where(ended | ~any_mapped, 4, 5)
        for mask, value in (
            (no_ident, no_id_fate),
            (ended & (n_filled <= 2), 4),
            (totals, 3),
            (blank, 2),
            (ragged, 1),
        ):  # in reverse order of precedence: the earlier rule wins
            fate = np.where(mask, value, fate)
        return fate

    # ``ended`` is set at the first blank row after the first accepted row
    fate = fates(np.zeros(n, dtype=bool))
    accepted = np.flatnonzero(fate == 0)
    if len(accepted):
        later_blank = np.flatnonzero(blank & (np.arange(n) > accepted[0]))
        if len(later_blank):
            fate = fates(np.arange(n) > later_blank[0])
    lines = np.arange(header + 2, header + 2 + n)
    rejected = []
    for i in np.flatnonzero((fate == 1) | (fate == 5)):
        if fate[i] == 1:
            column = "(line)"
            rule = (
                f"line has {int(lengths[i])} fields, the header {width} (a broken or merged line)"
            )
        else:
            column, rule = "codice_fiscale", "row without any pupil identifier"
        code = cells_of(i).get("codice_fiscale")
        rejected.append(log.rejection(src, sheet, int(lines[i]), column, rule, code))
    keep = fate == 0
    return (
        keep,
        lines,
        {
            "file": label,
            "sheet": sheet,
            "kind": src.kind,
            "school_id": src.school_id,
            "header_line": header + 1,
            "rows_read": int(keep.sum()),
            "columns_mapped": ", ".join(sorted(set(mapping.values()))),
            "columns_unmapped": ", ".join(unmapped),
            "blank_rows": int((fate == 2).sum()),
            "totals_rows": int((fate == 3).sum()),
            "notes_rows": int((fate == 4).sum()),
        },
        rejected,
    )


def _no_header(label: str, sheet: str) -> DataValidationError:
    return DataValidationError(
        label,
        [
            Violation(
                rule="no header row naming the pupil (Codice fiscale, or Cognome and Nome) in the first 15 rows",
                column=sheet,
            )
        ],
    )


def _read_records(src: SourceFile, fields: Mapping[str, tuple[str, ...]], log: _Log) -> _Records:
    """The data rows of one file (its report line and rejections written to the log)."""
    rec = _read_files([src], fields, log)[0]
    log.rejections += rec.rejections
    return rec


def _read_files(
    sources: list[SourceFile], fields: Mapping[str, tuple[str, ...]], log: _Log
) -> list[_Records]:
    """The data rows of several files, in order; their report lines written to the log.

    The columnar CSV reader where it reads a file exactly as the row reader would
    (:func:`_csv_body`), the row reader otherwise.  Files are opened in order (every error a
    file can raise is raised then, naming the first file that has one), the cells of all
    the columnar files are scanned together (one pyarrow pass over every cell: issue 13, a
    register of thousands of small files), then the rows of each file get their fate.  The
    rejections of each file are in ``_Records.rejections`` for the caller to log.
    """
    opened: list[_Records | tuple[SourceFile, str, _CsvBody]] = []
    for src in sources:
        opened.append(_open_file(src, fields, log))
    bodies = [o[2] for o in opened if isinstance(o, tuple)]
    scans = iter(_scan_cells(bodies))
    out = []
    for o in opened:
        rec = o if isinstance(o, _Records) else _columnar_records(*o, next(scans), log)
        log.files.append(rec.entry)
        out.append(rec)
    return out


def _open_file(
    src: SourceFile, fields: Mapping[str, tuple[str, ...]], log: _Log
) -> _Records | tuple[SourceFile, str, _CsvBody]:
    """A file read: a CSV body for the columnar reader, or the row reader's records."""
    label = paths.relative(src.path)
    needed = {"codice_fiscale", "cognome"} & set(fields)
    if _COLUMNAR_CSV and src.path.suffix.lower() == ".csv" and src.path.is_file():
        text, sep = _decode_csv(src.path, label)
        body = _csv_body(text, sep, fields, src.aliases)
        if body is not None and needed & set(body.mapping.values()):
            return src, label, body
        return _row_records(src, fields, log, _csv_rows(text, sep, label), "(csv)", label)
    if src.path.suffix.lower() == ".csv" or not src.path.is_file():
        rows, sheet = _read_rows(src.path, src.sheet)
        return _row_records(src, fields, log, rows, sheet, label)
    frame, sheet = _read_sheet(src.path, src.sheet, label)
    return _row_records(src, fields, log, frame, sheet, label)


def _scan_cells(bodies: list[_CsvBody]) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """Per body: which cells of each column are empty, which rows are totals rows.

    As :func:`_empty_cells` and :func:`_totals_rows` say, for the records of the table.  One
    pass of pyarrow over the cells of every column of every body.  Empty: no character
    or only spaces, which ``utf8_is_space`` tells without building stripped strings
    (pandas' ``str.strip`` is ``utf8_trim_whitespace``: the same spaces, every code point
    compared in tests/test_intake.py).  Totals: a non-empty cell that RE2 and then ``re``
    match.
    """
    chunks: list[pa.Array] = []
    sizes: list[int] = []  # cells per (body, column)
    for body in bodies:
        for j in range(body.width):
            col = body.table.column(j)
            chunks.extend(col.chunks)
            sizes.append(len(col))
    out = []
    if not chunks:
        return [([], np.zeros(b.table.num_rows, dtype=bool)) for b in bodies]
    cells = pa.chunked_array(chunks, type=pa.string())
    blank = pc.or_(pc.utf8_is_space(cells), pc.equal(pc.binary_length(cells), 0))
    hit_re2 = pc.match_substring_regex(cells, _TOTALS_RE2, ignore_case=True)
    cand = np.flatnonzero(pc.and_(hit_re2, pc.invert(blank)).to_numpy())
    totals_cell = np.zeros(len(cells), dtype=bool)
    if len(cand):
        hit = [bool(_TOTALS.match(v)) for v in cells.take(cand).to_pylist()]
        totals_cell[cand[np.array(hit, dtype=bool)]] = True
    blank_np = blank.to_numpy()
    start = k = 0
    for body in bodies:
        n = body.table.num_rows
        empty_cols, totals = [], np.zeros(n, dtype=bool)
        for _ in range(body.width):
            empty_cols.append(blank_np[start : start + sizes[k]])
            totals |= totals_cell[start : start + sizes[k]]
            start += sizes[k]
            k += 1
        out.append((empty_cols, totals))
    return out


def _row_records(
    src: SourceFile,
    fields: Mapping[str, tuple[str, ...]],
    log: _Log,
    rows: list[list[Any]] | pd.DataFrame,
    sheet: str,
    label: str,
) -> _Records:
    """The row reader: rows of cells as :mod:`csv` gives them, or a sheet as calamine does.

    A sheet is taken as the rows it holds (every row as wide as the sheet, empty cells
    None) without building them one by one.
    """
    head = _sheet_rows(rows.iloc[:15]) if isinstance(rows, pd.DataFrame) else rows[:15]
    h, mapping, unmapped = _find_header(head, fields, src.aliases)
    needed = {"codice_fiscale", "cognome"} & set(fields)
    if h < 0 or not needed & set(mapping.values()):
        raise _no_header(label, sheet)
    width = len(head[h])
    if isinstance(rows, pd.DataFrame):
        n = len(rows) - h - 1
        lengths = np.full(n, rows.shape[1], dtype=np.int64)
    else:
        body = rows[h + 1 :]
        n = len(body)
        lengths = np.fromiter((len(r) for r in body), dtype=np.int64, count=n)
    ncol = max(int(lengths.max()) if n else 0, max(mapping, default=-1) + 1, 1)
    # dtype=object: cells keep their Python types (an int class stays 1, not 1.0); cells
    # past the end of a short row are None, as the row reader gave them
    if isinstance(rows, pd.DataFrame):
        frame = rows.iloc[h + 1 :].set_axis(range(rows.shape[1]), axis=1).astype(object)
    elif n:  # rows padded to ``ncol`` (pandas will stop padding short rows itself)
        frame = pd.DataFrame([r + [None] * (ncol - len(r)) for r in body], dtype=object)
    else:
        frame = pd.DataFrame(dtype=object)
    frame = frame.reindex(columns=range(ncol)).astype(object)
    frame = frame.where(frame.notna(), None) if n else frame
    frame.index = np.arange(n)
    texts = _cell_texts(frame) if n else []
    empty = _empty_cells(frame, texts) if n else np.zeros((0, ncol), dtype=bool)
    totals = _totals_rows(frame, empty, texts) if n else np.zeros(0, dtype=bool)
    del texts
    cols = list(mapping)
    fields_frame = frame[cols].set_axis([mapping[j] for j in cols], axis=1)
    keep, lines, entry, rejected = _classify(
        src,
        log,
        label=label,
        sheet=sheet,
        header=h,
        mapping=mapping,
        unmapped=unmapped,
        width=width,
        lengths=lengths,
        empty=empty,
        totals=totals,
        cells_of=lambda i: {f: fields_frame.iat[i, k] for k, f in enumerate(fields_frame.columns)},
    )
    columns: dict[str, pa.ChunkedArray | np.ndarray] = {}
    for f in fields_frame.columns:
        cells = fields_frame[f].to_numpy(dtype=object)[keep]
        # a column of text only (every kept CSV cell; codes, names and outcomes in most
        # sheets) joins the text columns of the other files: equal strings are the same
        # cell wherever they come from, and pyarrow holds them in a fraction of the memory
        if pd.api.types.infer_dtype(cells, skipna=False) in ("string", "empty"):
            columns[f] = pa.chunked_array([pa.array(cells, type=pa.string())])
        else:
            columns[f] = cells
    return _Records(columns, lines[keep], sheet, entry, rejected)


def _columnar_records(
    src: SourceFile,
    label: str,
    body: _CsvBody,
    scan: tuple[list[np.ndarray], np.ndarray],
    log: _Log,
) -> _Records:
    """The columnar reader: the row rules over pyarrow columns (see :func:`_csv_body`).

    ``scan`` is what :func:`_scan_cells` found in the body's cells.
    """
    n, width, mapping, table = body.n, body.width, body.mapping, body.table
    odd_pos = np.array(sorted(body.odd), dtype=np.intp)
    is_odd = np.zeros(n, dtype=bool)
    is_odd[odd_pos] = True
    valid_pos = np.flatnonzero(~is_odd)  # row of each record of ``table``
    ncol = max([width, max(mapping, default=-1) + 1, 1] + [len(c) for c in body.odd.values()])
    empty = np.ones((n, ncol), dtype=bool)  # cells past the end of a row are empty
    totals = np.zeros(n, dtype=bool)
    lengths = np.full(n, width, dtype=np.int64)
    empty_cols, totals[valid_pos] = scan
    for j, e in enumerate(empty_cols):
        empty[valid_pos, j] = e
    if len(odd_pos):  # the ragged lines, as the row reader scans them
        small = pd.DataFrame(
            [body.odd[i] + [None] * (ncol - len(body.odd[i])) for i in odd_pos], dtype=object
        )
        small = small.where(small.notna(), None)
        texts = _cell_texts(small)
        empty[odd_pos] = _empty_cells(small, texts)
        totals[odd_pos] = _totals_rows(small, empty[odd_pos], texts)
        lengths[odd_pos] = [len(body.odd[i]) for i in odd_pos]

    def cells_of(i: int) -> dict[str, Any]:
        if is_odd[i]:
            cells = body.odd[i]
            return {f: cells[j] if j < len(cells) else None for j, f in mapping.items()}
        r = int(np.searchsorted(valid_pos, i))
        return {f: table.column(j)[r].as_py() for j, f in mapping.items()}

    keep, lines, entry, rejected = _classify(
        src,
        log,
        label=label,
        sheet="(csv)",
        header=body.header,
        mapping=mapping,
        unmapped=body.unmapped,
        width=width,
        lengths=lengths,
        empty=empty,
        totals=totals,
        cells_of=cells_of,
    )
    if (keep & is_odd).any():  # pragma: no cover - a ragged line is rejected or blank
        raise AssertionError("a line of another width was kept")
    mask = pa.array(keep[valid_pos])
    columns = {f: pc.filter(table.column(j), mask) for j, f in mapping.items()}
    return _Records(columns, lines[keep], "(csv)", entry, rejected)


def _records_frame(
    src: SourceFile, fields: Mapping[str, tuple[str, ...]], log: _Log
) -> pd.DataFrame:
    """The data rows of one file: one column per mapped field, plus ``_line`` and ``_sheet``."""
    return _read_records(src, fields, log).frame()


def _records(
    src: SourceFile, fields: Mapping[str, tuple[str, ...]], log: _Log
) -> list[dict[str, Any]]:
    """The data rows of one file as ``{field: value, "_line": n, "_sheet": s}``."""
    frame = _records_frame(src, fields, log)
    return [
        {k: (int(v) if k == "_line" else v) for k, v in r.items()} for r in frame.to_dict("records")
    ]


# --------------------------------------------------------------------------------------------
# The panel
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeResult:
    """What the intake wrote and counted."""

    panel: pd.DataFrame
    files: pd.DataFrame
    rejections: pd.DataFrame
    recodings: pd.DataFrame
    conflicts: pd.DataFrame
    linkage: pd.DataFrame
    unmatched: pd.DataFrame
    output: Path
    report_dir: Path


def _school_year(d: dt.date) -> int:
    return d.year if d.month >= 9 else d.year - 1


_PUPIL_COLUMNS = [
    "pupil_id",
    "school_id",
    "year",
    "grade_level",
    "sex",
    "birth_year",
    "foreign_born",
    "absence_rate",
    "grade_avg",
    "repeated_grade",
    "dropped_out",
    "_transferred",
    "_file",
    "_line",
    "_masked",
]


#: What a school file without a field gives for it (as its rules read a missing column).
_DEFAULTS: dict[str, Any] = {"classe": "", "sesso": "", "esito": "", "cittadinanza": "italiana"}


_TEXT_COLUMNS = ("pupil_id", "school_id", "sex", "_file", "_masked")
#: The contract panel's columns: the pupil-year columns without the bookkeeping ones (``_…``).
_PANEL_COLUMNS = tuple(c for c in _PUPIL_COLUMNS if not c.startswith("_"))


def _col(r: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    """A field's cells, or ``default`` everywhere when the file has no such column."""
    if name in r.columns:
        return r[name]
    return pd.Series([default] * len(r), index=r.index, dtype=object)


def _apply(fn: Any, uniques: np.ndarray) -> np.ndarray:
    """``fn`` of every distinct value (an object array)."""
    out = np.empty(len(uniques), dtype=object)
    for k, v in enumerate(uniques):
        out[k] = fn(v)
    return out


def _coded(
    columns: list[pa.ChunkedArray | np.ndarray | None], sizes: np.ndarray, default: Any
) -> tuple[np.ndarray, np.ndarray]:
    """One field of several files as (distinct values, code of every row), files in order.

    Text columns (CSV files) are coded together by pyarrow's ``dictionary_encode``: equal
    strings are the same cell wherever they come from.  Cells of a spreadsheet are coded per
    file as before (:func:`_distinct`: values Python calls equal but writes differently stay
    apart within a file and are never pooled across files).  A file without the field gives
    ``default`` on every row.
    """
    n = int(sizes.sum())
    codes = np.empty(n, dtype=np.intp)
    uniques: list[np.ndarray] = []
    offset = 0
    chunks: list[pa.Array] = []
    text_rows = np.zeros(n, dtype=bool)
    start = 0
    for col, size in zip(columns, sizes, strict=True):
        stop = start + int(size)
        if size == 0:
            pass
        elif isinstance(col, pa.ChunkedArray):
            chunks.extend(col.chunks)
            text_rows[start:stop] = True
        elif col is None:
            uniques.append(np.array([default], dtype=object))
            codes[start:stop] = offset
            offset += 1
        else:
            u, k = _distinct(pd.Series(col, dtype=object))
            uniques.append(u)
            codes[start:stop] = k + offset
            offset += len(u)
        start = stop
    if chunks:
        enc = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.string()))
        # one memo table for all chunks: the last chunk's dictionary holds every value
        values = enc.chunk(enc.num_chunks - 1).dictionary
        idx = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks]).astype(
            np.intp
        )
        codes[text_rows] = idx + offset
        uniques.append(np.asarray(values.to_numpy(zero_copy_only=False), dtype=object))
    return (
        np.concatenate(uniques) if uniques else np.empty(0, dtype=object),
        codes,
    )


def _identities_coded(
    code: tuple[np.ndarray, np.ndarray],
    surname: tuple[np.ndarray, np.ndarray],
    name: tuple[np.ndarray, np.ndarray],
    dates: tuple[np.ndarray, np.ndarray],
    key: bytes,
    memo: dict[str, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """:func:`_identity` of every row, from coded columns (``dates``: parsed dates or None).

    Returns the pseudonyms and every row's index into them (-1 where none can be built),
    whether the codice fiscale is valid, whether the row is linked by surname, name and date
    of birth, whether it has a code at all (for the rule of rows with no identity), and the
    normalised distinct codes.
    The code is checked with :func:`codice_fiscale.is_valid_array` once per distinct code;
    the keyed HMAC is computed once per distinct identity and run (``memo``).
    """
    code_u, code_k = code
    code_s = pd.Series(code_u, dtype=object)
    valid_u = cf.is_valid_array(code_s) if len(code_u) else np.zeros(0, dtype=bool)
    norm_s = cf.normalise_array(code_s) if len(code_u) else pd.Series([], dtype="str")
    valid = valid_u[code_k]
    (sur_u, sur_k), (nam_u, nam_k), (dates_u, dob_k) = surname, name, dates
    truthy = _apply(bool, sur_u).astype(bool)[sur_k] & _apply(bool, nam_u).astype(bool)[nam_k]
    is_date_u = np.array([isinstance(d, dt.date) for d in dates_u], dtype=bool)
    ndn = truthy & is_date_u[dob_k] & ~valid

    def pseudonym_of(x: str) -> str:
        out = memo.get(x)
        if out is None:
            out = memo[x] = pseudonym(key, x)
        return out

    norm_u = norm_s.to_numpy(dtype=object)
    # pseudonyms: one per distinct valid code, then one per row linked by name and birth
    values: list[str | None] = [None] * len(code_u)
    for u in np.flatnonzero(valid_u):  # a million codes: the memo inlined
        ident = "CF:" + str(norm_u[u])
        out = memo.get(ident)
        values[u] = out if out is not None else memo.setdefault(ident, pseudonym(key, ident))
    index = np.where(valid, code_k, -1)
    if ndn.any():
        ps_u, pn_u = _apply(_plain, sur_u), _apply(_plain, nam_u)
        iso_u = [d.isoformat() if isinstance(d, dt.date) else "" for d in dates_u]
        idx = np.flatnonzero(ndn)
        index[idx] = len(values) + np.arange(len(idx))
        values += [
            pseudonym_of(f"NDN:{ps_u[a]}|{pn_u[b]}|{iso_u[c]}")
            for a, b, c in zip(sur_k[idx], nam_k[idx], dob_k[idx], strict=True)
        ]
    has_code = _apply(bool, code_u).astype(bool)[code_k]
    return np.array(values, dtype=object), index, valid, ndn, has_code, norm_s


def _no_identity_rule(has_code: bool) -> str:
    return ("invalid codice fiscale" if has_code else "no codice fiscale") + (
        " and no surname, name and date of birth to link by"
    )


def _identities(
    r: pd.DataFrame, key: bytes, memo: dict[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of one file: the pseudonym (or None), how it was built, valid codice fiscale.

    ``how`` is ``"cf"``, ``"name_dob"`` or the reason no identity could be built;
    ``r["data_nascita"]`` holds parsed dates.  :func:`_identities_coded` on ``r``'s columns.
    """
    n = len(r)

    def coded(name: str) -> tuple[np.ndarray, np.ndarray]:
        return _distinct(_col(r, name)) if n else (np.empty(0, dtype=object), np.zeros(0, int))

    values, index, valid, ndn, has_code, _ = _identities_coded(
        coded("codice_fiscale"),
        coded("cognome"),
        coded("nome"),
        coded("data_nascita"),
        key,
        {} if memo is None else memo,
    )
    pid = np.where(index >= 0, values[np.maximum(index, 0)] if len(values) else None, None)
    how = np.array(
        [
            "cf" if v else "name_dob" if d else _no_identity_rule(bool(c))
            for v, d, c in zip(valid, ndn, has_code, strict=True)
        ],
        dtype=object,
    )
    return pid, how, valid


@dataclass
class _Rows:
    """Pupil-years column by column: numbers as arrays, text as codes into ``values[name]``.

    Pupils are coded in the order of their pseudonyms, so that sorting by code sorts by
    ``pupil_id``; the text of the panel is written once, at the end (issue 13: millions of
    rows of Python strings were most of the time and memory of the last steps).
    """

    cols: dict[str, np.ndarray]
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.cols["year"])

    def take(self, rows: np.ndarray, columns: tuple[str, ...] | None = None) -> _Rows:
        """The rows ``rows`` (positions or a mask) of every column or of ``columns``."""
        keep = self.cols if columns is None else columns
        return _Rows({k: self.cols[k][rows] for k in keep}, self.values)

    def text(self, name: str, rows: Any = slice(None)) -> np.ndarray:
        """The text of a coded column (an object array)."""
        return self.values[name][self.cols[name][rows]]

    def text_column(self, name: str) -> pd.Series:
        """A coded column as pandas text (``str``), built by pyarrow from the codes."""
        values = pa.array(self.values[name], type=pa.string())
        return pd.Series(values.take(pa.array(self.cols[name])), dtype="str")


def _pupil_rows(
    parts: list[tuple[SourceFile, _Records]], cfg: IntakeConfig, key: bytes, log: _Log
) -> tuple[_Rows, list[list[dict[str, Any]]]]:
    """The pupil-years of the school files ``parts`` (in order), and each file's rejections.

    Whole-column operations over all files at once (issue 13: a regional register is a
    thousand files or more; per-file pandas work dominated small files).  Every rule is a
    function of one cell, derived once per distinct value (:func:`_coded`) and spread to the
    rows; what belongs to a file (school, year, order, value map, file name) is spread from
    per-file arrays.  Recodings are counted per file; rejections come back per file, sorted
    by row and rule, as the per-file rules wrote them.
    """
    sizes = np.array([len(rec) for _, rec in parts], dtype=np.int64)
    n = int(sizes.sum())
    later: list[list[dict[str, Any]]] = [[] for _ in parts]
    if n == 0:
        empty = {c: np.zeros(0, dtype=np.int64) for c in _PUPIL_COLUMNS}
        return _Rows(empty, {c: np.empty(0, dtype=object) for c in _TEXT_COLUMNS}), later
    part = np.repeat(np.arange(len(parts)), sizes)
    lines = np.concatenate([rec.lines for _, rec in parts]).astype(np.int64)
    files = [log.file(src.path) for src, _ in parts]

    def coded(name: str) -> tuple[np.ndarray, np.ndarray]:
        return _coded([rec.columns.get(name) for _, rec in parts], sizes, _DEFAULTS.get(name))

    dob_u, dob_k = coded("data_nascita")
    dates_u = _apply(lambda v: None if _empty(v) else _date(v), dob_u)
    code_u, code_k = coded("codice_fiscale")
    pid_v, pid_i, valid, ndn, has_code, norm_s = _identities_coded(
        (code_u, code_k), coded("cognome"), coded("nome"), (dates_u, dob_k), key, log.pseudonyms
    )

    def mask_of(c: Any) -> str:
        if not c:
            return ""
        memo_key = (type(c), c)  # as _distinct: 1 and 1.0 are written differently
        out = log.masks.get(memo_key)
        if out is None:
            out = log.masks[memo_key] = cf.mask(c)
        return out

    masked_u = cf.mask_array(pd.Series(code_u, dtype=object))  # cell by cell if unusual
    if masked_u is None:
        masked_u = _apply(mask_of, code_u)
    # rejections: (rows, order of the rule within a row, column, rule or rule per row)
    found: list[tuple[np.ndarray, int, str, Any]] = []
    no_id = pid_i < 0
    rows = np.flatnonzero(no_id)
    found.append((rows, 0, "codice_fiscale", [_no_identity_rule(h) for h in has_code[rows]]))
    ok = ~no_id
    linked = np.bincount(part[ndn & ok], minlength=len(parts))
    for p in np.flatnonzero(linked):
        log.recodings[
            (
                files[p],
                "codice_fiscale",
                "invalid or missing",
                "linked by surname, name and date of birth",
            )
        ] += int(linked[p])
    # Esito: the school's value map, then the config's recoding; once per distinct pair of
    # (value map, value)
    es_u, es_k = coded("esito")
    map_ids: dict[str, int] = {}
    maps: list[Mapping[str, Any]] = []
    map_of_part = np.empty(len(parts), dtype=np.int64)
    for p, (src, _) in enumerate(parts):
        vm = src.value_maps.get("esito", {})
        ident = repr(sorted(vm.items()))
        if ident not in map_ids:
            map_ids[ident] = len(maps)
            maps.append(vm)
        map_of_part[p] = map_ids[ident]
    if len(maps) == 1:
        pair, comb_k = np.arange(len(es_u)), es_k
    else:
        comb_k, pair = pd.factorize(map_of_part[part] * len(es_u) + es_k)

    def esito_of(v: Any, value_map: Mapping[str, Any]) -> tuple[str, Any, Any]:
        raw = _plain(v) if not _empty(v) else ""
        mapped = value_map.get(raw)
        raw_after = mapped if mapped is not None else raw
        return raw, mapped, cfg.esito.get(_plain(raw_after))

    triples = [esito_of(es_u[c % len(es_u)], maps[c // len(es_u)]) for c in pair]
    raw_u = np.array([t[0] for t in triples], dtype=object)
    mapped_u = np.array([t[1] for t in triples], dtype=object)
    esito_u = np.array([t[2] for t in triples], dtype=object)
    has_map_u = np.array([m is not None for m in mapped_u], dtype=bool)
    sel = has_map_u[comb_k] & ok
    for (p, c), k in _pair_counts(part[sel], comb_k[sel]).items():
        log.recodings[(files[p], "esito", raw_u[c], f"{mapped_u[c]} (school value map)")] += k
    e_after_u = np.where(has_map_u, mapped_u, raw_u)
    known_u = np.array([e is not None for e in esito_u], dtype=bool)
    known = known_u[comb_k]
    for (p, c), k in _pair_counts(part[known & ok], comb_k[known & ok]).items():
        log.recodings[(files[p], "esito", e_after_u[c], str(esito_u[c]))] += k
    rows = np.flatnonzero(~known & ok)
    found.append(
        (
            rows,
            1,
            "esito",
            [
                f"unmapped Esito code {e_after_u[c]!r}: add it to esito: in the config"
                for c in comb_k[rows]
            ],
        )
    )
    cl_u, cl_k = coded("classe")
    classe_u = _apply(lambda v: _number(re.sub(r"[^0-9]", "", str(v)) or None), cl_u)
    bad_classe = np.array([c is None or not 1 <= c <= 5 for c in classe_u], dtype=bool)[cl_k]
    sx_u, sx_k = coded("sesso")
    sex_u = _apply(lambda v: str(v).strip().upper()[:1], sx_u)
    bad_sex = ~np.isin(sex_u.astype(str), ["M", "F"])[sx_k]
    birth_u = np.array([d.year if d else None for d in dates_u], dtype=object)
    birth_year = birth_u[dob_k]
    no_dob = np.array([b is None for b in birth_u], dtype=bool)[dob_k]
    transferred_u = np.array([bool(e and e.get("transferred")) for e in esito_u], dtype=bool)
    dropped_u = np.array([int(bool(e and e.get("dropped_out"))) for e in esito_u], dtype=np.int64)
    transferred, dropped = transferred_u[comb_k], dropped_u[comb_k]

    def floats(name: str) -> np.ndarray:
        # missing or unreadable numbers are NaN, which fails every comparison below
        u, k = coded(name)
        return _floats_distinct(u)[k]

    h, t, a = floats("ore_assenza"), floats("monte_ore"), floats("media_voti")
    active = ~transferred & (dropped == 0)
    bad_hours = active & ~((t > 0) & (h >= 0) & (h <= t))
    bad_avg = active & ~((a >= 1) & (a <= 10))
    for mask, order, column, rule in (
        (bad_classe, 2, "classe", "class year must be 1–5"),
        (bad_sex, 3, "sesso", "Sesso must be M or F"),
        (no_dob, 4, "data_nascita", "date of birth missing or not GG/MM/AAAA"),
        (
            bad_hours,
            5,
            "ore_assenza",
            "absence hours and annual hours must be numbers with 0 ≤ hours ≤ annual hours",
        ),
        (bad_avg, 6, "media_voti", "Media voti must be a number from 1 to 10"),
    ):
        found.append((np.flatnonzero(mask & ok), order, column, rule))
    rejected = np.zeros(n, dtype=bool)
    all_rows = np.concatenate([f[0] for f in found])
    all_orders = np.concatenate([np.full(len(f[0]), f[1]) for f in found])
    all_rules = [r for f in found for r in (f[3] if isinstance(f[3], list) else [f[3]] * len(f[0]))]
    all_columns = [f[2] for f in found for _ in f[0]]
    for i in np.lexsort((all_orders, all_rows)):
        row = int(all_rows[i])
        src = parts[part[row]][0]
        later[part[row]].append(
            log.rejection(
                src,
                parts[part[row]][1].sheet,
                int(lines[row]),
                all_columns[i],
                all_rules[i],
                code_u[code_k[row]],
            )
        )
    rejected[all_rows] = True
    keep = ~rejected
    # foreign_born: from a valid codice fiscale, else from Cittadinanza
    ci_u, ci_k = coded("cittadinanza")
    citizen = _apply(lambda v: int(_plain(v) not in ("italiana", "italiano", "italia", "")), ci_u)[
        ci_k
    ]
    abroad_u = (norm_s.str.slice(11, 12) == "Z").fillna(False).to_numpy(dtype=bool)
    abroad = abroad_u[code_k]
    foreign = np.where(valid, abroad.astype(int), citizen.astype(int))
    with np.errstate(divide="ignore", invalid="ignore"):
        absence = np.where(~np.isnan(h) & ~np.isnan(t) & (t != 0), h / t, np.nan)
    grade_avg = np.where(dropped == 1, np.nan, a)
    repeated = np.array(
        [
            np.nan if d else float(e.get("repeated_grade", 0)) if e is not None else np.nan
            for d, e in zip(dropped_u, esito_u, strict=True)
        ],
        dtype=float,
    )[comb_k]
    first_grade = np.array([8 if src.order == "upper" else 5 for src, _ in parts])
    grade = np.array([int(c) if c is not None else 0 for c in classe_u])[cl_k] + first_grade[part]
    kept = np.flatnonzero(keep)
    # pupils coded in the order of their pseudonyms (sorting by code sorts by pupil_id)
    fac, names = pd.factorize(pid_v)  # the None of invalid codes is -1, never kept
    by_name = pc.array_sort_indices(pa.array(names, type=pa.string())).to_numpy()
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_name] = np.arange(len(names))
    school_k, school_v = pd.factorize(np.array([src.school_id for src, _ in parts], dtype=object))
    file_k, file_v = pd.factorize(np.array(files, dtype=object))
    return _Rows(
        {
            "pupil_id": rank[fac[pid_i[kept]]],
            "school_id": school_k[part[kept]],
            "year": np.array([int(src.year) for src, _ in parts], dtype=np.int64)[part[kept]],
            "grade_level": grade[kept].astype(np.int64),
            "sex": sx_k[kept],
            "birth_year": birth_year[kept].astype(np.int64),
            "foreign_born": foreign[kept].astype(np.int64),
            "absence_rate": absence[kept],
            "grade_avg": grade_avg[kept],
            "repeated_grade": repeated[kept],
            "dropped_out": dropped[kept],
            "_transferred": transferred[kept],
            "_file": file_k[part[kept]],
            "_line": lines[kept],
            "_masked": code_k[kept],
        },
        {
            "pupil_id": np.asarray(names, dtype=object)[by_name],
            "school_id": np.asarray(school_v, dtype=object),
            "sex": sex_u,
            "_file": np.asarray(file_v, dtype=object),
            "_masked": masked_u,
        },
    ), later


def _pair_counts(a: np.ndarray, b: np.ndarray) -> dict[tuple[int, int], int]:
    """How many rows have each pair ``(a[i], b[i])`` (non-negative integers)."""
    if len(a) == 0:
        return {}
    width = int(b.max()) + 1
    counts = np.bincount(a.astype(np.int64) * width + b)
    return {(int(p // width), int(p % width)): int(counts[p]) for p in np.flatnonzero(counts)}


def _attendance(src: SourceFile, key: bytes, log: _Log) -> list[dict[str, Any]]:
    """The participations of one attendance register (rules of :func:`_identity` per row).

    Every rule is a function of one cell, derived once per distinct value and looked up per
    row; the pseudonyms come from the run's memo (a participant is usually a pupil already
    keyed from the school files).
    """
    out: list[dict[str, Any]] = []
    file = log.file(src.path)
    rec = _read_records(src, ATTENDANCE_FIELDS, log)
    n = len(rec)
    if n == 0:
        return out

    def coded(name: str, fn: Any) -> np.ndarray:
        """``fn`` of every row's cell (None where the file has no such column)."""
        u, k = _coded([rec.columns.get(name)], np.array([n]), None)
        return _apply(fn, u)[k]

    def by_code(c: Any) -> str | None:
        if c is not None and str(c).strip() and cf.is_valid(c):
            return "CF:" + cf.normalise(c)
        return None

    code_u, code_k = _coded([rec.columns.get("codice_fiscale")], np.array([n]), None)
    # a code the whole-column check finds valid is valid cell by cell and normalised alike
    # (pyarrow removes a subset of the spaces Python removes, and no letter that matters);
    # the scalar rule decides the others
    fast = cf.is_valid_array(pd.Series(code_u, dtype=object))
    norm = cf.normalise_array(pd.Series(code_u, dtype=object)).to_numpy(dtype=object)
    by_cf_u = np.array(
        [("CF:" + norm[u]) if fast[u] else by_code(code_u[u]) for u in range(len(code_u))],
        dtype=object,
    )
    raw_code, by_cf = code_u[code_k], by_cf_u[code_k]
    surname, name = coded("cognome", lambda v: v), coded("nome", lambda v: v)
    dob = coded("data_nascita", lambda v: _date(v) if not _empty(v) else None)
    start = coded("data_inizio", _date)
    hours = coded("ore_frequentate", _number)
    course = coded("corso", lambda v: str(v or src.course).strip())
    edition = coded("edizione", lambda v: str(v or src.edition).strip())
    masks: dict[Any, str] = {}
    for i in range(n):
        code, line = raw_code[i], int(rec.lines[i])
        ident = by_cf[i]
        if ident is None:
            s, nm, d = surname[i], name[i], dob[i]
            if s and nm and isinstance(d, dt.date):
                ident = f"NDN:{_plain(s)}|{_plain(nm)}|{d.isoformat()}"
            else:
                rule = ("invalid codice fiscale" if code else "no codice fiscale") + (
                    " and no surname, name and date of birth to link by"
                )
                log.reject(src, rec.sheet, line, "codice_fiscale", rule, {"codice_fiscale": code})
                continue
        h = hours[i]
        if start[i] is None or h is None or h < 0 or not course[i]:
            log.reject(
                src,
                rec.sheet,
                line,
                "data_inizio/ore_frequentate/corso",
                "needs the edition's start date (GG/MM/AAAA), hours attended ≥ 0 and the course",
                {"codice_fiscale": code},
            )
            continue
        pid = log.pseudonyms.get(ident)
        if pid is None:
            pid = log.pseudonyms[ident] = pseudonym(key, ident)
        if code and (type(code), code) not in masks:
            masks[(type(code), code)] = cf.mask(code)
        out.append(
            {
                "pupil_id": pid,
                "course": course[i],
                "edition": edition[i] or course[i],
                "cohort": _school_year(start[i]),
                "hours": h,
                "_file": file,
                "_line": line,
                "_masked": masks[(type(code), code)] if code else "",
            }
        )
    return out


_LEFT = {"abbandono", "ritirato", "ritirata"}


def _registry(src: SourceFile, key: bytes, log: _Log) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for r in _records(src, REGISTRY_FIELDS, log):
        ident, how = _identity(r)
        year = _number(str(r.get("anno", ""))[:4])
        stato = _plain(r.get("stato", ""))
        if ident is None or year is None or not stato:
            log.reject(
                src,
                r["_sheet"],
                r["_line"],
                "codice_fiscale/anno/stato",
                how if ident is None else "needs the school year and the status",
                r,
            )
            continue
        out[(pseudonym(key, ident), int(year))] = stato
    return out


def _starts(codes: np.ndarray) -> np.ndarray:
    """Where a run of equal values starts in a sorted array."""
    out = np.ones(len(codes), dtype=bool)
    out[1:] = codes[1:] != codes[:-1]
    return out


def _duplicated(*keys: np.ndarray) -> np.ndarray:
    """Rows whose combination of integer ``keys`` occurs more than once (all of them)."""
    return pd.Series(_combined(*keys)).duplicated(keep=False).to_numpy()


def _combined(*keys: np.ndarray) -> np.ndarray:
    """One int64 per row that orders and identifies rows as the tuple of integer ``keys``."""
    out = np.zeros(len(keys[0]), dtype=np.int64)
    span = 1
    for k in keys:
        if not len(k):
            return out
        lo, hi = int(k.min()), int(k.max())
        span *= hi - lo + 1
        if span >= 1 << 62:  # pragma: no cover - a million pupils use about 2**33
            raise OverflowError("too many distinct keys to combine")
        out = out * (hi - lo + 1) + (k - lo)
    return out


def run_intake(config: Path | None = None, *, key: bytes | None = None) -> IntakeResult:
    """Run the whole intake: read, map, pseudonymise, link, write the panel and the report.

    Raises
    ------
    DataValidationError
        For a missing key, a bad config or an unreadable file (identifiers never in the text).
    """
    cfg = load_config(config)
    key = key if key is not None else load_key()
    log = _Log()
    attendance: list[dict[str, Any]] = []
    status: dict[tuple[str, int], str] = {}
    # the school files (the config lists them first) are read one by one, then their rows
    # go through the rules together; each file's rejections are the reader's, then the rules'
    schools = [src for src in cfg.sources if src.kind == "school"]
    parts = list(zip(schools, _read_files(schools, SCHOOL_FIELDS, log), strict=True))
    rows, later = _pupil_rows(parts, cfg, key, log)
    for (_, rec), more in zip(parts, later, strict=True):
        log.rejections += rec.rejections + more
    del parts
    for src in cfg.sources:
        if src.kind == "attendance":
            attendance += _attendance(src, key, log)
        elif src.kind == "registry":
            status |= _registry(src, key, log)
    if len(rows) == 0:
        raise DataValidationError(
            cfg.source, "no usable pupil row in any school file (see the rejections)"
        )
    c = rows.cols
    # the national student registry: "abbandono"/"ritirato" marks the dropout year
    left = np.zeros(len(rows), dtype=bool)
    gone = [k for k, v in status.items() if v in _LEFT]
    if gone:
        who = pd.Index(rows.values["pupil_id"]).get_indexer([p for p, _ in gone])
        known_left = pd.MultiIndex.from_arrays(
            [who[who >= 0], np.array([y for _, y in gone], dtype=np.int64)[who >= 0]]
        )
        left = pd.MultiIndex.from_arrays([c["pupil_id"], c["year"]]).isin(known_left)
    newly = left & (c["dropped_out"] == 0)
    log.recodings[("registry", "stato", "abbandono/ritirato", "dropped_out = 1 that year")] += int(
        newly.sum()
    )
    c["dropped_out"][newly] = 1
    c["grade_avg"][newly] = np.nan
    c["repeated_grade"][newly] = np.nan
    # duplicates within a school and year: both rejected (the school must say which is right)
    dup = _duplicated(c["pupil_id"], c["year"], c["school_id"])
    for i in np.flatnonzero(dup):
        log.rejections.append(
            {
                "file": rows.values["_file"][c["_file"][i]],
                "sheet": "",
                "line": int(c["_line"][i]),
                "column": "codice_fiscale",
                "rule": "the same pupil twice in one school and year",
                "school_id": rows.values["school_id"][c["school_id"][i]],
                "identifier (masked)": rows.values["_masked"][c["_masked"][i]],
            }
        )
    # the rows still in: positions into ``rows`` (the columns are taken once, at the end)
    idx = np.flatnonzero(~dup)
    # a pupil in two schools the same year
    two = _duplicated(c["pupil_id"][idx], c["year"][idx])
    keep = np.zeros(len(rows), dtype=bool)
    keep[idx[~two]] = True
    at = idx[two]
    both = pd.DataFrame(
        {
            "pupil_id": rows.text("pupil_id", at),
            "year": c["year"][at],
            "school_id": rows.text("school_id", at),
            "_transferred": c["_transferred"][at],
            "_masked": rows.text("_masked", at),
        },
        index=at,
    )
    for (_pid, year), grp in both.groupby(["pupil_id", "year"]):
        stay = grp[~grp["_transferred"]]
        if cfg.two_schools_same_year == "keep_not_transferred" and len(stay) == 1:
            keep[stay.index] = True
            resolution = f"kept {stay['school_id'].iloc[0]} (transferred out of the other)"
        else:
            resolution = "rejected: enrolled in more than one school (the schools must reconcile)"
        log.conflicts.append(
            {
                "identifier (masked)": grp["_masked"].iloc[0],
                "year": int(year),
                "schools": ", ".join(sorted(grp["school_id"])),
                "resolution": resolution,
            }
        )
    idx = np.flatnonzero(keep)
    moved = c["_transferred"][idx].astype(bool)
    per_file = np.bincount(c["_file"][idx[moved]], minlength=len(rows.values["_file"]))
    for f in np.flatnonzero(per_file):
        log.recodings[
            (
                rows.values["_file"][f],
                "esito",
                "trasferito",
                "pupil-year left out (no end-of-year outcomes)",
            )
        ] += int(per_file[f])
    idx = idx[~moved]
    # baseline: the first school year of each pupil gives baseline_absence and is not a panel
    # row ((pupil, year) is unique here: sorted by pupil and year, the first row of a pupil)
    order = idx[np.argsort(_combined(c["pupil_id"][idx], c["year"][idx]))]
    pupil = c["pupil_id"][order]
    first = _starts(pupil)
    baseline = c["absence_rate"][order[first]][np.cumsum(first) - 1]
    log.recodings[
        (
            "(all schools)",
            "year",
            "first school year of each pupil",
            "baseline_absence, not a panel row",
        )
    ] += int(first.sum())
    # participation
    att = pd.DataFrame(
        attendance,
        columns=["pupil_id", "course", "edition", "cohort", "hours", "_file", "_line", "_masked"],
    )
    # membership in pyarrow: pandas' isin on ``str`` builds a Python scalar per known id
    known = pa.array(rows.values["pupil_id"][pupil[first]], type=pa.string())
    link_rows = []
    for edition, grp in att.groupby("edition", sort=True):
        ids = pa.array(grp["pupil_id"].to_numpy(dtype=object), type=pa.string())
        found = pd.Series(
            pc.is_in(ids, value_set=known).to_numpy(zero_copy_only=False).astype(bool),
            index=grp.index,
        )
        link_rows.append(
            {
                "edition": edition,
                "participants": int(grp["pupil_id"].nunique()),
                "found_in_school_files": int(grp.loc[found, "pupil_id"].nunique()),
                "linkage_rate": float(
                    grp.loc[found, "pupil_id"].nunique() / max(grp["pupil_id"].nunique(), 1)
                ),
            }
        )
        for r in grp[~found].to_dict("records"):
            log.unmatched.append(
                {
                    "file": r["_file"],
                    "line": r["_line"],
                    "edition": edition,
                    "identifier (masked)": r["_masked"],
                }
            )
    first_part = att.sort_values(["cohort", "edition"]).groupby("pupil_id").first()
    dose = att.groupby("pupil_id")["hours"].sum()
    rows = rows.take(order[~first], _PANEL_COLUMNS)
    baseline = baseline[~first]
    # participation of each panel pupil, looked up once per pupil and spread to the rows
    starts = _starts(rows.cols["pupil_id"])
    who, row_pupil = rows.cols["pupil_id"][starts], np.cumsum(starts) - 1  # sorted by pupil
    pupils = pd.Series(rows.values["pupil_id"][who], dtype="str")
    panel = pd.DataFrame(
        {
            "pupil_id": rows.text_column("pupil_id"),
            "school_id": rows.text_column("school_id"),
            "year": rows.cols["year"],
            "grade_level": rows.cols["grade_level"],
            "sex": rows.text_column("sex"),
            **{
                k: rows.cols[k]
                for k in (
                    "birth_year",
                    "foreign_born",
                    "absence_rate",
                    "grade_avg",
                    "repeated_grade",
                    "dropped_out",
                )
            },
            "baseline_absence": baseline,
        }
    )
    if panel.empty:  # typed as mapping an empty column types it (as the previous version did)
        panel["baseline_absence"] = panel["pupil_id"].map(pd.Series([], dtype=float))
    columns = (("cohort", first_part["cohort"], 0), ("course", first_part["course"], ""))
    if len(att) and len(panel) and dose.index.equals(first_part.index):
        # as Series.map does (positions in the mapping's index, missing ones filled with
        # NA), the positions looked up once for the three columns
        where = first_part.index.get_indexer(pupils)
        for column, mapping, fill in (*columns, ("dose", dose, 0.0)):
            values = pd.Series(pd.api.extensions.take(mapping.array, where, allow_fill=True))
            values = values.fillna(fill).astype(int) if column == "cohort" else values.fillna(fill)
            panel[column] = values.take(row_pupil).reset_index(drop=True)
    else:  # nobody took part, or no panel row: typed as Series.map types it
        for column, mapping, fill in (*columns, ("dose", dose, 0.0)):
            values = pupils.map(mapping).fillna(fill)
            values = values.astype(int) if column == "cohort" else values
            panel[column] = values.take(row_pupil).reset_index(drop=True)
    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    panel.to_parquet(cfg.output, index=False)
    result = IntakeResult(
        panel=panel,
        files=pd.DataFrame(log.files),
        rejections=pd.DataFrame(
            log.rejections,
            columns=["file", "sheet", "line", "column", "rule", "school_id", "identifier (masked)"],
        ),
        recodings=pd.DataFrame(
            [(*k, n) for k, n in sorted(log.recodings.items())],
            columns=["file", "column", "from", "to", "rows"],
        ),
        conflicts=pd.DataFrame(
            log.conflicts, columns=["identifier (masked)", "year", "schools", "resolution"]
        ),
        linkage=pd.DataFrame(
            link_rows, columns=["edition", "participants", "found_in_school_files", "linkage_rate"]
        ),
        unmatched=pd.DataFrame(
            log.unmatched, columns=["file", "line", "edition", "identifier (masked)"]
        ),
        output=cfg.output,
        report_dir=cfg.report_dir,
    )
    _write_report(result)
    return result


def _write_report(res: IntakeResult) -> None:
    """The private intake report (XLSX + a short Markdown summary) and per-school corrections."""
    d = res.report_dir
    d.mkdir(parents=True, exist_ok=True)
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def clean(frame: pd.DataFrame) -> pd.DataFrame:
        # control characters from a damaged file cannot be written to XLSX: show them as "?"
        return frame.map(lambda v: ILLEGAL_CHARACTERS_RE.sub("?", v) if isinstance(v, str) else v)

    res = IntakeResult(
        **{
            k: clean(v) if isinstance(v, pd.DataFrame) and k != "panel" else v
            for k, v in res.__dict__.items()
        }
    )
    with pd.ExcelWriter(d / "intake_report.xlsx", engine="openpyxl") as xw:
        for name, frame in (
            ("files", res.files),
            ("rejections", res.rejections),
            ("recodings", res.recodings),
            ("conflicts", res.conflicts),
            ("linkage", res.linkage),
            ("unmatched", res.unmatched),
        ):
            frame.to_excel(xw, sheet_name=name, index=False)
    for school, grp in res.rejections.groupby("school_id"):
        if school:
            grp.drop(columns=["school_id"]).to_excel(d / f"corrections_{school}.xlsx", index=False)
    lines = [
        "# Intake report (private: never published)",
        "",
        f"- Panel: {len(res.panel):,} pupil-years, {res.panel['pupil_id'].nunique():,} pupils, written to `{paths.relative(res.output)}`.",
        f"- Files read: {len(res.files)}; rows rejected: {len(res.rejections)}; conflicts across schools: {len(res.conflicts)}.",
        f"- Participants not found in any school file: {len(res.unmatched)}.",
        "",
        "Details, with identifiers masked, in `intake_report.xlsx`; one correction list per school.",
    ]
    (d / "intake_report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
