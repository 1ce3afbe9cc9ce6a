"""Refusing what Slack refuses: Block Kit, message, view, unfurl and response_url checks, with Slack's errors."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.devtools.fake_slack.records import (
    MAX_ACTIONS_ELEMENTS,
    MAX_ALT_TEXT,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_URL,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_CONTEXT_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_ID_LENGTH,
    MAX_IMAGE_URL,
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_MODAL_TITLE,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT,
    MAX_VIEW_BLOCKS,
    _error,
    _is_true,
)

# --- refusing what Slack refuses ---------------------------------------------------------------------------------

MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage")
VIEW_METHODS = ("views.publish", "views.open", "views.update", "views.push")


def _refusal(method: str, params: dict) -> dict | None:
    """Slack's answer to a call whose content it would not accept, or None.

    Web API methods answer HTTP 200 with ok=false. For messages, an invalid block is `invalid_blocks` with the
    reasons twice, as Slack sends them: `errors` and `response_metadata.messages` ("[ERROR] …"), each naming the
    offending field by JSON pointer (seen in logged chat.postMessage answers, e.g. "must be less than 3001 characters
    [json-pointer:/blocks/0/text/text]"). Views answer `invalid_arguments` with `response_metadata.messages` only (as
    logged views.publish/views.open answers show)."""
    if method in MESSAGE_METHODS:
        return _message_refusal(params)
    if method in VIEW_METHODS:
        return _view_refusal(params.get("view"))
    if method == "chat.unfurl":
        return _unfurl_refusal(params.get("unfurls"))
    return None


def _message_refusal(params: dict) -> dict | None:
    code, problems = _message_problems(params)
    if code == "invalid_blocks":
        return _invalid_blocks(problems)
    return _error(code) if code else None


def _response_url_refusal(params: dict) -> tuple[str | None, list[str]]:
    """A response_url refuses like an incoming webhook: HTTP 400 with just the error code as the body (Slack's
    webhook errors: https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks; `invalid_blocks`
    and `no_text` bodies are reported from real webhooks in slackapi/java-slack-sdk#1017 and fluxcd/flagger#1031).
    A post that only deletes the original message needs no content."""
    if _is_true(params.get("delete_original")):
        return None, []
    return _message_problems(params)


def _message_problems(params: dict) -> tuple[str | None, list[str]]:
    """(error code, reasons) for a message's blocks and text, or (None, []) when Slack would accept it.

    Slack's rule: one of `text`, `blocks` or `attachments` is required ("no_text" otherwise); with blocks, `text`
    is only the notification fallback and Slack accepts a message without it (slack_sdk merely warns). talkbot
    policy, stricter than Slack: every message with blocks carries a non-blank `text` fallback (screen readers and
    notifications read it), so the fake refuses blocks without text with `no_text` as well."""
    blocks = params.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
            return "invalid_blocks_format", []
        problems = block_kit_problems(blocks, pointer="/blocks", most=MAX_MESSAGE_BLOCKS)
        if problems:
            return "invalid_blocks", problems
    text = params.get("text") or params.get("markdown_text")
    if not isinstance(text, str) or not text.strip():
        return "no_text", []  # Slack's rule when nothing else is given; talkbot's when blocks are
    if len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long", []
    return None, []


def _view_refusal(view: object) -> dict | None:
    """views.publish/open/update/push: the view must be an object of a known type with valid blocks (at most 100)."""
    if not isinstance(view, dict):
        return _invalid_arguments(["must be a valid JSON object [json-pointer:/view]"])
    if view.get("type") not in ("home", "modal"):
        return _invalid_arguments([f"unsupported type: {view.get('type')} [json-pointer:/view/type]"])
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        return _invalid_arguments(["missing required field: blocks [json-pointer:/view]"])
    problems = block_kit_problems(blocks, pointer="/view/blocks", most=MAX_VIEW_BLOCKS)
    if view["type"] == "modal":
        problems += _modal_problems(view)
    if not problems:
        problems = _model_problems(lambda: View(**view).to_dict(), "/view")
    return _invalid_arguments(problems) if problems else None


def _modal_problems(view: dict) -> list[str]:
    problems = []
    if "title" not in view:
        problems.append("missing required field: title [json-pointer:/view]")
    else:
        problems += _text_problems(view["title"], "/view/title", MAX_MODAL_TITLE, plain_only=True)
    for index, block in enumerate(view["blocks"]):
        if block.get("type") == "input" and "submit" not in view:
            problem = "must define `submit` to use an `input` block in modals"
            problems.append(f"{problem} [json-pointer:/view/blocks/{index}]")
    return problems


def _unfurl_refusal(unfurls: object) -> dict | None:
    """chat.unfurl: `unfurls` maps each URL to an attachment or to {"blocks": [...]}."""
    if not isinstance(unfurls, dict) or not all(isinstance(unfurl, dict) for unfurl in unfurls.values()):
        return _error("invalid_unfurls_format")
    problems = []
    for url, unfurl in unfurls.items():
        if "blocks" in unfurl:
            if not isinstance(unfurl["blocks"], list) or not all(isinstance(b, dict) for b in unfurl["blocks"]):
                return _error("invalid_blocks_format")
            pointer = f"/unfurls/{_pointer_token(url)}/blocks"
            problems += block_kit_problems(unfurl["blocks"], pointer=pointer, most=MAX_MESSAGE_BLOCKS)
    return _invalid_blocks(problems) if problems else None


def block_kit_problems(blocks: list[dict], *, pointer: str, most: int) -> list[str]:
    """Everything Slack would object to in `blocks`, each reason in Slack's words with a JSON pointer.

    Checked here, for the blocks talkbot builds (section, context, actions, header, divider, image; buttons and
    images as elements): required
    fields, additional properties, text types, lengths and counts, and id lengths; for every block, duplicate
    block_ids in the message and duplicate action_ids within a block ("`action_id` "x" already exists", as Slack
    answers). Every other block type, and any block the checks above pass, is judged by slack_sdk's own Block Kit
    models (`Block.parse(...).to_dict()`, which validates nested elements too)."""
    problems = []
    if len(blocks) > most:
        problems.append(f"no more than {most} items allowed [json-pointer:{pointer}]")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        block_id = block.get("block_id")
        if isinstance(block_id, str) and block_id in seen_block_ids:
            problems.append(f'`block_id` "{block_id}" already exists [json-pointer:{here}/block_id]')
        elif isinstance(block_id, str):
            seen_block_ids.add(block_id)
        shape = _block_shape_problems(block, here)
        problems += shape or _model_problems(lambda block=block: _parsed_block(block).to_dict(), here)
        problems += _duplicate_action_ids(block, here)
    return problems


_BLOCK_KEYS = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "context": {"type", "block_id", "elements"},
    "actions": {"type", "block_id", "elements"},
    "header": {"type", "block_id", "text"},
    "divider": {"type", "block_id"},
    "image": {"type", "block_id", "image_url", "alt_text", "title", "slack_file"},
}
_IMAGE_ELEMENT_KEYS = {"type", "image_url", "alt_text", "slack_file"}
_BUTTON_KEYS = {"type", "text", "action_id", "value", "url", "style", "confirm", "accessibility_label"}
_TEXT_KEYS = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}


def _block_shape_problems(block: dict, here: str) -> list[str]:
    kind = block.get("type")
    if kind not in _BLOCK_KEYS:
        return []  # slack_sdk's models judge the other types
    problems = _additional_properties(block, _BLOCK_KEYS[kind], here)
    problems += _id_problems(block, "block_id", here)
    if kind == "section":
        problems += _section_problems(block, here)
    elif kind == "context":
        problems += _list_problems(block, "elements", here, MAX_CONTEXT_ELEMENTS, _context_element_problems)
    elif kind == "actions":
        problems += _list_problems(block, "elements", here, MAX_ACTIONS_ELEMENTS, _element_problems)
    elif kind == "image":
        problems += _image_problems(block, here)
        if "title" in block:
            problems += _text_problems(block["title"], f"{here}/title", MAX_ALT_TEXT, plain_only=True)
    elif kind == "header":
        if "text" not in block:
            problems.append(f"missing required field: text [json-pointer:{here}]")
        else:
            problems += _text_problems(block["text"], f"{here}/text", MAX_HEADER_TEXT, plain_only=True)
    return problems


def _section_problems(block: dict, here: str) -> list[str]:
    problems = []
    if "text" not in block and "fields" not in block:
        problems.append(f"must define either `text` or `fields` [json-pointer:{here}]")
    if "text" in block:
        problems += _text_problems(block["text"], f"{here}/text", MAX_SECTION_TEXT)
    if "fields" in block:
        problems += _list_problems(
            block, "fields", here, MAX_SECTION_FIELDS, lambda item, at: _text_problems(item, at, MAX_FIELD_TEXT)
        )
    if "accessory" in block:
        problems += _element_problems(block["accessory"], f"{here}/accessory")
    return problems


def _list_problems(block: dict, key: str, here: str, most: int, check: Callable[[object, str], list[str]]) -> list[str]:
    items = block.get(key)
    if not isinstance(items, list):
        return [f"missing required field: {key} [json-pointer:{here}]"]
    if not items:
        return [f"must provide at least 1 items [json-pointer:{here}/{key}]"]
    problems = [f"no more than {most} items allowed [json-pointer:{here}/{key}]"] if len(items) > most else []
    for index, item in enumerate(items):
        problems += check(item, f"{here}/{key}/{index}")
    return problems


def _context_element_problems(element: object, here: str) -> list[str]:
    if isinstance(element, dict) and element.get("type") == "image":
        return _image_element_problems(element, here)
    return _text_problems(element, here, MAX_CONTEXT_TEXT)


def _image_element_problems(element: dict, here: str) -> list[str]:
    return _additional_properties(element, _IMAGE_ELEMENT_KEYS, here) + _image_problems(element, here)


def _image_problems(image: dict, here: str) -> list[str]:
    """An image element or block: alt_text (1-2000 characters) and an image_url (an http(s) URL with a host, up to
    3000 characters) are required; slack_sdk's models require neither a URL nor a non-empty alt_text, and accept any
    scheme. Slack takes a `slack_file` instead of the URL; talkbot never sends one, so only its presence is judged.
    The wording for a URL that is not http(s) is ours: Slack's answer to it is not documented."""
    problems = _sized_string(image.get("alt_text"), "alt_text", MAX_ALT_TEXT, here)
    if "slack_file" in image and "image_url" not in image:
        return problems
    url = image.get("image_url")
    if not isinstance(url, str):
        problems.append(f"missing required field: image_url [json-pointer:{here}]")
    elif len(url) > MAX_IMAGE_URL:
        problems.append(f"must be less than {MAX_IMAGE_URL + 1} characters [json-pointer:{here}/image_url]")
    elif not _web_url(url):
        problems.append(f"must be an http(s) URL [json-pointer:{here}/image_url]")
    return problems


def _web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(ch.isspace() for ch in url)


def _element_problems(element: object, here: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{here}]"]
    if element.get("type") == "image":
        return _image_element_problems(element, here)
    if element.get("type") != "button":
        return []  # other interactive elements: slack_sdk's models judge them
    problems = _additional_properties(element, _BUTTON_KEYS, here)
    problems += _id_problems(element, "action_id", here)
    if "text" not in element:
        problems.append(f"missing required field: text [json-pointer:{here}]")
    else:
        problems += _text_problems(element["text"], f"{here}/text", MAX_BUTTON_TEXT, plain_only=True)
    for key, most in (("value", MAX_BUTTON_VALUE), ("url", MAX_BUTTON_URL)):
        value = element.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > most):
            problems.append(f"must be less than {most + 1} characters [json-pointer:{here}/{key}]")
    if "style" in element and element["style"] not in ("primary", "danger"):
        problems.append(f'must be one of "primary", "danger" [json-pointer:{here}/style]')
    return problems


