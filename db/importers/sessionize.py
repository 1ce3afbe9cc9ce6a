"""Sessionize's "All" JSON (API endpoint `view/All`): the whole program of one event in one file.

    {"sessions":   [{"id": "12345", "title": ..., "description": ..., "startsAt": "2023-10-05T10:00:00",
                     "endsAt": ..., "isServiceSession": false, "isPlenumSession": false,
                     "speakers": ["<speaker uuid>", ...], "categoryItems": [101, ...], "recordingUrl": ...}],
     "speakers":   [{"id": "<uuid>", "firstName": ..., "lastName": ..., "fullName": ..., "tagLine": ...}],
     "categories": [{"id": 1, "title": "Session format", "items": [{"id": 101, "name": "Lightning talk"}]}],
     "questions": [...], "rooms": [...]}

Service sessions (breaks, registration) are skipped. Category items become the talk type (a "format" or "type"
category), the language (a "language" category) or tags (every other category except "level"). A plenum session
whose format says nothing more specific is a keynote. The file names no event, so the event is the file name
prettified, in the year of the earliest session.

"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from db.importers.errors import ImportFileError
from db.importers.fields import (
    NOT_A_TALK,
    language_code,
    minutes_between,
    plausible_minutes,
    pretty_name,
    source_name,
    summary_from,
    talk_type_from,
    with_schedule_event,
)
from db.records import LIMITS, LinkRecord, SpeakerRecord, TalkRecord, clean_tags, http_url

FORMAT = "sessionize"


def detect(path: Path, sample: str | None) -> bool:
    """Sessionize's All export is an object with a sessions list whose entries carry Sessionize's own flags."""
    if sample is None or not sample.lstrip("\ufeff \t\r\n").startswith("{"):
        return False
    return all(re.search(pattern, sample) for pattern in (r'"sessions"\s*:\s*\[', r'"isServiceSession"\s*:'))


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every session but the service ones (breaks, registration), which are counted in `skipped`."""
    skipped = Counter() if skipped is None else skipped
    data = _load(path)
    speakers = _speakers(path, data.get("speakers") or [])
    categories = _category_items(path, data.get("categories") or [])
    source = source_name(FORMAT, path.stem)
    sessions, seen = [], set()
    for number, raw in enumerate(data["sessions"], start=1):
        reader = _SessionReader(path, number, raw)
        if raw.get("isServiceSession"):
            skipped[NOT_A_TALK] += 1
            continue
        record = reader.read(source, speakers, categories, skipped)
        if record.external_id in seen:
            reader.fail("id", f"id {record.external_id!r} appears twice")
        seen.add(record.external_id)
        sessions.append((reader.where, record))
    return with_schedule_event(path, sessions, pretty_name(path.stem), "startsAt")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, None, f"not valid UTF-8: {error}") from None
    except ValueError as error:  # a JSONDecodeError, or a number with more digits than Python converts
        raise ImportFileError(path, None, None, f"not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sessions"), list):
        raise ImportFileError(path, None, "sessions", "expected Sessionize's All export: an object with sessions")
    return data


def _speakers(path: Path, raw_speakers: Any) -> dict[str, SpeakerRecord]:
    if not isinstance(raw_speakers, list):
        raise ImportFileError(path, None, "speakers", "expected a list of speakers")
    speakers = {}
    for number, raw in enumerate(raw_speakers, start=1):
        where = f"speaker {number}" + (f" (id {raw['id']})" if isinstance(raw, dict) and raw.get("id") else "")
        if not isinstance(raw, dict) or not raw.get("id"):
            raise ImportFileError(path, where, "id", "is required")
        name = " ".join(str(raw.get("fullName") or f"{raw.get('firstName') or ''} {raw.get('lastName') or ''}").split())
        if not name:
            raise ImportFileError(path, where, "fullName", "is required (or firstName and lastName)")
        tagline = " ".join(str(raw.get("tagLine") or "").split())
        speakers[str(raw["id"])] = SpeakerRecord(name=name, affiliation=tagline if 0 < len(tagline) < 100 else None)
    return speakers


