"""Slack state: talks users saved, and Events API deliveries already handled.

Revision ID: 0002_slack_state
Revises: 0001_catalog
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_slack_state"
down_revision: str | None = "0001_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_event_receipts",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_slack_event_receipts")),
    )
    with op.batch_alter_table("slack_event_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_event_receipts_received_at"), ["received_at"], unique=False)

    op.create_table(
        "saved_talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_saved_talks_talk_id_talks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_talks")),
        sa.UniqueConstraint("team_id", "user_id", "talk_id", name=op.f("uq_saved_talks_team_id_user_id_talk_id")),
    )
    with op.batch_alter_table("saved_talks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_talks_talk_id"), ["talk_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("saved_talks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_talks_talk_id"))

    op.drop_table("saved_talks")
    with op.batch_alter_table("slack_event_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_event_receipts_received_at"))

    op.drop_table("slack_event_receipts")
