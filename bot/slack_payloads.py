"""What Slack sends talkbot — slash commands, events, button clicks — built and signed the way Slack does.

The local console speaks to the real app through these, and so do the tests.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed_headers(signing_secret: str, body: bytes, content_type: str, timestamp: int | None = None) -> dict:
    """Headers Slack would send with `body`: X-Slack-Request-Timestamp and a v0 HMAC signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def slash_command(text: str, *, user_id: str, team_id: str, channel_id: str, response_url: str) -> bytes:
    return urlencode(
        {
            "token": "unused",
            "command": "/talk",
            "text": text,
            "team_id": team_id,
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "response_url": response_url,
            "trigger_id": uuid.uuid4().hex,
            "api_app_id": "ATALKBOT",
        }
    ).encode()


def event_callback(event: dict, *, team_id: str, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": team_id,
            "api_app_id": "ATALKBOT",
            "event": event,
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "UTALKBOT", "is_bot": True}],
        }
    ).encode()


def message_event(text: str, *, user_id: str, channel_id: str, channel_type: str = "im", **extra) -> dict:
    return {
        "type": "message",
        "channel_type": channel_type,
        "user": user_id,
        "text": text,
        "channel": channel_id,
        "ts": f"{time.time():.6f}",
        **extra,
    }


def block_action(
    action: dict,
    *,
    user_id: str,
    team_id: str,
    channel_id: str | None,
    response_url: str | None,
    is_ephemeral: bool,
    view: dict | None = None,
) -> bytes:
    """A button click; `action` is the button as talkbot sent it (action_id, value, block_id)."""
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "test"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": "ATALKBOT",
        "trigger_id": uuid.uuid4().hex,
        "actions": [{"type": "button", "action_ts": f"{time.time():.6f}", **action}],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": "VHOME"}
        payload["view"] = view
    else:
        payload["container"] = {"type": "message", "is_ephemeral": is_ephemeral, "channel_id": channel_id}
        payload["channel"] = {"id": channel_id}
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)}).encode()
