"""Talk of the week: channel subscriptions, per-period claims of posts, and feedback.

Revision ID: 0003_digests
Revises: 0002_slack_state
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_digests"
down_revision: str | None = "0002_slack_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("subscriber_id", sa.String(length=32), nullable=False),
        sa.Column("cadence", sa.String(length=10), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("minute_of_day", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("cadence IN ('weekly', 'daily')", name=op.f("ck_digest_subscriptions_cadence_known")),
        sa.CheckConstraint("minute_of_day BETWEEN 0 AND 1439", name=op.f("ck_digest_subscriptions_minute_in_day")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_digest_subscriptions_weekday_in_week")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_subscriptions")),
        sa.UniqueConstraint("team_id", "channel_id", name=op.f("uq_digest_subscriptions_team_id_channel_id")),
    )
    with op.batch_alter_table("digest_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_subscriptions_next_run_at"), ["next_run_at"], unique=False)

    op.create_table(
        "digest_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.CheckConstraint("vote IN (-1, 1)", name=op.f("ck_digest_feedback_vote_is_up_or_down")),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_digest_feedback_talk_id_talks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_feedback")),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "talk_id",
            "user_id",
            name=op.f("uq_digest_feedback_team_id_channel_id_talk_id_user_id"),
        ),
    )
    op.create_table(
        "digest_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('claimed', 'posted', 'skipped')", name=op.f("ck_digest_posts_state_known")),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_digest_posts_talk_id_talks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_posts")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_digest_posts_claim_id")),
        sa.UniqueConstraint("team_id", "channel_id", "period", name=op.f("uq_digest_posts_team_id_channel_id_period")),
    )


def downgrade() -> None:
    op.drop_table("digest_posts")
    op.drop_table("digest_feedback")
    with op.batch_alter_table("digest_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_subscriptions_next_run_at"))

    op.drop_table("digest_subscriptions")
