"""Many workspaces, one talkbot (in-process, tests/support; test_real_server.py installs into a real process): two
workspaces install it over OAuth (against the fake Slack) and use it side by side; neither can see or change the
other's saved talks or digests; uninstalling and revoking clean up after themselves, and a reinstall resumes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import uuid

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack, Workspace
from bot.digest.runner import DigestRunner
from bot.installations import REDIRECT_PATH, Installations, bot_clients
from bot.listeners.shortcuts import SEARCH_TALKS
from db.config import engine_for, sessions_for
from db.digests import subscription_for
from db.models import DigestSubscription, SavedTalk
from db.search.engine import SearchEngine
from tests.support.slack_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    SlackSender,
    answers_to,
    button,
    install,
    texts,
    wait_for,
)
from tests.support.talkbot_app import talkbot_in_process

ALPHA, BETA = "TALPHA", "TBETA"
USER = "UALICE"  # the same user id in both workspaces: isolation must come from the workspace, not the id


@pytest.fixture(scope="module")
def fake(seeded_database):
    """One fake Slack per database, so each run starts with no workspace installed."""
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as slack:
        yield slack


@pytest.fixture(scope="module")
def server(seeded_database, fake, encryption_key):
    """talkbot over OAuth, in-process (tests/support); short waits for a locked database, as in production."""
    quick = {"TALKBOT_DB_LOCK_TIMEOUT": "1", "TALKBOT_SQLITE_BUSY_TIMEOUT": "1"}
    with talkbot_in_process(seeded_database, fake, oauth=True, env=quick) as talkbot:
        yield talkbot


@pytest.fixture(scope="module")
def runner(seeded_database, fake, encryption_key) -> DigestRunner:
    """The clock process's digest runner, configured like the server: tokens come from the installation store."""
    settings = SlackSettings(None, None, None, fake.api_url, CLIENT_ID, CLIENT_SECRET, encryption_key=encryption_key)
    engine = SearchEngine(sessions_for(seeded_database))
    return DigestRunner(
        engine.sessions, engine, bot_clients(settings, Installations(settings, engine_for(seeded_database)))
    )


def ask(server: SlackSender, query: str, team: str, channel: str = "CGENERAL") -> dict:
    ack, response_url_id = server.command(query, user=USER, team=team, channel=channel)
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    return answer


def saved_titles(server: SlackSender, team: str) -> str:
    return texts(ask(server, "saved", team))


def subscribe(server: SlackSender, team: str, channel: str) -> None:
    server.fake.set_channel_members(channel, [USER, f"UBOT{team}"])  # talkbot's bot user in that workspace (install)
    assert "is on for this channel" in texts(ask(server, "digest subscribe daily 09:00 UTC kafka", team, channel))


def tokens_used_in(fake: FakeSlack, channel: str) -> set[str]:
    return {call.token for call in fake.calls_to("chat.postMessage") if call.params.get("channel") == channel}


def count(database: str, table, team: str) -> int:
    with sessions_for(database)() as session:
        return session.scalar(select(func.count()).select_from(table).where(table.team_id == team))


def installation_rows(database: str, team: str) -> int:
    with sessions_for(database)() as session:
        return session.scalar(text("SELECT count(*) FROM slack_bots WHERE team_id = :team"), {"team": team})


# Tables that keep something of a workspace after it uninstalled, and why: receipts of Slack's event deliveries name
# no person, guard against redeliveries and expire after hours (db/event_receipts.py).
KEPT_AFTER_UNINSTALL = {"slack_event_receipts"}


def rows_left_of(database: str, team: str) -> dict[str, int]:
    """Every table with a team_id column, and how many of its rows belong to `team`."""
    with sessions_for(database)() as session:
        tables = inspect(session.connection()).get_table_names()
        counts = {
            table: session.scalar(text(f'SELECT count(*) FROM "{table}" WHERE team_id = :team'), {"team": team})
            for table in tables
            if "team_id" in {column["name"] for column in inspect(session.connection()).get_columns(table)}
        }
    return {table: rows for table, rows in counts.items() if rows and table not in KEPT_AFTER_UNINSTALL}


def paused_reason(database: str, team: str) -> str | None:
    with sessions_for(database)() as session:
        return subscription_for(session, team, f"C{team}").paused_reason


def when_due(database: str, team: str, channel: str) -> dt.datetime:
    """A minute after the channel's next digest is due."""
    with sessions_for(database)() as session:
        due = subscription_for(session, team, channel).next_run_at
    return due.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=1)


def test_install_page_leads_to_slack_consent_and_back_to_a_stored_installation(server, fake, seeded_database):
    team = "T" + uuid.uuid4().hex[:8].upper()

    landing = install(server, fake, team)

    assert "Thank you" in landing or "slack://" in landing
    assert installation_rows(seeded_database, team) == 1
    assert "Scaling Kafka" in texts(ask(server, "kafka", team))


