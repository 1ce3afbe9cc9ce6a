"""How text becomes index terms: the same folding for the catalog and for queries, so they always meet."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+")
# The Unicode blocks of combining marks (accents), which NFKD splits off their letters.
_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


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
