"""A talk's thumbnail: the https image its card shows (pyvideo's video still, a schedule's logo).

Revision ID: 0014_talk_thumbnails
Revises: 0013_catalog_changes
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_talk_thumbnails"
down_revision: str | None = "0013_catalog_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("talks", sa.Column("thumbnail_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    # Not in batch mode: on SQLite a batch copies `talks` and drops the old table, and that drop would cascade to
    # every talk's links, speakers and sources. SQLite (3.35+) and PostgreSQL drop a plain column in place.
    op.drop_column("talks", "thumbnail_url")
