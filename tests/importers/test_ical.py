"""iCalendar program feeds: RFC 5545 unfolding and escapes, speakers from SUMMARY or CN, breaks skipped."""

import datetime as dt
import time
from pathlib import Path

import pytest

from db.importers import ical, read_catalog_file
from db.importers.errors import ImportFileError
from db.records import EventRecord, LinkRecord, SpeakerRecord

FIXTURES = Path(__file__).parent / "fixtures"
PROGRAM = FIXTURES / "ical-program.ics"
TALKBOT_YAML = "format: talkbot-catalog\nversion: 1\ntalks:\n  - id: a\n    title: A talk\n"
FRAB_JSON = '{"schedule": {"version": "1.0", "conference": {"title": "36C3", "days": []}}}'


def by_uid(records):
    return {record.external_id.split("@")[0]: record for record in records}


def calendar_file(tmp_path: Path, *events: str, header: str = "", name: str = "feed.ics") -> Path:
    """A calendar around VEVENT bodies given as property lines."""
    body = "".join(f"BEGIN:VEVENT\n{event.strip()}\nEND:VEVENT\n" for event in events)
    path = tmp_path / name
    path.write_text(f"BEGIN:VCALENDAR\nVERSION:2.0\n{header}{body}END:VCALENDAR\n", encoding="utf-8")
    return path


def test_reads_the_program_with_titles_speakers_tags_durations_and_links():
    talks = by_uid(ical.read(PROGRAM))

    observability = talks["talk-101"]
    assert observability.source == "ics:devopsdays-zurich-2024"
    assert observability.title == "Observability, the hard parts"  # an escaped comma in the title
    assert observability.speakers == (SpeakerRecord("Ada Lovelace"), SpeakerRecord("Grace Hopper"))
    assert observability.tags == ("monitoring", "sre-reliability")  # "SRE\, Reliability" is one category
    assert observability.talk_type == "talk"
    assert observability.duration_minutes == 45
    assert observability.recorded_on == dt.date(2024, 5, 14)
    assert observability.links == (LinkRecord("schedule", "https://devopsdays.example.org/program/101"),)


def test_folded_lines_and_text_escapes_are_undone():
    summary = by_uid(ical.read(PROGRAM))["talk-101"].summary

    assert summary == (
        "Traces, metrics and logs: what each one is good for and where they lie to you. "
        "Bring questions; we bring answers."
    )


def test_event_is_the_calendar_name_in_the_year_of_the_earliest_talk():
    events = {record.event for record in ical.read(PROGRAM)}

    assert events == {
        EventRecord(
            series="DevOpsDays Zürich", year=2024, name="DevOpsDays Zürich 2024",
            starts_on=dt.date(2024, 5, 13), ends_on=dt.date(2024, 5, 15),
        )
    }  # fmt: skip


def test_breaks_and_cancelled_events_are_skipped():
    uids = list(by_uid(ical.read(PROGRAM)))

    assert uids == ["talk-101", "talk-102", "talk-103", "talk-104", "talk-105"]  # no Lunch, Doors open, cancelled


def test_utc_times_durations_and_en_dash_speakers():
    keynote = by_uid(ical.read(PROGRAM))["talk-102"]

    assert (keynote.title, keynote.speakers) == ("Why we page", (SpeakerRecord("Margaret Hamilton"),))
    assert (keynote.talk_type, keynote.tags) == ("keynote", ())  # CATEGORIES:Keynote: the type, not a topic
    assert (keynote.recorded_on, keynote.duration_minutes) == (dt.date(2024, 5, 13), 30)  # from DURATION:PT30M


def test_parenthesised_speaker_and_nested_alarm():
    workshop = by_uid(ical.read(PROGRAM))["talk-103"]

    assert workshop.title == "Hands-on Terraform"
    assert workshop.speakers == (SpeakerRecord("Jean-Luc van der Berg"),)
    assert (workshop.talk_type, workshop.duration_minutes) == ("workshop", 120)
    assert workshop.summary == ""  # the VALARM's DESCRIPTION is not the talk's


