"""The process boundary, once per surface: a real `talkbot serve --http` (waitress, real sockets, its own environment
and log) answers a command, a button, an event, the Home tab, an OAuth install and /healthz. Every other scenario runs
the same app in-process (tests/support/talkbot_app.py)."""

import json
import uuid

import pytest

from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import message_event
from tests.support.slack_server import (
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    answers_to,
    button,
    install,
    oauth_server,
    texts,
    wait_for,
)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8].upper()


def test_a_command_is_acked_in_time_and_answered_and_no_secret_reaches_the_log(real_server):
    ack, response_url_id = real_server.command("kafka")

    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(real_server.fake, response_url_id)
    assert answer["response_type"] == "ephemeral" and "Scaling Kafka" in texts(answer)
    log = real_server.log.read_text()
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log


def test_a_button_is_answered_in_place(real_server):
    user = new_id("U")
    ack, response_url_id = real_server.command("kafka", user=user)
    [results] = answers_to(real_server.fake, response_url_id)

    [updated] = answers_to(real_server.fake, real_server.click(button(results, "Save"), user=user))
    assert updated["replace_original"] is True and "Saved ✓" in texts(updated)


def test_an_event_is_answered_once_however_often_slack_delivers_it(real_server, fake):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    event, event_id = message_event("kafka", user_id="UBOB", channel_id=channel), "Ev" + uuid.uuid4().hex[:10]
    for retry in range(3):
        assert real_server.event(event, event_id=event_id, retry=retry).status == 200

    [message] = wait_for(lambda: fake.messages_in(channel))
    assert "Scaling Kafka" in json.dumps(message["blocks"])
    wait_for(lambda: real_server.log.read_text().count("direct_message: a repeated delivery") >= 2)
    assert len(fake.messages_in(channel)) == 1


def test_opening_the_home_tab_publishes_it(real_server, fake):
    user = new_id("U")
    real_server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})

    [publish] = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user])
    assert publish.params["view"]["type"] == "home"


def test_health_reports_the_database(real_server):
    reply = real_server.get("/healthz")
    assert reply.status == 200 and json.loads(reply.body) == {"ok": True, "database": "ok"}


@pytest.fixture(scope="module")
def oauth_fake(seeded_database):
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as slack:
        yield slack


def test_a_workspace_installs_over_oauth_and_is_answered(seeded_database, oauth_fake, encryption_key):
    server = oauth_server(seeded_database, oauth_fake)
    try:
        team = new_id("T")
        landing = install(server, oauth_fake, team)
        assert "Thank you" in landing or "slack://" in landing

        ack, response_url_id = server.command("kafka", team=team)
        assert ack.status == 200
        assert "Scaling Kafka" in texts(answers_to(oauth_fake, response_url_id)[0])
    finally:
        server.stop()
