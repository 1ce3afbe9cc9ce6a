"""Every Block Kit payload talkbot sends, built in one place, within Slack's limits and with catalog text escaped.

Private (ephemeral) messages carry their own state in the button values, so any button can redraw the message
in place: a `Screen` says what the message shows (a search page, talks like one talk, the saved or watched list,
For you).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote

from db.cards import TalkCard
from db.models import RECOMMENDED
from db.search.engine import ResultPage

# Slack's limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_TEXT = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_SAVED_SHOWN = 20
MAX_OFFSET = 10_000  # the furthest page a button may ask for
MAX_TALK_ID = 2**31 - 1  # talk ids are 32-bit integers in the database
PAGE_SIZE = 5

# Action ids: the listeners in bot/listeners/ register one handler each. Slack refuses a message (`invalid_blocks`)
# when two buttons of one block share an action_id, so buttons that share a handler get a suffix: `results_page.next`.
SHARE = "talk_share"
SAVE = "talk_save"
UNSAVE = "talk_unsave"
WATCH = "talk_watch"
UNWATCH = "talk_unwatch"
MORE_LIKE_THIS = "talk_more_like_this"
SHOW_PAGE = "results_page"
SEARCH_FOR = "search_for"
VOTE_UP = "digest_vote_up"
VOTE_DOWN = "digest_vote_down"


def action_ids(handler: str) -> re.Pattern:
    """Every action_id one handler answers: `handler` itself and `handler.<suffix>`."""
    return re.compile(rf"^{re.escape(handler)}(\.[\w-]+)?$")


HELP_EXAMPLES = (
    ("/talk kafka", "talks about a topic"),
    ("/talk kafak", "typos are fine"),
    ("/talk k8s", "so are abbreviations: k8s, o11y, pg, sre, faas…"),
    ('/talk speaker:"liz fong-jones"', "by a speaker (quotes for several words)"),
    ("/talk event:srecon incident", "at an event"),
    ("/talk year:2015..2019 tag:kubernetes", "by year or year range, and by tag"),
    ("/talk kafka has:video is:recommended", "only talks with a video, only recommended ones"),
    ("/talk saved", "the talks you saved"),
    ("/talk watched", "the talks you marked as watched"),
    ("/talk foryou", "talks like the ones you saved, watched or liked"),
    ('/talk follow speaker:"liz fong-jones"', "a DM when an import adds matching talks (any search works)"),
    ("/talk following", "what you follow · `/talk unfollow 2` stops one"),
    ("/talk digest subscribe weekly mon 09:00 Europe/Berlin sre", "Talk of the week in this channel"),
)

DIGEST_USAGE = (
    "`/talk digest subscribe [weekly|daily] [DAY] [TIME] [Area/City] [topic]` — e.g. "
    "`/talk digest subscribe weekly mon 09:00 Europe/Berlin sre incident` (TIME like 09:00, 9am, 9:30pm or 21h30; "
    "defaults: weekly, Monday 09:00, your timezone, any topic)\n`/talk digest` — this channel's subscription · "
    "`/talk digest preview` — what comes next · `/talk digest unsubscribe`"
)

FOR_YOU_USAGE = (
    "`/talk foryou` — talks like the ones you saved, watched or liked\n"
    "`/talk foryou weekly [DAY] [TIME] [Area/City]` — one of them in a DM every week, e.g. "
    "`/talk foryou weekly fri 16:00` (defaults: Monday 09:00, your timezone) · `/talk foryou stop`"
)
SCREENS = ("search", "similar", "saved", "watched", "foryou")
FOR_YOU_TITLE = "For you"


def escape(text: str) -> str:
    """Make catalog text inert in mrkdwn: no <!channel>, no <@user>, no fake links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(url: str) -> str:
    """A URL that cannot end the <url|label> link early, nor start like a mention (<!here|…>, <@U1|…>)."""
    return quote(url[:1], safe="") + quote(url[1:], safe=":/?#[]@!$&'()*+,;=%~-._")