def _category_items(path: Path, raw_categories: Any) -> dict[int, tuple[str, str]]:
    """Category item id -> (category title, item name): sessions name their items only by id."""
    if not isinstance(raw_categories, list):
        raise ImportFileError(path, None, "categories", "expected a list of categories")
    items = {}
    for number, category in enumerate(raw_categories, start=1):
        if not isinstance(category, dict) or not isinstance(category.get("items", []), list):
            raise ImportFileError(path, f"category {number}", "items", "expected a list of category items")
        title = str(category.get("title") or "")
        for item in category.get("items", []):
            if isinstance(item, dict) and isinstance(item.get("id"), int | str):
                items[item["id"]] = (title, str(item.get("name") or ""))
    return items


class _SessionReader:
    """Validates one session, naming it and the field in every complaint."""

    def __init__(self, path: Path, number: int, raw: Any) -> None:
        self.path, self.raw = path, raw
        self.where = f"session {number}"
        if not isinstance(raw, dict):
            self.fail(None, "expected an object")
        if raw.get("id") not in (None, ""):
            self.where += f" (id {raw['id']})"

    def fail(self, field: str | None, problem: str):
        raise ImportFileError(self.path, self.where, field, problem)

    def read(
        self, source: str, speakers: dict[str, SpeakerRecord], items: dict[int, tuple[str, str]], skipped: Counter
    ) -> TalkRecord:
        raw = self.raw
        if raw.get("id") in (None, ""):
            self.fail("id", "is required")
        title = " ".join(str(raw.get("title") or "").split())
        if not title:
            self.fail("title", "is required")
        if len(title) > LIMITS["title"]:
            self.fail("title", f"is longer than {LIMITS['title']} characters")
        starts, ends = self.moment("startsAt"), self.moment("endsAt")
        if starts and ends and ends < starts:
            self.fail("endsAt", "is before startsAt")
        categories = [self.category_item(item_id, items) for item_id in self.listing("categoryItems")]
        return TalkRecord(
            source=source,
            external_id=str(raw["id"]),
            title=title,
            speakers=tuple(self.speaker(speaker_id, speakers) for speaker_id in self.listing("speakers")),
            tags=clean_tags(name for category, name in categories if _kind(category) == "tag"),
            summary=summary_from(raw.get("description")),
            talk_type=self.talk_type(title, categories),
            links=self.links(),
            duration_minutes=plausible_minutes(minutes_between(starts, ends), skipped),
            language=next((language_code(n) for c, n in categories if _kind(c) == "language"), "en"),
            recorded_on=starts.date() if starts else None,
        )

    def moment(self, field: str) -> dt.datetime | None:
        value = self.raw.get(field)
        if value in (None, ""):
            return None
        try:  # Sessionize gives the venue's wall-clock time; an offset, if any, changes nothing about the day
            return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
        except ValueError:
            self.fail(field, "expected a date and time like 2023-10-05T10:00:00")

    def listing(self, field: str) -> list:
        value = self.raw.get(field) or []
        if not isinstance(value, list):
            self.fail(field, "expected a list of ids")
        return value

    def speaker(self, speaker_id: Any, speakers: dict[str, SpeakerRecord]) -> SpeakerRecord:
        if str(speaker_id) not in speakers:
            self.fail("speakers", f"refers to speaker {speaker_id!r}, who is not in the speakers list")
        return speakers[str(speaker_id)]

    def category_item(self, item_id: Any, items: dict[int, tuple[str, str]]) -> tuple[str, str]:
        if not isinstance(item_id, int | str) or item_id not in items:
            self.fail("categoryItems", f"refers to category item {item_id!r}, which no category lists")
        return items[item_id]

    def talk_type(self, title: str, categories: list[tuple[str, str]]) -> str:
        talk_type = talk_type_from(*(name for category, name in categories if _kind(category) == "format"), title)
        return "keynote" if talk_type == "talk" and self.raw.get("isPlenumSession") else talk_type

    def links(self) -> tuple[LinkRecord, ...]:
        url = http_url(self.raw.get("recordingUrl"))
        return (LinkRecord("video", url),) if url else ()


def _kind(category_title: str) -> str:
    """What a Sessionize category says about a talk, judged by the organisers' name for it."""
    title = category_title.lower()
    if "format" in title or "type" in title:
        return "format"
    if "language" in title:
        return "language"
    return "level" if "level" in title else "tag"
