"""iCalendar (RFC 5545) program feeds: one VEVENT per session, as conference sites publish for calendar apps.

Read with the standard library only: folded lines are unfolded, TEXT escapes (\\, \\; \\n \\\\) undone, and
DTSTART/DTEND may be UTC (`...Z`), local with a TZID parameter, floating, or all-day DATE values.

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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

_CONTENT_LINE = re.compile(r'([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:])*)*):(.*)', re.DOTALL)
_PARAMETER = re.compile(r';([A-Za-z0-9-]+)=((?:"[^"]*"|[^";:])*)')
_ESCAPE = re.compile(r"\\([\\;,nN])")
_LIST_ITEM = re.compile(r"(?:[^\\,]|\\.)+")
_DATE_TIME = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_TITLE_THEN_SPEAKERS = (re.compile(r"(.+)\s[-–—]\s(.+)"), re.compile(r"(.+?)\s*\(([^()]+)\)"))
_NAME_SEPARATOR = re.compile(r"\s*[,;]\s*|\s+(?:and|und|&)\s+")
_NAME_PARTICLES = frozenset("van von de der den da di du del della des le la bin al el ten ter zu dos das y".split())
_BREAK_WORDS = frozenset("lunch coffee tea break breakfast registration doors open snacks and & + /".split())
_BREAK_MARKERS = frozenset("lunch coffee break breakfast registration doors".split())


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
    events = [child for calendar in calendars for child in calendar.children if child.name == "VEVENT"]
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


@dataclass(frozen=True)
class _Property:
    name: str
    parameters: dict[str, str]
    value: str


@dataclass
class _Component:
    name: str
    properties: list[_Property] = field(default_factory=list)
    children: list[_Component] = field(default_factory=list)

    def first(self, name: str) -> _Property | None:
        return next((prop for prop in self.properties if prop.name == name), None)

    def every(self, name: str) -> list[_Property]:
        return [prop for prop in self.properties if prop.name == name]


def _decode(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, None, f"not valid UTF-8: {error}") from None


def _unfold(text: str) -> list[tuple[int, str]]:
    """Logical lines with the number of the physical line each starts on: a line starting with a space or tab
    continues the one before it (RFC 5545 §3.1). The pieces of a line are joined once, so a value folded over
    100,000 lines takes as long as one that is not."""
    lines: list[tuple[int, str]] = []
    start, pieces = 0, []
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if line[:1] in (" ", "\t") and pieces:
            pieces.append(line[1:])
        elif line.strip():
            if pieces:
                lines.append((start, "".join(pieces)))
            start, pieces = number, [line]
    if pieces:
        lines.append((start, "".join(pieces)))
    return lines


def _parse(path: Path, text: str) -> list[_Component]:
    """The file's VCALENDAR components, their properties and nested components (VEVENT, VALARM, ...)."""

    def invalid(number: int | None, problem: str) -> ImportFileError:
        where = f"line {number}: " if number else ""
        return ImportFileError(path, None, None, f"not valid iCalendar: {where}{problem}")

    calendars: list[_Component] = []
    stack: list[_Component] = []
    for number, line in _unfold(text):
        match = _CONTENT_LINE.fullmatch(line)
        if not match:
            raise invalid(number, "expected NAME:value or NAME;PARAMETER=...:value")
        name, value = match.group(1).upper(), match.group(3)
        if name == "BEGIN":
            component = _Component(value.strip().upper())
            (stack[-1].children if stack else calendars).append(component)
            stack.append(component)
        elif name == "END":
            if not stack or stack[-1].name != value.strip().upper():
                raise invalid(number, f"END:{value} does not close an open component")
            stack.pop()
        elif not stack:
            raise invalid(number, "a property outside BEGIN:VCALENDAR ... END:VCALENDAR")
        else:
            parameters = {key.upper(): raw.replace('"', "") for key, raw in _PARAMETER.findall(match.group(2))}
            stack[-1].properties.append(_Property(name, parameters, value))
    if stack:
        raise invalid(None, f"BEGIN:{stack[-1].name} is never closed")
    if not calendars or any(calendar.name != "VCALENDAR" for calendar in calendars):
        raise invalid(None, "expected BEGIN:VCALENDAR ... END:VCALENDAR")
    return calendars


