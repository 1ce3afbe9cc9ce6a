"""Running the Slack app: HTTP mode under waitress (production), or Socket Mode (development).

HTTP mode bounds what one client can cost (see `HttpLimits`): a body larger than the cap is refused with 413 before
it is read; a request to /slack/events is checked in this WSGI layer before Bolt sees it (Slack's signature, then
that the body is what Slack sends: 401 or 400, and one line of metadata in the log, never the body); a connection
whose headers, or whole request, do not arrive in time is closed; an idle connection is closed after the idle
timeout; and /healthz answers within its own deadline, whatever the database does."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import re
import resource
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.middleware import RequestVerification
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server

from bot.app import create_app
from bot.config import ConfigError, SlackSettings
from bot.installations import INSTALL_PATH
from db.models import SlackEventReceipt
from db.search.engine import SearchEngine

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# How often waitress looks for connections to close (idle, or a request too slow to arrive). A pass is a loop over
# the open connections (at most connection_limit), so once a second costs next to nothing.
CLEANUP_INTERVAL = 1
# Request line and headers. Slack's come to about 1 KB; a load balancer adds a few forwarding headers. waitress's
# default (256 KB) would let each slow connection hold that much memory until the header timeout.
MAX_HEADER_BYTES = 32 * 1024
FILE_DESCRIPTORS_BESIDES_CONNECTIONS = 128  # database pool, log, listening socket, waitress's trigger, libraries


@dataclass(frozen=True)
class HttpLimits:
    """What one HTTP client may cost the server. Slack's own requests are a few KB and arrive at once."""

    # Bodies above this are refused (413) unread. Slack's largest payloads (a modal's view state, a message with
    # 50 blocks) are tens of KB.
    max_body_bytes: int = 1024 * 1024
    # From a request's first byte (for a new connection: from its opening) to the end of its headers. Slack and load
    # balancers send a request's headers in one packet; a client trickling them (slowloris) is cut off after this.
    header_timeout: float = 5.0
    # From a request's first byte to its last: a client trickling its body (1 byte a second) is disconnected after
    # this. Slack sends a whole request at once, and gives up itself on no answer within 3 s.
    request_timeout: float = 10.0
    # A keep-alive connection with no request in flight is closed after this (waitress's channel_timeout). Just above
    # the 60 s idle timeout common load balancers (AWS ALB, Google Cloud) keep towards their backends, so a balancer
    # never sends a request down a connection talkbot is closing; lower it when clients reach talkbot directly.
    idle_timeout: int = 65
    # Open connections at most; past it waitress stops accepting until one closes (the kernel queues the rest).
    # waitress's default, 100, was filled by 100 slow clients, and /healthz then timed out. waitress's event loop is
    # switched to poll(), since select() cannot watch a descriptor numbered 1024 or more.
    connection_limit: int = 1000
    # /healthz answers within this, whatever the database does: 503 "timeout" when its check has not finished.
    health_timeout: float = 2.0

    ENVIRONMENT = {
        "max_body_bytes": "TALKBOT_MAX_BODY_BYTES",
        "header_timeout": "TALKBOT_HTTP_HEADER_TIMEOUT",
        "request_timeout": "TALKBOT_HTTP_REQUEST_TIMEOUT",
        "idle_timeout": "TALKBOT_HTTP_IDLE_TIMEOUT",
        "connection_limit": "TALKBOT_HTTP_CONNECTION_LIMIT",
        "health_timeout": "TALKBOT_HEALTH_TIMEOUT",
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
            "max_request_header_size": MAX_HEADER_BYTES,
            "channel_timeout": self.idle_timeout,
            "cleanup_interval": CLEANUP_INTERVAL,
            "connection_limit": self.connection_limit,
            "asyncore_use_poll": True,
        }

    def within_file_descriptors(self) -> HttpLimits:
        """Every connection is a file descriptor: raise the process's soft limit to fit connection_limit (up to the
        hard limit), or lower connection_limit to fit, so that accept() never fails with "too many open files"."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = self.connection_limit + FILE_DESCRIPTORS_BESIDES_CONNECTIONS
        if soft != resource.RLIM_INFINITY and soft < wanted:
            soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if soft != resource.RLIM_INFINITY and soft < wanted:
            fitting = max(1, soft - FILE_DESCRIPTORS_BESIDES_CONNECTIONS)
            log.warning("the open-files limit is %d: accepting %d connections, not %d", soft, fitting, wanted)
            return replace(self, connection_limit=fitting)
        return self


# --- /slack/events: Slack's signature and body shape, before Bolt parses anything --------------------------------

SLACK_WINDOW = 5 * 60  # seconds: Slack's replay window; a request signed longer ago (or ahead) is refused
MAX_JSON_DEPTH = 64  # far above Slack's payloads (a click on one of talkbot's answers nests 7 deep)
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits alone: int() also takes " 12", "1_2" and "١٢"
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
UNAUTHORIZED, BAD_REQUEST = "401 Unauthorized", "400 Bad Request"


def slack_refusal(secret: str, environ: dict, body: bytes, now: float) -> tuple[str, str] | None:
    """(status, reason) for a request that is not Slack's, or not shaped as Slack's; None when Bolt may have it.

    The signature is checked first, over the raw bytes, so nothing of an unsigned body is ever decoded or parsed.
    It is Slack's v0 scheme as slack_sdk's `SignatureVerifier` computes it (the tests sign with that), done here on
    bytes because `SignatureVerifier` decodes the body as UTF-8 first, raising on anything else."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not TIMESTAMP.fullmatch(timestamp):
        return UNAUTHORIZED, "timestamp missing or malformed"
    if abs(now - int(timestamp)) > SLACK_WINDOW:
        return UNAUTHORIZED, "timestamp outside Slack's 5-minute window"
    if not SIGNATURE.fullmatch(signature):
        return UNAUTHORIZED, "signature missing or malformed"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return UNAUTHORIZED, "signature does not match"
    problem = body_problem(body, environ.get("CONTENT_TYPE", ""))
    return (BAD_REQUEST, problem) if problem else None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return "v0=" + digest


