"""Slack settings from the environment, with one clear line for whatever is missing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urljoin

from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher, TokenCipherError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

WHERE_TO_GET = {
    "SLACK_BOT_TOKEN": "your app's OAuth & Permissions page (starts with xoxb-)",
    "SLACK_SIGNING_SECRET": "your app's Basic Information page, under App Credentials",
    "SLACK_APP_TOKEN": "your app's Basic Information page, under App-Level Tokens (scope connections:write, "
    "starts with xapp-)",
    "SLACK_CLIENT_ID": "your app's Basic Information page, under App Credentials",
    "SLACK_CLIENT_SECRET": "your app's Basic Information page, under App Credentials",
}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it and where to get it."""


@dataclass(frozen=True)
class SlackSettings:
    """Token mode (one workspace, `SLACK_BOT_TOKEN`) or, with a client id and secret, OAuth for many workspaces."""

    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str | None = None
    encryption_key: str | None = None  # TALKBOT_ENCRYPTION_KEY: comma-separated Fernet keys, the first encrypting

    @classmethod
    def from_environment(cls) -> SlackSettings:
        api_url = os.environ.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
        return cls(
            bot_token=os.environ.get("SLACK_BOT_TOKEN", "").strip() or None,
            signing_secret=os.environ.get("SLACK_SIGNING_SECRET", "").strip() or None,
            app_token=os.environ.get("SLACK_APP_TOKEN", "").strip() or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            client_id=os.environ.get("SLACK_CLIENT_ID", "").strip() or None,
            client_secret=os.environ.get("SLACK_CLIENT_SECRET", "").strip() or None,
            redirect_uri=os.environ.get("SLACK_REDIRECT_URI", "").strip() or None,
            encryption_key=os.environ.get(ENCRYPTION_KEY_VARIABLE, "").strip() or None,
        )

    @property
    def uses_oauth(self) -> bool:
        """Distributed over OAuth: each workspace's bot token comes from the installation store."""
        return bool(self.client_id or self.client_secret)

    @property
    def has_tokens(self) -> bool:
        return bool(self.bot_token) or self.uses_oauth

    @property
    def authorization_url(self) -> str:
        """Slack's consent page, beside its Web API (so a fake Slack serves both)."""
        return urljoin(self.api_url, "../oauth/v2/authorize")

    def __repr__(self) -> str:
        """Names which settings are present, never their values: settings end up in logs and tracebacks."""
        present = [name for name, value in vars(self).items() if value and name != "api_url"]
        return f"SlackSettings(api_url={self.api_url!r}, set={present})"

    def require(self, *names: str) -> None:
        values = {
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_APP_TOKEN": self.app_token,
            "SLACK_CLIENT_ID": self.client_id,
            "SLACK_CLIENT_SECRET": self.client_secret,
        }
        for name in names:
            if not values[name]:
                raise ConfigError(f"{name} is not set: copy it from {WHERE_TO_GET[name]} at https://api.slack.com/apps")

    def token_cipher(self) -> TokenCipher:
        """What encrypts the workspaces' tokens in the installation store: required in OAuth mode."""
        try:
            cipher = TokenCipher.from_setting(self.encryption_key)
        except TokenCipherError as error:
            raise ConfigError(str(error)) from None
        if cipher is None:
            raise ConfigError(
                f"{ENCRYPTION_KEY_VARIABLE} is not set: talkbot encrypts every workspace's Slack tokens with it. "
                "Make one with `talkbot keys generate` and keep it with talkbot's other secrets (without it, the "
                "stored tokens cannot be read and every workspace would have to install talkbot again)"
            )
        return cipher
