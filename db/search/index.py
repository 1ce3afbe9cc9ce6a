"""An in-memory inverted index of the catalog: term -> (talks, fields), plus the vocabulary to resolve typos.

Queries never scan talks. Each query word is first matched against the catalog's vocabulary (exact, prefix,
typo within an edit budget, synonym) with rapidfuzz, and only the postings of the matching terms are read.
Postings are numpy arrays, so ranking a word found in most of a million talks is a few vector operations.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Event, Link, Speaker, Tag, Talk, TalkSpeaker, talk_tags
from db.records import TalkRecord
from db.search.text import stem, surface_words

# Fields are bits, so one byte per posting says every field a term appears in for that talk.
TITLE, TAGS, SPEAKERS, EVENT, SUMMARY = 1, 2, 4, 8, 16
FIELD_NAMES = {TITLE: "title", TAGS: "tags", SPEAKERS: "speakers", EVENT: "event", SUMMARY: "summary"}
FIELD_WEIGHTS = {TITLE: 5, TAGS: 5, SPEAKERS: 3, EVENT: 2, SUMMARY: 1}
ANY_FIELD = TITLE | TAGS | SPEAKERS | EVENT | SUMMARY

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
            recommended=record.recommendation is not None,
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
    masks: np.ndarray  # the fields the term appears in, per document (uint8)

    def mask_of(self, doc: int) -> int:
        """The fields for one document, 0 when the term is not in it."""
        at = int(np.searchsorted(self.docs, doc))
        return int(self.masks[at]) if at < len(self.docs) and self.docs[at] == doc else 0


class CatalogIndex:
    def __init__(self, talks: Iterable[TalkText]) -> None:
        term_ids: dict[str, int] = {}
        word_ids: dict[str, int] = {}  # surface word -> term id: most words repeat, so stem each once
        self.surfaces: dict[str, str] = {}

        def term_id_of(word: str) -> int:
            term = stem(word)
            if term not in term_ids:
                term_ids[term] = len(term_ids)
                self.surfaces[term] = word
            word_ids[word] = term_ids[term]
            return term_ids[term]

        # Compact machine arrays, not lists of Python ints: a million talks make ~50 million rows here.
        term_column, doc_column, field_column = array("i"), array("i"), array("B")
        talk_ids, years, flags = array("q"), array("i"), array("B")
        for doc, talk in enumerate(talks):
            talk_ids.append(talk.talk_id)
            years.append(talk.year)
            flags.append(2 * talk.recommended + talk.has_video)
            for field, text in talk.fields():
                words = surface_words(text)
                ids = set(map(word_ids.get, words))
                if None in ids:  # words met for the first time
                    ids.discard(None)
                    ids.update(term_id_of(word) for word in words if word not in word_ids)
                term_column.extend(ids)
                doc_column.extend([doc] * len(ids))
                field_column.extend([field] * len(ids))
        self.talk_ids = np.frombuffer(talk_ids, dtype=np.int64).copy()
        self.years = np.frombuffer(years, dtype=np.int32).copy()
        flag_array = np.frombuffer(flags, dtype=np.uint8)
        self.recommended = (flag_array & 2) > 0
        self.has_video = (flag_array & 1) > 0
        self._by_talk_id = np.argsort(self.talk_ids, kind="stable")
        # The fields each term appears in anywhere, so a filter skips terms that never occur in its field.
        self.postings, self.fields_of = _postings(term_ids, term_column, doc_column, field_column, len(talk_ids))
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
        """Terms that differ from `term` by one edit at its first letter (changed, added, dropped or swapped)."""
        found: list[str] = []
        for length in (len(term) - 1, len(term), len(term) + 1):
            if len(term) > 1:
                found += self._by_first.get((length, term[1]), ())
                found += self._by_second.get((length, term[1]), ())
            found += self._by_second.get((length, term[0]), ())
        return [candidate for candidate in found if candidate[0] != term[0]]

    def within_typos(self, term: str, max_typos: int) -> list[tuple[str, int]]:
        """Vocabulary terms within `max_typos` typos, nearest first. A swap of neighbours is one typo; a typo on
        the first letter counts as two (as in Meilisearch), so short words must start right."""
        found = [
            (t, int(d))
            for t, d, _ in process.extract(
                term, self.starting_like(term, max_typos), scorer=OSA.distance, score_cutoff=max_typos, limit=None
            )
            if d > 0
        ]
        if max_typos >= 2:
            front = set(self._first_letter_edits(term))
            found += [
                (t, 2) for t, _, _ in process.extract(term, front, scorer=OSA.distance, score_cutoff=1, limit=None)
            ]
        return sorted(found, key=lambda item: (item[1], -self.doc_freq(item[0]), item[0]))


def _postings(term_ids, term_column, doc_column, field_column, doc_count) -> tuple[dict[str, Posting], dict[str, int]]:
    """Group (term, doc, field) rows into one sorted posting per term, OR-ing the fields of repeated pairs;
    also say, per term, every field it appears in."""
    if not term_column:
        return {}, {}
    terms = np.frombuffer(term_column, dtype=np.int32).astype(np.int64)
    docs = np.frombuffer(doc_column, dtype=np.int32).astype(np.int64)
    fields = np.frombuffer(field_column, dtype=np.uint8)
    keys = terms * max(doc_count, 1) + docs
    order = np.argsort(keys, kind="stable")
    keys, fields = keys[order], fields[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    masks = np.bitwise_or.reduceat(fields, starts)
    keys = keys[starts]
    pair_terms, pair_docs = keys // max(doc_count, 1), (keys % max(doc_count, 1)).astype(np.int32)
    bounds = np.flatnonzero(np.r_[True, pair_terms[1:] != pair_terms[:-1], True])
    names = {term_id: term for term, term_id in term_ids.items()}
    term_names = [names[term_id] for term_id in pair_terms[bounds[:-1]].tolist()]
    spans = zip(term_names, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    postings = {term: Posting(pair_docs[begin:end], masks[begin:end]) for term, begin, end in spans}
    fields_of = dict(zip(term_names, np.bitwise_or.reduceat(masks, bounds[:-1]).tolist(), strict=True))
    return postings, fields_of


def load_talk_texts(session: Session, talk_ids: list[int] | None = None) -> list[TalkText]:
    """Everything the index needs of all talks (or of `talk_ids`), in four set-based queries."""

    def only(statement, column):
        return statement if talk_ids is None else statement.where(column.in_(talk_ids))

    speakers: dict[int, list[str]] = defaultdict(list)
    for talk_id, name in session.execute(
        only(select(TalkSpeaker.talk_id, Speaker.name).join(Speaker), TalkSpeaker.talk_id).order_by(
            TalkSpeaker.talk_id, TalkSpeaker.position
        )
    ):
        speakers[talk_id].append(name)
    tags: dict[int, list[str]] = defaultdict(list)
    for talk_id, name in session.execute(only(select(talk_tags.c.talk_id, Tag.name).join(Tag), talk_tags.c.talk_id)):
        tags[talk_id].append(name)
    with_video = set(session.scalars(only(select(Link.talk_id).where(Link.kind == "video"), Link.talk_id)))
    rows = session.execute(
        only(
            select(
                Talk.id, Talk.title, Talk.summary, Talk.recommendation.is_not(None),
                Event.series, Event.name, Event.city, Event.year,
            ).outerjoin(Talk.event),
            Talk.id,
        ).order_by(Talk.id)
    )  # fmt: skip
    return [
        TalkText(
            talk_id=talk_id,
            title=title,
            tags=tuple(tags[talk_id]),
            speakers=tuple(speakers[talk_id]),
            event=" ".join(part for part in (series, name, city) if part),
            summary=summary,
            year=year or 0,
            recommended=bool(recommended),
            has_video=talk_id in with_video,
        )
        for talk_id, title, summary, recommended, series, name, city, year in rows
    ]
