"""Statistical disclosure control for pupil records (personal data under the GDPR).

Anything published (tables, figures, results JSON, HTML reports) must not let a reader learn
something about an individual pupil.  This module gives three tools:

* :func:`suppress_small_cells` masks table cells derived from fewer than ``k`` pupils
  (primary suppression) and further cells so that masked ones cannot be recovered by
  subtraction from published totals (complementary suppression);
* :func:`aggregate_for_figure` aggregates pupil rows for a figure and merges or drops groups
  below ``k`` pupils, with a record of what it did;
* :func:`find_pupil_ids` / :func:`assert_no_pupil_ids` scan an output (text, table, figure,
  file) for pupil identifiers.

The threshold is :data:`K_MIN` = 10 pupils; it can be raised, never lowered.  The rule
"no cell from fewer than 10 units" is a common convention of statistical offices; it is a
project choice here, not a legal threshold.

Limits (what this module does not do): it does not protect against differencing between
*different* tables or reports (e.g. the same breakdown published with and without one
school), against dominance in magnitude tables, or against disclosure by zero cells ("none of
the pupils of school X dropped out") — zeros are left visible unless ``suppress_zeros=True``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, Violation

__all__ = [
    "K_MIN",
    "FigureAggregate",
    "IdMatch",
    "aggregate_for_figure",
    "assert_no_pupil_ids",
    "check_k",
    "find_pupil_ids",
    "suppress_small_cells",
]

K_MIN = 10
"""Minimum number of pupils behind any published cell."""

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


def check_k(k: int) -> int:
    """Return ``k`` if it is an integer ≥ :data:`K_MIN`; raise ``ValueError`` otherwise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < K_MIN:
        raise ValueError(
            f"k must be an integer ≥ K_MIN = {K_MIN} (it can be raised, never lowered); got {k!r}"
        )
    return int(k)


# --------------------------------------------------------------------------------------------
# Small-cell suppression
# --------------------------------------------------------------------------------------------


def _check_counts(counts: pd.DataFrame | pd.Series, what: str) -> None:
    arr = np.asarray(counts, dtype=float)
    if np.isnan(arr).any():
        raise ValueError(f"{what}: counts must not be missing")
    if (arr < 0).any() or (arr != np.round(arr)).any():
        raise ValueError(f"{what}: counts must be non-negative integers")


def _protect_groups(
    counts: np.ndarray, status: np.ndarray, groups: Sequence[np.ndarray], k: int
) -> list[int]:
    """Complementary suppression, in place on ``status``; return groups left unprotected.

    ``groups`` are arrays of cell positions whose total is (or may be) published.  A group
    with suppressed cells must have at least two of them (a single one is recovered exactly by
    subtraction from the total, whatever its size, and can lead to the next one) and they
    must add up to at least ``k`` pupils (else their sum is itself a small count).  While that
    fails, the smallest unsuppressed non-zero cell of the group is suppressed too; iterate
    over all groups until nothing changes.  This is the usual heuristic, not an optimal or
    provably safe pattern (no linear-programming audit of intervals is done).
    """
    changed = True
    while changed:
        changed = False
        for g in groups:
            sup = status[g] != ""
            if not sup.any() or sup.all():
                continue
            if sup.sum() >= 2 and counts[g][sup].sum() >= k:
                continue
            candidates = g[~sup]
            nonzero = candidates[counts[candidates] > 0]
            pool = nonzero if len(nonzero) else candidates
            pick = pool[np.argmin(counts[pool])]
            status[pick] = COMPLEMENTARY
            changed = True
    return [
        i
        for i, g in enumerate(groups)
        if (status[g] != "").any()
        and ((status[g] != "").sum() < 2 or counts[g][status[g] != ""].sum() < k)
    ]


