"""Scenarios: signed requests to talkbot's HTTP app (in-process, tests/support), answers observed at a fake Slack."""

import json
import time
import uuid

import pytest
from sqlalchemy import select

from bot.blocks.base import MAX_BLOCKS, MAX_TEXT
from bot.devtools.slack_payloads import FORM, message_event, signed_headers, slash_command
from db.catalog_import import import_records
from db.config import sessions_for
from db.digests import channel_votes
from db.models import SavedTalk
from db.records import LinkRecord, SpeakerRecord, TalkRecord
from tests.support.slack_server import BOT_TOKEN, TEAM, answers_to, button, buttons, texts, wait_for
from tests.support.talkbot_app import talkbot_in_process


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:8].upper()


def ask(server, text, user="UALICE") -> dict:
    ack, response_url_id = server.command(text, user=user)
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    return answer


def test_slash_command_answers_privately_with_the_best_five_and_their_buttons(server):
    answer = ask(server, "kafka")

    assert answer["response_type"] == "ephemeral"
    sections = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    assert sections[0].startswith("*Scaling Kafka*\nLiz Fong-Jones · SREcon23 Americas (2023)")
    assert "Call of Duty" in sections[1]
    assert len(sections) <= 5
    assert [b["text"]["text"] for b in buttons(answer)][:3] == ["Share", "Save", "More like this"]


@pytest.mark.parametrize("text", ["", "help"])
def test_talk_alone_or_help_shows_a_usage_card_with_every_filter(server, text):
    answer = ask(server, text)
    for example in ("speaker:", "event:", "year:", "tag:", "/talk saved"):
        assert example in texts(answer)


def test_no_match_says_so_suggests_words_and_offers_talks_to_start_from(server):
    answer = ask(server, "kubrnetis")

    assert "No talks match `kubrnetis`" in texts(answer)
    suggestion = button(answer, "kubernetes")
    assert len([b for b in buttons(answer) if b["text"]["text"] == "More like this"]) == 3

    [searched] = answers_to(server.fake, server.click(suggestion))
    assert searched["replace_original"] is True and "From Borg to Kubernetes" in texts(searched)


def test_save_marks_the_talk_in_place_and_saved_lists_it_until_removed(server, seeded_database):
    user = new_user()
    results = ask(server, "kafka", user=user)

    [updated] = answers_to(server.fake, server.click(button(results, "Save"), user=user))
    assert updated["replace_original"] is True
    assert [b["text"]["text"] for b in buttons(updated)][:3] == ["Share", "Saved ✓", "More like this"]
    with sessions_for(seeded_database)() as session:
        assert session.scalars(select(SavedTalk.user_id).where(SavedTalk.user_id == user)).all() == [user]

    saved = ask(server, "saved", user=user)
    assert "Your saved talks (1)" in texts(saved) and "Scaling Kafka" in texts(saved)
    [after] = answers_to(server.fake, server.click(button(saved, "Saved ✓"), user=user))
    assert "Your saved talks (0)" in texts(after)


def test_share_posts_the_talk_for_everyone_crediting_the_sharer_and_updates_the_private_list(server):
    user = new_user()
    results = ask(server, "kafka", user=user)

    public, private = answers_to(server.fake, server.click(button(results, "Share"), user=user), count=2)
    assert public["response_type"] == "in_channel" and public["replace_original"] is False
    assert f"<@{user}> shared a talk" in texts(public) and "Scaling Kafka" in texts(public)
    assert "Share" not in [b["text"]["text"] for b in buttons(public)]
    assert private["replace_original"] is True and "Shared “Scaling Kafka” with the channel." in texts(private)


def test_more_like_this_replaces_the_list_and_offers_the_way_back(server):
    results = ask(server, "kafka")

    [similar] = answers_to(server.fake, server.click(button(results, "More like this")))
    assert similar["replace_original"] is True
    assert "Talks like *Scaling Kafka*" in texts(similar)
    [back] = answers_to(server.fake, server.click(button(similar, "Back to results")))
    assert "4 talks for `kafka`" in texts(back)


def test_next_results_pages_in_place(server):
    first = ask(server, "year:2015..2023")
    assert "Talks 1–5 of" in texts(first)

    [second] = answers_to(server.fake, server.click(button(first, "Next results")))
    assert second["replace_original"] is True and "Talks 6–10 of" in texts(second)
    assert button(second, "Previous")


def test_a_direct_message_is_answered_in_the_dm(server, fake):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    assert server.event(message_event("k8s", user_id="UBOB", channel_id=channel)).status == 200

    fake.wait_for("chat.postMessage")
    [message] = _wait_messages(fake, channel)
    assert "From Borg to Kubernetes" in json.dumps(message["blocks"])
    assert "Share" not in json.dumps(message["blocks"])


