"""frab / c3voc schedules, JSON and XML: hand-written fixtures, then the real Camp 2019 and pretalx DemoCon exports."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from db.importers import detect_format, frab
from db.importers.errors import ImportFileError
from db.importers.fields import NOT_HTTPS_THUMBNAIL, SUMMARY_LIMIT
from db.records import EventRecord, LinkRecord, SpeakerRecord
from tests.support import shared_data

FIXTURES = Path(__file__).parent / "fixtures"
MINICON = EventRecord(
    series="MiniCon", year=2024, name="MiniCon 2024", starts_on=dt.date(2024, 5, 10), ends_on=dt.date(2024, 5, 11)
)


def real_schedule(name: str) -> Path:
    return shared_data.real_schedule(name)


def schedule_events(path: Path) -> list[dict]:
    """Every event of a schedule.json, walked here independently of the importer."""
    days = json.loads(path.read_text(encoding="utf-8"))["schedule"]["conference"]["days"]
    return [event for day in days for room in day["rooms"].values() for event in room]


def test_json_fixture_reads_every_talk_and_skips_the_breaks():
    records = frab.read(FIXTURES / "frab-minicon.json")

    # 'Lunch' (type other, nobody speaking) and 'Coffee Break' (a break title) are not talks.
    assert [record.title for record in records] == [
        "Observability on a Budget: Tracing without the bill",
        "Five Minutes of Rust",
        "Kubernetes von Null",
        "Closing Keynote",
    ]
    assert {record.source for record in records} == {"frab:minicon2024"}
    assert {record.event for record in records} == {MINICON}


def test_json_fixture_maps_every_field():
    first, rust, kubernetes, keynote = frab.read(FIXTURES / "frab-minicon.json")

    assert first.external_id == "11111111-1111-4111-8111-111111111111"
    assert first.speakers == (SpeakerRecord("Ada Lovelace"), SpeakerRecord("Grace Hopper"))
    assert first.tags == ("operations",)
    assert first.summary == "How we traced everything & paid little."
    assert first.talk_type == "talk"
    assert first.duration_minutes == 45
    assert first.language == "en"
    assert first.recorded_on == dt.date(2024, 5, 10)
    # The GitHub link is neither a recording nor slides; the relative attachment is resolved against base_url.
    assert first.links == (
        LinkRecord("schedule", "https://minicon.example.org/schedule/events/101.html"),
        LinkRecord("video", "https://www.youtube.com/watch?v=abc123"),
        LinkRecord("slides", "https://minicon.example.org/system/attachments/101/deck.pdf?1715"),
    )

    assert (rust.talk_type, rust.duration_minutes, rust.summary) == ("lightning", 5, "Short demos of Rust.")
    assert (kubernetes.talk_type, kubernetes.language, kubernetes.duration_minutes) == ("workshop", "de", 120)
    assert LinkRecord("video", "https://media.ccc.de/v/minicon2024-104") in kubernetes.links
    assert kubernetes.speakers == (SpeakerRecord("Kim Müller"),)
    # No guid: the id identifies it. 'English' is a language name, not a code.
    assert (keynote.external_id, keynote.talk_type, keynote.language) == ("106", "keynote", "en")
    assert (keynote.tags, keynote.recorded_on) == ((), dt.date(2024, 5, 11))


def test_an_event_logo_becomes_the_thumbnail_resolved_against_an_https_base_and_an_http_one_is_counted():
    skipped = Counter()
    first, rust, kubernetes, keynote = frab.read(FIXTURES / "frab-minicon.json", skipped)

    assert first.thumbnail_url == "https://minicon.example.org/system/events/logos/101/large/tracing.png?1715"
    assert (rust.thumbnail_url, kubernetes.thumbnail_url, keynote.thumbnail_url) == (None, None, None)
    assert skipped[NOT_HTTPS_THUMBNAIL] == 1  # Rust's http logo; Kubernetes' empty one is no logo at all


@pytest.mark.parametrize("base_url", ["http://minicon.example.org/schedule/", "", None])
def test_a_relative_logo_without_an_https_base_is_left_out_and_counted(tmp_path, base_url):
    data = json.loads((FIXTURES / "frab-minicon.json").read_text(encoding="utf-8"))
    data["schedule"]["base_url"] = base_url
    (tmp_path / "minicon.json").write_text(json.dumps(data), encoding="utf-8")
    skipped = Counter()

    records = frab.read(tmp_path / "minicon.json", skipped)

    assert [record.thumbnail_url for record in records] == [None] * 4
    assert skipped[NOT_HTTPS_THUMBNAIL] == 2


def test_xml_fixture_gives_the_same_records_as_its_json_twin():
    assert frab.read(FIXTURES / "frab-minicon.xml") == frab.read(FIXTURES / "frab-minicon.json")


def test_a_long_abstract_is_cut_at_a_word_boundary(tmp_path):
    data = json.loads((FIXTURES / "frab-minicon.json").read_text(encoding="utf-8"))
    event = data["schedule"]["conference"]["days"][0]["rooms"]["Hall A"][0]
    event["abstract"] = "observability " * 600
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    summary = frab.read(path)[0].summary

    assert len(summary) <= SUMMARY_LIMIT
    assert summary.endswith("observability…")


def test_event_title_falls_back_to_the_acronym_and_source_to_a_slug_of_the_title(tmp_path):
    data = json.loads((FIXTURES / "frab-minicon.json").read_text(encoding="utf-8"))
    conference = data["schedule"]["conference"]
    path = tmp_path / "schedule.json"

    del conference["title"]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert frab.read(path)[0].event.series == "minicon"  # the acronym, less the year

    conference["title"], conference["acronym"] = "Mini Con: Spring Edition", ""
    path.write_text(json.dumps(data), encoding="utf-8")
    assert frab.read(path)[0].source == "frab:mini-con-spring-edition"


@pytest.mark.parametrize(
    ("title", "kind", "has_speakers", "skipped"),
    [
        ("Lunch", "lecture", False, True),
        ("Coffee Break", "lecture", False, True),
        ("Pause", "talk", True, True),
        ("Mittagspause", "other", False, True),
        ("Setup", "break", True, True),
        ("Hackspace tour", "other", False, True),
        ("Hackspace tour", "other", True, False),
        ("Breaking the Cloud", "lecture", True, False),
        ("Infrastructure Review", "lecture", False, False),
        ("What to do with your lunch break", "lecture", True, False),
    ],
)
def test_is_break_skips_schedule_furniture_only(title, kind, has_speakers, skipped):
    assert frab.is_break(title, kind, has_speakers) is skipped


@pytest.mark.parametrize(
    ("name", "record", "field", "problem"),
    [
        ("frab-bad-missing-title.json", "event #2 (guid 22222222-0000-4000-8000-000000000002)", "title", "is required"),
        (
            "frab-bad-date.json",
            "event #2 (guid 22222222-0000-4000-8000-000000000002)",
            "date",
            "expected a date like 2020-12-14T09:00:00+01:00",
        ),
        (
            "frab-bad-duplicate-guid.json",
            "event #3 (guid 11111111-0000-4000-8000-000000000001)",
            "guid",
            "'11111111-0000-4000-8000-000000000001' already belongs to event #1",
        ),
        ("frab-bad-person.json", "event #1 (guid 11111111-0000-4000-8000-000000000001)", "persons[1].public_name",
         "is required"),
        ("frab-bad-person.xml", "event #1 (guid 11111111-0000-4000-8000-000000000001)", "persons[1].public_name",
         "is required"),
    ],
)  # fmt: skip
def test_a_bad_event_names_record_field_and_problem(name, record, field, problem):
    path = FIXTURES / name
    with pytest.raises(ImportFileError) as caught:
        frab.read(path)

    error = caught.value
    assert (error.path, error.record, error.field, error.problem) == (path, record, field, problem)
    assert str(error).startswith(f"{path}, {record}, field {field!r}: ")


@pytest.mark.parametrize(
    ("name", "problem_start"),
    [
        ("frab-bad-broken.json", "not valid JSON: "),
        ("frab-bad-broken.xml", "not valid XML: mismatched tag"),
        ("frab-bad-entities.xml", "refused: the XML declares the entity 'lol' (<!ENTITY …>)"),
        ("frab-bad-external-entity.xml", "refused: the XML declares the entity 'secret' (<!ENTITY …>)"),
    ],
)
def test_an_unreadable_file_is_an_error_about_the_whole_file(name, problem_start):
    with pytest.raises(ImportFileError) as caught:
        frab.read(FIXTURES / name)

    assert (caught.value.record, caught.value.field) == (None, None)
    assert caught.value.problem.startswith(problem_start)


def billion_laughs(levels: int = 10) -> str:
    """Ten entities each ten times the one before: a 1 KB file that expat would expand to 3 GB of 'lol'."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)
    ]  # fmt: skip
    return f"<?xml version='1.0'?><!DOCTYPE schedule [{''.join(entities)}]>" + (
        "<schedule><conference><acronym>x</acronym><title>X</title><start>2024-05-10</start></conference>"
        f"<day index='1' date='2024-05-10'><room name='A'><event guid='g1'><title>&lol{levels - 1};</title>"
        "</event></room></day></schedule>"
    )