def _text_problems(text: object, here: str, most: int, *, plain_only: bool = False) -> list[str]:
    """A text object: plain_text (or mrkdwn where allowed), 1 to `most` characters, no foreign keys."""
    if not isinstance(text, dict):
        return [f"must be an object [json-pointer:{here}]"]
    kind = text.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        return [f"must be one of {', '.join(allowed)} [json-pointer:{here}/type]"]
    return _additional_properties(text, _TEXT_KEYS[kind], here) + _sized_string(text.get("text"), "text", most, here)


def _sized_string(value: object, field: str, most: int, here: str) -> list[str]:
    """A required string field of 1 to `most` characters, judged as Slack words it."""
    if not isinstance(value, str):
        return [f"missing required field: {field} [json-pointer:{here}]"]
    if not value:
        return [f"must be more than 0 characters [json-pointer:{here}/{field}]"]
    if len(value) > most:
        return [f"must be less than {most + 1} characters [json-pointer:{here}/{field}]"]
    return []


def _id_problems(item: dict, key: str, here: str) -> list[str]:
    if key not in item:
        return []
    value = item[key]
    if not isinstance(value, str) or not value:
        return [f"must be more than 0 characters [json-pointer:{here}/{key}]"]
    if len(value) > MAX_ID_LENGTH:
        return [f"must be less than {MAX_ID_LENGTH + 1} characters [json-pointer:{here}/{key}]"]
    return []


