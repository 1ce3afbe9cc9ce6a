"""The App Home tab: what talkbot does, the person's saved and watched talks, For you and their channels' digests."""

from __future__ import annotations

from bot.blocks.base import (
    MAX_HOME_BLOCKS,
    MAX_SAVED_SHOWN,
    UNSAVE,
    UNWATCH,
    ButtonValue,
    button,
    card_text,
    context,
    escape,
    section,
)
from bot.blocks.digest import subscription_lines
from bot.blocks.messages import help_examples
from db.cards import TalkCard


def home_view(
    saved: list[TalkCard], subscriptions: list[tuple[str, str, str, str | None]] = (),
    watched: list[TalkCard] = (), for_you: str | None = None,
) -> dict:  # fmt: skip
    """The App Home tab: what talkbot does, how to search, the user's saved and watched talks (each with its undo),
    their For you DM (`for_you`: its schedule, or None) and their channels' digests."""
    examples = help_examples()
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "talkbot"}},
        section(
            "Find the conference talks worth your team's time: search by topic, speaker, event, year or tag. "
            "Results are private until you share them."
        ),  # fmt: skip
        section(f"*Search*\n{examples}"),
        {"type": "divider"},
        *_home_list("*Your saved talks*", saved, "Remove", UNSAVE, "`/talk saved` lists them all.",
                    "Nothing saved yet: press *Save* on any search result."),
        {"type": "divider"},
        *_home_list("*Talks you watched*", watched, "Not watched", UNWATCH,
                    "`/talk watched` lists them all.",
                    "None marked yet: press *Watched* on a talk you have seen, and recommendations leave it out."),
        {"type": "divider"},
        section(f"*For you*\nEvery week in a DM: {escape(for_you)}. `/talk foryou stop` ends it." if for_you else
                 "*For you*\n`/talk foryou` shows talks like the ones you saved, watched or liked; "
                 "`/talk foryou weekly` sends you one every week."),
        {"type": "divider"},
    ]  # fmt: skip
    if subscriptions:
        blocks.append(section("*Talk of the week in your channels*\n" + subscription_lines(list(subscriptions))))
    else:
        blocks.append(section("*Talk of the week*\nNone of your channels gets one yet. In a channel, type "
                               "`/talk digest subscribe`."))  # fmt: skip
    assert len(blocks) <= MAX_HOME_BLOCKS
    return {"type": "home", "blocks": blocks}


def _home_list(heading: str, cards: list[TalkCard], undo: str, action_id: str, more: str, empty: str) -> list[dict]:
    """One of the user's lists on the Home tab: its first MAX_SAVED_SHOWN talks, each with a button to take it off
    (no block_id of ours: a talk on both lists must not repeat one; Slack gives each block its own)."""
    blocks = [section(f"{heading} ({len(cards)})")]
    for card in cards[:MAX_SAVED_SHOWN]:
        talk = section(card_text(card))
        talk["accessory"] = button(undo, action_id, ButtonValue(None, card.id))
        blocks.append(talk)
    if len(cards) > MAX_SAVED_SHOWN:
        blocks.append(context(f"…and {len(cards) - MAX_SAVED_SHOWN} more: {more}"))
    if not cards:
        blocks.append(context(empty))
    return blocks


def home_problem_view(problem: str) -> dict:
    """The App Home tab when its content cannot be read: what went wrong, and how to search meanwhile."""
    examples = help_examples()
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "talkbot"}},
        section(f":warning: {escape(problem)}"),
        section(f"*Search*\n{examples}"),
    ]
    return {"type": "home", "blocks": blocks}
