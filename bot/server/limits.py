"""What one HTTP client may cost the server: body, header and request limits, and a waitress server that applies
them (waitress alone only closes idle connections)."""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server

from bot.config import ConfigError

log = logging.getLogger(__name__)

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
