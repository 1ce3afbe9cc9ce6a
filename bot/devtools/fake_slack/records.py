"""What the fake Slack keeps and answers with: recorded calls, workspaces, tokens, replies, Slack's limits."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

HOST = "127.0.0.1"
API_PREFIX = "/api/"
RESPONSE_URL_PREFIX = "/response/"
AUTHORIZE_PATH = "/oauth/v2/authorize"
RESPONSE_URL_METHOD = "response_url"
JSON_FORM_FIELDS = ("blocks", "attachments", "view", "metadata", "unfurls")
DEFAULT_TZ = "Europe/Berlin"
TS_STEP_MICROSECONDS = 100
DEFAULT_HISTORY_LIMIT = 100
SHUTDOWN_POLL_SECONDS = 0.02  # how often the server checks for stop(); the default 0.5 s would slow every test

# The bot scopes of a token the fake did not issue itself (token mode): what talkbot's manifest.yml grants.
# OAuth tokens get the scopes the install asked for at /oauth/v2/authorize.
DEFAULT_BOT_SCOPES = (
    "commands", "chat:write", "app_mentions:read", "im:history", "users:read",
    "channels:history", "groups:history", "channels:read", "groups:read", "links:read", "links:write",
)  # fmt: skip
UNFURL_SOURCES = ("composer", "conversations_history")
DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=12)  # Slack's rotating tokens answer expires_in 43200

# Paging (users.conversations, conversations.members). The method reference says limit "Must be an integer no larger
# than 1000" (https://api.slack.com/methods/users.conversations, default 100); Slack's pagination guide says "under
# 1000" and recommends at most 200. The fake accepts up to 1000 and answers `invalid_limit` above.
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000

# Block Kit limits (https://api.slack.com/reference/block-kit/blocks, …/block-elements, …/composition-objects).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000  # chat.postMessage: "msg_too_long"; the docs also speak of truncating past 40,000
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3000
MAX_ACTIONS_ELEMENTS = 25
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_URL = 3000
MAX_IMAGE_URL = 3000  # an image element's or block's image_url
MAX_ALT_TEXT = 2000  # an image's alt_text, and an image block's title
MAX_ID_LENGTH = 255  # action_id and block_id
MAX_MODAL_TITLE = 24


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received, as the bot sent it, and how the fake answered it.

    `error` is the error code the fake answered with (None when it accepted the call); `answer` is the whole answer
    body (Slack's JSON, or the short text a response_url answers with); `problems` says why a call was refused, in
    Slack's words with JSON pointers (for a response_url, which answers with a bare code, the reasons the Web API
    would have given); `dropped` is true when the fake closed the connection without answering."""

    method: str
    params: dict
    headers: dict = field(repr=False)  # holds the bearer token: keep it out of reprs and assertion messages
    response_url_id: str | None = None
    error: str | None = None
    answer: dict | str | None = field(default=None, repr=False, compare=False)
    problems: tuple[str, ...] = field(default=(), compare=False)
    dropped: bool = False

    @property
    def token(self) -> str:
        return _bearer_token(self.params, self.headers)


@dataclass(frozen=True)
class Workspace:
    """A workspace (team) the fake knows, and the bot user talkbot has there."""

    team_id: str
    enterprise_id: str | None = None
    bot_user_id: str = "UTALKBOT"
    bot_id: str = "BTALKBOT"
    installer_id: str = "UINSTALLER"


@dataclass
class _Token:
    """An access token the fake issued (or, for tokens it did not issue, the default workspace's bot)."""

    workspace: Workspace
    scopes: tuple[str, ...]
    expires_at: float | None = None  # time.time() after which Slack answers token_expired

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


@dataclass
class _Channel:
    """A conversation the fake knows: from set_channel(), or a public channel named by set_channel_members()."""

    id: str
    name: str
    kind: str  # "public" | "private" | "mpim" | "im"
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    user: str | None = None  # the other side of a DM


# The read scope Slack requires per kind of conversation ("channels:, groups:, im: or mpim: scopes corresponding to
# the conversation type", https://api.slack.com/methods/conversations.members).
READ_SCOPE = {"public": "channels:read", "private": "groups:read", "mpim": "mpim:read", "im": "im:read"}
CONVERSATION_TYPES = {"public_channel": "public", "private_channel": "private", "mpim": "mpim", "im": "im"}


@dataclass(frozen=True)
class _Reply:
    """What to send back: Slack puts errors in the JSON body, so the HTTP status only differs for 429, bad paths and
    response_url refusals (webhook-style: a status and a short text body). `drop` closes the connection instead."""

    body: dict | str
    status: HTTPStatus = HTTPStatus.OK
    headers: dict = field(default_factory=dict)
    drop: bool = False


_DROPPED = _Reply({}, drop=True)


class _BadRequest(Exception):
    """A request body Slack could not parse; carries the error code Slack answers with."""


def _error(code: str) -> dict:
    return {"ok": False, "error": code}


def _error_code(reply: _Reply) -> str | None:
    if isinstance(reply.body, dict) and reply.body.get("ok") is False:
        return reply.body.get("error")
    return None


def _reasons(reply: _Reply) -> tuple[str, ...]:
    """The reasons in a refusal: `errors` (messages), else `response_metadata.messages` without "[ERROR] "."""
    if not isinstance(reply.body, dict) or reply.body.get("ok") is not False:
        return ()
    if reply.body.get("errors"):
        return tuple(reply.body["errors"])
    messages = (reply.body.get("response_metadata") or {}).get("messages") or []
    return tuple(message.removeprefix("[ERROR] ") for message in messages)


def _auth_test(workspace: Workspace) -> dict:
    """Who a token belongs to: its workspace's bot."""
    return {
        "ok": True, "url": f"https://{workspace.team_id.lower()}.slack.com/", "team": workspace.team_id,
        "user": "talkbot", "team_id": workspace.team_id, "user_id": workspace.bot_user_id,
        "bot_id": workspace.bot_id, "enterprise_id": workspace.enterprise_id,
    }  # fmt: skip


def _user(user_id: str, *, tz: str = DEFAULT_TZ, name: str | None = None, is_admin: bool = False) -> dict:
    return {"id": user_id, "name": name or user_id.lower(), "tz": tz, "is_admin": is_admin, "is_bot": False}


def _bearer_token(params: dict, headers: dict) -> str:
    """The token a call was made with: slack_sdk sends it as a bearer header, forms may carry it as `token`."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip()
    return params.get("token", "")


def _client_credentials(params: dict, headers: dict) -> tuple[str, str]:
    """An app's client id and secret, from HTTP Basic auth (as slack_sdk sends them) or the form."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("Basic "):
        client_id, _, client_secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
        return client_id, client_secret
    return params.get("client_id", ""), params.get("client_secret", "")


def _missing_scope(needed: str, provided: Iterable[str]) -> dict:
    """Slack's missing_scope answer names the scope needed and the ones the token has."""
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(provided)}


def _is_true(value: object) -> bool:
    """Slack flags arrive as JSON booleans or, from forms and query strings, as "true"/"1"."""
    return value in (True, 1, "true", "1")


def _base62(number: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    digits = ""
    while number:
        number, digit = divmod(number, 62)
        digits = alphabet[digit] + digits
    return digits or "0"
