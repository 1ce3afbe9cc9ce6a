"""200 signed Slack requests at once against a real `talkbot serve --http`: each acked in time, each answered,
and the connection pool never exhausted; with --hostile, the same again amid malformed requests and slow clients.

    python -m bench.load_http [--database sqlite|postgres] [--database-url URL] [--concurrency 200] [--talks N]
                              [--hostile] [--malformed 200] [--slow 300]

Runs `talkbot serve --http` on loopback against the local fake Slack, on a temporary SQLite catalog or on a private
schema (dropped afterwards) of the PostgreSQL database at --database-url, holding the seed catalog (or N talks, as
bench/slack_ack.py fills it). Two bursts of --concurrency requests, each released at once by a barrier: the baseline,
`GET /healthz` (the server's cheapest answer: its database check runs at most once a second), then signed Slack
requests: `/talk` with several queries, "Save" clicks on a returned answer and DMs to the bot. Reported: ack latency
per kind, answers received (on response_url, or posted to the DM) against answers due, the time until the last one,
and the connection pool: the peak of the server's open connections (pg_stat_activity on PostgreSQL, open handles on
the catalog file on SQLite; Linux only) against the pool's capacity, and pool warnings and timeouts in the server's
log. Exits 1 if any ack was not a 200 within 3 s, any answer was lost, or the pool ran dry.

--hostile then sends the same signed burst again, released by the same barrier as --malformed unsigned requests of
the kinds that used to get a 500 and a traceback (timestamps that are not numbers, bodies that are not JSON, not
UTF-8 or nested 100,000 deep…) and a few /healthz probes, while --slow clients hold connections open by sending a
header byte a second (each one the server closes is replaced at once, as an attacker would). Its numbers are printed
beside the clean burst's. It also fails unless every malformed request got a 4xx and exactly one log line, and every
slow client was closed within the header timeout.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.search import percentile
from bench.slack_ack import QUERIES, fill_catalog
from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import FORM, JSON, message_event
from bot.server.limits import CLEANUP_INTERVAL, HttpLimits
from db.config import POOL_CAPACITY, POOL_EXHAUSTED, dispose_engine, normalized_url
from db.migrate import upgrade
from db.setup import seed_catalog
from tests.support.databases import private_schema
from tests.support.slack_server import TEAM, TalkbotServer, answers_to, button

ACK_DEADLINE = 3.0  # seconds: Slack tells the user the app failed when the ack takes longer
ANSWER_TIMEOUT = 60.0  # seconds after the burst to wait for the last answer before counting the rest as lost
APPLICATION_NAME = "talkbot-load"  # how the server's PostgreSQL connections are told apart in pg_stat_activity
POOL_TROUBLE = (POOL_EXHAUSTED.split(":")[0], "QueuePool limit of size")  # db.config's warning, SQLAlchemy's timeout
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HEADER_TIMEOUT = HttpLimits.header_timeout  # the server runs with its defaults
HOSTILE_OFFSET = 10_000  # the hostile burst's users and DM channels, apart from the clean burst's
HEALTH_PROBES = 20  # /healthz probes released with the hostile burst


@dataclass
class Sent:
    """One request of a burst: what it was, how Slack would have seen the ack, and where its answer will show up."""

    kind: str
    status: int
    seconds: float
    start: float
    answer_to: str | None  # the response_url id, or the DM channel; None when no answer is due

    @property
    def acked_in_time(self) -> bool:
        return self.status == 200 and self.seconds < ACK_DEADLINE


def timed(kind: str, send: Callable[[], tuple]) -> Sent:
    start = time.monotonic()
    try:
        reply, answer_to = send()
    except OSError:  # refused, reset or timed out: to Slack, a request that was never acked
        return Sent(kind, 0, time.monotonic() - start, start, None)
    return Sent(kind, reply.status, time.monotonic() - start, start, answer_to)


def burst(size: int, send: Callable[[int], Sent]) -> tuple[float, list[Sent]]:
    """`size` requests truly in flight together: each worker waits at a barrier, then sends. Returns when they began."""
    began = []
    barrier = threading.Barrier(size, action=lambda: began.append(time.monotonic()))

    def one(number: int) -> Sent:
        barrier.wait()
        return send(number)

    with ThreadPoolExecutor(size) as pool:
        sent = list(pool.map(one, range(size)))
    return began[0], sent


def slack_request(server: TalkbotServer, save: dict, number: int) -> Sent:
    """Mostly `/talk` with one of several queries; every tenth a "Save" click, every tenth a DM to the bot."""
    user, query = f"U{number:04d}", QUERIES[number % len(QUERIES)]
    if number % 10 == 3:
        return timed("Save click", lambda: server.press(save, user=user))
    if number % 10 == 7:
        channel = f"D{number:04d}"
        return timed(
            "DM message", lambda: (server.event(message_event(query, user_id=user, channel_id=channel)), channel)
        )
    return timed("/talk", lambda: server.command(query, user=user))


class AnswerWatch(threading.Thread):
    """Notes when each answer reaches the fake Slack: response_url posts by their id, messages by their channel."""

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(daemon=True)
        self.fake, self.arrived, self.done = fake, {}, threading.Event()

    def run(self) -> None:
        seen = 0
        while not self.done.wait(0.01):
            calls, now = self.fake.calls, time.monotonic()
            for call in calls[seen:]:
                self.arrived.setdefault(call.response_url_id or call.params.get("channel"), now)
            seen = len(calls)

    def wait_for(self, keys: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not keys <= self.arrived.keys() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.done.set()
        self.join()


@contextmanager
def peak_of(count: Callable[[], int]) -> Iterator[list[int]]:
    """Samples `count()` every few milliseconds while the block runs; the list holds the highest value seen.
    A failed sample fails the run: a peak that stopped being watched proves nothing."""
    peak, failed, done = [0], [], threading.Event()

    def sample() -> None:
        try:
            while not done.wait(0.005):
                peak[0] = max(peak[0], count())
        except Exception as error:
            failed.append(error)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
    if failed:
        raise RuntimeError("could not count the server's database connections") from failed[0]


def open_file_handles(pid: int, path: str) -> Callable[[], int]:
    """How many descriptors process `pid` holds on `path`: one per open SQLite connection to the catalog file."""

    def count() -> int:
        handles = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with suppress(OSError):  # closed while we looked
                handles += os.readlink(f"/proc/{pid}/fd/{fd}") == path
        return handles

    return count


@contextmanager
def postgres_connections(url: str) -> Iterator[Callable[[], int]]:
    """Counts the server's connections in pg_stat_activity, from a connection of our own (not counted).
    Autocommit: within one transaction, PostgreSQL answers every query on its statistics from the same snapshot."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = :a")
    with engine.connect() as connection:
        yield lambda: connection.execute(query, {"a": APPLICATION_NAME}).scalar_one()
    engine.dispose()


