"""Imports remember a fingerprint of each record, so unchanged re-imports are fast.

Revision ID: 0004_record_hash
Revises: 0003_digests
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_record_hash"
down_revision: str | None = "0003_digests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("talk_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("talk_sources", schema=None) as batch_op:
        batch_op.drop_column("record_hash")
