r"""Collect the message ids of the pages and keep the Italian catalogs complete.

Sources of ids (English is the source language):

- ``t("...")`` and ``N_("...")`` calls in ``src/analysis`` (Babel's Python extractor);
- the Markdown cells of ``notebooks/*.ipynb`` (one id per cell, the cell's text);
- the run titles of ``config/plan.yaml`` and the questions of ``config/questions.yaml``;
- the ``_("...")`` calls of the index and page templates (Jinja's Babel extractor).

Commands::

    python -m analysis.pipeline.catalogs check              # every id translated? (exit 1 if not)
    python -m analysis.pipeline.catalogs update --domain context \\
        src/analysis/reports/context.py notebooks/01_context.ipynb
        # adds the ids of these sources that no catalog has yet to locale/it/.../context.po
    python -m analysis.pipeline.catalogs todo --domain context    # untranslated ids (JSON)
    python -m analysis.pipeline.catalogs fill --domain context it.json  # id -> Italian text

Why written here: Babel extracts and writes catalogs; what it does not know is where a
notebook's or a YAML file's text lives, and that the project splits its catalog by report.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from analysis import i18n, paths

SRC = paths.PACKAGE_DIR
NOTEBOOKS = paths.ROOT / "notebooks"
TEMPLATES = paths.PACKAGE_DIR / "templates"
KEYWORDS = {"t": (1,), "N_": (1,), "gettext": (1,)}

_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def python_ids(files: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """``(id, where)`` for every ``t``/``N_`` literal in Python files."""
    from babel.messages.extract import extract

    for f in files:
        with f.open("rb") as fh:
            for lineno, message, _comments, _ctx in extract(
                "python", fh, keywords=KEYWORDS, comment_tags=(), options={}
            ):
                if isinstance(message, tuple):
                    message = message[0]
                if isinstance(message, str) and message:
                    yield message, f"{paths.relative(f)}:{lineno}"


def notebook_ids(files: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """``(id, where)`` for every Markdown cell of the notebooks (its stripped text)."""
    for f in files:
        nb = json.loads(f.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") == "markdown":
                text = "".join(cell.get("source", [])).strip()
                if text:
                    yield text, f"{paths.relative(f)}#cell{i}"


def config_ids() -> Iterator[tuple[str, str]]:
    """Run titles of the plan and the evaluation questions."""
    from analysis.yamlfile import read_yaml

    plan = read_yaml(paths.ROOT / "config" / "plan.yaml")
    for run in plan.get("runs", []) or []:
        if isinstance(run, dict) and run.get("title"):
            yield str(run["title"]), "config/plan.yaml"
    efile = paths.ROOT / "config" / "evaluation.yaml"
    if efile.exists():
        ev = read_yaml(efile).get("evaluator", {}) or {}
        for key in ("name", "role", "organisation"):
            if ev.get(key):
                yield str(ev[key]), "config/evaluation.yaml"
    qfile = paths.ROOT / "config" / "questions.yaml"
    if qfile.exists():
        for q in read_yaml(qfile).get("questions", []) or []:
            for key in ("title", "short"):
                if q.get(key):
                    yield str(q[key]), "config/questions.yaml"


def template_ids() -> Iterator[tuple[str, str]]:
    """``_("...")`` literals in the Jinja templates."""
    pattern = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)""")
    for f in sorted(TEMPLATES.rglob("*.j2")):
        for m in pattern.finditer(f.read_text(encoding="utf-8")):
            yield m.group(1).replace('\\"', '"'), paths.relative(f)


def all_ids() -> dict[str, str]:
    """Every id of the project → the first place it occurs."""
    out: dict[str, str] = {}
    sources = [
        python_ids(sorted(SRC.rglob("*.py"))),
        notebook_ids(sorted(NOTEBOOKS.glob("*.ipynb"))),
        config_ids(),
        template_ids(),
    ]
    for source in sources:
        for msgid, where in source:
            out.setdefault(msgid, where)
    return out


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message (doubled braces are literal)."""
    return set(_FIELD.findall(text))


def problems(lang: str = "it") -> list[str]:
    """What is wrong with ``lang``'s catalogs: missing ids, lost or invented placeholders."""
    cat = i18n.catalog(lang)
    out = []
    for msgid, where in sorted(all_ids().items(), key=lambda kv: kv[1]):
        if msgid not in cat:
            out.append(f"{where}: no {lang} translation for {msgid[:90]!r}")
        elif placeholders(msgid) != placeholders(cat[msgid]):
            out.append(
                f"{where}: the {lang} translation of {msgid[:60]!r} has placeholders "
                f"{sorted(placeholders(cat[msgid]))}, the id {sorted(placeholders(msgid))}"
            )
    return out


