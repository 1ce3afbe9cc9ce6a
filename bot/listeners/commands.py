"""`/talk` and its subcommands: a search, the saved or watched list, For you, help, `/talk digest …`,
`/talk foryou weekly|stop` or `/talk follow …`."""

from __future__ import annotations

import datetime as dt

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient

from bot.digest.channel_subject import read_channel_about
from bot.follows.commands import FOLLOW_COMMANDS
from bot.listeners.errors import after_ack
from bot.listeners.replies import checked, post_dm
from bot.listeners.slack_reads import channel_access, timezone_of
from bot.services import Services
from bot.slack_text import plain_text


def register(app: App, services: Services) -> None:
    answers, digests, follows, for_you = services.answers, services.digests, services.follows, services.for_you

    @after_ack(services.sessions)(app.command("/talk"))
    def talk_command(command: dict, respond: Respond, client: WebClient, context: BoltContext) -> None:
        text, team_id, user_id = plain_text(command.get("text", "")), context.team_id, context.user_id
        words = text.split()
        if words and words[0].lower() == "digest":
            message = digests.handle(
                words[1:], team_id=team_id, enterprise_id=context.enterprise_id, channel_id=context.channel_id,
                user_id=user_id, user_timezone=lambda: timezone_of(client, user_id),
                access=lambda: channel_access(client, command, context.bot_user_id),
                about=lambda: read_channel_about(client, context.channel_id), now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        elif len(words) > 1 and words[0].lower() == "foryou":
            message = for_you.handle(
                words[1:], team_id=team_id, enterprise_id=context.enterprise_id, user_id=user_id,
                user_timezone=lambda: timezone_of(client, user_id),
                post_dm=lambda dm: post_dm(client, user_id, dm), now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        elif words and words[0].lower() in FOLLOW_COMMANDS:
            message = follows.handle(words[0].lower(), text.split(None, 1)[1] if len(words) > 1 else "",
                                     team_id=team_id, enterprise_id=context.enterprise_id, user_id=user_id)  # fmt: skip
        else:
            message = answers.command(text, team_id, user_id)
        checked(respond(response_type="ephemeral", **message))