@pytest.mark.parametrize(
    ("document", "refusal"),
    [
        (billion_laughs(), "refused: the XML declares the entity 'lol0' (<!ENTITY …>); entities can blow a small file "
                           "up without bound or read other files: export the schedule again without a DTD"),
        ('<!DOCTYPE schedule [<!ENTITY % remote SYSTEM "http://example.org/evil.dtd"> %remote;]><schedule/>',
         "refused: the XML declares the entity 'remote'"),
        ('<!DOCTYPE schedule [<!ENTITY passwd SYSTEM "file:///etc/passwd">]><schedule>&passwd;</schedule>',
         "refused: the XML declares the entity 'passwd'"),
    ],
)  # fmt: skip
def test_entity_expansion_and_external_entities_are_refused_saying_what_to_do(tmp_path, document, refusal):
    path = tmp_path / "schedule.xml"
    path.write_text(document, encoding="utf-8")

    with pytest.raises(ImportFileError) as caught:
        frab.read(path)

    assert (caught.value.record, caught.value.field) == (None, None)
    assert caught.value.problem.startswith(refusal)
    assert "export the schedule again without a DTD" in caught.value.problem


def test_a_doctype_without_declarations_is_harmless_and_read(tmp_path):
    """expat never fetches an external DTD, so a DOCTYPE line alone (some exporters write one) changes nothing."""
    text = (FIXTURES / "frab-minicon.xml").read_text(encoding="utf-8")
    path = tmp_path / "schedule.xml"
    path.write_text(text.replace("<schedule", '<!DOCTYPE schedule SYSTEM "schedule.dtd">\n<schedule', 1))

    assert frab.read(path) == frab.read(FIXTURES / "frab-minicon.xml")


