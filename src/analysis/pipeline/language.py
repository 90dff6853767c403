"""Is an Italian page Italian?  Finds English sentences in a page's visible text.

A sentence counts as English when it has at least three distinct English function words
(``the``, ``and``, ``of``, ``is``, ``with`` …) and more of them than Italian ones.  Names,
codes and the glossary's loanwords (NEET, wild cluster bootstrap, event study, SIINC …) have
no function words, so they pass.  The provenance block (package names, file paths) and the
contents of ``<code>`` are not prose and are skipped.

Why written here: language identifiers (langdetect, fastText) are statistical models that
misjudge the short, number-heavy sentences of a report and need model files; the question here
is narrower — did an English sentence escape the catalogs? — and function words answer it.
"""

from __future__ import annotations

import html
import re

ENGLISH = frozenset(
    [
        "the",
        "and",
        "of",
        "is",
        "are",
        "was",
        "were",
        "with",
        "which",
        "this",
        "that",
        "from",
        "not",
        "for",
        "to",
        "in",
        "on",
        "by",
        "than",
        "be",
        "has",
        "have",
        "it",
        "its",
        "their",
        "these",
        "those",
        "when",
        "where",
        "what",
        "would",
        "could",
        "should",
        "will",
        "can",
    ]
)
ITALIAN = frozenset(
    [
        "il",
        "lo",
        "la",
        "i",
        "gli",
        "le",
        "di",
        "del",
        "della",
        "dei",
        "delle",
        "e",
        "è",
        "che",
        "per",
        "con",
        "non",
        "un",
        "una",
        "sono",
        "nel",
        "nella",
        "da",
        "al",
        "alla",
        "si",
        "come",
        "più",
        "anche",
        "tra",
        "questo",
        "questa",
        "ai",
        "agli",
    ]
)
_SKIP = re.compile(
    r"<(script|style|code|pre)[^>]*>.*?</\1>|<div class=\"provenance\">.*?</div>\s*</div>",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]+>")
_SENT = re.compile(r"(?<=[.!?;:])\s+|\n+")
_WORD = re.compile(r"[A-Za-zÀ-ÿ']+")


def visible_text(page: str) -> str:
    """The prose of a page: tags, scripts, styles, code and the provenance block removed."""
    text = _SKIP.sub(" ", page)
    text = re.sub(r"<(br|p|div|li|tr|h\d|figcaption|td|th)[^>]*>", "\n", text, flags=re.I)
    return html.unescape(_TAG.sub(" ", text))


def english_sentences(page: str) -> list[str]:
    """Sentences of the page's visible text that read as English."""
    found = []
    for sentence in _SENT.split(visible_text(page)):
        words = [w.lower() for w in _WORD.findall(sentence)]
        en = {w for w in words if w in ENGLISH}
        it = sum(1 for w in words if w in ITALIAN)
        if len(en) >= 3 and len([w for w in words if w in ENGLISH]) > it:
            found.append(" ".join(sentence.split())[:160])
    return found
