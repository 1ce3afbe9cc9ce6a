"""OAuth distribution: slack_sdk's SQLAlchemy stores on talkbot's own database, and each workspace's bot token.

Token mode (one workspace, `SLACK_BOT_TOKEN`) stays the default; `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET` turn
on `/slack/install` and `/slack/oauth_redirect`. The tables come from our Alembic migrations, never create_tables().
Every token is stored encrypted with `TALKBOT_ENCRYPTION_KEY` (db/token_cipher.py); with Slack's token rotation on,
bot tokens are refreshed before they expire, for requests (Bolt's authorize step) and for the digest clock alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.authorization.authorize_result import AuthorizeResult
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web import SlackResponse
from sqlalchemy import Connection, Engine, RowMapping, Table, and_, delete, desc, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SlackSettings
from bot.digest.runner import BotClients, schedule_of
from db.models import (
    SLACK_BOTS,
    SLACK_INSTALLATIONS,
    SLACK_OAUTH_STATES,
    SLACK_SECRET_COLUMNS,
    Base,
    with_secret_columns,
)
from db.token_cipher import EncryptedString, TokenCipher
from db.workspaces import resume_workspace_digests

log = logging.getLogger(__name__)
# slack_sdk's Web API client logs each request's parameters and each response's body at DEBUG: with token rotation
# those hold refresh tokens and new access tokens. Its own logger, at INFO whatever the root level, keeps them out.
WEB_API_LOG = logging.getLogger("talkbot.slack_web_api")
WEB_API_LOG.setLevel(logging.INFO)

# What talkbot asks each workspace for; manifest.yml lists the same scopes (a test keeps the two equal).
BOT_SCOPES = (
    "commands", "chat:write", "app_mentions:read", "im:history", "users:read",
    "channels:history", "groups:history", "channels:read", "groups:read",
)  # fmt: skip
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# How long someone has between opening /slack/install and approving on Slack's consent page.
STATE_SECONDS = 600
# With token rotation on, a bot token is refreshed once it expires within this many minutes (Bolt's default).
REFRESH_MINUTES_BEFORE_EXPIRY = 120
# Refresh errors that mean the workspace's grant is gone (uninstalled, revoked): like not being installed.
GRANT_GONE = ("invalid_refresh_token", "invalid_grant", "token_revoked", "account_inactive")
NOT_INSTALLED_MESSAGE = (
    "talkbot is not installed in this workspace (any more), so it cannot answer here. "
    f"A workspace admin can add it again from talkbot's {INSTALL_PATH} page."
)


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """A Web API client: `SLACK_API_URL` decides where it points. A dropped connection is retried once (slack_sdk's
    default handler, which passing our own list would otherwise drop) and a 429 after its Retry-After, up to 3 times.
    Bolt copies these handlers into the client it makes for each request, so listeners and `say()` get them too."""
    return WebClient(token=token, base_url=settings.api_url, logger=WEB_API_LOG, retry_handlers=_retry_handlers())


def _retry_handlers() -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(max_retry_count=3)]


class _InstallationStore(SQLAlchemyInstallationStore):
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


def _expires_within(bot: Bot, minutes: float) -> bool:
    return bot.bot_token_expires_at is not None and bot.bot_token_expires_at <= time.time() + minutes * 60


class _TokenRefresher(TokenRotator):
    """Slack's token rotation for bot tokens: slack_sdk's `TokenRotator` (what Bolt's authorize step calls before
    each request), made safe for several processes at once.

    Slack revokes a refresh token once it is used, so two processes refreshing the same workspace together would
    leave one of them with a dead token. Each refresh therefore locks the workspace's latest bot row (a row lock on
    PostgreSQL, the write lock on SQLite, held for the one call to Slack), reads it again, and calls Slack only if no
    one refreshed it meanwhile; the new tokens are written in that transaction, through the store's encrypting tables.
    """

    def __init__(self, store: _InstallationStore, settings: SlackSettings) -> None:
        super().__init__(
            client_id=settings.client_id, client_secret=settings.client_secret, client=web_client(settings)
        )
        self.store = store

    def perform_bot_token_rotation(
        self, *, bot: Bot, minutes_before_expiration: int = REFRESH_MINUTES_BEFORE_EXPIRY
    ) -> Bot | None:
        """The bot with a new token when its token expires within `minutes_before_expiration`; None otherwise, or
        when the database is unreachable (the current token goes on working until it expires)."""
        if not bot.bot_refresh_token or not _expires_within(bot, minutes_before_expiration):
            return None
        try:
            return self._refresh(bot, done=lambda current: not _expires_within(current, minutes_before_expiration))
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
                if _error_of(error.api_error) not in GRANT_GONE:
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
                        bot.team_id, _error_of(refused.api_error))  # fmt: skip
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


class _WorkspaceClient(WebClient):
    """A workspace's Web API client that, when Slack says its token expired, gets a new one and tries once more."""

    def __init__(self, renew: Callable[[str], str | None], **kwargs) -> None:
        super().__init__(**kwargs)
        self._renew = renew

    def api_call(self, api_method: str, **kwargs) -> SlackResponse:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            renewed = self._renew(self.token) if _error_of(error) == "token_expired" else None
            if renewed is None:
                raise
            self.token = renewed
            return super().api_call(api_method, **kwargs)


