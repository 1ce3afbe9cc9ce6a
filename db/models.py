"""The catalog's tables: talks, their speakers, events, tags, links and the sources they came from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TALK_TYPES = ("talk", "keynote", "tutorial", "lightning", "workshop")
LINK_KINDS = ("video", "slides", "schedule", "article")
# What a reporter's note (Talk.recommendation) amounts to: only "recommended" counts as praise.
VERDICTS = RECOMMENDED, MIXED, NOT_RECOMMENDED = ("recommended", "mixed", "not_recommended")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


talk_tags = Table(
    "talk_tags",
    Base.metadata,
    Column("talk_id", ForeignKey("talks.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_talk_tags_tag_id", "tag_id"),
)


class Event(Base):
    """One edition of a conference series, e.g. SREcon EMEA 2022 in Amsterdam."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("series", "name", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)

    talks: Mapped[list[Talk]] = relationship(back_populates="event")


class Speaker(Base):
    """A person; `name_key` (the normalised name) makes the same speaker one row across sources.

    `affiliation` is the first one a source gave; each talk keeps the affiliation billed at the time."""

    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)
    affiliation: Mapped[str | None] = mapped_column(String(300))


class TalkSpeaker(Base):
    """Who gave a talk, in billing order, with the affiliation they gave then."""

    __tablename__ = "talk_speakers"
    __table_args__ = (Index("ix_talk_speakers_speaker_id", "speaker_id"),)

    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), primary_key=True)
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    affiliation: Mapped[str | None] = mapped_column(String(300))

    speaker: Mapped[Speaker] = relationship(lazy="joined")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Talk(Base):
    """A talk, keynote, tutorial, lightning talk or workshop given at an event."""

    __tablename__ = "talks"
    __table_args__ = (
        CheckConstraint("talk_type IN (" + ", ".join(f"'{kind}'" for kind in TALK_TYPES) + ")", name="talk_type_known"),
        CheckConstraint("verdict IN (" + ", ".join(f"'{verdict}'" for verdict in VERDICTS) + ")", name="verdict_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    # True when the source named only a topic and the catalog wrote a descriptive title for it.
    descriptive_title: Mapped[bool] = mapped_column(default=False)
    talk_type: Mapped[str] = mapped_column(String(20), default="talk")
    summary: Mapped[str] = mapped_column(Text, default="")
    # What whoever reported on the talk thought of it, and what that note amounts to (VERDICTS; None: unjudged).
    # Search and the digest prefer recommended talks; the digest avoids mixed and not-recommended ones.
    recommendation: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(20))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16), default="en")
    recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    # An https image of the talk (pyvideo's video still, a schedule's logo); None: the card shows text only.
    thumbnail_url: Mapped[str | None] = mapped_column(String(2000))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    event: Mapped[Event | None] = relationship(back_populates="talks", lazy="joined")
    speaker_links: Mapped[list[TalkSpeaker]] = relationship(
        order_by=TalkSpeaker.position, cascade="all, delete-orphan", lazy="selectin"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=talk_tags, order_by=Tag.name, lazy="selectin")
    links: Mapped[list[Link]] = relationship(cascade="all, delete-orphan", order_by="Link.id", lazy="selectin")
    sources: Mapped[list[TalkSource]] = relationship(
        back_populates="talk", cascade="all, delete-orphan", order_by="TalkSource.id", lazy="selectin"
    )

    @property
    def speakers(self) -> list[Speaker]:
        return [link.speaker for link in self.speaker_links]

    @property
    def video_url(self) -> str | None:
        return next((link.url for link in self.links if link.kind == "video"), None)

    @property
    def best_url(self) -> str | None:
        """The link most worth clicking: a video, else slides, else anything."""
        by_kind = {link.kind: link.url for link in reversed(self.links)}
        return next((by_kind[kind] for kind in LINK_KINDS if kind in by_kind), None)


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("talk_id", "kind", "url"),
        CheckConstraint("kind IN (" + ", ".join(f"'{kind}'" for kind in LINK_KINDS) + ")", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000), index=True)  # link unfurls find talks by URL (db/talk_links.py)


class TalkSource(Base):
    """Where a talk came from: the importer and that source's own id, so a re-import updates in place."""

    __tablename__ = "talk_sources"
    __table_args__ = (UniqueConstraint("importer", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)
    importer: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(500))
    # A fingerprint of the record as last imported: an unchanged re-import skips the talk without loading it.
    record_hash: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    talk: Mapped[Talk] = relationship(back_populates="sources")


class CatalogRevision(Base):
    """A single counter bumped by every catalog change, so each process's search index knows when to rebuild."""

    __tablename__ = "catalog_revision"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A random id written once (migration 0012): what tells this catalog's saved search indexes from another's.
    identity: Mapped[str | None] = mapped_column(String(32))


