"""Importers turn the files conferences publish into TalkRecords; `read_catalog_file` picks the right one.

Each format module has `FORMAT` (its name), `detect(path, sample)` (decides by content) and
`read(path, skipped=None)` (all records, or an ImportFileError naming the file, record and field; entries that
are not talks, and values left out, are counted by reason in `skipped`). Whatever a format reads then passes the
catalog's field rules (`db.records.checked`) here, the one gate every format goes through.
"""

from __future__ import annotations

import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from db.importers import csv_format, frab, ical, pretalx, pyvideo, sessionize, talkbot_format
from db.importers.errors import NOT_A_CATALOG, ImportFileError
from db.records import RecordError, TalkRecord, checked

# In detection order: the most specific formats first.
FORMATS = {module.FORMAT: module for module in (pyvideo, ical, frab, pretalx, sessionize, talkbot_format, csv_format)}
ALIASES = {"yaml": "talkbot", "json": "talkbot"}
SAMPLE_BYTES = 256 * 1024


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    format: str
    records: list[TalkRecord]
    skipped: Counter = field(default_factory=Counter)  # reason -> how many entries (or values) were left out


def format_names() -> list[str]:
    return ["auto", *ALIASES, *FORMATS]


def detect_format(path: Path) -> str:
    head = sample(path)
    for name, module in FORMATS.items():
        if module.detect(path, head):
            return name
    raise ImportFileError(
        path, None, None, f"could not tell the format from the content; name it with --format ({', '.join(FORMATS)})"
    )


def read_catalog_file(path: Path, file_format: str = "auto") -> ParsedFile:
    """Read and validate a whole file (or pyvideo folder/archive); raise ImportFileError saying where and why."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImportFileError(path, None, None, "the file does not exist") from None
    except OSError as error:
        raise ImportFileError(path, None, None, f"cannot be read: {error.strerror or error}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # /dev/zero never ends; a FIFO waits for a writer
        raise ImportFileError(path, None, None, "is not a regular file or a folder (a device, FIFO or socket)")
    if _is_json_schema(sample(path)):
        raise ImportFileError(path, None, None, f"{NOT_A_CATALOG}: it is a JSON Schema, which describes a file format; "
                              "import a file that follows the schema instead")  # fmt: skip
    name = ALIASES.get(file_format, file_format)
    if name == "auto":
        name = detect_format(path)
    module = FORMATS.get(name)
    if module is None:
        raise ImportFileError(path, None, None, f"unknown format {file_format!r}; known: {', '.join(format_names())}")
    skipped: Counter = Counter()
    try:
        records = module.read(path, skipped)
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, None, f"not UTF-8 text: {error}") from None
    except OSError as error:  # a folder given to a format that reads files, a file we may not read
        raise ImportFileError(path, None, None, f"cannot be read: {error.strerror or error}") from None
    except RecursionError:
        raise ImportFileError(path, None, None, "nested too deeply to be a catalog file") from None
    seen: set[tuple[str, str]] = set()
    for index, record in enumerate(records):  # in place: one list of records at a time, however long
        records[index] = record = _checked(path, record)
        if (record.source, record.external_id) in seen:  # two ids that differed only by control characters
            raise ImportFileError(path, f"{record.source} id {record.external_id}", "id", "appears twice")
        seen.add((record.source, record.external_id))
    return ParsedFile(path, name, records, skipped)


def _checked(path: Path, record: TalkRecord) -> TalkRecord:
    """The record as the catalog keeps it, or an error naming it by its source and id."""
    try:
        return checked(record)
    except RecordError as error:
        raise ImportFileError(path, f"{record.source} id {record.external_id}", error.field, error.problem) from None


def _is_json_schema(head: str | None) -> bool:
    """A JSON Schema (`"$schema": "http://json-schema.org/…"` near the top) describes data and holds none: the
    c3voc schedule schema even names `schedule` and `conference`, as a frab schedule does."""
    return bool(head and head.lstrip("\ufeff \t\r\n").startswith("{") and _JSON_SCHEMA.search(head[:4000]))


_JSON_SCHEMA = re.compile(r'"\$schema"\s*:\s*"https?://json-schema\.org/')


def sample(path: Path) -> str | None:
    """The start of a file as text, for content sniffing; None for folders and compressed archives."""
    if path.is_dir() or path.name.endswith((".tar.gz", ".tgz", ".gz", ".zip")):
        return None
    with path.open("rb") as handle:
        return handle.read(SAMPLE_BYTES).decode("utf-8", errors="replace")


__all__ = ["FORMATS", "ImportFileError", "ParsedFile", "detect_format", "format_names", "read_catalog_file", "sample"]
