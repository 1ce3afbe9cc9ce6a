"""Where the catalog lives: `DATABASE_URL`, or an embedded SQLite file in the user's data folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from platformdirs import user_data_path
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)

# Connections one `talkbot serve --http` process can hold at once: one per waitress request thread (16, bot/server.py:
# /healthz, event receipts) and one per Bolt listener thread (5, slack_bolt's default executor: the answers). The pool
# must never be smaller: with SQLAlchemy's default 5 + 10, 200 concurrent requests on PostgreSQL left threads waiting
# for a connection (bench/load_http.py), and a wait longer than pool_timeout (30 s) fails the request.
CONNECTION_HOLDERS = 16 + 5
POOL_SIZE, MAX_OVERFLOW = CONNECTION_HOLDERS, 10  # every holder keeps a warm connection; overflow is headroom
POOL_CAPACITY = POOL_SIZE + MAX_OVERFLOW
POOL = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
POOL_EXHAUSTED = "database connection pool exhausted: all %d connections in use"


def default_sqlite_path() -> Path:
    """The embedded catalog file, in the per-user data folder (e.g. ~/.local/share/talkbot)."""
    return user_data_path("talkbot") / "catalog.sqlite3"


def database_url() -> str:
    """The configured database URL (see normalized_url), or the embedded SQLite file."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return normalized_url(url) if url else f"sqlite:///{default_sqlite_path()}"


def normalized_url(url: str) -> str:
    """`postgres://` and `postgresql://` as SQLAlchemy with psycopg 3 spells them; other URLs unchanged."""
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
        in_memory = database in (None, "", ":memory:")  # one connection per thread, not a pool
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **({} if in_memory else POOL))
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    else:
        engine = create_engine(url, pool_pre_ping=True, **POOL)
    if isinstance(engine.pool, QueuePool):
        event.listen(engine, "checkout", lambda *_: _warn_if_exhausted(engine.pool))
    return engine


def _warn_if_exhausted(pool: QueuePool) -> None:
    """The last connection just went out: the next checkout waits for one, and fails after pool_timeout (30 s)."""
    if pool.checkedout() >= POOL_CAPACITY:
        log.warning(POOL_EXHAUSTED, POOL_CAPACITY)


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
