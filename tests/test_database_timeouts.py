"""Every wait on the database is bounded (db/config.py), on the real PostgreSQL and SQLite.

A slow statement is cancelled by the server, a lock is waited for only so long, a reply that never comes is given up
on by the client, and the work that reads the whole catalog on purpose may take longer. tests/test_hanging_database.py
shows the same through `talkbot serve --http` with a database that never answers."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.errors import _WaitTimeout
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from db.config import POOL_CAPACITY, DatabaseSettingError, DatabaseTimeouts, make_engine, patient, probing_regardless
from db.migrate import upgrade
from db.postgres import Unanswered

QUICK = DatabaseTimeouts(reply=1.0, statement=0.6, lock=0.3, sqlite_busy=0.3, bulk=5.0)


@pytest.fixture
def postgres(empty_postgres_database) -> Iterator[Engine]:
    upgrade(empty_postgres_database)
    engine = make_engine(empty_postgres_database, QUICK)
    yield engine
    engine.dispose()


def timed(work) -> tuple[float, Exception | None]:
    start = time.monotonic()
    try:
        work()
    except OperationalError as error:
        return time.monotonic() - start, error
    return time.monotonic() - start, None


def test_statement_and_lock_timeouts_are_set_on_every_connection_and_outlive_a_rollback(postgres):
    for _ in range(2):
        with postgres.connect() as connection:
            settings = connection.execute(text("SELECT current_setting('statement_timeout'), "
                                               "current_setting('lock_timeout')")).one()  # fmt: skip
            connection.rollback()
        assert tuple(settings) == ("600ms", "300ms")


def test_a_slow_statement_is_cancelled_by_the_server_and_its_connection_stays_usable(postgres):
    with postgres.connect() as connection:
        seconds, error = timed(lambda: connection.execute(text("SELECT pg_sleep(3)")))
        assert error is not None and "statement timeout" in str(error)
        assert QUICK.statement <= seconds < QUICK.reply
        connection.rollback()
        assert connection.execute(text("SELECT 1")).scalar() == 1  # the server cancelled it: nothing was closed


def test_a_lock_is_waited_for_only_as_long_as_the_lock_timeout(postgres):
    with postgres.connect() as holder, postgres.connect() as waiter:
        holder.execute(text("LOCK TABLE talks IN ACCESS EXCLUSIVE MODE"))
        seconds, error = timed(lambda: waiter.execute(text("SELECT count(*) FROM talks")))
        assert error is not None and "lock timeout" in str(error)
        assert QUICK.lock <= seconds < QUICK.reply


def test_a_reply_that_never_comes_is_given_up_on_by_the_client_and_the_pool_recovers(empty_postgres_database):
    """Server-side timeouts are off here (as when a proxy in between swallows the reply): the client's own deadline
    is what ends the wait. The connection is closed; the next checkout gets a new one."""
    engine = make_engine(empty_postgres_database, DatabaseTimeouts(reply=0.5, statement=60))
    try:
        with engine.connect() as connection:
            seconds, error = timed(lambda: connection.execute(text("SELECT pg_sleep(2)")))
        assert error is not None and "the database did not answer within 0.5 s" in str(error)
        assert 0.5 <= seconds < 1.5
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_work_over_the_whole_catalog_may_take_the_bulk_timeout_and_only_inside_its_block(postgres):
    with Session(postgres) as session:
        with patient(session):
            assert session.execute(text("SELECT pg_sleep(1.2)")).scalar() == ""  # over reply and statement timeouts
        session.commit()
        seconds, error = timed(lambda: session.execute(text("SELECT pg_sleep(1.2)")))
        assert error is not None and seconds < QUICK.reply + 0.5


def test_sqlite_waits_for_another_writer_only_as_long_as_the_busy_timeout(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    engine = make_engine(url, QUICK)
    try:
        with engine.begin() as setup:
            setup.execute(text("CREATE TABLE notes (body TEXT)"))
        with engine.connect() as holder, engine.connect() as waiter:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            holder.execute(text("INSERT INTO notes VALUES ('held')"))
            seconds, error = timed(lambda: waiter.execute(text("INSERT INTO notes VALUES ('waits')")))
            holder.rollback()
        assert error is not None and "locked" in str(error)
        assert QUICK.sqlite_busy <= seconds < 2
    finally:
        engine.dispose()


def test_the_pool_is_waited_for_only_as_long_as_the_pool_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}", DatabaseTimeouts(pool=0.2))
    held = []
    try:
        held = [engine.connect() for _ in range(POOL_CAPACITY)]
        start = time.monotonic()
        with pytest.raises(PoolTimeout):
            engine.connect()
        assert 0.2 <= time.monotonic() - start < 1.5
    finally:
        for connection in held:
            connection.close()
        engine.dispose()


def test_timeouts_come_from_the_environment_and_bad_values_name_their_variable():
    timeouts = DatabaseTimeouts.from_environment({"TALKBOT_DB_REPLY_TIMEOUT": "4.5", "TALKBOT_DB_CONNECT_TIMEOUT": "1"})
    assert (timeouts.reply, timeouts.connect, timeouts.statement) == (4.5, 2, DatabaseTimeouts.statement)  # libpq: >= 2
    for variable, value in (("TALKBOT_DB_STATEMENT_TIMEOUT", "2s"), ("TALKBOT_SQLITE_BUSY_TIMEOUT", "-1")):
        with pytest.raises(DatabaseSettingError, match=re.escape(variable)):
            DatabaseTimeouts.from_environment({variable: value})


def test_while_the_database_is_silent_one_request_waits_for_it_and_the_others_fail_at_once():
    """After a wait ran out, a hang would otherwise cost every request the full timeouts; the first probe that is
    answered lets everyone wait again."""
    unanswered = Unanswered()
    with pytest.raises(_WaitTimeout), unanswered.waiting():
        raise _WaitTimeout()
    probing, answer = threading.Event(), threading.Event()

    def probe() -> None:
        with unanswered.waiting():
            probing.set()
            answer.wait(5)

    prober = threading.Thread(target=probe)
    prober.start()
    probing.wait(5)
    with pytest.raises(psycopg.OperationalError, match="not answering"), unanswered.waiting():
        pass
    answer.set()
    prober.join()
    for _ in range(2):  # answered: nobody is turned away any more, however many wait at once
        with unanswered.waiting(), unanswered.waiting():
            pass


def test_the_health_check_probes_a_silent_database_even_while_a_request_does():
    """Turned away like a request, /healthz would say "unavailable" for its whole reuse period although the database
    had answered the request's probe meanwhile."""
    unanswered = Unanswered()
    with pytest.raises(_WaitTimeout), unanswered.waiting():
        raise _WaitTimeout()
    with unanswered.waiting():  # a request's probe, in flight
        with pytest.raises(psycopg.OperationalError, match="not answering"), unanswered.waiting():
            pass
        with probing_regardless(), unanswered.waiting():
            pass  # the health check's own probe, answered
    with unanswered.waiting(), unanswered.waiting():  # answered: closed again for everyone
        pass
