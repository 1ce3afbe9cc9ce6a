"""For you: talks like the ones a person saved, watched or gave a 👍, none they have seen; and the weekly DM that
brings one (a digest subscription of kind "foryou", posted by the digest runner exactly once a week).

The DM's subscription is keyed by the person's DM with talkbot, not their user id: Slack posts to a user id, but
reads history (how the runner finds a post an interrupted run made) only by conversation id. Opting in posts a
welcome in that DM, which tells talkbot its id without `im:write` (conversations.open)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import zip_longest

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.for_you import for_you_usage_message, for_you_welcome_message
from bot.blocks.messages import notice_message, problem_message
from bot.digest.picker import Pick
from bot.digest.schedule import ScheduleError, local_time, names_timezone, parse_subscribe, schedule_of
from db.catalog import talks_by_id
from db.digests import for_you_subscription, subscribe, votes_by
from db.models import FOR_YOU, NOT_RECOMMENDED, DigestSubscription
from db.saved_talks import saved_talk_ids
from db.search.engine import ResultPage, SearchEngine
from db.watched_talks import watched_talk_ids

POOL = 20  # recommendations (or, with nothing to go on, recommended talks) the weekly pick chooses from
STOP_WORDS = {"stop", "off", "unsubscribe", "cancel"}
# Slack's answers when talkbot cannot write to someone, and what the person can do about it.
DM_FIXES = {
    "messages_tab_disabled": "talkbot's Messages tab is turned off, so I cannot send you DMs. Ask a workspace admin "
    "to turn it on in the app's App Home settings, then try again.",
    "user_not_found": "Slack does not know you in this workspace, so I cannot send you DMs.",
    "not_in_channel": "Slack would not let me write to you. Open talkbot's Messages tab once, then try again.",
}
HOW = {"watched": "watched", "liked": "gave a 👍", "saved": "saved"}


class DmRefused(Exception):
    """Slack would not post in a person's DM with talkbot; `code` is its error."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Taste:
    """What a person's own actions say: the talks they liked, most telling first, and every talk they have seen."""

    liked: list[int]
    how: dict[int, str]  # liked talk → "watched" | "liked" | "saved": what they did with it
    seen: set[int]  # saved, watched, or voted on either way


def taste_of(session: Session, team_id: str, user_id: str) -> Taste:
    """Watched, 👍 and saved talks, newest of each kind in turn, so a long list of one kind crowds out no other."""
    watched, saved = watched_talk_ids(session, team_id, user_id), saved_talk_ids(session, team_id, user_id)
    votes = votes_by(session, team_id, user_id)
    kinds = (watched, "watched"), ([talk_id for talk_id, vote in votes.items() if vote > 0], "liked"), (saved, "saved")
    how: dict[int, str] = {}
    for row in zip_longest(*([(talk_id, what) for talk_id in ids] for ids, what in kinds)):
        for entry in row:
            if entry:
                how.setdefault(*entry)
    return Taste(list(how), how, set(watched) | set(saved) | set(votes))


@dataclass(frozen=True)
class ForYou:
    """A page of For you, why each talk is on it ("Like “…”, which you saved"), and the taste it came from."""

    page: ResultPage
    because: dict[int, str]
    taste: Taste


def for_you(
    search: SearchEngine, sessions: sessionmaker[Session], team_id: str, user_id: str, limit: int, offset: int = 0,
    also_exclude: Collection[int] = (),
) -> ForYou:  # fmt: skip
    """A page of the person's recommendations, leaving out what they have seen and `also_exclude`."""
    with sessions() as session:
        taste = taste_of(session, team_id, user_id)
    found = search.recommend(taste.liked, taste.seen | set(also_exclude), limit=limit, offset=offset)
    with sessions() as session:
        titles = {talk.id: talk.title for talk in talks_by_id(session, list(set(found.because.values()))).values()}
    because = {
        talk_id: f"Like “{titles[liked]}”, which you {HOW[taste.how[liked]]}."
        for talk_id, liked in found.because.items()
        if liked in titles
    }
    return ForYou(found.page, because, taste)


