"""talkbot's own catalog format (YAML or JSON): what `talkbot export` writes and the seed catalog uses.

format: talkbot-catalog
version: 1
source: seed              # default source for talks that do not name their own
talks:
  - id: srecon-2023-scaling-kafka
    title: ...
    type: talk            # talk | keynote | tutorial | lightning | workshop
    event: {series: SREcon, name: SREcon23 Americas, year: 2023, city: Santa Clara}
    speakers: [{name: ..., affiliation: ...}]
    tags: [kafka, scaling]
    summary: ...
    recommendation: ...   # optional: what a reporter thought of the talk
    verdict: recommended  # optional, only beside a recommendation: recommended | mixed | not_recommended
    links: [{kind: video, url: https://...}]
    thumbnail_url: https://...  # optional: the image the talk's card shows; https only
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from db.importers.errors import ImportFileError
from db.importers.fields import plausible_minutes
from db.records import (
    LIMITS,
    LINK_KINDS,
    TALK_TYPES,
    YEARS,
    EventRecord,
    LinkRecord,
    SpeakerRecord,
    TalkRecord,
    http_url,
    https_url,
    tag_name,
)

FORMAT_NAME = "talkbot-catalog"
FORMAT_VERSION = 1


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every talk in the file (a duration over 24 hours is left out and counted in `skipped`). The file's text is
    let go once parsed, and each parsed talk once it is a record, so a whole-catalog export is never in memory twice
    over."""
    return parse_talkbot_catalog(_load(path, path.read_text(encoding="utf-8")), path, consume=True, skipped=skipped)


def _load(path: Path, text: str) -> Any:
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:  # ValueError: numbers too long to convert, dates like Feb 30
        raise ImportFileError(path, None, None, f"not valid {path.suffix.lstrip('.') or 'YAML'}: {error}") from None


def parse_talkbot_catalog(
    data: Any, path: Path, *, consume: bool = False, skipped: Counter | None = None
) -> list[TalkRecord]:
    """The records of a parsed catalog document; with `consume`, its talks are dropped from it as they are read.
    Values left out (a duration over 24 hours, as in every format) are counted in `skipped`."""
    skipped = Counter() if skipped is None else skipped
    if not isinstance(data, dict) or not isinstance(data.get("talks"), list):
        raise ImportFileError(path, None, "talks", "expected a mapping with a 'talks' list")
    if data.get("format", FORMAT_NAME) != FORMAT_NAME or data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ImportFileError(path, None, "format", f"expected format {FORMAT_NAME!r} version {FORMAT_VERSION}")
    default_source = data.get("source")
    records, seen = [], set()
    talks = data["talks"]
    for number, raw in enumerate(talks, start=1):
        if consume:
            talks[number - 1] = None
        record = _TalkReader(path, number, raw, skipped).read(default_source)
        identity = (record.source, record.external_id)
        if identity in seen:
            raise ImportFileError(path, f"talk #{number}", "id", f"id {record.external_id!r} appears twice")
        seen.add(identity)
        records.append(record)
    return records


