"""`talkbot console`: the real Slack app and listeners, driven from a terminal through a local fake Slack.

Type `/talk kafka`, a direct message (`kafka`), a mention (`@talkbot kafka`), `home`, or a button's number.
"""

from __future__ import annotations

import html
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from slack_bolt.request import BoltRequest

from bot.app import create_app
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack, SlackCall
from bot.devtools.slack_payloads import (
    FORM,
    JSON,
    block_action,
    event_callback,
    message_event,
    signed_headers,
    slash_command,
)
from bot.services import build_services
from db.search.engine import SearchEngine

SIGNING_SECRET = "console-signing-secret"
USER, TEAM, CHANNEL, DM = "UYOU", "TCONSOLE", "CGENERAL", "DYOU"
REPLY_METHODS = ("response_url", "chat.postMessage", "chat.postEphemeral", "views.publish")
QUIET_SECONDS, MAX_WAIT_SECONDS = 0.25, 10.0

INTRO = """talkbot console — the Slack app running locally against a fake Slack.
  /talk kafka        the slash command (also: /talk help, /talk saved)
  kafka              a direct message to the bot
  @talkbot kafka     a mention in #general (answered in a thread)
  home               open the App Home tab
  3                  press button number 3
An empty line or Ctrl-D quits."""


@dataclass(frozen=True)
class Button:
    action: dict
    is_ephemeral: bool
    channel_id: str | None
    home_view: dict | None


class Console:
    def __init__(self, database_url: str, search: SearchEngine) -> None:
        self.fake = FakeSlack(team_id=TEAM)
        self.database_url, self.search = database_url, search
        self.buttons: dict[int, Button] = {}

    def __enter__(self) -> Console:
        self.fake.start()
        self.fake.set_channel_members(CHANNEL, [USER, self.fake.bot_user_id])  # `/talk digest subscribe` in #general
        settings = SlackSettings(
            bot_token="xoxb-console", signing_secret=SIGNING_SECRET, app_token=None, api_url=self.fake.api_url
        )
        self.app = create_app(build_services(settings, self.database_url, self.search))
        return self

    def __exit__(self, *exc_info) -> None:
        self.fake.stop()

    def send(self, line: str) -> str:
        """Act out one line as Slack would deliver it; return what talkbot answered, rendered as text."""
        line = line.strip()
        seen = len(self.fake.calls)
        if line.isdigit():
            problem = self._press(int(line))
            if problem:
                return problem
        elif line.startswith("/talk"):
            body = slash_command(
                line.removeprefix("/talk").strip(),
                user_id=USER,
                team_id=TEAM,
                channel_id=CHANNEL,
                response_url=self.fake.response_url(),
            )
            self._dispatch(body, FORM)
        elif line.startswith("@talkbot"):
            event = message_event(f"<@{self.fake.bot_user_id}> {line.removeprefix('@talkbot')}", user_id=USER,
                                  channel_id=CHANNEL, channel_type="channel")  # fmt: skip
            self._dispatch(event_callback({**event, "type": "app_mention"}, team_id=TEAM), JSON)
        elif line.lower() == "home":
            event = {"type": "app_home_opened", "user": USER, "channel": DM, "tab": "home"}
            self._dispatch(event_callback(event, team_id=TEAM), JSON)
        else:
            self._dispatch(event_callback(message_event(line, user_id=USER, channel_id=DM), team_id=TEAM), JSON)
        return "\n".join(self._render(call) for call in self._replies_after(seen)) or "(no answer)"

    def _dispatch(self, body: bytes, content_type: str) -> None:
        response = self.app.dispatch(
            BoltRequest(body=body.decode(), headers=signed_headers(SIGNING_SECRET, body, content_type))
        )
        if response.status != 200:
            raise RuntimeError(f"the app answered {response.status}: {response.body}")

    def _press(self, number: int) -> str | None:
        button = self.buttons.get(number)
        if button is None:
            return f"There is no button {number}."
        body = block_action(
            button.action,
            user_id=USER,
            team_id=TEAM,
            channel_id=button.channel_id,
            response_url=None if button.home_view else self.fake.response_url(),
            is_ephemeral=button.is_ephemeral,
            view=button.home_view,
        )
        self._dispatch(body, FORM)
        return None

    def _replies_after(self, seen: int) -> Iterator[SlackCall]:
        """The app answers after acking, in the background: wait until it has gone quiet."""
        deadline, last_count, last_change = time.monotonic() + MAX_WAIT_SECONDS, seen, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self.fake.calls)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif count > seen and time.monotonic() - last_change >= QUIET_SECONDS:
                break
            time.sleep(0.02)
        return (call for call in self.fake.calls[seen:] if call.method in REPLY_METHODS)

    def _render(self, call: SlackCall) -> str:
        params = call.params
        if call.method == "views.publish":
            return self._render_blocks("App Home", params["view"].get("blocks", []), False, None, params["view"])
        if call.method == "response_url":
            if params.get("response_type") == "in_channel":
                title, ephemeral = "posted in #general for everyone", False
            elif params.get("replace_original"):
                title, ephemeral = "your private message, updated (only you can see it)", True
            else:
                title, ephemeral = "only you can see this", True
            return self._render_blocks(title, params.get("blocks") or [], ephemeral, CHANNEL, None, params.get("text"))
        channel = params.get("channel")
        where = (
            "your DM with talkbot" if channel == DM else "a thread in #general" if params.get("thread_ts") else channel
        )
        return self._render_blocks(f"talkbot in {where}", params.get("blocks") or [], False, channel, None,
                                   params.get("text"))  # fmt: skip

    def _render_blocks(self, title, blocks, ephemeral, channel, home_view, fallback=None) -> str:
        lines = [f"── {title} " + "─" * max(0, 60 - len(title))]
        for block in blocks:
            kind = block.get("type")
            if kind in ("section", "header"):
                lines.append(plain(block["text"]["text"]))
                if block.get("accessory", {}).get("type") == "button":
                    lines.append(self._buttons([block["accessory"]], ephemeral, channel, home_view))
            elif kind == "context":
                lines.append("  " + " ".join(plain(element.get("text", "")) for element in block["elements"]))
            elif kind == "actions":
                lines.append(self._buttons(block["elements"], ephemeral, channel, home_view))
            elif kind == "divider":
                lines.append("")
        if not blocks and fallback:
            lines.append(plain(fallback))
        return "\n".join(lines)

    def _buttons(self, elements, ephemeral, channel, home_view) -> str:
        labels = []
        for element in elements:
            number = len(self.buttons) + 1
            action = {key: element[key] for key in ("action_id", "value") if key in element}
            self.buttons[number] = Button(action, ephemeral, channel, home_view)
            labels.append(f"[{number}] {element['text']['text']}")
        return "   " + "  ".join(labels)


def plain(mrkdwn: str) -> str:
    """mrkdwn as a terminal shows it: links as 'label (url)', mentions as @id, entities decoded."""
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", mrkdwn)
    text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
    return html.unescape(text)


def run_console(
    database_url: str, search: SearchEngine, lines: Iterator[str] | None = None, write: Callable[[str], None] = print
) -> None:
    interactive = lines is None and sys.stdin.isatty()
    if interactive:
        write(INTRO)
    with Console(database_url, search) as console:
        for line in lines if lines is not None else _stdin_lines(interactive):
            if not line.strip():
                break
            write(console.send(line) + "\n")


def _stdin_lines(interactive: bool) -> Iterator[str]:
    while True:
        try:
            yield input("you> ") if interactive else next(sys.stdin)
        except (EOFError, StopIteration):
            return
