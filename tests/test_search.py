"""The search engine's promises, each shown on a small catalog built for it, on SQLite and PostgreSQL."""

import pytest

from db.catalog_import import import_records
from db.config import sessions_for
from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord
from db.search.engine import SearchEngine
from db.search.query import QueryError
from db.search.vocabulary import learn_abbreviations
from tests.support.slack_server import wait_for

CONF = EventRecord(series="TestConf", year=2019, city="Lyon")


def talk(external_id, title, summary="", tags=(), speakers=(), year=None, **fields) -> TalkRecord:
    event = EventRecord(series="TestConf", year=year, city="Lyon") if year else CONF
    return TalkRecord(
        source="test",
        external_id=external_id,
        title=title,
        summary=summary,
        tags=tuple(tags),
        speakers=tuple(SpeakerRecord(name) for name in speakers),
        event=event,
        **fields,
    )


def build(url, *records) -> SearchEngine:
    with sessions_for(url).begin() as session:
        import_records(session, records)
    return SearchEngine(sessions_for(url))


def titles(engine, query, limit=10):
    return [card.title for card in engine.search(query, limit=limit).cards]


def test_a_typo_is_forgiven_according_to_word_length(migrated_database):
    engine = build(
        migrated_database,
        talk("a", "Kafka in production"),
        talk("b", "Graph databases"),
        talk("c", "Observability for everyone"),
    )
    assert titles(engine, "kafak") == ["Kafka in production"]  # 5 letters: one typo (a swap counts once)
    assert titles(engine, "grapj") == ["Graph databases"]
    assert titles(engine, "obsrvabilty") == ["Observability for everyone"]  # 11 letters: two typos
    assert titles(engine, "kfaak") == []  # two typos in 5 letters is too many


@pytest.mark.parametrize(
    ("query", "title"),
    [("gafka", "Kafka in production"), ("xafka", "Kafka in production"), ("ubernetes", "Running Kubernetes"),
     ("rpometheus", "Prometheus at scale")],
)  # fmt: skip
def test_a_typo_on_the_first_letter_is_forgiven_too(migrated_database, query, title):
    engine = build(
        migrated_database,
        talk("a", "Kafka in production"),
        talk("b", "Running Kubernetes"),
        talk("c", "Prometheus at scale"),
    )
    assert titles(engine, query) == [title]


def test_a_typo_on_the_first_letter_costs_more_than_one_elsewhere(migrated_database):
    engine = build(migrated_database, talk("r", "Reels and rails"), talk("w", "Wheels for everyone"))
    page = engine.search("weels")
    assert [card.title for card in page.cards] == ["Wheels for everyone", "Reels and rails"]
    assert page.cards[1].reasons == ["“weels” as “reels” (2 typos) in title"]


def test_a_four_letter_word_gets_one_typo_only_when_nothing_matches_it_as_written(migrated_database):
    engine = build(migrated_database, talk("r", "Rust in production"), talk("e", "Rest APIs"), talk("g", "Graphs"))
    assert titles(engine, "rust") == ["Rust in production"]  # "rest" is one typo away, but rust is in the catalog
    assert titles(engine, "rusk") == ["Rust in production"]
    assert titles(engine, "grph") == ["Graphs"]
    assert titles(engine, "rxsz") == []


def test_only_the_last_word_matches_as_a_prefix(migrated_database):
    engine = build(migrated_database, talk("a", "Kubernetes operators"), talk("b", "Observability pipelines"))
    assert titles(engine, "kuber") == ["Kubernetes operators"]
    assert titles(engine, "operators kuber") == ["Kubernetes operators"]
    page = engine.search("kuber operators")  # "kuber" is not a word of the catalog, so it is dropped
    assert page.dropped_words == ["kuber"] and page.cards[0].reasons == ["“operators” in title"]


def test_every_word_must_match_and_words_that_match_nothing_are_dropped_first(migrated_database):
    engine = build(migrated_database, talk("a", "Kafka streams"), talk("b", "Kafka connect"), talk("c", "Flink"))
    assert titles(engine, "kafka streams") == ["Kafka streams"]
    page = engine.search("zebra kafka")
    assert sorted(card.title for card in page.cards) == ["Kafka connect", "Kafka streams"]
    assert page.dropped_words == ["zebra"]


