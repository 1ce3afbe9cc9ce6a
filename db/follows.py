"""Follows and their alerts: the storage behind `/talk follow`.

An import that adds talks writes an import batch listing them, in its own transaction (`record_batch`): an outbox the
clock process reads, so no alert is lost when the import ends and none is sent for talks an import rolled back. Each
person's DM about a batch is claimed by inserting a row unique per (workspace, person, batch) before it is sent,
together with the talks it announces, themselves unique per person: whichever process inserts the claim sends it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import AlertedTalk, Follow, FollowAlert, ImportBatch, import_batch_talks

MAX_FOLLOWS = 25  # per person and workspace: each is matched against every import


def query_key(query: str) -> str:
    """A follow's text as compared: `Kafka  streams` and `kafka streams` are one follow."""
    return " ".join(query.split()).casefold()


def follows_of(session: Session, team_id: str, user_id: str) -> list[Follow]:
    """A person's follows, oldest first (the order `/talk following` numbers them in)."""
    return list(
        session.scalars(select(Follow).where(Follow.team_id == team_id, Follow.user_id == user_id).order_by(Follow.id))
    )


def add_follow(
    session: Session, team_id: str, enterprise_id: str | None, user_id: str, query: str
) -> tuple[Follow, bool]:
    """(the follow, whether it is new). Callers check MAX_FOLLOWS first; alerts start with the next import."""
    key = query_key(query)
    existing = session.scalar(
        select(Follow).where(Follow.team_id == team_id, Follow.user_id == user_id, Follow.query_key == key)
    )
    if existing is not None:
        return existing, False
    newest = session.scalar(select(func.max(ImportBatch.id))) or 0
    follow = Follow(team_id=team_id, enterprise_id=enterprise_id, user_id=user_id, query=" ".join(query.split()),
                    query_key=key, after_batch=newest)  # fmt: skip
    session.add(follow)
    session.flush()
    return follow, True


def remove_follow(session: Session, team_id: str, user_id: str, follow_id: int) -> None:
    session.execute(delete(Follow).where(Follow.team_id == team_id, Follow.user_id == user_id, Follow.id == follow_id))


def anyone_follows(session: Session) -> bool:
    return session.scalar(select(Follow.id).limit(1)) is not None


def record_batch(session: Session, talk_ids: list[int]) -> int | None:
    """The outbox: an import batch listing the talks this import added, in the import's transaction. Nothing is
    written when no talk was added or nobody follows anything (a follow made later alerts only for later imports)."""
    if not talk_ids or not anyone_follows(session):
        return None
    batch = ImportBatch(added=len(talk_ids))
    session.add(batch)
    session.flush()
    session.execute(insert(import_batch_talks), [{"batch_id": batch.id, "talk_id": talk_id} for talk_id in talk_ids])
    return batch.id


def pending_batches(session: Session) -> list[ImportBatch]:
    return list(session.scalars(select(ImportBatch).where(ImportBatch.alerted_at.is_(None)).order_by(ImportBatch.id)))


def batch_talk_ids(session: Session, batch_id: int) -> list[int]:
    return list(
        session.scalars(
            select(import_batch_talks.c.talk_id)
            .where(import_batch_talks.c.batch_id == batch_id)
            .order_by(import_batch_talks.c.talk_id)
        )
    )


def follows_for_batch(session: Session, batch_id: int) -> list[Follow]:
    """Follows made before the batch was written, grouped by person (workspace, user), oldest first."""
    return list(
        session.scalars(
            select(Follow).where(Follow.after_batch < batch_id).order_by(Follow.team_id, Follow.user_id, Follow.id)
        )
    )


def finish_batch(session: Session, batch_id: int, now: dt.datetime) -> None:
    """Every follower of the batch was dealt with: mark it and drop its talk list."""
    session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(alerted_at=now))
    session.execute(delete(import_batch_talks).where(import_batch_talks.c.batch_id == batch_id))


def already_alerted(session: Session, team_id: str, user_id: str, batch_id: int) -> set[int]:
    """The batch's talks this person was already told about (a batch may list a million talks: no id list is sent)."""
    in_batch = select(import_batch_talks.c.talk_id).where(import_batch_talks.c.batch_id == batch_id)
    return set(
        session.scalars(
            select(AlertedTalk.talk_id).where(
                AlertedTalk.team_id == team_id, AlertedTalk.user_id == user_id, AlertedTalk.talk_id.in_(in_batch)
            )
        )
    )


def claim_alert(
    session: Session, team_id: str, user_id: str, batch_id: int, talk_ids: list[int], now: dt.datetime,
    state: str = "claimed", detail: str | None = None,
) -> FollowAlert | None:  # fmt: skip
    """Claim this person's DM about this batch, with the talks it announces; None when another process (or an earlier
    pass) holds the claim, or announced one of these talks already."""
    alert = FollowAlert(
        claim_id=str(uuid.uuid4()), team_id=team_id, user_id=user_id, batch_id=batch_id, state=state, detail=detail,
        claimed_at=now, finished_at=None if state == "claimed" else now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
            if talk_ids:
                session.execute(
                    insert(AlertedTalk),
                    [{"alert_id": alert.id, "team_id": team_id, "user_id": user_id, "talk_id": t} for t in talk_ids],
                )
    except IntegrityError:
        return None
    return alert


def alert_of(session: Session, team_id: str, user_id: str, batch_id: int) -> FollowAlert | None:
    return session.scalar(
        select(FollowAlert).where(
            FollowAlert.team_id == team_id, FollowAlert.user_id == user_id, FollowAlert.batch_id == batch_id
        )
    )


def dm_channel_of(session: Session, team_id: str, user_id: str) -> str | None:
    """The person's DM with talkbot, as an earlier alert's answer from Slack named it (None before the first)."""
    return session.scalar(
        select(FollowAlert.channel_id)
        .where(FollowAlert.team_id == team_id, FollowAlert.user_id == user_id, FollowAlert.channel_id.is_not(None))
        .order_by(FollowAlert.id.desc())
        .limit(1)
    )


def alert_talk_ids(session: Session, alert_id: int) -> list[int]:
    """The talks a claimed alert announces, in the order they were claimed (best first)."""
    return list(
        session.scalars(select(AlertedTalk.talk_id).where(AlertedTalk.alert_id == alert_id).order_by(AlertedTalk.id))
    )
