"""What talkbot keeps per Slack workspace, and what happens to it when the workspace removes or re-adds the app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.models import (
    AlertedTalk,
    DigestFeedback,
    DigestPost,
    DigestSubscription,
    Follow,
    FollowAlert,
    SavedTalk,
    WatchedTalk,
)  # fmt: skip

# Why a workspace's digests pause: its bot token was revoked, or the clock found no installation for it.
TOKEN_REVOKED = "token_revoked"
NOT_INSTALLED = "not_installed"
# Pause reasons a reinstall fixes (with the Slack errors that mean the same): the app lost its access, not the
# channel its bot.
LOST_ACCESS = (TOKEN_REVOKED, NOT_INSTALLED, "account_inactive", "invalid_auth")


def forget_workspace(session: Session, team_id: str) -> None:
    """The app was uninstalled: drop everything its people created there (saved and watched talks, channel digests
    and For you DMs, votes, follows and the alerts sent for them, history). Event receipts stay until they expire;
    they name no person and guard against Slack's redeliveries."""
    owned = (SavedTalk, WatchedTalk, DigestFeedback, DigestPost, DigestSubscription, AlertedTalk, FollowAlert, Follow)
    for table in owned:
        session.execute(delete(table).where(table.team_id == team_id))


def pause_workspace_digests(session: Session, team_id: str) -> int:
    """The bot token was revoked: no digest can be posted until the workspace reinstalls."""
    result = session.execute(
        update(DigestSubscription)
        .where(DigestSubscription.team_id == team_id, DigestSubscription.paused_reason.is_(None))
        .values(paused_reason=TOKEN_REVOKED)
    )
    return result.rowcount


def resume_workspace_digests(
    session: Session, team_id: str, next_due: Callable[[DigestSubscription], dt.datetime]
) -> int:
    """After a reinstall, digests paused for lost access run again from their next due time (none are back-filled)."""
    paused = session.scalars(
        select(DigestSubscription).where(
            DigestSubscription.team_id == team_id, DigestSubscription.paused_reason.in_(LOST_ACCESS)
        )
    ).all()
    for subscription in paused:
        subscription.paused_reason, subscription.next_run_at = None, next_due(subscription)
    return len(paused)
