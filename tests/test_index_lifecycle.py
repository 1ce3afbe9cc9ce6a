"""The search index's life (db/search/lifecycle.py): searches never wait for a build once an index exists, the next
index is built in the background and swapped in whole, a failed build keeps the previous index and is retried, and a
catalog change made by another process is searchable within seconds though nobody searches meanwhile."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path

import pytest
from sqlalchemy import select

from db.catalog import catalog_revision
from db.catalog_import import import_records
from db.config import sessions_for
from db.models import Talk
from db.records import EventRecord, SpeakerRecord, TalkRecord
from db.search.engine import SearchEngine
from db.search.lifecycle import Indexes, build_indexes
from db.setup import seed_catalog
from tests.support.slack_server import wait_for
from tests.talkbot_cli import talkbot as talkbot_process

REPLICA_BOUND = 5.0  # seconds: the most a catalog change may take to be searchable in every running process


@pytest.fixture
def catalog(migrated_database) -> str:
    seed_catalog(migrated_database)
    return migrated_database


def talk(external_id: str, title: str) -> TalkRecord:
    return TalkRecord(
        source="test",
        external_id=external_id,
        title=title,
        speakers=(SpeakerRecord("Zoe Example"),),
        event=EventRecord(series="DemoConf", year=2024, name="DemoConf 2024"),
    )


def import_here(url: str, *records: TalkRecord, prune: bool = False) -> None:
    with sessions_for(url).begin() as session:
        import_records(session, records, prune=prune)


def titles(engine: SearchEngine, query: str) -> list[str]:
    return [card.title for card in engine.search(query, limit=10).cards]


class GatedBuilds:
    """A build for the engine's `build` seam: the real one, but every build after the first waits for `gate`."""

    def __init__(self, failures: int = 0) -> None:
        self.gate = threading.Event()
        self.started: list[int] = []  # the revision each background build was asked for
        self.finished: list[int] = []
        self.failures = failures  # so many background builds fail before any succeeds

    def __call__(self, session, revision: int, vectors: int, previous: Indexes | None) -> Indexes:
        if previous is not None:
            self.started.append(revision)
            if self.failures:
                self.failures -= 1
                raise RuntimeError("the build broke")
            assert self.gate.wait(60), "the test never opened the gate"
        built = build_indexes(session, revision, vectors, previous, semantic=False)
        self.finished.append(revision)
        return built


def test_a_search_during_a_background_build_answers_from_the_current_index_at_once(catalog):
    builds = GatedBuilds()
    engine = SearchEngine(sessions_for(catalog), semantic=False, build=builds)
    assert titles(engine, "zanzibarian") == []  # the first build: nothing to answer from yet, so it blocks
    before = engine.revision

    import_here(catalog, talk("z", "The zanzibarian keynote"))
    assert titles(engine, "zanzibarian") == []  # the build it started is blocked on the gate: the old index answered
    wait_for(lambda: builds.started)
    assert titles(engine, "kafka")  # another search meanwhile, also at once
    assert engine.revision == before and len(builds.finished) == 1  # the next index is still being built
    assert len(builds.started) == 1  # one build, however many searches noticed the change

    builds.gate.set()
    assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]
    assert engine.revision == before + 1
    assert builds.started == [before + 1]


def test_a_failed_build_keeps_the_current_index_and_the_next_check_retries(catalog, caplog):
    builds = GatedBuilds(failures=1)
    builds.gate.set()
    engine = SearchEngine(sessions_for(catalog), semantic=False, build=builds, poll_every=0.05)
    assert titles(engine, "kafka")

    import_here(catalog, talk("z", "The zanzibarian keynote"))
    assert titles(engine, "zanzibarian") == []  # starts the build that fails
    wait_for(lambda: "building the search index failed" in caplog.text)
    assert titles(engine, "kafka")  # searches go on with the index they had

    assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]  # a later search retried
    assert len(builds.started) == 2


def test_a_watching_engine_keeps_its_index_out_of_full_collections_and_frees_the_one_replaced(catalog):
    """A full collection walks every container object of the process (45-58 ms with a 100k-talk index in memory): a
    server's indexes are left out of them, and an index replaced is freed at once, by reference counting alone, so
    leaving it out of collections never keeps it."""
    engine = SearchEngine(sessions_for(catalog), semantic=False, poll_every=0.05)
    engine.warm_up()
    with sessions_for(catalog)() as session:
        replaced = weakref.ref(engine.index(session))
    engine.watch_catalog()
    try:
        assert gc.get_freeze_count() > 0
        import_here(catalog, talk("z", "The zanzibarian keynote"))
        assert wait_for(lambda: titles(engine, "zanzibarian")) == ["The zanzibarian keynote"]
        # The build thread lets go of the old index once it has swapped the new one in; frozen, only reference
        # counting can free it before stop_watching.
        assert wait_for(lambda: replaced() is None, timeout=5)
    finally:
        engine.stop_watching()
    assert gc.get_freeze_count() == 0  # not watching any more: everything is the collector's again


def test_matching_for_follow_alerts_sees_talks_imported_a_moment_ago(catalog):
    engine = SearchEngine(sessions_for(catalog), semantic=False)
    engine.warm_up()

    import_here(catalog, talk("z", "The zanzibarian keynote"))
    with sessions_for(catalog)() as session:
        new_id = session.scalar(select(Talk.id).where(Talk.title == "The zanzibarian keynote"))

    assert engine.matching("zanzibarian", [new_id]) == [new_id]  # waited for the build: alerts miss no new talk


def test_an_import_in_another_process_is_searchable_within_seconds_though_nobody_searches(catalog, tmp_path):
    engine = SearchEngine(sessions_for(catalog), semantic=False)
    engine.warm_up()
    engine.watch_catalog()
    try:
        program = Path(tmp_path / "late.csv")
        program.write_text("id,title,speakers,event,year\nz,The zanzibarian keynote,Zoe,DemoConf,2024\n")
        assert talkbot_process("import", str(program), database_url=catalog).returncode == 0  # another process
        imported = time.monotonic()
        with sessions_for(catalog)() as session:
            revision = catalog_revision(session)

        wait_for(lambda: engine.revision == revision, timeout=REPLICA_BOUND)  # no search: the watcher noticed
        assert time.monotonic() - imported < REPLICA_BOUND
        assert titles(engine, "zanzibarian") == ["The zanzibarian keynote"]
    finally:
        engine.stop_watching()
