"""Writing the catalog: the one import path every source goes through. Talks are upserted by source and id, and
the same talk arriving from a second source is linked to the first rather than doubled."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from rapidfuzz import fuzz
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.catalog import bump_revision
from db.follows import record_batch
from db.models import Event, Link, Speaker, Tag, Talk, TalkSource, TalkSpeaker, talk_tags
from db.records import EventRecord, SpeakerRecord, TalkRecord, speaker_key


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0  # new to its source, but the same talk as one from another source: linked, not doubled
    removed: int = 0
    disappeared: list[tuple[str, str]] = field(default_factory=list)  # (source, id) known before, absent now
    similar_speakers: list[tuple[str, str]] = field(default_factory=list)  # reported, never merged
    alert_batch: int | None = None  # the import batch follow alerts will be sent for (db/follows.py), if any

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.linked or self.removed)

    def __str__(self) -> str:
        parts = [f"{self.added} added", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        if self.linked:
            parts.append(f"{self.linked} linked to the same talk from another source")
        if self.disappeared:
            gone = f"{len(self.disappeared)} no longer in the source"
            parts.append(f"{gone}, removed" if self.removed else f"{gone} (kept; --prune removes them)")
        return ", ".join(parts)


def import_records(
    session: Session, records: Iterable[TalkRecord], prune: bool = False, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Add new talks, update known ones (matched by source + external id), link the same talk arriving from a
    second source, and report (or, with `prune`, remove) talks their source no longer lists. All in the
    caller's transaction, so a failure leaves the catalog as it was. Records are taken one at a time: `records`
    may be a generator, and the writer keeps ids of what it wrote, not the talks."""
    writer = _CatalogWriter(session)
    seen: dict[str, set[str]] = defaultdict(set)
    done = 0
    for done, record in enumerate(records, start=1):
        writer.write(record)
        seen[record.source].add(record.external_id)
        if progress and done % PROGRESS_EVERY == 0:
            progress(done)
    writer.insert_new()
    session.flush()
    if progress and done % PROGRESS_EVERY:
        progress(done)
    for source, ids in seen.items():
        writer.report.disappeared += [(source, gone) for gone in sorted(writer.known_ids(source) - ids)]
    if prune:
        writer.remove(writer.report.disappeared)
    writer.report.similar_speakers = writer.similar_new_speakers()
    writer.report.alert_batch = record_batch(session, writer.added_ids)
    if writer.report.changed:
        bump_revision(session, writer.changed_talk_ids())
    return writer.report


PROGRESS_EVERY = 500


# Fields added to TalkRecord after talks were first fingerprinted: left out of the fingerprint while empty.
LATER_FIELDS = ("thumbnail_url",)


def record_hash(record: TalkRecord) -> str:
    """The record's fingerprint: a re-import skips a talk whose fingerprint is unchanged. It is the record's repr
    without the LATER_FIELDS that are empty, so a record hashes as it did before those fields existed (the first
    re-import after an upgrade does not rewrite every talk) whatever their place, and a value added or changed at the
    source is seen."""
    shown = (
        f"{part.name}={getattr(record, part.name)!r}"
        for part in fields(record)
        if part.repr and not (part.name in LATER_FIELDS and getattr(record, part.name) is None)
    )
    return hashlib.sha256(f"{type(record).__qualname__}({', '.join(shown)})".encode()).hexdigest()


def title_key(title: str) -> str:
    return " ".join(re.findall(r"\w+", title.lower()))


@dataclass
class _NewTalk:
    """A talk this import adds, waiting to be inserted with the next batch (its id is known after that)."""

    identity: tuple[str, str]
    fingerprint: str
    record: TalkRecord
    event: Event | None
    billing: list[tuple[Speaker, str | None]]
    tags: list[Tag]
    talk_id: int | None = None


@dataclass
class _Known:
    """What the writer needs of a talk already in the catalog to link a second source to it."""

    talk_id: int | None
    series: str
    speakers: set[str]
    videos: set[str]
    talk: Talk | _NewTalk | None = None


