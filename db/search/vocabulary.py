"""Synonyms and stopwords from vocabulary.yaml, folded the way the index folds text; and abbreviations learned from
the catalog itself ("Natural Language Processing (NLP)"), merged with that hand-written table by the index."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from db.search.text import fold, stem, surface_words

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yaml")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    synonyms: dict[Phrase, tuple[Phrase, ...]]
    stopwords: frozenset[str]
    longest_phrase: int = 1

    @classmethod
    def from_mapping(cls, data: dict) -> Vocabulary:
        """Raises ValueError on an entry that is not text: YAML reads a bare on, no, yes or off as a boolean."""
        entries = [entry for group in data.get("synonyms", []) for entry in group] + list(data.get("stopwords", []))
        if not_text := [entry for entry in entries if not isinstance(entry, str)]:
            raise ValueError(f"vocabulary entries must be text, quote them: {not_text}")
        synonyms: dict[Phrase, set[Phrase]] = {}
        for group in data.get("synonyms", []):
            phrases = [tuple(stem(word) for word in surface_words(entry)) for entry in group]
            phrases = [phrase for phrase in phrases if phrase]
            for phrase in phrases:
                synonyms.setdefault(phrase, set()).update(other for other in phrases if other != phrase)
        return cls(
            synonyms={phrase: tuple(sorted(others)) for phrase, others in synonyms.items()},
            stopwords=frozenset(word.lower() for word in data.get("stopwords", [])),
            longest_phrase=max((len(phrase) for phrase in synonyms), default=1),
        )

    def with_abbreviations(self, learned: dict[str, tuple[Phrase, ...]]) -> Vocabulary:
        """This table plus abbreviations learned from a catalog, each leading to its expansions. Only that way round:
        a query for "neural networks" is not narrowed to one short form a few talks chose."""
        if not learned:
            return self
        synonyms = dict(self.synonyms)
        for short, expansions in learned.items():
            if short in self.stopwords:
                continue
            known = synonyms.get((short,), ())
            synonyms[(short,)] = known + tuple(phrase for phrase in expansions if phrase not in known)
        return Vocabulary(synonyms, self.stopwords, self.longest_phrase)


@cache
def default_vocabulary() -> Vocabulary:
    return Vocabulary.from_mapping(yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8")))


# Abbreviations written beside what they stand for, "Long Form (LF)" or "sklearn (scikit-learn)", found with
# Schwartz & Hearst's rule (2003): the long form is the shortest run of words just before the parenthesis that holds
# the short form's letters in order, its first letter starting a word; here every content word of the long form must
# also give its first letter to the short form, which keeps out chance matches of ordinary words.
_PARENTHESIS = re.compile(r"\(([^()]{1,60})\)")
_LOOK_BACK = 200  # characters before a parenthesis that may hold its long form
_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_SHORT_FORM = re.compile(r"[^\W_]*[^\W\d_][^\W_]*")
_NOT_INITIAL = frozenset("of and the for to in with a an on as at by".split())
_NOT_FIRST = frozenset("of and or for to in with on as at by".split())


def _long_form(words: list[str], short: str) -> str | None:
    text, letters = " ".join(words).lower(), short.lower()
    at = len(text) - 1
    for position in range(len(letters) - 1, -1, -1):
        letter = letters[position]
        while at >= 0 and (text[at] != letter or (position == 0 and at > 0 and text[at - 1].isalnum())):
            at -= 1
        if at < 0:
            return None
        at -= 1
    return text[text.rfind(" ", 0, at + 1) + 1 :]


def _pairs(text: str) -> Iterable[tuple[str, str]]:
    """(short form, long form) pairs written in `text`."""
    for match in _PARENTHESIS.finditer(text):
        start = match.start()
        preceding = text[max(0, start - _LOOK_BACK) : start]
        before = _TOKEN.findall(preceding[max(preceding.rfind("("), preceding.rfind(")")) + 1 :])
        inside = match.group(1).strip()
        if not before:
            continue
        inner = inside.split()
        if len(inner) == 1 and _SHORT_FORM.fullmatch(inner[0]):
            short, words = inner[0], before  # Natural Language Processing (NLP)
        elif len(inner) > 1 or "-" in inside:
            short, words = before[-1], _TOKEN.findall(inside)  # sklearn (scikit-learn)
        else:
            continue
        if not 2 <= len(short) <= 10 or not _SHORT_FORM.fullmatch(short):
            continue
        found = _long_form(words[-min(len(short) + 5, 2 * len(short)) :], short)
        if not found or len(surface_words(found)) < 2 or short.lower() in surface_words(found):
            continue
        tokens = [token.lower() for token in _TOKEN.findall(found)]
        if tokens[0] in _NOT_FIRST:
            continue
        letters, at = short.lower(), 0
        for initial in (token[0] for token in tokens if token not in _NOT_INITIAL):
            at = letters.find(initial, at) + 1
            if not at:
                break
        else:
            yield short, found


Mention = tuple[str, Phrase]  # an abbreviation and the long form one text gives it, as index terms


def abbreviation_mentions(text: str) -> list[Mention]:
    """The (short form, long form) pairs `text` writes, as index terms, in the order written."""
    return [(stem(fold(short)), tuple(stem(word) for word in surface_words(found))) for short, found in _pairs(text)]


def learn_abbreviations(texts: Iterable[str]) -> dict[str, tuple[Phrase, ...]]:
    """What a catalog of `texts` teaches: see `learned_abbreviations`."""
    return learned_abbreviations(mention for text in texts for mention in abbreviation_mentions(text))


def learned_abbreviations(mentions: Iterable[Mention]) -> dict[str, tuple[Phrase, ...]]:
    """Short form -> the long forms a catalog gives it, most used first; a long form used less than a third as often as
    the short form's usual one is left out ("CI" is continuous integration, not the one conditional independence).
    Ties go to the form mentioned first, so `mentions` come in catalog order (the index keeps each talk's)."""
    counts: dict[str, Counter[Phrase]] = defaultdict(Counter)
    for short, phrase in mentions:
        counts[short][phrase] += 1
    learned = {}
    for short, forms in counts.items():
        ranked = forms.most_common(3)
        learned[short] = tuple(form for form, seen in ranked if 3 * seen >= ranked[0][1])
    return learned
