"""Running the Slack app: HTTP mode under waitress (production), or Socket Mode (development).

HTTP mode bounds what one client can cost (see `HttpLimits`): a body larger than the cap is refused with 413 before
it is read, a request whose headers and body do not arrive within the request timeout is disconnected, and an idle
connection is closed after the idle timeout."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server

from bot.app import create_app
from bot.config import ConfigError, SlackSettings
from bot.installations import INSTALL_PATH
from db.search.engine import SearchEngine

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# How often waitress looks for connections to close (idle, or a request too slow to arrive). A pass is a loop over
# the open connections (at most waitress's connection_limit, 100), so once a second costs nothing.
CLEANUP_INTERVAL = 1


@dataclass(frozen=True)
class HttpLimits:
    """What one HTTP client may cost the server. Slack's own requests are a few KB and arrive at once."""

    # Bodies above this are refused (413) unread. Slack's largest payloads (a modal's view state, a message with
    # 50 blocks) are tens of KB.
    max_body_bytes: int = 1024 * 1024
    # From a request's first byte to its last: a client trickling its headers or body (1 byte a second) is
    # disconnected after this. Slack sends a whole request at once, and gives up itself on no answer within 3 s.
    request_timeout: float = 10.0
    # A keep-alive connection with no request in flight is closed after this (waitress's channel_timeout). Just above
    # the 60 s idle timeout common load balancers (AWS ALB, Google Cloud) keep towards their backends, so a balancer
    # never sends a request down a connection talkbot is closing; lower it when clients reach talkbot directly.
    idle_timeout: int = 65

    ENVIRONMENT = {
        "max_body_bytes": "TALKBOT_MAX_BODY_BYTES",
        "request_timeout": "TALKBOT_HTTP_REQUEST_TIMEOUT",
        "idle_timeout": "TALKBOT_HTTP_IDLE_TIMEOUT",
    }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> HttpLimits:
        values = {}
        for name, variable in cls.ENVIRONMENT.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            kind = type(getattr(cls, name))
            try:
                values[name] = kind(raw)
            except ValueError:
                values[name] = None
            if values[name] is None or not 0 < values[name] < 10**12:  # also refuses nan and inf
                kind_name = "number" if kind is float else "integer"
                raise ConfigError(f"{variable} must be a positive {kind_name}, not {raw!r}")
        return cls(**values)

    def waitress_adjustments(self) -> dict:
        """waitress refuses a body of max_request_body_size bytes or more: one above ours, so the cap itself passes."""
        return {
            "max_request_body_size": self.max_body_bytes + 1,
            "channel_timeout": self.idle_timeout,
            "cleanup_interval": CLEANUP_INTERVAL,
        }