def _whole(value: object, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


@dataclass(frozen=True)
class Screen:
    """What a private message shows; encoded into its buttons so a click can redraw it."""

    kind: str  # one of SCREENS
    query: str = ""
    offset: int = 0
    talk_id: int = 0

    def encode(self) -> dict:
        return {"k": self.kind, "q": self.query, "o": self.offset, "t": self.talk_id}

    @classmethod
    def decode(cls, data: object) -> Screen:
        """Rebuild a screen from a button value, which is user-controlled: validate every field."""
        if not isinstance(data, dict):
            raise ValueError("not a screen")
        if not set(data) <= {"k", "q", "o", "t"}:
            raise ValueError("unknown field")
        kind, query, offset, talk_id = data.get("k"), data.get("q", ""), data.get("o", 0), data.get("t", 0)
        if kind not in SCREENS or not isinstance(query, str):
            raise ValueError("unknown screen")
        if not _whole(offset, MAX_OFFSET) or not _whole(talk_id, MAX_TALK_ID):
            raise ValueError("bad number")
        return cls(kind, query, offset, talk_id)


@dataclass(frozen=True)
class ButtonValue:
    screen: Screen | None
    talk_id: int = 0
    query: str = ""

    def encode(self) -> str:
        """Compact JSON within Slack's 2,000-character limit: long queries are shortened, never cut mid-JSON."""
        screen, query = self.screen, self.query
        while True:
            data = {"s": screen.encode() if screen else None, "t": self.talk_id, "q": query}
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            if len(text) <= MAX_BUTTON_VALUE:
                return text
            query = query[: len(query) // 2]
            if screen:
                screen = Screen(screen.kind, screen.query[: len(screen.query) // 2], screen.offset, screen.talk_id)

    @classmethod
    def decode(cls, value: str) -> ButtonValue:
        """Raises ValueError for anything that talkbot did not write."""
        try:
            data = json.loads(value)
        except (TypeError, RecursionError, json.JSONDecodeError) as error:
            raise ValueError("not JSON") from error
        if not isinstance(data, dict) or not set(data) <= {"s", "t", "q"}:
            raise ValueError("not a button value talkbot wrote")  # e.g. one naming a workspace of its choosing
        talk_id, query = data.get("t", 0), data.get("q", "")
        if not _whole(talk_id, MAX_TALK_ID):
            raise ValueError("bad talk id")
        if not isinstance(query, str):
            raise ValueError("bad query")
        screen = Screen.decode(data["s"]) if data.get("s") is not None else None
        return cls(screen, talk_id, query)


def _button(text: str, action_id: str, value: ButtonValue, style: str | None = None) -> dict:
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": fit(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value.encode(),
    }
    if style:
        button["style"] = style
    return button


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text)}]}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text)}}


def card_text(card: TalkCard, summary_limit: int = 200) -> str:
    """A talk as mrkdwn: linked title, who/where/what, one line of summary; catalog text escaped."""
    title = f"*<{safe_url(card.url)}|{escape(card.title)}>*" if card.url else f"*{escape(card.title)}*"
    details = [", ".join(escape(name) for name in card.speakers)] if card.speakers else []  # none known: no part
    if card.event_label:
        details.append(escape(card.event_label))
    if card.talk_type != "talk":
        details.append(card.talk_type)
    if card.verdict == RECOMMENDED:  # only praise is shown: a mixed or negative verdict needs its note to be fair
        details.append("⭐ recommended by a reporter")
    lines = [title, " · ".join(details)]
    if card.summary:
        lines.append(escape(card.one_line_summary(summary_limit)))
    if card.video_url and card.video_url != card.url:
        lines.append(f"<{safe_url(card.video_url)}|▶ Video>")
    return "\n".join(lines)


def _card_blocks(
    card: TalkCard, screen: Screen | None, saved: bool, shareable: bool, watched: bool = False,
    because: str | None = None,
) -> list[dict]:  # fmt: skip
    """A talk and its buttons; `because`: why it is recommended (For you), under the talk."""
    talk = ButtonValue(screen, card.id)
    buttons = []
    if shareable:
        buttons.append(_button("Share", SHARE, talk, "primary"))
    buttons.append(_button("Saved ✓", UNSAVE, talk) if saved else _button("Save", SAVE, talk))
    buttons.append(_button("More like this", MORE_LIKE_THIS, talk))
    buttons.append(_button("Watched ✓", UNWATCH, talk) if watched else _button("Watched", WATCH, talk))
    why = [_context(escape(because))] if because else []
    return [_section(card_text(card)), *why, {"type": "actions", "block_id": f"talk-{card.id}", "elements": buttons}]


