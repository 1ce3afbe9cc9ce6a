"""Importing the whole pyvideo archive into a fresh SQLite catalog, then again with nothing changed.

    python -m bench.import_pyvideo [--archive PATH]

Baseline in the same run: reading and validating the archive alone (the least any import must spend).
Targets: the first import under 60 s on this machine, the re-import faster still.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from db.catalog_import import import_records
from db.config import sessions_for
from db.importers import read_catalog_file
from db.migrate import upgrade

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyvideo-data.tar.gz"


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'catalog.sqlite3'}"
        upgrade(url)
        parsed, read_seconds = timed(lambda: read_catalog_file(args.archive))

        def import_all():
            with sessions_for(url).begin() as session:
                return import_records(session, parsed.records)

        first, first_seconds = timed(import_all)
        again, again_seconds = timed(import_all)
    print(f"{args.archive.name}: {len(parsed.records)} talks into SQLite")
    print(f"{'':<42} {'seconds':>8}")
    print(f"{'baseline: read and validate only':<42} {read_seconds:8.1f}")
    print(f"{'first import (read + write)':<42} {read_seconds + first_seconds:8.1f}   {first}")
    print(f"{'re-import, nothing changed (read + check)':<42} {read_seconds + again_seconds:8.1f}   {again}")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
