"""length:, is:short, is:long, lang: and sort:newest, through the engine over a real database: which talks each keeps,
in which order, and that the semantic layer and the index's updates keep them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from bot.digest.channel_subject import DigestTopic
from bot.digest.commands import ChannelAccess, DigestCommands
from bot.digest.picker import pick_talk
from db.catalog_import import import_records
from db.config import sessions_for
from db.digests import subscription_for
from db.models import Talk, TalkSource
from db.records import EventRecord, LinkRecord, TalkRecord
from db.search.encoder import Encoder
from db.search.engine import SearchEngine
from db.search.index import CatalogIndex, TalkText, day_number, load_talk_texts
from db.search.query import parse_query
from db.search.ranking import rank
from db.search.vocabulary import default_vocabulary
from db.setup import seed_catalog


def talk(external_id: str, title: str, year: int = 2019, **fields) -> TalkRecord:
    return TalkRecord(
        source="test", external_id=external_id, title=title, event=EventRecord("TestConf", year, city="Lyon"), **fields
    )


CATALOG = (
    talk("lightning", "Kafka in five minutes", duration_minutes=5),
    talk("short", "Kafka consumers", duration_minutes=20, language="de"),
    talk("half", "Kafka producers", duration_minutes=30, language="pt-br"),
    talk("long", "Kafka streams deep dive", duration_minutes=45, year=2021, recorded_on=dt.date(2021, 3, 1)),
    talk("later", "Kafka at scale", duration_minutes=90, year=2021, recorded_on=dt.date(2021, 9, 1)),
    talk("unknown", "Kafka without a length", language="fr", year=2023),
    talk("other", "Tracing in production", duration_minutes=25, language="de"),
)


@pytest.fixture
def engine(migrated_database) -> SearchEngine:
    with sessions_for(migrated_database).begin() as session:
        import_records(session, CATALOG)
    return SearchEngine(sessions_for(migrated_database))


def titles(engine: SearchEngine, query: str) -> list[str]:
    return [card.title for card in engine.search(query, limit=10).cards]


def test_the_index_reads_each_talks_length_language_and_recording_date(engine, migrated_database):
    with sessions_for(migrated_database)() as session:
        texts = {text.title: text for text in load_talk_texts(session)}
    assert isinstance(texts["Kafka at scale"], TalkText)
    assert (texts["Kafka at scale"].duration_minutes, texts["Kafka at scale"].recorded_on) == (
        90, day_number(dt.date(2021, 9, 1)),
    )  # fmt: skip
    assert (texts["Kafka without a length"].duration_minutes, texts["Kafka producers"].language) == (0, "pt-br")


@pytest.mark.parametrize(
    ("query", "expected"),
    [("kafka length:<30", {"Kafka in five minutes", "Kafka consumers"}),
     ("kafka length:>45", {"Kafka at scale"}),
     ("kafka length:20..45", {"Kafka consumers", "Kafka producers", "Kafka streams deep dive"}),
     ("kafka is:short", {"Kafka in five minutes", "Kafka consumers"}),
     ("kafka is:long", {"Kafka streams deep dive", "Kafka at scale"}),
     ("length:<30", {"Kafka in five minutes", "Kafka consumers", "Tracing in production"}),
     ("kafka lang:de", {"Kafka consumers"}),
     ("lang:german", {"Kafka consumers", "Tracing in production"}),
     ("kafka lang:pt", {"Kafka producers"}),  # stored with its region, "pt-br"
     ("kafka lang:de lang:fr", {"Kafka consumers", "Kafka without a length"}),
     ("lang:de is:short", {"Kafka consumers"}),
     ("kafka lang:en length:>20 year:2021", {"Kafka streams deep dive", "Kafka at scale"})],
)  # fmt: skip
def test_each_filter_keeps_only_the_talks_that_pass_it(engine, query, expected):
    assert set(titles(engine, query)) == expected


def test_a_talk_of_unknown_length_never_passes_a_length_filter(engine):
    for query in ("kafka length:1..1440", "kafka is:short", "kafka is:long", "kafka length:>0"):
        assert "Kafka without a length" not in titles(engine, query)
    assert "Kafka without a length" in titles(engine, "kafka")


def test_filters_leave_the_relevance_order_of_the_talks_they_keep(engine):
    everything = titles(engine, "kafka")
    assert titles(engine, "kafka length:<=45") == [title for title in everything if "length" not in title
                                                   and title != "Kafka at scale"]  # fmt: skip


def test_sort_newest_orders_by_event_year_then_recording_date_then_relevance(engine):
    newest = titles(engine, "kafka sort:newest")

    assert newest[:3] == ["Kafka without a length", "Kafka at scale", "Kafka streams deep dive"]
    assert newest[3:] == [title for title in titles(engine, "kafka") if title in newest[3:]]  # 2019: by relevance
    assert titles(engine, "kafka is:long sort:newest") == ["Kafka at scale", "Kafka streams deep dive"]
    assert titles(engine, "sort:newest")[0] == "Kafka without a length"  # alone: the newest talks of the catalog


def test_sort_newest_pages_continue_where_the_last_stopped(engine):
    first, second = engine.search("kafka sort:newest", limit=2), engine.search("kafka sort:newest", limit=2, offset=2)

    assert [card.title for card in first.cards + second.cards] == titles(engine, "kafka sort:newest")[:4]
    assert first.total == second.total == 6


def test_a_filter_nothing_passes_says_so(engine):
    assert engine.search("kafka lang:ja").notes == ["No talk is in Japanese."]
    assert engine.search("lang:de length:>60").notes == ["No talk passing the other filters is in German."]
    assert engine.search("length:>100").notes == ["No talk lasts at least 101 minutes."]


GERMAN_SHORT = ("srecon-2023-verica-incident-reports", "srecon-2023-spotify-incident-data")


def test_talks_found_by_meaning_pass_the_length_and_language_filters_too(migrated_database):
    """The seed catalog with two talks made short and German: the semantic side offers only talks that pass."""
    seed_catalog(migrated_database)
    with sessions_for(migrated_database).begin() as session:
        session.execute(update(Talk).values(duration_minutes=60))
        chosen = select(TalkSource.talk_id).where(TalkSource.external_id.in_(GERMAN_SHORT))
        session.execute(update(Talk).where(Talk.id.in_(chosen)).values(duration_minutes=15, language="de"))
    engine = SearchEngine(sessions_for(migrated_database), semantic=True, encoder=Encoder())
    need = "learning from outages"
    assert len(engine.search(need, limit=50).cards) > 2  # the filters have something to remove

    for query in (f"{need} lang:de", f"{need} is:short", f"{need} length:<20 lang:de"):
        found = engine.search(query, limit=50).cards
        assert len(found) == 2 and all(any(r.startswith("close in meaning") for r in c.reasons) for c in found), query
    newest = engine.search(f"{need} sort:newest", limit=50).cards  # a date order of the talks with the words
    assert newest and not any(reason.startswith("close in meaning") for card in newest for reason in card.reasons)


def test_a_found_talks_card_carries_its_length_and_language(engine):
    (found,) = engine.search("kafka lang:de").cards

    assert (found.duration_minutes, found.language, found.length_and_language) == (20, "de", ["20 min", "German"])


# --------------------------------------------------------------------------------------------------------- digests
def subscribe_here(engine: SearchEngine, text: str) -> dict:
    return DigestCommands(engine.sessions, engine).handle(
        text.split(), team_id="T1", enterprise_id=None, channel_id="C1", user_id="U1", user_timezone=lambda: "UTC",
        access=lambda: ChannelAccess("channel", bot_is_member=True, user_is_member=True), about=lambda: None,
        now=dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC),
    )  # fmt: skip


def test_a_digest_topic_with_length_and_video_filters_picks_only_talks_that_pass_them(migrated_database):
    video = (LinkRecord("video", "https://example.org/v"),)
    with sessions_for(migrated_database).begin() as session:
        filmed = talk("filmed", "Kafka on film", duration_minutes=35, links=video)
        import_records(
            session, [*CATALOG, filmed, talk("long-film", "Kafka at length", duration_minutes=50, links=video)]
        )
    engine = SearchEngine(sessions_for(migrated_database))
    subscribe_here(engine, "subscribe weekly kafka length:<40 has:video")
    with engine.sessions() as session:
        assert subscription_for(session, "T1", "C1").topic == "kafka length:<40 has:video"

    topic = DigestTopic("kafka length:<40 has:video")
    picks = {
        pick_talk(engine, engine.sessions, topic, "T1/C1", f"2026-W{week}", [], {}).card.title for week in range(20)
    }
    assert picks == {"Kafka on film"}
    preview = subscribe_here(engine, "preview")
    assert "Kafka on film" in json.dumps(preview, ensure_ascii=False)


def test_a_digest_topic_with_a_bad_length_is_refused_with_what_to_write(engine):
    answer = subscribe_here(engine, "subscribe weekly kafka length:short")

    assert "`length:short` is not a length in minutes. Write length:&lt;30" in json.dumps(answer, ensure_ascii=False)
    with engine.sessions() as session:
        assert subscription_for(session, "T1", "C1") is None


def test_a_page_of_sort_newest_is_that_part_of_the_whole_order():
    """Only the talks as new as a page's last are scored in full: each page is still its slice of the whole order,
    ties in year and date broken by relevance."""
    talks = [
        TalkText(
            number,
            f"Kafka {'kafka ' * (number % 3)}streams",
            (),
            (),
            "",
            "kafka" * (number % 2),
            2015 + number % 4,
            False,
            number % 5 == 0,
            recorded_on=(number % 3) * 100,
        )  # fmt: skip
        for number in range(1, 60)
    ]
    index, vocabulary = CatalogIndex(talks), default_vocabulary()
    for text in ("kafka sort:newest", "sort:newest", "streams has:video sort:newest"):
        query = parse_query(text, vocabulary.stopwords)
        whole = [hit.talk_id for hit in rank(index, query, vocabulary, limit=100).hits]
        for offset in range(0, len(whole), 7):
            page = rank(index, query, vocabulary, limit=7, offset=offset).hits
            assert [hit.talk_id for hit in page] == whole[offset : offset + 7], (text, offset)
