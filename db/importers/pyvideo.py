"""pyvideo.org's data: `<event>/category.json` plus `<event>/videos/*.json`, as a folder or the .tar.gz itself.

Videos listed in the top-level `NO_PUBLISH.json` are not imported: their speakers asked not to be republished.
Each event folder is its own source (`pyvideo:<folder>`), so importing one event never reports the rest as gone.

The data is read as untrusted: an archive or folder holding a link, a device or a FIFO is refused (a link could
point at /dev/zero or at a file outside the data), and so is one whose files are larger than pyvideo's data could
be (see `DataLimits`): sizes are checked before anything is read, and every read is bounded.
A video's duration longer than 24 hours (pyvideo has some) is imported as unknown and counted in `skipped`, and so
is a `thumbnail_url` that is not https (a few old blip.tv ones are http).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tarfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

from db.importers.errors import ImportFileError
from db.importers.fields import (
    date_from,
    language_code,
    link_kind,
    plain_text,
    plausible_minutes,
    series_name,
    summary_from,
    talk_type_from,
    thumbnail_from,
)
from db.records import LIMITS, EventRecord, LinkRecord, SpeakerRecord, TalkRecord, clean_tags, http_url

FORMAT = "pyvideo"
WITHDRAWN = "listed in NO_PUBLISH.json"
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
MiB = 1024 * 1024


@dataclass(frozen=True)
class DataLimits:
    """What pyvideo data may hold. The whole archive (2024) is 22,262 JSON files, 29.5 MB unpacked, the largest
    16 KB: these leave room to grow many times over, and refuse a small archive that unpacks to gigabytes."""

    file_bytes: int = 1 * MiB  # one JSON file
    total_bytes: int = 256 * MiB  # every file in the archive or folder, together
    entries: int = 200_000  # files and folders


DATA_LIMITS = DataLimits()


def detect(path: Path, sample: str | None) -> bool:
    if path.is_dir():
        return any(path.glob("*/category.json")) or (path / "category.json").exists()
    return path.name.endswith((".tar.gz", ".tgz")) and sample is None


def read(path: Path, skipped: Counter | None = None, limits: DataLimits = DATA_LIMITS) -> list[TalkRecord]:
    """Every video but those NO_PUBLISH.json lists, which are counted in `skipped`."""
    skipped = Counter() if skipped is None else skipped
    files = _archive_files(path, limits) if path.is_file() else _folder_files(path, limits)
    events: dict[str, dict] = {}
    videos: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    hidden: list = []
    for name, data in files:
        parts = PurePosixPath(name).parts
        if parts[-1] == "NO_PUBLISH.json" and len(parts) <= 2:
            hidden = _load(path, name, data, list)
        elif parts[-1] == "category.json":
            events[parts[-2]] = _load(path, name, data, dict)
        elif len(parts) >= 3 and parts[-2] == "videos" and parts[-1].endswith(".json"):
            videos[parts[-3]].append((name, _load(path, name, data, dict)))
    if not videos:
        raise ImportFileError(path, None, None, "no <event>/videos/*.json files: is this pyvideo data?")
    records = []
    for folder in sorted(videos):
        for name, video in sorted(videos[folder], key=lambda item: item[0]):
            if video.get("id") in hidden:
                skipped[WITHDRAWN] += 1
                continue
            records.append(_record(path, folder, events.get(folder, {}), name, video, skipped))
    return records


class _Budget:
    """Counts entries and bytes against the limits, refusing the data at the first one over."""

    ONLY_FILES = "refused, pyvideo data holds only plain files and folders"

    def __init__(self, path: Path, limits: DataLimits) -> None:
        self.path, self.limits = path, limits
        self.entries = self.bytes = 0

    def entry(self, name: str) -> None:
        self.entries += 1
        if self.entries > self.limits.entries:
            self.refuse(name, f"is entry {self.entries:,}: refused, pyvideo data has at most {self.limits.entries:,}")

    def file(self, name: str, size: int) -> None:
        """A file about to be read (or skipped over, which costs as much in an archive)."""
        if size > self.limits.file_bytes:
            self.refuse(name, f"is {size:,} bytes: refused, a pyvideo file is at most {self.limits.file_bytes:,}")
        self.bytes += size
        if self.bytes > self.limits.total_bytes:
            problem = f"takes the files past {self.limits.total_bytes:,} bytes: refused, more than pyvideo data holds"
            self.refuse(name, problem)

    def link(self, name: str, kind: str, target: str) -> NoReturn:
        self.refuse(name, f"is a {kind} link (to {target}): {self.ONLY_FILES}")

    def special(self, name: str) -> NoReturn:
        self.refuse(name, f"is a device, FIFO or socket: {self.ONLY_FILES}")

    def refuse(self, name: str, problem: str) -> NoReturn:
        raise ImportFileError(self.path, name, None, problem)


def _archive_files(path: Path, limits: DataLimits) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of each .json file, every member checked before its data is read."""
    budget = _Budget(path, limits)
    try:
        with tarfile.open(path, "r:*") as archive:
            while (member := archive.next()) is not None:
                archive.members.clear()  # tarfile remembers every member; a huge listing must not pile up
                budget.entry(member.name)
                if member.issym() or member.islnk():
                    budget.link(member.name, "symbolic" if member.issym() else "hard", member.linkname)
                if member.isdir():
                    continue
                if not member.isfile():
                    budget.special(member.name)
                budget.file(member.name, member.size)
                if member.name.endswith(".json"):
                    yield member.name, archive.extractfile(member).read(member.size)  # at most file_bytes
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:  # ValueError: a header zlib cannot read
        raise ImportFileError(path, None, None, f"not a readable .tar.gz archive: {error}") from None


