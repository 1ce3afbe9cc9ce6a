"""iCalendar (RFC 5545) program feeds: one VEVENT per session, as conference sites publish for calendar apps.

Parsed by `icalendar` (the library pretalx itself uses): folded lines are unfolded, TEXT escapes undone, and
DTSTART/DTEND may be UTC (`...Z`), local with a TZID (IANA or Windows names), floating, or all-day DATE values.
Stricter than the library where a half-read file would import the wrong talks: every line must parse and every
BEGIN must be closed by its own END, or the whole file is refused naming the line. A TZID that only the file's
VTIMEZONE defines is read as floating, wall-clock time: such a zone's rules can make every lookup run for minutes.

    UID          the talk's id (required, unique)
    SUMMARY      the title; speakers often ride along as "Title - Ada Lovelace, Alan Turing",
                 "Title – Speaker" or "Title (Speaker)". ATTENDEE (else ORGANIZER) CN parameters, when present,
                 are the speakers instead, and the SUMMARY loses its speaker part only if it names the same people.
    DESCRIPTION  the summary;  CATEGORIES  tags and the talk type;  URL  the schedule link
    DTSTART      the recording date and, with DTEND or DURATION, the length
    X-WR-CALNAME the event's name (else the file name); the event's year is that of the earliest talk

Skipped: cancelled events and breaks — a SUMMARY made only of words like Lunch, Coffee, Break, Breakfast,
Registration or "Doors open". A speaker part is recognised only if every name has two to five capitalised words
(particles like "van" or "de" allowed), so "Kafka - Lessons learned" keeps its whole title.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import warnings
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, vBroken
from icalendar.parser.ical import CalendarIcalParser

from db.importers.errors import ImportFileError
from db.importers.fields import (
    NOT_A_TALK,
    minutes_between,
    plausible_minutes,
    pretty_name,
    source_name,
    summary_from,
    talk_type_from,
    with_schedule_event,
)
from db.records import LIMITS, LinkRecord, SpeakerRecord, TalkRecord, clean_tags, http_url, speaker_key

FORMAT = "ics"

_LOGICAL_LINE_START = re.compile(r"\A[^\n]|(?<=\n)[^ \t\n]")  # in "\n"-only text: where icalendar's lines begin
_TITLE_THEN_SPEAKERS = (re.compile(r"(.+)\s[-–—]\s(.+)"), re.compile(r"(.+?)\s*\(([^()]+)\)"))
_NAME_SEPARATOR = re.compile(r"\s*[,;]\s*|\s+(?:and|und|&)\s+")
_NAME_PARTICLES = frozenset("van von de der den da di du del della des le la bin al el ten ter zu dos das y".split())
_BREAK_WORDS = frozenset("lunch coffee tea break breakfast registration doors open snacks and & + /".split())
_BREAK_MARKERS = frozenset("lunch coffee break breakfast registration doors".split())
_DATE_TIME_EXAMPLE = "expected a date-time like 20231005T100000 (or a date like 20231005)"


def detect(path: Path, sample: str | None) -> bool:
    """An iCalendar stream starts with its VCALENDAR, whatever the file is called."""
    return sample is not None and sample.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCALENDAR")


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every event but breaks and cancelled ones, which are counted in `skipped`."""
    skipped = Counter() if skipped is None else skipped
    calendars = _parse(path, _decode(path))
    name = _calendar_name(calendars)
    source = source_name(FORMAT, _slug(name) or path.stem)
    talks, seen = [], set()
    events = [child for calendar in calendars for child in calendar.subcomponents if child.name == "VEVENT"]
    for number, event in enumerate(events, start=1):
        reader = _EventReader(path, number, event, skipped)
        if reader.skipped():
            skipped[NOT_A_TALK] += 1
            continue
        record = reader.read(source)
        if record.external_id in seen:
            reader.fail("UID", f"UID {record.external_id!r} appears twice")
        seen.add(record.external_id)
        talks.append((reader.where, record))
    return with_schedule_event(path, talks, name or pretty_name(path.stem), "DTSTART")


