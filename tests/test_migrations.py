"""The Alembic migrations build exactly the models' schema, and tear it down again, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db.config import engine_for, is_sqlite
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.models import Base

CATALOG_TABLES = {"talks", "speakers", "talk_speakers", "events", "tags", "talk_tags", "links", "talk_sources"}


def test_upgrade_from_empty_creates_the_catalog_tables_at_head(empty_database):
    upgrade(empty_database)

    tables = set(inspect(engine_for(empty_database)).get_table_names())
    assert CATALOG_TABLES | {"catalog_revision", "alembic_version"} <= tables
    assert current_revision(empty_database) == head_revision()


def test_migrated_schema_matches_the_models_with_no_drift(empty_database):
    upgrade(empty_database)

    with engine_for(empty_database).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": is_sqlite(empty_database)}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(empty_database):
    upgrade(empty_database)
    downgrade(empty_database, "base")

    assert set(inspect(engine_for(empty_database)).get_table_names()) <= {"alembic_version"}
    assert current_revision(empty_database) is None

    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()


def test_constraints_and_indexes_are_named(empty_database):
    upgrade(empty_database)
    inspector = inspect(engine_for(empty_database))

    for table in CATALOG_TABLES:
        for constraint in inspector.get_unique_constraints(table) + inspector.get_foreign_keys(table):
            assert constraint["name"], f"unnamed constraint on {table}: {constraint}"
        for index in inspector.get_indexes(table):
            assert index["name"].startswith(("ix_", "uq_")), index