def _text(value: str) -> str:
    """A TEXT value with its backslash escapes undone."""
    return _ESCAPE.sub(lambda match: "\n" if match.group(1) in "nN" else match.group(1), value)


def _text_list(value: str) -> list[str]:
    """A comma-separated TEXT list (CATEGORIES); escaped commas stay inside their item."""
    return [_text(item).strip() for item in _LIST_ITEM.findall(value)]


def _calendar_name(calendars: list[_Component]) -> str:
    prop = calendars[0].first("X-WR-CALNAME")
    return " ".join(_text(prop.value).split()) if prop else ""


def _slug(name: str) -> str:
    """'FOSDEM 2024' -> 'fosdem-2024': a calendar name as a stable source id."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_name))


class _EventReader:
    """Validates one VEVENT, naming it and the property in every complaint."""

    def __init__(self, path: Path, number: int, event: _Component, skipped: Counter) -> None:
        self.path, self.event, self.left_out = path, event, skipped
        self.uid = self.text("UID")
        self.where = f"VEVENT #{number}" + (f" (UID {self.uid})" if self.uid else "")

    def fail(self, name: str, problem: str):
        raise ImportFileError(self.path, self.where, name, problem)

    def text(self, name: str) -> str:
        prop = self.event.first(name)
        return " ".join(_text(prop.value).split()) if prop else ""

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
        categories = [item for prop in self.event.every("CATEGORIES") for item in _text_list(prop.value)]
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
            names = [" ".join(prop.parameters.get("CN", "").split()) for prop in self.event.every(role)]
            names = [name for name in names if name]
            if names:
                return names
        return []

    def moment(self, name: str) -> dt.datetime | dt.date | None:
        """A DATE-TIME in its own zone (UTC, a TZID, or floating) or an all-day DATE."""
        prop = self.event.first(name)
        if prop is None:
            return None
        match = _DATE_TIME.fullmatch(prop.value.strip())
        moment = _date_or_time(match.group(1), match.group(2)) if match else None
        if moment is None:
            self.fail(name, "expected a date-time like 20231005T100000 (or a date like 20231005)")
        if isinstance(moment, dt.datetime):
            moment = moment.replace(tzinfo=dt.UTC if match.group(3) else _zone(prop.parameters.get("TZID")))
        return moment

    def duration(self, starts: dt.datetime | dt.date | None) -> int | None:
        """Minutes from DTSTART to DTEND (or DTSTART plus DURATION); all-day events have no length."""
        if not isinstance(starts, dt.datetime):
            return None
        ends = self.moment("DTEND")
        if ends is None and self.event.first("DURATION"):
            try:
                ends = starts + self.length()
            except (ValueError, OverflowError):  # more digits than int() reads, or past the year 9999
                self.fail("DURATION", "is too long: the talk would end after the year 9999")
        if not isinstance(ends, dt.datetime):
            return None
        if (starts.tzinfo is None) != (ends.tzinfo is None):  # one floating, one zoned: compare wall clocks
            starts, ends = starts.replace(tzinfo=None), ends.replace(tzinfo=None)
        if ends < starts:
            self.fail("DTEND", "is before DTSTART")
        return plausible_minutes(minutes_between(starts, ends), self.left_out)

    def length(self) -> dt.timedelta:
        match = _DURATION.fullmatch(self.text("DURATION"))
        if not match or not any(match.groups()):
            self.fail("DURATION", "expected a duration like PT45M or PT1H30M")
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _date_or_time(day: str, time: str | None) -> dt.datetime | dt.date | None:
    """'20231005' -> a date, with '100000' -> a datetime; None for impossible dates like February 30."""
    try:
        return dt.datetime.strptime(day + time, "%Y%m%d%H%M%S") if time else dt.datetime.strptime(day, "%Y%m%d").date()
    except ValueError:
        return None


def _zone(tzid: str | None) -> dt.tzinfo | None:
    """The zone a TZID names; unknown names (Outlook's 'W. Europe Standard Time') leave the time floating."""
    try:
        return ZoneInfo(tzid.strip().lstrip("/")) if tzid else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


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