def test_named_attendees_are_the_speakers():
    talks = by_uid(ical.read(PROGRAM))

    assert talks["talk-105"].title == "Zero trust at home"  # its speaker part names an attendee
    assert talks["talk-105"].speakers == (SpeakerRecord("Linus Example"), SpeakerRecord("O'Neil, Cathy"))
    assert (talks["talk-105"].recorded_on, talks["talk-105"].duration_minutes) == (dt.date(2024, 5, 15), None)
    assert talks["talk-105"].links == ()  # a mailto: URL is no schedule page
    assert talks["talk-104"].title == "Kafka - Lessons learned"  # "Lessons learned" is nobody's name
    assert talks["talk-104"].speakers == (SpeakerRecord("Jane Doe"),)  # the ORGANIZER, as no ATTENDEE is named


@pytest.mark.parametrize(
    ("summary", "title", "speakers"),
    [
        ("Rust für Anfänger – Jürgen Müller & Zoë Ångström", "Rust für Anfänger", ["Jürgen Müller", "Zoë Ångström"]),
        ("A - B - Ada Lovelace and Grace Hopper", "A - B", ["Ada Lovelace", "Grace Hopper"]),
        ("Go in production (Rob Pike)", "Go in production", ["Rob Pike"]),
        ("Go generics (Part 2)", "Go generics (Part 2)", []),
        ("Serverless — the good parts", "Serverless — the good parts", []),
        ("Intro (Beginner)", "Intro (Beginner)", []),
    ],
)
def test_speakers_are_split_from_the_summary_only_when_they_read_as_names(tmp_path, summary, title, speakers):
    path = calendar_file(tmp_path, f"UID:a@x\nDTSTART:20240101T100000Z\nSUMMARY:{summary}")

    [record] = ical.read(path)

    assert (record.title, [speaker.name for speaker in record.speakers]) == (title, speakers)


@pytest.mark.parametrize("summary", ["Lunch", "Coffee Break", "Registration & Breakfast", "DOORS OPEN", "Break"])
def test_break_summaries_are_not_talks(tmp_path, summary):
    path = calendar_file(tmp_path, f"UID:a@x\nDTSTART:20240101T100000Z\nSUMMARY:{summary}")

    assert ical.read(path) == []


def test_lunch_and_learn_is_a_talk(tmp_path):
    path = calendar_file(tmp_path, "UID:a@x\nDTSTART:20240101T120000Z\nSUMMARY:Lunch & Learn: SQLite internals")

    assert [record.title for record in ical.read(path)] == ["Lunch & Learn: SQLite internals"]


def test_without_a_calendar_name_the_file_name_names_the_event(tmp_path):
    path = calendar_file(tmp_path, "UID:a@x\nDTSTART:20221103T100000\nSUMMARY:A talk", name="rust_meetup-2022.ics")

    [record] = ical.read(path)

    assert record.source == "ics:rust_meetup-2022"
    assert (record.event.series, record.event.name, record.event.year) == ("Rust Meetup", "Rust Meetup 2022", 2022)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("DTSTART:20240101T090000Z", "DTEND;TZID=Europe/Berlin:20240101T103000"),  # 10:30 CET is 09:30 UTC
        ('DTSTART;TZID="/Europe/Berlin":20240101T100000', "DTEND:20240101T093000Z"),
        ("DTSTART;TZID=W. Europe Standard Time:20240101T100000", "DTEND;TZID=Europe/Berlin:20240101T103000"),
    ],
)
def test_times_in_different_zones_are_compared_correctly(tmp_path, start, end):
    path = calendar_file(tmp_path, f"UID:a@x\nSUMMARY:A talk\n{start}\n{end}")

    assert ical.read(path)[0].duration_minutes == 30  # an unknown zone is read as floating, wall-clock time


