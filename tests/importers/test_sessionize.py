"""Sessionize's All JSON: sessions with their speakers and categories, service sessions skipped, precise errors."""

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from db.importers import sessionize
from db.importers.errors import ImportFileError
from db.importers.fields import SUMMARY_LIMIT
from db.records import EventRecord, LinkRecord, SpeakerRecord

FIXTURES = Path(__file__).parent / "fixtures"
ALL_JSON = FIXTURES / "sessionize-all.json"
TALKBOT_YAML = "format: talkbot-catalog\nversion: 1\ntalks:\n  - id: a\n    title: A talk\n"
FRAB_JSON = '{"schedule": {"version": "1.0", "conference": {"title": "36C3", "days": []}}}'


def by_id(records):
    return {record.external_id: record for record in records}


def write_variant(tmp_path: Path, change) -> Path:
    data = json.loads(ALL_JSON.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_reads_sessions_with_speakers_categories_and_recordings():
    talks = by_id(sessionize.read(ALL_JSON))

    kafka = talks["501234"]
    assert kafka.source == "sessionize:sessionize-all"
    assert kafka.title == "Scaling Kafka at Acme"
    assert kafka.speakers == (SpeakerRecord("Ada Lovelace", "Staff Engineer at Acme"), SpeakerRecord("Grace Hopper"))
    assert kafka.tags == ("data-streaming",)  # the track; the level category is not a topic
    assert kafka.talk_type == "talk"
    assert kafka.summary == "How we ran Kafka & friends at 2M messages/s."
    assert kafka.duration_minutes == 45
    assert kafka.recorded_on == dt.date(2023, 10, 5)
    assert kafka.links == (LinkRecord("video", "https://www.youtube.com/watch?v=kafka123"),)
    assert kafka.language == "en"


def test_session_format_plenum_and_language_categories():
    talks = by_id(sessionize.read(ALL_JSON))

    assert talks["501240"].talk_type == "keynote"  # a plenum session with no more specific format
    lightning = talks["501250"]
    assert (lightning.talk_type, lightning.language, lightning.tags) == ("lightning", "de", ("tooling",))
    # first + last name when fullName is empty; a tagline of 100+ characters is no company name
    assert lightning.speakers == (SpeakerRecord("Jürgen Müller"),)
    assert lightning.links == ()  # an ftp recording is not a link the catalog can show
    assert talks["501260"].talk_type == "workshop"


def test_service_sessions_are_skipped():
    ids = [record.external_id for record in sessionize.read(ALL_JSON)]

    assert ids == ["501234", "501240", "501250", "501260"]  # not 9c2d7e10, "Coffee & Registration"


def test_event_is_the_file_name_in_the_year_of_the_earliest_session(tmp_path):
    path = tmp_path / "kcd-munich-2023.json"
    shutil.copy(ALL_JSON, path)

    records = sessionize.read(path)

    expected = EventRecord(
        series="Kcd Munich", year=2023, name="Kcd Munich 2023",
        starts_on=dt.date(2023, 10, 4), ends_on=dt.date(2023, 10, 5),
    )  # fmt: skip
    assert {record.event for record in records} == {expected}
    assert {record.source for record in records} == {"sessionize:kcd-munich-2023"}


def test_unscheduled_session_takes_the_year_from_the_others():
    unscheduled = by_id(sessionize.read(ALL_JSON))["501260"]

    assert unscheduled.event.year == 2023
    assert (unscheduled.recorded_on, unscheduled.duration_minutes) == (None, None)


def test_long_descriptions_are_cut_at_a_word_boundary(tmp_path):
    def long_description(data):
        data["sessions"][0]["description"] = "word " * 2000

    summary = sessionize.read(write_variant(tmp_path, long_description))[0].summary

    assert len(summary) <= SUMMARY_LIMIT and summary.endswith("word…")  # cut, and marked as cut


def test_an_empty_program_reads_as_no_talks(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text('{"sessions": [], "speakers": [], "categories": [], "questions": [], "rooms": []}')

    assert sessionize.read(path) == []


@pytest.mark.parametrize(
    ("change", "record", "field", "problem"),
    [
        (lambda d: d["sessions"][0].update(title="  "), "session 1 (id 501234)", "title", "is required"),
        (lambda d: d["sessions"][0].pop("id"), "session 1", "id", "is required"),
        (
            lambda d: d["sessions"][2].update(startsAt="04.10.2023 09:00"),
            "session 3 (id 501240)", "startsAt", "expected a date and time like 2023-10-05T10:00:00",
        ),
        (
            lambda d: d["sessions"][0].update(endsAt="2023-10-05T09:00:00"),
            "session 1 (id 501234)", "endsAt", "is before startsAt",
        ),
        (lambda d: d["sessions"][3].update(id="501234"), "session 4 (id 501234)", "id", "id '501234' appears twice"),
        (
            lambda d: d["sessions"][2]["speakers"].append("nobody"),
            "session 3 (id 501240)", "speakers", "refers to speaker 'nobody', who is not in the speakers list",
        ),
        (
            lambda d: d["sessions"][0]["categoryItems"].append(999),
            "session 1 (id 501234)", "categoryItems", "refers to category item 999, which no category lists",
        ),
        (
            lambda d: d["speakers"][2].update(firstName="", lastName=None),
            "speaker 3 (id 5f1a2b3c-0000-4000-8000-00000000000c)", "fullName",
            "is required (or firstName and lastName)",
        ),
        (
            lambda d: [s.update(startsAt=None, endsAt=None) for s in d["sessions"]],
            "session 1 (id 501234)", "startsAt",
            "is needed: no talk in the file has a start date, so the event's year is unknown",
        ),
    ],
)  # fmt: skip
def test_malformed_sessions_name_the_record_and_field(tmp_path, change, record, field, problem):
    with pytest.raises(ImportFileError) as raised:
        sessionize.read(write_variant(tmp_path, change))

    assert (raised.value.record, raised.value.field, raised.value.problem) == (record, field, problem)


def test_broken_json_is_reported_for_the_whole_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"sessions": [', encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        sessionize.read(path)

    assert (raised.value.record, raised.value.field) == (None, None)
    assert raised.value.problem.startswith("not valid JSON: ")


def test_json_that_is_not_the_all_export_is_refused(tmp_path):
    path = tmp_path / "sessions.json"
    path.write_text('[{"groupId": null, "sessions": []}]', encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        sessionize.read(path)

    assert (raised.value.record, raised.value.field) == (None, "sessions")
