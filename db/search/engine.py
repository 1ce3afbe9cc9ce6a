"""The search engine every surface calls: parses the query, keeps the indexes in step with the catalog, ranks.

Two sides answer a query: the lexical index (db/search/index.py, ranking.py) and, when talk vectors are stored, the
semantic layer (db/search/semantic.py), fused so that keyword queries rank exactly as the lexical side ranks them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz
from sqlalchemy.orm import Session, sessionmaker

from db.cards import TalkCard
from db.catalog import talks_by_id
from db.search.build_worker import BuildWorker
from db.search.encoder import Encoder, shared_encoder
from db.search.index import CatalogIndex, TalkText, load_talk_texts
from db.search.lifecycle import POLL_EVERY, Builder, Indexes, IndexKeeper, build_indexes
from db.search.query import Query, intent_query, parse_query
from db.search.ranking import Hit, Ranking, matching_within, rank, similar
from db.search.semantic import (
    DEPTH,
    FILL_SIMILARITY,
    Fused,
    Neighbour,
    SemanticIndex,
    free_text,
    fuse,
    semantic_text,
    strong_match,
)
from db.search.text import fold
from db.search.vocabulary import Vocabulary, default_vocabulary

SEMANTIC_VARIABLE = "TALKBOT_SEMANTIC"  # "off": lexical search only (no model is loaded)
SIMILAR_DEPTH = 30  # candidates each side brings to "More like this"
SIMILAR_RRF_K = 10  # small: the first few of each list decide, as only a handful are shown
LIKED_CONSIDERED = 20  # For you: the liked talks (newest first) whose neighbours are fused
MAX_RECOMMENDED = 50  # For you: how many talks its pages go through
MISSPELT_RATIO = 80  # rapidfuzz ratio of a one-word query to a did-you-mean word from which it reads as a misspelling


@dataclass
class ResultPage:
    """One page of answers, with what a surface needs to explain them."""

    cards: list[TalkCard]
    total: int
    offset: int = 0
    dropped_words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.cards) < self.total


@dataclass
class Recommendations:
    """One page of For you, and for each talk on it the liked talk it is most like."""

    page: ResultPage
    because: dict[int, int]


def semantic_enabled() -> bool:
    return os.environ.get(SEMANTIC_VARIABLE, "on").strip().lower() not in ("off", "0", "false", "no")


class SearchEngine:
    """Search over one catalog database. The lexical index is rebuilt whenever the catalog revision changes, and the
    semantic index reloaded (only the new vectors) whenever vectors are stored, whichever process changed them: in
    the background, while searches answer from the indexes at hand (db/search/lifecycle.py).

    `build` makes the indexes for a revision (default: lifecycle.build_indexes, with full rebuilds of the lexical
    index made by `worker`, a process of their own: db/search/build_worker.py); `poll_every`: how often the watcher
    (`watch_catalog`) looks at the catalog revision."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        vocabulary: Vocabulary | None = None,
        semantic: bool | None = None,
        encoder: Encoder | None = None,
        build: Builder | None = None,
        poll_every: float = POLL_EVERY,
        worker: BuildWorker | None = None,
    ) -> None:
        self.sessions = sessions
        self.vocabulary = vocabulary or default_vocabulary()
        self.semantic = semantic_enabled() if semantic is None else semantic
        self._encoder = encoder
        self._worker = worker or BuildWorker()
        build = build or functools.partial(build_indexes, semantic=self.semantic, full_build=self._worker)
        self._keeper = IndexKeeper(sessions, build, vectors_matter=self.semantic, poll_every=poll_every)

    def parse(self, text: str) -> Query:
        return parse_query(text, self.vocabulary.stopwords)

    def intent_query(self, text: str) -> str:
        """A query for what `text` (a message, a need written as prose) is about: its most informative words, within
        the query limits (db/search/query.py intent_query); empty when it holds nothing to search for."""
        with self.sessions() as session:
            lexical = self._current(session).lexical
        return intent_query(text, self.vocabulary.stopwords, lexical.doc_freq)

    def encoder(self) -> Encoder | None:
        """The query encoder, loaded on first use; None when the semantic layer is off or its model unusable."""
        if self.semantic and self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder if self.semantic else None

    def index(self, session: Session) -> CatalogIndex:
        """The lexical index at the catalog's revision as `session` reads it (built now if need be)."""
        return self._fresh(session).lexical

    def semantic_index(self, session: Session) -> SemanticIndex | None:
        return self._fresh(session).semantic

    def _current(self, session: Session) -> Indexes:
        """The indexes a search answers from: the newest built, never waiting for the next (db/search/lifecycle.py)."""
        return self._keeper.current(session)

    def _fresh(self, session: Session) -> Indexes:
        """Indexes holding the catalog as `session` reads it, waiting for a build when needed."""
        return self._keeper.fresh(session)

    @property
    def revision(self) -> int | None:
        """The catalog revision searches answer from now (None before the first build); no database read."""
        indexes = self._keeper.indexes
        return indexes.revision if indexes is not None else None

    def catch_up(self) -> None:
        """Bring the indexes up to the catalog now, waiting for the build: for a process that has just changed the
        catalog itself and must show it at once (the console after an import)."""
        with self.sessions() as session:
            self._fresh(session)

    def watch_catalog(self) -> None:
        """Notice catalog changes other processes make even when nobody searches (a daemon thread; the server's)."""
        self._keeper.watch()

    def stop_watching(self) -> None:
        """Stop the watcher, and the build worker if one runs (its build is dropped; searches go on)."""
        self._keeper.stop_watching()
        self._worker.stop()

    def warm_up(self) -> None:
        """Build the indexes and load the model now, so the first person to search does not wait for them."""
        with self.sessions() as session:
            indexes = self._fresh(session)
        if indexes.semantic is not None and self.encoder() is not None:
            self.encoder().query("warm up")

    def search(self, text: str, limit: int = 5, offset: int = 0, later: Collection[int] = ()) -> ResultPage:
        """Raises QueryError (with a message for the user) when the query cannot be understood. `later`: talks to put
        after every other talk of equal score (a person's watched talks); the ranking is otherwise unchanged."""
        query = self.parse(text)
        with self.sessions() as session:
            indexes = self._current(session)
            encoder = self.encoder() if indexes.semantic is not None and query.words else None
            if later:
                # Ranked from the top, far enough that each talk moved back can be replaced from further down.
                window = offset + limit + len(later)
                ranking = search_indexes(
                    indexes.lexical, indexes.semantic, encoder, self.vocabulary, query, text, window, 0
                )
                ranking.hits = _equal_scores_later(ranking.hits, set(later), ranking.total)[offset : offset + limit]
            else:
                ranking = search_indexes(
                    indexes.lexical, indexes.semantic, encoder, self.vocabulary, query, text, limit, offset
                )
            return ResultPage(
                cards=_cards(session, ranking.hits),
                total=ranking.total,
                offset=offset,
                dropped_words=ranking.dropped_words,
                notes=ranking.notes,
                suggestions=ranking.suggestions,
            )

    def matching(self, text: str, talk_ids: list[int]) -> list[int]:
        """Which of `talk_ids` match every word and filter of the query `text`, best first (the talks a follow alerts
        for: matched by their words like a search, typos and synonyms forgiven, but not merely close in meaning).
        Raises QueryError like `search`. The index is brought up to the catalog's revision first, so talks an import
        just added are there."""
        query = self.parse(text)
        if query.is_empty or not talk_ids:
            return []
        with self.sessions() as session:
            lexical = self._fresh(session).lexical
        within = np.isin(lexical.talk_ids, np.asarray(talk_ids, dtype=lexical.talk_ids.dtype))
        return matching_within(lexical, query, self.vocabulary, within)

    def similar(self, talk_id: int, limit: int = 5, exclude: Collection[int] = ()) -> ResultPage:
        """ "More like this": the talks closest to `talk_id` by shared tags, speakers and rare words, fused (RRF) with
        the talks closest in meaning, leaving out `exclude` (talks the person has watched); empty when the talk is
        unknown."""
        with self.sessions() as session:
            indexes = self._current(session)
            texts = load_talk_texts(session, [talk_id])
            if not texts:
                return ResultPage(cards=[], total=0)
            hits = [hit for hit in self._alike(indexes, texts[0]) if hit.talk_id not in exclude][:limit]
            return ResultPage(cards=_cards(session, hits), total=len(hits))

    def _alike(self, indexes: Indexes, talk: TalkText) -> list[Hit]:
        """Talks like one talk, best first: both sides' nearest, fused."""
        shared = similar(indexes.lexical, talk, self.vocabulary.stopwords, SIMILAR_DEPTH)
        neighbours = []
        doc = indexes.lexical.doc_of(talk.talk_id)
        vector = indexes.semantic.vector_of(doc) if indexes.semantic is not None and doc is not None else None
        if vector is not None:
            found = indexes.semantic.nearest(vector, None, SIMILAR_DEPTH + 1, FILL_SIMILARITY)
            neighbours = [(int(indexes.lexical.talk_ids[n.doc]), n.similarity) for n in found if n.doc != doc]
        return fuse_similar(shared, neighbours)

    def recommend(self, liked: list[int], exclude: Collection[int], limit: int = 5, offset: int = 0) -> Recommendations:
        """For you: talks like the `liked` ones (most telling first: only the first LIKED_CONSIDERED count), fused by
        reciprocal rank over each liked talk's "More like this" list, so a talk like several of them comes first;
        `exclude` (and the liked talks) left out. Works on the lexical side alone when the semantic layer is off."""
        with self.sessions() as session:
            indexes = self._current(session)
            texts = {text.talk_id: text for text in load_talk_texts(session, liked[:LIKED_CONSIDERED])}
            skip = set(exclude) | set(liked)
            score: dict[int, float] = {}
            because: dict[int, tuple[float, int]] = {}
            for liked_id in liked[:LIKED_CONSIDERED]:
                if liked_id not in texts:
                    continue
                fresh = [hit for hit in self._alike(indexes, texts[liked_id]) if hit.talk_id not in skip]
                for at, hit in enumerate(fresh):
                    share = (SIMILAR_RRF_K + 1) / (SIMILAR_RRF_K + at + 1)
                    score[hit.talk_id] = score.get(hit.talk_id, 0.0) + share
                    if share > because.get(hit.talk_id, (0.0, 0))[0]:
                        because[hit.talk_id] = (share, liked_id)
            order = sorted(score, key=lambda talk_id: (-score[talk_id], talk_id))[:MAX_RECOMMENDED]
            hits = [Hit(talk_id, round(score[talk_id], 4), ()) for talk_id in order[offset : offset + limit]]
            page = ResultPage(cards=_cards(session, hits), total=len(order), offset=offset)
            return Recommendations(page, {hit.talk_id: because[hit.talk_id][1] for hit in hits})


