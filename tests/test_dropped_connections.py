"""A connection Slack drops without answering is tried once more: Web API calls (listeners, Bolt's own auth.test,
the digest clock) and answers posted to a response_url. The fake reads the request, records it, acts on nothing and
closes the connection, which is what slack_sdk sees of a network drop."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack, SlackCall
from bot.digest.runner import DigestRunner
from bot.installations import bot_clients
from db.config import sessions_for
from db.digests import subscription_for
from db.search.engine import SearchEngine
from tests.support.slack_server import BOT_TOKEN, TEAM, texts, wait_for


def delivered(fake: FakeSlack, method: str, which=lambda call: True) -> list[SlackCall]:
    return [call for call in fake.calls_to(method) if which(call) and not call.dropped]


def dropped(fake: FakeSlack, method: str, which=lambda call: True) -> list[SlackCall]:
    return [call for call in fake.calls_to(method) if which(call) and call.dropped]


def test_an_answer_whose_response_url_post_was_dropped_is_posted_again(server, fake):
    fake.drop_next_connection("response_url")

    ack, response_url_id = server.command("kafka")

    assert ack.status == 200
    for_this = lambda call: call.response_url_id == response_url_id  # noqa: E731
    [answer] = wait_for(lambda: delivered(fake, "response_url", for_this))
    assert "Scaling Kafka" in texts(answer.params)
    assert len(dropped(fake, "response_url", for_this)) == 1


def test_a_listeners_web_api_call_is_retried_after_a_dropped_connection(server, fake):
    user = "U" + uuid.uuid4().hex[:8].upper()
    fake.drop_next_connection("views.publish")

    server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})

    for_user = lambda call: call.params.get("user_id") == user  # noqa: E731
    [published] = wait_for(lambda: delivered(fake, "views.publish", for_user))
    assert "/talk" in json.dumps(published.params["view"])
    assert len(dropped(fake, "views.publish", for_user)) == 1


def test_a_digest_whose_post_was_dropped_is_posted_once_on_the_retry(server, fake, seeded_database):
    channel = "C" + uuid.uuid4().hex[:8].upper()
    fake.set_channel_members(channel, ["UALICE", fake.bot_user_id])
    ack, _ = server.command("digest subscribe daily 09:00 UTC kafka", channel=channel)
    assert ack.status == 200
    wait_for(lambda: _due(seeded_database, channel))
    settings = SlackSettings(BOT_TOKEN, None, None, fake.api_url)
    engine = SearchEngine(sessions_for(seeded_database))
    fake.drop_next_connection("chat.postMessage")

    report = DigestRunner(engine.sessions, engine, bot_clients(settings, None)).run_due(
        now=_due(seeded_database, channel)
    )

    assert report.posted == 1 and report.failed == 0
    assert len(fake.messages_in(channel)) == 1
    to_channel = lambda call: call.params.get("channel") == channel  # noqa: E731
    assert len(dropped(fake, "chat.postMessage", to_channel)) == 1
    assert len(delivered(fake, "chat.postMessage", to_channel)) == 1


def _due(database: str, channel: str) -> dt.datetime | None:
    """A minute after the channel's digest is due (None until the subscription exists)."""
    with sessions_for(database)() as session:
        subscription = subscription_for(session, TEAM, channel)
    if subscription is None:
        return None
    return subscription.next_run_at.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=1)
