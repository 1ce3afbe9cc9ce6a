"""What real Slack sends and refuses, through a real `talkbot serve --http`: buttons Slack accepts, answers that land
in the thread they came from, escaped text, edited mentions, Slack Connect members and refused answers."""

import datetime as dt
import json
import uuid

import pytest

from bot.config import SlackSettings
from bot.devtools.slack_payloads import FORM, block_action, group_dm_name, message_event
from bot.digest.runner import DigestRunner
from bot.installations import bot_clients
from db.config import sessions_for
from db.digests import channel_votes, subscription_for
from db.search.engine import SearchEngine
from tests.support.slack_server import TEAM, answers_to, button, buttons, texts, wait_for


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8].upper()


def ask(server, text, **where) -> dict:
    ack, response_url_id = server.command(text, **where)
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    return answer


def talk_ids(answer: dict) -> list[int]:
    return [json.loads(b["value"])["t"] for b in buttons(answer) if b["text"]["text"] == "Save"]


def posted_in(fake, channel, count=1) -> list[dict]:
    return wait_for(lambda: (found := fake.messages_in(channel)) and len(found) >= count and found)


# --- buttons Slack accepts ------------------------------------------------------------------------------------


def test_every_page_of_a_long_search_is_accepted_by_slack(server):
    """Previous and Next share a handler but not an action_id: Slack refuses a block with two equal ids."""
    first = ask(server, "year:2009..2023")
    [second] = answers_to(server.fake, server.click(button(first, "Next results")))
    [third] = answers_to(server.fake, server.click(button(second, "Next results")))

    assert "Talks 11–15 of" in texts(third)
    assert {b["action_id"] for b in buttons(third) if b["text"]["text"] in ("Previous", "Next results")} == {
        "results_page.previous", "results_page.next",
    }  # fmt: skip


@pytest.mark.parametrize("typo", ["dta", "cde", "rby"])  # "clod" and "golang" match since issue 12
def test_a_no_match_answer_with_several_suggestions_is_accepted_by_slack(server, typo):
    answer = ask(server, typo)

    suggestions = [b for b in buttons(answer) if b["block_id"] == "suggestions"]
    assert len(suggestions) >= 2 and len({b["action_id"] for b in suggestions}) == len(suggestions)
    [searched] = answers_to(server.fake, server.click(suggestions[1]))
    assert "No talks match" not in texts(searched)


def test_the_second_page_of_saved_talks_is_accepted_by_slack(server):
    user = new_id("U")
    results = ask(server, "year:2009..2023", user=user)
    for _ in range(2):
        for save in [b for b in buttons(results) if b["text"]["text"] == "Save"]:
            answers_to(server.fake, server.click(save, user=user))
        [results] = answers_to(server.fake, server.click(button(results, "Next results"), user=user))

    saved = ask(server, "saved", user=user)
    [second] = answers_to(server.fake, server.click(button(saved, "Next results"), user=user))
    assert "Your saved talks (10)" in texts(second) and button(second, "Previous")


def test_an_answer_slack_refuses_is_logged_and_replaced_by_a_plain_apology(server, fake):
    fake.fail_next("response_url", "invalid_blocks")
    ack, response_url_id = server.command("kafka")

    [apology] = answers_to(fake, response_url_id)
    assert "Slack would not show my answer" in texts(apology)
    assert "invalid_blocks" in wait_for(lambda: "invalid_blocks" in server.log.read_text() and server.log.read_text())


# --- answers land where the question was ----------------------------------------------------------------------


def test_clicks_on_a_threaded_answer_are_answered_in_that_thread(server, fake):
    channel = new_id("C")
    ack, mention = server.mention("kafka", channel=channel, user="UBOB")
    [answer] = posted_in(fake, channel)
    assert answer["thread_ts"] == mention["ts"]

    where = dict(channel=channel, ephemeral=False, message_ts=answer["ts"], thread_ts=mention["ts"], message=answer)
    for label in ("Save", "More like this"):
        [private] = answers_to(fake, server.click(button(answer, label), user="UCAROL", **where))
        assert private["response_type"] == "ephemeral" and private["thread_ts"] == mention["ts"]


