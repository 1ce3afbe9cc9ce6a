"""An in-memory inverted index of the catalog: term -> (talks, fields), plus the vocabulary to resolve typos.

Queries never scan talks. Each query word is first matched against the catalog's vocabulary (exact, prefix,
typo within an edit budget, synonym) with rapidfuzz, and only the postings of the matching terms are read.
Postings are numpy arrays, so ranking a word found in most of a million talks is a few vector operations.

All postings live in three arrays laid end to end in vocabulary order (documents, field masks, weights), with one
offset per vocabulary term saying where its posting starts (a CSR layout): a few large arrays instead of three small
ones per term, which costs less memory, builds without a sort of the whole catalog's words, and is saved to and
memory-mapped from a snapshot as it is (db/search/snapshot.py).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import datetime as dt
import math
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.languages import primary
from db.models import RECOMMENDED, Event, Link, Speaker, Tag, Talk, TalkSpeaker, talk_tags
from db.records import TalkRecord
from db.search.text import FIELD_END, fields_words, fold, stem
from db.search.vocabulary import Mention, Vocabulary, abbreviation_mentions, learned_abbreviations

# Fields are bits, so one byte per posting says every field a term appears in for that talk.
TITLE, TAGS, SPEAKERS, EVENT, SUMMARY = 1, 2, 4, 8, 16
FIELD_NAMES = {TITLE: "title", TAGS: "tags", SPEAKERS: "speakers", EVENT: "event", SUMMARY: "summary"}
FIELD_WEIGHTS = {TITLE: 5, TAGS: 5, SPEAKERS: 3, EVENT: 2, SUMMARY: 1}
ANY_FIELD = TITLE | TAGS | SPEAKERS | EVENT | SUMMARY
# Beside the fields, a posting says how the talk writes the term: as the term itself ("chao") or inflected ("chaos"),
# so a query for "chaos" can tell a talk about chaos from one by Ryan Chao although both index the term "chao".
BARE_FORM, INFLECTED_FORM = 32, 64
# Kept with a talk's words (never in a posting): an inflected word written with -ies for its term's -y ("libraries",
# term "library"). With the form, it gives the word back from its term (`written_word`).
IES_PLURAL = 128
POSTED = ANY_FIELD | BARE_FORM | INFLECTED_FORM  # what of a written word's code a posting's mask holds
# BM25F: a word's count in each field, weighted by the field, normalised by the field's length against the average.
BM25_K1, BM25_B = 1.2, 0.75
FIELD_COLUMN = np.zeros(SUMMARY + 1, dtype=np.intp)  # field bit -> its column in a talk's field lengths
FIELD_COLUMN[[TITLE, TAGS, SPEAKERS, EVENT, SUMMARY]] = range(5)
BM25_WEIGHT = np.array([FIELD_WEIGHTS[field] for field in FIELD_NAMES], dtype=np.float32)
# Words joined by hyphens ("on-call", "state-of-the-art"), in folded text.
HYPHENATED = re.compile(r"[^\W_]+(?:-[^\W_]+)+")

# For each of the 32 field masks: the weight of its best field, and the sum of all its fields' weights.
BEST_WEIGHT = np.array([max((w for f, w in FIELD_WEIGHTS.items() if m & f), default=0) for m in range(32)])
WEIGHT_SUM = np.array([sum(w for f, w in FIELD_WEIGHTS.items() if m & f) for m in range(32)])


DEFAULT_LANGUAGE = "en"  # what the catalog assumes a talk is in when its source does not say (db/models.py Talk)
LANGUAGE_BYTES = 3  # the index keeps a language's primary subtag ("pt" of "pt-br"): ISO 639-1, or 639-3 when no 639-1


def language_key(language: str) -> bytes:
    """The primary subtag of a stored language code, as the index holds it: "pt-br" and "pt_BR" are both b"pt"."""
    return primary(language)[:LANGUAGE_BYTES].encode("ascii", "replace")


def day_number(day: dt.date | None) -> int:
    """A date as the index holds it (its proleptic ordinal, so newer is larger); 0 for no date."""
    return day.toordinal() if day else 0


def field_names(mask: int) -> list[str]:
    return [name for bit, name in FIELD_NAMES.items() if mask & bit]


@dataclass(frozen=True)
class TalkText:
    """What the index needs of one talk."""

    talk_id: int
    title: str
    tags: tuple[str, ...]
    speakers: tuple[str, ...]
    event: str
    summary: str
    year: int
    recommended: bool
    has_video: bool
    duration_minutes: int = 0  # 0: unknown
    language: str = DEFAULT_LANGUAGE  # as the importers store it (db/importers/fields.py language_code)
    recorded_on: int = 0  # the recording date's proleptic ordinal (date.toordinal()); 0: unknown

    @classmethod
    def from_record(cls, talk_id: int, record: TalkRecord) -> TalkText:
        """Index text straight from an importer's record, for indexes built without a database."""
        event = record.event
        return cls(
            talk_id=talk_id,
            title=record.title,
            tags=record.tags,
            speakers=tuple(speaker.name for speaker in record.speakers),
            event=" ".join(part for part in (event.series, event.name, event.city) if part) if event else "",
            summary=record.summary,
            year=event.year if event else 0,
            recommended=record.verdict == RECOMMENDED,
            has_video=any(link.kind == "video" for link in record.links),
            duration_minutes=record.duration_minutes or 0,
            language=record.language,
            recorded_on=day_number(record.recorded_on),
        )

    def fields(self) -> Iterable[tuple[int, str]]:
        yield TITLE, self.title
        yield TAGS, " ".join(self.tags)
        yield SPEAKERS, " ".join(self.speakers)
        yield EVENT, self.event
        yield SUMMARY, self.summary