def _decode(path: Path) -> str:
    """The file as text with "\n" line ends (CRLF and old Mac CR alike)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, None, f"not valid UTF-8: {error}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _InvalidCalendar(ValueError):
    pass


class _StrictParser(CalendarIcalParser):
    """icalendar's parser where it would silently drop data refusing instead: a line that does not parse (also
    inside a VEVENT, which the library tolerates), an END that closes another component, a BEGIN never closed, a
    property outside any component. Counts the content lines it has handled, so a complaint can name the line."""

    def initialize_parsing(self) -> None:
        super().initialize_parsing()
        self.handled = 0  # content lines so far, for the line number in a complaint
        self.open: list[str] = []

    def handle_line_parse_error(self, exception: Exception) -> None:
        self.handled += 1
        raise _InvalidCalendar("expected NAME:value or NAME;PARAMETER=...:value")

    def handle_begin_component(self, vals: str) -> None:
        self.handled += 1
        self.open.append(vals.strip().upper())
        super().handle_begin_component(vals.strip())

    def handle_end_component(self, vals: str) -> None:
        self.handled += 1
        if not self.open or self.open[-1] != vals.strip().upper():
            raise _InvalidCalendar(f"END:{vals} does not close an open component")
        # icalendar would compile a VTIMEZONE's rules as it closes and cache them, process-wide, for later TZIDs:
        # a third of a millisecond each, crashes on broken rules (a TZID given twice), and zones `moment` never
        # uses. Closing it under another name skips that step; the component is kept all the same.
        super().handle_end_component("" if self.open.pop() == "VTIMEZONE" else vals)

    def prepare_components(self) -> None:
        """icalendar parses the whole file again when a VTIMEZONE follows an event, to apply the zone it cached:
        not needed, as no zone is cached."""

    def handle_property(self, name, params, vals, line) -> None:
        self.handled += 1
        if self.component is None:
            raise _InvalidCalendar("a property outside BEGIN:VCALENDAR ... END:VCALENDAR")
        if not isinstance(params.get("VALUE", ""), str):  # icalendar splits 'VALUE=DATE,TEXT', then fails on it
            raise _InvalidCalendar(f"{name};VALUE= names more than one value type")
        super().handle_property(name, params, vals, line)

    def parse_and_add_property(self, name, params, val, tzid, line) -> None:
        try:
            super().parse_and_add_property(name, params, val, tzid, line)
        except OSError:  # a TZID too long for a file name in the zone database: an unknown zone, read as floating
            super().parse_and_add_property(name, params, val, None, line)

    def parse(self) -> list[Component]:
        components = super().parse()
        if self.open:
            self.handled = 0
            raise _InvalidCalendar(f"BEGIN:{self.open[-1]} is never closed")
        return components


def _parse(path: Path, text: str) -> list[Component]:
    """The file's VCALENDAR components, their properties and nested components (VEVENT, VALARM, ...)."""
    parser = _StrictParser(text, Calendar._get_component_factory(), Calendar.types_factory)
    try:
        with warnings.catch_warnings():  # guesses about vendor TZIDs and the like: the records tell what was read
            warnings.simplefilter("ignore")
            calendars = parser.parse()
    except (ValueError, TypeError, LookupError, AttributeError) as error:  # AttributeError: icalendar, on odd input
        number = _line_number(text, parser.handled - 1) if getattr(parser, "handled", 0) else None
        raise _invalid(path, number, str(error)) from None
    if not calendars or any(calendar.name != "VCALENDAR" for calendar in calendars):
        raise _invalid(path, None, "expected BEGIN:VCALENDAR ... END:VCALENDAR")
    return calendars


def _invalid(path: Path, number: int | None, problem: str) -> ImportFileError:
    where = f"line {number}: " if number else ""
    return ImportFileError(path, None, None, f"not valid iCalendar: {where}{problem}")


def _line_number(text: str, index: int) -> int | None:
    """The physical line on which the index-th (from 0) unfolded content line starts."""
    for seen, match in enumerate(_LOGICAL_LINE_START.finditer(text)):
        if seen == index:
            return text.count("\n", 0, match.start()) + 1
    return None


def _first(component: Component, name: str) -> Any:
    """A property's value; the first one when the property is repeated."""
    value = component.get(name)
    return value[0] if isinstance(value, list) and value else value


def _every(component: Component, name: str) -> list:
    value = component.get(name)
    return [] if value is None else value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A TEXT value (escapes already undone by icalendar) on one line. A property given another type with a VALUE
    parameter ('SUMMARY;VALUE=INTEGER:42') is read as it is written."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = value.to_ical().decode("utf-8") if hasattr(value, "to_ical") else str(value)
    return " ".join(value.split())


def _calendar_name(calendars: list[Component]) -> str:
    return _text(_first(calendars[0], "X-WR-CALNAME"))


