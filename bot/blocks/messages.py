"""The answers to a search and to a person: result pages, talks like one talk, the saved and watched lists, a shared
talk, an unfurl, help, greetings, problems and notices."""

from __future__ import annotations

from collections.abc import Collection

from bot.blocks.base import (
    MAX_OFFSET,
    PAGE_SIZE,
    SEARCH_FOR,
    SHOW_PAGE,
    ButtonValue,
    Screen,
    button,
    card_blocks,
    card_section,
    context,
    escape,
    message,
    notes,
    page_heading,
    paging,
    section,
    talks,
)
from db.cards import TalkCard
from db.search.engine import ResultPage

HELP_EXAMPLES = (
    ("/talk kafka", "talks about a topic"),
    ("/talk kafak", "typos are fine"),
    ("/talk k8s", "so are abbreviations: k8s, o11y, pg, sre, faas…"),
    ('/talk speaker:"liz fong-jones"', "by a speaker (quotes for several words)"),
    ("/talk event:srecon incident", "at an event"),
    ("/talk year:2015..2019 tag:kubernetes", "by year or year range, and by tag"),
    ("/talk kafka has:video is:recommended", "only talks with a video, only recommended ones"),
    ("/talk kafka length:<30", "under 30 minutes (also length:>45, length:20..45; unknown lengths never match)"),
    ("/talk kafka is:short", "at most 20 minutes · `is:long`: at least 45"),
    ("/talk kafka lang:de", "in a language (two-letter code: de, fr, es, pt…)"),
    ("/talk kafka sort:newest", "the newest first (by event year, then recording date)"),
    ("/talk saved", "the talks you saved"),
    ("/talk watched", "the talks you marked as watched"),
    ("/talk foryou", "talks like the ones you saved, watched or liked"),
    ('/talk follow speaker:"liz fong-jones"', "a DM when an import adds matching talks (any search works)"),
    ("/talk following", "what you follow · `/talk unfollow 2` stops one"),
    ("/talk digest subscribe weekly mon 09:00 Europe/Berlin sre", "Talk of the week in this channel"),
)


def help_examples() -> str:
    """The examples, one a line, escaped: `length:<30` and `length:>45` on one card must not read as a link."""
    return "\n".join(f"`{escape(command)}` — {escape(meaning)}" for command, meaning in HELP_EXAMPLES)


def results_message(
    screen: Screen, page: ResultPage, saved_ids: Collection[int], note: str | None = None,
    watched_ids: Collection[int] = (),
) -> dict:  # fmt: skip
    """A private page of search results with Share / Save / More like this / Watched, and paging."""
    heading = f"{page_heading(page)} for `{escape(screen.query)}`"
    blocks = [context(heading), *notes(([note] if note else []) + page.notes + _dropped_note(page))]
    for card in page.cards:
        blocks += card_blocks(card, screen, card.id in saved_ids, shareable=True, watched=card.id in watched_ids)
    blocks += paging(screen, page)
    return message(f"{talks(page.total)} for “{screen.query}”", blocks)


def _dropped_note(page: ResultPage) -> list[str]:
    return (
        [f"No talk matches every word, so these ignore “{' '.join(page.dropped_words)}”."] if page.dropped_words else []
    )


def public_results_message(query: str, page: ResultPage) -> dict:
    """Results posted in a DM or a thread: Save and More like this answer the clicker privately."""
    blocks = [context(f"{page_heading(page)} for `{escape(query)}`")]
    blocks += notes(page.notes + _dropped_note(page))
    for card in page.cards:
        blocks += card_blocks(card, None, saved=False, shareable=False)
    if page.has_more and page.offset + len(page.cards) <= MAX_OFFSET:
        more = ButtonValue(Screen("search", query, page.offset + len(page.cards)))
        more_button = button("Next results", f"{SHOW_PAGE}.next", more)
        blocks.append({"type": "actions", "block_id": "paging", "elements": [more_button]})
    return message(f"{talks(page.total)} for “{query}”", blocks)


def no_match_message(query: str, page: ResultPage, starters: list[TalkCard]) -> dict:
    """Nothing matched: say so, offer catalog words that are close, and a few talks to start from."""
    blocks = [section(f"No talks match `{escape(query)}`."), *notes(page.notes)]
    if page.suggestions:
        blocks.append(context("Did you mean:"))
        blocks.append(
            {
                "type": "actions",
                "block_id": "suggestions",
                "elements": [
                    button(word, f"{SEARCH_FOR}.{number}", ButtonValue(None, query=word))
                    for number, word in enumerate(page.suggestions)
                ],
            }
        )
    if starters:
        blocks.append(context("Or start with one of these:"))
        for card in starters:
            blocks += card_blocks(card, None, saved=False, shareable=False)
    blocks.append(context("Type `/talk help` for examples of every filter."))
    return message(f"No talks match “{query}”.", blocks)


