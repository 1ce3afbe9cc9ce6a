"""FakeSlack answers the real slack_sdk WebClient the way Slack does, refuses what Slack refuses, and the payloads
of bot/devtools/slack_payloads.py are what Slack sends (bolt itself reads them),
so tests and the console can trust both."""

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from http.client import RemoteDisconnected
from urllib.parse import parse_qs, urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.models.blocks import Block
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.blocks.base import Screen
from bot.blocks.digest import digest_message, digest_usage_message
from bot.blocks.for_you import for_you_message
from bot.blocks.home import home_problem_view, home_view
from bot.blocks.messages import (
    help_message,
    no_match_message,
    notice_message,
    problem_message,
    public_results_message,
    results_message,
    saved_message,
    shared_message,
    similar_message,
    unfurl_blocks,
)
from bot.devtools.fake_slack import MAX_MESSAGE_TEXT, FakeSlack, SlackCall, Workspace, block_kit_problems
from bot.devtools.slack_payloads import (
    DIRECT_MESSAGE,
    FORM,
    JSON,
    app_mention,
    block_action,
    event_callback,
    file_share_event,
    group_dm_name,
    message_changed,
    message_event,
    new_trigger_id,
    retry_headers,
    shared_file,
    signed_headers,
    slack_escaped,
    slash_command,
)
from db.cards import TalkCard
from db.search.engine import ResultPage

CHANNEL = "C0GENERAL"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Kafka at scale*"}}]
METADATA = {"event_type": "talk_suggested", "event_payload": {"talk_id": 42}}
CLIENT_ID, CLIENT_SECRET = "111.222", "client-secret"
SIGNING_SECRET = "signing-secret"
NO_WAIT = FixedValueRetryIntervalCalculator(0)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


@pytest.fixture
def client(fake) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[])


def button(action_id: str, text: str = "Go", value: str = "v", **extra) -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, "value": value,
            **extra}  # fmt: skip


def section(text: str, **extra) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def image(url: str = "https://example.org/a.png", alt: str = "A talk", **extra) -> dict:
    """An image block, or an image element (a section's accessory, in a context block): the same shape."""
    return {"type": "image", "image_url": url, "alt_text": alt, **extra}


def refusal(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


def post_json(url: str, body: dict) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": JSON})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# --- the Web API as before ---------------------------------------------------------------------------------------


def test_posted_message_is_recorded_with_decoded_blocks_and_listed_in_history_with_block_ids(fake, client):
    client.chat_postMessage(channel=CHANNEL, text="Kafka at scale", blocks=BLOCKS, metadata=METADATA)

    [call] = fake.calls_to("chat.postMessage")
    assert call.params["blocks"] == BLOCKS and call.error is None
    assert call.headers["authorization"] == "Bearer xoxb-test"
    [message] = client.conversations_history(channel=CHANNEL)["messages"]
    assert message["text"] == "Kafka at scale"
    [stored] = message["blocks"]
    assert {key: value for key, value in stored.items() if key != "block_id"} == BLOCKS[0]
    assert stored["block_id"]  # as Slack does, a block sent without a block_id is stored with one
    assert "metadata" not in message
    [with_metadata] = client.conversations_history(channel=CHANNEL, include_all_metadata=True)["messages"]
    assert with_metadata["metadata"] == METADATA


def test_json_fields_of_a_form_encoded_request_are_decoded(fake, client):
    client.api_call("chat.postMessage", params={"channel": CHANNEL, "text": "x", "blocks": json.dumps(BLOCKS)})

    assert fake.calls_to("chat.postMessage")[0].params == {"channel": CHANNEL, "text": "x", "blocks": BLOCKS}
    assert fake.messages_in(CHANNEL)[0]["blocks"][0]["text"] == BLOCKS[0]["text"]


def test_post_message_answers_with_the_stored_message(fake, client):
    response = client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts="1700000000.000100")

    assert response["message"] == fake.messages_in(CHANNEL)[0]
    assert response["message"] == {
        "ts": response["ts"], "channel": CHANNEL, "text": "reply", "blocks": None, "thread_ts": "1700000000.000100",
        "metadata": None, "user": "UTALKBOT", "bot_id": "BTALKBOT",
    }  # fmt: skip


def test_fail_next_makes_the_client_raise_once(fake, client):
    fake.fail_next("chat.postMessage", "channel_not_found")

    assert refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="first")).response["error"] == (
        "channel_not_found"
    )
    assert client.chat_postMessage(channel=CHANNEL, text="second")["ok"]
    assert [call.error for call in fake.calls_to("chat.postMessage")] == ["channel_not_found", None]
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

    raised = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="too fast"))
    assert raised.response.status_code == 429
    assert raised.response["error"] == "ratelimited"
    assert raised.response.headers["retry-after"] == "7"


def test_a_request_without_a_token_is_not_authed(fake):
    assert refusal(WebClient(base_url=fake.api_url).auth_test).response["error"] == "not_authed"


def test_auth_test_names_the_bot(client):
    response = client.auth_test()

    assert (response["user_id"], response["team_id"], response["bot_id"]) == ("UTALKBOT", "T0001", "BTALKBOT")


def test_posts_to_a_response_url_are_recorded_and_answered_ok_like_a_webhook(fake):
    assert post_json(fake.response_url("abc"), {"text": "Saved!", "response_type": "ephemeral"}) == (200, "ok")

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


def test_conversations_open_and_views_publish_answer_like_slack(client):
    assert client.conversations_open(users="U0ADA")["channel"]["id"] == "D0ADA"
    view = client.views_publish(user_id="U0ADA", view={"type": "home", "blocks": BLOCKS})["view"]
    assert view["id"].startswith("V") and view["team_id"] == "T0001"
    assert view["type"] == "home" and view["blocks"][0]["text"] == BLOCKS[0]["text"] and view["blocks"][0]["block_id"]


def test_unmodelled_methods_succeed_and_clear_forgets_calls_but_not_plans(fake, client):
    fake.fail_next("reactions.add", "already_reacted")
    assert client.api_call("pins.add", params={"channel": CHANNEL})["ok"]
    fake.clear()

    assert fake.calls == []
    with pytest.raises(SlackApiError, match="already_reacted"):
        client.reactions_add(channel=CHANNEL, timestamp="1700000000.000100", name="eyes")


# --- refusing what Slack refuses ---------------------------------------------------------------------------------


