"""The one import path: seeding, re-imports that update instead of duplicating, validation, export round trip."""

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from db.cards import TalkCard
from db.catalog import all_talks, catalog_revision, talk_count, talk_record
from db.catalog_import import import_records, record_hash
from db.config import sessions_for
from db.importers import ImportFileError, read_catalog_file
from db.importers.talkbot_format import catalog_document
from db.models import Speaker
from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord
from db.setup import SEED_FILE, seed_catalog

SEED_TALKS = yaml.safe_load(SEED_FILE.read_text())["talks"]


def record(external_id="t1", title="Streams at scale", **fields) -> TalkRecord:
    fields.setdefault("event", EventRecord(series="TestConf", year=2020, city="Lyon"))
    fields.setdefault("speakers", (SpeakerRecord("Ada Lovelace", "Engines Ltd"),))
    return TalkRecord(source="test", external_id=external_id, title=title, **fields)


def write(url, records):
    with sessions_for(url).begin() as session:
        return import_records(session, records)


def test_seed_loads_every_talk_once_and_reseeding_changes_nothing(migrated_database):
    first = seed_catalog(migrated_database)
    second = seed_catalog(migrated_database)

    assert first.added == len(SEED_TALKS) >= 55
    assert (second.added, second.updated, second.unchanged) == (0, 0, len(SEED_TALKS))
    with sessions_for(migrated_database)() as session:
        assert talk_count(session) == len(SEED_TALKS)


def test_reimport_with_a_changed_title_updates_the_talk_in_place(migrated_database):
    write(migrated_database, [record(title="Streams at scale")])
    report = write(migrated_database, [record(title="Streams at planet scale")])

    assert (report.added, report.updated) == (0, 1)
    with sessions_for(migrated_database)() as session:
        [talk] = all_talks(session)
        assert talk.title == "Streams at planet scale"


def test_the_same_speaker_in_two_talks_is_one_speaker(migrated_database):
    write(
        migrated_database,
        [
            record("t1", speakers=(SpeakerRecord("Liz Fong-Jones"),)),
            record("t2", "Another", speakers=(SpeakerRecord("liz  fong-jones", "Honeycomb"),)),
        ],
    )
    with sessions_for(migrated_database)() as session:
        assert session.scalar(select(func.count(Speaker.id))) == 1
        talks = all_talks(session)
        assert talks[0].speakers == talks[1].speakers
        assert talks[0].speakers[0].affiliation == "Honeycomb"


def test_a_change_bumps_the_catalog_revision_and_a_no_op_does_not(migrated_database):
    sessions = sessions_for(migrated_database)
    with sessions() as session:
        before = catalog_revision(session)
    write(migrated_database, [record()])
    with sessions() as session:
        after_change = catalog_revision(session)
    write(migrated_database, [record()])
    with sessions() as session:
        after_no_op = catalog_revision(session)

    assert after_change == before + 1
    assert after_no_op == after_change


def test_export_reads_back_unchanged_into_the_same_and_a_fresh_catalog(migrated_database, tmp_path):
    seed_catalog(migrated_database)
    with sessions_for(migrated_database)() as session:
        exported = catalog_document([talk_record(talk) for talk in all_talks(session)])
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(exported))

    records = read_catalog_file(export_file).records
    assert write(migrated_database, records).unchanged == len(SEED_TALKS)

    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    from db.migrate import upgrade

    upgrade(fresh)
    assert write(fresh, records).added == len(SEED_TALKS)
    with sessions_for(fresh)() as session:
        again = catalog_document([talk_record(talk) for talk in all_talks(session)])
    assert again == exported


MALFORMED = [
    ("talks: [1, 2", None, None, "not valid"),
    ("talks: {}", None, "talks", "expected a mapping with a 'talks' list"),
    ("source: s\ntalks:\n  - {id: a}", "talk #1 (a)", "title", "is required"),
    ("source: s\ntalks:\n  - {id: a, title: T, type: panel}", "talk #1 (a)", "type", "expected one of"),
    ("source: s\ntalks:\n  - {id: a, title: T, event: {series: X, year: 20}}", "talk #1 (a)", "event.year", "1900"),
    ("source: s\ntalks:\n  - {id: a, title: T, links: [{kind: video, url: ftp://x}]}", "talk #1 (a)",
     "links[0].url", "http(s) URL"),
    ("source: s\ntalks:\n  - {id: a, title: T, thumbnail_url: 'http://x.org/t.jpg'}", "talk #1 (a)",
     "thumbnail_url", "expected an https URL"),
    ("source: s\ntalks:\n  - {id: a, title: T, thumbnail_url: [https://x.org/t.jpg]}", "talk #1 (a)",
     "thumbnail_url", "expected text"),
    ("source: s\ntalks:\n  - {id: a, title: T}\n  - {id: a, title: U}", "talk #2", "id", "appears twice"),
    ("talks:\n  - {id: a, title: T}", "talk #1 (a)", "source", "is required"),
    ("source: s\ntalks:\n  - {id: a, title: T, speaker: Ada}", "talk #1 (a)", "speaker", "not a field"),
    ("source: s\ntalks:\n  - {id: a, title: T, recommendation: Loved it., verdict: great}", "s id a", "verdict",
     "expected one of recommended, mixed, not_recommended"),
    ("source: s\ntalks:\n  - {id: a, title: T, recommendation: Loved it., verdict: [mixed]}", "s id a", "verdict",
     "expected one of recommended, mixed, not_recommended"),
    ("source: s\ntalks:\n  - {id: a, title: T, verdict: recommended}", "s id a", "verdict",
     "needs a recommendation beside it"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "where", "field", "problem"), MALFORMED)