def _folder_files(path: Path, limits: DataLimits) -> Iterator[tuple[str, bytes]]:
    """(relative name, bytes) of each .json file under the folder, which may hold only files and folders."""
    budget = _Budget(path, limits)
    folders = [path]
    while folders:
        with os.scandir(folders.pop()) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            name = Path(entry.path).relative_to(path).as_posix()
            budget.entry(name)
            if entry.is_symlink():
                budget.link(name, "symbolic", os.readlink(entry.path))
            if entry.is_dir(follow_symlinks=False):
                folders.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                budget.special(name)
            elif entry.name.endswith(".json"):
                yield name, _read_file(Path(entry.path), name, budget)


def _read_file(file: Path, name: str, budget: _Budget) -> bytes:
    """The file's bytes, read without following a link or waiting on a FIFO put there since the folder was listed."""
    descriptor = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        details = os.fstat(handle.fileno())
        if not stat.S_ISREG(details.st_mode):  # replaced since the folder was listed
            budget.special(name)
        budget.file(name, details.st_size)
        data = handle.read(budget.limits.file_bytes + 1)
    if len(data) > budget.limits.file_bytes:  # it grew since it was measured
        budget.file(name, len(data))
    return data


def _load(path: Path, name: str, raw: bytes, kind: type):
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ImportFileError(path, name, None, f"not UTF-8 text: {error}") from None
    except ValueError as error:  # a JSONDecodeError, or a number with more digits than Python converts
        raise ImportFileError(path, name, None, f"not valid JSON: {error}") from None
    if not isinstance(data, kind):
        raise ImportFileError(path, name, None, f"expected a JSON {'object' if kind is dict else 'list'}")
    return data


def _record(path: Path, folder: str, category: dict, name: str, video: dict, skipped: Counter) -> TalkRecord:
    def fail(field: str, problem: str):
        raise ImportFileError(path, name, field, problem)

    title = plain_text(video.get("title"))
    if not title:
        fail("title", "is required")
    speakers = video.get("speakers") or []
    if not isinstance(speakers, list) or not all(isinstance(s, str) for s in speakers):
        fail("speakers", "expected a list of names")
    recorded = video.get("recorded")
    recorded_on = date_from(recorded)
    if recorded and recorded_on is None:
        fail("recorded", "expected a date like 2022-07-11")
    duration = video.get("duration")
    seconds = isinstance(duration, int | float) and not isinstance(duration, bool) and 0 <= duration < 2**31
    if duration is not None and not seconds:  # refused too: NaN, infinity, numbers no integer column holds
        fail("duration", "expected a number of seconds")
    minutes = plausible_minutes(max(1, round(duration / 60)) if duration else None, skipped)  # some say days
    for field in ("tags", "videos", "related_urls"):
        if not isinstance(video.get(field) or [], list):
            fail(field, "expected a list")
    return TalkRecord(
        source=f"{FORMAT}:{folder}",
        external_id=PurePosixPath(name).stem,
        title=title[: LIMITS["title"]],
        event=_event(path, folder, category, recorded_on),
        speakers=tuple(SpeakerRecord(" ".join(s.split())[: LIMITS["speaker"]]) for s in speakers if s.strip()),
        tags=clean_tags(video.get("tags") or []),
        summary=summary_from(video.get("description"), video.get("summary")),
        talk_type=talk_type_from(title),
        links=_links(video),
        duration_minutes=minutes,
        language=language_code(video.get("language")),
        recorded_on=recorded_on,
        thumbnail_url=thumbnail_from(video.get("thumbnail_url"), skipped),
    )


def _event(path: Path, folder: str, category: dict, recorded_on) -> EventRecord | None:
    title = plain_text(category.get("title")) or folder.replace("-", " ").title()
    found = _YEAR.search(title) or _YEAR.search(folder)
    year = int(found.group(1)) if found else (recorded_on.year if recorded_on else None)
    if year is None:
        return None
    return EventRecord(
        series=series_name(title)[: LIMITS["event.series"]], year=year, name=title[: LIMITS["event.name"]]
    )


def _links(video: dict) -> tuple[LinkRecord, ...]:
    """Recordings and slides; links that are not http(s), or too long to be kept whole, are left out."""
    links = []
    for item in video.get("videos") or []:
        if url := http_url(item.get("url") if isinstance(item, dict) else None):
            links.append(LinkRecord("video", url))
    for item in video.get("related_urls") or []:
        url, label = (item.get("url"), item.get("label", "")) if isinstance(item, dict) else (item, "")
        if (url := http_url(url)) and link_kind(url, str(label)) == "slides":
            links.append(LinkRecord("slides", url))
    return tuple(dict.fromkeys(links))