def _message(text: str, blocks: list[dict]) -> dict:
    """The text is the notification's fallback, and as inert as the blocks."""
    assert len(blocks) <= MAX_BLOCKS, f"{len(blocks)} blocks"
    return {"text": fit(escape(text), 3000), "blocks": blocks}


def _notes(notes: list[str]) -> list[dict]:
    """What a surface should know about an answer, in one block however many notes a query raises."""
    return [_context(escape("\n".join(notes)))] if notes else []


def results_message(
    screen: Screen, page: ResultPage, saved_ids: Collection[int], note: str | None = None,
    watched_ids: Collection[int] = (),
) -> dict:  # fmt: skip
    """A private page of search results with Share / Save / More like this / Watched, and paging."""
    heading = f"{page_heading(page)} for `{escape(screen.query)}`"
    blocks = [_context(heading), *_notes(([note] if note else []) + page.notes + _dropped_note(page))]
    for card in page.cards:
        blocks += _card_blocks(card, screen, card.id in saved_ids, shareable=True, watched=card.id in watched_ids)
    blocks += _paging(screen, page)
    return _message(f"{talks(page.total)} for “{screen.query}”", blocks)


def talks(count: int) -> str:
    """'1 talk', '12 talks'."""
    return f"{count:,} talk" + ("" if count == 1 else "s")


def page_heading(page: ResultPage) -> str:
    """'1 talk', '3 talks' when the page shows them all; 'Talks 6–10 of 12' when it shows a part."""
    if page.offset == 0 and len(page.cards) >= page.total:
        return talks(page.total)
    return f"Talks {page.offset + 1}–{page.offset + len(page.cards)} of {page.total:,}"


def _dropped_note(page: ResultPage) -> list[str]:
    return (
        [f"No talk matches every word, so these ignore “{' '.join(page.dropped_words)}”."] if page.dropped_words else []
    )


def _paging(screen: Screen, page: ResultPage) -> list[dict]:
    buttons = []
    if page.offset > 0:
        earlier = Screen(screen.kind, screen.query, max(0, page.offset - PAGE_SIZE), screen.talk_id)
        buttons.append(_button("Previous", f"{SHOW_PAGE}.previous", ButtonValue(earlier)))
    if page.has_more and page.offset + len(page.cards) <= MAX_OFFSET:
        later = Screen(screen.kind, screen.query, page.offset + len(page.cards), screen.talk_id)
        buttons.append(_button("Next results", f"{SHOW_PAGE}.next", ButtonValue(later)))
    return [{"type": "actions", "block_id": "paging", "elements": buttons}] if buttons else []


def public_results_message(query: str, page: ResultPage) -> dict:
    """Results posted in a DM or a thread: Save and More like this answer the clicker privately."""
    blocks = [_context(f"{page_heading(page)} for `{escape(query)}`")]
    blocks += _notes(page.notes + _dropped_note(page))
    for card in page.cards:
        blocks += _card_blocks(card, None, saved=False, shareable=False)
    if page.has_more and page.offset + len(page.cards) <= MAX_OFFSET:
        more = ButtonValue(Screen("search", query, page.offset + len(page.cards)))
        more_button = _button("Next results", f"{SHOW_PAGE}.next", more)
        blocks.append({"type": "actions", "block_id": "paging", "elements": [more_button]})
    return _message(f"{talks(page.total)} for “{query}”", blocks)


