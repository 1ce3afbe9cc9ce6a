"""pretalx's schedule widget data: talks referencing speakers by code and tracks by id, texts per language."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from db.importers import detect_format, pretalx
from db.importers.errors import ImportFileError
from db.records import EventRecord, SpeakerRecord
from tests.support.shared_data import real_schedule

FIXTURES = Path(__file__).parent / "fixtures"
WIDGET = FIXTURES / "widget" / "democamp.json"


def test_widget_reads_talks_and_skips_slots_without_a_submission():
    records = pretalx.read(WIDGET)

    # The 'Lunch' slot has no code: it is a pretalx break, not a submission.
    assert [record.external_id for record in records] == ["G9JGWY", "AB12CD", "ZZ99YY"]
    assert {record.source for record in records} == {"pretalx:democamp"}
    assert {record.event for record in records} == {
        EventRecord(series="democamp", year=2024, starts_on=dt.date(2024, 9, 12), ends_on=dt.date(2024, 9, 13))
    }


def test_multilingual_texts_pick_english_and_speakers_come_by_code():
    distributed, fuzzer, lightning = pretalx.read(WIDGET)

    assert distributed.title == "Understanding Distributed Systems"
    assert distributed.summary == "Why consensus is hard."
    assert distributed.speakers == (SpeakerRecord("Brian Robinson"), SpeakerRecord("Ana Silva"))
    assert distributed.tags == ("distributed-systems",)
    assert (distributed.duration_minutes, distributed.recorded_on) == (30, dt.date(2024, 9, 12))
    assert (distributed.talk_type, distributed.language, distributed.links) == ("talk", "en", ())

    assert fuzzer.speakers == (SpeakerRecord("Ana Silva"),)
    assert fuzzer.tags == ("security", "fuzzing")  # the track first, then the talk's own tags
    assert fuzzer.summary == "Bring a laptop."  # no abstract: the description stands in
    assert (fuzzer.talk_type, fuzzer.language, fuzzer.duration_minutes) == ("workshop", "de", 90)

    assert (lightning.talk_type, lightning.speakers, lightning.tags) == ("lightning", (), ())
    assert lightning.recorded_on == dt.date(2024, 9, 13)


@pytest.mark.parametrize(
    ("name", "record", "field", "problem"),
    [
        ("bad-missing-title.json", "talk 3 (code AB12CD)", "title", "is required"),
        ("bad-unknown-speaker.json", "talk 1 (code G9JGWY)", "speakers[1]",
         "'NOSUCH' is not the code of an entry in 'speakers'"),
        ("bad-duplicate-code.json", "talk 4 (code G9JGWY)", "code", "'G9JGWY' already belongs to talk 1"),
        ("bad-start.json", "talk 4 (code ZZ99YY)", "start", "expected a date like 2020-12-14T09:00:00+01:00"),
    ],
)  # fmt: skip
def test_a_bad_talk_names_record_field_and_problem(name, record, field, problem):
    path = FIXTURES / "widget" / name
    with pytest.raises(ImportFileError) as caught:
        pretalx.read(path)

    error = caught.value
    assert (error.path, error.record, error.field, error.problem) == (path, record, field, problem)


def test_broken_json_is_an_error_about_the_whole_file():
    with pytest.raises(ImportFileError) as caught:
        pretalx.read(FIXTURES / "widget" / "bad-broken.json")

    assert (caught.value.record, caught.value.field) == (None, None)
    assert caught.value.problem.startswith("not valid JSON: ")


def test_detect_needs_only_the_talks_at_the_start_of_a_large_file():
    text = WIDGET.read_text(encoding="utf-8")
    assert pretalx.detect(WIDGET, text[: text.index('"tracks"')])


def test_pretalx_schedule_json_export_is_not_widget_data():
    path = real_schedule("pretalx-democon.json")

    assert detect_format(path) == "frab"  # pretalx exports frab's schedule.json
    with pytest.raises(ImportFileError) as caught:
        pretalx.read(path)
    assert (caught.value.record, caught.value.field) == (None, "talks")
