"""Two languages for every page: message catalogs (gettext ``.po`` through Babel) and locale formats.

Estimation runs once; language is a publishing concern.  A report module never builds a
sentence in one language: it returns a :class:`Msg` — an English message id with its values —
and :mod:`analysis.display` renders it in every language of :data:`LANGUAGES` when the notebook
runs, tagging each output with its language.  ``analysis publish`` then writes one page per
language from the same executed notebook, keeping the outputs of that language and translating
the notebook's Markdown cells through the same catalogs.  Adding a language adds a catalog and
a publish pass; no model is rerun.

Catalogs
    ``src/analysis/locale/<lang>/LC_MESSAGES/<domain>.po``, one domain per report module (so
    that each can be edited on its own) plus ``common.po`` for shared words.  English is the
    source language: the message ids are the English text, so English needs no catalog.  All
    domains of a language are merged; the same id translated two ways is an error
    (:class:`CatalogError`).  ``python -m analysis.pipeline.catalogs check`` collects every id
    (``t``/``N_`` calls in ``src/analysis``, Markdown cells of ``notebooks/``, plan titles,
    questions, the templates) and lists the ids Italian lacks; ``update``/``todo``/``fill``
    add and fill a domain's entries.

Formats
    Values passed to :func:`t` are formatted per locale with Babel when rendered: ``int`` with
    grouping (1.234 in Italian), ``float`` with the digits of :func:`num` (default 2), years and
    codes as given (pass them as ``str`` or :func:`year`), ``bool`` as Sì/No - Yes/No,
    ``None``/NaN as an en dash, money with :func:`money` (40.279,75 €), dates with :func:`date`
    (1 dicembre 2026), percentages with :func:`pct`, percentage points with :func:`pp`.

Why written here: Babel provides the catalogs and the formats; what no library provides is a
message object that keeps its *values* (not a formatted string) until it is rendered in each
language, which is what lets one notebook run feed two pages.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis import paths

LANGUAGES: tuple[str, ...] = ("it", "en")
"""Languages every page is published in; the first is the default (``reports/index.html``)."""

DEFAULT_LANGUAGE = "it"
SOURCE_LANGUAGE = "en"
LOCALE_DIR = paths.PACKAGE_DIR / "locale"
LANGUAGE_NAMES = {"it": "Italiano", "en": "English"}
LANG_KEY = "analysis_lang"
"""Output metadata key naming an output's language (``publish`` keeps one language per page)."""
TABLE_KEY = "analysis_table"
"""Output metadata key carrying a table's data for the downloads."""

#: ids looked up in a language that has no translation for them (checked by tests and publish).
_MISSES: dict[str, set[str]] = {}


class CatalogError(ValueError):
    """A catalog is inconsistent (one id translated two ways, a placeholder lost)."""


@functools.cache
def catalog(lang: str) -> Mapping[str, str]:
    """All translations of ``lang`` (merged over its domains); empty for the source language."""
    if lang == SOURCE_LANGUAGE:
        return {}
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for po in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        for msgid, msgstr in read_po_file(po).items():
            if msgid in merged and merged[msgid] != msgstr:
                raise CatalogError(
                    f"{po.name} and {origin[msgid]} translate the same id two ways: {msgid[:80]!r}"
                )
            merged[msgid] = msgstr
            origin[msgid] = po.name
    return merged


def read_po_file(po: Path) -> dict[str, str]:
    """The translated, non-fuzzy entries of one ``.po`` file (Babel's reader)."""
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        cat = read_po(fh, ignore_obsolete=True)
    out: dict[str, str] = {}
    for m in cat:
        if not m.id or m.fuzzy or not isinstance(m.id, str):
            continue
        if isinstance(m.string, str) and m.string:
            out[m.id] = m.string
    return out


def gettext(msgid: str, lang: str) -> str:
    """The translation of ``msgid`` in ``lang`` (the id itself in English or when missing).

    A missing translation is remembered (:func:`missing`), so a test or ``publish`` can fail on it.
    """
    if lang == SOURCE_LANGUAGE or not msgid:
        return msgid
    found = catalog(lang).get(msgid)
    if found is None:
        _MISSES.setdefault(lang, set()).add(msgid)
        return msgid
    return found


def has_translation(msgid: str, lang: str) -> bool:
    """Whether ``lang``'s catalog translates ``msgid`` (always true for the source language)."""
    return lang == SOURCE_LANGUAGE or msgid in catalog(lang)


def missing(lang: str | None = None) -> set[str]:
    """The ids looked up so far without a translation (all languages when ``lang`` is None)."""
    if lang is not None:
        return set(_MISSES.get(lang, set()))
    return set().union(*_MISSES.values()) if _MISSES else set()


