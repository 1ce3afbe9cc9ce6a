"""Hostile and malformed requests to a real `talkbot serve --http`, over real HTTP.

Bolt parses a request's body before it checks Slack's signature, so a body that was not JSON, a JSON list, a 100,000
deep one or bytes that are not UTF-8 (and timestamps that are not a number) used to get a 500 and ~2.7 KB of
traceback in the log, from anyone. talkbot now checks the signature first, then that the body is what Slack sends:
each such request gets a 4xx at once and exactly one short line in the log, which never holds the body, its
headers or a response_url. Whatever talkbot logs, a record is one line: no one can write a line of their own into
the log."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from slack_bolt import App, BoltRequest

from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import FORM, JSON, signed_headers, slash_command
from bot.installations import REDIRECT_PATH
from bot.logs import CONTINUATION
from bot.server.wsgi import wsgi_app
from db.config import sessions_for
from db.migrate import upgrade
from db.setup import seed_catalog
from tests.support.slack_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM,
    Reply,
    TalkbotServer,
    answers_to,
    oauth_server,
    texts,
)

MARK = "Qx7-body-marker"  # in every body below: it must never reach the log
RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
SHORT = 200  # characters: a refusal's line is metadata, not a copy of the request


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[TalkbotServer]:
    """One server on a seeded SQLite catalog: the checks happen before any database work."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'catalog.sqlite3'}"
    upgrade(url)
    seed_catalog(url)
    with FakeSlack(team_id=TEAM) as fake:
        talkbot = TalkbotServer(url, fake)
        yield talkbot
        talkbot.stop()


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature, computed here on bytes (slack_sdk's signer needs UTF-8 bodies)."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def headers(body: bytes, content_type: str, *, signed: bool) -> dict:
    """A current timestamp, and Slack's signature or (as an attacker without the secret sends) a wrong one."""
    timestamp = str(int(time.time()))
    signature = slack_signature(SIGNING_SECRET if signed else "not-the-secret", timestamp, body)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def send(server: TalkbotServer, body: bytes, request_headers: dict) -> tuple[Reply, list[str]]:
    """POST /slack/events; the reply and the lines the server logged meanwhile (a refusal is logged before the
    answer is sent, so they are all there when it arrives)."""
    before = server.log.stat().st_size
    request = urllib.request.Request(server.url + "/slack/events", data=body, headers=request_headers, method="POST")
    reply = server._send(request)
    return reply, server.log.read_bytes()[before:].decode("utf-8", "replace").splitlines()


MALFORMED_BODIES = {
    "JSON that does not parse": (f"{{x {MARK}".encode(), JSON),
    "a form whose payload is not JSON": (f"payload={MARK}".encode(), FORM),
    "a form whose payload is a JSON list": (f"payload=%5B%22{MARK}%22%5D".encode(), FORM),
    "a JSON list": (f'["{MARK}"]'.encode(), JSON),
    "JSON nested 100,000 deep": (b"[" * 100_000, JSON),
    "JSON objects nested 100,000 deep": (b'{"a":' * 100_000, JSON),
    "JSON nested 65 deep (a click on an answer: 7)": (b'{"a":' * 65 + f'"{MARK}"'.encode() + b"}" * 65, JSON),
    "a body that is not UTF-8": (b"\xff\xfe" + MARK.encode(), JSON),
}

MALFORMED_HEADERS = {
    "no timestamp or signature": {},
    "a timestamp that is not a number": {"X-Slack-Request-Timestamp": "soon"},
    "a float timestamp": {"X-Slack-Request-Timestamp": f"{time.time():.3f}"},
    "a 400-digit timestamp": {"X-Slack-Request-Timestamp": "9" * 400},
    "a timestamp in another script's digits": {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠".encode()},
    "two timestamps": {"X-Slack-Request-Timestamp": f"{int(time.time())}, {int(time.time())}"},
    "a signature that is not hex": {"X-Slack-Signature": "v0=" + "é" * 64},
    "a signature that is far too long": {"X-Slack-Signature": "v0=" + "0" * 10_000},
}


def assert_one_short_line_without_the_body(lines: list[str], status: int, body: bytes) -> None:
    assert len(lines) == 1, lines
    [line] = lines
    assert RECORD_START.match(line) and f"refused POST /slack/events ({len(body)} bytes) with {status}: " in line
    assert len(line) < SHORT and MARK not in line and "[[" not in line and '{"a"' not in line


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_malformed_body_gets_a_4xx_at_once_and_one_short_log_line_without_it(server, kind, signed):
    """Unsigned: 401, and nothing of the body is even decoded. Signed (only Slack, or whoever holds the secret): 400,
    where Bolt used to answer 500 with a traceback."""
    body, content_type = MALFORMED_BODIES[kind]
    reply, lines = send(server, body, headers(body, content_type, signed=signed))
    assert (reply.status, reply.seconds < 1) == (400 if signed else 401, True)
    assert_one_short_line_without_the_body(lines, reply.status, body)


@pytest.mark.parametrize("kind", MALFORMED_HEADERS)
def test_a_malformed_timestamp_or_signature_gets_401_at_once_and_one_short_log_line(server, kind):
    body = f'{{"type": "event_callback", "text": "{MARK}"}}'.encode()
    request_headers = {**headers(body, JSON, signed=True), **MALFORMED_HEADERS[kind]}
    if kind == "no timestamp or signature":
        request_headers = {"Content-Type": JSON}
    reply, lines = send(server, body, request_headers)
    assert (reply.status, reply.seconds < 1) == (401, True)
    assert_one_short_line_without_the_body(lines, 401, body)


def test_a_body_written_as_a_log_line_does_not_become_one(server):
    """An unsigned body with a newline and a line of its own used to be logged whole (Bolt logs a bad signature's body
    at INFO), forging a record. Signed, Bolt does not know the request, and says so without the text."""
    forged = "2026-11-27 04:31:00,000 ERROR bot.server: FORGED by the body"
    body = f"text=x\n{forged}\n".encode()
    for signed in (False, True):
        reply, _ = send(server, body, headers(body, FORM, signed=signed))
        assert reply.status == (404 if signed else 401)
    log = server.log.read_text()
    assert "FORGED" not in log
    assert not any(line.startswith(forged) for line in log.splitlines())


def test_an_oauth_error_written_as_a_log_line_stays_on_its_own_line(tmp_path):
    """`GET /slack/oauth_redirect?error=…` is unsigned by design, and its `error` is logged: written with a CR, LF and
    a line of its own, it used to start a record of its own; escaped, it stays inside the one line that quotes it."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    upgrade(url)
    forged = "2026-11-27 04:31:00,000 ERROR bot.server: FORGED by the query"
    with FakeSlack(team_id=TEAM, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        talkbot = oauth_server(url, fake)
        try:
            reply = talkbot.get(REDIRECT_PATH + "?error=" + quote(f"access_denied\r\n{forged}\x1b[2J"))
        finally:
            talkbot.stop()
    lines = talkbot.log.read_text().splitlines()
    assert reply.status < 500
    assert not any(line.startswith(forged) for line in lines)
    [quoted] = [line for line in lines if "FORGED" in line]
    assert RECORD_START.match(quoted) and quoted.endswith(f"access_denied\\r\\n{forged}\\x1b[2J")


@pytest.mark.parametrize("skew", [-600, 600], ids=["ten minutes old", "ten minutes ahead"])
def test_a_genuine_request_refused_for_clock_skew_logs_neither_its_query_nor_its_response_url(server, skew):
    """Such a request was logged whole: the person's query, and the response_url with which whoever reads the log
    could post into their channel."""
    query, response_url = f"skewed{uuid.uuid4().hex[:8]}", server.fake.response_url()
    body = slash_command(query, user_id="UALICE", team_id=TEAM, channel_id="CGENERAL", response_url=response_url)
    stale = signed_headers(SIGNING_SECRET, body, FORM, timestamp=int(time.time()) + skew)
    reply, lines = send(server, body, stale)
    assert reply.status == 401 and len(lines) == 1 and "5-minute window" in lines[0]
    log = server.log.read_text()
    assert query not in log and response_url.rsplit("/", 1)[1] not in log and "response_url" not in log


def test_a_flood_of_malformed_requests_does_not_stop_a_signed_one_being_acked_and_answered(server):
    kinds = [(body, headers(body, content_type, signed=False)) for body, content_type in MALFORMED_BODIES.values()]
    with ThreadPoolExecutor(8) as pool:
        flood = [pool.submit(send, server, *kinds[number % len(kinds)]) for number in range(400)]
        ack, response_url_id = server.command("kafka")
        refused = [future.result()[0].status for future in flood]
    assert (ack.status, ack.seconds < 3) == (200, True)
    assert "Scaling Kafka" in texts(answers_to(server.fake, response_url_id)[0])
    assert refused == [401] * 400
    assert "Traceback" not in server.log.read_text()


def test_a_command_with_the_word_payload_in_it_is_answered(server):
    """Bolt reads any form body containing "payload" as a button click without one, i.e. as nothing: `/talk json
    payload` got a 404, and the person "/talk failed"."""
    ack, response_url_id = server.command("payload kafka")
    assert ack.status == 200
    assert "kafka" in texts(answers_to(server.fake, response_url_id)[0]).lower()


def test_bolts_own_signature_check_logs_no_body_if_it_is_ever_reached(tmp_path, caplog):
    """Bolt checks the signature again after talkbot; were the two to disagree (a request crossing the 5-minute mark
    between them), its INFO line would quote the body. talkbot's HTTP app turns that line off."""
    with caplog.at_level(logging.INFO):  # as under `talkbot serve`: Bolt's loggers take the root's level when made
        app = App(signing_secret=SIGNING_SECRET, token="xoxb-unused", token_verification_enabled=False)
        wsgi_app(app, sessions_for(f"sqlite:///{tmp_path / 'unused.sqlite3'}"), signing_secret="s")
        body = f"text={MARK}&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F{MARK}"
        old = str(int(time.time()) - 301)
        response = app.dispatch(
            BoltRequest(body=body, headers={"x-slack-request-timestamp": old, "x-slack-signature": "v0=" + "0" * 64})
        )
    assert response.status == 401
    assert MARK not in caplog.text


LOGGING_SCRIPT = r"""
import logging
from bot.logs import configure_logging

configure_logging()
forged = "2026-11-27 04:31:00,000 ERROR bot.server: FORGED"
logging.getLogger("waitress").warning("path %s", "/x\r\n" + forged + "\x1b[2J\x85\u2028")
try:
    raise ValueError("bad input\n" + forged + "\x1b[31m")
except ValueError:
    logging.getLogger("slack_bolt.App").exception("listener failed\nFORGED")
logging.getLogger("bot.server").info("plain")
"""


def test_every_logger_writes_one_escaped_line_per_record_and_tracebacks_stay_readable():
    """The logging `talkbot serve` and `talkbot clock` set up (bot/logs.py), for talkbot's loggers and third-party
    ones alike: CR, LF, ANSI and other control characters are written out, so each record is one line; a traceback
    follows on indented lines, escaped the same way. A line at column 0 is always a record's start."""
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT], cwd=root, capture_output=True, text=True, check=True)
    lines = run.stderr.splitlines()
    records = [line for line in lines if not line.startswith(CONTINUATION)]
    assert [RECORD_START.match(line) is not None for line in records] == [True, True, True]
    assert records[0].endswith(
        "WARNING waitress: path /x\\r\\n2026-11-27 04:31:00,000 ERROR bot.server: FORGED\\x1b[2J\\x85\\u2028"
    )
    assert records[1].endswith("ERROR slack_bolt.App: listener failed\\nFORGED")
    assert records[2].endswith("INFO bot.server: plain")
    traceback = [line.removeprefix(CONTINUATION) for line in lines if line.startswith(CONTINUATION)]
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-2:] == ["ValueError: bad input", "2026-11-27 04:31:00,000 ERROR bot.server: FORGED\\x1b[31m"]
    assert not any(char in run.stderr for char in "\r\x1b\x85\u2028")
