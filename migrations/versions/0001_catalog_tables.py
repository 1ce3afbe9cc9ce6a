"""Catalog tables: talks, speakers, events, tags, links, sources and the catalog revision counter.

Revision ID: 0001_catalog
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_catalog"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_catalog_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_revision")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=200), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("series", "name", "year", name=op.f("uq_events_series_name_year")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_year"), ["year"], unique=False)

    op.create_table(
        "speakers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_key", sa.String(length=300), nullable=False),
        sa.Column("affiliation", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speakers")),
        sa.UniqueConstraint("name_key", name=op.f("uq_speakers_name_key")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("descriptive_title", sa.Boolean(), nullable=False),
        sa.Column("talk_type", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recommendation", sa.Text(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "talk_type IN ('talk', 'keynote', 'tutorial', 'lightning', 'workshop')",
            name=op.f("ck_talks_talk_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_talks_event_id_events"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talks")),
    )
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talks_event_id"), ["event_id"], unique=False)

    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.CheckConstraint("kind IN ('video', 'slides', 'schedule', 'article')", name=op.f("ck_links_kind_known")),
        sa.ForeignKeyConstraint(["talk_id"], ["talks.id"], name=op.f("fk_links_talk_id_talks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("talk_id", "kind", "url", name=op.f("uq_links_talk_id_kind_url")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_talk_id"), ["talk_id"], unique=False)

    op.create_table(
        "talk_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("importer", sa.String(length=50), nullable=False),
        sa.Column("external_id", sa.String(length=500), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_talk_sources_talk_id_talks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talk_sources")),
        sa.UniqueConstraint("importer", "external_id", name=op.f("uq_talk_sources_importer_external_id")),
    )
    with op.batch_alter_table("talk_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talk_sources_talk_id"), ["talk_id"], unique=False)

    op.create_table(
        "talk_speakers",
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("speaker_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("affiliation", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["speakers.id"],
            name=op.f("fk_talk_speakers_speaker_id_speakers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_talk_speakers_talk_id_talks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("talk_id", "speaker_id", name=op.f("pk_talk_speakers")),
    )
    with op.batch_alter_table("talk_speakers", schema=None) as batch_op:
        batch_op.create_index("ix_talk_speakers_speaker_id", ["speaker_id"], unique=False)

    op.create_table(
        "talk_tags",
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_talk_tags_tag_id_tags"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["talk_id"], ["talks.id"], name=op.f("fk_talk_tags_talk_id_talks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("talk_id", "tag_id", name=op.f("pk_talk_tags")),
    )
    with op.batch_alter_table("talk_tags", schema=None) as batch_op:
        batch_op.create_index("ix_talk_tags_tag_id", ["tag_id"], unique=False)

    catalog_revision = sa.table("catalog_revision", sa.column("id", sa.Integer), sa.column("revision", sa.Integer))
    op.bulk_insert(catalog_revision, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    with op.batch_alter_table("talk_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_talk_tags_tag_id")

    op.drop_table("talk_tags")
    with op.batch_alter_table("talk_speakers", schema=None) as batch_op:
        batch_op.drop_index("ix_talk_speakers_speaker_id")

    op.drop_table("talk_speakers")
    with op.batch_alter_table("talk_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talk_sources_talk_id"))

    op.drop_table("talk_sources")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_talk_id"))

    op.drop_table("links")
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talks_event_id"))

    op.drop_table("talks")
    op.drop_table("tags")
    op.drop_table("speakers")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_year"))

    op.drop_table("events")
    op.drop_table("catalog_revision")