def search_indexes(
    lexical: CatalogIndex,
    semantic: SemanticIndex | None,
    encoder: Encoder | None,
    vocabulary: Vocabulary,
    query: Query,
    text: str,
    limit: int = 5,
    offset: int = 0,
) -> Ranking:
    """One page of `query` (parsed from `text`) over the indexes: the lexical ranking, fused with the semantic side
    when there is one (db/search/semantic.py says how). Needs no database, so benchmarks call it too."""
    # Quoted words ask for these words, nothing like them; sort:newest is a date order of the talks that match the
    # words, where talks only close in meaning have no place.
    if semantic is None or encoder is None or not query.words or any(w.exact for w in query.words) or query.newest:
        return rank(lexical, query, vocabulary, limit=limit, offset=offset)
    ranking = rank(lexical, query, vocabulary, limit=max(DEPTH, offset + limit))
    if not ranking.hits and _misspelt(query, ranking.suggestions):
        return ranking  # "No talks match. Did you mean: …?"
    all_words = bool(ranking.hits) and not ranking.dropped_words
    strong = all_words and strong_match(ranking.hits[0].fields)
    words = free_text(text)
    neighbours = []
    if words and not (strong and ranking.total > len(ranking.hits)):  # else no fill could reach a page
        vector = encoder.query(semantic_text(text, query, lexical, vocabulary))
        found = semantic.nearest(vector, ranking.allowed, DEPTH, FILL_SIMILARITY if strong else 0.0)
        neighbours = [Neighbour(int(lexical.talk_ids[n.doc]), n.similarity) for n in found]
    by_talk = {hit.talk_id: hit for hit in ranking.hits}
    fused, total = fuse(
        [(hit.talk_id, hit.score) for hit in ranking.hits], ranking.total, all_words, strong, neighbours
    )
    led = bool(fused) and fused[0].lexical is None
    return Ranking(
        hits=[_fused_hit(item, by_talk.get(item.doc), words) for item in fused[offset : offset + limit]],
        total=total,
        dropped_words=[] if led else ranking.dropped_words,  # the talks close in meaning lead, not partial matches
        notes=ranking.notes,
        suggestions=[] if fused else ranking.suggestions,
        allowed=ranking.allowed,
    )


