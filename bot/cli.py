"""The `talkbot` command: search, import/export and database chores from the terminal."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from sqlalchemy.exc import OperationalError

from bot import server
from bot.answers import is_a_search
from bot.config import ConfigError, SlackSettings
from bot.digest import clock
from bot.digest.runner import DEFAULT_GRACE, DigestRunner
from bot.follows.alerts import FollowAlerts
from bot.installations import bot_clients
from bot.installations.store import reencrypt_stored_tokens
from bot.logs import configure_logging
from bot.services import build_services
from db.cards import TalkCard
from db.catalog import CatalogStats, all_talks, catalog_stats, talk_record
from db.catalog_import import import_records
from db.config import DatabaseSettingError, bulk_timeouts, database_url, engine_for, sessions_for
from db.importers import ImportFileError, format_names, read_catalog_file
from db.importers.talkbot_format import catalog_document
from db.migrate import upgrade
from db.search.embeddings import embed_catalog, pending
from db.search.encoder import Encoder, ModelFileError
from db.search.engine import ResultPage, SearchEngine
from db.search.query import QueryError
from db.setup import CatalogNotReady, display_url, prepare_catalog, seed_catalog
from db.talk_links import common_link_domains
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher, TokenCipherError

DEFAULT_PORT = 3000


class CommandError(Exception):
    """A failure to report as one line, with a non-zero exit."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    url = database_url()
    if args.run in (run_export, run_import, run_upgrade, run_seed, run_stats, run_embed):
        bulk_timeouts()  # statements over the whole catalog, with no one waiting in Slack (db/config.py)
    try:
        status = args.run(args, url)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where Python would print a traceback
        return status
    except BrokenPipeError:
        return _reader_left()
    except (
        QueryError, ImportFileError, CatalogNotReady, CommandError, ConfigError, DatabaseSettingError, TokenCipherError,
    ) as error:  # fmt: skip
        _fail(str(error))
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        _fail(f"cannot use the database at {display_url(url)}: {reason}")
    except KeyboardInterrupt:
        return 130
    return 1