@dataclass(frozen=True)
class Posting:
    docs: np.ndarray  # document numbers (int32), ascending
    masks: np.ndarray  # the fields the term appears in, per document, and the forms it is written in (uint8)
    weights: np.ndarray  # BM25F's saturated term frequency per document, 0..255 for 0..1 (uint8)

    def mask_of(self, doc: int) -> int:
        """The fields for one document, 0 when the term is not in it."""
        at = int(np.searchsorted(self.docs, doc))
        return int(self.masks[at]) if at < len(self.docs) and self.docs[at] == doc else 0


class Postings(Mapping[str, Posting]):
    """term -> its Posting, as views into the index's CSR arrays (nothing copied). A term is found by bisection of
    the sorted vocabulary, so no dictionary of a million terms is kept."""

    def __init__(
        self, vocabulary: list[str], offsets: np.ndarray, docs: np.ndarray, masks: np.ndarray, weights: np.ndarray
    ) -> None:
        self.vocabulary, self.offsets, self.docs, self.masks, self.weights = vocabulary, offsets, docs, masks, weights

    def position(self, term: str) -> int:
        """The term's place in the vocabulary, or -1."""
        at = bisect.bisect_left(self.vocabulary, term)
        return at if at < len(self.vocabulary) and self.vocabulary[at] == term else -1

    def at(self, position: int) -> Posting:
        begin, end = int(self.offsets[position]), int(self.offsets[position + 1])
        return Posting(self.docs[begin:end], self.masks[begin:end], self.weights[begin:end])

    def __getitem__(self, term: str) -> Posting:
        position = self.position(term)
        if position < 0:
            raise KeyError(term)
        return self.at(position)

    def get(self, term: str, default: Posting | None = None) -> Posting | None:
        position = self.position(term)
        return self.at(position) if position >= 0 else default

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.position(term) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self.vocabulary)

    def __len__(self) -> int:
        return len(self.vocabulary)


class TermFields(Mapping[str, int]):
    """term -> every field it appears in anywhere (a mask), read from an array aligned to the vocabulary."""

    def __init__(self, postings: Postings, fields: np.ndarray) -> None:
        self.postings, self.fields = postings, fields

    def __getitem__(self, term: str) -> int:
        position = self.postings.position(term)
        if position < 0:
            raise KeyError(term)
        return int(self.fields[position])

    def __iter__(self) -> Iterator[str]:
        return iter(self.postings)

    def __len__(self) -> int:
        return len(self.postings)


class Surfaces(Mapping[str, str]):
    """term -> a word the catalog writes it as ("chaos" for the term "chao"). Only the terms written otherwise than
    themselves are stored; every other vocabulary term is its own surface."""

    def __init__(self, postings: Postings, differing: dict[str, str]) -> None:
        self.postings, self.differing = postings, differing

    def __getitem__(self, term: str) -> str:
        found = self.differing.get(term)
        if found is not None:
            return found
        if term in self.postings:
            return term
        raise KeyError(term)

    def __iter__(self) -> Iterator[str]:
        return iter(self.postings)

    def __len__(self) -> int:
        return len(self.postings)


# Typo candidates are bucketed by (length, letter); a bucket's key is length * LETTERS + the letter's code point.
LETTERS = 0x110000


def word_code(word: str, term: str) -> int:
    """How `word` writes its term `term` (= stem(word)): BARE_FORM, or INFLECTED_FORM with IES_PLURAL for -ies."""
    if word == term:
        return BARE_FORM
    return INFLECTED_FORM | (IES_PLURAL if len(word) - len(term) == 2 else 0)


def written_word(term: str, code: int) -> str:
    """The word a code of `word_code` says writes `term`: the inverse of stem() for that form."""
    if code & IES_PLURAL:
        return term[:-1] + "ies"
    return term + "s" if code & INFLECTED_FORM else term


