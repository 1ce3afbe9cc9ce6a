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
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bot.fake_slack import FakeSlack, Workspace
from bot.installations import INSTALL_PATH, REDIRECT_PATH
from bot.slack_payloads import FORM, JSON, block_action, event_callback, signed_headers, slash_command

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


class TalkbotServer:
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
            cwd=Path(__file__).resolve().parents[1],
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

    def get(self, path: str) -> Reply:
        return self._send(urllib.request.Request(self.url + path))

    def post(self, body: bytes, content_type: str, headers: dict | None = None) -> Reply:
        signed = signed_headers(SIGNING_SECRET, body, content_type)
        request = urllib.request.Request(
            self.url + "/slack/events", data=body, headers={**signed, **(headers or {})}, method="POST"
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> Reply:
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, response.read().decode(), time.monotonic() - start)
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode(), time.monotonic() - start)

    # What Slack sends, signed.

    def command(
        self, text: str, user: str = "UALICE", channel: str = "CGENERAL", team: str = TEAM
    ) -> tuple[Reply, str]:
        """Send `/talk text`; returns the ack and the response_url id the answer will be posted to."""
        response_url = self.fake.response_url()
        body = slash_command(text, user_id=user, team_id=team, channel_id=channel, response_url=response_url)
        return self.post(body, FORM), response_url.rsplit("/", 1)[1]

    def event(self, event: dict, event_id: str | None = None, headers: dict | None = None, team: str = TEAM) -> Reply:
        return self.post(event_callback(event, team_id=team, event_id=event_id), JSON, headers)

    def click(
        self, button: dict, *, user: str = "UALICE", ephemeral: bool = True, view: dict | None = None,
        team: str = TEAM,
    ) -> str:  # fmt: skip
        """Press a button talkbot sent; returns the response_url id its answer goes to."""
        ack, response_url_id = self.press(button, user=user, ephemeral=ephemeral, view=view, team=team)
        assert ack.status == 200
        return response_url_id

    def press(
        self, button: dict, *, user: str = "UALICE", ephemeral: bool = True, view: dict | None = None,
        team: str = TEAM,
    ) -> tuple[Reply, str]:  # fmt: skip
        """Press a button talkbot sent; returns the ack and the response_url id its answer goes to."""
        response_url = self.fake.response_url()
        action = {key: button[key] for key in ("action_id", "value")}
        body = block_action(
            action, user_id=user, team_id=team, channel_id="CGENERAL", response_url=response_url,
            is_ephemeral=ephemeral, view=view,
        )  # fmt: skip
        return self.post(body, FORM), response_url.rsplit("/", 1)[1]


def answers_to(fake: FakeSlack, response_url_id: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
    """The bodies talkbot posted to one response_url, waiting for `count` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c.params for c in fake.calls_to("response_url") if c.response_url_id == response_url_id]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"expected {count} answer(s) on response_url {response_url_id}, got {len(found)}")


def wait_for(found, timeout: float = 10.0):
    """Poll `found()` until it returns something truthy (talkbot answers events after acking them); return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s")


def buttons(message: dict) -> list[dict]:
    return [
        element
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
    oauth = {"SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET}
    server = TalkbotServer(database_url, fake, extra_env=oauth)
    fake.redirect_url = server.url + REDIRECT_PATH  # the Redirect URL configured in the Slack app
    return server


class StayOnRedirect(urllib.request.HTTPRedirectHandler):
    """Let the test see each redirect, as a browser's network panel would."""

    def redirect_request(self, *args, **kwargs):
        return None


def install(server: TalkbotServer, fake: FakeSlack, team: str, installer: str = "UALICE") -> str:
    """Click "Add to Slack" on /slack/install, approve on (fake) Slack, land on the redirect; returns that page.

    The browser carries bolt's state cookie back itself: it is marked Secure, which a cookie jar on plain
    http://127.0.0.1 would (rightly) not send."""
    fake.sign_in(Workspace(team, bot_user_id=f"UBOT{team}", installer_id=installer))
    with urllib.request.urlopen(server.url + INSTALL_PATH, timeout=10) as page:
        state_cookie = page.headers["Set-Cookie"].split(";")[0]
        consent_url = re.search(r'href="([^"]+/oauth/v2/authorize[^"]+)"', page.read().decode())[1]
    try:
        urllib.request.build_opener(StayOnRedirect).open(html.unescape(consent_url), timeout=10)
    except urllib.error.HTTPError as consent:
        assert consent.code == 302, consent
        back_to_talkbot = consent.headers["Location"]
    landing = urllib.request.Request(back_to_talkbot, headers={"Cookie": state_cookie})
    with urllib.request.urlopen(landing, timeout=10) as page:
        return page.read().decode()
