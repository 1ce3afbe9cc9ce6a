"""Which schema a database is at, and which one this version of talkbot needs, answered without Alembic: every
`talkbot search` asks on its way to the first answer, and importing Alembic to answer took ~0.2 s of it. Changing
the schema is db/migrate.py's work."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

import migrations
from db.config import engine_for

MIGRATION_FILES = Path(migrations.__file__).parent / "versions"
VERSION_TABLE = "alembic_version"  # where Alembic records the revision a database is at


def head_revision() -> str:
    """The newest migration's revision: migrations are files numbered in the order they run, and a new one's revision
    is its file's name (tests/test_migrations.py holds both true and compares the answer with Alembic's)."""
    return max(path.stem for path in MIGRATION_FILES.glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at; None when it was never migrated."""
    with engine_for(url).connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
