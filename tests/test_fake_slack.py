"""FakeSlack answers the real slack_sdk WebClient the way Slack does, so tests and the console can trust it."""

import json
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.fake_slack import FakeSlack, SlackCall

CHANNEL = "C0GENERAL"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Kafka at scale*"}}]
METADATA = {"event_type": "talk_suggested", "event_payload": {"talk_id": 42}}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as running:
        yield running


@pytest.fixture
def client(fake) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.api_url)


def test_posted_message_is_recorded_with_decoded_blocks_and_listed_in_history(fake, client):
    client.chat_postMessage(channel=CHANNEL, text="Kafka at scale", blocks=BLOCKS, metadata=METADATA)

    [call] = fake.calls_to("chat.postMessage")
    assert call.params["blocks"] == BLOCKS
    assert call.headers["authorization"] == "Bearer xoxb-test"
    [message] = client.conversations_history(channel=CHANNEL)["messages"]
    assert message["text"] == "Kafka at scale"
    assert message["blocks"] == BLOCKS
    assert "metadata" not in message
    [with_metadata] = client.conversations_history(channel=CHANNEL, include_all_metadata=True)["messages"]
    assert with_metadata["metadata"] == METADATA


def test_json_fields_of_a_form_encoded_request_are_decoded(fake, client):
    client.api_call("chat.postMessage", params={"channel": CHANNEL, "blocks": json.dumps(BLOCKS)})

    assert fake.calls_to("chat.postMessage")[0].params == {"channel": CHANNEL, "blocks": BLOCKS}
    assert fake.messages_in(CHANNEL)[0]["blocks"] == BLOCKS


def test_post_message_answers_with_the_stored_message(fake, client):
    response = client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts="1700000000.000100")

    assert response["message"] == fake.messages_in(CHANNEL)[0]
    assert response["message"] == {
        "ts": response["ts"], "channel": CHANNEL, "text": "reply", "blocks": None, "thread_ts": "1700000000.000100",
        "metadata": None, "user": "UTALKBOT", "bot_id": "BTALKBOT",
    }  # fmt: skip


