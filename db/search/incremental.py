"""Bringing a lexical index up to date with the few talks a catalog change touched, without reading the others again.

An index keeps every talk's words (index.TalkWords). An update reads only the changed talks' words, puts them in
place of their old ones (talks stay in talk id order), and assembles the index again from all the words, in numpy:
everything that depends on the whole catalog (BM25's average field lengths, the vocabulary, hyphenated compounds,
learned abbreviations, the static order of talks) is worked out afresh, so the result is the index a full build of
the catalog would make, array for array. What a full build learns from the order it meets words in (each term's
surface, the order compounds are made in) it learns from the order of the words' first writing in the catalog; the
update numbers its terms by that order too (`_numbered_by_first_writing`).
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Collection, Sequence

import numpy as np

from db.search.index import (
    BARE_FORM,
    FIELD_NAMES,
    IES_PLURAL,
    INFLECTED_FORM,
    CatalogIndex,
    CatalogWords,
    Mention,
    TalkText,
    TalkWords,
    assembled,
    hyphenated_words,
    language_key,
    release_free_memory,
    talk_mentions,
    word_code,
)
from db.search.text import FIELD_END, fields_words, stem

FIELD_BITS = list(FIELD_NAMES)  # a field's bit by its place among a talk's fields


def updated_index(previous: CatalogIndex, talks: Sequence[TalkText], changed: Collection[int]) -> CatalogIndex:
    """`previous` with the talks whose ids are in `changed` replaced by `talks` (those of them that still exist;
    a changed talk missing from `talks` was deleted). `previous` holds its talks in talk id order, as every index
    build_indexes makes does."""
    changed_ids = np.array(sorted(set(changed)), dtype=np.int64)
    talks = sorted(talks, key=lambda talk: talk.talk_id)
    fresh = _FreshWords(previous.vocabulary, previous.postings.position)
    for talk in talks:
        fresh.read(talk)
    words = previous.words
    sizes = np.diff(words.starts)
    stays = ~np.isin(previous.talk_ids, changed_ids)
    kept = np.flatnonzero(stays)  # the documents that stay as they are
    kept_rows = np.repeat(stays, sizes)
    kept_starts = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(sizes[kept], out=kept_starts[1:])
    new_ids = np.array([talk.talk_id for talk in talks], dtype=np.int64)
    before = np.searchsorted(previous.talk_ids[kept], new_ids)  # each new talk goes before this kept one
    new_sizes = np.array(fresh.sizes, dtype=np.int64)
    row_before = np.repeat(kept_starts[before], new_sizes)
    terms = np.insert(words.terms[kept_rows], row_before, np.frombuffer(fresh.terms, dtype=np.int32))
    codes = np.insert(words.codes[kept_rows], row_before, np.frombuffer(fresh.codes, dtype=np.uint8))
    del kept_rows, row_before
    starts = np.zeros(len(kept) + len(talks) + 1, dtype=np.int64)
    np.cumsum(np.insert(sizes[kept], before, new_sizes), out=starts[1:])
    lengths = np.frombuffer(fresh.lengths, dtype=np.uint16).reshape(-1, len(FIELD_NAMES))
    kept_pairs = ~np.isin(words.hyphen_talks, changed_ids)
    hyphen_talks = np.concatenate([words.hyphen_talks[kept_pairs], np.frombuffer(fresh.hyphen_talks, dtype=np.int64)])
    hyphen_pairs = np.concatenate(
        [words.hyphen_pairs[kept_pairs], np.frombuffer(fresh.hyphen_terms, dtype=np.int32).reshape(-1, 2)]
    )
    changed_set = set(changed_ids.tolist())
    mentions = heapq.merge(
        (mentioned for mentioned in words.mentions if mentioned[0] not in changed_set),
        fresh.mentions,
        key=lambda mentioned: mentioned[0],
    )
    names, first_codes, renumbered = _numbered_by_first_writing(terms, codes, previous.vocabulary + fresh.names)
    catalog = CatalogWords(
        names=names,
        first_codes=first_codes,
        words=TalkWords(
            terms=renumbered[terms], codes=codes, starts=starts,
            field_lengths=np.insert(words.field_lengths[kept], before, lengths, axis=0),
            hyphen_talks=hyphen_talks, hyphen_pairs=renumbered[hyphen_pairs], mentions=tuple(mentions),
        ),
        talk_ids=np.insert(previous.talk_ids[kept], before, new_ids),
        years=np.insert(previous.years[kept], before, [talk.year for talk in talks]),
        recommended=np.insert(previous.recommended[kept], before, [talk.recommended for talk in talks]),
        has_video=np.insert(previous.has_video[kept], before, [talk.has_video for talk in talks]),
        durations=np.insert(previous.durations[kept], before, [talk.duration_minutes for talk in talks]),
        languages=np.insert(previous.languages[kept], before, [language_key(talk.language) for talk in talks]),
        recorded=np.insert(previous.recorded[kept], before, [talk.recorded_on for talk in talks]),
    )  # fmt: skip
    del terms, codes
    index = CatalogIndex.from_parts(**assembled(catalog))
    release_free_memory()
    return index


def _numbered_by_first_writing(
    terms: np.ndarray, codes: np.ndarray, names: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Number the terms written in `terms` (ids into `names`) in the order the catalog first writes them, as a full
    build does: (their names in that order, the code of each one's first writing, old id -> new id)."""
    first = np.full(len(names), len(terms), dtype=np.int64)
    np.minimum.at(first, terms, np.arange(len(terms), dtype=np.int64))
    written = np.flatnonzero(first < len(terms))
    order = written[np.argsort(first[written])]
    renumbered = np.full(len(names), -1, dtype=np.int32)
    renumbered[order] = np.arange(len(order), dtype=np.int32)
    first_codes = codes[first[order]] & (BARE_FORM | INFLECTED_FORM | IES_PLURAL)
    return [names[term] for term in order.tolist()], first_codes, renumbered


