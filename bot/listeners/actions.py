"""Buttons: paging, search links, more like this, save / unsave, watched / not watched, share, digest votes and
unfollow.

Every click is answered for the workspace and user in Slack's signed envelope, never a button's value, so no click
reaches another workspace's saved talks, votes or digests."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient

from bot.answers import Answers
from bot.blocks.base import (
    MORE_LIKE_THIS,
    SAVE,
    SEARCH_FOR,
    SHARE,
    SHOW_PAGE,
    UNSAVE,
    UNWATCH,
    VOTE_DOWN,
    VOTE_UP,
    WATCH,
    Screen,
    action_ids,
)
from bot.blocks.follows import UNFOLLOW
from bot.listeners.errors import after_ack
from bot.listeners.home import publish_home
from bot.listeners.replies import button_value, checked, clicker, is_private, refuse, show, tell_privately, thread_of
from bot.services import Services


def register(app: App, services: Services) -> None:
    answers, follows, lazy = services.answers, services.follows, after_ack(services.sessions)

    @lazy(app.action(action_ids(SHOW_PAGE)))
    def show_page(body: dict, action: dict, respond: Respond) -> None:
        value = button_value(body, action, respond)
        if value and not value.screen:
            refuse(body, respond)
        elif value:
            show(body, respond, answers.screen(value.screen, *clicker(body)))

    @lazy(app.action(action_ids(SEARCH_FOR)))
    def search_for(body: dict, action: dict, respond: Respond) -> None:
        value = button_value(body, action, respond)
        if value and not value.query:
            refuse(body, respond)
        elif value:
            show(body, respond, answers.screen(Screen("search", value.query), *clicker(body)))

    @lazy(app.action(MORE_LIKE_THIS))
    def more_like_this(body: dict, action: dict, respond: Respond) -> None:
        value = button_value(body, action, respond)
        if value:
            came_from = value.screen if value.screen and value.screen.kind == "search" else Screen("similar")
            screen = Screen("similar", came_from.query, came_from.offset, value.talk_id)
            show(body, respond, answers.screen(screen, *clicker(body)))

    @lazy(app.action(SAVE))
    def save(body: dict, action: dict, respond: Respond) -> None:
        put_on_list(answers, body, action, respond, answers.save, answers.saved_notice)

    @lazy(app.action(UNSAVE))
    def unsave(body: dict, action: dict, respond: Respond, client: WebClient) -> None:
        take_off_list(answers, body, action, respond, client, answers.unsave, answers.saved_notice)

    @lazy(app.action(WATCH))
    def watch(body: dict, action: dict, respond: Respond) -> None:
        put_on_list(answers, body, action, respond, answers.watch, answers.watched_notice)

    @lazy(app.action(UNWATCH))
    def unwatch(body: dict, action: dict, respond: Respond, client: WebClient) -> None:
        take_off_list(answers, body, action, respond, client, answers.unwatch, answers.watched_notice)

    @lazy(app.action(SHARE), once=True)
    def share(body: dict, action: dict, respond: Respond) -> None:
        value = button_value(body, action, respond)
        if not value:
            return
        shared = answers.share(value.talk_id, body["user"]["id"])
        if not isinstance(shared, tuple):  # the talk is gone: tell the sharer alone
            tell_privately(body, respond, shared)
            return
        message, note = shared
        checked(respond(response_type="in_channel", replace_original=False, thread_ts=thread_of(body), **message))
        if value.screen:
            checked(respond(replace_original=True, **answers.screen(value.screen, *clicker(body), note=note)))

    @lazy(app.action(VOTE_UP))
    @lazy(app.action(VOTE_DOWN))
    def vote(body: dict, action: dict, respond: Respond, context: BoltContext) -> None:
        """👍 / 👎 on a digest post: remembered per channel, it steers that channel's next picks."""
        value = button_value(body, action, respond)
        if value:
            container = body.get("container") or {}
            note = answers.vote(
                context.team_id or "", container.get("channel_id", ""), container.get("message_ts"), body["user"]["id"],
                value.talk_id, 1 if action["action_id"] == VOTE_UP else -1,
            )  # fmt: skip
            tell_privately(body, respond, note)

    @lazy(app.action(action_ids(UNFOLLOW)))
    def unfollow(body: dict, action: dict, respond: Respond) -> None:
        """Unfollow in `/talk following`: the follow is the clicker's own, named by its text; the list is redrawn."""
        value = button_value(body, action, respond)
        if value and not value.query:
            refuse(body, respond)
        elif value:
            show(body, respond, follows.unfollow(*clicker(body), value.query))


def put_on_list(answers: Answers, body: dict, action: dict, respond: Respond, put: Callable, notice: Callable) -> None:
    """Save or Watched: a private message redraws in place with a note; on a public one the clicker alone is told."""
    value = button_value(body, action, respond)
    if not value:
        return
    note = put(*clicker(body), value.talk_id)
    if note is None:
        refuse(body, respond)
    elif is_private(body) and value.screen:
        checked(respond(replace_original=True, **answers.screen(value.screen, *clicker(body), note=note)))
    else:
        tell_privately(body, respond, notice(note))


def take_off_list(answers: Answers, body: dict, action: dict, respond: Respond, client: WebClient, take: Callable,
                  notice: Callable) -> None:  # fmt: skip
    """The undo (Saved ✓ / Remove, Watched ✓ / Not watched): the Home tab is published again, a private message
    redrawn in place; on a public one the clicker alone is told."""
    value = button_value(body, action, respond)
    if not value:
        return
    team_id, user_id = clicker(body)
    note = take(team_id, user_id, value.talk_id)
    if body.get("view", {}).get("type") == "home":
        publish_home(client, answers, team_id, user_id)
    elif value.screen:
        checked(respond(replace_original=True, **answers.screen(value.screen, team_id, user_id, note=note)))
    else:
        tell_privately(body, respond, notice(note))
