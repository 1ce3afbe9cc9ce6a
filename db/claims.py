"""Claims: the row a process inserts before it posts to Slack, unique per what it posts (a channel's digest for a
period, a person's alert for an import), so whichever process inserts it posts and every other one stands back.

A claim is `claimed` until the post is recorded (`posted`/`sent`) or given up (`skipped`, `failed`). One left
`claimed` by a crash is taken over after its lease, once Slack's history says whether the post got through."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from db.models import DigestPost, FollowAlert

Claim = DigestPost | FollowAlert


def take_over(session: Session, claim: Claim, now: dt.datetime) -> bool:
    """Renew a stale claim for this process; False if another process renewed or finished it first."""
    model = type(claim)
    result = session.execute(
        update(model)
        .where(model.id == claim.id, model.state == "claimed", model.claimed_at == claim.claimed_at)
        .values(claimed_at=now)
    )
    return bool(result.rowcount)


def finish(session: Session, model: type[Claim], claim_id: int, state: str, now: dt.datetime, **recorded) -> None:
    """Record how a claim ended, with what was posted (`recorded`: the model's columns, e.g. message_ts)."""
    session.execute(update(model).where(model.id == claim_id).values(state=state, finished_at=now, **recorded))


def utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; talkbot stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
