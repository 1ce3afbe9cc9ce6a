"""Run the real `talkbot` command in a subprocess, with a chosen database and home folder: for the tests where the
process boundary is the point (start-up, exit status, another process). tests/support/cli.py runs it in-process."""

import os
import subprocess
import sys
from pathlib import Path

TALKBOT = [sys.executable, "-m", "bot.cli"]


def talkbot(
    *args, database_url=None, home=None, stdin=None, env_extra=None, python_options=()
) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "XDG_DATA_HOME")}
    env = {key: value for key, value in env.items() if not key.startswith("SLACK_")} | (env_extra or {})
    if database_url:
        env["DATABASE_URL"] = database_url
    if home:
        env["HOME"] = str(home)
        env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    return subprocess.run(
        [sys.executable, *python_options, *TALKBOT[1:], *args], capture_output=True, text=True, env=env,
        input=stdin, timeout=120, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