def test_an_install_link_reused_without_its_state_is_refused(server, fake, seeded_database):
    team = "T" + uuid.uuid4().hex[:8].upper()
    fake.sign_in(Workspace(team))
    refused = server.get(f"{REDIRECT_PATH}?code=whatever&state=not-one-we-issued")

    assert refused.status in (400, 401, 403)
    assert installation_rows(seeded_database, team) == 0


def test_two_workspaces_use_talkbot_side_by_side_without_seeing_each_other(server, fake, runner, seeded_database):
    install(server, fake, ALPHA, USER)
    install(server, fake, BETA, USER)

    # Saved talks belong to the workspace: the same user id in BETA sees none of ALPHA's.
    results = ask(server, "kafka", ALPHA)
    answers_to(fake, server.click(button(results, "Save"), user=USER, team=ALPHA))
    assert "Scaling Kafka" in saved_titles(server, ALPHA)
    assert "You have not saved any talks yet" in saved_titles(server, BETA)
    # Removing "it" from BETA (a button copied across) changes nothing in ALPHA.
    remove = button(ask(server, "saved", ALPHA), "Saved ✓")
    answers_to(fake, server.click(remove, user=USER, team=BETA))
    assert "Scaling Kafka" in saved_titles(server, ALPHA)

    # Each workspace's digest is posted with that workspace's own bot token.
    subscribe(server, ALPHA, "CALPHA")
    subscribe(server, BETA, "CBETA")
    assert "on “kafka”" in texts(ask(server, "digest", BETA, "CBETA"))
    assert "no Talk of the week" in texts(ask(server, "digest", BETA, "CALPHA"))
    report = runner.run_due(now=when_due(seeded_database, ALPHA, "CALPHA"))
    assert report.posted == 2
    assert tokens_used_in(fake, "CALPHA") == set(fake.tokens_of(ALPHA))
    assert tokens_used_in(fake, "CBETA") == set(fake.tokens_of(BETA))

    # The Home tab is published with the opener's workspace token.
    server.event({"type": "app_home_opened", "user": USER, "channel": "DHOME", "tab": "home"}, team=BETA)
    published = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.token in fake.tokens_of(BETA)])
    assert "Scaling Kafka" not in json.dumps(published[0].params["view"])


def test_uninstalling_deletes_that_workspace_only_and_a_reinstall_starts_afresh(server, fake, runner, seeded_database):
    gone, staying = "TGONE" + uuid.uuid4().hex[:4].upper(), "TSTAY" + uuid.uuid4().hex[:4].upper()
    for team in (gone, staying):
        install(server, fake, team)
        answers_to(fake, server.click(button(ask(server, "kafka", team), "Save"), user=USER, team=team))
        subscribe(server, team, f"C{team}")

    due = when_due(seeded_database, staying, f"C{staying}")
    fake.revoke_tokens(gone)
    assert server.event({"type": "app_uninstalled"}, team=gone).status == 200
    assert server.event({"type": "tokens_revoked", "tokens": {"bot": [f"UBOT{gone}"]}}, team=gone).status == 200

    assert rows_left_of(seeded_database, gone) == {}  # cleaned up before Slack was answered
    for table in (SavedTalk, DigestSubscription):
        assert count(seeded_database, table, gone) == 0
        assert count(seeded_database, table, staying) == 1
    assert installation_rows(seeded_database, gone) == 0 and installation_rows(seeded_database, staying) == 1
    assert "not installed in this workspace" in ask(server, "kafka", gone)["text"]
    fake.clear()
    runner.run_due(now=due)
    assert tokens_used_in(fake, f"C{gone}") == set() and len(tokens_used_in(fake, f"C{staying}")) == 1

    install(server, fake, gone)
    assert "Scaling Kafka" in texts(ask(server, "kafka", gone))
    assert "You have not saved any talks yet" in saved_titles(server, gone)


def test_an_uninstall_the_database_cannot_record_is_refused_so_that_slack_delivers_it_again(
    server, fake, seeded_database
):
    """Slack does not resend an event answered with 200: a clean-up that failed must not be acked."""
    team = "TLOCKED" + uuid.uuid4().hex[:4].upper()
    install(server, fake, team)
    answers_to(fake, server.click(button(ask(server, "kafka", team), "Save"), user=USER, team=team))
    event = {"type": "app_uninstalled"}
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()

    with holding_a_write_lock_on(seeded_database, SavedTalk.__tablename__):
        refused = server.event(event, event_id=event_id, team=team)
    assert refused.status >= 500 and refused.seconds < 3
    assert count(seeded_database, SavedTalk, team) == 1  # nothing half-done

    assert server.event(event, event_id=event_id, team=team, retry=1).status == 200  # Slack's redelivery
    assert rows_left_of(seeded_database, team) == {}


