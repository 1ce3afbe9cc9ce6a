"""Slack tokens are encrypted at rest with TALKBOT_ENCRYPTION_KEY: what the database holds is ciphertext, keys can be
rotated without downtime, OAuth mode refuses to start without a key, and migration 0006 encrypts tokens stored before
it (or refuses, changing nothing, when no key is set)."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import inspect, text

from bot.app import create_app
from bot.cli import main
from bot.config import ConfigError, SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.installations import Installations
from bot.services import build_services
from db.config import engine_for
from db.migrate import downgrade, upgrade
from db.schema_version import current_revision, head_revision
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher, UndecryptableToken
from tests.support.slack_server import CLIENT_ID, CLIENT_SECRET, answers_to, install, texts
from tests.support.talkbot_app import talkbot_in_process

BEFORE_ENCRYPTION = "0005_workspaces"
# What slack_sdk stores for one install, each secret column with a value.
PLAIN = {
    "bot_token": "xoxb-1-plain-bot-token",
    "bot_refresh_token": "xoxe-1-plain-refresh-token",
    "user_token": "xoxp-1-plain-user-token",
    "user_refresh_token": "xoxe-1-plain-user-refresh-token",
    "incoming_webhook_url": "https://hooks.slack.com/services/T1/B1/plain-webhook-secret",
}
BOT_COLUMNS = ("bot_token", "bot_refresh_token")


def settings(key: str | None, api_url: str = "http://127.0.0.1:9/api/") -> SlackSettings:
    return SlackSettings(None, "signing-secret", None, api_url, CLIENT_ID, CLIENT_SECRET, encryption_key=key)


def raw_secrets(database: str, table: str, team: str) -> dict:
    """A row's secret columns exactly as the database holds them (not through slack_sdk's store)."""
    columns = PLAIN if table == "slack_installations" else BOT_COLUMNS
    with engine_for(database).connect() as connection:
        row = connection.execute(
            text(f"SELECT {', '.join(columns)} FROM {table} WHERE team_id = :team"), {"team": team}
        ).one()
    return dict(row._mapping)


def store_plain_install(database: str, team: str) -> None:
    """Rows as talkbot wrote them before migration 0006: slack_sdk's layout, tokens in plain text."""
    common = {"client_id": CLIENT_ID, "app_id": "A1", "team_id": team, "is_enterprise_install": False}
    with engine_for(database).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO slack_installations (client_id, app_id, team_id, is_enterprise_install, user_id, "
                f"installed_at, {', '.join(PLAIN)}) VALUES (:client_id, :app_id, :team_id, :is_enterprise_install, "
                f"'UINSTALLER', CURRENT_TIMESTAMP, {', '.join(':' + column for column in PLAIN)})"
            ),
            common | PLAIN,
        )
        connection.execute(
            text(
                "INSERT INTO slack_bots (client_id, app_id, team_id, is_enterprise_install, installed_at, bot_token, "
                "bot_refresh_token) VALUES (:client_id, :app_id, :team_id, :is_enterprise_install, CURRENT_TIMESTAMP, "
                ":bot_token, :bot_refresh_token)"
            ),
            common | PLAIN,
        )


def secret_column_lengths(database: str) -> set[int]:
    inspector = inspect(engine_for(database))
    return {
        column["type"].length
        for table, names in (("slack_installations", PLAIN), ("slack_bots", BOT_COLUMNS))
        for column in inspector.get_columns(table)
        if column["name"] in names
    }


def reads_back(database: str, key: str, team: str) -> dict:
    """The install as slack_sdk's store (talkbot's subclass) returns it, with the given key(s)."""
    installation = Installations(settings(key), engine_for(database)).store.find_installation(
        enterprise_id=None, team_id=team
    )
    return {column: getattr(installation, column) for column in PLAIN}


# --- an install over real OAuth, and a request using its token -------------------------------------------------------


@pytest.fixture(scope="module")
def fake(seeded_database):
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as slack:
        yield slack


@pytest.fixture(scope="module")
def server(seeded_database, fake, encryption_key):
    with talkbot_in_process(seeded_database, fake, oauth=True) as talkbot:
        yield talkbot


def test_an_install_stores_its_bot_token_encrypted_and_requests_use_it(server, fake, seeded_database, encryption_key):
    team = "TENC" + uuid.uuid4().hex[:6].upper()

    install(server, fake, team)

    [issued] = fake.tokens_of(team)
    for table in ("slack_bots", "slack_installations"):
        stored = raw_secrets(seeded_database, table, team)["bot_token"]
        assert issued not in stored and not stored.startswith("xox")
        assert TokenCipher([encryption_key]).decrypt(stored) == issued
    ack, response_url_id = server.command("kafka", team=team)
    assert "Scaling Kafka" in texts(answers_to(fake, response_url_id)[0])
    assert {call.token for call in fake.calls_to("auth.test")} >= {issued}


# --- keys ------------------------------------------------------------------------------------------------------------


def test_keys_generate_prints_a_new_fernet_key_each_time(capsys):
    keys = []
    for _ in range(2):
        assert main(["keys", "generate"]) == 0
        keys.append(capsys.readouterr().out.strip())

    assert keys[0] != keys[1]
    assert Fernet(keys[0]).decrypt(Fernet(keys[0]).encrypt(b"token")) == b"token"


