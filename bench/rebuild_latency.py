"""Searches while the index is rebuilt, and how soon another process's import is searchable (issue 15).

    python -m bench.rebuild_latency                 # 100k talks (the SQLite file is made once, ~2 minutes)
    python -m bench.rebuild_latency --talks 20000
    python -m bench.rebuild_latency --build thread  # only the in-thread rebuild (worker: only the worker's)
    python -m bench.rebuild_latency --database sqlite:///copy.sqlite3  # a catalog no other run bumps

One SQLite catalog of pyvideo talks topped up with synthetic ones (bench/search.py's Catalog), searched through
SearchEngine.search (a database session, the revision check, the cards) with the semantic layer off, by two engines
in this process that differ only in how a full rebuild is made: in a thread of this process (`build_indexes` as it
was), or by a worker process whose snapshot this process loads (db/search/build_worker.py). In `--rounds` rounds,
each engine in turn:
- the query mix with no build running, then again from the moment the revision is bumped (a full rebuild of the same
  talks starts in the background) until the new index is swapped in: p50, p99 and the slowest search of each, the
  rebuild's seconds, and this process's resident memory before, at its highest during, and after the rebuild;
then for each engine, a one-talk `talkbot import` in a process of its own, with the engine's watcher running and
nobody searching: seconds from the import's exit to the new index being in place, and to the talk being found;
then what an update of the index with 1, 100, 1,000 and 10,000 changed talks costs (db/search/incremental.py: reading
those talks, then the update), beside a full build (reading every talk, then the build), in wall and CPU seconds,
measured in turns (full, then each update, twice) and the faster of two kept (`--no-update-costs` leaves it out).
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from bench.cached_catalog import FOLDER, cached_catalog
from bench.search import ARCHIVE, QUERIES, Catalog, percentile, resident_mb
from bench.synthetic import SyntheticCatalog
from db.catalog import bump_revision, catalog_revision
from db.config import sessions_for
from db.importers import read_catalog_file
from db.migrate import upgrade
from db.search.engine import SearchEngine
from db.search.incremental import updated_index
from db.search.index import CatalogIndex, load_talk_texts
from db.search.lifecycle import build_indexes
from tests.talkbot_cli import talkbot


def catalog_file(talks: int) -> str:
    """A SQLite catalog of `talks` talks, made on the first run and reused after."""

    def records():
        real = read_catalog_file(ARCHIVE).records if ARCHIVE.exists() else []
        return Catalog(real, SyntheticCatalog(real), talks).records()

    return cached_catalog(f"rebuild-{talks}", records)


def spread(samples: list[float]) -> str:
    return (
        f"{len(samples)} searches, p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms,"
        f" slowest {max(samples):.1f} ms"
    )


def timed_search(engine: SearchEngine, query: str) -> float:
    start = time.perf_counter()
    engine.search(query)
    return (time.perf_counter() - start) * 1000


@dataclass
class Rebuild:
    """One rebuild, searched through: the searches' milliseconds, its seconds, and this process's resident MB."""

    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0
    before_mb: float = 0.0
    peak_mb: float = 0.0
    after_mb: float = 0.0


def searches_during_rebuild(engine: SearchEngine, url: str) -> Rebuild:
    """Bump the revision and search without pause until the rebuilt index is in place."""
    gc.collect()
    rebuild = Rebuild(before_mb=resident_mb())
    rebuild.peak_mb = rebuild.before_mb
    with sessions_for(url).begin() as session:
        bump_revision(session, None)  # any talk: a full rebuild
        target = catalog_revision(session)
    start = time.perf_counter()
    while (engine.revision or 0) < target:  # or beyond, should another process bump it too
        rebuild.samples.extend(timed_search(engine, query) for query in QUERIES)
        rebuild.peak_mb = max(rebuild.peak_mb, resident_mb())
    rebuild.seconds = time.perf_counter() - start
    gc.collect()
    rebuild.after_mb = resident_mb()
    return rebuild


def import_seen_elsewhere(engine: SearchEngine, url: str) -> tuple[float, float]:
    """Seconds from a one-talk import's exit (another process) to the new index, and to the talk being found."""
    program = FOLDER / "one-talk.csv"
    marker = f"zq{int(time.time())}x"
    program.write_text(f"id,title,speakers,event,year\n{marker},The {marker} keynote,Zoe,DemoConf,2026\n")
    done = talkbot("import", str(program), database_url=url)
    assert done.returncode == 0, done.stderr
    imported = time.perf_counter()
    with sessions_for(url)() as session:
        revision = catalog_revision(session)
    while (engine.revision or 0) < revision:  # no search meanwhile: the watcher must notice the change
        time.sleep(0.005)
    indexed = time.perf_counter() - imported
    assert engine.search(marker).cards, "the imported talk was not found"
    return indexed, time.perf_counter() - imported


