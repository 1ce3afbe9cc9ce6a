"""/healthz: whether the database answers reads and takes writes, within a deadline whatever it does."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.config import probing_regardless
from db.models import SlackEventReceipt

log = logging.getLogger(__name__)

# A write that changes nothing and is rolled back, to the table every event is claimed in: it fails on a read-only
# SQLite file, a read-only PostgreSQL (a replica, default_transaction_read_only) or waits on a lock on that table.
WRITE_PROBE = text(f"UPDATE {SlackEventReceipt.__tablename__} SET team_id = team_id WHERE 1 = 0")


def database_health(sessions: sessionmaker[Session]) -> tuple[bool, str]:
    """(healthy, "ok" | "unavailable" | "writes failing"): nothing else, so the endpoint tells no one about versions,
    hosts or errors. "unavailable": no answer to a read; "writes failing": reads work, a write does not. Bounded by
    the database timeouts (db/config.py); `HealthCheck` bounds it again, by its own deadline. It asks the database
    itself even while a request is probing one that stopped answering (`probing_regardless`), so that its answer
    turns healthy as soon as the database answers again, not a reuse period later."""
    failure = "unavailable"
    try:
        with probing_regardless(), sessions() as session:
            session.execute(text("SELECT 1"))
            failure = "writes failing"
            session.execute(WRITE_PROBE)
            session.rollback()
    except SQLAlchemyError as error:
        log.warning("health check: database %s: %s", failure, type(error).__name__)
        return False, failure
    return True, "ok"


HEALTH_FRESH_FOR = 1.0  # seconds a finished check's result answers /healthz, so a flood of probes costs one check


@dataclass
class _Check:
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, str] = (False, "unavailable")


class HealthCheck:
    """/healthz's answer within `deadline` seconds, and at most one database check in flight per process.

    A probe waits for the check in flight (starting one if none is) until that check's deadline, then answers
    (False, "timeout"); a probe arriving after the deadline of a check still running answers at once, so a database
    that hangs costs each probe no more than the deadline and the database no more than one check. A finished check's
    result is reused for `fresh_for` seconds: a flood of probes costs the database one check a second."""

    def __init__(self, check: Callable[[], tuple[bool, str]], deadline: float, fresh_for: float = HEALTH_FRESH_FOR):
        self._check, self.deadline, self.fresh_for = check, deadline, fresh_for
        self._lock = threading.Lock()
        self._running: _Check | None = None
        self._last: tuple[float, tuple[bool, str]] | None = None  # (finished at, result)

    def __call__(self) -> tuple[bool, str]:
        with self._lock:
            now = time.monotonic()
            if self._last and now - self._last[0] < self.fresh_for:
                return self._last[1]
            if self._running is None:
                self._running = _Check(started=now)
                threading.Thread(target=self._run, args=(self._running,), name="talkbot-health", daemon=True).start()
            check = self._running
        if check.done.wait(max(0.0, check.started + self.deadline - time.monotonic())):
            return check.result
        return False, "timeout"

    def _run(self, check: _Check) -> None:
        try:
            check.result = self._check()
        except Exception:  # a bug in the check must not leave it "in flight" for ever
            log.exception("health check failed")
        with self._lock:
            self._last, self._running = (time.monotonic(), check.result), None
        check.done.set()
