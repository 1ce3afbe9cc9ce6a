"""PostgreSQL stops and comes back while talkbot serves.

Everyone who asks during the outage is told to try again (never silence, never a bare 500, always an ack within
Slack's 3 s), the same server process answers normally once the database is back, and no digest is lost or posted
twice. The tests stop the real cluster behind TEST_DATABASE_URL with `pg_ctlcluster`, so they need root on the
machine that runs it; they always start it again (and wait until it accepts connections) before returning, because
the rest of the suite uses the same server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.answers import TRY_AGAIN
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import message_event
from bot.digest.runner import LEASE, DigestRunner
from bot.installations import bot_clients
from bot.server.health import HEALTH_FRESH_FOR
from db.config import sessions_for
from db.digests import subscribe
from db.migrate import upgrade
from db.models import DigestPost
from db.search.engine import SearchEngine
from db.setup import seed_catalog
from tests.conftest import POSTGRES_SKIP, POSTGRES_URL
from tests.support.slack_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    TEAM,
    TalkbotServer,
    answers_to,
    button,
    install,
    oauth_server,
    texts,
    wait_for,
)

# Stops the PostgreSQL cluster everyone on the machine uses: only with --run-outage or TALKBOT_RUN_OUTAGE_TESTS=1
# (`.ci/run` sets it; tests/conftest.py skips them otherwise).
pytestmark = pytest.mark.outage

ACK_BUDGET = 3.0  # Slack gives up on a request it has no ack for after 3 s
LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}
UTC = dt.UTC


class PostgresCluster:
    """The Debian-managed cluster serving TEST_DATABASE_URL, which `pg_ctlcluster` stops and starts."""

    def __init__(self, version: str, name: str, url: str) -> None:
        self.version, self.name = version, name
        parts = make_url(url)
        self.conninfo = {
            "host": parts.host or "127.0.0.1", "port": parts.port or 5432, "user": parts.username,
            "password": parts.password, "dbname": parts.database,
        }  # fmt: skip

    def _ctl(self, *action: str) -> subprocess.CompletedProcess:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, *action]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, new ones refused, as when the database host goes away."""
        done = self._ctl("stop", "--mode", "fast")
        assert done.returncode == 0, f"could not stop PostgreSQL: {done.stderr}"

    def start(self) -> None:
        """Start the cluster (harmless if it runs already) and wait until it accepts connections."""
        started = self._ctl("start")
        deadline = time.monotonic() + 60
        while not self.accepts_connections():
            assert time.monotonic() < deadline, f"PostgreSQL did not come back: {started.stderr}"
            time.sleep(0.1)

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(**self.conninfo, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    @contextmanager
    def down(self) -> Iterator[None]:
        """PostgreSQL is stopped inside the block, and running again after it, however the block ends."""
        try:
            self.stop()
            yield
        finally:
            self.start()


def _cluster_or_reason(url: str) -> PostgresCluster | str:
    """The cluster behind `url`, or why this machine cannot stop and start it."""
    parts = make_url(url)
    if parts.host not in LOCAL_HOSTS:
        return f"PostgreSQL at TEST_DATABASE_URL runs on {parts.host}, not on this machine: cannot stop it"
    if not shutil.which("pg_ctlcluster") or not shutil.which("pg_lsclusters"):
        return "pg_ctlcluster is not installed: cannot stop and start PostgreSQL"
    if os.geteuid() != 0:
        return "stopping PostgreSQL with pg_ctlcluster needs root"
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30).stdout
    for line in listed.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == (parts.port or 5432):
            return PostgresCluster(version, name, url)
    return f"pg_lsclusters lists no cluster on port {parts.port or 5432}"


@pytest.fixture(scope="module")
def postgres() -> PostgresCluster:
    """The cluster to stop; without one, skip, except in CI (TALKBOT_REQUIRE_POSTGRES) where that is a failure."""
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    cluster = _cluster_or_reason(POSTGRES_URL)
    if isinstance(cluster, str):
        if os.environ.get("TALKBOT_REQUIRE_POSTGRES"):
            pytest.fail(f"TALKBOT_REQUIRE_POSTGRES is set but {cluster}")
        pytest.skip(cluster)
    return cluster


@pytest.fixture
def catalog(postgres, empty_postgres_database) -> str:
    upgrade(empty_postgres_database)
    seed_catalog(empty_postgres_database)
    return empty_postgres_database


@pytest.fixture
def fake():
    with FakeSlack(team_id=TEAM) as slack:
        yield slack


@pytest.fixture
def server(catalog, fake):
    talkbot = TalkbotServer(catalog, fake)
    yield talkbot
    talkbot.stop()


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8].upper()


# --- the Slack app ---------------------------------------------------------------------------------------------


