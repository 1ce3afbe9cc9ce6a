"""Talk embeddings: one vector per talk and embedding model, for the semantic search layer.

`talk_embeddings` holds, per (talk, model), the sha256 of the text that was embedded and the unit vector as float16
bytes. Rows go with their talk (ON DELETE CASCADE). Nothing is computed here: `talkbot seed` stores the seed talks'
shipped vectors and `talkbot embed` (or `talkbot import`) computes the rest.

Revision ID: 0008_talk_embeddings
Revises: 0007_verdicts
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_talk_embeddings"
down_revision: str | None = "0007_verdicts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talk_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("talk_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["talk_id"], ["talks.id"], name=op.f("fk_talk_embeddings_talk_id_talks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talk_embeddings")),
        sa.UniqueConstraint("talk_id", "model", name=op.f("uq_talk_embeddings_talk_id_model")),
        sqlite_autoincrement=True,  # never reuse a deleted row's id: the largest id tells that vectors were added
    )


def downgrade() -> None:
    op.drop_table("talk_embeddings")
