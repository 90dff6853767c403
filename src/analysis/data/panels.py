"""The registry of tidy panels built from ``data/raw`` into ``data/processed`` (parquet).

Each panel declares the raw files it reads.  :func:`load` returns a panel, rebuilding it when
the parquet file is missing or was built from raw files with other hashes (a sidecar
``<name>.meta.json`` records them), so a notebook never reads a stale panel and never needs to
know in which order the plan runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from analysis import paths
from analysis.data import eurostat, istat_bes, other_sources, schools, splice
from analysis.data.integrity import sha256
from analysis.errors import DataValidationError, violations_from_pandera
from analysis.i18n import N_

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa

ELET = (
    "eurostat_edat_lfse_16/edat_lfse_16_italy_nuts2.tsv",
    "eurostat_edat_lfse_16/edat_lfse_16_eu27_total.tsv",
)
AROPE = ("eurostat_ilc_peps11/ilc_peps11_italy_nuts2.tsv",)
BES_T = (
    "istat_bes_territori/Indicatori_per_provincia_sesso_ed.2021.xlsx",
    "istat_bes_territori/Bes_dei_territori_indicatori_per_provincia_sesso_ed.2025.xlsx",
)
BES_R = ("istat_bes_regionale/Indicatori_per_regione_sesso_BES2021.xlsx",)
UNEMP = ("pspatreg_unemp_it/unemp_it.csv",)
INVALSI = ("schooldatait_invalsi_prov/example_Invalsi23_prov.csv",)
ONDATA = ("ondata_alunni_per_scuola_2018_2021/alunni-scuole.csv",)
MIM = (
    "mim_alunni_frequentanti_2021_2025/Alunni che frequentano Rel Catt_2021-22_2022-23.xlsx",
    "mim_alunni_frequentanti_2021_2025/Alunni che frequentano Rel Catt_2023-24.xlsx",
    "mim_alunni_frequentanti_2021_2025/Alunni che frequentano Rel Catt_2024-25.xlsx",
)
UAAR = ("mim_alunni_frequentanti_2021_2025/DATIPRECEDENTI202021.csv",)
GRADES = ("schooldatait_scuole_2022_23/example_input_nstud23.rda",)
REGISTRY = ("schooldatait_scuole_2022_23/example_input_Registry23.rda",)


@dataclass(frozen=True)
class PanelSpec:
    """A processed panel: its name, what it holds, the raw files it reads and how to build it.

    ``description`` is an English message id (marked with :func:`analysis.i18n.N_`; Italian in
    the ``indicators`` catalog), shown on the data-build page.
    """

    name: str
    description: str
    inputs: tuple[str, ...]
    build: Callable[[], pd.DataFrame]
    schema: Callable[[], pa.DataFrameSchema]
    keys: tuple[str, ...]


def _raw(files: tuple[str, ...]) -> list[Path]:
    return [paths.raw(f) for f in files]


#: The last splice computed, keyed by the ``bes_provinces`` file it was computed from: the
#: ``bes_spliced`` and ``bes_overlap`` panels are the two halves of one splice, built one after
#: the other.
_SPLICE: dict[tuple[str, int, int], tuple[pd.DataFrame, pd.DataFrame]] = {}


def _splice() -> tuple[pd.DataFrame, pd.DataFrame]:
    bes = load("bes_provinces")
    stat = paths.processed("bes_provinces").stat()
    key = (_meta_path("bes_provinces").read_text(encoding="utf-8"), stat.st_mtime_ns, stat.st_size)
    if key not in _SPLICE:
        _SPLICE.clear()
        _SPLICE[key] = splice.splice_editions(bes)
    spliced, overlap = _SPLICE[key]
    return spliced.copy(), overlap.copy()


def _spliced() -> pd.DataFrame:
    return _splice()[0]


def _overlap() -> pd.DataFrame:
    return _splice()[1]


def _school_sites() -> pd.DataFrame:
    out = schools.school_site_panel(
        schools.read_ondata_counts(_raw(ONDATA)[0]), schools.read_mim_counts(_raw(MIM))
    )
    return out.astype({"school_code": str, "province": str, "source": str})


def _schema(name: str) -> Callable[[], pa.DataFrameSchema]:
    """The schema ``name`` of :mod:`analysis.data.schemas`, imported when a panel is built.

    pandera takes a fifth of a second to import: a report that only reads current panels
    does not import it.
    """

    def schema() -> pa.DataFrameSchema:
        from analysis.data import schemas

        return getattr(schemas, name)

    return schema


def _overlap_schema() -> pa.DataFrameSchema:
    import pandera.pandas as pa

    return pa.DataFrameSchema({"series_code": pa.Column(str), "n_overlap": pa.Column(int)})


def _str_columns(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    return df.astype(dict.fromkeys(cols, str))


PANELS: dict[str, PanelSpec] = {
    p.name: p
    for p in [
        PanelSpec(
            "elet_regions",
            N_(
                "Early leavers from education and training 18–24 (%), Eurostat "
                "edat_lfse_16: Italian NUTS2 regions, macro-areas, Italy, EU27; 2000–2025; by sex"
            ),
            ELET,
            lambda: eurostat.read_elet(_raw(ELET)),
            _schema("REGIONAL_PERCENT"),
            ("geo", "sex", "year"),
        ),
        PanelSpec(
            "arope_regions",
            N_(
                "At risk of poverty or social exclusion (% of population), Eurostat "
                "ilc_peps11, Italian NUTS2 regions; 2004–2020"
            ),
            AROPE,
            lambda: eurostat.read_arope(_raw(AROPE)[0]),
            _schema("REGIONAL_PERCENT"),
            ("geo", "sex", "year"),
        ),
        PanelSpec(
            "bes_provinces",
            N_(
                "ISTAT Bes dei territori, editions 2021 (2004–2020) and 2025 "
                "(2004–2024), every indicator, provinces + regions + macro-areas + Italy, by sex"
            ),
            BES_T,
            lambda: istat_bes.read_bes_provinces(*_raw(BES_T)),
            _schema("BES_PROVINCES"),
            ("indicator_code", "edition", "province_code", "sex", "year"),
        ),
        PanelSpec(
            "bes_spliced",
            N_(
                "Bes dei territori: one series per indicator, ed. 2025 back-cast with "
                "ed. 2021 by the mean overlap difference (see analysis.data.splice)"
            ),
            BES_T,
            _spliced,
            _schema("BES_SPLICED"),
            ("series_code", "province_code", "sex", "year"),
        ),
        PanelSpec(
            "bes_overlap",
            N_(
                "Overlap report of the BES splice: differences ed.2025 − ed.2021 in "
                "the overlap years per series × territory × sex"
            ),
            BES_T,
            _overlap,
            _overlap_schema,
            ("series_code", "province_code", "sex"),
        ),
        PanelSpec(
            "bes_regions",
            N_(
                "ISTAT BES regional indicators (Rapporto BES 2021), regions + "
                "macro-areas + Italy, 2004–2021, by sex"
            ),
            BES_R,
            lambda: istat_bes.read_bes_regions(_raw(BES_R)[0]),
            _schema("BES_REGIONS"),
            ("indicator_code", "region_name", "sex", "year"),
        ),
        PanelSpec(
            "unemployment_provinces",
            N_(
                "Unemployment and participation rates (%), 103 provinces "
                "× 1996–2019 (R package pspatreg, from ISTAT); break at 2015"
            ),
            UNEMP,
            lambda: other_sources.read_unemployment(_raw(UNEMP)[0]),
            _schema("UNEMPLOYMENT"),
            ("prov", "year"),
        ),
        PanelSpec(
            "invalsi_provinces",
            N_(
                "INVALSI 2022/23 results by province, grade and subject, 15 "
                "southern provinces (R package SchoolDataIT)"
            ),
            INVALSI,
            lambda: other_sources.read_invalsi(_raw(INVALSI)[0]),
            _schema("INVALSI"),
            ("grade", "subject", "province_code"),
        ),
        PanelSpec(
            "school_sites",
            N_(
                "Pupils per school site (plesso), daytime courses, every Italian school, "
                "2018/19–2020/21 (MIM open data via ondata) spliced with 2021/22–2024/25 (MIM "
                "'alunni frequentanti totali', accesso civico via UAAR); counts of 3 or fewer "
                "suppressed by the MIM are kept as missing and flagged as suppressed"
            ),
            ONDATA + MIM,
            _school_sites,
            _schema("SCHOOL_SITES"),
            ("school_code", "year"),
        ),
        PanelSpec(
            "school_grades_2022",
            N_(
                "Pupils and classes per school site and grade, state schools of Molise, "
                "Campania, Puglia and Basilicata, 2022/23 (MIM ALUCORSOINDCLASTA via SchoolDataIT)"
            ),
            GRADES,
            lambda: _str_columns(
                schools.read_grade_profile(_raw(GRADES)[0]), ("school_code", "order")
            ),
            _schema("SCHOOL_GRADES"),
            ("school_code", "grade"),
        ),
        PanelSpec(
            "school_registry_2022",
            N_(
                "School registry 2022/23 (site → institute, province, municipality), state "
                "schools of Molise, Campania, Puglia and Basilicata (SchoolDataIT)"
            ),
            REGISTRY,
            lambda: _str_columns(
                schools.read_registry(_raw(REGISTRY)[0]),
                (
                    "school_code",
                    "institute_code",
                    "region",
                    "province",
                    "municipality",
                    "cadastral_code",
                ),
            ),
            _schema("SCHOOL_REGISTRY"),
            ("school_code",),
        ),
    ]
}


def input_hashes(name: str) -> dict[str, str]:
    """Return {raw file (relative path): sha256} for the inputs of a panel."""
    return {f"data/raw/{f}": sha256(paths.raw(f)) for f in PANELS[name].inputs}


def _meta_path(name: str) -> Path:
    return paths.PROCESSED_DIR / f"{name}.meta.json"


def _atomic_write_parquet(df: pd.DataFrame, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build(name: str) -> pd.DataFrame:
    """Build one panel from the raw files, validate it and write it to ``data/processed``."""
    if name not in PANELS:
        raise KeyError(f"unknown panel {name!r}; known: {sorted(PANELS)}")
    spec = PANELS[name]
    import pandera.errors

    df = spec.build()
    try:
        spec.schema().validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        # name the raw files too: the person who must fix something needs the file
        raise DataValidationError(
            f"processed panel {name!r} built from {', '.join(spec.inputs)}",
            violations_from_pandera(exc),
        ) from exc
    target = paths.processed(name)
    _atomic_write_parquet(df, target)
    # a panel built is what its file reads back (tests/test_data_loaders.py): a later load in
    # this process (the BES splice reads bes_provinces just built) is served without reading
    stat = target.stat()
    _LOADED[name] = ((str(target), stat.st_mtime_ns, stat.st_size), df.copy())
    meta = {
        "panel": name,
        "inputs": input_hashes(name),
        "code": reader_fingerprint(),
        "rows": len(df),
    }
    _meta_path(name).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    return df


def reader_fingerprint() -> str:
    """Hash of the code that builds the panels (``src/analysis/data/*.py``).

    A panel built by other reader code is stale even when the raw files are unchanged.
    """
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def is_current(name: str) -> bool:
    """Whether the processed parquet exists and was built from the current raw files and code."""
    target, meta = paths.processed(name), _meta_path(name)
    if not (target.exists() and meta.exists()):
        return False
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return False
    return (
        recorded.get("inputs") == input_hashes(name)
        and recorded.get("code") == reader_fingerprint()
    )


#: Panels already read by this process, with the identity of the file read (path, modification
#: time, size): a report reads the same panel several times (the indicator, its splice, its
#: editions), and a parquet read costs more than a copy.
_LOADED: dict[str, tuple[tuple[str, int, int], pd.DataFrame]] = {}


def load(name: str) -> pd.DataFrame:
    """Return a processed panel, (re)building it when missing or stale.

    Each call returns a new frame (a copy of the one read, which a caller may modify).
    """
    if name not in PANELS:
        raise KeyError(f"unknown panel {name!r}; known: {sorted(PANELS)}")
    if not is_current(name):
        return build(name)
    target = paths.processed(name)
    stat = target.stat()
    key = (str(target), stat.st_mtime_ns, stat.st_size)
    if name not in _LOADED or _LOADED[name][0] != key:
        _LOADED[name] = (key, pd.read_parquet(target))
    return _LOADED[name][1].copy()


#: Panels :func:`build_all` builds in a second thread while the others are built: their readers
#: spend much of their time in calamine's workbook parsing and in pyarrow, which release the
#: GIL, so on two cores the school panels are mostly built while the BES panels are.
SECOND_THREAD = ("school_sites", "school_grades_2022", "school_registry_2022")


def build_all(*, force: bool = False) -> dict[str, pd.DataFrame]:
    """Build every panel (only stale ones unless ``force``) and return them by name.

    The panels of :data:`SECOND_THREAD` are built in a second thread (each panel is built by
    one thread, from its own files, so the frames are those of a build one after the other).
    The first error in the order of :data:`PANELS` is raised.
    """

    def one(name: str) -> pd.DataFrame:
        return build(name) if force else load(name)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="panels")
    try:
        side = {name: pool.submit(one, name) for name in SECOND_THREAD}
        out = {}
        for name in PANELS:
            out[name] = side[name].result() if name in side else one(name)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out