@contextmanager
def catalog(database: str, postgres_url: str, talks: int) -> Iterator[str]:
    """A migrated catalog with the seed (or `talks` talks): a temporary SQLite file, or a private PostgreSQL schema."""
    with ExitStack() as cleanup:
        if database == "sqlite":
            url = f"sqlite:///{Path(cleanup.enter_context(tempfile.TemporaryDirectory())) / 'catalog.sqlite3'}"
            cleanup.callback(dispose_engine, url)
        else:
            url = cleanup.enter_context(private_schema(normalized_url(postgres_url)))
        upgrade(url)
        seed_catalog(url)
        if talks:
            fill_catalog(url, talks)
        yield url


def log_lines(log: Path, *needles: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if any(needle in line for needle in needles)]


def _malformed_kinds() -> list[tuple[str, bytes, dict]]:
    """Unsigned requests of the kinds the issue found answered with a 500 and a traceback (issue 11)."""
    now = str(int(time.time()))
    wrong = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64}
    return [
        ("timestamp not a number", b"{}", {"Content-Type": JSON, "X-Slack-Request-Timestamp": "soon"}),
        ("float timestamp", b"{}", {"Content-Type": JSON, "X-Slack-Request-Timestamp": now + ".5"}),
        ("400-digit timestamp", b"{}", {"Content-Type": JSON, "X-Slack-Request-Timestamp": "9" * 400}),
        ("body {x", b"{x", {"Content-Type": JSON, **wrong}),
        ("payload=x", b"payload=x", {"Content-Type": FORM, **wrong}),
        ("JSON list", b"[1]", {"Content-Type": JSON, **wrong}),
        ("JSON 100,000 deep", b"[" * 100_000, {"Content-Type": JSON, **wrong}),
        ("not UTF-8", b"\xff\xfe{}", {"Content-Type": JSON, **wrong}),
    ]


