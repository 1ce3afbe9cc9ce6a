"""Plain records every importer produces and the catalog writes: the one shape a talk has in transit."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from db.models import LINK_KINDS, TALK_TYPES, VERDICTS


@dataclass(frozen=True)
class EventRecord:
    series: str
    year: int
    name: str = ""
    city: str | None = None
    country: str | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    @property
    def display_name(self) -> str:
        return self.name or f"{self.series} {self.year}"


@dataclass(frozen=True)
class SpeakerRecord:
    name: str
    affiliation: str | None = None


@dataclass(frozen=True)
class LinkRecord:
    kind: str
    url: str


@dataclass(frozen=True)
class TalkRecord:
    """One talk as a source describes it; `source` + `external_id` identify it across re-imports."""

    source: str
    external_id: str
    title: str
    event: EventRecord | None = None
    speakers: tuple[SpeakerRecord, ...] = ()
    tags: tuple[str, ...] = ()
    summary: str = ""
    talk_type: str = "talk"
    descriptive_title: bool = False
    recommendation: str | None = None
    links: tuple[LinkRecord, ...] = ()
    duration_minutes: int | None = None
    language: str = "en"
    recorded_on: dt.date | None = None
    verdict: str | None = None  # what `recommendation` amounts to (VERDICTS); None: unjudged
    thumbnail_url: str | None = None  # an https image of the talk (a video's still), shown on its card


# Latin letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ħ": "h", "Ħ": "h",
                               "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th",
                               "ı": "i"})  # fmt: skip


@functools.lru_cache(maxsize=1 << 16)  # a big import names the same people again and again
def speaker_key(name: str) -> str:
    """The identity of a speaker's name: case, accents, punctuation and spacing do not matter
    ('Łukasz Langa' = 'lukasz  langa'); names in other scripts keep their letters."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_UNDECOMPOSED))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.findall(r"[^\W_]+", folded))


def tag_name(raw: str) -> str:
    """Tags are lowercase words joined by hyphens: 'Incident Response' -> 'incident-response'."""
    return "-".join(re.findall(r"[\w+#.]+", raw.lower())).strip("-.")


# Tags that say nothing about a talk's topic.
NOISE_TAGS = frozenset(
    "talk talks session sessions presentation presentations lecture lectures video videos conference keynote "
    "keynotes general other others misc miscellaneous none n-a na tbd tba default".split()
)


def clean_tags(raw_tags) -> tuple[str, ...]:
    """Normalised, de-duplicated tags without noise ('Talk', 'General'); order kept."""
    names = (tag_name(str(tag)) for tag in raw_tags if tag is not None)
    return tuple(dict.fromkeys(name for name in names if name and name not in NOISE_TAGS and len(name) <= 100))


# The catalog's field rules, in one place. Every importer's records pass `checked` (db/importers/__init__.py reads
# every format through it), so whatever one format accepts, `talkbot export` writes and `talkbot import` reads back.
LIMITS = {  # the most characters each text may hold: the catalog's column sizes
    "source": 50, "id": 500, "title": 500, "summary": 5000, "recommendation": 1000, "language": 16,
    "event.series": 200, "event.name": 300, "event.city": 200, "event.country": 200, "speaker": 300, "tag": 100,
    "url": 2000,
}  # fmt: skip
MAX_DURATION = 24 * 60  # minutes
YEARS = (1900, 2100)