@pytest.mark.parametrize(
    ("events", "record", "field", "problem"),
    [
        (["DTSTART:20240101T100000Z\nSUMMARY:A talk"], "VEVENT #1", "UID", "is required"),
        (["UID:a@x\nDTSTART:20240101T100000Z\nDESCRIPTION:no title"], "VEVENT #1 (UID a@x)", "SUMMARY", "is required"),
        (
            ["UID:a@x\nDTSTART:20240101T100000Z\nSUMMARY:One", "UID:a@x\nDTSTART:20240101T110000Z\nSUMMARY:Two"],
            "VEVENT #2 (UID a@x)", "UID", "UID 'a@x' appears twice",
        ),
        (
            ["UID:a@x\nDTSTART:2024-01-01 10:00\nSUMMARY:A talk"],
            "VEVENT #1 (UID a@x)", "DTSTART", "expected a date-time like 20231005T100000 (or a date like 20231005)",
        ),
        (
            ["UID:a@x\nDTSTART:20240231T100000\nSUMMARY:A talk"],
            "VEVENT #1 (UID a@x)", "DTSTART", "expected a date-time like 20231005T100000 (or a date like 20231005)",
        ),
        (
            ["UID:a@x\nDTSTART:20240101T100000\nDTEND:20240101T090000\nSUMMARY:A talk"],
            "VEVENT #1 (UID a@x)", "DTEND", "is before DTSTART",
        ),
        (
            ["UID:a@x\nDTSTART:20240101T100000\nDURATION:45 minutes\nSUMMARY:A talk"],
            "VEVENT #1 (UID a@x)", "DURATION", "expected a duration like PT45M or PT1H30M",
        ),
        (
            ["UID:a@x\nSUMMARY:A talk", "UID:b@x\nSUMMARY:Another talk"],
            "VEVENT #1 (UID a@x)", "DTSTART",
            "is needed: no talk in the file has a start date, so the event's year is unknown",
        ),
    ],
)  # fmt: skip
def test_malformed_events_name_the_event_and_property(tmp_path, events, record, field, problem):
    with pytest.raises(ImportFileError) as raised:
        ical.read(calendar_file(tmp_path, *events))

    assert (raised.value.record, raised.value.field, raised.value.problem) == (record, field, problem)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\n", "not valid iCalendar: BEGIN:VCALENDAR is never closed"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR\n", "not valid iCalendar: line 3: END:VCALENDAR does not close"),
        ("BEGIN:VCALENDAR\nnot a property\nEND:VCALENDAR\n", "not valid iCalendar: line 2: expected NAME:value"),
        ("BEGIN:VCARD\nFN:Ada\nEND:VCARD\n", "not valid iCalendar: expected BEGIN:VCALENDAR"),
    ],
)
def test_broken_calendars_are_reported_for_the_whole_file(tmp_path, text, problem):
    path = tmp_path / "broken.ics"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        ical.read(path)

    assert (raised.value.record, raised.value.field) == (None, None)
    assert raised.value.problem.startswith(problem)


def test_a_description_folded_over_160000_lines_is_unfolded_in_linear_time(tmp_path):
    """Unfolding appended each piece to the line so far: 80,000 folds took 6-20 s, 160,000 four times that."""
    folds = "".join(f"\r\n {n:07d}" + "x" * 60 for n in range(160_000))
    path = calendar_file(tmp_path, f"UID:a@x\nDTSTART:20240101T100000Z\nSUMMARY:A talk\nDESCRIPTION:start{folds}")
    assert path.stat().st_size > 10_000_000
    started = time.monotonic()

    [record] = ical.read(path)

    assert time.monotonic() - started < 10  # about 0.5 s
    assert record.summary.startswith("start0000000" + "x" * 60 + "0000001" + "x" * 60)
    assert len(record.summary) == 5000  # cut to what the catalog keeps


def rfc_folded(text: str) -> str:
    """The calendar as RFC 5545 writes it: CRLF line ends, lines folded at 75 octets (never inside a character)."""
    lines = []
    for line in text.splitlines():
        pieces, piece = [], ""
        for char in line:
            if len((piece + char).encode()) > (75 if not pieces else 74):
                pieces.append(piece)
                piece = ""
            piece += char
        lines.append("\r\n ".join([*pieces, piece]))
    return "\r\n".join(lines) + "\r\n"


def test_crlf_and_folding_at_75_octets_give_the_same_records(tmp_path):
    folded = tmp_path / "ical-program.ics"
    folded.write_bytes(rfc_folded(PROGRAM.read_text(encoding="utf-8")).encode())
    assert max(map(len, folded.read_bytes().split(b"\r\n"))) <= 75

    assert ical.read(folded) == ical.read(PROGRAM)
    assert by_uid(ical.read(folded))["talk-101"].title == "Observability, the hard parts"  # the escaped comma


