"""The `talkbot` command line: its commands and options, with nothing heavy imported to describe them."""

from __future__ import annotations

import argparse
import difflib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

# db/importers' format_names(), written out: importing every importer to describe one option cost each command
# ~0.1 s of its start (tests/test_cli.py keeps the two equal).
IMPORT_FORMATS = ("auto", "yaml", "json", "pyvideo", "ics", "frab", "pretalx", "sessionize", "talkbot", "csv")
DEFAULT_PORT = 3000
MAX_LIMIT = 1000
EMBED_AT_IMPORT = 2000  # talks an import embeds by itself: about two minutes on two cores
# Commands that work over the whole catalog with no one waiting in Slack: they get the bulk database timeouts.
BULK_COMMANDS = {"catalog:run_export", "catalog:run_import", "catalog:run_upgrade", "catalog:run_seed",
                 "catalog:run_stats", "catalog:run_embed"}  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse, with a misspelled command answered by the closest one instead of the whole list."""

    def error(self, message: str) -> NoReturn:
        wrong = re.match(r"argument COMMAND: invalid choice: '(.*)' \(choose from (.*)\)$", message)
        if wrong:
            commands = re.findall(r"'([^']*)'", wrong.group(2))
            close = difflib.get_close_matches(wrong.group(1), commands, n=1)
            hint = f": did you mean `{self.prog} {close[0]}`?" if close else ""
            message = f"there is no command '{wrong.group(1)}'{hint} (`{self.prog} --help` lists them)"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """Every command and option; a command's `run` names the module and function that carry it out ("module:function"
    in bot/cli/), imported only when that command runs."""
    parser = _Parser(
        prog="talkbot",
        description="Find the conference talks worth your time. Without a command, talkbot connects to Slack when "
        "Slack tokens are set (as `talkbot serve` would) and otherwise opens the local console (`talkbot console`).",
        epilog="The catalog lives in $DATABASE_URL (default: a SQLite file in your data folder). "
        "`talkbot COMMAND --help` describes a command.",
    )
    parser.set_defaults(run="slack_app:run_default")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    search = commands.add_parser("search", help="search the catalog", description=_query_help())
    search.add_argument("query", nargs="+", help="words and filters, e.g. kafka year:2019..2023")
    search.add_argument(
        "--limit", type=_whole_number(1, MAX_LIMIT), default=5, metavar="N",
        help=f"how many talks to show, 1 to {MAX_LIMIT} (default: 5)",
    )  # fmt: skip
    search.add_argument("--json", action="store_true", help="print a JSON list instead of text (default: text)")
    search.set_defaults(run="search:run_search")

    serve = commands.add_parser("serve", help="run the Slack app (Socket Mode, or HTTP with --http)")
    serve.add_argument(
        "--http", action="store_true", help="serve HTTP (production) instead of Socket Mode (default: Socket Mode)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="HTTP address to listen on (default: 0.0.0.0)")
    serve.add_argument(
        "--port", type=_whole_number(1, 65535), default=default_port(),
        help=f"HTTP port (default: $PORT if set, else {DEFAULT_PORT}; now %(default)s)",
    )  # fmt: skip
    serve.set_defaults(run="slack_app:run_serve")

    console = commands.add_parser("console", help="try the Slack app locally, against a fake Slack")
    console.set_defaults(run="slack_app:run_console")

    clock = commands.add_parser(
        "clock", help="post the Talk of the week digests that are due and the follow alerts, every --every seconds"
    )
    clock.add_argument(
        "--every", type=_whole_number(1, 3600), default=60, metavar="SECONDS",
        help="seconds between passes, 1 to 3600 (default: 60)",
    )  # fmt: skip
    clock.set_defaults(run="slack_app:run_clock")

    digest = commands.add_parser("digest", help="Talk of the week chores").add_subparsers(
        title="commands", metavar="COMMAND"
    )
    digest.required = True
    digest.add_parser("run-due", help="post the digests that are due now, once, and exit").set_defaults(
        run="slack_app:run_digest_pass"
    )
    alerts = commands.add_parser("alerts", help="follow alert chores")
    alerts = alerts.add_subparsers(title="commands", metavar="COMMAND")
    alerts.required = True
    alerts.add_parser(
        "send", help="DM followers about the talks imports added since the last pass, once, and exit"
    ).set_defaults(run="slack_app:run_alert_pass")

    export = commands.add_parser("export", help="write the whole catalog as JSON (readable by `talkbot import`)")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.set_defaults(run="catalog:run_export")

    load = commands.add_parser(
        "import", help="import catalog files (all or nothing per run)",
        description="Read every PATH, check every talk, then write them all in one transaction (or nothing).",
    )  # fmt: skip
    load.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH",
        help="a catalog file: talkbot YAML/JSON (as `talkbot export` writes), CSV, a frab or c3voc schedule "
        "(JSON or XML), pretalx widget JSON, Sessionize JSON or iCalendar (.ics); or a pyvideo data folder or "
        ".tar.gz/.zip archive of one. The format is told from the content unless --format names it",
    )  # fmt: skip
    load.add_argument("--format", default="auto", choices=IMPORT_FORMATS, help="file format (default: auto)")
    load.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    load.add_argument("--prune", action="store_true", help="remove talks their source no longer lists")
    load.add_argument(
        "--embed", action=argparse.BooleanOptionalAction, default=None,
        help=f"compute the new talks' meaning vectors now (default: when at most {EMBED_AT_IMPORT:,} talks need them; "
        "else `talkbot embed` does, and meanwhile they are found by their words)",
    )  # fmt: skip
    load.set_defaults(run="catalog:run_import")

    database = commands.add_parser("db", help="database chores").add_subparsers(title="commands", metavar="COMMAND")
    database.required = True
    database.add_parser("upgrade", help="migrate the database to this version").set_defaults(run="catalog:run_upgrade")

    keys = commands.add_parser("keys", help="the key(s) that encrypt stored Slack tokens").add_subparsers(
        title="commands", metavar="COMMAND"
    )
    keys.required = True
    keys.add_parser("generate", help="print a new encryption key").set_defaults(run="slack_app:run_keys_generate")
    keys.add_parser(
        "rotate", help="re-encrypt every stored token with the first key, so that the keys after it can be removed"
    ).set_defaults(run="slack_app:run_keys_rotate")

    commands.add_parser("seed", help="load the built-in seed catalog (idempotent)").set_defaults(run="catalog:run_seed")
    commands.add_parser(
        "embed", help="compute the meaning vectors of talks that lack them (semantic search); resumable"
    ).set_defaults(run="catalog:run_embed")
    stats = commands.add_parser("stats", help="totals, and the events, years and tags with the most talks")
    stats.add_argument(
        "--top", type=_whole_number(1, MAX_LIMIT), default=10, metavar="N",
        help="how many events, years and tags to list (default: 10)",
    )  # fmt: skip
    stats.set_defaults(run="catalog:run_stats")
    commands.add_parser(
        "link-domains", help="the catalog's most linked domains, for the manifest's features.unfurl_domains"
    ).set_defaults(run="catalog:run_link_domains")
    return parser


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    """An option's value as a whole number in [low, high]; anything else is one line saying what is expected."""

    def whole_number(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, not {text!r}")
        return value

    return whole_number


def default_port() -> int:
    """$PORT when it is a port number (a platform sets it), else DEFAULT_PORT."""
    text = os.environ.get("PORT", "")
    return int(text) if text.isdigit() and 1 <= int(text) <= 65535 else DEFAULT_PORT


def _query_help() -> str:
    return (
        "Search by words, with filters speaker:, event:, year: (or year:2015..2019) and tag:; quote multi-word "
        'values, e.g. speaker:"liz fong-jones". Typos and abbreviations (k8s, o11y, pg) are understood.'
    )
