"""One digest pass over many due channels, against the local fake Slack, beside the floor Slack calls set.

    python -m bench.digest_pass [--channels 1000]

Subscribes N channels (a third each with no topic, a one-word and a two-word topic) on the seed catalog in a
temporary SQLite file, makes them all due, and times one `DigestRunner.run_due` pass. Baseline in the same run:
the same number of bare `chat.postMessage` calls to the same fake, the least any implementation must spend.
Slack itself allows about one message per second per channel, so channels are no bottleneck; the pass is
bounded by its own per-channel work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.digest.runner import DigestRunner
from bot.installations import bot_clients
from db.config import sessions_for
from db.digests import subscribe
from db.migrate import upgrade
from db.search.engine import SearchEngine
from db.setup import seed_catalog

TOPICS = ["", "kafka", "incident response"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=1000)
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as folder, FakeSlack() as fake:
        url = f"sqlite:///{Path(folder) / 'catalog.sqlite3'}"
        upgrade(url)
        seed_catalog(url)
        sessions = sessions_for(url)
        with sessions.begin() as session:
            for number in range(args.channels):
                subscribe(
                    session, team_id="T1", channel_id=f"C{number:05d}", subscriber_id="U1", cadence="weekly",
                    weekday=0, minute_of_day=540, timezone="Europe/Berlin", topic=TOPICS[number % len(TOPICS)],
                    next_run_at=now - dt.timedelta(minutes=1),
                )  # fmt: skip
        clients = bot_clients(SlackSettings("xoxb-bench", None, None, fake.api_url), None)
        client = clients("T1", None)
        start = time.perf_counter()
        for number in range(args.channels):
            client.chat_postMessage(channel=f"CBASE{number:05d}", text="baseline")
        floor = time.perf_counter() - start

        start = time.perf_counter()
        report = DigestRunner(sessions, SearchEngine(sessions), clients).run_due(now=now)
        elapsed = time.perf_counter() - start
    print(f"{args.channels} due channels, seed catalog on SQLite, fake Slack on loopback")
    print(f"{'':<34} {'total s':>8} {'ms/channel':>11}")
    print(f"{'digest pass':<34} {elapsed:8.2f} {elapsed / args.channels * 1000:11.1f}")
    print(f"{'baseline: bare chat.postMessage':<34} {floor:8.2f} {floor / args.channels * 1000:11.1f}")
    print(f"report: {report}")


if __name__ == "__main__":
    main()
