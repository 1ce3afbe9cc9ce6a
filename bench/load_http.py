"""200 signed Slack requests at once against a real `talkbot serve --http`: each acked in time, each answered,
and the connection pool never exhausted.

    python -m bench.load_http [--database sqlite|postgres] [--database-url URL] [--concurrency 200] [--talks N]

Runs `talkbot serve --http` on loopback against the local fake Slack, on a temporary SQLite catalog or on a private
schema (dropped afterwards) of the PostgreSQL database at --database-url, holding the seed catalog (or N talks, as
bench/slack_ack.py fills it). Two bursts of --concurrency requests, each released at once by a barrier: the baseline,
`GET /healthz` (one `SELECT 1` each), then signed Slack requests: `/talk` with several queries, "Save" clicks on a
returned answer and DMs to the bot. Reported: ack latency per kind, answers received (on response_url, or posted to
the DM) against answers due, the time until the last one, and the connection pool: the peak of the server's open
connections (pg_stat_activity on PostgreSQL, open handles on the catalog file on SQLite; Linux only) against the
pool's capacity, and pool warnings and timeouts in the server's log. Exits 1 if any ack was not a 200 within 3 s,
any answer was lost, or the pool ran dry.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
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
from bot.fake_slack import FakeSlack
from bot.slack_payloads import message_event
from db.config import POOL_CAPACITY, POOL_EXHAUSTED, dispose_engine, normalized_url
from db.migrate import upgrade
from db.setup import seed_catalog
from tests.databases import private_schema
from tests.slack_server import TEAM, TalkbotServer, answers_to, button

ACK_DEADLINE = 3.0  # seconds: Slack tells the user the app failed when the ack takes longer
ANSWER_TIMEOUT = 60.0  # seconds after the burst to wait for the last answer before counting the rest as lost
APPLICATION_NAME = "talkbot-load"  # how the server's PostgreSQL connections are told apart in pg_stat_activity
POOL_TROUBLE = (POOL_EXHAUSTED.split(":")[0], "QueuePool limit of size")  # db.config's warning, SQLAlchemy's timeout
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


def stats_row(label: str, seconds: list[float], in_time: str = "") -> str:
    ms = [s * 1000 for s in seconds]
    times = [statistics.median(ms), percentile(ms, 0.95), percentile(ms, 0.99), max(ms)]
    return f"{label:<26} {len(ms):>4} " + " ".join(f"{t:8.1f}" for t in times) + f" {in_time:>10}"


def print_table(health: list[Sent], sent: list[Sent], arrived: dict[str, float]) -> None:
    """Ack latency of the baseline and of each kind of Slack request, then how long each kind waited for its answer."""
    kinds = sorted({s.kind for s in sent}, key=[s.kind for s in sent].index)
    print(f"{'':<26} {'n':>4} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'200 < 3 s':>10}")
    acks = [("GET /healthz (baseline)", health)] + [(f"{k} → ack", [s for s in sent if s.kind == k]) for k in kinds]
    for label, requests in acks:
        in_time = f"{sum(s.acked_in_time for s in requests)}/{len(requests)}"
        print(stats_row(label, [s.seconds for s in requests], in_time))
    for kind in kinds:
        waits = [arrived[s.answer_to] - s.start for s in sent if s.kind == kind and s.answer_to in arrived]
        if waits:
            print(stats_row(f"{kind} → answer", waits))


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
        watch = AnswerWatch(fake)
        watch.start()
        with peak_of(connections) as slack_peak:
            began, sent = burst(args.concurrency, lambda n: slack_request(server, save, n))
            due = {s.answer_to for s in sent if s.answer_to}
            watch.wait_for(due, ANSWER_TIMEOUT)
        run.close()  # stop the server, so its log is complete
        pool_trouble = log_lines(server.log, *POOL_TROUBLE)
        errors = log_lines(server.log, " ERROR ", "Traceback")

    arrived = {key: watch.arrived[key] for key in due if key in watch.arrived}
    catalog_name = f"{args.talks:,} talks" if args.talks else "the seed catalog"
    where = "SQLite" if args.database == "sqlite" else "PostgreSQL (private schema)"
    print(f"{args.concurrency} requests at once per burst, {catalog_name} on {where}, fake Slack on loopback; ms")
    print_table(health, sent, arrived)
    lost = len(due) - len(arrived)
    last = (max(arrived.values()) - began) * 1000 if arrived else float("nan")
    print(f"answers: {len(arrived)} received of {len(due)} due, {lost} lost; the last {last:.0f} ms after the burst")
    print(
        f"pool: peak {health_peak[0]} (/healthz burst) and {slack_peak[0]} (Slack burst) open connections of "
        f"{POOL_CAPACITY}; server log: {len(pool_trouble)} pool exhausted/timeout lines, {len(errors)} errors"
    )

    late = sum(not s.acked_in_time for s in health + sent)
    exhausted = pool_trouble or max(health_peak[0], slack_peak[0]) >= POOL_CAPACITY
    failures = [
        f"{late} request(s) not acked with a 200 within {ACK_DEADLINE:.0f} s" if late else "",
        f"{lost} answer(s) lost" if lost else "",
        "the connection pool was exhausted" if exhausted else "",
        f"{len(errors)} error(s) in the server log ({server.log})" if errors else "",
    ]
    if any(failures):
        print("FAIL: " + "; ".join(f for f in failures if f))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
