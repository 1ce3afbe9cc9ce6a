"""OAuth distribution: slack_sdk's SQLAlchemy stores on talkbot's own database, and each workspace's bot token.

Token mode (one workspace, `SLACK_BOT_TOKEN`) stays the default; `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET` turn
on `/slack/install` and `/slack/oauth_redirect`. The tables come from our Alembic migrations, never create_tables().
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SlackSettings
from bot.digest.runner import BotClients, schedule_of
from db.models import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES
from db.workspaces import resume_workspace_digests

log = logging.getLogger(__name__)

# What talkbot asks each workspace for; manifest.yml lists the same scopes (a test keeps the two equal).
BOT_SCOPES = (
    "commands", "chat:write", "app_mentions:read", "im:history", "im:read", "im:write", "users:read",
    "channels:history", "groups:history", "channels:read", "groups:read",
)  # fmt: skip
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# How long someone has between opening /slack/install and approving on Slack's consent page.
STATE_SECONDS = 600
NOT_INSTALLED_MESSAGE = (
    "talkbot is not installed in this workspace (any more), so it cannot answer here. "
    f"A workspace admin can add it again from talkbot's {INSTALL_PATH} page."
)


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """A Web API client: `SLACK_API_URL` decides where it points; 429s are retried after Retry-After."""
    return WebClient(
        token=token,
        base_url=settings.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
    )


class _RememberingInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's store, remembering the last installation it read for each workspace. While the database is down,
    Bolt still authorizes requests from workspaces this process has served, so they reach talkbot's listeners and
    are asked to try again, instead of failing inside Bolt with a 500 or a false "not installed"."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
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


class Installations:
    """The workspaces that installed talkbot over OAuth, kept in the `slack_installations` and `slack_bots` tables."""

    def __init__(self, settings: SlackSettings, sessions: sessionmaker[Session]) -> None:
        settings.require("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
        self.settings, self.sessions = settings, sessions
        database = sessions.kw["bind"]
        self.store = _RememberingInstallationStore(
            client_id=settings.client_id, engine=database,
            bots_table_name=SLACK_BOTS, installations_table_name=SLACK_INSTALLATIONS,
        )  # fmt: skip
        self.states = SQLAlchemyOAuthStateStore(STATE_SECONDS, database, table_name=SLACK_OAUTH_STATES)

    def oauth_settings(self) -> OAuthSettings:
        return OAuthSettings(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=self.settings.redirect_uri,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=self.settings.authorization_url,
            installation_store=self.store,
            state_store=self.states,
            callback_options=CallbackOptions(success=self._installed, failure=self._not_installed),
        )

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

    def bot_client(self, team_id: str, enterprise_id: str | None) -> WebClient | None:
        """A client with the workspace's bot token; None when it has not installed talkbot (or uninstalled it)."""
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:  # installed once for the whole Enterprise Grid organisation
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        return web_client(self.settings, bot.bot_token) if bot else None

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
