"""Tables and words of the data-build report (notebook ``00_data_build``).

The notebook rebuilds every processed panel from ``data/raw`` and shows what the panels
contain: the raw files checked against their manifests, the data inventory, the size of the
BES edition splice and the flags kept next to each value.  The building and checking are done
by :mod:`analysis.data`; this module only calls them and tabulates the outcome.  Every text is a
message (:mod:`analysis.i18n`, domain ``data_build``) generated from the panels and hashes it
describes; panel descriptions and indicator labels come from the data layer (``indicators``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.data import integrity, panels
from analysis.data.indicators import INDICATORS
from analysis.i18n import N_, Text, integer, join, pct, pp, t, year

__all__ = [
    "BES_SIGNS",
    "EUROSTAT_FLAGS",
    "bes_signs",
    "bes_signs_caption",
    "build_panels",
    "eurostat_flags",
    "eurostat_flags_caption",
    "flags_text",
    "headline",
    "headline_text",
    "inventory",
    "inventory_caption",
    "inventory_table",
    "raw_files_caption",
    "raw_files_table",
    "results",
    "splice_shift",
    "splice_summary",
    "splice_summary_caption",
    "splice_table",
    "summary",
    "verify_raw_files",
]

#: Eurostat code of Puglia (NUTS 2), the region of the programme's territory.
PUGLIA_NUTS2 = "ITF4"

#: What each Eurostat flag combination means (cells of the flags table).
EUROSTAT_FLAGS = {
    "": N_("no flag"),
    "b": N_("break in time series"),
    "u": N_("low reliability"),
    "bu": N_("break in time series and low reliability"),
    "d": N_("definition differs"),
    "e": N_("estimated"),
}

#: What each ISTAT conventional sign means (cells of the signs table).
BES_SIGNS = {
    "": N_("a number"),
    "....": N_("not available"),
    "....  (a)": N_("not available (with ISTAT footnote a)"),
    "..": N_("below the reliability threshold"),
    "-": N_("phenomenon absent"),
}

INVENTORY_HEADERS = {
    "panel": N_("Panel"),
    "description": N_("Description"),
    "rows": N_("Rows"),
    "units": N_("Territorial units"),
    "first_year": N_("First year"),
    "last_year": N_("Last year"),
    "missing_values": N_("Missing values"),
    "share_missing_%": N_("Share missing (%)"),
}

SPLICE_HEADERS = {
    "series_code": N_("Series code"),
    "indicator": N_("Indicator"),
    "territories": N_("Territories"),
    "overlap_years": N_("Years in both editions"),
    "mean_diff": N_("Mean difference (pp)"),
    "min_diff": N_("Smallest difference (pp)"),
    "max_diff": N_("Largest difference (pp)"),
}


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
    """One row per raw file: its path and SHA-256 (human headers)."""
    return pd.DataFrame({N_("File"): list(hashes), N_("SHA-256"): list(hashes.values())})


def raw_files_caption(hashes: Mapping[str, str]) -> Text:
    """Caption of the raw-files table."""
    return t(
        "The {n} raw files and their SHA-256, each equal to the one in its folder's SHA256SUMS "
        "manifest.",
        n=integer(len(hashes)),
    )


def _folders(hashes: Mapping[str, str]) -> list[str]:
    return sorted({Path(p).parent.name for p in hashes})


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


def inventory_table(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The inventory with human headers and whole counts as the page shows it."""
    inv = inventory(frames)
    for col in ("units", "first_year", "last_year", "missing_values"):
        inv[col] = inv[col].astype("Int64")
    return inv.rename(columns=INVENTORY_HEADERS)