def test_escaped_commas_semicolons_and_backslashes_in_text_and_categories(tmp_path):
    path = calendar_file(
        tmp_path,
        "UID:a@x\r\nDTSTART:20240101T100000Z\r\nSUMMARY:C:\\\\Windows\\, paths\\; and you\r\n"
        "CATEGORIES:Ops\\, SRE,Databases\r\nCATEGORIES:Postgres",
    )

    [record] = ical.read(path)

    assert record.title == "C:\\Windows, paths; and you"
    assert record.tags == ("ops-sre", "databases", "postgres")


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        ("DTSTART;TZID=Europe/Zurich:20240101T013000", "DTEND;TZID=Europe/Zurich:20240101T033000", 120),
        ("DTSTART;TZID=W. Europe Standard Time:20240101T100000", "DTEND:20240101T093000Z", 30),  # Outlook's name
        ("DTSTART;TZID=/freeassociation.sourceforge.net/Europe/Berlin:20240101T100000", "DTEND:20240101T093000Z", 30),
        ("DTSTART;TZID=" + "A" * 300 + ":20240101T100000", "DTEND:20240101T103000", 30),  # no zone: floating
        ("DTSTART;VALUE=DATE:20240101", "DTEND;VALUE=DATE:20240102", None),  # all day: no length
    ],
)
def test_time_zones_are_read_by_name_and_unknown_ones_float(tmp_path, start, end, minutes):
    path = calendar_file(tmp_path, f"UID:a@x\nSUMMARY:A talk\n{start}\n{end}")

    [record] = ical.read(path)

    assert (record.recorded_on, record.duration_minutes) == (dt.date(2024, 1, 1), minutes)


def test_a_talk_over_the_night_the_clocks_go_forward_lasts_the_hour_it_took(tmp_path):
    start, end = "DTSTART;TZID=Europe/Zurich:20240331T013000", "DTEND;TZID=Europe/Zurich:20240331T033000"
    path = calendar_file(tmp_path, f"UID:a@x\nSUMMARY:A talk\n{start}\n{end}")

    assert ical.read(path)[0].duration_minutes == 60  # 01:30 CET to 03:30 CEST


def test_a_zone_only_the_file_defines_is_read_as_wall_clock_time_however_hostile_its_rules(tmp_path):
    """A VTIMEZONE whose rules fire every second since 1900: looking an offset up walks billions of transitions
    (dateutil's rrule), so such zones are read as floating time, as any unknown zone is."""
    rules = "".join(
        f"BEGIN:{part}\nDTSTART:19000101T0000{second}\nRRULE:FREQ=SECONDLY\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
        f"END:{part}\n"
        for part, second in (("STANDARD", "00"), ("DAYLIGHT", "01"))
    )
    header = f"BEGIN:VTIMEZONE\nTZID:Hostile/Zone\n{rules}END:VTIMEZONE\n"
    event = "UID:a@x\nSUMMARY:A talk\nDTSTART;TZID=Hostile/Zone:20240101T100000\nDTEND:20240101T103000"
    started = time.monotonic()

    [record] = ical.read(calendar_file(tmp_path, event, header=header))

    assert time.monotonic() - started < 5  # about 0.01 s; the zone's own rules took hours
    assert record.duration_minutes == 30


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nSUMMARY:x\n no longer a fold\n\nnot a property\nEND:VEVENT\n",
            "not valid iCalendar: line 7: expected NAME:value",  # inside a VEVENT too, where icalendar would skip it
        ),
        ("BEGIN:VCALENDAR\r\nX-A:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "not valid iCalendar: line 3: END:VEVENT does"),
        ("X-WR-CALNAME:Orphan\nBEGIN:VCALENDAR\nEND:VCALENDAR\n", "not valid iCalendar: line 1: a property outside"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Berlin\x00:20240101T100000\n", "not valid iCalendar: line 3"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE,TEXT:20240101\n", "not valid iCalendar: line 3: DTSTART;"),
    ],
)
def test_lines_icalendar_would_drop_are_refused_naming_the_line(tmp_path, text, problem):
    path = tmp_path / "broken.ics"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ImportFileError) as raised:
        ical.read(path)

    assert raised.value.problem.startswith(problem)


def test_control_characters_are_removed_and_a_nul_refused_by_the_field_rules(tmp_path):
    controls = calendar_file(tmp_path, "UID:a@x\nDTSTART:20240101T100000Z\nSUMMARY:Bell\x07 and \x1b[31mescape")
    [record] = read_catalog_file(controls).records
    assert record.title == "Bell and [31mescape"

    nul = calendar_file(tmp_path, "UID:a@x\nDTSTART:20240101T100000Z\nSUMMARY:Null\x00byte", name="nul.ics")
    with pytest.raises(ImportFileError) as raised:
        read_catalog_file(nul)
    assert (raised.value.record, raised.value.field) == ("ics:nul id a@x", "title")
    assert raised.value.problem.startswith("contains a NUL character")
