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