def test_every_request_during_an_outage_is_acked_and_answered_and_the_same_server_recovers(server, fake, postgres):
    """Every way in — commands, buttons, DMs, mentions, the Home tab — gets an ack within 3 s and one visible answer
    while PostgreSQL is down; the moment it is back the same process answers normally (pool_pre_ping replaces the
    dead pooled connections), with nothing changed by the requests that failed."""
    user, dm, channel = new_id("U"), new_id("D"), new_id("C")
    fake.set_channel_members(channel, [user, fake.bot_user_id])
    asked: list[str] = []  # the response_url of every command and click, each to be answered exactly once

    def command(text: str, where: str = channel) -> dict:
        ack, response_url_id = server.command(text, user=user, channel=where)
        assert (ack.status, ack.seconds < ACK_BUDGET) == (200, True), text
        asked.append(response_url_id)
        return answers_to(fake, response_url_id)[0]

    def press(label: str, message: dict, **how) -> str:
        ack, response_url_id = server.press(button(message, label), user=user, **how)
        assert (ack.status, ack.seconds < ACK_BUDGET) == (200, True), label
        asked.append(response_url_id)
        return response_url_id

    def event(event: dict) -> None:
        ack = server.event(event)
        assert (ack.status, ack.seconds < ACK_BUDGET) == (200, True), event["type"]

    def home_views() -> list[dict]:
        return [c.params["view"] for c in fake.calls_to("views.publish") if c.params["user_id"] == user]

    open_home = {"type": "app_home_opened", "user": user, "channel": dm, "tab": "home"}
    mention = {**message_event("<@UTALKBOT> kafka", user_id=user, channel_id=channel, channel_type="channel"),
               "type": "app_mention"}  # fmt: skip
    digest_post = {"blocks": [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "👎"}, "action_id": "digest_vote_down",
         "value": json.dumps({"s": None, "t": 1, "q": ""})}]}]}  # fmt: skip
    [results] = answers_to(fake, press("Save", command("kafka")))  # Scaling Kafka saved, the others not
    pages = command("year:2015..2023")
    event(open_home)
    [home] = wait_for(home_views)

    def healthz_says(status: int):  # a finished check answers /healthz for HEALTH_FRESH_FOR s, so allow one reuse
        return wait_for(lambda: server.get("/healthz").status == status, timeout=HEALTH_FRESH_FOR + 2.5)

    with postgres.down():
        healthz_says(503)
        for text in ("kafka", "saved", "digest", "digest preview"):
            assert TRY_AGAIN in texts(command(text)), text
        assert TRY_AGAIN in texts(command("digest subscribe daily 09:00 UTC kafka"))  # Slack answers, the database not
        assert "speaker:" in texts(command("help"))  # help needs no database: answered as usual
        clicks = [press("Save", results), press("Saved ✓", results), press("Share", results),
                  press("More like this", results), press("Next results", pages),
                  press("👎", digest_post, ephemeral=False)]  # fmt: skip
        for response_url_id in clicks:
            [answer] = answers_to(fake, response_url_id)
            assert TRY_AGAIN in texts(answer) and answer.get("response_type") != "in_channel"
        ack, _ = server.press(button({"blocks": home["blocks"]}, "Remove"), user=user, view=home)
        assert (ack.status, ack.seconds < ACK_BUDGET) == (200, True)
        event(message_event("kafka", user_id=user, channel_id=dm))
        event(mention)
        event(open_home)
        [dm_answer] = wait_for(lambda: fake.messages_in(dm))
        [thread_answer] = wait_for(lambda: fake.messages_in(channel))
        assert TRY_AGAIN in texts(dm_answer) and TRY_AGAIN in texts(thread_answer)
        assert thread_answer["thread_ts"] == mention["ts"]
        after_remove, after_opening = wait_for(lambda: len(home_views()) == 3 and home_views()[1:])
        assert TRY_AGAIN in json.dumps(after_remove) and TRY_AGAIN in json.dumps(after_opening)

    assert "Scaling Kafka" in texts(command("kafka"))  # no waiting: the first request after the outage works
    healthz_says(200)
    assert "Your saved talks (1)" in texts(command("saved"))  # the failed Save and Remove changed nothing
    event(message_event("kafka", user_id=user, channel_id=dm))
    assert "Scaling Kafka" in json.dumps(wait_for(lambda: fake.messages_in(dm)[1:])[0]["blocks"])
    event(open_home)
    assert "Your saved talks* (1)" in json.dumps(wait_for(lambda: home_views()[3:])[0])
    assert all(len(answers_to(fake, response_url_id)) == 1 for response_url_id in asked)
    assert len(fake.messages_in(dm)) == 2 and len(fake.messages_in(channel)) == 1  # one answer per question
    assert server.process.poll() is None  # the same process throughout