def test_an_edited_mention_is_not_answered_again(server, fake):
    channel = new_id("C")
    ack, original = server.mention("kafka", channel=channel)
    posted_in(fake, channel)

    ack, _ = server.mention("kubernetes", channel=channel, ts=original["ts"], edited=True)
    server.mention("chaos", channel=channel)  # answered: marks that the edit was seen and passed over

    answers = posted_in(fake, channel, count=2)
    assert len(answers) == 2 and "for `chaos`" in json.dumps(answers[1]["blocks"])


def test_a_dm_with_a_file_and_a_query_is_answered(server, fake):
    user = new_id("U")
    server.dm("kafka", user=user, files=["notes.pdf"])

    [answer] = posted_in(fake, "D" + user[1:])
    assert "Scaling Kafka" in json.dumps(answer["blocks"])


# --- text as Slack delivers it --------------------------------------------------------------------------------


def test_slacks_escaping_is_undone_once_so_the_query_means_what_was_typed(server):
    escaped = ask(server, "ops & sre")  # sent as Slack sends it: `ops &amp; sre`
    typed = ask(server, "ops sre")

    assert "for `ops &amp; sre`" in texts(escaped) and "&amp;amp;" not in texts(escaped)
    assert talk_ids(escaped) == talk_ids(typed)


def test_mentions_channel_links_and_labelled_links_are_read_as_words(server, fake):
    channel = new_id("C")
    server.mention("<@U0OTHER> <#C0KAFKA|kafka> <https://example.com/x|scaling>", channel=channel)

    [answer] = posted_in(fake, channel)
    assert "for `kafka scaling`" in json.dumps(answer["blocks"]) and "Scaling Kafka" in json.dumps(answer["blocks"])


# --- Talk of the week where talkbot can post --------------------------------------------------------------------


def test_a_digest_is_only_switched_on_where_talkbot_can_post(server, fake, seeded_database):
    user, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [user])  # talkbot itself was never invited

    refused = ask(server, "digest subscribe weekly mon 09:00 UTC kafka", user=user, channel=channel)
    assert "I am not in this channel" in texts(refused) and "/invite @talkbot" in texts(refused)
    with sessions_for(seeded_database)() as session:
        assert subscription_for(session, TEAM, channel) is None

    fake.set_channel_members(channel, [user, fake.bot_user_id])
    assert "is on for this channel" in texts(ask(server, "digest subscribe weekly mon 09:00 UTC", user=user,
                                                     channel=channel))  # fmt: skip


@pytest.mark.parametrize(
    ("channel", "channel_name"), [("DALICE", "directmessage"), ("GGROUP", group_dm_name("alice", "bob", "carol"))]
)
def test_a_digest_in_a_dm_or_group_dm_is_explained_not_blamed_on_an_invite(server, fake, channel, channel_name):
    answer = ask(server, "digest subscribe", channel=channel, channel_name=channel_name)

    assert "posted in channels, not in direct messages" in texts(answer)
    assert not [call for call in fake.refused() if call.params.get("channel") == channel]  # no mpim:read needed


def test_app_home_lists_digests_of_every_channel_however_slack_pages_them(server, fake):
    user = new_id("U")
    channels = [new_id("C") for _ in range(3)]
    for channel in channels:
        fake.set_channel_members(channel, [user, fake.bot_user_id])
        ask(server, "digest subscribe weekly mon 09:00 UTC", user=user, channel=channel)
    fake.set_page_size_cap(1)  # Slack may answer with short pages before the last
    try:
        server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})
        [home] = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user])
    finally:
        fake.set_page_size_cap(None)
    for channel in channels:
        assert f"<#{channel}>" in json.dumps(home.params["view"])


# --- Slack Connect --------------------------------------------------------------------------------------------


def test_a_vote_from_another_workspace_in_a_shared_channel_steers_that_channels_digest(server, fake, seeded_database):
    subscriber, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [subscriber, fake.bot_user_id])
    ask(server, "digest subscribe weekly mon 09:00 UTC kafka", user=subscriber, channel=channel)
    engine = SearchEngine(sessions_for(seeded_database))
    settings = SlackSettings(bot_token="xoxb-any", signing_secret=None, app_token=None, api_url=fake.api_url)
    with sessions_for(seeded_database)() as session:
        due = subscription_for(session, TEAM, channel).next_run_at.replace(tzinfo=dt.UTC)
    DigestRunner(engine.sessions, engine, bot_clients(settings, None)).run_due(now=due + dt.timedelta(minutes=1))
    [post] = posted_in(fake, channel)

    guest = new_id("U")
    [thanks] = answers_to(fake, server.click(button(post, "👍"), user=guest, user_team="TPARTNER", channel=channel,
                                             ephemeral=False, message_ts=post["ts"], message=post))  # fmt: skip

    assert "Thanks" in texts(thanks)
    talk_id = json.loads(button(post, "👍")["value"])["t"]
    with sessions_for(seeded_database)() as session:
        assert channel_votes(session, TEAM, channel) == {talk_id: 1}
        assert channel_votes(session, "TPARTNER", channel) == {}


