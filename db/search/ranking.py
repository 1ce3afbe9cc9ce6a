"""Relevance: which talks match a query and in what order, decided from the index alone.

Ranking works like Meilisearch's bucket sort, in this order of importance:
1. words   — how many query words the talk matches (words are dropped from the end only if nothing matches);
2. typos   — fewer typos first;
3. fields  — a word in the title or tags beats one in the speakers, which beats the event, then the summary;
4. exact   — exact words and synonyms beat prefixes and typo corrections;
5. spread  — a word found in more fields ranks higher;
then recommended talks, talks with a video, newer talks, and finally the lower talk id, so the order is stable.
Each rule's weight exceeds the largest total of the rules below it, so one integer per talk holds the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from db.search.index import (
    ANY_FIELD,
    BEST_WEIGHT,
    EVENT,
    SPEAKERS,
    TAGS,
    WEIGHT_SUM,
    CatalogIndex,
    TalkText,
    field_names,
)
from db.search.query import Query, QueryWord
from db.search.text import stem, surface_words
from db.search.vocabulary import Phrase, Vocabulary

PREFIX_MIN_LENGTH = 2
PREFIX_EXPANSIONS = 20
SIMILAR_TERMS = 30
NOT_EVENT = ANY_FIELD & ~EVENT

EXACT, SYNONYM, PREFIX, TYPO = "exact", "synonym", "prefix", "typo"

# Per matched query word (at most 12 words, 2 typos each, field weight 5, 16 spread):
WORD_POINTS = 5_000_000  # > 12 words * 2 typos * TYPO_POINTS
TYPO_POINTS = 200_000  # > 12 * (5 * FIELD_POINTS + EXACT_POINTS + 16)
FIELD_POINTS = 2_500  # > 12 * (EXACT_POINTS + 16)
EXACT_POINTS = 200  # > 12 * 16
MASK_POINTS = BEST_WEIGHT.astype(np.int64) * FIELD_POINTS + WEIGHT_SUM


def typo_budget(word: str) -> int:
    """Typos forgiven in a word: none up to 4 letters, one up to 8, two beyond; none in numbers."""
    if any(ch.isdigit() for ch in word) or len(word) <= 4:
        return 0
    return 1 if len(word) <= 8 else 2


@dataclass(frozen=True)
class Unit:
    """A query word, or a phrase the synonym table knows ("site reliability engineering")."""

    terms: Phrase
    surface: str
    exact: bool = False
    last: bool = False


@dataclass(frozen=True)
class Candidate:
    terms: Phrase
    typos: int
    kind: str

    @property
    def points(self) -> int:
        return WORD_POINTS - self.typos * TYPO_POINTS + EXACT_POINTS * (self.kind in (EXACT, SYNONYM))


@dataclass(frozen=True)
class Hit:
    talk_id: int
    score: float
    reasons: tuple[str, ...]


@dataclass
class Ranking:
    hits: list[Hit]
    total: int
    dropped_words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def rank(index: CatalogIndex, query: Query, vocabulary: Vocabulary, limit: int = 5, offset: int = 0) -> Ranking:
    notes = list(query.notes)
    allowed = _filtered_docs(index, query, notes)
    units = make_units(query.words, vocabulary)
    candidates = [resolve(index, unit, vocabulary) for unit in units]
    matches = [unit_matches(index, found) for found in candidates]
    points = [match.points for match in matches]
    size = len(index)

    if units:
        kept, docs = len(units), np.zeros(size, dtype=bool)
        while kept:
            docs = np.logical_and.reduce([p > 0 for p in points[:kept]])
            if allowed is not None:
                docs &= allowed
            if docs.any():
                break
            kept -= 1
        composite = np.sum(points, axis=0)
    else:
        kept = 0
        docs = np.ones(size, dtype=bool) if allowed is None else allowed
        composite = np.zeros(size, dtype=np.int64)

    matched = np.flatnonzero(docs)
    keys = composite[matched] * max(size, 1) + index.prior[matched]
    wanted = min(offset + limit, len(matched))
    if wanted < len(matched):
        top = np.argpartition(-keys, wanted - 1)[:wanted]
        matched, keys = matched[top], keys[top]
    page = [int(doc) for doc in matched[np.argsort(-keys, kind="stable")][offset:]]
    hits = [
        Hit(
            talk_id=int(index.talk_ids[doc]),
            score=round(float(composite[doc]) / WORD_POINTS, 4),
            reasons=tuple(_reasons(index, units, candidates, matches, doc)) or ("matches the filters",),
        )
        for doc in page
    ]
    return Ranking(
        hits=hits,
        total=len(np.flatnonzero(docs)),
        dropped_words=[unit.surface for unit in units[kept:]] if page else [],
        notes=notes,
        suggestions=[] if page else did_you_mean(index, units, [bool(p.any()) for p in points]),
    )


def make_units(words: list[QueryWord], vocabulary: Vocabulary) -> list[Unit]:
    """Group query words into units, joining runs the synonym table knows as one phrase."""
    units, i = [], 0
    while i < len(words):
        size = next(
            (
                n
                for n in range(min(vocabulary.longest_phrase, len(words) - i), 1, -1)
                if tuple(w.term for w in words[i : i + n]) in vocabulary.synonyms
            ),
            1,
        )
        chunk = words[i : i + size]
        units.append(
            Unit(
                terms=tuple(w.term for w in chunk),
                surface=" ".join(w.surface for w in chunk),
                exact=any(w.exact for w in chunk),
                last=i + size == len(words),
            )
        )
        i += size
    return units


def resolve(index: CatalogIndex, unit: Unit, vocabulary: Vocabulary, allow_prefix: bool = False) -> list[Candidate]:
    """The vocabulary terms a unit stands for, best first: itself, its synonyms, prefixes, near spellings."""
    found = [Candidate(unit.terms, 0, EXACT)]
    found += [Candidate(phrase, 0, SYNONYM) for phrase in vocabulary.synonyms.get(unit.terms, ())]
    if len(unit.terms) == 1 and not unit.exact:
        word = unit.terms[0]
        if (unit.last or allow_prefix) and len(word) >= PREFIX_MIN_LENGTH:
            found += [Candidate((term,), 0, PREFIX) for term in index.prefixed(word, PREFIX_EXPANSIONS)]
        budget = typo_budget(unit.surface)
        if budget:
            found += [Candidate((term,), typos, TYPO) for term, typos in index.within_typos(word, budget)]
    return found


@dataclass(frozen=True)
class UnitMatch:
    """Per talk: the points of a unit's best match there (0 where it does not match), which candidate won,
    and the fields it was found in."""

    points: np.ndarray
    winner: np.ndarray
    fields: np.ndarray


def unit_matches(index: CatalogIndex, candidates: list[Candidate], fields: int = ANY_FIELD) -> UnitMatch:
    best = np.zeros(len(index), dtype=np.int64)
    winner = np.zeros(len(index), dtype=np.int32)
    where = np.zeros(len(index), dtype=np.uint8)
    found = []
    for number, candidate in enumerate(candidates):
        if fields != ANY_FIELD and not all(index.fields_of.get(term, 0) & fields for term in candidate.terms):
            continue
        docs, masks = _phrase_posting(index, candidate.terms)
        if fields != ANY_FIELD:
            masks = masks & fields
            docs, masks = docs[masks > 0], masks[masks > 0]
        if len(docs):
            found.append((docs, masks, candidate.points + MASK_POINTS[masks], number))
    if not found:
        return UnitMatch(best, winner, where)
    if len(found) == 1:
        docs, masks, values, number = found[0]
        best[docs], winner[docs], where[docs] = values, number, masks
        return UnitMatch(best, winner, where)
    docs = np.concatenate([docs for docs, _, _, _ in found])
    masks = np.concatenate([masks for _, masks, _, _ in found])
    values = np.concatenate([values for _, _, values, _ in found])
    np.maximum.at(best, docs, values)
    numbers = np.repeat([number for *_, number in found], [len(docs) for docs, *_ in found]).astype(np.int32)
    won = np.flatnonzero(values == best[docs])[::-1]  # on a tie, the earlier (better) candidate is written last
    winner[docs[won]] = numbers[won]
    where[docs[won]] = masks[won]
    return UnitMatch(best, winner, where)


_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint8))


def _phrase_posting(index: CatalogIndex, terms: Phrase) -> tuple[np.ndarray, np.ndarray]:
    """(talks, fields) for talks holding every term; a phrase counts in the fields all its words share,
    or, when its words are spread over fields, in the weakest of them."""
    postings = [index.postings.get(term) for term in terms]
    if not all(postings):
        return _EMPTY
    docs, masks = postings[0].docs, postings[0].masks
    weakest = masks
    for posting in postings[1:]:
        docs, here, there = np.intersect1d(docs, posting.docs, assume_unique=True, return_indices=True)
        other = posting.masks[there]
        weakest = np.where(BEST_WEIGHT[other] < BEST_WEIGHT[weakest[here]], other, weakest[here])
        masks = masks[here] & other
    return docs, np.where(masks > 0, masks, weakest).astype(np.uint8)


def _filtered_docs(index: CatalogIndex, query: Query, notes: list[str]) -> np.ndarray | None:
    """Talks passing every filter, as a boolean array (None when the query has none)."""
    allowed: np.ndarray | None = None
    no_synonyms = Vocabulary({}, frozenset())
    for name, field_mask, values in (
        ("speaker", SPEAKERS, query.speaker),
        ("event", EVENT, query.event),
        ("tag", TAGS, query.tag),
    ):
        for terms in values:
            passing = np.ones(len(index), dtype=bool)
            for term in terms:
                found = resolve(index, Unit((term,), term), no_synonyms, allow_prefix=True)
                passing &= unit_matches(index, found, field_mask).points > 0
            if not passing.any():
                notes.append(f"No talk has a {name} matching “{' '.join(terms)}”.")
            allowed = passing if allowed is None else allowed & passing
    if query.years:
        first, last = query.years
        in_years = (index.years >= first) & (index.years <= last)
        if not in_years.any():
            notes.append(f"No talk is from {first}–{last}." if first != last else f"No talk is from {first}.")
        allowed = in_years if allowed is None else allowed & in_years
    return allowed


def _reasons(
    index: CatalogIndex, units: list[Unit], candidates: list[list[Candidate]], matches: list[UnitMatch], doc: int
) -> list[str]:
    """Why a talk matched, one phrase per query word: which catalog word it matched, how, and where."""
    reasons = []
    for unit, found, match in zip(units, candidates, matches, strict=True):
        if not match.points[doc]:
            continue
        candidate, mask = found[int(match.winner[doc])], int(match.fields[doc])
        matched = " ".join(index.surfaces.get(term, term) for term in candidate.terms)
        how = {
            EXACT: f"“{unit.surface}”",
            SYNONYM: f"“{unit.surface}” as synonym “{matched}”",
            PREFIX: f"“{unit.surface}” as prefix of “{matched}”",
            TYPO: f"“{unit.surface}” as “{matched}” ({candidate.typos} typo{'s' if candidate.typos > 1 else ''})",
        }[candidate.kind]
        reasons.append(f"{how} in {' and '.join(field_names(mask))}")
    return reasons


def did_you_mean(index: CatalogIndex, units: list[Unit], matched_any: list[bool]) -> list[str]:
    """Catalog words close to the query words that found nothing."""
    suggestions: list[str] = []
    for unit, matched in zip(units, matched_any, strict=True):
        if matched and len(units) > 1:
            continue
        nearby = index.starting_like(unit.terms[0], 2)
        for term, _, _ in process.extract(unit.terms[0], nearby, scorer=fuzz.ratio, limit=3, score_cutoff=60):
            word = index.surfaces.get(term, term)
            if word not in suggestions and term != unit.terms[0]:
                suggestions.append(word)
    return suggestions[:5]


def similar(index: CatalogIndex, talk: TalkText, stopwords: frozenset[str], limit: int = 5) -> list[Hit]:
    """Talks most like `talk`: shared tags and speakers count most, then shared rare words, weighed by rarity.
    Sharing only the event, or only common words, does not make two talks alike."""
    weights: dict[str, int] = {}
    for field_bit, text in talk.fields():
        if field_bit == EVENT:
            continue
        for word in surface_words(text):
            if word not in stopwords:
                term = stem(word)
                weights[term] = max(weights.get(term, 0), int(BEST_WEIGHT[field_bit]))
    chosen = [
        term
        for term in sorted(weights, key=lambda term: (-weights[term] * index.idf(term), term))[:SIMILAR_TERMS]
        if term in index.postings
    ]
    scores = np.zeros(len(index), dtype=np.float64)
    for term in chosen:
        posting = index.postings[term]
        field_weight = BEST_WEIGHT[posting.masks & NOT_EVENT]
        scores[posting.docs] += index.idf(term) * np.minimum(weights[term], field_weight)
    source_doc = index.doc_of(talk.talk_id)
    if source_doc is not None:
        scores[source_doc] = 0
    alike = np.flatnonzero(scores > 0)
    best = sorted(alike.tolist(), key=lambda doc: (-scores[doc], index.talk_ids[doc]))[:limit]
    return [Hit(int(index.talk_ids[doc]), round(float(scores[doc]), 2), _shared(index, chosen, doc)) for doc in best]


def _shared(index: CatalogIndex, terms: list[str], doc: int) -> tuple[str]:
    shared = [index.surfaces.get(term, term) for term in terms if index.postings[term].mask_of(doc) & NOT_EVENT]
    return (f"shares {', '.join(shared[:5])}",)