# Text is single-spaced: str.split() already treats tab, newlines, \x0b, \x0c, \x1c-\x1f and \x85 as spaces. Other
# control characters (C0, DEL, C1) and unpaired surrogates (half an emoji; no database stores them) are removed.
# NUL is refused instead: no text contains it, so it means a damaged file or one saved as UTF-16.
_CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class RecordError(ValueError):
    """A record breaks one of the catalog's field rules: which field (as the talkbot format names it) and how."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"field {field!r}: {problem}")


def single_line(value: str) -> str:
    """Text as the catalog keeps it: control characters removed, whitespace collapsed to single spaces."""
    return " ".join(_CONTROL.sub("", value).split())


def printable(text: str, limit: int = 200) -> str:
    """Text safe to show on one line of a terminal or Slack: control characters as escapes, cut to `limit`."""
    text = _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_url(value: object) -> str | None:
    """An absolute http(s) URL without spaces that fits the catalog, else None: what the catalog keeps as a link."""
    if not isinstance(value, str):
        return None
    url = single_line(value)
    if url.startswith(("https://", "http://")) and len(url) <= LIMITS["url"] and " " not in url:
        return url
    return None


def https_url(value: object) -> str | None:
    """An absolute https URL with a host, without spaces, that fits the catalog, else None: what the catalog keeps as
    a thumbnail. Only https: Slack shows the image to whoever reads the card, and an http one is mixed content."""
    url = http_url(value)
    if url is None or not url.startswith("https://"):
        return None
    try:
        return url if urlsplit(url).hostname else None
    except ValueError:  # an unclosed IPv6 bracket: 'https://[x/'
        return None


def checked(record: TalkRecord) -> TalkRecord:
    """The record with its text normalised (`single_line`), or a RecordError naming the first field that breaks a
    rule: required text missing, text too long, a NUL, an unknown type or link kind, a URL that is not http(s), a
    year outside 1900-2100, a duration outside 1-1440 minutes, a tag not in its normal form ('incident-response'), a
    verdict other than VERDICTS or without a recommendation beside it, a thumbnail that is not an https URL. A record
    that needs no change is returned as it is (imports of a hundred thousand talks check every one)."""
    event = record.event
    if event is not None:
        if type(event.year) is not int or not YEARS[0] <= event.year <= YEARS[1]:
            raise RecordError("event.year", f"expected a year from {YEARS[0]} to {YEARS[1]}")
        fields = (
            _text("event.series", event.series, "event.series", required=True),
            _text("event.name", event.name, "event.name"),
            _text("event.city", event.city, "event.city") or None,
            _text("event.country", event.country, "event.country") or None,
        )
        days = (_day("event.starts_on", event.starts_on), _day("event.ends_on", event.ends_on))
        if fields + days != (event.series, event.name, event.city, event.country, event.starts_on, event.ends_on):
            event = EventRecord(fields[0], event.year, fields[1], fields[2], fields[3], *days)
    speakers = tuple(_speaker(index, speaker) for index, speaker in enumerate(record.speakers))
    for index, tag in enumerate(record.tags):
        normal = type(tag) is str and (_NORMAL_TAG.fullmatch(tag) or (tag and tag_name(tag) == tag))
        if not normal or len(tag) > LIMITS["tag"]:
            raise RecordError(
                f"tags[{index}]", f"expected a tag like 'incident-response' (lowercase, up to {LIMITS['tag']})"
            )
    links = tuple(_link(index, link) for index, link in enumerate(record.links))
    if record.talk_type not in TALK_TYPES:
        raise RecordError("type", f"expected one of {', '.join(TALK_TYPES)}")
    duration = record.duration_minutes
    if duration is not None and (type(duration) is not int or not 1 <= duration <= MAX_DURATION):
        raise RecordError("duration_minutes", f"expected a whole number from 1 to {MAX_DURATION}")
    changes = {
        "source": _text("source", record.source, "source", required=True),
        "external_id": _text("id", record.external_id, "id", required=True),
        "title": _text("title", record.title, "title", required=True),
        "event": event,
        "speakers": speakers,
        "summary": _text("summary", record.summary, "summary"),
        "descriptive_title": bool(record.descriptive_title),
        "recommendation": _text("recommendation", record.recommendation, "recommendation") or None,
        "links": links,
        "language": _text("language", record.language, "language", required=True),
        "recorded_on": _day("recorded_on", record.recorded_on),
        "thumbnail_url": _thumbnail(record.thumbnail_url),
    }
    if record.verdict is not None:
        if type(record.verdict) is not str or record.verdict not in VERDICTS:
            raise RecordError("verdict", f"expected one of {', '.join(VERDICTS)}")
        if changes["recommendation"] is None:
            raise RecordError("verdict", "needs a recommendation beside it: the verdict says what that note amounts to")
    if all(getattr(record, name) == value for name, value in changes.items()):
        return record
    return replace(record, **changes)


_NORMAL_TAG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # most tags: tag_name() need not be asked


def _text(field: str, value: str | None, limit: str, *, required: bool = False) -> str:
    """One text field, single-spaced and within its limit."""
    if value is None:
        value = ""
    elif type(value) is not str:
        raise RecordError(field, "expected text")
    if "\x00" in value:
        raise RecordError(field, "contains a NUL character: remove it (a file saved as UTF-16 is full of them)")
    text = single_line(value)
    if required and not text:
        raise RecordError(field, "is required")
    if len(text) > LIMITS[limit]:
        raise RecordError(field, f"is longer than {LIMITS[limit]} characters")
    return text


def _speaker(index: int, speaker: SpeakerRecord) -> SpeakerRecord:
    name = _text(f"speakers[{index}].name", speaker.name, "speaker", required=True)
    affiliation = _text(f"speakers[{index}].affiliation", speaker.affiliation, "speaker") or None
    if not name.isascii() and len(speaker_key(name)) > LIMITS["speaker"]:  # 'ﷺ' alone becomes 18 letters
        raise RecordError(f"speakers[{index}].name", f"is longer than {LIMITS['speaker']} characters")
    if (name, affiliation) == (speaker.name, speaker.affiliation):
        return speaker
    return SpeakerRecord(name, affiliation)


def _link(index: int, link: LinkRecord) -> LinkRecord:
    if link.kind not in LINK_KINDS:
        raise RecordError(f"links[{index}].kind", f"expected one of {', '.join(LINK_KINDS)}")
    url = http_url(_text(f"links[{index}].url", link.url, "url", required=True))
    if url is None:
        raise RecordError(f"links[{index}].url", "expected an http(s) URL without spaces")
    return link if url == link.url else LinkRecord(link.kind, url)


def _thumbnail(value: str | None) -> str | None:
    if value is None:
        return None
    url = https_url(_text("thumbnail_url", value, "url", required=True))
    if url is None:
        raise RecordError("thumbnail_url", "expected an https URL without spaces")
    return url


def _day(field: str, value: dt.date | None) -> dt.date | None:
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    raise RecordError(field, "expected a date like 2023-10-05")
