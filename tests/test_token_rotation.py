"""Slack's token rotation: bot tokens that expire (12 hours) and a refresh token used once to get the next ones.

talkbot refreshes a token before it expires (Bolt's way, 2 hours ahead) and when Slack already calls it expired, for
requests and for the digest clock alike, stores the new tokens encrypted, and never trades one refresh token twice,
even with several processes at once. A workspace whose refresh token Slack refuses is treated as uninstalled."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from slack_bolt import BoltRequest
from slack_sdk import WebClient
from sqlalchemy import text

from bot.app import create_app
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack, SlackCall
from bot.devtools.slack_payloads import FORM, signed_headers, slash_command
from bot.digest.runner import DigestRunner
from bot.installations import Installations, bot_clients
from bot.services import build_services
from db.config import engine_for, sessions_for
from db.digests import subscription_for
from db.search.engine import SearchEngine
from db.token_cipher import TokenCipher
from db.workspaces import NOT_INSTALLED
from tests.support.slack_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    SlackSender,
    answers_to,
    install,
    texts,
)
from tests.support.talkbot_app import talkbot_in_process

USER = "UALICE"
LIFETIME = dt.timedelta(hours=12)  # Slack's
SOON = dt.timedelta(hours=11)  # within the last 2 hours of a token's life: refreshed before use, never yet expired


@pytest.fixture(scope="module")
def fake(seeded_database):
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_rotation=True, token_lifetime=LIFETIME) as s:
        yield s


@pytest.fixture(scope="module")
def server(seeded_database, fake, encryption_key):
    with talkbot_in_process(seeded_database, fake, oauth=True) as talkbot:
        yield talkbot


@pytest.fixture(scope="module")
def settings(fake, encryption_key) -> SlackSettings:
    """The server's settings, for what runs in this process (the clock, a second process, an in-process app)."""
    return SlackSettings(
        None, SIGNING_SECRET, None, fake.api_url, CLIENT_ID, CLIENT_SECRET, encryption_key=encryption_key
    )


@pytest.fixture(scope="module")
def runner(seeded_database, settings) -> DigestRunner:
    engine = SearchEngine(sessions_for(seeded_database))
    return DigestRunner(
        engine.sessions, engine, bot_clients(settings, Installations(settings, engine_for(seeded_database)))
    )


def installed_and_subscribed(server: SlackSender, fake: FakeSlack) -> tuple[str, str]:
    """A new workspace that installed talkbot over OAuth, with a daily digest in one of its channels."""
    team = "TROT" + uuid.uuid4().hex[:6].upper()
    channel = f"C{team}"
    install(server, fake, team, USER)
    fake.set_channel_members(channel, [USER, f"UBOT{team}"])
    assert "is on for this channel" in texts(ask(server, "digest subscribe daily 09:00 UTC kafka", team, channel))
    return team, channel


def ask(server: SlackSender, query: str, team: str, channel: str = "CGENERAL") -> dict:
    ack, response_url_id = server.command(query, user=USER, team=team, channel=channel)
    assert ack.status == 200
    [answer] = answers_to(server.fake, response_url_id)
    return answer


def stored_tokens(database: str, key: str, team: str) -> set[tuple[str, str]]:
    """(bot token, refresh token) as each Slack table holds them, decrypted; checks they are stored encrypted."""
    cipher, found = TokenCipher([key]), set()
    with engine_for(database).connect() as connection:
        for table in ("slack_bots", "slack_installations"):
            rows = connection.execute(
                text(f"SELECT bot_token, bot_refresh_token FROM {table} WHERE team_id = :team"), {"team": team}
            ).all()
            for token, refresh_token in rows:
                assert not token.startswith("xox") and not refresh_token.startswith("xox")
                found.add((cipher.decrypt(token), cipher.decrypt(refresh_token)))
    return found


def refreshes(fake: FakeSlack) -> list[SlackCall]:
    return [call for call in fake.calls_to("oauth.v2.access") if call.params.get("grant_type") == "refresh_token"]


def posts_to(fake: FakeSlack, channel: str) -> list[SlackCall]:
    return [call for call in fake.calls_to("chat.postMessage") if call.params.get("channel") == channel]


def due(database: str, team: str, channel: str) -> dt.datetime:
    with sessions_for(database)() as session:
        next_run = subscription_for(session, team, channel).next_run_at
    return next_run.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=1)


