"""frab / c3voc schedules: the `schedule.json` frab, pretalx and the c3voc tools publish, and frab's `schedule.xml`.

Both spellings become one nested shape (schedule → conference → days → rooms → events) that a single reader
validates, so an XML file yields exactly the records of its JSON twin. Field names follow the c3voc schema
(https://c3voc.de/schedule/schema.json). Each conference edition is its own source, `frab:<acronym>`.

Entries that are schedule furniture rather than talks are skipped; `is_break` says which. Relative link and
attachment URLs (frab writes `/system/event_attachments/…`) are resolved against the schedule's `base_url`. An
event's `logo` becomes the talk's thumbnail when it is https, or relative to an https `base_url`; otherwise it is left
out and counted in `skipped`. (The conference's own logo is not used: every talk would show the same picture.)

XML is parsed by `defusedxml`, which refuses entity declarations (a "billion laughs" file grows a few hundred bytes
into gigabytes) and references to outside resources (an external entity reads local files or URLs).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET  # the Element type; parsing goes through defusedxml
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import defusedxml.ElementTree as SafeET
from defusedxml import EntitiesForbidden, ExternalReferenceForbidden

from db.importers.errors import NOT_A_CATALOG, ImportFileError
from db.importers.fields import (
    NOT_A_TALK,
    FieldReader,
    is_break,
    language_code,
    link_kind,
    load_json,
    minutes_from_clock,
    plain_text,
    plausible_minutes,
    read_text,
    series_name,
    slug,
    source_name,
    summary_from,
    talk_type_from,
    thumbnail_from,
)
from db.records import LIMITS, EventRecord, LinkRecord, SpeakerRecord, TalkRecord, clean_tags, http_url

FORMAT = "frab"
_JSON_SCHEDULE = re.compile(r'"schedule"\s*:\s*\{')
_JSON_CONFERENCE = re.compile(r'"conference"\s*:\s*\{')
_XML_ROOT = re.compile(r"<schedule[\s>]")
_EVENT_DATE_EXAMPLE = "2020-12-14T09:00:00+01:00"
_DAY_DATE_EXAMPLE = "2020-12-14"


def detect(path: Path, sample: str | None) -> bool:
    """A JSON object with schedule.conference, or an XML document whose root is <schedule> with a <conference>."""
    if sample is None:
        return False
    head = sample.lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return bool(_XML_ROOT.search(head)) and "<conference" in head
    return head.startswith("{") and bool(_JSON_SCHEDULE.search(head) and _JSON_CONFERENCE.search(head))


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every talk in the schedule; breaks and other non-talk slots are counted in `skipped`."""
    text = read_text(path)
    data = _xml_schedule(path, text) if text.lstrip().startswith("<") else load_json(path, text)
    return _ScheduleReader(path, data).records(Counter() if skipped is None else skipped)


# frab XML → the JSON shape.


def _xml_schedule(path: Path, text: str) -> dict[str, Any]:
    """frab's XML as the JSON shape; entity declarations and outside references are refused (`_safe_root`)."""
    root = _safe_root(path, text)
    if root.tag != "schedule":
        raise ImportFileError(path, None, None, f"expected a <schedule> root element, not <{root.tag}>")
    conference = root.find("conference")
    if conference is None:
        return {"schedule": {}}
    fields = _xml_leaves(conference)
    fields["days"] = [_xml_day(day) for day in root.findall("day")]
    return {"schedule": {"base_url": fields.get("base_url"), "conference": fields}}


def _safe_root(path: Path, text: str) -> ET.Element:
    """The document's root element, parsed by defusedxml; its refusals say what the file does and what to do. A
    DOCTYPE alone is harmless (expat never fetches an external DTD), so only declarations and references are refused."""
    redo = "export the schedule again without a DTD (frab and pretalx write none)"
    try:
        return SafeET.fromstring(text)
    except EntitiesForbidden as error:
        problem = f"refused: the XML declares the entity {error.name!r} (<!ENTITY …>)"
        why = "entities can blow a small file up without bound or read other files"
        raise ImportFileError(path, None, None, f"{problem}; {why}: {redo}") from None
    except ExternalReferenceForbidden as error:
        problem = f"refused: the XML refers to an outside resource ({error.system_id or error.public_id})"
        raise ImportFileError(path, None, None, f"{problem}, which would be read while parsing: {redo}") from None
    except ET.ParseError as error:
        raise ImportFileError(path, None, None, f"not valid XML: {error}") from None