def engines(url: str, builds: list[str]) -> dict[str, SearchEngine]:
    """An engine for each way of rebuilding asked for, each warmed up (its first build blocks)."""
    made = {}
    for build in builds:
        in_thread = functools.partial(build_indexes, semantic=False) if build == "thread" else None
        engine = made[build] = SearchEngine(sessions_for(url), semantic=False, build=in_thread)
        start = time.perf_counter()
        engine.warm_up()
        seconds = time.perf_counter() - start
        print(f"{build}: first build (blocking; a snapshot's load, or the talks read and indexed): {seconds:.1f} s")
    return made


def timed(work, *arguments) -> tuple[object, float, float]:
    """(what `work(*arguments)` returns, its wall seconds, its CPU seconds in this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = work(*arguments)
    return done, time.perf_counter() - wall, time.process_time() - cpu


def update_costs(url: str, sizes: tuple[int, ...] = (1, 100, 1_000, 10_000)) -> None:
    """Print the cost of an update with `sizes` changed talks beside a full build's. The changed talks are spread
    over the catalog and read again as they are: an update does the same work whatever changed in them."""
    best: dict[str, tuple[float, float, float]] = {}

    def keep(name: str, load: float, work: float, cpu: float) -> None:
        if name not in best or load + work < sum(best[name][:2]):
            best[name] = (load, work, cpu)

    with sessions_for(url)() as session:
        for _ in range(2):
            texts, load, load_cpu = timed(load_talk_texts, session)
            index, build, build_cpu = timed(CatalogIndex, texts)
            keep("full build", load, build, load_cpu + build_cpu)
            del texts
            for size in sizes:
                ids = index.talk_ids[np.linspace(0, len(index) - 1, size).astype(int)].tolist()
                changed, load, load_cpu = timed(load_talk_texts, session, ids)
                updated, work, work_cpu = timed(updated_index, index, changed, ids)
                assert np.array_equal(updated.posting_weights, index.posting_weights), "the update changed the index"
                keep(f"{size:,} talks", load, work, load_cpu + work_cpu)
                del updated
    print("index update vs full build (read the talks + index them = wall; CPU of both):")
    for name, (load, work, cpu) in best.items():
        print(f"  {name:>14}: {load:5.2f} + {work:5.2f} = {load + work:5.2f} s wall, {cpu:5.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talks", type=int, default=100_000)
    parser.add_argument("--build", choices=["thread", "worker", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--database", help="a catalog of this run's own (e.g. a copy of the cached one), when other runs bump the "
        "cached catalog's revision meanwhile: each would rebuild the other's indexes",
    )  # fmt: skip
    parser.add_argument("--no-update-costs", action="store_true", help="leave out the index updates' costs")
    args = parser.parse_args()
    logging.basicConfig(format="  %(message)s")
    logging.getLogger("db.search.build_worker").setLevel(logging.INFO)  # the worker's seconds and peak memory
    if args.database:
        upgrade(args.database)  # as cached_catalog does: a copy made by an older version still serves
    url = args.database or catalog_file(args.talks)
    print(f"{args.talks:,} talks")
    builds = ["thread", "worker"] if args.build == "both" else [args.build]
    by_build = engines(url, builds)
    for round_ in range(1, args.rounds + 1):
        for build, engine in by_build.items():
            idle = [timed_search(engine, query) for _ in range(5) for query in QUERIES]
            rebuild = searches_during_rebuild(engine, url)
            print(
                f"round {round_}, {build}: no build running: {spread(idle)}\n"
                f"  during a rebuild: {spread(rebuild.samples)}; the rebuild took {rebuild.seconds:.1f} s\n"
                f"  resident MB: {rebuild.before_mb:.0f} before, {rebuild.peak_mb:.0f} at most during,"
                f" {rebuild.after_mb:.0f} after",
                flush=True,
            )
    for build, engine in by_build.items():
        engine.watch_catalog()
        indexed, found = import_seen_elsewhere(engine, url)
        engine.stop_watching()
        print(
            f"{build}: one-talk import in another process (an update, not a full build): new index in place"
            f" {indexed:.1f} s after it ended, found {found:.1f} s"
        )
    sys.stdout.flush()
    if not args.no_update_costs:
        update_costs(url)


if __name__ == "__main__":
    main()
