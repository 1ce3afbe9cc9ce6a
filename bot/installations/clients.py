"""Web API clients: where they point, how they retry, and a workspace's client that renews an expired token."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.web import SlackResponse

from bot.config import SlackSettings

# slack_sdk's Web API client logs each request's parameters and each response's body at DEBUG: with token rotation
# those hold refresh tokens and new access tokens. Its own logger, at INFO whatever the root level, keeps them out.
WEB_API_LOG = logging.getLogger("talkbot.slack_web_api")
WEB_API_LOG.setLevel(logging.INFO)


def web_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """A Web API client: `SLACK_API_URL` decides where it points. A dropped connection is retried once (slack_sdk's
    default handler, which passing our own list would otherwise drop) and a 429 after its Retry-After, up to 3 times.
    Bolt copies these handlers into the client it makes for each request, so listeners and `say()` get them too."""
    return WebClient(token=token, base_url=settings.api_url, logger=WEB_API_LOG, retry_handlers=retry_handlers())


def retry_handlers() -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(max_retry_count=3)]


class WorkspaceClient(WebClient):
    """A workspace's Web API client that, when Slack says its token expired, gets a new one and tries once more."""

    def __init__(self, renew: Callable[[str], str | None], **kwargs) -> None:
        super().__init__(**kwargs)
        self._renew = renew

    def api_call(self, api_method: str, **kwargs) -> SlackResponse:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            renewed = self._renew(self.token) if slack_error_code(error) == "token_expired" else None
            if renewed is None:
                raise
            self.token = renewed
            return super().api_call(api_method, **kwargs)


def slack_error_code(error: SlackApiError) -> str:
    """Slack's error code (`token_expired`, `invalid_refresh_token`, …) for a call it refused."""
    data = error.response.data
    return data.get("error", "") if isinstance(data, dict) else ""
