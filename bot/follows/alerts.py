"""One pass over the import batches not yet announced: each follower gets one DM per batch listing the new talks that
match their follows, exactly once, whatever runs twice.

- Two processes at once: the claim, unique per (workspace, person, batch), lets one of them send; the other stands
  back, and the batch is closed by whichever pass finds every follower dealt with.
- Never a talk twice: the talks a DM announces are claimed with it, unique per person.
- A crash after claiming: once the claim's lease has run out, the next pass looks for the DM (its metadata carries the
  claim id) in the person's DM with talkbot, known from an earlier alert, and sends it only if it is not there. With
  no earlier alert talkbot cannot read that DM without the im:write scope (conversations.open), so the claim is
  closed unsent: at most once rather than twice.
- Slack refuses (a deactivated person, a missing scope, a revoked token): recorded on the claim, never retried.
- The workspace has no installation (uninstalled between the import and the pass): recorded as skipped.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.follows import ALERT_METADATA, MAX_ALERT_TALKS, AlertItem, follow_alert_message
from bot.claimed_posts import LEASE, PassTally, find_claimed_message
from bot.digest.runner import BotClients
from bot.installations.clients import slack_error_code
from db.cards import TalkCard
from db.catalog import talks_by_id
from db.claims import finish, take_over, utc
from db.follows import (
    alert_of,
    alert_talk_ids,
    already_alerted,
    batch_talk_ids,
    claim_alert,
    dm_channel_of,
    finish_batch,
    follows_for_batch,
    pending_batches,
)
from db.models import Follow, FollowAlert
from db.search.engine import SearchEngine
from db.search.query import QueryError

log = logging.getLogger(__name__)

# A follow's query -> the talks of the batch at hand matching it, best first (SearchEngine.matching).
Matching = Callable[[str], list[int]]
_Item = tuple[int, list[str]]  # a talk an alert announces, and the follows (queries) it matches
NOT_INSTALLED = "talkbot is not installed in this workspace"


@dataclass
class AlertReport(PassTally):
    sent: int = 0
    recovered: int = 0
    skipped: int = 0
    refused: int = 0
    failed: int = 0
    waiting: int = 0
    batches: int = 0  # batches closed: every follower dealt with


@dataclass(frozen=True)
class _Follower:
    team_id: str
    enterprise_id: str | None
    user_id: str
    queries: list[str]


class FollowAlerts:
    def __init__(self, sessions: sessionmaker[Session], search: SearchEngine, bot_clients: BotClients) -> None:
        self.sessions, self.search, self.bot_clients = sessions, search, bot_clients

    def run_pending(self, now: dt.datetime | None = None) -> AlertReport:
        """Announce every batch not yet announced, oldest first; one person's failure never stops the others."""
        now = now or dt.datetime.now(dt.UTC)
        report = AlertReport()
        try:
            with self.sessions() as session:
                batches = [batch.id for batch in pending_batches(session)]
        except SQLAlchemyError:
            log.exception("follow alert pass failed: database unavailable; pending imports will be announced later")
            report.failed += 1
            return report
        client_for = functools.cache(self.bot_clients)  # one installation lookup per workspace and pass
        for batch_id in batches:
            try:
                closed = self._run_batch(batch_id, client_for, now, report)
            except Exception:
                log.exception("follow alerts for import batch %s failed; they will be retried", batch_id)
                report.failed += 1
                continue
            if closed:
                with self.sessions.begin() as session:
                    finish_batch(session, batch_id, now)
                report.batches += 1
        return report

    def _run_batch(self, batch_id: int, client_for, now: dt.datetime, report: AlertReport) -> bool:
        """Deal with each follower of the batch; True when all of them are dealt with (sent, skipped or refused)."""
        with self.sessions() as session:
            talk_ids = batch_talk_ids(session, batch_id)
            followers = _followers(follows_for_batch(session, batch_id))
        # Many people follow the same searches: each is matched against the batch once.
        matching = functools.cache(lambda query: self.search.matching(query, talk_ids))
        closed = True
        for follower in followers:
            try:
                client = client_for(follower.team_id, follower.enterprise_id)
                closed &= self._alert(follower, batch_id, talk_ids, matching, client, now, report)
            except Exception:
                log.exception("follow alert for %s/%s (import batch %s) failed; it will be retried",
                              follower.team_id, follower.user_id, batch_id)  # fmt: skip
                report.failed += 1
                closed = False
        return closed

    def _alert(self, follower: _Follower, batch_id: int, talk_ids: list[int], matching: Matching,
               client: WebClient | None, now: dt.datetime, report: AlertReport) -> bool:  # fmt: skip
        with self.sessions() as session:
            claim = alert_of(session, follower.team_id, follower.user_id, batch_id)
        if claim is not None:
            return self._resume(follower, claim, client, now, report)
        with self.sessions() as session:
            seen = already_alerted(session, follower.team_id, follower.user_id, batch_id)
        items = self._items(follower, matching, seen)
        if not items:
            return True  # nothing new for them in this import: no DM
        if client is None:
            with self.sessions.begin() as session:
                claim_alert(session, follower.team_id, follower.user_id, batch_id, [], now, "skipped", NOT_INSTALLED)
            log.info("follow alert for %s skipped: talkbot is not installed in %s", follower.user_id, follower.team_id)
            report.skipped += 1
            return True
        with self.sessions.begin() as session:
            claim = claim_alert(session, follower.team_id, follower.user_id, batch_id,
                                [talk_id for talk_id, _ in items], now)  # fmt: skip
            claim_id, alert_id = (claim.claim_id, claim.id) if claim else (None, None)
        if claim is None:
            return False  # another process claimed it meanwhile: it sends, and a later pass closes the batch
        return self._send(client, follower, alert_id, claim_id, items, now, report)

    def _items(self, follower: _Follower, matching: Matching, seen: Collection[int] = ()) -> list[_Item]:
        """(talk id, the follows it matches) for the talks matching any of the follower's queries, but those in
        `seen`: each follow's best first, in turn, so the few a DM shows in full come from every follow."""
        ranked: dict[int, tuple[int, int]] = {}
        matched_by: dict[int, list[str]] = defaultdict(list)
        for follow_number, query in enumerate(follower.queries):
            try:
                found = [talk_id for talk_id in matching(query) if talk_id not in seen]
            except QueryError as error:  # stored when the parser accepted it; a newer parser may not
                log.warning("follow %r of %s no longer parses: %s", query, follower.user_id, error)
                continue
            for position, talk_id in enumerate(found):
                ranked[talk_id] = min(ranked.get(talk_id, (position, follow_number)), (position, follow_number))
                matched_by[talk_id].append(query)
        order = sorted(ranked, key=lambda talk_id: (ranked[talk_id], talk_id))
        return [(talk_id, matched_by[talk_id]) for talk_id in order]

    def _send(self, client: WebClient, follower: _Follower, alert_id: int, claim_id: str, items: list[_Item],
              now: dt.datetime, report: AlertReport) -> bool:  # fmt: skip
        counts = {query: sum(query in follows for _, follows in items) for query in follower.queries}
        best = items[:MAX_ALERT_TALKS]  # only the talks shown in full are loaded, however many an import added
        with self.sessions() as session:
            found = talks_by_id(session, [talk_id for talk_id, _ in best])
            shown = [AlertItem(TalkCard.of(found[t]), follows) for t, follows in best if t in found]
        message = follow_alert_message(shown, len(items), counts)
        metadata = {"event_type": ALERT_METADATA, "event_payload": {"claim_id": claim_id}}
        try:
            # A user id as the channel: Slack posts in the person's DM with talkbot (its Messages tab) and answers
            # with that DM's channel id, which is kept for finding an interrupted alert later.
            response = client.chat_postMessage(channel=follower.user_id, metadata=metadata, **message)
        except SlackApiError as error:
            code = slack_error_code(error) or "unknown error"
            with self.sessions.begin() as session:
                finish(session, FollowAlert, alert_id, "failed", now, detail=f"Slack refused: {code}")
            log.warning("follow alert for %s/%s not sent: Slack refused (%s); not retried",
                        follower.team_id, follower.user_id, code)  # fmt: skip
            report.refused += 1
            return True
        with self.sessions.begin() as session:
            finish(
                session, FollowAlert, alert_id, "sent", now, channel_id=response["channel"], message_ts=response["ts"]
            )
        report.sent += 1
        return True

    def _resume(self, follower: _Follower, claim: FollowAlert, client: WebClient | None, now: dt.datetime,
                report: AlertReport) -> bool:  # fmt: skip
        """This person's DM about the batch is claimed already: done, in progress, or interrupted by a crash."""
        if claim.state != "claimed":
            return True
        if now - utc(claim.claimed_at) < LEASE:
            report.waiting += 1
            return False
        with self.sessions() as session:
            channel_id = dm_channel_of(session, follower.team_id, follower.user_id)
        found = None
        if client is not None and channel_id:
            try:
                found = self._find_sent(client, channel_id, claim)
            except SlackApiError as error:  # e.g. missing_scope: the DM cannot be checked, so it is not sent again
                log.warning("cannot read %s's DM to check an interrupted alert: %s", follower.user_id,
                            slack_error_code(error))  # fmt: skip
                channel_id = None
        with self.sessions.begin() as session:
            if not take_over(session, claim, now):
                return False
            if found:
                finish(session, FollowAlert, claim.id, "sent", now, channel_id=channel_id, message_ts=found,
                             detail="found in the DM's history after an interrupted run")  # fmt: skip
                report.recovered += 1
                return True
            if client is None or not channel_id:
                detail = (
                    NOT_INSTALLED if client is None else "interrupted, and its DM cannot be checked: not sent again"
                )
                finish(session, FollowAlert, claim.id, "failed", now, detail=detail)
                report.skipped += 1
                return True
            talk_ids = alert_talk_ids(session, claim.id)
        items = self._items(follower, lambda query: self.search.matching(query, talk_ids))
        if not items:  # they unfollowed meanwhile: nothing left to tell them
            with self.sessions.begin() as session:
                finish(session, FollowAlert, claim.id, "skipped", now, detail="no longer followed")
            report.skipped += 1
            return True
        return self._send(client, follower, claim.id, claim.claim_id, items, now, report)

    def _find_sent(self, client: WebClient, channel_id: str, claim: FollowAlert) -> str | None:
        """The ts of this claim's DM if it reached the person."""
        message = find_claimed_message(client, channel_id, ALERT_METADATA, claim.claim_id, claim.claimed_at)
        return message["ts"] if message else None


def _followers(follows: list[Follow]) -> list[_Follower]:
    """Follows grouped by person: one DM each, however many of their follows match."""
    grouped: dict[tuple[str, str], list[Follow]] = defaultdict(list)
    for follow in follows:
        grouped[(follow.team_id, follow.user_id)].append(follow)
    return [
        _Follower(team_id, theirs[0].enterprise_id, user_id, [follow.query for follow in theirs])
        for (team_id, user_id), theirs in grouped.items()
    ]
