"""Full rebuilds of the search index in a worker process (db/search/build_worker.py): the index it saves is swapped in
and answers exactly as one built in the thread; a worker that dies or hangs costs that build only (the previous index
keeps answering, the retry builds in the thread); no worker outlives its engine's stop or its parent; a catalog with
no file of its own is rebuilt in the thread as before."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from db.catalog import bump_revision
from db.catalog_import import import_records
from db.config import sessions_for
from db.records import TalkRecord
from db.search.build_worker import BuildWorker
from db.search.engine import SearchEngine
from db.search.lifecycle import build_lexical
from db.setup import seed_catalog
from tests.support.slack_server import wait_for
from tests.test_incremental_index import assert_same_index
from tests.test_index_lifecycle import import_here, talk, titles
from tests.test_snapshots import answers, memory_mapped

ZANZIBARIAN = dataclasses.replace(
    talk("z", "The zanzibarian keynote"), duration_minutes=50, language="de", recorded_on=dt.date(2024, 5, 2)
)
SQLITE_ONLY = pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)


@pytest.fixture
def catalog(migrated_database) -> str:
    seed_catalog(migrated_database)
    return migrated_database


def import_in_bulk(url: str, *records: TalkRecord) -> int:
    """An import the catalog's change log does not name talk by talk (as one of over LOGGED_TALKS talks): the next
    build is a full one, not an update of the index at hand. The catalog's revision after it."""
    with sessions_for(url).begin() as session:
        import_records(session, records)
        return bump_revision(session, None)


def engine_with(url: str, worker: BuildWorker) -> SearchEngine:
    """An engine of the catalog whose full rebuilds `worker` makes, the seed catalog being large enough."""
    engine = SearchEngine(sessions_for(url), semantic=False, poll_every=0.05, worker=worker)
    engine.warm_up()  # the first build: in the thread, as there is nothing to answer from yet
    return engine


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped by whoever adopted it, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_rebuild_made_by_the_worker_is_swapped_in_and_answers_as_one_made_in_the_thread(catalog):
    worker = BuildWorker(from_talks=0)
    engine = engine_with(catalog, worker)

    import_in_bulk(catalog, ZANZIBARIAN)
    assert titles(engine, "zanzibarian") == []  # the previous index answers at once while the worker builds

    assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]
    assert worker.runs == 1
    with sessions_for(catalog)() as session:
        from_the_worker = engine.index(session)
        built_here = build_lexical(session)
    assert memory_mapped(from_the_worker.posting_docs)  # the snapshot the worker saved, not a build in this process
    assert answers(from_the_worker) == answers(built_here)
    assert_same_index(from_the_worker, built_here)  # the talks' lengths, languages and dates too


@SQLITE_ONLY
def test_an_index_the_worker_built_is_updated_in_the_thread_by_a_small_import(catalog):
    worker = BuildWorker(from_talks=0)
    engine = engine_with(catalog, worker)
    import_in_bulk(catalog, ZANZIBARIAN)
    wait_for(lambda: titles(engine, "zanzibarian"))

    import_here(catalog, talk("q", "Quokka pipelines"))  # the change log names it: an update, no worker

    assert wait_for(lambda: titles(engine, "quokka")) == ["Quokka pipelines"]
    assert titles(engine, "zanzibarian") == ["The zanzibarian keynote"]
    assert worker.runs == 1


@SQLITE_ONLY
def test_a_killed_worker_leaves_the_previous_index_answering_and_the_retry_builds_in_the_thread(catalog, caplog):
    worker = BuildWorker(from_talks=0)
    engine = engine_with(catalog, worker)
    before = engine.revision

    revision = import_in_bulk(catalog, ZANZIBARIAN)
    assert titles(engine, "zanzibarian") == []  # starts the build in a worker
    os.kill(wait_for(lambda: worker.pid), signal.SIGKILL)

    wait_for(lambda: "it exited with status -9" in caplog.text)
    assert "building the search index failed" in caplog.text
    assert engine.revision == before and titles(engine, "kafka")  # searches go on with the index they had

    assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]  # the retry
    assert engine.revision == revision
    assert worker.runs == 1  # the retry was built in the thread


@SQLITE_ONLY
def test_a_worker_out_of_time_is_killed_and_the_retry_builds_in_the_thread(catalog, caplog):
    worker = BuildWorker(from_talks=0, timeout=0.05)  # less than the worker's interpreter takes to start
    engine = engine_with(catalog, worker)

    import_in_bulk(catalog, ZANZIBARIAN)

    assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]
    assert "it had not finished after 0.05 s and was killed" in caplog.text
    assert worker.runs == 1 and worker.pid is None