def malformed_request(server: TalkbotServer, number: int) -> Sent:
    kind, body, headers = (kinds := _malformed_kinds())[number % len(kinds)]
    request = urllib.request.Request(server.url + "/slack/events", data=body, headers=headers, method="POST")
    return timed("malformed", lambda: (server._send(request), None))


class SlowClients(threading.Thread):
    """`count` connections held open by sending a header byte a second; each one the server closes is replaced at
    once. Notes how long the server let each one stay."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port, self.count, self.done = port, count, threading.Event()
        self.open: dict[socket.socket, float] = {}
        self.held: list[float] = []  # seconds each closed one was kept
        self.refused = 0  # connections that could not even be opened
        for _ in range(count):
            self._open_one()

    def _open_one(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: talkbot.bench\r\nX-Slow: ")
            sock.setblocking(False)
        except OSError:
            self.refused += 1
            return
        self.open[sock] = time.monotonic()

    def run(self) -> None:
        while not self.done.is_set():
            readable, _, _ = select.select(list(self.open), [], [], 1.0)
            for sock in list(self.open):
                try:
                    closed = sock in readable and sock.recv(4096) == b""
                    if not closed:
                        sock.send(b"x")
                except BlockingIOError:  # its send buffer is full: still open
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    self.held.append(time.monotonic() - self.open.pop(sock))
                    sock.close()
                    if not self.done.is_set():
                        self._open_one()

    def stop(self) -> None:
        self.done.set()
        self.join()
        for sock in self.open:
            sock.close()


def stats(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return f"{'':>4} {'':>8} {'':>8} {'':>8}"
    return f"{len(ms):>4} {statistics.median(ms):8.1f} {percentile(ms, 0.99):8.1f} {max(ms):8.1f}"


def print_table(runs: dict[str, tuple[list[Sent], list[Sent], dict[str, float]]]) -> None:
    """Per run (clean, and hostile if any): ack latency of the baseline and each kind of request, then how long each
    kind waited for its answer. `runs` maps a run's name to (health probes, Slack requests, answer arrival times)."""
    names = list(runs)
    print(f"{'':<24} " + " | ".join(f"{name:^44}" for name in names))
    print(f"{'':<24} " + " | ".join(f"{'n':>4} {'p50':>8} {'p99':>8} {'max':>8} {'in time':>12}" for _ in names))
    kinds = sorted({s.kind for _, sent, _ in runs.values() for s in sent}, key=lambda k: (k == "malformed", k))
    rows = [("GET /healthz", lambda run: run[0])] + [
        (f"{kind} → {'4xx' if kind == 'malformed' else 'ack'}", lambda run, k=kind: [s for s in run[1] if s.kind == k])
        for kind in kinds
    ]
    for label, pick in rows:
        cells = []
        for run in runs.values():
            requests = pick(run)
            good = sum((400 <= s.status < 500 if s.kind == "malformed" else s.acked_in_time) for s in requests)
            cells.append(f"{stats([s.seconds for s in requests])} {f'{good}/{len(requests)}' if requests else '':>12}")
        print(f"{label:<24} " + " | ".join(cells))
    for kind in [k for k in kinds if k != "malformed"]:
        cells = []
        for _, sent, arrived in runs.values():
            waits = [arrived[s.answer_to] - s.start for s in sent if s.kind == kind and s.answer_to in arrived]
            cells.append(f"{stats(waits)} {'':>12}")
        print(f"{kind + ' → answer':<24} " + " | ".join(cells))


