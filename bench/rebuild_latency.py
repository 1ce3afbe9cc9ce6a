"""Searches while the index is rebuilt, and how soon another process's import is searchable (issue 15).

    python -m bench.rebuild_latency                 # 100k talks (the SQLite file is made once, ~2 minutes)
    python -m bench.rebuild_latency --talks 20000

One SQLite catalog of pyvideo talks topped up with synthetic ones (bench/search.py's Catalog), searched through
SearchEngine.search (a database session, the revision check, the cards) with the semantic layer off:
- the query mix with no build running, then again from the moment the revision is bumped (a full rebuild of the same
  talks starts in the background) until the new index is swapped in: p50, p99 and the slowest search of each;
- a one-talk `talkbot import` in a process of its own, with the watcher running here and nobody searching: seconds
  from the import's exit to the new index being in place, and to the talk being found;
- what an update of the index with 1, 100, 1,000 and 10,000 changed talks costs (db/search/incremental.py: reading
  those talks, then the update), beside a full build (reading every talk, then the build), in wall and CPU seconds,
  measured in turns (full, then each update, twice) and the faster of two kept.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from bench.cached_catalog import FOLDER, cached_catalog
from bench.search import ARCHIVE, QUERIES, Catalog, percentile
from bench.synthetic import SyntheticCatalog
from db.catalog import bump_revision, catalog_revision
from db.config import sessions_for
from db.importers import read_catalog_file
from db.search.engine import SearchEngine
from db.search.incremental import updated_index
from db.search.index import CatalogIndex, load_talk_texts
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


def searches_during_rebuild(engine: SearchEngine, url: str) -> tuple[list[float], float]:
    """Bump the revision and search without pause until the rebuilt index is in place; the build's seconds."""
    with sessions_for(url).begin() as session:
        bump_revision(session, None)  # any talk: a full rebuild
        target = catalog_revision(session)
    samples: list[float] = []
    start = time.perf_counter()
    while engine.revision != target:
        samples.extend(timed_search(engine, query) for query in QUERIES)
    return samples, time.perf_counter() - start


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
    while engine.revision != revision:  # no search meanwhile: the watcher must notice the change
        time.sleep(0.005)
    indexed = time.perf_counter() - imported
    assert engine.search(marker).cards, "the imported talk was not found"
    return indexed, time.perf_counter() - imported


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
    args = parser.parse_args()
    url = catalog_file(args.talks)
    engine = SearchEngine(sessions_for(url), semantic=False)
    start = time.perf_counter()
    engine.warm_up()
    print(f"{args.talks:,} talks; first build (load + index, blocking): {time.perf_counter() - start:.1f} s")
    idle = [timed_search(engine, query) for _ in range(5) for query in QUERIES]
    print(f"no build running:    {spread(idle)}")
    during, build = searches_during_rebuild(engine, url)
    print(f"during a rebuild:    {spread(during)} (the background build took {build:.1f} s)")
    engine.watch_catalog()
    indexed, found = import_seen_elsewhere(engine, url)
    engine.stop_watching()
    print(f"one-talk import in another process: new index in place {indexed:.1f} s after it ended, found {found:.1f} s")
    sys.stdout.flush()
    update_costs(url)


if __name__ == "__main__":
    main()
