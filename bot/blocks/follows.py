"""The Block Kit of follows: the list of a person's follows, and the DM that tells them an import added talks matching
them, built from base.py's pieces within the same limits and escaping."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks.base import MAX_BLOCKS, SAVE, ButtonValue, button, card_text, context, escape, message, section, talks
from db.cards import TalkCard

UNFOLLOW = "follow_remove"  # action_id of the Unfollow buttons (suffixed by the follow's number)
MAX_ALERT_TALKS = 10  # talks a DM lists in full; the rest are counted, with the searches that show them
ALERT_METADATA = "talkbot_follow_alert"

FOLLOW_USAGE = (
    '`/talk follow kafka` or `/talk follow speaker:"liz fong-jones"` — a DM when an import adds matching talks · '
    "`/talk following` — your follows · `/talk unfollow kafka` (or its number in the list)"
)


@dataclass(frozen=True)
class AlertItem:
    """A talk the DM announces and the follows (queries) it matches."""

    card: TalkCard
    follows: list[str]


def following_message(queries: list[str], note: str | None = None, cap: int = 0) -> dict:
    """A person's follows, numbered, each with an Unfollow button (one section per follow, within the block limit)."""
    blocks = [context(escape(note))] if note else []
    if not queries:
        blocks.append(section("You follow nothing yet. " + FOLLOW_USAGE))
        return message(note or "You follow nothing yet.", blocks)
    searches = f"{len(queries)} search" + ("es" if len(queries) != 1 else "")
    blocks.append(section(f"*You follow {searches}* (up to {cap}). When an import adds talks that match, I send you "
                           "one DM listing them."))  # fmt: skip
    for number, query in enumerate(queries, start=1):
        row = section(f"{number}. `{escape(query)}`")
        row["accessory"] = button("Unfollow", f"{UNFOLLOW}.{number}", ButtonValue(None, query=query))
        blocks.append(row)
    blocks.append(context("`/talk unfollow NUMBER` or `/talk unfollow TEXT` also stops one."))
    return message(f"You follow {len(queries)}: " + ", ".join(queries), blocks)


def follow_usage_message(problem: str | None = None) -> dict:
    blocks = [section(f":warning: {escape(problem)}")] if problem else []
    blocks.append(section(FOLLOW_USAGE))
    return message(problem or "Follow a search: /talk follow kafka", blocks)


def follow_alert_message(shown: list[AlertItem], total: int, counts: dict[str, int]) -> dict:
    """The DM for one import: the best few of its `total` talks in full (with the follows each matches and a Save
    button), then how many more there are and, per follow, how many it found and the search that shows them."""
    shown = shown[:MAX_ALERT_TALKS]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "🔔 New talks for what you follow"}},
        section(f"The latest import added *{talks(total)}* matching what you follow."),
    ]
    for item in shown:
        matches = ", ".join(f"`{escape(query)}`" for query in item.follows)
        talk = section(f"{card_text(item.card)}\n_matches {matches}_")
        talk["accessory"] = button("Save", SAVE, ButtonValue(None, item.card.id))
        talk["block_id"] = f"alert-{item.card.id}"
        blocks.append(talk)
    if total > len(shown):
        lines = [f"…and {total - len(shown):,} more. Every talk matching a follow, newest included:"]
        lines += [f"`/talk {escape(query)}` ({talks(count)} new)" for query, count in counts.items() if count]
        blocks.append(section("\n".join(lines)))
    blocks.append(context("`/talk following` lists what you follow; `/talk unfollow …` stops one."))
    assert len(blocks) <= MAX_BLOCKS
    titles = "; ".join(item.card.title for item in shown[:3]) + ("…" if total > len(shown[:3]) else "")
    return message(f"{talks(total)} new for what you follow: {titles}", blocks)
