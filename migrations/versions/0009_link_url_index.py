"""An index on links.url: a link pasted in Slack is unfurled with its talk's card, found by URL (db/talk_links.py).

Revision ID: 0009_link_url_index
Revises: 0008_talk_embeddings
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_link_url_index"
down_revision: str | None = "0008_talk_embeddings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_links_url"), "links", ["url"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_links_url"), table_name="links")