@SQLITE_ONLY
def test_a_worker_that_cannot_be_started_fails_that_build_and_the_retry_builds_in_the_thread(
    catalog, caplog, monkeypatch, tmp_path
):
    worker = BuildWorker(from_talks=0)
    engine = engine_with(catalog, worker)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "upgraded-away" / "python"))

    import_in_bulk(catalog, ZANZIBARIAN)

    assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]
    assert "the search index's build worker could not be started" in caplog.text
    assert worker.runs == 0


@SQLITE_ONLY
def test_after_a_failed_worker_the_next_full_build_is_tried_in_a_worker_again(catalog, caplog):
    worker = BuildWorker(from_talks=0)
    engine = engine_with(catalog, worker)
    import_in_bulk(catalog, ZANZIBARIAN)
    titles(engine, "zanzibarian")
    os.kill(wait_for(lambda: worker.pid), signal.SIGKILL)
    wait_for(lambda: titles(engine, "zanzibarian"))  # retried in the thread

    import_in_bulk(catalog, talk("q", "Quokka pipelines"))

    assert wait_for(lambda: titles(engine, "quokka")) == ["Quokka pipelines"]
    assert worker.runs == 2


def test_no_worker_is_left_running_after_the_engine_stops_watching(catalog):
    worker = BuildWorker(from_talks=0)
    engine = engine_with(catalog, worker)
    engine.watch_catalog()
    import_in_bulk(catalog, ZANZIBARIAN)
    pid = wait_for(lambda: worker.pid)  # the watcher saw the change and started a worker

    engine.stop_watching()

    assert not alive(pid)
    assert titles(engine, "kafka")  # the engine still answers


PARENT = """
import sys
from db.config import sessions_for
from db.search.build_worker import BuildWorker
from db.search.engine import SearchEngine
from tests.support.slack_server import wait_for
from tests.test_build_worker import import_in_bulk
from tests.test_incremental_index import assert_same_index
from tests.test_index_lifecycle import talk

url = sys.argv[1]
worker = BuildWorker(from_talks=0)
engine = SearchEngine(sessions_for(url), semantic=False, worker=worker)
engine.warm_up()
import_in_bulk(url, talk("z", "The zanzibarian keynote"))
engine.search("zanzibarian")
print(wait_for(lambda: worker.pid), flush=True)
sys.stdin.readline()  # until told to exit
"""


@SQLITE_ONLY
@pytest.mark.parametrize("ending", ["exits", "is killed"])
def test_a_worker_does_not_outlive_its_parent(catalog, ending):
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, catalog], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=environment,
    )  # fmt: skip
    try:
        pid = int(parent.stdout.readline())
        assert alive(pid)
        if ending == "exits":
            parent.communicate("exit\n", timeout=30)  # its exit handlers kill the worker
            assert parent.returncode == 0
        else:
            parent.kill()  # no exit handler runs: the worker notices it was left
        wait_for(lambda: not alive(pid), timeout=5)
    finally:
        parent.kill()
        parent.wait()


@SQLITE_ONLY
def test_a_catalog_with_no_file_of_its_own_is_rebuilt_in_the_thread(catalog):
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    with closing(sqlite3.connect(make_url(catalog).database)) as seeded:
        seeded.backup(memory)  # the seed catalog, in memory
    sessions = sessionmaker(create_engine("sqlite://", creator=lambda: memory, poolclass=StaticPool))
    worker = BuildWorker(from_talks=0)
    engine = SearchEngine(sessions, semantic=False, worker=worker)
    engine.warm_up()
    with sessions.begin() as session:
        import_records(session, [ZANZIBARIAN])
        bump_revision(session, None)  # a full build: see import_in_bulk

    engine.catch_up()  # a full build while searches could answer from the previous index

    assert titles(engine, "zanzibarian") == ["The zanzibarian keynote"]
    assert worker.runs == 0


def test_a_catalog_smaller_than_the_worker_pays_for_is_rebuilt_in_the_thread(catalog):
    worker = BuildWorker()  # the seed catalog's 64 talks index in milliseconds, a worker starts in most of a second
    engine = engine_with(catalog, worker)
    import_in_bulk(catalog, ZANZIBARIAN)

    engine.catch_up()

    assert titles(engine, "zanzibarian") == ["The zanzibarian keynote"]
    assert worker.runs == 0
