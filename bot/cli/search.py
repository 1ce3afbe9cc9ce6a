"""`talkbot search`: the same talks, in the same order, as `/talk` shows in Slack."""

from __future__ import annotations

import argparse
import json

from bot.cli import CommandError, fail
from db.cards import TalkCard
from db.config import sessions_for
from db.search.engine import ResultPage, SearchEngine
from db.search.query import is_a_search
from db.setup import prepare_catalog


def ready_engine(url: str) -> SearchEngine:
    """The search engine over the catalog at `url`, set up first if it is a new SQLite file."""
    prepare_catalog(url, announce=fail)
    return SearchEngine(sessions_for(url))


def run_search(args: argparse.Namespace, url: str) -> int:
    if not is_a_search(" ".join(args.query)):
        raise CommandError("nothing to search for: give words or filters, e.g. `talkbot search kafka year:2019`")
    page = ready_engine(url).search(" ".join(args.query), limit=args.limit)
    if args.json:
        print(json.dumps([card.to_json() for card in page.cards], indent=2, ensure_ascii=False))
    else:
        print(format_page(" ".join(args.query), page))
    return 0


def format_page(query: str, page: ResultPage) -> str:
    """Search results as terminal text: the same talks and order `/talk` shows in Slack."""
    lines = [f"note: {note}" for note in page.notes]
    if not page.cards:
        lines.append(f"No talks match “{query}”.")
        if page.suggestions:
            lines.append("Did you mean: " + ", ".join(page.suggestions) + "?")
        return "\n".join(lines)
    if page.dropped_words:
        lines.append(f"No talk matches every word; ignoring “{' '.join(page.dropped_words)}”.")
    for number, card in enumerate(page.cards, start=page.offset + 1):
        lines.extend(_card_lines(number, card))
    if page.has_more:
        lines.append(f"… {page.total - page.offset - len(page.cards)} more (use --limit to see them)")
    return "\n".join(lines)


def _card_lines(number: int, card: TalkCard) -> list[str]:
    speakers = f" — {', '.join(card.speakers)}" if card.speakers else ""  # none known: no speaker part
    where = card.event_label or "event unknown"
    parts = (where, card.talk_type, *card.length_and_language, ", ".join(card.tags))
    details = " · ".join(part for part in parts if part)
    lines = [f"{number}. {card.title}{speakers}", f"   {details}"]
    if card.summary:
        lines.append(f"   {card.one_line_summary()}")
    if card.url:
        lines.append(f"   {card.url}")
    return lines
