"""A local fake of the Slack Web API, so the test-suite and `talkbot console` run talkbot without reaching Slack.

Point slack_sdk at it with `WebClient(base_url=fake.api_url)` (or `SLACK_API_URL=fake.api_url`): it serves plain HTTP on
127.0.0.1, records every call, keeps the messages the bot posts and answers the methods talkbot uses the way Slack does.
Any other method answers `{"ok": true}`, so new features work against the fake before it models them.

It is as strict as Slack about what it is sent: messages, views and response_url posts that Slack would refuse
(malformed or over-long blocks, duplicate ids, too many blocks, no fallback text) are refused with Slack's own error,
and the refused call is recorded too (`SlackCall.error`), so a test sees both what talkbot sent and what Slack said.

It also plays Slack's side of OAuth for several workspaces: `sign_in()` picks the workspace a browser approves an
install for, `/oauth/v2/authorize` redirects back with a code, `oauth.v2.access` trades it for that workspace's own
bot token (with token rotation, an expiring `xoxe.xoxb-` token and a refresh token), and every call made with a token
is answered as that workspace (`revoke_tokens()` and `expire_tokens()` make them fail).

Where each Slack behaviour modelled here was checked is noted beside it; "talkbot policy" marks the few places where
the fake is deliberately stricter than Slack.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import itertools
import json
import logging
import secrets
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

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
    "channels:history", "groups:history", "channels:read", "groups:read",
)  # fmt: skip
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
MAX_ID_LENGTH = 255  # action_id and block_id
MAX_MODAL_TITLE = 24

log = logging.getLogger(__name__)


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


class FakeSlack:
    """A stand-in for https://slack.com/api/ on 127.0.0.1 that records every call and answers like Slack."""

    def __init__(
        self, *, bot_user_id: str = "UTALKBOT", team_id: str = "T0001", bot_id: str = "BTALKBOT",
        client_id: str = "fake-client-id", client_secret: str = "fake-client-secret",
        token_rotation: bool = False, token_lifetime: dt.timedelta = DEFAULT_TOKEN_LIFETIME,
        bot_scopes: Iterable[str] = DEFAULT_BOT_SCOPES,
    ) -> None:  # fmt: skip
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = bot_id
        self.client_id, self.client_secret = client_id, client_secret
        # Slack's "token rotation" app setting: installs get expiring tokens and a refresh token.
        self.token_rotation, self.token_lifetime = token_rotation, token_lifetime
        self.bot_scopes = tuple(bot_scopes)
        # The app's configured Redirect URL, used when the authorize request names none (as Slack does).
        self.redirect_url: str | None = None
        self._signed_in: Workspace | None = None
        self._codes: dict[str, tuple[Workspace, tuple[str, ...]]] = {}
        self._tokens: dict[str, _Token] = {}
        self._refresh_tokens: dict[str, tuple[Workspace, tuple[str, ...]]] = {}
        self._revoked: set[str] = set()
        self._changed = threading.Condition(threading.RLock())
        self._calls: list[SlackCall] = []
        self._planned_replies: defaultdict[str, deque[_Reply]] = defaultdict(deque)
        self._drops: Counter[str] = Counter()
        self._messages: defaultdict[str, list[dict]] = defaultdict(list)
        self._users: dict[str, dict] = {}
        self._channels: dict[str, _Channel] = {}
        self._channel_members: defaultdict[str, set[str]] = defaultdict(set)
        self._page_size_cap: int | None = None
        self._issued_ts = 0
        self._issued_view_ids = 0
        self._issued_block_ids = itertools.count(1)
        self._server: _FakeSlackServer | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict, _Token], dict]] = {
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.unfurl": self._chat_unfurl,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "users.conversations": self._users_conversations,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_open,
        }

    # --- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread, so a forgotten stop() never blocks exit."""
        if self._server is not None:
            raise RuntimeError("FakeSlack is already started")
        self._server = _FakeSlackServer(answer=self._answer)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; stopping twice is harmless."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The base URL to give slack_sdk in place of https://slack.com/api/."""
        return f"{self._base_url()}{API_PREFIX}"

    def response_url(self, response_url_id: str | None = None) -> str:
        """A response_url to hand the bot (as Slack does with slash commands and actions); posts to it are recorded."""
        return f"{self._base_url()}{RESPONSE_URL_PREFIX}{response_url_id or uuid.uuid4().hex}"

    def _base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started: call start() or use it as a context manager")
        return f"http://{HOST}:{self._server.server_port}"

    # --- what the bot did ------------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        """Every recorded call in arrival order (a copy, safe to keep while the bot goes on calling)."""
        with self._changed:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._changed:
            return [call for call in self._calls if call.method == method]

    def refused(self, method: str | None = None) -> list[SlackCall]:
        """Calls the fake answered with an error (or dropped), optionally only those to `method`."""
        with self._changed:
            return [c for c in self._calls if (c.error or c.dropped) and method in (None, c.method)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        """Block until `count` calls to `method` arrived, for bots that call Slack from other threads."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.calls_to(method)) >= count, timeout=timeout)
            if not arrived:
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s, got {len(self.calls_to(method))}; "
                    f"methods seen so far: {self._methods_seen()}"
                )
            return self.calls_to(method)

    def _methods_seen(self) -> str:
        seen = Counter(call.method for call in self._calls)
        return ", ".join(f"{method} x{times}" for method, times in seen.items()) or "none"

    def clear(self) -> None:
        """Forget recorded calls; posted messages, users and planned failures stay."""
        with self._changed:
            self._calls.clear()

    def messages_in(self, channel: str) -> list[dict]:
        """Messages posted to `channel` with chat.postMessage (thread replies included), oldest first."""
        with self._changed:
            return copy.deepcopy(self._messages.get(channel, []))

    # --- how Slack should behave -----------------------------------------------------------------------------------

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """Make the next `times` calls to `method` fail the way Slack reports errors: HTTP 200 with ok=false (for
        "response_url", the way webhooks do: HTTP 400 with the bare code)."""
        if method == RESPONSE_URL_METHOD:
            self._plan(method, _Reply(error, HTTPStatus.BAD_REQUEST), times)
        else:
            self._plan(method, _Reply(_error(error)), times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Make the next `times` calls to `method` answer HTTP 429 with Retry-After, as Slack's rate limiter does."""
        rate_limited = _error("ratelimited")
        self._plan(method, _Reply(rate_limited, HTTPStatus.TOO_MANY_REQUESTS, {"Retry-After": str(retry_after)}), times)

    def drop_next_connection(self, method: str, times: int = 1) -> None:
        """Read the next `times` requests for `method` (a Web API method, or "response_url"), record them, and close
        the connection without answering: what slack_sdk sees of a network drop (`RemoteDisconnected`, a
        `ConnectionResetError`), the case `ConnectionErrorRetryHandler` retries. The dropped request is not acted on."""
        with self._changed:
            self._drops[method] += times

    def _plan(self, method: str, reply: _Reply, times: int) -> None:
        with self._changed:
            self._planned_replies[method].extend([reply] * times)

    def set_user(self, user_id: str, *, tz: str = DEFAULT_TZ, name: str | None = None, is_admin: bool = False) -> None:
        """Set what users.info returns for `user_id` (users never set get the defaults)."""
        with self._changed:
            self._users[user_id] = _user(user_id, tz=tz, name=name, is_admin=is_admin)

    def sign_in(self, workspace: Workspace) -> None:
        """The workspace (and installing user) the browser is signed in to: OAuth consent installs talkbot there."""
        with self._changed:
            self._signed_in = workspace

    def revoke_tokens(self, team_id: str) -> None:
        """Revoke every token issued to a workspace (as uninstalling does); calls with them fail."""
        with self._changed:
            self._revoked |= {token for token, issued in self._tokens.items() if issued.workspace.team_id == team_id}
            self._revoked |= {token for token, (ws, _) in self._refresh_tokens.items() if ws.team_id == team_id}

    def expire_tokens(self, team_id: str) -> None:
        """Make a workspace's current access tokens expired now (calls answer token_expired); a refresh token still
        trades for a new one. For tests of token rotation, without waiting out `token_lifetime`."""
        now = time.time()
        with self._changed:
            for issued in self._tokens.values():
                if issued.workspace.team_id == team_id:
                    issued.expires_at = min(issued.expires_at or now, now)

    def tokens_of(self, team_id: str) -> list[str]:
        """The access tokens issued to a workspace, oldest first."""
        with self._changed:
            return [token for token, issued in self._tokens.items() if issued.workspace.team_id == team_id]

    def bot_user_of(self, team_id: str) -> str:
        """talkbot's bot user id in a workspace: the one its install created, else the default `bot_user_id`."""
        with self._changed:
            issued = [token.workspace for token in self._tokens.values() if token.workspace.team_id == team_id]
        return issued[-1].bot_user_id if issued else self.bot_user_id

    def refresh_tokens_of(self, team_id: str) -> list[str]:
        """The refresh tokens issued to a workspace that have not been used yet (token rotation)."""
        with self._changed:
            return [token for token, (workspace, _) in self._refresh_tokens.items() if workspace.team_id == team_id]

    def set_channel_members(self, channel: str, user_ids: list[str]) -> None:
        """Who is in a channel, for users.conversations, conversations.members and conversations.info's `is_member`.
        The bot is a member only if its user id (`bot_user_id`, or the workspace's) is in `user_ids`. A channel not
        described with set_channel() is a public channel."""
        with self._changed:
            self._channel_members[channel] = set(user_ids)
            self._channels.setdefault(channel, _Channel(channel, channel.lower(), "public"))

    def set_channel(
        self, channel: str, *, name: str | None = None, is_private: bool = False, is_mpim: bool = False,
        is_im: bool = False, is_archived: bool = False, topic: str = "", purpose: str = "", user: str | None = None,
    ) -> None:  # fmt: skip
        """Describe a conversation for conversations.info and the listing methods: a private channel, a group DM
        (mpim), or a DM with `user` (talkbot is always the other side of a DM)."""
        kind = "im" if is_im else "mpim" if is_mpim else "private" if is_private else "public"
        default_name = {"im": user or "", "mpim": f"mpdm-{channel.lower()}-1"}.get(kind, channel.lower())
        with self._changed:
            self._channels[channel] = _Channel(
                channel, name or default_name, kind, is_archived=is_archived, topic=topic, purpose=purpose, user=user
            )
            self._channel_members.setdefault(channel, set())
            if user:
                self._channel_members[channel].add(user)

    def set_page_size_cap(self, size: int | None) -> None:
        """Pages of users.conversations / conversations.members hold at most `size` items whatever `limit` asks, as
        Slack's may ("Fewer than the requested number of items may be returned, even if the end of the list hasn't
        been reached"); None lifts the cap."""
        with self._changed:
            self._page_size_cap = size

    # --- answering requests ----------------------------------------------------------------------------------------

    def _answer(self, verb: str, path: str, query: str, headers: dict, body: bytes) -> _Reply:
        is_response_url = path.startswith(RESPONSE_URL_PREFIX)
        try:
            params = _parse_params(query, headers.get("content-type", ""), body)
        except _BadRequest as error:
            if is_response_url:  # webhooks answer a body they cannot read with HTTP 400 `invalid_payload`
                return _Reply("invalid_payload", HTTPStatus.BAD_REQUEST)
            return _Reply(_error(str(error)))
        if path == AUTHORIZE_PATH:
            return self._authorize(params)
        if path.startswith(API_PREFIX):
            return self._answer_api(path.removeprefix(API_PREFIX), params, headers)
        if is_response_url:
            if verb != "POST":
                return _Reply(_error("method_not_allowed"), HTTPStatus.METHOD_NOT_ALLOWED)
            return self._answer_response_url(path.removeprefix(RESPONSE_URL_PREFIX), params, headers)
        return _Reply(_error("not_found"), HTTPStatus.NOT_FOUND)

    def _answer_api(self, method: str, params: dict, headers: dict) -> _Reply:
        with self._changed:
            if self._drops[method] > 0:
                self._drops[method] -= 1
                self._record(SlackCall(method, params, headers, dropped=True))
                return _DROPPED
            reply = self._api_reply(method, params, headers)
            error, problems = _error_code(reply), _reasons(reply)
            self._record(SlackCall(method, params, headers, error=error, answer=reply.body, problems=problems))
            return reply

    def _api_reply(self, method: str, params: dict, headers: dict) -> _Reply:
        if self._planned_replies[method]:
            return self._planned_replies[method].popleft()
        if method == "oauth.v2.access":
            return _Reply(self._oauth_v2_access(params, headers))
        token = _bearer_token(params, headers)
        if not token:
            return _Reply(_error("not_authed"))
        if token in self._revoked:
            return _Reply(_error("token_revoked"))
        caller = self._tokens.setdefault(token, self._default_token())
        if caller.expired():
            return _Reply(_error("token_expired"))
        if method == "auth.test":
            return _Reply(_auth_test(caller.workspace))
        refusal = _refusal(method, params)
        if refusal is not None:
            return _Reply(refusal)
        answer_method = self._methods.get(method)
        return _Reply(answer_method(params, caller) if answer_method else {"ok": True})

    def _default_token(self) -> _Token:
        """A token the fake did not issue (token mode) belongs to the default workspace's bot from its first use."""
        return _Token(Workspace(self.team_id, bot_user_id=self.bot_user_id, bot_id=self.bot_id), self.bot_scopes)

    def _answer_response_url(self, response_url_id: str, params: dict, headers: dict) -> _Reply:
        """A response_url answers like an incoming webhook: 200 `ok`, or a 4xx status with a short error text."""
        with self._changed:
            if self._drops[RESPONSE_URL_METHOD] > 0:
                self._drops[RESPONSE_URL_METHOD] -= 1
                self._record(SlackCall(RESPONSE_URL_METHOD, params, headers, response_url_id, dropped=True))
                return _DROPPED
            if self._planned_replies[RESPONSE_URL_METHOD]:
                planned = self._planned_replies[RESPONSE_URL_METHOD].popleft()
                refusal, problems, reply = planned.body, ["planned by fail_next"], planned
            else:
                refusal, problems = _response_url_refusal(params)
                reply = _Reply(refusal, HTTPStatus.BAD_REQUEST) if refusal else _Reply("ok")
            self._record(
                SlackCall(RESPONSE_URL_METHOD, params, headers, response_url_id, refusal, reply.body, tuple(problems))
            )
            return reply

    def _record(self, call: SlackCall) -> None:
        self._calls.append(call)
        if call.error:
            log.info("fake Slack refused %s: %s %s", call.method, call.error, call.problems)
        self._changed.notify_all()

    def _next_ts(self) -> str:
        """Message timestamps Slack-style ("seconds.micros"): the clock's time, strictly increasing."""
        self._issued_ts = max(self._issued_ts + TS_STEP_MICROSECONDS, int(time.time() * 1_000_000))
        seconds, micros = divmod(self._issued_ts, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _find_message(self, channel: str | None, ts: str | None) -> dict | None:
        return next((message for message in self._messages.get(channel, []) if message["ts"] == ts), None)

    def _with_block_ids(self, blocks: list[dict] | None) -> list[dict] | None:
        """Blocks as Slack stores them: a block sent without a block_id gets one Slack made up (e.g. "8KR")."""
        if blocks is None:
            return None
        return [block if "block_id" in block else {**block, "block_id": self._new_block_id()} for block in blocks]

    def _new_block_id(self) -> str:
        return _base62(next(self._issued_block_ids) * 7919 + 238_328)  # short, unique, and not a plain counter

    # --- OAuth -----------------------------------------------------------------------------------------------------

    def _authorize(self, params: dict) -> _Reply:
        """Slack's consent page, approved at once for the signed-in workspace: back to the app with a code."""
        redirect_url = params.get("redirect_uri") or self.redirect_url
        if params.get("client_id") != self.client_id or self._signed_in is None or not redirect_url:
            return _Reply(_error("invalid_authorize_request"), HTTPStatus.BAD_REQUEST)
        code = secrets.token_hex(8)
        scopes = tuple(scope for scope in params.get("scope", "").split(",") if scope) or self.bot_scopes
        with self._changed:
            self._codes[code] = (self._signed_in, scopes)
        location = f"{redirect_url}?{urlencode({'code': code, 'state': params.get('state', '')})}"
        return _Reply({"ok": True}, HTTPStatus.FOUND, {"Location": location})

    def _oauth_v2_access(self, params: dict, headers: dict) -> dict:
        """Trade a code (or, with token rotation, a refresh token) for a new bot token of the workspace.

        Errors as the method reference lists them: invalid_client_id, bad_client_secret, invalid_grant_type,
        invalid_code, invalid_refresh_token. Field names as slack_sdk's TokenRotator and bolt's OAuthFlow read them
        (access_token, refresh_token, expires_in, token_type "bot", bot_user_id, scope, team, enterprise)."""
        client_id, client_secret = _client_credentials(params, headers)
        if client_id != self.client_id:
            return _error("invalid_client_id")
        if client_secret != self.client_secret:
            return _error("bad_client_secret")
        grant_type = params.get("grant_type") or "authorization_code"
        if grant_type == "refresh_token":
            granted = self._refresh_tokens.pop(params.get("refresh_token", ""), None)
            if granted is None or params.get("refresh_token") in self._revoked:
                return _error("invalid_refresh_token")
        elif grant_type == "authorization_code":
            granted = self._codes.pop(params.get("code", ""), None)
            if granted is None:
                return _error("invalid_code")
        else:
            return _error("invalid_grant_type")
        workspace, scopes = granted
        enterprise = {"id": workspace.enterprise_id, "name": "Grid"} if workspace.enterprise_id else None
        answer = {
            "ok": True, "app_id": "ATALKBOT", "scope": ",".join(scopes), "token_type": "bot",
            "access_token": self._issue_token(workspace, scopes), "bot_user_id": workspace.bot_user_id,
            "team": {"id": workspace.team_id, "name": workspace.team_id}, "enterprise": enterprise,
            "is_enterprise_install": False,
        }  # fmt: skip
        if grant_type == "authorization_code":
            answer["authed_user"] = {"id": workspace.installer_id}
        if self.token_rotation:
            refresh_token = f"xoxe-1-{secrets.token_hex(24)}"
            self._refresh_tokens[refresh_token] = (workspace, scopes)
            answer.update(refresh_token=refresh_token, expires_in=int(self.token_lifetime.total_seconds()))
        return answer

    def _issue_token(self, workspace: Workspace, scopes: tuple[str, ...]) -> str:
        if self.token_rotation:
            token = f"xoxe.xoxb-1-{secrets.token_hex(24)}"
            self._tokens[token] = _Token(workspace, scopes, time.time() + self.token_lifetime.total_seconds())
        else:
            token = f"xoxb-{workspace.team_id}-{secrets.token_hex(12)}"
            self._tokens[token] = _Token(workspace, scopes)
        return token

    # --- the Web API methods ---------------------------------------------------------------------------------------

    def _chat_post_message(self, params: dict, caller: _Token) -> dict:
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        message = {
            "ts": self._next_ts(), "channel": channel, "text": params.get("text", ""),
            "blocks": self._with_block_ids(params.get("blocks")), "thread_ts": params.get("thread_ts"),
            "metadata": params.get("metadata"), "user": caller.workspace.bot_user_id, "bot_id": caller.workspace.bot_id,
        }  # fmt: skip
        self._messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, params: dict, caller: _Token) -> dict:
        if not params.get("channel"):
            return _error("channel_not_found")
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: dict, caller: _Token) -> dict:
        message = self._find_message(params.get("channel"), params.get("ts"))
        if message is None:
            return _error("message_not_found")
        message.update({key: params[key] for key in ("text", "metadata") if key in params})
        if "blocks" in params:
            message["blocks"] = self._with_block_ids(params["blocks"])
        return {
            "ok": True, "channel": message["channel"], "ts": message["ts"], "text": message["text"],
            "message": copy.deepcopy(message),
        }  # fmt: skip

    def _chat_delete(self, params: dict, caller: _Token) -> dict:
        message = self._find_message(params.get("channel"), params.get("ts"))
        if message is None:
            return _error("message_not_found")
        self._messages[message["channel"]].remove(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _chat_unfurl(self, params: dict, caller: _Token) -> dict:
        return {"ok": True}

    def _conversations_history(self, params: dict, caller: _Token) -> dict:
        """Like Slack, lists top-level messages only: thread replies are read with conversations.replies."""
        top_level = [message for message in self._messages.get(params.get("channel"), []) if not _is_reply(message)]
        in_window = [message for message in top_level if _within_window(message["ts"], params)]
        newest_first = list(reversed(in_window))[: int(params.get("limit") or DEFAULT_HISTORY_LIMIT)]
        return _message_list(newest_first, params)

    def _conversations_replies(self, params: dict, caller: _Token) -> dict:
        thread_ts = params.get("ts")
        thread = [
            message for message in self._messages.get(params.get("channel"), [])
            if thread_ts in (message["ts"], message["thread_ts"])
        ]  # fmt: skip
        if not thread:
            return _error("thread_not_found")
        return _message_list(thread[: int(params.get("limit") or DEFAULT_HISTORY_LIMIT)], params)

    def _conversations_open(self, params: dict, caller: _Token) -> dict:
        user_id = params.get("users")
        if not user_id:
            return _error("users_list_not_supplied")
        return {"ok": True, "channel": {"id": "D" + user_id[1:]}}

    def _visible_channel(self, channel_id: str | None, caller: _Token) -> _Channel | dict:
        """The channel, as far as the caller may see it; else Slack's error (missing_scope names what is needed)."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return _error("channel_not_found")
        needed = READ_SCOPE[channel.kind]
        if needed not in caller.scopes:
            return _missing_scope(needed, caller.scopes)
        if channel.kind in ("private", "mpim") and not self._bot_is_member(channel, caller):
            return _error("channel_not_found")  # Slack does not admit that a private channel it hides exists
        return channel

    def _bot_is_member(self, channel: _Channel, caller: _Token) -> bool:
        return channel.kind == "im" or caller.workspace.bot_user_id in self._channel_members.get(channel.id, set())

    def _conversations_info(self, params: dict, caller: _Token) -> dict:
        channel = self._visible_channel(params.get("channel"), caller)
        if isinstance(channel, dict):
            return channel
        return {"ok": True, "channel": self._channel_object(channel, caller)}

    def _channel_object(self, channel: _Channel, caller: _Token) -> dict:
        """A conversation object with the fields conversations.info and users.conversations answer."""
        if channel.kind == "im":
            return {"id": channel.id, "is_im": True, "user": channel.user, "is_user_deleted": False, "created": 0}
        return {
            "id": channel.id, "name": channel.name, "is_channel": channel.kind == "public",
            "is_group": channel.kind == "private", "is_im": False, "is_mpim": channel.kind == "mpim",
            "is_private": channel.kind != "public", "is_archived": channel.is_archived, "is_general": False,
            "is_ext_shared": False, "is_member": self._bot_is_member(channel, caller), "created": 0,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
        }  # fmt: skip

    def _conversations_members(self, params: dict, caller: _Token) -> dict:
        """Members of a channel set with set_channel_members, a page at a time; unknown channels are not found."""
        channel = self._visible_channel(params.get("channel"), caller)
        if isinstance(channel, dict):
            return channel
        page = self._page(sorted(self._channel_members.get(channel.id, set())), params, "conversations.members")
        if "error" in page:
            return page
        return {"ok": True, "members": page["items"], "response_metadata": {"next_cursor": page["next_cursor"]}}

    def _users_info(self, params: dict, caller: _Token) -> dict:
        user_id = params.get("user")
        if not user_id:
            return _error("user_not_found")
        return {"ok": True, "user": dict(self._users.get(user_id) or _user(user_id))}

    def _users_conversations(self, params: dict, caller: _Token) -> dict:
        """The conversations a user is in, filtered by `types` and paged; non-public ones only where the bot is too."""
        kinds = [CONVERSATION_TYPES.get(name) for name in (params.get("types") or "public_channel").split(",")]
        if None in kinds:
            return _error("invalid_types")
        for kind in kinds:
            if READ_SCOPE[kind] not in caller.scopes:
                return _missing_scope(READ_SCOPE[kind], caller.scopes)
        user_id = params.get("user") or caller.workspace.bot_user_id
        listed = [
            channel for channel_id, channel in sorted(self._channels.items())
            if channel.kind in kinds and user_id in self._channel_members.get(channel_id, set())
            and (channel.kind == "public" or self._bot_is_member(channel, caller))
            and not (channel.is_archived and _is_true(params.get("exclude_archived")))
        ]  # fmt: skip
        page = self._page(listed, params, "users.conversations")
        if "error" in page:
            return page
        channels = [self._channel_object(channel, caller) for channel in page["items"]]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": page["next_cursor"]}}

    def _page(self, items: list, params: dict, method: str) -> dict:
        """One page of `items` by Slack's cursor paging: {items, next_cursor} or Slack's error."""
        try:
            limit = int(params.get("limit") or DEFAULT_PAGE_LIMIT)
        except (TypeError, ValueError):
            return _error("invalid_limit")
        if limit > MAX_PAGE_LIMIT:
            return _error("invalid_limit")
        limit = limit if limit > 0 else DEFAULT_PAGE_LIMIT
        offset = _decode_cursor(params.get("cursor"), method)
        if offset is None or offset > len(items):
            return _error("invalid_cursor")
        size = min(limit, self._page_size_cap or limit)
        following = offset + size
        return {"items": items[offset:following], "next_cursor": _cursor(method, following) if following < len(items)
                else ""}  # fmt: skip

    def _views_publish(self, params: dict, caller: _Token) -> dict:
        return {"ok": True, "view": self._view_object(params.get("view") or {}, caller)}

    def _views_open(self, params: dict, caller: _Token) -> dict:
        if not params.get("trigger_id"):
            return _error("invalid_arguments")
        return {"ok": True, "view": self._view_object(params.get("view") or {}, caller)}

    def _views_update(self, params: dict, caller: _Token) -> dict:
        if not (params.get("view_id") or params.get("external_id")):
            return _error("not_found")
        view = {**(params.get("view") or {}), "id": params.get("view_id") or self._next_view_id()}
        return {"ok": True, "view": self._view_object(view, caller)}

    def _view_object(self, view: dict, caller: _Token) -> dict:
        """The view as Slack answers it: with an id, the team, and block ids filled in."""
        return {
            "id": view.get("id") or self._next_view_id(), "team_id": caller.workspace.team_id,
            "app_installed_team_id": caller.workspace.team_id, "bot_id": caller.workspace.bot_id,
            "hash": secrets.token_hex(6), **{key: value for key, value in view.items() if key not in ("id", "blocks")},
            "blocks": self._with_block_ids(view.get("blocks") or []),
        }  # fmt: skip

    def _next_view_id(self) -> str:
        self._issued_view_ids += 1
        return f"V{self._issued_view_ids:08d}"


# --- refusing what Slack refuses ---------------------------------------------------------------------------------

MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage")
VIEW_METHODS = ("views.publish", "views.open", "views.update", "views.push")


def _refusal(method: str, params: dict) -> dict | None:
    """Slack's answer to a call whose content it would not accept, or None.

    Web API methods answer HTTP 200 with ok=false. For messages, an invalid block is `invalid_blocks` with the
    reasons twice, as Slack sends them: `errors` and `response_metadata.messages` ("[ERROR] …"), each naming the
    offending field by JSON pointer (seen in logged chat.postMessage answers, e.g. "must be less than 3001 characters
    [json-pointer:/blocks/0/text/text]"). Views answer `invalid_arguments` with `response_metadata.messages` only (as
    logged views.publish/views.open answers show)."""
    if method in MESSAGE_METHODS:
        return _message_refusal(params)
    if method in VIEW_METHODS:
        return _view_refusal(params.get("view"))
    if method == "chat.unfurl":
        return _unfurl_refusal(params.get("unfurls"))
    return None


def _message_refusal(params: dict) -> dict | None:
    code, problems = _message_problems(params)
    if code == "invalid_blocks":
        return _invalid_blocks(problems)
    return _error(code) if code else None


def _response_url_refusal(params: dict) -> tuple[str | None, list[str]]:
    """A response_url refuses like an incoming webhook: HTTP 400 with just the error code as the body (Slack's
    webhook errors: https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks; `invalid_blocks`
    and `no_text` bodies are reported from real webhooks in slackapi/java-slack-sdk#1017 and fluxcd/flagger#1031).
    A post that only deletes the original message needs no content."""
    if _is_true(params.get("delete_original")):
        return None, []
    return _message_problems(params)


def _message_problems(params: dict) -> tuple[str | None, list[str]]:
    """(error code, reasons) for a message's blocks and text, or (None, []) when Slack would accept it.

    Slack's rule: one of `text`, `blocks` or `attachments` is required ("no_text" otherwise); with blocks, `text`
    is only the notification fallback and Slack accepts a message without it (slack_sdk merely warns). talkbot
    policy, stricter than Slack: every message with blocks carries a non-blank `text` fallback (screen readers and
    notifications read it), so the fake refuses blocks without text with `no_text` as well."""
    blocks = params.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
            return "invalid_blocks_format", []
        problems = block_kit_problems(blocks, pointer="/blocks", most=MAX_MESSAGE_BLOCKS)
        if problems:
            return "invalid_blocks", problems
    text = params.get("text") or params.get("markdown_text")
    if not isinstance(text, str) or not text.strip():
        return "no_text", []  # Slack's rule when nothing else is given; talkbot's when blocks are
    if len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long", []
    return None, []


def _view_refusal(view: object) -> dict | None:
    """views.publish/open/update/push: the view must be an object of a known type with valid blocks (at most 100)."""
    if not isinstance(view, dict):
        return _invalid_arguments(["must be a valid JSON object [json-pointer:/view]"])
    if view.get("type") not in ("home", "modal"):
        return _invalid_arguments([f"unsupported type: {view.get('type')} [json-pointer:/view/type]"])
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        return _invalid_arguments(["missing required field: blocks [json-pointer:/view]"])
    problems = block_kit_problems(blocks, pointer="/view/blocks", most=MAX_VIEW_BLOCKS)
    if view["type"] == "modal":
        problems += _modal_problems(view)
    if not problems:
        problems = _model_problems(lambda: View(**view).to_dict(), "/view")
    return _invalid_arguments(problems) if problems else None


def _modal_problems(view: dict) -> list[str]:
    problems = []
    if "title" not in view:
        problems.append("missing required field: title [json-pointer:/view]")
    else:
        problems += _text_problems(view["title"], "/view/title", MAX_MODAL_TITLE, plain_only=True)
    for index, block in enumerate(view["blocks"]):
        if block.get("type") == "input" and "submit" not in view:
            problem = "must define `submit` to use an `input` block in modals"
            problems.append(f"{problem} [json-pointer:/view/blocks/{index}]")
    return problems


def _unfurl_refusal(unfurls: object) -> dict | None:
    """chat.unfurl: `unfurls` maps each URL to an attachment or to {"blocks": [...]}."""
    if not isinstance(unfurls, dict) or not all(isinstance(unfurl, dict) for unfurl in unfurls.values()):
        return _error("invalid_unfurls_format")
    problems = []
    for url, unfurl in unfurls.items():
        if "blocks" in unfurl:
            if not isinstance(unfurl["blocks"], list) or not all(isinstance(b, dict) for b in unfurl["blocks"]):
                return _error("invalid_blocks_format")
            pointer = f"/unfurls/{_pointer_token(url)}/blocks"
            problems += block_kit_problems(unfurl["blocks"], pointer=pointer, most=MAX_MESSAGE_BLOCKS)
    return _invalid_blocks(problems) if problems else None


def block_kit_problems(blocks: list[dict], *, pointer: str, most: int) -> list[str]:
    """Everything Slack would object to in `blocks`, each reason in Slack's words with a JSON pointer.

    Checked here, for the blocks talkbot builds (section, context, actions, header, divider, buttons): required
    fields, additional properties, text types, lengths and counts, and id lengths; for every block, duplicate
    block_ids in the message and duplicate action_ids within a block ("`action_id` "x" already exists", as Slack
    answers). Every other block type, and any block the checks above pass, is judged by slack_sdk's own Block Kit
    models (`Block.parse(...).to_dict()`, which validates nested elements too)."""
    problems = []
    if len(blocks) > most:
        problems.append(f"no more than {most} items allowed [json-pointer:{pointer}]")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        block_id = block.get("block_id")
        if isinstance(block_id, str) and block_id in seen_block_ids:
            problems.append(f'`block_id` "{block_id}" already exists [json-pointer:{here}/block_id]')
        elif isinstance(block_id, str):
            seen_block_ids.add(block_id)
        shape = _block_shape_problems(block, here)
        problems += shape or _model_problems(lambda block=block: _parsed_block(block).to_dict(), here)
        problems += _duplicate_action_ids(block, here)
    return problems


_BLOCK_KEYS = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "context": {"type", "block_id", "elements"},
    "actions": {"type", "block_id", "elements"},
    "header": {"type", "block_id", "text"},
    "divider": {"type", "block_id"},
}
_BUTTON_KEYS = {"type", "text", "action_id", "value", "url", "style", "confirm", "accessibility_label"}
_TEXT_KEYS = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}


def _block_shape_problems(block: dict, here: str) -> list[str]:
    kind = block.get("type")
    if kind not in _BLOCK_KEYS:
        return []  # slack_sdk's models judge the other types
    problems = _additional_properties(block, _BLOCK_KEYS[kind], here)
    problems += _id_problems(block, "block_id", here)
    if kind == "section":
        problems += _section_problems(block, here)
    elif kind == "context":
        problems += _list_problems(block, "elements", here, MAX_CONTEXT_ELEMENTS, _context_element_problems)
    elif kind == "actions":
        problems += _list_problems(block, "elements", here, MAX_ACTIONS_ELEMENTS, _element_problems)
    elif kind == "header":
        if "text" not in block:
            problems.append(f"missing required field: text [json-pointer:{here}]")
        else:
            problems += _text_problems(block["text"], f"{here}/text", MAX_HEADER_TEXT, plain_only=True)
    return problems


def _section_problems(block: dict, here: str) -> list[str]:
    problems = []
    if "text" not in block and "fields" not in block:
        problems.append(f"must define either `text` or `fields` [json-pointer:{here}]")
    if "text" in block:
        problems += _text_problems(block["text"], f"{here}/text", MAX_SECTION_TEXT)
    if "fields" in block:
        problems += _list_problems(
            block, "fields", here, MAX_SECTION_FIELDS, lambda item, at: _text_problems(item, at, MAX_FIELD_TEXT)
        )
    if "accessory" in block:
        problems += _element_problems(block["accessory"], f"{here}/accessory")
    return problems


def _list_problems(block: dict, key: str, here: str, most: int, check: Callable[[object, str], list[str]]) -> list[str]:
    items = block.get(key)
    if not isinstance(items, list):
        return [f"missing required field: {key} [json-pointer:{here}]"]
    if not items:
        return [f"must provide at least 1 items [json-pointer:{here}/{key}]"]
    problems = [f"no more than {most} items allowed [json-pointer:{here}/{key}]"] if len(items) > most else []
    for index, item in enumerate(items):
        problems += check(item, f"{here}/{key}/{index}")
    return problems


def _context_element_problems(element: object, here: str) -> list[str]:
    if isinstance(element, dict) and element.get("type") == "image":
        return []  # slack_sdk's ImageElement judges it
    return _text_problems(element, here, MAX_CONTEXT_TEXT)


def _element_problems(element: object, here: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{here}]"]
    if element.get("type") != "button":
        return []  # other interactive elements: slack_sdk's models judge them
    problems = _additional_properties(element, _BUTTON_KEYS, here)
    problems += _id_problems(element, "action_id", here)
    if "text" not in element:
        problems.append(f"missing required field: text [json-pointer:{here}]")
    else:
        problems += _text_problems(element["text"], f"{here}/text", MAX_BUTTON_TEXT, plain_only=True)
    for key, most in (("value", MAX_BUTTON_VALUE), ("url", MAX_BUTTON_URL)):
        value = element.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > most):
            problems.append(f"must be less than {most + 1} characters [json-pointer:{here}/{key}]")
    if "style" in element and element["style"] not in ("primary", "danger"):
        problems.append(f'must be one of "primary", "danger" [json-pointer:{here}/style]')
    return problems


def _text_problems(text: object, here: str, most: int, *, plain_only: bool = False) -> list[str]:
    """A text object: plain_text (or mrkdwn where allowed), 1 to `most` characters, no foreign keys."""
    if not isinstance(text, dict):
        return [f"must be an object [json-pointer:{here}]"]
    kind = text.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        return [f"must be one of {', '.join(allowed)} [json-pointer:{here}/type]"]
    problems = _additional_properties(text, _TEXT_KEYS[kind], here)
    value = text.get("text")
    if not isinstance(value, str):
        problems.append(f"missing required field: text [json-pointer:{here}]")
    elif not value:
        problems.append(f"must be more than 0 characters [json-pointer:{here}/text]")
    elif len(value) > most:
        problems.append(f"must be less than {most + 1} characters [json-pointer:{here}/text]")
    return problems


def _id_problems(item: dict, key: str, here: str) -> list[str]:
    if key not in item:
        return []
    value = item[key]
    if not isinstance(value, str) or not value:
        return [f"must be more than 0 characters [json-pointer:{here}/{key}]"]
    if len(value) > MAX_ID_LENGTH:
        return [f"must be less than {MAX_ID_LENGTH + 1} characters [json-pointer:{here}/{key}]"]
    return []


def _additional_properties(item: dict, allowed: set[str], here: str) -> list[str]:
    return [f"invalid additional property: {key} [json-pointer:{here}]" for key in item if key not in allowed]


def _duplicate_action_ids(block: dict, here: str) -> list[str]:
    """Slack requires action_ids to be unique within a block (its elements, accessory and input element)."""
    elements = [(f"{here}/elements/{i}", e) for i, e in enumerate(block.get("elements") or []) if isinstance(e, dict)]
    elements += [(f"{here}/{key}", block[key]) for key in ("accessory", "element") if isinstance(block.get(key), dict)]
    seen, problems = set(), []
    for at, element in elements:
        action_id = element.get("action_id")
        if isinstance(action_id, str) and action_id in seen:
            problems.append(f'`action_id` "{action_id}" already exists [json-pointer:{at}/action_id]')
        seen.add(action_id)
    return problems


def _parsed_block(block: dict) -> Block:
    parsed = Block.parse(block)
    if parsed is None:
        raise _UnsupportedType(block.get("type"))
    return parsed


class _UnsupportedType(Exception):
    pass


def _model_problems(validate: Callable[[], object], here: str) -> list[str]:
    """Run one of slack_sdk's model validations and put what it objects to in Slack's words."""
    try:
        validate()
    except _UnsupportedType as unsupported:
        return [f"unsupported type: {unsupported} [json-pointer:{here}/type]"]
    except SlackObjectFormationError as error:
        return [f"{error} [json-pointer:{here}]"]
    except (TypeError, ValueError, AttributeError, KeyError):  # a shape the models cannot even build
        return [f"failed to match all allowed schemas [json-pointer:{here}]"]
    return []


def _invalid_blocks(problems: list[str]) -> dict:
    return {
        "ok": False, "error": "invalid_blocks", "errors": list(problems),
        "response_metadata": {"messages": [f"[ERROR] {problem}" for problem in problems]},
    }  # fmt: skip


def _invalid_arguments(problems: list[str]) -> dict:
    return {
        "ok": False, "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] {problem}" for problem in problems]},
    }  # fmt: skip


def _missing_scope(needed: str, provided: Iterable[str]) -> dict:
    """Slack's missing_scope answer names the scope needed and the ones the token has."""
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(provided)}


def _pointer_token(key: str) -> str:
    """RFC 6901: `~` and `/` in a key are written ~0 and ~1 in a JSON pointer."""
    return key.replace("~", "~0").replace("/", "~1")


# --- helpers ---------------------------------------------------------------------------------------------------------


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


def _cursor(method: str, offset: int) -> str:
    """An opaque cursor like Slack's ("dXNlcjpVMDYxTkZUVDI=" is base64 of "user:U061NFTT2")."""
    return base64.b64encode(f"{method}:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None, method: str) -> int | None:
    """The offset a cursor stands for; None for a cursor this method did not issue."""
    if not cursor:
        return 0
    try:
        issued_by, _, offset = base64.b64decode(cursor, validate=True).decode().rpartition(":")
        return int(offset) if issued_by == method and int(offset) >= 0 else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _base62(number: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    digits = ""
    while number:
        number, digit = divmod(number, 62)
        digits = alphabet[digit] + digits
    return digits or "0"


def _is_true(value: object) -> bool:
    """Slack flags arrive as JSON booleans or, from forms and query strings, as "true"/"1"."""
    return value in (True, 1, "true", "1")


def _is_reply(message: dict) -> bool:
    return message["thread_ts"] not in (None, message["ts"])


def _within_window(ts: str, params: dict) -> bool:
    """Slack's oldest/latest bounds: exclusive unless `inclusive` is set."""
    moment = float(ts)
    oldest = float(params.get("oldest") or "-inf")
    latest = float(params.get("latest") or "inf")
    if _is_true(params.get("inclusive")):
        return oldest <= moment <= latest
    return oldest < moment < latest


def _message_list(messages: list[dict], params: dict) -> dict:
    """A history-style answer; Slack leaves out message metadata unless the caller asks for it."""
    with_metadata = _is_true(params.get("include_all_metadata"))
    listed = [
        copy.deepcopy(message) if with_metadata else {key: value for key, value in message.items() if key != "metadata"}
        for message in messages
    ]
    return {"ok": True, "messages": listed, "has_more": False}


def _parse_params(query: str, content_type: str, body: bytes) -> dict:
    """Merge query-string and body arguments the way Slack reads them, decoding JSON-valued form fields."""
    params: dict = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" and body:
        params.update(_json_object(body))
    elif media_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    for name in JSON_FORM_FIELDS:
        if isinstance(params.get(name), str):
            params[name] = _decoded_json_or_text(params[name])
    return params


def _json_object(body: bytes) -> dict:
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _BadRequest("invalid_json") from error
    if not isinstance(decoded, dict):
        raise _BadRequest("invalid_json")
    return decoded


def _decoded_json_or_text(value: str) -> object:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


_Answer = Callable[[str, str, str, dict, bytes], _Reply]  # (verb, path, query, headers, body) -> reply


class _FakeSlackServer(ThreadingHTTPServer):
    """An HTTP server on a free local port whose request handlers all ask one `answer` function."""

    daemon_threads = True

    def __init__(self, *, answer: _Answer) -> None:
        self.answer = answer
        super().__init__((HOST, 0), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    """Translates HTTP to the server's `answer` function and back; knows nothing about Slack methods."""

    server: _FakeSlackServer

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, verb: str) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.answer(verb, url.path, url.query, headers, self._read_body())
        if reply.drop:
            self.close_connection = True  # say nothing: the client sees the connection close without a response
            return
        self._send(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: _Reply) -> None:
        if isinstance(reply.body, str):
            payload, content_type = reply.body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(reply.body).encode("utf-8"), "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the console shows its own transcript and tests read `calls` instead of logs."""
