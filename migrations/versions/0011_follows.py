"""Follows: standing queries, the import batches (an outbox) whose new talks they are matched against, and the alerts
claimed before each DM so that every person gets one DM per import, and never hears of a talk twice.

Revision ID: 0011_follows
Revises: 0010_watched_and_for_you
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_follows"
down_revision: str | None = "0010_watched_and_for_you"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("query_key", sa.String(length=200), nullable=False),
        sa.Column("after_batch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("team_id", "user_id", "query_key", name=op.f("uq_follows_team_id_user_id_query_key")),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        sqlite_autoincrement=True,  # never reuse an id: a follow alerts only for batches after the one it saw
    )
    op.create_index(op.f("ix_import_batches_alerted_at"), "import_batches", ["alerted_at"], unique=False)
    op.create_table(
        "import_batch_talks",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        _fk("import_batch_talks", "batch_id", "import_batches"),
        _fk("import_batch_talks", "talk_id", "talks"),
        sa.PrimaryKeyConstraint("batch_id", "talk_id", name=op.f("pk_import_batch_talks")),
    )
    op.create_index("ix_import_batch_talks_talk_id", "import_batch_talks", ["talk_id"], unique=False)
    op.create_table(
        "follow_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('claimed', 'sent', 'skipped', 'failed')", name=op.f("ck_follow_alerts_state_known")
        ),
        _fk("follow_alerts", "batch_id", "import_batches"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_alerts")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_follow_alerts_claim_id")),
        sa.UniqueConstraint("team_id", "user_id", "batch_id", name=op.f("uq_follow_alerts_team_id_user_id_batch_id")),
    )
    op.create_index(op.f("ix_follow_alerts_batch_id"), "follow_alerts", ["batch_id"], unique=False)
    op.create_table(
        "alerted_talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        _fk("alerted_talks", "alert_id", "follow_alerts"),
        _fk("alerted_talks", "talk_id", "talks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerted_talks")),
        sa.UniqueConstraint("team_id", "user_id", "talk_id", name=op.f("uq_alerted_talks_team_id_user_id_talk_id")),
    )
    op.create_index(op.f("ix_alerted_talks_alert_id"), "alerted_talks", ["alert_id"], unique=False)
    op.create_index(op.f("ix_alerted_talks_talk_id"), "alerted_talks", ["talk_id"], unique=False)


def downgrade() -> None:
    for table in ("alerted_talks", "follow_alerts", "import_batch_talks", "import_batches", "follows"):
        op.drop_table(table)
