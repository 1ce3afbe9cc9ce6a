"""PostgreSQL connections whose every wait is bounded: imported by db/config.py only for a PostgreSQL URL, so that
a process on the embedded SQLite catalog does not load psycopg."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
from psycopg.errors import _WaitTimeout
from sqlalchemy import Engine, event

from db.config import probes_regardless

if TYPE_CHECKING:
    from db.config import DatabaseTimeouts


class Unanswered:
    """Whether the database has failed to answer in time, and not answered since. While it has not, one request at a
    time probes it (and waits its timeouts); the others fail at once instead of each waiting out the same timeouts: a
    hang would otherwise hold every thread for seconds per request, and "try again" should come fast. The first
    probe that gets an answer closes it again. Refused connections fail fast by themselves and do not trip it.

    The health check probes even while a request does (`probing_regardless` in db/config.py): turned away, it would
    report the database down for as long as its answer is reused, though the request's probe had just been answered.
    It runs in a thread of its own, one at a time, within its own deadline, so it holds no request's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tripped = False
        self._probes = 0  # waits in flight on a database that has not answered since it went silent

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around one wait for the database: raises at once while another request is probing a silent database."""
        with self._lock:
            probe = self._tripped
            if probe and self._probes and not probes_regardless():
                raise psycopg.OperationalError("the database is not answering; not waiting for it twice at once")
            self._probes += probe
        try:
            yield
        except (_WaitTimeout, psycopg.errors.ConnectionTimeout):
            with self._lock:
                self._tripped = True
            raise
        else:
            if probe:
                with self._lock:
                    self._tripped = False
        finally:
            if probe:
                with self._lock:
                    self._probes -= 1


class AnsweringConnection(psycopg.Connection):
    """A psycopg connection that gives up on a server that does not answer.

    Server-side timeouts need a server that runs them, and TCP keepalives need a peer that stops acknowledging; a
    server (or a proxy) that accepts a query and never replies defeats both. psycopg waits for every reply through
    `Connection.wait(gen, interval, timeout)`, which raises `errors._WaitTimeout` when `timeout` passes (psycopg >=
    3.2); a wait without a timeout of its own gets `reply_timeout` here. Out of time, the connection is closed (its
    state is unknown) and `OperationalError` raised: SQLAlchemy sees a closed connection, counts it as a disconnect
    and replaces the pool's connections. Waits that bring their own timeout (notifies, cancel) are left alone."""

    reply_timeout: float | None = None
    unanswered: Unanswered | None = None

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
        deadline = self.reply_timeout
        if timeout is not None or deadline is None:
            return super().wait(gen, interval, timeout)
        try:
            with self.unanswered.waiting() if self.unanswered else contextlib.nullcontext():
                return super().wait(gen, interval, deadline)
        except _WaitTimeout:
            self.close()
            raise psycopg.OperationalError(f"the database did not answer within {deadline:g} s") from None
        except psycopg.OperationalError:
            self.close()  # refused before anything was sent: closed, the pool replaces it when the database is back
            raise


def bound_postgresql_waits(engine: Engine, timeouts: DatabaseTimeouts) -> None:
    """Connect with `connect_timeout`, through `AnsweringConnection` (every reply, the pool's pre-ping included, within
    `reply`), and set statement_timeout and lock_timeout for the session before the pool hands the connection out."""

    unanswered = Unanswered()

    @event.listens_for(engine, "do_connect")
    def connect(_dialect, _record, cargs, cparams):
        cparams.setdefault("connect_timeout", timeouts.connect)
        with unanswered.waiting():
            connection = AnsweringConnection.connect(*cargs, **cparams)
        connection.reply_timeout, connection.unanswered = timeouts.reply, unanswered
        return connection

    @event.listens_for(engine, "connect")
    def set_server_timeouts(dbapi_connection, _record):
        # Outside a transaction, so that a rollback cannot undo it; one round trip per new connection.
        autocommit, dbapi_connection.autocommit = dbapi_connection.autocommit, True
        try:
            dbapi_connection.execute(
                "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                (f"{round(timeouts.statement * 1000)}ms", f"{round(timeouts.lock * 1000)}ms"),
            )
        finally:
            dbapi_connection.autocommit = autocommit