def test_two_buttons_with_one_action_id_in_a_block_are_refused_with_slacks_invalid_blocks(fake, client):
    blocks = [{"type": "actions", "block_id": "paging", "elements": [button("results_page"), button("results_page")]}]

    raised = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="Results", blocks=blocks))

    problem = '`action_id` "results_page" already exists [json-pointer:/blocks/0/elements/1/action_id]'
    assert raised.response.status_code == 200
    assert raised.response.data == {
        "ok": False, "error": "invalid_blocks", "errors": [problem],
        "response_metadata": {"messages": [f"[ERROR] {problem}"]},
    }  # fmt: skip
    [call] = fake.refused("chat.postMessage")
    assert (call.params["blocks"], call.error, call.problems) == (blocks, "invalid_blocks", (problem,))
    assert fake.messages_in(CHANNEL) == []


def test_a_section_accessory_sharing_an_action_id_with_another_blocks_button_is_accepted(client):
    blocks = [section("one", accessory=button("talk_save")), {"type": "actions", "elements": [button("talk_save")]}]

    assert client.chat_postMessage(channel=CHANNEL, text="Talks", blocks=blocks)["ok"]


def test_two_blocks_with_one_block_id_in_a_message_are_refused(client):
    blocks = [section("a", block_id="talk-1"), section("b", block_id="talk-1")]

    raised = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="Talks", blocks=blocks))

    assert raised.response["errors"] == ['`block_id` "talk-1" already exists [json-pointer:/blocks/1/block_id]']


@pytest.mark.parametrize(
    "surface, most",
    [("chat.postMessage", 50), ("chat.postEphemeral", 50), ("views.publish", 100), ("views.open", 100)],
)
def test_a_message_holds_50_blocks_and_a_view_100_and_one_more_is_refused(fake, client, surface, most):
    def send(count: int) -> dict:
        blocks = [{"type": "divider"}] * count
        if surface.startswith("views."):
            view = {"type": "home", "blocks": blocks}
            if surface == "views.open":
                view.update(type="modal", title={"type": "plain_text", "text": "talkbot"})
            return client.api_call(surface, json={"user_id": "U1", "trigger_id": new_trigger_id(), "view": view})
        return client.api_call(surface, json={"channel": CHANNEL, "user": "U1", "text": "many", "blocks": blocks})

    assert send(most)["ok"]
    raised = refusal(lambda: send(most + 1))
    pointer = "/view/blocks" if surface.startswith("views.") else "/blocks"
    if surface.startswith("views."):  # views answer invalid_arguments, with the reasons in response_metadata only
        assert raised.response["error"] == "invalid_arguments"
        assert raised.response["response_metadata"]["messages"] == [
            f"[ERROR] no more than {most} items allowed [json-pointer:{pointer}]"
        ]
    else:
        assert raised.response["error"] == "invalid_blocks"
        assert raised.response["errors"] == [f"no more than {most} items allowed [json-pointer:{pointer}]"]


LIMITS = {
    # what: (block with a value at Slack's limit, the same one over it, where Slack points)
    "section text 3000": (
        lambda n: section("x" * n), 3000, "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
    ),
    "context mrkdwn element 3000": (
        lambda n: {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * n}]}, 3000,
        "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/text]",
    ),
    "header 150": (
        lambda n: {"type": "header", "text": {"type": "plain_text", "text": "x" * n}}, 150,
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
    ),
    "button text 75": (
        lambda n: {"type": "actions", "elements": [button("a", text="x" * n)]}, 75,
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
    ),
    "button value 2000": (
        lambda n: {"type": "actions", "elements": [button("a", value="x" * n)]}, 2000,
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
    ),
    "button url 3000": (
        lambda n: {"type": "actions", "elements": [button("a", url="https://x.example/" + "x" * (n - 18))]}, 3000,
        "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]",
    ),
    "action_id 255": (
        lambda n: {"type": "actions", "elements": [button("a" * n)]}, 255,
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    ),
    "block_id 255": (
        lambda n: {"type": "divider", "block_id": "b" * n}, 255,
        "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
    ),
    "section fields 10": (
        lambda n: section("x", fields=[{"type": "mrkdwn", "text": "f"}] * n), 10,
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ),
    "section field text 2000": (
        lambda n: section("x", fields=[{"type": "mrkdwn", "text": "f" * n}]), 2000,
        "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]",
    ),
    "image block image_url 3000": (
        lambda n: image(url="https://x.example/" + "x" * (n - 18)), 3000,
        "must be less than 3001 characters [json-pointer:/blocks/0/image_url]",
    ),
    "image accessory alt_text 2000": (
        lambda n: section("x", accessory=image(alt="a" * n)), 2000,
        "must be less than 2001 characters [json-pointer:/blocks/0/accessory/alt_text]",
    ),
    "image block title 2000": (
        lambda n: image(title={"type": "plain_text", "text": "t" * n}), 2000,
        "must be less than 2001 characters [json-pointer:/blocks/0/title/text]",
    ),
    "context elements 10": (
        lambda n: {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * n}, 10,
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
    ),
    "actions elements 25": (
        lambda n: {"type": "actions", "elements": [button(f"a{i}") for i in range(n)]}, 25,
        "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
    ),
}  # fmt: skip


@pytest.mark.parametrize("limit", LIMITS, ids=list(LIMITS))
def test_text_lengths_and_counts_up_to_block_kits_limits_pass_and_one_more_is_refused(client, limit):
    build, most, problem = LIMITS[limit]

    assert client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=[build(most)])["ok"]
    raised = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=[build(most + 1)]))
    assert raised.response["error"] == "invalid_blocks"
    assert problem in raised.response["errors"]