def hyphenated_words(fields: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(word, next word) pairs the fields join with a hyphen: "on-call" gives ("on", "call")."""
    for text in fields:
        if "-" in text:
            for compound in HYPHENATED.findall(fold(text)):
                parts = compound.split("-")
                yield from zip(parts, parts[1:], strict=False)


def talk_mentions(talk: TalkText) -> tuple[Mention, ...]:
    """The abbreviations a talk's title and summary spell out, in the order written."""
    texts = [text for text in (talk.title, talk.summary) if "(" in text]
    return tuple(mention for text in texts for mention in abbreviation_mentions(text))


@dataclass(frozen=True)
class TalkWords:
    """What each talk writes, the input of an index's assembly, kept in the index so that an update re-reads only
    the talks a change touched (db/search/incremental.py). Words are rows in talk order, then as written; `terms`
    are term ids (vocabulary positions, in an index)."""

    terms: np.ndarray  # int32 per word written: its term
    codes: np.ndarray  # uint8 per word written: its field bit | word_code
    starts: np.ndarray  # int64 per talk, and one past the last: where its words start
    field_lengths: np.ndarray  # uint16 (talks, 5): each field's length in words (at most 65535)
    hyphen_talks: np.ndarray  # int64: a talk joining two words with a hyphen...
    hyphen_pairs: np.ndarray  # int32 (pairs, 2): ...and the terms it joins (each pair once a talk)
    mentions: tuple[tuple[int, tuple[Mention, ...]], ...]  # (talk id, what it spells out), talks in index order


@dataclass(frozen=True)
class CatalogWords:
    """Everything an index is assembled from. Terms are numbered in the order the catalog first writes them, talk
    after talk, as a full build meets them and as an update renumbers them: a term's surface (how it is first
    written) and the order hyphenated compounds are made in follow that numbering, so an index updated with a few
    talks is the same as one built afresh."""

    names: list[str]  # the term of each term id
    first_codes: np.ndarray  # uint8 per term id: the word_code of its first writing (its surface)
    words: TalkWords
    talk_ids: np.ndarray  # int64
    years: np.ndarray  # int32
    recommended: np.ndarray  # bool
    has_video: np.ndarray  # bool
    durations: np.ndarray  # int16 minutes, 0: unknown
    languages: np.ndarray  # S3: language_key
    recorded: np.ndarray  # int32 day_number, 0: unknown


class CatalogIndex:
    def __init__(self, talks: Iterable[TalkText]) -> None:
        self._assemble(**assembled(_read_words(talks)))
        release_free_memory()

    @classmethod
    def from_parts(cls, **parts) -> CatalogIndex:
        """An index from the arrays and tables of one already built (a snapshot's): see `_assemble`."""
        index = cls.__new__(cls)
        index._assemble(**parts)
        return index

    def _assemble(
        self,
        *,
        vocabulary: list[str],
        offsets: np.ndarray,
        docs: np.ndarray,
        masks: np.ndarray,
        weights: np.ndarray,
        term_fields: np.ndarray,
        talk_ids: np.ndarray,
        years: np.ndarray,
        recommended: np.ndarray,
        has_video: np.ndarray,
        durations: np.ndarray,
        languages: np.ndarray,
        recorded: np.ndarray,
        prior: np.ndarray,
        by_talk_id: np.ndarray,
        surfaces: dict[str, str],
        abbreviations: dict[str, tuple[tuple[str, ...], ...]],
        typo_buckets: dict[str, np.ndarray],
        words: TalkWords,
    ) -> None:
        self.vocabulary = vocabulary  # every term, sorted
        # The CSR layout: the posting of vocabulary[i] is docs/masks/weights[offsets[i]:offsets[i + 1]].
        self.offsets, self.posting_docs, self.posting_masks, self.posting_weights = offsets, docs, masks, weights
        self.term_fields = term_fields  # per vocabulary term, every field it appears in
        self.talk_ids, self.years, self.prior, self._by_talk_id = talk_ids, years, prior, by_talk_id
        self.recommended, self.has_video = recommended, has_video
        self.durations, self.languages, self.recorded = durations, languages, recorded  # the length, lang: and sort:
        self.abbreviations = abbreviations
        self.postings = Postings(vocabulary, offsets, docs, masks, weights)
        self.fields_of = TermFields(self.postings, term_fields)
        self.surfaces = Surfaces(self.postings, surfaces)
        # How many talks use each vocabulary term, in vocabulary order: prefix lookups rank a range of it at once.
        self._vocabulary_doc_freq = np.diff(offsets)
        self.typo_buckets = typo_buckets
        self.words = words  # what each talk writes, terms as vocabulary positions: what an update starts from
        self._buckets: dict[tuple[str, int], list[str]] = {}
        self._merged: tuple[Vocabulary, Vocabulary] | None = None

    def __len__(self) -> int:
        return len(self.talk_ids)

    def doc_of(self, talk_id: int) -> int | None:
        """The document number of a talk, or None when the index does not hold it."""
        at = int(np.searchsorted(self.talk_ids, talk_id, sorter=self._by_talk_id))
        if at < len(self.talk_ids) and self.talk_ids[self._by_talk_id[at]] == talk_id:
            return int(self._by_talk_id[at])
        return None

    def doc_freq(self, term: str) -> int:
        position = self.postings.position(term)
        return int(self._vocabulary_doc_freq[position]) if position >= 0 else 0

    def idf(self, term: str) -> float:
        return math.log(1 + len(self) / (1 + self.doc_freq(term)))

    def prefixed(self, prefix: str, limit: int) -> list[str]:
        """The `limit` most common terms that start with `prefix` (the prefix itself excluded)."""
        start = bisect.bisect_right(self.vocabulary, prefix)
        end = bisect.bisect_left(self.vocabulary, prefix + "\U0010ffff", start)
        if end - start <= limit:
            return self.vocabulary[start:end]
        # A short prefix spans tens of thousands of terms at 1M talks: pick the most used with numpy, not a sort of
        # Python strings. Ties go to the earlier term, as positions in the range follow the vocabulary's order.
        span = end - start
        order = -self._vocabulary_doc_freq[start:end] * span + np.arange(span)  # most used first, then earlier
        top = np.argpartition(order, limit - 1)[:limit]
        return [self.vocabulary[start + int(at)] for at in top[np.argsort(order[top])]]

    def starting_like(self, term: str, spread: int) -> list[str]:
        """Vocabulary terms that start with `term`'s first letter and are at most `spread` letters longer or
        shorter: the only ones a word's ordinary typos can reach."""
        found: list[str] = []
        for length in range(max(1, len(term) - spread), len(term) + spread + 1):
            found += self._bucket("first", length, term[0])
        return found

    def _bucket(self, letter_at: str, length: int, letter: str) -> list[str]:
        """The typo candidates of `length` letters whose first (letter_at "first") or second ("second") letter is
        `letter`, in vocabulary order; each bucket is read out of the arrays once, when first asked for."""
        key = length * LETTERS + ord(letter)
        found = self._buckets.get((letter_at, key))
        if found is None:
            keys, terms = self.typo_buckets[f"{letter_at}_keys"], self.typo_buckets[f"{letter_at}_terms"]
            begin, end = np.searchsorted(keys, [key, key + 1]).tolist()
            found = self._buckets[(letter_at, key)] = [self.vocabulary[at] for at in terms[begin:end].tolist()]
        return found

    def _first_letter_edits(self, term: str) -> list[str]:
        """Terms that may differ from `term` by an edit at its first letter (changed, added, dropped or swapped):
        those whose first or second letter is `term`'s second, or whose second letter is `term`'s first."""
        found: list[str] = []
        for length in (len(term) - 1, len(term), len(term) + 1):
            if len(term) > 1:
                found += self._bucket("first", length, term[1])
                found += self._bucket("second", length, term[1])
            found += self._bucket("second", length, term[0])
        return found

    def within_typos(self, term: str, max_typos: int) -> list[tuple[str, int]]:
        """Vocabulary terms within `max_typos` edits, with what they cost, cheapest first. A swap of neighbours is one
        edit. An edit anywhere is allowed, the first letter included ("gafka" -> "kafka"), but one that touches the
        first letter costs one more (as in Meilisearch): people rarely get a word's first letter wrong."""
        cost: dict[str, int] = {}
        same_start = process.extract(
            term, self.starting_like(term, max_typos), scorer=OSA.distance, score_cutoff=max_typos, limit=None
        )
        for found, distance, _ in same_start:
            if distance:
                cost[found] = int(distance)
        for found, distance, _ in process.extract(
            term, self._first_letter_edits(term), scorer=OSA.distance, score_cutoff=max_typos, limit=None
        ):
            if found[0] != term[0] and found not in cost:
                cost[found] = int(distance) + 1
        return sorted(cost.items(), key=lambda item: (item[1], -self.doc_freq(item[0]), item[0]))

    def with_learned(self, vocabulary: Vocabulary) -> Vocabulary:
        """`vocabulary` with the abbreviations this catalog spells out ("Natural Language Processing (NLP)") added."""
        if self._merged is None or self._merged[0] is not vocabulary:
            self._merged = (vocabulary, vocabulary.with_abbreviations(self.abbreviations))
        return self._merged[1]


def release_free_memory() -> None:
    """Hand the build's freed working arrays back to the operating system. glibc keeps large freed blocks in the
    process for reuse; after a build they would stay resident (at 100k talks, about 230 MB beside a 130 MB index)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _read_words(talks: Iterable[TalkText]) -> CatalogWords:
    """Every word of every talk, terms numbered as first met: the full build's only work per word in Python."""
    term_ids: dict[str, int] = {}
    # Each surface word is stemmed once: its term, and how it writes that term.
    word_ids: dict[str, int] = {}
    word_terms, word_codes, first_codes = array("i"), array("B"), array("B")

    def word_id_of(word: str) -> int:
        term = stem(word)
        code = word_code(word, term)
        if term not in term_ids:
            term_ids[term] = len(term_ids)
            first_codes.append(code)
        word_ids[word] = len(word_terms)
        word_terms.append(term_ids[term])
        word_codes.append(code)
        return word_ids[word]

    # Compact machine arrays, not lists of Python ints: a million talks make ~60 million rows here, one per word
    # in the order written (repeats count towards a term's frequency; neighbours make compounds), and FIELD_END (-1)
    # after each of a talk's five fields. Which talk and field a row belongs to is worked out from those ends
    # afterwards, in numpy.
    word_ids[FIELD_END] = -1
    word_column = array("i")
    talk_ids, years, flags = array("q"), array("i"), array("B")
    durations, recorded, languages = array("h"), array("i"), bytearray()
    hyphen_talks, hyphen_terms = array("q"), array("i")  # (word, next word) joined with a hyphen: "on-call"
    mentions: list[tuple[int, tuple[Mention, ...]]] = []  # abbreviations spelled out: "Neural Networks (NN)"
    known = word_ids.__getitem__
    for talk in talks:
        talk_ids.append(talk.talk_id)
        years.append(talk.year)
        flags.append(2 * talk.recommended + talk.has_video)
        durations.append(talk.duration_minutes)
        recorded.append(talk.recorded_on)
        languages += language_key(talk.language).ljust(LANGUAGE_BYTES, b"\0")
        fields = (talk.title, " ".join(talk.tags), " ".join(talk.speakers), talk.event, talk.summary)
        words = fields_words(fields)
        written = len(word_column)
        try:
            word_column.extend(map(known, words))
        except KeyError:  # words met for the first time: numbered in the order written, then the talk again
            del word_column[written:]
            for word in sorted(set(words).difference(word_ids), key=words.index):
                word_id_of(word)
            word_column.extend(map(known, words))
        pairs = {(word_terms[known(first)], word_terms[known(second)]) for first, second in hyphenated_words(fields)}
        for pair in pairs:
            hyphen_talks.append(talk.talk_id)
            hyphen_terms.extend(pair)
        if "(" in talk.title or "(" in talk.summary:
            spelled_out = talk_mentions(talk)
            if spelled_out:
                mentions.append((talk.talk_id, spelled_out))
    count = len(talk_ids)
    word_rows, doc_column, field_column, lengths = _rows_of_fields(word_column, count)
    del word_column
    starts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc_column, minlength=count), out=starts[1:])
    del doc_column
    terms = np.frombuffer(word_terms, dtype=np.int32)[word_rows]
    codes = field_column | np.frombuffer(word_codes, dtype=np.uint8)[word_rows]
    del word_rows, field_column
    flag_array = np.frombuffer(flags, dtype=np.uint8)
    names = list(term_ids)  # by term id
    for done in (term_ids, word_ids):  # the build's tables of words: millions of entries at 1M talks
        done.clear()
    return CatalogWords(
        names=names,
        first_codes=np.frombuffer(first_codes, dtype=np.uint8),
        words=TalkWords(
            terms=terms, codes=codes, starts=starts,
            field_lengths=np.frombuffer(lengths, dtype=np.uint16).reshape(-1, len(FIELD_NAMES)),
            hyphen_talks=np.frombuffer(hyphen_talks, dtype=np.int64),
            hyphen_pairs=np.frombuffer(hyphen_terms, dtype=np.int32).reshape(-1, 2), mentions=tuple(mentions),
        ),
        talk_ids=np.frombuffer(talk_ids, dtype=np.int64).copy(),
        years=np.frombuffer(years, dtype=np.int32).copy(),
        recommended=(flag_array & 2) > 0,
        has_video=(flag_array & 1) > 0,
        durations=np.frombuffer(durations, dtype=np.int16).copy(),
        languages=np.frombuffer(bytes(languages), dtype=f"S{LANGUAGE_BYTES}").copy(),
        recorded=np.frombuffer(recorded, dtype=np.int32).copy(),
    )  # fmt: skip


