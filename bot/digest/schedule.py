"""When a digest is due: local times in the subscriber's timezone, right across daylight-saving changes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db.claims import utc
from db.models import CADENCES, DigestSubscription

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNSUPPORTED_CADENCES = {"hourly", "fortnightly", "biweekly", "monthly", "quarterly", "yearly", "annually"}
DEFAULT_MINUTE = 9 * 60
_CLOCK_24 = re.compile(r"(\d{1,2})(?::(\d{2})|h(\d{2})?)", re.I)  # 09:00, 21h30, 21h
_CLOCK_12 = re.compile(r"(\d{1,2})(?::(\d{2}))?([ap])\.?m\.?", re.I)  # 9am, 9:30pm, 9 p.m.
_LOOKS_LIKE_TIME = re.compile(r"\d{1,2}(?:[:h.]\d*)?(?:[ap]\.?m\.?|h)?|\d+:\d+", re.I)


class ScheduleError(ValueError):
    """A subscription we cannot schedule; the message says what to write instead."""


@dataclass(frozen=True)
class Schedule:
    cadence: str  # "weekly" | "daily"
    weekday: int  # Monday = 0 (weekly only)
    minute_of_day: int
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_due(self, after: dt.datetime) -> dt.datetime:
        """The first due moment strictly after `after`, in UTC."""
        local_day = after.astimezone(self.zone).date()
        for offset in range(9):
            day = local_day + dt.timedelta(days=offset)
            if self.cadence == "weekly" and day.weekday() != self.weekday:
                continue
            due = self._local_moment(day)
            if due > after:
                return due.astimezone(dt.UTC)
        raise AssertionError("a week always holds a due day")

    def _local_moment(self, day: dt.date) -> dt.datetime:
        """`minute_of_day` on `day`; a time skipped by a daylight-saving jump moves on by the jump (02:30 → 03:30),
        and a time that happens twice counts the first time."""
        wall = dt.datetime.combine(day, dt.time(self.minute_of_day // 60, self.minute_of_day % 60))
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(dt.UTC).astimezone(self.zone)

    def period(self, due: dt.datetime) -> str:
        """The period a due moment belongs to: the local ISO week, or the local date."""
        local = due.astimezone(self.zone).date()
        if self.cadence == "weekly":
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        return local.isoformat()

    def describe(self) -> str:
        clock = f"{self.minute_of_day // 60:02d}:{self.minute_of_day % 60:02d}"
        when = f"every {WEEKDAYS[self.weekday].capitalize()}" if self.cadence == "weekly" else "every day"
        return f"{when} at {clock} ({self.timezone})"


@dataclass(frozen=True)
class SubscribeRequest:
    schedule: Schedule
    topic: str


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_subscribe(words: list[str], default_timezone: str) -> SubscribeRequest:
    """`[weekly|daily] [DAY] [TIME] [Area/City] [topic…]`, each part optional, in that order (TIME: 09:00, 9am…)."""
    rest = list(words)
    cadence = "weekly"
    if rest and rest[0].lower() in CADENCES:
        cadence = rest.pop(0).lower()
    elif rest and rest[0].lower() in UNSUPPORTED_CADENCES:
        raise ScheduleError(f"“{rest[0]}” is not a digest cadence: Talk of the week runs `weekly` or `daily`.")
    weekday = 0
    if rest and _weekday(rest[0]) is not None:
        if cadence == "daily":
            raise ScheduleError(f"A daily digest posts every day: leave out “{rest[0]}”, or say `weekly {rest[0]}`.")
        weekday = _weekday(rest.pop(0))
    minute = DEFAULT_MINUTE
    if rest and _LOOKS_LIKE_TIME.fullmatch(rest[0]):
        minute = _minute_of_day(rest.pop(0))
    timezone = default_timezone if valid_timezone(default_timezone) else "UTC"
    if rest and ("/" in rest[0] or rest[0].upper() in ("UTC", "GMT")):
        timezone = rest.pop(0)
        if not valid_timezone(timezone):
            raise ScheduleError(f"“{timezone}” is not a timezone I know. Use an Area/City name like Europe/Berlin.")
    return SubscribeRequest(Schedule(cadence, weekday, minute, timezone), " ".join(rest))


def _weekday(word: str) -> int | None:
    word = word.lower()
    return next((n for n, name in enumerate(WEEKDAYS) if word in (name, name[:3])), None)


def _minute_of_day(word: str) -> int:
    """`09:00`, `9:30`, `21h30` or `21h` (24-hour); `9am`, `9:30pm`, `12am` (midnight) (12-hour)."""
    if match := _CLOCK_24.fullmatch(word):
        hour, minute = int(match.group(1)), int(match.group(2) or match.group(3) or 0)
        if hour < 24 and minute < 60:
            return hour * 60 + minute
    elif match := _CLOCK_12.fullmatch(word):
        hour, minute, after_noon = int(match.group(1)), int(match.group(2) or 0), match.group(3).lower() == "p"
        if 1 <= hour <= 12 and minute < 60:
            return (hour % 12 + (12 if after_noon else 0)) * 60 + minute
    raise ScheduleError(
        f"“{word}” is not a time of day. Write it like 09:00, 16:30, 16h30, 9am or 4:30pm (hours 0–23, or 1–12 with "
        "am/pm)."
    )


def names_timezone(words: list[str]) -> bool:
    """Whether subscribe words name a timezone themselves (else the person's Slack timezone is the default)."""
    return any("/" in word or word.upper() in ("UTC", "GMT") for word in words)


def local_time(moment: dt.datetime, timezone: str) -> str:
    """A due moment as the subscriber reads it: "Mon 30 Nov 2026, 09:00 CET"."""
    return utc(moment).astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y, %H:%M %Z")


def schedule_of(subscription: DigestSubscription) -> Schedule:
    """A stored subscription's schedule."""
    return Schedule(subscription.cadence, subscription.weekday, subscription.minute_of_day, subscription.timezone)
