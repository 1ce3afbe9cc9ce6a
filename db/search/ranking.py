"""Relevance: which talks match a query and in what order, decided from the index alone.

Ranking works like Meilisearch's bucket sort, in this order of importance:
1. words   — how many query words the talk matches (when no talk matches them all, the least informative words are
             dropped first: those that match nothing, then those found in the most talks);
2. typos   — fewer typos first (a typo on a word's first letter counts as two; a spelling far rarer than a near one
             costs a typo more, as it is more likely the misspelling: "gałka" for "gafka" when "kafka" is common);
3. fields  — a word in the title or tags beats one in the speakers, which beats the event, then the summary;
4. exact   — exact words, compounds and synonyms beat prefixes and typo corrections;
5. BM25    — within those buckets, BM25F: each word weighted by its rarity (idf) and by how much of the talk it is
             (its count per field, weighted by field and normalised by the field's length, saturated);
then recommended talks, talks with a video, newer talks, and finally the lower talk id, so the order is stable.
Each rule's weight exceeds the largest total of the rules below it, so one integer per talk holds the order.

A query costs what its postings cost, not what the catalog does: each word's match is its candidate terms' postings
(sorted talks), the words are intersected rarest first (db/search/postings.py), and only the talks left are scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from db.languages import language_names
from db.search.index import (
    ANY_FIELD,
    BARE_FORM,
    BEST_WEIGHT,
    EVENT,
    INFLECTED_FORM,
    SPEAKERS,
    TAGS,
    CatalogIndex,
    TalkText,
    field_names,
)
from db.search.postings import DOC, NO_DOCS, DocSet, Positions, as_docs, common, dense, intersect, member
from db.search.query import MAX_MINUTES, Query, QueryWord
from db.search.text import stem, surface_words
from db.search.vocabulary import Phrase, Vocabulary

PREFIX_MIN_LENGTH = 2
PREFIX_EXPANSIONS = 20
SIMILAR_TERMS = 30
NOT_EVENT = ANY_FIELD & ~EVENT
# A spelling is taken for a misspelling when a near spelling is used by this many times more talks; an exact match
# is, only when at most RARE_EXACT talks use it (a real word is seldom that rare, a typo in a catalog often is).
DOMINANCE = 10
RARE_EXACT = 2

EXACT, SYNONYM, PREFIX, TYPO = "exact", "synonym", "prefix", "typo"

# Per matched query word (at most 12 words, 4 typos each, field weight 5, one exact bonus, BM25 up to 999):
BM25_POINTS = 999
RECOMMENDED_BOOST = 1.5  # a reporter's recommendation raises a talk's BM25 within its bucket (never past BM25_POINTS)
EXACT_POINTS = 12_000  # > 12 * BM25_POINTS
FIELD_POINTS = 160_000  # > 12 * (EXACT_POINTS + BM25_POINTS)
TYPO_POINTS = 10_000_000  # > 12 * (5 * FIELD_POINTS + EXACT_POINTS + BM25_POINTS)
WORD_POINTS = 500_000_000  # > 12 * 4 * TYPO_POINTS
MASK_POINTS = BEST_WEIGHT.astype(np.int64) * FIELD_POINTS
DAY_BITS = 20  # a recording date's day number (under 2**20 until the year 2870) beside its year, in one int64


def typo_budget(word: str) -> int:
    """Typos forgiven in a word: none up to 4 letters (but see `resolve`), one up to 8, two beyond; none in numbers."""
    if any(ch.isdigit() for ch in word) or len(word) <= 4:
        return 0
    return 1 if len(word) <= 8 else 2


@dataclass(frozen=True)
class Unit:
    """A query word, a phrase the synonym table knows ("site reliability engineering"), or words joined by hyphens
    ("on-call", a `compound`: its parts side by side)."""

    terms: Phrase
    surface: str
    exact: bool = False
    last: bool = False
    compound: bool = False


@dataclass(frozen=True)
class Candidate:
    terms: Phrase
    typos: int
    kind: str
    together: bool = False  # its terms must share a field (a hyphenated phrase the catalog never joins)
    form: int = 0  # exact only where the talk writes the word in this form (BARE_FORM or INFLECTED_FORM), if set

    @property
    def points(self) -> int:
        return WORD_POINTS - self.typos * TYPO_POINTS + EXACT_POINTS * (self.kind in (EXACT, SYNONYM))


@dataclass(frozen=True)
class Hit:
    talk_id: int
    score: float
    reasons: tuple[str, ...]
    fields: tuple[int, ...] = ()  # per query word (unit): the field bits it matched in this talk, 0 where it did not


class Ranking:
    """A page of hits and what explains it. `allowed`: the talks (documents) passing the query's filters, as a
    boolean mask over documents (None: no filter); built only when asked for, by the semantic layer."""

    def __init__(
        self,
        hits: list[Hit],
        total: int,
        dropped_words: list[str] | None = None,
        notes: list[str] | None = None,
        suggestions: list[str] | None = None,
        allowed: np.ndarray | DocSet | None = None,
    ) -> None:
        self.hits = hits
        self.total = total
        self.dropped_words = dropped_words or []
        self.notes = notes or []
        self.suggestions = suggestions or []
        self._allowed = allowed

    @property
    def allowed(self) -> np.ndarray | None:
        return self._allowed.mask() if isinstance(self._allowed, DocSet) else self._allowed


def rank(index: CatalogIndex, query: Query, vocabulary: Vocabulary, limit: int = 5, offset: int = 0) -> Ranking:
    vocabulary = index.with_learned(vocabulary)
    notes = list(query.notes)
    allowed = _filtered_docs(index, query, notes)
    units = make_units(query.words, vocabulary)
    candidates = [resolve(index, unit, vocabulary) for unit in units]
    matches = [unit_matches(index, found) for found in candidates]

    kept = list(range(len(units)))
    if units:
        used_by = [match.count for match in matches]
        matched = _matching_all(matches, kept, allowed)
        # No talk has every word: drop the least informative first — words that match nothing, then the most used.
        for dropped in sorted(kept, key=lambda unit: (used_by[unit] > 0, -used_by[unit], -unit)):
            if len(matched):
                break
            kept.remove(dropped)
            matched = _matching_all(matches, kept, allowed)
    else:
        matched = np.arange(len(index), dtype=DOC) if allowed is None else allowed.docs()

    page, composite, scores = _ordered(index, matches, matched, limit, offset, query.newest)
    hits = [
        Hit(
            talk_id=int(index.talk_ids[matched[at]]),
            score=round(points / WORD_POINTS, 4),
            reasons=tuple(_reasons(index, units, candidates, scores, at)) or ("matches the filters",),
            fields=tuple(int(score.fields[at]) if score.points[at] else 0 for score in scores),
        )
        for at, points in zip(page.tolist(), composite.tolist(), strict=True)
    ]
    return Ranking(
        hits=hits,
        total=len(matched),
        dropped_words=[unit.surface for number, unit in enumerate(units) if number not in kept] if hits else [],
        notes=notes,
        suggestions=[] if hits else did_you_mean(index, units, [match.count > 0 for match in matches]),
        allowed=allowed,
    )


def _ordered(
    index: CatalogIndex, matches: list[UnitMatch], matched: np.ndarray, limit: int, offset: int, newest: bool = False
) -> tuple[np.ndarray, np.ndarray, list[Scores]]:
    """The positions (in `matched`) of the page asked for, best first, their composite scores, and each unit's scores
    at the matched talks. BM25 adds at most BM25_POINTS a unit, so only the talks whose points come that close to the
    page's last talk's are scored in full: a common word's many weaker matches are left at their points.

    `newest` (sort:newest): the newest first instead — by event year, then recording date (talks without one after
    those with one), then relevance: only the talks as new as the page's last talk are scored in full."""
    size = len(index)
    scale = BM25_POINTS / math.log(1 + max(size, 1))  # the rarest word, saturated, earns BM25_POINTS
    scores = [match.at(matched) for match in matches]
    points = np.zeros(len(matched), dtype=np.int64)
    for score in scores:
        points += score.points
    wanted = min(offset + limit, len(matched))
    contenders: np.ndarray | slice = slice(None)
    newness = (index.years[matched].astype(np.int64) << DAY_BITS) | index.recorded[matched] if newest else None
    if newness is not None and 0 < wanted < len(matched):
        last = np.partition(newness, len(matched) - wanted)[len(matched) - wanted]
        contenders = np.flatnonzero(newness >= last)
    elif matches and 0 < wanted < len(matched):
        last = np.partition(points, len(matched) - wanted)[len(matched) - wanted]
        contenders = np.flatnonzero(points >= last - len(matches) * BM25_POINTS)
    docs, composite = matched[contenders], points[contenders]
    recommended = index.recommended[docs]
    for match, score in zip(matches, scores, strict=True):
        idf = math.log(1 + size / (1 + match.count))
        bm25 = score.weights[contenders] * (idf * scale / 255)
        bm25 = np.where(recommended, np.minimum(bm25 * RECOMMENDED_BOOST, BM25_POINTS), bm25)
        composite += bm25.astype(np.int64)
    keys = composite * max(size, 1) + index.prior[docs]
    if newness is not None:
        order = np.lexsort((-keys, -newness[contenders]))[offset:wanted]
        return (order if isinstance(contenders, slice) else contenders[order]), composite[order], scores
    order = np.arange(len(docs))
    if wanted < len(docs):
        order = np.argpartition(-keys, wanted - 1)[:wanted]
    order = order[np.argsort(-keys[order], kind="stable")][offset:]
    return (order if isinstance(contenders, slice) else contenders[order]), composite[order], scores


