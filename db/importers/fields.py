"""Field helpers every importer shares, so each format only says where its fields are."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from db.importers.errors import ImportFileError
from db.records import LIMITS, MAX_DURATION, TALK_TYPES, EventRecord, TalkRecord, https_url

# Words that say which kind of talk something is, in the vocabularies conference tools use.
_TYPE_WORDS = {
    "keynote": "keynote",
    "tutorial": "tutorial",
    "lightning": "lightning",
    "workshop": "workshop",
    "hands-on": "workshop",
    "training": "tutorial",
}
_TAG = re.compile(r"<[^<>]+>")  # not [^>]: on "<<<<…" every "<" would scan to the end (quadratic)
_YEAR = re.compile(r"(?<!\d)(?:19[5-9]\d|20\d\d)(?!\d)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,;:!?)])")


def talk_type_from(*words: Any) -> str:
    """The catalog's talk type for a format's session type / track / format words ('Lightning Talk' → lightning)."""
    for word in words:
        text = str(word or "").lower()
        for key, talk_type in _TYPE_WORDS.items():
            if key in text:
                return talk_type
    return "talk"


def localized(value: Any, preferred: str = "en") -> str:
    """Text from a plain string or a per-language dict ({"en": "...", "de": "..."}), preferring English."""
    if isinstance(value, dict):
        if not value:
            return ""
        value = value.get(preferred) or next((v for v in value.values() if v), "")
    return "" if value is None else str(value)


def plain_text(value: Any) -> str:
    """Markup-free, single-spaced text: schedule exports often carry HTML or Markdown line breaks."""
    text = html.unescape(_TAG.sub(" ", localized(value)))
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split()))


def series_name(title: str) -> str:
    """A conference series without the edition's year: 'EuroPython 2022' → 'EuroPython'."""
    return " ".join(_YEAR.sub(" ", title).split()) or title


def minutes_from_clock(value: Any) -> int | None:
    """'00:30' or '1:15' (hours:minutes) → minutes; None when absent or unreadable."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", str(value or "").strip())
    if not match:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes or None


def date_from(value: Any) -> dt.date | None:
    """A date from '2020-12-14', '2020-12-14T09:00:00+01:00' or a date object; None when absent or unreadable."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    try:
        return dt.date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None


def language_code(value: Any) -> str:
    """A short language code ('en', 'de'); 'English' and unknown values fall back sensibly."""
    text = str(value or "").strip().lower()
    names = {"english": "en", "german": "de", "deutsch": "de", "french": "fr", "spanish": "es", "italian": "it",
             "portuguese": "pt", "japanese": "ja", "russian": "ru", "polish": "pl", "dutch": "nl"}  # fmt: skip
    iso_639_3 = {"eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it",
                 "por": "pt", "jpn": "ja", "rus": "ru", "pol": "pl", "nld": "nl", "zho": "zh", "chi": "zh",
                 "kor": "ko", "ces": "cs", "cze": "cs", "swe": "sv", "tur": "tr", "ukr": "uk"}  # fmt: skip
    if text in names or text in iso_639_3:
        return names.get(text) or iso_639_3[text]
    return text[:16] if re.fullmatch(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,8})?", text) else "en"


NOT_A_TALK = "breaks and other slots that are not talks"
LONG_DURATION = "durations over 24 hours, imported as unknown"
NOT_HTTPS_THUMBNAIL = "thumbnails that are not https URLs, left out"
SUMMARY_LIMIT = LIMITS["summary"]  # the catalog keeps summaries to this many characters
SOURCE_LIMIT = LIMITS["source"]  # talk_sources.importer
_VIDEO_HINTS = ("youtube.com", "youtu.be", "vimeo.com", "media.ccc.de", "archive.org")
_BREAK_TITLE = re.compile(
    r"(?:(?:coffee|lunch|tea|dinner|breakfast|kaffee|mittags?)\s*)?(?:break|pause)|lunch|coffee|dinner|breakfast"
)
_BREAK_TYPES = frozenset({"break", "pause"})


def source_name(file_format: str, edition: str) -> str:
    """`format:edition`, within the catalog's limit: the source a re-import is matched against."""
    return f"{file_format}:{edition}"[:SOURCE_LIMIT]


def summary_from(*values: Any) -> str:
    """The first non-empty text, markup removed, cut at a word boundary to fit the catalog."""
    text = next((text for text in map(plain_text, values) if text), "")
    if len(text) <= SUMMARY_LIMIT:
        return text
    cut = text[: SUMMARY_LIMIT - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def pretty_name(stem: str) -> str:
    """A file name as an event name: 'devopsdays-berlin_2023' -> 'Devopsdays Berlin 2023'."""
    return " ".join(word if word[:1].isupper() else word.capitalize() for word in re.split(r"[\s_-]+", stem) if word)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, None, f"not valid UTF-8: {error}") from None