def _error_of(error: SlackApiError) -> str:
    """Slack's error code (`token_expired`, `invalid_refresh_token`, …) for a call it refused."""
    data = error.response.data
    return data.get("error", "") if isinstance(data, dict) else ""


class _RefreshingAuthorize(InstallationStoreAuthorize):
    """Bolt's authorize step, which refreshes a bot token before it expires, plus one case it leaves out: Slack
    already answering `token_expired` (the token was expired early, or clocks disagree). Then refresh and try again."""

    def __init__(self, installations: Installations) -> None:
        settings = installations.settings
        super().__init__(
            logger=log, installation_store=installations.store, client_id=settings.client_id,
            client_secret=settings.client_secret, token_rotation_expiration_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
        )  # fmt: skip
        self.token_rotator = installations.refresher
        self.installations = installations

    def __call__(self, **request) -> AuthorizeResult | None:
        result = super().__call__(**request)
        if result is None and self.installations.renew_expired(request["team_id"], request["enterprise_id"]):
            result = super().__call__(**request)
        return result


class Installations:
    """The workspaces that installed talkbot over OAuth, kept (tokens encrypted) in `slack_installations` and
    `slack_bots`; with Slack's token rotation on, their bot tokens are refreshed before they expire."""

    def __init__(self, settings: SlackSettings, sessions: sessionmaker[Session]) -> None:
        settings.require("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
        self.settings, self.sessions = settings, sessions
        database = sessions.kw["bind"]
        self.store = _InstallationStore(
            cipher=settings.token_cipher(), client_id=settings.client_id, engine=database,
            bots_table_name=SLACK_BOTS, installations_table_name=SLACK_INSTALLATIONS,
        )  # fmt: skip
        self.states = SQLAlchemyOAuthStateStore(STATE_SECONDS, database, table_name=SLACK_OAUTH_STATES)
        self.refresher = _TokenRefresher(self.store, settings)

    def oauth_settings(self) -> OAuthSettings:
        oauth = OAuthSettings(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=self.settings.redirect_uri,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=self.settings.authorization_url,
            installation_store=self.store,
            token_rotation_expiration_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
            state_store=self.states,
            callback_options=CallbackOptions(success=self._installed, failure=self._not_installed),
        )
        # Bolt's own authorize step would refresh tokens through a client of its own, aimed at slack.com whatever
        # SLACK_API_URL says, and without _TokenRefresher's lock.
        oauth.authorize = _RefreshingAuthorize(self)
        return oauth

    def _installed(self, args: SuccessArgs) -> BoltResponse:
        """A (re)install: digests paused because the app lost its access run again; then Slack's usual page."""
        installation, now = args.installation, dt.datetime.now(dt.UTC)
        with self.sessions.begin() as session:
            resumed = resume_workspace_digests(
                session, installation.team_id or "", lambda subscription: schedule_of(subscription).next_due(now)
            )
        log.info("installed in workspace %s; %d paused digest(s) resumed", installation.team_id, resumed)
        return args.default.success(args)

    @staticmethod
    def _not_installed(args: FailureArgs) -> BoltResponse:
        """A refused or broken install (denied consent, reused link): logged by reason, then Slack's usual page."""
        log.warning("an install did not complete: %s", args.reason)
        return args.default.failure(args)

    def _find_bot(self, team_id: str | None, enterprise_id: str | None) -> Bot | None:
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:  # installed once for the whole Enterprise Grid organisation
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        return bot

    def bot_client(self, team_id: str, enterprise_id: str | None) -> WebClient | None:
        """A client with the workspace's bot token, refreshed first if it is about to expire; None when talkbot is
        not installed there (never installed, uninstalled, or its grant revoked so no token can be refreshed)."""
        bot = self._find_bot(team_id, enterprise_id)
        if bot is None:
            return None
        try:
            bot = self.refresher.perform_bot_token_rotation(bot=bot) or bot
        except SlackTokenRotationError as error:
            if _error_of(error.api_error) in GRANT_GONE:
                return None  # and the refresher forgot the bot: digests pause until the workspace reinstalls
            raise
        return _WorkspaceClient(
            lambda rejected: self._renewed_token(bot, rejected),
            token=bot.bot_token, base_url=self.settings.api_url, logger=WEB_API_LOG, retry_handlers=_retry_handlers(),
        )  # fmt: skip

    def _renewed_token(self, bot: Bot, rejected_token: str) -> str | None:
        """A new token for a client whose token Slack called expired; None leaves the client with Slack's error."""
        if not bot.bot_refresh_token:
            return None
        try:
            renewed = self.refresher.refresh_rejected(bot, rejected_token)
        except SlackTokenRotationError as error:
            if _error_of(error.api_error) in GRANT_GONE:
                return None
            raise
        return renewed.bot_token if renewed else None

    def renew_expired(self, team_id: str | None, enterprise_id: str | None) -> bool:
        """After a failed authorization: if Slack says the workspace's stored token expired, refresh it (True)."""
        try:
            bot = self._find_bot(team_id, enterprise_id)
        except SQLAlchemyError:
            return False  # no database, no refresh: the request is refused as it would have been
        if bot is None or not bot.bot_refresh_token:
            return False
        try:
            self.refresher.client.auth_test(token=bot.bot_token)
        except SlackApiError as error:
            if _error_of(error) != "token_expired":
                return False
        else:
            return False  # the token works: the request failed to authorize for another reason
        try:
            return self.refresher.refresh_rejected(bot, bot.bot_token) is not None
        except SlackTokenRotationError as error:
            log.warning("workspace %s: could not refresh its bot token: %s", team_id, _error_of(error.api_error))
        except SQLAlchemyError:
            log.warning("workspace %s: could not refresh its bot token: database unavailable", team_id)
        return False

    def forget(self, team_id: str, enterprise_id: str | None) -> None:
        self.store.delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def forget_bot(self, team_id: str, enterprise_id: str | None) -> None:
        self.store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)


def bot_clients(settings: SlackSettings, sessions: sessionmaker[Session]) -> BotClients:
    """How the digest clock reaches each workspace: its installation's token, or in token mode the one token."""
    if settings.uses_oauth:
        return Installations(settings, sessions).bot_client
    settings.require("SLACK_BOT_TOKEN")
    client = web_client(settings, settings.bot_token)
    return lambda _team_id, _enterprise_id: client


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
        table = Base.metadata.tables[name]  # the schema's plain string columns: values as stored
        for row in connection.execute(select(table.c.id, *(table.c[column] for column in columns))).mappings():
            yield from ((table, row["id"], column, row[column]) for column in columns if row[column] is not None)