def matching_within(index: CatalogIndex, query: Query, vocabulary: Vocabulary, within: np.ndarray) -> list[int]:
    """The talks among `within` (a boolean array over documents) that match every word and filter of `query`, best
    first, in the order `rank` would give them. Unlike `rank`, no word is ever dropped: a follow's alert lists only
    talks that answer the whole query (db/follows.py)."""
    vocabulary = index.with_learned(vocabulary)
    allowed = _filtered_docs(index, query, [])
    matches = [unit_matches(index, resolve(index, unit, vocabulary)) for unit in make_units(query.words, vocabulary)]
    sets = [DocSet(len(index), docs=np.flatnonzero(within)), *matches]
    matched = intersect(sets if allowed is None else [*sets, allowed])
    order, _, _ = _ordered(index, matches, matched, len(matched), 0, query.newest)
    return [int(index.talk_ids[matched[at]]) for at in order.tolist()]


def _matching_all(matches: list[UnitMatch], kept: list[int], allowed: DocSet | None) -> np.ndarray:
    """The talks (sorted) matching every kept unit and passing the filters."""
    if not kept:
        return NO_DOCS
    sets = [matches[unit] for unit in kept]
    return intersect(sets if allowed is None else [*sets, allowed])


def make_units(words: list[QueryWord], vocabulary: Vocabulary) -> list[Unit]:
    """Group query words into units: words joined by hyphens make one, and runs the synonym table knows as a phrase
    make one (when the run takes hyphenated words whole)."""
    groups: list[list[QueryWord]] = []
    for word in words:
        if word.joined and groups:
            groups[-1].append(word)
        else:
            groups.append([word])
    units, i = [], 0
    while i < len(groups):
        size = next(
            (
                n
                for n in range(len(groups) - i, 0, -1)
                if (n > 1 or len(groups[i]) > 1)
                and sum(map(len, groups[i : i + n])) <= vocabulary.longest_phrase
                and tuple(w.term for group in groups[i : i + n] for w in group) in vocabulary.synonyms
            ),
            1,
        )
        chunk = [w for group in groups[i : i + size] for w in group]
        compound = size == 1 and len(chunk) > 1
        units.append(
            Unit(
                terms=tuple(w.term for w in chunk),
                surface=("-" if compound else " ").join(w.surface for w in chunk),
                exact=any(w.exact for w in chunk),
                last=i + size == len(groups),
                compound=compound,
            )
        )
        i += size
    return units