MALFORMED = {
    "empty text": (section(""), "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
    "mrkdwn in a header": (
        {"type": "header", "text": {"type": "mrkdwn", "text": "Talks"}},
        "must be one of plain_text [json-pointer:/blocks/0/text/type]",
    ),
    "mrkdwn on a button": (
        {"type": "actions", "elements": [{**button("a"), "text": {"type": "mrkdwn", "text": "*Go*"}}]},
        "must be one of plain_text [json-pointer:/blocks/0/elements/0/text/type]",
    ),
    "a property Slack does not know": (
        {**section("x"), "color": "red"}, "invalid additional property: color [json-pointer:/blocks/0]",
    ),
    "emoji on mrkdwn": (
        {"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}},
        "invalid additional property: emoji [json-pointer:/blocks/0/text]",
    ),
    "a section with neither text nor fields": (
        {"type": "section"}, "must define either `text` or `fields` [json-pointer:/blocks/0]",
    ),
    "an actions block without elements": (
        {"type": "actions", "elements": []}, "must provide at least 1 items [json-pointer:/blocks/0/elements]",
    ),
    "a button style Slack does not have": (
        {"type": "actions", "elements": [button("a", style="blue")]},
        'must be one of "primary", "danger" [json-pointer:/blocks/0/elements/0/style]',
    ),
    "a block type that does not exist": (
        {"type": "sectoin"}, "unsupported type: sectoin [json-pointer:/blocks/0/type]",
    ),
    "an image block without alt_text": (
        {"type": "image", "image_url": "https://example.org/a.png"},
        "missing required field: alt_text [json-pointer:/blocks/0]",
    ),
    "an image block with an empty alt_text": (
        image(alt=""), "must be more than 0 characters [json-pointer:/blocks/0/alt_text]",
    ),
    "an image accessory without image_url": (
        section("x", accessory={"type": "image", "alt_text": "A talk"}),
        "missing required field: image_url [json-pointer:/blocks/0/accessory]",
    ),
    "an image accessory with a javascript: URL": (
        section("x", accessory=image(url="javascript:alert(1)")),
        "must be an http(s) URL [json-pointer:/blocks/0/accessory/image_url]",
    ),
    "an image block with an ftp URL": (
        image(url="ftp://example.org/a.png"), "must be an http(s) URL [json-pointer:/blocks/0/image_url]",
    ),
    "an image element in a context block with a malformed URL": (
        {"type": "context", "elements": [image(url="https://[example.org/a.png")]},
        "must be an http(s) URL [json-pointer:/blocks/0/elements/0/image_url]",
    ),
    "an image block with a mrkdwn title": (
        image(title={"type": "mrkdwn", "text": "*Talk*"}),
        "must be one of plain_text [json-pointer:/blocks/0/title/type]",
    ),
    "an image element with a property Slack does not know": (
        section("x", accessory={**image(), "title": {"type": "plain_text", "text": "T"}}),
        "invalid additional property: title [json-pointer:/blocks/0/accessory]",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_blocks_slack_cannot_read_are_refused_naming_the_field(client, case):
    block, problem = MALFORMED[case]

    raised = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=[block]))

    assert raised.response["error"] == "invalid_blocks"
    assert problem in raised.response["errors"]


def test_blocks_that_are_not_a_json_array_of_objects_are_invalid_blocks_format(client):
    for blocks in ("not json", json.dumps({"type": "divider"}), json.dumps(["divider"])):
        raised = refusal(lambda blocks=blocks: client.api_call("chat.postMessage", params={
            "channel": CHANNEL, "text": "x", "blocks": blocks}))  # fmt: skip
        assert raised.response["error"] == "invalid_blocks_format"


def test_a_message_with_neither_text_nor_blocks_is_no_text(client):
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        assert refusal(lambda: client.chat_postMessage(channel=CHANNEL)).response["error"] == "no_text"


def test_blocks_without_a_text_fallback_are_refused_with_no_text_by_talkbot_policy(client):
    """Slack itself accepts blocks without `text` (slack_sdk only warns); talkbot requires the fallback."""
    for blank in (None, "  "):
        with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
            raised = refusal(lambda blank=blank: client.chat_postMessage(channel=CHANNEL, text=blank, blocks=BLOCKS))
        assert raised.response.data == {"ok": False, "error": "no_text"}


def test_message_text_of_40000_characters_passes_and_longer_is_msg_too_long(client):
    assert client.chat_postMessage(channel=CHANNEL, text="x" * MAX_MESSAGE_TEXT)["ok"]
    raised = refusal(lambda: client.chat_postMessage(channel=CHANNEL, text="x" * (MAX_MESSAGE_TEXT + 1)))
    assert raised.response["error"] == "msg_too_long"


def test_every_message_method_checks_blocks(fake, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="draft")["ts"]
    bad = [section("x" * 3001)]
    unfurl = {"https://talks.example/1": {"blocks": bad}}

    calls = {
        "chat.postMessage": lambda: client.chat_postMessage(channel=CHANNEL, text="x", blocks=bad),
        "chat.postEphemeral": lambda: client.chat_postEphemeral(channel=CHANNEL, user="U1", text="x", blocks=bad),
        "chat.update": lambda: client.chat_update(channel=CHANNEL, ts=ts, text="x", blocks=bad),
        "chat.unfurl": lambda: client.chat_unfurl(channel=CHANNEL, ts=ts, unfurls=unfurl),
    }
    for method, call in calls.items():
        assert refusal(call).response["error"] == "invalid_blocks", method
    [unfurl_call] = fake.calls_to("chat.unfurl")
    assert unfurl_call.problems == (
        "must be less than 3001 characters [json-pointer:/unfurls/https:~1~1talks.example~11/blocks/0/text/text]",
    )
    assert fake.messages_in(CHANNEL)[0]["text"] == "draft"


def test_chat_unfurl_needs_a_known_message_and_its_own_links_and_records_what_it_attached(fake, client):
    event = fake.post_links(CHANNEL, "see <https://talks.example/1|this> and https://other.example/2", user_id="U1",
                            domains=("talks.example",))  # fmt: skip
    assert [link["url"] for link in event["links"]] == ["https://talks.example/1"]
    assert event["source"] == "conversations_history" and event["unfurl_id"]
    card = {"blocks": [section("A talk")]}
    ts, unfurl_id = event["message_ts"], event["unfurl_id"]

    refused = {
        "invalid_arguments": lambda: client.chat_unfurl(unfurls={"https://talks.example/1": card}),
        "cannot_find_channel": lambda: client.chat_unfurl(channel="CNOWHERE", ts=ts, unfurls={"x": card}),
        "cannot_unfurl_message": lambda: client.chat_unfurl(channel=CHANNEL, ts="1.000001", unfurls={"x": card}),
        "invalid_unfurl_id": lambda: client.chat_unfurl(unfurl_id="nope", source="composer", unfurls={"x": card}),
        "invalid_source": lambda: client.chat_unfurl(unfurl_id=unfurl_id, source="thread", unfurls={"x": card}),
        "cannot_unfurl_url": lambda: client.chat_unfurl(unfurl_id=unfurl_id, source="conversations_history",
                                                        unfurls={"https://elsewhere.example/": card}),
        "invalid_unfurls_format": lambda: client.chat_unfurl(channel=CHANNEL, ts=ts, unfurls=["not", "a map"]),
    }  # fmt: skip
    for error, call in refused.items():
        assert refusal(call).response["error"] == error
    assert fake.unfurls_of(CHANNEL, ts) == {}

    assert client.chat_unfurl(channel=CHANNEL, ts=ts, unfurls={"https://other.example/2": card})["ok"]
    assert client.chat_unfurl(unfurl_id=unfurl_id, source="conversations_history",
                              unfurls={"https://talks.example/1": card})["ok"]  # fmt: skip
    assert set(fake.unfurls_of(CHANNEL, ts)) == {"https://talks.example/1", "https://other.example/2"}
    assert len(fake.calls_to("chat.unfurl")) == len(refused) + 2


def test_chat_unfurl_needs_links_write():
    with FakeSlack(bot_scopes=("chat:write", "links:read")) as narrow:
        event = narrow.post_links(CHANNEL, "https://talks.example/1", user_id="U1")
        client = WebClient(token="xoxb-narrow", base_url=narrow.api_url)
        card = {"blocks": [section("x")]}
        raised = refusal(lambda: client.chat_unfurl(channel=CHANNEL, ts=event["message_ts"],
                                                    unfurls={"https://talks.example/1": card}))  # fmt: skip
    assert raised.response["error"] == "missing_scope" and raised.response["needed"] == "links:write"


def test_every_views_method_refuses_invalid_blocks_with_invalid_arguments(client):
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "talkbot"}, "blocks": [section("x" * 3001)]}
    problem = "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]"

    for method, arguments in [
        ("views.publish", {"user_id": "U1", "view": {"type": "home", "blocks": modal["blocks"]}}),
        ("views.open", {"trigger_id": "1.2.3", "view": modal}),
        ("views.push", {"trigger_id": "1.2.3", "view": modal}),
        ("views.update", {"view_id": "V1", "view": modal}),
    ]:
        raised = refusal(lambda method=method, arguments=arguments: client.api_call(method, json=arguments))
        assert raised.response["error"] == "invalid_arguments", method
        assert raised.response["response_metadata"]["messages"] == [problem], method


