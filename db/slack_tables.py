"""Slack's OAuth tables, in slack_sdk's own layout so its SQLAlchemy stores can read them; apart from db/models.py
because building them imports slack_sdk, which a search from the command line does not need (~0.06 s of its start)."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import String, Table
from sqlalchemy.types import TypeEngine

from db.models import Base
from db.token_cipher import ENCRYPTED_LENGTH

# Slack's OAuth tables, in slack_sdk's own layout so its SQLAlchemy stores can read them. Declared here so that our
# migrations create them and `alembic check` watches them, instead of the stores' create_tables(). One change: the
# secret columns are wider, because talkbot stores them encrypted (db/token_cipher.py) and ciphertext is longer.
SLACK_INSTALLATIONS = "slack_installations"
SLACK_BOTS = "slack_bots"
SLACK_OAUTH_STATES = "slack_oauth_states"
# Every column of slack_sdk's tables that lets its holder act as talkbot in a workspace (an incoming webhook URL
# posts to a channel). The OAuth state table holds only ten-minute nonces: not secrets worth encrypting.
SLACK_SECRET_COLUMNS = {
    SLACK_INSTALLATIONS: ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url"),
    SLACK_BOTS: ("bot_token", "bot_refresh_token"),
}


def with_secret_columns(table: Table, column_type: TypeEngine) -> Table:
    """slack_sdk's `table` with every secret column of `column_type`: String(ENCRYPTED_LENGTH) in the schema,
    EncryptedString in the installation store (bot/installations/store.py), which encrypts and decrypts them."""
    for name in SLACK_SECRET_COLUMNS[table.name]:
        table.c[name].type = column_type
    return table


with_secret_columns(
    SQLAlchemyInstallationStore.build_installations_table(Base.metadata, SLACK_INSTALLATIONS), String(ENCRYPTED_LENGTH)
)
with_secret_columns(SQLAlchemyInstallationStore.build_bots_table(Base.metadata, SLACK_BOTS), String(ENCRYPTED_LENGTH))
SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, SLACK_OAUTH_STATES)

# The whole schema, talkbot's tables and Slack's: what the migrations create and `alembic check` compares.
METADATA = Base.metadata
