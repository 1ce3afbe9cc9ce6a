"""What listeners ask Slack before answering: a user's timezone, who may use a channel, the channels a user is in."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digest.commands import ChannelAccess

log = logging.getLogger(__name__)

CHANNELS_PER_PAGE = 200  # users.conversations / conversations.members: Slack recommends at most 200 a page
MAX_PAGES = 50  # how far talkbot pages through one listing before it stops asking


def timezone_of(client: WebClient, user_id: str) -> str:
    """The user's timezone in their Slack profile, UTC if Slack will not say."""
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except SlackApiError:
        return "UTC"


def channel_access(client: WebClient, command: dict, bot_user_id: str | None) -> ChannelAccess:
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


def channels_of(client: WebClient, user_id: str) -> list[str]:
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
