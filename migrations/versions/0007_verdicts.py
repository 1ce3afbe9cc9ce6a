"""Verdicts: what a reporter's note amounts to — recommended, mixed or not recommended.

Adds `talks.verdict` (nullable: unjudged) with the named CHECK constraint `ck_talks_verdict_known`.

Existing rows. Before this revision every note was read as praise (the digest quoted it, ranking boosted it), so a
talk with a recommendation becomes "recommended": a catalog keeps behaving as it did. The exceptions are the seed
catalog's notes that are not praise; this revision keeps its own copy of their verdicts, so an upgraded catalog stops
praising them even before `talkbot seed` runs again (the embedded SQLite catalog migrates itself but is only seeded
when empty). Talks without a note stay unjudged.

SQLite: the column and its constraint are added, and dropped, with ALTER TABLE (SQLite 3.35+), never by copying the
table as batch mode would: dropping the old `talks` table with foreign keys on would cascade to every talk's
speakers, tags, links, sources and saved entries.

Revision ID: 0007_verdicts
Revises: 0006_encrypted_tokens
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_verdicts"
down_revision: str | None = "0006_encrypted_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This revision's own copies (db/models.py and db/seed/talks.yaml may change later).
VERDICTS = ("recommended", "mixed", "not_recommended")
SEED_VERDICTS = {  # the seed's notes that are not recommendations, by seed id
    "velocity-2019-architecture-katas": "not_recommended",
    "srecon-2022-meta-incident": "not_recommended",
    "communities-in-action-2010-xp-talk": "not_recommended",
    "dotscale-2015-docker-internet-computer": "not_recommended",
    "srecon-2023-spotify-incident-data": "mixed",
    "dotscale-2015-jepsen": "mixed",
    "dotscale-2015-cloudflare-stack": "mixed",
}

talks = sa.table("talks", sa.column("id", sa.Integer), sa.column("recommendation", sa.Text),
                 sa.column("verdict", sa.String))  # fmt: skip
talk_sources = sa.table(
    "talk_sources", sa.column("talk_id", sa.Integer), sa.column("importer", sa.String), sa.column("external_id")
)


def upgrade() -> None:
    known = "verdict IN (" + ", ".join(f"'{verdict}'" for verdict in VERDICTS) + ")"
    op.add_column(
        "talks",
        sa.Column("verdict", sa.String(length=20), sa.CheckConstraint(known, name=op.f("ck_talks_verdict_known"))),
    )
    noted = talks.c.recommendation.is_not(None)
    op.execute(talks.update().where(noted).values(verdict="recommended"))
    for seed_id, verdict in SEED_VERDICTS.items():
        seed_talk = sa.select(talk_sources.c.talk_id).where(
            talk_sources.c.importer == "seed", talk_sources.c.external_id == seed_id
        )
        op.execute(talks.update().where(noted, talks.c.id.in_(seed_talk)).values(verdict=verdict))


def downgrade() -> None:
    op.drop_column("talks", "verdict")
