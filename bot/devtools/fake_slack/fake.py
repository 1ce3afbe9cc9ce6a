"""The fake Slack server: its state, its lifecycle, what it recorded, and how it routes each request."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from http import HTTPStatus

from bot.devtools.fake_slack.block_kit import _refusal, _response_url_refusal
from bot.devtools.fake_slack.http import _FakeSlackServer, _parse_params
from bot.devtools.fake_slack.oauth import OAuthMethods
from bot.devtools.fake_slack.records import (
    _DROPPED,
    API_PREFIX,
    AUTHORIZE_PATH,
    DEFAULT_BOT_SCOPES,
    DEFAULT_TOKEN_LIFETIME,
    HOST,
    RESPONSE_URL_METHOD,
    RESPONSE_URL_PREFIX,
    SHUTDOWN_POLL_SECONDS,
    TS_STEP_MICROSECONDS,
    SlackCall,
    Workspace,
    _auth_test,
    _BadRequest,
    _base62,
    _bearer_token,
    _Channel,
    _error,
    _error_code,
    _reasons,
    _Reply,
    _Token,
)
from bot.devtools.fake_slack.scenarios import SlackScenarios
from bot.devtools.fake_slack.web_api import WebApiMethods

log = logging.getLogger(__name__)


class FakeSlack(SlackScenarios, WebApiMethods, OAuthMethods):
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
        self._unfurl_ids: dict[str, tuple[str, str, str, tuple[str, ...]]] = {}  # id: channel, ts, source, urls
        self._unfurls: defaultdict[tuple[str, str], dict] = defaultdict(dict)  # (channel, ts): {url: unfurl}
        self._users: dict[str, dict] = {}
        self._channels: dict[str, _Channel] = {}
        self._channel_members: defaultdict[str, set[str]] = defaultdict(set)
        self._page_size_cap: int | None = None
        self._issued_ts = 0
        self._issued_view_ids = 0
        self._views: dict[str, dict] = {}  # view id: the view as Slack holds it (modals opened, views published)
        self._exchanged_triggers: set[str] = set()
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
            "views.push": self._views_open,  # a modal stacked on one: the same trigger rules
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
