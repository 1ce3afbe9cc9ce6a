"""The `clock` process: APScheduler runs a digest pass every minute; our tables, not the scheduler, hold the state."""

from __future__ import annotations

import datetime as dt
import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.digest.runner import DigestRunner

log = logging.getLogger(__name__)


def run_clock(runner: DigestRunner, every_seconds: int = 60) -> None:
    """Run passes until SIGTERM/SIGINT. Passes never overlap in one process; a late one is run once, not twice."""
    scheduler = BlockingScheduler(timezone=dt.UTC)

    def one_pass() -> None:
        log.info("digest pass: %s", runner.run_due())

    scheduler.add_job(
        one_pass,
        IntervalTrigger(seconds=every_seconds),
        id="digests",
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(dt.UTC),
    )
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: scheduler.shutdown(wait=False))
    log.info("clock started: a digest pass every %d s", every_seconds)
    scheduler.start()
