"""Italian territorial units: NUTS codes, names used by ISTAT, macro-areas, territorial history.

This is reference metadata, not data.  Its English descriptions and notes are message ids
(marked with :func:`analysis.i18n.N_`; Italian in the ``indicators`` catalog), shown on pages
with ``i18n.term(...)``:

* the NUTS 2021 classification: it maps the codes Eurostat uses to the names ISTAT prints in
  the BES workbooks, so that the two sources can be joined and plotted under one name;
* what a territorial comparison must know about the units: the named donor pools
  (:data:`DONOR_POOLS`), the aggregates listed next to their own parts (:data:`AGGREGATES`),
  provinces whose
  territory changed (:data:`BOUNDARY_CHANGES`) or that were abolished (:data:`ABOLISHED`),
  years without a value and why (:data:`KNOWN_GAPS`), and whom one point of an indicator
  counts (:data:`POPULATIONS`); :func:`containing`, :func:`in_area`,
  :func:`boundary_changes`, :func:`known_gap` and :func:`population` read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from analysis.i18n import N_

# NUTS 2021 codes for Italy -> (name as printed by ISTAT BES, level)
NUTS: dict[str, tuple[str, str]] = {
    "IT": ("Italia", "country"),
    "ITC": ("Nord-ovest", "macro_area"),
    "ITC1": ("Piemonte", "region"),
    "ITC2": ("Valle d'Aosta/Vallée d'Aoste", "region"),
    "ITC3": ("Liguria", "region"),
    "ITC4": ("Lombardia", "region"),
    "ITF": ("Sud", "macro_area"),
    "ITF1": ("Abruzzo", "region"),
    "ITF2": ("Molise", "region"),
    "ITF3": ("Campania", "region"),
    "ITF4": ("Puglia", "region"),
    "ITF5": ("Basilicata", "region"),
    "ITF6": ("Calabria", "region"),
    "ITG": ("Isole", "macro_area"),
    "ITG1": ("Sicilia", "region"),
    "ITG2": ("Sardegna", "region"),
    "ITH": ("Nord-est", "macro_area"),
    "ITH1": ("Provincia Autonoma di Bolzano/Bozen", "region"),
    "ITH2": ("Provincia Autonoma di Trento", "region"),
    "ITH3": ("Veneto", "region"),
    "ITH4": ("Friuli-Venezia Giulia", "region"),
    "ITH5": ("Emilia-Romagna", "region"),
    "ITI": ("Centro", "macro_area"),
    "ITI1": ("Toscana", "region"),
    "ITI2": ("Umbria", "region"),
    "ITI3": ("Marche", "region"),
    "ITI4": ("Lazio", "region"),
    "EU27_2020": ("EU27", "eu"),
}

MACRO_AREAS = ("Nord", "Nord-ovest", "Nord-est", "Centro", "Mezzogiorno", "Sud", "Isole")
COUNTRY = "Italia"

# Regions of the Mezzogiorno (ISTAT): Sud + Isole.
SUD = ("Abruzzo", "Molise", "Campania", "Puglia", "Basilicata", "Calabria")
ISOLE = ("Sicilia", "Sardegna")
MEZZOGIORNO = SUD + ISOLE

# Regions as printed in the BES workbooks (incl. Trentino-Alto Adige, which BES prints as a region
# next to its two autonomous provinces).
REGIONS = (
    "Piemonte",
    "Valle d'Aosta/Vallée d'Aoste",
    "Liguria",
    "Lombardia",
    "Trentino-Alto Adige/Südtirol",
    "Provincia Autonoma di Bolzano/Bozen",
    "Provincia Autonoma di Trento",
    "Veneto",
    "Friuli-Venezia Giulia",
    "Emilia-Romagna",
    "Toscana",
    "Umbria",
    "Marche",
    "Lazio",
    "Abruzzo",
    "Molise",
    "Campania",
    "Puglia",
    "Basilicata",
    "Calabria",
    "Sicilia",
    "Sardegna",
)


def nuts_name(code: str) -> str:
    """Return the ISTAT name of a NUTS code (raises ``KeyError`` for unknown codes)."""
    return NUTS[code][0]


def nuts_level(code: str) -> str:
    """Return the level (country, macro_area, region, eu) of a NUTS code."""
    return NUTS[code][1]


def is_mezzogiorno(region: str) -> bool:
    """Return whether a region (ISTAT name) belongs to the Mezzogiorno."""
    return region in MEZZOGIORNO


# --------------------------------------------------------------------------------------------
# Territorial knowledge used to choose comparison units (donors) for a treated territory
# --------------------------------------------------------------------------------------------

#: Territorial levels at which a unit can be treated (and its donors taken).
LEVELS = ("province", "region")


@dataclass(frozen=True)
class DonorPool:
    """A named donor pool: territorial level and area."""

    name: str
    level: str
    area: str  # "mezzogiorno" or "italy"
    description: str


DONOR_POOLS: Mapping[str, DonorPool] = MappingProxyType(
    {
        p.name: p
        for p in [
            DonorPool(
                "south_provinces",
                "province",
                "mezzogiorno",
                N_(
                    "provinces of the Mezzogiorno (Abruzzo, Molise, Campania, Puglia, "
                    "Basilicata, Calabria, Sicilia, Sardegna)"
                ),
            ),
            DonorPool("all_provinces", "province", "italy", N_("all Italian provinces")),
            DonorPool(
                "south_regions",
                "region",
                "mezzogiorno",
                N_(
                    "regions of the Mezzogiorno (Abruzzo, Molise, Campania, Puglia, Basilicata, "
                    "Calabria, Sicilia, Sardegna)"
                ),
            ),
            DonorPool(
                "all_regions",
                "region",
                "italy",
                N_(
                    "all Italian regions (NUTS 2), with the autonomous provinces of Bolzano and "
                    "Trento where the source lists them separately"
                ),
            ),
        ]
    }
)

#: Aggregates that the sources list next to their own parts: never both as donors.
AGGREGATES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Trentino-Alto Adige/Südtirol": (
            "Provincia Autonoma di Bolzano/Bozen",
            "Provincia Autonoma di Trento",
            "Bolzano/Bozen",
            "Trento",
        ),
    }
)


@dataclass(frozen=True)
class BoundaryChange:
    """Provinces whose territory is the current one only from ``first_year``."""

    units: tuple[str, ...]
    first_year: int
    note: str


BOUNDARY_CHANGES: tuple[BoundaryChange, ...] = (
    BoundaryChange(
        ("Barletta-Andria-Trani", "Bari", "Foggia"),
        2010,
        N_(
            "Barletta-Andria-Trani was carved out of Bari and Foggia (operational 2009-2010; "
            "first BES value 2010): earlier values of Bari and Foggia may refer to the old "
            "territories"
        ),
    ),
    BoundaryChange(
        ("Fermo", "Ascoli Piceno"),
        2010,
        N_("Fermo was carved out of Ascoli Piceno (operational 2009-2010; first BES value 2010)"),
    ),
    BoundaryChange(
        ("Monza e della Brianza", "Milano"),
        2010,
        N_(
            "Monza e della Brianza was carved out of Milano (operational 2009-2010; first "
            "BES value 2010)"
        ),
    ),
    BoundaryChange(
        ("Cagliari", "Sassari", "Nuoro", "Oristano", "Sud Sardegna"),
        2017,
        N_(
            "Sardinia's provinces were redrawn in 2016 (Sud Sardegna created, first BES "
            "value 2017): earlier values refer to other territories"
        ),
    ),
)

#: Provinces abolished during the period (their series stop): never donors.
ABOLISHED: Mapping[str, str] = MappingProxyType(
    {
        u: N_("province abolished in Sardinia's 2016 reform (series ends in 2017)")
        for u in ("Carbonia-Iglesias", "Medio Campidano", "Ogliastra", "Olbia-Tempio")
    }
)

#: Why a year has no value, where known: (indicator key prefix, year) -> reason.
KNOWN_GAPS: Mapping[tuple[str, int], str] = MappingProxyType(
    {("invalsi", 2020): N_("INVALSI tests were not held in 2020 (COVID-19 school closures)")}
)

#: Whom one percentage point of an indicator counts (indicator key prefix -> population).
POPULATIONS: Mapping[str, str] = MappingProxyType(
    {
        "neet": N_("residents aged 15-29"),
        "youth_nonparticipation": N_("labour force plus available inactive people aged 15-29"),
        "youth_employment": N_("residents aged 15-29"),
        "elet": N_("residents aged 18-24"),
        "invalsi": N_("grade-8 pupils (INVALSI tests every pupil of the grade)"),
        "diploma": N_("residents aged 25-64"),
        "tertiary": N_("residents aged 25-39"),
    }
)

_NORD_OVEST = ("Piemonte", "Valle d'Aosta/Vallée d'Aoste", "Liguria", "Lombardia")
_CENTRO = ("Toscana", "Umbria", "Marche", "Lazio")


def containing(region: str, level: str) -> set[str]:
    """Return the aggregates that contain a unit of ``region``.

    For a province (``level="province"``): its region (and the aggregate region listing it),
    its macro-areas, Italy and EU27.  For a region (pass the region itself): its macro-areas,
    Italy and EU27.
    """
    out = {COUNTRY, "EU27"}
    if level == "province" and region:
        out.add(region)
        for agg, parts in AGGREGATES.items():
            if region in parts:
                out.add(agg)
    if region in SUD:
        out |= {"Sud", "Mezzogiorno"}
    elif region in ISOLE:
        out |= {"Isole", "Mezzogiorno"}
    elif region in _CENTRO:
        out.add("Centro")
    elif region:
        out.add("Nord")
        out.add("Nord-ovest" if region in _NORD_OVEST else "Nord-est")
    return out


def in_area(area: str, where: str) -> bool:
    """Whether a region (or an aggregate of regions) ``where`` lies in a donor pool's ``area``.

    ``"italy"``: always; ``"mezzogiorno"``: the region is in the Mezzogiorno and, for an
    aggregate, so are all its parts.
    """
    if area != "mezzogiorno":
        return True
    parts_south = all(p in MEZZOGIORNO for p in AGGREGATES.get(where, ()))
    return where in MEZZOGIORNO and (where not in AGGREGATES or parts_south)


def boundary_changes(unit: str, first_year: int) -> list[BoundaryChange]:
    """Boundary changes of ``unit`` after ``first_year`` (its territory changed in the window)."""
    return [bc for bc in BOUNDARY_CHANGES if unit in bc.units and first_year < bc.first_year]


def known_gap(indicator: str, year: int) -> str | None:
    """Why ``indicator`` (a key of :data:`analysis.data.indicators.INDICATORS`) has no ``year``."""
    return next(
        (r for (prefix, y), r in KNOWN_GAPS.items() if indicator.startswith(prefix) and y == year),
        None,
    )


def population(indicator: str) -> str | None:
    """Whom one percentage point of ``indicator`` counts (``None`` when not recorded)."""
    return next((g for prefix, g in POPULATIONS.items() if indicator.startswith(prefix)), None)