def body_problem(body: bytes, content_type: str) -> str | None:
    """What is wrong with a signed body, as Bolt would read it (slack_bolt.request.internals.parse_body): JSON when
    the media type is application/json or the body starts with "{", else a form, whose `payload` field (if any) is
    JSON. Bolt needs an object wherever it reads JSON, and raises (a 500 with a traceback) on anything else."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if _read_as_json(decoded, content_type):
        return _json_object_problem(decoded, "body")
    if "payload" in decoded:
        payload = dict(parse_qsl(decoded, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _json_object_problem(payload, "payload")
    return None


def _read_as_json(decoded: str, content_type: str) -> bool:
    return content_type.split(";")[0] == "application/json" or decoded.startswith("{")


def _json_object_problem(document: str, what: str) -> str | None:
    try:
        value = json.loads(document)
    except RecursionError:
        return f"{what} nested deeper than {MAX_JSON_DEPTH}"
    except ValueError:
        return f"{what} is not JSON"
    if not isinstance(value, dict):
        return f"{what} is not a JSON object"
    if _nested_deeper_than(value, MAX_JSON_DEPTH):
        return f"{what} nested deeper than {MAX_JSON_DEPTH}"
    return None


def _nested_deeper_than(value: dict, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending += [(child, depth + 1) for child in children if isinstance(child, dict | list)]
    return False


def bolt_readable(secret: str, environ: dict, body: bytes) -> bytes:
    """`body`, re-encoded if Bolt would misread it, and then signed again for Bolt's own check.

    Bolt reads any form body containing the letters "payload" as interactivity and, finding no `payload` field,
    as empty: `/talk json payload` reached no listener (404). Writing those letters as `p%61yload` leaves every
    decoded field as it was and hides them from Bolt's test."""
    decoded = body.decode("utf-8")
    if _read_as_json(decoded, environ.get("CONTENT_TYPE", "")) or "payload" not in decoded:
        return body
    if "payload" in dict(parse_qsl(decoded, keep_blank_values=True)):
        return body
    rewritten = decoded.replace("payload", "p%61yload").encode()
    environ["HTTP_X_SLACK_SIGNATURE"] = sign(secret, environ["HTTP_X_SLACK_REQUEST_TIMESTAMP"], rewritten)
    return rewritten


