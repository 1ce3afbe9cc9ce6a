"""Saved search indexes (db/search/snapshot.py): a process searches from a snapshot exactly as from a fresh build, and
never from one of another revision, another catalog, another format, or a damaged one."""

import contextlib
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from bench.search import QUERIES
from db.catalog_import import import_records
from db.config import dispose_engine, sessions_for
from db.importers import read_catalog_file
from db.migrate import upgrade
from db.search.engine import SearchEngine
from db.search.index import CatalogIndex, TalkText, load_talk_texts
from db.search.query import parse_query
from db.search.ranking import rank
from db.search.snapshot import (
    INDEX_DIR_VARIABLE,
    KEEP,
    MANIFEST,
    cached_index,
    catalog_state,
    load_snapshot,
    save_snapshot,
    snapshot_directory,
)
from db.search.vocabulary import default_vocabulary
from db.setup import SEED_FILE, seed_catalog
from tests.conftest import POSTGRES_URL, database_url_of
from tests.support.databases import private_schema
from tests.test_search import talk

IDENTITY = "0123456789abcdef0123456789abcdef@7@2026-11-27T10:00:00"
MORE_QUERIES = ["on-call", "oncall", "on call", "k8s", "kubernets", "obsrvability", "sre", "chaos", "postgres"]


@pytest.fixture(scope="module")
def seed_index() -> CatalogIndex:
    records = read_catalog_file(SEED_FILE).records
    return CatalogIndex(TalkText.from_record(number, record) for number, record in enumerate(records, start=1))


@pytest.fixture
def snapshots(tmp_path, monkeypatch) -> Path:
    """A folder of its own for each test's snapshots, whatever the suite sets."""
    monkeypatch.setenv(INDEX_DIR_VARIABLE, str(tmp_path / "snapshots"))
    return tmp_path / "snapshots"


def answers(index: CatalogIndex) -> list:
    vocabulary = default_vocabulary()
    found = []
    for text in QUERIES + MORE_QUERIES:
        ranking = rank(index, parse_query(text, vocabulary.stopwords), vocabulary, limit=10)
        found.append((text, ranking.hits, ranking.total, ranking.suggestions, ranking.dropped_words, ranking.notes))
    return found


def memory_mapped(array: np.ndarray) -> bool:
    while array is not None and not isinstance(array, np.memmap):
        array = array.base if isinstance(array.base, np.ndarray) else None
    return array is not None


def test_a_loaded_snapshot_answers_every_query_as_the_index_it_was_saved_from(seed_index, tmp_path):
    save_snapshot(seed_index, tmp_path, 7, IDENTITY)

    loaded = load_snapshot(tmp_path, 7, IDENTITY)

    assert loaded is not None and memory_mapped(loaded.posting_docs)
    assert answers(loaded) == answers(seed_index)
    assert loaded.vocabulary == seed_index.vocabulary
    assert loaded.abbreviations == seed_index.abbreviations
    assert dict(loaded.surfaces) == dict(seed_index.surfaces)
    assert loaded.within_typos("kubernets", 2) == seed_index.within_typos("kubernets", 2)


def test_a_snapshot_of_another_revision_is_not_loaded(seed_index, tmp_path):
    save_snapshot(seed_index, tmp_path, 7, IDENTITY)

    assert load_snapshot(tmp_path, 8, IDENTITY) is None
    assert load_snapshot(tmp_path, 6, IDENTITY) is None


def test_a_snapshot_renamed_to_another_revision_is_refused_and_removed(seed_index, tmp_path):
    (save_snapshot(seed_index, tmp_path, 7, IDENTITY)).rename(tmp_path / "index-8")

    assert load_snapshot(tmp_path, 8, IDENTITY) is None
    assert not (tmp_path / "index-8").exists()