def assembled(catalog: CatalogWords) -> dict:
    """The parts of the index (`CatalogIndex._assemble`'s arguments) of the catalog's words: everything that depends
    on the whole catalog (postings with BM25's average field lengths, compounds, learned abbreviations, the static
    order of talks, typo buckets) is worked out here, in numpy, from the talks' words."""
    words, names = catalog.words, list(catalog.names)  # `names` grows by the compounds' terms
    count = len(catalog.talk_ids)
    abbreviations = learned_abbreviations(mention for _, spelled_out in words.mentions for mention in spelled_out)
    docs = np.repeat(np.arange(count, dtype=np.int32), np.diff(words.starts))
    hyphenated = set(map(tuple, np.unique(words.hyphen_pairs, axis=0).tolist())) if len(words.hyphen_pairs) else set()
    compounds, compound_surfaces = _compound_rows(
        names, catalog.first_codes, hyphenated, words.terms, words.codes, docs
    )
    # Static order among equally relevant talks: recommended, with video, newer, then lower talk id.
    order = np.lexsort((-catalog.talk_ids, catalog.years, catalog.has_video, catalog.recommended))
    prior = np.empty(count, dtype=np.int64)
    prior[order] = np.arange(count)
    vocabulary, offsets, posting_docs, masks, weights, position_of = _postings(
        names, words.terms, words.codes, docs, compounds, count, words.field_lengths
    )
    del docs
    # The fields each term appears in anywhere, so a filter skips terms that never occur in its field.
    term_fields = (
        (np.bitwise_or.reduceat(masks, offsets[:-1]) & ANY_FIELD).astype(np.uint8)
        if len(vocabulary)
        else np.zeros(0, dtype=np.uint8)
    )
    # Terms first written otherwise than themselves ("chaos" for "chao"), and compounds ("on-call" for "oncall").
    inflected = np.flatnonzero(catalog.first_codes != BARE_FORM).tolist()
    differing = {names[term]: written_word(names[term], int(catalog.first_codes[term])) for term in inflected}
    differing |= {names[term]: surface for term, surface in compound_surfaces.items() if position_of[term] >= 0}
    hyphen_order = np.lexsort((words.hyphen_pairs[:, 1], words.hyphen_pairs[:, 0], words.hyphen_talks))
    return dict(
        vocabulary=vocabulary, offsets=offsets, docs=posting_docs, masks=masks, weights=weights,
        term_fields=term_fields, talk_ids=catalog.talk_ids, years=catalog.years, recommended=catalog.recommended,
        has_video=catalog.has_video, durations=catalog.durations, languages=catalog.languages,
        recorded=catalog.recorded, prior=prior, by_talk_id=np.argsort(catalog.talk_ids, kind="stable"),
        surfaces=dict(sorted(differing.items())), abbreviations=abbreviations,
        typo_buckets=_typo_buckets(vocabulary, np.diff(offsets), term_fields),
        words=TalkWords(
            terms=position_of[words.terms], codes=words.codes, starts=words.starts,
            field_lengths=words.field_lengths, hyphen_talks=words.hyphen_talks[hyphen_order],
            hyphen_pairs=position_of[words.hyphen_pairs[hyphen_order]], mentions=words.mentions,
        ),
    )  # fmt: skip


