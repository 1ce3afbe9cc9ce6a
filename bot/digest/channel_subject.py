"""What a channel is about, for a Talk of the week subscribed without a topic: `#team-kafka` gets Kafka talks.

The channel's name, topic and purpose (Slack's conversations.info) are read when a digest is picked or previewed,
never stored, so a renamed or re-purposed channel gets talks about what it is about now."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_text import message_text

log = logging.getLogger(__name__)

# Words that channel naming conventions add and that say nothing about a subject (#team-payments, #ask-sre,
# #proj-search-2024, #ext-acme, #general): left out of the name before it becomes a query.
CHANNEL_WORDS = frozenset(
    "team teams squad guild tribe chapter wg group dept org proj project prj ext external int internal shared ask help "
    "helpdesk support discuss discussion discussions chat talk talks general random social fun watercooler offtopic "
    "announce announcements news updates feed alerts notifications bots bot test tmp temp old archive private public "
    "all company staff eng engineering dev devs channel room lounge corner club questions".split()
)


@dataclass(frozen=True)
class ChannelAbout:
    """What Slack says a channel is about."""

    name: str
    topic: str = ""
    purpose: str = ""


@dataclass(frozen=True)
class DigestTopic:
    """What a digest searches for, and where that came from: `origin` is empty for a topic the subscriber wrote, else
    the parts of the channel it was read from ("its name and purpose"); `unread` when Slack would not describe it."""

    query: str
    origin: str = ""
    unread: bool = False

    @property
    def derived(self) -> bool:
        return bool(self.origin) or self.unread


def digest_topic(
    topic: str, about: Callable[[], ChannelAbout | None], intent_query: Callable[[str], str]
) -> DigestTopic:
    """The subscriber's topic when there is one; otherwise the channel's own subject (asking Slack only then)."""
    if topic:
        return DigestTopic(topic)
    described = about()
    if described is None:
        return DigestTopic("", unread=True)
    return channel_subject(described, intent_query)


def channel_subject(about: ChannelAbout, intent_query: Callable[[str], str]) -> DigestTopic:
    """A query for the channel's subject: the telling words of its name (convention words dropped), topic and
    purpose, as for any prose (db/search/query.py intent_query keeps the most informative). Empty when none tells."""
    name_words = [word for word in re.split(r"[-_.\s]+", about.name.lower()) if word and word not in CHANNEL_WORDS]
    parts = {"name": " ".join(name_words), "topic": message_text(about.topic), "purpose": message_text(about.purpose)}
    telling = {part: intent_query(text) for part, text in parts.items() if text}
    telling = {part: words for part, words in telling.items() if words}
    if not telling:
        return DigestTopic("", origin="")
    query = intent_query(" ".join(parts[part] for part in telling))
    return DigestTopic(query, origin="its " + _and(list(telling)))


def read_channel_about(client: WebClient, channel_id: str) -> ChannelAbout | None:
    """The channel's name, topic and purpose, or None when Slack will not say (not found, a missing scope)."""
    try:
        channel = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as error:
        log.info("could not read what channel %s is about: %s", channel_id, error.response.get("error"))
        return None
    return ChannelAbout(
        channel.get("name") or "",
        (channel.get("topic") or {}).get("value") or "",
        (channel.get("purpose") or {}).get("value") or "",
    )


def describe(topic: DigestTopic) -> str:
    """How a digest's subject reads in a status line, a preview or a reason: what it is about and where that came
    from."""
    if not topic.derived:
        return f"on “{topic.query}”"
    if topic.unread:
        return "on any topic, since I cannot read this channel's name, topic or purpose"
    if not topic.query:
        return "on any topic, since this channel's name, topic and purpose name no subject"
    return f"on what this channel is about, from {topic.origin}: “{topic.query}”"


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