def no_match_message(query: str, page: ResultPage, starters: list[TalkCard]) -> dict:
    """Nothing matched: say so, offer catalog words that are close, and a few talks to start from."""
    blocks = [_section(f"No talks match `{escape(query)}`."), *_notes(page.notes)]
    if page.suggestions:
        blocks.append(_context("Did you mean:"))
        blocks.append(
            {
                "type": "actions",
                "block_id": "suggestions",
                "elements": [
                    _button(word, f"{SEARCH_FOR}.{number}", ButtonValue(None, query=word))
                    for number, word in enumerate(page.suggestions)
                ],
            }
        )
    if starters:
        blocks.append(_context("Or start with one of these:"))
        for card in starters:
            blocks += _card_blocks(card, None, saved=False, shareable=False)
    blocks.append(_context("Type `/talk help` for examples of every filter."))
    return _message(f"No talks match “{query}”.", blocks)


def similar_message(
    source: TalkCard, screen: Screen, page: ResultPage, saved_ids: Collection[int], note: str | None = None
) -> dict:
    """Talks like one talk (the person's watched talks left out)."""
    blocks = [_context(f"Talks like *{escape(source.title)}*"), *_notes([note] if note else [])]
    for card in page.cards:
        blocks += _card_blocks(card, screen, card.id in saved_ids, shareable=True)
    if not page.cards:
        blocks.append(_section("No other talk in the catalog is much like this one yet."))
    if screen.query:
        back = ButtonValue(Screen("search", screen.query, screen.offset))
        back_button = _button("Back to results", f"{SHOW_PAGE}.back", back)
        blocks.append({"type": "actions", "block_id": "paging", "elements": [back_button]})
    return _message(f"Talks like “{source.title}”", blocks)


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
    blocks = [_context(f"{heading} ({len(cards)})")]
    if note:
        blocks.append(_context(escape(note)))
    for listed in page.cards:
        saved, watched = marks(listed)
        blocks += _card_blocks(listed, screen, saved=saved, shareable=True, watched=watched)
    if not cards:
        blocks.append(_section(empty))
    blocks += _paging(screen, page)
    return _message(f"{heading} ({len(cards)})", blocks)


def for_you_message(
    screen: Screen, page: ResultPage, because: dict[int, str], saved_ids: Collection[int], weekly: str | None,
    note: str | None = None,
) -> dict:  # fmt: skip
    """A private page of For you: each talk with why (the liked talk it is like), paging, and the weekly DM's state
    (`weekly`: its schedule, or None when the user has none)."""
    blocks = [_context(f"*For you* · {page_heading(page)} like the ones you saved, watched or liked"),
              *_notes([note] if note else [])]  # fmt: skip
    for card in page.cards:
        blocks += _card_blocks(card, screen, card.id in saved_ids, shareable=True, because=because.get(card.id))
    blocks += _paging(screen, page)
    blocks.append(_for_you_footer(weekly))
    return _message(f"For you: {talks(page.total)} like the ones you saved, watched or liked", blocks)


def for_you_empty_message(starters: list[TalkCard], weekly: str | None, note: str | None = None) -> dict:
    """For you with nothing to go on yet: how to get recommendations, and talks to start from."""
    blocks = [
        _section("*For you* recommends talks like the ones you *Save*, mark *Watched* or 👍 in Talk of the week — "
                 "and you have not done that with any talk yet (or every talk like them is one you have seen)."),
        *_notes([note] if note else []),
    ]  # fmt: skip
    if starters:
        blocks.append(_context("Start with one of these:"))
        for card in starters:
            blocks += _card_blocks(card, Screen("foryou"), saved=False, shareable=True)
    blocks.append(_for_you_footer(weekly))
    return _message("For you: save, watch or vote on talks to get recommendations.", blocks)


def _for_you_footer(weekly: str | None) -> dict:
    if weekly:
        return _context(f"Your For you DM: {escape(weekly)} · `/talk foryou stop` ends it")
    return _context("Get one of these in a DM every week: `/talk foryou weekly [DAY] [TIME]`")


def for_you_welcome_message(schedule: str, first: str) -> dict:
    """The first DM of For you, posted when someone asks for it: what will arrive here, and when."""
    blocks = [
        _section(f"🎯 *For you* will arrive here {escape(schedule)}: a talk like the ones you save, mark *Watched* or "
                 f"👍 — never one you have seen. First one: {escape(first)}."),
        _context("`/talk foryou` shows more now · `/talk foryou stop` ends these DMs"),
    ]  # fmt: skip
    return _message(f"For you will arrive here {schedule}.", blocks)