def _rows_of_fields(column: array, talks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The build's word column, where FIELD_END (-1) closes each of a talk's fields, split into the columns the rest
    of the build reads: each row's word, talk (document number) and field, and each field's length in words."""
    rows = np.frombuffer(column, dtype=np.int32)
    is_word = rows >= 0
    sizes = np.diff(np.flatnonzero(~is_word), prepend=-1) - 1
    docs = np.repeat(np.arange(talks, dtype=np.int32), sizes.reshape(-1, len(FIELD_NAMES)).sum(axis=1))
    fields = np.repeat(np.tile(np.array(list(FIELD_NAMES), dtype=np.uint8), talks), sizes)
    return rows[is_word], docs, fields, np.minimum(sizes, 65535).astype(np.uint16)


def _typo_buckets(vocabulary: list[str], doc_freq: np.ndarray, term_fields: np.ndarray) -> dict[str, np.ndarray]:
    """Typo candidates, looked up by length and first (or second) letter: the words of titles, tags, speakers and
    events, and summary words used by at least two talks. A misspelling is never corrected into a word that only one
    summary uses once, which keeps typo search fast on catalogs with long summaries. Kept as sorted bucket keys
    (length * LETTERS + letter) beside vocabulary positions, in vocabulary order within a bucket."""
    count = len(vocabulary)
    lengths = np.fromiter(map(len, vocabulary), dtype=np.int64, count=count)
    first = np.fromiter((ord(term[0]) for term in vocabulary), dtype=np.int64, count=count)
    second = np.fromiter((ord(term[1]) if len(term) > 1 else -1 for term in vocabulary), dtype=np.int64, count=count)
    candidate = (doc_freq >= 2) | ((term_fields & (ANY_FIELD & ~SUMMARY)) != 0)
    buckets = {}
    for name, letters, usable in (("first", first, candidate), ("second", second, candidate & (second >= 0))):
        terms = np.flatnonzero(usable)
        keys = lengths[terms] * LETTERS + letters[terms]
        order = np.argsort(keys, kind="stable")
        buckets[f"{name}_keys"], buckets[f"{name}_terms"] = keys[order], terms[order].astype(np.int32)
    return buckets


def _compound_rows(names, first_codes, hyphenated, terms, codes, docs):
    """Extra (term, doc, field) rows for compounds: wherever two words that the catalog somewhere joins with a hyphen
    stand side by side in a field, with a hyphen or a space, the talk also holds their joined term ("on-call",
    "on call" and "oncall" all give "oncall"), so a hyphenated query can ask for them side by side. Pairs never
    hyphenated anywhere make no compound, which keeps this to a few extra rows, in document order. Joined terms new
    to `names` are added to it; returns the rows, and the surfaces of those new terms ("on-call")."""
    if not hyphenated:
        return (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint8)), {}
    count = len(names)  # term ids are in the order first written
    pairs = sorted(hyphenated)
    keys = np.array([first * count + second for first, second in pairs], dtype=np.int64)
    joined_names = [names[first] + names[second] for first, second in pairs]
    wanted = set(joined_names)
    known = {name: term for term, name in enumerate(names) if name in wanted}
    surfaces: dict[int, str] = {}
    compounds = []
    for (first, second), joined in zip(pairs, joined_names, strict=True):
        if joined not in known:
            known[joined] = len(names)
            names.append(joined)
            surfaces[known[joined]] = "-".join(
                written_word(names[part], int(first_codes[part])) for part in (first, second)
            )
        compounds.append(known[joined])
    compound_ids = np.array(compounds, dtype=np.int32)
    starts_a_pair = np.zeros(count, dtype=bool)
    starts_a_pair[[first for first, _ in pairs]] = True
    # Only rows whose word starts some hyphenated pair, and whose next row is the next word of the same field.
    rows = np.flatnonzero(starts_a_pair[terms[:-1]])
    rows = rows[docs[rows] == docs[rows + 1]]
    written = codes[rows] & POSTED  # the field, and the form the word is written in
    same = written == (codes[rows + 1] & POSTED)
    rows, written = rows[same], written[same]
    pair_keys = terms[rows].astype(np.int64) * count + terms[rows + 1]
    found = np.minimum(keys.searchsorted(pair_keys), len(keys) - 1)
    hit = keys[found] == pair_keys
    rows, found = rows[hit], found[hit]
    return (compound_ids[found], docs[rows], written[hit]), surfaces


CHUNK_ROWS = 1 << 21  # word rows grouped at a time by _postings: a chunk's working arrays stay a few tens of MB


def _postings(names, terms, codes, docs, compounds, doc_count, field_lengths):
    """Group the (term, doc, code) rows, one per word written, and the compound rows into one posting per term, laid
    out CSR in vocabulary order: per (term, doc) the fields (and forms) OR-ed, and BM25F's saturated term frequency
    (each field's count weighted by the field and normalised by its length, then tf / (k1 + tf)) in a byte. Returns
    (vocabulary, offsets, docs, masks, weights, the vocabulary position of each term id or -1).

    Rows come in document order, so they are grouped a range of documents at a time: each chunk's (term, doc) pairs
    are complete within it, and a term's documents stay ascending chunk after chunk. No array of the whole catalog's
    rows is sorted or copied."""
    compound_terms, compound_docs, compound_fields = compounds
    used = np.zeros(len(names), dtype=bool)
    used[terms] = True
    used[compound_terms] = True
    by_name = sorted(np.flatnonzero(used).tolist(), key=names.__getitem__)
    vocabulary = [names[term_id] for term_id in by_name]
    position_of = np.full(len(names), -1, dtype=np.int32)  # term id -> vocabulary position
    position_of[by_name] = np.arange(len(by_name), dtype=np.int32)
    compound_positions = position_of[compound_terms]
    del used, by_name
    lengths = field_lengths.astype(np.float32)
    average = np.maximum(lengths.mean(axis=0), 1) if len(lengths) else np.ones(len(FIELD_NAMES), dtype=np.float32)
    # Each field's BM25F weight over its length normalisation, per talk and field (what a word written there adds).
    share = BM25_WEIGHT / ((1 - BM25_B) + BM25_B * lengths / average)
    del lengths
    counts = np.zeros(len(vocabulary), dtype=np.int64)
    chunks = []
    docs_per_chunk = max(1, doc_count * CHUNK_ROWS // max(len(docs), 1))
    for first_doc in range(0, doc_count, docs_per_chunk):
        last_doc = min(first_doc + docs_per_chunk, doc_count)
        begin, end = docs.searchsorted([first_doc, last_doc]).tolist()
        extra_begin, extra_end = compound_docs.searchsorted([first_doc, last_doc]).tolist()
        chunk_terms = np.concatenate([position_of[terms[begin:end]], compound_positions[extra_begin:extra_end]])
        chunk_docs = np.concatenate([docs[begin:end], compound_docs[extra_begin:extra_end]])
        chunk_fields = np.concatenate([codes[begin:end] & POSTED, compound_fields[extra_begin:extra_end]])
        if not len(chunk_terms):
            continue
        span = last_doc - first_doc
        keys = chunk_terms.astype(np.int64) * span + (chunk_docs - first_doc)
        order = np.argsort(keys, kind="stable")  # stable: a pair's rows are summed in the order they were written
        keys, chunk_docs, chunk_fields = keys[order], chunk_docs[order], chunk_fields[order]
        del order, chunk_terms
        contribution = share[chunk_docs, FIELD_COLUMN[chunk_fields & ANY_FIELD]]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        masks = np.bitwise_or.reduceat(chunk_fields, starts)
        frequency = np.add.reduceat(contribution, starts)
        weights = np.round(255 * frequency / (BM25_K1 + frequency)).astype(np.uint8)
        pair_terms = (keys[starts] // span).astype(np.int32)
        pair_docs = chunk_docs[starts]
        del keys, contribution, frequency, chunk_fields, chunk_docs
        term_starts = np.flatnonzero(np.r_[True, pair_terms[1:] != pair_terms[:-1]])
        chunk_terms = pair_terms[term_starts]
        spans = np.diff(np.r_[term_starts, len(pair_terms)])
        counts[chunk_terms] += spans
        chunks.append((chunk_terms, spans, pair_docs, masks, weights))
    del share
    offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    posting_docs = np.empty(total, dtype=np.int32)
    posting_masks = np.empty(total, dtype=np.uint8)
    posting_weights = np.empty(total, dtype=np.uint8)
    cursor = offsets[:-1].copy()  # where each term's next documents go
    chunks.reverse()
    while chunks:
        chunk_terms, spans, pair_docs, masks, weights = chunks.pop()
        within = np.arange(len(pair_docs)) - np.repeat(np.cumsum(spans) - spans, spans)
        to = np.repeat(cursor[chunk_terms], spans) + within
        posting_docs[to], posting_masks[to], posting_weights[to] = pair_docs, masks, weights
        cursor[chunk_terms] += spans
    return vocabulary, offsets, posting_docs, posting_masks, posting_weights, position_of


def load_talk_texts(session: Session, talk_ids: list[int] | None = None) -> list[TalkText]:
    """Everything the index needs of all talks (or of `talk_ids`), in four set-based queries. Run on the session's
    connection: plain rows, without the ORM's per-row work, which took half the time at 100k talks."""

    def only(statement, column):
        return statement if talk_ids is None else statement.where(column.in_(talk_ids))

    session.flush()  # as the ORM would before a query: pending changes are part of what is read
    connection = session.connection()
    speakers: dict[int, list[str]] = defaultdict(list)
    for talk_id, name in connection.execute(
        only(select(TalkSpeaker.talk_id, Speaker.name).join(Speaker), TalkSpeaker.talk_id).order_by(
            TalkSpeaker.talk_id, TalkSpeaker.position
        )
    ):
        speakers[talk_id].append(name)
    tags: dict[int, list[str]] = defaultdict(list)
    # In one order whatever the query plan (a scan of all talks, or a lookup of a few, which an update reads alike).
    for talk_id, name in connection.execute(
        only(select(talk_tags.c.talk_id, Tag.name).join(Tag), talk_tags.c.talk_id).order_by(
            talk_tags.c.talk_id, talk_tags.c.tag_id
        )
    ):
        tags[talk_id].append(name)
    with_video = set(connection.scalars(only(select(Link.talk_id).where(Link.kind == "video"), Link.talk_id)))
    rows = connection.execute(
        only(
            select(
                Talk.id, Talk.title, Talk.summary, Talk.verdict == RECOMMENDED,
                Event.series, Event.name, Event.city, Event.year,
                Talk.duration_minutes, Talk.language, Talk.recorded_on,
            ).outerjoin(Event, Talk.event_id == Event.id),
            Talk.id,
        ).order_by(Talk.id)
    )  # fmt: skip
    nothing = ()
    return [
        TalkText(
            talk_id,
            title,
            tuple(tags.get(talk_id, nothing)),
            tuple(speakers.get(talk_id, nothing)),
            " ".join(filter(None, (series, name, city))),
            summary,
            year or 0,
            bool(recommended),
            talk_id in with_video,
            duration or 0,
            language or DEFAULT_LANGUAGE,
            day_number(recorded_on),
        )
        for talk_id, title, summary, recommended, series, name, city, year, duration, language, recorded_on in rows
    ]
