"""Programme facts, read from ``config/programme.yaml`` — the one source every page uses.

Reports, the methodology note and the simulator's calibration never type a programme fact
(participants, courses, editions, dates, territory sizes); they read :func:`programme_facts`.
The file is validated on the way in: each fact has the type it must have, and the facts that
determine each other agree (courses by type sum to the courses; pupils = courses × pupils per
course).  Each section's ``source`` names where its facts come from and the section of the
references document that summarises it, so a replicator can follow it: the day centre in
docs/references.md §0.1, the courses in docs/references.md §0.2, the territory sizes in
docs/references.md §0.5.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from analysis import paths
from analysis.errors import DataValidationError, Violation
from analysis.yamlfile import read_yaml

__all__ = ["CourseProgramme", "DayCentreProgramme", "ProgrammeFacts", "programme_facts"]


@dataclass(frozen=True)
class CourseProgramme:
    """Pro Officine Mezzogiorno: the STEAM courses for pupils and parents (2021–2024)."""

    name: str
    funder: str
    partners: tuple[str, ...]
    first_year: int
    last_year: int
    courses: int
    courses_by_type: MappingProxyType
    pupils_per_course: int
    pupils: int
    parents: int
    accelerator_cohorts: int
    startups_per_cohort: int
    source: str

    def reach(self) -> str:
        """One line on who the courses reach (for pages)."""
        return (
            f"{self.name} ({self.funder}, {self.first_year}–{self.last_year}) reaches about "
            f"{self.pupils} pupils and {self.parents} parents ({self.courses} courses)"
        )


@dataclass(frozen=True)
class DayCentreProgramme:
    """The Officine Mezzogiorno FIS experimentation at one day centre (from March 2023)."""

    name: str
    start: dt.date
    end: dt.date
    youths: int
    age_min: int
    age_max: int
    site: str
    organisations: int
    source: str

    def reach(self) -> str:
        """One line on who the experimentation reached (for pages)."""
        return (
            f"the {self.name} experimentation (from {self.start:%B %Y}) reached {self.youths} "
            f"young people aged {self.age_min}–{self.age_max} at one day centre in Lecce and "
            f"{self.organisations} local organisations"
        )


@dataclass(frozen=True)
class ProgrammeFacts:
    """Every programme fact the reports quote."""

    courses: CourseProgramme
    day_centre: DayCentreProgramme
    inhabitants: MappingProxyType  # territory name -> approximate inhabitants
    territory_source: str

    def reach_by_start(self) -> dict[int, str]:
        """Who the programme reaches, by the first year it can act (2021 courses, 2023 FIS)."""
        return {
            self.courses.first_year: self.courses.reach(),
            self.day_centre.start.year: self.day_centre.reach(),
        }

    def territory_size(self, unit: str) -> str | None:
        """``"a province of about 780,000 inhabitants"`` (``None`` for other units)."""
        entry = self.inhabitants.get(unit)
        if entry is None:
            return None
        kind, n = entry
        size = f"{n / 1e6:.1f} million" if n >= 1_000_000 else f"{n:,}"
        return f"a {kind} of about {size} inhabitants"


def _get(section: dict[str, Any], key: str, kind: type, where: str, problems: list) -> Any:
    value = section.get(key)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        problems.append(Violation(rule=f"must be a {kind.__name__}", column=f"{where}.{key}"))
    return value


def _date(value: Any, where: str, problems: list) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(Violation(rule="must be a date written YYYY-MM-DD", column=where))
        return None


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> ProgrammeFacts:
    source = paths.relative(Path(path))
    raw = read_yaml(Path(path))
    problems: list[Violation] = []
    if not isinstance(raw, dict):
        raise DataValidationError(source, "the file must be a mapping of sections")
    sections = {}
    for name in ("pro_officine_mezzogiorno", "fis_experimentation", "territory"):
        sec = raw.get(name)
        if not isinstance(sec, dict):
            problems.append(Violation(rule="missing section (a mapping)", column=name))
            sec = {}
        sections[name] = sec
    c, d, t = (
        sections["pro_officine_mezzogiorno"],
        sections["fis_experimentation"],
        sections["territory"],
    )
    w = "pro_officine_mezzogiorno"
    ints = {
        k: _get(c, k, int, w, problems)
        for k in (
            "first_year",
            "last_year",
            "courses",
            "pupils_per_course",
            "pupils",
            "parents",
            "accelerator_cohorts",
            "startups_per_cohort",
        )
    }
    by_type = _get(c, "courses_by_type", dict, w, problems) or {}
    if not problems:
        if sum(by_type.values()) != ints["courses"]:
            problems.append(
                Violation(rule="courses by type must sum to courses", column=f"{w}.courses_by_type")
            )
        if ints["courses"] * ints["pupils_per_course"] != ints["pupils"]:
            problems.append(
                Violation(
                    rule="pupils must equal courses × pupils_per_course", column=f"{w}.pupils"
                )
            )
    wd = "fis_experimentation"
    d_ints = {
        k: _get(d, k, int, wd, problems) for k in ("youths", "age_min", "age_max", "organisations")
    }
    start = _date(d.get("start"), f"{wd}.start", problems)
    end = _date(d.get("end"), f"{wd}.end", problems)
    inhabitants = {}
    for unit, entry in t.items():
        if unit == "source":
            continue
        if not isinstance(entry, dict):
            problems.append(Violation(rule="must be a mapping", column=f"territory.{unit}"))
            continue
        kind = _get(entry, "kind", str, f"territory.{unit}", problems)
        n = _get(entry, "inhabitants_approx", int, f"territory.{unit}", problems)
        inhabitants[unit] = (kind, n)
    strings = {(w, k): _get(c, k, str, w, problems) for k in ("name", "funder", "source")} | {
        (wd, k): _get(d, k, str, wd, problems) for k in ("name", "site", "source")
    }
    partners = _get(c, "partners", list, w, problems)
    if problems:
        raise DataValidationError(source, problems)
    return ProgrammeFacts(
        courses=CourseProgramme(
            name=strings[w, "name"],
            funder=strings[w, "funder"],
            partners=tuple(partners),
            courses_by_type=MappingProxyType(dict(by_type)),
            source=strings[w, "source"],
            **ints,
        ),
        day_centre=DayCentreProgramme(
            name=strings[wd, "name"],
            start=start,
            end=end,
            site=strings[wd, "site"],
            source=strings[wd, "source"],
            **d_ints,
        ),
        inhabitants=MappingProxyType(inhabitants),
        territory_source=str(t.get("source", "")),
    )


def programme_facts(path: Path | None = None) -> ProgrammeFacts:
    """Read and validate ``config/programme.yaml`` (or ``path``); cached per file version.

    Raises
    ------
    DataValidationError
        Naming the file, the fact (``section.key``) and the rule it breaks.
    """
    p = Path(path) if path is not None else paths.PROGRAMME_FILE
    if not p.is_file():
        read_yaml(p)  # raises the standard "file not found" error
    return _load(str(p), p.stat().st_mtime_ns)