def suppress_small_cells(
    table: pd.DataFrame,
    *,
    count_col: str | None = None,
    k: int = K_MIN,
    keys: Sequence[str] | None = None,
    totals_by: Sequence[Sequence[str]] = ((),),
    suppress_zeros: bool = False,
    margins: Sequence[Hashable] = ("All", "Total"),
) -> pd.DataFrame:
    """Mask table cells derived from fewer than ``k`` pupils.

    Two layouts are accepted.

    **Long** (``count_col`` given): one row per cell, ``count_col`` is the number of pupils
    behind it.  Rows with ``0 < count < k`` are masked (primary suppression): every column
    except ``keys`` becomes missing.  Then, for every grouping in ``totals_by`` (key columns
    whose group totals may be published; ``()`` is the grand total), cells are added until
    every group has either no masked cell or at least two adding up to at least ``k`` pupils
    (complementary suppression: a lone masked cell is recovered by subtraction).  Two
    columns are added: ``suppressed`` (bool) and ``suppression`` (``""``, ``"primary"``,
    ``"complementary"``).

    **Wide** (``count_col=None``): a cross-tabulation of pupil counts (``pd.crosstab``); every
    cell is a count.  Cells below ``k`` become NaN; complementary suppression works along rows
    and columns, whose totals are assumed public.  Margin rows/columns labelled as in
    ``margins`` are totals: masked if small, never picked as complements.  The masked cells are
    listed in ``result.attrs["suppressed_cells"]`` as ``(row, column, reason)``.

    Parameters
    ----------
    table
        The table (not modified).
    count_col
        Column with the number of pupils behind each row (long layout).
    k
        Threshold; at least :data:`K_MIN` (``ValueError`` otherwise).
    keys
        Long layout: columns that identify a cell and are never masked.  Default: the
        non-numeric columns plus the columns named in ``totals_by``.  Any other column (means,
        shares, event counts) is masked with the cell — declare numeric keys such as ``year``.
    totals_by
        Long layout: groupings whose totals are, or may be, published.
    suppress_zeros
        Also mask zero counts (default: zeros stay visible; see the module's limits).
    margins
        Wide layout: labels of total rows/columns.

    Returns
    -------
    pandas.DataFrame
        A new table; ``attrs["suppression"]`` has ``k``, the numbers of primary and
        complementary suppressions and the groups that cannot be protected (all their cells
        masked, yet only one cell or fewer than ``k`` pupils: their totals must not be
        published).
    """
    k = check_k(k)
    if count_col is None:
        if keys is not None or tuple(map(tuple, totals_by)) != ((),):
            raise ValueError(
                "keys and totals_by apply to the long layout (with count_col); the wide "
                "layout protects its margins rows and columns (margins=) instead"
            )
        return _suppress_wide(table, k=k, suppress_zeros=suppress_zeros, margins=margins)
    if tuple(margins) != ("All", "Total"):
        raise ValueError(
            "margins applies to the wide layout (count_col=None); in the long layout give the "
            "totals to protect with totals_by="
        )
    if count_col not in table.columns:
        raise ValueError(f"count column {count_col!r} not in table")
    counts_s = table[count_col]
    _check_counts(counts_s, f"column {count_col!r}")
    grouping_cols = {c for g in totals_by for c in g}
    missing = grouping_cols - set(table.columns)
    if missing:
        raise ValueError(f"totals_by names unknown columns {sorted(missing)}")
    if keys is None:
        keys = [
            c
            for c in table.columns
            if c != count_col
            and (not pd.api.types.is_numeric_dtype(table[c]) or c in grouping_cols)
        ]
    keys = list(keys)
    counts = counts_s.to_numpy(dtype=float)
    small = counts < k if suppress_zeros else (counts > 0) & (counts < k)
    status = np.where(small, PRIMARY, "").astype(object)
    pos = np.arange(len(table))
    groups: list[np.ndarray] = []
    labels: list[str] = []
    for g in totals_by:
        g = list(g)
        if not g:
            groups.append(pos)
            labels.append("grand total")
            continue
        for key, idx in table.reset_index(drop=True).groupby(g, sort=False).indices.items():
            groups.append(np.asarray(idx))
            labels.append(f"{g}={key}")
    unprotected = _protect_groups(counts, status, groups, k)

    out = table.copy()
    masked = status != ""
    mask_cols = [c for c in out.columns if c not in keys]
    for c in mask_cols:
        col = out[c]
        if pd.api.types.is_integer_dtype(col) or pd.api.types.is_bool_dtype(col):
            col = (
                col.astype("Int64") if pd.api.types.is_integer_dtype(col) else col.astype("boolean")
            )
        out[c] = col.mask(masked)
    out["suppressed"] = masked
    out["suppression"] = pd.array(status.astype(str), dtype="str")
    out.attrs["suppression"] = {
        "k": k,
        "n_primary": int((status == PRIMARY).sum()),
        "n_complementary": int((status == COMPLEMENTARY).sum()),
        "masked_columns": mask_cols,
        "unprotected_groups": [labels[i] for i in unprotected],
    }
    return out


