"""How a listener answers the person: privately, in place, or in the thread they asked from.

A response_url answers with an HTTP status rather than an exception, so every answer is checked: a refused one
raises `SlackRefused` and reaches the error path instead of vanishing."""

from __future__ import annotations

import logging

from slack_bolt import Respond, Say
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answers import STALE_BUTTON
from bot.blocks.base import ButtonValue
from bot.blocks.messages import problem_message
from bot.digest.for_you import DmRefused
from bot.search_form import SearchForm

log = logging.getLogger(__name__)


class SlackRefused(Exception):
    """Slack answered a response_url post with an error (e.g. `invalid_blocks`): nothing reached the person."""


def checked(response) -> None:
    """A response_url answers with an HTTP status, not an exception: a refused answer must not vanish silently."""
    if response.status_code != 200:
        raise SlackRefused(f"response_url answered HTTP {response.status_code}: {str(response.body)[:200]}")


def say_in_place(event: dict, say: Say, message: dict) -> None:
    """Answer a mention in its thread (a new thread under it at the channel's top level); a DM where it was written."""
    thread_ts = event.get("thread_ts") or (event.get("ts") if event.get("type") == "app_mention" else None)
    say(thread_ts=thread_ts, **message)


def post_dm(client: WebClient, user_id: str, message: dict) -> str:
    """Post in the person's DM with talkbot and return that DM's id. Slack opens the DM for a post to a user id, so
    `chat:write` is enough (no `im:write` for conversations.open); its refusal becomes DmRefused, for the caller to
    explain."""
    try:
        return client.chat_postMessage(channel=user_id, **message)["channel"]
    except SlackApiError as error:
        raise DmRefused(error.response.get("error", "unknown")) from error


def is_private(body: dict) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def thread_of(body: dict) -> str | None:
    """The thread a clicked message (or one a message shortcut was chosen on) is in, so that new answers go there
    rather than to the channel."""
    if body.get("type") == "message_action":  # a message shortcut: no container, the message itself
        return (body.get("message") or {}).get("thread_ts")
    return (body.get("container") or {}).get("thread_ts")


def tell_privately(body: dict, respond: Respond, message: dict) -> None:
    """A new message only the clicker sees, in the thread of the message they clicked."""
    checked(respond(response_type="ephemeral", replace_original=False, thread_ts=thread_of(body), **message))


def show(body: dict, respond: Respond, message: dict) -> None:
    """Redraw a private message in place; answer a click on a public one privately, leaving it as it was."""
    if is_private(body):
        checked(respond(replace_original=True, **message))
    else:
        tell_privately(body, respond, message)


def refuse(body: dict, respond: Respond) -> None:
    """A button that cannot work (forged, or its talk since removed): say so privately, change nothing."""
    tell_privately(body, respond, problem_message(STALE_BUTTON))


def button_value(body: dict, action: dict, respond: Respond) -> ButtonValue | None:
    """Button values come back from the client and are not trusted: anything odd gets a polite refusal."""
    try:
        return ButtonValue.decode(action.get("value", ""))
    except ValueError:
        refuse(body, respond)
        return None


def clicker(body: dict) -> tuple[str, str]:
    """(workspace, user) of whoever pressed a button: the person's own workspace, also in a Slack Connect channel.

    Not Bolt's `context.team_id`: for a click that is the workspace of the app's channel (`team.id`), and a Slack
    Connect member from another workspace would see and change that workspace's saved talks."""
    team = body.get("team") or {}
    return body["user"].get("team_id") or team.get("id", ""), body["user"]["id"]


def modal_state(body: dict) -> tuple[SearchForm | None, int]:
    """(form, offset) of the search a modal shows, from its private_metadata, which comes back from the client and
    is checked like a button value: (None, 0) for anything talkbot did not write."""
    try:
        return SearchForm.decode((body.get("view") or {}).get("private_metadata", ""))
    except ValueError:
        return None, 0


def update_modal(client: WebClient, body: dict, view: dict) -> None:
    """Redraw the modal a click came from, only if it still shows what was clicked (its `hash`): when the person
    searched again meanwhile, that newer view stays and answers for itself."""
    try:
        client.views_update(view_id=body["view"]["id"], hash=body["view"].get("hash"), view=view)
    except SlackApiError as error:
        if error.response.get("error") != "hash_conflict":
            raise
        log.info("the modal changed since the click; left as it is now")


def post_checked(client: WebClient, channel: str, message: dict) -> str | None:
    """Post `message` in `channel`; None when it was posted, else Slack's error code, for the person to act on
    (not_in_channel: invite talkbot; channel_not_found, is_archived, missing_scope…)."""
    try:
        client.chat_postMessage(channel=channel, **message)
    except SlackApiError as error:
        code = str(error.response.get("error") or "unknown_error")
        log.warning("chat.postMessage to %s refused: %s", channel, code)
        return code
    return None
