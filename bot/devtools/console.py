"""`talkbot console`: the real Slack app and listeners, driven from a terminal through a local fake Slack.

Type `/talk kafka`, a direct message (`kafka`), a mention (`@talkbot kafka`), `shortcut <message text>` (the
"Find talks about this" message shortcut on a message in #general), `modal kafka speaker=… years=2015..2019 video`
(the "Search talks" modal, filled in and submitted), a message with a link (unfurled when it is a catalog talk's),
`home`, `clock` (the digest clock's next pass), `follow …`/`following`/`unfollow …`, `import PATH` (then the follow
alerts it sends), or a button's number.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.app import create_app
from bot.blocks.modal import ONLY, RECOMMENDED, SHARE_TO, VIDEO
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack, SlackCall
from bot.devtools.slack_payloads import (
    FORM,
    JSON,
    block_action,
    event_callback,
    global_shortcut,
    message_event,
    message_shortcut,
    posted_message,
    signed_headers,
    slash_command,
    view_action,
    view_submission,
)
from bot.digest.runner import DigestRunner
from bot.follows.alerts import FollowAlerts
from bot.follows.commands import FOLLOW_COMMANDS
from bot.installations import bot_clients
from bot.listeners.shortcuts import FIND_TALKS_ABOUT_THIS, SEARCH_TALKS
from bot.services import build_services
from db.catalog_import import import_records
from db.claims import utc
from db.digests import next_due
from db.importers import ImportFileError, read_catalog_file
from db.search.engine import SearchEngine

SIGNING_SECRET = "console-signing-secret"
USER, TEAM, CHANNEL, DM = "UYOU", "TCONSOLE", "CGENERAL", "DYOU"
AUTHOR = "UCOLLEAGUE"  # who wrote the message a `shortcut` line acts on
REPLY_METHODS = (
    "response_url", "chat.postMessage", "chat.postEphemeral", "views.publish", "views.update", "chat.unfurl",
)  # fmt: skip
MODAL_FIELDS = {"speaker": "speaker", "event": "event", "years": "years", "year": "years", "length": "length",
                "language": "language", "lang": "language", "order": "order"}  # fmt: skip
MODAL_USAGE = (
    "Usage: modal WORDS [speaker=NAME] [event=SERIES] [years=2015..2019] [length=short|under30|30to60|long] "
    "[language=de] [order=newest] [video] [recommended] — e.g. "
    'modal kafka speaker="liz fong-jones" years=2015..2023 recommended. A Share button in the modal shares to #general.'
)
LINK = re.compile(r"https?://\S")
QUIET_SECONDS, MAX_WAIT_SECONDS = 0.25, 10.0

INTRO = """talkbot console — the Slack app running locally against a fake Slack.
  /talk kafka        the slash command (also: /talk help, /talk saved, /talk watched, /talk foryou,
                     /talk foryou weekly, /talk digest subscribe)
  kafka              a direct message to the bot
  @talkbot kafka     a mention in #general (answered in a thread)
  shortcut TEXT      "Find talks about this" on a message in #general that says TEXT
  modal kafka years=2015..2019 video   the "Search talks" modal, filled in (speaker=, event=, recommended too)
  see https://youtu.be/…   a message in #general with a link: a catalog talk's link unfurls
  home               open the App Home tab
  clock              the digest clock's next pass, as if it were time: Talk of the week, For you DMs
  follow kafka       follow a search (also: following, unfollow 1) — as /talk follow
  import PATH        import a catalog file (as `talkbot import`), then see the follow alerts it sends you
  3                  press button number 3
