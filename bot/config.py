"""Slack settings from the environment, with one clear line for whatever is missing."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

WHERE_TO_GET = {
    "SLACK_BOT_TOKEN": "your app's OAuth & Permissions page (starts with xoxb-)",
    "SLACK_SIGNING_SECRET": "your app's Basic Information page, under App Credentials",
    "SLACK_APP_TOKEN": "your app's Basic Information page, under App-Level Tokens (scope connections:write, "
    "starts with xapp-)",
}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names it and where to get it."""


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str

    @classmethod
    def from_environment(cls) -> SlackSettings:
        api_url = os.environ.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
        return cls(
            bot_token=os.environ.get("SLACK_BOT_TOKEN", "").strip() or None,
            signing_secret=os.environ.get("SLACK_SIGNING_SECRET", "").strip() or None,
            app_token=os.environ.get("SLACK_APP_TOKEN", "").strip() or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
        )

    @property
    def has_tokens(self) -> bool:
        return bool(self.bot_token)

    def require(self, *names: str) -> None:
        values = {
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_APP_TOKEN": self.app_token,
        }
        for name in names:
            if not values[name]:
                raise ConfigError(f"{name} is not set: copy it from {WHERE_TO_GET[name]} at https://api.slack.com/apps")
