"""The Slack side from the terminal: serve the app, the console, the clock (digests and follow alerts), one pass of
either, and the keys that encrypt stored Slack tokens."""

from __future__ import annotations

import argparse
import datetime as dt
import os

from bot import server
from bot.cli import CommandError, fail
from bot.cli.parser import default_port
from bot.cli.search import ready_engine
from bot.config import SlackSettings
from bot.digest import clock
from bot.digest.runner import DEFAULT_GRACE, DigestRunner
from bot.follows.alerts import FollowAlerts
from bot.installations import bot_clients
from bot.installations.store import reencrypt_stored_tokens
from bot.logs import configure_logging
from bot.services import build_services
from db.config import engine_for
from db.setup import prepare_catalog
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher


def run_default(args: argparse.Namespace, url: str) -> int:
    """With Slack tokens, connect to Slack; without them, open the local console."""
    settings = SlackSettings.from_environment()
    if not settings.has_tokens:
        return run_console(args, url)
    args.http = settings.uses_oauth or not settings.app_token
    args.host, args.port = "0.0.0.0", default_port()
    return run_serve(args, url)


def run_console(args: argparse.Namespace, url: str) -> int:
    from bot.devtools.console import run_console as console  # a development tool: loaded only when asked for

    console(url, ready_engine(url))
    return 0


def run_serve(args: argparse.Namespace, url: str) -> int:
    settings = SlackSettings.from_environment()
    services = build_services(settings, url, ready_engine(url))
    configure_logging()  # one line per record, control characters escaped (bot/logs.py)
    if args.http:
        server.serve_http(services, args.host, args.port)
    else:
        server.serve_socket_mode(services)
    return 0


def _clock_work(url: str) -> tuple[DigestRunner, FollowAlerts]:
    """What the clock runs: the digest runner and the follow alerts, sharing one search engine and the bot clients."""
    settings = SlackSettings.from_environment()
    if not settings.uses_oauth:
        settings.require("SLACK_BOT_TOKEN")  # before the database is touched: a missing token is the one line shown
    services = build_services(settings, url, ready_engine(url))
    clients = bot_clients(settings, services.installations)
    grace_hours = float(os.environ.get("TALKBOT_DIGEST_GRACE_HOURS", DEFAULT_GRACE.total_seconds() / 3600))
    runner = DigestRunner(services.sessions, services.search, clients, grace=dt.timedelta(hours=grace_hours))
    return runner, FollowAlerts(services.sessions, services.search, clients)


def run_clock(args: argparse.Namespace, url: str) -> int:
    runner, alerts = _clock_work(url)  # checks the settings and migrates quietly, before the log lines start
    configure_logging()  # one line per record, control characters escaped (bot/logs.py)
    clock.run_clock(runner, alerts, args.every)
    return 0


def run_digest_pass(args: argparse.Namespace, url: str) -> int:
    print(f"digest pass: {_clock_work(url)[0].run_due()}")
    return 0


def run_alert_pass(args: argparse.Namespace, url: str) -> int:
    print(f"follow alert pass: {_clock_work(url)[1].run_pending()}")
    return 0


def run_keys_generate(args: argparse.Namespace, url: str) -> int:
    print(TokenCipher.generate_key())
    return 0


def run_keys_rotate(args: argparse.Namespace, url: str) -> int:
    """Step two of a key change: every process runs with `new,old` first; this moves every stored token to `new`."""
    cipher = SlackSettings.from_environment().token_cipher()
    prepare_catalog(url, announce=fail)
    report = reencrypt_stored_tokens(engine_for(url), cipher)
    print(f"re-encrypted {report.reencrypted} stored token(s) with the first key ({report.already_current} had it)")
    if report.left_behind:
        raise CommandError(
            f"{report.left_behind} token(s) were rewritten meanwhile by a talkbot process whose first key is an older "
            f"one: restart every process with the new key first in {ENCRYPTION_KEY_VARIABLE}, then run this again"
        )
    if cipher.key_count > 1:
        print(f"every stored token uses the first key now: remove the other key(s) from {ENCRYPTION_KEY_VARIABLE}")
    return 0
