"""Shortcuts: "Find talks about this" on any message (a `message_action`), answered privately."""

from __future__ import annotations

from slack_bolt import App, Respond

from bot.listeners.errors import after_ack
from bot.listeners.replies import clicker, tell_privately
from bot.services import Services
from bot.slack_text import message_text, written_text

FIND_TALKS_ABOUT_THIS = "find_talks_about_this"  # the callback_id in manifest.yml


def register(app: App, services: Services) -> None:
    @after_ack(services.sessions)(app.message_shortcut(FIND_TALKS_ABOUT_THIS))
    def find_talks_about_this(body: dict, respond: Respond) -> None:
        """Talks about what the message says, shown to the person alone, in the message's thread if it is in one."""
        message = body.get("message") or {}
        answer = services.answers.about_message(message_text(written_text(message)), *clicker(body))
        tell_privately(body, respond, answer)  # checked: a refused answer reaches the error path