def similar_message(
    source: TalkCard, screen: Screen, page: ResultPage, saved_ids: Collection[int], note: str | None = None
) -> dict:
    """Talks like one talk (the person's watched talks left out)."""
    blocks = [context(f"Talks like *{escape(source.title)}*"), *notes([note] if note else [])]
    for card in page.cards:
        blocks += card_blocks(card, screen, card.id in saved_ids, shareable=True)
    if not page.cards:
        blocks.append(section("No other talk in the catalog is much like this one yet."))
    if screen.query:
        back = ButtonValue(Screen("search", screen.query, screen.offset))
        back_button = button("Back to results", f"{SHOW_PAGE}.back", back)
        blocks.append({"type": "actions", "block_id": "paging", "elements": [back_button]})
    return message(f"Talks like “{source.title}”", blocks)


LISTS = {  # a list screen's heading, and what an empty one says
    "saved": ("Your saved talks", "You have not saved any talks yet. Press *Save* on a search result to keep it here."),
    "watched": ("Talks you watched", "You have not marked any talk as watched yet. Press *Watched* on a search "
                "result: “More like this” and `/talk foryou` then leave it out."),
}  # fmt: skip


def saved_message(
    cards: list[TalkCard], offset: int = 0, note: str | None = None, watched_ids: Collection[int] = ()
) -> dict:
    """The user's saved talks, a page at a time, newest first."""
    return _list_message("saved", cards, offset, note, lambda card: (True, card.id in watched_ids))


def watched_message(
    cards: list[TalkCard], offset: int = 0, note: str | None = None, saved_ids: Collection[int] = ()
) -> dict:
    """The talks the user marked as watched, a page at a time, newest first."""
    return _list_message("watched", cards, offset, note, lambda card: (card.id in saved_ids, True))


def _list_message(kind: str, cards: list[TalkCard], offset: int, note: str | None, marks) -> dict:
    """One of the user's lists; `marks(card)` is (saved, watched) for its buttons."""
    screen = Screen(kind, offset=offset)
    page = ResultPage(cards=cards[offset : offset + PAGE_SIZE], total=len(cards), offset=offset)
    heading, empty = LISTS[kind]
    blocks = [context(f"{heading} ({len(cards)})")]
    if note:
        blocks.append(context(escape(note)))
    for listed in page.cards:
        saved, watched = marks(listed)
        blocks += card_blocks(listed, screen, saved=saved, shareable=True, watched=watched)
    if not cards:
        blocks.append(section(empty))
    blocks += paging(screen, page)
    return message(f"{heading} ({len(cards)})", blocks)


def shared_message(card: TalkCard, user_id: str) -> dict:
    """The talk, posted for everyone in the channel, crediting who shared it."""
    blocks = [context(f"<@{user_id}> shared a talk")] + card_blocks(card, None, saved=False, shareable=False)
    return message(f"Shared a talk: {card.title}", blocks)


def unfurl_blocks(card: TalkCard) -> dict:
    """A catalog talk's preview under a message that links to it (chat.unfurl): the card, without buttons (a click
    on an unfurl is not tied to a search this bot could page or redraw)."""
    return {"blocks": [card_section(card), context("🎤 talkbot · `/talk` finds more talks like this")]}


def help_message(public: bool = False) -> dict:
    """The examples card; `public` when it is posted in a conversation (a thread, a DM), so it promises no privacy."""
    examples = help_examples()
    privacy = (
        "My answers here are posted in the conversation; `/talk` shows results only to you until you press *Share*."
        if public
        else "Only you see the results until you press *Share*."
    )
    blocks = [
        section(f"*talkbot finds conference talks worth your time.*\n{privacy}"),
        section(examples),
        context("You can also send me a direct message, or mention me in a channel: `@talkbot kafka`."),
    ]
    return message('talkbot: /talk kafka, /talk speaker:"name", /talk year:2019, /talk tag:kafka', blocks)


def greeting_message(thanks: bool) -> dict:
    """A friendly word back for a hello or a thank-you, with two searches to try."""
    opening = "You're welcome!" if thanks else "Hi! I find conference talks worth your time."
    blocks = [
        section(f"{opening} Tell me a topic, a speaker or an event, for example:"),
        section('`kafka` — talks about a topic\n`speaker:"liz fong-jones"` — talks by a speaker'),
        context("Type `help` for every filter."),
    ]
    return message(f"{opening} Try: kafka", blocks)


def problem_message(problem: str) -> dict:
    """A query we could not understand, or something that went wrong: what happened and what to do."""
    blocks = [section(f":warning: {escape(problem)}"), context("Type `/talk help` for examples.")]
    return message(problem, blocks)


def notice_message(text: str) -> dict:
    return message(text, [section(escape(text))])
