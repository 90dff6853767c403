"""Loaders of the public reference data sets used to validate the DiD estimators.

The files live in ``data/reference/`` (see ``data/reference/REFERENCE.md``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import paths

#: Columns of Card & Krueger's ``public.dat``, in the order of their codebook.
CARD_KRUEGER_COLUMNS = (
    "SHEET",
    "CHAIN",
    "CO_OWNED",
    "STATE",
    "SOUTHJ",
    "CENTRALJ",
    "NORTHJ",
    "PA1",
    "PA2",
    "SHORE",
    "NCALLS",
    "EMPFT",
    "EMPPT",
    "NMGRS",
    "WAGE_ST",
    "INCTIME",
    "FIRSTINC",
    "BONUS",
    "PCTAFF",
    "MEALS",
    "OPEN",
    "HRSOPEN",
    "PSODA",
    "PFRY",
    "PENTREE",
    "NREGS",
    "NREGS11",
    "TYPE2",
    "STATUS2",
    "DATE2",
    "NCALLS2",
    "EMPFT2",
    "EMPPT2",
    "NMGRS2",
    "WAGE_ST2",
    "INCTIME2",
    "FIRSTIN2",
    "SPECIAL2",
    "MEALS2",
    "OPEN2R",
    "HRSOPEN2",
    "PSODA2",
    "PFRY2",
    "PENTREE2",
    "NREGS2",
    "NREGS112",
)


def mpdta() -> pd.DataFrame:
    """Return Callaway & Sant'Anna's county teen-employment panel (R ``did::mpdta``).

    Columns: ``year``, ``countyreal``, ``lpop``, ``lemp``, ``first.treat`` (0 = never
    treated), ``treat``.
    """
    return pd.read_csv(paths.REFERENCE_DIR / "mpdta.csv")


def card_krueger(*, long: bool = True) -> pd.DataFrame:
    """Return the Card & Krueger (1994) New Jersey / Pennsylvania fast-food survey.

    Parameters
    ----------
    long
        ``True`` (default): two rows per store (``post`` = 0 first wave, 1 second wave) with
        ``store`` (row number of the file: ``SHEET`` is not unique, 407 appears twice),
        ``nj`` (1 = New Jersey), ``post`` and ``fte`` = EMPFT + NMGRS + 0.5 EMPPT (missing
        when a component is missing).  ``False``: the 410 rows as in the file.
    """
    raw = pd.read_csv(
        paths.REFERENCE_DIR / "card_krueger_1994" / "public.dat",
        sep=r"\s+",
        header=None,
        names=CARD_KRUEGER_COLUMNS,
        na_values=".",
    )
    raw.insert(0, "store", np.arange(1, len(raw) + 1))
    if not long:
        return raw
    waves = []
    for post, sfx in ((0, ""), (1, "2")):
        fte = raw[f"EMPFT{sfx}"] + raw[f"NMGRS{sfx}"] + 0.5 * raw[f"EMPPT{sfx}"]
        waves.append(
            pd.DataFrame(
                {
                    "store": raw["store"],
                    "sheet": raw["SHEET"],
                    "chain": raw["CHAIN"],
                    "nj": raw["STATE"],
                    "post": post,
                    "fte": fte,
                }
            )
        )
    return pd.concat(waves, ignore_index=True)
