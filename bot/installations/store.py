"""Installations at rest: slack_sdk's SQLAlchemy store with every token encrypted, and re-encryption under a new key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Connection, Engine, Table, and_, select, update
from sqlalchemy.exc import SQLAlchemyError

from db.slack_tables import METADATA, SLACK_SECRET_COLUMNS, with_secret_columns
from db.token_cipher import EncryptedString, TokenCipher

log = logging.getLogger(__name__)


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's store on talkbot's tables, with two differences.

    - Every secret column (`SLACK_SECRET_COLUMNS`) is an `EncryptedString`: tokens are encrypted on their way into
      the database and decrypted on their way out, whichever of slack_sdk's methods reads or writes them.
    - It remembers the last installation it read for each workspace. While the database is down, Bolt still
      authorizes requests from workspaces this process has served, so they reach talkbot's listeners and are asked to
      try again, instead of failing inside Bolt with a 500 or a false "not installed".
    """

    def __init__(self, *, cipher: TokenCipher, **kwargs) -> None:
        super().__init__(**kwargs)
        with_secret_columns(self.bots, EncryptedString(cipher))
        with_secret_columns(self.installations, EncryptedString(cipher))
        self._last_read: dict[tuple, object] = {}

    def find_installation(self, **where) -> Installation | None:
        return self._read_or_remember(super().find_installation, ("installation", *sorted(where.items())), where)

    def find_bot(self, **where) -> Bot | None:
        return self._read_or_remember(super().find_bot, ("bot", *sorted(where.items())), where)

    def _read_or_remember(self, read: Callable, key: tuple, where: dict):
        try:
            found = read(**where)
        except SQLAlchemyError:
            if key not in self._last_read:  # never read: "not installed" would be a guess, so fail as before
                raise
            log.warning("installation store unavailable; using what this process last read for it")
            return self._last_read[key]
        self._last_read[key] = found
        return found

    def delete_bot(self, **where) -> None:
        super().delete_bot(**where)
        self._last_read.clear()

    def delete_installation(self, **where) -> None:
        super().delete_installation(**where)
        self._last_read.clear()

    def forget_remembered(self) -> None:
        """Rows were deleted behind slack_sdk's back (a refused refresh): remember nothing read before."""
        self._last_read.clear()


@dataclass
class KeyRotation:
    """What `talkbot keys rotate` did to the stored secrets."""

    reencrypted: int = 0
    already_current: int = 0  # encrypted with the first key already
    left_behind: int = 0  # still not under the first key: rewritten meanwhile by a process with an older first key


def reencrypt_stored_tokens(database: Engine, cipher: TokenCipher) -> KeyRotation:
    """Encrypt every stored secret again with the first key, in one transaction, so the other keys can be dropped.

    Every value must decrypt (one that no key decrypts stops the run, nothing changed), and is rewritten only if it is
    still what was read: a token refreshed meanwhile is never overwritten with its predecessor."""
    report = KeyRotation()
    with database.begin() as connection:
        for table, row_id, column, stored in list(_stored_secrets(connection)):
            if cipher.uses_primary_key(stored):
                report.already_current += 1
                continue
            still_stored = and_(table.c.id == row_id, table.c[column] == stored)
            fresh = cipher.reencrypt(stored)
            report.reencrypted += connection.execute(update(table).where(still_stored).values({column: fresh})).rowcount
        report.left_behind = sum(not cipher.uses_primary_key(value) for *_, value in _stored_secrets(connection))
    return report


def _stored_secrets(connection: Connection) -> Iterator[tuple[Table, int, str, str]]:
    """(table, row id, column, ciphertext as stored) for every secret in the Slack installation tables."""
    for name, columns in SLACK_SECRET_COLUMNS.items():
        table = METADATA.tables[name]  # the schema's plain string columns: values as stored
        for row in connection.execute(select(table.c.id, *(table.c[column] for column in columns))).mappings():
            yield from ((table, row["id"], column, row[column]) for column in columns if row[column] is not None)