Arrow keys edit the line and recall earlier ones; `quit`, `exit` or Ctrl-D leaves."""
QUIT_WORDS = {"quit", "exit", "/quit", "/exit"}
HISTORY_LINES = 1000


@dataclass(frozen=True)
class Button:
    action: dict
    is_ephemeral: bool
    channel_id: str | None
    home_view: dict | None
    modal_id: str | None = None  # a button in the search modal


class Console:
    def __init__(self, database_url: str, search: SearchEngine, styled: bool = False) -> None:
        self.fake = FakeSlack(team_id=TEAM)
        self.database_url, self.search = database_url, search
        self.buttons: dict[int, Button] = {}
        self.styled = styled  # ANSI bold: only for a terminal
        self.names = {USER: "you", self.fake.bot_user_id: "talkbot"}

    def plain(self, mrkdwn: str) -> str:
        return render_mrkdwn(mrkdwn, self.names, bold=self.styled)

    def __enter__(self) -> Console:
        self.fake.start()
        self.fake.set_user(USER, name=self.names[USER])
        self.fake.set_channel_members(CHANNEL, [USER, self.fake.bot_user_id])  # `/talk digest subscribe` in #general
        settings = SlackSettings(
            bot_token="xoxb-console", signing_secret=SIGNING_SECRET, app_token=None, api_url=self.fake.api_url
        )
        self.services = build_services(settings, self.database_url, self.search)
        self.app = create_app(self.services)
        self.runner = DigestRunner(self.services.sessions, self.search, bot_clients(settings, None))
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
        elif line.lower().startswith("import "):
            return self._import(Path(line[len("import ") :].strip()), seen)
        elif line.startswith("/talk") or line.split()[0].lower() in FOLLOW_COMMANDS:
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
        elif line.lower() == "shortcut" or line.lower().startswith("shortcut "):
            message = posted_message(line[len("shortcut") :].strip(), user_id=AUTHOR, team_id=TEAM)
            body = message_shortcut(
                message, callback_id=FIND_TALKS_ABOUT_THIS, user_id=USER, team_id=TEAM, channel_id=CHANNEL,
                response_url=self.fake.response_url(),
            )  # fmt: skip
            self._dispatch(body, FORM)
        elif line.lower() == "modal" or line.lower().startswith("modal "):
            return self._modal(line[len("modal") :].strip())
        elif LINK.search(line):  # pasted in #general: Slack sends talkbot link_shared for the links
            event = self.fake.post_links(CHANNEL, line, user_id=USER)
            self._dispatch(event_callback(event, team_id=TEAM), JSON)
            rendered = "\n".join(self._render(call) for call in self._replies_after(seen))
            return rendered or "(no preview: none of these links is a talk in the catalog)"
        elif line.lower() == "clock":
            return self._clock()
        elif line.lower() == "home":
            event = {"type": "app_home_opened", "user": USER, "channel": DM, "tab": "home"}
            self._dispatch(event_callback(event, team_id=TEAM), JSON)
        else:
            self._dispatch(event_callback(message_event(line, user_id=USER, channel_id=DM), team_id=TEAM), JSON)
        return "\n".join(self._render(call) for call in self._replies_after(seen)) or "(no answer)"

    def _clock(self) -> str:
        """One pass of the clock process at the moment the next digest or For you DM is due (a minute after it):
        the console's clock would otherwise make you wait for Monday."""
        with self.services.sessions() as session:
            due = next_due(session)
        if due is None:
            return "(nothing is scheduled: try `/talk foryou weekly` or `/talk digest subscribe`)"
        seen = len(self.fake.calls)
        report = self.runner.run_due(now=utc(due) + dt.timedelta(minutes=1))
        posts = [self._render(call) for call in self.fake.calls[seen:] if call.method == "chat.postMessage"]
        return "\n".join(posts) or f"(the clock ran: {report})"

    def _import(self, path: Path, seen: int) -> str:
        """Import a file into the console's catalog, then run the clock's follow alert pass against the fake Slack."""
        try:
            records = read_catalog_file(path).records
        except ImportFileError as error:
            return f"(not imported: {error})"
        with self.services.sessions.begin() as session:
            report = import_records(session, records)
        self.search.catch_up()  # the next search shows what was just imported
        client = WebClient(token="xoxb-console", base_url=self.fake.api_url)
        alerts = FollowAlerts(self.services.sessions, self.search, lambda _team, _enterprise: client).run_pending()
        rendered = [self._render(call) for call in self.fake.calls[seen:] if call.method == "chat.postMessage"]
        return "\n".join([f"imported {len(records)} talks: {report}; follow alerts: {alerts}", *rendered])

    def _dispatch(self, body: bytes, content_type: str) -> str:
        """Deliver a request; the ack's body (a modal's errors or next view, a menu's options)."""
        response = self.app.dispatch(
            BoltRequest(body=body.decode(), headers=signed_headers(SIGNING_SECRET, body, content_type))
        )
        if response.status != 200:
            raise RuntimeError(f"the app answered {response.status}: {response.body}")
        return response.body

    def _modal(self, typed: str) -> str:
        """ "Search talks": open the modal, fill it in from `typed` and submit it, as a person would; the field errors
        or the results it shows."""
        filled = modal_form(typed) if typed else None
        if filled is None:
            return MODAL_USAGE
        opened = len(self.fake.calls_to("views.open"))
        self._dispatch(global_shortcut(SEARCH_TALKS, user_id=USER, team_id=TEAM), FORM)
        view_id = self.fake.wait_for("views.open", count=opened + 1)[-1].answer["view"]["id"]
        seen = len(self.fake.calls)
        ack = self._dispatch(view_submission(self.fake.view(view_id), user_id=USER, team_id=TEAM, filled=filled), FORM)
        errors = self.fake.answer_view_submission(view_id, ack)
        if errors:
            lines = ["── the search modal says " + "─" * 36]
            lines += [f"  ⚠️ {field}: {problem}" for field, problem in errors.items()]
            return "\n".join(lines)
        return "\n".join(self._render(call) for call in self._replies_after(seen, "views.update")) or "(no answer)"

    def _press(self, number: int) -> str | None:
        button = self.buttons.get(number)
        if button is None:
            return f"There is no button {number}."
        if button.modal_id:  # in the search modal, with #general chosen in "Share to"
            view = self.fake.view(button.modal_id)
            self._dispatch(
                view_action(button.action, view, user_id=USER, team_id=TEAM, filled={SHARE_TO: CHANNEL}), FORM
            )
            return None
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

    def _replies_after(self, seen: int, awaited: str | None = None) -> Iterator[SlackCall]:
        """The app answers after acking, in the background: wait until it has gone quiet (and, with `awaited`, until
        it has called that method: the search modal's results, which follow the ack's own "Searching…")."""
        deadline, last_count, last_change = time.monotonic() + MAX_WAIT_SECONDS, seen, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self.fake.calls)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif count > seen and time.monotonic() - last_change >= QUIET_SECONDS and self._called(awaited, seen):
                break
            time.sleep(0.02)
        return (call for call in self.fake.calls[seen:] if call.method in REPLY_METHODS)

    def _called(self, method: str | None, seen: int) -> bool:
        return method is None or any(call.method == method for call in self.fake.calls[seen:])

    def _render(self, call: SlackCall) -> str:
        params = call.params
        if call.method == "chat.unfurl":
            return "\n".join(
                self._render_blocks(f"preview of {url} under your message in #general", unfurl.get("blocks") or [],
                                    False, CHANNEL, None)
                for url, unfurl in (params.get("unfurls") or {}).items()
            )  # fmt: skip
        if call.method == "views.publish":
            return self._render_blocks("App Home", params["view"].get("blocks", []), False, None, params["view"])
        if call.method == "views.update":
            modal_id = params.get("view_id")
            return self._render_blocks("the search modal", params["view"].get("blocks", []), False, None, None,
                                       modal_id=modal_id)  # fmt: skip
        if call.method == "response_url":
            if params.get("response_type") == "in_channel":
                title, ephemeral = "posted in #general for everyone", False
            elif params.get("replace_original"):
                title, ephemeral = "your private message, updated (only you can see it)", True
            else:
                title, ephemeral = "only you can see this", True
            return self._render_blocks(title, params.get("blocks") or [], ephemeral, CHANNEL, None, params.get("text"))
        channel = params.get("channel")
        in_thread = "a thread in #general" if params.get("thread_ts") else channel
        where = "your DM with talkbot" if channel in (DM, USER) else in_thread  # a DM is posted to the user id too
        return self._render_blocks(f"talkbot in {where}", params.get("blocks") or [], False, channel, None,
                                   params.get("text"))  # fmt: skip

    def _render_blocks(self, title, blocks, ephemeral, channel, home_view, fallback=None, modal_id=None) -> str:
        lines = [f"── {title} " + "─" * max(0, 60 - len(title))]
        for block in blocks:
            kind = block.get("type")
            if kind in ("section", "header"):
                lines.append(self.plain(block["text"]["text"]))
                if block.get("accessory", {}).get("type") == "button":
                    lines.append(self._buttons([block["accessory"]], ephemeral, channel, home_view, modal_id))
            elif kind == "input" and (shown := _entered(block["element"])):
                lines.append(f"  {block['label']['text']}: {shown}")
            elif kind == "context":
                lines.append("  " + " ".join(self.plain(element.get("text", "")) for element in block["elements"]))
            elif kind == "actions":
                lines.append(self._buttons(block["elements"], ephemeral, channel, home_view, modal_id))
            elif kind == "divider":
                lines.append("")
        if not blocks and fallback:
            lines.append(self.plain(fallback))
        return "\n".join(lines)

    def _buttons(self, elements, ephemeral, channel, home_view, modal_id=None) -> str:
        labels = []
        for element in elements:
            number = len(self.buttons) + 1
            action = {key: element[key] for key in ("action_id", "value") if key in element}
            self.buttons[number] = Button(action, ephemeral, channel, home_view, modal_id)
            labels.append(f"[{number}] {element['text']['text']}")
        return "   " + "  ".join(labels)