def _misspelt(query: Query, suggestions: list[str]) -> bool:
    """A one-word query that matched nothing but is a letter or two from a catalog word ("kubrnetis"): "Did you mean:
    kubernetes?" answers it better than the model, which reads a misspelling as word pieces and guesses (it offered
    one of the two Kubernetes talks). Looser suggestions ("pager": part, perl) leave the need to the semantic side."""
    if len(query.words) != 1:
        return False
    return any(fuzz.ratio(query.words[0].term, fold(word)) >= MISSPELT_RATIO for word in suggestions)


def fuse_similar(shared: list[Hit], neighbours: list[tuple[int, float]], k: int = SIMILAR_RRF_K) -> list[Hit]:
    """Reciprocal rank fusion of "shares tags, speakers, rare words" and "close in meaning": a talk high on both lists
    comes first; either list alone still counts (embeddings alone give mixed neighbours, shared tags alone miss
    talks on the same subject in other words)."""
    score: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}
    for at, hit in enumerate(shared):
        score[hit.talk_id] = score.get(hit.talk_id, 0.0) + (k + 1) / (k + at + 1)
        reasons[hit.talk_id] = list(hit.reasons)
    for at, (talk_id, similarity) in enumerate(neighbours):
        score[talk_id] = score.get(talk_id, 0.0) + (k + 1) / (k + at + 1)
        reasons.setdefault(talk_id, []).append(f"close in meaning ({similarity:.2f})")
    order = sorted(score, key=lambda talk_id: (-score[talk_id], talk_id))
    return [Hit(talk_id, round(score[talk_id], 4), tuple(reasons[talk_id])) for talk_id in order]


def _equal_scores_later(hits: list[Hit], later: set[int], total: int) -> list[Hit]:
    """`hits` (best first) with the talks in `later` moved behind the others of equal score. When the list stops
    before the results do, those of the last score may have equals further down, ahead of which they belong: left
    off."""
    moved = sorted(hits, key=lambda hit: (-hit.score, hit.talk_id in later))
    if total > len(hits) and hits:
        moved = [hit for hit in moved if not (hit.talk_id in later and hit.score == hits[-1].score)]
    return moved


def _fused_hit(item: Fused, lexical: Hit | None, words: str) -> Hit:
    reasons = list(lexical.reasons) if lexical is not None else []
    if item.similarity is not None:
        shown = words if len(words) <= 60 else words[:59].rsplit(" ", 1)[0] + "…"
        reasons.append(f"close in meaning to “{shown}”")
    return Hit(item.doc, item.score, tuple(reasons))


def _cards(session: Session, hits: list[Hit]) -> list[TalkCard]:
    talks = talks_by_id(session, [hit.talk_id for hit in hits])
    return [TalkCard.of(talks[hit.talk_id], hit.score, hit.reasons) for hit in hits if hit.talk_id in talks]
