"""pretalx's schedule widget data (`/<event>/schedule/widgets/schedule.json`, `widget/v2.json`).

    {"talks": [{"code": "G9JGWY", "id": 25, "title": {"en": "...", "de": "..."}, "abstract": ...,
                "speakers": ["NQTF8Y"], "track": 3, "start": "2020-12-14T09:00:00+01:00", "end": ..., "room": 1,
                "duration": 30, "content_locale": "en"}, ...],
     "tracks": [{"id": 3, "name": {"en": "..."}}], "rooms": [...], "speakers": [{"code": "NQTF8Y", "name": "..."}],
     "timezone": "UTC", "event_start": "2020-12-14", "event_end": "2020-12-16"}

Talks name their speakers and track by reference; texts may be per-language objects, and English is preferred.
Slots without a `code` are pretalx breaks (not submissions) and are skipped, as are entries `is_break` recognises.
The data does not name its event, so the source is `pretalx:<file name stem>`: name the file after the event.
pretalx's own `schedule.json` export is the frab format and is read by `frab`.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from db.importers.fields import (
    NOT_A_TALK,
    FieldReader,
    is_break,
    language_code,
    load_json,
    plain_text,
    plausible_minutes,
    read_text,
    slug,
    source_name,
    summary_from,
    talk_type_from,
)
from db.records import LIMITS, EventRecord, SpeakerRecord, TalkRecord, clean_tags

FORMAT = "pretalx"
_TALKS = re.compile(r'"talks"\s*:\s*\[')
_CODE = re.compile(r'"code"\s*:\s*"[A-Za-z0-9]+"')
_SPEAKERS = re.compile(r'"speakers"\s*:\s*\[')
_DATE_EXAMPLE = "2020-12-14T09:00:00+01:00"
_DAY_EXAMPLE = "2020-12-14"


def detect(path: Path, sample: str | None) -> bool:
    """A JSON object with a talks list whose entries carry submission codes and speaker lists.

    Only the talks are sure to fall inside the sample (they come first and can be long), so the decision rests on
    them: talkbot's own catalog has talks too, but never a `code` key."""
    if sample is None or not sample.lstrip("\ufeff \t\r\n").startswith("{"):
        return False
    return bool(_TALKS.search(sample) and _CODE.search(sample) and _SPEAKERS.search(sample))


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every talk in the widget data; breaks are counted in `skipped`."""
    return _WidgetReader(path, load_json(path, read_text(path))).records(Counter() if skipped is None else skipped)


class _WidgetReader(FieldReader):
    """Validates widget data: the speaker and track lists, then each talk in order."""

    def __init__(self, path: Path, data: Any) -> None:
        super().__init__(path)
        if not isinstance(data, dict) or not isinstance(data.get("talks"), list):
            self.fail(None, "talks", "expected an object with a 'talks' list")
        self.data = data
        self.speakers = self.lookup("speakers", "code")
        self.tracks = self.lookup("tracks", "id")

    def lookup(self, field: str, key: str) -> dict[Any, dict]:
        """The `speakers` / `tracks` list as a mapping from code / id to entry."""
        entries = self.data.get(field) or []
        if not isinstance(entries, list):
            self.fail(None, field, "expected a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get(key), str | int) or entry[key] == "":
                self.fail(None, f"{field}[{index}].{key}", "is required")
        return {entry[key]: entry for entry in entries}

    def records(self, skipped: Counter) -> list[TalkRecord]:
        self.skipped = skipped
        event = self.event()
        source = source_name(FORMAT, slug(self.path.stem))
        records: list[TalkRecord] = []
        seen: dict[str, int] = {}
        for number, raw in enumerate(self.data["talks"], start=1):
            where = _talk_name(number, raw)
            if not isinstance(raw, dict):
                self.fail(where, None, "expected an object")
            if not raw.get("code") or is_break(raw.get("title"), raw.get("session_type"), bool(raw.get("speakers"))):
                skipped[NOT_A_TALK] += 1
                continue
            record = self.talk(where, raw, source, event)
            if record.external_id in seen:
                self.fail(where, "code", f"{record.external_id!r} already belongs to talk {seen[record.external_id]}")
            seen[record.external_id] = number
            records.append(record)
        return records

    def event(self) -> EventRecord:
        starts_on = self.date(None, "event_start", self.data.get("event_start"), _DAY_EXAMPLE)
        if starts_on is None:
            self.fail(None, "event_start", "is required")
        series = slug(self.path.stem)[: LIMITS["event.series"]]
        return EventRecord(
            series=series,
            year=starts_on.year,
            starts_on=starts_on,
            ends_on=self.date(None, "event_end", self.data.get("event_end"), _DAY_EXAMPLE),
        )

    def talk(self, where: str, raw: dict, source: str, event: EventRecord) -> TalkRecord:
        title = self.text(where, "title", raw.get("title"))
        if not title:
            self.fail(where, "title", "is required")
        track = self.track(where, raw.get("track"))
        tags = [plain_text(tag) for tag in self.listing(where, "tags", raw.get("tags"))]
        return TalkRecord(
            source=source,
            external_id=str(raw["code"])[: LIMITS["id"]],
            title=title[: LIMITS["title"]],
            event=event,
            speakers=self.talk_speakers(where, raw.get("speakers")),
            tags=clean_tags([track, *tags]),
            summary=summary_from(
                self.text(where, "abstract", raw.get("abstract")),
                self.text(where, "description", raw.get("description")),
            ),
            talk_type=talk_type_from(self.text(where, "session_type", raw.get("session_type")), track, title),
            duration_minutes=self.duration(where, raw.get("duration")),
            language=language_code(self.text(where, "content_locale", raw.get("content_locale"))),
            recorded_on=self.date(where, "start", raw.get("start"), _DATE_EXAMPLE),
        )

    def track(self, where: str, track_id: Any) -> str:
        if track_id is None:
            return ""
        if not isinstance(track_id, str | int) or track_id not in self.tracks:
            self.fail(where, "track", f"{track_id!r} is not the id of an entry in 'tracks'")
        return self.text(where, "track", self.tracks[track_id].get("name"))

    def talk_speakers(self, where: str, codes: Any) -> tuple[SpeakerRecord, ...]:
        speakers = []
        for index, code in enumerate(self.listing(where, "speakers", codes)):
            field = f"speakers[{index}]"
            if not isinstance(code, str) or code not in self.speakers:
                self.fail(where, field, f"{code!r} is not the code of an entry in 'speakers'")
            name = self.text(where, field, self.speakers[code].get("name"))
            if not name:
                self.fail(where, field, f"the speaker {code!r} has no name")
            speakers.append(SpeakerRecord(name[: LIMITS["speaker"]]))
        return tuple(speakers)

    def duration(self, where: str, value: Any) -> int | None:
        """pretalx gives whole minutes; a length over 24 hours is left out and counted (fields.plausible_minutes)."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(where, "duration", "expected a whole number of minutes, like 30")
        return plausible_minutes(value, self.skipped)


def _talk_name(number: int, raw: Any) -> str:
    """'talk 3 (code G9JGWY)': the position always, the code when the entry has one."""
    if isinstance(raw, dict) and raw.get("code"):
        return f"talk {number} (code {raw['code']})"
    return f"talk {number}"