def test_help_works_in_a_dm(server, fake):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    server.event(message_event("help", user_id="UBOB", channel_id=channel))
    [message] = _wait_messages(fake, channel)
    assert "speaker:" in json.dumps(message["blocks"])


def test_a_mention_is_answered_in_a_thread(server, fake):
    channel = "C" + uuid.uuid4().hex[:8].upper()
    event = {**message_event("<@UTALKBOT> kafka", user_id="UBOB", channel_id=channel, channel_type="channel"),
             "type": "app_mention"}  # fmt: skip
    server.event(event)

    [message] = _wait_messages(fake, channel)
    assert message["thread_ts"] == event["ts"]
    assert "Scaling Kafka" in json.dumps(message["blocks"])


def test_a_retried_event_is_answered_once(server, fake):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    event, event_id = message_event("kafka", user_id="UBOB", channel_id=channel), "Ev" + uuid.uuid4().hex[:10]
    for retry in range(4):
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        assert server.event(event, event_id=event_id, headers=headers).status == 200

    _wait_messages(fake, channel)
    server.settle()  # all four deliveries fully handled: the three retries were passed over, nothing more to come
    assert len(fake.messages_in(channel)) == 1


def test_bot_posts_edits_and_deletions_are_ignored(server, fake):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    ignored = [
        message_event("kafka", user_id="UOTHERBOT", channel_id=channel, bot_id="BOTHER"),
        message_event("kafka", user_id="UTALKBOT", channel_id=channel, bot_id="BTALKBOT"),
        message_event("kafka", user_id="UBOB", channel_id=channel, subtype="message_changed"),
        message_event("kafka", user_id="UBOB", channel_id=channel, subtype="message_deleted"),
    ]
    for event in ignored:
        assert server.event(event).status == 200
    server.event(message_event("k8s", user_id="UBOB", channel_id=channel))  # answered: marks the end

    [answer] = _wait_messages(fake, channel)
    server.settle()  # every event fully handled
    assert len(fake.messages_in(channel)) == 1 and "Kubernetes" in json.dumps(answer["blocks"])


def test_opening_app_home_publishes_the_home_tab_with_saved_talks(server, fake):
    user = new_user()
    results = ask(server, "kafka", user=user)
    answers_to(server.fake, server.click(button(results, "Save"), user=user))

    server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})
    publish = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user])
    view = publish[0].params["view"]
    assert (
        view["type"] == "home" and "Your saved talks* (1)" in json.dumps(view) and "Scaling Kafka" in json.dumps(view)
    )

    server.click(button({"blocks": view["blocks"]}, "Remove"), user=user, view=view)
    republished = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user][1:])
    assert "Your saved talks* (0)" in json.dumps(republished[0].params["view"])


@pytest.mark.parametrize(
    "text",
    ["x" * 5000, "🔥🚀 kafka ✨", "<!channel> <!here> <@U123> kafka", "'; DROP TABLE talks; --",
     "kafka\x00\x07\x1b[31m", 'speaker:"unclosed', "year:3000"],
)  # fmt: skip
def test_any_query_gets_a_polite_answer_within_the_ack_budget(server, text):
    answer = ask(server, text)

    assert answer["blocks"] and answer["text"]
    assert "Traceback" not in texts(answer) and "dispatch_failed" not in texts(answer)
    assert "<!channel>" not in texts(answer) and "<!here>" not in texts(answer)
    _assert_within_limits(answer)


def test_a_forged_button_gets_a_polite_refusal(server):
    for value in ["not json", json.dumps({"s": None, "t": 999_999_999}), json.dumps({"s": {"k": "drop"}, "t": 1})]:
        [refusal] = answers_to(server.fake, server.click({"action_id": "talk_save", "value": value}))
        assert refusal["replace_original"] is False
        assert "no longer works" in texts(refusal)


@pytest.mark.parametrize("problem", ["unsigned", "bad signature", "stale"])
def test_requests_not_signed_by_slack_are_refused_with_401(server, problem):
    body = slash_command(
        "kafka", user_id="UEVE", team_id=TEAM, channel_id="C1", response_url=server.fake.response_url()
    )
    headers = {
        "unsigned": {"Content-Type": FORM},
        "bad signature": signed_headers("not-the-secret", body, FORM),
        "stale": signed_headers("test-signing-secret", body, FORM, timestamp=int(time.time()) - 6 * 60),
    }[problem]

    assert server.request("POST", "/slack/events", body, headers).status == 401