def test_a_malformed_file_is_refused_naming_the_record_and_field(tmp_path: Path, content, where, field, problem):
    path = tmp_path / "catalog.yaml"
    path.write_text(content)

    with pytest.raises(ImportFileError) as raised:
        read_catalog_file(path)

    error = raised.value
    assert (error.record, error.field) == (where, field)
    assert problem in error.problem
    assert str(path) in str(error)


def test_an_import_of_more_than_one_batch_writes_every_talk_with_its_speakers_tags_and_links(migrated_database):
    """New talks are inserted in batches of plain INSERTs: every row and relation must land, in order."""
    records = [
        record(
            f"t{n}", f"Talk number {n}", speakers=(SpeakerRecord(f"Speaker {n % 7}"), SpeakerRecord("Ada Lovelace")),
            tags=("kafka", f"topic-{n % 3}"), links=(LinkRecord("video", f"https://example.org/v/{n}"),),
            duration_minutes=30, recorded_on=dt.date(2020, 5, 1), event=EventRecord("TestConf", 2020, "TestConf 2020"),
        )
        for n in range(2_500)
    ]  # fmt: skip

    report = write(migrated_database, records)

    assert (report.added, report.updated) == (2_500, 0)
    with sessions_for(migrated_database)() as session:
        talks = all_talks(session)
        assert [talk_record(talk) for talk in talks] == records
        assert session.scalar(select(func.count(Speaker.id))) == 8
    assert write(migrated_database, records).unchanged == 2_500


def test_a_talk_added_and_changed_in_the_same_import_is_one_talk_with_the_last_version(migrated_database):
    report = write(migrated_database, [record("t1", "First title"), record("t1", "Second title")])

    assert (report.added, report.updated) == (1, 1)
    with sessions_for(migrated_database)() as session:
        assert [talk.title for talk in all_talks(session)] == ["Second title"]


def test_a_second_source_in_the_same_import_links_to_the_talk_the_first_just_added(migrated_database):
    video = LinkRecord("video", "https://example.org/v/kafka")
    first = record("a", "Streams at scale", links=(video,))
    second = replace(first, source="other", external_id="b", summary="From the second source.",
                     links=(video, LinkRecord("slides", "https://example.org/s.pdf")))  # fmt: skip

    report = write(migrated_database, [first, second])

    assert (report.added, report.linked) == (1, 1)
    with sessions_for(migrated_database)() as session:
        [talk] = all_talks(session)
        assert {(source.importer, source.external_id) for source in talk.sources} == {("test", "a"), ("other", "b")}
        assert talk.summary == "From the second source."
        assert [link.kind for link in talk.links] == ["video", "slides"]


def test_a_verdict_round_trips_through_export_and_import_and_reaches_the_card(migrated_database, tmp_path):
    """A verdict must survive `talkbot export` -> `talkbot import` in either syntax, or a re-import would change it."""
    records = [
        record("t1", "Liked", recommendation="A favourite.", verdict="recommended"),
        record("t2", "Doubted", recommendation="Odd slides.", verdict="mixed"),
        record("t3", "Panned", recommendation="A letdown.", verdict="not_recommended"),
        record("t4", "Unjudged", recommendation="Some thoughts."),
        record("t5", "Undescribed"),
    ]
    write(migrated_database, records)
    with sessions_for(migrated_database)() as session:
        talks = all_talks(session)
        exported = catalog_document([talk_record(talk) for talk in talks])
        assert [TalkCard.of(talk).verdict for talk in talks] == ["recommended", "mixed", "not_recommended", None, None]
    assert [entry.get("verdict") for entry in exported["talks"]] == ["recommended", "mixed", "not_recommended", None,
                                                                     None]  # fmt: skip

    for name, text in (("export.json", json.dumps(exported)), ("export.yaml", yaml.safe_dump(exported))):
        (tmp_path / name).write_text(text)
        read_back = read_catalog_file(tmp_path / name).records
        assert catalog_document(read_back) == exported
        assert write(migrated_database, read_back).unchanged == len(records)