def for_you_usage_message(problem: str | None = None) -> dict:
    blocks = [_section(f":warning: {escape(problem)}")] if problem else []
    blocks.append(_section(FOR_YOU_USAGE))
    return _message(problem or "For you: /talk foryou, /talk foryou weekly, /talk foryou stop", blocks)


def shared_message(card: TalkCard, user_id: str) -> dict:
    """The talk, posted for everyone in the channel, crediting who shared it."""
    blocks = [_context(f"<@{user_id}> shared a talk")] + _card_blocks(card, None, saved=False, shareable=False)
    return _message(f"Shared a talk: {card.title}", blocks)


def unfurl_blocks(card: TalkCard) -> dict:
    """A catalog talk's preview under a message that links to it (chat.unfurl): the card, without buttons (a click
    on an unfurl is not tied to a search this bot could page or redraw)."""
    return {"blocks": [_section(card_text(card)), _context("🎤 talkbot · `/talk` finds more talks like this")]}


def help_message(public: bool = False) -> dict:
    """The examples card; `public` when it is posted in a conversation (a thread, a DM), so it promises no privacy."""
    examples = "\n".join(f"`{command}` — {meaning}" for command, meaning in HELP_EXAMPLES)
    privacy = (
        "My answers here are posted in the conversation; `/talk` shows results only to you until you press *Share*."
        if public
        else "Only you see the results until you press *Share*."
    )
    blocks = [
        _section(f"*talkbot finds conference talks worth your time.*\n{privacy}"),
        _section(examples),
        _context("You can also send me a direct message, or mention me in a channel: `@talkbot kafka`."),
    ]
    return _message('talkbot: /talk kafka, /talk speaker:"name", /talk year:2019, /talk tag:kafka', blocks)


def greeting_message(thanks: bool) -> dict:
    """A friendly word back for a hello or a thank-you, with two searches to try."""
    opening = "You're welcome!" if thanks else "Hi! I find conference talks worth your time."
    blocks = [
        _section(f"{opening} Tell me a topic, a speaker or an event, for example:"),
        _section('`kafka` — talks about a topic\n`speaker:"liz fong-jones"` — talks by a speaker'),
        _context("Type `help` for every filter."),
    ]
    return _message(f"{opening} Try: kafka", blocks)


def problem_message(problem: str) -> dict:
    """A query we could not understand, or something that went wrong: what happened and what to do."""
    blocks = [_section(f":warning: {escape(problem)}"), _context("Type `/talk help` for examples.")]
    return _message(problem, blocks)


def notice_message(text: str) -> dict:
    return _message(text, [_section(escape(text))])


def digest_message(card: TalkCard, reasons: list[str], cadence: str, title: str | None = None) -> dict:
    """The digest post: the talk, why it was picked, and buttons to save it, find more, mark it watched or vote on
    it. `title`: a person's For you DM names itself; a channel's digest is Talk of the week (or day)."""
    title = title or digest_title(cadence)
    talk = ButtonValue(None, card.id)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"🎤 {title}"}},
        _section(card_text(card)),
        _context("Why this one: " + " ".join(escape(reason) for reason in reasons)),
        {
            "type": "actions",
            "block_id": f"digest-{card.id}",
            "elements": [
                _button("Save", SAVE, talk),
                _button("More like this", MORE_LIKE_THIS, talk),
                _button("Watched", WATCH, talk),
                _button("👍", VOTE_UP, talk),
                _button("👎", VOTE_DOWN, talk),
            ],
        },
    ]
    return _message(f"{title}: {card.title}", blocks)


def digest_preview_message(card: TalkCard, reasons: list[str], cadence: str, when: str) -> dict:
    """The next digest post as it will look, shown to one person, saying it is a preview and when it comes."""
    message = digest_message(card, reasons, cadence)
    message["blocks"].insert(0, _context(escape(f"Preview, only for you: this channel gets this on {when}")))
    return message


