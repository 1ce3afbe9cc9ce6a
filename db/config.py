"""Where the catalog lives: `DATABASE_URL`, or an embedded SQLite file in the user's data folder."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def default_sqlite_path() -> Path:
    """The embedded catalog file, in the per-user data folder (e.g. ~/.local/share/talkbot)."""
    return user_data_path("talkbot") / "catalog.sqlite3"


def database_url() -> str:
    """The configured database URL; a plain `postgresql://` URL is taken to mean psycopg 3."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{default_sqlite_path()}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine with the settings talkbot relies on: FK enforcement and WAL on SQLite, pre-ping elsewhere."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return create_engine(url, pool_pre_ping=True)


_engines: dict[str, Engine] = {}
_sessions: dict[str, sessionmaker[Session]] = {}


def engine_for(url: str) -> Engine:
    """The process's one engine (and connection pool) per database."""
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def sessions_for(url: str) -> sessionmaker[Session]:
    """One session factory per database; callers open a session per unit of work."""
    if url not in _sessions:
        _sessions[url] = sessionmaker(engine_for(url), expire_on_commit=False)
    return _sessions[url]


def dispose_engine(url: str) -> None:
    """Close the pool of a database this process is done with."""
    _sessions.pop(url, None)
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