def _xml_leaves(element: ET.Element) -> dict[str, Any]:
    return {child.tag: _xml_text(child) for child in element if len(child) == 0}


def _xml_text(element: ET.Element) -> str:
    return "".join(element.itertext())


def _xml_day(day: ET.Element) -> dict[str, Any]:
    rooms: dict[str, list] = {}
    for room in day.findall("room"):
        rooms.setdefault(room.get("name", ""), []).extend(_xml_event(event) for event in room.findall("event"))
    return {"index": day.get("index"), "date": day.get("date"), "rooms": rooms}


def _xml_event(event: ET.Element) -> dict[str, Any]:
    fields = _xml_leaves(event)
    fields.update({name: event.get(name) for name in ("guid", "id") if event.get(name) is not None})
    fields["persons"] = [{"id": p.get("id"), "public_name": _xml_text(p)} for p in event.iterfind("persons/person")]
    for group, item in (("links", "link"), ("attachments", "attachment")):
        fields[group] = [{"url": ref.get("href"), "title": _xml_text(ref)} for ref in event.iterfind(f"{group}/{item}")]
    return fields


class _ScheduleReader(FieldReader):
    """Validates a schedule: conference, days, and each event in document order."""

    def __init__(self, path: Path, data: Any) -> None:
        super().__init__(path)
        schedule = data.get("schedule") if isinstance(data, dict) else None
        if not isinstance(schedule, dict):
            self.fail(None, None, f"{NOT_A_CATALOG}: a frab/c3voc schedule is a JSON object with a 'schedule' object")
        self.conference = schedule.get("conference")
        if not isinstance(self.conference, dict):
            self.fail(None, "schedule.conference", "is required")
        base_url = schedule.get("base_url")
        self.base_url = base_url if isinstance(base_url, str) else ""
        self.skipped: Counter = Counter()

    def records(self, skipped: Counter) -> list[TalkRecord]:
        self.skipped = skipped
        event, source = self.event(), self.source()
        records: list[TalkRecord] = []
        seen: dict[str, int] = {}
        for number, (day_date, raw) in enumerate(self.entries(), start=1):
            where = _event_name(number, raw)
            if not isinstance(raw, dict):
                self.fail(where, None, "expected an object")
            if is_break(raw.get("title"), raw.get("type"), bool(raw.get("persons"))):
                skipped[NOT_A_TALK] += 1
                continue
            record = self.talk(where, raw, day_date, source, event)
            if record.external_id in seen:
                field = "guid" if raw.get("guid") else "id"
                self.fail(where, field, f"{record.external_id!r} already belongs to event #{seen[record.external_id]}")
            seen[record.external_id] = number
            records.append(record)
        return records

    def entries(self) -> Iterator[tuple[dt.date | None, Any]]:
        """Every event with its day's date, in document order."""
        days = self.conference.get("days")
        if not isinstance(days, list):
            self.fail("conference", "days", "expected a list of days")
        for index, day in enumerate(days, start=1):
            rooms = day.get("rooms") if isinstance(day, dict) else None
            if not isinstance(rooms, dict) or not all(isinstance(events, list) for events in rooms.values()):
                self.fail(f"day #{index}", "rooms", "expected an object mapping room names to lists of events")
            day_date = self.date(f"day #{index}", "date", day.get("date"), _DAY_DATE_EXAMPLE)
            for events in rooms.values():
                for raw in events:
                    yield day_date, raw

    def event(self) -> EventRecord:
        conference = self.conference
        title = self.text("conference", "title", conference.get("title"))
        name = title or self.text("conference", "acronym", conference.get("acronym"))
        if not name:
            self.fail("conference", "title", "is required (or at least an acronym)")
        starts_on = self.date("conference", "start", conference.get("start"), _DAY_DATE_EXAMPLE)
        if starts_on is None:
            self.fail("conference", "start", "is required")
        return EventRecord(
            series=series_name(name)[: LIMITS["event.series"]],
            year=starts_on.year,
            name=name[: LIMITS["event.name"]],
            city=self.text("conference", "city", conference.get("city"))[: LIMITS["event.city"]] or None,
            starts_on=starts_on,
            ends_on=self.date("conference", "end", conference.get("end"), _DAY_DATE_EXAMPLE),
        )

    def source(self) -> str:
        acronym = self.text("conference", "acronym", self.conference.get("acronym"))
        edition = acronym or slug(self.text("conference", "title", self.conference.get("title")))
        return source_name(FORMAT, edition)

    def talk(self, where: str, raw: dict, day_date: dt.date | None, source: str, event: EventRecord) -> TalkRecord:
        external_id = str(raw.get("guid") or raw.get("id") or "").strip()
        if not external_id:
            self.fail(where, "guid", "is required (or an id)")
        title = self.text(where, "title", raw.get("title"))
        if not title:
            self.fail(where, "title", "is required")
        subtitle = self.text(where, "subtitle", raw.get("subtitle"))
        track = self.text(where, "track", raw.get("track"))
        tags = [plain_text(tag) for tag in self.listing(where, "tags", raw.get("tags"))]
        return TalkRecord(
            source=source,
            external_id=external_id[: LIMITS["id"]],
            title=(f"{title}: {subtitle}" if subtitle else title)[: LIMITS["title"]],
            event=event,
            speakers=self.speakers(where, raw.get("persons")),
            tags=clean_tags([track, *tags]),
            summary=summary_from(
                self.text(where, "abstract", raw.get("abstract")),
                self.text(where, "description", raw.get("description")),
            ),
            talk_type=talk_type_from(self.text(where, "type", raw.get("type")), track, title),
            links=self.links(where, raw),
            duration_minutes=self.duration(where, raw.get("duration")),
            language=language_code(self.text(where, "language", raw.get("language"))),
            recorded_on=self.date(where, "date", raw.get("date"), _EVENT_DATE_EXAMPLE) or day_date,
            thumbnail_url=self.thumbnail(raw.get("logo")),
        )

    def thumbnail(self, logo: Any) -> str | None:
        """frab writes `/system/events/logos/…`, relative to the schedule's base: resolved like the links, so only a
        logo on an https base (or an absolute https one) is kept; one that cannot be resolved is left out and
        counted as given."""
        return thumbnail_from(self.resolved(logo) or logo, self.skipped)

    def duration(self, where: str, value: Any) -> int | None:
        minutes = minutes_from_clock(value)
        # Zero ('00:00') and absent durations are no duration; anything else unreadable is an error.
        if minutes is None and str(value or "0").strip(" 0:"):
            self.fail(where, "duration", "expected hours:minutes like 00:30")
        return plausible_minutes(minutes, self.skipped)

    def speakers(self, where: str, persons: Any) -> tuple[SpeakerRecord, ...]:
        speakers = []
        for index, person in enumerate(self.listing(where, "persons", persons)):
            if not isinstance(person, dict):
                self.fail(where, f"persons[{index}]", "expected an object with a public_name")
            name = plain_text(person.get("public_name") or person.get("name") or person.get("full_public_name"))
            if not name:
                self.fail(where, f"persons[{index}].public_name", "is required")
            speakers.append(SpeakerRecord(name[: LIMITS["speaker"]]))
        return tuple(speakers)

    def links(self, where: str, raw: dict) -> tuple[LinkRecord, ...]:
        """The event page as the schedule link, plus references that are recordings or slides."""
        links = []
        if page := self.http_url(raw.get("url")):
            links.append(LinkRecord("schedule", page))
        for group in ("links", "attachments"):
            for reference in self.listing(where, group, raw.get(group)):
                if not isinstance(reference, dict) or not (url := self.http_url(reference.get("url"))):
                    continue
                if kind := link_kind(url, f"{reference.get('type') or ''} {reference.get('title') or ''}"):
                    links.append(LinkRecord(kind, url))
        return tuple(dict.fromkeys(links))

    def http_url(self, value: Any) -> str | None:
        """An absolute http(s) URL the catalog keeps (`http_url`); relative ones (frab's attachments) are resolved
        against the schedule's base_url."""
        url = self.resolved(value)
        return http_url(url) if url else None

    def resolved(self, value: Any) -> str | None:
        """`value` resolved against the schedule's base_url (frab writes `/system/…` paths); None when it is no text,
        empty, or cannot be resolved."""
        if not isinstance(value, str) or not value.strip():
            return None
        try:
            return urljoin(self.base_url, value.strip())
        except ValueError:  # an unclosed IPv6 bracket ('http://[') in the URL or the base_url
            return None


def _event_name(number: int, raw: Any) -> str:
    """'event #12 (guid 8079583e-…)': the position always, the guid or id when the entry has one."""
    if isinstance(raw, dict):
        for key in ("guid", "id"):
            if raw.get(key):
                return f"event #{number} ({key} {raw[key]})"
    return f"event #{number}"
