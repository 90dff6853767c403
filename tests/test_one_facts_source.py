"""One source of facts (issue 11): programme facts are read from config/programme.yaml, never typed.

Every message a page prints (t()/N_() ids of the report modules, the notebooks' Markdown) is
searched for the programme's numeric facts written out; a fact must reach a page through a
placeholder filled from :func:`analysis.facts.programme_facts`.
"""

from __future__ import annotations

import re

from analysis import paths
from analysis.pipeline import catalogs
from analysis.yamlfile import read_yaml


def _numeric_facts() -> set[int]:
    facts = read_yaml(paths.ROOT / "config" / "programme.yaml")
    found: set[int] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif (
            isinstance(node, int)
            and not isinstance(node, bool)
            and node >= 40  # distinctive: 41 youths, 120 parents, 180 pupils, inhabitants
            and not 1990 <= node <= 2035  # years are dates, not facts to hide
        ):
            found.add(node)

    walk(facts)
    return found


def _as_written(n: int) -> re.Pattern[str]:
    grouped = f"{n:,}"
    forms = {str(n), grouped, grouped.replace(",", "."), grouped.replace(",", "\u202f")}
    return re.compile(r"(?<![\w.,])(" + "|".join(map(re.escape, forms)) + r")(?![\w]|[.,]\d)")


def test_programme_facts_are_never_typed_into_page_text():
    facts = _numeric_facts()
    assert {180, 120, 41} <= facts  # the test reads the real facts
    sources = [
        *catalogs.python_ids(sorted((paths.PACKAGE_DIR / "reports").glob("*.py"))),
        *catalogs.notebook_ids(sorted((paths.ROOT / "notebooks").glob("*.ipynb"))),
    ]
    typed = [
        f"{where}: {n} in {msgid[:80]!r}"
        for msgid, where in sources
        for n in facts
        if _as_written(n).search(msgid)
    ]
    assert typed == [], "\n".join(typed[:20])
