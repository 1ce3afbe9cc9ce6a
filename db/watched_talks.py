"""Talks users have watched, per workspace and user (the list store is db/talk_lists.py): "More like this" and For
you leave them out, and search puts them after the talks of equal score the user has not seen."""

from __future__ import annotations

from db.talk_lists import WATCHED

mark_watched = WATCHED.add
unmark_watched = WATCHED.remove
watched_talk_ids = WATCHED.ids
watched_cards = WATCHED.cards
