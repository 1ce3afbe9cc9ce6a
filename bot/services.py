"""What listeners are handed, built once per process: settings, database sessions, the search engine, the answer
layers and, in OAuth mode, the installation store. Nothing reaches the database through the search engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import Answers
from bot.config import SlackSettings
from bot.digest.commands import DigestCommands
from bot.digest.for_you import ForYouCommands
from bot.follows.commands import FollowCommands
from bot.installations import Installations
from db.config import engine_for, sessions_for
from db.search.engine import SearchEngine


@dataclass(frozen=True)
class Services:
    settings: SlackSettings
    sessions: sessionmaker[Session]
    search: SearchEngine
    answers: Answers
    digests: DigestCommands
    for_you: ForYouCommands  # `/talk foryou weekly|stop`
    follows: FollowCommands
    installations: Installations | None  # OAuth mode only: token mode has one bot token, in the settings


def build_services(
    settings: SlackSettings, database_url: str, search: SearchEngine | None = None, database: Engine | None = None
) -> Services:
    """`search`: an engine already built (and warmed up) for this database, else a new one. `database`: an engine of
    the caller's own for that URL (a test acting as a separate server process), else the process's shared one."""
    sessions = sessionmaker(database, expire_on_commit=False) if database else sessions_for(database_url)
    search = search or SearchEngine(sessions)
    installations = Installations(settings, database or engine_for(database_url)) if settings.uses_oauth else None
    return Services(
        settings=settings, sessions=sessions, search=search, answers=Answers(sessions, search),
        digests=DigestCommands(sessions, search), for_you=ForYouCommands(sessions),
        follows=FollowCommands(sessions, search),
        installations=installations,
    )  # fmt: skip
