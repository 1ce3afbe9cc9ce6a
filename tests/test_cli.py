"""The `talkbot` command as a user runs it: `bot.cli.main` in-process (tests/support/cli.py), the real entry point in a
process where start-up and exit are the point; a real database, one clear line on errors."""

import argparse
import json
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.parser import IMPORT_FORMATS, build_parser
from bot.cli.search import format_page
from db.cards import TalkCard
from db.importers import format_names
from db.search.engine import ResultPage
from tests.support.cli import talkbot
from tests.talkbot_cli import TALKBOT
from tests.talkbot_cli import talkbot as talkbot_process


def test_first_search_on_a_fresh_machine_creates_seeds_and_answers(tmp_path):
    """The real entry point, in a process of its own: start-up, output and exit status as a user sees them."""
    result = talkbot_process("search", "kafka", home=tmp_path)

    expected_file = tmp_path / ".local" / "share" / "talkbot" / "catalog.sqlite3"
    assert result.returncode == 0, result.stderr
    assert f"created the talk catalog at {expected_file}" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. Scaling Kafka — Liz Fong-Jones")
    assert lines[1].startswith("   SREcon23 Americas (2023) · talk")
    assert any(line.startswith("2. Data pipelines for Call of Duty with Kafka") for line in lines)

    again = talkbot("search", "kafka", home=tmp_path)
    assert "created" not in again.stderr and again.stdout == result.stdout