def test_an_old_key_still_decrypts_until_keys_rotate_moves_every_token_to_the_new_one(
    migrated_database, monkeypatch, capsys
):
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    team = "TROTATE"
    Installations(settings(old), engine_for(migrated_database)).store.save(_installation(team, **PLAIN))  # old key

    assert reads_back(migrated_database, f"{new},{old}", team) == PLAIN  # the new key first: old tokens still read

    monkeypatch.setenv("DATABASE_URL", migrated_database)
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, f"{new},{old}")
    assert main(["keys", "rotate"]) == 0
    output = capsys.readouterr().out
    assert "re-encrypted 7 stored token(s) with the first key (0 had it)" in output
    assert f"remove the other key(s) from {ENCRYPTION_KEY_VARIABLE}" in output

    only_new = TokenCipher([new])
    for table in ("slack_installations", "slack_bots"):
        for column, stored in raw_secrets(migrated_database, table, team).items():
            assert only_new.decrypt(stored) == PLAIN[column]
    assert reads_back(migrated_database, new, team) == PLAIN  # the old key can go
    with pytest.raises(UndecryptableToken) as without_the_new_key:
        reads_back(migrated_database, old, team)
    assert ENCRYPTION_KEY_VARIABLE in str(without_the_new_key.value)
    assert not any(value in str(without_the_new_key.value) for value in PLAIN.values())

    assert main(["keys", "rotate"]) == 0  # again: nothing left to move
    assert "re-encrypted 0 stored token(s) with the first key (7 had it)" in capsys.readouterr().out


def test_keys_rotate_without_the_key_a_token_needs_changes_nothing_and_says_why(migrated_database, monkeypatch, capsys):
    first, unrelated = TokenCipher.generate_key(), TokenCipher.generate_key()
    Installations(settings(first), engine_for(migrated_database)).store.save(_installation("TLOST", **PLAIN))
    before = raw_secrets(migrated_database, "slack_bots", "TLOST")

    monkeypatch.setenv("DATABASE_URL", migrated_database)
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, unrelated)
    assert main(["keys", "rotate"]) == 1

    error = capsys.readouterr().err
    assert f"cannot be decrypted with any key in {ENCRYPTION_KEY_VARIABLE}" in error
    assert not any(value in error for value in (*PLAIN.values(), first, unrelated))
    assert raw_secrets(migrated_database, "slack_bots", "TLOST") == before


# --- start-up --------------------------------------------------------------------------------------------------------


def test_oauth_mode_without_a_key_refuses_to_start_and_says_how_to_make_one(migrated_database, monkeypatch, capsys):
    with pytest.raises(ConfigError) as refused:
        create_app(build_services(settings(None), migrated_database))
    assert str(refused.value).startswith(f"{ENCRYPTION_KEY_VARIABLE} is not set")
    assert "talkbot keys generate" in str(refused.value)

    # The clock process too, as an operator sees it: one line, exit status 1.
    for name, value in {
        "DATABASE_URL": migrated_database,
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": "s",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(ENCRYPTION_KEY_VARIABLE, raising=False)
    assert main(["digest", "run-due"]) == 1
    assert f"talkbot: {ENCRYPTION_KEY_VARIABLE} is not set" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["not-a-key", f"{Fernet.generate_key().decode()},short"])
def test_a_malformed_key_is_named_without_echoing_it(migrated_database, value):
    with pytest.raises(ConfigError) as refused:
        Installations(settings(value), engine_for(migrated_database))

    assert f"{ENCRYPTION_KEY_VARIABLE}:" in str(refused.value) and "is not a Fernet key" in str(refused.value)
    assert not any(part in str(refused.value) for part in value.split(","))


# --- migration 0006 --------------------------------------------------------------------------------------------------


def test_upgrade_encrypts_tokens_stored_in_plain_text_and_downgrade_restores_them(empty_database, monkeypatch):
    upgrade(empty_database, BEFORE_ENCRYPTION)
    store_plain_install(empty_database, "TOLD")
    key = TokenCipher.generate_key()
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, key)

    upgrade(empty_database)

    assert secret_column_lengths(empty_database) == {500}
    for table in ("slack_installations", "slack_bots"):
        for column, stored in raw_secrets(empty_database, table, "TOLD").items():
            assert stored != PLAIN[column] and TokenCipher([key]).decrypt(stored) == PLAIN[column]
    assert reads_back(empty_database, key, "TOLD") == PLAIN

    downgrade(empty_database, BEFORE_ENCRYPTION)

    assert secret_column_lengths(empty_database) == {200}
    assert raw_secrets(empty_database, "slack_installations", "TOLD") == PLAIN


def test_upgrade_with_plain_tokens_and_no_key_changes_nothing_and_names_the_variable(
    empty_database, monkeypatch, capsys
):
    upgrade(empty_database, BEFORE_ENCRYPTION)
    store_plain_install(empty_database, "TOLD")
    monkeypatch.setenv("DATABASE_URL", empty_database)
    monkeypatch.delenv(ENCRYPTION_KEY_VARIABLE, raising=False)

    assert main(["db", "upgrade"]) == 1

    error = capsys.readouterr().err
    assert f"set {ENCRYPTION_KEY_VARIABLE} first" in error and "talkbot keys generate" in error
    assert "Nothing was changed" in error
    assert current_revision(empty_database) == BEFORE_ENCRYPTION
    assert secret_column_lengths(empty_database) == {200}
    assert raw_secrets(empty_database, "slack_installations", "TOLD") == PLAIN

    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, TokenCipher.generate_key())  # what the message says to do
    assert main(["db", "upgrade"]) == 0
    assert current_revision(empty_database) == head_revision()


def _installation(team: str, **tokens) -> Installation:
    return Installation(app_id="A1", team_id=team, user_id="UINSTALLER", bot_id="B1", bot_user_id="UBOT", **tokens)
