"""Talk of the week without a topic picks from what the channel is about: its name, topic and purpose, read from
Slack (conversations.info) each time a digest is picked or previewed."""

import json
import re
import uuid

import pytest
from slack_sdk.models.blocks import Block

from bot.devtools.fake_slack import FakeSlack
from bot.devtools.fake_slack.records import DEFAULT_BOT_SCOPES
from bot.digest.channel_subject import ChannelAbout, DigestTopic, channel_subject, digest_topic
from db.config import sessions_for
from db.search.engine import SearchEngine
from db.setup import seed_catalog
from tests.support.slack_server import answers_to, texts
from tests.test_digests import TEAM, add_subscription, handle, runner_for, said, utc


def new_channel() -> str:
    """A channel id of its own: the fake Slack outlives a test (tests/conftest.py)."""
    return "C" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
def engine(migrated_database) -> SearchEngine:
    seed_catalog(migrated_database)
    return SearchEngine(sessions_for(migrated_database))


@pytest.mark.parametrize(
    ("about", "query", "origin"),
    [
        (ChannelAbout("team-kafka"), "kafka", "its name"),
        (ChannelAbout("ask_sre"), "sre", "its name"),
        (ChannelAbout("proj.search-2024"), "search 2024", "its name"),
        (ChannelAbout("random", topic="Anything goes"), "Anything goes", "its topic"),
        (ChannelAbout("eng-platform", purpose="<https://wiki.example.com|Kubernetes> upgrades, by <@U123> :tada:"),
         "platform Kubernetes upgrades, by", "its name and purpose"),
        (ChannelAbout("general"), "", ""),
    ],
)  # fmt: skip
def test_a_channel_subject_comes_from_its_name_without_convention_words_and_its_topic_and_purpose(about, query, origin):
    subject = channel_subject(about, lambda text: " ".join(text.split()))  # the engine's intent_query keeps more

    assert (subject.query, subject.origin) == (query, origin)


def test_a_subscribers_topic_wins_and_slack_is_not_asked():
    def about():
        raise AssertionError("the channel was read although the digest has a topic")

    assert digest_topic("kafka", about, str) == DigestTopic("kafka")
    assert digest_topic("", lambda: None, str) == DigestTopic("", unread=True)


def post_in_channel_named(name: str, engine, fake) -> str:
    """The digest posted in a new channel called `name` whose subscription has no topic, as JSON."""
    channel = new_channel()
    fake.set_channel(channel, name=name)
    fake.set_channel_members(channel, [fake.bot_user_id])
    add_subscription(engine, channel, due=utc(2026, 11, 30, 8))
    assert runner_for(engine, fake).run_due(now=utc(2026, 11, 30, 8, 0, 30)).posted == 1
    [post] = [call.params for call in fake.calls_to("chat.postMessage") if call.params["channel"] == channel]
    return json.dumps(post, ensure_ascii=False)


def test_a_digest_without_a_topic_in_team_kafka_posts_a_kafka_talk_and_says_why(engine, fake):
    post = json.loads(post_in_channel_named("team-kafka", engine, fake))

    kafka_talks = {card.id for card in engine.search("kafka", limit=20).cards}
    assert post["metadata"]["event_payload"]["talk_id"] in kafka_talks
    assert "It matches what this channel is about, going by its name: “kafka”." in json.dumps(post, ensure_ascii=False)


def test_a_channel_whose_subject_matches_no_talk_still_gets_a_talk_and_is_told_so(engine, fake):
    post = post_in_channel_named("team-payments", engine, fake)

    assert "No talk matches what this channel is about (“payments”, going by its name)" in post


def test_a_channel_slack_will_not_describe_gets_any_talk_and_is_told_why(engine):
    without_channels_read = [scope for scope in DEFAULT_BOT_SCOPES if scope != "channels:read"]
    with FakeSlack(team_id=TEAM, bot_scopes=without_channels_read) as slack:
        slack.set_channel("CTEAMKAFKA", name="team-kafka")
        slack.set_channel_members("CTEAMKAFKA", [slack.bot_user_id])
        add_subscription(engine, "CTEAMKAFKA", due=utc(2026, 11, 30, 8))

        assert runner_for(engine, slack).run_due(now=utc(2026, 11, 30, 8, 0, 30)).posted == 1

        [post] = [call.params for call in slack.calls_to("chat.postMessage")]
    assert "I cannot read this channel's name, topic or purpose" in json.dumps(post, ensure_ascii=False)


def test_the_preview_and_status_say_the_subject_comes_from_the_channel(engine):
    kafka = ChannelAbout("team-kafka", purpose="Our event streaming platform")
    handle(engine, "subscribe weekly mon 09:00 Europe/Berlin", now=utc(2026, 11, 23, 12), about=kafka)

    preview, status = handle(engine, "preview", about=kafka), handle(engine, "status", about=kafka)

    for block in preview["blocks"]:
        assert Block.parse(block).to_dict() == block
    heading = preview["blocks"][0]["elements"][0]["text"]
    assert "Preview, only for you" in heading and "on what this channel is about, from its name and purpose" in heading
    assert "/talk digest subscribe weekly kafka" in heading  # how to choose the subject instead
    assert "on what this channel is about, from its name and purpose" in said(status)


def test_subscribing_in_team_kafka_over_slack_says_what_it_will_pick(server, fake, seeded_engine):
    user, channel = "U" + uuid.uuid4().hex[:8].upper(), new_channel()
    fake.set_channel(channel, name="team-kafka", purpose="Kafka clusters &amp; stream processing")
    fake.set_channel_members(channel, [user, fake.bot_user_id])

    _, response_url_id = server.command("digest subscribe weekly mon 09:00 UTC", user=user, channel=channel)
    [confirmation] = answers_to(fake, response_url_id)
    _, response_url_id = server.command("digest preview", user=user, channel=channel)
    [preview] = answers_to(fake, response_url_id)

    assert "on what this channel is about, from its name and purpose: “kafka" in texts(confirmation)
    assert preview["response_type"] == "ephemeral"
    [actions] = [block for block in preview["blocks"] if block["type"] == "actions"]
    subject = re.search(r"from its name and purpose: “([^”]*)”", texts(confirmation)).group(1)
    kafka_talks = {card.id for card in seeded_engine.search(subject, limit=20).cards}
    assert int(actions["block_id"].removeprefix("digest-")) in kafka_talks