def _suppress_wide(
    table: pd.DataFrame, *, k: int, suppress_zeros: bool, margins: Sequence[Hashable]
) -> pd.DataFrame:
    if not all(pd.api.types.is_numeric_dtype(t) for t in table.dtypes):
        raise ValueError(
            "wide layout (count_col=None) needs a table of counts only; "
            "pass count_col= for a long table"
        )
    _check_counts(table, "table")
    margin_set = set(margins)
    row_m = np.array([r in margin_set for r in table.index])
    col_m = np.array([c in margin_set for c in table.columns])
    counts = table.to_numpy(dtype=float)
    nr, nc = counts.shape
    flat = counts.ravel()
    small = flat < k if suppress_zeros else (flat > 0) & (flat < k)
    status = np.where(small, PRIMARY, "").astype(object)
    # margins are totals: never complements, so exclude them from the groups
    cell = np.arange(nr * nc).reshape(nr, nc)
    inner_cols = np.flatnonzero(~col_m)
    inner_rows = np.flatnonzero(~row_m)
    groups = [cell[i, inner_cols] for i in range(nr)] + [cell[inner_rows, j] for j in range(nc)]
    labels = [f"row {r!r}" for r in table.index] + [f"column {c!r}" for c in table.columns]
    unprotected = _protect_groups(flat, status, groups, k)
    st = status.reshape(nr, nc)
    out = table.astype(float).mask(st != "")
    cells = [
        (table.index[i], table.columns[j], st[i, j])
        for i in range(nr)
        for j in range(nc)
        if st[i, j] != ""
    ]
    out.attrs["suppressed_cells"] = cells
    out.attrs["suppression"] = {
        "k": k,
        "n_primary": int((status == PRIMARY).sum()),
        "n_complementary": int((status == COMPLEMENTARY).sum()),
        "unprotected_groups": [labels[i] for i in unprotected],
    }
    return out


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureAggregate:
    """Group aggregates safe to plot, and the record of groups merged or dropped.

    Attributes
    ----------
    data
        One row per group: the ``by`` columns, ``n`` (pupils) and the aggregated values.
    record
        One row per small group: ``group``, ``action`` (``"merged"``/``"dropped"``) and
        ``reason``.  For the analysis log; it names groups but gives no counts.
    min_n
        Threshold used.
    """

    data: pd.DataFrame
    record: pd.DataFrame
    min_n: int

    def tidy(self) -> pd.DataFrame:
        """Return :attr:`data`."""
        return self.data

    def summary(self) -> str:
        """Return one line per merged or dropped group."""
        if self.record.empty:
            return f"all groups have at least {self.min_n} pupils"
        lines = [f"groups with fewer than {self.min_n} pupils:"]
        lines += [f"  {r.group}: {r.action}" for r in self.record.itertuples()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "min_n": self.min_n,
            "data": self.data.to_dict(orient="records"),
            "record": self.record.to_dict(orient="records"),
        }


def aggregate_for_figure(
    df: pd.DataFrame,
    by: str | Sequence[str],
    *,
    min_n: int = K_MIN,
    values: Sequence[str] | None = None,
    agg: str = "mean",
    id_col: str | None = "pupil_id",
    small: str = "merge",
    other_label: str = "other (merged)",
) -> FigureAggregate:
    """Aggregate pupil rows by group for a figure, keeping only groups of ≥ ``min_n`` pupils.

    Parameters
    ----------
    df
        Pupil (or pupil-year) rows.
    by
        Grouping column(s).
    min_n
        Minimum number of distinct pupils per plotted group; at least :data:`K_MIN`.
    values
        Columns to aggregate; default every numeric column not in ``by``/``id_col``.
    agg
        Aggregation (a pandas name: ``"mean"``, ``"median"``, ``"sum"``...).
    id_col
        Pupil identifier, to count distinct pupils (a missing column is an error;
        ``None`` counts rows deliberately).
    small
        ``"merge"``: pool the small groups into one group labelled ``other_label`` (kept if
        it reaches ``min_n`` pupils, else dropped); ``"drop"``: drop them.
    other_label
        Label of the pooled group (in every ``by`` column).

    Returns
    -------
    FigureAggregate
        ``.data`` to plot and ``.record`` of the merged/dropped groups.  A dropped group can
        still be recovered if the figure (or the report) also shows the overall total or mean:
        do not publish those alongside, or use ``small="merge"``.
    """
    min_n = check_k(min_n)
    if small not in ("merge", "drop"):
        raise ValueError("small must be 'merge' or 'drop'")
    by = [by] if isinstance(by, str) else list(by)
    unknown = [c for c in by if c not in df.columns]
    if unknown:
        raise ValueError(f"unknown grouping columns {unknown}")
    if values is None:
        values = [
            c
            for c in df.columns
            if c not in by
            and c != id_col
            and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])
        ]
    values = list(values)
    if id_col is not None and id_col not in df.columns:
        # counting rows instead of distinct pupils would overstate n against min_n
        raise ValueError(
            f"id column {id_col!r} not in the data; pass id_col=None to count rows deliberately"
        )

    def summarise(frame: pd.DataFrame) -> pd.DataFrame:
        g = frame.groupby(by, sort=True, dropna=False)
        n = g[id_col].nunique() if id_col is not None else g.size()
        res = g[values].agg(agg) if values else pd.DataFrame(index=n.index)
        res.insert(0, "n", n.astype("int64"))
        return res.reset_index()

    full = summarise(df)
    is_small = full["n"] < min_n
    records = []
    kept = full.loc[~is_small]
    if is_small.any():
        small_keys = full.loc[is_small, by]
        labels = [
            ", ".join(f"{c}={v}" for c, v in zip(by, row, strict=True))
            for row in small_keys.itertuples(index=False)
        ]
        action = "dropped"
        if small == "merge":
            sel = df.set_index(by).index.isin(
                pd.MultiIndex.from_frame(small_keys) if len(by) > 1 else small_keys[by[0]]
            )
            pooled = df.loc[sel]
            n_pool = pooled[id_col].nunique() if id_col is not None else len(pooled)
            if n_pool >= min_n:
                row: dict[str, Any] = {c: other_label for c in by}
                row["n"] = int(n_pool)
                for v in values:
                    row[v] = pooled[v].agg(agg)
                kept = pd.concat(
                    [kept.astype({c: object for c in by}), pd.DataFrame([row])], ignore_index=True
                )
                action = "merged"
        records = [
            {"group": lab, "action": action, "reason": f"fewer than {min_n} pupils"}
            for lab in labels
        ]
    record = pd.DataFrame(records, columns=["group", "action", "reason"])
    return FigureAggregate(data=kept.reset_index(drop=True), record=record, min_n=min_n)


