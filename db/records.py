"""Plain records every importer produces and the catalog writes: the one shape a talk has in transit."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass


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


# Latin letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ħ": "h", "Ħ": "h",
                               "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th",
                               "ı": "i"})  # fmt: skip


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
