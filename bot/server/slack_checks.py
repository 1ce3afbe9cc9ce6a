"""/slack/events: Slack's signature and body shape, checked on the raw bytes before Bolt parses anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from urllib.parse import parse_qsl

SLACK_WINDOW = 5 * 60  # seconds: Slack's replay window; a request signed longer ago (or ahead) is refused
MAX_JSON_DEPTH = 64  # far above Slack's payloads (a click on one of talkbot's answers nests 7 deep)
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits alone: int() also takes " 12", "1_2" and "١٢"
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
UNAUTHORIZED, BAD_REQUEST = "401 Unauthorized", "400 Bad Request"


def slack_refusal(secret: str, environ: dict, body: bytes, now: float) -> tuple[str, str] | None:
    """(status, reason) for a request that is not Slack's, or not shaped as Slack's; None when Bolt may have it.

    The signature is checked first, over the raw bytes, so nothing of an unsigned body is ever decoded or parsed.
    It is Slack's v0 scheme as slack_sdk's `SignatureVerifier` computes it (the tests sign with that), done here on
    bytes because `SignatureVerifier` decodes the body as UTF-8 first, raising on anything else."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not TIMESTAMP.fullmatch(timestamp):
        return UNAUTHORIZED, "timestamp missing or malformed"
    if abs(now - int(timestamp)) > SLACK_WINDOW:
        return UNAUTHORIZED, "timestamp outside Slack's 5-minute window"
    if not SIGNATURE.fullmatch(signature):
        return UNAUTHORIZED, "signature missing or malformed"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return UNAUTHORIZED, "signature does not match"
    problem = body_problem(body, environ.get("CONTENT_TYPE", ""))
    return (BAD_REQUEST, problem) if problem else None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return "v0=" + digest


def body_problem(body: bytes, content_type: str) -> str | None:
    """What is wrong with a signed body, as Bolt would read it (slack_bolt.request.internals.parse_body): JSON when
    the media type is application/json or the body starts with "{", else a form, whose `payload` field (if any) is
    JSON. Bolt needs an object wherever it reads JSON, and raises (a 500 with a traceback) on anything else."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if _read_as_json(decoded, content_type):
        return _json_object_problem(decoded, "body")
    if "payload" in decoded:
        payload = dict(parse_qsl(decoded, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _json_object_problem(payload, "payload")
    return None


def _read_as_json(decoded: str, content_type: str) -> bool:
    return content_type.split(";")[0] == "application/json" or decoded.startswith("{")


def _json_object_problem(document: str, what: str) -> str | None:
    try:
        value = json.loads(document)
    except RecursionError:
        return f"{what} nested deeper than {MAX_JSON_DEPTH}"
    except ValueError:
        return f"{what} is not JSON"
    if not isinstance(value, dict):
        return f"{what} is not a JSON object"
    if _nested_deeper_than(value, MAX_JSON_DEPTH):
        return f"{what} nested deeper than {MAX_JSON_DEPTH}"
    return None


def _nested_deeper_than(value: dict, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending += [(child, depth + 1) for child in children if isinstance(child, dict | list)]
    return False


def bolt_readable(secret: str, environ: dict, body: bytes) -> bytes:
    """`body`, re-encoded if Bolt would misread it, and then signed again for Bolt's own check.

    Bolt reads any form body containing the letters "payload" as interactivity and, finding no `payload` field,
    as empty: `/talk json payload` reached no listener (404). Writing those letters as `p%61yload` leaves every
    decoded field as it was and hides them from Bolt's test."""
    decoded = body.decode("utf-8")
    if _read_as_json(decoded, environ.get("CONTENT_TYPE", "")) or "payload" not in decoded:
        return body
    if "payload" in dict(parse_qsl(decoded, keep_blank_values=True)):
        return body
    rewritten = decoded.replace("payload", "p%61yload").encode()
    environ["HTTP_X_SLACK_SIGNATURE"] = sign(secret, environ["HTTP_X_SLACK_REQUEST_TIMESTAMP"], rewritten)
    return rewritten