# --------------------------------------------------------------------------------------------
# Identifier scanner
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdMatch:
    """A pupil identifier found in a text: where (1-based line and column)."""

    pupil_id: str
    line: int
    column: int

    def masked(self) -> str:
        """Return the identifier shortened for messages (first two characters)."""
        return f"{self.pupil_id[:2]}…"


_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-]+$")


def _as_text(obj: Any) -> str:
    """Render an output object as the text a reader could see."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, Path):
        return obj.read_bytes().decode("utf-8", errors="replace")
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        parts = [frame.to_csv(index=True)]
        parts += [str(n) for n in (frame.index.names or []) if n is not None]
        parts.append(json.dumps(frame.attrs, default=str))
        return "\n".join(parts)
    try:  # matplotlib figures: every visible text (titles, labels, ticks, annotations)
        from matplotlib.figure import Figure
        from matplotlib.text import Text
    except ImportError:  # pragma: no cover
        Figure = None  # noqa: N806
    if Figure is not None and isinstance(obj, Figure):
        return "\n".join(t.get_text() for t in obj.findobj(Text))
    if isinstance(obj, (Mapping, list, tuple)):
        return json.dumps(obj, default=str, ensure_ascii=False)
    return str(obj)


def find_pupil_ids(text: str, ids: Iterable[object], *, min_len: int = 4) -> list[IdMatch]:
    """Return every occurrence of a pupil identifier in ``text``, as a whole token.

    Parameters
    ----------
    text
        The text to scan (use :func:`assert_no_pupil_ids` for tables, figures and files).
    ids
        The identifiers (e.g. ``panel["pupil_id"].unique()``); converted to ``str``.
    min_len
        Identifiers shorter than this would match ordinary numbers and words: a
        ``ValueError`` is raised rather than scanning unreliably (lower it deliberately to
        accept false positives).

    Returns
    -------
    list of IdMatch
        In order of appearance.  An identifier counts only as a whole token: ``P0012`` is not
        found inside ``P00123``.
    """
    id_set = {str(i) for i in ids}
    short = [i for i in id_set if len(i) < min_len]
    if short:
        raise ValueError(
            f"{len(short)} identifier(s) shorter than {min_len} characters "
            "cannot be scanned reliably"
        )
    simple = {i for i in id_set if _TOKEN_CHARS.match(i)}
    other = sorted(id_set - simple, key=len, reverse=True)
    hits: list[tuple[int, str]] = []
    if simple:
        hits += [(m.start(), m.group()) for m in _TOKEN.finditer(text) if m.group() in simple]
    if other:
        pattern = re.compile(
            r"(?<![A-Za-z0-9_\-])(?:" + "|".join(map(re.escape, other)) + r")(?![A-Za-z0-9_\-])"
        )
        hits += [(m.start(), m.group()) for m in pattern.finditer(text)]
    hits.sort()
    line_starts = np.array([0] + [m.end() for m in re.finditer("\n", text)])
    out = []
    for pos, pid in hits:
        ln = int(np.searchsorted(line_starts, pos, side="right"))
        out.append(IdMatch(pupil_id=pid, line=ln, column=pos - int(line_starts[ln - 1]) + 1))
    return out


def assert_no_pupil_ids(
    obj: Any, ids: Iterable[object], *, source: str | None = None, min_len: int = 4
) -> None:
    """Raise if an output contains a pupil identifier.

    Parameters
    ----------
    obj
        What is about to be published: a string, bytes, a file path (``Path``), a DataFrame
        or Series (values, index, column names), a dict/list (results JSON) or a matplotlib
        Figure (all its texts).
    ids
        The pupil identifiers of the panel.
    source
        Name of the output, for the message.
    min_len
        See :func:`find_pupil_ids`.

    Raises
    ------
    DataValidationError
        Naming the output and the lines where identifiers were found; identifiers are shown
        shortened so that the error message does not repeat them.
    """
    hits = find_pupil_ids(_as_text(obj), ids, min_len=min_len)
    if hits:
        label = source or (str(obj) if isinstance(obj, Path) else type(obj).__name__)
        rows = [f"line {h.line} col {h.column} ({h.masked()})" for h in hits]
        raise DataValidationError(
            label,
            [
                Violation(
                    rule="pupil identifier found in an output to be published",
                    column=None,
                    rows=tuple(rows),
                    n_rows=len(rows),
                )
            ],
        )


# --------------------------------------------------------------------------------------------
# Numerators: event counts and rates
# --------------------------------------------------------------------------------------------


def implied_numerators(
    table: pd.DataFrame, rates: Mapping[str, str | tuple[str, float]]
) -> pd.DataFrame:
    """Return, for each rate column, the event count a reader can work out (rate × n).

    Parameters
    ----------
    table
        The table.
    rates
        Rate column → its denominator column, or → ``(denominator column, scale)`` where
        ``scale`` is 100 for percentages (default 1: shares).

    Returns
    -------
    pandas.DataFrame
        One column per rate (same index): ``rate × denominator / scale``; missing where either
        is missing.
    """
    out = {}
    for rate, spec in rates.items():
        denom, scale = (spec, 1.0) if isinstance(spec, str) else (spec[0], float(spec[1]))
        missing = [c for c in (rate, denom) if c not in table.columns]
        if missing:
            raise ValueError(f"rates names unknown columns {missing}")
        if not scale > 0:
            raise ValueError(f"the scale of rate {rate!r} must be positive; got {scale!r}")
        r = pd.to_numeric(table[rate], errors="coerce").astype(float)
        n = pd.to_numeric(table[denom], errors="coerce").astype(float)
        out[rate] = r * n / scale
    return pd.DataFrame(out, index=table.index)


def _small_numerator(x: np.ndarray, k: int) -> np.ndarray:
    """Implied numerators from 1 to k − 1 (rounding slack: anything in (0, k) counts)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & (x > 1e-6) & (x < k)