class _CatalogWriter:
    """Upserts records with in-memory lookups of events, speakers, tags and sources, so big imports stay fast.

    New talks, nearly all of a big import, are inserted in batches with plain INSERTs (their events, speakers and
    tags are ORM objects, few and shared); the ORM's unit of work, 1.5-2 ms a talk, is kept for the talks an
    import changes or links."""

    FLUSH_EVERY = 2000

    def __init__(self, session: Session) -> None:
        self.session = session
        self.report = ImportReport()
        self.events = {(e.series, e.name, e.year): e for e in session.scalars(select(Event))}
        self.speakers = {s.name_key: s for s in session.scalars(select(Speaker))}
        self.existing_speaker_keys = set(self.speakers)
        self.tags = {t.name: t for t in session.scalars(select(Tag))}
        self.sources: dict[tuple[str, str], tuple[int | Talk, str | None]] = {}
        self.primary: dict[int, tuple[str, str]] = {}
        for importer, external_id, talk_id, fingerprint in session.execute(
            select(TalkSource.importer, TalkSource.external_id, TalkSource.talk_id, TalkSource.record_hash).order_by(
                TalkSource.id
            )
        ):
            self.sources[(importer, external_id)] = (talk_id, fingerprint)
            self.primary.setdefault(talk_id, (importer, external_id))
        self._by_title: dict[tuple[str, int | None], list[_Known]] | None = None
        self._new: list[_NewTalk] = []
        self.added_ids: list[int] = []  # talks this import inserted, for the follow alerts' outbox
        self.changed_ids: set[int] = set()  # talks it changed, linked or removed, for the catalog's change log
        self.changed_events: set[Event] = set()  # events whose own fields it changed: their talks changed too
        self._new_known: list[_Known] = []
        # Set when a write changes a shared row the talk points to (say, an event's city).
        self._related_changed = False

    def known_ids(self, source: str) -> set[str]:
        return {external_id for importer, external_id in self.sources if importer == source}

    def write(self, record: TalkRecord) -> None:
        self._related_changed = False
        identity = (record.source, record.external_id)
        fingerprint = record_hash(record)
        known = self.sources.get(identity)
        if known is not None:
            talk_or_id, last_fingerprint = known
            if last_fingerprint == fingerprint:
                self.report.unchanged += 1
                return
            talk = self._talk(talk_or_id)
            is_primary = not isinstance(talk_or_id, int) or self.primary.get(talk_or_id) == identity
            changed = self._apply(talk, record) if is_primary else self._merge(talk, record)
            self._remember_fingerprint(talk, identity, fingerprint)
            if changed:
                self.changed_ids.add(talk.id)
                self.report.updated += 1
            else:
                self.report.unchanged += 1
            return
        same = self._same_talk(record)
        if same is not None:
            talk = self._talk(same.talk if same.talk is not None else same.talk_id)
            talk.sources.append(TalkSource(importer=record.source, external_id=record.external_id,
                                           record_hash=fingerprint))  # fmt: skip
            self._merge(talk, record)
            self.changed_ids.add(talk.id)
            self.sources[identity] = (talk, fingerprint)
            self.report.linked += 1
            return
        new = _NewTalk(
            identity, fingerprint, record, self._event(record.event) if record.event else None,
            [(self._speaker(s), s.affiliation) for s in _billed(record)],
            list(dict.fromkeys(self._tag(name) for name in record.tags)),
        )  # fmt: skip
        self._new.append(new)
        self.sources[identity] = (new, fingerprint)
        self._index_title(record, new)
        self.report.added += 1
        if len(self._new) >= self.FLUSH_EVERY:
            self.insert_new()

    def _talk(self, talk: Talk | _NewTalk | int) -> Talk:
        """The ORM talk, loaded (after inserting the waiting new talks, if it is one of them)."""
        if isinstance(talk, Talk):
            return talk
        if isinstance(talk, _NewTalk):
            if talk.talk_id is None:
                self.insert_new()
            talk = talk.talk_id
        return self.session.get_one(Talk, talk)

    def insert_new(self) -> None:
        """Insert the waiting new talks with their sources, speakers, tags and links: one INSERT per table."""
        if not self._new:
            return
        self.session.flush()  # new events, speakers and tags get their ids
        rows = [
            {"title": r.title, "descriptive_title": r.descriptive_title, "talk_type": r.talk_type, "summary": r.summary,
             "recommendation": r.recommendation, "verdict": r.verdict, "duration_minutes": r.duration_minutes,
             "language": r.language, "recorded_on": r.recorded_on, "thumbnail_url": r.thumbnail_url,
             "event_id": new.event.id if new.event else None}
            for new in self._new for r in (new.record,)
        ]  # fmt: skip
        talks = Talk.__table__
        ids = self.session.execute(insert(talks).returning(talks.c.id, sort_by_parameter_order=True), rows).scalars()
        sources, speakers, tags, links = [], [], [], []
        for new, talk_id in zip(self._new, ids, strict=True):
            new.talk_id = talk_id
            self.added_ids.append(talk_id)
            importer, external_id = new.identity
            sources.append(
                {"talk_id": talk_id, "importer": importer, "external_id": external_id, "record_hash": new.fingerprint}
            )
            for position, (speaker, affiliation) in enumerate(new.billing):
                speakers.append(
                    {"talk_id": talk_id, "speaker_id": speaker.id, "position": position, "affiliation": affiliation}
                )
            tags += [{"talk_id": talk_id, "tag_id": tag.id} for tag in new.tags]
            links += [
                {"talk_id": talk_id, "kind": link.kind, "url": link.url} for link in dict.fromkeys(new.record.links)
            ]
            self.sources[new.identity] = (talk_id, new.fingerprint)
            self.primary[talk_id] = new.identity
        for table, values in ((TalkSource.__table__, sources), (TalkSpeaker.__table__, speakers),
                              (talk_tags, tags), (Link.__table__, links)):  # fmt: skip
            if values:
                self.session.execute(insert(table), values)
        for known in self._new_known:  # the title index now points at the inserted rows
            known.talk_id, known.talk = known.talk.talk_id, None
        self._new, self._new_known = [], []

    def _remember_fingerprint(self, talk: Talk, identity: tuple[str, str], fingerprint: str) -> None:
        for source in talk.sources:
            if (source.importer, source.external_id) == identity:
                source.record_hash = fingerprint

    def _apply(self, talk: Talk, record: TalkRecord) -> bool:
        """Make `talk` say what `record` says (the talk's first source owns it); report whether anything changed."""
        changed = False
        for attribute, value in (
            ("title", record.title),
            ("descriptive_title", record.descriptive_title),
            ("talk_type", record.talk_type),
            ("summary", record.summary),
            ("recommendation", record.recommendation),
            ("verdict", record.verdict),
            ("duration_minutes", record.duration_minutes),
            ("language", record.language),
            ("recorded_on", record.recorded_on),
            ("thumbnail_url", record.thumbnail_url),
        ):
            if getattr(talk, attribute) != value:
                setattr(talk, attribute, value)
                changed = True
        event = self._event(record.event) if record.event else None
        if talk.event is not event:
            talk.event = event
            changed = True
        billing = [(self._speaker(s), s.affiliation) for s in _billed(record)]
        if [(link.speaker, link.affiliation) for link in talk.speaker_links] != billing:
            talk.speaker_links = [
                TalkSpeaker(speaker=speaker, position=i, affiliation=affiliation)
                for i, (speaker, affiliation) in enumerate(billing)
            ]
            changed = True
        if {t.name for t in talk.tags} != set(record.tags):
            talk.tags = list(dict.fromkeys(self._tag(name) for name in record.tags))
            changed = True
        links = [(link.kind, link.url) for link in dict.fromkeys(record.links)]
        if [(link.kind, link.url) for link in talk.links] != links:
            # A link the talk keeps stays the same row: a new row for it would be inserted before the old one is
            # deleted (a flush inserts before it deletes), breaking the unique (talk, kind, url).
            kept = {(link.kind, link.url): link for link in talk.links}
            talk.links = [kept.get((kind, url)) or Link(kind=kind, url=url) for kind, url in links]
            changed = True
        return changed or self._related_changed

    def _merge(self, talk: Talk, record: TalkRecord) -> bool:
        """A second source only adds what the talk lacks: a summary, links, tags, a duration, a date, a thumbnail, a
        note (with its verdict: a verdict belongs to its note, so it never joins another source's note)."""
        changed = False
        for attribute in ("summary", "duration_minutes", "recorded_on", "recommendation", "thumbnail_url"):
            value = getattr(record, attribute)
            if value and not getattr(talk, attribute):
                setattr(talk, attribute, value)
                changed = True
                if attribute == "recommendation":
                    talk.verdict = record.verdict
        have_links = {(link.kind, link.url) for link in talk.links}
        for link in record.links:
            if (link.kind, link.url) not in have_links:
                talk.links.append(Link(kind=link.kind, url=link.url))
                have_links.add((link.kind, link.url))
                changed = True
        have_tags = {tag.name for tag in talk.tags}
        for name in record.tags:
            tag = self._tag(name)
            if tag.name not in have_tags:
                talk.tags.append(tag)
                have_tags.add(tag.name)
                changed = True
        return changed

    def _same_talk(self, record: TalkRecord) -> _Known | None:
        """An existing talk from another source with the same title and year that shares its video, or shares a
        speaker at the same conference. (The same title by the same speaker at another conference is another talk.)"""
        if self._by_title is None:
            self._by_title = self._load_titles()
        speakers = {speaker_key(s.name) for s in record.speakers}
        videos = {link.url for link in record.links if link.kind == "video"}
        series = record.event.series if record.event else ""
        for known in self._by_title.get((title_key(record.title), record.event.year if record.event else None), []):
            if (known.videos & videos) or (known.speakers & speakers and _same_series(known.series, series)):
                if isinstance(known.talk, _NewTalk):
                    talk_sources = [known.talk.identity[0]]
                else:
                    talk_sources = [source.importer for source in known.talk.sources] if known.talk else []
                if record.source in talk_sources:
                    continue
                if known.talk_id is not None and self.primary.get(known.talk_id, ("",))[0] == record.source:
                    continue
                return known
        return None

    def _load_titles(self) -> dict[tuple[str, int | None], list[_Known]]:
        speakers: dict[int, set[str]] = defaultdict(set)
        for talk_id, key in self.session.execute(select(TalkSpeaker.talk_id, Speaker.name_key).join(Speaker)):
            speakers[talk_id].add(key)
        videos: dict[int, set[str]] = defaultdict(set)
        for talk_id, url in self.session.execute(select(Link.talk_id, Link.url).where(Link.kind == "video")):
            videos[talk_id].add(url)
        by_title: dict[tuple[str, int | None], list[_Known]] = defaultdict(list)
        rows = self.session.execute(select(Talk.id, Talk.title, Event.year, Event.series).outerjoin(Talk.event))
        for talk_id, title, year, series in rows:
            by_title[(title_key(title), year)].append(_Known(talk_id, series or "", speakers[talk_id], videos[talk_id]))
        return by_title

    def _index_title(self, record: TalkRecord, talk: _NewTalk) -> None:
        if self._by_title is None:
            return
        year = record.event.year if record.event else None
        series = record.event.series if record.event else ""
        speakers = {speaker_key(s.name) for s in record.speakers}
        known = _Known(None, series, speakers, {link.url for link in record.links if link.kind == "video"}, talk)
        self._by_title[(title_key(record.title), year)].append(known)
        self._new_known.append(known)

    def remove(self, gone: list[tuple[str, str]]) -> None:
        """Drop the sources that no longer list their talks; a talk goes when no source lists it any more."""
        for importer, external_id in gone:
            source = self.session.scalar(
                select(TalkSource).where(TalkSource.importer == importer, TalkSource.external_id == external_id)
            )
            talk = source.talk
            self.changed_ids.add(talk.id)
            talk.sources.remove(source)
            if not talk.sources:
                self.session.delete(talk)
            self.report.removed += 1
        self.session.flush()

    def changed_talk_ids(self) -> set[int]:
        """Every talk this import added, changed, linked or removed, and those of the events whose fields it changed
        (a city is part of every talk's event text)."""
        self.session.flush()
        event_ids = [event.id for event in self.changed_events]
        of_events = self.session.scalars(select(Talk.id).where(Talk.event_id.in_(event_ids))) if event_ids else []
        return self.changed_ids | set(self.added_ids) | set(of_events)

    def similar_new_speakers(self) -> list[tuple[str, str]]:
        """Speakers this import added whose names are nearly those of other speakers: reported, never merged."""
        new = {key: s.name for key, s in self.speakers.items() if key not in self.existing_speaker_keys}
        if not new:
            return []
        blocks: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key, speaker in self.speakers.items():
            blocks[_speaker_block(key)].append((key, speaker.name))
        pairs = []
        for key, name in new.items():
            for other_key, other_name in blocks[_speaker_block(key)]:
                compared_once = other_key not in new or other_key > key
                if other_key != key and compared_once and _nearly_same_name(key, other_key):
                    pairs.append((name, other_name))
        return sorted(pairs)

    def _event(self, record: EventRecord) -> Event:
        key = (record.series, record.display_name, record.year)
        event = self.events.get(key)
        if event is None:
            event = self.events[key] = Event(series=record.series, name=record.display_name, year=record.year)
            self.session.add(event)
        for attribute in ("city", "country", "starts_on", "ends_on"):
            value = getattr(record, attribute)
            if value is not None and getattr(event, attribute) != value:
                setattr(event, attribute, value)
                self._related_changed = True
                self.changed_events.add(event)
        return event

    def _speaker(self, record: SpeakerRecord) -> Speaker:
        key = speaker_key(record.name)
        speaker = self.speakers.get(key)
        if speaker is None:
            speaker = self.speakers[key] = Speaker(name=record.name, name_key=key)
            self.session.add(speaker)
        if record.affiliation and not speaker.affiliation:
            speaker.affiliation = record.affiliation
        return speaker

    def _tag(self, name: str) -> Tag:
        """One tag for singular and plural ('database', 'databases'): whichever the catalog met first."""
        for form in (name, name[:-1] if name.endswith("s") else name + "s"):
            if form in self.tags:
                return self.tags[form]
        tag = self.tags[name] = Tag(name=name)
        self.session.add(tag)
        return tag


SIMILAR_NAME_SCORE = 92


def _billed(record: TalkRecord) -> list[SpeakerRecord]:
    """The record's speakers in billing order, each person once (the first time they are named)."""
    return list({speaker_key(s.name): s for s in reversed(record.speakers)}.values())[::-1]


def _nearly_same_name(one: str, other: str) -> bool:
    """'ana makarudze' ~ 'anna makarudze'; but not 'ajit kumar' ~ 'amit kumar' (the first letters differ)."""
    return one[:1] == other[:1] and fuzz.ratio(one, other) >= SIMILAR_NAME_SCORE


def _same_series(one: str, other: str) -> bool:
    """'EuroPython' and 'EuroPython 2022' are one series; 'DjangoCon AU' and 'DjangoCon US' are not."""
    return bool(_series_key(one)) and _series_key(one) == _series_key(other)


def _series_key(series: str) -> str:
    return re.sub(r"\b(19|20)\d\d\b", "", title_key(series)).strip()


def _speaker_block(key: str) -> str:
    """Names compared for near-duplicates share the start of their last word (cheap, and catches typos)."""
    return key.split(" ")[-1][:3] if key else ""