def _slug(name: str) -> str:
    """'FOSDEM 2024' -> 'fosdem-2024': a calendar name as a stable source id."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_name))


class _EventReader:
    """Validates one VEVENT, naming it and the property in every complaint."""

    def __init__(self, path: Path, number: int, event: Component, skipped: Counter) -> None:
        self.path, self.event, self.left_out = path, event, skipped
        self.uid = self.text("UID")
        self.where = f"VEVENT #{number}" + (f" (UID {self.uid})" if self.uid else "")

    def fail(self, name: str, problem: str):
        raise ImportFileError(self.path, self.where, name, problem)

    def text(self, name: str) -> str:
        return _text(_first(self.event, name))

    def skipped(self) -> bool:
        """Cancelled sessions and breaks are not talks."""
        words = set(re.findall(r"[\w&+/]+", self.text("SUMMARY").lower()))
        is_break = bool(words & _BREAK_MARKERS) and words <= _BREAK_WORDS
        return is_break or self.text("STATUS").upper() == "CANCELLED"

    def read(self, source: str) -> TalkRecord:
        if not self.uid:
            self.fail("UID", "is required")
        summary = self.text("SUMMARY")
        if not summary:
            self.fail("SUMMARY", "is required")
        title, speakers = _title_and_speakers(summary, self.attendees())
        if len(title) > LIMITS["title"]:
            self.fail("SUMMARY", f"is longer than {LIMITS['title']} characters")
        categories = [_text(item) for prop in _every(self.event, "CATEGORIES") for item in _categories(prop)]
        starts = self.moment("DTSTART")
        url = http_url(self.text("URL"))
        return TalkRecord(
            source=source,
            external_id=self.uid,
            title=title,
            speakers=tuple(SpeakerRecord(name) for name in speakers),
            tags=clean_tags(categories),
            summary=summary_from(self.text("DESCRIPTION")),
            talk_type=talk_type_from(*categories, title),
            links=(LinkRecord("schedule", url),) if url else (),
            duration_minutes=self.duration(starts),
            recorded_on=starts.date() if isinstance(starts, dt.datetime) else starts,
        )

    def attendees(self) -> list[str]:
        """Speakers a calendar names explicitly: ATTENDEE common names, else the ORGANIZER's."""
        for role in ("ATTENDEE", "ORGANIZER"):
            names = [_text(_common_name(prop)) for prop in _every(self.event, role)]
            names = [name for name in names if name]
            if names:
                return names
        return []

    def moment(self, name: str) -> dt.datetime | dt.date | None:
        """A DATE-TIME in its own zone (UTC, a TZID the zone database or icalendar knows, or floating) or an all-day
        DATE. A zone only the file's VTIMEZONE defines is dropped: its rules (an RRULE firing every second since
        1900, say) are walked on every comparison, so a few hundred bytes could stall an import for hours."""
        prop = _first(self.event, name)
        if prop is None:
            return None
        moment = None if isinstance(prop, vBroken) else getattr(prop, "dt", None)
        if not isinstance(moment, dt.date):  # a value that does not parse, a duration, a time of day, a period
            self.fail(name, _DATE_TIME_EXAMPLE)
        if isinstance(moment, dt.datetime) and not isinstance(moment.tzinfo, ZoneInfo | dt.timezone | None):
            moment = moment.replace(tzinfo=None)
        return moment

    def duration(self, starts: dt.datetime | dt.date | None) -> int | None:
        """Minutes from DTSTART to DTEND (or DTSTART plus DURATION); all-day events have no length."""
        if not isinstance(starts, dt.datetime):
            return None
        ends = self.moment("DTEND")
        if ends is None and _first(self.event, "DURATION") is not None:
            try:
                ends = starts + self.length()
            except OverflowError:  # past the year 9999
                self.fail("DURATION", "is too long: the talk would end after the year 9999")
        if not isinstance(ends, dt.datetime):
            return None
        if (starts.tzinfo is None) != (ends.tzinfo is None):  # one floating, one zoned: compare wall clocks
            starts, ends = starts.replace(tzinfo=None), ends.replace(tzinfo=None)
        if ends < starts:
            self.fail("DTEND", "is before DTSTART")
        return plausible_minutes(minutes_between(starts, ends), self.left_out)

    def length(self) -> dt.timedelta:
        prop = _first(self.event, "DURATION")
        length = None if isinstance(prop, vBroken) else getattr(prop, "dt", None)
        if not isinstance(length, dt.timedelta) or length < dt.timedelta(0):
            self.fail("DURATION", "expected a duration like PT45M or PT1H30M")
        return length


def _categories(prop: Any) -> list:
    """The items of one CATEGORIES property; escaped commas stay inside their item."""
    return list(getattr(prop, "cats", [prop]))


def _common_name(prop: Any) -> str:
    """An ATTENDEE's or ORGANIZER's CN parameter; icalendar splits an unquoted 'CN=a,b' into a list."""
    name = getattr(prop, "params", {}).get("CN") or ""
    return ",".join(map(str, name)) if isinstance(name, list) else str(name)


def _title_and_speakers(summary: str, attendees: list[str]) -> tuple[str, list[str]]:
    """Separate 'Title - Speaker One, Speaker Two' (or '– Speakers', '(Speakers)'); named attendees win."""
    for pattern in _TITLE_THEN_SPEAKERS:
        match = pattern.fullmatch(summary)
        names = _names(match.group(2)) if match else None
        if not names:
            continue
        if attendees and not {speaker_key(n) for n in names} <= {speaker_key(n) for n in attendees}:
            break
        return match.group(1).strip(), attendees or names
    return summary, attendees


def _names(text: str) -> list[str] | None:
    """The names in a speaker part, or None if it does not read as a list of people's names."""
    names = [name for name in _NAME_SEPARATOR.split(text.strip()) if name]
    return names if names and all(_is_name(name) for name in names) else None


def _is_name(text: str) -> bool:
    words = text.split()
    return (
        2 <= len(words) <= 5
        and not any(char.isdigit() for char in text)
        and not words[0][0].islower()
        and all(not word[0].islower() or word in _NAME_PARTICLES for word in words)
    )