def test_a_thumbnail_round_trips_through_export_and_import_in_either_syntax(migrated_database, tmp_path):
    pictured = record("t1", "Pictured", thumbnail_url="https://i.ytimg.com/vi/abc/hqdefault.jpg")
    records = [pictured, record("t2", "Plain")]
    write(migrated_database, records)
    with sessions_for(migrated_database)() as session:
        talks = all_talks(session)
        exported = catalog_document([talk_record(talk) for talk in talks])
        assert [TalkCard.of(talk).thumbnail_url for talk in talks] == ["https://i.ytimg.com/vi/abc/hqdefault.jpg", None]
    assert [entry.get("thumbnail_url") for entry in exported["talks"]] == [
        "https://i.ytimg.com/vi/abc/hqdefault.jpg", None
    ]  # fmt: skip

    for name, text in (("export.json", json.dumps(exported)), ("export.yaml", yaml.safe_dump(exported))):
        (tmp_path / name).write_text(text)
        read_back = read_catalog_file(tmp_path / name).records
        assert [r.thumbnail_url for r in read_back] == [r.thumbnail_url for r in records]
        assert write(migrated_database, read_back).unchanged == len(records)


@pytest.mark.parametrize(
    ("before", "after"),
    [(None, "https://example.org/t.jpg"), ("https://example.org/t.jpg", "https://example.org/u.jpg"),
     ("https://example.org/t.jpg", None)],
)  # fmt: skip
def test_a_reimport_sees_a_thumbnail_added_changed_or_removed(migrated_database, before, after):
    write(migrated_database, [record(thumbnail_url=before)])
    report = write(migrated_database, [record(thumbnail_url=after)])

    assert (report.updated, report.unchanged) == (1, 0)
    with sessions_for(migrated_database)() as session:
        [talk] = all_talks(session)
        assert talk.thumbnail_url == after


def test_a_talk_without_a_thumbnail_keeps_the_fingerprint_it_had_before_thumbnails_existed():
    """Fingerprints stored before 0014 must still match, or the first re-import after it rewrites every talk."""
    plain = record(links=(LinkRecord("video", "https://example.org/v"),), duration_minutes=45,
                   recorded_on=dt.date(2020, 5, 1))  # fmt: skip
    stored_before_0014 = "f73205d0bd0e40775d76ecd8ef6152250fa3f401f42a700c94535edbd3b3a935"  # main at 7563516

    assert record_hash(plain) == stored_before_0014
    assert record_hash(replace(plain, thumbnail_url="https://example.org/t.jpg")) != stored_before_0014


def test_a_second_source_adds_a_thumbnail_the_talk_lacks_but_never_replaces_one(migrated_database):
    video = (LinkRecord("video", "https://example.org/v"),)
    write(migrated_database, [record("a", links=video)])
    write(migrated_database, [replace(record("b", links=video), source="other", thumbnail_url="https://o.org/1.jpg")])
    write(migrated_database, [replace(record("c", links=video), source="third", thumbnail_url="https://o.org/2.jpg")])

    with sessions_for(migrated_database)() as session:
        [talk] = all_talks(session)
        assert talk.thumbnail_url == "https://o.org/1.jpg"


def test_a_reimport_with_a_changed_verdict_updates_the_talk(migrated_database):
    write(migrated_database, [record(recommendation="Fast, but worth it.", verdict="recommended")])
    report = write(migrated_database, [record(recommendation="Fast, but worth it.", verdict="mixed")])

    assert report.updated == 1
    with sessions_for(migrated_database)() as session:
        assert [talk.verdict for talk in all_talks(session)] == ["mixed"]


def test_a_second_source_adds_a_missing_note_with_its_verdict_but_never_judges_another_sources_note(
    migrated_database,
):
    video = LinkRecord("video", "https://example.org/v/kafka")
    write(migrated_database, [record("a", "Streams at scale", links=(video,)),
                              record("b", "Tables at scale", links=(LinkRecord("video", "https://example.org/v/t"),),
                                     recommendation="Our note.")])  # fmt: skip
    second = [
        replace(record("a", "Streams at scale", links=(video,)), source="other", external_id="x",
                recommendation="A letdown.", verdict="not_recommended"),
        replace(record("b", "Tables at scale", links=(LinkRecord("video", "https://example.org/v/t"),)),
                source="other", external_id="y", recommendation="Loved it.", verdict="recommended"),
    ]  # fmt: skip

    assert write(migrated_database, second).linked == 2
    with sessions_for(migrated_database)() as session:
        notes = [(talk.recommendation, talk.verdict) for talk in all_talks(session)]
    assert notes == [("A letdown.", "not_recommended"), ("Our note.", None)]


def test_every_seed_note_has_a_verdict_and_no_seed_title_carries_a_url():
    """The seed says what each reporter's note amounts to; a title with a URL in it is a seed-data error."""
    for talk in SEED_TALKS:
        assert ("recommendation" in talk) == ("verdict" in talk), talk["id"]
        assert not re.search(r"https?://|www\.", talk["title"], re.IGNORECASE), talk["id"]
    verdicts = Counter(talk.get("verdict") for talk in SEED_TALKS)
    assert set(verdicts) == {"recommended", "mixed", "not_recommended", None}
