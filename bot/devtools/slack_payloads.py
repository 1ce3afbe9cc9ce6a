"""What Slack sends talkbot — slash commands, events, button clicks — built and signed the way Slack does.

The local console speaks to the real app through these, and so do the tests. The shapes follow the payloads in
bolt-python's own scenario tests (tests/scenario_tests: test_slash_command, test_message_changed,
test_message_file_share, test_block_actions, test_block_actions_respond, test_events_shared_channels) and Slack's
docs; where a field was checked elsewhere, the builder says where.

Text a person typed is escaped as Slack escapes it: `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`
(https://api.slack.com/reference/surfaces/formatting#escaping). Mentions, channels and links a person inserted reach
an app in Slack's own markup (`<@U123>`, `<#C123|general>`, `<https://example.com|label>`, `<!here>`); written that
way in the text given here, they are kept as such and only their `&` is escaped. Pass `escape=False` to send text
exactly as given.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
APP_ID = "ATALKBOT"
BOT_USER_ID = "UTALKBOT"
BOT_ID = "BTALKBOT"
COMMAND = "/talk"

# Slash commands name the conversation in `channel_name`: its name for channels, and for the rest what Slack writes
# instead (seen in captured payloads: "directmessage" for a DM, "privategroup" for private channels, "mpdm-…" for a
# group DM, the member names joined by "--" with a counter).
DIRECT_MESSAGE = "directmessage"
PRIVATE_GROUP = "privategroup"

# Slack's markup for what a person inserted rather than typed: <@U123>, <@U123|name>, <#C123|general>, <!here>,
# <!subteam^S123|@sre>, <https://…|label>, <mailto:…>.
SLACK_MARKUP = re.compile(r"<(?:[@#!][A-Za-z0-9^]+|(?:https?|mailto):[^\s<>|]+)(?:\|[^<>]*)?>")


def group_dm_name(*user_names: str) -> str:
    """The `channel_name` of a group DM in a slash command: "mpdm-alice--bob--carol-1"."""
    return "mpdm-" + "--".join(user_names) + "-1"


def retry_headers(retry_num: int, reason: str = "http_timeout") -> dict:
    """Headers Slack adds when it redelivers an event it thinks was missed (Events API retries)."""
    return {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason}


def slack_escaped(typed: str) -> str:
    """Text as Slack delivers what was typed: `&`, `<`, `>` escaped, Slack markup (`<@U123>` …) kept."""
    escaped, last = [], 0
    for markup in SLACK_MARKUP.finditer(typed):
        escaped += [_escape(typed[last : markup.start()]), markup.group(0).replace("&", "&amp;")]
        last = markup.end()
    return "".join([*escaped, _escape(typed[last:])])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _typed(text: str, escape: bool) -> str:
    return slack_escaped(text) if escape else text


def new_ts() -> str:
    """A message timestamp as Slack writes them: seconds and microseconds."""
    return f"{time.time():.6f}"


def new_trigger_id() -> str:
    """A trigger_id as interactions carry them: the second it was issued, a number, a hex string. Slack lets one
    open a single view, within 3 s (the fake checks both)."""
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def new_event_id() -> str:
    return f"Ev{uuid.uuid4().hex[:10].upper()}"


def signed_headers(signing_secret: str, body: bytes, content_type: str, timestamp: int | None = None) -> dict:
    """Headers Slack would send with `body`: X-Slack-Request-Timestamp and a v0 HMAC signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def slash_command(
    text: str, *, user_id: str, team_id: str, channel_id: str, response_url: str, channel_name: str = "general",
    escape: bool = True, enterprise_id: str | None = None, is_enterprise_install: bool = False,
    command: str = COMMAND, user_name: str | None = None, trigger_id: str | None = None,
) -> bytes:  # fmt: skip
    """`/talk text` as Slack posts it (form-encoded). `channel_name` is DIRECT_MESSAGE in a DM,
    group_dm_name(...) in a group DM, PRIVATE_GROUP for a private channel.

    talkbot's manifest sets `should_escape: false`, so Slack sends typed mentions as plain text ("@alice"); markup
    like `<@U123>` in `text` models an app with escaping on. `&`, `<` and `>` are escaped either way."""
    fields = {
        "token": "unused",
        "team_id": team_id,
        "team_domain": team_id.lower(),
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": _typed(text, escape),
        "api_app_id": APP_ID,
        "is_enterprise_install": "true" if is_enterprise_install else "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise_id:
        fields.update(enterprise_id=enterprise_id, enterprise_name=f"{enterprise_id} Org")
    return urlencode(fields).encode()


def event_callback(
    event: dict, *, team_id: str, event_id: str | None = None, enterprise_id: str | None = None,
    bot_user_id: str = BOT_USER_ID, is_ext_shared_channel: bool = False, context_team_id: str | None = None,
    event_time: int | None = None,
) -> bytes:  # fmt: skip
    """The Events API envelope around `event`, delivered to the workspace `team_id` that installed talkbot.

    `authorizations` names the installation the event is for (bolt authorizes with it, also in shared channels);
    `is_ext_shared_channel` marks a Slack Connect channel, whose home workspace is `context_team_id`;
    `event_context` is an opaque id Slack adds. A redelivery keeps the event_id: pass the same `event_id` and
    `retry_headers(n)`."""
    channel = event.get("channel") if isinstance(event.get("channel"), str) else ""
    envelope = {
        "token": "unused",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [_authorization(team_id, enterprise_id, bot_user_id)],
        "is_ext_shared_channel": is_ext_shared_channel,
        "event_context": _event_context(event.get("type", ""), team_id, channel),
    }
    if enterprise_id:
        envelope["enterprise_id"] = enterprise_id
    if is_ext_shared_channel:
        envelope["context_team_id"] = context_team_id or team_id
        envelope["context_enterprise_id"] = None
    return json.dumps(envelope).encode()


def _authorization(team_id: str, enterprise_id: str | None, bot_user_id: str) -> dict:
    """The installation an event is delivered for: its workspace and talkbot's bot user there."""
    return {
        "enterprise_id": enterprise_id, "team_id": team_id, "user_id": bot_user_id, "is_bot": True,
        "is_enterprise_install": False,
    }  # fmt: skip


def _event_context(event_type: str, team_id: str, channel: str) -> str:
    """Slack's opaque event_context ("4-" and base64 of who/where), which apps pass back to apps.event.* methods."""
    described = json.dumps({"et": event_type, "tid": team_id, "aid": APP_ID, "cid": channel}, separators=(",", ":"))
    return "4-" + base64.urlsafe_b64encode(described.encode()).decode().rstrip("=")


def message_event(
    text: str, *, user_id: str, channel_id: str, channel_type: str = "im", escape: bool = True,
    team_id: str | None = None, ts: str | None = None, **extra,
) -> dict:  # fmt: skip
    """A `message` event: someone wrote in a DM with talkbot (`channel_type` "im") or a channel talkbot is in.
    Extra fields (`thread_ts`, `subtype`, `bot_id`, …) are added as given."""
    ts = ts or new_ts()
    event = {
        "type": "message",
        "channel_type": channel_type,
        "user": user_id,
        "text": _typed(text, escape),
        "channel": channel_id,
        "ts": ts,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
    }
    if team_id:
        event["team"] = team_id
    return {**event, **extra}


def link_shared(
    urls: list[str], *, user_id: str, channel_id: str, message_ts: str, unfurl_id: str,
    source: str = "conversations_history", thread_ts: str | None = None,
) -> dict:  # fmt: skip
    """A `link_shared` event (https://api.slack.com/events/link_shared): a message links to one of the app's
    unfurl_domains; `links` holds each such URL with its domain, in the message's order. `source` is
    "conversations_history" for a posted message, "composer" while the link is still being typed; `unfurl_id` names
    the links for chat.unfurl either way (with `source`)."""
    event = {
        "type": "link_shared", "channel": channel_id, "is_bot_user_member": True, "user": user_id,
        "message_ts": message_ts, "unfurl_id": unfurl_id, "source": source, "event_ts": new_ts(),
        "links": [{"domain": urlsplit(url).hostname or "", "url": url} for url in urls],
    }  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def app_mention(
    text: str, *, user_id: str, channel_id: str, team_id: str, ts: str | None = None, thread_ts: str | None = None,
    edited: bool = False, user_team: str | None = None, escape: bool = True,
) -> dict:  # fmt: skip
    """An `app_mention` event; `text` includes the mention itself ("<@UTALKBOT> kafka").

    In a thread, `thread_ts` is the thread's parent. `edited=True` is what Slack sends when the person edits a
    message that mentions talkbot: the same event type again, under a new event_id, with the message's original
    `ts`, no subtype and an `edited` field naming who edited it and when (reported in slackapi/bolt-js#960,
    slackapi/java-slack-sdk#755, slack-go/slack#1256). A person from another workspace in a Slack Connect channel
    (`user_team`) carries their own team in `team`, `user_team` and `source_team`."""
    ts = ts or new_ts()
    event_ts = new_ts() if edited else ts
    event = {
        "type": "app_mention",
        "client_msg_id": str(uuid.uuid4()),
        "text": _typed(text, escape),
        "user": user_id,
        "ts": ts,
        "team": user_team or team_id,
        "channel": channel_id,
        "event_ts": event_ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    if edited:
        event["edited"] = {"user": user_id, "ts": f"{int(float(event_ts))}.000000"}
    if user_team:
        event.update(user_team=user_team, source_team=user_team)
    return event


def message_changed(
    original: dict, new_text: str, *, channel_type: str | None = None, escape: bool = True
) -> dict:  # fmt: skip
    """The `message` event with `subtype: message_changed` that Slack sends when `original` (a message event) is
    edited: the new version under `message` (with `edited`), the old under `previous_message`, and a new `ts` for
    the change itself (bolt-python tests/scenario_tests/test_message_changed.py)."""
    changed_at = new_ts()
    before = {key: original[key] for key in ("type", "user", "text", "ts", "team", "client_msg_id") if key in original}
    after = {
        **before,
        "type": "message",
        "text": _typed(new_text, escape),
        "edited": {"user": original["user"], "ts": f"{int(float(changed_at))}.000000"},
    }
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": after,
        "previous_message": {**before, "type": "message"},
        "channel": original["channel"],
        "hidden": True,
        "ts": changed_at,
        "event_ts": changed_at,
        "channel_type": channel_type or original.get("channel_type", "im"),
    }


def file_share_event(
    text: str, files: list[dict], *, user_id: str, channel_id: str, channel_type: str = "im", escape: bool = True,
    team_id: str | None = None,
) -> dict:  # fmt: skip
    """A message with files: `subtype: file_share`, the typed text in `text`, the files in `files`
    (bolt-python tests/scenario_tests/test_message_file_share.py)."""
    event = message_event(text, user_id=user_id, channel_id=channel_id, channel_type=channel_type, escape=escape,
                          team_id=team_id)  # fmt: skip
    return {**event, "subtype": "file_share", "files": files, "upload": False, "display_as_bot": False}


def shared_file(name: str = "notes.pdf", *, user_id: str, mimetype: str = "application/pdf", size: int = 1024) -> dict:
    """A file object as a file_share event carries it (the fields an app may read; Slack sends more)."""
    file_id = "F" + uuid.uuid4().hex[:10].upper()
    filetype = name.rsplit(".", 1)[-1] if "." in name else "binary"
    return {
        "id": file_id, "created": int(time.time()), "timestamp": int(time.time()), "name": name, "title": name,
        "mimetype": mimetype, "filetype": filetype, "pretty_type": filetype.upper(), "user": user_id,
        "editable": False, "size": size, "mode": "hosted", "is_external": False, "is_public": False,
        "url_private": f"https://files.slack.com/files-pri/T0-{file_id}/{name}",
        "url_private_download": f"https://files.slack.com/files-pri/T0-{file_id}/download/{name}",
        "permalink": f"https://example.slack.com/files/{user_id}/{file_id}/{name}",
    }  # fmt: skip


def block_action(
    action: dict, *, user_id: str, team_id: str, channel_id: str | None, response_url: str | None,
    is_ephemeral: bool, view: dict | None = None, message_ts: str | None = None, thread_ts: str | None = None,
    message: dict | None = None, user_team_id: str | None = None, enterprise_id: str | None = None,
    channel_name: str | None = None, bot_user_id: str = BOT_USER_ID,
) -> bytes:  # fmt: skip
    """A button click, as Slack posts it (form-encoded `payload`); `action` is the button as talkbot sent it
    (`action_id`, `value`, `text`, and the `block_id` of its block when known — Slack makes one up otherwise).

    On a message, `container` names it: `message_ts`, `channel_id`, `is_ephemeral`, and `thread_ts` when the
    message is in a thread. A public (non-ephemeral) message also comes whole under `message` (pass what talkbot
    posted; a stand-in is used otherwise); an ephemeral one does not. On the App Home tab, the `view` comes instead
    and there is no response_url.

    Slack Connect: when someone from another workspace (`user_team_id`) clicks, `user.team_id` is their workspace
    while `team` stays the workspace whose app posted the message (slackapi/java-slack-sdk#1041 shows such a
    payload; bolt authorizes with `team.id`)."""
    clicker = {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": user_team_id or team_id}
    payload: dict = {
        "type": "block_actions",
        "user": clicker,
        "api_app_id": APP_ID,
        "token": "unused",
        "trigger_id": new_trigger_id(),
        "team": {"id": team_id, "domain": team_id.lower()},
        "enterprise": {"id": enterprise_id, "name": f"{enterprise_id} Org"} if enterprise_id else None,
        "is_enterprise_install": False,
        "actions": [_action(action)],
    }
    if view is not None:
        full_view = {"id": "VHOME", "team_id": team_id, "app_installed_team_id": team_id, "type": "home", **view}
        payload.update(container={"type": "view", "view_id": full_view["id"]}, view=full_view)
        return urlencode({"payload": json.dumps(payload)}).encode()
    message_ts = message_ts or (message or {}).get("ts") or new_ts()
    container = {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": is_ephemeral}
    if thread_ts:
        container["thread_ts"] = thread_ts
    payload.update(
        container=container,
        channel={"id": channel_id, "name": channel_name or (channel_id or "").lower()},
        state={"values": {}},
        response_url=response_url,
    )
    if not is_ephemeral:
        payload["message"] = message or _stand_in_message(message_ts, thread_ts, team_id, bot_user_id, action)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _action(button: dict) -> dict:
    """An entry of `actions`: what was pressed, with the block it sits in and when."""
    action = {
        "action_id": button.get("action_id"),
        "block_id": button.get("block_id") or uuid.uuid4().hex[:5],
        "text": button.get("text") or {"type": "plain_text", "text": "Button", "emoji": True},
        "value": button.get("value"),
        "type": button.get("type", "button"),
        "action_ts": new_ts(),
    }
    if button.get("style"):
        action["style"] = button["style"]
    return {key: value for key, value in action.items() if value is not None}


def _stand_in_message(ts: str, thread_ts: str | None, team_id: str, bot_user_id: str, button: dict) -> dict:
    """A public message holding just the pressed button, when the caller does not say what the message was."""
    element = {key: value for key, value in button.items() if key != "block_id"}
    block = {"type": "actions", "block_id": button.get("block_id") or "talkbot", "elements": [element]}
    message = {
        "type": "message", "user": bot_user_id, "bot_id": BOT_ID, "app_id": APP_ID, "team": team_id, "ts": ts,
        "text": "", "blocks": [block],
    }  # fmt: skip
    if thread_ts:
        message["thread_ts"] = thread_ts
    return message


def message_shortcut(
    message: dict, *, callback_id: str, user_id: str, team_id: str, channel_id: str, response_url: str,
    channel_name: str | None = None, user_team_id: str | None = None, enterprise_id: str | None = None,
) -> bytes:  # fmt: skip
    """A message shortcut chosen on `message` (a message as Slack stores it: `type`, `user`, `text`, `ts`, and
    `thread_ts` in a thread), as Slack posts it (form-encoded `payload` of `type: message_action`). The shape follows
    bolt-python's tests (tests/scenario_tests/test_shortcut.py) and bolt-js's MessageShortcut type: the message
    whole under `message` and its ts again in `message_ts`, the channel, the person (`user.team_id` their own
    workspace), the `team` whose app is asked, a `response_url` and a `trigger_id`."""
    team: dict = {"id": team_id, "domain": team_id.lower()}
    if enterprise_id:
        team.update(enterprise_id=enterprise_id, enterprise_name=f"{enterprise_id} Org")
    name = user_id.lower()
    payload = {
        "type": "message_action",
        "token": "unused",
        "action_ts": new_ts(),
        "team": team,
        "user": {"id": user_id, "name": name, "username": name, "team_id": user_team_id or team_id},
        "channel": {"id": channel_id, "name": channel_name or channel_id.lower()},
        "is_enterprise_install": False,
        "enterprise": {"id": enterprise_id, "name": f"{enterprise_id} Org"} if enterprise_id else None,
        "callback_id": callback_id,
        "trigger_id": new_trigger_id(),
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def posted_message(
    text: str, *, user_id: str, team_id: str, ts: str | None = None, thread_ts: str | None = None, escape: bool = True
) -> dict:  # fmt: skip
    """A person's message as Slack stores it and hands it to a message shortcut (in a thread: `thread_ts`, the
    parent's ts)."""
    message = {
        "type": "message", "user": user_id, "text": _typed(text, escape), "ts": ts or new_ts(), "team": team_id,
        "client_msg_id": str(uuid.uuid4()),
    }  # fmt: skip
    if thread_ts:
        message["thread_ts"] = thread_ts
    return message


def _person(user_id: str, team_id: str, user_team_id: str | None) -> dict:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": user_team_id or team_id}


def global_shortcut(
    callback_id: str, *, user_id: str, team_id: str, user_team_id: str | None = None, enterprise_id: str | None = None
) -> bytes:  # fmt: skip
    """A global shortcut chosen from the shortcuts menu (form-encoded `payload` of `type: shortcut`): no channel, no
    message and no response_url, only who chose it and a trigger_id to open a modal with (bolt-python
    tests/scenario_tests/test_shortcut.py; bolt-js's GlobalShortcut type)."""
    team: dict = {"id": team_id, "domain": team_id.lower()}
    if enterprise_id:
        team.update(enterprise_id=enterprise_id, enterprise_name=f"{enterprise_id} Org")
    payload = {
        "type": "shortcut", "token": "unused", "action_ts": new_ts(), "team": team,
        "user": _person(user_id, team_id, user_team_id), "is_enterprise_install": False,
        "enterprise": {"id": enterprise_id, "name": f"{enterprise_id} Org"} if enterprise_id else None,
        "callback_id": callback_id, "trigger_id": new_trigger_id(),
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_state(view: dict, filled: dict | None = None) -> dict:
    """`view.state` as Slack sends it with a submission or a click in a view: every input block by block_id, then
    its element's action_id, holding what the person entered (`filled`, by block_id) or else what the element
    started with. A text input holds `value` (null when empty); an external select `selected_option`; checkboxes
    `selected_options` (the options ticked, whole); a conversations select `selected_conversation`
    (https://api.slack.com/reference/interaction-payloads/views#view_submission_fields)."""
    filled = filled or {}
    values: dict = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element, block_id = block["element"], block["block_id"]
        kind, entered = element["type"], filled.get(block_id)
        if kind == "plain_text_input":
            state = {"value": entered if entered is not None else element.get("initial_value")}
        elif kind in ("external_select", "static_select"):
            chosen = {"text": {"type": "plain_text", "text": entered, "emoji": True}, "value": entered}
            state = {"selected_option": chosen if entered is not None else element.get("initial_option")}
        elif kind == "checkboxes":
            ticked = [o for o in element.get("options", []) if o["value"] in (entered or ())]
            state = {"selected_options": ticked if entered is not None else element.get("initial_options", [])}
        elif kind == "conversations_select":
            state = {"selected_conversation": entered if entered is not None else element.get("initial_conversation")}
        else:
            raise ValueError(f"no state for a {kind} yet")
        values[block_id] = {element["action_id"]: {"type": kind, **state}}
    return {"values": values}


def _in_view(view: dict, filled: dict | None) -> dict:
    return {**view, "state": view_state(view, filled)}


def view_submission(
    view: dict, *, user_id: str, team_id: str, filled: dict | None = None, user_team_id: str | None = None
) -> bytes:  # fmt: skip
    """The person pressed a modal's submit button: `view` as Slack holds it (FakeSlack.view), with the entered
    values in its `state` (view_state). No response_url (none asked for: `response_urls` is empty)."""
    payload = {
        "type": "view_submission", "team": {"id": team_id, "domain": team_id.lower()},
        "user": _person(user_id, team_id, user_team_id), "api_app_id": APP_ID, "token": "unused",
        "trigger_id": new_trigger_id(), "view": _in_view(view, filled), "response_urls": [],
        "is_enterprise_install": False, "enterprise": None,
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_action(
    button: dict, view: dict, *, user_id: str, team_id: str, filled: dict | None = None,
    user_team_id: str | None = None,
) -> bytes:  # fmt: skip
    """A button pressed in a modal (block_actions from a view): `container` names the view, the `view` comes whole
    with its state (what the inputs hold right now), and there is no response_url."""
    payload = {
        "type": "block_actions", "user": _person(user_id, team_id, user_team_id), "api_app_id": APP_ID,
        "token": "unused", "container": {"type": "view", "view_id": view["id"]}, "trigger_id": new_trigger_id(),
        "team": {"id": team_id, "domain": team_id.lower()}, "enterprise": None, "is_enterprise_install": False,
        "view": _in_view(view, filled), "actions": [_action(button)],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_suggestion(
    view: dict, *, action_id: str, block_id: str, value: str, user_id: str, team_id: str
) -> bytes:  # fmt: skip
    """What a menu with external options asks as the person types (`type: block_suggestion`): the letters typed so
    far in `value`, the menu's action_id and block_id, the view it is in (bolt-python
    tests/scenario_tests/test_block_suggestion.py; https://api.slack.com/reference/block-kit/block-elements#external_select)."""
    payload = {
        "type": "block_suggestion", "user": _person(user_id, team_id, None),
        "container": {"type": "view", "view_id": view["id"]}, "api_app_id": APP_ID, "token": "unused",
        "action_id": action_id, "block_id": block_id, "value": value,
        "team": {"id": team_id, "domain": team_id.lower()}, "enterprise": None, "is_enterprise_install": False,
        "view": _in_view(view, None),
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()