def _additional_properties(item: dict, allowed: set[str], here: str) -> list[str]:
    return [f"invalid additional property: {key} [json-pointer:{here}]" for key in item if key not in allowed]


def _duplicate_action_ids(block: dict, here: str) -> list[str]:
    """Slack requires action_ids to be unique within a block (its elements, accessory and input element)."""
    elements = [(f"{here}/elements/{i}", e) for i, e in enumerate(block.get("elements") or []) if isinstance(e, dict)]
    elements += [(f"{here}/{key}", block[key]) for key in ("accessory", "element") if isinstance(block.get(key), dict)]
    seen, problems = set(), []
    for at, element in elements:
        action_id = element.get("action_id")
        if isinstance(action_id, str) and action_id in seen:
            problems.append(f'`action_id` "{action_id}" already exists [json-pointer:{at}/action_id]')
        seen.add(action_id)
    return problems


def _parsed_block(block: dict) -> Block:
    parsed = Block.parse(block)
    if parsed is None:
        raise _UnsupportedType(block.get("type"))
    return parsed


class _UnsupportedType(Exception):
    pass


def _model_problems(validate: Callable[[], object], here: str) -> list[str]:
    """Run one of slack_sdk's model validations and put what it objects to in Slack's words."""
    try:
        validate()
    except _UnsupportedType as unsupported:
        return [f"unsupported type: {unsupported} [json-pointer:{here}/type]"]
    except SlackObjectFormationError as error:
        return [f"{error} [json-pointer:{here}]"]
    except (TypeError, ValueError, AttributeError, KeyError):  # a shape the models cannot even build
        return [f"failed to match all allowed schemas [json-pointer:{here}]"]
    return []


def _invalid_blocks(problems: list[str]) -> dict:
    return {
        "ok": False, "error": "invalid_blocks", "errors": list(problems),
        "response_metadata": {"messages": [f"[ERROR] {problem}" for problem in problems]},
    }  # fmt: skip


def _invalid_arguments(problems: list[str]) -> dict:
    return {
        "ok": False, "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] {problem}" for problem in problems]},
    }  # fmt: skip


def _pointer_token(key: str) -> str:
    """RFC 6901: `~` and `/` in a key are written ~0 and ~1 in a JSON pointer."""
    return key.replace("~", "~0").replace("/", "~1")
