"""The catalog's field rules (db/records.py `checked`), applied to every format's records in one place."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from db.importers import ImportFileError, read_catalog_file
from db.importers.fields import plain_text
from db.records import EventRecord, LinkRecord, RecordError, SpeakerRecord, TalkRecord, checked

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = TalkRecord(
    source="csv:talks", external_id="t-1", title="Scaling Kafka", event=EventRecord("SREcon", 2023, "SREcon23"),
    speakers=(SpeakerRecord("Ada Lovelace", "Acme"),), tags=("kafka",), summary="Partitions and lag.",
    links=(LinkRecord("video", "https://example.org/v"),), duration_minutes=45, recorded_on=dt.date(2023, 3, 21),
)  # fmt: skip


def test_a_record_that_keeps_every_rule_is_returned_as_it_is():
    assert checked(GOOD) is GOOD


def test_a_thumbnail_keeps_its_https_url_and_is_single_spaced():
    thumbnail = replace(GOOD, thumbnail_url="https://i.ytimg.com/vi/abc/hqdefault.jpg")

    assert checked(thumbnail) is thumbnail
    padded = replace(GOOD, thumbnail_url=" https://i.ytimg.com/x.jpg\n")
    assert checked(padded).thumbnail_url == "https://i.ytimg.com/x.jpg"


def test_control_characters_are_removed_from_every_text_field_and_whitespace_collapsed():
    noisy = replace(
        GOOD,
        title="\x1b[31mScaling\x07 Kafka\x7f",
        summary="Partitions\x0b and\x85lag\u2028 \ud83d.",  # \x0b, \x85 and U+2028 are spaces; a lone surrogate goes
        speakers=(SpeakerRecord("Ada\x08 Lovelace", "Acme\x9b"),),
        event=EventRecord("SREcon\x01", 2023, "SREcon23", city="Santa\tClara"),
        links=(LinkRecord("video", " https://example.org/v\r\n"),),
    )

    clean = checked(noisy)

    assert (clean.title, clean.summary) == ("[31mScaling Kafka", "Partitions and lag .")
    assert clean.speakers == (SpeakerRecord("Ada Lovelace", "Acme"),)
    assert (clean.event.series, clean.event.city) == ("SREcon", "Santa Clara")
    assert clean.links == GOOD.links


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"title": "Null\x00byte"}, "title", "contains a NUL character"),
        ({"external_id": "a\x00"}, "id", "contains a NUL character"),
        ({"speakers": (SpeakerRecord("Ada", "A\x00cme"),)}, "speakers[0].affiliation", "contains a NUL character"),
        ({"title": " \x07 "}, "title", "is required"),
        ({"title": "x" * 501}, "title", "is longer than 500 characters"),
        ({"summary": "x" * 5001}, "summary", "is longer than 5000 characters"),
        ({"source": "s" * 51}, "source", "is longer than 50 characters"),
        ({"speakers": (SpeakerRecord("ﷺ" * 17),)}, "speakers[0].name", "is longer than 300 characters"),  # 306
        ({"event": EventRecord("X", 1899)}, "event.year", "expected a year from 1900 to 2100"),
        ({"event": EventRecord("X" * 201, 2020)}, "event.series", "is longer than 200 characters"),
        ({"duration_minutes": 1441}, "duration_minutes", "expected a whole number from 1 to 1440"),
        ({"duration_minutes": 0}, "duration_minutes", "expected a whole number from 1 to 1440"),
        ({"duration_minutes": True}, "duration_minutes", "expected a whole number from 1 to 1440"),
        ({"talk_type": "panel"}, "type", "expected one of talk, keynote, tutorial, lightning, workshop"),
        ({"tags": ("Kafka",)}, "tags[0]", "expected a tag like 'incident-response' (lowercase, up to 100)"),
        ({"links": (LinkRecord("video", "ftp://example.org/v"),)}, "links[0].url", "expected an http(s) URL"),
        ({"links": (LinkRecord("video", "https://example.org/a b"),)}, "links[0].url", "without spaces"),
        ({"links": (LinkRecord("video", "https://x.org/" + "v" * 2000),)}, "links[0].url", "longer than 2000"),
        ({"links": (LinkRecord("podcast", "https://example.org/v"),)}, "links[0].kind", "expected one of video"),
        ({"thumbnail_url": "http://example.org/t.jpg"}, "thumbnail_url", "expected an https URL"),
        ({"thumbnail_url": "javascript:alert(1)"}, "thumbnail_url", "expected an https URL"),
        ({"thumbnail_url": "https://example.org/a b.jpg"}, "thumbnail_url", "without spaces"),
        ({"thumbnail_url": "https://"}, "thumbnail_url", "expected an https URL"),
        ({"thumbnail_url": ""}, "thumbnail_url", "is required"),
        ({"thumbnail_url": "https://x.org/" + "t" * 2000}, "thumbnail_url", "longer than 2000"),
    ],
)
def test_a_record_breaking_a_rule_names_the_field_and_what_is_wrong(change, field, problem):
    with pytest.raises(RecordError) as raised:
        checked(replace(GOOD, **change))

    assert raised.value.field == field
    assert problem in raised.value.problem


def with_nul(tmp_path: Path, fixture: str, old: str, new: str) -> Path:
    """A copy of a fixture (file or folder) with one title replaced by one carrying a NUL."""
    source = FIXTURES / fixture
    target = tmp_path / source.name
    if source.is_dir():
        shutil.copytree(source, target)
        target = target / "pycon-demo-2023" / "videos" / "typing-in-practice.json"
        source = FIXTURES / "pyvideo" / "pycon-demo-2023" / "videos" / "typing-in-practice.json"
    text = source.read_text(encoding="utf-8-sig")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path / Path(fixture).name


@pytest.mark.parametrize(
    ("fixture", "old", "new"),
    [
        ("csv-talks.csv", "Scaling Kafka", "Scaling\x00Kafka"),
        ("ical-program.ics", "SUMMARY:Why we page", "SUMMARY:Why\x00we page"),
        ("frab-minicon.json", '"Observability on a Budget', '"Observability\\u0000on a Budget'),
        ("widget/democamp.json", '"Writing Your First Fuzzer', '"Writing\\u0000Your First Fuzzer'),
        ("sessionize-all.json", '"Scaling Kafka at Acme', '"Scaling\\u0000Kafka at Acme'),
        ("other-talkbot.json", '"title": "', '"title": "\\u0000'),
        ("other-talkbot.yaml", "title: A talk in talkbot's own format", 'title: "A talk\\0in YAML"'),
        ("pyvideo", '"Typing in practice"', '"Typing\\u0000in practice"'),
    ],
)
def test_a_nul_is_refused_in_one_line_whichever_format_carries_it(tmp_path, fixture, old, new):
    """PostgreSQL cannot store a NUL and SQLite would echo it into Slack: no format lets one through."""
    path = with_nul(tmp_path, fixture, old, new)

    with pytest.raises(ImportFileError) as raised:
        read_catalog_file(path)

    assert raised.value.field == "title"
    assert raised.value.problem.startswith("contains a NUL character")
    assert "\x00" not in str(raised.value) and "\n" not in str(raised.value)


def test_an_error_message_shows_control_characters_from_the_file_as_escapes(tmp_path):
    path = tmp_path / "talks.csv"
    path.write_text("id,title,duration\nbell\x07\x1b[2J,A talk,x\n", encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        read_catalog_file(path)

    assert str(raised.value).startswith(f"{path}, row 2 (id bell\\x07\\x1b[2J), field 'duration'")


def test_markup_is_stripped_in_linear_time_even_from_unclosed_brackets():
    """'<' without '>' made every bracket scan to the end: 40,000 of them took 6 s, a megabyte would take hours."""
    started = time.monotonic()

    text = plain_text("<a" * 500_000 + "<b>bold</b>")

    assert time.monotonic() - started < 1
    assert text.endswith("<a bold")


DAYS_LONG = {
    "feed.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a@x\nSUMMARY:All hands\nDTSTART:20240101T090000Z\n"
    "DTEND:20240103T170000Z\nEND:VEVENT\nEND:VCALENDAR\n",
    "talks.json": json.dumps({"source": "s", "talks": [{"id": "a", "title": "A", "duration_minutes": 2000}]}),
    "talks.yaml": "source: s\ntalks:\n  - {id: a, title: A, duration_minutes: 2874}\n",
    "talks.csv": "id,title,duration\na,A talk,2000\n",
    "pretalx.json": json.dumps({
        "event_start": "2024-09-12", "speakers": [{"code": "S1", "name": "Ada"}],
        "talks": [{"code": "ABC", "title": "A talk", "speakers": ["S1"], "duration": 1476}],
    }),
    "frab.json": json.dumps({"schedule": {"conference": {
        "title": "Conf", "acronym": "conf", "start": "2024-01-01", "days": [{
        "date": "2024-01-01", "rooms": {"R": [{
            "guid": "g-1", "id": 1, "title": "A talk", "duration": "36:00", "date": "2024-01-01T09:00:00+01:00",
            "persons": [{"public_name": "Ada"}],
        }]},
    }]}}}),
}  # fmt: skip
FORMAT_OF = {"feed.ics": "ics", "pretalx.json": "pretalx", "frab.json": "frab"}


@pytest.mark.parametrize("name", DAYS_LONG)
def test_every_format_keeps_a_talk_with_a_days_long_duration_and_reports_the_value_dropped(tmp_path, name):
    """A duration over 24 hours (a whole track, a glitch: pyvideo has 1,476 to 51,013 minutes) is an optional value
    out of range: every format, the talkbot format too, keeps the talk, leaves the duration unknown and says so."""
    path = tmp_path / name
    path.write_text(DAYS_LONG[name], encoding="utf-8")

    parsed = read_catalog_file(path, FORMAT_OF.get(name, "auto"))

    assert [record.duration_minutes for record in parsed.records] == [None]
    assert dict(parsed.skipped) == {"durations over 24 hours, imported as unknown": 1}


@pytest.mark.parametrize(
    ("name", "text", "field", "problem"),
    [
        ("talks.json", json.dumps({"source": "s", "talks": [{"id": "a", "title": "A", "duration_minutes": "long"}]}),
         "duration_minutes", "expected a whole number of minutes, like 45"),
        ("talks.yaml", "source: s\ntalks:\n  - {id: a, title: A, duration_minutes: 0}\n", "duration_minutes",
         "expected a whole number of minutes, like 45"),
        ("talks.csv", "id,title,duration\na,A talk,forty\n", "duration",
         "expected minutes, like 45 (or a length like 1:15)"),
    ],
)  # fmt: skip
def test_a_duration_that_is_no_length_at_all_is_refused_naming_the_field(tmp_path, name, text, field, problem):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        read_catalog_file(path)

    assert (raised.value.field, raised.value.problem) == (field, problem)


def test_ids_that_differ_only_by_control_characters_are_refused_as_the_same_id(tmp_path):
    path = tmp_path / "talks.csv"
    path.write_text("id,title\nt-1\x07,A talk\nt-1,Another talk\n", encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        read_catalog_file(path)

    error = raised.value
    assert (error.record, error.field, error.problem) == ("csv:talks id t-1", "id", "appears twice")
