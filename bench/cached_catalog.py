"""SQLite catalogs the benchmarks make once and reuse (they take minutes to import at 100k talks)."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from db.catalog_import import import_records
from db.config import sessions_for
from db.migrate import upgrade
from db.records import TalkRecord

FOLDER = Path(tempfile.gettempdir()) / "talkbot-bench"


def cached_catalog(name: str, records: Callable[[], Iterable[TalkRecord]]) -> str:
    """The URL of FOLDER/`name`.sqlite3, holding `records()` on the first run and reused after: written under another
    name and renamed when complete (with its write-ahead log checkpointed into the file), and migrated to this
    version of talkbot on every use, so a catalog cached by an older version still serves."""
    path = FOLDER / f"{name}.sqlite3"
    if not path.exists():
        FOLDER.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        upgrade(f"sqlite:///{partial}")
        start = time.perf_counter()
        with sessions_for(f"sqlite:///{partial}").begin() as session:
            import_records(session, records())
        with contextlib.closing(sqlite3.connect(partial)) as connection:  # everything into the file itself
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"  made {path} in {time.perf_counter() - start:.0f} s", flush=True)
        partial.rename(path)
    upgrade(f"sqlite:///{path}")
    return f"sqlite:///{path}"
