"""Slack's token rotation for bot tokens, safe with several processes refreshing the same workspace at once."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Connection, RowMapping, and_, delete, desc, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.config import SlackSettings
from bot.installations.clients import slack_error_code, web_client
from bot.installations.store import EncryptedInstallationStore

log = logging.getLogger(__name__)

# With token rotation on, a bot token is refreshed once it expires within this many minutes (Bolt's default).
REFRESH_MINUTES_BEFORE_EXPIRY = 120
# Refresh errors that mean the workspace's grant is gone (uninstalled, revoked): like not being installed.
GRANT_GONE = ("invalid_refresh_token", "invalid_grant", "token_revoked", "account_inactive")


def expires_within(bot: Bot, minutes: float) -> bool:
    return bot.bot_token_expires_at is not None and bot.bot_token_expires_at <= time.time() + minutes * 60


class TokenRefresher(TokenRotator):
    """Slack's token rotation for bot tokens: slack_sdk's `TokenRotator` (what Bolt's authorize step calls before
    each request), made safe for several processes at once.

    Slack revokes a refresh token once it is used, so two processes refreshing the same workspace together would
    leave one of them with a dead token. Each refresh therefore locks the workspace's latest bot row (a row lock on
    PostgreSQL, the write lock on SQLite, held for the one call to Slack), reads it again, and calls Slack only if no
    one refreshed it meanwhile; the new tokens are written in that transaction, through the store's encrypting tables.
    """

    def __init__(self, store: EncryptedInstallationStore, settings: SlackSettings) -> None:
        super().__init__(
            client_id=settings.client_id, client_secret=settings.client_secret, client=web_client(settings)
        )
        self.store = store

    def perform_bot_token_rotation(
        self, *, bot: Bot, minutes_before_expiration: int = REFRESH_MINUTES_BEFORE_EXPIRY
    ) -> Bot | None:
        """The bot with a new token when its token expires within `minutes_before_expiration`; None otherwise, or
        when the database is unreachable (the current token goes on working until it expires)."""
        if not bot.bot_refresh_token or not expires_within(bot, minutes_before_expiration):
            return None
        try:
            return self._refresh(bot, done=lambda current: not expires_within(current, minutes_before_expiration))
        except SQLAlchemyError:
            log.warning("could not refresh the bot token of workspace %s: database unavailable", bot.team_id)
            return None

    def refresh_rejected(self, bot: Bot, rejected_token: str) -> Bot | None:
        """Slack answered `token_expired` for `rejected_token`: a new token, or the one another process got since."""
        return self._refresh(bot, done=lambda current: current.bot_token != rejected_token)

    def _refresh(self, bot: Bot, done: Callable[[Bot], bool]) -> Bot | None:
        store, bots = self.store, self.store.bots
        workspace = and_(
            bots.c.client_id == store.client_id, bots.c.enterprise_id == bot.enterprise_id,
            bots.c.team_id == bot.team_id,
        )  # fmt: skip
        latest = select(bots).where(workspace, bots.c.bot_token.is_not(None)).order_by(desc(bots.c.installed_at))
        with store.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's write lock, now rather than at the update
            row = connection.execute(latest.limit(1).with_for_update()).mappings().first()
            if row is None:
                return None  # uninstalled meanwhile
            current = store.build_bot_entity(row)
            if done(current):
                return current
            try:
                refreshed = self._refreshed(current)
            except SlackTokenRotationError as error:
                if slack_error_code(error.api_error) not in GRANT_GONE:
                    raise
                # Slack will not refresh it: uninstalled, revoked, or a refreshed token lost on its way here. Like a
                # revoked token (the tokens_revoked event): forget the bot, so digests pause until a reinstall.
                connection.execute(delete(bots).where(workspace))
                refused = error
            else:
                refused = None
                self._save(connection, row, refreshed)
        if refused:
            store.forget_remembered()
            log.warning("workspace %s: Slack refused to refresh its bot token (%s); it must install talkbot again",
                        bot.team_id, slack_error_code(refused.api_error))  # fmt: skip
            raise refused
        expires = dt.datetime.fromtimestamp(refreshed.bot_token_expires_at, dt.UTC)
        log.info("refreshed the bot token of workspace %s; the new one expires %s", bot.team_id, f"{expires:%H:%M} UTC")
        return refreshed

    def _save(self, connection: Connection, row: RowMapping, refreshed: Bot) -> None:
        """The new tokens, in the bot row that was read and in the installation row saved with it."""
        store, bots, installations = self.store, self.store.bots, self.store.installations
        expires_at = dt.datetime.fromtimestamp(refreshed.bot_token_expires_at, dt.UTC)
        tokens = {
            "bot_token": refreshed.bot_token, "bot_refresh_token": refreshed.bot_refresh_token,
            "bot_token_expires_at": expires_at.replace(tzinfo=None),  # naive UTC, as slack_sdk stores it
        }  # fmt: skip
        connection.execute(update(bots).where(bots.c.id == row["id"]).values(tokens))
        same_install = and_(
            installations.c.client_id == store.client_id, installations.c.enterprise_id == row["enterprise_id"],
            installations.c.team_id == row["team_id"], installations.c.installed_at == row["installed_at"],
        )  # fmt: skip
        connection.execute(update(installations).where(same_install).values(tokens))

    def _refreshed(self, bot: Bot) -> Bot:
        """Trade the refresh token for new tokens (as slack_sdk's TokenRotator does, whatever the expiry)."""
        try:
            response = self.client.oauth_v2_access(
                client_id=self.client_id, client_secret=self.client_secret, grant_type="refresh_token",
                refresh_token=bot.bot_refresh_token,
            )  # fmt: skip
        except SlackApiError as error:
            raise SlackTokenRotationError(error) from None
        refreshed = Bot(**bot.to_dict_for_copying())
        refreshed.bot_token = response["access_token"]
        refreshed.bot_refresh_token = response.get("refresh_token")
        refreshed.bot_token_expires_at = int(time.time()) + int(response["expires_in"])
        return refreshed
