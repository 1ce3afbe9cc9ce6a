"""The message shortcut "Find talks about this": signed `message_action` requests to talkbot's HTTP app (in-process),
answers observed at the fake Slack and checked against slack_sdk's Block Kit models."""

import re
import uuid

import pytest
from slack_sdk.models.blocks import Block

from bot.answers import NOTHING_TO_SEARCH
from bot.blocks.base import MAX_BLOCKS, MAX_TEXT
from bot.devtools.slack_payloads import new_ts
from bot.listeners.shortcuts import FIND_TALKS_ABOUT_THIS
from bot.slack_text import message_text, written_text
from db.search.query import MAX_QUERY_CHARS, MAX_WORDS, intent_query, parse_query
from tests.support.slack_server import answers_to, buttons, texts
from tests.test_console import console_answers

LONG_MESSAGE = (
    "Hey team :wave: we're seeing weird latency again after the upgrade, same as last week.\n"
    "```\nERROR consumer lag=12345 partition=7\n  at org.apache.clients.Consumer.poll(Consumer.java:42)\n```\n"
    "See <https://grafana.example.com/d/abc|the dashboard> and <https://runbooks.example.com/lag>. "
    + "I think we need to rethink how we run `kubernetes` for stateful services, maybe with operators? The on-call "
    "rotation is burning people out too; anything on incident response and observability would help. " * 4
)


def find_talks_about(server, text: str, **where) -> dict:
    ack, response_url_id = server.shortcut(
        text, FIND_TALKS_ABOUT_THIS, user="U" + uuid.uuid4().hex[:8].upper(), **where
    )
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    _assert_valid_block_kit(answer)
    return answer


def searched_for(answer: dict) -> str:
    """The query a results page says it searched for (its heading: "3 talks for `kafka scaling`")."""
    return re.search(r"for `([^`]*)`", answer["blocks"][0]["elements"][0]["text"]).group(1)


def _assert_valid_block_kit(message: dict) -> None:
    assert message["text"].strip() and 0 < len(message["blocks"]) <= MAX_BLOCKS
    for block in message["blocks"]:
        assert Block.parse(block).to_dict() == block  # raises SlackObjectFormationError for what Slack refuses
        for text in [block.get("text", {}).get("text", "")] + [e.get("text", "") for e in block.get("elements", [])]:
            assert len(text if isinstance(text, str) else text["text"]) <= MAX_TEXT


def test_a_message_gets_talks_about_it_privately_with_their_buttons(server):
    answer = find_talks_about(server, "Our kafka consumers keep lagging in production, any advice on scaling them?")

    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "thread_ts" not in answer
    sections = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    assert sections[0].startswith("*Scaling Kafka*")
    assert {"Share", "Save", "More like this"} <= {b["text"]["text"] for b in buttons(answer)}


def test_a_message_in_a_thread_is_answered_in_that_thread(server):
    parent = new_ts()
    answer = find_talks_about(server, "anyone seen a good talk on kubernetes?", thread_ts=parent)

    assert answer["thread_ts"] == parent and answer["response_type"] == "ephemeral"
    assert "From Borg to Kubernetes" in texts(answer)


def test_an_answer_slack_refuses_becomes_a_try_again_note_in_the_same_thread(server, fake):
    parent = new_ts()
    fake.fail_next("response_url", "invalid_blocks")
    ack, response_url_id = server.shortcut("kafka at scale", FIND_TALKS_ABOUT_THIS, thread_ts=parent)

    assert ack.status == 200
    [note] = answers_to(fake, response_url_id)  # the refused answer never reached anyone; the note did
    assert note["thread_ts"] == parent and note["response_type"] == "ephemeral" and "try again" in texts(note)


def test_a_long_message_with_code_and_links_is_cut_to_its_most_telling_words(server):
    answer = find_talks_about(server, LONG_MESSAGE)

    query = searched_for(answer)
    assert len(query) <= MAX_QUERY_CHARS and len(query.split()) <= MAX_WORDS
    for noise in ("apache", "poll", "partition", "grafana", "example", "https", "wave", "we", "the"):
        assert noise not in query.split()  # code, links, emoji and everyday words are not what the message is about
    assert "kubernetes" in query.split() and "observability" in query.split()
    assert "characters long" not in texts(answer) and "words (counting" not in texts(answer)


@pytest.mark.parametrize(
    "text", [":tada: :+1::skin-tone-2: 🎉🚀", "<https://example.com/some/page>", "```\nls -la\n```", "thanks, you too!"]
)
def test_a_message_with_nothing_to_search_gets_a_private_note(server, text):
    answer = find_talks_about(server, text)

    assert answer["response_type"] == "ephemeral" and NOTHING_TO_SEARCH in texts(answer)


def test_the_console_runs_the_shortcut_on_a_message(seeded_database):
    [results, nothing] = console_answers(seeded_database, ["shortcut how do you scale kafka?", "shortcut :tada:"])

    assert "only you can see this" in results and "Scaling Kafka" in results
    assert "nothing to search for" in nothing


# --- the query made from a message (Slack-free) ---------------------------------------------------------------


def test_a_message_keeps_its_prose_and_loses_code_emoji_and_bare_links():
    text = message_text(
        "fix :fire: in `kafka` &amp; <https://x.io|the docs>\n```\nnpm install\n```\n<https://y.io> <@U1>"
    )
    assert text == "fix in kafka & the docs"


def test_an_intent_query_keeps_known_rare_words_first_and_stays_within_the_limits():
    frequencies = {"kafka": 3, "scale": 40, "production": 90}
    prose = "we want to scale kafka in production: " + " ".join(f"word{n}x" for n in range(30)) + ' speaker:"x'
    query = intent_query(prose, frozenset({"to", "in"}), lambda term: frequencies.get(term, 0))

    assert query.split()[:3] == ["scale", "kafka", "production"]  # the known words, kept in the order written
    assert len(query.split()) == MAX_WORDS and "speaker" not in query and '"' not in query
    assert parse_query(query).words  # a query the parser accepts as it is, filters and quotes gone


def test_an_intent_query_of_very_long_words_still_fits_the_character_limit():
    query = intent_query(" ".join(f"{n}{'a' * 60}" for n in range(12)), frozenset(), lambda term: 0)
    assert 0 < len(query) <= MAX_QUERY_CHARS and parse_query(query).words


def test_a_message_made_only_of_blocks_or_attachments_is_read_from_them():
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Kafka* outage"},
            "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}},
        },
        {
            "type": "rich_text",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "consumer lag"}]}],
        },
    ]
    assert written_text({"text": "", "blocks": blocks}) == "*Kafka* outage\nconsumer lag"
    assert written_text({"attachments": [{"fallback": "disk full", "text": "disk full on db-1"}]}).startswith("disk")
    assert written_text({"text": "kafka", "blocks": blocks}) == "kafka"
