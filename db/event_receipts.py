"""Exactly-once handling of what Slack delivers, across retries, replays and replicas.

Events carry an `event_id` that Slack keeps when it retries; commands and button clicks carry a `trigger_id`, unique
per interaction, which a replayed request repeats (a signed request stays valid for five minutes)."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import SlackEventReceipt

# Slack retries a delivery three times within minutes; receipts older than this are no longer needed.
KEEP_RECEIPTS = dt.timedelta(hours=6)


RECEIPT_KEY_LENGTH = SlackEventReceipt.__table__.c.event_id.type.length
TEAM_ID_LENGTH = SlackEventReceipt.__table__.c.team_id.type.length


def receipt_key(delivery_id: str) -> str:
    """The key a delivery is claimed under: the id itself, or for an id longer than the column a digest of it (the
    database must never be the one to find out that a value does not fit)."""
    if len(delivery_id) <= RECEIPT_KEY_LENGTH:
        return delivery_id
    return hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()[:RECEIPT_KEY_LENGTH]


def claim_event(session: Session, delivery_id: str, team_id: str | None) -> bool:
    """Record that this process handles the delivery; False if any process already did (the primary key decides)."""
    team_id = team_id if team_id and len(team_id) <= TEAM_ID_LENGTH else None  # only a note of whose it was
    try:
        with session.begin_nested():
            session.add(SlackEventReceipt(event_id=receipt_key(delivery_id), team_id=team_id))
    except IntegrityError:
        return False
    cutoff = dt.datetime.now(dt.UTC) - KEEP_RECEIPTS
    session.execute(delete(SlackEventReceipt).where(SlackEventReceipt.received_at < cutoff))
    return True