def test_when_no_talk_has_every_word_the_least_informative_word_is_dropped(migrated_database):
    engine = build(
        migrated_database,
        *(talk(f"k{number}", f"Kafka {topic}") for number, topic in enumerate(["streams", "connect", "at scale"])),
        talk("f", "Flink in practice"),
    )
    page = engine.search("kafka flink")  # no talk has both: "kafka", in three talks, says less than "flink"
    assert [card.title for card in page.cards] == ["Flink in practice"]
    assert page.dropped_words == ["kafka"]


def test_hyphenated_words_are_a_phrase_side_by_side(migrated_database):
    engine = build(
        migrated_database,
        talk("dash", "Running on-call at Server Density"),
        talk("space", "Being on call for databases"),
        talk("apart", "Data pipelines for Call of Duty", summary="Pipelines that run on Kafka."),
        talk("liz", "Observability", speakers=["Liz Fong-Jones"]),
        talk("other", "Tracing", speakers=["Fong Lee"], summary="With Jones."),
    )
    assert sorted(titles(engine, "on-call")) == ["Being on call for databases", "Running on-call at Server Density"]
    assert titles(engine, "fong-jones") == ["Observability"]
    assert len(titles(engine, "on call")) == 3  # without the hyphen, two words anywhere


def test_a_word_beats_another_word_that_only_shares_its_stem(migrated_database):
    """ "chaos" and the name "Chao" are both indexed as "chao"; where "chaos" is the usual way the catalog writes it,
    a talk written with "Chao" matches through the stem only, below talks that say "chaos"."""
    engine = build(
        migrated_database,
        talk("chao", "Ryan Chao - chatbots the crowd taught me", speakers=["Ryan Chao"]),
        *(talk(f"chaos{number}", f"Chaos engineering, part {number}") for number in range(10)),
    )
    ranked = titles(engine, "chaos", limit=11)
    assert ranked[-1] == "Ryan Chao - chatbots the crowd taught me" and len(ranked) == 11
    assert titles(engine, "chao")[0] == "Ryan Chao - chatbots the crowd taught me"  # as written, it is exact


def test_ties_are_broken_by_bm25_a_shorter_title_first_before_recency(migrated_database):
    engine = build(
        migrated_database,
        talk("long", "Flask at scale: what we learned running one app for ten million users", year=2020),
        talk("short", "Flask by example", year=2015),
    )
    assert titles(engine, "flask") == ["Flask by example", "Flask at scale: what we learned running one app for ten "
                                       "million users"]  # fmt: skip


def test_the_rarer_words_match_in_the_title_counts_more(migrated_database):
    engine = build(
        migrated_database,
        talk("p", "Python tips", summary="Notes on Kafka."),
        talk("k", "Kafka tips", summary="Notes on Python."),
        *(talk(f"py{number}", f"Python {number}") for number in range(5)),
    )
    assert titles(engine, "python kafka") == ["Kafka tips", "Python tips"]


def test_three_title_words_with_one_typo_beat_a_misspelling_written_in_a_summary(migrated_database):
    engine = build(
        migrated_database,
        talk("misspelt", "Notes", summary="Advanced pytest fixtrues."),
        talk("title", "Advanced pytest fixtures"),
        *(talk(f"f{number}", f"Fixtures {number}") for number in range(10)),
    )
    assert titles(engine, "advanced pytest fixtrues")[:2] == ["Advanced pytest fixtures", "Notes"]


def test_abbreviations_are_read_where_a_text_spells_them_out():
    learned = learn_abbreviations(
        [
            "Deep dives into Natural Language Processing (NLP) and Large Language Models (LLMs).",
            "Classic machine learning with scikit-learn (sklearn), or sklearn (scikit-learn).",
            "Set up Continuous Integration (CI) early.",
            "Continuous Integration (CI) again.",
            "Continuous Integration (CI) for docs.",
            "Continuous Integration (CI) for data.",
            "Conditional Independence (CI) tests.",  # under a third as common as the usual meaning: left out
            "It is a lot more (almost) the same.",  # not abbreviations
            "The advantage (and disadvantage) of it.",
        ]
    )
    assert learned == {
        "nlp": (("natural", "language", "processing"),),
        "llm": (("large", "language", "model"),),
        "sklearn": (("scikit", "learn"),),
        "ci": (("continuous", "integration"),),
    }


