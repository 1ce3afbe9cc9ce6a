"""The Slack app: a thin Bolt `App` whose listeners ack at once and hand the work to `Answers`.

Every listener takes the workspace (and user, and channel) from Slack's signed envelope, never from a button's
value, so no click can reach another workspace's saved talks, votes or digests."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond, Say
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.answers import STALE_BUTTON, Answers
from bot.blocks import (
    MORE_LIKE_THIS,
    SAVE,
    SEARCH_FOR,
    SHARE,
    SHOW_PAGE,
    UNSAVE,
    VOTE_DOWN,
    VOTE_UP,
    ButtonValue,
    Screen,
    problem_message,
)
from bot.config import SlackSettings
from bot.digest.commands import DigestCommands
from bot.installations import NOT_INSTALLED_MESSAGE, Installations, web_client
from db.event_receipts import claim_event
from db.search.engine import SearchEngine
from db.workspaces import forget_workspace, pause_workspace_digests

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def create_app(settings: SlackSettings, engine: SearchEngine) -> App:
    """Token mode for one workspace; with OAuth settings, any workspace that installs talkbot."""
    installations = Installations(settings, engine.sessions) if settings.uses_oauth else None
    # Socket Mode needs no signing secret; HTTP mode requires one (bot/server.py) and verifies every request.
    app = App(
        # Ack from the request thread the moment a request is verified; the answer is worked out afterwards
        # (`after_ack`), so a burst of requests never waits for earlier answers to be acked.
        process_before_response=True,
        client=web_client(settings, settings.bot_token),
        signing_secret=settings.signing_secret,
        request_verification_enabled=bool(settings.signing_secret),
        oauth_settings=installations.oauth_settings() if installations else None,
        user_facing_authorize_error_message=NOT_INSTALLED_MESSAGE,
    )
    answers = Answers(engine)
    digests = DigestCommands(engine)

    @app.middleware
    def answer_each_event_once(body: dict, next) -> BoltResponse | None:
        """Slack redelivers events it thinks were missed; the first replica to claim an event_id handles it."""
        if body.get("type") == "event_callback" and body.get("event_id"):
            try:
                with engine.sessions.begin() as session:
                    if not claim_event(session, body["event_id"], body.get("team_id")):
                        return BoltResponse(status=200, body="")
            except SQLAlchemyError:
                # No database, no claim: handle the event anyway, so its listener can say "try again". Raising here
                # would answer Slack 500 and leave the person without a word until Slack's retry minutes later.
                log.warning("could not claim event %s: database unavailable; handling it unclaimed", body["event_id"])
        return next()

    @after_ack(app.command("/talk"))
    def talk_command(command: dict, respond: Respond, client: WebClient) -> None:
        text, team_id, user_id = command.get("text", ""), command["team_id"], command["user_id"]
        words = text.split()
        if words and words[0].lower() == "digest":
            channel_id = command["channel_id"]
            message = digests.handle(
                words[1:], team_id=team_id, enterprise_id=command.get("enterprise_id"), channel_id=channel_id,
                user_id=user_id, user_timezone=lambda: _timezone_of(client, user_id),
                is_member=lambda: _is_member(client, channel_id, user_id), now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        else:
            message = answers.command(text, team_id, user_id)
        respond(response_type="ephemeral", **message)

    @after_ack(app.action(SHOW_PAGE))
    def show_page(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(action, respond)
        if value and not value.screen:
            _refuse(respond)
        elif value:
            _show(body, respond, answers.screen(value.screen, *_who(body)))

    @after_ack(app.action(SEARCH_FOR))
    def search_for(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(action, respond)
        if value and not value.query:
            _refuse(respond)
        elif value:
            _show(body, respond, answers.screen(Screen("search", value.query), *_who(body)))

    @after_ack(app.action(MORE_LIKE_THIS))
    def more_like_this(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(action, respond)
        if value:
            came_from = value.screen if value.screen and value.screen.kind == "search" else Screen("similar")
            screen = Screen("similar", came_from.query, came_from.offset, value.talk_id)
            _show(body, respond, answers.screen(screen, *_who(body)))

    @after_ack(app.action(SAVE))
    def save(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(action, respond)
        if not value:
            return
        note = answers.save(*_who(body), value.talk_id)
        if note is None:
            _refuse(respond)
        elif _is_private(body) and value.screen:
            respond(replace_original=True, **answers.screen(value.screen, *_who(body), note=note))
        else:
            respond(response_type="ephemeral", replace_original=False, **answers.saved_notice(note))

    @after_ack(app.action(UNSAVE))
    def unsave(body: dict, action: dict, respond: Respond, client: WebClient) -> None:
        value = _button_value(action, respond)
        if not value:
            return
        team_id, user_id = _who(body)
        note = answers.unsave(team_id, user_id, value.talk_id)
        if body.get("view", {}).get("type") == "home":
            _publish_home(client, answers, team_id, user_id)
        elif value.screen:
            respond(replace_original=True, **answers.screen(value.screen, team_id, user_id, note=note))

    @after_ack(app.action(SHARE))
    def share(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(action, respond)
        if not value:
            return
        shared = answers.share(value.talk_id, body["user"]["id"])
        if not isinstance(shared, tuple):  # the talk is gone or the database did not answer: tell the sharer alone
            respond(response_type="ephemeral", replace_original=False, **shared)
            return
        message, note = shared
        respond(response_type="in_channel", replace_original=False, **message)
        if value.screen:
            respond(replace_original=True, **answers.screen(value.screen, *_who(body), note=note))

    @after_ack(app.event("message"))
    def direct_message(event: dict, say: Say) -> None:
        """A DM to the bot is a query. Edits, deletions and other bots' posts are not."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        say(**answers.public(event.get("text", "")))

    @after_ack(app.event("app_mention"))
    def mention(event: dict, say: Say) -> None:
        """`@talkbot kafka` in a channel: answer in a thread, so the channel stays readable."""
        if event.get("bot_id") or event.get("subtype"):
            return
        query = MENTION.sub(" ", event.get("text", ""))
        say(thread_ts=event.get("thread_ts") or event["ts"], **answers.public(query))

    @after_ack(app.action(VOTE_UP))
    @after_ack(app.action(VOTE_DOWN))
    def vote(body: dict, action: dict, respond: Respond) -> None:
        """👍 / 👎 on a digest post: remembered per channel, it steers that channel's next picks."""
        value = _button_value(action, respond)
        if value:
            team_id, user_id = _who(body)
            channel_id = (body.get("channel") or {}).get("id", "")
            note = answers.vote(
                team_id, channel_id, user_id, value.talk_id, 1 if action["action_id"] == VOTE_UP else -1
            )
            respond(response_type="ephemeral", replace_original=False, **note)

    @after_ack(app.event("app_home_opened"))
    def home_opened(event: dict, body: dict, client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            _publish_home(client, answers, body.get("team_id", ""), event["user"])

    @after_ack(app.event("app_uninstalled"))
    def uninstalled(context: BoltContext) -> None:
        """Removed from a workspace: keep nothing of it. A later install starts afresh."""
        with engine.sessions.begin() as session:
            forget_workspace(session, context.team_id)
        if installations:
            installations.forget(context.team_id, context.enterprise_id)
        log.info("uninstalled from workspace %s: its data is deleted", context.team_id)

    @after_ack(app.event("tokens_revoked"))
    def tokens_revoked(event: dict, context: BoltContext) -> None:
        """The bot token no longer works: pause the workspace's digests until it installs again."""
        if not (event.get("tokens") or {}).get("bot"):
            return
        with engine.sessions.begin() as session:
            paused = pause_workspace_digests(session, context.team_id)
        if installations:
            installations.forget_bot(context.team_id, context.enterprise_id)
        log.info("bot token revoked in workspace %s: %d digest(s) paused", context.team_id, paused)

    return app


def after_ack(register: Callable) -> Callable:
    """Register a listener as Bolt "lazy" work behind an immediate ack: `@after_ack(app.command("/talk"))`."""

    def decorate(work: Callable) -> Callable:
        register(ack=_ack_at_once, lazy=[work])
        return work

    return decorate


def _ack_at_once(ack: Ack) -> None:
    ack()


def _timezone_of(client: WebClient, user_id: str) -> str:
    """The user's timezone in their Slack profile, UTC if Slack will not say."""
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


def _is_member(client: WebClient, channel_id: str, user_id: str) -> bool | None:
    """Whether the user is in the channel; None when Slack will not show talkbot its members (not invited)."""
    if channel_id.startswith("D"):  # a direct message with talkbot: the user's own
        return True
    try:
        for page in client.conversations_members(channel=channel_id, limit=1000):
            if user_id in page.get("members", []):
                return True
    except SlackApiError as error:
        log.info("could not list the members of %s: %s", channel_id, error.response.get("error"))
        return None
    return False


def _publish_home(client: WebClient, answers: Answers, team_id: str, user_id: str) -> None:
    """The Home tab, with the digests of the channels the user is in (none if Slack will not list them)."""
    try:
        listed = client.users_conversations(user=user_id, types="public_channel,private_channel", limit=1000)
        channel_ids = [channel["id"] for channel in listed.get("channels", [])]
    except SlackApiError as error:
        log.warning("could not list %s's channels: %s", user_id, error.response.get("error"))
        channel_ids = []
    client.views_publish(user_id=user_id, view=answers.home(team_id, user_id, channel_ids))


def _who(body: dict) -> tuple[str, str]:
    """(workspace, user) of whoever pressed a button."""
    team = body.get("team") or {}
    return team.get("id") or body["user"].get("team_id", ""), body["user"]["id"]


def _is_private(body: dict) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _button_value(action: dict, respond: Respond) -> ButtonValue | None:
    """Button values come back from the client and are not trusted: anything odd gets a polite refusal."""
    try:
        return ButtonValue.decode(action.get("value", ""))
    except ValueError:
        _refuse(respond)
        return None


def _refuse(respond: Respond) -> None:
    """A button that cannot work (forged, or its talk since removed): say so privately, change nothing."""
    respond(response_type="ephemeral", replace_original=False, **problem_message(STALE_BUTTON))


def _show(body: dict, respond: Respond, message: dict) -> None:
    """Redraw a private message in place; answer a click on a public one privately, leaving it as it was."""
    if _is_private(body):
        respond(replace_original=True, **message)
    else:
        respond(response_type="ephemeral", replace_original=False, **message)
