"""Secrets never reach a log line or a user's screen, even while things go wrong: the signing secret, the OAuth
client secret, every workspace's bot and refresh tokens, the key that encrypts them, and the database password."""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.error
import urllib.request

import pytest
from sqlalchemy.engine import make_url

from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import FORM, slash_command
from bot.digest.runner import DigestRunner
from bot.installations import INSTALL_PATH, REDIRECT_PATH, Installations, bot_clients
from db.config import engine_for, is_sqlite, sessions_for
from db.digests import subscription_for
from db.search.engine import SearchEngine
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher
from tests.support.cli import talkbot
from tests.support.slack_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    answers_to,
    install,
    oauth_server,
    texts,
)

TEAM = "TSECRETS"
DATABASE_PASSWORD = "db-password-not-real-7f3a"
ENCRYPTION_KEY = TokenCipher.generate_key()


def with_password(url: str) -> str:
    """The URL with a password in it; the local PostgreSQL trusts every login, so it still connects."""
    if is_sqlite(url):
        return url
    return make_url(url).set(password=DATABASE_PASSWORD).render_as_string(hide_password=False)


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret and secret in text]


def test_no_secret_reaches_the_logs_or_the_user_while_things_fail(seeded_database, caplog, monkeypatch):
    database = with_password(seeded_database)
    monkeypatch.setenv(ENCRYPTION_KEY_VARIABLE, ENCRYPTION_KEY)  # the server inherits it
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_rotation=True) as fake:
        server = oauth_server(database, fake)
        try:
            install(server, fake, TEAM)
            fake.set_channel_members("CSECRET", ["UALICE", f"UBOT{TEAM}"])
            # Slack refuses talkbot's calls with auth errors while users keep asking.
            fake.fail_next("users.info", "invalid_auth")
            fake.fail_next("views.publish", "token_revoked")
            _, subscribed = server.command("digest subscribe daily 09:00 kafka", channel="CSECRET", team=TEAM)
            server.event({"type": "app_home_opened", "user": "UALICE", "channel": "DHOME", "tab": "home"}, team=TEAM)
            _, searched = server.command("kafka", team=TEAM)
            # Requests that are not Slack's, and an install link replayed without its state.
            forged = slash_command("kafka", user_id="U1", team_id=TEAM, channel_id="C1", response_url="http://x")
            assert server.post(forged, FORM, headers={"X-Slack-Signature": "v0=" + "0" * 64}).status == 401
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(f"{server.url}{REDIRECT_PATH}?code=stolen&state=replayed", timeout=10)
            urllib.request.urlopen(server.url + INSTALL_PATH, timeout=10).close()
            shown = texts(answers_to(fake, subscribed)[0]) + texts(answers_to(fake, searched)[0])
        finally:
            server.stop()
        server_log = server.log.read_text()

        # The clock process, in this process, logging everything: Slack says its token expired, so it trades the
        # refresh token for new ones (slack_sdk logs request and response bodies at DEBUG), then the post fails for
        # a reason talkbot does not know.
        caplog.set_level(logging.DEBUG)
        settings = SlackSettings(
            None, SIGNING_SECRET, None, fake.api_url, CLIENT_ID, CLIENT_SECRET, encryption_key=ENCRYPTION_KEY
        )
        engine = SearchEngine(sessions_for(database))
        used_refresh_tokens = fake.refresh_tokens_of(TEAM)
        fake.fail_next("chat.postMessage", "token_expired")
        fake.fail_next("chat.postMessage", "internal_error")
        with engine.sessions() as session:
            due = subscription_for(session, TEAM, "CSECRET").next_run_at.replace(tzinfo=dt.UTC)
        report = DigestRunner(
            engine.sessions, engine, bot_clients(settings, Installations(settings, engine_for(database)))
        ).run_due(now=due)
        assert report.failed == 1
        tokens = [*fake.tokens_of(TEAM), *used_refresh_tokens, *fake.refresh_tokens_of(TEAM)]
        secrets = [SIGNING_SECRET, CLIENT_SECRET, DATABASE_PASSWORD, ENCRYPTION_KEY, *tokens]
        assert len(fake.tokens_of(TEAM)) == 2 and all(re.fullmatch(r"xox[be][.-]\S+", token) for token in tokens)

    assert "Scaling Kafka" in shown and "ERROR" in server_log  # the failures really happened and were logged
    assert "digest for channel CSECRET failed" in caplog.text and "refreshed the bot token" in caplog.text
    assert secrets_in(server_log, secrets) == []
    assert secrets_in(caplog.text, secrets) == []
    assert secrets_in(shown, secrets) == []


def test_the_cli_names_the_database_without_its_password(seeded_database):
    result = talkbot("stats", database_url=with_password(seeded_database))

    assert result.returncode == 0
    assert DATABASE_PASSWORD not in result.stdout + result.stderr