def slack_burst(
    server: TalkbotServer, fake: FakeSlack, save: dict, size: int, offset: int = 0, others: list[Callable] = ()
) -> tuple[float, list[Sent], list[Sent], dict[str, float]]:
    """`size` signed requests, released with one call of each of `others` (malformed requests, health probes);
    returns when they began, the Slack requests, the others, and when each due answer arrived."""
    watch = AnswerWatch(fake)
    watch.start()

    def send(number: int) -> Sent:
        if number < size:
            return slack_request(server, save, offset + number)
        return others[number - size](number)

    began, sent = burst(size + len(others), send)
    slack, rest = sent[:size], sent[size:]
    due = {s.answer_to for s in slack if s.answer_to}
    watch.wait_for(due, ANSWER_TIMEOUT)
    return began, slack, rest, {key: watch.arrived[key] for key in due if key in watch.arrived}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRES,
        help="with --database postgres: the database to create the private schema in (default: $TEST_DATABASE_URL, "
        "else the local PostgreSQL)",
    )
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--talks", type=int, default=0, help="catalog size (default: the seed catalog alone)")
    parser.add_argument("--hostile", action="store_true", help="then the same burst amid malformed and slow requests")
    parser.add_argument("--malformed", type=int, default=200, help="with --hostile: malformed requests in the burst")
    parser.add_argument("--slow", type=int, default=300, help="with --hostile: slow connections held meanwhile")
    args = parser.parse_args()

    with (
        catalog(args.database, args.database_url, args.talks) as url,
        FakeSlack(team_id=TEAM) as fake,
        ExitStack() as run,
    ):
        if args.database == "sqlite":
            server = TalkbotServer(url, fake)
            connections = open_file_handles(server.process.pid, make_url(url).database)
        else:
            server_url = make_url(url).update_query_dict({"application_name": APPLICATION_NAME})
            server = TalkbotServer(server_url.render_as_string(hide_password=False), fake)
            connections = run.enter_context(postgres_connections(url))
        run.callback(server.stop)
        [results] = answers_to(fake, server.command("kafka")[1])  # warm up; its "Save" button is clicked below
        save = button(results, "Save")

        with peak_of(connections) as health_peak:
            _, health = burst(args.concurrency, lambda n: timed("GET /healthz", lambda: (server.get("/healthz"), None)))
        with peak_of(connections) as slack_peak:
            began, sent, _, arrived = slack_burst(server, fake, save, args.concurrency)
        runs = {"clean": (health, sent, arrived)}
        lost = sum(s.answer_to is not None for s in sent) - len(arrived)
        last = (max(arrived.values()) - began) * 1000 if arrived else float("nan")
        hostile = None
        if args.hostile:
            hostile = hostile_burst(server, fake, save, args, connections)
            runs[f"with {args.malformed} malformed, {args.slow} slow"] = hostile["run"]
        run.close()  # stop the server, so its log is complete
        pool_trouble = log_lines(server.log, *POOL_TROUBLE)
        errors = log_lines(server.log, " ERROR ", "Traceback")
        refusals = log_lines(server.log, "refused POST /slack/events")

    catalog_name = f"{args.talks:,} talks" if args.talks else "the seed catalog"
    where = "SQLite" if args.database == "sqlite" else "PostgreSQL (private schema)"
    print(f"{args.concurrency} requests at once per burst, {catalog_name} on {where}, fake Slack on loopback; ms")
    print_table(runs)
    print(f"answers (clean): {len(arrived)} received, {lost} lost; the last {last:.0f} ms after the burst")
    peaks = [health_peak[0], slack_peak[0]] + ([hostile["peak"]] if hostile else [])
    bursts = "/healthz, Slack" + (", hostile" if hostile else "")
    print(
        f"pool: peak {' / '.join(map(str, peaks))} open connections ({bursts} bursts) of {POOL_CAPACITY}; server log: "
        f"{len(pool_trouble)} pool exhausted/timeout lines, {len(errors)} errors"
    )

    late = sum(not s.acked_in_time for s in health + sent)
    exhausted = pool_trouble or max(peaks) >= POOL_CAPACITY
    failures = [
        f"{late} request(s) not acked with a 200 within {ACK_DEADLINE:.0f} s" if late else "",
        f"{lost} answer(s) lost" if lost else "",
        "the connection pool was exhausted" if exhausted else "",
        f"{len(errors)} error(s) in the server log ({server.log})" if errors else "",
    ]
    if hostile:
        failures += report_hostile(hostile, args, len(refusals))
    if any(failures):
        print("FAIL: " + "; ".join(f for f in failures if f))
        sys.exit(1)
    print("OK")