def wsgi_app(app: App, engine: SearchEngine, limits: HttpLimits = HttpLimits(), *, signing_secret: str) -> Callable:
    """`POST /slack/events` for commands, events and interactivity; `GET /healthz` checks the database; the OAuth
    pages (`GET /slack/install`, `/slack/oauth_redirect`, unsigned by design) go to Bolt as they are.

    A declared body over the cap is refused before anything reads it, on every path: waitress refuses it first, and
    this check holds under any other WSGI server too. A refused request is logged as one line of metadata (method,
    path, size, reason): never its body or headers, which hold what people typed and where to answer them."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    health = HealthCheck(lambda: database_health(engine), limits.health_timeout)
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


# --- /healthz ----------------------------------------------------------------------------------------------------

# A write that changes nothing and is rolled back, to the table every event is claimed in: it fails on a read-only
# SQLite file, a read-only PostgreSQL (a replica, default_transaction_read_only) or waits on a lock on that table.
WRITE_PROBE = text(f"UPDATE {SlackEventReceipt.__tablename__} SET team_id = team_id WHERE 1 = 0")


def database_health(engine: SearchEngine) -> tuple[bool, str]:
    """(healthy, "ok" | "unavailable" | "writes failing"): nothing else, so the endpoint tells no one about versions,
    hosts or errors. "unavailable": no answer to a read; "writes failing": reads work, a write does not. Bounded by
    the database timeouts (db/config.py); `HealthCheck` bounds it again, by its own deadline."""
    failure = "unavailable"
    try:
        with engine.sessions() as session:
            session.execute(text("SELECT 1"))
            failure = "writes failing"
            session.execute(WRITE_PROBE)
            session.rollback()
    except SQLAlchemyError as error:
        log.warning("health check: database %s: %s", failure, type(error).__name__)
        return False, failure
    return True, "ok"


HEALTH_FRESH_FOR = 1.0  # seconds a finished check's result answers /healthz, so a flood of probes costs one check


@dataclass
class _Check:
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, str] = (False, "unavailable")


class HealthCheck:
    """/healthz's answer within `deadline` seconds, and at most one database check in flight per process.

    A probe waits for the check in flight (starting one if none is) until that check's deadline, then answers
    (False, "timeout"); a probe arriving after the deadline of a check still running answers at once, so a database
    that hangs costs each probe no more than the deadline and the database no more than one check. A finished check's
    result is reused for `fresh_for` seconds: a flood of probes costs the database one check a second."""

    def __init__(self, check: Callable[[], tuple[bool, str]], deadline: float, fresh_for: float = HEALTH_FRESH_FOR):
        self._check, self.deadline, self.fresh_for = check, deadline, fresh_for
        self._lock = threading.Lock()
        self._running: _Check | None = None
        self._last: tuple[float, tuple[bool, str]] | None = None  # (finished at, result)

    def __call__(self) -> tuple[bool, str]:
        with self._lock:
            now = time.monotonic()
            if self._last and now - self._last[0] < self.fresh_for:
                return self._last[1]
            if self._running is None:
                self._running = _Check(started=now)
                threading.Thread(target=self._run, args=(self._running,), name="talkbot-health", daemon=True).start()
            check = self._running
        if check.done.wait(max(0.0, check.started + self.deadline - time.monotonic())):
            return check.result
        return False, "timeout"

    def _run(self, check: _Check) -> None:
        try:
            check.result = self._check()
        except Exception:  # a bug in the check must not leave it "in flight" for ever
            log.exception("health check failed")
        with self._lock:
            self._last, self._running = (time.monotonic(), check.result), None
        check.done.set()


# --- waitress: deadlines for headers and whole requests ------------------------------------------------------------


class _TimedParser(HTTPRequestParser):
    """waitress's request parser, remembering when the request's first byte arrived."""

    def __init__(self, adj) -> None:
        super().__init__(adj)
        self.started = time.monotonic()


class _TimedChannel(HTTPChannel):
    """A connection, remembering when it opened and whether its client has sent anything yet."""

    parser_class = _TimedParser

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.opened, self.heard_from = time.monotonic(), False

    def received(self, data: bytes) -> bool:
        self.heard_from = self.heard_from or bool(data)
        return super().received(data)


def bounded_server(application: Callable, limits: HttpLimits, **adjustments) -> BaseWSGIServer:
    """A waitress server applying `limits`. waitress's channel_timeout only closes *idle* connections, and every byte
    counts as activity, so a client sending one byte a second would keep its request open forever; each maintenance
    pass (every CLEANUP_INTERVAL s) therefore also closes connections whose headers have not all arrived within
    header_timeout (of the request's first byte, or of the connection's opening for its first request), or whose
    request has not within request_timeout. waitress buffers requests on its I/O thread, so such a client never holds
    a worker thread, only one of connection_limit connections, for a few seconds."""
    dispatchers: dict = {}
    server = create_server(application, map=dispatchers, **adjustments, **limits.waitress_adjustments())
    for listener in [d for d in dispatchers.values() if isinstance(d, BaseWSGIServer)]:
        listener.channel_class = _TimedChannel
        listener.maintenance = _with_request_deadlines(listener, limits)
    return server


def _with_request_deadlines(listener: BaseWSGIServer, limits: HttpLimits) -> Callable[[float], None]:
    idle_maintenance = listener.maintenance

    def maintenance(now: float) -> None:
        idle_maintenance(now)
        clock = time.monotonic()
        for channel in list(listener.active_channels.values()):
            late = None if channel.will_close else _overdue(channel, clock, limits)
            if late:
                log.warning("closing a connection from %s: its %s", channel.addr[0], late)
                channel.will_close = True

    return maintenance


def _overdue(channel: _TimedChannel, now: float, limits: HttpLimits) -> str | None:
    arriving = channel.request  # the request still being received; complete ones are in channel.requests
    if arriving is None:
        if channel.heard_from or channel.requests:
            return None  # between requests: the idle timeout's business
        started, headers_done = channel.opened, False  # a new connection that has sent nothing
    else:
        started, headers_done = getattr(arriving, "started", now), arriving.headers_finished
    if not headers_done and now - started > limits.header_timeout:
        return f"request headers took over {limits.header_timeout:g} s to arrive"
    if now - started > limits.request_timeout:
        return f"request took over {limits.request_timeout:g} s to arrive"
    return None


def serve_http(settings: SlackSettings, engine: SearchEngine, host: str, port: int, threads: int = 16) -> None:
    """Token mode needs the bot token; OAuth mode gets each workspace's from the installation store instead."""
    settings.require("SLACK_SIGNING_SECRET", *(() if settings.uses_oauth else ("SLACK_BOT_TOKEN",)))
    limits = HttpLimits.from_environment().within_file_descriptors()
    app = create_app(settings, engine)
    application = wsgi_app(app, engine, limits, signing_secret=settings.signing_secret)
    engine.warm_up()
    server = bounded_server(application, limits, host=host, port=port, threads=threads, ident="talkbot")
    log.info("talkbot listening on http://%s:%d%s", host, port, EVENTS_PATH)
    log.info(
        "HTTP limits: bodies up to %d bytes, headers arriving within %g s and requests within %g s, idle connections "
        "closed after %d s, %d connections at most, /healthz answering within %g s", limits.max_body_bytes,
        limits.header_timeout, limits.request_timeout, limits.idle_timeout, limits.connection_limit,
        limits.health_timeout,
    )  # fmt: skip
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
