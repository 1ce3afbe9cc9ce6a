"""A local fake of the Slack Web API, so the test-suite and `talkbot console` run talkbot without reaching Slack.

Point slack_sdk at it with `WebClient(base_url=fake.api_url)` (or `SLACK_API_URL=fake.api_url`): it serves plain HTTP on
127.0.0.1, records every call, keeps the messages the bot posts and answers the methods talkbot uses the way Slack does.
Any other method answers `{"ok": true}`, so new features work against the fake before it models them.

It also plays Slack's side of OAuth for several workspaces: `sign_in()` picks the workspace a browser approves an
install for, `/oauth/v2/authorize` redirects back with a code, `oauth.v2.access` trades it for that workspace's own
bot token, and every call made with a token is answered as that workspace (`revoke_tokens()` makes them fail).
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

HOST = "127.0.0.1"
API_PREFIX = "/api/"
RESPONSE_URL_PREFIX = "/response/"
AUTHORIZE_PATH = "/oauth/v2/authorize"
RESPONSE_URL_METHOD = "response_url"
JSON_FORM_FIELDS = ("blocks", "attachments", "view", "metadata")
DEFAULT_TZ = "Europe/Berlin"
TS_STEP_MICROSECONDS = 100
DEFAULT_HISTORY_LIMIT = 100
SHUTDOWN_POLL_SECONDS = 0.02  # how often the server checks for stop(); the default 0.5 s would slow every test


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received, as the bot sent it."""

    method: str
    params: dict
    headers: dict = field(repr=False)  # holds the bearer token: keep it out of reprs and assertion messages
    response_url_id: str | None = None

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


@dataclass(frozen=True)
class _Reply:
    """What to send back: Slack puts errors in the JSON body, so the HTTP status only differs for 429 and bad paths."""

    body: dict
    status: HTTPStatus = HTTPStatus.OK
    headers: dict = field(default_factory=dict)


class _BadRequest(Exception):
    """A request body Slack could not parse; carries the error code Slack answers with."""