def test_a_modal_needs_a_title_within_24_characters_and_a_submit_for_input_blocks(client):
    field = {"type": "input", "label": {"type": "plain_text", "text": "Topic"},
             "element": {"type": "plain_text_input", "action_id": "topic"}}  # fmt: skip
    title = {"type": "plain_text", "text": "t" * 25}

    raised = refusal(lambda: client.views_open(trigger_id="1.2.3", view={"type": "modal", "title": title,
                                                                         "blocks": [field]}))  # fmt: skip

    assert raised.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]",
        "[ERROR] must define `submit` to use an `input` block in modals [json-pointer:/view/blocks/0]",
    ]


MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "talkbot"}, "blocks": [section("x")]}


def test_a_trigger_id_opens_one_view_within_3_seconds_and_only_one_slack_issued(client):
    trigger_id = new_trigger_id()
    assert client.views_open(trigger_id=trigger_id, view=MODAL)["ok"]

    assert refusal(lambda: client.views_open(trigger_id=trigger_id, view=MODAL)).response["error"] == (
        "exchanged_trigger_id"
    )
    old = f"{int(time.time()) - 4}.123.abc"
    assert refusal(lambda: client.views_open(trigger_id=old, view=MODAL)).response["error"] == "expired_trigger_id"
    assert refusal(lambda: client.views_open(trigger_id="1.2.3", view=MODAL)).response["error"] == (
        "invalid_trigger_id"
    )


def test_views_update_needs_a_view_of_this_workspace_and_refuses_a_stale_hash(fake, client):
    opened = client.views_open(trigger_id=new_trigger_id(), view=MODAL)["view"]
    changed = client.views_update(view_id=opened["id"], hash=opened["hash"], view={**MODAL, "blocks": [section("y")]})

    assert changed["view"]["hash"] != opened["hash"] and fake.view(opened["id"])["blocks"][0]["text"]["text"] == "y"
    stale = refusal(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL))
    assert stale.response["error"] == "hash_conflict"
    assert refusal(lambda: client.views_update(view_id="VNOPE", view=MODAL)).response["error"] == "not_found"
    assert client.views_update(view_id=opened["id"], view=MODAL)["ok"]  # no hash: no check


def test_a_view_submission_answer_updates_the_modal_shows_errors_on_inputs_or_is_refused(fake, client):
    field = {"type": "input", "block_id": "years", "label": {"type": "plain_text", "text": "Years"},
             "element": {"type": "plain_text_input", "action_id": "value"}}  # fmt: skip
    form = {**MODAL, "submit": {"type": "plain_text", "text": "Go"}, "blocks": [field]}
    view_id = client.views_open(trigger_id=new_trigger_id(), view=form)["view"]["id"]

    def answer(**ack) -> dict | None:
        return fake.answer_view_submission(view_id, json.dumps(ack))

    assert answer(response_action="errors", errors={"years": "No."}) == {"years": "No."}
    answer(response_action="errors", errors={"nope": "No."})  # not an input block of this view
    answer(response_action="update", view={**MODAL, "title": {"type": "plain_text", "text": "t" * 25}})
    assert [call.error for call in fake.calls_to("view_submission")] == [None, "invalid_arguments",
                                                                         "invalid_arguments"]  # fmt: skip
    fake.answer_view_submission(view_id, json.dumps({"response_action": "update", "view": MODAL}))
    assert fake.view(view_id)["blocks"][0]["text"]["text"] == "x"


@pytest.mark.parametrize(
    ("kind", "error"),
    [({}, "not_in_channel"), ({"is_private": True}, "channel_not_found"), ({"is_archived": True}, "is_archived")],
)
def test_posting_where_the_bot_cannot_is_refused_as_slack_refuses_it(fake, client, kind, error):
    fake.set_channel("CSOMEWHERE", **kind)
    fake.set_channel_members("CSOMEWHERE", ["U1"] + ([fake.bot_user_id] if kind.get("is_archived") else []))

    raised = refusal(lambda: client.chat_postMessage(channel="CSOMEWHERE", text="hello"))

    assert raised.response["error"] == error and fake.messages_in("CSOMEWHERE") == []


