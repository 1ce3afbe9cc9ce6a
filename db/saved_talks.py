"""Talks users saved for later, per workspace and user (the list store is db/talk_lists.py)."""

from __future__ import annotations

from db.talk_lists import SAVED

save_talk = SAVED.add
remove_saved_talk = SAVED.remove
saved_talk_ids = SAVED.ids
saved_cards = SAVED.cards
