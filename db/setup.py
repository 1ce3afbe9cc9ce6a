"""Getting a catalog ready: the embedded SQLite one migrates and seeds itself; PostgreSQL is set up explicitly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from db.catalog import talk_count
from db.config import is_sqlite, sessions_for
from db.schema_version import current_revision, head_revision

if TYPE_CHECKING:
    from db.catalog_import import ImportReport

SEED_FILE = Path(__file__).with_name("seed") / "talks.yaml"


class CatalogNotReady(RuntimeError):
    """The database is reachable but not migrated to this version of talkbot."""


def display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def prepare_catalog(url: str, announce: Callable[[str], None]) -> None:
    """Make the catalog usable: on SQLite migrate and seed as needed (announcing a new file);
    elsewhere check the schema is current and say which commands fix it if not."""
    if is_sqlite(url):
        database = make_url(url).database
        is_new = bool(database) and database != ":memory:" and not Path(database).exists()
        if current_revision(url) != head_revision():
            from db.migrate import upgrade  # Alembic only when there is migrating to do: ~0.2 s of every start

            upgrade(url)
        with sessions_for(url).begin() as session:
            seeded = _seed(session) if talk_count(session) == 0 else None
        if is_new:
            announce(
                f"created the talk catalog at {database}"
                + (f" with {seeded.added} seed talks" if seeded else "")
                + " (set DATABASE_URL to use another database)."
            )
        return
    revision = current_revision(url)
    if revision != head_revision():
        state = "is empty" if revision is None else f"is at schema {revision}, not {head_revision()}"
        raise CatalogNotReady(
            f"the database at {display_url(url)} {state}: run `talkbot db upgrade`, then `talkbot seed`."
        )


def seed_catalog(url: str) -> ImportReport:
    """Load the seed catalog, with the seed talks' shipped vectors; running it again changes nothing."""
    with sessions_for(url).begin() as session:
        return _seed(session)


def _seed(session: Session) -> ImportReport:
    """The seed talks and their shipped vectors (a fresh catalog searches by meaning at once). The importers are
    imported here, not at the top: a search of a catalog that exists, the common case, has no use for them."""
    from db.catalog_import import import_records
    from db.importers import read_catalog_file
    from db.search.embeddings import store_seed_vectors

    report = import_records(session, read_catalog_file(SEED_FILE).records)
    store_seed_vectors(session)
    return report