class CatalogChange(Base):
    """Which talks a catalog revision added, changed or deleted, written with the revision (db/catalog.py), so each
    process's search index re-reads only those talks (db/search/lifecycle.py). `talk_id` is no foreign key (a deleted
    talk is a change too); NULL means any talk may have changed. Only the newest revisions are kept."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, index=True)
    talk_id: Mapped[int | None] = mapped_column(Integer)


class TalkEmbedding(Base):
    """A talk's vector from one embedding model, for the semantic search layer (db/search/semantic.py).

    `text_sha256` is the hash of the text that was embedded (db/search/embeddings.py), so only talks whose text
    changed are embedded again; `vector` is the unit vector as float16 bytes (768 bytes for 384 dimensions). Rows are
    replaced, never updated, so the largest id tells every process that vectors were added (db/search/engine.py)."""

    __tablename__ = "talk_embeddings"
    # AUTOINCREMENT: SQLite must never hand a deleted row's id to a new one (the largest id signals new vectors).
    __table_args__ = (UniqueConstraint("talk_id", "model"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(100))
    text_sha256: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class _UserTalk:
    """A talk one Slack user put on one of their lists, scoped to their workspace (db/talk_lists.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)


class SavedTalk(_UserTalk, Base):
    """A talk a Slack user saved for later."""

    __tablename__ = "saved_talks"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "talk_id"),)

    saved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WatchedTalk(_UserTalk, Base):
    """A talk a Slack user has watched: "More like this", For you and search ties put it behind the others."""

    __tablename__ = "watched_talks"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "talk_id"),)

    watched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SlackEventReceipt(Base):
    """An Events API delivery already handled: Slack retries events, and every replica sees this table."""

    __tablename__ = "slack_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


CADENCES = ("weekly", "daily")
# What a subscription posts: a channel's Talk of the week, or one person's For you DM (its channel is their DM with
# talkbot, and its talk comes from what they saved, watched and liked).
SUBSCRIPTION_KINDS = CHANNEL_DIGEST, FOR_YOU = ("channel", "foryou")


class DigestSubscription(Base):
    """A channel's Talk of the week, or a person's For you DM: when it posts (local time in a timezone), and for a
    channel on what topic."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id"),
        CheckConstraint("cadence IN (" + ", ".join(f"'{c}'" for c in CADENCES) + ")", name="cadence_known"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_in_week"),
        CheckConstraint("minute_of_day BETWEEN 0 AND 1439", name="minute_in_day"),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in SUBSCRIPTION_KINDS) + ")", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(10), default=CHANNEL_DIGEST, server_default=CHANNEL_DIGEST)
    # The Enterprise Grid organisation, if any: with the team it finds the bot token the digest is posted with.
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    subscriber_id: Mapped[str] = mapped_column(String(32))
    cadence: Mapped[str] = mapped_column(String(10))
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0; ignored for daily digests
    minute_of_day: Mapped[int] = mapped_column(Integer)  # local time, minutes after midnight
    timezone: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(500), default="")
    next_run_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Set when Slack refused to post (archived channel, bot removed…): no digests until re-subscribed.
    paused_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DigestPost(Base):
    """One channel's digest for one period, claimed before posting so that it is posted exactly once.

    The unique (team, channel, period) row is the claim; `message_ts` records the post. Rows outlive
    subscriptions, so a channel never sees a talk twice even after re-subscribing."""

    __tablename__ = "digest_posts"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "period"),
        CheckConstraint("state IN ('claimed', 'posted', 'skipped')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(36), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(10))
    talk_id: Mapped[int | None] = mapped_column(ForeignKey("talks.id", ondelete="SET NULL"))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(300))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DigestFeedback(Base):
    """A 👍 or 👎 on a digest talk, one vote per person, steering that channel's later picks."""

    __tablename__ = "digest_feedback"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "talk_id", "user_id"),
        CheckConstraint("vote IN (-1, 1)", name="vote_is_up_or_down"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    vote: Mapped[int] = mapped_column(Integer)


MAX_FOLLOW_QUERY = 200  # a follow is a query (db/search/query.py MAX_QUERY_CHARS)


class Follow(Base):
    """A person's standing query: talks an import adds that match it are sent to them, one DM per import.

    `query_key` is the query as compared (spaces collapsed, case folded), so following the same thing twice is one
    follow; `after_batch` is the newest import batch when they followed, so only later imports alert them."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "query_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    # The Enterprise Grid organisation, if any: with the team it finds the bot token the alert is sent with.
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    query: Mapped[str] = mapped_column(String(MAX_FOLLOW_QUERY))
    query_key: Mapped[str] = mapped_column(String(MAX_FOLLOW_QUERY))
    after_batch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ImportBatch(Base):
    """The talks one import added, written in the import's own transaction (an outbox): the clock process sends the
    follow alerts for it, then sets `alerted_at` and drops its talk list. Ids are never reused (follows compare
    them)."""

    __tablename__ = "import_batches"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    added: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    alerted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)


import_batch_talks = Table(
    "import_batch_talks",
    Base.metadata,
    Column("batch_id", ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True),
    Column("talk_id", ForeignKey("talks.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_import_batch_talks_talk_id", "talk_id"),
)


class FollowAlert(Base):
    """One person's DM about one import batch, claimed (the unique row) before it is sent, so it is sent once.

    `channel_id` and `message_ts` record the DM; a claim left by a crash is looked up in that person's DM history
    (found through an earlier alert's channel) after its lease."""

    __tablename__ = "follow_alerts"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "batch_id"),
        CheckConstraint("state IN ('claimed', 'sent', 'skipped', 'failed')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(36), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(300))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AlertedTalk(Base):
    """A talk an alert told a person about, claimed with the alert: no talk is ever announced to them twice."""

    __tablename__ = "alerted_talks"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "talk_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("follow_alerts.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)
