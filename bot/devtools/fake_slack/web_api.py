"""The Web API methods the fake answers (chat.*, conversations.*, users.*, views.*), with Slack's paging."""

from __future__ import annotations

import base64
import binascii
import copy
import re
import secrets
import time

from bot.devtools.fake_slack.records import (
    CONVERSATION_TYPES,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE_LIMIT,
    READ_SCOPE,
    UNFURL_SOURCES,
    _Channel,
    _error,
    _is_true,
    _missing_scope,
    _Token,
    _user,
)
from bot.devtools.fake_slack.scenarios import _LINK

# "trigger_id … expires in three seconds" and can open one view (https://api.slack.com/interactivity/handling#modal_responses).
TRIGGER_LIFETIME_SECONDS = 3
_TRIGGER = re.compile(r"(\d{9,11})\.\d+\.[0-9a-f]+")  # seconds.team-ish.hex, as in every interaction payload


def trigger_issued_at(trigger_id: str) -> int | None:
    """When a trigger_id was issued (its first part, in seconds), or None for one Slack never issued."""
    match = _TRIGGER.fullmatch(trigger_id)
    return int(match.group(1)) if match else None


class WebApiMethods:
    """The Web API methods talkbot calls, answered from the fake's state the way Slack answers them."""

    def _chat_post_message(self, params: dict, caller: _Token) -> dict:
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        if channel[0] in "UW":  # a user id: Slack posts in that person's DM with the app and names the DM's id
            channel = self._conversations_open({"users": channel}, caller)["channel"]["id"]
        refused = self._post_refusal(channel, caller)
        if refused:
            return refused
        message = {
            "ts": self._next_ts(), "channel": channel, "text": params.get("text", ""),
            "blocks": self._with_block_ids(params.get("blocks")), "thread_ts": params.get("thread_ts"),
            "metadata": params.get("metadata"), "user": caller.workspace.bot_user_id, "bot_id": caller.workspace.bot_id,
        }  # fmt: skip
        self._messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _post_refusal(self, channel_id: str, caller: _Token) -> dict | None:
        """Why Slack would not let the bot post in a conversation the fake knows (set_channel, set_channel_members):
        `not_in_channel` for a public channel it was not invited to (without chat:write.public), `channel_not_found`
        for a private one it cannot see, `is_archived`. Conversations the fake was never told about are accepted."""
        if "chat:write" not in caller.scopes:
            return _missing_scope("chat:write", caller.scopes)
        channel = self._channels.get(channel_id)
        if channel is None:
            return None
        if channel.is_archived:
            return _error("is_archived")
        if self._bot_is_member(channel, caller) or (channel.kind == "public" and "chat:write.public" in caller.scopes):
            return None
        return _error("channel_not_found" if channel.kind != "public" else "not_in_channel")

    def _chat_post_ephemeral(self, params: dict, caller: _Token) -> dict:
        if not params.get("channel"):
            return _error("channel_not_found")
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: dict, caller: _Token) -> dict:
        message = self._find_message(params.get("channel"), params.get("ts"))
        if message is None:
            return _error("message_not_found")
        message.update({key: params[key] for key in ("text", "metadata") if key in params})
        if "blocks" in params:
            message["blocks"] = self._with_block_ids(params["blocks"])
        return {
            "ok": True, "channel": message["channel"], "ts": message["ts"], "text": message["text"],
            "message": copy.deepcopy(message),
        }  # fmt: skip

    def _chat_delete(self, params: dict, caller: _Token) -> dict:
        message = self._find_message(params.get("channel"), params.get("ts"))
        if message is None:
            return _error("message_not_found")
        self._messages[message["channel"]].remove(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _chat_unfurl(self, params: dict, caller: _Token) -> dict:
        """Unfurls for a message named by (channel, ts) or by (unfurl_id, source) from its link_shared event; each URL
        must be one of the message's links. Blocks were checked before (block_kit._unfurl_refusal)."""
        if "links:write" not in caller.scopes:
            return _missing_scope("links:write", caller.scopes)
        by_id, by_message = (params.get("unfurl_id"), params.get("source")), (params.get("channel"), params.get("ts"))
        if all(by_id):
            if params["source"] not in UNFURL_SOURCES:
                return _error("invalid_source")
            if by_id[0] not in self._unfurl_ids or self._unfurl_ids[by_id[0]][2] != params["source"]:
                return _error("invalid_unfurl_id")
            channel, ts, _source, urls = self._unfurl_ids[by_id[0]]
        elif all(by_message) and not any(by_id):
            channel, ts = by_message
            if channel not in self._messages and channel not in self._channels:
                return _error("cannot_find_channel")
            message = self._find_message(channel, ts)
            if message is None:
                return _error("cannot_unfurl_message")
            urls = tuple(url for url in _LINK.findall(message["text"] or ""))
        else:  # both ways named, or neither, or half of one
            return _error("invalid_arguments")
        if not set(params["unfurls"]) <= set(urls):
            return _error("cannot_unfurl_url")  # a URL the message does not contain
        self._unfurls[(channel, ts)].update(copy.deepcopy(params["unfurls"]))
        return {"ok": True}

    def _conversations_history(self, params: dict, caller: _Token) -> dict:
        """Like Slack, lists top-level messages only: thread replies are read with conversations.replies. A user id is
        not a conversation: Slack accepts one for posting, not for reading."""
        if _is_user_id(params.get("channel") or ""):
            return _error("channel_not_found")
        top_level = [message for message in self._messages.get(params.get("channel"), []) if not _is_reply(message)]
        in_window = [message for message in top_level if _within_window(message["ts"], params)]
        newest_first = list(reversed(in_window))[: int(params.get("limit") or DEFAULT_HISTORY_LIMIT)]
        return _message_list(newest_first, params)

    def _conversations_replies(self, params: dict, caller: _Token) -> dict:
        thread_ts = params.get("ts")
        thread = [
            message for message in self._messages.get(params.get("channel"), [])
            if thread_ts in (message["ts"], message["thread_ts"])
        ]  # fmt: skip
        if not thread:
            return _error("thread_not_found")
        return _message_list(thread[: int(params.get("limit") or DEFAULT_HISTORY_LIMIT)], params)

    def _conversations_open(self, params: dict, caller: _Token) -> dict:
        user_id = params.get("users")
        if not user_id:
            return _error("users_list_not_supplied")
        return {"ok": True, "channel": {"id": _dm_of(user_id)}}

    def _visible_channel(self, channel_id: str | None, caller: _Token) -> _Channel | dict:
        """The channel, as far as the caller may see it; else Slack's error (missing_scope names what is needed)."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return _error("channel_not_found")
        needed = READ_SCOPE[channel.kind]
        if needed not in caller.scopes:
            return _missing_scope(needed, caller.scopes)
        if channel.kind in ("private", "mpim") and not self._bot_is_member(channel, caller):
            return _error("channel_not_found")  # Slack does not admit that a private channel it hides exists
        return channel

    def _bot_is_member(self, channel: _Channel, caller: _Token) -> bool:
        return channel.kind == "im" or caller.workspace.bot_user_id in self._channel_members.get(channel.id, set())

    def _conversations_info(self, params: dict, caller: _Token) -> dict:
        channel = self._visible_channel(params.get("channel"), caller)
        if isinstance(channel, dict):
            return channel
        return {"ok": True, "channel": self._channel_object(channel, caller)}

    def _channel_object(self, channel: _Channel, caller: _Token) -> dict:
        """A conversation object with the fields conversations.info and users.conversations answer."""
        if channel.kind == "im":
            return {"id": channel.id, "is_im": True, "user": channel.user, "is_user_deleted": False, "created": 0}
        return {
            "id": channel.id, "name": channel.name, "is_channel": channel.kind == "public",
            "is_group": channel.kind == "private", "is_im": False, "is_mpim": channel.kind == "mpim",
            "is_private": channel.kind != "public", "is_archived": channel.is_archived, "is_general": False,
            "is_ext_shared": False, "is_member": self._bot_is_member(channel, caller), "created": 0,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
        }  # fmt: skip

    def _conversations_members(self, params: dict, caller: _Token) -> dict:
        """Members of a channel set with set_channel_members, a page at a time; unknown channels are not found."""
        channel = self._visible_channel(params.get("channel"), caller)
        if isinstance(channel, dict):
            return channel
        page = self._page(sorted(self._channel_members.get(channel.id, set())), params, "conversations.members")
        if "error" in page:
            return page
        return {"ok": True, "members": page["items"], "response_metadata": {"next_cursor": page["next_cursor"]}}

    def _users_info(self, params: dict, caller: _Token) -> dict:
        user_id = params.get("user")
        if not user_id:
            return _error("user_not_found")
        return {"ok": True, "user": dict(self._users.get(user_id) or _user(user_id))}

    def _users_conversations(self, params: dict, caller: _Token) -> dict:
        """The conversations a user is in, filtered by `types` and paged; non-public ones only where the bot is too."""
        kinds = [CONVERSATION_TYPES.get(name) for name in (params.get("types") or "public_channel").split(",")]
        if None in kinds:
            return _error("invalid_types")
        for kind in kinds:
            if READ_SCOPE[kind] not in caller.scopes:
                return _missing_scope(READ_SCOPE[kind], caller.scopes)
        user_id = params.get("user") or caller.workspace.bot_user_id
        listed = [
            channel for channel_id, channel in sorted(self._channels.items())
            if channel.kind in kinds and user_id in self._channel_members.get(channel_id, set())
            and (channel.kind == "public" or self._bot_is_member(channel, caller))
            and not (channel.is_archived and _is_true(params.get("exclude_archived")))
        ]  # fmt: skip
        page = self._page(listed, params, "users.conversations")
        if "error" in page:
            return page
        channels = [self._channel_object(channel, caller) for channel in page["items"]]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": page["next_cursor"]}}

    def _page(self, items: list, params: dict, method: str) -> dict:
        """One page of `items` by Slack's cursor paging: {items, next_cursor} or Slack's error."""
        try:
            limit = int(params.get("limit") or DEFAULT_PAGE_LIMIT)
        except (TypeError, ValueError):
            return _error("invalid_limit")
        if limit > MAX_PAGE_LIMIT:
            return _error("invalid_limit")
        limit = limit if limit > 0 else DEFAULT_PAGE_LIMIT
        offset = _decode_cursor(params.get("cursor"), method)
        if offset is None or offset > len(items):
            return _error("invalid_cursor")
        size = min(limit, self._page_size_cap or limit)
        following = offset + size
        return {"items": items[offset:following], "next_cursor": _cursor(method, following) if following < len(items)
                else ""}  # fmt: skip

    def _views_publish(self, params: dict, caller: _Token) -> dict:
        return {"ok": True, "view": self._view_object(params.get("view") or {}, caller)}

    def _views_open(self, params: dict, caller: _Token) -> dict:
        """views.open (and views.push): a trigger_id from an interaction, used once and within 3 s, as Slack asks."""
        trigger_id = params.get("trigger_id")
        if not trigger_id:
            return _error("invalid_arguments")
        refused = self._exchange_trigger(str(trigger_id))
        if refused:
            return _error(refused)
        view = self._view_object(params.get("view") or {}, caller)
        self._views[view["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _exchange_trigger(self, trigger_id: str) -> str | None:
        """Slack's error for a trigger_id that cannot open a view, or None (and it is used up)."""
        issued_at = trigger_issued_at(trigger_id)
        if issued_at is None:
            return "invalid_trigger_id"
        if trigger_id in self._exchanged_triggers:
            return "exchanged_trigger_id"
        if time.time() - issued_at > TRIGGER_LIFETIME_SECONDS:
            return "expired_trigger_id"
        self._exchanged_triggers.add(trigger_id)
        return None

    def _views_update(self, params: dict, caller: _Token) -> dict:
        """A view this app opened, by view_id or external_id; with `hash`, only if nobody changed it since."""
        view_id = params.get("view_id") or next(
            (key for key, view in self._views.items() if params.get("external_id") and
             view.get("external_id") == params["external_id"]), None,
        )  # fmt: skip
        current = self._views.get(view_id)
        if current is None or current["team_id"] != caller.workspace.team_id:
            return _error("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            return _error("hash_conflict")
        view = self._view_object({**(params.get("view") or {}), "id": view_id}, caller)
        self._views[view_id] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _view_object(self, view: dict, caller: _Token) -> dict:
        """The view as Slack answers it: with an id, the team, a new hash, an empty state and block ids filled in."""
        return {
            "id": view.get("id") or self._next_view_id(), "team_id": caller.workspace.team_id,
            "app_installed_team_id": caller.workspace.team_id, "bot_id": caller.workspace.bot_id,
            "private_metadata": "", "callback_id": "", "external_id": "", "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(6)}",
            **{key: value for key, value in view.items() if key not in ("id", "blocks")},
            "blocks": self._with_block_ids(view.get("blocks") or []),
        }  # fmt: skip

    def _next_view_id(self) -> str:
        self._issued_view_ids += 1
        return f"V{self._issued_view_ids:08d}"


def _cursor(method: str, offset: int) -> str:
    """An opaque cursor like Slack's ("dXNlcjpVMDYxTkZUVDI=" is base64 of "user:U061NFTT2")."""
    return base64.b64encode(f"{method}:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None, method: str) -> int | None:
    """The offset a cursor stands for; None for a cursor this method did not issue."""
    if not cursor:
        return 0
    try:
        issued_by, _, offset = base64.b64decode(cursor, validate=True).decode().rpartition(":")
        return int(offset) if issued_by == method and int(offset) >= 0 else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _is_user_id(channel: str) -> bool:
    return channel[:1] in ("U", "W")


def _dm_of(user_id: str) -> str:
    """The id of talkbot's DM with a user (the fake's: "D" and the rest of the user id)."""
    return "D" + user_id[1:]


def _is_reply(message: dict) -> bool:
    return message["thread_ts"] not in (None, message["ts"])


def _within_window(ts: str, params: dict) -> bool:
    """Slack's oldest/latest bounds: exclusive unless `inclusive` is set."""
    moment = float(ts)
    oldest = float(params.get("oldest") or "-inf")
    latest = float(params.get("latest") or "inf")
    if _is_true(params.get("inclusive")):
        return oldest <= moment <= latest
    return oldest < moment < latest


def _message_list(messages: list[dict], params: dict) -> dict:
    """A history-style answer; Slack leaves out message metadata unless the caller asks for it."""
    with_metadata = _is_true(params.get("include_all_metadata"))
    listed = [
        copy.deepcopy(message) if with_metadata else {key: value for key, value in message.items() if key != "metadata"}
        for message in messages
    ]
    return {"ok": True, "messages": listed, "has_more": False}