def resolve(index: CatalogIndex, unit: Unit, vocabulary: Vocabulary, allow_prefix: bool = False) -> list[Candidate]:
    """The vocabulary terms a unit stands for, best first: itself, its synonyms, prefixes, near spellings."""
    found = _compound(index, unit) if unit.compound else [Candidate(unit.terms, 0, EXACT, form=_form(index, unit))]
    synonyms = vocabulary.synonyms.get(unit.terms, ())
    found += [Candidate(phrase, 0, SYNONYM) for phrase in synonyms if not (unit.compound and phrase == unit.terms)]
    if unit.exact or (len(unit.terms) > 1 and not unit.compound):
        return found
    word = "".join(unit.terms)
    if (unit.last or allow_prefix) and len(word) >= PREFIX_MIN_LENGTH:
        found += [Candidate((term,), 0, PREFIX) for term in index.prefixed(word, PREFIX_EXPANSIONS)]
    budget = typo_budget(unit.surface.replace("-", ""))
    if not budget and len(unit.surface) == 4 and unit.surface.isalpha() and not any(_used(index, c) for c in found):
        budget = 1  # a four-letter word that matches nothing as it is may be a longer word mistyped ("flsk")
    if budget:
        near = index.within_typos(word, budget)
        if near:
            found = _likely_misspellings(index, found, near)
    return found


