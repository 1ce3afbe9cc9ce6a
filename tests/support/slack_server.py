"""A real `talkbot serve --http` process beside a fake Slack, and signed requests to it, for scenario tests."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot.devtools.fake_slack import FakeSlack, Workspace
from bot.devtools.slack_payloads import (
    FORM,
    JSON,
    app_mention,
    block_action,
    block_suggestion,
    event_callback,
    file_share_event,
    global_shortcut,
    message_changed,
    message_event,
    message_shortcut,
    posted_message,
    retry_headers,
    shared_file,
    signed_headers,
    slash_command,
    view_action,
    view_submission,
)
from bot.installations import INSTALL_PATH, REDIRECT_PATH
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher

SIGNING_SECRET = "test-signing-secret"
CLIENT_ID, CLIENT_SECRET = "1234.5678", "client-secret-not-real"
BOT_TOKEN = "xoxb-test-token-not-real"
TEAM = "T0001"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Reply:
    status: int
    body: str
    seconds: float
    headers: dict = field(default_factory=dict)


class SlackSender:
    """What Slack sends, signed, to a talkbot: subclasses say how a request reaches it (`post`, `get`)."""

    fake: FakeSlack

    def post(self, body: bytes, content_type: str, headers: dict | None = None) -> Reply:
        raise NotImplementedError

    def get(self, path: str, headers: dict | None = None) -> Reply:
        """`path` may carry a query string; a redirect is returned, not followed."""
        raise NotImplementedError

    # What Slack sends, signed.

    def command(
        self, text: str, user: str = "UALICE", channel: str = "CGENERAL", team: str = TEAM, *,
        channel_name: str = "general", escape: bool = True, enterprise_id: str | None = None,
    ) -> tuple[Reply, str]:  # fmt: skip
        """Send `/talk text`; returns the ack and the response_url id the answer will be posted to.
        `channel_name`: "directmessage" in a DM, group_dm_name(...) in a group DM, "privategroup" for private ones."""
        response_url = self.fake.response_url()
        body = slash_command(
            text, user_id=user, team_id=team, channel_id=channel, response_url=response_url,
            channel_name=channel_name, escape=escape, enterprise_id=enterprise_id,
        )  # fmt: skip
        return self.post(body, FORM), response_url.rsplit("/", 1)[1]

    def event(
        self, event: dict, event_id: str | None = None, headers: dict | None = None, team: str = TEAM, *,
        retry: int = 0, retry_reason: str = "http_timeout", is_ext_shared_channel: bool = False,
    ) -> Reply:  # fmt: skip
        """Deliver an Events API event; `retry=n` sends it as Slack's n-th redelivery (same event_id)."""
        body = event_callback(event, team_id=team, event_id=event_id, bot_user_id=self.fake.bot_user_of(team),
                              is_ext_shared_channel=is_ext_shared_channel)  # fmt: skip
        extra = {**(retry_headers(retry, retry_reason) if retry else {}), **(headers or {})}
        return self.post(body, JSON, extra)

    def mention(
        self, text: str, *, user: str = "UALICE", channel: str = "CGENERAL", team: str = TEAM,
        thread_ts: str | None = None, ts: str | None = None, edited: bool = False, user_team: str | None = None,
        event_id: str | None = None, retry: int = 0,
    ) -> tuple[Reply, dict]:  # fmt: skip
        """`@talkbot text` in a channel; returns the ack and the event sent (its `ts` is the message's). To edit
        that message, send `mention(new_text, ts=event["ts"], edited=True)`: Slack's re-delivery of an edited mention.
        `user_team`: the person is from another workspace, in a Slack Connect channel."""
        event = app_mention(
            f"<@{self.fake.bot_user_of(team)}> {text}", user_id=user, channel_id=channel, team_id=team, ts=ts,
            thread_ts=thread_ts, edited=edited, user_team=user_team,
        )  # fmt: skip
        reply = self.event(event, event_id=event_id, team=team, retry=retry, is_ext_shared_channel=bool(user_team))
        return reply, event

    def dm(
        self, text: str, *, user: str = "UALICE", channel: str | None = None, team: str = TEAM,
        files: list[str] | None = None,
    ) -> tuple[Reply, dict]:  # fmt: skip
        """A direct message to talkbot (with `files`, their names: a file_share message); returns ack and event."""
        channel = channel or "D" + user[1:]
        if files:
            shared = [shared_file(name, user_id=user) for name in files]
            event = file_share_event(text, shared, user_id=user, channel_id=channel, team_id=team)
        else:
            event = message_event(text, user_id=user, channel_id=channel, team_id=team)
        return self.event(event, team=team), event

    def edit(self, original: dict, new_text: str, *, team: str = TEAM) -> tuple[Reply, dict]:
        """Edit a message sent with dm(): Slack's `message_changed` event."""
        event = message_changed(original, new_text)
        return self.event(event, team=team), event

    def click(
        self, button: dict, *, user: str = "UALICE", ephemeral: bool = True, view: dict | None = None,
        team: str = TEAM, **where,
    ) -> str:  # fmt: skip
        """Press a button talkbot sent; returns the response_url id its answer goes to (see press() for `where`)."""
        ack, response_url_id = self.press(button, user=user, ephemeral=ephemeral, view=view, team=team, **where)
        assert ack.status == 200
        return response_url_id

    def shortcut(
        self, text: str, callback_id: str, *, user: str = "UALICE", author: str = "UBOB", channel: str = "CGENERAL",
        team: str = TEAM, thread_ts: str | None = None, escape: bool = True,
    ) -> tuple[Reply, str]:  # fmt: skip
        """`user` chooses the message shortcut `callback_id` on a message `author` wrote (`text`; in a thread:
        `thread_ts`); returns the ack and the response_url id the answer goes to."""
        message = posted_message(text, user_id=author, team_id=team, thread_ts=thread_ts, escape=escape)
        response_url = self.fake.response_url()
        body = message_shortcut(
            message, callback_id=callback_id, user_id=user, team_id=team, channel_id=channel, response_url=response_url
        )
        return self.post(body, FORM), response_url.rsplit("/", 1)[1]

    def global_shortcut(self, callback_id: str, *, user: str = "UALICE", team: str = TEAM) -> Reply:
        """`user` chooses the global shortcut `callback_id` from the shortcuts menu."""
        return self.post(global_shortcut(callback_id, user_id=user, team_id=team), FORM)

    def submit(
        self, view_id: str, filled: dict | None = None, *, user: str = "UALICE", team: str = TEAM
    ) -> tuple[Reply, dict | None]:  # fmt: skip
        """Press the submit button of the modal `view_id` (as the fake holds it) with `filled` entered (by block_id);
        the fake then acts on talkbot's ack as Slack does. Returns the ack and the field errors it showed, if any."""
        body = view_submission(self.fake.view(view_id), user_id=user, team_id=team, filled=filled)
        reply = self.post(body, FORM)
        errors = self.fake.answer_view_submission(view_id, reply.body) if reply.status == 200 else None
        return reply, errors

    def press_in_view(
        self, button: dict, view_id: str, filled: dict | None = None, *, user: str = "UALICE", team: str = TEAM
    ) -> Reply:  # fmt: skip
        """Press a button in the modal `view_id` with `filled` entered in its inputs."""
        return self.post(view_action(button, self.fake.view(view_id), user_id=user, team_id=team, filled=filled), FORM)

    def suggest(
        self, view_id: str, typed: str, *, action_id: str, block_id: str, user: str = "UALICE", team: str = TEAM
    ) -> Reply:  # fmt: skip
        """Type `typed` into a menu with external options in the modal `view_id`; the ack holds the options."""
        body = block_suggestion(
            self.fake.view(view_id), action_id=action_id, block_id=block_id, value=typed, user_id=user, team_id=team
        )
        return self.post(body, FORM)

    def press(
        self, button: dict, *, user: str = "UALICE", ephemeral: bool = True, view: dict | None = None,
        team: str = TEAM, channel: str = "CGENERAL", message_ts: str | None = None, thread_ts: str | None = None,
        message: dict | None = None, user_team: str | None = None,
    ) -> tuple[Reply, str]:  # fmt: skip
        """Press a button talkbot sent; returns the ack and the response_url id its answer goes to.

        `message_ts`/`thread_ts`: the message it is on, and its thread; `message`: a public message as talkbot
        posted it (e.g. from fake.messages_in), sent whole as Slack does; `user_team`: the person is from another
        workspace (Slack Connect)."""
        response_url = self.fake.response_url()
        body = block_action(
            button, user_id=user, team_id=team, channel_id=channel, response_url=response_url,
            is_ephemeral=ephemeral, view=view, message_ts=message_ts, thread_ts=thread_ts, message=message,
            user_team_id=user_team, bot_user_id=self.fake.bot_user_of(team),
        )  # fmt: skip
        return self.post(body, FORM), response_url.rsplit("/", 1)[1]