def suppress_small_numerators(
    table: pd.DataFrame,
    *,
    numerators: Sequence[str] = (),
    rates: Mapping[str, str | tuple[str, float]] | None = None,
    k: int = K_MIN,
    totals_by: Sequence[Sequence[str]] = ((),),
) -> pd.DataFrame:
    """Mask event counts, and rates whose implied event count, below ``k`` (and above 0).

    The denominator rule of :func:`suppress_small_cells` keeps a cell of 174 pupils visible
    even when only 6 of them dropped out; this is the numerator rule.  A cell is masked when

    * a ``numerators`` column (an event count: dropouts, repeaters) is from 1 to k − 1; or
    * a ``rates`` column times its denominator (the count a reader works out, see
      :func:`implied_numerators`) is above 0 and below ``k``.

    Only the event counts and rates of that cell are masked (its denominator stays: it is a
    count of at least ``k`` pupils or masked by :func:`suppress_small_cells`).  Then, as for
    the denominators, every group of ``totals_by`` whose event total may be published gets a
    second masked cell (the smallest non-zero one) until its masked events add up to at least
    ``k`` — a lone masked count is recovered by subtraction from the total.

    Zero events stay visible (see the module's limits), as do counts from ``n − k + 1`` to
    ``n`` ("all but three dropped out"), which this rule does not treat.

    Parameters
    ----------
    table
        Long layout, one row per cell (not modified).
    numerators
        Event-count columns.
    rates
        Rate column → denominator column, or → ``(denominator, scale)`` (100 for percent).
    k
        Threshold; at least :data:`K_MIN`.
    totals_by
        Groupings (lists of columns) whose event totals are, or may be, published; ``()`` is
        the grand total.

    Returns
    -------
    pandas.DataFrame
        A copy with the masked cells missing and two columns: ``numerator_suppressed`` (bool)
        and ``numerator_suppression`` (``""``, ``"primary"``, ``"complementary"``);
        ``attrs["numerator_suppression"]`` summarises (``k``, counts, unprotected groups).
    """
    k = check_k(k)
    numerators = list(numerators)
    rates = dict(rates or {})
    if not numerators and not rates:
        raise ValueError("give the event-count columns (numerators=) or the rates (rates=)")
    unknown = [c for c in numerators if c not in table.columns]
    if unknown:
        raise ValueError(f"numerators names unknown columns {unknown}")
    for c in numerators:
        _check_counts(table[c].dropna(), f"column {c!r}")
    implied = implied_numerators(table, rates) if rates else pd.DataFrame(index=table.index)
    events = pd.concat(
        [table[numerators].astype(float), implied], axis=1, ignore_index=True
    ).to_numpy(dtype=float)
    small = np.zeros(len(table), dtype=bool)
    for j in range(events.shape[1]):
        small |= _small_numerator(events[:, j], k)
    # the size of a cell's event count (for the complementary choice and the group check)
    with np.errstate(invalid="ignore"):
        size = np.nan_to_num(np.nanmax(np.where(np.isnan(events), -np.inf, events), axis=1))
    size = np.where(np.isfinite(size), np.maximum(size, 0.0), 0.0)
    grouping_cols = {c for g in totals_by for c in g}
    missing = grouping_cols - set(table.columns)
    if missing:
        raise ValueError(f"totals_by names unknown columns {sorted(missing)}")
    status = np.where(small, PRIMARY, "").astype(object)
    pos = np.arange(len(table))
    groups: list[np.ndarray] = []
    labels: list[str] = []
    for g in totals_by:
        g = list(g)
        if not g:
            groups.append(pos)
            labels.append("grand total")
            continue
        for key, idx in table.reset_index(drop=True).groupby(g, sort=False).indices.items():
            groups.append(np.asarray(idx))
            labels.append(f"{g}={key}")
    unprotected = _protect_groups(np.round(size), status, groups, k)
    out = table.copy()
    masked = status != ""
    for c in [*numerators, *rates]:
        col = out[c]
        if pd.api.types.is_integer_dtype(col):
            col = col.astype("Int64")
        out[c] = col.mask(masked)
    out["numerator_suppressed"] = masked
    out["numerator_suppression"] = pd.array(status.astype(str), dtype="str")
    out.attrs["numerator_suppression"] = {
        "k": k,
        "n_primary": int((status == PRIMARY).sum()),
        "n_complementary": int((status == COMPLEMENTARY).sum()),
        "masked_columns": [*numerators, *rates],
        "unprotected_groups": [labels[i] for i in unprotected],
    }
    return out


