"""The `talkbot` command called in-process (`bot.cli.main(argv)`), as a user runs it: its own environment, standard
input and output, exit status; and what it leaves behind in this process (connection pools, bulk timeouts) undone, as
a process's exit would. tests/talkbot_cli.py runs the real entry point where the process boundary is the point."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
from pathlib import Path

import pytest

import db.config
from bot import cli


def talkbot(
    *args: str, database_url: str | None = None, home: Path | None = None, stdin: str | None = None,
    env_extra: dict | None = None,
) -> subprocess.CompletedProcess:  # fmt: skip
    """`talkbot *args` with the environment tests/talkbot_cli.py gives the real command: no DATABASE_URL, data home or
    Slack settings of the machine's; returns what subprocess.run would (returncode, stdout, stderr)."""
    with pytest.MonkeyPatch.context() as environment:
        for name in [name for name in os.environ if name.startswith("SLACK_")] + ["DATABASE_URL", "XDG_DATA_HOME"]:
            environment.delenv(name, raising=False)
        for name, value in (env_extra or {}).items():
            environment.setenv(name, value)
        if database_url:
            environment.setenv("DATABASE_URL", database_url)
        if home:
            environment.setenv("HOME", str(home))
            environment.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
        environment.setattr(db.config, "_bulk_process", False)  # `bulk_timeouts()` lasts for the process: undo it
        environment.setattr("sys.stdin", io.StringIO(stdin or ""))
        engines_before = set(db.config._engines)
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level  # `serve` and `clock` configure logging for the process
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    returncode = cli.main(list(args))
                except SystemExit as exit:  # argparse's usage errors, --help
                    returncode = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        finally:
            for url in set(db.config._engines) - engines_before:  # the pools a process would close on exit
                db.config.dispose_engine(url)
            root.handlers[:], root.level = handlers, level
    return subprocess.CompletedProcess(["talkbot", *args], returncode, stdout.getvalue(), stderr.getvalue())
