"""talkbot's real Slack app in the test process: the same construction `talkbot serve --http` does, and signed
requests handed to its WSGI callable, so Slack's signature check, the body limits and Bolt all run as in production,
without a process start per scenario. The fake Slack (bot/devtools/fake_slack/) stays a real local HTTP server.

Bolt answers after the ack in its own threads (lazy listeners), as in the server: wait for an answer to appear
(tests/support/slack_server.py: answers_to, wait_for)."""

from __future__ import annotations

import io
import logging
import os
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager

import pytest
from slack_bolt import App
from sqlalchemy.orm import sessionmaker

from bot.app import create_app
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.installations import REDIRECT_PATH
from bot.logs import FORMAT, EscapingFormatter
from bot.server import EVENTS_PATH, HttpLimits, wsgi_app
from bot.services import build_services
from db.config import DatabaseTimeouts, make_engine
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher
from tests.support.slack_server import (
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    Reply,
    SlackSender,
    signed_headers,
)

HOST = "talkbot.test"  # the Host of in-process requests; nothing listens there
URL = f"https://{HOST}"


class CapturedLog:
    """What talkbot logged while it ran, one escaped line per record as `talkbot serve` writes them (bot/logs.py);
    `read_text()` as for a server's log file."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(EscapingFormatter(FORMAT))

    def read_text(self) -> str:
        return self.stream.getvalue()

    @contextmanager
    def capturing(self) -> Iterator[None]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self.handler)
        root.setLevel(min(level, logging.INFO) if level else logging.INFO)
        try:
            yield
        finally:
            root.removeHandler(self.handler)
            root.setLevel(level)


class InProcessTalkbot(SlackSender):
    """talkbot's WSGI application, called directly with the environ a WSGI server would build."""

    def __init__(self, application, fake: FakeSlack, log: CapturedLog, sessions: sessionmaker, app: App) -> None:
        self.application, self.fake, self.log, self.sessions = application, fake, log, sessions
        self.url = URL
        self._work: list[Future] = []
        executor = app.listener_runner.listener_executor
        submit = executor.submit

        def tracked(*args, **kwargs) -> Future:
            future = submit(*args, **kwargs)
            self._work.append(future)
            return future

        executor.submit = tracked  # every piece of work Bolt does after an ack (lazy listeners)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until everything handed to Bolt so far has been fully handled, answers included: the positive signal
        after which "nothing else was sent" can be asserted without sleeping."""
        done, pending = wait(list(self._work), timeout=timeout)
        assert not pending, f"{len(pending)} piece(s) of work still running after {timeout} s"
        for future in done:
            future.result()

    def post(self, body: bytes, content_type: str, headers: dict | None = None) -> Reply:
        signed = signed_headers(SIGNING_SECRET, body, content_type)
        return self.request("POST", EVENTS_PATH, body, {**signed, **(headers or {})})

    def get(self, path: str, headers: dict | None = None) -> Reply:
        return self.request("GET", path, b"", headers or {})

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Reply:
        """One request through the WSGI callable; `path` may carry a query string."""
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": urllib.parse.unquote(path), "QUERY_STRING": query,
            "SERVER_NAME": HOST, "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "HTTP_HOST": HOST, "CONTENT_LENGTH": str(len(body)),
        }  # fmt: skip
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = str(value)
        answer: dict = {}

        def start_response(status: str, response_headers: list, exc_info=None) -> None:
            answer["status"], answer["headers"] = int(status.split()[0]), {k.title(): v for k, v in response_headers}

        start = time.monotonic()
        chunks = self.application(environ, start_response)
        try:
            text = b"".join(chunks).decode()
        finally:
            getattr(chunks, "close", lambda: None)()
        return Reply(answer["status"], text, time.monotonic() - start, answer["headers"])


@contextmanager
def talkbot_in_process(database_url: str, fake: FakeSlack, *, oauth: bool = False,
                       env: dict | None = None) -> Iterator[InProcessTalkbot]:  # fmt: skip
    """talkbot as `talkbot serve --http` builds it (bot/server serve_http), on its own engine (as a process has its
    own pool), in token mode against `fake`, or distributed over OAuth (`fake` must use CLIENT_ID/SECRET).

    The ONE place that constructs the app for in-process tests: when create_app's signature changes, change it here."""
    log = CapturedLog()
    with pytest.MonkeyPatch.context() as environment, log.capturing():
        # The environment the server process would get; settings, limits and timeouts are read from it here.
        for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_REDIRECT_URI"):
            environment.delenv(name, raising=False)
        environment.setenv("DATABASE_URL", database_url)
        environment.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        environment.setenv("SLACK_API_URL", fake.api_url)
        if oauth:
            environment.setenv("SLACK_BOT_TOKEN", "")
            environment.setenv("SLACK_CLIENT_ID", CLIENT_ID)
            environment.setenv("SLACK_CLIENT_SECRET", CLIENT_SECRET)
            # OAuth mode stores tokens encrypted: a test that reads them sets the key itself; any other gets one
            if not (env or {}).get(ENCRYPTION_KEY_VARIABLE):
                key = os.environ.get(ENCRYPTION_KEY_VARIABLE) or TokenCipher.generate_key()
                environment.setenv(ENCRYPTION_KEY_VARIABLE, key)
        else:
            environment.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        for name, value in (env or {}).items():
            environment.setenv(name, value)

        settings = SlackSettings.from_environment()
        settings.require("SLACK_SIGNING_SECRET", *(() if settings.uses_oauth else ("SLACK_BOT_TOKEN",)))
        limits = HttpLimits.from_environment()
        engine_ = make_engine(database_url, DatabaseTimeouts.from_environment())  # a server's: never bulk work
        services = build_services(settings, database_url, database=engine_)
        sessions = services.sessions
        app = create_app(services)
        application = wsgi_app(app, sessions, limits, signing_secret=settings.signing_secret)
        services.search.warm_up()
        if oauth:
            fake.redirect_url = URL + REDIRECT_PATH  # the Redirect URL configured in the Slack app
        talkbot = InProcessTalkbot(application, fake, log, sessions, app)
        environment.undo()  # the process's environment stays with the process: the test's is the test's
        try:
            yield talkbot
        finally:
            app.listener_runner.listener_executor.shutdown(wait=True)  # answers still being worked out finish first
            engine_.dispose()