# --------------------------------------------------------------------------------------------
# Results JSON
# --------------------------------------------------------------------------------------------

COUNT_KEY = re.compile(
    r"^(n|n_pupils|pupils|n_students|students|n_units|units|n_obs|n_treated|n_control|"
    r"n_participants|participants|n_never_treated|never_treated|n_group|group_size|size|"
    r"pupil_years|n_pupil_years|count|frequency)$",
    re.IGNORECASE,
)
"""Keys of a results record that count pupils (or pupil-years)."""

EVENT_KEY = re.compile(
    r"^(n_)?(dropouts|dropped|repeaters|repeated|events|exits|cases|failures)$", re.IGNORECASE
)
"""Keys of a results record that count pupils with an event (numerators)."""

RATE_KEY = re.compile(
    r"(^|_)(rate|hazard|share|proportion)$|(^|_)(pct|percent)($|_)|^hazard", re.IGNORECASE
)
"""Keys of a results record holding a rate of pupils (its numerator is rate × n)."""

LABEL_KEYS = frozenset(
    {
        "cohort",
        "time",
        "year",
        "rel_time",
        "event_time",
        "years_since",
        "treated_cohort",
        "control_cohort",
        "edition",
        "level",
        "seed",
        "reps",
        "alpha",
        "n_clusters",
        "clusters",
        "window",
        "step",
    }
)
"""Keys that label a record (never masked): periods, editions, settings, school counts."""

DENOMINATOR_PRIORITY = ("pupils", "n_pupils", "n", "units", "n_units", "n_participants")


