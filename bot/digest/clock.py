"""The `clock` process: APScheduler runs a digest pass and a follow-alert pass every minute; our tables, not the
scheduler, hold the state."""

from __future__ import annotations

import datetime as dt
import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.digest.runner import DigestRunner
from bot.follows.alerts import FollowAlerts

log = logging.getLogger(__name__)


def run_clock(runner: DigestRunner, alerts: FollowAlerts, every_seconds: int = 60) -> None:
    """Run passes until SIGTERM/SIGINT. Passes of a kind never overlap in one process; a late one is run once, not
    twice. Digests and follow alerts are separate jobs, so a long import batch never holds up a digest."""
    scheduler = BlockingScheduler(timezone=dt.UTC)

    def digest_pass() -> None:
        log.info("digest pass: %s", runner.run_due())

    def alert_pass() -> None:
        log.info("follow alert pass: %s", alerts.run_pending())

    for job_id, job in (("digests", digest_pass), ("follow-alerts", alert_pass)):
        scheduler.add_job(
            job,
            IntervalTrigger(seconds=every_seconds),
            id=job_id,
            max_instances=1,
            coalesce=True,
            next_run_time=dt.datetime.now(dt.UTC),
        )
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: scheduler.shutdown(wait=False))
    log.info("clock started: a digest pass and a follow alert pass every %d s", every_seconds)
    scheduler.start()