def _form(index: CatalogIndex, unit: Unit) -> int:
    """The form a one-word unit must be written in to match exactly, when the catalog writes its term one way far more
    often than the other, a sign that the two are different words: "chaos" (indexed as "chao") is exact in talks about
    chaos, not in those by Ryan Chao, and "chao" the other way round. "protocols" and "protocol" are both common: the
    same word, either form is exact (0)."""
    posting = index.postings.get(unit.terms[0]) if len(unit.terms) == 1 else None
    if posting is None:
        return 0
    bare, inflected = np.count_nonzero(posting.masks & BARE_FORM), np.count_nonzero(posting.masks & INFLECTED_FORM)
    if DOMINANCE * min(bare, inflected) > max(bare, inflected):
        return 0
    return BARE_FORM if unit.surface == unit.terms[0] else INFLECTED_FORM


def _used(index: CatalogIndex, candidate: Candidate) -> bool:
    return all(term in index.postings for term in candidate.terms)


def _compound(index: CatalogIndex, unit: Unit) -> list[Candidate]:
    """A hyphenated word ("on-call", "state-of-the-art"): the catalog's compounds of its neighbouring parts (the index
    joins words that stand side by side wherever the catalog hyphenates them somewhere), or the whole written as
    one word; failing both, its parts within one field."""
    pairs = tuple(first + second for first, second in zip(unit.terms, unit.terms[1:], strict=False))
    whole = "".join(unit.terms)
    found = []
    if whole in index.postings:
        found.append(Candidate((whole,), 0, EXACT))
    if len(pairs) > 1 and all(pair in index.postings for pair in pairs):
        found.append(Candidate(pairs, 0, EXACT, together=True))
    return found or [Candidate(unit.terms, 0, EXACT, together=True)]


def _likely_misspellings(index: CatalogIndex, found: list[Candidate], near: list[tuple[str, int]]) -> list[Candidate]:
    """Add near spellings. One that costs fewer typos than the most used near spelling but is far rarer is more likely
    the misspelling ("gałka" beside "kafka" for "gafka"), so it costs a typo more than that one; an exact match counts
    as a typo like it, when barely used at all (a misspelling in one description, beside a word in many titles)."""
    used = {term: index.doc_freq(term) for term, _ in near}
    best, best_typos = max(near, key=lambda item: (used[item[0]], -item[1]))
    ranked = []
    for term, typos in near:
        if typos < best_typos and DOMINANCE * used[term] <= used[best]:
            typos = best_typos + 1
        ranked.append(Candidate((term,), typos, TYPO))
    exact = found[0]
    if len(exact.terms) == 1 and exact.kind == EXACT:
        own = index.doc_freq(exact.terms[0])
        if 0 < own <= RARE_EXACT and DOMINANCE * own <= used[best]:
            found = [Candidate(exact.terms, best_typos, EXACT, form=exact.form), *found[1:]]
    return found + sorted(ranked, key=lambda candidate: candidate.typos)


@dataclass(frozen=True)
class Part:
    """One candidate's talks: its posting (within a filter's fields), with what it is worth there."""

    docs: np.ndarray
    masks: np.ndarray  # the fields (and forms) per talk
    weights: np.ndarray  # BM25F's saturated term frequency per talk
    number: int  # the candidate's place in the unit's list (0: the best)
    points: int
    form: int

    def values(self, at: np.ndarray | slice) -> np.ndarray:
        masks = self.masks[at]
        values = self.points + MASK_POINTS[masks & ANY_FIELD]
        if self.form:  # written otherwise ("Chao" for "chaos"): a match through the stem, not an exact one
            values -= EXACT_POINTS * ((masks & self.form) == 0)
        return values


