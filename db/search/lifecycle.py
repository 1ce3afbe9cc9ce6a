"""Keeping the search indexes in step with the catalog without making a search wait for a build.

A search answers from the indexes at hand. When the catalog revision (or the stored vectors) has moved on, one
background thread builds the next indexes in a database session of its own and swaps them in with a single assignment
of an immutable `Indexes`; searches meanwhile answer from the previous ones. Only the first build in a process blocks,
as there is nothing to answer from yet. Whoever must see every talk of the catalog as it is now (the follow alerts'
matching) asks for `fresh` indexes, which waits for, or does, the build.

A catalog change made by another process is noticed by the next search, or within POLL_EVERY by the watcher thread
(`watch`, started by the server) when nobody searches; it is searchable once the build ends (docs/search.md). A
build after a change of a few talks re-reads only those, as the catalog's change log names them
(db/search/incremental.py); a full build reads every talk, in a worker process of its own when the engine has one
(`full_build`, db/search/build_worker.py), so that this thread only loads what it saved.
"""

from __future__ import annotations

import functools
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.catalog import changed_talks
from db.config import patient
from db.models import CatalogRevision
from db.search.embeddings import NEWEST_VECTOR, stored_rows, stored_vectors
from db.search.incremental import updated_index
from db.search.index import CatalogIndex, load_talk_texts
from db.search.semantic import SemanticIndex
from db.search.snapshot import StoredVectors, cached_index, cached_semantic, save_in_background, snapshot_directory

log = logging.getLogger(__name__)

POLL_EVERY = 1.0  # seconds between two looks at the catalog revision by the watcher (one tiny query)
BUILD_SWITCH_INTERVAL = 0.0005  # seconds: how long a search may wait for the interpreter lock while a build runs
# An update re-reads the changed talks and assembles the index again (db/search/incremental.py); past this many
# changed talks, or this share of the catalog, a full build costs about as much (docs/search.md has the numbers).
INCREMENTAL_TALKS = 10_000
INCREMENTAL_SHARE = 0.5


@dataclass(frozen=True)
class Indexes:
    revision: int  # the catalog revision the lexical index was built at
    vectors: int  # the vectors version (largest vector row id) the semantic index was loaded at
    lexical: CatalogIndex
    semantic: SemanticIndex | None


# Builds the indexes for (session, revision, vectors version, the indexes at hand or None).
Builder = Callable[[Session, int, int, Indexes | None], Indexes]

# Makes the lexical index of the catalog at a revision from scratch while searches answer from the previous one:
# (session, revision, how to build it in this thread). db/search/build_worker.py builds it in a process of its own.
FullBuild = Callable[[Session, int, Callable[[], CatalogIndex]], CatalogIndex]


def catalog_stamp(session: Session) -> tuple[int, int]:
    """The catalog revision and the vectors version, in one query."""
    row = session.execute(
        select(CatalogRevision.revision, NEWEST_VECTOR.scalar_subquery()).where(CatalogRevision.id == 1)
    ).one_or_none()
    revision, version = row or (0, None)
    return revision or 0, version or 0


def build_indexes(
    session: Session,
    revision: int,
    vectors: int,
    previous: Indexes | None,
    *,
    semantic: bool,
    full_build: FullBuild | None = None,
) -> Indexes:
    """The indexes for catalog `revision`: the one place they are made. The lexical index is `previous`'s when it is
    already at that revision (only vectors were added), `previous`'s updated with the talks changed since when the
    change log names few, else built from every talk, by `full_build` when searches answer from `previous` meanwhile
    (the first build in a process, with nothing to answer from, is made here); the semantic one reads only the
    vectors `previous` lacks."""
    with patient(session):  # the whole catalog: at 1M talks, seconds (db/config.py)
        directory = snapshot_directory(session.get_bind().url)
        lexical = None
        if previous is not None and previous.revision == revision:
            lexical = previous.lexical
        elif previous is not None and previous.revision < revision:
            lexical = updated_lexical(session, previous.lexical, previous.revision, revision)
            if lexical is not None:  # saved for processes that start later, while this one searches with it
                save_in_background(session, directory, revision, lexical)
        if lexical is None:  # snapshot hook (db/search/snapshot.py): this revision's saved index when there is one
            build = functools.partial(build_lexical, session)
            if full_build is not None and previous is not None:
                build = functools.partial(full_build, session, revision, build)
            lexical = cached_index(session, directory, revision, build)
        vector_index = None
        if semantic:
            vector_index = load_semantic(session, lexical, previous.semantic if previous is not None else None)
    return Indexes(revision, vectors, lexical, vector_index)


