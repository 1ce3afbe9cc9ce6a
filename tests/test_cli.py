"""The `talkbot` command as a user runs it: `bot.cli.main` in-process (tests/support/cli.py), the real entry point in a
process where start-up and exit are the point; a real database, one clear line on errors."""

import json

import pytest

from tests.support.cli import talkbot
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
    assert "talks by" in stats and "SREcon23 Americas" in stats and "kafka" in stats