def test_a_response_url_refuses_like_a_webhook_with_http_400_and_the_bare_error(fake):
    duplicate = {"type": "actions", "elements": [button("search_for"), button("search_for")]}

    assert post_json(fake.response_url("r1"), {"text": "x", "blocks": [duplicate]}) == (400, "invalid_blocks")
    assert post_json(fake.response_url("r2"), {"blocks": BLOCKS}) == (400, "no_text")
    assert post_json(fake.response_url("r3"), {"text": "x" * (MAX_MESSAGE_TEXT + 1)}) == (400, "msg_too_long")
    assert post_json(fake.response_url("r4"), {"delete_original": True}) == (200, "ok")

    refused = fake.refused("response_url")
    assert [(call.response_url_id, call.error) for call in refused] == [
        ("r1", "invalid_blocks"), ("r2", "no_text"), ("r3", "msg_too_long"),
    ]  # fmt: skip
    assert refused[0].problems == (
        '`action_id` "search_for" already exists [json-pointer:/blocks/0/elements/1/action_id]',
    )


def test_a_response_url_answers_an_unreadable_body_with_400_invalid_payload(fake):
    request = urllib.request.Request(fake.response_url(), data=b"{not json", headers={"Content-Type": JSON})

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert (refused.value.code, refused.value.read()) == (400, b"invalid_payload")


def test_what_talkbot_will_send_can_be_checked_without_a_server():
    """block_kit_problems is the fake's judgement, usable directly on a builder's output."""
    assert block_kit_problems(BLOCKS, pointer="/blocks", most=50) == []
    assert block_kit_problems([section("")], pointer="/view/blocks", most=100) == [
        "must be more than 0 characters [json-pointer:/view/blocks/0/text/text]"
    ]


# --- network drops -----------------------------------------------------------------------------------------------


def test_a_dropped_connection_reaches_slack_sdk_as_a_remote_disconnect(fake, client):
    fake.drop_next_connection("chat.postMessage")

    with pytest.raises(ConnectionResetError) as raised:  # http.client.RemoteDisconnected is one
        client.chat_postMessage(channel=CHANNEL, text="lost")
    assert isinstance(raised.value, RemoteDisconnected)
    [call] = fake.calls_to("chat.postMessage")
    assert call.dropped and call.params["text"] == "lost"
    assert fake.messages_in(CHANNEL) == []


def test_connection_error_retry_handler_retries_a_dropped_call(fake):
    fake.drop_next_connection("chat.postMessage", times=2)
    retry = ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=NO_WAIT)
    retrying = WebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[retry])

    assert retrying.chat_postMessage(channel=CHANNEL, text="again")["ok"]
    assert [call.dropped for call in fake.calls_to("chat.postMessage")] == [True, True, False]
    assert [message["text"] for message in fake.messages_in(CHANNEL)] == ["again"]


def test_a_response_url_post_can_be_dropped_too(fake):
    fake.drop_next_connection("response_url")

    with pytest.raises(RemoteDisconnected):
        post_json(fake.response_url("gone"), {"text": "x"})
    assert post_json(fake.response_url("back"), {"text": "x"}) == (200, "ok")
    assert [call.dropped for call in fake.calls_to("response_url")] == [True, False]


# --- token rotation ----------------------------------------------------------------------------------------------


def install(fake: FakeSlack, team: str) -> dict:
    """Approve an install on the fake's consent page and trade the code, as bolt's OAuth flow does."""
    fake.sign_in(Workspace(team, bot_user_id=f"UBOT{team}"))
    query = urlencode({"client_id": CLIENT_ID, "scope": "chat:write,channels:read", "redirect_uri": "http://app/cb"})
    base = fake.api_url.removesuffix("/api/")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as redirected:
        urllib.request.build_opener(NoRedirect).open(f"{base}/oauth/v2/authorize?{query}", timeout=5)
    code = parse_qs(redirected.value.headers["Location"].split("?", 1)[1])["code"][0]
    return (
        WebClient(base_url=fake.api_url)
        .oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code)
        .data
    )


def test_with_token_rotation_an_install_gets_an_expiring_token_and_a_refresh_token():
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_rotation=True) as fake:
        granted = install(fake, "TROT")

        assert granted["access_token"].startswith("xoxe.xoxb-1-") and granted["refresh_token"].startswith("xoxe-1-")
        assert (granted["token_type"], granted["expires_in"]) == ("bot", 43200)
        assert granted["scope"] == "chat:write,channels:read"
        assert (granted["team"]["id"], granted["bot_user_id"]) == ("TROT", "UBOTTROT")
        assert WebClient(token=granted["access_token"], base_url=fake.api_url).auth_test()["team_id"] == "TROT"


def test_without_token_rotation_tokens_do_not_expire_and_carry_no_refresh_token(fake):
    granted = install(fake, "TPLAIN")

    assert granted["access_token"].startswith("xoxb-")
    assert "refresh_token" not in granted and "expires_in" not in granted


def test_token_rotator_refreshes_an_expired_token_and_the_old_refresh_token_stops_working():
    with FakeSlack(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_rotation=True) as fake:
        granted = install(fake, "TROT")
        installation = Installation(
            app_id=granted["app_id"], team_id="TROT", user_id="UINSTALLER", bot_token=granted["access_token"],
            bot_id="BTALKBOT", bot_user_id=granted["bot_user_id"], bot_scopes=granted["scope"],
            bot_refresh_token=granted["refresh_token"], bot_token_expires_in=granted["expires_in"],
        )  # fmt: skip
        fake.expire_tokens("TROT")
        expired = refusal(WebClient(token=granted["access_token"], base_url=fake.api_url).auth_test)
        assert expired.response.data == {"ok": False, "error": "token_expired"}

        rotator = TokenRotator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                               client=WebClient(base_url=fake.api_url))  # fmt: skip
        refreshed = rotator.perform_token_rotation(installation=installation, minutes_before_expiration=24 * 60)

        assert refreshed.bot_token != granted["access_token"] and refreshed.bot_token.startswith("xoxe.xoxb-")
        assert refreshed.bot_refresh_token != granted["refresh_token"]
        assert refreshed.bot_token_expires_at > time.time() + 11 * 3600
        assert WebClient(token=refreshed.bot_token, base_url=fake.api_url).auth_test()["ok"]
        assert fake.refresh_tokens_of("TROT") == [refreshed.bot_refresh_token]
        with pytest.raises(SlackTokenRotationError, match="invalid_refresh_token"):
            rotator.perform_token_rotation(installation=installation, minutes_before_expiration=24 * 60)


