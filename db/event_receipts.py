"""Exactly-once handling of Slack Events API deliveries, across retries and replicas."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import SlackEventReceipt

# Slack retries a delivery three times within minutes; receipts older than this are no longer needed.
KEEP_RECEIPTS = dt.timedelta(hours=6)


def claim_event(session: Session, event_id: str, team_id: str | None) -> bool:
    """Record that this process handles `event_id`; False if any process already did (the primary key decides)."""
    try:
        with session.begin_nested():
            session.add(SlackEventReceipt(event_id=event_id, team_id=team_id))
    except IntegrityError:
        return False
    cutoff = dt.datetime.now(dt.UTC) - KEEP_RECEIPTS
    session.execute(delete(SlackEventReceipt).where(SlackEventReceipt.received_at < cutoff))
    return True
