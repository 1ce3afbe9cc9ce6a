"""HTTP mode's limits and health check, through a real `talkbot serve --http` over real sockets.

What one client can cost the server is bounded: a body over the cap is refused with 413 before it is read (on every
path, declared or chunked), a request that trickles in is cut off after the request timeout, and an idle connection
is closed after the idle timeout. /healthz tells a load balancer whether the database answers, and nothing else."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import pytest
from slack_bolt import App

from bot.config import ConfigError
from bot.fake_slack import FakeSlack
from bot.server import CLEANUP_INTERVAL, HttpLimits, database_health, wsgi_app
from bot.slack_payloads import FORM, slash_command
from db.config import sessions_for
from db.migrate import upgrade
from db.search.engine import SearchEngine
from db.setup import seed_catalog
from tests.slack_server import TEAM, TalkbotServer, answers_to, texts

MiB = 1024 * 1024
REQUEST_TIMEOUT, IDLE_TIMEOUT = 2, 3  # short, so that the tests of them are quick
# A connection over its timeout is closed by the next maintenance pass (every CLEANUP_INTERVAL s), which runs on
# waitress's I/O loop (it wakes at least once a second).
CLOSE_SLACK = CLEANUP_INTERVAL + 1.5


def test_health_is_ok_with_a_database_and_unavailable_without(migrated_database):
    assert database_health(SearchEngine(sessions_for(migrated_database))) == (True, "ok")
    unreachable = SearchEngine(sessions_for("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    assert database_health(unreachable) == (False, "unavailable")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[TalkbotServer]:
    """One server on a seeded SQLite catalog (the limits do not depend on the database)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'catalog.sqlite3'}"
    upgrade(url)
    seed_catalog(url)
    with FakeSlack(team_id=TEAM) as fake:
        limits = {"TALKBOT_HTTP_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT), "TALKBOT_HTTP_IDLE_TIMEOUT": str(IDLE_TIMEOUT)}
        talkbot = TalkbotServer(url, fake, extra_env=limits)
        yield talkbot
        talkbot.stop()


def peak_resident_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def connect(server: TalkbotServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def head(path: str, headers: dict[str, str | int]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: talkbot.test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_until_answered(sock: socket.socket, chunks: Iterator[bytes]) -> int:
    """Send `chunks` for as long as the server reads them and has not answered; return the bytes sent."""
    sent = 0
    for chunk in chunks:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break  # an answer (or a close) before the body was all sent
        try:
            sock.sendall(chunk)
        except OSError:  # the server closed the connection: it will not read the rest
            break
        sent += len(chunk)
    return sent


def status_of(sock: socket.socket) -> int | None:
    """The status code of the response on `sock`, or None when the connection was closed without one."""
    received = b""
    try:
        while b"\r\n" not in received and (data := sock.recv(4096)):
            received += data
    except OSError:
        pass
    return int(received.split()[1]) if received.startswith(b"HTTP/1.") else None


def zeros(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"0" * size
    for _ in range(total // size):
        yield block


def test_a_100_mb_unsigned_post_is_refused_with_413_unread_and_costs_the_server_no_memory(server):
    """Before the cap, waitress read such a body whole and Bolt copied it before checking the signature: peak RSS went
    from 86 to 575 MB for one request."""
    before = peak_resident_mb(server.process.pid)
    start = time.monotonic()
    with connect(server) as sock:
        sock.sendall(head("/slack/events", {"Content-Type": "application/json", "Content-Length": 100 * MiB}))
        sent = send_until_answered(sock, zeros(100 * MiB))
        status = status_of(sock)
    elapsed = time.monotonic() - start

    assert status == 413
    assert elapsed < 2 and sent < 100 * MiB
    assert peak_resident_mb(server.process.pid) - before < 10
    assert server.get("/healthz").status == 200


@pytest.mark.parametrize("path", ["/slack/events", "/slack/install", "/slack/oauth_redirect", "/healthz", "/other"])
def test_a_declared_body_over_the_cap_is_refused_on_every_path_before_it_is_sent(server, path):
    with connect(server) as sock:
        sock.sendall(head(path, {"Content-Type": "application/json", "Content-Length": MiB + 1}))
        assert status_of(sock) == 413


def test_a_chunked_body_with_no_length_is_refused_once_it_passes_the_cap(server):
    with connect(server) as sock:
        sock.sendall(head("/slack/events", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        chunks = (b"%x\r\n%s\r\n" % (len(block), block) for block in zeros(20 * MiB))
        sent = send_until_answered(sock, chunks)
        assert status_of(sock) == 413
    assert MiB <= sent < 20 * MiB


def test_a_signed_request_of_exactly_the_cap_and_an_ordinary_one_are_answered(server):
    """The cap is inclusive: a signed /talk padded to exactly 1 MiB is read, acked and answered, and so is an
    ordinary one."""
    for padding in (True, False):
        response_url = server.fake.response_url()
        body = slash_command("kafka", user_id="UALICE", team_id=TEAM, channel_id="CGENERAL", response_url=response_url)
        if padding:
            body += b"&padding=" + b"x" * (MiB - len(body) - len(b"&padding="))
            assert len(body) == MiB
        ack = server.post(body, FORM)
        assert (ack.status, ack.seconds < 3) == (200, True)
        assert "Scaling Kafka" in texts(answers_to(server.fake, response_url.rsplit("/", 1)[1])[0])


def test_a_client_sending_a_byte_a_second_is_disconnected_after_the_request_timeout_while_health_answers(server):
    with connect(server) as sock:
        start = time.monotonic()
        sock.sendall(head("/slack/events", {"Content-Type": "application/json", "Content-Length": 1000}))
        closed_after = None
        while closed_after is None and time.monotonic() - start < REQUEST_TIMEOUT + CLOSE_SLACK + 5:
            health = server.get("/healthz")
            assert (health.status, health.seconds < 1) == (200, True)
            readable, _, _ = select.select([sock], [], [], 1.0)  # one byte a second, until the server hangs up
            if readable or not _sent(sock, b"{"):
                closed_after = time.monotonic() - start
    assert closed_after is not None, "the slow client was never disconnected"
    assert REQUEST_TIMEOUT <= closed_after <= REQUEST_TIMEOUT + CLOSE_SLACK


def _sent(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def test_a_client_trickling_its_headers_is_disconnected_too(server):
    with connect(server) as sock:
        start = time.monotonic()
        request = head("/slack/events", {"Content-Type": "application/json", "Content-Length": 2}) + b"{}"
        closed_after = None
        for byte in request:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable or not _sent(sock, bytes([byte])):
                closed_after = time.monotonic() - start
                break
    assert closed_after is not None and REQUEST_TIMEOUT <= closed_after <= REQUEST_TIMEOUT + CLOSE_SLACK


def test_an_idle_connection_is_closed_after_the_idle_timeout(server):
    with connect(server) as sock:
        start = time.monotonic()
        readable, _, _ = select.select([sock], [], [], IDLE_TIMEOUT + CLOSE_SLACK + 5)
        closed_after = time.monotonic() - start
        assert readable and sock.recv(1) == b""
    assert IDLE_TIMEOUT <= closed_after <= IDLE_TIMEOUT + CLOSE_SLACK


def test_health_answers_exactly_ok_and_database_and_nothing_else(server):
    reply = server.get("/healthz")
    assert (reply.status, json.loads(reply.body)) == (200, {"ok": True, "database": "ok"})


class Unreadable:
    """A request body that must not be read."""

    def read(self, *_args) -> bytes:
        raise AssertionError("the body was read")


def test_the_wsgi_app_refuses_a_declared_body_over_the_cap_without_reading_it_under_any_server(migrated_database):
    """waitress refuses such bodies first; this is the same limit for any other WSGI server talkbot may run under."""
    slack = App(signing_secret="unused", token="xoxb-unused", token_verification_enabled=False)
    application = wsgi_app(slack, SearchEngine(sessions_for(migrated_database)), HttpLimits(max_body_bytes=100))
    started = []
    for length in ("101", "1000000000"):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "CONTENT_LENGTH": length,
                   "wsgi.input": Unreadable()}  # fmt: skip
        body = b"".join(application(environ, lambda status, _headers: started.append(status)))
        assert json.loads(body)["ok"] is False
    assert started == ["413 Content Too Large"] * 2


def test_http_limits_come_from_the_environment_and_bad_values_say_which_variable():
    limits = HttpLimits.from_environment({"TALKBOT_MAX_BODY_BYTES": "2048", "TALKBOT_HTTP_REQUEST_TIMEOUT": "2.5"})
    assert (limits.max_body_bytes, limits.request_timeout, limits.idle_timeout) == (2048, 2.5, HttpLimits.idle_timeout)
    for variable, value in (("TALKBOT_MAX_BODY_BYTES", "1MB"), ("TALKBOT_HTTP_IDLE_TIMEOUT", "0")):
        with pytest.raises(ConfigError, match=variable):
            HttpLimits.from_environment({variable: value})
