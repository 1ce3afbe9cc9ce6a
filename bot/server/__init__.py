"""Running the Slack app: HTTP mode under waitress (production), or Socket Mode (development).

HTTP mode bounds what one client can cost (see `HttpLimits`): a body larger than the cap is refused with 413 before
it is read; a request to /slack/events is checked in this WSGI layer before Bolt sees it (Slack's signature, then
that the body is what Slack sends: 401 or 400, and one line of metadata in the log, never the body); a connection
whose headers, or whole request, do not arrive in time is closed; an idle connection is closed after the idle
timeout; and /healthz answers within its own deadline, whatever the database does."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import create_app
from bot.config import ConfigError
from bot.installations import INSTALL_PATH
from bot.server.limits import HttpLimits, bounded_server
from bot.server.wsgi import EVENTS_PATH, wsgi_app
from bot.services import Services

log = logging.getLogger(__name__)


def serve_http(services: Services, host: str, port: int, threads: int = 16) -> None:
    """Token mode needs the bot token; OAuth mode gets each workspace's from the installation store instead."""
    settings = services.settings
    settings.require("SLACK_SIGNING_SECRET", *(() if settings.uses_oauth else ("SLACK_BOT_TOKEN",)))
    limits = HttpLimits.from_environment().within_file_descriptors()
    app = create_app(services)
    application = wsgi_app(app, services.sessions, limits, signing_secret=settings.signing_secret)
    services.search.warm_up()
    services.search.watch_catalog()  # another process's import is searchable here within seconds
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


def serve_socket_mode(services: Services) -> None:
    settings = services.settings
    if settings.uses_oauth:
        raise ConfigError(
            "installing talkbot in many workspaces (SLACK_CLIENT_ID) needs HTTP mode: `talkbot serve "
            "--http`, reachable by Slack at /slack/events, /slack/install and /slack/oauth_redirect"
        )
    settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    app = create_app(services)
    services.search.warm_up()
    services.search.watch_catalog()  # another process's import is searchable here within seconds
    SocketModeHandler(app, settings.app_token).start()