# --- replays and values that do not fit -------------------------------------------------------------------------


def test_a_replayed_share_click_posts_once(server, fake):
    """A signed request stays valid for five minutes; whoever captured one may send it again. Share is done once."""
    results = ask(server, "kafka", user=new_id("U"))
    share = button(results, "Share")
    response_url = fake.response_url()
    body = block_action(share, user_id="UALICE", team_id=TEAM, channel_id="CGENERAL", response_url=response_url,
                        is_ephemeral=True)  # fmt: skip
    for _ in range(3):
        assert server.post(body, FORM).status == 200
    answers_to(fake, response_url.rsplit("/", 1)[1], count=2)  # the public post and the redrawn private list

    wait_for(lambda: server.log.read_text().count("share: a repeated delivery, already handled") == 2)
    posts = [c for c in fake.calls_to("response_url") if c.response_url_id == response_url.rsplit("/", 1)[1]]
    assert [c.params.get("response_type") for c in posts].count("in_channel") == 1


def test_a_page_past_the_end_is_a_stale_button_not_an_empty_page(server):
    past = {"action_id": "results_page.next", "value": json.dumps({"s": {"k": "search", "q": "kafka", "o": 10_000,
                                                                         "t": 0}, "t": 0, "q": ""})}  # fmt: skip
    [answer] = answers_to(server.fake, server.click(past))

    assert "no longer works" in texts(answer) and "Talks 10001" not in texts(answer)


@pytest.mark.parametrize("talk_id", [2**31 - 1, 2**31])
def test_a_talk_id_beyond_the_database_integers_is_a_stale_button(server, talk_id):
    [answer] = answers_to(server.fake, server.click({"action_id": "talk_save", "value": json.dumps({"t": talk_id})}))

    assert "no longer works" in texts(answer)


def test_an_event_id_longer_than_slack_sends_is_still_answered_once(server, fake):
    user = new_id("U")
    event = message_event("kafka", user_id=user, channel_id="D" + user[1:])
    repeats = server.log.read_text().count("direct_message: a repeated delivery")
    for retry in range(2):
        assert server.event(event, event_id=f"Ev{user}" + "X" * 200, retry=retry).status == 200

    wait_for(lambda: server.log.read_text().count("direct_message: a repeated delivery") == repeats + 1)
    assert len(posted_in(fake, "D" + user[1:])) == 1


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("kafka " * 100, "characters"),
        ("kafka\x00streams", "is on for this channel: every Monday at 09:00 (UTC) on “kafka streams”"),
    ],
)
def test_a_digest_topic_too_long_or_with_a_nul_byte_is_handled_before_the_database(server, fake, topic, expected):
    user, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [user, fake.bot_user_id])

    answer = ask(server, f"digest subscribe weekly mon 09:00 UTC {topic}", user=user, channel=channel)

    assert expected in texts(answer) and "did not answer" not in texts(answer)


# --- what is not a search -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["🚀🔥", "?!", "…"])
def test_emoji_or_punctuation_alone_gets_the_help_card_not_the_whole_catalog(server, text):
    answer = ask(server, text)

    assert "speaker:" in texts(answer) and "Talks 1–" not in texts(answer)


@pytest.mark.parametrize(("text", "opening"), [("hi", "Hi!"), ("hello talkbot", "Hi!"), ("thanks!", "welcome")])
def test_a_greeting_or_thanks_in_a_dm_gets_a_friendly_word_and_two_searches_to_try(server, fake, text, opening):
    user = new_id("U")
    server.dm(text, user=user)

    [answer] = posted_in(fake, "D" + user[1:])
    assert opening in json.dumps(answer["blocks"]) and "`kafka`" in json.dumps(answer["blocks"])
    assert "Talks 1–" not in json.dumps(answer["blocks"])