def digest_title(cadence: str) -> str:
    return "Talk of the week" if cadence == "weekly" else "Talk of the day"


def digest_usage_message(problem: str | None = None) -> dict:
    blocks = [_section(f":warning: {escape(problem)}")] if problem else []
    blocks.append(_section(DIGEST_USAGE))
    return _message(problem or "Talk of the week: /talk digest subscribe", blocks)


def subscription_lines(subscriptions: list[tuple[str, str, str, str | None]]) -> str:
    """(channel id, schedule, topic, paused reason) as mrkdwn lines."""
    lines = []
    for channel_id, schedule, topic, paused in subscriptions:
        about = f" on “{escape(topic)}”" if topic else " on what the channel is about (its name, topic and purpose)"
        state = f" — *paused*: {escape(paused)}" if paused else ""
        lines.append(f"<#{channel_id}>: {schedule}{about}{state}")
    return "\n".join(lines)


def home_view(
    saved: list[TalkCard], subscriptions: list[tuple[str, str, str, str | None]] = (),
    watched: list[TalkCard] = (), for_you: str | None = None,
) -> dict:  # fmt: skip
    """The App Home tab: what talkbot does, how to search, the user's saved and watched talks (each with its undo),
    their For you DM (`for_you`: its schedule, or None) and their channels' digests."""
    examples = "\n".join(f"`{command}` — {meaning}" for command, meaning in HELP_EXAMPLES)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "talkbot"}},
        _section(
            "Find the conference talks worth your team's time: search by topic, speaker, event, year or tag. "
            "Results are private until you share them."
        ),  # fmt: skip
        _section(f"*Search*\n{examples}"),
        {"type": "divider"},
        *_home_list("*Your saved talks*", saved, "Remove", UNSAVE, "`/talk saved` lists them all.",
                    "Nothing saved yet: press *Save* on any search result."),
        {"type": "divider"},
        *_home_list("*Talks you watched*", watched, "Not watched", UNWATCH,
                    "`/talk watched` lists them all.",
                    "None marked yet: press *Watched* on a talk you have seen, and recommendations leave it out."),
        {"type": "divider"},
        _section(f"*For you*\nEvery week in a DM: {escape(for_you)}. `/talk foryou stop` ends it." if for_you else
                 "*For you*\n`/talk foryou` shows talks like the ones you saved, watched or liked; "
                 "`/talk foryou weekly` sends you one every week."),
        {"type": "divider"},
    ]  # fmt: skip
    if subscriptions:
        blocks.append(_section("*Talk of the week in your channels*\n" + subscription_lines(list(subscriptions))))
    else:
        blocks.append(_section("*Talk of the week*\nNone of your channels gets one yet. In a channel, type "
                               "`/talk digest subscribe`."))  # fmt: skip
    assert len(blocks) <= MAX_HOME_BLOCKS
    return {"type": "home", "blocks": blocks}


def _home_list(heading: str, cards: list[TalkCard], undo: str, action_id: str, more: str, empty: str) -> list[dict]:
    """One of the user's lists on the Home tab: its first MAX_SAVED_SHOWN talks, each with a button to take it off
    (no block_id of ours: a talk on both lists must not repeat one; Slack gives each block its own)."""
    blocks = [_section(f"{heading} ({len(cards)})")]
    for card in cards[:MAX_SAVED_SHOWN]:
        section = _section(card_text(card))
        section["accessory"] = _button(undo, action_id, ButtonValue(None, card.id))
        blocks.append(section)
    if len(cards) > MAX_SAVED_SHOWN:
        blocks.append(_context(f"…and {len(cards) - MAX_SAVED_SHOWN} more: {more}"))
    if not cards:
        blocks.append(_context(empty))
    return blocks


def home_problem_view(problem: str) -> dict:
    """The App Home tab when its content cannot be read: what went wrong, and how to search meanwhile."""
    examples = "\n".join(f"`{command}` — {meaning}" for command, meaning in HELP_EXAMPLES)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "talkbot"}},
        _section(f":warning: {escape(problem)}"),
        _section(f"*Search*\n{examples}"),
    ]
    return {"type": "home", "blocks": blocks}
