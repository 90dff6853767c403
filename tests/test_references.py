"""Citations a replicator can follow: ``docs/references.md`` and what cites it (issue 11, item 4).

The background that the code, the configuration and the pages cite ships with the repository as
``docs/references.md``.  These tests check

* the document itself: numbered headings, each with its stable anchor ``s<n>-<m>``, no
  parentheses in titles (a parenthesis right after a cited number is read as the title), and an
  entry for every public data folder and every reference-implementation folder;
* every citation of it in ``src/``, ``notebooks/`` and ``config/``: ``references.md §N.M``
  must name a heading, a title given in parentheses right after the number must be that
  heading's exact title, and ``references.md#anchor`` must name an anchor;
* that nothing there cites what a replicator cannot follow: the team's background note (which
  is not in the repository), a path of the machine the notes were kept on, or a bare ``§``
  section sign that does not say which document it points into.

The last test lists every file and line that still does so.
"""

from __future__ import annotations

import bisect
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "docs" / "references.md"
SCANNED_DIRS = ("src", "notebooks", "config")
TEXT_SUFFIXES = {".py", ".ipynb", ".yaml", ".yml", ".md", ".po", ".pot", ".html", ".j2", ".txt"}

HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?)\.? (.+?)\s*$")
ANCHOR = re.compile(r'^<a id="([\w-]+)"></a>\s*$')
# "references.md §3.5" optionally followed by "(Exact title)"
SECTION_CITE = re.compile(r"references\.md\s*§\s*(\d+(?:\.\d+)*)(?:\s*\(([^()]*)\))?")
ANCHOR_CITE = re.compile(r"references\.md#([\w-]+)")
# Sources a replicator cannot follow.
UNFOLLOWABLE = (
    ("the background note (not in the repository)", re.compile(r"background note", re.I)),
    ("the background note's file", re.compile(r"evaluation_background", re.I)),
    ("a path outside the repository", re.compile(r"shared/context|/work/shared", re.I)),
    (
        "the note's power tables under another name",
        re.compile(r"evaluation plan's (?:published )?power tables", re.I),
    ),
)
BARE_SECTION = re.compile(r"(?<!references\.md )§")


def _headings() -> dict[str, str]:
    """Section number -> title, checking each heading's anchor on the way."""
    lines = REFERENCES.read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = HEADING.match(line)
        if not m:
            continue
        number, title = m.group(2), m.group(3)
        assert number not in found, f"docs/references.md:{i + 1}: section {number} twice"
        prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        a = ANCHOR.match(prev)
        expected = "s" + number.replace(".", "-")
        assert a and a.group(1) == expected, (
            f'docs/references.md:{i + 1}: heading {number} must follow <a id="{expected}"></a>'
        )
        assert "(" not in title and ")" not in title, (
            f"docs/references.md:{i + 1}: a title cited in parentheses cannot contain them"
        )
        found[number] = title
    return found


def _github_slug(title: str) -> str:
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _anchors() -> set[str]:
    text = REFERENCES.read_text(encoding="utf-8")
    ids = set(re.findall(r'<a id="([\w-]+)"></a>', text))
    slugs = {_github_slug(m.group(0).lstrip("#")) for m in re.finditer(r"(?m)^#{1,6} .+$", text)}
    return ids | slugs


def _scanned_files() -> list[Path]:
    files = []
    for d in SCANNED_DIRS:
        for p in sorted((ROOT / d).rglob("*")):
            # catalogs (.po) repeat the ids of the sources scanned here, wrapped over lines
            if (
                p.is_file()
                and p.suffix in TEXT_SUFFIXES
                and ".ipynb_checkpoints" not in p.parts
                and "locale" not in p.parts
            ):
                files.append(p)
    return files