def inventory_caption() -> Text:
    """Caption of the inventory table."""
    return t(
        "Data inventory: rows, territorial units, years and missing values per processed "
        "panel (– where the panel has no such column). Sources: data/raw/*/PROVENANCE.md."
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


def splice_table(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The splice summary with indicator labels and human headers."""
    out = splice_summary(frames)
    out["indicator"] = out["indicator"].map(lambda k: INDICATORS[k].label)
    return out.rename(columns=SPLICE_HEADERS)


def splice_summary_caption() -> Text:
    """Caption of the splice table."""
    return t(
        "Differences ed. 2025 − ed. 2021 in the years both editions publish (percentage "
        "points), over all territories and sexes. Source: ISTAT Bes dei territori ed. 2021 "
        "and 2025."
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
    """Cells of the ELET panel by Eurostat flag, with what the flag means (human headers)."""
    elet = frames["elet_regions"]
    counts = elet.groupby("flags").size()
    return pd.DataFrame(
        {
            N_("Flag"): [f or None for f in counts.index],
            N_("Meaning"): [EUROSTAT_FLAGS.get(f, N_("other flag")) for f in counts.index],
            N_("Cells"): counts.to_numpy(),
        }
    )


def eurostat_flags_caption(frames: Mapping[str, pd.DataFrame]) -> Text:
    """Caption of the Eurostat flags table."""
    years = frames["elet_regions"]["year"]
    return t(
        "Eurostat edat_lfse_16 (ELET): cells by flag, all Italian geographies and the EU27, "
        "sexes and years {first}–{last}.",
        first=year(int(years.min())),
        last=year(int(years.max())),
    )


def bes_signs(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Cells of the BES panel by edition and conventional sign, with its meaning."""
    bes = frames["bes_provinces"]
    counts = bes.groupby(["edition", "flag"]).size()
    return pd.DataFrame(
        {
            N_("Edition"): [e for e, _ in counts.index],
            N_("Sign"): [f or None for _, f in counts.index],
            N_("Meaning"): [BES_SIGNS.get(f, N_("other sign")) for _, f in counts.index],
            N_("Cells"): counts.to_numpy(),
        }
    )


def bes_signs_caption() -> Text:
    """Caption of the BES signs table."""
    return t("ISTAT Bes dei territori: cells by edition and conventional sign.")


def flags_text(frames: Mapping[str, pd.DataFrame]) -> Text:
    """Plain words: how many cells carry each kind of flag (the tables are in the annex)."""
    elet = frames["elet_regions"]["flags"]
    bes = frames["bes_provinces"]["flag"]
    return t(
        "In the Eurostat ELET panel {b} cells carry a break flag (b) and {u} a low-reliability "
        "flag (u); in the ISTAT Bes dei territori panel {na} cells are not available (....) "
        "and {low} are below the reliability threshold (..). Flags and signs stay next to "
        "each value; the counts by flag are in the annex.",
        b=integer(int(elet.str.contains("b").sum())),
        u=integer(int(elet.str.contains("u").sum())),
        na=integer(int(bes.str.startswith("....").sum())),
        low=integer(int((bes == "..").sum())),
    )


# --- The answer -------------------------------------------------------------------------------


def _missing_total(frames: Mapping[str, pd.DataFrame]) -> int:
    return int(inventory(frames)["missing_values"].fillna(0).sum())


def summary(
    frames: Mapping[str, pd.DataFrame], hashes: Mapping[str, str], *, force: bool
) -> dict[str, Text]:
    """The fields of the page's answer-first box (``display.summary_box(**summary(...))``).

    Generated from the panels built and the raw files verified: :func:`verify_raw_files`
    stops the build at the first file that differs from its manifest, so a page exists only
    when every file matched.  ``force``: whether every panel was rebuilt (the run's
    ``force_rebuild``) or reused when its raw inputs had not changed.
    """
    folders = _folders(hashes)
    built = (
        t(
            "{panels} processed panels were rebuilt from {files} raw files in {folders} source "
            "folders ({names}).",
            panels=integer(len(frames)),
            files=integer(len(hashes)),
            folders=integer(len(folders)),
            names=", ".join(folders),
        )
        if force
        else t(
            "{panels} processed panels were built from {files} raw files in {folders} source "
            "folders ({names}), or reused where their raw files had not changed.",
            panels=integer(len(frames)),
            files=integer(len(hashes)),
            folders=integer(len(folders)),
            names=", ".join(folders),
        )
    )
    matched = t("Every raw file matched the SHA-256 recorded in its folder's SHA256SUMS manifest.")
    elet_year, elet_value = _puglia_elet(frames)
    return {
        "question": t(
            "Which public data do the reports use, and are the raw files exactly the published "
            "ones?"
        ),
        "answer": join([built, matched], " "),
        "certainty": join(
            [
                t(
                    "Each reader checked its input (columns, parseable cells, duplicates, "
                    "ranges) and each panel was checked against its schema before it was "
                    "written."
                ),
                t(
                    "Missing values are kept as missing, never filled or dropped: {n} in the "
                    "value columns of the panels (per panel in the inventory).",
                    n=integer(_missing_total(frames)),
                ),
                t(
                    "A check value from the panels: early leavers from education and training "
                    "in Puglia, {year}: {value}.",
                    year=year(elet_year),
                    value=pct(elet_value, 1),
                ),
            ],
            " ",
        ),
        "would_change": t(
            "A new release of a source (a new Bes dei territori edition, a Eurostat revision) "
            "replaces its raw file and manifest, and every panel built from it is rebuilt. The "
            "BES splice depends on both editions: for NEET in Lecce the 2025 edition differs "
            "from the 2021 edition by {shift} on average in the years both publish.",
            shift=pp(splice_shift(frames, indicator="neet", province="Lecce"), 2),
        ),
        "not_this": t(
            "Not an analysis: this page estimates nothing and reads no pupil records. It checks "
            "and describes the inputs; the findings are in the other reports."
        ),
    }


def headline_text(frames: Mapping[str, pd.DataFrame], hashes: Mapping[str, str]) -> Text:
    """The headline as the index shows it."""
    return t(
        "{panels} panels from {files} raw files; every SHA-256 matches",
        panels=integer(len(frames)),
        files=integer(len(hashes)),
    )


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