def test_a_search_of_a_ready_catalog_imports_nothing_it_does_not_use(tmp_path):
    """Most of a search's start is imports (docs/benchmarks.md): one on an existing SQLite catalog with the semantic
    layer off pays neither for migrating (Alembic) nor for Slack (slack_sdk), PostgreSQL (psycopg), the importers or
    the model runtime (onnxruntime)."""
    assert talkbot_process("search", "kafka", home=tmp_path).returncode == 0  # creates, migrates and seeds

    result = talkbot_process(
        "search", "kafka", home=tmp_path, env_extra={"TALKBOT_SEMANTIC": "off"}, python_options=("-X", "importtime")
    )

    assert result.returncode == 0 and result.stdout.startswith("1. Scaling Kafka")
    imported = {
        line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "sqlalchemy.orm" in imported and "db.search.engine" in imported  # the probe sees what was imported
    unused = ("alembic", "slack_sdk", "psycopg", "db.importers", "onnxruntime")
    assert sorted(name for name in imported if name.split(".")[0] in unused or name.startswith(unused)) == []


def test_search_json_lists_the_fields_every_surface_needs_best_first(tmp_path):
    result = talkbot("search", "kafka", "--json", "--limit", "3", home=tmp_path)

    talks = json.loads(result.stdout)
    assert len(talks) == 3
    for talk in talks:
        assert {"id", "title", "speakers", "event", "year", "tags", "summary", "url", "score"} <= talk.keys()
    assert [t["score"] for t in talks] == sorted((t["score"] for t in talks), reverse=True)
    assert talks[0]["speakers"] == ["Liz Fong-Jones"] and talks[0]["year"] == 2023


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "room:1"], "There is no `room:` filter"),
        (["search", 'speaker:"liz'], "is not closed"),
        (["import", "missing.yaml"], "missing.yaml: the file does not exist"),
        (["search", ""], "nothing to search for"),
        (["search", "🚀🔥"], "nothing to search for"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(tmp_path, args, message):
    result = talkbot(*args, home=tmp_path)

    assert result.returncode != 0
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.stderr
    assert message in result.stderr.splitlines()[-1]


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    """In a process of its own: nothing else (a warning, a traceback at exit) reaches its standard error."""
    result = talkbot_process("search", "kafka", database_url="postgresql://nobody@127.0.0.1:9/none")

    assert result.returncode == 1
    assert result.stderr.startswith("talkbot: cannot use the database at postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert result.stderr.count("\n") == 1


def test_no_match_says_so_and_suggests_catalog_words(tmp_path):
    result = talkbot("search", "kubrnetis", home=tmp_path)

    assert result.returncode == 0
    assert "No talks match “kubrnetis”." in result.stdout
    assert "Did you mean: kubernetes" in result.stdout


def test_export_then_import_round_trips_without_changes(tmp_path):
    export_file = tmp_path / "catalog.json"
    assert talkbot("export", "--output", str(export_file), home=tmp_path).returncode == 0

    result = talkbot("import", str(export_file), home=tmp_path)
    exported = json.loads(export_file.read_text())
    count = len(exported["talks"])
    assert result.stdout.splitlines() == [
        f"{export_file}: talkbot format, {count} talks",
        f"imported {count} talks: 0 added, 0 updated, {count} unchanged",
    ]


def test_a_bad_file_in_an_import_run_writes_nothing(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("source: mine\ntalks:\n  - {id: a, title: A zanzibarian talk}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: mine\ntalks:\n  - {id: b, title: B, type: panel}\n")

    result = talkbot("import", str(good), str(bad), home=tmp_path)

    assert result.returncode == 1 and "bad.yaml, talk #1 (b), field 'type'" in result.stderr
    assert "No talks match" in talkbot("search", "zanzibarian", home=tmp_path).stdout


def test_without_slack_tokens_the_bare_command_opens_the_console(tmp_path):
    result = talkbot(home=tmp_path, stdin="k8s\nyear:1800\n\n")

    assert result.returncode == 0, result.stderr
    assert "── talkbot in your DM with talkbot" in result.stdout
    assert "From Borg to Kubernetes" in result.stdout
    assert "outside 1900..2100" in result.stdout


def test_the_console_runs_commands_and_buttons_through_the_real_app(tmp_path):
    result = talkbot("console", home=tmp_path, stdin="/talk kafka\n2\n/talk saved\n@talkbot k8s\nhome\n\n")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "── only you can see this" in out and "[1] Share  [2] Save  [3] More like this" in out
    assert "── your private message, updated" in out and "Saved “Scaling Kafka”." in out
    assert "Your saved talks (1)" in out
    assert "── talkbot in a thread in #general" in out and "From Borg to Kubernetes" in out
    assert "── App Home" in out


@pytest.mark.parametrize(
    ("args", "env", "missing"),
    [
        (["serve", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (["serve", "--http"], {"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        (["serve"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
    ],
)
def test_missing_slack_configuration_is_one_line_naming_the_variable(tmp_path, args, env, missing):
    result = talkbot(*args, home=tmp_path, env_extra=env)

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"talkbot: {missing} is not set: copy it from your app's")
    assert "Traceback" not in result.stderr


def test_database_commands_set_up_postgresql_explicitly_and_idempotently(empty_postgres_database):
    empty_database = empty_postgres_database
    before = talkbot("search", "kafka", database_url=empty_database)
    assert before.returncode == 1
    assert "is empty: run `talkbot db upgrade`, then `talkbot seed`" in before.stderr

    for _ in range(2):
        assert talkbot("db", "upgrade", database_url=empty_database).returncode == 0
    first = talkbot("seed", database_url=empty_database)
    second = talkbot("seed", database_url=empty_database)
    assert " added, 0 updated" in first.stdout and first.stdout.startswith("seed catalog: 6")
    assert second.stdout.startswith("seed catalog: 0 added, 0 updated")
    assert talkbot("search", "kafka", database_url=empty_database).stdout.startswith("1. Scaling Kafka")

    stats = talkbot("stats", database_url=empty_database).stdout
    assert stats.startswith("64 talks by 49 speakers") and "SREcon23 Americas" in stats and "databases" in stats


# The front door, in-process: bot.cli.main with a throwaway SQLite catalog.

SCHEMA_FILE = Path("/work/shared/data/schedules/c3voc-schedule.schema.json")


@pytest.fixture
def talkbot_here(tmp_path, monkeypatch, capsys):
    """Run `talkbot ARGS` in this process on a throwaway catalog; returns (exit status, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    for name in [name for name in os.environ if name.startswith("SLACK_")]:
        monkeypatch.delenv(name)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            status = main(list(args))
        except SystemExit as stop:  # argparse's usage errors and --help
            status = stop.code
        out, err = capsys.readouterr()
        return status, out, err

    return run


def _summary(stats_text: str) -> str:
    return stats_text.splitlines()[0]


def test_stats_summarises_totals_and_top_events_years_and_tags(talkbot_here):
    status, out, _ = talkbot_here("stats", "--top", "3")

    assert status == 0
    assert re.fullmatch(r"\d+ talks by \d+ speakers, at \d+ events over \d+ years \(\d{4}–\d{4}\), with \d+ tags",
                        _summary(out))  # fmt: skip
    for heading in ("Top events (3 of", "Top years (3 of", "Top tags (3 of"):
        [line] = [line for line in out.splitlines() if line.startswith(heading)]
        index = out.splitlines().index(line)
        assert len([row for row in out.splitlines()[index + 1 : index + 5] if row.startswith("  ")]) == 3
    assert len(out.splitlines()) == 1 + 3 * (2 + 3)


def test_link_domains_lists_the_catalogs_most_linked_domains_for_unfurls(talkbot_here):
    status, out, _ = talkbot_here("link-domains")

    assert status == 0 and "unfurl_domains" in out
    assert re.search(r"^\s+\d+\s+velocityconf\.com$", out, re.MULTILINE)


def test_stats_lists_ten_of_each_by_default(talkbot_here):
    _, out, _ = talkbot_here("stats")

    assert "Top tags (10 of" in out and len(out.splitlines()) <= 1 + 3 * (2 + 10)


def test_every_option_that_takes_a_value_shows_its_default_in_help():
    parser = build_parser()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and action.nargs != 0 and not isinstance(action, argparse._HelpAction):
                assert "default" in (action.help or ""), f"{current.prog} {action.option_strings[0]}"


def test_serve_port_and_clock_every_show_their_defaults(talkbot_here):
    assert "--port PORT  HTTP port (default: $PORT if set, else 3000" in talkbot_here("serve", "--help")[1]
    assert "(default: 60)" in talkbot_here("clock", "--help")[1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["search", "kafka", "--limit", "abc"], "argument --limit: expected a whole number from 1 to 1000, not 'abc'"),
        (["search", "kafka", "--limit", "0"], "argument --limit: expected a whole number from 1 to 1000, not '0'"),
        (["stats", "--top", "x"], "argument --top: expected a whole number from 1 to 1000, not 'x'"),
        (["clock", "--every", "1m"], "argument --every: expected a whole number from 1 to 3600, not '1m'"),
    ],
)
def test_a_wrong_option_value_says_what_is_expected(talkbot_here, args, expected):
    status, _, err = talkbot_here(*args)

    assert status == 2 and err.splitlines()[-1].endswith(expected)
    assert "invalid" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serach", "kafka"], "talkbot: error: there is no command 'serach': did you mean `talkbot search`? "
                              "(`talkbot --help` lists them)"),
        (["digest", "rundue"], "talkbot digest: error: there is no command 'rundue': did you mean "
                               "`talkbot digest run-due`? (`talkbot digest --help` lists them)"),
        (["frobnicate"], "talkbot: error: there is no command 'frobnicate' (`talkbot --help` lists them)"),
    ],
)  # fmt: skip
def test_a_misspelled_command_is_answered_with_the_closest_one(talkbot_here, args, expected):
    status, _, err = talkbot_here(*args)

    assert status == 2 and err.splitlines()[-1] == expected


def test_import_format_choices_are_the_importers_formats():
    assert list(IMPORT_FORMATS) == format_names()


def test_import_help_describes_path_as_files_or_folders_and_their_formats(talkbot_here):
    text = " ".join(talkbot_here("import", "--help")[1].split())

    assert "PATH a catalog file: talkbot YAML/JSON" in text
    for words in ("CSV", "frab", "pretalx", "Sessionize", "iCalendar", "pyvideo data folder", ".tar.gz"):
        assert words in text


def test_bare_help_says_what_bare_talkbot_does(talkbot_here):
    text = " ".join(talkbot_here("--help")[1].split())

    assert "Without a command, talkbot connects to Slack when Slack tokens are set" in text
    assert "otherwise opens the local console" in text


def test_clock_without_a_token_says_so_before_any_migration_log(talkbot_here, caplog):
    with caplog.at_level(logging.INFO):
        status, out, err = talkbot_here("clock")

    assert status == 1 and out == ""
    assert err.startswith("talkbot: SLACK_BOT_TOKEN is not set") and err.count("\n") == 1
    assert not [record for record in caplog.records if record.name.startswith("alembic")]


def test_importing_a_json_schema_says_it_is_not_a_schedule(talkbot_here, tmp_path):
    schema = tmp_path / "schedule.schema.json"
    schema.write_text(SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else json.dumps({
        "$schema": "http://json-schema.org/draft-06/schema#", "type": "object",
        "properties": {"schedule": {"$ref": "#/definitions/Schedule"}},
        "definitions": {"Schedule": {"properties": {"conference": {"type": "object"}}}},
    }))  # fmt: skip

    status, _, err = talkbot_here("import", str(schema))

    assert status == 1
    assert err.splitlines()[-1] == (
        f"talkbot: {schema}: this is not a schedule/catalog file: it is a JSON Schema, which describes a file format; "
        "import a file that follows the schema instead"
    )


def test_a_json_object_without_a_schedule_given_as_frab_is_not_a_schedule(talkbot_here, tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"name": "not a schedule"}')

    status, _, err = talkbot_here("import", "--format", "frab", str(other))

    assert status == 1 and "this is not a schedule/catalog file: a frab/c3voc schedule is a JSON object" in err


@pytest.mark.parametrize("args", [["stats"], ["search", "year:2010", "--limit", "1000"], ["export"]])
def test_a_closed_pipe_ends_quietly_without_a_traceback(tmp_path, args):
    """`talkbot stats | head`: the reader leaves before the output ends; talkbot stops as Unix tools do, silently."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    assert talkbot("seed", database_url=url).returncode == 0
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLACK_")} | {"DATABASE_URL": url}
    process = subprocess.Popen([*TALKBOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    process.stdout.close()  # the reader is gone before talkbot writes (it starts in about a second), as `| head -0`
    err = process.stderr.read().decode()
    status = process.wait(timeout=60)

    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""
    assert status in (0, 141)


def test_a_result_without_a_known_speaker_shows_no_speaker_part():
    talk = TalkCard(
        id=1, title="Keynote", speakers=[], event="PyCon", year=2019, city=None, talk_type="keynote", tags=[],
        summary="", url=None, video_url=None, recommendation=None, score=1.0, reasons=[],
    )  # fmt: skip

    lines = format_page("keynote", ResultPage(cards=[talk], total=1)).splitlines()

    assert lines[0] == "1. Keynote" and "unknown" not in "\n".join(lines)


def test_a_result_shows_its_length_and_its_language_when_not_the_default_in_text_and_json(monkeypatch):
    monkeypatch.delenv("TALKBOT_DEFAULT_LANGUAGE", raising=False)
    talk = TalkCard(
        id=1, title="Kafka", speakers=[], event="PyCon", year=2019, city=None, talk_type="talk", tags=["kafka"],
        summary="", url=None, video_url=None, recommendation=None, score=1.0, reasons=[], duration_minutes=45,
        language="de",
    )  # fmt: skip

    lines = format_page("kafka", ResultPage(cards=[talk], total=1)).splitlines()

    assert lines[1] == "   PyCon (2019) · talk · 45 min · German · kafka"
    assert (talk.to_json()["duration_minutes"], talk.to_json()["language"]) == (45, "de")
