"""The pieces every talkbot payload is built from: Slack's limits, action ids, escaping, the state a private
message carries in its buttons (`Screen`, `ButtonValue`), a talk's card and its buttons."""

from __future__ import annotations

import json
import re
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
MAX_IMAGE_URL = 3000
MAX_ALT_TEXT = 2000  # an image's alt_text, and an image block's title

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


SCREENS = ("search", "similar", "saved", "watched", "foryou")


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


def button(text: str, action_id: str, value: ButtonValue, style: str | None = None) -> dict:
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": fit(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value.encode(),
    }
    if style:
        element["style"] = style
    return element


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text)}]}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text)}}


def card_text(card: TalkCard, summary_limit: int = 200) -> str:
    """A talk as mrkdwn: linked title, who/where/what, one line of summary; catalog text escaped."""
    title = f"*<{safe_url(card.url)}|{escape(card.title)}>*" if card.url else f"*{escape(card.title)}*"
    details = [", ".join(escape(name) for name in card.speakers)] if card.speakers else []  # none known: no part
    if card.event_label:
        details.append(escape(card.event_label))
    if card.talk_type != "talk":
        details.append(card.talk_type)
    details += [escape(fact) for fact in card.length_and_language]
    if card.verdict == RECOMMENDED:  # only praise is shown: a mixed or negative verdict needs its note to be fair
        details.append("⭐ recommended by a reporter")
    lines = [title, " · ".join(details)]
    if card.summary:
        lines.append(escape(card.one_line_summary(summary_limit)))
    if card.video_url and card.video_url != card.url:
        lines.append(f"<{safe_url(card.video_url)}|▶ Video>")
    return "\n".join(lines)


def thumbnail(card: TalkCard) -> dict | None:
    """The card's picture as an image element, or None: the card is text only. The catalog keeps https URLs only
    (db/records.py); one that is not, or is longer than Slack takes, is left out here too rather than refused."""
    url = card.thumbnail_url
    if not url or not url.startswith("https://") or len(url) > MAX_IMAGE_URL:
        return None
    return {"type": "image", "image_url": url, "alt_text": fit(f"Thumbnail of “{card.title}”", MAX_ALT_TEXT)}


def card_section(card: TalkCard) -> dict:
    """The talk's text, with its thumbnail as the section's accessory when it has one."""
    block = section(card_text(card))
    if image := thumbnail(card):
        block["accessory"] = image
    return block


def card_blocks(
    card: TalkCard, screen: Screen | None, saved: bool, shareable: bool, watched: bool = False,
    because: str | None = None,
) -> list[dict]:  # fmt: skip
    """A talk and its buttons; `because`: why it is recommended (For you), under the talk."""
    talk = ButtonValue(screen, card.id)
    buttons = []
    if shareable:
        buttons.append(button("Share", SHARE, talk, "primary"))
    buttons.append(button("Saved ✓", UNSAVE, talk) if saved else button("Save", SAVE, talk))
    buttons.append(button("More like this", MORE_LIKE_THIS, talk))
    buttons.append(button("Watched ✓", UNWATCH, talk) if watched else button("Watched", WATCH, talk))
    why = [context(escape(because))] if because else []
    return [card_section(card), *why, {"type": "actions", "block_id": f"talk-{card.id}", "elements": buttons}]


def message(text: str, blocks: list[dict]) -> dict:
    """The text is the notification's fallback, and as inert as the blocks."""
    assert len(blocks) <= MAX_BLOCKS, f"{len(blocks)} blocks"
    return {"text": fit(escape(text), 3000), "blocks": blocks}


def notes(notes: list[str]) -> list[dict]:
    """What a surface should know about an answer, in one block however many notes a query raises."""
    return [context(escape("\n".join(notes)))] if notes else []


def talks(count: int) -> str:
    """'1 talk', '12 talks'."""
    return f"{count:,} talk" + ("" if count == 1 else "s")


def page_heading(page: ResultPage) -> str:
    """'1 talk', '3 talks' when the page shows them all; 'Talks 6–10 of 12' when it shows a part."""
    if page.offset == 0 and len(page.cards) >= page.total:
        return talks(page.total)
    return f"Talks {page.offset + 1}–{page.offset + len(page.cards)} of {page.total:,}"


def paging(screen: Screen, page: ResultPage) -> list[dict]:
    buttons = []
    if page.offset > 0:
        earlier = Screen(screen.kind, screen.query, max(0, page.offset - PAGE_SIZE), screen.talk_id)
        buttons.append(button("Previous", f"{SHOW_PAGE}.previous", ButtonValue(earlier)))
    if page.has_more and page.offset + len(page.cards) <= MAX_OFFSET:
        later = Screen(screen.kind, screen.query, page.offset + len(page.cards), screen.talk_id)
        buttons.append(button("Next results", f"{SHOW_PAGE}.next", ButtonValue(later)))
    return [{"type": "actions", "block_id": "paging", "elements": buttons}] if buttons else []
