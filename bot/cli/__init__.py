"""The `talkbot` command: search, the Slack app, import/export and database chores from the terminal.

Each command lives in the module its parser entry names (bot/cli/parser.py) and is imported only when it runs, so
`talkbot search` loads the search engine, not the Slack app or the migrations."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

from bot.cli.parser import BULK_COMMANDS, build_parser
from db.config import bulk_timeouts, database_url


class CommandError(Exception):
    """A failure to report as one line, with a non-zero exit."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = database_url()
    if args.run in BULK_COMMANDS:
        bulk_timeouts()  # statements over the whole catalog, with no one waiting in Slack (db/config.py)
    try:
        status = _command(args.run)(args, url)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where Python would print a traceback
        return status
    except BrokenPipeError:
        return _reader_left()
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        message = _one_line(error, url)
        if message is None:
            raise
        fail(message)
    return 1


def _command(target: str) -> Callable:
    module, function = target.split(":")
    return getattr(importlib.import_module(f"bot.cli.{module}"), function)


def _one_line(error: Exception, url: str) -> str | None:
    """What to tell the person about an error they can act on (a bad query or file, a catalog not set up, a missing
    setting, an unreachable database); None for a bug, which keeps its traceback. The error types are imported here,
    after the fact, so that no command pays for importing every other command's modules."""
    from sqlalchemy.exc import OperationalError

    from bot.config import ConfigError
    from db.config import DatabaseSettingError
    from db.importers import ImportFileError
    from db.search.query import QueryError
    from db.setup import CatalogNotReady, display_url
    from db.token_cipher import TokenCipherError

    if isinstance(error, OperationalError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"cannot use the database at {display_url(url)}: {reason}"
    user_errors = (
        QueryError, ImportFileError, CatalogNotReady, CommandError, ConfigError, DatabaseSettingError, TokenCipherError,
    )  # fmt: skip
    return str(error) if isinstance(error, user_errors) else None


def _reader_left() -> int:
    """Whoever read standard output stopped (`talkbot stats | head`): stop quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit: let that write go nowhere
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return 128 + 13  # as a process ended by SIGPIPE reports itself to the shell


def fail(message: str) -> None:
    print(f"talkbot: {message}", file=sys.stderr)
