"""Italian territorial units: NUTS codes, names used by ISTAT, macro-areas.

This is reference metadata (the NUTS 2021 classification), not data: it maps the codes
Eurostat uses to the names ISTAT prints in the BES workbooks, so that the two sources can
be joined and plotted under one name.
"""

from __future__ import annotations

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
