"""The semantic layer: talks nearest a query by meaning, and how they join the lexical ranking ("gate-strong").

Vectors come from the database (db/search/embeddings.py) and are held beside the lexical index, aligned to its
document numbers. Up to ANN_FROM vectors the nearest are found exactly (one float32 matrix product: ~2.5 ms at 22k
talks); from there on, by a usearch HNSW graph (~1-2 ms at 1M talks, 91-98% recall) — a brute-force product costs
11 ms at 100k and 80-110 ms at 1M, which the latency targets cannot afford. The graph is keyed by talk id, so when the
catalog changes the next index copies it and adds or removes only the talks whose vectors changed.

Fusion keeps every keyword query as it was. The lexical engine knows when it has a strong answer:
- every query word matched, and the best hit has each of them outside its summary → the lexical order stands, and
  talks close in meaning (cosine >= FILL_SIMILARITY) fill the page after its hits;
- every word matched, but the best hit has some only in its summary → reciprocal rank fusion of the two lists;
- a word was dropped, or nothing matched → the talks close in meaning (cosine >= LEAD_SIMILARITY) lead, and the
  lexical partial matches follow; below that nothing is offered, so nonsense still gets "No talks match".
Filters (speaker:, event:, year:, tag:) are hard filters on both sides.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from db.search.encoder import DIMENSIONS
from db.search.index import SUMMARY, CatalogIndex
from db.search.query import FILTERS, Query
from db.search.ranking import make_units
from db.search.text import fold
from db.search.vocabulary import Vocabulary

LEAD_SIMILARITY = 0.28  # all-MiniLM-L6-v2: nonsense ("zzzzqqq", "lorem ipsum dolor") reaches 0.25 on the seed
FILL_SIMILARITY = 0.35
DEPTH = 50  # candidates each side brings to the fusion
RRF_K = 60
ANN_FROM = 50_000  # vectors; below, exact search
EXACT_UP_TO = 20_000  # filtered searches over at most this many talks are exact, whatever the catalog's size
ANN_EXPANSION_SEARCH = 256  # recall@10 ~0.98 at 22k, ~0.91 at 200k (perturbed pyvideo vectors)
ANN_MAX_FETCH = 4096

_FILTER = re.compile(rf'(?i)(?<!\S)(?:{"|".join(FILTERS)}):(?:"[^"]*"?|(?!//)\S*)')


def free_text(query: str) -> str:
    """The words of a query without its filters: what the semantic side reads ("" for a filter-only query)."""
    return " ".join(_FILTER.sub(" ", query).split())


def semantic_text(text: str, query: Query, lexical: CatalogIndex, vocabulary: Vocabulary) -> str:
    """What the encoder reads for a query: its words without filters, where a word the catalog never uses but the
    synonym table knows is replaced by its synonym the catalog uses most ("outages" -> "incident" when the talks say
    incident), or failing that its longest synonym ("k8s" -> "kubernetes"). The model cannot read abbreviations and
    jargon it never saw ("p99" is three tokens, p-9-9, to it); the table can."""
    words = fold(free_text(text))
    vocabulary = lexical.with_learned(vocabulary)
    for unit in make_units(query.words, vocabulary):
        phrases = vocabulary.synonyms.get(unit.terms, ())
        if unit.exact or not phrases or all(term in lexical.postings for term in unit.terms):
            continue
        used = [phrase for phrase in phrases if all(term in lexical.postings for term in phrase)]
        if used:
            best = max(used, key=lambda phrase: (min(lexical.doc_freq(term) for term in phrase), phrase))
        else:
            best = max(phrases, key=lambda phrase: (len(phrase), len(" ".join(phrase)), phrase))
        replacement = " ".join(lexical.surfaces.get(term, term) for term in best)
        written = r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", unit.surface)))
        words = re.sub(rf"(?<!\w){written}(?!\w)", lambda _, new=replacement: new, words)
    return words


@dataclass(frozen=True)
class Neighbour:
    doc: int
    similarity: float


class SemanticIndex:
    """Talk vectors aligned to a lexical index's documents. Built from (row id, talk id, vector) rows; a previous
    SemanticIndex, when given, lends the vectors and ANN graph of every row still current; `ann`, when given, is the
    ANN graph of exactly these rows (loaded from a snapshot, db/search/snapshot.py)."""

    def __init__(
        self,
        lexical: CatalogIndex,
        row_ids: np.ndarray,
        talk_ids: np.ndarray,
        vectors: np.ndarray,
        max_row_id: int,
        previous: SemanticIndex | None = None,
        ann=None,
    ) -> None:
        self.row_ids, self.talk_ids = row_ids.astype(np.int64), talk_ids.astype(np.int64)
        self.vectors = vectors.astype(np.float16, copy=False)  # rows follow row_ids
        self.max_row_id = max_row_id
        # Document number of each vector's talk in the lexical index (-1: a talk the index does not hold).
        order = np.argsort(lexical.talk_ids, kind="stable")
        at = np.minimum(np.searchsorted(lexical.talk_ids, self.talk_ids, sorter=order), max(len(order) - 1, 0))
        found = lexical.talk_ids[order[at]] == self.talk_ids if len(order) else np.zeros(len(self.talk_ids), dtype=bool)
        self.docs = np.where(found, order[at] if len(order) else -1, -1).astype(np.int64)
        self.row_of_doc = np.full(len(lexical), -1, dtype=np.int64)
        self.row_of_doc[self.docs[found]] = np.flatnonzero(found)
        self.ann = None
        self.exact: np.ndarray | None = None
        if len(self.row_ids) >= ANN_FROM and ann is not None:  # a graph of exactly these vectors (a snapshot's)
            self.ann = ann
            self.ann.expansion_search = ANN_EXPANSION_SEARCH  # a saved graph does not keep it
        elif len(self.row_ids) >= ANN_FROM:
            self.ann = _updated_graph(previous, self)
        else:
            self.exact = self.vectors.astype(np.float32)

    def __len__(self) -> int:
        return len(self.row_ids)

    def vector_of(self, doc: int) -> np.ndarray | None:
        row = self.row_of_doc[doc] if 0 <= doc < len(self.row_of_doc) else -1
        return self.vectors[row].astype(np.float32) if row >= 0 else None

    def nearest(
        self, vector: np.ndarray, allowed: np.ndarray | None, depth: int = DEPTH, min_similarity: float = 0.0
    ) -> list[Neighbour]:
        """The `depth` documents closest to `vector` among those `allowed` (a boolean mask over documents; None:
        all), best first, at least `min_similarity` (cosine) close."""
        if not len(self.row_ids) or depth <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        usable = self.docs >= 0
        if allowed is not None:
            usable &= allowed[np.maximum(self.docs, 0)]
        count = int(np.count_nonzero(usable))
        if count == 0:
            return []
        if self.exact is not None:
            similarity = self.exact @ query
            rows = np.flatnonzero(usable) if allowed is not None else None
        elif count <= EXACT_UP_TO:
            rows = np.flatnonzero(usable)
            similarity = np.full(len(self.row_ids), -np.inf, dtype=np.float32)
            similarity[rows] = self.vectors[rows].astype(np.float32) @ query
        else:
            return self._approximate(query, usable, count, depth, min_similarity)
        candidates = rows if rows is not None else np.arange(len(similarity))
        scores = similarity[candidates]
        if len(candidates) > depth:
            top = np.argpartition(-scores, depth - 1)[:depth]
            candidates, scores = candidates[top], scores[top]
        order = np.lexsort((self.docs[candidates], -scores))
        return [
            Neighbour(int(self.docs[row]), float(score))
            for row, score in zip(candidates[order].tolist(), scores[order].tolist(), strict=True)
            if score >= min_similarity and self.docs[row] >= 0
        ]

    def _approximate(
        self, query: np.ndarray, usable: np.ndarray, count: int, depth: int, min_similarity: float
    ) -> list[Neighbour]:
        """HNSW search; with a filter, enough extra neighbours are fetched that `depth` of them likely pass it."""
        wanted = min(ANN_MAX_FETCH, len(self.row_ids), depth * math.ceil(len(self.row_ids) / count))
        matches = self.ann.search(query, wanted)
        keys, distances = np.asarray(matches.keys, dtype=np.int64), np.asarray(matches.distances)
        rows = self._row_of_talk(keys)
        keep = rows >= 0
        rows, similarity = rows[keep], 1.0 - distances[keep]  # usearch's "ip" distance is 1 - dot product
        keep = usable[rows] & (similarity >= min_similarity)
        rows, similarity = rows[keep][:depth], similarity[keep][:depth]
        return [Neighbour(int(self.docs[r]), float(s)) for r, s in zip(rows.tolist(), similarity.tolist(), strict=True)]

    def _row_of_talk(self, talk_ids: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_talk_order"):
            self._talk_order = np.argsort(self.talk_ids, kind="stable")
        at = np.minimum(np.searchsorted(self.talk_ids, talk_ids, sorter=self._talk_order), len(self.talk_ids) - 1)
        rows = self._talk_order[at]
        return np.where(self.talk_ids[rows] == talk_ids, rows, -1)


def _new_graph():
    from usearch.index import Index

    return Index(
        ndim=DIMENSIONS, metric="ip", dtype="f16", connectivity=16, expansion_add=128,
        expansion_search=ANN_EXPANSION_SEARCH,
    )  # fmt: skip


def _updated_graph(previous: SemanticIndex | None, current: SemanticIndex):
    """The HNSW graph for `current`: a copy of the previous one with only the changed talks removed and added (its
    searches go on meanwhile), or a new one when there is none, or most of it changed."""
    if previous is not None and previous.ann is not None:
        kept = np.isin(previous.row_ids, current.row_ids)
        if np.count_nonzero(kept) >= len(current.row_ids) // 2:
            graph = previous.ann.copy()
            gone = previous.talk_ids[~kept]
            if len(gone):
                graph.remove(gone)
            new = ~np.isin(current.row_ids, previous.row_ids)
            if new.any():
                graph.add(current.talk_ids[new], current.vectors[new], threads=0)
            return graph
    graph = _new_graph()
    graph.add(current.talk_ids, current.vectors, threads=0)
    return graph


# ------------------------------------------------------------------------------------------------------------ fusion
@dataclass(frozen=True)
class Fused:
    """One talk of a fused list: its document, score (falling along the list) and why it is there."""

    doc: int
    score: float
    lexical: int | None  # its position in the lexical hits, if it is one
    similarity: float | None  # cosine to the query, when the semantic side found it


def strong_match(fields: tuple[int, ...]) -> bool:
    """Every query word matched the top hit somewhere besides its summary (a title, tag, speaker or event)."""
    return bool(fields) and all(mask & ~SUMMARY for mask in fields)


def fuse(
    lexical: list[tuple[int, float]],
    lexical_total: int,
    all_words: bool,
    strong: bool,
    semantic: list[Neighbour],
) -> tuple[list[Fused], int]:
    """gate-strong. `lexical` is the lexical hits (document, score), best first; returns the fused list and the
    total number of results (more than the list when the lexical order stands over more hits than it holds)."""
    seen = {doc for doc, _ in lexical}
    if strong or not semantic:
        fills = [n for n in semantic if n.similarity >= FILL_SIMILARITY and n.doc not in seen]
        floor = lexical[-1][1] if lexical else 1.0
        fused = [Fused(doc, score, at, None) for at, (doc, score) in enumerate(lexical)]
        if lexical_total > len(lexical):
            return fused, lexical_total  # the page is full of keyword matches; fills would come after all of them
        fused += [Fused(n.doc, round(floor * n.similarity, 4), None, n.similarity) for n in fills]
        return fused, len(fused)
    lead = [n for n in semantic if n.similarity >= LEAD_SIMILARITY]
    if not lead:
        return [Fused(doc, score, at, None) for at, (doc, score) in enumerate(lexical)], lexical_total
    if all_words:
        fused = _rrf(lexical, lead)
        return fused, len(fused)
    fused = [Fused(n.doc, round(n.similarity, 4), None, n.similarity) for n in lead]
    led = {n.doc for n in lead}
    rest = [(at, doc, score) for at, (doc, score) in enumerate(lexical) if doc not in led]
    if rest:  # the partial keyword matches follow, scored below the last talk close in meaning
        top = max(score for _, _, score in rest) or 1.0
        fused += [Fused(doc, round(fused[-1].score * 0.99 * score / top, 4), at, None) for at, doc, score in rest]
    return fused, len(fused)


def _rrf(lexical: list[tuple[int, float]], semantic: list[Neighbour]) -> list[Fused]:
    """Reciprocal rank fusion; scores are RRF sums scaled so that first place on one list alone is 1.0."""
    score: dict[int, float] = {}
    position: dict[int, int] = {}
    similarity = {n.doc: n.similarity for n in semantic}
    for at, (doc, _) in enumerate(lexical):
        score[doc] = score.get(doc, 0.0) + (RRF_K + 1) / (RRF_K + at + 1)
        position[doc] = at
    for at, n in enumerate(semantic):
        score[n.doc] = score.get(n.doc, 0.0) + (RRF_K + 1) / (RRF_K + at + 1)
    order = sorted(score, key=lambda doc: (-score[doc], position.get(doc, len(lexical)), doc))
    return [Fused(doc, round(score[doc], 4), position.get(doc), similarity.get(doc)) for doc in order]