def _open_domain(domain: str, lang: str):  # noqa: ANN202 - (Path, babel Catalog)
    """A domain's ``.po`` path and its catalog (a new empty one when the file does not exist)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    po = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    if po.exists():
        with po.open("rb") as fh:
            return po, read_po(fh, locale=lang)
    po.parent.mkdir(parents=True, exist_ok=True)
    return po, Catalog(locale=lang, project="officine-mezzogiorno-evaluation", domain=domain)


def update(domain: str, sources: list[Path], lang: str = "it") -> tuple[Path, int]:
    """Add to ``<lang>/LC_MESSAGES/<domain>.po`` the ids of ``sources`` that no catalog has.

    Existing entries are kept as they are; new ones get an empty translation to fill in.
    """
    from babel.messages.pofile import write_po

    po, cat = _open_domain(domain, lang)
    i18n.catalog.cache_clear()
    known = i18n.catalog(lang)
    ids: list[tuple[str, str]] = []
    py = [s for s in sources if s.suffix == ".py"]
    nbs = [s for s in sources if s.suffix == ".ipynb"]
    ids += list(python_ids(py)) + list(notebook_ids(nbs))
    if "config" in [s.name for s in sources] or any(s.suffix == ".yaml" for s in sources):
        ids += list(config_ids())
    if any(s.suffix == ".j2" for s in sources):
        ids += list(template_ids())
    added = 0
    for msgid, where in ids:
        if msgid in known or cat.get(msgid) is not None:
            continue
        cat.add(msgid, string="", locations=[(where.split(":")[0].split("#")[0], None)])
        added += 1
    with po.open("wb") as fh:
        write_po(fh, cat, width=100, omit_header=False, sort_output=False)
    i18n.catalog.cache_clear()
    return po, added


def fill(domain: str, translations: dict[str, str], lang: str = "it") -> tuple[Path, int]:
    """Set the translations of ``<lang>/LC_MESSAGES/<domain>.po`` from a mapping id → text.

    Ids the domain does not have yet are added.  Returns the file and the entries set.
    """
    from babel.messages.pofile import write_po

    po, cat = _open_domain(domain, lang)
    n = 0
    for msgid, text in translations.items():
        if not isinstance(msgid, str) or not isinstance(text, str):
            raise TypeError(f"translations must map strings to strings, got {msgid!r}: {text!r}")
        m = cat.get(msgid)
        if m is None:
            cat.add(msgid, string=text)
        else:
            m.string = text
            m.flags.discard("fuzzy")
        n += 1
    with po.open("wb") as fh:
        write_po(fh, cat, width=100, omit_header=False, sort_output=False)
    i18n.catalog.cache_clear()
    return po, n


def untranslated(domain: str, lang: str = "it") -> list[str]:
    """The ids of one domain's ``.po`` without a translation."""
    from babel.messages.pofile import read_po

    po = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return [m.id for m in cat if m.id and isinstance(m.id, str) and not m.string]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``check`` or ``update``."""
    ap = argparse.ArgumentParser(prog="python -m analysis.pipeline.catalogs")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="list ids without an Italian translation (exit 1 if any)")
    up = sub.add_parser("update", help="add new ids of the given sources to a domain's .po")
    up.add_argument("--domain", required=True)
    up.add_argument("sources", nargs="+", type=Path)
    fl = sub.add_parser("fill", help="set translations of a domain from a JSON file id -> text")
    fl.add_argument("--domain", required=True)
    fl.add_argument("json_file", type=Path)
    td = sub.add_parser("todo", help="print, as JSON, the ids of a domain still untranslated")
    td.add_argument("--domain", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "fill":
        po, n = fill(args.domain, json.loads(args.json_file.read_text(encoding="utf-8")))
        print(f"{paths.relative(po)}: {n} translation(s) set")
        return 0
    if args.cmd == "todo":
        print(json.dumps(untranslated(args.domain), ensure_ascii=False, indent=1))
        return 0
    if args.cmd == "check":
        found = problems("it")
        for line in found:
            print(line)
        print(f"{len(found)} problem(s) in {len(all_ids())} message ids")
        return 1 if found else 0
    po, added = update(args.domain, [Path(s).resolve() for s in args.sources])
    print(f"{paths.relative(po)}: {added} new id(s) to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
