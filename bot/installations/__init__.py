"""OAuth distribution: slack_sdk's SQLAlchemy stores on talkbot's own database, and each workspace's bot token.

Token mode (one workspace, `SLACK_BOT_TOKEN`) stays the default; `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET` turn
on `/slack/install` and `/slack/oauth_redirect`. The tables come from our Alembic migrations, never create_tables().
Every token is stored encrypted with `TALKBOT_ENCRYPTION_KEY` (db/token_cipher.py); with Slack's token rotation on,
bot tokens are refreshed before they expire, for requests (Bolt's authorize step) and for the digest clock alike.
"""

from __future__ import annotations

import datetime as dt
import logging

from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.authorization.authorize_result import AuthorizeResult
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot.config import SlackSettings
from bot.digest.runner import BotClients
from bot.digest.schedule import schedule_of
from bot.installations.clients import WEB_API_LOG, WorkspaceClient, retry_handlers, slack_error_code, web_client
from bot.installations.rotation import GRANT_GONE, REFRESH_MINUTES_BEFORE_EXPIRY, TokenRefresher
from bot.installations.store import EncryptedInstallationStore
from db.slack_tables import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES
from db.workspaces import resume_workspace_digests

log = logging.getLogger(__name__)

# What talkbot asks each workspace for; manifest.yml lists the same scopes (a test keeps the two equal).
BOT_SCOPES = (
    "commands", "chat:write", "app_mentions:read", "im:history", "users:read",
    "channels:history", "groups:history", "channels:read", "groups:read", "links:read", "links:write",
)  # fmt: skip
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# How long someone has between opening /slack/install and approving on Slack's consent page.
STATE_SECONDS = 600
NOT_INSTALLED_MESSAGE = (
    "talkbot is not installed in this workspace (any more), so it cannot answer here. "
    f"A workspace admin can add it again from talkbot's {INSTALL_PATH} page."
)


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

    def __init__(self, settings: SlackSettings, database: Engine) -> None:
        """`database`: the SQLAlchemy engine, which slack_sdk's SQLAlchemy stores use directly."""
        settings.require("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
        self.settings, self.sessions = settings, sessionmaker(database, expire_on_commit=False)
        self.store = EncryptedInstallationStore(
            cipher=settings.token_cipher(), client_id=settings.client_id, engine=database,
            bots_table_name=SLACK_BOTS, installations_table_name=SLACK_INSTALLATIONS,
        )  # fmt: skip
        self.states = SQLAlchemyOAuthStateStore(STATE_SECONDS, database, table_name=SLACK_OAUTH_STATES)
        self.refresher = TokenRefresher(self.store, settings)

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
        # SLACK_API_URL says, and without TokenRefresher's lock.
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
            if slack_error_code(error.api_error) in GRANT_GONE:
                return None  # and the refresher forgot the bot: digests pause until the workspace reinstalls
            raise
        return WorkspaceClient(
            lambda rejected: self._renewed_token(bot, rejected),
            token=bot.bot_token, base_url=self.settings.api_url, logger=WEB_API_LOG, retry_handlers=retry_handlers(),
        )  # fmt: skip

    def _renewed_token(self, bot: Bot, rejected_token: str) -> str | None:
        """A new token for a client whose token Slack called expired; None leaves the client with Slack's error."""
        if not bot.bot_refresh_token:
            return None
        try:
            renewed = self.refresher.refresh_rejected(bot, rejected_token)
        except SlackTokenRotationError as error:
            if slack_error_code(error.api_error) in GRANT_GONE:
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
            if slack_error_code(error) != "token_expired":
                return False
        else:
            return False  # the token works: the request failed to authorize for another reason
        try:
            return self.refresher.refresh_rejected(bot, bot.bot_token) is not None
        except SlackTokenRotationError as error:
            log.warning("workspace %s: could not refresh its bot token: %s", team_id, slack_error_code(error.api_error))
        except SQLAlchemyError:
            log.warning("workspace %s: could not refresh its bot token: database unavailable", team_id)
        return False

    def forget(self, team_id: str, enterprise_id: str | None) -> None:
        self.store.delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def forget_bot(self, team_id: str, enterprise_id: str | None) -> None:
        self.store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)


def bot_clients(settings: SlackSettings, installations: Installations | None) -> BotClients:
    """How the digest clock reaches each workspace: its installation's token (OAuth mode), or the one bot token."""
    if installations is not None:
        return installations.bot_client
    settings.require("SLACK_BOT_TOKEN")
    client = web_client(settings, settings.bot_token)
    return lambda _team_id, _enterprise_id: client
