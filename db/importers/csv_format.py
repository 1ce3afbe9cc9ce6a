"""CSV talk lists, as people keep them in spreadsheets: one talk per row under a header row.

The file is UTF-8, with or without a byte-order mark (Excel writes one); cells are separated by `,` or `;`
(whichever the header row uses more). Header names are case-insensitive and may come in any order; a column
not listed here is an error, so a typo never drops data silently. Rows are numbered as a spreadsheet shows them
(the header is row 1); blank rows are ignored.

    id              required; the talk's id within its source, unique per source
    title           required
    speakers        names separated by ";"  (quote the cell when ";" is also the delimiter)
    affiliations    optional, ";"-separated, one per speaker in the same order; leave a blank to skip one
    event           the event series, e.g. "SREcon"
    edition         optional display name of the edition, e.g. "SREcon23 Americas"
    year            required when event is given, e.g. 2023
    city            optional
    type            talk | keynote | tutorial | lightning | workshop (default talk)
    tags            separated by ";" or ","
    summary         plain text or simple HTML; cut to 5000 characters
    video, slides   http(s) links
    url             http(s) link to the talk's schedule or page
    thumbnail       optional https link to an image of the talk, shown on its card
    duration        minutes, e.g. 45 (or a length like 1:15)
    language        e.g. en, de, English (default en)
    date            when the talk was given: YYYY-MM-DD
    recommendation  optional: what a reporter thought of the talk
    source          optional per row; defaults to "csv:<file name without extension>"

edition, year and city describe the event, so they need an event column value in the same row.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from db.importers.errors import ImportFileError
from db.importers.fields import (
    date_from,
    language_code,
    minutes_from_clock,
    plausible_minutes,
    source_name,
    summary_from,
)
from db.records import (
    LIMITS,
    TALK_TYPES,
    EventRecord,
    LinkRecord,
    SpeakerRecord,
    TalkRecord,
    clean_tags,
    http_url,
    https_url,
)

FORMAT = "csv"
COLUMNS = (
    "id", "title", "speakers", "affiliations", "event", "edition", "year", "city", "type", "tags", "summary",
    "video", "slides", "url", "thumbnail", "duration", "language", "date", "recommendation", "source",
)  # fmt: skip
_REQUIRED = ("id", "title")
_LINK_KINDS = {"video": "video", "slides": "slides", "url": "schedule"}


def detect(path: Path, sample: str | None) -> bool:
    """A talk list's first line is a header with a title column. The id column is not needed to recognise the
    file, so a sheet without one gets read's precise complaint rather than 'unknown format'."""
    if sample is None:
        return False
    first_line = sample.lstrip("\ufeff").split("\n", 1)[0]
    try:
        header = next(csv.reader([first_line], delimiter=_delimiter(first_line)), [])
    except csv.Error:
        return False
    return "title" in {cell.strip().lower() for cell in header}


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every row is a talk (a duration over 24 hours is left out and counted in `skipped`). Rows are read one at a
    time from the open file, so memory holds the records, never the file's text or its rows."""
    default_source = source_name(FORMAT, path.stem)
    records, first_seen = [], {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            header_line = handle.readline(MAX_LINE + 1)
            rows = csv.reader(
                _lines(path, itertools.chain([header_line], handle)), delimiter=_delimiter(header_line.split("\n")[0])
            )
            columns = _columns(path, next(rows, []))
            for number, cells in enumerate(rows, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                reader = _RowReader(path, number, columns, cells, skipped)
                record = reader.read(default_source)
                identity = (record.source, record.external_id)
                if identity in first_seen:
                    reader.fail("id", f"id {record.external_id!r} appears twice (first in row {first_seen[identity]})")
                first_seen[identity] = number
                records.append(record)
        except UnicodeDecodeError as error:
            raise ImportFileError(path, None, None, f"not valid UTF-8 (save the file as UTF-8): {error}") from None
        except csv.Error as error:
            raise ImportFileError(path, None, None, f"not valid CSV: {error}") from None
    return records


MAX_LINE = 4 * 1024 * 1024  # characters in one line of the file: a row's 20 cells at csv's own limit fit in 2.7 M


def _lines(path: Path, lines: Iterator[str]) -> Iterator[str]:
    """The file's lines, refusing one so long that it cannot be a row of talks (a single line of a million cells)."""
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE:
            raise ImportFileError(
                path, f"line {number}", None, f"is longer than {MAX_LINE:,} characters: not a talk list"
            )
        yield line


def _delimiter(header_line: str) -> str:
    """Spreadsheets in comma-decimal locales export ';'-separated files; the header row tells which it is."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _columns(path: Path, header: list[str]) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    for position, column in enumerate(columns, start=1):
        if not column:
            raise ImportFileError(path, "header row", f"column {position}", "has no name")
        if column not in COLUMNS:
            raise ImportFileError(path, "header row", column, f"is not a known column; known: {', '.join(COLUMNS)}")
        if column in columns[: position - 1]:
            raise ImportFileError(path, "header row", column, "appears twice")
    for column in _REQUIRED:
        if column not in columns:
            raise ImportFileError(path, "header row", column, "is a required column")
    return columns


class _RowReader:
    """Validates one row, naming the row and column in every complaint."""

    def __init__(self, path: Path, number: int, columns: list[str], cells: list[str], skipped: Counter) -> None:
        self.path, self.skipped = path, skipped
        self.where = f"row {number}"
        self.values = {column: " ".join(cell.split()) for column, cell in zip(columns, cells, strict=False)}
        if self.value("id"):
            self.where += f" (id {self.value('id')})"
        if any(cell.strip() for cell in cells[len(columns) :]):
            self.fail(None, f"has {len(cells)} cells but the header names {len(columns)} columns")

    def fail(self, column: str | None, problem: str):
        raise ImportFileError(self.path, self.where, column, problem)

    def value(self, column: str) -> str:
        return self.values.get(column, "")

    def text(self, column: str, limit: int, *, required: bool = False) -> str:
        """A cell that must fit its catalog column (event names, titles, ...)."""
        value = self.value(column)
        if required and not value:
            self.fail(column, "is required")
        if len(value) > limit:
            self.fail(column, f"is longer than {limit} characters")
        return value

    def read(self, default_source: str) -> TalkRecord:
        talk_type = self.value("type").lower() or "talk"
        if talk_type not in TALK_TYPES:
            self.fail("type", f"expected one of {', '.join(TALK_TYPES)}")
        return TalkRecord(
            source=self.text("source", LIMITS["source"]) or default_source,
            external_id=self.text("id", LIMITS["id"], required=True),
            title=self.text("title", LIMITS["title"], required=True),
            event=self.event(),
            speakers=self.speakers(),
            tags=clean_tags(re.split(r"[;,]", self.value("tags"))),
            summary=summary_from(self.value("summary")),
            talk_type=talk_type,
            recommendation=self.text("recommendation", LIMITS["recommendation"]) or None,
            links=self.links(),
            duration_minutes=self.duration(),
            language=language_code(self.value("language")),
            recorded_on=self.date(),
            thumbnail_url=self.thumbnail(),
        )

    def event(self) -> EventRecord | None:
        if not self.value("event"):
            if any(self.value(column) for column in ("edition", "year", "city")):
                self.fail("event", "is required when edition, year or city is given")
            return None
        if not self.value("year"):
            self.fail("year", "is required when event is given")
        if not re.fullmatch(r"(19|20)\d\d", self.value("year")):
            self.fail("year", "expected a year like 2023")
        return EventRecord(
            series=self.text("event", LIMITS["event.series"]), year=int(self.value("year")),
            name=self.text("edition", LIMITS["event.name"]),
            city=self.text("city", LIMITS["event.city"]) or None,
        )  # fmt: skip

    def speakers(self) -> tuple[SpeakerRecord, ...]:
        names = [name for name in self.names("speakers") if name]
        if not self.value("affiliations"):
            return tuple(SpeakerRecord(name) for name in names)
        affiliations = self.names("affiliations")
        if len(affiliations) != len(names):
            problem = f"expected one per speaker, separated by ';' ({len(names)} speakers, {len(affiliations)} given)"
            self.fail("affiliations", problem)
        return tuple(SpeakerRecord(name, aff or None) for name, aff in zip(names, affiliations, strict=True))

    def names(self, column: str) -> list[str]:
        """The ';'-separated entries of a cell, each fitting the catalog's 300 characters."""
        names = [name.strip() for name in self.value(column).split(";")]
        if any(len(name) > LIMITS["speaker"] for name in names):
            self.fail(column, f"has an entry longer than {LIMITS['speaker']} characters")
        return names

    def links(self) -> tuple[LinkRecord, ...]:
        links = []
        for column, kind in _LINK_KINDS.items():
            url = self.value(column)
            if url and http_url(url) is None:
                self.fail(column, "expected an http(s) URL")
            if url:
                links.append(LinkRecord(kind, url))
        return tuple(links)

    def thumbnail(self) -> str | None:
        """Refused unless https, as a link that is not http(s) is: a spreadsheet's author can correct it."""
        url = self.value("thumbnail")
        if url and https_url(url) is None:
            self.fail("thumbnail", f"expected an https URL without spaces, at most {LIMITS['url']} characters")
        return url or None

    def duration(self) -> int | None:
        text = self.value("duration")
        if not text:
            return None
        # Whole minutes have at most four digits ('²' is a digit int() cannot read; 5,000 digits are too many).
        minutes = int(text) if text.isdecimal() and len(text.lstrip("0")) <= 4 else minutes_from_clock(text)
        if minutes is None or minutes < 1:
            self.fail("duration", "expected minutes, like 45 (or a length like 1:15)")
        return plausible_minutes(minutes, self.skipped)  # over 24 hours: left out and counted, as every format does

    def date(self) -> dt.date | None:
        text = self.value("date")
        if not text:
            return None
        day = date_from(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
        if day is None:
            self.fail("date", "expected a date like 2023-10-05")
        return day