def test_an_abbreviation_the_catalog_spells_out_is_learned(migrated_database):
    engine = build(
        migrated_database,
        talk("spelt", "Molecules as graphs", summary="An introduction to Graph Neural Networks (GNN) for chemists."),
        talk("plain", "Graph neural networks at scale"),
        talk("other", "Graph databases"),
    )
    assert sorted(titles(engine, "gnn")) == ["Graph neural networks at scale", "Molecules as graphs"]


def test_title_and_tags_outrank_speakers_which_outrank_the_summary(migrated_database):
    engine = build(
        migrated_database,
        talk("summary", "Three", summary="We mention rust here"),
        talk("speaker", "Two", speakers=["Ada Rust"]),
        talk("title", "Rust in anger"),
        talk("tag", "One", tags=["rust"]),
    )
    ranked = titles(engine, "rust")
    assert set(ranked[:2]) == {"Rust in anger", "One"}
    assert ranked[2:] == ["Two", "Three"]


def test_an_exact_match_outranks_a_typo_match_in_a_stronger_field(migrated_database):
    engine = build(migrated_database, talk("typo", "Scale everything"), talk("exact", "Notes", summary="About scala"))
    assert titles(engine, "scala") == ["Notes", "Scale everything"]


def test_synonyms_and_abbreviations_match_both_ways(migrated_database):
    engine = build(
        migrated_database,
        talk("k", "Running Kubernetes"),
        talk("o", "Intro to o11y"),
        talk("s", "Hiring", tags=["sre"]),
        talk("p", "Postgres tuning"),
    )
    assert titles(engine, "k8s") == ["Running Kubernetes"]
    assert titles(engine, "observability") == ["Intro to o11y"]
    assert titles(engine, "site reliability engineering") == ["Hiring"]
    assert titles(engine, "pg") == ["Postgres tuning"]


def test_ties_are_broken_by_recommendation_then_video_then_year_then_id(migrated_database):
    engine = build(
        migrated_database,
        talk("old", "Caching one", year=2010),
        talk("new", "Caching two", year=2020),
        talk("video", "Caching three", year=2010, links=(LinkRecord("video", "https://example.org/v"),)),
        talk("pick", "Caching four", year=2010, recommendation="A reporter's favourite.", verdict="recommended"),
        talk("panned", "Caching five", year=2010, recommendation="A reporter's letdown.", verdict="not_recommended"),
    )
    # A note counts only with a recommended verdict: the panned talk ranks as if it had none (last, by id).
    assert titles(engine, "caching") == ["Caching four", "Caching three", "Caching two", "Caching one", "Caching five"]
    assert titles(engine, "caching") == titles(engine, "caching")


def test_filters_narrow_by_speaker_event_year_range_and_tag(migrated_database):
    engine = build(
        migrated_database,
        talk("a", "Scaling Kafka", speakers=["Liz Fong-Jones"], tags=["kafka"], year=2023),
        talk("b", "Kafka pipelines", speakers=["Yaroslav Tkachenko"], tags=["kafka"], year=2018),
        talk("c", "Tracing", speakers=["Liz Fong-Jones"], tags=["observability"], year=2019),
    )
    assert titles(engine, 'speaker:"liz fong-jones"') == ["Scaling Kafka", "Tracing"]
    assert titles(engine, 'kafka speaker:"liz fong-jones"') == ["Scaling Kafka"]
    assert titles(engine, "speaker:tkachenko") == ["Kafka pipelines"]
    assert titles(engine, "year:2018..2019") == ["Tracing", "Kafka pipelines"]
    assert titles(engine, "year:..2018") == ["Kafka pipelines"]
    assert titles(engine, "tag:kafka year:2023") == ["Scaling Kafka"]
    assert titles(engine, "event:testconf kafka") == ["Scaling Kafka", "Kafka pipelines"]
    page = engine.search("speaker:nobody")
    assert page.cards == [] and page.notes == ["No talk has a speaker matching “nobody”."]