def reset_missing() -> None:
    """Forget the ids recorded by :func:`missing`."""
    _MISSES.clear()


# --------------------------------------------------------------------------------------------
# values with a declared format


@dataclass(frozen=True)
class Formatted:
    """A value with the format it is to be shown in (see :func:`num`, :func:`pct`, ...)."""

    value: Any
    kind: str
    digits: int = 2
    sign: bool = False

    def render(self, lang: str) -> str:
        """The value formatted for ``lang``."""
        return format_value(self, lang)


def num(x: Any, digits: int = 2, *, sign: bool = False) -> Formatted:
    """A number with ``digits`` decimals (``sign``: always show + or −)."""
    return Formatted(x, "num", digits, sign)


def integer(x: Any) -> Formatted:
    """A count: grouped thousands (1.234 / 1,234), no decimals."""
    return Formatted(x, "int", 0)


def year(x: Any) -> Formatted:
    """A year or school year: shown as given, never grouped."""
    return Formatted(x, "year", 0)


def pct(x: Any, digits: int = 1, *, sign: bool = False) -> Formatted:
    """A value already in percent (8.6 → "8,6%" / "8.6%")."""
    return Formatted(x, "pct", digits, sign)


def pp(x: Any, digits: int = 1, *, sign: bool = True) -> Formatted:
    """Percentage points (−2.4 → "−2,4 p.p." / "−2.4 pp")."""
    return Formatted(x, "pp", digits, sign)


def money(x: Any, digits: int = 2) -> Formatted:
    """Euros (40279.75 → "40.279,75 €" / "€40,279.75")."""
    return Formatted(x, "money", digits)


def date(x: Any) -> Formatted:
    """A date, long form (1 dicembre 2026 / December 1, 2026); ISO strings are accepted."""
    return Formatted(x, "date", 0)


def _is_missing(x: Any) -> bool:
    """None, NaN of any float type, pandas NA/NaT."""
    if x is None:
        return True
    try:
        import pandas as pd

        if x is pd.NA or x is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        import numpy as np

        return isinstance(x, float | np.floating) and math.isnan(x)
    except TypeError:  # pragma: no cover - defensive
        return False


DASH = "–"


def _decimal(x: float, digits: int, lang: str, *, sign: bool = False) -> str:
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    if sign:
        pattern = f"+{pattern};-{pattern}"
    out = format_decimal(x, format=pattern, locale=lang)
    return out.replace("-", "−")