def test_a_workspace_installed_over_oauth_is_still_answered_during_an_outage(catalog, postgres):
    """With OAuth, Bolt looks up the workspace's installation before any listener runs; during the outage that
    lookup falls back to what the process last read, so people are asked to try again rather than told talkbot
    is not installed (or left with a 500)."""
    team = new_id("T")
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        server = oauth_server(catalog, fake)
        try:
            install(server, fake, team)

            def ask(text: str) -> str:
                ack, response_url_id = server.command(text, team=team)
                assert (ack.status, ack.seconds < ACK_BUDGET) == (200, True), text
                return texts(answers_to(fake, response_url_id)[0])

            assert "Scaling Kafka" in ask("kafka")
            with postgres.down():
                assert TRY_AGAIN in ask("saved")
            assert "Your saved talks (0)" in ask("saved")
        finally:
            server.stop()


# --- Talk of the week ------------------------------------------------------------------------------------------


@pytest.fixture
def engine(catalog) -> SearchEngine:
    return SearchEngine(sessions_for(catalog))


def settings_for(fake: FakeSlack) -> SlackSettings:
    return SlackSettings(bot_token="xoxb-test", signing_secret=None, app_token=None, api_url=fake.api_url)


def subscribe_daily(engine: SearchEngine, channel: str, due: dt.datetime) -> None:
    with engine.sessions.begin() as session:
        subscribe(session, team_id=TEAM, channel_id=channel, subscriber_id="USUB", cadence="daily", weekday=0,
                  minute_of_day=due.hour * 60 + due.minute, timezone="UTC", topic="", next_run_at=due)  # fmt: skip


def posts(engine: SearchEngine, channel: str) -> list[tuple[str, str]]:
    with engine.sessions() as session:
        rows = session.scalars(select(DigestPost).where(DigestPost.channel_id == channel).order_by(DigestPost.due_at))
        return [(post.period, post.state) for post in rows]


def this_minute() -> dt.datetime:
    """Now, to the minute: digest claims and the fake Slack's message timestamps must agree on the time."""
    return dt.datetime.now(UTC).replace(second=0, microsecond=0)


def test_a_digest_due_during_an_outage_is_posted_once_when_the_database_is_back(engine, fake, postgres):
    """The pass that runs while PostgreSQL is down fails (and says so); the first pass after posts the digest; the
    passes after that leave it alone: one post for the day, one 'posted' row."""
    runner = DigestRunner(engine.sessions, engine, bot_clients(settings_for(fake), None))
    today = this_minute()
    subscribe_daily(engine, "CDAILY", due=today - dt.timedelta(days=1))

    assert runner.run_due(now=today - dt.timedelta(days=1)).posted == 1  # yesterday's, before the outage
    with postgres.down():
        during = runner.run_due(now=today)
    after = [runner.run_due(now=today + dt.timedelta(minutes=minutes)) for minutes in (1, 2, 10)]

    assert (during.failed, during.posted) == (1, 0)
    assert [report.posted for report in after] == [1, 0, 0]
    assert len(fake.messages_in("CDAILY")) == 2
    yesterday_period, today_period = (today - dt.timedelta(days=1)).date().isoformat(), today.date().isoformat()
    assert posts(engine, "CDAILY") == [(yesterday_period, "posted"), (today_period, "posted")]


class PostThenLoseTheDatabase(WebClient):
    """Slack accepts the digest, and PostgreSQL goes down before talkbot can record that it did."""

    def __init__(self, postgres: PostgresCluster, **kwargs) -> None:
        super().__init__(**kwargs)
        self.postgres = postgres

    def chat_postMessage(self, **kwargs):
        response = super().chat_postMessage(**kwargs)
        self.postgres.stop()
        return response


def test_a_digest_posted_just_before_the_database_went_down_is_not_posted_again(engine, fake, postgres):
    """The worst moment: posted, not recorded. The claim outlives the outage; once its lease runs out the next pass
    finds the message in the channel's history and records it instead of posting a second one."""
    interrupted = PostThenLoseTheDatabase(postgres, token="xoxb-test", base_url=fake.api_url)
    today = this_minute()
    subscribe_daily(engine, "CCUT", due=today)

    try:
        cut = DigestRunner(engine.sessions, engine, lambda _team, _enterprise: interrupted).run_due(now=today)
    finally:
        postgres.start()
    runner = DigestRunner(engine.sessions, engine, bot_clients(settings_for(fake), None))
    within_lease = runner.run_due(now=today + LEASE / 2)
    after_lease = runner.run_due(now=today + LEASE + dt.timedelta(minutes=1))

    assert (cut.failed, cut.posted) == (1, 0)
    assert (within_lease.waiting, within_lease.posted) == (1, 0)
    assert (after_lease.recovered, after_lease.posted) == (1, 0)
    assert len(fake.messages_in("CCUT")) == 1
    assert posts(engine, "CCUT") == [(today.date().isoformat(), "posted")]