def test_a_snapshot_of_another_catalog_is_refused_and_removed_so_a_good_one_can_take_its_place(seed_index, tmp_path):
    save_snapshot(seed_index, tmp_path, 7, "another catalog@7@2026-11-27T10:00:00")

    assert load_snapshot(tmp_path, 7, IDENTITY) is None
    assert not (tmp_path / "index-7").exists()
    save_snapshot(seed_index, tmp_path, 7, IDENTITY)
    assert load_snapshot(tmp_path, 7, IDENTITY) is not None


def test_a_snapshot_of_another_format_version_is_refused(seed_index, tmp_path):
    place = save_snapshot(seed_index, tmp_path, 7, IDENTITY)
    manifest = json.loads((place / MANIFEST).read_text())
    manifest["format_version"] += 1
    (place / MANIFEST).write_text(json.dumps(manifest))

    assert load_snapshot(tmp_path, 7, IDENTITY) is None


def _missing_file(place: Path) -> None:
    (place / "docs.npy").unlink()


def _truncated_file(place: Path) -> None:
    data = (place / "docs.npy").read_bytes()
    (place / "docs.npy").write_bytes(data[: len(data) - 8])


def _changed_byte(place: Path) -> None:
    data = bytearray((place / "weights.npy").read_bytes())
    data[-1] ^= 0x5A
    (place / "weights.npy").write_bytes(bytes(data))


def _file_of_another_shape(place: Path) -> None:
    np.save(place / "prior.npy", np.zeros(3, dtype=np.int64))


