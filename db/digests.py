"""Digest subscriptions, per-period claims and feedback: the storage behind Talk of the week and For you DMs.

A claim is a row whose (team, channel, period) is unique, inserted before anything is posted: whichever
process inserts it posts, every other process sees it and stands back.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import CHANNEL_DIGEST, FOR_YOU, DigestFeedback, DigestPost, DigestSubscription


def subscribe(
    session: Session, *, team_id: str, channel_id: str, subscriber_id: str, cadence: str, weekday: int,
    minute_of_day: int, timezone: str, topic: str, next_run_at: dt.datetime, enterprise_id: str | None = None,
    kind: str = CHANNEL_DIGEST,
) -> DigestSubscription:  # fmt: skip
    """Create the channel's subscription, or replace it (one per channel: a For you DM's channel is the person's DM
    with talkbot); re-subscribing resumes a paused one."""
    subscription = subscription_for(session, team_id, channel_id, kind=None) or DigestSubscription(
        team_id=team_id, channel_id=channel_id
    )
    subscription.kind, subscription.enterprise_id, subscription.subscriber_id = kind, enterprise_id, subscriber_id
    subscription.cadence, subscription.weekday, subscription.minute_of_day = cadence, weekday, minute_of_day
    subscription.timezone, subscription.topic = timezone, topic
    subscription.next_run_at, subscription.paused_reason = next_run_at, None
    session.add(subscription)
    session.flush()
    return subscription


def unsubscribe(session: Session, team_id: str, channel_id: str) -> bool:
    subscription = subscription_for(session, team_id, channel_id)
    if subscription is None:
        return False
    session.delete(subscription)
    return True


def subscription_for(
    session: Session, team_id: str, channel_id: str, kind: str | None = CHANNEL_DIGEST
) -> DigestSubscription | None:
    """The subscription posting in a channel (`kind` None: of either kind)."""
    statement = select(DigestSubscription).where(
        DigestSubscription.team_id == team_id, DigestSubscription.channel_id == channel_id
    )
    return session.scalar(statement if kind is None else statement.where(DigestSubscription.kind == kind))


def for_you_subscription(session: Session, team_id: str, user_id: str) -> DigestSubscription | None:
    """A person's For you DM, if they asked for one."""
    return session.scalar(
        select(DigestSubscription).where(
            DigestSubscription.team_id == team_id,
            DigestSubscription.subscriber_id == user_id,
            DigestSubscription.kind == FOR_YOU,
        )
    )


def subscriptions_in(session: Session, team_id: str, channel_ids: list[str]) -> list[DigestSubscription]:
    if not channel_ids:
        return []
    return list(
        session.scalars(
            select(DigestSubscription)
            .where(
                DigestSubscription.team_id == team_id,
                DigestSubscription.channel_id.in_(channel_ids),
                DigestSubscription.kind == CHANNEL_DIGEST,
            )
            .order_by(DigestSubscription.channel_id)
        )
    )


def due_subscriptions(session: Session, now: dt.datetime) -> list[DigestSubscription]:
    return list(
        session.scalars(
            select(DigestSubscription)
            .where(DigestSubscription.next_run_at <= now, DigestSubscription.paused_reason.is_(None))
            .order_by(DigestSubscription.next_run_at, DigestSubscription.id)
        )
    )


def next_due(session: Session) -> dt.datetime | None:
    """When the next digest or For you DM that is not paused is due (the console's clock jumps there)."""
    return session.scalar(
        select(func.min(DigestSubscription.next_run_at)).where(DigestSubscription.paused_reason.is_(None))
    )


def advance(session: Session, subscription_id: int, due_at: dt.datetime, next_run_at: dt.datetime) -> bool:
    """Move a subscription to its next run, unless someone already moved or replaced it."""
    result = session.execute(
        update(DigestSubscription)
        .where(DigestSubscription.id == subscription_id, DigestSubscription.next_run_at == due_at)
        .values(next_run_at=next_run_at)
    )
    return bool(result.rowcount)


def pause(session: Session, subscription_id: int, reason: str) -> None:
    session.execute(
        update(DigestSubscription).where(DigestSubscription.id == subscription_id).values(paused_reason=reason)
    )


def claim_period(
    session: Session, subscription: DigestSubscription, period: str, due_at: dt.datetime, now: dt.datetime,
    state: str = "claimed", detail: str | None = None,
) -> DigestPost | None:  # fmt: skip
    """Insert this period's claim; None when another process (or an earlier run) holds it already."""
    post = DigestPost(
        claim_id=str(uuid.uuid4()), team_id=subscription.team_id, channel_id=subscription.channel_id,
        period=period, due_at=due_at, state=state, detail=detail, claimed_at=now,
        finished_at=now if state != "claimed" else None,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(post)
    except IntegrityError:
        return None
    return post


def claim_of(session: Session, team_id: str, channel_id: str, period: str) -> DigestPost | None:
    return session.scalar(
        select(DigestPost).where(
            DigestPost.team_id == team_id, DigestPost.channel_id == channel_id, DigestPost.period == period
        )
    )


def posted_talk_ids(session: Session, team_id: str, channel_id: str) -> list[int]:
    """Talks already posted in a channel, oldest first."""
    return list(
        session.scalars(
            select(DigestPost.talk_id)
            .where(
                DigestPost.team_id == team_id,
                DigestPost.channel_id == channel_id,
                DigestPost.state == "posted",
                DigestPost.talk_id.is_not(None),
            )
            .order_by(DigestPost.due_at, DigestPost.id)
        )
    )


def team_of_post(session: Session, channel_id: str, message_ts: str | None) -> str | None:
    """The workspace whose digest posted this message. In a Slack Connect channel people from other workspaces vote
    on it too, and their votes must steer the channel's own digest, not be filed under their workspace."""
    if not message_ts:
        return None
    return session.scalar(
        select(DigestPost.team_id).where(DigestPost.channel_id == channel_id, DigestPost.message_ts == message_ts)
    )


def record_vote(session: Session, team_id: str, channel_id: str, talk_id: int, user_id: str, vote: int) -> None:
    """One vote per person and talk; voting again replaces it."""
    existing = session.scalar(
        select(DigestFeedback).where(
            DigestFeedback.team_id == team_id,
            DigestFeedback.channel_id == channel_id,
            DigestFeedback.talk_id == talk_id,
            DigestFeedback.user_id == user_id,
        )
    )
    if existing:
        existing.vote = vote
    else:
        session.add(DigestFeedback(team_id=team_id, channel_id=channel_id, talk_id=talk_id, user_id=user_id, vote=vote))
    session.flush()


def votes_by(session: Session, team_id: str, user_id: str) -> dict[int, int]:
    """A person's votes in a workspace, in any channel or DM, newest first: 1 for a talk they gave a 👍 anywhere,
    else -1."""
    rows = session.execute(
        select(DigestFeedback.talk_id, func.max(DigestFeedback.vote))
        .where(DigestFeedback.team_id == team_id, DigestFeedback.user_id == user_id)
        .group_by(DigestFeedback.talk_id)
        .order_by(func.max(DigestFeedback.id).desc())
    )
    return {talk_id: int(vote) for talk_id, vote in rows}


def channel_votes(session: Session, team_id: str, channel_id: str) -> dict[int, int]:
    """Net votes per talk in a channel."""
    rows = session.execute(
        select(DigestFeedback.talk_id, func.sum(DigestFeedback.vote))
        .where(DigestFeedback.team_id == team_id, DigestFeedback.channel_id == channel_id)
        .group_by(DigestFeedback.talk_id)
    )
    return {talk_id: int(total) for talk_id, total in rows}