def _reader_left() -> int:
    """Whoever read standard output stopped (`talkbot stats | head`): stop quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit: let that write go nowhere
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return 128 + 13  # as a process ended by SIGPIPE reports itself to the shell


def _fail(message: str) -> None:
    print(f"talkbot: {message}", file=sys.stderr)


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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="talkbot",
        description="Find the conference talks worth your time. Without a command, talkbot connects to Slack when "
        "Slack tokens are set (as `talkbot serve` would) and otherwise opens the local console (`talkbot console`).",
        epilog="The catalog lives in $DATABASE_URL (default: a SQLite file in your data folder). "
        "`talkbot COMMAND --help` describes a command.",
    )
    parser.set_defaults(run=run_default)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    search = commands.add_parser("search", help="search the catalog", description=_query_help())
    search.add_argument("query", nargs="+", help="words and filters, e.g. kafka year:2019..2023")
    search.add_argument(
        "--limit", type=_whole_number(1, MAX_LIMIT), default=5, metavar="N",
        help=f"how many talks to show, 1 to {MAX_LIMIT} (default: 5)",
    )  # fmt: skip
    search.add_argument("--json", action="store_true", help="print a JSON list instead of text (default: text)")
    search.set_defaults(run=run_search)

    serve = commands.add_parser("serve", help="run the Slack app (Socket Mode, or HTTP with --http)")
    serve.add_argument(
        "--http", action="store_true", help="serve HTTP (production) instead of Socket Mode (default: Socket Mode)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="HTTP address to listen on (default: 0.0.0.0)")
    serve.add_argument(
        "--port", type=_whole_number(1, 65535), default=_default_port(),
        help=f"HTTP port (default: $PORT if set, else {DEFAULT_PORT}; now %(default)s)",
    )  # fmt: skip
    serve.set_defaults(run=run_serve)

    commands.add_parser("console", help="try the Slack app locally, against a fake Slack").set_defaults(run=run_console)

    clock = commands.add_parser(
        "clock", help="post the Talk of the week digests that are due and the follow alerts, every --every seconds"
    )
    clock.add_argument(
        "--every", type=_whole_number(1, 3600), default=60, metavar="SECONDS",
        help="seconds between passes, 1 to 3600 (default: 60)",
    )  # fmt: skip
    clock.set_defaults(run=run_clock)

    digest = commands.add_parser("digest", help="Talk of the week chores").add_subparsers(
        title="commands", metavar="COMMAND"
    )
    digest.required = True
    digest.add_parser("run-due", help="post the digests that are due now, once, and exit").set_defaults(
        run=run_digest_pass
    )
    alerts = commands.add_parser("alerts", help="follow alert chores")
    alerts = alerts.add_subparsers(title="commands", metavar="COMMAND")
    alerts.required = True
    alerts.add_parser(
        "send", help="DM followers about the talks imports added since the last pass, once, and exit"
    ).set_defaults(run=run_alert_pass)

    export = commands.add_parser("export", help="write the whole catalog as JSON (readable by `talkbot import`)")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.set_defaults(run=run_export)

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
    load.add_argument("--format", default="auto", choices=format_names(), help="file format (default: auto)")
    load.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    load.add_argument("--prune", action="store_true", help="remove talks their source no longer lists")
    load.add_argument(
        "--embed", action=argparse.BooleanOptionalAction, default=None,
        help=f"compute the new talks' meaning vectors now (default: when at most {EMBED_AT_IMPORT:,} talks need them; "
        "else `talkbot embed` does, and meanwhile they are found by their words)",
    )  # fmt: skip
    load.set_defaults(run=run_import)

    database = commands.add_parser("db", help="database chores").add_subparsers(title="commands", metavar="COMMAND")
    database.required = True
    database.add_parser("upgrade", help="migrate the database to this version").set_defaults(run=run_upgrade)

    keys = commands.add_parser("keys", help="the key(s) that encrypt stored Slack tokens").add_subparsers(
        title="commands", metavar="COMMAND"
    )
    keys.required = True
    keys.add_parser("generate", help="print a new encryption key").set_defaults(run=run_keys_generate)
    keys.add_parser(
        "rotate", help="re-encrypt every stored token with the first key, so that the keys after it can be removed"
    ).set_defaults(run=run_keys_rotate)

    commands.add_parser("seed", help="load the built-in seed catalog (idempotent)").set_defaults(run=run_seed)
    commands.add_parser(
        "embed", help="compute the meaning vectors of talks that lack them (semantic search); resumable"
    ).set_defaults(run=run_embed)
    stats = commands.add_parser("stats", help="totals, and the events, years and tags with the most talks")
    stats.add_argument(
        "--top", type=_whole_number(1, MAX_LIMIT), default=10, metavar="N",
        help="how many events, years and tags to list (default: 10)",
    )  # fmt: skip
    stats.set_defaults(run=run_stats)
    commands.add_parser(
        "link-domains", help="the catalog's most linked domains, for the manifest's features.unfurl_domains"
    ).set_defaults(run=run_link_domains)
    return parser


MAX_LIMIT = 1000


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


def _default_port() -> int:
    """$PORT when it is a port number (a platform sets it), else DEFAULT_PORT."""
    text = os.environ.get("PORT", "")
    return int(text) if text.isdigit() and 1 <= int(text) <= 65535 else DEFAULT_PORT


def _query_help() -> str:
    return (
        "Search by words, with filters speaker:, event:, year: (or year:2015..2019) and tag:; quote multi-word "
        'values, e.g. speaker:"liz fong-jones". Typos and abbreviations (k8s, o11y, pg) are understood.'
    )


def _ready_engine(url: str) -> SearchEngine:
    prepare_catalog(url, announce=_fail)
    return SearchEngine(sessions_for(url))


def run_search(args: argparse.Namespace, url: str) -> int:
    if not is_a_search(" ".join(args.query)):
        raise CommandError("nothing to search for: give words or filters, e.g. `talkbot search kafka year:2019`")
    page = _ready_engine(url).search(" ".join(args.query), limit=args.limit)
    if args.json:
        print(json.dumps([card.to_json() for card in page.cards], indent=2, ensure_ascii=False))
    else:
        print(format_page(" ".join(args.query), page))
    return 0


def run_default(args: argparse.Namespace, url: str) -> int:
    """With Slack tokens, connect to Slack; without them, open the local console."""
    settings = SlackSettings.from_environment()
    if not settings.has_tokens:
        return run_console(args, url)
    args.http = settings.uses_oauth or not settings.app_token
    args.host, args.port = "0.0.0.0", _default_port()
    return run_serve(args, url)


def run_console(args: argparse.Namespace, url: str) -> int:
    from bot.devtools.console import run_console as console  # a development tool: loaded only when asked for

    console(url, _ready_engine(url))
    return 0


def run_serve(args: argparse.Namespace, url: str) -> int:
    settings = SlackSettings.from_environment()
    services = build_services(settings, url, _ready_engine(url))
    configure_logging()  # one line per record, control characters escaped (bot/logs.py)
    if args.http:
        server.serve_http(services, args.host, args.port)
    else:
        server.serve_socket_mode(services)
    return 0


def format_page(query: str, page: ResultPage) -> str:
    """Search results as terminal text: the same talks and order `/talk` shows in Slack."""
    lines = [f"note: {note}" for note in page.notes]
    if not page.cards:
        lines.append(f"No talks match “{query}”.")
        if page.suggestions:
            lines.append("Did you mean: " + ", ".join(page.suggestions) + "?")
        return "\n".join(lines)
    if page.dropped_words:
        lines.append(f"No talk matches every word; ignoring “{' '.join(page.dropped_words)}”.")
    for number, card in enumerate(page.cards, start=page.offset + 1):
        lines.extend(_card_lines(number, card))
    if page.has_more:
        lines.append(f"… {page.total - page.offset - len(page.cards)} more (use --limit to see them)")
    return "\n".join(lines)


def _card_lines(number: int, card: TalkCard) -> list[str]:
    speakers = f" — {', '.join(card.speakers)}" if card.speakers else ""  # none known: no speaker part
    where = card.event_label or "event unknown"
    details = " · ".join(part for part in (where, card.talk_type, ", ".join(card.tags)) if part)
    lines = [f"{number}. {card.title}{speakers}", f"   {details}"]
    if card.summary:
        lines.append(f"   {card.one_line_summary()}")
    if card.url:
        lines.append(f"   {card.url}")
    return lines


def _clock_work(url: str) -> tuple[DigestRunner, FollowAlerts]:
    """What the clock runs: the digest runner and the follow alerts, sharing one search engine and the bot clients."""
    settings = SlackSettings.from_environment()
    if not settings.uses_oauth:
        settings.require("SLACK_BOT_TOKEN")  # before the database is touched: a missing token is the one line shown
    services = build_services(settings, url, _ready_engine(url))
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


def run_export(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=_fail)
    with sessions_for(url)() as session:
        document = catalog_document([talk_record(talk) for talk in all_talks(session)])
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        _fail(f"exported {len(document['talks'])} talks to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def run_import(args: argparse.Namespace, url: str) -> int:
    """Read and validate every file first, then write all of them in one transaction (or none, on any error)."""
    prepare_catalog(url, announce=_fail)
    parsed = [read_catalog_file(path, args.format) for path in args.paths]
    for reading in parsed:
        skipped = "".join(f", {count} skipped ({reason})" for reason, count in reading.skipped.items())
        print(f"{reading.path}: {reading.format} format, {len(reading.records)} talks{skipped}")
    records = [record for reading in parsed for record in reading.records]
    progress = _progress_printer(len(records)) if sys.stderr.isatty() and len(records) >= PROGRESS_FROM else None
    with sessions_for(url)() as session:
        report = import_records(session, records, prune=args.prune, progress=progress)
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    print(("would import" if args.dry_run else "imported") + f" {len(records)} talks: {report}")
    for source, external_id in report.disappeared[:MAX_LISTED]:
        print(f"  {'removed' if report.removed else 'no longer in the source'}: {source} {external_id}")
    for name, other in report.similar_speakers[:MAX_LISTED]:
        print(f"  similar speaker names, not merged: “{name}” and “{other}”")
    hidden = max(0, len(report.disappeared) - MAX_LISTED) + max(0, len(report.similar_speakers) - MAX_LISTED)
    if hidden:
        print(f"  … and {hidden} more")
    if not args.dry_run and args.embed is not False:
        _embed_after_import(url, changed=report.changed, always=bool(args.embed))
    return 0


def _embed_after_import(url: str, changed: bool, always: bool) -> None:
    """Embed what the import added or changed, unless that would take long and was not asked for: then say how."""
    sessions = sessions_for(url)
    with sessions() as session:
        todo = pending(session, missing_only=not changed)  # nothing changed: only talks still without vectors
    if not todo:
        return
    if not always and len(todo) > EMBED_AT_IMPORT:
        minutes = max(1, round(len(todo) / TALKS_EMBEDDED_PER_SECOND / 60))
        print(f"{len(todo):,} talks have no meaning vectors yet (about {minutes} min of work): run `talkbot embed` "
              "to compute them; until then they are found by their words")  # fmt: skip
        return
    print(f"embedding: {embed_catalog(sessions, _bulk_encoder(), _embed_progress(), todo)}")


PROGRESS_FROM = 1000
EMBED_AT_IMPORT = 2000  # talks an import embeds by itself: about two minutes on two cores
TALKS_EMBEDDED_PER_SECOND = 16  # measured on two cores (pyvideo's talks)
MAX_LISTED = 20


def _progress_printer(total: int) -> Callable[[int], None]:
    def show(done: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r  importing {done}/{total} talks ({done * 100 // total}%)", end=end, file=sys.stderr, flush=True)

    return show


def run_keys_generate(args: argparse.Namespace, url: str) -> int:
    print(TokenCipher.generate_key())
    return 0


def run_keys_rotate(args: argparse.Namespace, url: str) -> int:
    """Step two of a key change: every process runs with `new,old` first; this moves every stored token to `new`."""
    cipher = SlackSettings.from_environment().token_cipher()
    prepare_catalog(url, announce=_fail)
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


def run_upgrade(args: argparse.Namespace, url: str) -> int:
    upgrade(url)
    print(f"database at {display_url(url)} is up to date")
    return 0


def run_embed(args: argparse.Namespace, url: str) -> int:
    """Embed every talk whose vector is missing or whose text changed; interrupting keeps what was done."""
    prepare_catalog(url, announce=_fail)
    report = embed_catalog(sessions_for(url), _bulk_encoder(), _embed_progress())
    print(f"embedding: {report}")
    return 0


def _bulk_encoder() -> Encoder:
    try:
        return Encoder(threads=0)  # every core: nobody is waiting on this process
    except ModelFileError as error:
        raise CommandError(f"cannot embed: {error}") from None


def _embed_progress() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        left = (time.monotonic() - started) / done * (total - done)
        end = "\n" if done >= total else ""
        print(f"\r  embedding {done}/{total} talks ({done * 100 // total}%, about {left / 60:.0f} min left)  ",
              end=end, file=sys.stderr, flush=True)  # fmt: skip

    return show


def run_seed(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=_fail)
    print(f"seed catalog: {seed_catalog(url)}")
    return 0


def run_stats(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=_fail)
    with sessions_for(url)() as session:
        stats = catalog_stats(session)
    print(summary_of(stats, args.top))
    return 0


def run_link_domains(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=_fail)
    with sessions_for(url)() as session:
        domains = common_link_domains(session)
    print("The catalog's most linked domains (list up to 5 under features.unfurl_domains in manifest.yml):")
    print("\n".join(f"  {count:>6,}  {domain}" for domain, count in domains) or "  (no talk has a link)")
    return 0


def summary_of(stats: CatalogStats, top: int) -> str:
    """Totals, then the `top` events, years and tags with the most talks (ties in name order)."""
    years = sorted(year for year, _count in stats.by_year)
    span = f" ({years[0]}–{years[-1]})" if len(years) > 1 else f" ({years[0]})" if years else ""
    lines = [
        f"{_count(stats.talks, 'talk')} by {_count(stats.speakers, 'speaker')}, "
        f"at {_count(len(stats.by_event), 'event')} over {_count(len(years), 'year')}{span}, "
        f"with {_count(len(stats.by_tag), 'tag')}"
    ]
    events = [(_event_label(name, year), count) for name, year, count in stats.by_event]
    for heading, rows in (
        ("events", events), ("years", [(str(year), count) for year, count in stats.by_year]), ("tags", stats.by_tag),
    ):  # fmt: skip
        if not rows:
            continue
        shown = sorted(rows, key=lambda row: (-row[1], row[0]))[:top]
        lines += ["", f"Top {heading}" + (f" ({len(shown)} of {len(rows):,}):" if len(rows) > len(shown) else ":")]
        lines += [f"  {count:>6,}  {label}" for label, count in shown]
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _event_label(name: str, year: int | None) -> str:
    return name if year is None or str(year) in name else f"{name} ({year})"


if __name__ == "__main__":
    sys.exit(main())