@dataclass(frozen=True)
class Scores:
    """Per talk asked about: the points of a unit's best match there (0 where it does not match), which candidate
    won, the fields it was found in, and its BM25F saturated term frequency (0..255)."""

    points: np.ndarray
    winner: np.ndarray
    fields: np.ndarray
    weights: np.ndarray


class UnitMatch:
    """The talks a unit matches: the union of its candidates' postings, kept as the largest posting and the sorted
    talks only the others hold, so that counting it, probing it and scoring a few talks never read it whole."""

    sparse = True

    def __init__(self, parts: list[Part], size: int) -> None:
        self.parts = parts
        self.size = size
        self._docs: np.ndarray | None = None
        self._marked: np.ndarray | None = None  # every talk it matches, as a mask, when it matches many
        self._base, self._extra = NO_DOCS, NO_DOCS
        if parts:
            largest = max(parts, key=lambda part: len(part.docs))
            self._base = largest.docs
            others = [part.docs for part in parts if part is not largest]
            if dense(sum(map(len, others)), size):
                self._marked = np.zeros(size, dtype=bool)
                self._marked[self._base] = True
                added = 0
                for docs in others:
                    new = docs[~self._marked[docs]]
                    self._marked[new] = True
                    added += len(new)
                self.count = len(self._base) + added
                return
            if others:
                news = [docs[~member(self._base, docs, size)] for docs in others]
                self._extra = np.unique(np.concatenate(news))
        self.count = len(self._base) + len(self._extra)

    def docs(self) -> np.ndarray:
        if self._docs is None:
            if self._marked is not None:
                self._docs = as_docs(np.flatnonzero(self._marked))
            elif len(self._extra):
                self._docs = np.insert(self._base, np.searchsorted(self._base, self._extra), self._extra)
            else:
                self._docs = self._base
        return self._docs

    def contains(self, wanted: np.ndarray) -> np.ndarray:
        if self._marked is not None:
            return self._marked[wanted]
        found = member(self._base, wanted, self.size)
        return found | member(self._extra, wanted, self.size) if len(self._extra) else found

    def at(self, docs: np.ndarray) -> Scores:
        """The unit's scores at `docs` (sorted). On a tie the earlier (better) candidate wins."""
        points = np.zeros(len(docs), dtype=np.int64)
        winner = np.zeros(len(docs), dtype=np.int32)
        fields = np.zeros(len(docs), dtype=np.uint8)
        weights = np.zeros(len(docs), dtype=np.uint8)
        positions = Positions(docs, self.size, sum(len(part.docs) for part in self.parts if part.docs is not docs))
        # Candidate by candidate, worst first, each written only where it beats or equals what is there.
        for written, part in enumerate(reversed(self.parts)):
            here, there = (slice(None), slice(None)) if part.docs is docs else positions.of(part.docs)
            values = part.values(there)
            if written:
                better = values >= points[here]
                if isinstance(here, slice):
                    here = there = np.flatnonzero(better)
                else:
                    here, there = here[better], there[better]
                values = values[better]
            points[here] = values
            winner[here] = part.number
            fields[here] = part.masks[there] & ANY_FIELD
            weights[here] = part.weights[there]
        return Scores(points, winner, fields, weights)


def unit_matches(index: CatalogIndex, candidates: list[Candidate], fields: int = ANY_FIELD) -> UnitMatch:
    parts = []
    for number, candidate in enumerate(candidates):
        if fields != ANY_FIELD and not all(index.fields_of.get(term, 0) & fields for term in candidate.terms):
            continue
        docs, masks, tf = _phrase_posting(index, candidate.terms, candidate.together)
        if fields != ANY_FIELD:
            masks = masks & fields
            docs, masks, tf = docs[masks > 0], masks[masks > 0], tf[masks > 0]
        if len(docs):
            parts.append(Part(docs, masks, tf, number, candidate.points, candidate.form))
    return UnitMatch(parts, len(index))


_EMPTY = (NO_DOCS, np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8))


