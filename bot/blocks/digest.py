"""Talk of the week: the channel post, its preview, and the messages of `/talk digest`."""

from __future__ import annotations

from bot.blocks.base import (
    MAX_ALT_TEXT,
    MORE_LIKE_THIS,
    SAVE,
    VOTE_DOWN,
    VOTE_UP,
    WATCH,
    ButtonValue,
    button,
    card_text,
    context,
    escape,
    fit,
    message,
    section,
    thumbnail,
)
from db.cards import TalkCard

DIGEST_USAGE = (
    "`/talk digest subscribe [weekly|daily] [DAY] [TIME] [Area/City] [topic]` — e.g. "
    "`/talk digest subscribe weekly mon 09:00 Europe/Berlin sre incident` (TIME like 09:00, 9am, 9:30pm or 21h30; "
    "defaults: weekly, Monday 09:00, your timezone, any topic)\n`/talk digest` — this channel's subscription · "
    "`/talk digest preview` — what comes next · `/talk digest unsubscribe`"
)


def digest_message(card: TalkCard, reasons: list[str], cadence: str, title: str | None = None) -> dict:
    """The digest post: the talk (its thumbnail large beneath it, when it has one), why it was picked, and buttons to
    save it, find more, mark it watched or vote on it. `title`: a person's For you DM names itself; a channel's
    digest is Talk of the week (or day)."""
    title = title or digest_title(cadence)
    talk = ButtonValue(None, card.id)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"🎤 {title}"}},
        section(card_text(card)),
        *_picture(card),
        context("Why this one: " + " ".join(escape(reason) for reason in reasons)),
        {
            "type": "actions",
            "block_id": f"digest-{card.id}",
            "elements": [
                button("Save", SAVE, talk),
                button("More like this", MORE_LIKE_THIS, talk),
                button("Watched", WATCH, talk),
                button("👍", VOTE_UP, talk),
                button("👎", VOTE_DOWN, talk),
            ],
        },
    ]
    return message(f"{title}: {card.title}", blocks)


def _picture(card: TalkCard) -> list[dict]:
    """The thumbnail shown large, under the talk: an image block, titled with the talk's title."""
    image = thumbnail(card)
    if image is None:
        return []
    title = {"type": "plain_text", "text": fit(card.title, MAX_ALT_TEXT), "emoji": True}
    return [{"type": "image", "image_url": image["image_url"], "alt_text": image["alt_text"], "title": title}]


def digest_preview_message(card: TalkCard, reasons: list[str], cadence: str, when: str) -> dict:
    """The next digest post as it will look, shown to one person, saying it is a preview and when it comes."""
    post = digest_message(card, reasons, cadence)
    post["blocks"].insert(0, context(escape(f"Preview, only for you: this channel gets this on {when}")))
    return post


def digest_title(cadence: str) -> str:
    return "Talk of the week" if cadence == "weekly" else "Talk of the day"


def digest_usage_message(problem: str | None = None) -> dict:
    blocks = [section(f":warning: {escape(problem)}")] if problem else []
    blocks.append(section(DIGEST_USAGE))
    return message(problem or "Talk of the week: /talk digest subscribe", blocks)


def subscription_lines(subscriptions: list[tuple[str, str, str, str | None]]) -> str:
    """(channel id, schedule, topic, paused reason) as mrkdwn lines."""
    lines = []
    for channel_id, schedule, topic, paused in subscriptions:
        about = f" on “{escape(topic)}”" if topic else " on what the channel is about (its name, topic and purpose)"
        state = f" — *paused*: {escape(paused)}" if paused else ""
        lines.append(f"<#{channel_id}>: {schedule}{about}{state}")
    return "\n".join(lines)