def _text(path: Path) -> str:
    """The file's text; a notebook's cell sources (outputs are not committed)."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return raw
    cells = json.loads(raw).get("cells", [])
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells
    )


def _joined(text: str) -> str:
    """Lines joined with one space, leading comment markers dropped (citations may wrap)."""
    return re.sub(r"[ \t]*\n[ \t]*(?:#+[ \t]*)?", " ", text)


def _citations() -> list[tuple[str, str, str | None]]:
    """(file, section number or '#anchor', cited title) for every citation found."""
    out = []
    for p in _scanned_files():
        text = _joined(_text(p))
        rel = str(p.relative_to(ROOT))
        out += [(rel, m.group(1), m.group(2)) for m in SECTION_CITE.finditer(text)]
        out += [(rel, "#" + m.group(1), None) for m in ANCHOR_CITE.finditer(text)]
    return out


def test_references_document_is_numbered_and_anchored():
    headings = _headings()
    # the chapters the code cites, each with at least one numbered section
    for chapter in ("0", "1", "2", "3", "4", "5", "6", "7"):
        assert chapter in headings, f"chapter {chapter} missing"
        assert any(n.startswith(chapter + ".") for n in headings), f"chapter {chapter} empty"
    text = REFERENCES.read_text(encoding="utf-8")
    assert "/work/" not in text, "a path of the machine, not of the repository"


def test_references_cover_every_data_and_reference_folder():
    text = REFERENCES.read_text(encoding="utf-8")
    raw = sorted(p.parent.name for p in (ROOT / "data" / "raw").glob("*/PROVENANCE.md"))
    ref = sorted(p.name for p in (ROOT / "data" / "reference").iterdir() if p.is_dir())
    assert raw and ref
    missing = [f"data/raw/{f}/" for f in raw if f"data/raw/{f}/" not in text]
    missing += [f"data/reference/{f}/" for f in ref if f"data/reference/{f}/" not in text]
    assert not missing, f"docs/references.md has no entry for: {missing}"


def test_every_citation_of_references_resolves():
    headings = _headings()
    anchors = _anchors()
    cites = _citations()
    assert cites, "no file in src/, notebooks/ or config/ cites docs/references.md"
    broken = []
    for where, target, title in cites:
        if target.startswith("#"):
            if target[1:] not in anchors:
                broken.append(f"{where}: references.md{target} (no such anchor)")
        elif target not in headings:
            broken.append(f"{where}: references.md §{target} (no such section)")
        elif title is not None and " ".join(title.split()) != headings[target]:
            broken.append(
                f"{where}: references.md §{target} ({title}) — the section is titled "
                f"'{headings[target]}'"
            )
    assert not broken, "citations that do not resolve:\n" + "\n".join(broken)


def _joined_lines(text: str) -> tuple[str, list[int]]:
    """The lines joined with one space (leading indentation and comment markers dropped, so a
    phrase or citation that wraps is still one string) and each line's offset in it."""
    joined, starts = [], []
    offset = 0
    for line in text.splitlines():
        piece = re.sub(r"^[ \t]*(?:#+[ \t]*)?", "", line) if starts else line
        starts.append(offset)
        joined.append(piece)
        offset += len(piece) + 1
    return " ".join(joined), starts


def _unfollowable() -> list[str]:
    """``file:line: why: text`` for every citation a replicator cannot follow."""
    found = []
    for p in _scanned_files():
        rel = str(p.relative_to(ROOT))
        raw = p.read_text(encoding="utf-8")
        lines = raw.splitlines()
        joined, starts = _joined_lines(raw)
        hits = [(m.start(), why) for why, pat in UNFOLLOWABLE for m in pat.finditer(joined)]
        hits += [
            (m.start(), "a '§' that does not say it points into docs/references.md")
            for m in BARE_SECTION.finditer(joined)
        ]
        for pos, why in sorted(hits):
            n = bisect.bisect_right(starts, pos) - 1
            found.append(f"{rel}:{n + 1}: {why}: {lines[n].strip()[:100]}")
    return found


def test_bare_section_sign_detector_fires():
    """The detectors themselves: a bare '§' and a background-note citation are caught."""
    assert BARE_SECTION.search("see §3.5 of the note")
    assert not BARE_SECTION.search("see docs/references.md §3.5")
    joined, starts = _joined_lines("x = 1  # see docs/references.md\n    # §3.5 and the\n")
    assert not BARE_SECTION.search(joined) and starts == [0, 32]
    assert any(p.search("(background note §1.4)") for _, p in UNFOLLOWABLE)


@pytest.mark.parametrize("directory", SCANNED_DIRS)
def test_nothing_cites_an_unfollowable_source(directory):
    """No file cites the background note, a path outside the repository or a bare '§'.

    Fails, listing file:line, while a module or notebook still does: each such citation is to be
    rewritten as ``docs/references.md §N.M (Title)`` (the same section numbers as the note).
    """
    found = [f for f in _unfollowable() if f.startswith(directory + "/")]
    assert not found, (
        f"{len(found)} citation(s) in {directory}/ a replicator cannot follow; cite "
        "docs/references.md §N.M (Title) instead:\n" + "\n".join(found)
    )
