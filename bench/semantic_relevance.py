"""Relevance with the semantic layer on and off, on every labelled set: intent and seed (64 talks), pyvideo (21,713).

    python -m bench.semantic_relevance              # all three sets (pyvideo vectors: ~20 min the first time)
    python -m bench.semantic_relevance --seed-only  # intent and seed sets only (seconds)
    python -m bench.semantic_relevance --misses     # also list the intent queries that miss the top 3

Both columns run the same code path as `SearchEngine.search` (`search_indexes`), on the same talks, in one process:
"off" is the lexical engine alone, "on" adds the semantic layer (gate-strong fusion).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np

from bench.search import ARCHIVE
from bench.vectors import cached_vectors, record_text
from db.importers import read_catalog_file
from db.records import TalkRecord
from db.search.encoder import Encoder
from db.search.engine import search_indexes
from db.search.index import CatalogIndex, TalkText
from db.search.query import parse_query
from db.search.semantic import SemanticIndex
from db.search.vocabulary import default_vocabulary
from db.setup import SEED_FILE
from tests.support.relevance import labelled_queries


@dataclass(frozen=True)
class Scores:
    hit_at_3: float
    mrr_at_5: float
    ndcg_at_5: float
    mrr: float  # over the top 10, as tests/test_relevance*.py measure it
    no_answer: int
    misses: list[str]


def scores(queries: list[dict], search) -> Scores:
    hit = mrr5 = ndcg = mrr = 0.0
    empty, misses = 0, []
    for entry in queries:
        ranked, expected = search(entry["query"]), entry["expect"]
        first = next((rank for rank, talk in enumerate(ranked[:10], start=1) if talk in expected), None)
        hit += first is not None and first <= 3
        mrr5 += 1 / first if first and first <= 5 else 0.0
        mrr += 1 / first if first else 0.0
        gain = sum(1 / math.log2(rank + 1) for rank, talk in enumerate(ranked[:5], start=1) if talk in expected)
        ndcg += gain / sum(1 / math.log2(rank + 1) for rank in range(1, min(len(expected), 5) + 1))
        empty += not ranked
        if first is None or first > 3:
            misses.append(f"{entry['query']!r}: rank {first or '-'}; top 3 {ranked[:3]}")
    n = len(queries)
    return Scores(hit / n, mrr5 / n, ndcg / n, mrr / n, empty, misses)


class Catalog:
    """A catalog as the engine sees it, without a database: lexical index, and semantic index from `vectors`."""

    def __init__(self, records: list[TalkRecord], ids: list[str], vectors: np.ndarray, encoder: Encoder) -> None:
        self.ids = ids
        self.lexical = CatalogIndex([TalkText.from_record(n, r) for n, r in enumerate(records, start=1)])
        talk_ids = np.arange(1, len(records) + 1)
        self.semantic = SemanticIndex(self.lexical, talk_ids, talk_ids, vectors, len(records))
        self.encoder = encoder
        self.vocabulary = default_vocabulary()

    def search(self, text: str, semantic: bool, limit: int = 10) -> list[str]:
        query = parse_query(text, self.vocabulary.stopwords)
        index, encoder = (self.semantic, self.encoder) if semantic else (None, None)
        ranking = search_indexes(self.lexical, index, encoder, self.vocabulary, query, text, limit)
        return [self.ids[hit.talk_id - 1] for hit in ranking.hits]


def seed_catalog(encoder: Encoder) -> Catalog:
    records = read_catalog_file(SEED_FILE).records
    vectors = encoder.encode([record_text(record) for record in records])
    return Catalog(records, [record.external_id for record in records], vectors, encoder)


def pyvideo_catalog(encoder: Encoder) -> Catalog:
    records = read_catalog_file(ARCHIVE).records
    ids = [f"{record.source}/{record.external_id}" for record in records]
    return Catalog(records, ids, cached_vectors(records), encoder)


def table(rows: list[tuple[str, str, Scores]]) -> str:
    lines = ["| set | semantic layer | hit@3 | MRR@5 | nDCG@5 | MRR | no answer |", "|---|---|" + "---:|" * 5]
    for name, mode, s in rows:
        numbers = (s.hit_at_3, s.mrr_at_5, s.ndcg_at_5, s.mrr)
        lines.append(f"| {name} | {mode} | " + " | ".join(f"{n:.3f}" for n in numbers) + f" | {s.no_answer} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-only", action="store_true", help="intent and seed sets only")
    parser.add_argument("--misses", action="store_true", help="list the intent queries missing the top 3")
    args = parser.parse_args()
    encoder = Encoder()
    rows = []
    seed = seed_catalog(encoder)
    sets = [("intent", "intent_queries.yaml", seed), ("seed", "seed_queries.yaml", seed)]
    if not args.seed_only and ARCHIVE.exists():
        sets.append(("pyvideo", "pyvideo_queries.yaml", pyvideo_catalog(encoder)))
    for name, file, catalog in sets:
        queries = labelled_queries(file)
        for mode, on in (("off", False), ("on", True)):
            measured = scores(queries, lambda text, on=on, catalog=catalog: catalog.search(text, on))
            rows.append((f"{name} ({len(queries)})", mode, measured))
            if args.misses and name == "intent":
                print(f"intent, semantic {mode}: {len(measured.misses)} misses at 3")
                print("\n".join(f"  {miss}" for miss in measured.misses))
    print(table(rows))


if __name__ == "__main__":
    main()
