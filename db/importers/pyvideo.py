"""pyvideo.org's data: `<event>/category.json` plus `<event>/videos/*.json`, as a folder or the .tar.gz itself.

Videos listed in the top-level `NO_PUBLISH.json` are not imported: their speakers asked not to be republished.
Each event folder is its own source (`pyvideo:<folder>`), so importing one event never reports the rest as gone.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from db.importers.errors import ImportFileError
from db.importers.fields import (
    date_from,
    language_code,
    link_kind,
    plain_text,
    series_name,
    summary_from,
    talk_type_from,
)
from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord, clean_tags

FORMAT = "pyvideo"
WITHDRAWN = "listed in NO_PUBLISH.json"
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")


def detect(path: Path, sample: str | None) -> bool:
    if path.is_dir():
        return any(path.glob("*/category.json")) or (path / "category.json").exists()
    return path.name.endswith((".tar.gz", ".tgz")) and sample is None


def read(path: Path, skipped: Counter | None = None) -> list[TalkRecord]:
    """Every video but those NO_PUBLISH.json lists, which are counted in `skipped`."""
    skipped = Counter() if skipped is None else skipped
    files = _archive_files(path) if path.is_file() else _folder_files(path)
    events: dict[str, dict] = {}
    videos: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    hidden: list = []
    for name, text in files:
        parts = PurePosixPath(name).parts
        if parts[-1] == "NO_PUBLISH.json" and len(parts) <= 2:
            hidden = _load(path, name, text, list)
        elif parts[-1] == "category.json":
            events[parts[-2]] = _load(path, name, text, dict)
        elif len(parts) >= 3 and parts[-2] == "videos" and parts[-1].endswith(".json"):
            videos[parts[-3]].append((name, _load(path, name, text, dict)))
    if not videos:
        raise ImportFileError(path, None, None, "no <event>/videos/*.json files: is this pyvideo data?")
    records = []
    for folder in sorted(videos):
        for name, video in sorted(videos[folder], key=lambda item: item[0]):
            if video.get("id") in hidden:
                skipped[WITHDRAWN] += 1
                continue
            records.append(_record(path, folder, events.get(folder, {}), name, video))
    return records


def _archive_files(path: Path) -> Iterator[tuple[str, str]]:
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(".json"):
                    yield member.name, archive.extractfile(member).read().decode("utf-8")
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as error:
        raise ImportFileError(path, None, None, f"not a readable .tar.gz archive: {error}") from None


def _folder_files(path: Path) -> Iterator[tuple[str, str]]:
    for file in sorted(path.rglob("*.json")):
        yield file.relative_to(path).as_posix(), file.read_text(encoding="utf-8")


def _load(path: Path, name: str, text: str, kind: type):
    try:
        data = json.loads(text)
    except ValueError as error:  # a JSONDecodeError, or a number with more digits than Python converts
        raise ImportFileError(path, name, None, f"not valid JSON: {error}") from None
    if not isinstance(data, kind):
        raise ImportFileError(path, name, None, f"expected a JSON {'object' if kind is dict else 'list'}")
    return data


def _record(path: Path, folder: str, category: dict, name: str, video: dict) -> TalkRecord:
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
    for field in ("tags", "videos", "related_urls"):
        if not isinstance(video.get(field) or [], list):
            fail(field, "expected a list")
    return TalkRecord(
        source=f"{FORMAT}:{folder}",
        external_id=PurePosixPath(name).stem,
        title=title[:500],
        event=_event(path, folder, category, recorded_on),
        speakers=tuple(SpeakerRecord(" ".join(s.split())[:300]) for s in speakers if s.strip()),
        tags=clean_tags(video.get("tags") or []),
        summary=summary_from(video.get("description"), video.get("summary")),
        talk_type=talk_type_from(title),
        links=_links(video),
        duration_minutes=max(1, round(duration / 60)) if duration else None,
        language=language_code(video.get("language")),
        recorded_on=recorded_on,
    )


def _event(path: Path, folder: str, category: dict, recorded_on) -> EventRecord | None:
    title = plain_text(category.get("title")) or folder.replace("-", " ").title()
    found = _YEAR.search(title) or _YEAR.search(folder)
    year = int(found.group(1)) if found else (recorded_on.year if recorded_on else None)
    if year is None:
        return None
    return EventRecord(series=series_name(title)[:200], year=year, name=title[:300])


def _links(video: dict) -> tuple[LinkRecord, ...]:
    links = []
    for item in video.get("videos") or []:
        url = item.get("url") if isinstance(item, dict) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            links.append(LinkRecord("video", url[:2000]))
    for item in video.get("related_urls") or []:
        url, label = (item.get("url"), item.get("label", "")) if isinstance(item, dict) else (item, "")
        if isinstance(url, str) and url.startswith(("https://", "http://")) and link_kind(url, label) == "slides":
            links.append(LinkRecord("slides", url[:2000]))
    return tuple(dict.fromkeys(links))
