"""Running the Slack app: HTTP mode under waitress (production), or Socket Mode (development)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from waitress import serve

from bot.app import create_app
from bot.config import ConfigError, SlackSettings
from bot.installations import INSTALL_PATH
from db.search.engine import SearchEngine

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def wsgi_app(app: App, engine: SearchEngine) -> Callable:
    """`POST /slack/events` for commands, events and interactivity; `GET /healthz` checks the database."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            healthy, detail = database_health(engine)
            body = json.dumps({"ok": healthy, "database": detail}).encode()
            start_response("200 OK" if healthy else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [body]
        return slack(environ, start_response)

    return application


def database_health(engine: SearchEngine) -> tuple[bool, str]:
    try:
        with engine.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("health check: database unavailable: %s", type(error).__name__)
        return False, "unavailable"
    return True, "ok"


def serve_http(settings: SlackSettings, engine: SearchEngine, host: str, port: int, threads: int = 16) -> None:
    """Token mode needs the bot token; OAuth mode gets each workspace's from the installation store instead."""
    settings.require("SLACK_SIGNING_SECRET", *(() if settings.uses_oauth else ("SLACK_BOT_TOKEN",)))
    application = wsgi_app(create_app(settings, engine), engine)
    engine.warm_up()
    log.info("talkbot listening on http://%s:%d%s", host, port, EVENTS_PATH)
    if settings.uses_oauth:
        log.info("workspaces install talkbot at http://%s:%d%s", host, port, INSTALL_PATH)
    serve(application, host=host, port=port, threads=threads, ident="talkbot")


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
