"""Ranking quality against labelled queries: mean reciprocal rank and nDCG@5, for any engine."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

LABELLED = Path(__file__).resolve().parents[1] / "relevance"


def labelled_queries(name: str) -> list[dict]:
    """`seed_queries.yaml` or `pyvideo_queries.yaml`: query, kind, expect (ids best first)."""
    return yaml.safe_load((LABELLED / name).read_text(encoding="utf-8"))["queries"]


def reciprocal_rank(ranked: list[str], expected: list[str]) -> float:
    return next((1 / rank for rank, talk in enumerate(ranked, start=1) if talk in expected), 0.0)


def ndcg_at_5(ranked: list[str], expected: list[str]) -> float:
    gain = sum(1 / math.log2(rank + 1) for rank, talk in enumerate(ranked[:5], start=1) if talk in expected)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(expected), 5) + 1))
    return gain / ideal


@dataclass(frozen=True)
class Quality:
    mrr: float
    ndcg_at_5: float
    misses: list[str]


def quality(queries: list[dict], search: Callable[[str], list[str]]) -> Quality:
    """Score an engine, given as `search(query) -> ids best first`, on labelled queries."""
    ranked = {entry["query"]: search(entry["query"]) for entry in queries}
    misses = [
        f"{e['query']!r}: expected {e['expect'][:3]}, got {ranked[e['query']][:3]}"
        for e in queries
        if ndcg_at_5(ranked[e["query"]], e["expect"]) < 1
    ]
    return Quality(
        mrr=sum(reciprocal_rank(ranked[e["query"]], e["expect"]) for e in queries) / len(queries),
        ndcg_at_5=sum(ndcg_at_5(ranked[e["query"]], e["expect"]) for e in queries) / len(queries),
        misses=misses,
    )
