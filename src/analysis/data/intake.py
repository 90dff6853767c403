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
        code = row.get("codice_fiscale")
        self.rejections.append(
            {
                "file": self.file(src.path),
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
    arr = obj.to_numpy()
    results = np.empty(len(first), dtype=object)
    for k, i in enumerate(first):
        results[k] = fn(arr[i])
    return results, key


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


def _records_frame(
    src: SourceFile, fields: Mapping[str, tuple[str, ...]], log: _Log
) -> pd.DataFrame:
    """The data rows of one file: one column per mapped field, plus ``_line`` and ``_sheet``.

    Whole-column operations; the row rules are those of the original row-by-row reader:
    a CSV line with another number of fields than the header is rejected, blank rows are
    counted (the first blank row after data ends the table), totals rows are counted, short
    text below the table is counted as notes, a row without any pupil identifier is rejected.
    """
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
    width = len(rows[h])
    body = rows[h + 1 :]
    n = len(body)
    lengths = np.fromiter((len(r) for r in body), dtype=np.int64, count=n)
    ncol = max(int(lengths.max()) if n else 0, max(mapping, default=-1) + 1, 1)
    # dtype=object: cells keep their Python types (an int class stays 1, not 1.0); cells
    # past the end of a short row are None, as the row reader gave them
    frame = pd.DataFrame(body, dtype=object) if n else pd.DataFrame(dtype=object)
    frame = frame.reindex(columns=range(ncol)).astype(object)
    frame = frame.where(frame.notna(), None) if n else frame
    frame.index = np.arange(n)
    texts = _cell_texts(frame) if n else []
    empty = _empty_cells(frame, texts) if n else np.zeros((0, ncol), dtype=bool)
    blank = empty.all(axis=1)
    ragged = (lengths != width) & ~blank if sheet == "(csv)" else np.zeros(n, dtype=bool)
    totals = _totals_rows(frame, empty, texts) if n else np.zeros(0, dtype=bool)
    del texts
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
    lines = np.arange(h + 2, h + 2 + n)
    fields_frame = frame[cols].set_axis([mapping[j] for j in cols], axis=1)
    for i in np.flatnonzero((fate == 1) | (fate == 5)):
        cells = {f: fields_frame.iat[i, k] for k, f in enumerate(fields_frame.columns)}
        if fate[i] == 1:
            log.reject(
                src,
                sheet,
                int(lines[i]),
                "(line)",
                f"line has {int(lengths[i])} fields, the header {width} (a broken or merged line)",
                cells,
            )
        else:
            log.reject(
                src,
                sheet,
                int(lines[i]),
                "codice_fiscale",
                "row without any pupil identifier",
                cells,
            )
    keep = fate == 0
    out = fields_frame.loc[keep].reset_index(drop=True)
    out["_line"] = lines[keep]
    out["_sheet"] = sheet
    log.files.append(
        {
            "file": label,
            "sheet": sheet,
            "kind": src.kind,
            "school_id": src.school_id,
            "header_line": h + 1,
            "rows_read": int(keep.sum()),
            "columns_mapped": ", ".join(sorted(set(mapping.values()))),
            "columns_unmapped": ", ".join(unmapped),
            "blank_rows": int((fate == 2).sum()),
            "totals_rows": int((fate == 3).sum()),
            "notes_rows": int((fate == 4).sum()),
        }
    )
    return out


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


def _col(r: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    """A field's cells, or ``default`` everywhere when the file has no such column."""
    if name in r.columns:
        return r[name]
    return pd.Series([default] * len(r), index=r.index, dtype=object)


def _identities(
    r: pd.DataFrame, key: bytes, memo: dict[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the pseudonym (or None), how it was built (cf / name_dob / reason), valid cf.

    :func:`_identity` over whole columns: the codice fiscale is checked with
    :func:`codice_fiscale.is_valid_array`, the fallback identity is built from
    :func:`_plain` of each distinct surname and name, and the keyed HMAC is computed once per
    distinct identity (once per run with ``memo``, a dict the caller keeps across files).
    """
    n = len(r)
    code = _col(r, "codice_fiscale")
    valid = cf.is_valid_array(code) if n else np.zeros(0, dtype=bool)
    norm = cf.normalise_array(code).to_numpy(dtype=object) if n else np.empty(0, dtype=object)
    surname, name, dob = _col(r, "cognome"), _col(r, "nome"), _col(r, "data_nascita")
    truthy = _per_unique(surname, bool).astype(bool) & _per_unique(name, bool).astype(bool)
    is_date = np.array([isinstance(d, dt.date) for d in dob.to_numpy()], dtype=bool)
    ndn = truthy & is_date & ~valid
    ident = np.full(n, None, dtype=object)
    ident[valid] = "CF:" + norm[valid].astype(str).astype(object)
    if ndn.any():
        ps, pn = _per_unique(surname, _plain), _per_unique(name, _plain)
        iso = np.array([d.isoformat() if isinstance(d, dt.date) else "" for d in dob.to_numpy()])
        ident[ndn] = [
            f"NDN:{a}|{b}|{c}" for a, b, c in zip(ps[ndn], pn[ndn], iso[ndn], strict=True)
        ]
    how = np.where(valid, "cf", np.where(ndn, "name_dob", ""))
    missing = ~valid & ~ndn
    if missing.any():
        has_code = _per_unique(code, bool).astype(bool)
        how = how.astype(object)
        how[missing] = np.where(has_code[missing], "invalid codice fiscale", "no codice fiscale")
        how[missing] = how[missing] + " and no surname, name and date of birth to link by"
    pid = np.full(n, None, dtype=object)
    have = ident != None  # noqa: E711 - elementwise
    if have.any():
        memo = {} if memo is None else memo

        def pseudonym_of(x: str) -> str:
            out = memo.get(x)
            if out is None:
                out = memo[x] = pseudonym(key, x)
            return out

        pid[have] = _per_unique(pd.Series(ident[have], dtype=object), pseudonym_of)
    return pid, how, valid


def _pupil_rows(src: SourceFile, cfg: IntakeConfig, key: bytes, log: _Log) -> pd.DataFrame:
    """The pupil-years of one school file (whole-column operations; rules as documented)."""
    r = _records_frame(src, SCHOOL_FIELDS, log)
    file = log.file(src.path)
    n = len(r)
    if n == 0:
        return pd.DataFrame(columns=_PUPIL_COLUMNS)
    sheet = r["_sheet"].iloc[0]
    lines = r["_line"].to_numpy()
    raw_dob = _col(r, "data_nascita")
    dates_u, dkey = _per_unique_codes(raw_dob, lambda v: None if _empty(v) else _date(v))
    r["data_nascita"] = dates_u[dkey]
    pid, how, valid = _identities(r, key, log.pseudonyms)
    code = _col(r, "codice_fiscale")

    def mask_of(c: Any) -> str:
        if not c:
            return ""
        memo_key = (type(c), c)  # as _per_unique: 1 and 1.0 are written differently
        out = log.masks.get(memo_key)
        if out is None:
            out = log.masks[memo_key] = cf.mask(c)
        return out

    masked = cf.mask_array(code)  # whole column; cell by cell for unusual cells
    if masked is None:
        masked = _per_unique(code, mask_of)
    rejections: list[tuple[int, int, str, str]] = []  # (row, order, column, rule)
    no_id = pid == None  # noqa: E711 - elementwise
    for i in np.flatnonzero(no_id):
        rejections.append((i, 0, "codice_fiscale", str(how[i])))
    ok = ~no_id
    n_ndn = int(((how == "name_dob") & ok).sum())
    if n_ndn:
        log.recodings[
            (
                file,
                "codice_fiscale",
                "invalid or missing",
                "linked by surname, name and date of birth",
            )
        ] += n_ndn
    # Esito: the school's value map, then the config's recoding
    value_map = src.value_maps.get("esito", {})

    def esito_of(v: Any) -> tuple[str, Any, Any]:
        raw = _plain(v) if not _empty(v) else ""
        mapped = value_map.get(raw)
        raw_after = mapped if mapped is not None else raw
        return raw, mapped, cfg.esito.get(_plain(raw_after))

    esito_raw_col = r["esito"] if "esito" in r.columns else pd.Series("", index=r.index)
    # every rule of the Esito is a function of its distinct values: derived once per value
    # (``_u``), spread to the rows with ``[ekey]``, counted with ``bincount``
    triples, ekey = _per_unique_codes(esito_raw_col, esito_of)
    raw_u = np.array([t[0] for t in triples], dtype=object)
    mapped_u = np.array([t[1] for t in triples], dtype=object)
    esito_u = np.array([t[2] for t in triples], dtype=object)
    has_map_u = np.array([m is not None for m in mapped_u], dtype=bool)
    n_u = len(triples)
    counts = np.bincount(ekey[has_map_u[ekey] & ok], minlength=n_u)
    for u in np.flatnonzero(counts):
        log.recodings[(file, "esito", raw_u[u], f"{mapped_u[u]} (school value map)")] += int(
            counts[u]
        )
    e_after_u = np.where(has_map_u, mapped_u, raw_u)
    e_after = e_after_u[ekey]
    known_u = np.array([e is not None for e in esito_u], dtype=bool)
    known = known_u[ekey]
    counts = np.bincount(ekey[known & ok], minlength=n_u)
    for u in np.flatnonzero(counts):
        log.recodings[(file, "esito", e_after_u[u], str(esito_u[u]))] += int(counts[u])
    for i in np.flatnonzero(~known & ok):
        rejections.append(
            (i, 1, "esito", f"unmapped Esito code {e_after[i]!r}: add it to esito: in the config")
        )
    classe_u, ckey = _per_unique_codes(
        _col(r, "classe", ""), lambda v: _number(re.sub(r"[^0-9]", "", str(v)) or None)
    )
    bad_classe = np.array([c is None or not 1 <= c <= 5 for c in classe_u], dtype=bool)[ckey]
    sex = _per_unique(_col(r, "sesso", ""), lambda v: str(v).strip().upper()[:1])
    bad_sex = ~np.isin(sex.astype(str), ["M", "F"])
    birth_u = np.array([d.year if d else None for d in dates_u], dtype=object)
    birth_year = birth_u[dkey]
    no_dob = np.array([b is None for b in birth_u], dtype=bool)[dkey]
    transferred_u = np.array([bool(e and e.get("transferred")) for e in esito_u], dtype=bool)
    dropped_u = np.array([int(bool(e and e.get("dropped_out"))) for e in esito_u], dtype=np.int64)
    transferred, dropped = transferred_u[ekey], dropped_u[ekey]
    # missing or unreadable numbers are NaN, which fails every comparison below
    h, t, a = (_floats(_col(r, c)) for c in ("ore_assenza", "monte_ore", "media_voti"))
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
        for i in np.flatnonzero(mask & ok):
            rejections.append((i, order, column, rule))
    for i, _order, column, rule in sorted(rejections):
        log.reject(src, sheet, int(lines[i]), column, rule, {"codice_fiscale": code.iat[i]})
    rejected = np.zeros(n, dtype=bool)
    rejected[[i for i, *_ in rejections]] = True
    keep = ~rejected
    # foreign_born: from a valid codice fiscale, else from Cittadinanza
    citizen = _per_unique(
        _col(r, "cittadinanza", "italiana"),
        lambda v: int(_plain(v) not in ("italiana", "italiano", "italia", "")),
    )
    abroad = (cf.normalise_array(code).str.slice(11, 12) == "Z").fillna(False).to_numpy(dtype=bool)
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
    )[ekey]
    grade = np.array([int(c) if c is not None else 0 for c in classe_u])[ckey] + (
        8 if src.order == "upper" else 5
    )
    out = pd.DataFrame(
        {
            "pupil_id": pid,
            "school_id": src.school_id,
            "year": int(src.year),
            "grade_level": grade,
            "sex": sex,
            "birth_year": birth_year,
            "foreign_born": foreign,
            "absence_rate": absence,
            "grade_avg": grade_avg,
            "repeated_grade": repeated,
            "dropped_out": dropped,
            "_transferred": transferred,
            "_file": file,
            "_line": lines,
            "_masked": masked,
        }
    )[keep]
    out["birth_year"] = out["birth_year"].astype("int64")
    out["grade_level"] = out["grade_level"].astype("int64")
    out["foreign_born"] = out["foreign_born"].astype("int64")
    return out.reset_index(drop=True)


def _attendance(src: SourceFile, key: bytes, log: _Log) -> list[dict[str, Any]]:
    out = []
    file = log.file(src.path)
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
                "_file": file,
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
    pupils: list[pd.DataFrame] = []
    attendance: list[dict[str, Any]] = []
    status: dict[tuple[str, int], str] = {}
    for src in cfg.sources:
        if src.kind == "school":
            pupils.append(_pupil_rows(src, cfg, key, log))
        elif src.kind == "attendance":
            attendance += _attendance(src, key, log)
        else:
            status |= _registry(src, key, log)
    frame = (
        pd.concat([p for p in pupils if len(p)], ignore_index=True)
        if any(len(p) for p in pupils)
        else pd.DataFrame(columns=_PUPIL_COLUMNS)
    )
    if frame.empty:
        raise DataValidationError(
            cfg.source, "no usable pupil row in any school file (see the rejections)"
        )
    # the national student registry: "abbandono"/"ritirato" marks the dropout year
    if status:
        left_keys = pd.MultiIndex.from_tuples([k for k, v in status.items() if v in _LEFT])
        left = pd.Series(
            pd.MultiIndex.from_arrays([frame["pupil_id"], frame["year"].astype(int)]).isin(
                left_keys
            ),
            index=frame.index,
        )
    else:
        left = pd.Series(False, index=frame.index)
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
    moved = frame["_transferred"].astype(bool)
    for file, k in frame.loc[moved, "_file"].value_counts(sort=False).items():
        log.recodings[
            (file, "esito", "trasferito", "pupil-year left out (no end-of-year outcomes)")
        ] += int(k)
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
    # membership in pyarrow: pandas' isin on ``str`` builds a Python scalar per known id
    known = pa.array(pd.unique(frame["pupil_id"].to_numpy(dtype=object)), type=pa.string())
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
