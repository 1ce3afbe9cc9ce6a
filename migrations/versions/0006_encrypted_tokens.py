"""Slack tokens encrypted at rest: wider secret columns, and the tokens already stored encrypted.

The secret columns of slack_sdk's OAuth tables widen to hold Fernet ciphertext (db/token_cipher.py), and every token
already stored is encrypted with `TALKBOT_ENCRYPTION_KEY`.

No installation stored (token mode, a new database): no key needed. Installations stored and no key set: the upgrade
stops before changing anything and says how to make one. The downgrade decrypts the tokens again (it needs the key).

Revision ID: 0006_encrypted_tokens
Revises: 0005_workspaces
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher, TokenCipherError

revision: str = "0006_encrypted_tokens"
down_revision: str | None = "0005_workspaces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This revision's own copy (db/models.py may change later): the columns that hold secrets, and their widths.
SECRET_COLUMNS = {
    "slack_installations": (
        "bot_token",
        "bot_refresh_token",
        "user_token",
        "user_refresh_token",
        "incoming_webhook_url",
    ),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
PLAIN_LENGTH, ENCRYPTED_LENGTH = 200, 500

Rows = list[tuple[sa.TableClause, int, dict[str, str]]]


def _secret_rows(connection: sa.Connection) -> Rows:
    """Every row holding a secret: (table, id, {column: value}) for its non-empty secret columns."""
    found: Rows = []
    for name, columns in SECRET_COLUMNS.items():
        table = sa.table(name, sa.column("id", sa.Integer), *(sa.column(column, sa.String) for column in columns))
        for row in connection.execute(sa.select(table)).mappings():
            values = {column: row[column] for column in columns if row[column] is not None}
            if values:
                found.append((table, row["id"], values))
    return found


def _cipher(rows: Rows, direction: str) -> TokenCipher | None:
    """The configured cipher; an error naming the variable when rows need one and none is set."""
    cipher = TokenCipher.from_environment()  # a malformed key is an error even with nothing to encrypt
    if rows and cipher is None:
        raise TokenCipherError(
            f"{len(rows)} row(s) of the Slack installation tables hold tokens and this migration {direction} them: "
            f"set {ENCRYPTION_KEY_VARIABLE} first (`talkbot keys generate` prints a new key; keep it with talkbot's "
            "other secrets) and migrate again. Nothing was changed."
        )
    return cipher


def _resize(length_from: int, length_to: int) -> None:
    for name, columns in SECRET_COLUMNS.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.String(length=length_from), type_=sa.String(length=length_to),
                    existing_nullable=True,
                )  # fmt: skip


def _write(connection: sa.Connection, rows: Rows) -> None:
    for table, row_id, values in rows:
        connection.execute(sa.update(table).where(table.c.id == row_id).values(values))


def upgrade() -> None:
    connection = op.get_bind()
    rows = _secret_rows(connection)
    cipher = _cipher(rows, "encrypts")  # before any change: on SQLite, DDL is not rolled back
    encrypted = [(table, row_id, {k: cipher.encrypt(v) for k, v in values.items()}) for table, row_id, values in rows]
    _resize(PLAIN_LENGTH, ENCRYPTED_LENGTH)
    _write(connection, encrypted)


def downgrade() -> None:
    connection = op.get_bind()
    rows = _secret_rows(connection)
    cipher = _cipher(rows, "decrypts")
    plain = [(table, row_id, {k: cipher.decrypt(v) for k, v in values.items()}) for table, row_id, values in rows]
    if any(len(value) > PLAIN_LENGTH for _, _, values in plain for value in values.values()):
        raise TokenCipherError(
            f"a stored Slack token is longer than {PLAIN_LENGTH} characters, the width of the plain-text columns this "
            "downgrade restores: uninstall that workspace (or stay on this version). Nothing was changed."
        )
    _write(connection, plain)
    _resize(ENCRYPTED_LENGTH, PLAIN_LENGTH)
