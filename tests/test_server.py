"""HTTP mode's limits and health check, through a real `talkbot serve --http` over real sockets.

What one client can cost the server is bounded: a body over the cap is refused with 413 before it is read (on every
path, declared or chunked), headers that trickle in are cut off after the header timeout and a whole request after the
request timeout, an idle connection is closed after the idle timeout, and a hundred slow clients no longer fill the
server's connections. /healthz tells a load balancer whether the database reads and writes, within its own deadline
whatever the database does, and nothing else."""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from slack_bolt import App
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.config import ConfigError
from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import FORM, slash_command
from bot.server.health import HealthCheck, database_health
from bot.server.limits import CLEANUP_INTERVAL, FILE_DESCRIPTORS_BESIDES_CONNECTIONS, HttpLimits
from bot.server.wsgi import wsgi_app
from db.config import dispose_engine, sessions_for
from db.migrate import upgrade
from db.search.engine import SearchEngine
from db.setup import seed_catalog
from tests.support.slack_server import TEAM, TalkbotServer, answers_to, texts, wait_for

MiB = 1024 * 1024
HEADER_TIMEOUT, REQUEST_TIMEOUT, IDLE_TIMEOUT = 1, 4, 5  # short, so that the tests are quick; far enough apart
# that a connection closed by the wrong one fails them
SLOW_CLIENTS = 150  # more than waitress's default connection_limit (100), which they used to fill
# A connection over its timeout is closed by the next maintenance pass (every CLEANUP_INTERVAL s), which runs on
# waitress's I/O loop (it wakes at least once a second).
CLOSE_SLACK = CLEANUP_INTERVAL + 1.5


def test_health_is_ok_with_a_database_and_unavailable_without(migrated_database):
    assert database_health(sessions_for(migrated_database)) == (True, "ok")
    unreachable = sessions_for("postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert database_health(unreachable) == (False, "unavailable")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[TalkbotServer]:
    """One server on a seeded SQLite catalog (the limits do not depend on the database)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'catalog.sqlite3'}"
    upgrade(url)
    seed_catalog(url)
    with FakeSlack(team_id=TEAM) as fake:
        limits = {
            "TALKBOT_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "TALKBOT_HTTP_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
            "TALKBOT_HTTP_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        }
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


def test_a_client_trickling_its_headers_is_disconnected_after_the_shorter_header_timeout(server):
    with connect(server) as sock:
        start = time.monotonic()
        request = head("/slack/events", {"Content-Type": "application/json", "Content-Length": 2}) + b"{}"
        closed_after = None
        for byte in request:
            readable, _, _ = select.select([sock], [], [], 0.25)
            if readable or not _sent(sock, bytes([byte])):
                closed_after = time.monotonic() - start
                break
    assert closed_after is not None and HEADER_TIMEOUT <= closed_after <= HEADER_TIMEOUT + CLOSE_SLACK


def test_a_new_connection_that_sends_nothing_is_closed_after_the_header_timeout(server):
    with connect(server) as sock:
        start = time.monotonic()
        readable, _, _ = select.select([sock], [], [], HEADER_TIMEOUT + CLOSE_SLACK + 5)
        closed_after = time.monotonic() - start
        assert readable and sock.recv(1) == b""
    assert HEADER_TIMEOUT <= closed_after <= HEADER_TIMEOUT + CLOSE_SLACK


def test_a_keep_alive_connection_is_closed_after_the_idle_timeout_once_its_request_is_answered(server):
    """Between requests, a load balancer's pooled connection waits for the (longer) idle timeout, not the header one."""
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: talkbot.test\r\n\r\n")
        answered = b""
        while not answered.endswith(b"}"):
            answered += sock.recv(4096)
        start = time.monotonic()
        readable, _, _ = select.select([sock], [], [], IDLE_TIMEOUT + CLOSE_SLACK + 5)
        closed_after = time.monotonic() - start
        assert answered.startswith(b"HTTP/1.1 200") and readable and sock.recv(1) == b""
    assert IDLE_TIMEOUT - CLEANUP_INTERVAL <= closed_after <= IDLE_TIMEOUT + CLOSE_SLACK


class SlowClients:
    """`count` connections, each sending the start of a request and then one more header byte every `every` seconds;
    notes when the server closed each one."""

    def __init__(self, server: TalkbotServer, count: int, every: float = 0.25) -> None:
        self.sockets = [connect(server) for _ in range(count)]
        self.opened = {sock: time.monotonic() for sock in self.sockets}
        self.closed: dict[socket.socket, float] = {}
        self.every, self._stop = every, threading.Event()
        for sock in self.sockets:
            sock.setblocking(False)
            sock.send(b"POST /slack/events HTTP/1.1\r\nHost: talkbot.test\r\nX-Slow: ")
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.is_set() and len(self.closed) < len(self.sockets):
            open_ = [sock for sock in self.sockets if sock not in self.closed]
            readable, _, _ = select.select(open_, [], [], self.every)
            for sock in open_:
                try:
                    gone = sock in readable and sock.recv(4096) == b""
                    if not gone:
                        sock.send(b"x")
                except BlockingIOError:  # its send buffer is full: still open
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    self.closed[sock] = time.monotonic()

    def wait_until_all_closed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.closed) < len(self.sockets) and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def test_slow_clients_beyond_the_old_connection_limit_leave_health_and_slack_answered_and_are_closed_in_time(server):
    """100 clients trickling their headers used to fill waitress's 100 connections: /healthz then timed out 8 of 8
    until they gave up. Now there is room for them, and each is closed within the header timeout."""
    slow = SlowClients(server, SLOW_CLIENTS)
    try:
        health = [server.get("/healthz") for _ in range(3)]
        ack, response_url_id = server.command("kafka")
        assert [(reply.status, reply.seconds < 1) for reply in health] == [(200, True)] * 3
        assert (ack.status, ack.seconds < 3) == (200, True)
        assert "Scaling Kafka" in texts(answers_to(server.fake, response_url_id)[0])
        slow.wait_until_all_closed(HEADER_TIMEOUT + CLOSE_SLACK + 5)
        held = [slow.closed[sock] - slow.opened[sock] for sock in slow.closed]
    finally:
        slow.close()
    assert len(held) == SLOW_CLIENTS
    assert max(held) <= HEADER_TIMEOUT + CLOSE_SLACK


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
    engine = SearchEngine(sessions_for(migrated_database))
    application = wsgi_app(slack, engine.sessions, HttpLimits(max_body_bytes=100), signing_secret="unused")
    started = []
    for length in ("101", "1000000000"):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "CONTENT_LENGTH": length,
                   "wsgi.input": Unreadable()}  # fmt: skip
        body = b"".join(application(environ, lambda status, _headers: started.append(status)))
        assert json.loads(body)["ok"] is False
    assert started == ["413 Content Too Large"] * 2


