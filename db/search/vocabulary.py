"""Synonyms and stopwords from vocabulary.yaml, folded the way the index folds text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from db.search.text import stem, surface_words

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yaml")

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    synonyms: dict[Phrase, tuple[Phrase, ...]]
    stopwords: frozenset[str]
    longest_phrase: int = 1

    @classmethod
    def from_mapping(cls, data: dict) -> Vocabulary:
        synonyms: dict[Phrase, set[Phrase]] = {}
        for group in data.get("synonyms", []):
            phrases = [tuple(stem(word) for word in surface_words(str(entry))) for entry in group]
            phrases = [phrase for phrase in phrases if phrase]
            for phrase in phrases:
                synonyms.setdefault(phrase, set()).update(other for other in phrases if other != phrase)
        return cls(
            synonyms={phrase: tuple(sorted(others)) for phrase, others in synonyms.items()},
            stopwords=frozenset(str(word).lower() for word in data.get("stopwords", [])),
            longest_phrase=max((len(phrase) for phrase in synonyms), default=1),
        )


@cache
def default_vocabulary() -> Vocabulary:
    return Vocabulary.from_mapping(yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8")))
