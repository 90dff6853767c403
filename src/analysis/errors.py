"""The one error type for bad input.

Every loader (raw public files, processed panels, the programme panel, the SIINC agreement,
verified metrics, the run plan) raises :class:`DataValidationError` when its input breaks a
rule.  The message names the file, the column, the first offending rows and the rule, so
that the person who supplied the file can fix it without reading code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Violation:
    """One broken rule: where it was found and what the rule says."""

    rule: str
    column: str | None = None
    rows: Sequence[object] = field(default_factory=tuple)
    n_rows: int | None = None

    def describe(self, max_rows: int = 5) -> str:
        """Return a one-line description of the violation."""
        parts = []
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        rows = list(self.rows)
        if rows:
            n = self.n_rows if self.n_rows is not None else len(rows)
            shown = ", ".join(str(r) for r in rows[:max_rows])
            more = f" (+{n - max_rows} more)" if n > max_rows else ""
            parts.append(f"rows [{shown}]{more}")
        where = ", ".join(parts)
        return f"{where}: {self.rule}" if where else self.rule


class DataValidationError(ValueError):
    """Input that breaks a rule of its contract.

    Parameters
    ----------
    source
        The file (or a description such as ``"DataFrame passed to load_panel"``).
    violations
        The broken rules; at least one.
    """

    def __init__(self, source: str | Path, violations: Iterable[Violation] | str):
        if isinstance(violations, str):
            violations = [Violation(rule=violations)]
        self.source = str(source)
        self.violations = list(violations)
        lines = [f"{self.source}: {len(self.violations)} rule(s) broken"]
        lines += [f"  - {v.describe()}" for v in self.violations]
        super().__init__("\n".join(lines))


def fail(
    source: str | Path, rule: str, *, column: str | None = None, rows: Sequence[object] = ()
) -> DataValidationError:
    """Build a :class:`DataValidationError` for a single violation (to be raised by caller)."""
    return DataValidationError(
        source, [Violation(rule=rule, column=column, rows=tuple(rows), n_rows=len(rows))]
    )


def violations_from_pandera(exc: Exception, *, row_offset: int = 0) -> list[Violation]:
    """Turn a pandera ``SchemaErrors`` into violations grouped by (column, check).

    ``row_offset`` converts DataFrame index positions to file line numbers (e.g. 2 for a CSV
    whose header is line 1).
    """
    fc = exc.failure_cases  # type: ignore[attr-defined]
    out = []
    for (column, check), grp in fc.groupby(["column", "check"], dropna=False, sort=False):
        idx = [i + row_offset if isinstance(i, int) else i for i in grp["index"].dropna().tolist()]
        examples = grp["failure_case"].astype(str).unique()[:3].tolist()
        out.append(
            Violation(
                rule=f"{check} (e.g. {examples})",
                column=None if column is None else str(column),
                rows=idx,
                n_rows=len(idx),
            )
        )
    return out
