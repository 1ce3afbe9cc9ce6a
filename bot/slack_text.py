"""What people typed, recovered from the way Slack delivers it.

Slack escapes `&`, `<` and `>` in message and command text (`ops &amp; sre`) and writes mentions, channels and
links in angle brackets (`<@U123>`, `<#C123|general>`, `<https://example.com|the docs>`). talkbot searches for the
words a person meant, so it undoes that once, on the way in (https://api.slack.com/reference/surfaces/formatting).
"""

from __future__ import annotations

import re

# <@U123>, <@U123|name>, <#C123|general>, <!here>, <!subteam^S123|@sre>, <https://…|label>, <mailto:…>
SLACK_MARKUP = re.compile(r"<([^<>]*)>")
ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: `&amp;lt;` is a typed `&lt;`
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # never part of a query; NUL cannot even be stored
CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.S)  # a pasted log or snippet: identifiers, not what it is about
EMOJI_CODE = re.compile(r":[a-z0-9_+'-]+(?:::skin-tone-\d)?:")  # :tada:, :+1::skin-tone-2:


def plain_text(slack_text: str) -> str:
    """The words behind Slack's markup: channel names and link labels stay, user mentions, special mentions
    (@here, @channel) and bare links go; Slack's three HTML escapes are undone once; control characters and runs of
    spaces become one space."""
    words = _unescape(SLACK_MARKUP.sub(_words_of, slack_text or ""))
    return " ".join(CONTROL_CHARACTERS.sub(" ", words).split())


def _words_of(match: re.Match) -> str:
    target, _, label = match.group(1).partition("|")
    if target.startswith("#"):  # a channel: its name is a word someone chose (#kafka)
        return f" {label or ''} "
    if target.startswith(("@", "!")):  # a person or @here/@channel/a user group: not a search word
        return " "
    return f" {label} " if label else " "  # a link: its label is words; a bare URL is not


def _unescape(text: str) -> str:
    for escaped, character in ESCAPES:
        text = text.replace(escaped, character)
    return text


def message_text(slack_text: str) -> str:
    """The prose of a message, for guessing what it is about: code blocks and emoji go, inline `code` keeps its
    words (often the very name of the tool), links keep only their labels (plain_text)."""
    prose = EMOJI_CODE.sub(" ", CODE_BLOCK.sub(" ", slack_text or ""))
    return plain_text(prose.replace("`", " "))


def written_text(message: dict) -> str:
    """What a message says in Slack's markup: its `text`, or for a message made only of blocks or attachments (some
    apps post those) the texts in them."""
    if (message.get("text") or "").strip():
        return message["text"]
    texts: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "pretext", "title", "fallback") and isinstance(value, str):
                    texts.append(value)
                elif key != "accessory":  # a button's or an image's words are not what the message says
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect([message.get("blocks") or [], message.get("attachments") or []])
    return "\n".join(texts)
