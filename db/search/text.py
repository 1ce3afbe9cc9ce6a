"""How text becomes index terms: the same folding for the catalog and for queries, so they always meet."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+")
# The Unicode blocks of combining marks (accents), which NFKD splits off their letters.
_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Closes each field's words in `fields_words`. Not a word character, so it never joins or splits words differently.
FIELD_END = "\x00"
_FIELD_GLUE = f" {FIELD_END} "
_WORD_OR_FIELD_END = re.compile(rf"[^\W_]+|{FIELD_END}")
# In ASCII text a word is a run of letters and digits: every other character becomes a space, so str.split finds the
# same words as _WORD, several times faster.
_ASCII_BREAKS = str.maketrans(
    {chr(code): " " for code in range(128) if not chr(code).isalnum() and chr(code) != FIELD_END}
)


def fold(text: str) -> str:
    """Lowercase without accents: 'Ünïcode Talk' -> 'unicode talk'."""
    if text.isascii():
        return text.lower()
    return _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", text.lower()))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Fold an English plural onto its singular ('databases' -> 'database') so either finds both."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) and not word[-2].isdigit():
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of a piece of text, in order, repeats kept."""
    return [stem(word) for word in _WORD.findall(fold(text))]


def surface_words(text: str) -> list[str]:
    """Words as a reader would spell them (folded but not stemmed), for suggestions."""
    return _WORD.findall(fold(text))


def fields_words(fields: Sequence[str]) -> list[str]:
    """The surface words of several fields, each field's followed by FIELD_END, for the index build's hot loop: one
    fold and one split per talk instead of one per field. The words are exactly those `surface_words` gives field by
    field, as folding and splitting never reach across the spaces around FIELD_END."""
    text = fold(_FIELD_GLUE.join(fields)) + _FIELD_GLUE
    if text.count(FIELD_END) != len(fields):  # a field holds the marker itself: split it field by field
        words = []
        for field in fields:
            words += surface_words(field)
            words.append(FIELD_END)
        return words
    if text.isascii():
        return text.translate(_ASCII_BREAKS).split()
    return _WORD_OR_FIELD_END.findall(text)