def pick_for_you(
    search: SearchEngine, sessions: sessionmaker[Session], team_id: str, user_id: str, posted: list[int]
) -> Pick | None:
    """This week's DM: the best recommendation not yet sent, saved, watched or voted on (one a reporter did not
    recommend only when nothing else is left); with nothing to go on, a talk the catalog recommends. None when every
    talk has been seen."""
    found = for_you(search, sessions, team_id, user_id, POOL, also_exclude=posted)
    cards = sorted(found.page.cards, key=lambda card: card.verdict == NOT_RECOMMENDED)
    if cards:
        card = cards[0]
        reasons = [found.because.get(card.id, "It is like talks you liked.")]
        return Pick(card, reasons + (["There is a video to watch."] if card.video_url else []))
    seen = found.taste.seen | set(posted)
    starters = [card for card in search.search("", limit=POOL + len(seen)).cards if card.id not in seen]
    if not starters:
        return None
    if found.taste.liked:
        why = "Nothing new is like the talks you saved, watched or liked, so here is one the catalog recommends."
    else:
        why = ("You have not saved, watched or 👍 a talk yet, so here is one the catalog recommends. Do, and For you "
               "follows your taste.")  # fmt: skip
    return Pick(starters[0], [why])


class ForYouCommands:
    """`/talk foryou weekly [DAY] [TIME] [Area/City]` and `/talk foryou stop`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def handle(
        self, words: list[str], *, team_id: str, enterprise_id: str | None, user_id: str,
        user_timezone: Callable[[], str], post_dm: Callable[[dict], str], now: dt.datetime,
    ) -> dict:  # fmt: skip
        """`post_dm(message)` posts in the person's DM with talkbot and returns that DM's id (DmRefused if not)."""
        action = words[0].lower() if words else ""
        if action == "daily":
            return for_you_usage_message("For you comes once a week: write `/talk foryou weekly [DAY] [TIME]`.")
        if action in STOP_WORDS:
            with self.sessions.begin() as session:
                subscription = for_you_subscription(session, team_id, user_id)
                if subscription is not None:
                    session.delete(subscription)
            return notice_message("Your weekly For you DM is off. `/talk foryou` still shows recommendations."
                                  if subscription else "You have no weekly For you DM to stop.")  # fmt: skip
        if action in ("help", "?"):
            return for_you_usage_message()
        if action != "weekly":
            return for_you_usage_message(f"“{words[0]}” is not a For you command." if words else None)
        try:
            request = parse_subscribe(words, user_timezone() if not names_timezone(words) else "UTC")
        except ScheduleError as error:
            return for_you_usage_message(str(error))
        if request.topic:
            return for_you_usage_message(
                f"For you has no topic (“{request.topic}”): it follows what you save, watch and like."
            )
        schedule = request.schedule
        first = schedule.next_due(now)
        try:
            dm = post_dm(for_you_welcome_message(schedule.describe(), local_time(first, schedule.timezone)))
        except DmRefused as refused:
            fix = DM_FIXES.get(refused.code, f"Slack would not let me send you a DM ({refused.code}).")
            return problem_message(fix)
        with self.sessions.begin() as session:
            earlier = for_you_subscription(session, team_id, user_id)
            if earlier is not None and earlier.channel_id != dm:
                session.delete(earlier)
                session.flush()
            subscribe(
                session, team_id=team_id, enterprise_id=enterprise_id, channel_id=dm, subscriber_id=user_id,
                kind=FOR_YOU, cadence=schedule.cadence, weekday=schedule.weekday,
                minute_of_day=schedule.minute_of_day, timezone=schedule.timezone, topic="", next_run_at=first,
            )  # fmt: skip
        return notice_message(
            f"For you is on: {schedule.describe()}, in your DM with talkbot. First one: "
            f"{local_time(first, schedule.timezone)}. `/talk foryou stop` ends it."
        )


def weekly_phrase(subscription: DigestSubscription | None) -> str | None:
    """A For you DM's schedule as the page and the Home tab say it, or None when the person has none."""
    if subscription is None:
        return None
    paused = f" (paused: Slack answered “{subscription.paused_reason}”)" if subscription.paused_reason else ""
    return schedule_of(subscription).describe() + paused