class _TalkReader:
    """Validates one talk entry, naming the talk and field in every complaint."""

    def __init__(self, path: Path, number: int, raw: Any, skipped: Counter) -> None:
        self.path, self.raw, self.skipped = path, raw, skipped
        self.where = f"talk #{number}"
        if not isinstance(raw, dict):
            self.fail(None, "expected a mapping of fields")
        if identity := self.text("id", raw.get("id")):
            self.where += f" ({identity})"

    def fail(self, field: str | None, problem: str):
        raise ImportFileError(self.path, self.where, field, problem)

    def text(self, field: str, value: Any, *, required: bool = False, limit: int | None = None) -> str | None:
        """Single-spaced text within `limit` (by default the catalog's limit for the field)."""
        if value is None or value == "":
            if required:
                self.fail(field, "is required")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                value = str(value)
            except ValueError:  # YAML reads 0x… integers of any length, too long for Python to print
                self.fail(field, "is a number too long to read")
        if not isinstance(value, str):
            self.fail(field, "expected text")
        value = " ".join(value.split())
        limit = LIMITS[field] if limit is None else limit
        if len(value) > limit:
            self.fail(field, f"is longer than {limit} characters")
        return value

    def duration(self, value: Any) -> int | None:
        """Whole minutes; over 24 hours the value is left out and counted, as every format does (the talk stays)."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail("duration_minutes", "expected a whole number of minutes, like 45")
        return plausible_minutes(value, self.skipped)

    def integer(self, field: str, value: Any, low: int, high: int) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(field, f"expected a whole number from {low} to {high}")
        return value

    def date(self, field: str, value: Any) -> dt.date | None:
        if value is None or isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(field, "expected a date like 2023-03-21")

    def listing(self, field: str, value: Any) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(field, "expected a list")
        return value

    def read(self, default_source: Any) -> TalkRecord:
        raw = self.raw
        unknown = set(raw) - {
            "id", "source", "title", "descriptive_title", "type", "event", "speakers", "tags", "summary",
            "recommendation", "verdict", "links", "duration_minutes", "language", "recorded_on", "thumbnail_url",
        }  # fmt: skip
        if unknown:
            self.fail(sorted(unknown, key=str)[0], "is not a field of the talkbot catalog format")  # keys of any type
        talk_type = raw.get("type", "talk")
        if talk_type not in TALK_TYPES:
            self.fail("type", f"expected one of {', '.join(TALK_TYPES)}")
        return TalkRecord(
            source=self.text("source", raw.get("source", default_source), required=True, limit=LIMITS["source"]),
            external_id=self.text("id", raw.get("id"), required=True, limit=LIMITS["id"]),
            title=self.text("title", raw.get("title"), required=True, limit=LIMITS["title"]),
            descriptive_title=bool(raw.get("descriptive_title", False)),
            talk_type=talk_type,
            event=self.event(raw.get("event")),
            speakers=tuple(self.speaker(i, s) for i, s in enumerate(self.listing("speakers", raw.get("speakers")))),
            tags=tuple(dict.fromkeys(self.tag(i, t) for i, t in enumerate(self.listing("tags", raw.get("tags"))))),
            summary=self.text("summary", raw.get("summary"), limit=LIMITS["summary"]) or "",
            recommendation=self.text("recommendation", raw.get("recommendation"), limit=LIMITS["recommendation"]),
            verdict=raw.get("verdict") if raw.get("verdict") != "" else None,  # checked by db.records.checked
            links=tuple(self.link(i, link) for i, link in enumerate(self.listing("links", raw.get("links")))),
            duration_minutes=self.duration(raw.get("duration_minutes")),
            language=self.text("language", raw.get("language"), limit=LIMITS["language"]) or "en",
            recorded_on=self.date("recorded_on", raw.get("recorded_on")),
            thumbnail_url=self.thumbnail(raw.get("thumbnail_url")),
        )

    def thumbnail(self, raw: Any) -> str | None:
        """Refused unless https, like a link that is not http(s): our own format says exactly what the card gets."""
        text = self.text("thumbnail_url", raw, limit=LIMITS["url"])
        if text is None:
            return None
        url = https_url(text)
        if url is None:
            self.fail("thumbnail_url", "expected an https URL without spaces")
        return url

    def event(self, raw: Any) -> EventRecord | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.fail("event", "expected a mapping with series and year")
        year = self.integer("event.year", raw.get("year"), *YEARS)
        if year is None:
            self.fail("event.year", "is required")
        return EventRecord(
            series=self.text("event.series", raw.get("series"), required=True, limit=LIMITS["event.series"]),
            year=year,
            name=self.text("event.name", raw.get("name"), limit=LIMITS["event.name"]) or "",
            city=self.text("event.city", raw.get("city"), limit=LIMITS["event.city"]),
            country=self.text("event.country", raw.get("country"), limit=LIMITS["event.country"]),
            starts_on=self.date("event.starts_on", raw.get("starts_on")),
            ends_on=self.date("event.ends_on", raw.get("ends_on")),
        )

    def speaker(self, index: int, raw: Any) -> SpeakerRecord:
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            self.fail(f"speakers[{index}]", "expected a name or a mapping with name and affiliation")
        return SpeakerRecord(
            name=self.text(f"speakers[{index}].name", raw.get("name"), required=True, limit=LIMITS["speaker"]),
            affiliation=self.text(f"speakers[{index}].affiliation", raw.get("affiliation"), limit=LIMITS["speaker"]),
        )

    def tag(self, index: int, raw: Any) -> str:
        name = tag_name(self.text(f"tags[{index}]", raw, required=True, limit=LIMITS["tag"]))
        if not name:
            self.fail(f"tags[{index}]", "expected a word")
        return name

    def link(self, index: int, raw: Any) -> LinkRecord:
        if not isinstance(raw, dict):
            self.fail(f"links[{index}]", "expected a mapping with kind and url")
        kind = raw.get("kind")
        if kind not in LINK_KINDS:
            self.fail(f"links[{index}].kind", f"expected one of {', '.join(LINK_KINDS)}")
        url = http_url(self.text(f"links[{index}].url", raw.get("url"), required=True, limit=LIMITS["url"]))
        if url is None:
            self.fail(f"links[{index}].url", "expected an http(s) URL without spaces")
        return LinkRecord(kind=kind, url=url)


def talk_to_dict(record: TalkRecord) -> dict[str, Any]:
    """The inverse of the reader: a record as a readable entry, defaults left out."""
    entry: dict[str, Any] = {"source": record.source, "id": record.external_id, "title": record.title}
    if record.descriptive_title:
        entry["descriptive_title"] = True
    entry["type"] = record.talk_type
    if record.event:
        event = record.event
        entry["event"] = {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in (
                ("series", event.series), ("name", event.name), ("year", event.year), ("city", event.city),
                ("country", event.country), ("starts_on", event.starts_on), ("ends_on", event.ends_on),
            )
            if value not in (None, "")
        }  # fmt: skip
    entry["speakers"] = [
        {"name": s.name, **({"affiliation": s.affiliation} if s.affiliation else {})} for s in record.speakers
    ]
    entry["tags"] = list(record.tags)
    entry["summary"] = record.summary
    optional = {
        "recommendation": record.recommendation,
        "verdict": record.verdict,
        "links": [{"kind": link.kind, "url": link.url} for link in record.links],
        "duration_minutes": record.duration_minutes,
        "language": record.language if record.language != "en" else None,
        "recorded_on": record.recorded_on.isoformat() if record.recorded_on else None,
        "thumbnail_url": record.thumbnail_url,
    }
    entry.update({key: value for key, value in optional.items() if value})
    return entry


def catalog_document(records: list[TalkRecord]) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "talks": [talk_to_dict(r) for r in records]}


FORMAT = "talkbot"


def detect(path: Path, sample: str | None) -> bool:
    """Our own files say so (`format: talkbot-catalog`); YAML or JSON with a top-level `talks` list is ours too
    (formats that also have `talks`, such as pretalx's widget data, are tried first)."""
    if sample is None:
        return False
    return FORMAT_NAME in sample[:2000] or bool(_TALKS_KEY.search(sample))


_TALKS_KEY = re.compile(r'^talks\s*:|"talks"\s*:\s*\[', re.M)