@contextlib.contextmanager
def holding_a_write_lock_on(database: str, table: str):
    """Another client holds a lock that stops writes to `table` (on SQLite, to the whole database) until the block
    ends; the server gives up after its lock or busy timeout (TALKBOT_DB_LOCK_TIMEOUT, TALKBOT_SQLITE_BUSY_TIMEOUT)."""
    holder = create_engine(database)
    with holder.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.begin()
            connection.exec_driver_sql(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        try:
            yield
        finally:
            connection.rollback()
    holder.dispose()


def test_a_revoked_token_pauses_digests_until_the_workspace_installs_again(server, fake, runner, seeded_database):
    team = "TREVOKE" + uuid.uuid4().hex[:4].upper()
    install(server, fake, team)
    subscribe(server, team, f"C{team}")
    old_tokens = set(fake.tokens_of(team))
    due = when_due(seeded_database, team, f"C{team}")

    fake.revoke_tokens(team)
    server.event({"type": "tokens_revoked", "tokens": {"bot": [f"UBOT{team}"]}}, team=team)
    wait_for(lambda: paused_reason(seeded_database, team) == "token_revoked")
    fake.clear()
    runner.run_due(now=due)
    assert tokens_used_in(fake, f"C{team}") == set()

    install(server, fake, team)
    assert paused_reason(seeded_database, team) is None
    runner.run_due(now=when_due(seeded_database, team, f"C{team}"))
    used = tokens_used_in(fake, f"C{team}")
    assert len(used) == 1 and not used & old_tokens


def test_only_members_of_a_channel_change_its_digest(server, fake):
    team = "TMEMBERS" + uuid.uuid4().hex[:4].upper()
    install(server, fake, team)
    fake.set_channel_members("CPRIVATE", ["UOTHER", f"UBOT{team}"])  # talkbot is in, the user asking is not

    answer = ask(server, "digest subscribe weekly mon 09:00 UTC", team, "CPRIVATE")

    assert "Only members of this channel" in texts(answer)
    assert "no Talk of the week" in texts(ask(server, "digest", team, "CPRIVATE"))
    assert "Invite me first" in texts(ask(server, "digest subscribe", team, "CNOTINVITED"))


@pytest.mark.parametrize(
    "value",
    [
        '{"s": null, "t": 999999, "q": ""}',  # a talk that does not exist
        '{"s": {"k": "search", "q": "kafka", "o": 100000, "t": 0}, "t": 1, "q": ""}',  # a page far past the end
        '{"s": null, "t": 1, "q": "", "w": "TBETA"}',  # a workspace of its own choosing
        '{"s": {"k": "saved", "q": "", "o": -5, "t": 0}, "t": 0, "q": ""}',
        "not json at all",
    ],
)
@pytest.mark.parametrize("action_id", ["talk_save", "results_page", "talk_more_like_this", "talk_share"])
def test_forged_button_values_get_a_polite_refusal(server, fake, value, action_id):
    team = "TFORGE"
    if not fake.tokens_of(team):
        install(server, fake, team)

    [answer] = answers_to(fake, server.click({"action_id": action_id, "value": value}, user=USER, team=team))

    assert answer.get("response_type") != "in_channel"
    assert re.search(r"no longer works|past the last|Run `/talk` again", texts(answer)), texts(answer)


def test_the_search_modal_answers_each_workspace_with_its_own_token_and_nothing_after_an_uninstall(server, fake):
    teams = [f"TMODAL{n}{uuid.uuid4().hex[:4].upper()}" for n in (1, 2)]
    for team in teams:
        install(server, fake, team)
        channel = f"C{team}"
        fake.set_channel_members(channel, [USER, f"UBOT{team}"])
        assert server.global_shortcut(SEARCH_TALKS, user=USER, team=team).status == 200
        [opened] = wait_for(
            lambda team=team: [c for c in fake.calls_to("views.open") if c.token in fake.tokens_of(team)]
        )
        view_id = opened.answer["view"]["id"]
        server.submit(view_id, {"words": "kafka"}, user=USER, team=team)
        server.settle()
        view = fake.view(view_id)
        assert view["team_id"] == team and "for `kafka`" in json.dumps(view["blocks"])  # updated with its own token
        share = next(b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("action_id") == "modal_share")
        server.press_in_view(share, view_id, {"share_to": channel}, user=USER, team=team)
        server.settle()
        [posted] = fake.messages_in(channel)
        assert posted["user"] == f"UBOT{team}"  # posted by talkbot's bot user of that workspace

    gone = teams[0]
    fake.revoke_tokens(gone)
    assert server.event({"type": "app_uninstalled"}, team=gone).status == 200
    opened_before = len(fake.calls_to("views.open"))
    assert server.global_shortcut(SEARCH_TALKS, user=USER, team=gone).status == 200  # no token left: nothing to open
    server.settle()
    assert len(fake.calls_to("views.open")) == opened_before
