"""Reading the catalog: talks by id, records for export, counts and stats, and the revision every changing import
bumps, with its log of the talks each revision changed (db/catalog_import.py writes the catalog)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from db.models import CatalogChange, CatalogRevision, Event, Speaker, Tag, Talk, talk_tags
from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord

# The change log keeps the talks changed by the newest CHANGE_LOG_REVISIONS revisions: a process whose search index
# is older than that reads the whole catalog again (db/search/lifecycle.py), as it would with no log at all.
CHANGE_LOG_REVISIONS = 50
# A revision changing more talks than this logs "any talk" in one row: a reader would build its index afresh anyway
# (db/search/lifecycle.py INCREMENTAL_TALKS), and a big import need not write a row per talk.
LOGGED_TALKS = 10_000


def bump_revision(session: Session, changed_talk_ids: Collection[int] | None) -> int:
    """Move the catalog to its next revision and log which talks it added, changed or deleted (None: any talk may
    have changed), in the caller's transaction, so a reader sees the revision and its log together. Every writer of
    catalog data a search reads (talks, their speakers, tags, links, event, verdict) calls this. Returns the
    revision."""
    revision = session.execute(
        update(CatalogRevision)
        .where(CatalogRevision.id == 1)
        .values(revision=CatalogRevision.revision + 1, changed_at=func.now())
        .returning(CatalogRevision.revision)
    ).scalar_one()
    if changed_talk_ids is None or len(changed_talk_ids) > LOGGED_TALKS:
        logged: list[int | None] = [None]
    else:
        logged = sorted(set(changed_talk_ids))
    if logged:
        session.execute(insert(CatalogChange), [{"revision": revision, "talk_id": talk_id} for talk_id in logged])
    session.execute(delete(CatalogChange).where(CatalogChange.revision <= revision - CHANGE_LOG_REVISIONS))
    return revision


def changed_talks(session: Session, since: int, through: int) -> set[int] | None:
    """The talks revisions `since` + 1 to `through` changed; None when the log cannot tell (it no longer reaches back
    to `since` + 1, or a revision changed any talk)."""

    def reaches_back() -> bool:
        oldest = session.scalar(select(func.min(CatalogChange.revision)))
        return oldest is not None and oldest <= since + 1

    if not reaches_back():
        return None
    talk_ids = set(
        session.scalars(
            select(CatalogChange.talk_id).where(CatalogChange.revision > since, CatalogChange.revision <= through)
        )
    )
    # Asked again: under READ COMMITTED an import may have trimmed the log between the two statements above. The log is
    # trimmed from its oldest end only, so if it still reaches back now, it held every row when they were read.
    if None in talk_ids or not reaches_back():
        return None
    return talk_ids


def catalog_revision(session: Session) -> int:
    return session.scalar(select(CatalogRevision.revision).where(CatalogRevision.id == 1)) or 0


def talk_record(talk: Talk) -> TalkRecord:
    """A stored talk as the record its first source would import; export writes these."""
    source = talk.sources[0]
    event = talk.event
    return TalkRecord(
        source=source.importer,
        external_id=source.external_id,
        title=talk.title,
        descriptive_title=talk.descriptive_title,
        talk_type=talk.talk_type,
        event=EventRecord(
            series=event.series,
            year=event.year,
            name=event.name,
            city=event.city,
            country=event.country,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
        )
        if event
        else None,  # fmt: skip
        speakers=tuple(SpeakerRecord(link.speaker.name, link.affiliation) for link in talk.speaker_links),
        tags=tuple(t.name for t in talk.tags),
        summary=talk.summary,
        recommendation=talk.recommendation,
        verdict=talk.verdict,
        links=tuple(LinkRecord(link.kind, link.url) for link in talk.links),
        duration_minutes=talk.duration_minutes,
        language=talk.language,
        recorded_on=talk.recorded_on,
        thumbnail_url=talk.thumbnail_url,
    )


def all_talks(session: Session) -> list[Talk]:
    return list(session.scalars(select(Talk).order_by(Talk.id)))


def talks_by_id(session: Session, talk_ids: Iterable[int]) -> dict[int, Talk]:
    ids = list(talk_ids)
    return {talk.id: talk for talk in session.scalars(select(Talk).where(Talk.id.in_(ids)))} if ids else {}


def talk_count(session: Session) -> int:
    return session.scalar(select(func.count(Talk.id))) or 0


@dataclass
class CatalogStats:
    talks: int
    speakers: int
    by_event: list[tuple[str, int, int]]
    by_year: list[tuple[int, int]]
    by_tag: list[tuple[str, int]]


def catalog_stats(session: Session) -> CatalogStats:
    talks_per = func.count(Talk.id)
    return CatalogStats(
        talks=talk_count(session),
        speakers=session.scalar(select(func.count(Speaker.id))) or 0,
        by_event=[
            tuple(row)
            for row in session.execute(
                select(Event.name, Event.year, talks_per)
                .join(Talk.event)
                .group_by(Event.id)
                .order_by(Event.year, Event.name)
            )
        ],  # fmt: skip
        by_year=[
            tuple(row)
            for row in session.execute(
                select(Event.year, talks_per).join(Talk.event).group_by(Event.year).order_by(Event.year)
            )
        ],
        by_tag=[
            tuple(row)
            for row in session.execute(
                select(Tag.name, func.count(talk_tags.c.talk_id))
                .join(talk_tags)
                .group_by(Tag.id)
                .order_by(func.count(talk_tags.c.talk_id).desc(), Tag.name)
            )
        ],  # fmt: skip
    )


def event_series(session: Session, typed: str = "", limit: int = 100) -> list[tuple[str, int, int]]:
    """(series, first year, last year) of the catalog's events, alphabetically: those whose series or edition name
    contains `typed` (any case; `%` and `_` are plain characters), for the search modal's event menu. Reads the
    events table alone, which holds one row per edition, not per talk."""
    statement = (
        select(Event.series, func.min(Event.year), func.max(Event.year))
        .group_by(Event.series)
        .order_by(func.lower(Event.series), Event.series)
        .limit(limit)
    )
    wanted = typed.strip().lower()
    if wanted:
        statement = statement.where(
            func.lower(Event.series).contains(wanted, autoescape=True)
            | func.lower(Event.name).contains(wanted, autoescape=True)
        )
    return [(series, first or 0, last or 0) for series, first, last in session.execute(statement)]
