"""An in-memory inverted index of the catalog: term -> (talks, fields), plus the vocabulary to resolve typos.

Queries never scan talks. Each query word is first matched against the catalog's vocabulary (exact, prefix,
typo within an edit budget, synonym) with rapidfuzz, and only the postings of the matching terms are read.
Postings are numpy arrays, so ranking a word found in most of a million talks is a few vector operations.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import math
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import RECOMMENDED, Event, Link, Speaker, Tag, Talk, TalkSpeaker, talk_tags
from db.records import TalkRecord
from db.search.text import FIELD_END, fields_words, fold, stem
from db.search.vocabulary import Vocabulary, learn_abbreviations

# Fields are bits, so one byte per posting says every field a term appears in for that talk.
TITLE, TAGS, SPEAKERS, EVENT, SUMMARY = 1, 2, 4, 8, 16
FIELD_NAMES = {TITLE: "title", TAGS: "tags", SPEAKERS: "speakers", EVENT: "event", SUMMARY: "summary"}
FIELD_WEIGHTS = {TITLE: 5, TAGS: 5, SPEAKERS: 3, EVENT: 2, SUMMARY: 1}
ANY_FIELD = TITLE | TAGS | SPEAKERS | EVENT | SUMMARY
# Beside the fields, a posting says how the talk writes the term: as the term itself ("chao") or inflected ("chaos"),
# so a query for "chaos" can tell a talk about chaos from one by Ryan Chao although both index the term "chao".
BARE_FORM, INFLECTED_FORM = 32, 64
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


class CatalogIndex:
    def __init__(self, talks: Iterable[TalkText]) -> None:
        term_ids: dict[str, int] = {}
        # Each surface word is stemmed once: its term, and whether it is written as that term or inflected.
        word_ids: dict[str, int] = {}
        word_terms, word_forms = array("i"), array("B")
        self.surfaces: dict[str, str] = {}

        def word_id_of(word: str) -> int:
            term = stem(word)
            if term not in term_ids:
                term_ids[term] = len(term_ids)
                self.surfaces[term] = word
            word_ids[word] = len(word_terms)
            word_terms.append(term_ids[term])
            word_forms.append(BARE_FORM if term == word else INFLECTED_FORM)
            return word_ids[word]

        # Compact machine arrays, not lists of Python ints: a million talks make ~60 million rows here, one per word
        # in the order written (repeats count towards a term's frequency; neighbours make compounds, below), and
        # FIELD_END (-1) after each of a talk's five fields. Which talk and field a row belongs to is worked out
        # from those ends afterwards, in numpy: the loop below is the build's only work per word in Python.
        word_ids[FIELD_END] = -1
        word_column = array("i")
        talk_ids, years, flags = array("q"), array("i"), array("B")
        hyphenated: set[tuple[int, int]] = set()  # (word, next word) written with a hyphen somewhere: "on-call"
        parenthesised: list[str] = []  # text that may spell out an abbreviation: "Neural Networks (NN)"
        known = word_ids.__getitem__
        for talk in talks:
            talk_ids.append(talk.talk_id)
            years.append(talk.year)
            flags.append(2 * talk.recommended + talk.has_video)
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
            for text in fields:
                if "-" in text:
                    for compound in HYPHENATED.findall(fold(text)):
                        parts = [word_terms[word_ids[part]] for part in compound.split("-")]
                        hyphenated.update(zip(parts, parts[1:], strict=False))
            if "(" in talk.title:
                parenthesised.append(talk.title)
            if "(" in talk.summary:
                parenthesised.append(talk.summary)
        word_column, doc_column, field_column, lengths = _rows_of_fields(word_column, len(talk_ids))
        # Abbreviations the catalog spells out, merged with the hand-written table by `with_learned`.
        self.abbreviations = learn_abbreviations(parenthesised)
        self._merged: tuple[Vocabulary, Vocabulary] | None = None
        words = np.frombuffer(word_column, dtype=np.int32)
        terms = np.frombuffer(word_terms, dtype=np.int32)[words]
        fields = np.frombuffer(field_column, dtype=np.uint8) | np.frombuffer(word_forms, dtype=np.uint8)[words]
        del words, word_column
        terms, docs, fields = _with_compounds(
            term_ids, self.surfaces, hyphenated, terms, np.frombuffer(doc_column, dtype=np.int32), fields
        )
        self.talk_ids = np.frombuffer(talk_ids, dtype=np.int64).copy()
        self.years = np.frombuffer(years, dtype=np.int32).copy()
        flag_array = np.frombuffer(flags, dtype=np.uint8)
        self.recommended = (flag_array & 2) > 0
        self.has_video = (flag_array & 1) > 0
        self._by_talk_id = np.argsort(self.talk_ids, kind="stable")
        # How long each field of each talk is, in words, for BM25's length normalisation; and the fields each term
        # appears in anywhere, so a filter skips terms that never occur in its field.
        field_lengths = np.frombuffer(lengths, dtype=np.uint16).reshape(-1, len(FIELD_NAMES))
        self.postings, self.fields_of = _postings(term_ids, terms, docs, fields, len(talk_ids), field_lengths)
        del terms, docs, fields, doc_column, field_column  # the build's working rows
        # Static order among equally relevant talks: recommended, with video, newer, then lower talk id.
        order = np.lexsort((-self.talk_ids, self.years, self.has_video, self.recommended))
        self.prior = np.empty(len(talk_ids), dtype=np.int64)
        self.prior[order] = np.arange(len(talk_ids))
        self.vocabulary = sorted(self.postings)
        # How many talks use each vocabulary term, in vocabulary order: prefix lookups rank a range of it at once.
        self._vocabulary_doc_freq = np.fromiter(
            (len(self.postings[term].docs) for term in self.vocabulary), dtype=np.int64, count=len(self.vocabulary)
        )
        # Typo candidates, looked up by length and first (or second) letter: the words of titles, tags, speakers
        # and events, and summary words used by at least two talks. A misspelling is never corrected into a word
        # that only one summary uses once, which keeps typo search fast on catalogs with long summaries.
        self._by_first: dict[tuple[int, str], list[str]] = defaultdict(list)
        self._by_second: dict[tuple[int, str], list[str]] = defaultdict(list)
        for term in self.vocabulary:
            if len(self.postings[term].docs) < 2 and not self.fields_of[term] & ~SUMMARY:
                continue
            self._by_first[(len(term), term[0])].append(term)
            if len(term) > 1:
                self._by_second[(len(term), term[1])].append(term)
        _release_free_memory()

    def __len__(self) -> int:
        return len(self.talk_ids)

    def doc_of(self, talk_id: int) -> int | None:
        """The document number of a talk, or None when the index does not hold it."""
        at = int(np.searchsorted(self.talk_ids, talk_id, sorter=self._by_talk_id))
        if at < len(self.talk_ids) and self.talk_ids[self._by_talk_id[at]] == talk_id:
            return int(self._by_talk_id[at])
        return None

    def doc_freq(self, term: str) -> int:
        posting = self.postings.get(term)
        return len(posting.docs) if posting else 0

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
            found += self._by_first.get((length, term[0]), ())
        return found

    def _first_letter_edits(self, term: str) -> list[str]:
        """Terms that may differ from `term` by an edit at its first letter (changed, added, dropped or swapped):
        those whose first or second letter is `term`'s second, or whose second letter is `term`'s first."""
        found: list[str] = []
        for length in (len(term) - 1, len(term), len(term) + 1):
            if len(term) > 1:
                found += self._by_first.get((length, term[1]), ())
                found += self._by_second.get((length, term[1]), ())
            found += self._by_second.get((length, term[0]), ())
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


def _release_free_memory() -> None:
    """Hand the build's freed working arrays back to the operating system. glibc keeps large freed blocks in the
    process for reuse; after a build they would stay resident (at 100k talks, about 230 MB beside a 130 MB index)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rows_of_fields(column: array, talks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The build's word column, where FIELD_END (-1) closes each of a talk's fields, split into the columns the rest
    of the build reads: each row's word, talk (document number) and field, and each field's length in words."""
    rows = np.frombuffer(column, dtype=np.int32)
    is_word = rows >= 0
    sizes = np.diff(np.flatnonzero(~is_word), prepend=-1) - 1
    docs = np.repeat(np.arange(talks, dtype=np.int32), sizes.reshape(-1, len(FIELD_NAMES)).sum(axis=1))
    fields = np.repeat(np.tile(np.array(list(FIELD_NAMES), dtype=np.uint8), talks), sizes)
    return rows[is_word], docs, fields, np.minimum(sizes, 65535).astype(np.uint16)


def _with_compounds(term_ids, surfaces, hyphenated, terms, docs, fields):
    """The (term, doc, field) rows, plus one row for each compound: wherever two words that the catalog
    somewhere joins with a hyphen stand side by side in a field, with a hyphen or a space, the talk also holds their
    joined term ("on-call", "on call" and "oncall" all give "oncall"), so a hyphenated query can ask for them side by
    side. Pairs never hyphenated anywhere make no compound, which keeps this to a few extra rows."""
    if not hyphenated:
        return terms, docs, fields
    names, count = list(term_ids), len(term_ids)  # term ids are insertion order
    pairs = sorted(hyphenated)
    keys = np.array([first * count + second for first, second in pairs], dtype=np.int64)
    compounds = []
    for first, second in pairs:
        joined = names[first] + names[second]
        if joined not in term_ids:
            term_ids[joined] = len(term_ids)
            surfaces[joined] = f"{surfaces[names[first]]}-{surfaces[names[second]]}"
        compounds.append(term_ids[joined])
    compound_ids = np.array(compounds, dtype=np.int32)
    starts_a_pair = np.zeros(count, dtype=bool)
    starts_a_pair[[first for first, _ in pairs]] = True
    # Only rows whose word starts some hyphenated pair, and whose next row is the next word of the same field.
    rows = np.flatnonzero(starts_a_pair[terms[:-1]])
    rows = rows[(docs[rows] == docs[rows + 1]) & (fields[rows] == fields[rows + 1])]
    found = keys.searchsorted(terms[rows].astype(np.int64) * count + terms[rows + 1])
    found = np.minimum(found, len(keys) - 1)
    hit = keys[found] == terms[rows].astype(np.int64) * count + terms[rows + 1]
    rows, found = rows[hit], found[hit]
    return (
        np.concatenate([terms, compound_ids[found]]),
        np.concatenate([docs, docs[rows]]),
        np.concatenate([fields, fields[rows]]),
    )


def _postings(term_ids, terms, docs, fields, doc_count, field_lengths) -> tuple[dict[str, Posting], dict[str, int]]:
    """Group (term, doc, field) rows, one per word written, into one sorted posting per term: the fields (and forms)
    OR-ed, and
    BM25F's saturated term frequency (each field's count weighted by the field and normalised by its length,
    then tf / (k1 + tf)), kept in a byte. Also say, per term, every field it appears in."""
    if not len(terms):
        return {}, {}
    columns = FIELD_COLUMN[fields & ANY_FIELD]
    lengths = field_lengths.astype(np.float32)
    average = np.maximum(lengths.mean(axis=0), 1)
    contribution = BM25_WEIGHT[columns] / ((1 - BM25_B) + BM25_B * lengths[docs, columns] / average[columns])
    keys = terms.astype(np.int64) * max(doc_count, 1) + docs
    order = np.argsort(keys)
    keys, fields, contribution = keys[order], fields[order], contribution[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    masks = np.bitwise_or.reduceat(fields, starts)
    frequency = np.add.reduceat(contribution, starts)
    weights = np.round(255 * frequency / (BM25_K1 + frequency)).astype(np.uint8)
    keys = keys[starts]
    pair_terms, pair_docs = keys // max(doc_count, 1), (keys % max(doc_count, 1)).astype(np.int32)
    bounds = np.flatnonzero(np.r_[True, pair_terms[1:] != pair_terms[:-1], True])
    names = {term_id: term for term, term_id in term_ids.items()}
    term_names = [names[term_id] for term_id in pair_terms[bounds[:-1]].tolist()]
    spans = zip(term_names, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    postings = {term: Posting(pair_docs[begin:end], masks[begin:end], weights[begin:end]) for term, begin, end in spans}
    fields_of = dict(zip(term_names, (np.bitwise_or.reduceat(masks, bounds[:-1]) & ANY_FIELD).tolist(), strict=True))
    return postings, fields_of


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
    for talk_id, name in connection.execute(only(select(talk_tags.c.talk_id, Tag.name).join(Tag), talk_tags.c.talk_id)):
        tags[talk_id].append(name)
    with_video = set(connection.scalars(only(select(Link.talk_id).where(Link.kind == "video"), Link.talk_id)))
    rows = connection.execute(
        only(
            select(
                Talk.id, Talk.title, Talk.summary, Talk.verdict == RECOMMENDED,
                Event.series, Event.name, Event.city, Event.year,
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
        )
        for talk_id, title, summary, recommended, series, name, city, year in rows
    ]