def test_health_check_reports_the_database(server):
    reply = server.get("/healthz")
    assert reply.status == 200 and json.loads(reply.body) == {"ok": True, "database": "ok"}


def test_a_rate_limited_reply_is_retried_after_retry_after(server, fake):
    channel = "D" + uuid.uuid4().hex[:8].upper()
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    server.event(message_event("kafka", user_id="UBOB", channel_id=channel))

    [message] = _wait_messages(fake, channel)
    assert "Scaling Kafka" in json.dumps(message["blocks"])


def test_secrets_never_reach_the_log(server):
    ask(server, "kafka")
    log = server.log.read_text()
    assert BOT_TOKEN not in log and "test-signing-secret" not in log


def _assert_within_limits(message: dict) -> None:
    assert len(message["blocks"]) <= MAX_BLOCKS
    for block in message["blocks"]:
        for text in [block.get("text", {}).get("text", "")] + [e.get("text", "") for e in block.get("elements", [])]:
            assert len(text if isinstance(text, str) else text["text"]) <= MAX_TEXT


def _wait_messages(fake, channel):
    return wait_for(lambda: fake.messages_in(channel))


def test_two_replicas_receiving_the_same_event_answer_it_once(server, seeded_database, fake):
    """Each replica with its own app and connection pool, as two processes would have."""
    with talkbot_in_process(seeded_database, fake) as replica:
        channel = "D" + uuid.uuid4().hex[:8].upper()
        event, event_id = message_event("kafka", user_id="UBOB", channel_id=channel), "Ev" + uuid.uuid4().hex[:10]
        for talkbot in (server, replica, server, replica):
            assert talkbot.event(event, event_id=event_id).status == 200
        _wait_messages(fake, channel)
        server.settle(), replica.settle()  # all four deliveries fully handled: nothing more to come
        assert len(fake.messages_in(channel)) == 1


def test_long_hostile_catalog_text_is_escaped_and_kept_within_limits(server, seeded_database):
    hostile = TalkRecord(
        source="test",
        external_id="hostile",
        title=("<!channel> zebracorn & <@U0001> " + "long title " * 50)[:500],  # the catalog keeps 500
        summary="<https://evil.example|click here> " + "zebracorn words " * 500,
        speakers=tuple(SpeakerRecord(f"Speaker <!here> {n}") for n in range(40)),
        links=(LinkRecord("video", "https://example.org/v?a=1&b=<2>"),),
    )
    with sessions_for(seeded_database).begin() as session:
        import_records(session, [hostile])

    # The index is rebuilt in the background (tests/test_index_lifecycle.py): ask until the talk is found.
    answer = wait_for(lambda: next((a for a in [ask(server, "zebracorn")] if "long title" in texts(a)), None))

    assert "zebracorn" in texts(answer)
    for forbidden in ("<!channel>", "<!here>", "<@U0001>", "<https://evil.example"):
        assert forbidden not in texts(answer)
    _assert_within_limits(answer)


def test_digest_subscribe_uses_the_subscribers_slack_timezone_and_shows_in_app_home(server, fake):
    user, channel = new_user(), "C" + uuid.uuid4().hex[:8].upper()
    fake.set_user(user, tz="Asia/Tokyo")
    fake.set_channel_members(channel, [user, fake.bot_user_id])

    ack, response_url_id = server.command("digest subscribe weekly fri 10:30 kafka", user=user, channel=channel)
    [confirmation] = answers_to(fake, response_url_id)
    assert "every Friday at 10:30 (Asia/Tokyo) on “kafka”" in texts(confirmation)

    ack, response_url_id = server.command("digest", user=user, channel=channel)
    [status] = answers_to(fake, response_url_id)
    assert "Next post: Fri" in texts(status) and "JST" in texts(status)

    server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})
    [home] = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user])
    assert f"<#{channel}>: every Friday at 10:30 (Asia/Tokyo) on “kafka”" in json.dumps(home.params["view"],
                                                                                       ensure_ascii=False)  # fmt: skip


def test_a_vote_on_a_digest_post_is_stored_for_that_channel(server, seeded_database):
    talk_button = {"action_id": "digest_vote_down", "value": json.dumps({"s": None, "t": 1, "q": ""})}
    voter = new_user()

    [thanks] = answers_to(server.fake, server.click(talk_button, user=voter, ephemeral=False))

    assert thanks["replace_original"] is False and "fewer talks like this" in texts(thanks)
    with sessions_for(seeded_database)() as session:
        assert channel_votes(session, TEAM, "CGENERAL")[1] <= -1