class FakeSlack:
    """A stand-in for https://slack.com/api/ on 127.0.0.1 that records every call and answers like Slack."""

    def __init__(
        self, *, bot_user_id: str = "UTALKBOT", team_id: str = "T0001", bot_id: str = "BTALKBOT",
        client_id: str = "fake-client-id", client_secret: str = "fake-client-secret",
    ) -> None:  # fmt: skip
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = bot_id
        self.client_id, self.client_secret = client_id, client_secret
        # The app's configured Redirect URL, used when the authorize request names none (as Slack does).
        self.redirect_url: str | None = None
        self._signed_in: Workspace | None = None
        self._codes: dict[str, Workspace] = {}
        self._tokens: dict[str, Workspace] = {}
        self._revoked: set[str] = set()
        self._changed = threading.Condition(threading.RLock())
        self._calls: list[SlackCall] = []
        self._planned_replies: defaultdict[str, deque[_Reply]] = defaultdict(deque)
        self._messages: defaultdict[str, list[dict]] = defaultdict(list)
        self._users: dict[str, dict] = {}
        self._channel_members: defaultdict[str, set[str]] = defaultdict(set)
        self._issued_ts = 0
        self._issued_view_ids = 0
        self._server: _FakeSlackServer | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict], dict]] = {
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "users.conversations": self._users_conversations,
            "views.publish": self._views_publish,
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
        """Make the next `times` calls to `method` fail the way Slack reports errors: HTTP 200 with ok=false."""
        self._plan(method, _Reply(_error(error)), times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Make the next `times` calls to `method` answer HTTP 429 with Retry-After, as Slack's rate limiter does."""
        rate_limited = _error("ratelimited")
        self._plan(method, _Reply(rate_limited, HTTPStatus.TOO_MANY_REQUESTS, {"Retry-After": str(retry_after)}), times)

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
        """Revoke every bot token issued to a workspace (as uninstalling does); calls with them fail."""
        with self._changed:
            self._revoked |= {token for token, workspace in self._tokens.items() if workspace.team_id == team_id}

    def tokens_of(self, team_id: str) -> list[str]:
        with self._changed:
            return [token for token, workspace in self._tokens.items() if workspace.team_id == team_id]

    def set_channel_members(self, channel: str, user_ids: list[str]) -> None:
        """Who is in a channel, for users.conversations and conversations.members."""
        with self._changed:
            self._channel_members[channel] = set(user_ids)

    # --- answering requests ----------------------------------------------------------------------------------------

    def _answer(self, verb: str, path: str, params: dict, headers: dict) -> _Reply:
        if path == AUTHORIZE_PATH:
            return self._authorize(params)
        if path.startswith(API_PREFIX):
            return self._answer_api(path.removeprefix(API_PREFIX), params, headers)
        if path.startswith(RESPONSE_URL_PREFIX):
            if verb != "POST":
                return _Reply(_error("method_not_allowed"), HTTPStatus.METHOD_NOT_ALLOWED)
            return self._answer_response_url(path.removeprefix(RESPONSE_URL_PREFIX), params, headers)
        return _Reply(_error("not_found"), HTTPStatus.NOT_FOUND)

    def _answer_api(self, method: str, params: dict, headers: dict) -> _Reply:
        with self._changed:
            self._record(SlackCall(method, params, headers))
            if self._planned_replies[method]:
                return self._planned_replies[method].popleft()
            if method == "oauth.v2.access":
                return _Reply(self._oauth_v2_access(params, headers))
            token = _bearer_token(params, headers)
            if not token:
                return _Reply({"ok": False, "error": "not_authed"})
            if token in self._revoked:
                return _Reply({"ok": False, "error": "token_revoked"})
            if method == "auth.test":
                return _Reply(self._auth_test(self._tokens.get(token)))
            answer_method = self._methods.get(method)
            return _Reply(answer_method(params) if answer_method else {"ok": True})

    def _answer_response_url(self, response_url_id: str, params: dict, headers: dict) -> _Reply:
        with self._changed:
            self._record(SlackCall(RESPONSE_URL_METHOD, params, headers, response_url_id=response_url_id))
        return _Reply({"ok": True})

    def _record(self, call: SlackCall) -> None:
        self._calls.append(call)
        self._changed.notify_all()

    def _next_ts(self) -> str:
        """Message timestamps Slack-style ("seconds.micros"): the clock's time, strictly increasing."""
        self._issued_ts = max(self._issued_ts + TS_STEP_MICROSECONDS, int(time.time() * 1_000_000))
        seconds, micros = divmod(self._issued_ts, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _find_message(self, channel: str | None, ts: str | None) -> dict | None:
        return next((message for message in self._messages.get(channel, []) if message["ts"] == ts), None)

    # --- OAuth -----------------------------------------------------------------------------------------------------

    def _authorize(self, params: dict) -> _Reply:
        """Slack's consent page, approved at once for the signed-in workspace: back to the app with a code."""
        redirect_url = params.get("redirect_uri") or self.redirect_url
        if params.get("client_id") != self.client_id or self._signed_in is None or not redirect_url:
            return _Reply(_error("invalid_authorize_request"), HTTPStatus.BAD_REQUEST)
        code = secrets.token_hex(8)
        with self._changed:
            self._codes[code] = self._signed_in
        location = f"{redirect_url}?{urlencode({'code': code, 'state': params.get('state', '')})}"
        return _Reply({"ok": True}, HTTPStatus.FOUND, {"Location": location})

    def _oauth_v2_access(self, params: dict, headers: dict) -> dict:
        """Trade a code for a new bot token of the workspace that approved the install."""
        client_id, client_secret = _client_credentials(params, headers)
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return _error("invalid_client")
        workspace = self._codes.pop(params.get("code", ""), None)
        if workspace is None:
            return _error("invalid_code")
        token = f"xoxb-{workspace.team_id}-{secrets.token_hex(12)}"
        self._tokens[token] = workspace
        enterprise = {"id": workspace.enterprise_id, "name": "Grid"} if workspace.enterprise_id else None
        return {
            "ok": True, "app_id": "ATALKBOT", "authed_user": {"id": workspace.installer_id},
            "scope": params.get("scope", ""), "token_type": "bot", "access_token": token,
            "bot_user_id": workspace.bot_user_id, "team": {"id": workspace.team_id, "name": workspace.team_id},
            "enterprise": enterprise, "is_enterprise_install": False,
        }  # fmt: skip

    # --- the Web API methods ---------------------------------------------------------------------------------------

    def _auth_test(self, workspace: Workspace | None) -> dict:
        """Who a token belongs to: its workspace's bot, or for tokens the fake did not issue, the default team."""
        workspace = workspace or Workspace(self.team_id, bot_user_id=self.bot_user_id, bot_id=self.bot_id)
        return {
            "ok": True, "url": f"https://{workspace.team_id.lower()}.slack.com/", "team": workspace.team_id,
            "user": "talkbot", "team_id": workspace.team_id, "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id, "enterprise_id": workspace.enterprise_id,
        }  # fmt: skip

    def _chat_post_message(self, params: dict) -> dict:
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        if not any(params.get(content) for content in ("text", "blocks", "attachments")):
            return _error("no_text")
        message = {
            "ts": self._next_ts(), "channel": channel, "text": params.get("text", ""), "blocks": params.get("blocks"),
            "thread_ts": params.get("thread_ts"), "metadata": params.get("metadata"),
            "user": self.bot_user_id, "bot_id": self.bot_id,
        }  # fmt: skip
        self._messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, params: dict) -> dict:
        if not params.get("channel"):
            return _error("channel_not_found")
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: dict) -> dict:
        message = self._find_message(params.get("channel"), params.get("ts"))
        if message is None:
            return _error("message_not_found")
        message.update({key: params[key] for key in ("text", "blocks", "metadata") if key in params})
        return {
            "ok": True, "channel": message["channel"], "ts": message["ts"], "text": message["text"],
            "message": copy.deepcopy(message),
        }  # fmt: skip

    def _chat_delete(self, params: dict) -> dict:
        message = self._find_message(params.get("channel"), params.get("ts"))
        if message is None:
            return _error("message_not_found")
        self._messages[message["channel"]].remove(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _conversations_history(self, params: dict) -> dict:
        """Like Slack, lists top-level messages only: thread replies are read with conversations.replies."""
        top_level = [message for message in self._messages.get(params.get("channel"), []) if not _is_reply(message)]
        in_window = [message for message in top_level if _within_window(message["ts"], params)]
        newest_first = list(reversed(in_window))[: int(params.get("limit") or DEFAULT_HISTORY_LIMIT)]
        return _message_list(newest_first, params)

    def _conversations_replies(self, params: dict) -> dict:
        thread_ts = params.get("ts")
        thread = [
            message for message in self._messages.get(params.get("channel"), [])
            if thread_ts in (message["ts"], message["thread_ts"])
        ]  # fmt: skip
        if not thread:
            return _error("thread_not_found")
        return _message_list(thread[: int(params.get("limit") or DEFAULT_HISTORY_LIMIT)], params)

    def _conversations_open(self, params: dict) -> dict:
        user_id = params.get("users")
        if not user_id:
            return _error("users_list_not_supplied")
        return {"ok": True, "channel": {"id": "D" + user_id[1:]}}

    def _conversations_info(self, params: dict) -> dict:
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        return {"ok": True, "channel": {"id": channel, "name": "general", "is_archived": False, "is_member": True}}

    def _conversations_members(self, params: dict) -> dict:
        """Members of a channel set with set_channel_members; any other channel is one talkbot cannot see."""
        members = self._channel_members.get(params.get("channel"))
        if members is None:
            return _error("channel_not_found")
        return {"ok": True, "members": sorted(members), "response_metadata": {"next_cursor": ""}}

    def _users_info(self, params: dict) -> dict:
        user_id = params.get("user")
        if not user_id:
            return _error("user_not_found")
        return {"ok": True, "user": dict(self._users.get(user_id) or _user(user_id))}

    def _users_conversations(self, params: dict) -> dict:
        user_id = params.get("user")
        channels = sorted(channel for channel, members in self._channel_members.items() if user_id in members)
        return {"ok": True, "channels": [{"id": channel} for channel in channels], "response_metadata": {}}

    def _views_publish(self, params: dict) -> dict:
        self._issued_view_ids += 1
        view = params.get("view") or {}
        return {"ok": True, "view": {"id": f"V{self._issued_view_ids:08d}", **view}}


def _error(code: str) -> dict:
    return {"ok": False, "error": code}


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


_Answer = Callable[[str, str, dict, dict], _Reply]  # (verb, path, params, headers) -> reply


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
        try:
            params = _parse_params(url.query, headers.get("content-type", ""), self._read_body())
        except _BadRequest as error:
            reply = _Reply(_error(str(error)))
        else:
            reply = self.server.answer(verb, url.path, params, headers)
        self._send(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: _Reply) -> None:
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the console shows its own transcript and tests read `calls` instead of logs."""
