"""Talks users saved for later, per workspace and user."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.cards import TalkCard
from db.catalog import talks_by_id
from db.models import SavedTalk, Talk


def save_talk(session: Session, team_id: str, user_id: str, talk_id: int) -> bool:
    """Save a talk; False when it was saved already. Raises LookupError for an unknown talk."""
    if session.get(Talk, talk_id) is None:
        raise LookupError(f"no talk with id {talk_id}")
    if talk_id in saved_talk_ids(session, team_id, user_id):
        return False
    try:
        with session.begin_nested():
            session.add(SavedTalk(team_id=team_id, user_id=user_id, talk_id=talk_id))
    except IntegrityError:  # saved at the same moment by another click or replica
        return False
    return True


def remove_saved_talk(session: Session, team_id: str, user_id: str, talk_id: int) -> bool:
    result = session.execute(
        delete(SavedTalk).where(
            SavedTalk.team_id == team_id, SavedTalk.user_id == user_id, SavedTalk.talk_id == talk_id
        )
    )
    return bool(result.rowcount)


def saved_talk_ids(session: Session, team_id: str, user_id: str) -> list[int]:
    """Newest first."""
    return list(
        session.scalars(
            select(SavedTalk.talk_id)
            .where(SavedTalk.team_id == team_id, SavedTalk.user_id == user_id)
            .order_by(SavedTalk.saved_at.desc(), SavedTalk.id.desc())
        )
    )


def saved_cards(session: Session, team_id: str, user_id: str) -> list[TalkCard]:
    ids = saved_talk_ids(session, team_id, user_id)
    talks = talks_by_id(session, ids)
    return [TalkCard.of(talks[talk_id]) for talk_id in ids if talk_id in talks]