def hostile_burst(server: TalkbotServer, fake: FakeSlack, save: dict, args: argparse.Namespace,
                  connections: Callable[[], int]) -> dict:  # fmt: skip
    """The signed burst again, released with --malformed unsigned requests and a few /healthz probes, while --slow
    clients hold connections; then the slow ones are watched for one more header timeout, to see each one closed."""

    def probe(_number: int) -> Sent:
        return timed("GET /healthz", lambda: (server.get("/healthz"), None))

    others = [lambda number: malformed_request(server, number)] * args.malformed + [probe] * HEALTH_PROBES
    slow = SlowClients(server.port, args.slow)
    slow.start()
    try:
        with peak_of(connections) as peak:
            began, sent, rest, arrived = slack_burst(server, fake, save, args.concurrency, HOSTILE_OFFSET, others)
        time.sleep(HEADER_TIMEOUT + 2 * CLEANUP_INTERVAL)  # each slow client opened before the burst is closed by now
    finally:
        slow.stop()
    health = [s for s in rest if s.kind == "GET /healthz"]
    malformed = [s for s in rest if s.kind == "malformed"]
    lost = sum(s.answer_to is not None for s in sent) - len(arrived)
    last = (max(arrived.values()) - began) * 1000 if arrived else float("nan")
    return {"run": (health, sent + malformed, arrived), "peak": peak[0], "lost": lost, "last": last, "slow": slow}


def report_hostile(hostile: dict, args: argparse.Namespace, refusal_lines: int) -> list[str]:
    health, sent, arrived = hostile["run"]
    slack = [s for s in sent if s.kind != "malformed"]
    malformed = [s for s in sent if s.kind == "malformed"]
    slow: SlowClients = hostile["slow"]
    bound = HEADER_TIMEOUT + 2 * CLEANUP_INTERVAL
    print(
        f"answers (hostile): {len(arrived)} received, {hostile['lost']} lost; the last {hostile['last']:.0f} ms "
        "after the burst"
    )
    print(
        f"slow clients: {args.slow} held at once; {len(slow.held)} closed by the server, after at most "
        f"{max(slow.held, default=0):.1f} s (header timeout {HEADER_TIMEOUT:g} s); {slow.refused} could not connect"
    )
    print(f"malformed: {sum(400 <= s.status < 500 for s in malformed)}/{len(malformed)} got a 4xx; "
          f"{refusal_lines} refusal lines in the server log")  # fmt: skip
    late = sum(not s.acked_in_time for s in slack + health)
    return [
        f"hostile: {late} request(s) not acked with a 200 within {ACK_DEADLINE:.0f} s" if late else "",
        f"hostile: {hostile['lost']} answer(s) lost" if hostile["lost"] else "",
        "hostile: a malformed request did not get a 4xx" if any(not 400 <= s.status < 500 for s in malformed) else "",
        f"hostile: {refusal_lines} refusal lines for {len(malformed)} malformed requests"
        if refusal_lines != len(malformed) else "",
        f"hostile: a slow client was held over {bound:g} s" if max(slow.held, default=0) > bound else "",
        "hostile: no slow client was closed" if args.slow and not slow.held else "",
    ]  # fmt: skip


if __name__ == "__main__":
    main()
