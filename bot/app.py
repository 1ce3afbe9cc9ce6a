"""The Slack app: a thin Bolt `App` whose listeners ack at once and hand the work to `Answers`.

Every listener takes the workspace (and user, and channel) from Slack's signed envelope, never from a button's
value, so no click can reach another workspace's saved talks, votes or digests."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from collections.abc import Callable

from slack_bolt import Ack, App, Args, BoltContext, Respond, Say
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import STALE_BUTTON, TRY_AGAIN, Answers
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
    action_ids,
    problem_message,
)
from bot.config import SlackSettings
from bot.digest.commands import ChannelAccess, DigestCommands
from bot.installations import NOT_INSTALLED_MESSAGE, Installations, web_client
from bot.slack_text import plain_text
from db.event_receipts import claim_event
from db.search.engine import SearchEngine
from db.workspaces import forget_workspace, pause_workspace_digests

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = "Something went wrong on our side, and it has been logged. Please try again."
SLACK_REFUSED = "Slack would not show my answer (it has been logged for us to fix). Please try again."
CHANNELS_PER_PAGE = 200  # users.conversations / conversations.members: Slack recommends at most 200 a page
MAX_PAGES = 50  # how far talkbot pages through one listing before it stops asking


class SlackRefused(Exception):
    """Slack answered a response_url post with an error (e.g. `invalid_blocks`): nothing reached the person."""


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
    after_ack = _after_ack(engine.sessions)

    @after_ack(app.command("/talk"))
    def talk_command(command: dict, respond: Respond, client: WebClient, context: BoltContext) -> None:
        text, team_id, user_id = plain_text(command.get("text", "")), command["team_id"], command["user_id"]
        words = text.split()
        if words and words[0].lower() == "digest":
            channel_id = command["channel_id"]
            message = digests.handle(
                words[1:], team_id=team_id, enterprise_id=command.get("enterprise_id"), channel_id=channel_id,
                user_id=user_id, user_timezone=lambda: _timezone_of(client, user_id),
                access=lambda: _channel_access(client, command, context.bot_user_id), now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        else:
            message = answers.command(text, team_id, user_id)
        _checked(respond(response_type="ephemeral", **message))

    @after_ack(app.action(action_ids(SHOW_PAGE)))
    def show_page(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(body, action, respond)
        if value and not value.screen:
            _refuse(body, respond)
        elif value:
            _show(body, respond, answers.screen(value.screen, *_who(body)))

    @after_ack(app.action(action_ids(SEARCH_FOR)))
    def search_for(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(body, action, respond)
        if value and not value.query:
            _refuse(body, respond)
        elif value:
            _show(body, respond, answers.screen(Screen("search", value.query), *_who(body)))

    @after_ack(app.action(MORE_LIKE_THIS))
    def more_like_this(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(body, action, respond)
        if value:
            came_from = value.screen if value.screen and value.screen.kind == "search" else Screen("similar")
            screen = Screen("similar", came_from.query, came_from.offset, value.talk_id)
            _show(body, respond, answers.screen(screen, *_who(body)))

    @after_ack(app.action(SAVE))
    def save(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(body, action, respond)
        if not value:
            return
        note = answers.save(*_who(body), value.talk_id)
        if note is None:
            _refuse(body, respond)
        elif _is_private(body) and value.screen:
            _checked(respond(replace_original=True, **answers.screen(value.screen, *_who(body), note=note)))
        else:
            _tell_privately(body, respond, answers.saved_notice(note))

    @after_ack(app.action(UNSAVE))
    def unsave(body: dict, action: dict, respond: Respond, client: WebClient) -> None:
        value = _button_value(body, action, respond)
        if not value:
            return
        team_id, user_id = _who(body)
        note = answers.unsave(team_id, user_id, value.talk_id)
        if body.get("view", {}).get("type") == "home":
            _publish_home(client, answers, team_id, user_id)
        elif value.screen:
            _checked(respond(replace_original=True, **answers.screen(value.screen, team_id, user_id, note=note)))

    @after_ack(app.action(SHARE), once=True)
    def share(body: dict, action: dict, respond: Respond) -> None:
        value = _button_value(body, action, respond)
        if not value:
            return
        shared = answers.share(value.talk_id, body["user"]["id"])
        if not isinstance(shared, tuple):  # the talk is gone or the database did not answer: tell the sharer alone
            _tell_privately(body, respond, shared)
            return
        message, note = shared
        _checked(respond(response_type="in_channel", replace_original=False, thread_ts=_thread_of(body), **message))
        if value.screen:
            _checked(respond(replace_original=True, **answers.screen(value.screen, *_who(body), note=note)))

    @after_ack(app.event("message"))
    def direct_message(event: dict, say: Say) -> None:
        """A DM to the bot is a query, with or without a file attached. Edits, deletions and bots' posts are not."""
        if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share"):
            return
        if event.get("bot_id") or not event.get("text", "").strip():
            return
        say(**answers.public(plain_text(event["text"])))

    @after_ack(app.event("app_mention"))
    def mention(event: dict, say: Say) -> None:
        """`@talkbot kafka` in a channel: answer in a thread, so the channel stays readable. Slack delivers an edited
        mention again (with `edited`); it was answered the first time."""
        if event.get("bot_id") or event.get("subtype") or event.get("edited"):
            return
        _say_in_place(event, say, answers.public(plain_text(event.get("text", ""))))

    @after_ack(app.action(VOTE_UP))
    @after_ack(app.action(VOTE_DOWN))
    def vote(body: dict, action: dict, respond: Respond, context: BoltContext) -> None:
        """👍 / 👎 on a digest post: remembered per channel, it steers that channel's next picks."""
        value = _button_value(body, action, respond)
        if value:
            container = body.get("container") or {}
            note = answers.vote(
                context.team_id or "", container.get("channel_id", ""), container.get("message_ts"), body["user"]["id"],
                value.talk_id, 1 if action["action_id"] == VOTE_UP else -1,
            )  # fmt: skip
            _tell_privately(body, respond, note)

    @after_ack(app.event("app_home_opened"))
    def home_opened(event: dict, body: dict, client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            _publish_home(client, answers, body.get("team_id", ""), event["user"])

    @app.event("app_uninstalled")
    def uninstalled(ack: Ack, context: BoltContext) -> None:
        """Removed from a workspace: keep nothing of it. Done before answering Slack, so that if the database fails,
        Slack hears an error and delivers the event again (it does not resend after a 200)."""
        with engine.sessions.begin() as session:
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
            with engine.sessions.begin() as session:
                paused = pause_workspace_digests(session, context.team_id)
            if installations:
                installations.forget_bot(context.team_id, context.enterprise_id)
            log.info("bot token revoked in workspace %s: %d digest(s) paused", context.team_id, paused)
        ack()

    return app


def _after_ack(sessions: sessionmaker[Session]) -> Callable:
    """`@after_ack(app.command("/talk"))`: ack at once, then do the work as Bolt "lazy" work, behind one error path.

    The work function names the arguments it wants (as a Bolt listener would). Events are claimed here, after the
    ack, so that an ack never waits on the database: Slack redelivers events it thinks were missed, and only the
    first process to claim an event_id answers it."""

    def after_ack(register: Callable, once: bool = False) -> Callable:
        """`once`: a click whose effect others see (Share) is done once even if its request is replayed."""

        def decorate(work: Callable) -> Callable:
            wanted = tuple(inspect.signature(work).parameters)

            def run(args: Args) -> None:
                if not _first_delivery(sessions, args.body, once):
                    log.info("%s: a repeated delivery, already handled", work.__name__)
                    return
                try:
                    work(**{name: getattr(args, name) for name in wanted})
                except Exception as error:
                    _report_failure(work.__name__, args, error)

            run.__name__ = work.__name__
            register(ack=_ack_at_once, lazy=[run])
            return work

        return decorate

    return after_ack


def _ack_at_once(ack: Ack) -> None:
    ack()


def _first_delivery(sessions: sessionmaker[Session], body: dict, once: bool) -> bool:
    """False for a delivery already handled: an event Slack retried (or another replica took), or a `once` click sent
    again (a replayed request repeats its trigger_id). Other commands and clicks are answered again: they only read,
    or their writes are idempotent (save, vote, subscribe), and claiming them would cost every one a database write."""
    if body.get("type") == "event_callback":
        delivery_id = body.get("event_id")
    else:
        delivery_id = f"trigger:{body['trigger_id']}" if once and body.get("trigger_id") else None
    if not isinstance(delivery_id, str) or not delivery_id:
        return True
    try:
        with sessions.begin() as session:
            return claim_event(session, delivery_id, _team_of(body))
    except SQLAlchemyError:
        # No database, no claim: handle it anyway, so its listener can say "try again".
        log.warning("could not claim delivery %s: database unavailable; handling it unclaimed", delivery_id[:80])
        return True


def _team_of(body: dict) -> str | None:
    team = body.get("team_id") or body.get("team")
    return team.get("id") if isinstance(team, dict) else team


def _report_failure(listener: str, args: Args, error: Exception) -> None:
    """The one error path: log with the traceback, then tell the person what happened, as plainly as Slack allows."""
    log.error("%s failed", listener, exc_info=error)
    problem = problem_message(
        TRY_AGAIN if isinstance(error, SQLAlchemyError)
        else SLACK_REFUSED if isinstance(error, SlackApiError | SlackRefused)
        else SOMETHING_WENT_WRONG
    )  # fmt: skip
    try:
        if args.respond is not None:  # a command or a click: Slack gave a response_url
            _tell_privately(args.body, args.respond, problem)
        elif args.event and args.say is not None:  # a DM or a mention: answer where the question was
            _say_in_place(args.event, args.say, problem)
    except Exception:
        log.exception("%s: could not tell the person about the failure either", listener)


def _say_in_place(event: dict, say: Say, message: dict) -> None:
    """Answer a mention in its thread (a new thread under it at the channel's top level); a DM where it was written."""
    thread_ts = event.get("thread_ts") or (event.get("ts") if event.get("type") == "app_mention" else None)
    say(thread_ts=thread_ts, **message)


def _checked(response) -> None:
    """A response_url answers with an HTTP status, not an exception: a refused answer must not vanish silently."""
    if response.status_code != 200:
        raise SlackRefused(f"response_url answered HTTP {response.status_code}: {str(response.body)[:200]}")


def _timezone_of(client: WebClient, user_id: str) -> str:
    """The user's timezone in their Slack profile, UTC if Slack will not say."""
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


def _channel_access(client: WebClient, command: dict, bot_user_id: str | None) -> ChannelAccess:
    """Whether talkbot can post in the command's channel and the user is in it, as far as Slack will say."""
    channel_id, user_id, name = command["channel_id"], command["user_id"], command.get("channel_name", "")
    if channel_id.startswith("D") or name == "directmessage":
        return ChannelAccess(kind="dm")
    if name.startswith("mpdm-"):
        return ChannelAccess(kind="group_dm")
    try:
        bot_is_member = bool(client.conversations_info(channel=channel_id)["channel"].get("is_member"))
        return ChannelAccess("channel", bot_is_member, user_is_member=_is_member(client, channel_id, user_id))
    except SlackApiError as error:
        code = error.response.get("error")
        log.info("could not read channel %s: %s", channel_id, code)
        if code == "missing_scope":
            return ChannelAccess("channel", missing_scope=error.response.get("needed") or "unknown")
        return ChannelAccess("channel", bot_is_member=False)  # channel_not_found: a private channel I am not in


def _is_member(client: WebClient, channel_id: str, user_id: str) -> bool:
    cursor = None
    for _ in range(MAX_PAGES):
        page = client.conversations_members(channel=channel_id, limit=CHANNELS_PER_PAGE, cursor=cursor)
        if user_id in page.get("members", []):
            return True
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return False
    return False


def _publish_home(client: WebClient, answers: Answers, team_id: str, user_id: str) -> None:
    """The Home tab, with the digests of the channels the user is in (none if Slack will not list them)."""
    client.views_publish(user_id=user_id, view=answers.home(team_id, user_id, _channels_of(client, user_id)))


def _channels_of(client: WebClient, user_id: str) -> list[str]:
    """Every channel the user is in, page by page (Slack may return short pages before the last one)."""
    channel_ids, cursor = [], None
    try:
        for _ in range(MAX_PAGES):
            page = client.users_conversations(
                user=user_id, types="public_channel,private_channel", exclude_archived=True,
                limit=CHANNELS_PER_PAGE, cursor=cursor,
            )  # fmt: skip
            channel_ids += [channel["id"] for channel in page.get("channels", [])]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as error:
        log.warning("could not list %s's channels: %s", user_id, error.response.get("error"))
    return channel_ids


def _who(body: dict) -> tuple[str, str]:
    """(workspace, user) of whoever pressed a button: the person's own workspace, also in a Slack Connect channel."""
    team = body.get("team") or {}
    return body["user"].get("team_id") or team.get("id", ""), body["user"]["id"]


def _is_private(body: dict) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _thread_of(body: dict) -> str | None:
    """The thread a clicked message is in, so that new answers go there rather than to the channel."""
    return (body.get("container") or {}).get("thread_ts")


def _button_value(body: dict, action: dict, respond: Respond) -> ButtonValue | None:
    """Button values come back from the client and are not trusted: anything odd gets a polite refusal."""
    try:
        return ButtonValue.decode(action.get("value", ""))
    except ValueError:
        _refuse(body, respond)
        return None


def _refuse(body: dict, respond: Respond) -> None:
    """A button that cannot work (forged, or its talk since removed): say so privately, change nothing."""
    _tell_privately(body, respond, problem_message(STALE_BUTTON))


def _tell_privately(body: dict, respond: Respond, message: dict) -> None:
    """A new message only the clicker sees, in the thread of the message they clicked."""
    _checked(respond(response_type="ephemeral", replace_original=False, thread_ts=_thread_of(body), **message))


def _show(body: dict, respond: Respond, message: dict) -> None:
    """Redraw a private message in place; answer a click on a public one privately, leaving it as it was."""
    if _is_private(body):
        _checked(respond(replace_original=True, **message))
    else:
        _tell_privately(body, respond, message)