@pytest.mark.parametrize(
    "credentials, error",
    [((CLIENT_ID, "wrong"), "bad_client_secret"), (("999.999", CLIENT_SECRET), "invalid_client_id")],
)
def test_oauth_access_with_wrong_app_credentials_is_refused(fake, credentials, error):
    client_id, client_secret = credentials
    access = WebClient(base_url=fake.api_url).oauth_v2_access

    raised = refusal(lambda: access(client_id=client_id, client_secret=client_secret, code="x"))
    assert raised.response["error"] == error


def test_an_unknown_grant_type_is_refused(fake):
    access = WebClient(base_url=fake.api_url).oauth_v2_access
    raised = refusal(lambda: access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="password"))
    assert raised.response["error"] == "invalid_grant_type"


# --- conversations ---------------------------------------------------------------------------------------------------


def test_users_conversations_pages_with_cursors_and_may_return_short_pages_before_the_last(fake, client):
    channels = [f"C{n:03d}" for n in range(7)]
    for channel in channels:
        fake.set_channel_members(channel, ["UALICE"])
    fake.set_page_size_cap(2)

    pages = [
        page["channels"] for page in client.users_conversations(user="UALICE", limit=5)
    ]  # slack_sdk follows cursors

    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [channel["id"] for page in pages for channel in page] == channels


def test_users_conversations_takes_a_limit_up_to_1000_and_refuses_more(fake, client):
    assert client.users_conversations(user="UALICE", limit=1000)["ok"]
    raised = refusal(lambda: client.users_conversations(user="UALICE", limit=1001))
    assert raised.response["error"] == "invalid_limit"


def test_a_cursor_from_another_method_is_an_invalid_cursor(fake, client):
    for n in range(3):
        fake.set_channel_members(f"C{n}", ["UALICE", "UBOB"])
    cursor = client.users_conversations(user="UALICE", limit=1)["response_metadata"]["next_cursor"]

    raised = refusal(lambda: client.conversations_members(channel="C0", limit=1, cursor=cursor))
    assert raised.response["error"] == "invalid_cursor"


def test_users_conversations_filters_by_type_and_archive_and_hides_private_channels_without_the_bot(fake, client):
    fake.set_channel_members("CPUBLIC", ["UALICE"])
    fake.set_channel("CARCHIVED", is_archived=True)
    fake.set_channel_members("CARCHIVED", ["UALICE"])
    fake.set_channel("GSECRET", is_private=True)
    fake.set_channel_members("GSECRET", ["UALICE"])
    fake.set_channel("GTEAM", is_private=True)
    fake.set_channel_members("GTEAM", ["UALICE", fake.bot_user_id])

    def listed(**arguments) -> list[str]:
        return [c["id"] for c in client.users_conversations(user="UALICE", **arguments)["channels"]]

    assert listed() == ["CARCHIVED", "CPUBLIC"]  # the default type is public_channel
    assert listed(types="public_channel,private_channel", exclude_archived=True) == ["CPUBLIC", "GTEAM"]


def test_conversations_info_says_whether_the_bot_is_a_member_and_describes_the_channel(fake, client):
    fake.set_channel("CKAFKA", name="kafka", topic="streams", purpose="all things kafka")
    fake.set_channel_members("CKAFKA", ["UALICE"])

    channel = client.conversations_info(channel="CKAFKA")["channel"]
    assert (channel["name"], channel["is_member"], channel["is_private"], channel["is_mpim"], channel["is_im"]) == (
        "kafka", False, False, False, False,
    )  # fmt: skip
    assert (channel["topic"]["value"], channel["purpose"]["value"]) == ("streams", "all things kafka")

    fake.set_channel_members("CKAFKA", ["UALICE", fake.bot_user_id])
    assert client.conversations_info(channel="CKAFKA")["channel"]["is_member"] is True


def test_a_private_channel_without_the_bot_and_an_unknown_channel_are_channel_not_found(fake, client):
    fake.set_channel("GSECRET", is_private=True)
    fake.set_channel_members("GSECRET", ["UALICE"])

    for channel in ("GSECRET", "CNOWHERE"):
        assert refusal(lambda channel=channel: client.conversations_info(channel=channel)).response["error"] == (
            "channel_not_found"
        )
    fake.set_channel_members("GSECRET", ["UALICE", fake.bot_user_id])
    info = client.conversations_info(channel="GSECRET")["channel"]
    assert info["is_private"] and info["is_member"]


def test_a_group_dm_needs_mpim_read_which_talkbot_does_not_request(fake, client):
    fake.set_channel("GMPDM", is_mpim=True)
    fake.set_channel_members("GMPDM", ["UALICE", "UBOB", fake.bot_user_id])

    for call in (
        lambda: client.conversations_members(channel="GMPDM"),
        lambda: client.conversations_info(channel="GMPDM"),
    ):
        raised = refusal(call)
        assert (raised.response["error"], raised.response["needed"]) == ("missing_scope", "mpim:read")
        assert "channels:read" in raised.response["provided"].split(",")

    with FakeSlack(bot_scopes=["mpim:read"]) as granted:
        granted.set_channel("GMPDM", is_mpim=True)
        granted.set_channel_members("GMPDM", ["UALICE", granted.bot_user_id])
        members = WebClient(token="xoxb-test", base_url=granted.api_url).conversations_members(channel="GMPDM")
        assert members["members"] == ["UALICE", "UTALKBOT"]


def test_conversations_members_pages_like_users_conversations(fake, client):
    fake.set_channel_members(CHANNEL, [f"U{n:02d}" for n in range(5)])
    fake.set_page_size_cap(2)

    pages = [page["members"] for page in client.conversations_members(channel=CHANNEL, limit=200)]

    assert pages == [["U00", "U01"], ["U02", "U03"], ["U04"]]


# --- what Slack sends (bot/devtools/slack_payloads.py), as bolt reads it ----------------------------------------------


