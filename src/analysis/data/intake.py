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

Reading: pandas (``read_excel`` with the calamine engine for .xlsx/.xls, ``read_csv`` after
sniffing the separator with :mod:`csv`); what is written by hand here is the mapping of school-
specific layouts onto the contract, which no library knows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
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

from analysis import paths
from analysis.data import codice_fiscale as cf
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
    s = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", s).split())


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
    return "P" + hmac.new(key, identity.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


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

    def reject(
        self, src: SourceFile, sheet: str, line: int, column: str, rule: str, row: Mapping[str, Any]
    ) -> None:
        code = row.get("codice_fiscale")
        self.rejections.append(
            {
                "file": paths.relative(src.path),
                "sheet": sheet,
                "line": line,
                "column": column,
                "rule": rule,
                "school_id": src.school_id,
                "identifier (masked)": cf.mask(code) if code else "",
            }
        )


def _read_rows(path: Path, sheet: str | None) -> tuple[list[list[Any]], str]:
    """All cells of the file as rows (strings, numbers, dates), and the sheet name used."""
    label = paths.relative(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataValidationError(label, "file not found")
    if suffix == ".csv":
        data = path.read_bytes()
        for enc in ("utf-8-sig", "cp1252"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - cp1252 decodes nearly every byte
            raise DataValidationError(label, "file is neither UTF-8 nor Windows-1252 text")
        sample = "\n".join(text.splitlines()[:20])
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=";,\t")
            sep = dialect.delimiter
        except csv.Error:
            sep = ";" if sample.count(";") > sample.count(",") else ","
        return [r for r in csv.reader(io.StringIO(text), delimiter=sep)], "(csv)"
    if suffix in (".xlsx", ".xls", ".xlsm", ".ods"):
        try:
            book = pd.read_excel(
                path,
                sheet_name=None,
                header=None,
                dtype=object,
                engine="calamine",
                keep_default_na=False,
                na_values=[""],
            )
        except Exception as exc:
            raise DataValidationError(
                label, f"not a readable spreadsheet ({type(exc).__name__}: {exc})"
            ) from exc
        name = sheet if sheet is not None else next(iter(book))
        if name not in book:
            raise DataValidationError(label, f"no sheet {name!r} (sheets: {list(book)})")
        frame = book[name]
        rows = [
            [None if (isinstance(v, float) and np.isnan(v)) else v for v in r]
            for r in frame.itertuples(index=False)
        ]
        return rows, str(name)
    raise DataValidationError(label, f"unsupported file type {suffix!r}: .csv, .xlsx, .xls or .ods")


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def _find_header(
    rows: list[list[Any]], fields: Mapping[str, tuple[str, ...]], extra: Mapping[str, str]
) -> tuple[int, dict[int, str], list[str]]:
    """The header row (most matched fields in the first 15 rows), column → field, unmapped."""
    lookup = {a: f for f, al in fields.items() for a in al} | dict(extra)
    best: tuple[int, dict[int, str], list[str]] = (-1, {}, [])
    for i, row in enumerate(rows[:15]):
        above = rows[i - 1] if i > 0 else []
        mapping: dict[int, str] = {}
        unmapped: list[str] = []
        group = ""
        for j, cell in enumerate(row):
            # merged group headers ("Assenze" over "Ore" and "Monte ore") fill to the right
            if j < len(above) and not _empty(above[j]):
                group = _plain(above[j])
            name = _plain(cell) if not _empty(cell) else ""
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


def _records(
    src: SourceFile, fields: Mapping[str, tuple[str, ...]], log: _Log
) -> list[dict[str, Any]]:
    """The data rows of one file as ``{field: value, "_line": n, "_sheet": s}``."""
    rows, sheet = _read_rows(src.path, src.sheet)
    h, mapping, unmapped = _find_header(rows, fields, src.aliases)
    label = paths.relative(src.path)
    needed = {"codice_fiscale", "cognome"} & set(fields)
    if h < 0 or not needed & set(mapping.values()):
        raise DataValidationError(
            label,
            [
                Violation(
                    rule="no header row naming the pupil (Codice fiscale, or Cognome and Nome) in the first 15 rows",
                    column=sheet,
                )
            ],
        )
    out, blank, totals, notes = [], 0, 0, 0
    ended = False
    width = len(rows[h])
    for i, row in enumerate(rows[h + 1 :], start=h + 2):
        if sheet == "(csv)" and len(row) != width and not all(_empty(v) for v in row):
            cells = {f: (row[j] if j < len(row) else None) for j, f in mapping.items()}
            log.reject(
                src,
                sheet,
                i,
                "(line)",
                f"line has {len(row)} fields, the header {width} (a broken or merged line)",
                cells,
            )
            continue
        cells = {f: (row[j] if j < len(row) else None) for j, f in mapping.items()}
        if all(_empty(v) for v in row):
            blank += 1
            ended = bool(out)
            continue
        if any(_TOTALS.match(str(v)) for v in row if not _empty(v)):
            totals += 1
            continue
        if ended and sum(not _empty(v) for v in row) <= 2:
            notes += 1  # text below the table, after a blank row
            continue
        if all(_empty(cells.get(f)) for f in IDENTIFYING if f in cells):
            if ended or not any(not _empty(cells.get(f)) for f in mapping.values()):
                notes += 1  # text below the table
            else:
                log.reject(
                    src, sheet, i, "codice_fiscale", "row without any pupil identifier", cells
                )
            continue
        cells["_line"], cells["_sheet"] = i, sheet
        out.append(cells)
    log.files.append(
        {
            "file": label,
            "sheet": sheet,
            "kind": src.kind,
            "school_id": src.school_id,
            "header_line": h + 1,
            "rows_read": len(out),
            "columns_mapped": ", ".join(sorted(set(mapping.values()))),
            "columns_unmapped": ", ".join(unmapped),
            "blank_rows": blank,
            "totals_rows": totals,
            "notes_rows": notes,
        }
    )
    return out


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


def _pupil_rows(src: SourceFile, cfg: IntakeConfig, key: bytes, log: _Log) -> list[dict[str, Any]]:
    out = []
    for r in _records(src, SCHOOL_FIELDS, log):
        line, sheet = r["_line"], r["_sheet"]
        r["data_nascita"] = (
            _date(r.get("data_nascita")) if not _empty(r.get("data_nascita")) else None
        )
        ident, how = _identity(r)
        if ident is None:
            log.reject(src, sheet, line, "codice_fiscale", how, r)
            continue
        if how == "name_dob":
            log.recodings[
                (
                    paths.relative(src.path),
                    "codice_fiscale",
                    "invalid or missing",
                    "linked by surname, name and date of birth",
                )
            ] += 1
        problems = []
        hours, total = _number(r.get("ore_assenza")), _number(r.get("monte_ore"))
        esito_raw = _plain(r.get("esito", "")) if not _empty(r.get("esito")) else ""
        mapped = src.value_maps.get("esito", {}).get(esito_raw)
        if mapped is not None:
            log.recodings[
                (paths.relative(src.path), "esito", esito_raw, f"{mapped} (school value map)")
            ] += 1
            esito_raw = mapped
        esito = cfg.esito.get(_plain(esito_raw))
        if esito is None:
            problems.append(
                ("esito", f"unmapped Esito code {esito_raw!r}: add it to esito: in the config")
            )
        else:
            log.recodings[(paths.relative(src.path), "esito", esito_raw, str(esito))] += 1
        classe = _number(re.sub(r"[^0-9]", "", str(r.get("classe", ""))) or None)
        if classe is None or not 1 <= classe <= 5:
            problems.append(("classe", "class year must be 1–5"))
        sex = str(r.get("sesso", "")).strip().upper()[:1]
        if sex not in ("M", "F"):
            problems.append(("sesso", "Sesso must be M or F"))
        dob = r.get("data_nascita")
        code = r.get("codice_fiscale")
        birth_year = dob.year if dob else (None if not (code and cf.is_valid(code)) else None)
        if birth_year is None:
            problems.append(("data_nascita", "date of birth missing or not GG/MM/AAAA"))
        transferred = bool(esito and esito.get("transferred"))
        dropped = int(bool(esito and esito.get("dropped_out")))
        if not transferred and not dropped:
            if hours is None or total is None or total <= 0 or not 0 <= hours <= total:
                problems.append(
                    (
                        "ore_assenza",
                        "absence hours and annual hours must be numbers with 0 ≤ hours ≤ annual hours",
                    )
                )
            avg = _number(r.get("media_voti"))
            if avg is None or not 1 <= avg <= 10:
                problems.append(("media_voti", "Media voti must be a number from 1 to 10"))
        if problems:
            for col, rule in problems:
                log.reject(src, sheet, line, col, rule, r)
            continue
        grade = int(classe) + (8 if src.order == "upper" else 5)
        out.append(
            {
                "pupil_id": pseudonym(key, ident),
                "school_id": src.school_id,
                "year": int(src.year),
                "grade_level": grade,
                "sex": sex,
                "birth_year": int(birth_year),
                "foreign_born": int(cf.born_abroad(code))
                if code and cf.is_valid(code)
                else int(
                    _plain(r.get("cittadinanza", "italiana"))
                    not in ("italiana", "italiano", "italia", "")
                ),
                "absence_rate": (hours / total) if hours is not None and total else np.nan,
                "grade_avg": _number(r.get("media_voti")) if not dropped else np.nan,
                "repeated_grade": float(esito.get("repeated_grade", 0)) if not dropped else np.nan,
                "dropped_out": dropped,
                "_transferred": transferred,
                "_file": paths.relative(src.path),
                "_line": line,
                "_masked": cf.mask(code) if code else "",
            }
        )
    return out


def _attendance(src: SourceFile, key: bytes, log: _Log) -> list[dict[str, Any]]:
    out = []
    for r in _records(src, ATTENDANCE_FIELDS, log):
        r["data_nascita"] = (
            _date(r.get("data_nascita")) if not _empty(r.get("data_nascita")) else None
        )
        ident, how = _identity(r)
        if ident is None:
            log.reject(src, r["_sheet"], r["_line"], "codice_fiscale", how, r)
            continue
        start = _date(r.get("data_inizio"))
        hours = _number(r.get("ore_frequentate"))
        course = str(r.get("corso") or src.course).strip()
        edition = str(r.get("edizione") or src.edition).strip()
        if start is None or hours is None or hours < 0 or not course:
            log.reject(
                src,
                r["_sheet"],
                r["_line"],
                "data_inizio/ore_frequentate/corso",
                "needs the edition's start date (GG/MM/AAAA), hours attended ≥ 0 and the course",
                r,
            )
            continue
        out.append(
            {
                "pupil_id": pseudonym(key, ident),
                "course": course,
                "edition": edition or course,
                "cohort": _school_year(start),
                "hours": hours,
                "_file": paths.relative(src.path),
                "_line": r["_line"],
                "_masked": cf.mask(r.get("codice_fiscale")) if r.get("codice_fiscale") else "",
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
    pupils: list[dict[str, Any]] = []
    attendance: list[dict[str, Any]] = []
    status: dict[tuple[str, int], str] = {}
    for src in cfg.sources:
        if src.kind == "school":
            pupils += _pupil_rows(src, cfg, key, log)
        elif src.kind == "attendance":
            attendance += _attendance(src, key, log)
        else:
            status |= _registry(src, key, log)
    frame = pd.DataFrame(pupils)
    if frame.empty:
        raise DataValidationError(
            cfg.source, "no usable pupil row in any school file (see the rejections)"
        )
    # the national student registry: "abbandono"/"ritirato" marks the dropout year
    left = frame.apply(lambda r: status.get((r["pupil_id"], int(r["year"]))) in _LEFT, axis=1)
    newly = left & (frame["dropped_out"] == 0)
    log.recodings[("registry", "stato", "abbandono/ritirato", "dropped_out = 1 that year")] += int(
        newly.sum()
    )
    frame.loc[newly, ["dropped_out", "grade_avg", "repeated_grade"]] = [1, np.nan, np.nan]
    # duplicates within a school and year: both rejected (the school must say which is right)
    dup = frame.duplicated(["pupil_id", "year", "school_id"], keep=False)
    for r in frame[dup].to_dict("records"):
        log.rejections.append(
            {
                "file": r["_file"],
                "sheet": "",
                "line": r["_line"],
                "column": "codice_fiscale",
                "rule": "the same pupil twice in one school and year",
                "school_id": r["school_id"],
                "identifier (masked)": r["_masked"],
            }
        )
    frame = frame[~dup]
    # a pupil in two schools the same year
    two = frame.duplicated(["pupil_id", "year"], keep=False)
    keep = ~two
    for (_pid, year), grp in frame[two].groupby(["pupil_id", "year"]):
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
    frame = frame[keep]
    moved = frame["_transferred"]
    for r in frame[moved].to_dict("records"):
        log.recodings[
            (r["_file"], "esito", "trasferito", "pupil-year left out (no end-of-year outcomes)")
        ] += 1
    frame = frame[~moved]
    # baseline: the first school year of each pupil gives baseline_absence and is not a panel row
    frame = frame.sort_values(["pupil_id", "year"], kind="stable")
    first = frame.groupby("pupil_id")["year"].transform("min")
    base = frame[frame["year"] == first].set_index("pupil_id")["absence_rate"]
    panel = frame[frame["year"] > first].copy()
    panel["baseline_absence"] = panel["pupil_id"].map(base)
    n_base = int((frame["year"] == first).sum())
    log.recodings[
        (
            "(all schools)",
            "year",
            "first school year of each pupil",
            "baseline_absence, not a panel row",
        )
    ] += n_base
    # participation
    att = pd.DataFrame(
        attendance,
        columns=["pupil_id", "course", "edition", "cohort", "hours", "_file", "_line", "_masked"],
    )
    known = set(frame["pupil_id"])
    link_rows = []
    for edition, grp in att.groupby("edition", sort=True):
        found = grp["pupil_id"].isin(known)
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
    panel["cohort"] = panel["pupil_id"].map(first_part["cohort"]).fillna(0).astype(int)
    panel["course"] = panel["pupil_id"].map(first_part["course"]).fillna("")
    panel["dose"] = panel["pupil_id"].map(dose).fillna(0.0)
    panel = panel.drop(columns=[c for c in panel.columns if c.startswith("_")])
    panel = panel.sort_values(["pupil_id", "year"], kind="stable").reset_index(drop=True)
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
