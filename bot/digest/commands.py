"""`/talk digest …`: subscribe a channel, show, preview or stop its Talk of the week.

Anyone in a channel may see or preview its digest; only its members may change it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.digest import digest_preview_message, digest_usage_message
from bot.blocks.messages import notice_message, problem_message
from bot.digest.channel_subject import ChannelAbout, DigestTopic, describe, digest_topic
from bot.digest.picker import pick_talk
from bot.digest.schedule import ScheduleError, local_time, names_timezone, parse_subscribe, schedule_of
from db.digests import channel_votes, posted_talk_ids, subscribe, subscription_for, unsubscribe
from db.search.engine import SearchEngine
from db.search.query import QueryError

TOPIC_HINT = " To choose its subject yourself, subscribe again with a topic: `/talk digest subscribe weekly kafka`."


@dataclass(frozen=True)
class ChannelAccess:
    """What Slack says about the channel a digest command came from: its kind, and who is in it.

    None means Slack would not say (the bot is not in the channel, or a permission is missing)."""

    kind: str  # "channel" | "dm" | "group_dm"
    bot_is_member: bool | None = None
    user_is_member: bool | None = None
    missing_scope: str | None = None


class DigestCommands:
    def __init__(self, sessions: sessionmaker[Session], search: SearchEngine) -> None:
        self.sessions, self.search = sessions, search

    def handle(
        self, words: list[str], *, team_id: str, enterprise_id: str | None, channel_id: str, user_id: str,
        user_timezone: Callable[[], str], access: Callable[[], ChannelAccess], about: Callable[[], ChannelAbout | None],
        now: dt.datetime,
    ) -> dict:  # fmt: skip
        """`access` asks Slack who may use the channel, only for commands that change the digest; `about` asks what
        the channel is about, only for a digest without a topic of its own."""
        action = words[0].lower() if words else ""
        if action in ("subscribe", "unsubscribe", "stop"):
            refusal = _refusal(access(), posting=action == "subscribe")
            if refusal:
                return problem_message(refusal)
        if action == "subscribe":
            return self.subscribe(words[1:], team_id, enterprise_id, channel_id, user_id, user_timezone, about, now)
        if action in ("unsubscribe", "stop"):
            with self.sessions.begin() as session:
                removed = unsubscribe(session, team_id, channel_id)
            return notice_message("Talk of the week is off for this channel." if removed else
                                  "This channel has no Talk of the week to stop.")  # fmt: skip
        if action == "preview":
            return self.preview(team_id, channel_id, about)
        if action in ("", "status"):
            return self.status(team_id, channel_id, about)
        return digest_usage_message(f"“{words[0]}” is not a digest command.")

    def subscribe(self, words, team_id, enterprise_id, channel_id, user_id, user_timezone, about, now) -> dict:
        try:
            request = parse_subscribe(words, user_timezone() if not names_timezone(words) else "UTC")
            self.search.parse(request.topic)
        except (ScheduleError, QueryError) as error:
            return digest_usage_message(str(error))
        schedule = request.schedule
        with self.sessions.begin() as session:
            subscribe(
                session, team_id=team_id, enterprise_id=enterprise_id, channel_id=channel_id, subscriber_id=user_id,
                cadence=schedule.cadence,
                weekday=schedule.weekday, minute_of_day=schedule.minute_of_day, timezone=schedule.timezone,
                topic=request.topic, next_run_at=schedule.next_due(now),
            )  # fmt: skip
        topic = self._topic(request.topic, about)
        first = local_time(schedule.next_due(now), schedule.timezone)
        return notice_message(
            f"Talk of the week is on for this channel: {schedule.describe()} {describe(topic)}. First post: {first}."
            + (TOPIC_HINT if topic.derived else "")
        )

    def status(self, team_id: str, channel_id: str, about: Callable[[], ChannelAbout | None]) -> dict:
        with self.sessions() as session:
            subscription = subscription_for(session, team_id, channel_id)
        if subscription is None:
            return digest_usage_message("This channel has no Talk of the week yet.")
        schedule = schedule_of(subscription)
        topic = self._topic(subscription.topic, about)
        if subscription.paused_reason:
            state = f"Paused because Slack answered “{subscription.paused_reason}”: run `/talk digest subscribe` again."
        else:
            state = f"Next post: {local_time(subscription.next_run_at, schedule.timezone)}."
        return notice_message(f"Talk of the week: {schedule.describe()} {describe(topic)}. {state}")

    def preview(self, team_id: str, channel_id: str, about: Callable[[], ChannelAbout | None]) -> dict:
        """Exactly what the next post will be, shown only to the asker."""
        with self.sessions() as session:
            subscription = subscription_for(session, team_id, channel_id)
            if subscription is None:
                return digest_usage_message("This channel has no Talk of the week yet, so there is nothing to preview.")
            posted = posted_talk_ids(session, team_id, channel_id)
            votes = channel_votes(session, team_id, channel_id)
        schedule = schedule_of(subscription)
        period = schedule.period(subscription.next_run_at)
        topic = self._topic(subscription.topic, about)
        pick = pick_talk(self.search, self.sessions, topic, f"{team_id}/{channel_id}", period, posted, votes)
        if pick is None:
            return notice_message(f"No talk in the catalog matches “{subscription.topic}”; nothing would be posted.")
        when = local_time(subscription.next_run_at, schedule.timezone)
        subject = f" It is picked {describe(topic)}." + TOPIC_HINT if topic.derived else ""
        return digest_preview_message(pick.card, pick.reasons, schedule.cadence, f"{when}.{subject}")

    def _topic(self, topic: str, about: Callable[[], ChannelAbout | None]) -> DigestTopic:
        return digest_topic(topic, about, self.search.intent_query)


def _refusal(access: ChannelAccess, posting: bool) -> str | None:
    """Why this person may not change this channel's digest here, or None. Subscribing also needs talkbot in the
    channel, or its first post would fail; stopping a digest does not."""
    if access.kind != "channel":
        return ("Talk of the week is posted in channels, not in direct messages. Run `/talk digest subscribe` in "
                "the channel that should get it.")  # fmt: skip
    if access.missing_scope:
        return (f"talkbot's Slack app lacks the `{access.missing_scope}` permission it needs to check this channel. "
                "Ask a workspace admin to reinstall talkbot from its manifest, then try again.")  # fmt: skip
    if posting and not access.bot_is_member:
        return ("I am not in this channel, so I could not post its Talk of the week. Invite me first with "
                "`/invite @talkbot`, then try again.")  # fmt: skip
    if access.user_is_member is None and not access.bot_is_member:
        return ("I cannot see who is in this channel, so I cannot change its Talk of the week. "
                "Invite me first with `/invite @talkbot`, then try again.")  # fmt: skip
    if not access.user_is_member:
        return "Only members of this channel can change its Talk of the week. Join it first, then try again."
    return None