def test_real_camp2019_reads_completely():
    path = real_schedule("frab-camp2019.json")
    events = schedule_events(path)
    break_titles = {"pause", "break", "lunch", "lunch break", "coffee", "coffee break"}
    furniture = [
        e for e in events
        if e["title"].strip().lower() in break_titles
        or e["type"] in ("break", "pause")
        or (e["type"] == "other" and not e["persons"])
    ]  # fmt: skip

    records = frab.read(path)

    assert detect_format(path) == "frab"
    assert len(records) == len(events) - len(furniture) == 79
    assert len({record.external_id for record in records}) == len(records)
    opening = next(record for record in records if record.title == "Opening Ceremony")
    assert opening.source == "frab:Camp2019"
    assert opening.speakers == (SpeakerRecord("jinxx"), SpeakerRecord("smtw"))
    assert opening.duration_minutes == 30
    assert opening.links == (
        LinkRecord("schedule", "https://fahrplan.events.ccc.de/camp/2019/Fahrplan/events/10386.html"),
    )
    assert opening.event == EventRecord(
        series="Chaos Communication Camp",
        year=2019,
        name="Chaos Communication Camp 2019",
        starts_on=dt.date(2019, 8, 21),
        ends_on=dt.date(2019, 8, 26),
    )
    # A lecture nobody is billed for is still a talk.
    assert next(record for record in records if record.title == "Infrastructure Review").speakers == ()
    assert sum(record.language == "de" for record in records) == sum(e["language"] == "de" for e in events)
    slides = [link.url for record in records for link in record.links if link.kind == "slides"]
    assert any(url.startswith("https://fahrplan.events.ccc.de/system/event_attachments/") for url in slides)
    thumbnails = [record.thumbnail_url for record in records if record.thumbnail_url]
    assert len(thumbnails) == sum(bool(e.get("logo")) for e in events) == 28  # base_url is https: all kept
    assert all(url.startswith("https://fahrplan.events.ccc.de/system/events/logos/") for url in thumbnails)


def test_real_pretalx_schedule_json_is_frab():
    path = real_schedule("pretalx-democon.json")
    events = schedule_events(path)

    records = frab.read(path)

    assert detect_format(path) == "frab"
    assert len(records) == len(events) == 36
    assert {record.source for record in records} == {"frab:democon"}
    assert {record.thumbnail_url for record in records} == {None}  # every logo is ""
    assert sum(record.talk_type == "workshop" for record in records) == sum(e["type"] == "Workshop" for e in events)
    first = next(record for record in records if record.external_id == "8079583e-8321-506c-95af-fd2903a5f075")
    assert first.title == "Focused 5thgeneration hardware"
    assert first.speakers == (SpeakerRecord("Brian Robinson"),)
    assert (first.duration_minutes, first.recorded_on, first.tags) == (30, dt.date(2020, 12, 14), ("phased",))
    assert first.event == EventRecord(
        series="DemoCon", year=2020, name="DemoCon", starts_on=dt.date(2020, 12, 14), ends_on=dt.date(2020, 12, 16)
    )
