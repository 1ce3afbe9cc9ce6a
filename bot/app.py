"""The Slack app: a thin Bolt `App` whose listeners ack at once and hand the work to `Answers`."""

from __future__ import annotations

import datetime as dt
import logging
import re

from slack_bolt import Ack, App, BoltResponse, Respond, Say
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

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
from db.event_receipts import claim_event
from db.search.engine import SearchEngine

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def web_client(settings: SlackSettings) -> WebClient:
    """The Web API client: `SLACK_API_URL` decides where it points; 429s are retried after Retry-After."""
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
    )


def create_app(settings: SlackSettings, engine: SearchEngine) -> App:
    # Socket Mode needs no signing secret; HTTP mode requires one (bot/server.py) and verifies every request.
    app = App(
        client=web_client(settings),
        signing_secret=settings.signing_secret,
        request_verification_enabled=bool(settings.signing_secret),
    )
    answers = Answers(engine)
    digests = DigestCommands(engine)

    @app.middleware
    def answer_each_event_once(body: dict, next) -> BoltResponse | None:
        """Slack redelivers events it thinks were missed; the first replica to claim an event_id handles it."""
        if body.get("type") == "event_callback" and body.get("event_id"):
            with engine.sessions.begin() as session:
                if not claim_event(session, body["event_id"], body.get("team_id")):
                    return BoltResponse(status=200, body="")
        return next()

    @app.command("/talk")
    def talk_command(ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        ack()
        text, team_id, user_id = command.get("text", ""), command["team_id"], command["user_id"]
        words = text.split()
        if words and words[0].lower() == "digest":
            message = digests.handle(
                words[1:], team_id=team_id, channel_id=command["channel_id"], user_id=user_id,
                user_timezone=lambda: _timezone_of(client, user_id), now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        else:
            message = answers.command(text, team_id, user_id)
        respond(response_type="ephemeral", **message)

    @app.action(SHOW_PAGE)
    def show_page(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        value = _button_value(action, respond)
        if value and value.screen:
            _show(body, respond, answers.screen(value.screen, *_who(body)))

    @app.action(SEARCH_FOR)
    def search_for(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        value = _button_value(action, respond)
        if value and value.query:
            _show(body, respond, answers.screen(Screen("search", value.query), *_who(body)))

    @app.action(MORE_LIKE_THIS)
    def more_like_this(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        value = _button_value(action, respond)
        if value:
            came_from = value.screen if value.screen and value.screen.kind == "search" else Screen("similar")
            screen = Screen("similar", came_from.query, came_from.offset, value.talk_id)
            _show(body, respond, answers.screen(screen, *_who(body)))

    @app.action(SAVE)
    def save(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        value = _button_value(action, respond)
        if not value:
            return
        note = answers.save(*_who(body), value.talk_id)
        if note is None:
            respond(response_type="ephemeral", replace_original=False, **problem_message(STALE_BUTTON))
        elif _is_private(body) and value.screen:
            respond(replace_original=True, **answers.screen(value.screen, *_who(body), note=note))
        else:
            respond(response_type="ephemeral", replace_original=False, **answers.saved_notice(note))

    @app.action(UNSAVE)
    def unsave(ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient) -> None:
        ack()
        value = _button_value(action, respond)
        if not value:
            return
        team_id, user_id = _who(body)
        note = answers.unsave(team_id, user_id, value.talk_id)
        if body.get("view", {}).get("type") == "home":
            _publish_home(client, answers, team_id, user_id)
        elif value.screen:
            respond(replace_original=True, **answers.screen(value.screen, team_id, user_id, note=note))

    @app.action(SHARE)
    def share(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        value = _button_value(action, respond)
        if not value:
            return
        shared = answers.share(value.talk_id, body["user"]["id"])
        if shared is None:
            respond(response_type="ephemeral", replace_original=False, **problem_message(STALE_BUTTON))
            return
        message, note = shared
        respond(response_type="in_channel", replace_original=False, **message)
        if value.screen:
            respond(replace_original=True, **answers.screen(value.screen, *_who(body), note=note))

    @app.event("message")
    def direct_message(event: dict, say: Say) -> None:
        """A DM to the bot is a query. Edits, deletions and other bots' posts are not."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        say(**answers.public(event.get("text", "")))

    @app.event("app_mention")
    def mention(event: dict, say: Say) -> None:
        """`@talkbot kafka` in a channel: answer in a thread, so the channel stays readable."""
        if event.get("bot_id") or event.get("subtype"):
            return
        query = MENTION.sub(" ", event.get("text", ""))
        say(thread_ts=event.get("thread_ts") or event["ts"], **answers.public(query))

    @app.action(VOTE_UP)
    @app.action(VOTE_DOWN)
    def vote(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        """👍 / 👎 on a digest post: remembered per channel, it steers that channel's next picks."""
        ack()
        value = _button_value(action, respond)
        if value:
            team_id, user_id = _who(body)
            channel_id = (body.get("channel") or {}).get("id", "")
            note = answers.vote(
                team_id, channel_id, user_id, value.talk_id, 1 if action["action_id"] == VOTE_UP else -1
            )
            respond(response_type="ephemeral", replace_original=False, **note)

    @app.event("app_home_opened")
    def home_opened(event: dict, body: dict, client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            _publish_home(client, answers, body.get("team_id", ""), event["user"])

    return app


def _timezone_of(client: WebClient, user_id: str) -> str:
    """The user's timezone in their Slack profile, UTC if Slack will not say."""
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


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
        respond(response_type="ephemeral", replace_original=False, **problem_message(STALE_BUTTON))
        return None


def _show(body: dict, respond: Respond, message: dict) -> None:
    """Redraw a private message in place; answer a click on a public one privately, leaving it as it was."""
    if _is_private(body):
        respond(replace_original=True, **message)
    else:
        respond(response_type="ephemeral", replace_original=False, **message)