def test_fail_next_makes_the_client_raise_once(fake, client):
    fake.fail_next("chat.postMessage", "channel_not_found")

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=CHANNEL, text="first")
    assert raised.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel=CHANNEL, text="second")["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert [message["text"] for message in fake.messages_in(CHANNEL)] == ["second"]


def test_a_rate_limited_call_succeeds_when_the_client_retries(fake):
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    retrying = WebClient(
        token="xoxb-test", base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )

    assert retrying.chat_postMessage(channel=CHANNEL, text="patience")["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_rate_limited_call_raises_429_without_a_retry_handler(fake, client):
    fake.rate_limit_next("chat.postMessage", retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=CHANNEL, text="too fast")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["retry-after"] == "7"


def test_a_request_without_a_token_is_not_authed(fake):
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=fake.api_url).auth_test()
    assert raised.value.response["error"] == "not_authed"


def test_auth_test_names_the_bot(client):
    response = client.auth_test()

    assert (response["user_id"], response["team_id"], response["bot_id"]) == ("UTALKBOT", "T0001", "BTALKBOT")


def test_posts_to_a_response_url_are_recorded(fake):
    request = urllib.request.Request(
        fake.response_url("abc"),
        data=json.dumps({"text": "Saved!", "response_type": "ephemeral"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {"ok": True}

    [call] = fake.calls_to("response_url")
    assert call == SlackCall("response_url", {"text": "Saved!", "response_type": "ephemeral"}, call.headers, "abc")


def test_wait_for_returns_calls_made_from_another_thread(fake, client):
    threading.Timer(0.1, client.chat_postMessage, kwargs={"channel": CHANNEL, "text": "later"}).start()

    [call] = fake.wait_for("chat.postMessage")
    assert call.params["text"] == "later"


def test_wait_for_times_out_naming_the_method_and_what_was_seen(fake, client):
    client.auth_test()

    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test x1"):
        fake.wait_for("chat.postMessage", timeout=0.1)


def test_timestamps_follow_the_clock_and_strictly_increase(fake, client):
    before = time.time()
    timestamps = [client.chat_postMessage(channel=CHANNEL, text=str(n))["ts"] for n in range(3)]

    assert [float(ts) for ts in timestamps] == sorted({float(ts) for ts in timestamps})
    assert before <= float(timestamps[0]) <= time.time()
    assert [message["ts"] for message in fake.messages_in(CHANNEL)] == timestamps


def test_users_info_returns_what_set_user_gave(fake, client):
    fake.set_user("U0ADA", tz="America/New_York", name="ada", is_admin=True)

    assert client.users_info(user="U0ADA")["user"] == {
        "id": "U0ADA", "name": "ada", "tz": "America/New_York", "is_admin": True, "is_bot": False,
    }  # fmt: skip
    assert client.users_info(user="U0NOBODY")["user"]["tz"] == "Europe/Berlin"


def test_update_and_delete_change_the_stored_message(fake, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="draft")["ts"]

    assert client.chat_update(channel=CHANNEL, ts=ts, text="final")["text"] == "final"
    assert fake.messages_in(CHANNEL)[0]["text"] == "final"
    client.chat_delete(channel=CHANNEL, ts=ts)
    assert fake.messages_in(CHANNEL) == []
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel=CHANNEL, ts=ts, text="gone")


def test_history_is_newest_first_within_oldest_latest_and_limit(client):
    first, second, third, fourth = (client.chat_postMessage(channel=CHANNEL, text=str(n))["ts"] for n in range(4))

    def history_texts(**window) -> list[str]:
        return [message["text"] for message in client.conversations_history(channel=CHANNEL, **window)["messages"]]

    assert history_texts() == ["3", "2", "1", "0"]
    assert history_texts(oldest=first, latest=fourth) == ["2", "1"]
    assert history_texts(oldest=second, latest=third, inclusive=True) == ["2", "1"]
    assert history_texts(limit=2) == ["3", "2"]


def test_thread_replies_stay_out_of_history_like_on_slack(fake, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent)

    assert [message["text"] for message in client.conversations_history(channel=CHANNEL)["messages"]] == ["parent"]
    replies = client.conversations_replies(channel=CHANNEL, ts=parent)["messages"]
    assert [message["text"] for message in replies] == ["parent", "reply"]
    assert len(fake.messages_in(CHANNEL)) == 2


def test_ephemeral_messages_are_recorded_but_not_kept_in_the_channel(fake, client):
    response = client.chat_postEphemeral(channel=CHANNEL, user="U0ADA", text="only you")

    assert response["message_ts"]
    assert fake.calls_to("chat.postEphemeral")[0].params["user"] == "U0ADA"
    assert fake.messages_in(CHANNEL) == []


def test_conversation_and_view_methods_answer_like_slack(client):
    assert client.conversations_open(users="U0ADA")["channel"]["id"] == "D0ADA"
    assert client.conversations_info(channel=CHANNEL)["channel"]["id"] == CHANNEL
    view = client.views_publish(user_id="U0ADA", view={"type": "home", "blocks": BLOCKS})["view"]
    assert view["id"].startswith("V")
    assert (view["type"], view["blocks"]) == ("home", BLOCKS)


def test_unmodelled_methods_succeed_and_clear_forgets_calls_but_not_plans(fake, client):
    fake.fail_next("reactions.add", "already_reacted")
    assert client.api_call("pins.add", params={"channel": CHANNEL})["ok"]
    fake.clear()

    assert fake.calls == []
    with pytest.raises(SlackApiError, match="already_reacted"):
        client.reactions_add(channel=CHANNEL, timestamp="1700000000.000100", name="eyes")