class _FreshWords:
    """The words of the changed talks, as a full build reads them; terms are numbered after `vocabulary`'s
    positions (a term new to the index gets the next number)."""

    def __init__(self, vocabulary: list[str], position) -> None:
        self._first_new, self._position = len(vocabulary), position
        self._new: dict[str, int] = {}
        self.names: list[str] = []  # the new terms
        self.terms, self.codes, self.lengths, self.sizes = array("i"), array("B"), array("H"), []
        self.hyphen_talks, self.hyphen_terms = array("q"), array("i")
        self.mentions: list[tuple[int, tuple[Mention, ...]]] = []

    def term_id(self, term: str) -> int:
        at = self._position(term)
        if at >= 0:
            return at
        if term not in self._new:
            self._new[term] = self._first_new + len(self.names)
            self.names.append(term)
        return self._new[term]

    def read(self, talk: TalkText) -> None:
        fields = (talk.title, " ".join(talk.tags), " ".join(talk.speakers), talk.event, talk.summary)
        field, length, size = 0, 0, 0
        for word in fields_words(fields):
            if word == FIELD_END:
                self.lengths.append(min(length, 65535))
                field, length = field + 1, 0
                continue
            term = stem(word)
            self.terms.append(self.term_id(term))
            self.codes.append(FIELD_BITS[field] | word_code(word, term))
            length += 1
            size += 1
        self.sizes.append(size)
        pairs = {(self.term_id(stem(first)), self.term_id(stem(second))) for first, second in hyphenated_words(fields)}
        for pair in pairs:
            self.hyphen_talks.append(talk.talk_id)
            self.hyphen_terms.extend(pair)
        spelled_out = talk_mentions(talk)
        if spelled_out:
            self.mentions.append((talk.talk_id, spelled_out))
