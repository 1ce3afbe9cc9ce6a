"""Slack tokens encrypted at rest with Fernet keys from `TALKBOT_ENCRYPTION_KEY`.

The variable holds one key or several, comma-separated: the first encrypts, every one decrypts (`MultiFernet`), so a
key is replaced without downtime: put the new key first, keep the old one after it until `talkbot keys rotate` has
re-encrypted every stored token, then drop it. No Slack imports here: the migrations encrypt existing rows with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

ENCRYPTION_KEY_VARIABLE = "TALKBOT_ENCRYPTION_KEY"
HOW_TO_MAKE_A_KEY = "`talkbot keys generate` prints a new one"


class TokenCipherError(ValueError):
    """A key is missing or malformed, or a stored token cannot be decrypted; the message never holds either."""


class UndecryptableToken(TokenCipherError):
    """A stored token that none of the configured keys encrypted (or that was changed in the database)."""


class TokenCipher:
    """Encrypts and decrypts token strings; the first key encrypts, all of them decrypt."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise TokenCipherError(f"{ENCRYPTION_KEY_VARIABLE} holds no key: {HOW_TO_MAKE_A_KEY}")
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                which = f"key {number} of {len(keys)}" if len(keys) > 1 else "its key"
                raise TokenCipherError(
                    f"{ENCRYPTION_KEY_VARIABLE}: {which} is not a Fernet key (44 characters of URL-safe base64); "
                    f"{HOW_TO_MAKE_A_KEY}"
                ) from None  # the key itself stays out of the traceback
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_setting(cls, value: str | None) -> TokenCipher | None:
        """The cipher for a `TALKBOT_ENCRYPTION_KEY` value (comma-separated keys); None when it is unset or blank."""
        keys = [key.strip() for key in (value or "").split(",") if key.strip()]
        return cls(keys) if keys else None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TokenCipher | None:
        return cls.from_setting(environ.get(ENCRYPTION_KEY_VARIABLE))

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, token: str) -> str:
        return self._primary.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        try:
            return self._all.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UndecryptableToken(
                f"a stored Slack token cannot be decrypted with any key in {ENCRYPTION_KEY_VARIABLE}: the key it was "
                "encrypted with is missing (after a key change, list the new key first and the old one after it)"
            ) from None

    def uses_primary_key(self, stored: str) -> bool:
        """Whether `stored` was encrypted with the first key, i.e. survives dropping every other key."""
        try:
            self._primary.decrypt(stored.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reencrypt(self, stored: str) -> str:
        """`stored` encrypted again with the first key (it may have been encrypted with any configured key)."""
        self.decrypt(stored)  # the clear error, if no key fits
        return self._all.rotate(stored.encode("ascii")).decode("ascii")


# Fernet adds 57 bytes and pads to 16, then base64 adds a third: a token of n characters takes
# 4 * ceil((73 + 16 * (n // 16)) / 3) characters, so 500 holds tokens of up to 303 (slack_sdk's columns held 200).
ENCRYPTED_LENGTH = 500


class EncryptedString(TypeDecorator):
    """A string column holding `cipher.encrypt(value)`: callers read and write plain tokens, the database sees none."""

    impl = String(ENCRYPTED_LENGTH)
    cache_ok = True

    def __init__(self, cipher: TokenCipher) -> None:
        super().__init__()
        self.cipher = cipher

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else self.cipher.encrypt(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else self.cipher.decrypt(value)