def test_http_limits_come_from_the_environment_and_bad_values_say_which_variable():
    limits = HttpLimits.from_environment(
        {"TALKBOT_MAX_BODY_BYTES": "2048", "TALKBOT_HTTP_REQUEST_TIMEOUT": "2.5", "TALKBOT_HTTP_HEADER_TIMEOUT": "1.5",
         "TALKBOT_HTTP_CONNECTION_LIMIT": "500", "TALKBOT_HEALTH_TIMEOUT": "0.5"}
    )  # fmt: skip
    assert (limits.max_body_bytes, limits.request_timeout, limits.header_timeout) == (2048, 2.5, 1.5)
    assert (limits.connection_limit, limits.health_timeout, limits.idle_timeout) == (500, 0.5, HttpLimits.idle_timeout)
    for variable, value in (("TALKBOT_MAX_BODY_BYTES", "1MB"), ("TALKBOT_HTTP_IDLE_TIMEOUT", "0"),
                            ("TALKBOT_HTTP_CONNECTION_LIMIT", "1e3"), ("TALKBOT_HEALTH_TIMEOUT", "nan")):  # fmt: skip
        with pytest.raises(ConfigError, match=variable):
            HttpLimits.from_environment({variable: value})


def test_the_open_files_limit_is_raised_to_fit_the_connection_limit():
    """Every connection is a descriptor: at the common soft limit of 1024, accept() would start failing before 1000
    connections. The soft limit is raised (within the hard one) instead of the connection limit lowered."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = HttpLimits.connection_limit + FILE_DESCRIPTORS_BESIDES_CONNECTIONS
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard open-files limit here ({hard}) is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        assert HttpLimits().within_file_descriptors() == HttpLimits()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= wanted
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# /healthz on a bad day: each answer within the deadline (set short here), with the word that says what is wrong.

HEALTH_TIMEOUT = 1
HEALTH_BOUND = HEALTH_TIMEOUT + 0.5  # and a little for the round trip on a busy 2-core machine
# The database may take far longer than the health deadline to fail on its own: /healthz must not wait for it.
PATIENT_DATABASE = {
    "TALKBOT_HEALTH_TIMEOUT": str(HEALTH_TIMEOUT),
    "TALKBOT_DB_LOCK_TIMEOUT": "30",
    "TALKBOT_DB_STATEMENT_TIMEOUT": "30",
    "TALKBOT_DB_REPLY_TIMEOUT": "30",
}


class StartingUnhealthy(TalkbotServer):
    """A server whose database is unhealthy from the start: ready once /healthz answers at all."""

    def _wait_until_healthy(self, timeout: float = 30.0) -> None:
        wait_for(lambda: self._answers_health(), timeout)

    def _answers_health(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"talkbot serve exited: {self.log.read_text()}")
        with suppress(OSError):
            return self.get("/healthz").status in (200, 503)
        return False


def health_of(server: TalkbotServer) -> str:
    """The one word /healthz says about the database, checking it was said in time and matches the status."""
    reply = server.get("/healthz")
    body = json.loads(reply.body)
    assert reply.seconds < HEALTH_BOUND, f"/healthz took {reply.seconds:.2f} s"
    assert set(body) == {"ok", "database"} and reply.status == (200 if body["ok"] else 503)
    return body["database"]


def health_becomes(server: TalkbotServer, word: str, timeout: float = 10.0) -> None:
    """Probe until /healthz says `word` (a cached answer may say the previous state for a second); every answer in
    time."""
    wait_for(lambda: health_of(server) == word, timeout)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` made read-only for this machine's processes: by its mode, and as root (whom modes do not stop) by the
    immutable attribute. Skips the test when neither holds."""
    path.chmod(0o444)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        try:
            os.close(os.open(path, os.O_RDWR))
        except PermissionError:
            yield
        else:
            pytest.skip(f"cannot make {path} read-only here")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_health_says_writes_failing_in_time_while_a_read_only_sqlite_catalog_still_answers_searches(tmp_path, fake):
    """A read-only file (a disk remounted read-only, a wrong owner) used to leave /healthz at 200: its check only
    read. Searches still work, so the word is "writes failing", not "unavailable"."""
    catalog = tmp_path / "catalog.sqlite3"
    url = f"sqlite:///{catalog}"
    upgrade(url)
    seed_catalog(url)
    dispose_engine(url)
    with read_only(catalog):
        talkbot = StartingUnhealthy(url, fake, extra_env={"TALKBOT_HEALTH_TIMEOUT": str(HEALTH_TIMEOUT)})
        try:
            word = health_of(talkbot)
            ack, response_url_id = talkbot.command("kafka")
            [answer] = answers_to(fake, response_url_id)
        finally:
            talkbot.stop()
    assert word == "writes failing"
    assert ack.status == 200 and "Scaling Kafka" in texts(answer)


