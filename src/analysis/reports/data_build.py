"""Tables and words of the data-build report (notebook ``00_data_build``).

The notebook rebuilds every processed panel from ``data/raw`` and shows what the panels
contain: the raw files checked against their manifests, the data inventory, the size of the
BES edition splice and the flags kept next to each value.  The building and checking are done
by :mod:`analysis.data`; this module only calls them and tabulates the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.data import integrity, panels
from analysis.data.indicators import INDICATORS

__all__ = [
    "bes_signs",
    "bes_signs_caption",
    "build_panels",
    "eurostat_flags",
    "eurostat_flags_caption",
    "headline",
    "inventory",
    "inventory_caption",
    "raw_files_caption",
    "raw_files_table",
    "results",
    "splice_shift",
    "splice_summary",
    "splice_summary_caption",
    "verify_raw_files",
]

#: Eurostat code of Puglia (NUTS 2), the region of the programme's territory.
PUGLIA_NUTS2 = "ITF4"


# --- 1. Raw files -----------------------------------------------------------------------------


def verify_raw_files() -> dict[str, str]:
    """Check every raw file against its ``SHA256SUMS`` manifest; return path → SHA-256.

    Raises
    ------
    DataValidationError
        When a file differs from its manifest (the build stops).
    """
    return integrity.verify_raw()


def raw_files_table(hashes: Mapping[str, str]) -> pd.DataFrame:
    """One row per raw file: its path and SHA-256."""
    return pd.DataFrame({"file": list(hashes), "sha256": list(hashes.values())})


def raw_files_caption(hashes: Mapping[str, str]) -> str:
    """Caption of the raw-files table."""
    return f"{len(hashes)} raw files match their SHA256SUMS manifests."


# --- 2. Panels and inventory ------------------------------------------------------------------


def build_panels(*, force: bool) -> dict[str, pd.DataFrame]:
    """Build (or reuse when current) every processed panel; ``force`` rebuilds them all."""
    return panels.build_all(force=force)


def inventory(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Summarise processed panels: the data inventory.

    Returns
    -------
    pandas.DataFrame
        One row per panel: panel, description, rows, territorial units, first and last year,
        missing values and their share (%) in the panel's value column.
    """
    rows = []
    unit_cols = ("province_name", "region_name", "geo", "prov", "province_code")
    for name, df in frames.items():
        unit_col = next((c for c in unit_cols if c in df.columns), None)
        years = df["year"] if "year" in df.columns else pd.Series(dtype=int)
        value_col = next(
            (c for c in ("value", "unrate", "wle_mean", "n_overlap") if c in df.columns), None
        )
        rows.append(
            {
                "panel": name,
                "description": panels.PANELS[name].description,
                "rows": len(df),
                "units": int(df[unit_col].nunique()) if unit_col else np.nan,
                "first_year": int(years.min()) if len(years) else np.nan,
                "last_year": int(years.max()) if len(years) else np.nan,
                "missing_values": int(df[value_col].isna().sum()) if value_col else np.nan,
                "share_missing_%": float(100 * df[value_col].isna().mean())
                if value_col
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def inventory_caption() -> str:
    """Caption of the inventory table."""
    return (
        "Data inventory: rows, territorial units, years and missing values per processed "
        "panel. Sources: data/raw/*/PROVENANCE.md."
    )


# --- 3. The BES edition splice ----------------------------------------------------------------


def splice_summary(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Differences ed. 2025 − ed. 2021 over the overlap years, per outcome indicator.

    Returns
    -------
    pandas.DataFrame
        One row per BES series of an outcome indicator that was spliced: series code,
        indicator key, territories, overlap years, and the mean, smallest and largest
        difference (percentage points) over all territories and sexes.
    """
    overlap = frames["bes_overlap"]
    keys = {i.code: i.key for i in INDICATORS.values() if i.code}
    summary = (
        overlap[overlap["series_code"].isin(keys) & overlap["spliced"]]
        .groupby("series_code")
        .agg(
            territories=("province_code", "nunique"),
            overlap_years=("n_overlap", "max"),
            mean_diff=("mean_diff", "mean"),
            min_diff=("min_diff", "min"),
            max_diff=("max_diff", "max"),
        )
        .reset_index()
    )
    summary.insert(1, "indicator", summary["series_code"].map(keys))
    return summary


def splice_summary_caption() -> str:
    """Caption of the splice table."""
    return (
        "Differences ed. 2025 − ed. 2021 in the overlap years (percentage points), over all "
        "territories and sexes. Source: ISTAT Bes dei territori ed. 2021 and 2025."
    )


def splice_shift(
    frames: Mapping[str, pd.DataFrame], *, indicator: str = "neet", province: str = "Lecce"
) -> float:
    """Mean difference ed. 2025 − ed. 2021 of one indicator in one province (both sexes)."""
    overlap = frames["bes_overlap"]
    code = INDICATORS[indicator].code
    names = frames["bes_spliced"][["province_code", "province_name"]].drop_duplicates()
    rows = overlap[(overlap["series_code"] == code) & (overlap["sex"] == "T")].merge(
        names, on="province_code"
    )
    return float(rows.loc[rows["province_name"] == province, "mean_diff"].iloc[0])


# --- 4. Flags and gaps ------------------------------------------------------------------------


def eurostat_flags(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Cells of the ELET panel by Eurostat flag (``(none)`` for unflagged cells)."""
    elet = frames["elet_regions"]
    return (
        elet.assign(flag=elet["flags"].replace("", "(none)"))
        .groupby("flag")
        .size()
        .rename("cells")
        .reset_index()
    )


def eurostat_flags_caption() -> str:
    """Caption of the Eurostat flags table."""
    return (
        "Eurostat edat_lfse_16 (ELET): cells by flag, all Italian geographies, sexes and "
        "years 2000–2025."
    )


def bes_signs(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Cells of the BES panel by edition and conventional sign (``(number)`` for values)."""
    bes = frames["bes_provinces"]
    return (
        bes.assign(flag=bes["flag"].replace("", "(number)"))
        .groupby(["edition", "flag"])
        .size()
        .rename("cells")
        .reset_index()
    )


def bes_signs_caption() -> str:
    """Caption of the BES signs table."""
    return "ISTAT Bes dei territori: cells by edition and conventional sign."


# --- Saved numbers ----------------------------------------------------------------------------


def _puglia_elet(frames: Mapping[str, pd.DataFrame]) -> tuple[int, float]:
    elet = frames["elet_regions"]
    s = elet[(elet["geo"] == PUGLIA_NUTS2) & (elet["sex"] == "T") & elet["value"].notna()]
    latest = s.loc[s["year"].idxmax()]
    return int(latest["year"]), float(latest["value"])


def headline(frames: Mapping[str, pd.DataFrame], hashes: Mapping[str, str]) -> dict[str, Any]:
    """The index's numbers: panels built, raw files verified, Puglia's latest ELET rate."""
    year, value = _puglia_elet(frames)
    return {
        "panels built": len(frames),
        "raw files verified": len(hashes),
        f"Puglia ELET {year} (%)": value,
    }


def results(frames: Mapping[str, pd.DataFrame], hashes: Mapping[str, str]) -> dict[str, Any]:
    """Everything ``analysis verify`` compares: inventory, raw hashes, the splice."""
    return {
        "inventory": inventory(frames),
        "raw_sha256": dict(hashes),
        "neet_splice_shift_lecce": splice_shift(frames, indicator="neet", province="Lecce"),
        "splice_summary": splice_summary(frames),
    }