@pytest.fixture
def bolt(fake):
    """A bolt App in this process, acking after its listeners ran, so a test sees what they saw."""
    return App(client=WebClient(token="xoxb-test", base_url=fake.api_url), signing_secret=SIGNING_SECRET,
               process_before_response=True)  # fmt: skip


def dispatch(app: App, body: bytes, content_type: str, headers: dict | None = None) -> int:
    signed = {**signed_headers(SIGNING_SECRET, body, content_type), **(headers or {})}
    return app.dispatch(BoltRequest(body=body.decode(), headers=signed)).status


def test_typed_text_is_escaped_as_slack_escapes_it_and_slack_markup_is_kept():
    typed = "ops & sre <b> <@U123> in <#C1|general> see <https://x.example/?a=1&b=2|the docs> <!here>"

    assert slack_escaped(typed) == (
        "ops &amp; sre &lt;b&gt; <@U123> in <#C1|general> see <https://x.example/?a=1&amp;b=2|the docs> <!here>"
    )
    assert message_event("a<b", user_id="U1", channel_id="D1")["text"] == "a&lt;b"
    assert message_event("a<b", user_id="U1", channel_id="D1", escape=False)["text"] == "a<b"


@pytest.mark.parametrize(
    "channel_id, channel_name",
    [("CGENERAL", "general"), ("D0ALICE", DIRECT_MESSAGE), ("G0GROUP", "mpdm-alice--bob--carol-1")],
)
def test_slash_commands_reach_bolt_with_escaped_text_and_slacks_channel_name(bolt, channel_id, channel_name):
    assert group_dm_name("alice", "bob", "carol") == "mpdm-alice--bob--carol-1"
    seen = []
    bolt.command("/talk")(lambda ack, command: (ack(), seen.append(command)))
    body = slash_command("kafka & <streams>", user_id="UALICE", team_id="T0001", channel_id=channel_id,
                         response_url="https://hooks.example/commands/1", channel_name=channel_name)  # fmt: skip

    assert dispatch(bolt, body, FORM) == 200
    [command] = seen
    assert command["text"] == "kafka &amp; &lt;streams&gt;" and command["channel_name"] == channel_name
    assert (command["team_id"], command["user_id"], command["is_enterprise_install"]) == ("T0001", "UALICE", "false")


def test_a_click_on_a_public_message_in_a_thread_carries_the_thread_and_the_whole_message(bolt):
    seen = []
    bolt.action("talk_save")(lambda ack, body, context: (ack(), seen.append((body, context.channel_id))))
    posted = {"type": "message", "ts": "1700000001.000200", "thread_ts": "1700000000.000100", "text": "Talks",
              "blocks": [{"type": "actions", "block_id": "talk-1", "elements": [button("talk_save")]}]}  # fmt: skip
    body = block_action(
        {**button("talk_save"), "block_id": "talk-1"}, user_id="UALICE", team_id="T0001", channel_id=CHANNEL,
        response_url="https://hooks.example/actions/1", is_ephemeral=False, message_ts=posted["ts"],
        thread_ts=posted["thread_ts"], message=posted,
    )  # fmt: skip

    assert dispatch(bolt, body, FORM) == 200
    [(payload, channel_id)] = seen
    assert payload["container"] == {"type": "message", "message_ts": "1700000001.000200", "channel_id": CHANNEL,
                                     "is_ephemeral": False, "thread_ts": "1700000000.000100"}  # fmt: skip
    assert payload["message"] == posted and channel_id == CHANNEL
    [action] = payload["actions"]
    assert {key: action[key] for key in ("action_id", "block_id", "value", "type")} == {
        "action_id": "talk_save", "block_id": "talk-1", "value": "v", "type": "button",
    }  # fmt: skip
    assert action["text"] == {"type": "plain_text", "text": "Go"} and float(action["action_ts"]) > 0


def test_a_click_on_an_ephemeral_message_has_no_message(bolt):
    seen = []
    bolt.action("talk_save")(lambda ack, body: (ack(), seen.append(body)))
    body = block_action(button("talk_save"), user_id="UALICE", team_id="T0001", channel_id=CHANNEL,
                        response_url="https://hooks.example/actions/1", is_ephemeral=True)  # fmt: skip

    assert dispatch(bolt, body, FORM) == 200
    assert "message" not in seen[0] and seen[0]["container"]["is_ephemeral"] is True


def test_a_slack_connect_click_keeps_the_installing_team_and_names_the_clickers_own(bolt):
    seen = []
    bolt.action("talk_save")(lambda ack, body, context: (ack(), seen.append((body, context.team_id))))
    body = block_action(button("talk_save"), user_id="UGUEST", team_id="T0001", channel_id=CHANNEL,
                        response_url="https://hooks.example/actions/1", is_ephemeral=True,
                        user_team_id="TOTHER")  # fmt: skip

    assert dispatch(bolt, body, FORM) == 200
    [(payload, team_id)] = seen
    assert (team_id, payload["team"]["id"], payload["user"]["team_id"]) == ("T0001", "T0001", "TOTHER")
    assert payload["is_enterprise_install"] is False and payload["enterprise"] is None


def test_an_edited_mention_comes_again_as_app_mention_with_edited_and_the_original_ts(bolt):
    seen = []
    bolt.event("app_mention")(lambda body, event: seen.append((body["event_id"], event)))
    first = app_mention("<@UTALKBOT> kafka", user_id="UALICE", channel_id=CHANNEL, team_id="T0001",
                        thread_ts="1700000000.000100")  # fmt: skip
    edited = app_mention("<@UTALKBOT> kafka streams", user_id="UALICE", channel_id=CHANNEL, team_id="T0001",
                         ts=first["ts"], thread_ts="1700000000.000100", edited=True)  # fmt: skip

    for event in (first, edited):
        assert dispatch(bolt, event_callback(event, team_id="T0001"), JSON) == 200

    [(first_id, original), (second_id, again)] = seen
    assert first_id != second_id and original["ts"] == again["ts"] and again["thread_ts"] == "1700000000.000100"
    assert "edited" not in original and again["edited"]["user"] == "UALICE" and "subtype" not in again
    assert again["text"] == "<@UTALKBOT> kafka streams"