def _number(v: Any) -> float | None:
    """A number from a JSON leaf (ints, floats, and numeric strings such as ``"1,234"``)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float | np.integer | np.floating):
        f = float(v)
        return f if np.isfinite(f) else None
    if isinstance(v, str):
        try:
            f = float(v.replace(",", "").strip())
        except ValueError:
            return None
        return f if np.isfinite(f) else None
    return None


def _record_counts(rec: Mapping[str, Any]) -> list[float]:
    return [
        f for key, v in rec.items() if COUNT_KEY.match(str(key)) and (f := _number(v)) is not None
    ]


def _blank(obj: Any) -> Any:
    """Null every number in ``obj`` except label keys (recursively)."""
    if isinstance(obj, Mapping):
        return {key: (v if str(key) in LABEL_KEYS else _blank(v)) for key, v in obj.items()}
    if isinstance(obj, list):
        return [_blank(v) for v in obj]
    return None if _number(obj) is not None else obj


def _numerator_small(rec: Mapping[str, Any], k: int) -> list[str]:
    """The event-count and rate keys of ``rec`` that reveal fewer than ``k`` events."""
    bad = []
    for key, v in rec.items():
        f = _number(v)
        if f is not None and EVENT_KEY.match(str(key)) and 1 <= f < k:
            bad.append(str(key))
    denom_key = next((d for d in DENOMINATOR_PRIORITY if _number(rec.get(d)) is not None), None)
    if denom_key is not None:
        n = _number(rec[denom_key])
        for key, v in rec.items():
            f = _number(v)
            if f is None or not RATE_KEY.match(str(key)) or str(key) in bad:
                continue
            scale = 100.0 if re.search(r"pct|percent", str(key), re.IGNORECASE) else 1.0
            if _small_numerator(np.array([f * n / scale]), k)[0]:
                bad.append(str(key))
    if bad:  # every rate and event count of the record goes with them
        bad += [
            str(key)
            for key in rec
            if (EVENT_KEY.match(str(key)) or RATE_KEY.match(str(key))) and str(key) not in bad
        ]
    return bad


def suppress_results(
    payload: Mapping[str, Any],
    *,
    k: int = K_MIN,
    sections: Sequence[str] | None = None,
    complementary: bool = True,
) -> dict[str, Any]:
    """Apply the page's suppression rules to a results mapping (the results JSON).

    The pages hide what comes from fewer than ``k`` pupils; the results JSON that leaves
    ``data/`` must hide it too.  The mapping is walked; every record (a mapping) that carries
    a pupil count (a key matching :data:`COUNT_KEY`: ``n``, ``n_pupils``, ``n_units``,
    ``n_treated``, ``n_control``, ``pupils``, ``participants`` …) from 1 to k − 1 has every
    number in it — estimates, SEs, CIs, p-values, rates, counts, nested results — replaced by
    ``None`` except its labels (:data:`LABEL_KEYS`: cohort, time, level, number of schools …)
    and is marked ``"suppressed": "fewer than k pupils"``.  Numerators: a record whose event
    count (:data:`EVENT_KEY`: dropouts, repeaters …) is from 1 to k − 1, or whose rate
    (:data:`RATE_KEY`) times its count of pupils is above 0 and below ``k``, has its rates and
    event counts nulled and is marked ``"suppressed": "fewer than k pupils with the event"``.

    Complementary suppression (``complementary=True``): in a list of records carrying pupil
    counts, a lone suppressed record (or suppressed ones adding up to fewer than ``k``
    pupils) would be recovered from the list's total or the overall estimate; the smallest
    other records are suppressed too (:func:`suppress_small_cells`' heuristic).

    Parameters
    ----------
    payload
        The results (anything :func:`analysis._util.to_jsonable` converts: result objects,
        DataFrames, numpy numbers).  Not modified.
    k
        Threshold; at least :data:`K_MIN`.
    sections
        Top-level keys to walk (e.g. ``("headline", "results")`` for a report's payload, so
        that its parameters and provenance are left alone); ``None``: the whole mapping.
    complementary
        Apply complementary suppression within lists of records.

    Returns
    -------
    dict
        A JSON-ready copy.  Records with no pupil count and no rate are left alone: a
        quantity that is derived from pupils but carries no count (an ATT without its ``n``)
        is not detected — record counts next to the estimates they belong to.

    Notes
    -----
    Written here because no library applies disclosure rules to nested result documents
    (sdcMicro and similar work on microdata and flat tables).
    """
    from analysis._util import to_jsonable

    k = check_k(k)
    doc = to_jsonable(payload)
    if not isinstance(doc, dict):
        raise ValueError("payload must be a mapping")
    if sections is not None:
        unknown = [s for s in sections if s not in doc]
        if unknown:
            raise ValueError(f"sections not in the payload: {unknown}")
    reason = f"fewer than {k} pupils"
    reason_events = f"fewer than {k} pupils with the event"

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            counts = _record_counts(obj)
            if any(1 <= c < k for c in counts):
                return {**_blank(obj), "suppressed": reason}
            bad = _numerator_small(obj, k)
            out = {key: walk(v) for key, v in obj.items()}
            if bad:
                out.update({key: None for key in bad})
                out["suppressed"] = reason_events
            return out
        if isinstance(obj, list):
            items = [walk(v) for v in obj]
            if complementary:
                items = _complement(obj, items)
            return items
        return obj

    def _complement(original: list[Any], items: list[Any]) -> list[Any]:
        recs = [i for i, v in enumerate(original) if isinstance(v, dict) and _record_counts(v)]
        if len(recs) < 2:
            return items
        sizes = np.array([min(_record_counts(original[i])) for i in recs], dtype=float)
        status = np.array(
            [PRIMARY if items[i].get("suppressed") == reason else "" for i in recs],
            dtype=object,
        )
        before = status.copy()
        _protect_groups(sizes, status, [np.arange(len(recs))], k)
        for j in np.flatnonzero((status != "") & (before == "")):
            i = recs[j]
            items[i] = {
                **_blank(items[i]),
                "suppressed": f"complementary: protects a record of {reason}",
            }
        return items

    if sections is None:
        return walk(doc)
    return {key: (walk(v) if key in sections else v) for key, v in doc.items()}


def suppress_balance_shares(
    table: pd.DataFrame,
    *,
    n_treated: int,
    n_control: int,
    k: int = K_MIN,
    tol: float = 1e-6,
) -> pd.DataFrame:
    """Mask the rows of a balance table whose share reveals fewer than ``k`` pupils.

    A balance table (:func:`analysis.weighting.balance_table`) shows the mean of each
    covariate among participants (``mean_treated``) and the others (``mean_control``).  For a
    0/1 covariate the mean times the group size is a count (the share of foreign-born
    participants × 174 = 5 pupils).  A row is masked when, for either group, ``mean × n`` is
    an integer (within ``tol``: what a 0/1 covariate gives) with fewer than ``k`` pupils
    having — or not having — the characteristic.  The masked columns are that group's means,
    and the SMDs and variance ratio computed from them.

    Parameters
    ----------
    table
        Columns ``mean_treated``/``mean_control`` and any of ``mean_*_weighted``,
        ``smd_unweighted``, ``smd_weighted``, ``variance_ratio``.
    n_treated, n_control
        Pupils in each group.
    k
        Threshold; at least :data:`K_MIN`.
    tol
        How close to an integer ``mean × n`` must be to count as a count.

    Returns
    -------
    pandas.DataFrame
        A copy; ``attrs["suppressed_rows"]`` lists the masked rows' positions in the table.
    """
    k = check_k(k)
    out = table.copy()
    derived = [c for c in ("smd_unweighted", "smd_weighted", "variance_ratio") if c in out]
    masked_rows = np.zeros(len(out), dtype=bool)
    for group, n in (("treated", n_treated), ("control", n_control)):
        col = f"mean_{group}"
        if col not in out.columns:
            raise ValueError(f"balance table has no column {col!r}")
        x = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float) * float(n)
        with np.errstate(invalid="ignore"):
            is_count = np.isfinite(x) & (np.abs(x - np.round(x)) < tol)
            small = is_count & (((x > 0.5) & (x < k - 0.5)) | ((n - x > 0.5) & (n - x < k - 0.5)))
        cols = [c for c in (col, f"{col}_weighted") if c in out.columns] + derived
        for c in cols:
            out[c] = out[c].mask(small)
        masked_rows |= small
    out.attrs["suppressed_rows"] = [int(i) for i in np.flatnonzero(masked_rows)]
    return out


def safe_balance(balance: Any, *, k: int = K_MIN) -> Any:
    """Return a copy of an :class:`analysis.diagnostics.Balance` with its table made safe.

    Its ``table`` goes through :func:`suppress_balance_shares` with the group sizes of its
    ``participant`` indicator; everything else is kept (the propensity scores are per pupil
    and never published: ``Balance.to_dict`` leaves them out).
    """
    import dataclasses

    part = pd.Series(balance.participant)
    table = suppress_balance_shares(
        balance.table,
        n_treated=int((part == 1).sum()),
        n_control=int((part == 0).sum()),
        k=k,
    )
    return dataclasses.replace(balance, table=table)
