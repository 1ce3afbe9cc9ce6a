"""Shortcuts: "Find talks about this" on any message (a `message_action`), answered privately; and "Search talks"
(a global shortcut) with its modal: the form's typeahead, its submission and the buttons on its results."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.answers import STALE_MODAL
from bot.blocks.base import MAX_TALK_ID, action_ids
from bot.blocks.modal import (
    EVENT_OPTIONS,
    MODAL_PAGE,
    MODAL_SHARE,
    SEARCH_MODAL,
    button_number,
    form_of,
    problem_note,
    search_modal,
    share_target,
)
from bot.listeners.errors import after_ack, answered_at_once
from bot.listeners.replies import clicker, modal_state, post_checked, tell_privately, update_modal
from bot.search_form import MAX_OFFSET, SearchForm
from bot.services import Services
from bot.slack_text import message_text, written_text

FIND_TALKS_ABOUT_THIS = "find_talks_about_this"  # the callback_id in manifest.yml
SEARCH_TALKS = "search_talks"  # the global shortcut's callback_id in manifest.yml


def register(app: App, services: Services) -> None:
    answers, lazy = services.answers, after_ack(services.sessions)

    @lazy(app.message_shortcut(FIND_TALKS_ABOUT_THIS))
    def find_talks_about_this(body: dict, respond: Respond) -> None:
        """Talks about what the message says, shown to the person alone, in the message's thread if it is in one."""
        message = body.get("message") or {}
        answer = answers.about_message(message_text(written_text(message)), *clicker(body))
        tell_privately(body, respond, answer)  # checked: a refused answer reaches the error path

    @lazy(app.shortcut(SEARCH_TALKS))
    def search_talks(body: dict, client: WebClient) -> None:
        """The search modal, empty; its trigger_id is good for 3 s, well within reach after the ack."""
        client.views_open(trigger_id=body["trigger_id"], view=search_modal())

    @app.options(EVENT_OPTIONS)
    def event_menu(ack: Ack, payload: dict) -> None:
        """The event menu's typeahead: answered in the ack itself, as Slack requires."""
        ack(options=answers.event_options(str(payload.get("value") or "")))

    submitted = answered_at_once(
        lambda body: answers.modal_submitted(form_of(body["view"])),
        lambda problem: {"response_action": "errors", "errors": {"words": problem}},
    )

    @lazy(app.view(SEARCH_MODAL), ack=submitted)
    def search_submitted(body: dict, client: WebClient) -> None:
        """Field errors were answered in the ack; otherwise the modal says "Searching…" and now gets its results."""
        form = form_of(body["view"])
        if answers.modal_submitted(form)["response_action"] == "update":
            client.views_update(view_id=body["view"]["id"], view=answers.modal_results(form, *clicker(body)))

    @lazy(app.action(action_ids(MODAL_PAGE)))
    def modal_page(body: dict, action: dict, client: WebClient) -> None:
        """Previous / Next results: the search the modal shows (its private_metadata), at the button's offset."""
        form, _ = modal_state(body)
        offset = button_number(action.get("value"), MAX_OFFSET)
        view = (
            answers.modal_results(form, *clicker(body), offset, share_to=share_target(body["view"])) if form else None
        )
        update_modal(client, body, view or search_modal(SearchForm(), problem_note(STALE_MODAL)))

    @lazy(app.action(MODAL_SHARE), once=True)
    def modal_share(body: dict, action: dict, client: WebClient) -> None:
        """Post the talk in the conversation chosen in "Share to", then say in the modal where it went (or what to
        do instead: invite talkbot, choose another conversation)."""
        (form, offset), talk_id = modal_state(body), button_number(action.get("value"), MAX_TALK_ID)
        shareable = answers.shareable(talk_id, body["user"]["id"]) if form and talk_id else None
        if shareable is None:
            update_modal(client, body, search_modal(form or SearchForm(), problem_note(STALE_MODAL)))
            return
        channel, (message, title) = share_target(body["view"]), shareable
        error = post_checked(client, channel, message) if channel else None
        note = answers.share_note(channel, title, error)
        update_modal(client, body, answers.modal_results(form, *clicker(body), offset, note, share_to=channel))
