"""Ranking quality over the labelled seed queries: a drop below the level reached fails the build."""

import pytest
from sqlalchemy import select

from db.config import sessions_for
from db.models import TalkSource
from db.search.engine import SearchEngine
from tests.support.relevance import labelled_queries, quality, reciprocal_rank

LABELLED = labelled_queries("seed_queries.yaml")
INTENT = labelled_queries("intent_queries.yaml")

# The level the engine reached when these were set; raise them when ranking improves.
MIN_MRR = 0.99
MIN_NDCG_AT_5 = 0.99
# Intent queries (needs, not keywords) with the semantic layer on: issue 12 asks hit@3 >= 0.8; measured 0.900 and
# MRR@5 0.853. With the layer off the lexical engine alone reaches 0.433: the layer must be what answers them.
MIN_INTENT_HIT_AT_3 = 0.8
MIN_INTENT_MRR_AT_5 = 0.85
MIN_INTENT_GAIN_FROM_THE_LAYER = 0.3


@pytest.fixture(scope="module")
def seed_ids(seeded_database) -> dict[int, str]:
    with sessions_for(seeded_database)() as session:
        return dict(session.execute(select(TalkSource.talk_id, TalkSource.external_id)).all())


@pytest.fixture(scope="module")
def ranked_by_query(seed_ids, seeded_engine) -> dict[str, list[str]]:
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


def test_a_talk_a_reporter_recommended_outranks_ones_they_judged_shallow_or_disappointing(ranked_by_query):
    """Issue 12: a note counted as praise whatever it said, so `incident` ranked the "fairly shallow" Spotify talk
    first and the "disappointing" Meta talk above Allspaw's ("a great talk"). Verica's, Spotify's and Meta's talks
    match "incident" alike; Allspaw's only in a tag, yet the recommendation lifts it above the two not recommended."""
    ranked = ranked_by_query["incident"]
    assert ranked[0] == "srecon-2023-verica-incident-reports"
    allspaw = ranked.index("velocity-2011-anticipation")
    assert allspaw < ranked.index("srecon-2023-spotify-incident-data") < ranked.index("srecon-2022-meta-incident")
    assert allspaw < ranked.index("velocity-2011-ddos-my-opera")


@pytest.fixture(scope="module")
def intent_ranked(seed_ids, seeded_database) -> dict[bool, dict[str, list[str]]]:
    """The intent queries' top 10, with the semantic layer on (True) and off (False)."""
    ranked = {}
    for semantic in (True, False):
        engine = SearchEngine(sessions_for(seeded_database), semantic=semantic)
        ranked[semantic] = {
            entry["query"]: [seed_ids[card.id] for card in engine.search(entry["query"], limit=10).cards]
            for entry in INTENT
        }
    return ranked


def hit_at_3_and_mrr_at_5(ranked: dict[str, list[str]]) -> tuple[float, float, list[str]]:
    hits = [reciprocal_rank(ranked[entry["query"]][:3], entry["expect"]) > 0 for entry in INTENT]
    mrr = sum(reciprocal_rank(ranked[entry["query"]][:5], entry["expect"]) for entry in INTENT) / len(INTENT)
    misses = [
        f"{entry['query']!r}: got {ranked[entry['query']][:3]}"
        for entry, hit in zip(INTENT, hits, strict=True)
        if not hit
    ]
    return sum(hits) / len(INTENT), mrr, misses


def test_the_intent_set_has_forty_needs_each_answerable_from_the_seed_catalog(seed_ids):
    """A label naming a talk the catalog lacks would make a query unanswerable and the measure meaningless."""
    assert len(INTENT) >= 40 and {entry["kind"] for entry in INTENT} == {"intent"}
    assert len({entry["query"] for entry in INTENT}) == len(INTENT)
    for entry in INTENT:
        assert entry["expect"] and set(entry["expect"]) <= set(seed_ids.values()), entry["query"]


def test_intent_queries_find_an_accepted_talk_in_the_top_3_with_the_semantic_layer(intent_ranked):
    hit_at_3, mrr_at_5, misses = hit_at_3_and_mrr_at_5(intent_ranked[True])
    print(f"\nintent set, semantic on: hit@3 {hit_at_3:.3f}  MRR@5 {mrr_at_5:.3f}  over {len(INTENT)} queries")
    print("\n".join(misses))
    assert hit_at_3 >= MIN_INTENT_HIT_AT_3
    assert mrr_at_5 >= MIN_INTENT_MRR_AT_5


def test_without_the_semantic_layer_most_intent_queries_miss(intent_ranked):
    """The lexical engine alone cannot answer needs: the layer, not the labels, is what the measure above shows."""
    with_layer, _, _ = hit_at_3_and_mrr_at_5(intent_ranked[True])
    words_only, _, _ = hit_at_3_and_mrr_at_5(intent_ranked[False])
    print(f"\nintent set hit@3: semantic off {words_only:.3f}, on {with_layer:.3f}")
    assert words_only <= with_layer - MIN_INTENT_GAIN_FROM_THE_LAYER