def modal_form(typed: str) -> dict | None:
    """What `modal …` fills in, by the modal's block_id: free words, key=value fields and the two flags; None when
    it names a field the modal does not have. An unclosed quote is left in the words, for the modal to refuse."""
    try:
        tokens = shlex.split(typed)
    except ValueError:
        tokens = typed.split()
    filled: dict = {ONLY: []}
    words = []
    for token in tokens:
        key, equals, value = token.partition("=")
        if equals and key.lower() in MODAL_FIELDS:
            filled[MODAL_FIELDS[key.lower()]] = value
        elif equals and key.isalpha():
            return None
        elif token.lower() in (VIDEO, RECOMMENDED):
            filled[ONLY].append(token.lower())
        else:
            words.append(token)
    filled["words"] = " ".join(words)
    return filled


def _entered(element: dict) -> str:
    """What an input of the modal holds, as text (its initial value: what the person entered before)."""
    if element.get("initial_value"):
        return element["initial_value"]
    if element.get("initial_option"):
        return element["initial_option"]["text"]["text"]
    return ", ".join(option["text"]["text"] for option in element.get("initial_options", []))


# The emoji shortcodes talkbot's messages use (bot/blocks/), and a few common ones; others stay as written.
EMOJI = {
    "warning": "⚠️", "white_check_mark": "✅", "heavy_check_mark": "✔️", "x": "❌", "star": "⭐", "tada": "🎉",
    "microphone": "🎤", "mag": "🔍", "bookmark": "🔖", "thumbsup": "👍", "+1": "👍", "thumbsdown": "👎", "-1": "👎",
    "calendar": "📅", "information_source": "ℹ️", "wave": "👋", "arrow_forward": "▶️",
}  # fmt: skip
BOLD, RESET = "\033[1m", "\033[0m"
_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")


