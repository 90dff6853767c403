r"""Join the two editions of *Bes dei territori* into one series per indicator.

Method (documented in every report that uses a spliced series)
--------------------------------------------------------------
For each series × territory × sex:

1. The ed. 2025 values are kept as published (they carry the current definitions, e.g. the
   ``-N22`` series rebuilt after the 2021 LFS regulation).
2. Years *before* the first ed. 2025 value are back-cast from ed. 2021 with an additive level
   shift equal to the mean difference ed.2025 − ed.2021 over the overlap years (2018–2020 for
   the LFS series):  :math:`y_t = y^{2021}_t + \\bar d`,  :math:`\\bar d = \\frac{1}{|O|}
   \\sum_{s\\in O} (y^{2025}_s - y^{2021}_s)`.
3. Interior gaps of the ed. 2025 series are not filled from ed. 2021 (no mixing of editions
   inside the range the new edition covers).
4. Without overlap years the ed. 2021 values are not spliced (recorded in the overlap report);
   a series published only in ed. 2021 is kept as ``ed.2021 only``.

The overlap report lists, for every series × territory × sex, the number of overlap years and
the mean, minimum and maximum difference, so a reader can judge whether the editions agree.
"""

from __future__ import annotations

import pandas as pd

KEYS = ["series_code", "province_code", "sex"]


def splice_editions(bes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Splice ed. 2021 onto ed. 2025 (see the module docstring for the method).

    Parameters
    ----------
    bes
        The ``bes_provinces`` panel (both editions stacked).

    Returns
    -------
    spliced : pandas.DataFrame
        One row per series × territory × sex × year with ``value``, ``source`` (``ed.2025``,
        ``ed.2021+shift``, ``ed.2021 only``) and ``shift`` (the level shift applied, 0 if none).
    overlap : pandas.DataFrame
        The overlap report: ``n_overlap``, ``mean_diff``, ``min_diff``, ``max_diff`` per key.
    """
    meta_cols = ["province_name", "region", "macro_area", "level", "indicator_name", "unit"]
    obs = bes[bes["value"].notna()]
    new = obs[obs["edition"] == "2025"]
    old = obs[obs["edition"] == "2021"]

    both = new.merge(old[[*KEYS, "year", "value"]], on=[*KEYS, "year"], suffixes=("", "_old"))
    both["diff"] = both["value"] - both["value_old"]
    overlap = (
        both.groupby(KEYS, observed=True)["diff"]
        .agg(n_overlap="size", mean_diff="mean", min_diff="min", max_diff="max")
        .reset_index()
    )

    first_new = new.groupby(KEYS, observed=True)["year"].min().rename("first_new").reset_index()
    cand = old.merge(first_new, on=KEYS, how="left").merge(
        overlap[[*KEYS, "mean_diff"]], on=KEYS, how="left"
    )
    only_old = cand["first_new"].isna()
    backcast = (
        cand["first_new"].notna() & (cand["year"] < cand["first_new"]) & cand["mean_diff"].notna()
    )
    old_only = cand[only_old].assign(source="ed.2021 only", shift=0.0)
    back = cand[backcast].assign(source="ed.2021+shift", shift=lambda d: d["mean_diff"])
    back["value"] = back["value"] + back["shift"]
    kept_new = new.assign(source="ed.2025", shift=0.0)

    cols = [*KEYS, *meta_cols, "year", "value", "flag", "source", "shift"]
    spliced = pd.concat([kept_new[cols], back[cols], old_only[cols]], ignore_index=True)
    spliced = spliced.sort_values([*KEYS, "year"], kind="stable").reset_index(drop=True)

    no_overlap = first_new.merge(old[KEYS].drop_duplicates(), on=KEYS).merge(
        overlap[KEYS], on=KEYS, how="left", indicator=True
    )
    no_overlap = no_overlap[no_overlap["_merge"] == "left_only"][KEYS]
    overlap = pd.concat([overlap, no_overlap.assign(n_overlap=0)], ignore_index=True)
    overlap["spliced"] = overlap["n_overlap"] > 0
    return spliced, overlap.sort_values(KEYS, kind="stable").reset_index(drop=True)
