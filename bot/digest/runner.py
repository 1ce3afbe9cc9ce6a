"""One pass over the due digests — channels' Talk of the week and people's For you DMs: claim each period, pick,
post, record — exactly once, whatever runs twice.

- Two processes at once: the claim's unique key lets one of them post; the other stands back.
- A crash after claiming: once the claim's lease has run out, the next pass looks for the message (it carries
  the claim id in its metadata) in the channel's recent history, and posts only if it is not there.
- Missed while everything was down: posted once if still within the grace window, else recorded as skipped.
- Slack refuses for good (archived, bot removed…): the subscription pauses and the subscriber is told how to fix it.
- The workspace uninstalled talkbot or revoked its token: its digests pause until it installs again.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.digest import digest_message
from bot.blocks.for_you import FOR_YOU_TITLE
from bot.claimed_posts import LEASE, PassTally, find_claimed_message
from bot.digest.channel_subject import digest_topic, read_channel_about
from bot.digest.for_you import pick_for_you
from bot.digest.picker import pick_talk
from bot.digest.schedule import schedule_of
from db.claims import finish, take_over, utc
from db.digests import (
    advance,
    channel_votes,
    claim_of,
    claim_period,
    due_subscriptions,
    pause,
    posted_talk_ids,
)
from db.models import FOR_YOU, DigestPost, DigestSubscription
from db.search.engine import SearchEngine
from db.workspaces import NOT_INSTALLED

log = logging.getLogger(__name__)

METADATA_EVENT = "talkbot_digest"
DEFAULT_GRACE = dt.timedelta(hours=6)

FIXES = {
    "channel_not_found": "the channel no longer exists or I cannot see it. Subscribe again from a channel I am in.",
    "is_archived": "the channel was archived. Unarchive it, then run `/talk digest subscribe` there again.",
    "not_in_channel": "I am not a member of the channel. Invite me with `/invite @talkbot`, then run "
    "`/talk digest subscribe` there again.",
    "account_inactive": "my Slack account was deactivated. Reinstall talkbot, then subscribe again.",
    "token_revoked": "my access to this workspace was revoked. Reinstall talkbot, then subscribe again.",
    "invalid_auth": "my access to this workspace is no longer valid. Reinstall talkbot, then subscribe again.",
}
# The client that posts in a workspace (team id, Enterprise Grid id), or None when talkbot is not installed there.
BotClients = Callable[[str, str | None], WebClient | None]


@dataclass
class PassReport(PassTally):
    posted: int = 0
    recovered: int = 0
    skipped: int = 0
    paused: int = 0
    failed: int = 0
    waiting: int = 0


class DigestRunner:
    def __init__(
        self, sessions: sessionmaker[Session], search: SearchEngine, bot_clients: BotClients,
        grace: dt.timedelta = DEFAULT_GRACE,
    ) -> None:  # fmt: skip
        self.sessions, self.search, self.bot_clients, self.grace = sessions, search, bot_clients, grace

    def run_due(self, now: dt.datetime | None = None) -> PassReport:
        """Post every digest due at `now`; one channel's failure never stops the others."""
        now = now or dt.datetime.now(dt.UTC)
        report = PassReport()
        try:
            with self.sessions() as session:
                due = due_subscriptions(session, now)
                session.expunge_all()
        except SQLAlchemyError:
            # The database is down: nothing can be claimed, so nothing is posted. One failure (how many digests are
            # due cannot be read); they stay due, and the first pass after the outage posts them within the grace.
            log.exception("digest pass failed: database unavailable; due digests will be retried")
            report.failed += 1
            return report
        # One lookup per workspace and pass, not per channel: in OAuth mode each is a read of the installation store.
        client_for = functools.cache(self.bot_clients)
        for subscription in due:
            try:
                self._run_one(subscription, client_for(subscription.team_id, subscription.enterprise_id), now, report)
            except Exception:
                log.exception("digest for channel %s failed; it will be retried", subscription.channel_id)
                report.failed += 1
        return report

    def _run_one(
        self, subscription: DigestSubscription, client: WebClient | None, now: dt.datetime, report: PassReport
    ) -> None:
        if client is None:
            with self.sessions.begin() as session:
                pause(session, subscription.id, NOT_INSTALLED)
            log.info("digest for channel %s paused: talkbot is not installed in %s", subscription.channel_id,
                     subscription.team_id)  # fmt: skip
            report.paused += 1
            return
        schedule = schedule_of(subscription)
        due_at = utc(subscription.next_run_at)
        period = schedule.period(due_at)
        following = schedule.next_due(max(now, due_at))
        late = now - due_at
        if late > self.grace:
            with self.sessions.begin() as session:
                detail = f"missed by {_hours(late)} h, beyond the {_hours(self.grace)} h grace window"
                claim_period(session, subscription, period, due_at, now, state="skipped", detail=detail)
                advance(session, subscription.id, subscription.next_run_at, following)
            report.skipped += 1
            return
        with self.sessions.begin() as session:
            claim = claim_period(session, subscription, period, due_at, now)
            claim_id, post_id = (claim.claim_id, claim.id) if claim else (None, None)
        if claim is None:
            post_id, claim_id = self._resume(client, subscription, period, following, now, report)
            if post_id is None:
                return
        self._post(client, subscription, schedule, period, post_id, claim_id, following, now, report)

    def _resume(self, client, subscription, period, following, now, report) -> tuple[int | None, str | None]:
        """This period is claimed already: stand back, finish a crashed post's bookkeeping, or take it over.

        Slack's history is read between two short transactions, never inside one; what is recorded afterwards only
        counts if the claim is still as it was read (`take_over`), so a process that meanwhile took the claim over or
        finished it is never overruled."""
        with self.sessions.begin() as session:
            claim = claim_of(session, subscription.team_id, subscription.channel_id, period)
            if claim.state != "claimed":
                advance(session, subscription.id, subscription.next_run_at, following)
                return None, None
            if now - utc(claim.claimed_at) < LEASE:
                report.waiting += 1
                return None, None
        found = self._find_posted(client, claim)
        with self.sessions.begin() as session:
            if not take_over(session, claim, now):
                return None, None
            if not found:
                return claim.id, claim.claim_id
            message_ts, talk_id = found
            finish(session, DigestPost, claim.id, "posted", now, talk_id=talk_id, message_ts=message_ts,
                   detail="found in channel history after an interrupted run")  # fmt: skip
            advance(session, subscription.id, subscription.next_run_at, following)
        report.recovered += 1
        return None, None

    def _post(self, client, subscription, schedule, period, post_id, claim_id, following, now, report) -> None:
        team_id, channel_id = subscription.team_id, subscription.channel_id
        with self.sessions() as session:
            posted = posted_talk_ids(session, team_id, channel_id)
            votes = channel_votes(session, team_id, channel_id) if subscription.kind != FOR_YOU else {}
        if subscription.kind == FOR_YOU:  # the person's own recommendations, never a talk they have seen
            pick = pick_for_you(self.search, self.sessions, team_id, subscription.subscriber_id, posted)
            nothing, title = "every talk in the catalog has been seen", FOR_YOU_TITLE
        else:
            topic = digest_topic(
                subscription.topic, lambda: read_channel_about(client, channel_id), self.search.intent_query
            )
            pick = pick_talk(self.search, self.sessions, topic, f"{team_id}/{channel_id}", period, posted, votes)
            nothing, title = f"no talk matches “{subscription.topic}”", None
        if pick is None:
            with self.sessions.begin() as session:
                finish(session, DigestPost, post_id, "skipped", now, detail=nothing)
                advance(session, subscription.id, subscription.next_run_at, following)
            report.skipped += 1
            return
        message = digest_message(pick.card, pick.reasons, schedule.cadence, title)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"claim_id": claim_id, "talk_id": pick.card.id}}
        try:
            response = client.chat_postMessage(channel=channel_id, metadata=metadata, **message)
        except SlackApiError as error:
            code = error.response.get("error", "")
            if code not in FIXES:
                raise
            self._pause(client, subscription, post_id, code, now)
            report.paused += 1
            return
        with self.sessions.begin() as session:
            finish(session, DigestPost, post_id, "posted", now, talk_id=pick.card.id, message_ts=response["ts"])
            advance(session, subscription.id, subscription.next_run_at, following)
        report.posted += 1

    def _pause(self, client: WebClient, subscription: DigestSubscription, post_id: int, code: str,
               now: dt.datetime) -> None:  # fmt: skip
        with self.sessions.begin() as session:
            pause(session, subscription.id, code)
            finish(session, DigestPost, post_id, "skipped", now, detail=f"Slack refused: {code}")
        if subscription.kind == FOR_YOU:
            log.info("For you DM in %s paused: Slack refused with %s", subscription.channel_id, code)
            return  # telling the person would need the very DM Slack refused
        text = f"I could not post Talk of the week in <#{subscription.channel_id}>: {FIXES[code]}"
        try:
            client.chat_postMessage(channel=subscription.subscriber_id, text=text)
        except SlackApiError as error:
            log.warning("could not tell %s about the paused digest: %s", subscription.subscriber_id,
                        error.response.get("error"))  # fmt: skip

    def _find_posted(self, client: WebClient, claim: DigestPost) -> tuple[str, int | None] | None:
        """(ts, talk id) of this claim's message if it reached the channel."""
        message = find_claimed_message(client, claim.channel_id, METADATA_EVENT, claim.claim_id, claim.claimed_at)
        return (message["ts"], message["metadata"]["event_payload"].get("talk_id")) if message else None


def _hours(span: dt.timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f}"
