"""The outcome indicators the reports use, and one accessor for all of them.

The accessor returns any indicator as a harmonised long series, whatever panel it comes from.

Keys are short English names (``elet``, ``neet`` …) so that the plan's parameters read well.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data import panels
from analysis.errors import DataValidationError, Violation
from analysis.i18n import N_


@dataclass(frozen=True)
class Indicator:
    """An outcome indicator: where it lives and how to label it.

    ``label``, ``unit``, ``source`` and ``definition`` are English message ids (marked with
    :func:`analysis.i18n.N_`): pages show them with ``i18n.term(...)``, translated in the
    ``indicators`` catalog.
    """

    key: str
    label: str
    unit: str
    source: str
    panel: str
    code: str | None = None  # series_code in the BES panels
    level: str = "province"  # finest territorial level available
    definition: str = ""
    census: bool = False  # True: every unit counted (no sampling error); False: a sample survey

    @property
    def name(self) -> str:
        """Short name for prose ("the NEET rate"); falls back to the label."""
        return SHORT_NAMES.get(self.key, self.label)


INDICATORS: dict[str, Indicator] = {
    i.key: i
    for i in [
        Indicator(
            "elet",
            N_("Early leavers from education and training (ELET), 18–24"),
            N_("% of population aged 18–24"),
            N_("Eurostat edat_lfse_16 (EU-LFS), CC BY 4.0"),
            "elet_regions",
            level="region",
            definition=N_(
                "18–24 year-olds with at most lower-secondary education and not in "
                "education or training in the last four weeks (LFS). Not the MIM "
                "'abbandono' rate, and not NEET."
            ),
        ),
        Indicator(
            "neet",
            N_("Young people not in employment, education or training (NEET), 15–29"),
            N_("% of population aged 15–29"),
            N_("ISTAT, Bes dei territori ed. 2021 and 2025, CC BY 4.0"),
            "bes_spliced",
            code="02IST006",
            definition=N_("15–29 year-olds neither employed nor in education or training (LFS)."),
        ),
        Indicator(
            "youth_nonparticipation",
            N_("Youth labour non-participation rate, 15–29"),
            N_("% of labour force plus available inactive, aged 15–29"),
            N_("ISTAT, Bes dei territori ed. 2021 and 2025, CC BY 4.0"),
            "bes_spliced",
            code="03LAV006P",
            definition=N_(
                "Unemployed plus inactive available to work, over the labour force plus "
                "those inactive available, aged 15–29 (LFS)."
            ),
        ),
        Indicator(
            "youth_employment",
            N_("Youth employment rate, 15–29"),
            N_("% of population aged 15–29"),
            N_("ISTAT, Bes dei territori ed. 2021 and 2025, CC BY 4.0"),
            "bes_spliced",
            code="03LAV003P",
        ),
        Indicator(
            "diploma_25_64",
            N_("Adults with at least an upper-secondary diploma, 25–64"),
            N_("% of population aged 25–64"),
            N_("ISTAT, Bes dei territori ed. 2021 and 2025, CC BY 4.0"),
            "bes_spliced",
            code="02IST002",
        ),
        Indicator(
            "tertiary_25_39",
            N_("Graduates and other tertiary qualifications, 25–39"),
            N_("% of population aged 25–39"),
            N_("ISTAT, Bes dei territori ed. 2021 and 2025, CC BY 4.0"),
            "bes_spliced",
            code="02IST003P",
        ),
        Indicator(
            "invalsi_literacy_g8",
            N_("Inadequate literacy, grade 8 (INVALSI census)"),
            N_("% of grade-8 students"),
            N_("ISTAT, Bes dei territori (INVALSI data), CC BY 4.0"),
            "bes_spliced",
            code="02IST011P",
            census=True,
        ),
        Indicator(
            "invalsi_numeracy_g8",
            N_("Inadequate numeracy, grade 8 (INVALSI census)"),
            N_("% of grade-8 students"),
            N_("ISTAT, Bes dei territori (INVALSI data), CC BY 4.0"),
            "bes_spliced",
            code="02IST010P",
            census=True,
        ),
        Indicator(
            "university_transition",
            N_("Transition to university (school leavers enrolling)"),
            N_("% of upper-secondary graduates"),
            N_("ISTAT, Bes dei territori, CC BY 4.0"),
            "bes_spliced",
            code="02IST004",
            census=True,
        ),
        Indicator(
            "arope",
            N_("At risk of poverty or social exclusion (Europe 2020 definition)"),
            N_("% of total population"),
            N_("Eurostat ilc_peps11 (EU-SILC), CC BY 4.0"),
            "arope_regions",
            level="region",
        ),
    ]
}

SHORT_NAMES = {
    "elet": N_("the early-leaving (ELET) rate"),
    "neet": N_("the NEET rate"),
    "youth_nonparticipation": N_("the youth non-participation rate"),
    "youth_employment": N_("the youth employment rate"),
    "diploma_25_64": N_("the share of adults with at least a diploma"),
    "tertiary_25_39": N_("the share of young adults with a tertiary degree"),
    "invalsi_literacy_g8": N_("the share of grade-8 pupils with inadequate literacy"),
    "invalsi_numeracy_g8": N_("the share of grade-8 pupils with inadequate numeracy"),
    "university_transition": N_("the transition rate to university"),
    "arope": N_("the AROPE rate"),
}

# Eurostat series breaks that apply to every region at once (see PROVENANCE.md).
LFS_BREAK_NOTES = {
    2004: N_("LFS redesign"),
    2006: N_("break"),
    2014: N_("ISCED 2011"),
    2018: N_("break flagged by Eurostat (cause not given in PROVENANCE.md)"),
    2021: N_("EU-LFS regulation 2019/1700"),
}


def get(key: str) -> Indicator:
    """Return an indicator by key, with a helpful error for a misspelt key."""
    if key not in INDICATORS:
        close = difflib.get_close_matches(key, INDICATORS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataValidationError(
            "indicator parameter",
            [Violation(rule=f"unknown indicator {key!r} (known: {sorted(INDICATORS)}){hint}")],
        )
    return INDICATORS[key]


def series(key: str, *, units: list[str] | None = None, sex: str = "T") -> pd.DataFrame:
    """Return an indicator as a long table for the requested territorial units.

    Parameters
    ----------
    key
        Indicator key (see :data:`INDICATORS`).
    units
        Territory names as ISTAT prints them (``"Lecce"``, ``"Puglia"``, ``"Mezzogiorno"``,
        ``"Italia"``; ``"EU27"`` for Eurostat).  ``None`` returns every unit.
    sex
        ``"T"`` (total), ``"F"`` or ``"M"``.

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``level``, ``region``, ``year``, ``value``, ``flag`` (Eurostat flags or ISTAT
        signs), ``source`` (edition or table), ``break`` (bool: a series break or edition splice
        starts this year), ``unreliable`` (bool: Eurostat flag ``u``).  Rows with missing values
        are kept.
    """
    ind = get(key)
    if sex not in ("T", "F", "M"):
        raise DataValidationError("sex parameter", f"sex must be 'T', 'F' or 'M' (got {sex!r})")
    df = panels.load(ind.panel)
    if ind.panel in ("elet_regions", "arope_regions"):
        out = pd.DataFrame(
            {
                "unit": df["region_name"],
                "level": df["level"],
                "region": df["region_name"],
                "sex": df["sex"],
                "year": df["year"],
                "value": df["value"],
                "flag": df["flags"],
                "source": ind.panel,
            }
        )
        out["break"] = out["flag"].str.contains("b")
        out["unreliable"] = out["flag"].str.contains("u")
    else:
        df = df[df["series_code"] == ind.code]
        out = pd.DataFrame(
            {
                "unit": df["province_name"],
                "level": df["level"],
                "region": df["region"],
                "sex": df["sex"],
                "year": df["year"],
                "value": df["value"],
                "flag": df["flag"],
                "source": df["source"],
            }
        )
        first_new = out[out["source"] == "ed.2025"].groupby("unit")["year"].min().to_dict()
        has_back = set(out[out["source"] == "ed.2021+shift"]["unit"].unique())
        out["break"] = np.array(
            [
                (u in has_back) and (y == first_new.get(u))
                for u, y in zip(out["unit"], out["year"], strict=True)
            ],
            dtype=bool,
        )
        out["unreliable"] = out["flag"].isin([".."])
    out = out[out["sex"] == sex].drop(columns="sex")
    if units is not None:
        available = set(out["unit"])
        missing = [u for u in units if u not in available]
        if missing:
            hints = {u: difflib.get_close_matches(u, available, n=1) for u in missing}
            raise DataValidationError(
                f"indicator {key!r} ({ind.panel})",
                [
                    Violation(
                        rule=f"unit not found for sex={sex}"
                        + (f"; did you mean {h[0]!r}?" if h else ""),
                        column="unit",
                        rows=[u],
                    )
                    for u, h in hints.items()
                ],
            )
        out = out[out["unit"].isin(units)]
    return out.sort_values(["unit", "year"]).reset_index(drop=True)
