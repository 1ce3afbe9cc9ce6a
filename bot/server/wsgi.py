"""The WSGI app: refuses oversized bodies unread, checks Slack's requests, answers /healthz, hands the rest to Bolt."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.middleware import RequestVerification
from sqlalchemy.orm import Session, sessionmaker

from bot.server.health import HealthCheck, database_health
from bot.server.limits import HttpLimits
from bot.server.slack_checks import BAD_REQUEST, bolt_readable, slack_refusal

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_LIMITS = HttpLimits()


def wsgi_app(
    app: App, sessions: sessionmaker[Session], limits: HttpLimits = DEFAULT_LIMITS, *, signing_secret: str
) -> Callable:
    """`POST /slack/events` for commands, events and interactivity; `GET /healthz` checks the database; the OAuth
    pages (`GET /slack/install`, `/slack/oauth_redirect`, unsigned by design) go to Bolt as they are.

    A declared body over the cap is refused before anything reads it, on every path: waitress refuses it first, and
    this check holds under any other WSGI server too. A refused request is logged as one line of metadata (method,
    path, size, reason): never its body or headers, which hold what people typed and where to answer them."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    health = HealthCheck(lambda: database_health(sessions), limits.health_timeout)
    # Bolt verifies the signature again (harmless, and a guard should this layer ever be bypassed). Its log line for a
    # bad signature quotes the whole body at INFO: it is reached only if the two checks disagree (a request crossing
    # the 5-minute mark between them), and then it must not print the body.
    logging.getLogger(f"slack_bolt.{RequestVerification.__name__}").setLevel(logging.WARNING)

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = _content_length(environ)
        if length is None:
            return _refuse(start_response, environ, "?", BAD_REQUEST, "invalid Content-Length")
        if length > limits.max_body_bytes:
            return _refuse(start_response, environ, length, "413 Content Too Large",
                           f"body over {limits.max_body_bytes} bytes", close=True)  # fmt: skip
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            healthy, detail = health()
            return _json(start_response, "200 OK" if healthy else "503 Service Unavailable",
                         {"ok": healthy, "database": detail})  # fmt: skip
        if path == EVENTS_PATH and method == "POST":
            body = environ["wsgi.input"].read(length) if length else b""
            refusal = slack_refusal(signing_secret, environ, body, time.time())
            if refusal:
                return _refuse(start_response, environ, len(body), *refusal)
            body = bolt_readable(signing_secret, environ, body)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))  # Bolt reads it again
        return slack(environ, start_response)

    return application


def _content_length(environ: dict) -> int | None:
    raw = (environ.get("CONTENT_LENGTH") or "0").strip()
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _refuse(start_response: Callable, environ: dict, size: int | str, status: str, reason: str,
            close: bool = False) -> list[bytes]:  # fmt: skip
    method, path = _clipped(environ.get("REQUEST_METHOD", ""), 16), _clipped(environ.get("PATH_INFO", ""), 100)
    log.warning("refused %s %s (%s bytes) with %s: %s", method, path, size, status[:3], reason)
    return _json(start_response, status, {"ok": False, "error": reason}, close=close)


def _clipped(value: str, most: int) -> str:
    return value if len(value) <= most else value[:most] + "…"


def _json(start_response: Callable, status: str, body: dict, close: bool = False) -> list[bytes]:
    headers = [("Content-Type", "application/json")] + ([("Connection", "close")] if close else [])
    start_response(status, headers)
    return [json.dumps(body).encode()]