def render_mrkdwn(mrkdwn: str, names: dict[str, str] | None = None, bold: bool = False) -> str:
    """Slack mrkdwn as a terminal shows it: `<url|text>` as `text <url>`, `<url>` as the url, `<@U…>` as the
    user's name (else @user), `<#C…|name>` as #name, *bold* in ANSI bold (or plain), emoji shortcodes as emoji,
    and &amp; &lt; &gt; unescaped last, so that escaped catalog text never turns into markup."""
    names = names or {}
    text = _LINK.sub(lambda m: f"{m.group(2)} <{m.group(1)}>" if m.group(2) else m.group(1), mrkdwn)
    text = _USER.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(2) or "user"), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _BOLD.sub(lambda m: f"{BOLD}{m.group(1)}{RESET}" if bold else m.group(1), text)
    text = _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def run_console(
    database_url: str, search: SearchEngine, lines: Iterator[str] | None = None, write: Callable[[str], None] = print
) -> None:
    """Answer each line until `quit`, `exit` or the end of input; blank lines are skipped, not an exit."""
    interactive = lines is None and sys.stdin.isatty()
    if interactive:
        _line_editing()
        write(INTRO)
    with Console(database_url, search, styled=lines is None and sys.stdout.isatty()) as console:
        for line in lines if lines is not None else _stdin_lines(interactive):
            if not line.strip():
                continue
            if line.strip().lower() in QUIT_WORDS:
                break
            write(console.send(line) + "\n")


def _line_editing() -> bool:
    """Arrow keys, Ctrl-A/E and history for input(), via readline where Python has it; history kept per user."""
    try:
        import readline  # noqa: PLC0415 - only a terminal session wants it; importing it changes input()
    except ImportError:  # Python built without it (some Windows builds): plain input
        return False
    path = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "talkbot" / "console_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LINES)
    atexit.register(_save_history, readline, path)
    return True


def _save_history(readline, path: Path) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(path)


def _stdin_lines(interactive: bool) -> Iterator[str]:
    while True:
        try:
            yield input("you> ") if interactive else next(sys.stdin)
        except (EOFError, StopIteration):
            if interactive:
                print()  # Ctrl-D: end the prompt's line
            return