def build_lexical(session: Session) -> CatalogIndex:
    """A full build of the lexical index from every talk `session` reads."""
    return CatalogIndex(load_talk_texts(session))


def updated_lexical(session: Session, lexical: CatalogIndex, since: int, revision: int) -> CatalogIndex | None:
    """`lexical` (the index at revision `since`) updated to `revision` with the talks the change log says changed in
    between; None when a full build is due: the log does not reach back so far, or names too many talks."""
    changed = changed_talks(session, since, revision)
    if changed is not None and not changed:  # revisions that changed no talk
        return lexical
    if changed is None or len(changed) > min(INCREMENTAL_TALKS, INCREMENTAL_SHARE * len(lexical)):
        return None
    if len(lexical) > 1 and not (np.diff(lexical.talk_ids) > 0).all():  # not built in talk id order, as here
        return None
    return updated_index(lexical, load_talk_texts(session, sorted(changed)), changed)


def load_semantic(session: Session, lexical: CatalogIndex, previous: SemanticIndex | None) -> SemanticIndex | None:
    """The stored vectors, aligned to `lexical`; only rows `previous` lacks are read from the database, and with no
    previous index they come from their snapshot when it is of the newest vectors."""
    if previous is None:  # snapshot hook (db/search/snapshot.py)
        return cached_semantic(
            session,
            snapshot_directory(session.get_bind().url),
            session.scalar(NEWEST_VECTOR) or 0,
            lambda: _read_vectors(session),
            lambda stored, graph: SemanticIndex(
                lexical, stored.row_ids, stored.talk_ids, stored.vectors, int(stored.row_ids.max()), ann=graph
            ),
        )
    row_ids, talk_ids = stored_rows(session)
    if not len(row_ids):
        return None
    if previous is not None and len(previous):
        at = np.searchsorted(previous.row_ids, row_ids)
        known = (at < len(previous.row_ids)) & (previous.row_ids[np.minimum(at, len(previous) - 1)] == row_ids)
        vectors = np.empty((len(row_ids), previous.vectors.shape[1]), dtype=np.float16)
        vectors[known] = previous.vectors[at[known]]
        vectors[~known] = stored_vectors(session, row_ids[~known])
    else:
        vectors = stored_vectors(session, row_ids)
    return SemanticIndex(lexical, row_ids, talk_ids, vectors, int(row_ids.max()), previous)


def _read_vectors(session: Session) -> StoredVectors:
    """Every stored vector, from the database."""
    row_ids, talk_ids = stored_rows(session)
    return StoredVectors(row_ids, talk_ids, stored_vectors(session, row_ids))


