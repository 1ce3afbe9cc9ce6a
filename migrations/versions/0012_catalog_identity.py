"""The catalog's identity: a random id written once into the catalog_revision row, so a saved search index
(db/search/snapshot.py) is only ever loaded into the catalog it was built from, never into another database that
happens to be at the same revision number.

Revision ID: 0012_catalog_identity
Revises: 0011_follows
Create Date: 2026-11-27
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_catalog_identity"
down_revision: str | None = "0011_follows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_revision") as batch:
        batch.add_column(sa.Column("identity", sa.String(length=32), nullable=True))
    catalog_revision = sa.table("catalog_revision", sa.column("id", sa.Integer), sa.column("identity", sa.String))
    op.execute(catalog_revision.update().where(catalog_revision.c.id == 1).values(identity=uuid.uuid4().hex))


def downgrade() -> None:
    with op.batch_alter_table("catalog_revision") as batch:
        batch.drop_column("identity")