def test_a_mention_from_another_workspace_carries_its_team_in_a_shared_channel_envelope(bolt):
    seen = []
    bolt.event("app_mention")(lambda body, event, context: seen.append((body, event, context.team_id)))
    event = app_mention("<@UTALKBOT> kafka", user_id="UGUEST", channel_id=CHANNEL, team_id="T0001",
                        user_team="TOTHER")  # fmt: skip

    assert dispatch(bolt, event_callback(event, team_id="T0001", is_ext_shared_channel=True), JSON) == 200
    [(body, received, team_id)] = seen
    assert (received["team"], received["user_team"], received["source_team"]) == ("TOTHER", "TOTHER", "TOTHER")
    assert body["is_ext_shared_channel"] is True and body["authorizations"][0]["team_id"] == team_id == "T0001"
    assert body["event_context"].startswith("4-")


def test_an_edited_dm_is_message_changed_with_the_old_and_new_text(bolt):
    seen = []
    bolt.event({"type": "message", "subtype": "message_changed"})(
        lambda event, context: seen.append((event, context.user_id, context.channel_id))
    )
    original = message_event("kafak", user_id="UALICE", channel_id="D0ALICE", team_id="T0001")

    assert dispatch(bolt, event_callback(message_changed(original, "kafka"), team_id="T0001"), JSON) == 200
    [(event, user_id, channel_id)] = seen
    assert (user_id, channel_id, event["hidden"]) == ("UALICE", "D0ALICE", True)
    assert (event["message"]["text"], event["previous_message"]["text"]) == ("kafka", "kafak")
    assert event["message"]["ts"] == original["ts"] != event["ts"] and event["message"]["edited"]["user"] == "UALICE"


def test_a_dm_with_a_file_and_a_typed_query_is_a_file_share_message_bolt_hands_to_message_listeners(bolt):
    seen = []
    bolt.message("kafka")(lambda message: seen.append(message))
    event = file_share_event("kafka talks", [shared_file("slides.pdf", user_id="UALICE")], user_id="UALICE",
                             channel_id="D0ALICE", team_id="T0001")  # fmt: skip

    assert dispatch(bolt, event_callback(event, team_id="T0001"), JSON) == 200
    [message] = seen
    assert (message["subtype"], message["text"]) == ("file_share", "kafka talks")
    assert message["files"][0]["name"] == "slides.pdf"


def test_a_redelivered_event_keeps_its_event_id_and_carries_slacks_retry_headers(bolt):
    seen = []
    bolt.event("app_mention")(lambda body, request: seen.append((body["event_id"], request.headers)))
    event = app_mention("<@UTALKBOT> kafka", user_id="UALICE", channel_id=CHANNEL, team_id="T0001")
    body = event_callback(event, team_id="T0001", event_id="Ev0RETRIED")

    assert dispatch(bolt, body, JSON, retry_headers(1)) == 200
    [(event_id, headers)] = seen
    assert event_id == "Ev0RETRIED"
    assert (headers["x-slack-retry-num"], headers["x-slack-retry-reason"]) == (["1"], ["http_timeout"])


# --- talkbot's own blocks ------------------------------------------------------------------------------------------


def a_card(talk_id: int, **fields) -> TalkCard:
    defaults = dict(
        id=talk_id, title="Scaling Kafka", speakers=["Liz Fong-Jones"], event="SREcon23 Americas", year=2023,
        city="Santa Clara", talk_type="talk", tags=["kafka"], summary="How a team scaled Kafka.",
        url="https://example.org/kafka", video_url="https://example.org/video", recommendation=None, score=1.0,
        reasons=[],
    )  # fmt: skip
    return TalkCard(**{**defaults, **fields})


def talkbot_messages() -> dict[str, dict]:
    """One of each message and view bot/blocks/ builds, with pages that have paging buttons both ways."""
    cards = [a_card(n) for n in range(1, 6)]
    hostile = a_card(99, title="<!channel> & " + "long " * 400, speakers=[f"S{n}" for n in range(80)],
                     summary="words " * 3000)  # fmt: skip
    middle = ResultPage(cards=cards, total=40, offset=10, notes=["note"], dropped_words=["zzz"])
    search = Screen("search", "kafka", 10)
    longest = "https://i.ytimg.com/" + "v" * (3000 - len("https://i.ytimg.com/"))  # Slack's limit, past the catalog's
    pictured = replace(middle, cards=[replace(c, thumbnail_url=f"https://i.ytimg.com/vi/{c.id}/hq.jpg") for c in cards])
    hostile_pictured = replace(hostile, thumbnail_url=longest)
    return {
        "results": results_message(search, middle, {2}, note="Saved."),
        "results, hostile": results_message(search, ResultPage(cards=[hostile], total=1), set()),
        "public results": public_results_message("kafka", middle),
        "no match": no_match_message("kubrnetis", ResultPage([], 0, suggestions=["kubernetes", "kube"]), cards[:3]),
        "similar": similar_message(cards[0], Screen("similar", "kafka", 5, 1), middle, set()),
        "saved": saved_message(cards * 3, offset=5, note="Removed."),
        "shared": shared_message(cards[0], "UALICE"),
        "help": help_message(),
        "problem": problem_message("Something went wrong"),
        "notice": notice_message("Saved"),
        "digest": digest_message(cards[0], ["on “kafka”"], "weekly"),
        "digest usage": digest_usage_message("bad time"),
        "home": home_view(cards * 5, [("C1", "every Monday", "kafka", None)]),
        "home problem": home_problem_view("The database is down"),
        "results with thumbnails": results_message(search, pictured, {2}),
        "digest with a thumbnail": digest_message(pictured.cards[0], ["on “kafka”"], "weekly"),
        "digest with a thumbnail, hostile": digest_message(hostile_pictured, ["on “kafka”"], "weekly"),
        "for you with thumbnails": for_you_message(Screen("foryou"), pictured, {1: "You liked “Kafka”"}, set(), None),
        "unfurl with a thumbnail": {**unfurl_blocks(hostile_pictured), "text": "unfurl"},
    }


@pytest.mark.parametrize("name", list(talkbot_messages()))
def test_every_message_talkbot_builds_is_accepted_by_slack_sdks_models_and_the_fake(name):
    message = talkbot_messages()[name]
    is_view = message.get("type") == "home"

    for block in message["blocks"]:
        Block.parse(block).to_dict()  # raises SlackObjectFormationError for what slack_sdk's models refuse
    pointer, most = ("/view/blocks", 100) if is_view else ("/blocks", 50)
    assert block_kit_problems(message["blocks"], pointer=pointer, most=most) == []
    assert is_view or message["text"].strip()
