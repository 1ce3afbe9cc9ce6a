"""The catalog's change log: which talks each revision added, changed or deleted, so a running process brings its
search index up to date by re-reading those talks only (db/search/incremental.py).

Revision ID: 0013_catalog_changes
Revises: 0012_catalog_identity
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_catalog_changes"
down_revision: str | None = "0012_catalog_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_changes")),
    )
    op.create_index(op.f("ix_catalog_changes_revision"), "catalog_changes", ["revision"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_catalog_changes_revision"), table_name="catalog_changes")
    op.drop_table("catalog_changes")