def format_value(v: Any, lang: str) -> str:
    """Format one value for ``lang`` (see the module docstring for the rules)."""
    import numpy as np

    if isinstance(v, Msg | Concat):
        return v.render(lang)
    if isinstance(v, Formatted):
        x = v.value
        if _is_missing(x):
            return DASH
        if v.kind == "year":
            return (
                str(int(x))
                if isinstance(x, float | np.floating) and float(x).is_integer()
                else str(x)
            )
        if v.kind == "date":
            from babel.dates import format_date

            d = _dt.date.fromisoformat(str(x)[:10]) if not isinstance(x, _dt.date) else x
            return format_date(d, format="long", locale=lang)
        xf = float(x)
        if math.isinf(xf):
            return gettext("undefined", lang)
        if v.kind == "int":
            return _decimal(round(xf), 0, lang)
        if v.kind == "num":
            return _decimal(xf, v.digits, lang, sign=v.sign)
        if v.kind == "pct":
            return _decimal(xf, v.digits, lang, sign=v.sign) + "%"
        if v.kind == "pp":
            unit = gettext("pp", lang)
            return f"{_decimal(xf, v.digits, lang, sign=v.sign)} {unit}"
        if v.kind == "money":
            from babel.numbers import format_currency

            return format_currency(xf, "EUR", locale=lang, format_type="standard").replace("-", "−")
        raise ValueError(f"unknown format kind {v.kind!r}")
    if _is_missing(v):
        return DASH
    if isinstance(v, bool | np.bool_):
        return gettext("Yes", lang) if v else gettext("No", lang)
    if isinstance(v, int | np.integer):
        return _decimal(int(v), 0, lang)
    if isinstance(v, float | np.floating):
        xf = float(v)
        if math.isinf(xf):
            return gettext("undefined", lang)
        small = 0 < abs(xf) < 0.01  # keep three significant digits of small numbers
        return _decimal(xf, max(2, 2 - math.floor(math.log10(abs(xf)))) if small else 2, lang)
    if isinstance(v, _dt.date):
        return format_value(date(v), lang)
    if isinstance(v, list | tuple):  # semicolons: the comma is the Italian decimal mark
        return "; ".join(format_value(x, lang) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {format_value(x, lang)}" for k, x in v.items())
    return str(v)


# --------------------------------------------------------------------------------------------
# messages


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Msg:
    """An English message id and its values, rendered in any language by :meth:`render`.

    Build it with :func:`t`.  Placeholders are ``{name}``; literal braces are ``{{``/``}}``.
    Values may be numbers (formatted per locale), :class:`Formatted` values, other messages,
    or plain strings (names, codes: inserted as given).
    """

    msgid: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        """The message in ``lang``, its values formatted per locale."""
        template = gettext(self.msgid, lang)
        if not self.values and "{" not in template:
            return template
        rendered = {k: format_value(v, lang) for k, v in self.values.items()}
        try:
            # an abbreviation that ends a sentence keeps one period ("p.p." + ".")
            return template.format(**rendered).replace("p.p..", "p.p.")
        except (KeyError, IndexError, ValueError) as exc:
            raise CatalogError(
                f"message {self.msgid[:60]!r} in {lang!r}: placeholder problem ({exc}); "
                f"values given: {sorted(self.values)}"
            ) from exc

    def __add__(self, other: Msg | str) -> Concat:
        return Concat((self, other))

    def __str__(self) -> str:  # English, for logs and interactive use
        return self.render(SOURCE_LANGUAGE)


@dataclass(frozen=True)
class Concat:
    """Messages (or plain strings) joined by ``sep`` in every language."""

    parts: tuple[Any, ...]
    sep: str = ""

    def render(self, lang: str) -> str:
        """The parts rendered in ``lang`` and joined."""
        return self.sep.join(render(p, lang) for p in self.parts)

    def __add__(self, other: Any) -> Concat:
        return Concat((*self.parts, other), self.sep) if not self.sep else Concat((self, other))

    def __str__(self) -> str:
        return self.render(SOURCE_LANGUAGE)


def join(parts: Iterable[Any], sep: str = " ") -> Concat:
    """Join messages with ``sep`` (the same in every language)."""
    return Concat(tuple(parts), sep)


def t(msgid: str, /, **values: Any) -> Msg:
    """A translatable message: ``t("ATT {att} [{lo}, {hi}]", att=num(x, 2), ...)``.

    ``msgid`` must be a string literal in the source (the extractor reads it); the values are
    formatted per language when rendered.
    """
    if not isinstance(msgid, str):
        raise TypeError(f"t() takes a literal English message id, got {type(msgid).__name__}")
    names = set(_FIELD.findall(msgid.replace("{{", "").replace("}}", "")))
    extra, lacking = set(values) - names, names - set(values)
    if extra or lacking:
        raise ValueError(
            f"t({msgid[:60]!r}): values {sorted(extra)} not in the message"
            if extra
            else f"t({msgid[:60]!r}): no value for {sorted(lacking)}"
        )
    return Msg(msgid, dict(values))


def term(msgid: str, /) -> Msg:
    """A message whose id is a variable: a label marked with :func:`N_` where it is defined.

    E.g. an indicator's label defined in the data layer as ``N_("NEET 15–29")`` and shown
    through ``t("{label} in {year}", label=term(ind.label), year=year(y))``.
    """
    if not isinstance(msgid, str):
        raise TypeError(f"term() takes a message id string, got {type(msgid).__name__}")
    return Msg(msgid, {})


def N_(msgid: str, /) -> str:
    """Mark a string for extraction without translating it now (table headers, labels)."""
    return msgid


Text = Msg | Concat | str


def render(text: Any, lang: str) -> str:
    """Render a :class:`Msg`/:class:`Concat` in ``lang``; a plain string is looked up as an id."""
    if isinstance(text, Msg | Concat):
        return text.render(lang)
    if isinstance(text, Formatted):
        return text.render(lang)
    if isinstance(text, str):
        # spacing and punctuation between messages are not ids
        return gettext(text, lang) if any(c.isalpha() for c in text) else text
    return format_value(text, lang)


def translator(lang: str) -> Callable[[Any], str]:
    """``tr(x)`` renders a message, id or value in ``lang`` (for figure labels)."""
    return functools.partial(render, lang=lang)


def tick_formatter(lang: str, digits: int = 1, *, suffix: str = "") -> Any:
    """A matplotlib tick formatter with the decimal mark of ``lang``."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: _decimal(x, digits, lang) + suffix)


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "SOURCE_LANGUAGE",
    "CatalogError",
    "Concat",
    "Formatted",
    "Msg",
    "N_",
    "Text",
    "catalog",
    "date",
    "format_value",
    "gettext",
    "has_translation",
    "integer",
    "join",
    "missing",
    "money",
    "num",
    "pct",
    "pp",
    "render",
    "reset_missing",
    "t",
    "term",
    "tick_formatter",
    "translator",
    "year",
]
