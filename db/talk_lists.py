"""Per-user lists of talks — saved, watched — kept per workspace and user: one store for each list's table."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from db.cards import TalkCard
from db.catalog import talks_by_id
from db.models import SavedTalk, Talk, WatchedTalk


class TalkList:
    """One list's rows (`model`: a table of (team_id, user_id, talk_id), unique together), newest first by `added`."""

    def __init__(self, model: type[SavedTalk | WatchedTalk], added: InstrumentedAttribute) -> None:
        self.model, self.added = model, added

    def add(self, session: Session, team_id: str, user_id: str, talk_id: int) -> bool:
        """Put a talk on the list; False when it was there already. Raises LookupError for an unknown talk."""
        if session.get(Talk, talk_id) is None:
            raise LookupError(f"no talk with id {talk_id}")
        if talk_id in self.ids(session, team_id, user_id):
            return False
        try:
            with session.begin_nested():
                session.add(self.model(team_id=team_id, user_id=user_id, talk_id=talk_id))
        except IntegrityError:  # added at the same moment by another click or replica
            return False
        return True

    def remove(self, session: Session, team_id: str, user_id: str, talk_id: int) -> bool:
        model = self.model
        result = session.execute(
            delete(model).where(model.team_id == team_id, model.user_id == user_id, model.talk_id == talk_id)
        )
        return bool(result.rowcount)

    def ids(self, session: Session, team_id: str, user_id: str) -> list[int]:
        """Newest first."""
        model = self.model
        return list(
            session.scalars(
                select(model.talk_id)
                .where(model.team_id == team_id, model.user_id == user_id)
                .order_by(self.added.desc(), model.id.desc())
            )
        )

    def cards(self, session: Session, team_id: str, user_id: str) -> list[TalkCard]:
        ids = self.ids(session, team_id, user_id)
        talks = talks_by_id(session, ids)
        return [TalkCard.of(talks[talk_id]) for talk_id in ids if talk_id in talks]


SAVED = TalkList(SavedTalk, SavedTalk.saved_at)
WATCHED = TalkList(WatchedTalk, WatchedTalk.watched_at)
