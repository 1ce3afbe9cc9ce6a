"""Ranking quality over the labelled seed queries: a drop below the level reached fails the build."""

import pytest
from sqlalchemy import select

from bench.relevance import labelled_queries, quality
from db.config import sessions_for
from db.models import TalkSource

LABELLED = labelled_queries("seed_queries.yaml")

# The level the engine reached when these were set; raise them when ranking improves.
MIN_MRR = 0.99
MIN_NDCG_AT_5 = 0.99


@pytest.fixture(scope="module")
def ranked_by_query(seeded_database, seeded_engine) -> dict[str, list[str]]:
    with sessions_for(seeded_database)() as session:
        seed_ids = dict(session.execute(select(TalkSource.talk_id, TalkSource.external_id)).all())
    return {
        entry["query"]: [seed_ids[card.id] for card in seeded_engine.search(entry["query"], limit=10).cards]
        for entry in LABELLED
    }


def test_the_labelled_set_covers_every_kind_of_query():
    kinds = {entry["kind"] for entry in LABELLED}
    assert len(LABELLED) >= 40
    assert {"topic", "typo", "abbreviation", "speaker", "filter", "summary-only", "prefix"} <= kinds


def test_ranking_quality_stays_at_the_level_reached(ranked_by_query):
    measured = quality(LABELLED, ranked_by_query.__getitem__)
    print(f"\nMRR {measured.mrr:.3f}  nDCG@5 {measured.ndcg_at_5:.3f}  over {len(LABELLED)} queries")
    print("\n".join(measured.misses))
    assert measured.mrr >= MIN_MRR
    assert measured.ndcg_at_5 >= MIN_NDCG_AT_5


@pytest.mark.parametrize("query", ["kafka", "kafak"])
def test_kafka_queries_put_both_kafka_talks_first(ranked_by_query, query):
    assert set(ranked_by_query[query][:2]) == {"srecon-2023-scaling-kafka", "dotscale-2018-call-of-duty-kafka"}


def test_k8s_finds_the_kubernetes_talks_first(ranked_by_query):
    assert set(ranked_by_query["k8s"][:2]) == {"dotscale-2015-borg-kubernetes", "dotscale-2018-istio-skaffold"}