def test_has_video_and_is_recommended_keep_only_such_talks_and_leave_their_order(migrated_database):
    video = (LinkRecord("video", "https://example.org/v"),)
    praised = {"recommendation": "Worth it.", "verdict": "recommended"}
    engine = build(
        migrated_database,
        talk("a", "Kafka basics", year=2019),
        talk("b", "Kafka on video", year=2018, links=video),
        talk("c", "Kafka praised", year=2017, **praised),
        talk("d", "Kafka praised on video", year=2016, links=video, **praised),
        talk("e", "Tracing", year=2019, links=video),
    )
    everything = titles(engine, "kafka")
    assert titles(engine, "kafka has:video") == [t for t in everything if "video" in t]
    assert titles(engine, "kafka is:recommended") == [t for t in everything if "praised" in t]
    assert titles(engine, "kafka has:video is:recommended") == ["Kafka praised on video"]
    assert titles(engine, "has:video year:2019") == ["Tracing"]  # a filter alone, like year:
    page = engine.search("has:video year:2017")
    assert page.cards == [] and page.notes == ["No talk passing the other filters has a video."]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("room:12", "There is no `room:` filter"),
        ('speaker:"liz', "is not closed"),
        ("year:twenty", "is not a year"),
        ("year:2020..2010", "runs backwards"),
        ("tag:", "needs a value"),
        ("has:slides", "Write has:video"),
        ("is:good", "Write is:recommended"),
    ],
)
def test_malformed_queries_are_explained_not_crashed_on(migrated_database, query, message):
    engine = build(migrated_database, talk("a", "Anything"))
    with pytest.raises(QueryError, match=message):
        engine.search(query)


@pytest.mark.parametrize(
    "query",
    ["x" * 5000, "🔥 kafka 🚀", "<!channel> kafka", "'; DROP TABLE talks; --", "kafka\x00\x07\x1b[31m", "a:b:c", "::"],
)
def test_hostile_queries_get_an_answer_or_a_clear_error(migrated_database, query):
    engine = build(migrated_database, talk("a", "Kafka"))
    try:
        page = engine.search(query)
    except QueryError as error:
        assert str(error)
    else:
        assert page.total >= 0
    assert titles(engine, "kafka") == ["Kafka"]


def test_stopwords_do_not_stop_a_natural_question(migrated_database):
    engine = build(migrated_database, talk("a", "Kafka at scale"))
    assert titles(engine, "any talks about kafka") == ["Kafka at scale"]


def test_each_result_explains_why_it_matched(migrated_database):
    engine = build(migrated_database, talk("a", "Kafka", tags=["kubernetes"]))
    [card] = engine.search("kafak k8s").cards
    assert card.reasons == ["“kafak” as “kafka” (1 typo) in title", "“k8s” as synonym “kubernetes” in tags"]


def test_the_index_sees_changes_made_through_another_session_factory(migrated_database):
    engine = build(migrated_database, talk("a", "Kafka"))
    assert titles(engine, "flink") == []

    other_process = SearchEngine(sessions_for(migrated_database))
    with other_process.sessions.begin() as session:
        import_records(session, [talk("b", "Flink in practice")])

    # Rebuilt in the background (tests/test_index_lifecycle.py): the next searches find the talk once it is swapped in.
    assert wait_for(lambda: titles(engine, "flink")) == ["Flink in practice"]


def test_more_like_this_prefers_shared_tags_and_speakers(migrated_database):
    engine = build(
        migrated_database,
        talk("src", "Kafka at scale", tags=["kafka", "streaming"], speakers=["Liz Fong-Jones"]),
        talk("near", "Stream processing", tags=["kafka", "streaming"]),
        talk("mid", "Tracing", speakers=["Liz Fong-Jones"]),
        talk("far", "Perl roles"),
    )
    source_id = engine.search("kafka at scale").cards[0].id
    similar = [card.title for card in engine.similar(source_id).cards]
    assert similar[:2] == ["Stream processing", "Tracing"]
    assert "Kafka at scale" not in similar and "Perl roles" not in similar


def test_no_match_offers_did_you_mean_from_the_vocabulary(migrated_database):
    engine = build(migrated_database, talk("a", "Observability"), talk("b", "Kubernetes"))
    page = engine.search("kubrnetis")
    assert page.cards == [] and "kubernetes" in page.suggestions


def test_a_word_that_found_talks_the_filters_then_left_out_gets_no_did_you_mean(migrated_database):
    """The filters are why nothing is left, and the note says so: other spellings of the word would mislead."""
    engine = build(migrated_database, talk("a", "Kafka at scale", year=2019), talk("b", "Kakao chat", year=2019))

    page = engine.search("kafka year:2020")

    assert page.cards == [] and page.suggestions == [] and page.notes == ["No talk is from 2020."]