@contextmanager
def _beside_searches() -> Iterator[None]:
    """Let searches go first while this thread builds. The build is Python code holding the interpreter lock; a
    search takes it back at every database call and numpy step, and by default waits up to 5 ms for it each time
    (sys.getswitchinterval), which roughly tripled the p50 of searches during a rebuild at 100k talks. Meanwhile
    the lock changes hands every BUILD_SWITCH_INTERVAL (a setting of the whole process, restored after). A lower
    CPU priority for this thread would not help: while it holds the lock, searches would wait for it the longer."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, BUILD_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _out_of_the_collectors_way() -> None:
    """Leave every object alive now, the indexes' among them, out of the garbage collector's full collections. Those
    walk every container object of the process: with a 100k-talk index in memory each took 45-58 ms, holding the
    interpreter lock, and was the slowest searches' wait (p99 12.2 -> 9.3 ms, slowest 67 -> 16 ms in a 20 s loop of
    searches). Garbage is collected first, so none is kept; an index is freed by reference counting when the next
    one replaces it (it holds no reference cycle: tests/test_index_lifecycle.py)."""
    gc.collect()
    gc.freeze()


class IndexKeeper:
    """Holds the current indexes of one catalog database and brings them up to date, one build at a time."""

    def __init__(
        self, sessions: sessionmaker[Session], build: Builder, vectors_matter: bool, poll_every: float = POLL_EVERY
    ) -> None:
        self.sessions = sessions
        self.poll_every = poll_every
        self._build = build
        self._vectors_matter = vectors_matter  # with the semantic layer off, new vectors need no new indexes
        self._indexes: Indexes | None = None
        self._building = threading.Lock()  # held through every build, in whichever thread: never two at once
        self._state = threading.Lock()  # guards the two threads below and the failure time
        self._builder: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._failed_at: float | None = None
        self._long_lived = False  # watching: a server's process, where a search's tail latency matters

    @property
    def indexes(self) -> Indexes | None:
        """The indexes searches answer from now, without looking at the catalog (None before the first build)."""
        return self._indexes

    def current(self, session: Session) -> Indexes:
        """The indexes to answer from now. When the catalog has moved on, the next ones are built in the background;
        only when there are none yet does this build them, and wait."""
        stamp = self._stamp(session)
        indexes = self._indexes
        if indexes is None:
            return self._caught_up(session, stamp)
        if (indexes.revision, indexes.vectors) != stamp:
            self._build_later()
        return indexes

    def fresh(self, session: Session) -> Indexes:
        """Indexes at least as new as the catalog `session` reads: the ones at hand, or those a build running now
        makes, or built here."""
        return self._caught_up(session, self._stamp(session))

    def watch(self) -> None:
        """Look at the catalog revision every `poll_every` seconds in a daemon thread, so a change made by another
        process is built and swapped in even when nobody searches."""
        with self._state:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._stop.clear()
            self._long_lived = True
            self._watcher = threading.Thread(target=self._watch, name="talkbot-index-watcher", daemon=True)
            self._watcher.start()
        if self._indexes is not None:
            _out_of_the_collectors_way()

    def stop_watching(self) -> None:
        self._stop.set()
        with self._state:
            watcher = self._watcher
            self._long_lived = False
        if watcher is not None:
            watcher.join()
        gc.unfreeze()  # what watching kept out of full collections is theirs again

    def _stamp(self, session: Session) -> tuple[int, int]:
        revision, vectors = catalog_stamp(session)
        return revision, vectors if self._vectors_matter else 0

    def _caught_up(self, session: Session, stamp: tuple[int, int], exactly: bool = False) -> Indexes:
        """Indexes at least as new as `stamp` (`exactly` at it: the newest vector can be deleted with its talk)."""

        def done(indexes: Indexes | None) -> bool:
            if exactly:
                return indexes is not None and (indexes.revision, indexes.vectors) == stamp
            return indexes is not None and indexes.revision >= stamp[0] and indexes.vectors >= stamp[1]

        indexes = self._indexes
        if done(indexes):
            return indexes
        with self._building:
            indexes = self._indexes  # a build that held the lock may have brought them far enough
            if not done(indexes):
                indexes = self._indexes = self._build(session, *stamp, indexes)
                if self._long_lived:
                    _out_of_the_collectors_way()
        return indexes

    def _build_later(self) -> None:
        """Start the background build, unless one runs already, or the last failed less than `poll_every` ago."""
        with self._state:
            if self._builder is not None and self._builder.is_alive():
                return
            if self._failed_at is not None and time.monotonic() - self._failed_at < self.poll_every:
                return
            self._builder = threading.Thread(target=self._build_in_background, name="talkbot-index-build", daemon=True)
            self._builder.start()

    def _build_in_background(self) -> None:
        try:
            with _beside_searches(), self.sessions() as session:  # its own session: a request's ends with it
                self._caught_up(session, self._stamp(session), exactly=True)
        except Exception:
            log.exception("building the search index failed: searches keep the previous one; the next check retries")
            with self._state:
                self._failed_at = time.monotonic()
        else:
            with self._state:
                self._failed_at = None

    def _watch(self) -> None:
        failing = False
        while not self._stop.wait(self.poll_every):
            try:
                with self.sessions() as session:
                    stamp = self._stamp(session)
            except Exception:
                if not failing:  # once per outage, not once a second
                    log.warning("cannot read the catalog revision; the search index is kept as it is", exc_info=True)
                failing = True
                continue
            if failing:
                log.info("the catalog revision can be read again")
            failing = False
            indexes = self._indexes
            if indexes is None or (indexes.revision, indexes.vectors) != stamp:
                self._build_later()
