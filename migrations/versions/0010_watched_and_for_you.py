"""Watched talks, and For you: a person's weekly DM as a kind of digest subscription.

Adds the `watched_talks` table (one row per workspace, user and talk) and `digest_subscriptions.kind`, "channel" for
every existing subscription (a channel's Talk of the week) or "foryou" (a person's DM), with the named CHECK
constraint `ck_digest_subscriptions_kind_known`.

SQLite: the column and its constraint are added, and dropped, with ALTER TABLE (SQLite 3.35+), as in 0007.

Revision ID: 0010_watched_and_for_you
Revises: 0009_link_url_index
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_watched_and_for_you"
down_revision: str | None = "0009_link_url_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("channel", "foryou")  # this revision's own copy (db/models.py may change later)


def upgrade() -> None:
    op.create_table(
        "watched_talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("watched_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_watched_talks_talk_id_talks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watched_talks")),
        sa.UniqueConstraint("team_id", "user_id", "talk_id", name=op.f("uq_watched_talks_team_id_user_id_talk_id")),
    )
    op.create_index(op.f("ix_watched_talks_talk_id"), "watched_talks", ["talk_id"], unique=False)
    known = "kind IN (" + ", ".join(f"'{kind}'" for kind in KINDS) + ")"
    op.add_column(
        "digest_subscriptions",
        sa.Column(
            "kind", sa.String(length=10), sa.CheckConstraint(known, name=op.f("ck_digest_subscriptions_kind_known")),
            server_default="channel", nullable=False,
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_column("digest_subscriptions", "kind")
    op.drop_index(op.f("ix_watched_talks_talk_id"), table_name="watched_talks")
    op.drop_table("watched_talks")