def test_an_expired_token_is_refreshed_for_a_request_and_for_a_digest_and_stored_encrypted(
    server, fake, runner, seeded_database, encryption_key
):
    team, channel = installed_and_subscribed(server, fake)
    [installed] = fake.tokens_of(team)
    assert stored_tokens(seeded_database, encryption_key, team) == {(installed, *fake.refresh_tokens_of(team))}

    fake.expire_tokens(team)
    assert "Scaling Kafka" in texts(ask(server, "kafka", team))

    installed, for_requests = fake.tokens_of(team)
    assert stored_tokens(seeded_database, encryption_key, team) == {(for_requests, *fake.refresh_tokens_of(team))}

    fake.expire_tokens(team)
    report = runner.run_due(now=due(seeded_database, team, channel))

    assert report.posted == 1 and len(fake.messages_in(channel)) == 1
    *_, for_digests = fake.tokens_of(team)
    assert {call.token for call in posts_to(fake, channel) if not call.error} == {for_digests}
    assert stored_tokens(seeded_database, encryption_key, team) == {(for_digests, *fake.refresh_tokens_of(team))}
    assert [call.error for call in refreshes(fake)] == [None] * len(refreshes(fake))


def test_a_token_about_to_expire_is_refreshed_before_a_request_or_a_digest_uses_it(
    server, fake, runner, settings, seeded_database, encryption_key
):
    """Bolt's authorize step (through talkbot's refresher) and the clock refresh 2 hours ahead: Slack never has to
    refuse an expired token. Time is moved on in this process, so the app runs here rather than in the server."""
    team, channel = installed_and_subscribed(server, fake)
    app = create_app(build_services(settings, seeded_database))
    start = dt.datetime.now(dt.UTC)

    with time_machine.travel(start + SOON):
        response_url = fake.response_url()
        body = slash_command("kafka", user_id=USER, team_id=team, channel_id="CGENERAL", response_url=response_url)
        assert (
            app.dispatch(BoltRequest(body=body.decode(), headers=signed_headers(SIGNING_SECRET, body, FORM))).status
            == 200
        )
        [answer] = answers_to(fake, response_url.rsplit("/", 1)[1])
    with time_machine.travel(start + SOON + SOON):
        report = runner.run_due(now=due(seeded_database, team, channel))

    assert "Scaling Kafka" in texts(answer) and report.posted == 1
    installed, for_the_request, for_the_digest = fake.tokens_of(team)
    assert {call.token for call in posts_to(fake, channel)} == {for_the_digest}
    assert not [call for call in fake.calls if call.error == "token_expired" and call.token in fake.tokens_of(team)]
    assert stored_tokens(seeded_database, encryption_key, team) == {(for_the_digest, *fake.refresh_tokens_of(team))}


def test_two_processes_refreshing_one_workspace_at_once_trade_its_refresh_token_once(
    server, fake, settings, seeded_database
):
    """Slack revokes a refresh token once used: the second process must take the first one's new token, not
    trade the old refresh token again (and be refused)."""
    team, channel = installed_and_subscribed(server, fake)
    processes = [Installations(settings, engine_for(seeded_database)) for _ in range(2)]
    clients = [process.bot_client(team, None) for process in processes]
    fake.expire_tokens(team)
    refreshed_before = len(refreshes(fake))
    together = threading.Barrier(len(clients))

    def post(client: WebClient) -> bool:
        together.wait()
        return client.chat_postMessage(channel=channel, text="Talk of the week")["ok"]

    with ThreadPoolExecutor(len(clients)) as pool:
        assert list(pool.map(post, clients)) == [True, True]

    [refresh] = refreshes(fake)[refreshed_before:]
    assert refresh.error is None
    _, renewed = fake.tokens_of(team)
    assert {call.token for call in posts_to(fake, channel) if not call.error} == {renewed}


def test_a_workspace_whose_refresh_token_slack_refuses_pauses_its_digests_until_it_installs_again(
    server, fake, runner, seeded_database
):
    team, channel = installed_and_subscribed(server, fake)
    # Slack no longer takes the stored refresh token: here it was traded elsewhere, as when a refreshed answer is
    # lost on its way back (an uninstall or a revocation looks the same).
    [refresh_token] = fake.refresh_tokens_of(team)
    WebClient(base_url=fake.api_url).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="refresh_token", refresh_token=refresh_token
    )

    with time_machine.travel(dt.datetime.now(dt.UTC) + SOON):
        report = runner.run_due(now=due(seeded_database, team, channel))

    assert report.paused == 1 and fake.messages_in(channel) == []
    assert refreshes(fake)[-1].error == "invalid_refresh_token"
    with sessions_for(seeded_database)() as session:
        assert subscription_for(session, team, channel).paused_reason == NOT_INSTALLED
    install(server, fake, team, USER)
    with sessions_for(seeded_database)() as session:
        assert subscription_for(session, team, channel).paused_reason is None