def test_health_says_writes_failing_on_a_read_only_postgresql(empty_postgres_database, fake):
    """A replica, or `default_transaction_read_only`, as after a failover pointed talkbot at the wrong server."""
    upgrade(empty_postgres_database)
    seed_catalog(empty_postgres_database)
    url = make_url(empty_postgres_database)
    read_only_url = url.update_query_dict({"options": url.query["options"] + " -cdefault_transaction_read_only=on"})
    talkbot = StartingUnhealthy(read_only_url.render_as_string(hide_password=False), fake,
                                extra_env={"TALKBOT_HEALTH_TIMEOUT": str(HEALTH_TIMEOUT)})  # fmt: skip
    try:
        assert health_of(talkbot) == "writes failing"
    finally:
        talkbot.stop()


@pytest.fixture
def patient_server(postgres_catalog, proxy, fake) -> Iterator[TalkbotServer]:
    """talkbot on PostgreSQL through `proxy`, waiting up to 30 s for locks and replies, with /healthz bounded at 1 s.
    Its connections are named (application_name) so that the test can see what it runs."""
    name = f"talkbot-health-{uuid.uuid4().hex[:8]}"
    url = (
        make_url(postgres_catalog).set(host="127.0.0.1", port=proxy.port).update_query_dict({"application_name": name})
    )
    talkbot = TalkbotServer(url.render_as_string(hide_password=False), fake, extra_env=PATIENT_DATABASE)
    talkbot.application_name = name
    yield talkbot
    talkbot.stop()


def test_health_times_out_in_time_on_a_locked_table_with_never_more_than_one_check_waiting(
    patient_server, postgres_catalog
):
    """A table locked for 18 s kept /healthz waiting 18 s. Now each probe answers "timeout" within the deadline, a
    flood of probes still runs one check, and the first probe after the lock is gone says "ok" again."""
    observer = create_engine(postgres_catalog, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    locker = create_engine(postgres_catalog, poolclass=NullPool)
    try:
        with locker.connect() as lock, observer.connect() as look:
            lock.execute(text("LOCK TABLE slack_event_receipts IN ACCESS EXCLUSIVE MODE"))  # held until rollback
            health_becomes(patient_server, "timeout")
            with ThreadPoolExecutor(10) as pool:
                words = list(pool.map(lambda _: health_of(patient_server), range(10)))
            waiting = look.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND state = 'active'"),
                {"name": patient_server.application_name},
            ).scalar_one()
            lock.rollback()
            health_becomes(patient_server, "ok")
    finally:
        locker.dispose()
        observer.dispose()
    assert words == ["timeout"] * 10
    assert waiting == 1


def test_health_says_timeout_for_a_database_that_hangs_and_unavailable_for_one_that_is_gone(patient_server, proxy):
    """Both in time, though this server would wait 30 s for a reply; and "ok" again once the database is back."""
    assert health_of(patient_server) == "ok"
    proxy.hang()
    health_becomes(patient_server, "timeout")
    proxy.refuse()
    health_becomes(patient_server, "unavailable")
    proxy.resume()
    health_becomes(patient_server, "ok")


def test_a_flood_of_health_probes_costs_the_database_one_check_a_second():
    checks = []
    health = HealthCheck(lambda: checks.append(time.monotonic()) or (True, "ok"), deadline=1.0, fresh_for=1.0)
    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: health(), range(2000)))
    elapsed = time.monotonic() - start
    assert answers == [(True, "ok")] * 2000
    assert 1 <= len(checks) <= elapsed + 1
