"""Time from a signed `/talk` request to Slack's ack, and to the answer on response_url, over real HTTP.

    python -m bench.slack_ack [--requests N] [--concurrency C]

Runs `talkbot serve --http` on a temporary SQLite catalog — the seed alone, or with `--talks N` the pyvideo archive
topped up with synthetic talks to N — against the local fake Slack. Baseline in the same run: `GET /healthz`,
the same server's cheapest round trip (one `SELECT 1`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.search import ARCHIVE, percentile
from bench.synthetic import SyntheticCatalog
from bot.devtools.fake_slack import FakeSlack
from db.catalog import talk_count
from db.catalog_import import import_records
from db.config import sessions_for
from db.importers import read_catalog_file
from db.migrate import upgrade
from db.setup import seed_catalog
from tests.support.slack_server import TEAM, TalkbotServer, answers_to

QUERIES = ["kafka", "kafak", "k8s", 'speaker:"liz fong-jones"', "year:2015..2019 tag:kubernetes", "zzzqqq"]


def fill_catalog(url: str, talks: int) -> None:
    """The pyvideo archive, then synthetic talks, until the catalog holds `talks`."""
    real = read_catalog_file(ARCHIVE).records if ARCHIVE.exists() else []
    with sessions_for(url).begin() as session:
        room = talks - talk_count(session)
        records = real[:room] + list(SyntheticCatalog(real).records(max(0, room - len(real))))
        import_records(session, records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--talks", type=int, default=0, help="catalog size (default: the seed catalog alone)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, FakeSlack(team_id=TEAM) as fake:
        url = f"sqlite:///{Path(folder) / 'catalog.sqlite3'}"
        upgrade(url)
        seed_catalog(url)
        if args.talks:
            fill_catalog(url, args.talks)
        server = TalkbotServer(url, fake)
        try:
            answers_to(fake, server.command("warm up")[1])
            health = [server.get("/healthz").seconds * 1000 for _ in range(args.requests)]

            def one(number: int) -> tuple[float, float]:
                start = time.monotonic()
                ack, response_url_id = server.command(QUERIES[number % len(QUERIES)], user=f"U{number}")
                answers_to(fake, response_url_id)
                return ack.seconds * 1000, (time.monotonic() - start) * 1000

            with ThreadPoolExecutor(args.concurrency) as pool:
                timings = list(pool.map(one, range(args.requests)))
        finally:
            server.stop()
    acks, answers = [t[0] for t in timings], [t[1] for t in timings]
    catalog = f"{args.talks:,} talks" if args.talks else "the seed catalog"
    print(f"{args.requests} requests, {args.concurrency} at a time, {catalog} on SQLite; times in ms")
    print(f"{'':<22} {'p50':>8} {'p99':>8} {'max':>8}")
    for label, samples in (("/talk → ack", acks), ("/talk → answer", answers), ("baseline GET /healthz", health)):
        print(f"{label:<22} {statistics.median(samples):8.1f} {percentile(samples, 0.99):8.1f} {max(samples):8.1f}")


if __name__ == "__main__":
    main()