class TalkbotServer(SlackSender):
    """`talkbot serve --http` in a subprocess, configured against `fake`; stopped by `stop()`."""

    def __init__(self, database_url: str, fake: FakeSlack, extra_env: dict | None = None) -> None:
        self.port = free_port()
        self.fake = fake
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            **(extra_env or {}),
        }
        env.pop("SLACK_APP_TOKEN", None)
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"talkbot-serve-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        self._wait_until_healthy()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"talkbot serve exited: {self.log.read_text()}")
            try:
                if self.get("/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"talkbot serve did not become healthy: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def get(self, path: str, headers: dict | None = None) -> Reply:
        return self._send(urllib.request.Request(self.url + path, headers=headers or {}))

    def post(self, body: bytes, content_type: str, headers: dict | None = None) -> Reply:
        signed = signed_headers(SIGNING_SECRET, body, content_type)
        request = urllib.request.Request(
            self.url + "/slack/events", data=body, headers={**signed, **(headers or {})}, method="POST"
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> Reply:
        start = time.monotonic()
        try:
            with urllib.request.build_opener(StayOnRedirect).open(request, timeout=10) as response:
                body = response.read().decode()
                return Reply(response.status, body, time.monotonic() - start, dict(response.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode(), time.monotonic() - start, dict(error.headers))


def answers_to(fake: FakeSlack, response_url_id: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
    """The bodies talkbot posted to one response_url and Slack accepted, waiting for `count` of them. A post the
    fake refused (as Slack would: invalid blocks, no text…) never reached anyone, so it is not an answer."""
    deadline = time.monotonic() + timeout
    while True:
        posts = [c for c in fake.calls_to("response_url") if c.response_url_id == response_url_id]
        found = [c.params for c in posts if not (c.error or c.dropped)]
        if len(found) >= count:
            return found
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    refused = "".join(f"; Slack refused one with {c.error}: {list(c.problems)}" for c in posts if c.error)
    raise AssertionError(f"expected {count} answer(s) on response_url {response_url_id}, got {len(found)}{refused}")


def wait_for(found, timeout: float = 10.0):
    """Poll `found()` until it returns something truthy (talkbot answers events after acking them); return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s")


def buttons(message: dict) -> list[dict]:
    """The buttons in a message, each with the `block_id` of its block when it has one (a click reports it)."""
    return [
        {**element, "block_id": block["block_id"]} if "block_id" in block else element
        for block in message["blocks"]
        for element in (block.get("elements", []) if block["type"] == "actions" else [block.get("accessory", {})])
        if element.get("type") == "button"
    ]


def button(message: dict, label: str, nth: int = 0) -> dict:
    return [b for b in buttons(message) if b["text"]["text"] == label][nth]


def texts(message: dict) -> str:
    """Every piece of text in a message, joined, for assertions about content."""
    return json.dumps(message["blocks"], ensure_ascii=False)


def oauth_server(database_url: str, fake: FakeSlack) -> TalkbotServer:
    """`talkbot serve --http` distributed over OAuth (no bot token of its own); `fake` must use CLIENT_ID/SECRET."""
    oauth = {
        "SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        # OAuth mode stores tokens encrypted: a test that reads them sets the key itself; any other gets one
        ENCRYPTION_KEY_VARIABLE: os.environ.get(ENCRYPTION_KEY_VARIABLE) or TokenCipher.generate_key(),
    }  # fmt: skip
    server = TalkbotServer(database_url, fake, extra_env=oauth)
    fake.redirect_url = server.url + REDIRECT_PATH  # the Redirect URL configured in the Slack app
    return server


class StayOnRedirect(urllib.request.HTTPRedirectHandler):
    """Let the test see each redirect, as a browser's network panel would."""

    def redirect_request(self, *args, **kwargs):
        return None


def install(server: SlackSender, fake: FakeSlack, team: str, installer: str = "UALICE") -> str:
    """Click "Add to Slack" on /slack/install, approve on (fake) Slack, land on the redirect; returns that page.

    The browser carries bolt's state cookie back itself: it is marked Secure, which a cookie jar on plain
    http://127.0.0.1 would (rightly) not send. `server` is a real process or talkbot in-process (tests/support)."""
    fake.sign_in(Workspace(team, bot_user_id=f"UBOT{team}", installer_id=installer))
    page = server.get(INSTALL_PATH)
    assert page.status == 200, page
    state_cookie = page.headers["Set-Cookie"].split(";")[0]
    consent_url = re.search(r'href="([^"]+/oauth/v2/authorize[^"]+)"', page.body)[1]
    try:
        urllib.request.build_opener(StayOnRedirect).open(html.unescape(consent_url), timeout=10)
    except urllib.error.HTTPError as consent:
        assert consent.code == 302, consent
        back_to_talkbot = urllib.parse.urlsplit(consent.headers["Location"])
    landing = server.get(f"{back_to_talkbot.path}?{back_to_talkbot.query}", headers={"Cookie": state_cookie})
    assert landing.status == 200, landing
    return landing.body
