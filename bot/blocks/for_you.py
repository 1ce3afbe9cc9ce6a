"""For you: the page of talks like the ones a person liked, and the messages of `/talk foryou`."""

from __future__ import annotations

from collections.abc import Collection

from bot.blocks.base import Screen, card_blocks, context, escape, message, notes, page_heading, paging, section, talks
from db.cards import TalkCard
from db.search.engine import ResultPage

FOR_YOU_USAGE = (
    "`/talk foryou` — talks like the ones you saved, watched or liked\n"
    "`/talk foryou weekly [DAY] [TIME] [Area/City]` — one of them in a DM every week, e.g. "
    "`/talk foryou weekly fri 16:00` (defaults: Monday 09:00, your timezone) · `/talk foryou stop`"
)


FOR_YOU_TITLE = "For you"


def for_you_message(
    screen: Screen, page: ResultPage, because: dict[int, str], saved_ids: Collection[int], weekly: str | None,
    note: str | None = None,
) -> dict:  # fmt: skip
    """A private page of For you: each talk with why (the liked talk it is like), paging, and the weekly DM's state
    (`weekly`: its schedule, or None when the user has none)."""
    blocks = [context(f"*For you* · {page_heading(page)} like the ones you saved, watched or liked"),
              *notes([note] if note else [])]  # fmt: skip
    for card in page.cards:
        blocks += card_blocks(card, screen, card.id in saved_ids, shareable=True, because=because.get(card.id))
    blocks += paging(screen, page)
    blocks.append(_for_you_footer(weekly))
    return message(f"For you: {talks(page.total)} like the ones you saved, watched or liked", blocks)


def for_you_empty_message(starters: list[TalkCard], weekly: str | None, note: str | None = None) -> dict:
    """For you with nothing to go on yet: how to get recommendations, and talks to start from."""
    blocks = [
        section("*For you* recommends talks like the ones you *Save*, mark *Watched* or 👍 in Talk of the week — "
                 "and you have not done that with any talk yet (or every talk like them is one you have seen)."),
        *notes([note] if note else []),
    ]  # fmt: skip
    if starters:
        blocks.append(context("Start with one of these:"))
        for card in starters:
            blocks += card_blocks(card, Screen("foryou"), saved=False, shareable=True)
    blocks.append(_for_you_footer(weekly))
    return message("For you: save, watch or vote on talks to get recommendations.", blocks)


def _for_you_footer(weekly: str | None) -> dict:
    if weekly:
        return context(f"Your For you DM: {escape(weekly)} · `/talk foryou stop` ends it")
    return context("Get one of these in a DM every week: `/talk foryou weekly [DAY] [TIME]`")


def for_you_welcome_message(schedule: str, first: str) -> dict:
    """The first DM of For you, posted when someone asks for it: what will arrive here, and when."""
    blocks = [
        section(f"🎯 *For you* will arrive here {escape(schedule)}: a talk like the ones you save, mark *Watched* or "
                 f"👍 — never one you have seen. First one: {escape(first)}."),
        context("`/talk foryou` shows more now · `/talk foryou stop` ends these DMs"),
    ]  # fmt: skip
    return message(f"For you will arrive here {schedule}.", blocks)


def for_you_usage_message(problem: str | None = None) -> dict:
    blocks = [section(f":warning: {escape(problem)}")] if problem else []
    blocks.append(section(FOR_YOU_USAGE))
    return message(problem or "For you: /talk foryou, /talk foryou weekly, /talk foryou stop", blocks)
