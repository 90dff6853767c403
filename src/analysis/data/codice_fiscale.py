"""Italian codice fiscale: format, check character, masking, and synthetic codes for fixtures.

The codice fiscale of a person has 16 characters: 3 letters of the surname, 3 of the name,
2 digits of the birth year, a month letter, 2 digits of the birth day (+40 for women), the
4-character *codice catastale* of the birth municipality (``Z…`` for a foreign country) and a
check character computed from the first 15 (Decreto ministeriale 23 dicembre 1976).  *Omocodia*
replaces digits with letters (L M N P Q R S T U V for 0–9) when two people would share a code;
such codes are valid.

Written by hand: no well-kept PyPI package covers validation, masking and generation together
(``python-codicefiscale`` validates and encodes but pulls a municipality database the evaluation
does not need); the rules are a few lines of the decree.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "born_abroad",
    "check_character",
    "is_valid",
    "is_valid_array",
    "normalise_array",
    "mask",
    "normalise",
    "synthetic_code",
]

_OMOCODIA = "LMNPQRSTUV"
_FORMAT = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
_ODD = dict(
    zip(
        string.digits + string.ascii_uppercase,
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21]
        + [
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ],
        strict=True,
    )
)
_EVEN = {
    c: (int(c) if c.isdigit() else ord(c) - ord("A"))
    for c in string.digits + string.ascii_uppercase
}
_MONTHS = "ABCDEHLMPRST"


def normalise(code: object) -> str:
    """Upper case without spaces, dots or dashes (how schools type it differs)."""
    return re.sub(r"[\s.\-]", "", str(code)).upper()


def check_character(first15: str) -> str:
    """The check character of the first 15 characters of a codice fiscale."""
    total = sum(
        (_ODD if i % 2 == 0 else _EVEN)[c]
        for i, c in enumerate(first15)  # positions 1, 3, … odd
    )
    return chr(ord("A") + total % 26)


def is_valid(code: object) -> bool:
    """Whether ``code`` (after :func:`normalise`) has the format and the right check character."""
    c = normalise(code)
    return bool(_FORMAT.match(c)) and check_character(c[:15]) == c[15]


def normalise_array(codes: pd.Series) -> pd.Series:
    """:func:`normalise` of a whole column (missing cells stay missing)."""
    text = codes.astype("str").where(codes.notna())
    arr = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    arr = pc.utf8_upper(pc.replace_substring_regex(arr, r"[\s.\-]", ""))  # RE2, whole column
    return pd.Series(arr.to_numpy(zero_copy_only=False), index=codes.index, dtype="str")


# check-character tables indexed by the byte of an upper-case letter or digit
_ODD_TABLE = np.zeros(256, dtype=np.int64)
_EVEN_TABLE = np.zeros(256, dtype=np.int64)
for _c, _v in _ODD.items():
    _ODD_TABLE[ord(_c)] = _v
for _c, _v in _EVEN.items():
    _EVEN_TABLE[ord(_c)] = _v


def is_valid_array(codes: pd.Series) -> np.ndarray:
    """:func:`is_valid` of a whole column at once (numpy over the 16 bytes of each code).

    Missing cells are invalid.  Same answer as ``codes.map(is_valid)`` (tested on many
    generated codes), without a Python call per cell.
    """
    norm = normalise_array(codes)
    ok = norm.str.match(_FORMAT.pattern).fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(norm), dtype=bool)
    if not ok.any():
        return out
    text = norm[ok].to_numpy(dtype=object).astype("S16")  # ASCII: the format guarantees it
    b = np.frombuffer(text.tobytes(), dtype=np.uint8).reshape(-1, 16)
    total = _ODD_TABLE[b[:, 0:15:2]].sum(axis=1) + _EVEN_TABLE[b[:, 1:15:2]].sum(axis=1)
    out[ok] = (total % 26 + ord("A")) == b[:, 15]
    return out


def mask(code: object) -> str:
    """First three and last character only (``RSS•••••••••••Z``): for reports and errors."""
    c = normalise(code)
    if len(c) < 5:
        return "•" * len(c)
    return c[:3] + "•" * (len(c) - 4) + c[-1]


def born_abroad(code: object) -> bool:
    """Whether the birth place of a valid code is a foreign country (codice catastale ``Z…``)."""
    return normalise(code)[11:12] == "Z"


def _letters(word: str, *, name: bool) -> str:
    w = re.sub(r"[^A-Z]", "", word.upper())
    cons = [c for c in w if c not in "AEIOU"]
    vow = [c for c in w if c in "AEIOU"]
    if name and len(cons) >= 4:
        cons = [cons[0], cons[2], cons[3]]
    return ("".join(cons + vow) + "XXX")[:3]


def synthetic_code(
    surname: str, name: str, year: int, month: int, day: int, *, female: bool, place: str
) -> str:
    """A well-formed code for *fictitious* people (test fixtures only; never real people)."""
    dd = day + (40 if female else 0)
    first15 = (
        _letters(surname, name=False)
        + _letters(name, name=True)
        + f"{year % 100:02d}"
        + _MONTHS[month - 1]
        + f"{dd:02d}"
        + place
    )
    return first15 + check_character(first15)


# printable ASCII and the spaces Python's \s and RE2's \s agree on: there the whole-column
# normalisation (RE2, pyarrow's upper case) equals :func:`normalise` cell by cell
_SAFE_TEXT_RE2 = r"^[\x20-\x7e\t\n\f\r]*$"


def mask_array(codes: pd.Series) -> np.ndarray | None:
    """``mask(c) if c else ""`` of every cell of a text column, or None when it cannot tell.

    Whole-column (pyarrow) for cells that are text or ``None`` in printable ASCII; ``None``
    (the caller masks cell by cell) for any other cell — a number, a NaN, a non-ASCII letter
    whose upper case Python and pyarrow write differently.  Same strings as the scalar rule
    (tests/test_intake.py compares them).
    """
    obj = codes.to_numpy(dtype=object)
    if len(obj) == 0 or pd.api.types.infer_dtype(obj, skipna=True) not in ("string", "empty"):
        return None
    na = pd.isna(obj)
    if na.any() and not all(v is None for v in obj[na]):
        return None  # a NaN is truthy: mask("nan"), as the scalar rule writes it
    arr = pa.array(obj, type=pa.string(), from_pandas=True)
    if pc.any(pc.invert(pc.match_substring_regex(arr, _SAFE_TEXT_RE2))).as_py():
        return None
    norm = pc.utf8_upper(pc.replace_substring_regex(arr, r"[\s.\-]", ""))
    length = pc.utf8_length(norm)
    middle = pc.binary_repeat("•", pc.max_element_wise(pc.subtract(length, 4), 0))
    long = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(norm, 0, 3), middle, pc.utf8_slice_codeunits(norm, -1), ""
    )
    short = pc.binary_repeat("•", length)
    out = pc.if_else(pc.less(length, 5), short, long)
    # falsy cells (None, "") give "" as the scalar rule's ``if c`` does
    out = pc.if_else(pc.or_kleene(pc.is_null(arr), pc.equal(arr, "")), "", out)
    return np.asarray(out.to_numpy(zero_copy_only=False), dtype=object)
