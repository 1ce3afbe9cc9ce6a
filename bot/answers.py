"""What talkbot answers, as Block Kit payloads: the plain functions behind every listener.

Nothing here talks to Slack; listeners in bot/listeners/ pass in who asked and send what comes back. A database
failure is not caught here: it reaches the listeners' one error path (bot/listeners/errors.py), which logs it and
asks the person to try again.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.base import PAGE_SIZE, Screen, escape
from bot.blocks.digest import digest_title
from bot.blocks.for_you import FOR_YOU_TITLE, for_you_empty_message, for_you_message
from bot.blocks.home import home_problem_view, home_view
from bot.blocks.messages import (
    greeting_message,
    help_message,
    no_match_message,
    notice_message,
    problem_message,
    public_results_message,
    results_message,
    saved_message,
    shared_message,
    similar_message,
    unfurl_blocks,
    watched_message,
)
from bot.blocks.modal import (
    MAX_OPTIONS,
    MODAL_PAGE_SIZE,
    event_option,
    problem_note,
    results_modal,
    search_modal,
    shared_note,
    status_note,
)
from bot.digest.for_you import for_you, weekly_phrase
from bot.digest.schedule import schedule_of
from bot.search_form import FormErrors, SearchForm
from db.cards import TalkCard
from db.catalog import event_series, talks_by_id
from db.digests import for_you_subscription, record_vote, subscription_for, subscriptions_in, team_of_post
from db.models import FOR_YOU
from db.saved_talks import remove_saved_talk, save_talk, saved_cards, saved_talk_ids
from db.search.engine import SearchEngine
from db.search.query import QueryError, is_a_search
from db.talk_links import talks_by_link
from db.watched_talks import mark_watched, unmark_watched, watched_cards, watched_talk_ids

log = logging.getLogger(__name__)

HELP_WORDS = {"", "help", "?", "-h", "--help"}
# What people say to a bot that is not a search: a greeting or thanks in a DM gets a friendly word, not results.
HELLO_WORDS = {"hi", "hello", "hey", "hiya", "yo", "morning", "howdy", "greetings"}
THANKS_WORDS = {"thanks", "thank", "thx", "ty", "cheers", "merci", "danke", "ta"}
SMALL_TALK_WORDS = HELLO_WORDS | THANKS_WORDS | {
    "you", "a", "lot", "so", "much", "again", "there", "talkbot", "good", "afternoon", "evening", "all", "folks",
}  # fmt: skip
TRY_AGAIN = "Something went wrong on our side: the database did not answer. Please try again in a minute."
STALE_BUTTON = "That button no longer works (the talk may have been removed). Run `/talk` again."
STARTERS = 3
LIST_SCREENS = {"saved", "watched", "foryou"}  # `/talk saved` and the like: a screen of the user's own
SEARCHING = "Searching…"
STALE_MODAL = "That button no longer works (the talk may have been removed). Search again."
STALE_PAGE = "That page of results no longer exists (the catalog changed): here is the first page again."
# Why a talk could not be shared from the search modal, by Slack's error; `{channel}` is the conversation chosen.
SHARE_REFUSED = {
    "not_in_channel": "I am not in {channel}: invite me there with `/invite @talkbot`, then press Share again.",
    "channel_not_found": "I cannot see {channel} (a private channel I was not invited to?): invite me with "
    "`/invite @talkbot` there, then press Share again.",
    "is_archived": "{channel} is archived: choose another conversation.",
    "missing_scope": "talkbot lacks the permission to post there: ask a workspace admin to reinstall it.",
    "restricted_action": "This workspace does not let apps post in {channel}: choose another conversation.",
}
SHARE_FAILED = "Slack would not post the talk in {channel} ({error}). Choose another conversation, or try again."
CHOOSE_A_CONVERSATION = "Choose a conversation in “Share to” first, then press Share beside the talk."
NOTHING_TO_SEARCH = (
    "That message has nothing to search for (only emoji, links, code, mentions or everyday words). "
    "Try `/talk` with a few words about what you need."
)


class Answers:
    def __init__(self, sessions: sessionmaker[Session], search: SearchEngine) -> None:
        self.sessions, self.search = sessions, search

    def command(self, text: str, team_id: str, user_id: str) -> dict:
        """`/talk TEXT`: help, the saved or watched list, For you, or a private page of results."""
        text = text.strip()
        if text.lower() in HELP_WORDS or not is_a_search(text):
            return help_message()
        if text.lower() in LIST_SCREENS:
            return self.screen(Screen(text.lower()), team_id, user_id)
        return self.screen(Screen("search", text), team_id, user_id)

    def screen(self, screen: Screen, team_id: str, user_id: str, note: str | None = None) -> dict:
        """Draw a private screen for this user; a query that cannot be read becomes a message saying why."""
        with self.sessions() as session:
            saved = set(saved_talk_ids(session, team_id, user_id))
            watched = set(watched_talk_ids(session, team_id, user_id))
        if screen.kind in ("saved", "watched"):
            with self.sessions() as session:
                cards = (saved_cards if screen.kind == "saved" else watched_cards)(session, team_id, user_id)
            if screen.offset and screen.offset >= len(cards):  # a page past the end: talks were taken off the list
                return problem_message(STALE_BUTTON)
            if screen.kind == "saved":
                return saved_message(cards, screen.offset, note, watched_ids=watched)
            return watched_message(cards, screen.offset, note, saved_ids=saved)
        if screen.kind == "foryou":
            return self.for_you(screen, team_id, user_id, saved, note)
        if screen.kind == "similar":
            source = self.card(screen.talk_id)
            if source is None:
                return problem_message(STALE_BUTTON)
            return similar_message(source, screen, self.search.similar(screen.talk_id, exclude=watched), saved, note)
        try:
            page = self.search.search(screen.query, limit=PAGE_SIZE, offset=screen.offset, later=watched)
        except QueryError as error:
            return problem_message(str(error))
        if not page.cards and screen.offset > 0:  # a page past the end: forged, or the catalog shrank since
            return problem_message(STALE_BUTTON)
        if not page.cards:
            return no_match_message(screen.query, page, self.starters())
        return results_message(screen, page, saved, note, watched_ids=watched)

    def for_you(self, screen: Screen, team_id: str, user_id: str, saved: set[int], note: str | None) -> dict:
        """A page of talks like the ones this user liked; with none to go on, how to get some, and starters."""
        found = for_you(self.search, self.sessions, team_id, user_id, PAGE_SIZE, screen.offset)
        if not found.page.cards and screen.offset:  # the list shrank (talks were saved or watched): its first page
            found = for_you(self.search, self.sessions, team_id, user_id, PAGE_SIZE)
            screen = Screen("foryou")
        with self.sessions() as session:
            weekly = weekly_phrase(for_you_subscription(session, team_id, user_id))
        if not found.page.cards:
            limit = STARTERS + len(found.taste.seen)
            starters = [card for card in self.search.search("", limit=limit).cards if card.id not in found.taste.seen]
            return for_you_empty_message(starters[:STARTERS], weekly, note)
        return for_you_message(screen, found.page, found.because, saved, weekly, note)

    def about_message(self, text: str, team_id: str, user_id: str) -> dict:
        """ "Find talks about this" on a message: a private page of talks about what the message says. `text` is its
        prose (bot/slack_text.py message_text); the query is its most informative words, however long it is."""
        query = self.search.intent_query(text)
        if not query:
            return notice_message(NOTHING_TO_SEARCH)
        return self.screen(Screen("search", query), team_id, user_id)

    def public(self, text: str) -> dict:
        """An answer posted where others may see it (a DM, a thread): no per-user state in it."""
        text = text.strip()
        if text.lower() in HELP_WORDS or not is_a_search(text):
            return help_message(public=True)
        if small_talk := small_talk_of(text):
            return greeting_message(thanks=small_talk == "thanks")
        try:
            page = self.search.search(text, limit=PAGE_SIZE)
        except QueryError as error:
            return problem_message(str(error))
        if not page.cards:
            return no_match_message(text, page, self.starters())
        return public_results_message(text, page)

    def starters(self) -> list[TalkCard]:
        """Talks to start from when nothing matched: recommended ones with a video first."""
        return self.search.search("", limit=STARTERS).cards

    def card(self, talk_id: int) -> TalkCard | None:
        with self.sessions() as session:
            talk = talks_by_id(session, [talk_id]).get(talk_id)
            return TalkCard.of(talk) if talk else None

    def save(self, team_id: str, user_id: str, talk_id: int) -> str | None:
        """Save a talk; the note to show, or None when the talk is unknown."""
        card = self.card(talk_id)
        if card is None:
            return None
        with self.sessions.begin() as session:
            newly = save_talk(session, team_id, user_id, talk_id)
        return f"Saved “{card.title}”." if newly else f"“{card.title}” was already saved."

    def unsave(self, team_id: str, user_id: str, talk_id: int) -> str:
        """Remove a saved talk; the note to show."""
        with self.sessions.begin() as session:
            removed = remove_saved_talk(session, team_id, user_id, talk_id)
        return "Removed from your saved talks." if removed else "That talk was not in your saved talks."

    def watch(self, team_id: str, user_id: str, talk_id: int) -> str | None:
        """Mark a talk watched; the note to show, or None when the talk is unknown."""
        card = self.card(talk_id)
        if card is None:
            return None
        with self.sessions.begin() as session:
            newly = mark_watched(session, team_id, user_id, talk_id)
        if not newly:
            return f"“{card.title}” was already marked as watched."
        return f"Marked “{card.title}” as watched: “More like this” and For you leave it out now."

    def unwatch(self, team_id: str, user_id: str, talk_id: int) -> str:
        """Undo Watched; the note to show."""
        with self.sessions.begin() as session:
            removed = unmark_watched(session, team_id, user_id, talk_id)
        return "No longer marked as watched." if removed else "That talk was not marked as watched."

    def watched_notice(self, note: str) -> dict:
        return notice_message(f"{note} `/talk watched` lists the talks you watched.")

    def share(self, talk_id: int, user_id: str) -> tuple[dict, str] | dict:
        """The public message for a shared talk and the note for the sharer; or, when the talk is unknown, the problem
        to show the sharer alone."""
        card = self.card(talk_id)
        if card is None:
            return problem_message(STALE_BUTTON)
        return shared_message(card, user_id), f"Shared “{card.title}” with the channel."

    def modal_submitted(self, form: SearchForm) -> dict:
        """The answer to the modal's Search (its ack, so no database): the fields that cannot be searched as filled
        in, or the form again saying a search is under way (modal_results replaces it moments later)."""
        try:
            form.query(self.search.parse)
        except FormErrors as refused:
            return {"response_action": "errors", "errors": refused.errors}
        return {"response_action": "update", "view": search_modal(form, status_note(SEARCHING))}

    def modal_results(
        self, form: SearchForm, team_id: str, user_id: str, offset: int = 0, note: str | None = None,
        share_to: str | None = None,
    ) -> dict:  # fmt: skip
        """The search modal showing a page of results for `form` under it (the form stays, to refine the search);
        among equal scores the person's watched talks come last, as in `/talk`."""
        try:
            query = form.query(self.search.parse)
        except FormErrors as refused:  # checked at submission; private_metadata talkbot did not write
            return search_modal(form, problem_note(next(iter(refused.errors.values()))))
        with self.sessions() as session:
            watched = watched_talk_ids(session, team_id, user_id)
        page = self.search.search(query, limit=MODAL_PAGE_SIZE, offset=offset, later=watched)
        if not page.cards and offset:
            page, note = self.search.search(query, limit=MODAL_PAGE_SIZE, later=watched), problem_note(STALE_PAGE)
        return results_modal(form, query, page, note, share_to)

    def event_options(self, typed: str) -> list[dict]:
        """The event menu's entries for what the person typed so far (a block_suggestion): catalog series whose name
        contains it. Answered before the ack, so a database failure is logged and answered with no entries."""
        try:
            with self.sessions() as session:
                found = event_series(session, re.sub(r"[\x00-\x1f\x7f]", "", typed)[:100], MAX_OPTIONS)
        except SQLAlchemyError:
            log.exception("could not read the events for the event menu")
            return []
        return [entry for entry in (event_option(*row) for row in found) if entry]

    def shareable(self, talk_id: int, user_id: str) -> tuple[dict, str] | None:
        """The public message sharing a talk and its title; None when the talk is gone."""
        card = self.card(talk_id)
        return (shared_message(card, user_id), card.title) if card else None

    @staticmethod
    def share_note(channel_id: str | None, title: str, error: str | None = None) -> str:
        """What the modal says after Share: where the talk went, or why it could not go and what to do."""
        if channel_id is None:
            return problem_note(CHOOSE_A_CONVERSATION)
        if error is None:
            return shared_note(title, channel_id)
        problem = problem_note(SHARE_REFUSED.get(error, SHARE_FAILED))  # escaped, so the mention goes in after
        return problem.format(channel=f"<#{channel_id}>", error=escape(error))

    def saved_notice(self, note: str) -> dict:
        return notice_message(f"{note} `/talk saved` lists your saved talks.")

    def vote(
        self, team_id: str, channel_id: str, message_ts: str | None, user_id: str, talk_id: int, vote: int
    ) -> dict:
        """A vote on the digest post `message_ts` counts for the workspace that posted it (`team_id`, the request's
        workspace, when the post is a preview or unknown)."""
        if self.card(talk_id) is None or not channel_id:
            return problem_message(STALE_BUTTON)
        with self.sessions.begin() as session:
            owner = team_of_post(session, channel_id, message_ts) or team_id
            record_vote(session, owner, channel_id, talk_id, user_id, vote)
            subscription = subscription_for(session, owner, channel_id, kind=None)
            cadence = subscription.cadence if subscription else "weekly"
        if subscription and subscription.kind == FOR_YOU:  # the person's own DM: the vote steers their For you
            steer = "bring more talks like this one" if vote > 0 else "leave this one out"
            return notice_message(f"Thanks! {FOR_YOU_TITLE} will {steer}.")
        more_or_fewer = "more" if vote > 0 else "fewer"
        return notice_message(f"Thanks! {digest_title(cadence)} will pick {more_or_fewer} talks like this one here.")

    def unfurls(self, urls: list[str]) -> dict[str, dict]:
        """Link unfurls: each URL of a catalog talk mapped to its card; other URLs are left out (and left alone)."""
        with self.sessions() as session:
            return {url: unfurl_blocks(TalkCard.of(talk)) for url, talk in talks_by_link(session, urls).items()}

    def home(self, team_id: str, user_id: str, channel_ids: list[str]) -> dict:
        """The Home tab; without a database, one that says so (publishing nothing would leave a stale tab)."""
        try:
            with self.sessions() as session:
                subscriptions = [
                    (s.channel_id, schedule_of(s).describe(), s.topic, s.paused_reason)
                    for s in subscriptions_in(session, team_id, channel_ids)
                ]
                return home_view(
                    saved_cards(session, team_id, user_id), subscriptions, watched_cards(session, team_id, user_id),
                    weekly_phrase(for_you_subscription(session, team_id, user_id)),
                )  # fmt: skip
        except SQLAlchemyError:  # not the error path: Slack would go on showing a stale tab
            log.exception("could not draw the Home tab")
            return home_problem_view(TRY_AGAIN)


def small_talk_of(text: str) -> str | None:
    """ "hello" or "thanks" when the whole text is a greeting or thanks ("hi!", "thanks a lot :)"), else None."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words or len(words) > 6 or not set(words) <= SMALL_TALK_WORDS:
        return None
    if set(words) & THANKS_WORDS:
        return "thanks"
    return "hello" if set(words) & HELLO_WORDS else None