def load_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:  # a JSONDecodeError, or a number with more digits than Python converts
        raise ImportFileError(path, None, None, f"not valid JSON: {error}") from None


def is_break(title: Any, kind: Any, has_speakers: bool) -> bool:
    """Breaks are schedule furniture, not talks: an entry titled like a break ('Lunch', 'Coffee Break', 'Pause',
    'Mittagspause'), typed 'break'/'pause', or typed 'other' with nobody speaking."""
    kind = plain_text(kind).lower()
    if _BREAK_TITLE.fullmatch(plain_text(title).lower().strip(" .!")):
        return True
    return kind in _BREAK_TYPES or (kind == "other" and not has_speakers)


def link_kind(url: str, label: str) -> str | None:
    """'video' for recordings, 'slides' for decks; None for the rest (homepages, repositories, images) and for
    URLs that do not parse."""
    try:
        lowered, path = url.lower(), urlsplit(url).path.lower()
    except ValueError:  # an unclosed IPv6 bracket: 'https://[x/'
        return None
    if any(hint in lowered for hint in _VIDEO_HINTS) or path.endswith((".mp4", ".webm")):
        return "video"
    if "slide" in f"{label} {lowered}".lower() or path.endswith(".pdf"):
        return "slides"
    return None


def minutes_between(starts: dt.datetime | None, ends: dt.datetime | None) -> int | None:
    """A session's length; None when either end is unknown or it takes no time. Python subtracts two times in the same
    zone as wall-clock times, so the change of offset (a night when the clocks go forward) is taken off here."""
    if starts is None or ends is None:
        return None
    length = ends - starts
    if starts.tzinfo is not None and ends.tzinfo is not None and starts.tzinfo is ends.tzinfo:
        length -= ends.utcoffset() - starts.utcoffset()
    return int(length.total_seconds() // 60) or None


def plausible_minutes(minutes: int | None, skipped: Counter) -> int | None:
    """A length a program worked out (from a schedule's times, a video's seconds), or None, counted in `skipped`, for
    one over 24 hours: an entry spanning days is a whole track or a glitch, and should not refuse the whole file."""
    if minutes is not None and minutes > MAX_DURATION:
        skipped[LONG_DURATION] += 1
        return None
    return minutes


def thumbnail_from(value: Any, skipped: Counter) -> str | None:
    """A source's image for a talk if it is an https URL the catalog keeps; one that is given but is not (http,
    another scheme, malformed, too long) is left out and counted in `skipped`: a card without a picture beats a
    refused file, and the link rules (`http_url`) leave bad URLs out of these formats the same way."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    url = https_url(value)
    if url is None:
        skipped[NOT_HTTPS_THUMBNAIL] += 1
    return url


def with_schedule_event(
    path: Path, talks: list[tuple[str, TalkRecord]], name: str, date_field: str
) -> list[TalkRecord]:
    """Programs that name no event: the event is `name`, in the year its earliest talk starts. `talks` pairs each
    record with where it was read, for the error when no talk has a date."""
    dates = [record.recorded_on for _, record in talks if record.recorded_on]
    if not dates:
        if talks:
            problem = "is needed: no talk in the file has a start date, so the event's year is unknown"
            raise ImportFileError(path, talks[0][0], date_field, problem)
        return []
    event = EventRecord(
        series=series_name(name), year=min(dates).year, name=name, starts_on=min(dates), ends_on=max(dates)
    )
    return [replace(record, event=event) for _, record in talks]


class FieldReader:
    """Checks a record's fields one by one, naming the record and field in every complaint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, record: str | None, field: str | None, problem: str) -> NoReturn:
        raise ImportFileError(self.path, record, field, problem)

    def text(self, where: str | None, field: str, value: Any) -> str:
        """Plain text of a string or per-language object; empty when absent."""
        if value is not None and not isinstance(value, str | dict):
            self.fail(where, field, "expected text")
        return plain_text(value)

    def listing(self, where: str | None, field: str, value: Any) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(where, field, "expected a list")
        return value

    def date(self, where: str | None, field: str, value: Any, example: str) -> dt.date | None:
        if value is None or value == "":
            return None
        parsed = date_from(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(where, field, f"expected a date like {example}")
        return parsed


assert set(_TYPE_WORDS.values()) <= set(TALK_TYPES)
