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


def fail(source: str | Path, rule: str, *, column: str | None = None,
         rows: Sequence[object] = ()) -> DataValidationError:
    """Build a :class:`DataValidationError` for a single violation (to be raised by caller)."""
    return DataValidationError(source, [Violation(rule=rule, column=column, rows=tuple(rows),
                                                  n_rows=len(rows))])
