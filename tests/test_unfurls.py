"""Link unfurls: a message linking to a catalog talk gets the talk's card (link_shared → chat.unfurl), in-process
through talkbot's signed HTTP app, at the strict fake Slack."""

import uuid

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks.base import MAX_TEXT
from db.catalog_import import import_records
from db.config import sessions_for
from db.records import LinkRecord, SpeakerRecord, TalkRecord
from db.talk_links import link_key, talks_by_link

VIDEO = "https://www.youtube.com/watch?v=kafkaTalk01"
SEED_PAGE = "http://velocityconf.com/velocityeu/public/schedule/detail/21653"  # a seed talk's schedule page
FOREIGN = "https://www.youtube.com/watch?v=notInCatalog"


@pytest.fixture(scope="module", autouse=True)
def video_talk(seeded_database):
    talk = TalkRecord(
        source="test", external_id="unfurl-video", title="Unfurling Kafka at scale",
        summary="How a team ran Kafka.", speakers=(SpeakerRecord("Ada Example"),),
        links=(LinkRecord("video", VIDEO),),
    )  # fmt: skip
    with sessions_for(seeded_database).begin() as session:
        import_records(session, [talk])


def channel() -> str:
    return "C" + uuid.uuid4().hex[:8].upper()


def share(server, fake, text, **kwargs):
    event = fake.post_links(channel(), text, user_id="UBOB", **kwargs)
    assert server.event(event).status == 200
    server.settle()
    return event


def assert_valid_card(unfurl: dict, title: str) -> None:
    for block in unfurl["blocks"]:
        Block.parse(block).to_dict()  # raises SlackObjectFormationError for what slack_sdk's models refuse
    assert title in unfurl["blocks"][0]["text"]["text"] and len(unfurl["blocks"][0]["text"]["text"]) <= MAX_TEXT


def test_a_catalog_video_link_is_unfurled_with_its_talk_card(server, fake):
    event = share(server, fake, f"worth watching: <{VIDEO}>")

    [call] = [c for c in fake.calls_to("chat.unfurl") if c.params.get("unfurl_id") == event["unfurl_id"]]
    assert call.error is None and call.params["source"] == "conversations_history"
    unfurls = fake.unfurls_of(event["channel"], event["message_ts"])
    assert list(unfurls) == [VIDEO]
    assert_valid_card(unfurls[VIDEO], "Unfurling Kafka at scale")


def test_a_seed_talks_page_link_is_unfurled_in_another_form(server, fake):
    other_form = SEED_PAGE.replace("http://", "https://www.") + "/"
    event = share(server, fake, f"see <{other_form}>")

    assert "Velocity" in fake.unfurls_of(event["channel"], event["message_ts"])[other_form]["blocks"][0]["text"]["text"]


def test_a_foreign_link_is_left_alone(server, fake):
    fake.clear()
    share(server, fake, f"unrelated <{FOREIGN}> and <https://vimeo.com/123>")

    assert fake.calls_to("chat.unfurl") == []


def test_a_message_with_both_unfurls_only_the_catalog_link(server, fake):
    event = share(server, fake, f"<{FOREIGN}> vs <https://youtu.be/kafkaTalk01>")

    unfurls = fake.unfurls_of(event["channel"], event["message_ts"])
    assert list(unfurls) == ["https://youtu.be/kafkaTalk01"]
    assert not fake.refused("chat.unfurl")


def test_a_link_in_the_composer_is_unfurled_by_unfurl_id(server, fake):
    fake.clear()
    share(server, fake, f"<{VIDEO}>", source="composer")

    [call] = fake.calls_to("chat.unfurl")
    assert call.error is None and call.params["source"] == "composer" and "channel" not in call.params


def test_a_retried_link_shared_event_is_unfurled_once(server, fake):
    fake.clear()
    event, event_id = fake.post_links(channel(), f"<{VIDEO}>", user_id="UBOB"), "Ev" + uuid.uuid4().hex[:10]
    for retry in range(3):
        assert server.event(event, event_id=event_id, retry=retry).status == 200
    server.settle()

    assert len(fake.calls_to("chat.unfurl")) == 1


def test_a_refused_unfurl_is_logged_and_nobody_is_messaged(server, fake):
    fake.clear()
    fake.fail_next("chat.unfurl", "cannot_unfurl_url")
    share(server, fake, f"<{VIDEO}>")

    assert [c.error for c in fake.calls_to("chat.unfurl")] == ["cannot_unfurl_url"]
    assert not fake.calls_to("chat.postMessage") and "link_shared failed" in server.log.read_text()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://www.youtube.com/watch?v=abcdefghijk&t=30", "https://youtu.be/abcdefghijk"),
        ("http://example.com/talks/1/", "https://www.example.com/talks/1#top"),
        ("https://youtube.com/shorts/abcdefghijk", "https://m.youtube.com/watch?v=abcdefghijk"),
    ],
)
def test_forms_of_one_link_are_one(one, other):
    assert link_key(one) == link_key(other) is not None


def test_different_pages_and_non_links_are_not_one():
    assert link_key("https://example.com/talks/1") != link_key("https://example.com/talks/2")
    assert link_key("https://example.com/a?id=1") != link_key("https://example.com/a?id=2")
    assert link_key("mailto:someone@example.com") is None


def test_talks_by_link_finds_stored_forms_and_leaves_others_out(seeded_database):
    with sessions_for(seeded_database)() as session:
        found = talks_by_link(session, ["https://youtu.be/kafkaTalk01", FOREIGN, "not a url"])
    assert [talk.title for talk in found.values()] == ["Unfurling Kafka at scale"] and list(found) == [
        "https://youtu.be/kafkaTalk01"
    ]