def _truncated_manifest(place: Path) -> None:
    text = (place / MANIFEST).read_text()
    (place / MANIFEST).write_text(text[: len(text) // 2])


def _empty_manifest(place: Path) -> None:
    (place / MANIFEST).write_text("")


def _manifest_missing_an_array(place: Path) -> None:
    manifest = json.loads((place / MANIFEST).read_text())
    del manifest["arrays"]["offsets"]
    (place / MANIFEST).write_text(json.dumps(manifest))


DAMAGE = [_missing_file, _truncated_file, _changed_byte, _file_of_another_shape, _truncated_manifest, _empty_manifest,
          _manifest_missing_an_array]  # fmt: skip


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda damage: damage.__name__.strip("_"))
def test_a_damaged_snapshot_is_refused(seed_index, tmp_path, damage):
    damage(save_snapshot(seed_index, tmp_path, 7, IDENTITY))

    assert load_snapshot(tmp_path, 7, IDENTITY) is None
    assert not (tmp_path / "index-7").exists()


def _seeded(url: str) -> str:
    upgrade(url)  # migrated here, not copied from a template: each database gets its own identity
    seed_catalog(url)
    return url


@pytest.mark.parametrize("damage", [_changed_byte, _truncated_manifest], ids=["changed byte", "truncated manifest"])
def test_a_search_over_a_damaged_snapshot_rebuilds_answers_right_and_saves_a_good_one(
    empty_database, snapshots, damage
):
    url = _seeded(empty_database)
    expected = [card.id for card in SearchEngine(sessions_for(url), semantic=False).search("kafka").cards]
    place = next(snapshots.glob("*/index-*"))
    damage(place)

    engine = SearchEngine(sessions_for(url), semantic=False)

    assert [card.id for card in engine.search("kafka").cards] == expected
    with sessions_for(url)() as session:
        assert not memory_mapped(engine.index(session).posting_docs)  # built, not loaded
        state = catalog_state(session)
    assert load_snapshot(place.parent, state.revision, state.key) is not None


def test_a_new_process_searches_from_the_snapshot_the_first_one_saved(empty_database, snapshots):
    url = _seeded(empty_database)
    first = SearchEngine(sessions_for(url))
    expected = [(card.id, card.score) for card in first.search("observability for beginners", limit=10).cards]

    second = SearchEngine(sessions_for(url))

    assert [(card.id, card.score) for card in second.search("observability for beginners", limit=10).cards] == (
        expected
    )
    with sessions_for(url)() as session:
        assert memory_mapped(second.index(session).posting_docs)
        semantic = second.semantic_index(session)
        assert semantic is not None and memory_mapped(semantic.vectors)


def test_an_import_makes_the_next_process_build_and_save_the_new_revision(empty_database, snapshots):
    url = _seeded(empty_database)
    SearchEngine(sessions_for(url), semantic=False).search("kafka")
    with sessions_for(url).begin() as session:
        import_records(session, [talk("new", "Zyzzyva queues in production")])

    engine = SearchEngine(sessions_for(url), semantic=False)

    assert [card.title for card in engine.search("zyzzyva").cards] == ["Zyzzyva queues in production"]
    [directory] = snapshots.iterdir()
    assert sorted(path.name for path in directory.glob("index-*")) == ["index-1", "index-2"]


def test_a_snapshot_of_another_database_at_the_same_revision_is_not_served(empty_database, tmp_path, snapshots):
    """Two catalogs, each at revision 1 after importing one talk: the second never answers from the first's index,
    even where it looks for its own."""
    with contextlib.ExitStack() as stack:
        if empty_database.startswith("sqlite"):
            second = f"sqlite:///{tmp_path / 'second.sqlite3'}"
            stack.callback(dispose_engine, second)
        else:
            second = stack.enter_context(private_schema(database_url_of(POSTGRES_URL)))
        for url, title in ((empty_database, "Kafka at the first catalog"), (second, "Kafka at the second catalog")):
            upgrade(url)
            with sessions_for(url).begin() as session:
                import_records(session, [talk("a", title)])
        SearchEngine(sessions_for(empty_database), semantic=False).search("kafka")
        [first_place] = snapshots.iterdir()
        first_place.rename(snapshot_directory(second))  # the first catalog's snapshot where the second looks

        engine = SearchEngine(sessions_for(second), semantic=False)

        assert [card.title for card in engine.search("kafka").cards] == ["Kafka at the second catalog"]


def _write_when_all_are_ready(index, directory, barrier) -> None:
    barrier.wait()
    save_snapshot(index, directory, 7, IDENTITY)


def test_processes_racing_to_write_one_snapshot_leave_one_complete_snapshot(seed_index, tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(3):
        directory = tmp_path / f"round-{round_}"
        barrier = context.Barrier(4)
        writers = [
            context.Process(target=_write_when_all_are_ready, args=(seed_index, directory, barrier)) for _ in range(4)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(60)
        assert [writer.exitcode for writer in writers] == [0, 0, 0, 0]
        assert sorted(path.name for path in directory.iterdir()) == ["index-7"]  # nothing half-written left behind
        loaded = load_snapshot(directory, 7, IDENTITY)
        assert loaded is not None and answers(loaded) == answers(seed_index)


def test_only_the_newest_snapshots_are_kept(seed_index, tmp_path):
    for revision in range(1, 6):
        save_snapshot(seed_index, tmp_path, revision, IDENTITY)
        os.utime(tmp_path / f"index-{revision}", (revision, 1_000_000 + revision))  # written in revision order

    assert sorted(path.name for path in tmp_path.iterdir()) == [f"index-{n}" for n in range(6 - KEEP, 6)]


def test_snapshots_live_beside_a_sqlite_file_and_per_database_url_elsewhere(monkeypatch, tmp_path):
    monkeypatch.delenv(INDEX_DIR_VARIABLE, raising=False)
    assert snapshot_directory(f"sqlite:///{tmp_path}/catalog.sqlite3") == tmp_path / "catalog.sqlite3.index"
    assert snapshot_directory("sqlite://") is None
    assert snapshot_directory("sqlite:///:memory:") is None
    one = snapshot_directory("postgresql+psycopg://talkbot:secret@db-a:5432/talkbot")
    assert one == snapshot_directory("postgresql+psycopg://talkbot:rotated@db-a:5432/talkbot")  # not the password
    assert one != snapshot_directory("postgresql+psycopg://talkbot:secret@db-b:5432/talkbot")
    assert "secret" not in str(one)
    monkeypatch.setenv(INDEX_DIR_VARIABLE, str(tmp_path / "elsewhere"))
    assert snapshot_directory("postgresql+psycopg://talkbot@db-a/talkbot").parent == tmp_path / "elsewhere"
    assert snapshot_directory(f"sqlite:///{tmp_path}/catalog.sqlite3").parent == tmp_path / "elsewhere"
    assert snapshot_directory("sqlite://") is None  # an in-memory catalog has none, wherever they go


def test_damaged_saved_vectors_are_read_again_from_the_database(empty_database, snapshots):
    url = _seeded(empty_database)
    expected = [card.id for card in SearchEngine(sessions_for(url)).search("talks about being on call", limit=10).cards]
    place = next(snapshots.glob("*/vectors-*"))
    _changed_byte_of(place / "vectors.npy")

    engine = SearchEngine(sessions_for(url))

    assert [card.id for card in engine.search("talks about being on call", limit=10).cards] == expected
    with sessions_for(url)() as session:
        assert not memory_mapped(engine.semantic_index(session).vectors)  # read from the database
    assert (place / MANIFEST).exists()  # and saved again


def _changed_byte_of(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x5A
    path.write_bytes(bytes(data))


def test_an_index_built_while_the_catalog_changed_is_not_saved(empty_database, snapshots):
    """The revision is read before the build and again after: if an import landed meanwhile, the index may hold some
    of it, so it is not saved under the revision read first."""
    url = _seeded(empty_database)
    directory = snapshot_directory(url)

    def build_during_an_import() -> CatalogIndex:
        with sessions_for(url).begin() as other:
            import_records(other, [talk("late", "Zyzzyva queues in production")])
        with sessions_for(url)() as reading:
            return CatalogIndex(load_talk_texts(reading))

    with sessions_for(url)() as session:
        cached_index(session, directory, catalog_state(session).revision, build_during_an_import)

    assert not directory.exists() or not list(directory.glob("index-*"))


def test_a_snapshot_is_not_loaded_for_a_revision_the_catalog_has_left(empty_database, snapshots):
    """A process that read revision 1 just before an import made it 2 builds its index as it did before snapshots
    (and checks the revision again at its next search); it never takes revision 2's snapshot as revision 1's."""
    url = _seeded(empty_database)
    SearchEngine(sessions_for(url), semantic=False).search("kafka")
    with sessions_for(url).begin() as session:
        import_records(session, [talk("new", "Zyzzyva queues in production")])
    SearchEngine(sessions_for(url), semantic=False).search("kafka")  # saves revision 2's snapshot
    directory = snapshot_directory(url)

    with sessions_for(url)() as session:
        believed = catalog_state(session).revision - 1
        index = cached_index(session, directory, believed, lambda: CatalogIndex(load_talk_texts(session)))

    assert not memory_mapped(index.posting_docs)


def test_a_snapshot_folder_without_its_manifest_is_removed_so_a_good_one_can_take_its_place(seed_index, tmp_path):
    (save_snapshot(seed_index, tmp_path, 7, IDENTITY) / MANIFEST).unlink()

    assert load_snapshot(tmp_path, 7, IDENTITY) is None
    save_snapshot(seed_index, tmp_path, 7, IDENTITY)
    assert load_snapshot(tmp_path, 7, IDENTITY) is not None


def test_a_snapshot_keeps_each_talks_length_language_and_recording_date(tmp_path):
    talks = [
        TalkText(1, "Kafka", (), (), "", "", 2019, False, False, duration_minutes=45, language="pt-br", recorded_on=9),
        TalkText(2, "Tracing", (), (), "", "", 2020, False, True),
    ]
    save_snapshot(CatalogIndex(talks), tmp_path, 3, IDENTITY)

    loaded = load_snapshot(tmp_path, 3, IDENTITY)

    assert loaded is not None and memory_mapped(loaded.durations)
    assert (loaded.durations.tolist(), loaded.languages.tolist(), loaded.recorded.tolist()) == (
        [45, 0], [b"pt", b"en"], [9, 0],
    )  # fmt: skip
