"""The Alembic migrations build exactly the models' schema, and tear it down again, on both databases."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from db.config import engine_for, is_sqlite
from db.migrate import alembic_config, downgrade, upgrade
from db.schema_version import MIGRATION_FILES, current_revision, head_revision
from db.slack_tables import METADATA

CATALOG_TABLES = {"talks", "speakers", "talk_speakers", "events", "tags", "talk_tags", "links", "talk_sources"}


def test_the_head_revision_read_from_the_file_names_is_alembics_head():
    scripts = ScriptDirectory.from_config(alembic_config(""))
    revisions = list(scripts.walk_revisions())  # newest first, each the one before the last's down_revision

    assert head_revision() == scripts.get_current_head() == Path(revisions[0].path).stem
    assert [Path(revision.path).name for revision in revisions] == sorted(
        (path.name for path in MIGRATION_FILES.glob("*.py")), reverse=True
    )  # one line of history, in file-name order


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
        assert compare_metadata(context, METADATA) == []


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


def test_0007_reads_existing_notes_as_recommendations_except_the_seeds_that_are_not(empty_database):
    """Before 0007 every note counted as praise; the seed's notes that are not become what the seed now says."""
    upgrade(empty_database, "0006_encrypted_tokens")
    engine = engine_for(empty_database)
    with engine.begin() as connection:
        for talk_id, note, source, external_id in [
            (1, "A favourite.", "csv:talks", "t-1"),
            (2, None, "csv:talks", "t-2"),
            (3, "Disappointing.", "seed", "srecon-2022-meta-incident"),
            (4, "Shallow.", "seed", "srecon-2023-spotify-incident-data"),
            (5, "Loved it.", "seed", "srecon-2023-scaling-kafka"),
        ]:
            connection.execute(
                text("INSERT INTO talks (id, title, descriptive_title, talk_type, summary, recommendation, language) "
                     "VALUES (:id, :title, false, 'talk', '', :note, 'en')"),
                {"id": talk_id, "title": f"Talk {talk_id}", "note": note},
            )  # fmt: skip
            connection.execute(
                text("INSERT INTO talk_sources (talk_id, importer, external_id) VALUES (:id, :importer, :external)"),
                {"id": talk_id, "importer": source, "external": external_id},
            )
        connection.execute(text("INSERT INTO links (talk_id, kind, url) VALUES (1, 'video', 'https://example.org/v')"))

    upgrade(empty_database, "0007_verdicts")

    with engine.connect() as connection:
        verdicts = dict(connection.execute(text("SELECT id, verdict FROM talks ORDER BY id")).all())
    assert verdicts == {1: "recommended", 2: None, 3: "not_recommended", 4: "mixed", 5: "recommended"}
    assert "ck_talks_verdict_known" in {check["name"] for check in inspect(engine).get_check_constraints("talks")}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE talks SET verdict = 'great' WHERE id = 1"))

    downgrade(empty_database, "0006_encrypted_tokens")

    assert "verdict" not in {column["name"] for column in inspect(engine).get_columns("talks")}
    with engine.connect() as connection:  # dropping the column must not copy `talks` and cascade to its rows
        assert connection.execute(text("SELECT count(*) FROM links")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM talk_sources")).scalar() == 5


def test_0014_adds_an_empty_thumbnail_to_existing_talks_and_its_downgrade_keeps_their_rows(empty_database):
    upgrade(empty_database, "0013_catalog_changes")
    engine = engine_for(empty_database)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO talks (id, title, descriptive_title, talk_type, summary, language) "
                 "VALUES (1, 'Talk 1', false, 'talk', '', 'en')"),
        )  # fmt: skip
        connection.execute(text("INSERT INTO links (talk_id, kind, url) VALUES (1, 'video', 'https://example.org/v')"))

    upgrade(empty_database, "0014_talk_thumbnails")

    with engine.begin() as connection:
        assert connection.execute(text("SELECT thumbnail_url FROM talks")).scalar_one() is None
        connection.execute(text("UPDATE talks SET thumbnail_url = 'https://example.org/t.jpg'"))

    downgrade(empty_database, "0013_catalog_changes")

    assert "thumbnail_url" not in {column["name"] for column in inspect(engine).get_columns("talks")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT title FROM talks")).scalar_one() == "Talk 1"
        assert connection.execute(text("SELECT count(*) FROM links")).scalar() == 1
