"""Where the catalog lives (`DATABASE_URL`, or an embedded SQLite file in the user's data folder), and how long
talkbot waits for it.

A database that is down, or that accepts connections and never answers, must not hold talkbot's threads: every wait
is bounded (`DatabaseTimeouts`), and a request that runs out of time fails with an `OperationalError`, which every
Slack surface turns into "try again"."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from pathlib import Path

from platformdirs import user_data_path
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)

# Connections one `talkbot serve --http` process can hold at once: one per waitress request thread (16, bot/server/:
# /healthz, event receipts) and one per Bolt listener thread (5, slack_bolt's default executor: the answers). The pool
# must never be smaller: with SQLAlchemy's default 5 + 10, 200 concurrent requests on PostgreSQL left threads waiting
# for a connection (bench/load_http.py), and a wait longer than the pool timeout fails the request.
CONNECTION_HOLDERS = 16 + 5
POOL_SIZE, MAX_OVERFLOW = CONNECTION_HOLDERS, 10  # every holder keeps a warm connection; overflow is headroom
POOL_CAPACITY = POOL_SIZE + MAX_OVERFLOW
POOL = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
POOL_EXHAUSTED = "database connection pool exhausted: all %d connections in use"


class DatabaseSettingError(ValueError):
    """A database setting in the environment is not usable; the message names it."""


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long talkbot waits for its database, in seconds.

    The defaults are for people waiting in Slack: a query of ours takes milliseconds, so a database that has not
    answered within seconds is not going to, and "try again" now beats silence. Worst case for one request against a
    database that accepts connections and never answers: `reply` (the pooled connection's pre-ping) + `connect` (one
    new connection) = 6 s, and while the database stays silent only one request at a time waits for it (`Unanswered`).
    Acks never touch the database, so they are not affected."""

    connect: int = 3  # TCP, TLS and authentication of a new connection (whole seconds, at least 2: libpq's rule)
    reply: float = 3.0  # client side: any one exchange with the server (a statement and all its rows, a commit, a ping)
    statement: float = 2.0  # server side (statement_timeout), below `reply`: a slow query is cancelled, and the
    #                         connection survives, before the client gives up on it
    lock: float = 1.0  # server side (lock_timeout): waiting for a row or table lock
    pool: float = 3.0  # waiting for a free connection in the pool (it is sized so that this does not happen)
    sqlite_busy: float = 3.0  # SQLite: waiting for another writer to finish
    bulk: float = 300.0  # work that reads or writes the whole catalog on purpose: the search index's load, imports,
    #                     migrations (`bulk_timeouts`, `patient`); bounded still, so a hang ends

    ENVIRONMENT = {
        "connect": "TALKBOT_DB_CONNECT_TIMEOUT",
        "reply": "TALKBOT_DB_REPLY_TIMEOUT",
        "statement": "TALKBOT_DB_STATEMENT_TIMEOUT",
        "lock": "TALKBOT_DB_LOCK_TIMEOUT",
        "pool": "TALKBOT_DB_POOL_TIMEOUT",
        "sqlite_busy": "TALKBOT_SQLITE_BUSY_TIMEOUT",
        "bulk": "TALKBOT_DB_BULK_TIMEOUT",
    }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> DatabaseTimeouts:
        values: dict = {}
        for setting in fields(cls):
            variable = cls.ENVIRONMENT[setting.name]
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = 0.0
            if not 0 < value <= 24 * 3600:
                raise DatabaseSettingError(f"{variable} must be a number of seconds above 0, not {raw!r}")
            values[setting.name] = max(2, round(value)) if setting.name == "connect" else value
        return cls(**values)

    def for_bulk_work(self) -> DatabaseTimeouts:
        """Statements and replies may take up to `bulk` seconds; connecting and the pool stay as they are."""
        return replace(self, reply=self.bulk, statement=self.bulk, lock=self.bulk, sqlite_busy=self.bulk)


_bulk_process = False


def bulk_timeouts() -> None:
    """Give every engine this process creates from now on the bulk timeouts: for the operator's commands (import,
    migrations, export), whose statements over a whole catalog may rightly take longer than a Slack request's."""
    global _bulk_process
    _bulk_process = True


def current_timeouts() -> DatabaseTimeouts:
    timeouts = DatabaseTimeouts.from_environment()
    return timeouts.for_bulk_work() if _bulk_process else timeouts


@contextmanager
def patient(session: Session, seconds: float | None = None) -> Iterator[None]:
    """Let the work inside the block, in `session`'s transaction, take up to `seconds` (default: the bulk timeout)
    per statement, e.g. reading a million talks for the search index."""
    seconds = seconds or current_timeouts().bulk
    connection = session.connection()
    driver = connection.connection.driver_connection
    if not hasattr(driver, "reply_timeout"):  # not a PostgreSQL connection of db/postgres.py: nothing to extend
        yield
        return
    previous = driver.reply_timeout
    driver.reply_timeout = max(seconds, previous or 0)
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {round(seconds * 1000)}")  # until the transaction ends
    try:
        yield
    finally:
        driver.reply_timeout = previous


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


def make_engine(url: str, timeouts: DatabaseTimeouts | None = None) -> Engine:
    """An engine with the settings talkbot relies on: FK enforcement and WAL on SQLite, pre-ping elsewhere, and
    `timeouts` (by default from the environment) on every wait."""
    timeouts = timeouts or current_timeouts()
    pool = {**POOL, "pool_timeout": timeouts.pool}
    if is_sqlite(url):
        database = make_url(url).database
        in_memory = database in (None, "", ":memory:")  # one connection per thread, not a pool
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeouts.sqlite_busy}, **({} if in_memory else pool))
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool)
        if make_url(url).get_driver_name() == "psycopg":
            from db.postgres import bound_postgresql_waits  # psycopg only for PostgreSQL: SQLite processes start faster

            bound_postgresql_waits(engine, timeouts)
    if isinstance(engine.pool, QueuePool):
        event.listen(engine, "checkout", lambda *_: _warn_if_exhausted(engine.pool, timeouts.pool))
    return engine


def _warn_if_exhausted(pool: QueuePool, pool_timeout: float) -> None:
    """The last connection just went out: the next checkout waits for one, and fails after the pool timeout."""
    if pool.checkedout() >= POOL_CAPACITY:
        log.warning(POOL_EXHAUSTED + " (the next request waits up to %g s for one)", POOL_CAPACITY, pool_timeout)


_probing_regardless: ContextVar[bool] = ContextVar("probing_regardless", default=False)


@contextmanager
def probing_regardless() -> Iterator[None]:
    """Inside, a wait for a database that stopped answering is made even while another request is making one (which
    would otherwise fail at once: db/postgres.py `Unanswered`). For the health check alone."""
    token = _probing_regardless.set(True)
    try:
        yield
    finally:
        _probing_regardless.reset(token)


def probes_regardless() -> bool:
    return _probing_regardless.get()


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
