"""Events: a DM to the bot, a mention in a channel, a pasted talk link, and leaving a workspace (uninstall, revoked
tokens)."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext, Say
from slack_sdk import WebClient

from bot.listeners.errors import after_ack
from bot.listeners.replies import say_in_place
from bot.services import Services
from bot.slack_text import plain_text
from db.workspaces import forget_workspace, pause_workspace_digests

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    answers, sessions, installations = services.answers, services.sessions, services.installations
    lazy = after_ack(sessions)

    @lazy(app.event("message"))
    def direct_message(event: dict, say: Say) -> None:
        """A DM to the bot is a query, with or without a file attached. Edits, deletions and bots' posts are not."""
        if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share"):
            return
        if event.get("bot_id") or not event.get("text", "").strip():
            return
        say(**answers.public(plain_text(event["text"])))

    @lazy(app.event("app_mention"))
    def mention(event: dict, say: Say) -> None:
        """`@talkbot kafka` in a channel: answer in a thread, so the channel stays readable. Slack delivers an edited
        mention again (with `edited`); it was answered the first time."""
        if event.get("bot_id") or event.get("subtype") or event.get("edited"):
            return
        say_in_place(event, say, answers.public(plain_text(event.get("text", ""))))

    @lazy(app.event("link_shared"))
    def link_shared(event: dict, client: WebClient) -> None:
        """A message (posted, or still in the composer) links to a domain in the manifest's unfurl_domains: unfurl the
        links to catalog talks with their cards and leave the rest alone. Claimed once by event_id (after_ack)."""
        urls = [link["url"] for link in event.get("links") or [] if isinstance(link, dict) and link.get("url")]
        unfurls = answers.unfurls(urls)
        if not unfurls:
            return
        if event.get("unfurl_id") and event.get("source"):
            where = {"unfurl_id": event["unfurl_id"], "source": event["source"]}
        else:
            where = {"channel": event["channel"], "ts": event["message_ts"]}
        client.chat_unfurl(unfurls=unfurls, **where)  # a refusal raises SlackApiError: logged by the error path

    @app.event("app_uninstalled")
    def uninstalled(ack: Ack, context: BoltContext) -> None:
        """Removed from a workspace: keep nothing of it. Done before answering Slack, so that if the database fails,
        Slack hears an error and delivers the event again (it does not resend after a 200)."""
        with sessions.begin() as session:
            forget_workspace(session, context.team_id)
        if installations:
            installations.forget(context.team_id, context.enterprise_id)
        log.info("uninstalled from workspace %s: its data is deleted", context.team_id)
        ack()

    @app.event("tokens_revoked")
    def tokens_revoked(ack: Ack, event: dict, context: BoltContext) -> None:
        """The bot token no longer works: pause the workspace's digests until it installs again (before the ack,
        like an uninstall, so a database failure makes Slack retry)."""
        if (event.get("tokens") or {}).get("bot"):
            with sessions.begin() as session:
                paused = pause_workspace_digests(session, context.team_id)
            if installations:
                installations.forget_bot(context.team_id, context.enterprise_id)
            log.info("bot token revoked in workspace %s: %d digest(s) paused", context.team_id, paused)
        ack()
