"""Time from a new process's start to its first answer, with and without a saved index (db/search/snapshot.py).

    DATABASE_URL=sqlite:///path/to/catalog.sqlite3 python -m bench.snapshot_start [--runs 3] [--query asyncio]

Each run starts a fresh Python process that imports the engine, searches once and exits; the wall time is measured
from outside, so it counts the interpreter's start and the imports too. "without": the snapshot folder is emptied
first, so the process reads the catalog, builds the index (and saves it); "with": it loads the one saved before.
The lexical side only (TALKBOT_SEMANTIC=off): the query encoder's load is the same either way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from db.config import database_url
from db.search.snapshot import INDEX_DIR_VARIABLE

CHILD = """
import sys, time
started = time.perf_counter()
from db.config import sessions_for
from db.search.engine import SearchEngine
imported = time.perf_counter()
engine = SearchEngine(sessions_for(sys.argv[1]))
page = engine.search(sys.argv[2])
print(f"{imported - started:.3f} {time.perf_counter() - imported:.3f} {page.total}")
"""


def one_run(url: str, query: str, directory: str, fresh: bool) -> tuple[float, float, float]:
    if fresh:
        shutil.rmtree(directory, ignore_errors=True)
    environment = dict(os.environ, TALKBOT_SEMANTIC="off", **{INDEX_DIR_VARIABLE: directory})
    start = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", CHILD, url, query], env=environment, capture_output=True, text=True, check=True
    ).stdout
    wall = time.perf_counter() - start
    imports, search, _ = output.split()
    return wall, float(imports), float(search)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--query", default="asyncio")
    args = parser.parse_args()
    url = database_url()
    with tempfile.TemporaryDirectory() as directory:
        print(f"{args.runs} runs each, in seconds; wall: from process start to answer (imports, index, search)")
        for name, fresh in (("without a snapshot", True), ("with a snapshot", False)):
            runs = [one_run(url, args.query, directory, fresh) for _ in range(args.runs)]
            wall, imports, search = (statistics.median(column) for column in zip(*runs, strict=True))
            print(f"  {name:<20} wall {wall:6.2f}   imports {imports:5.2f}   index + first search {search:6.2f}")


if __name__ == "__main__":
    main()