def _phrase_posting(
    index: CatalogIndex, terms: Phrase, together: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(talks, fields, saturated term frequency) for talks holding every term. A phrase counts in the fields all its
    words share, or, when its words are spread over fields, in the weakest of them (unless they must be `together`);
    its frequency is its rarest word's."""
    postings = [index.postings.get(term) for term in terms]
    if not all(postings):
        return _EMPTY
    docs, masks, tf = postings[0].docs, postings[0].masks, postings[0].weights
    if len(postings) == 1:
        return docs, masks, tf  # with the forms the word is written in
    masks = weakest = masks & ANY_FIELD
    for posting in postings[1:]:
        here, there = common(docs, posting.docs, len(index))
        docs = docs[here]
        other = posting.masks[there] & ANY_FIELD
        weakest = np.where(BEST_WEIGHT[other] < BEST_WEIGHT[weakest[here]], other, weakest[here])
        masks = masks[here] & other
        tf = np.minimum(tf[here], posting.weights[there])
    if together:
        shared = masks > 0
        return docs[shared], masks[shared], tf[shared]
    return docs, np.where(masks > 0, masks, weakest).astype(np.uint8), tf


def _filtered_docs(index: CatalogIndex, query: Query, notes: list[str]) -> DocSet | None:
    """Talks passing every filter (None when the query has none): sorted talks for the speaker, event and tag
    filters, which match few; the year range and flags as the index holds them, masks over every talk."""
    allowed: DocSet | None = None
    size = len(index)
    no_synonyms = Vocabulary({}, frozenset())
    for name, field_mask, values in (
        ("speaker", SPEAKERS, query.speaker),
        ("event", EVENT, query.event),
        ("tag", TAGS, query.tag),
    ):
        for terms in values:
            passing: DocSet | None = None
            for term in terms:
                found = resolve(index, Unit((term,), term), no_synonyms, allow_prefix=True)
                matching = DocSet(size, docs=unit_matches(index, found, field_mask).docs())
                passing = matching if passing is None else passing & matching
            if not passing.any():
                notes.append(f"No talk has a {name} matching “{' '.join(terms)}”.")
            allowed = passing if allowed is None else allowed & passing
    if query.years:
        first, last = query.years
        in_years = DocSet(size, mask=(index.years >= first) & (index.years <= last))
        if not in_years.any():
            notes.append(f"No talk is from {first}–{last}." if first != last else f"No talk is from {first}.")
        allowed = in_years if allowed is None else allowed & in_years
    # Masks over every talk: the flags, then a talk's known length and its language (db/search/index.py).
    masks: list[tuple[np.ndarray, str]] = []
    if query.with_video:
        masks.append((index.has_video, "has a video"))
    if query.recommended:
        masks.append((index.recommended, "is recommended"))
    if query.minutes:
        low, high = query.minutes
        lasting = (
            f"lasts {low} minutes" if low == high else f"lasts at most {high} minutes" if low == 1
            else f"lasts at least {low} minutes" if high == MAX_MINUTES else f"lasts {low}–{high} minutes"
        )  # fmt: skip
        masks.append(((index.durations >= low) & (index.durations <= high), lasting))
    if query.languages:
        wanted = np.array([language.encode() for language in query.languages], dtype=index.languages.dtype)
        masks.append((np.isin(index.languages, wanted), f"is in {language_names(query.languages)}"))
    for flags, what in masks:
        passing = DocSet(size, mask=flags) if allowed is None else allowed & DocSet(size, mask=flags)
        if not passing.any():
            notes.append(f"No talk {'' if allowed is None else 'passing the other filters '}{what}.")
        allowed = passing
    return allowed


def _reasons(
    index: CatalogIndex, units: list[Unit], candidates: list[list[Candidate]], scores: list[Scores], at: int
) -> list[str]:
    """Why a talk (at position `at` of the scored talks) matched, one phrase per query word: which catalog word it
    matched, how, and where."""
    reasons = []
    for unit, found, score in zip(units, candidates, scores, strict=True):
        if not score.points[at]:
            continue
        candidate, mask = found[int(score.winner[at])], int(score.fields[at])
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
    """Catalog words close to the query words that found nothing. A word that found talks is never the reason for
    no result (the filters, or the other words, are): offering its neighbours ("kakao" for `kafka lang:xx`) would
    only mislead."""
    suggestions: list[str] = []
    for unit, matched in zip(units, matched_any, strict=True):
        if matched:
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