def wsgi_app(app: App, engine: SearchEngine, limits: HttpLimits = HttpLimits()) -> Callable:
    """`POST /slack/events` for commands, events and interactivity; `GET /healthz` checks the database.

    A declared body over the cap is refused before anything reads it, on every path: waitress refuses it first, and
    this check holds under any other WSGI server too."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = _content_length(environ)
        if length is None:
            return _json(start_response, "400 Bad Request", {"ok": False, "error": "invalid Content-Length"})
        if length > limits.max_body_bytes:
            error = f"request body over {limits.max_body_bytes} bytes"
            return _json(start_response, "413 Content Too Large", {"ok": False, "error": error}, close=True)
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            healthy, detail = database_health(engine)
            return _json(start_response, "200 OK" if healthy else "503 Service Unavailable",
                         {"ok": healthy, "database": detail})  # fmt: skip
        return slack(environ, start_response)

    return application


def _content_length(environ: dict) -> int | None:
    raw = (environ.get("CONTENT_LENGTH") or "0").strip()
    return int(raw) if raw.isdigit() else None


def _json(start_response: Callable, status: str, body: dict, close: bool = False) -> list[bytes]:
    headers = [("Content-Type", "application/json")] + ([("Connection", "close")] if close else [])
    start_response(status, headers)
    return [json.dumps(body).encode()]


def database_health(engine: SearchEngine) -> tuple[bool, str]:
    """(healthy, "ok" | "unavailable"): nothing else, so the endpoint tells no one about versions, hosts or errors.
    Bounded by the database timeouts (db/config.py): pool pre-ping, then at most one connection attempt."""
    try:
        with engine.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("health check: database unavailable: %s", type(error).__name__)
        return False, "unavailable"
    return True, "ok"


class _TimedParser(HTTPRequestParser):
    """waitress's request parser, remembering when the request's first byte arrived."""

    def __init__(self, adj) -> None:
        super().__init__(adj)
        self.started = time.monotonic()


class _TimedChannel(HTTPChannel):
    parser_class = _TimedParser


def bounded_server(application: Callable, limits: HttpLimits, **adjustments) -> BaseWSGIServer:
    """A waitress server applying `limits`. waitress's channel_timeout only closes *idle* connections, and every byte
    counts as activity, so a client sending one byte a second would keep its request open forever; each maintenance
    pass (every CLEANUP_INTERVAL s) therefore also closes connections whose current request began more than
    request_timeout ago and is still arriving. waitress buffers bodies on its I/O thread, so such a client never holds
    a worker thread, but it does hold one of waitress's connections (connection_limit)."""
    dispatchers: dict = {}
    server = create_server(application, map=dispatchers, **adjustments, **limits.waitress_adjustments())
    for listener in [d for d in dispatchers.values() if isinstance(d, BaseWSGIServer)]:
        listener.channel_class = _TimedChannel
        listener.maintenance = _with_request_deadline(listener, limits.request_timeout)
    return server


def _with_request_deadline(listener: BaseWSGIServer, seconds: float) -> Callable[[float], None]:
    idle_maintenance = listener.maintenance

    def maintenance(now: float) -> None:
        idle_maintenance(now)
        cutoff = time.monotonic() - seconds
        for channel in list(listener.active_channels.values()):
            arriving = channel.request  # the request still being received; complete ones are in channel.requests
            if arriving is not None and getattr(arriving, "started", cutoff) < cutoff and not channel.will_close:
                log.warning("closing a connection from %s: its request took over %g s to arrive", channel.addr, seconds)
                channel.will_close = True

    return maintenance


def serve_http(settings: SlackSettings, engine: SearchEngine, host: str, port: int, threads: int = 16) -> None:
    """Token mode needs the bot token; OAuth mode gets each workspace's from the installation store instead."""
    settings.require("SLACK_SIGNING_SECRET", *(() if settings.uses_oauth else ("SLACK_BOT_TOKEN",)))
    limits = HttpLimits.from_environment()
    application = wsgi_app(create_app(settings, engine), engine, limits)
    engine.warm_up()
    server = bounded_server(application, limits, host=host, port=port, threads=threads, ident="talkbot")
    log.info("talkbot listening on http://%s:%d%s", host, port, EVENTS_PATH)
    log.info("HTTP limits: bodies up to %d bytes, requests arriving within %g s, idle connections closed after %d s",
             limits.max_body_bytes, limits.request_timeout, limits.idle_timeout)  # fmt: skip
    if settings.uses_oauth:
        log.info("workspaces install talkbot at http://%s:%d%s", host, port, INSTALL_PATH)
    server.run()


def serve_socket_mode(settings: SlackSettings, engine: SearchEngine) -> None:
    if settings.uses_oauth:
        raise ConfigError(
            "installing talkbot in many workspaces (SLACK_CLIENT_ID) needs HTTP mode: `talkbot serve "
            "--http`, reachable by Slack at /slack/events, /slack/install and /slack/oauth_redirect"
        )
    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    app = create_app(settings, engine)
    engine.warm_up()
    SocketModeHandler(app, settings.app_token).start()
