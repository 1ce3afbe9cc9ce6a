"""Talk of the week on real databases and a fake Slack: scheduling, exactly-once posting, picks, errors."""

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from slack_sdk import WebClient
from sqlalchemy import select

from bot.answers import Answers
from bot.blocks.digest import digest_message
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.digest.channel_subject import DigestTopic
from bot.digest.commands import ChannelAccess, DigestCommands
from bot.digest.picker import pick_talk
from bot.digest.runner import FIXES, LEASE, DigestRunner
from bot.digest.schedule import Schedule, parse_subscribe
from bot.installations import bot_clients
from db.catalog_import import import_records
from db.config import engine_for, sessions_for
from db.digests import channel_votes, claim_period, record_vote, subscribe, subscription_for
from db.models import DigestPost, DigestSubscription
from db.records import EventRecord, LinkRecord, TalkRecord
from db.search.engine import SearchEngine
from db.setup import seed_catalog
from db.workspaces import NOT_INSTALLED, resume_workspace_digests
from tests.support.slack_server import wait_for

UTC = dt.UTC
TEAM = "T0001"


@pytest.fixture
def fake():
    with FakeSlack(team_id=TEAM) as slack:
        yield slack


@pytest.fixture
def engine(migrated_database) -> SearchEngine:
    seed_catalog(migrated_database)
    return SearchEngine(sessions_for(migrated_database))


def runner_for(engine, fake, grace=dt.timedelta(hours=6)) -> DigestRunner:
    settings = SlackSettings(bot_token="xoxb-test", signing_secret=None, app_token=None, api_url=fake.api_url)
    return DigestRunner(engine.sessions, engine, bot_clients(settings, None), grace=grace)


def add_subscription(engine, channel, *, due, topic="", cadence="weekly", weekday=0, minute=9 * 60,
                     timezone="Europe/Berlin", subscriber="USUB"):  # fmt: skip
    with engine.sessions.begin() as session:
        subscribe(session, team_id=TEAM, channel_id=channel, subscriber_id=subscriber, cadence=cadence,
                  weekday=weekday, minute_of_day=minute, timezone=timezone, topic=topic, next_run_at=due)  # fmt: skip


def posts(engine, channel):
    with engine.sessions() as session:
        return list(
            session.scalars(select(DigestPost).where(DigestPost.channel_id == channel).order_by(DigestPost.due_at))
        )


def subscription(engine, channel) -> DigestSubscription:
    with engine.sessions() as session:
        return subscription_for(session, TEAM, channel)


def utc(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


# --- subscribing -------------------------------------------------------------------------------------------


MONDAY_NOON = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)


IN_CHANNEL = ChannelAccess("channel", bot_is_member=True, user_is_member=True)


def handle(engine, text, channel="CSUB", now=MONDAY_NOON, tz="America/New_York", access=IN_CHANNEL, about=None):
    return DigestCommands(engine.sessions, engine).handle(
        text.split(), team_id=TEAM, enterprise_id=None, channel_id=channel, user_id="UALICE",
        user_timezone=lambda: tz, access=lambda: access, about=lambda: about, now=now,
    )  # fmt: skip


def said(message) -> str:
    return " ".join(block.get("text", {}).get("text", "") for block in message["blocks"])


def test_subscribe_with_defaults_uses_weekly_monday_nine_in_the_subscribers_timezone(engine):
    message = handle(engine, "subscribe")

    stored = subscription(engine, "CSUB")
    assert (stored.cadence, stored.weekday, stored.minute_of_day, stored.timezone, stored.topic) == (
        "weekly", 0, 540, "America/New_York", "",
    )  # fmt: skip
    assert stored.next_run_at.replace(tzinfo=UTC) == utc(2026, 11, 23, 14)  # 07:00 EST now: today at 09:00
    assert "every Monday at 09:00 (America/New_York)" in said(message) and "Mon 23 Nov 2026, 09:00 EST" in said(message)


def test_changing_a_subscription_replaces_it_and_unsubscribe_removes_it(engine):
    handle(engine, "subscribe weekly mon 09:00 Europe/Berlin sre incident")
    handle(engine, "subscribe daily 16:30 Asia/Tokyo kafka")

    with engine.sessions() as session:
        assert len(session.scalars(select(DigestSubscription)).all()) == 1
    stored = subscription(engine, "CSUB")
    assert (stored.cadence, stored.minute_of_day, stored.timezone) == ("daily", 990, "Asia/Tokyo")
    assert stored.topic == "kafka"
    assert "every day at 16:30 (Asia/Tokyo) on “kafka”" in said(handle(engine, ""))

    assert "off for this channel" in said(handle(engine, "unsubscribe"))
    assert subscription(engine, "CSUB") is None
    assert "no Talk of the week" in said(handle(engine, "unsubscribe"))


def test_only_members_of_a_channel_change_its_digest_but_anyone_may_look(engine):
    handle(engine, "subscribe weekly mon 09:00 Europe/Berlin kafka")

    outsider = ChannelAccess("channel", bot_is_member=True, user_is_member=False)
    hidden = ChannelAccess("channel", bot_is_member=False)  # a private channel talkbot is not in
    for text in ("subscribe daily 08:00 UTC chaos", "unsubscribe", "stop"):
        assert "Only members of this channel" in said(handle(engine, text, access=outsider))
        assert "Invite me first" in said(handle(engine, text, access=hidden))
    assert subscription(engine, "CSUB").topic == "kafka"
    assert "on “kafka”" in said(handle(engine, "", access=outsider))
    assert "Preview, only for you" in json.dumps(handle(engine, "preview", access=outsider), ensure_ascii=False)


def test_subscribing_needs_talkbot_in_the_channel_but_a_member_may_stop_a_digest_without_it(engine):
    removed = ChannelAccess("channel", bot_is_member=False, user_is_member=True)  # talkbot was removed since
    handle(engine, "subscribe weekly mon 09:00 Europe/Berlin kafka")

    assert "I am not in this channel" in said(handle(engine, "subscribe daily 08:00 UTC", access=removed))
    assert subscription(engine, "CSUB").cadence == "weekly"
    assert "is off" in said(handle(engine, "unsubscribe", access=removed))
    assert subscription(engine, "CSUB") is None


@pytest.mark.parametrize("kind", ["dm", "group_dm"])
def test_a_digest_cannot_be_set_up_in_a_direct_message(engine, kind):
    answer = said(handle(engine, "subscribe", channel="DSOMEONE", access=ChannelAccess(kind)))

    assert "posted in channels, not in direct messages" in answer
    assert subscription(engine, "DSOMEONE") is None


def test_a_missing_slack_permission_is_named_instead_of_blaming_the_channel(engine):
    answer = said(handle(engine, "subscribe", access=ChannelAccess("channel", missing_scope="groups:read")))

    assert "lacks the `groups:read` permission" in answer and "reinstall" in answer
    assert subscription(engine, "CSUB") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("subscribe weekly mon 09:00 Mars/Olympus", "“Mars/Olympus” is not a timezone I know"),
        (
            "subscribe weekly mon 25:00",
            "“25:00” is not a time of day. Write it like 09:00, 16:30, 16h30, 9am or 4:30pm",
        ),
        ("subscribe daily 13pm", "“13pm” is not a time of day"),
        ("subscribe fortnightly", "“fortnightly” is not a digest cadence"),
        ("subscribe daily fri", "A daily digest posts every day"),
        ('subscribe weekly speaker:"unclosed', "is not closed"),
        ("resubscribe", "“resubscribe” is not a digest command"),
    ],
)
def test_bad_subscriptions_are_explained_and_nothing_is_stored(engine, text, message):
    answer = handle(engine, text)

    assert message in said(answer) and "/talk digest subscribe" in said(answer)
    assert subscription(engine, "CSUB") is None


def test_preview_shows_exactly_what_the_next_post_will_be(engine, fake):
    handle(engine, "subscribe weekly mon 09:00 Europe/Berlin kafka", now=utc(2026, 11, 23, 12))
    preview = handle(engine, "preview")

    runner_for(engine, fake).run_due(now=utc(2026, 11, 30, 8, 0, 30))

    [posted] = [call.params for call in fake.calls_to("chat.postMessage") if call.params["channel"] == "CSUB"]
    assert preview["blocks"][2:] == posted["blocks"][1:]  # the same card, reasons and buttons, as talkbot sent them
    assert "Preview, only for you" in preview["blocks"][0]["elements"][0]["text"]


# --- due times ---------------------------------------------------------------------------------------------


def test_due_times_follow_local_time_across_daylight_saving_changes(engine, fake):
    runner = runner_for(engine, fake)
    add_subscription(engine, "CDST", due=utc(2026, 3, 23, 8))  # Monday 09:00 CET
    with time_machine.travel(utc(2026, 3, 23, 8, 0, 20), tick=False):
        assert runner.run_due().posted == 1
    assert subscription(engine, "CDST").next_run_at.replace(tzinfo=UTC) == utc(2026, 3, 30, 7)  # 09:00 CEST

    with time_machine.travel(utc(2026, 3, 30, 6, 59), tick=False):
        assert runner.run_due().posted == 0
    with time_machine.travel(utc(2026, 3, 30, 7, 0, 5), tick=False):
        assert runner.run_due().posted == 1
    assert [p.period for p in posts(engine, "CDST")] == ["2026-W13", "2026-W14"]

    autumn = Schedule("weekly", 0, 9 * 60, "Europe/Berlin")
    assert autumn.next_due(utc(2026, 10, 20)) == utc(2026, 10, 26, 8)  # back to CET after 25 October
    nonexistent = Schedule("daily", 0, 2 * 60 + 30, "Europe/Berlin")
    assert nonexistent.next_due(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 30)  # 02:30 skipped: 03:30 CEST


# --- exactly once ------------------------------------------------------------------------------------------


def test_two_run_due_processes_started_at_the_same_moment_post_each_digest_once(engine, fake, migrated_database):
    now = dt.datetime.now(UTC)
    channels = [f"CRACE{n}" for n in range(8)]
    for channel in channels:
        add_subscription(engine, channel, due=now - dt.timedelta(minutes=1))
    env = {**os.environ, "DATABASE_URL": migrated_database, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_API_URL": fake.api_url}  # fmt: skip
    command = [sys.executable, "-m", "bot.cli", "digest", "run-due"]
    root = Path(__file__).resolve().parents[1]
    processes = [subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert all(process.returncode == 0 for process in processes), outputs
    for channel in channels:
        assert len(fake.messages_in(channel)) == 1
        assert [p.state for p in posts(engine, channel)] == ["posted"]


def test_a_claim_held_by_a_running_poster_is_left_alone(engine, fake):
    now = utc(2026, 11, 30, 8, 1)
    add_subscription(engine, "CBUSY", due=utc(2026, 11, 30, 8))
    with engine.sessions.begin() as session:
        claim_period(session, subscription(engine, "CBUSY"), "2026-W49", utc(2026, 11, 30, 8), now - LEASE / 2)

    report = runner_for(engine, fake).run_due(now=now)

    assert (report.posted, report.waiting) == (0, 1) and fake.messages_in("CBUSY") == []


def test_a_crash_after_claiming_and_before_posting_posts_once_when_the_lease_runs_out(engine, fake):
    now = utc(2026, 11, 30, 8, 10)
    add_subscription(engine, "CCRASH", due=utc(2026, 11, 30, 8))
    with engine.sessions.begin() as session:
        claim_period(session, subscription(engine, "CCRASH"), "2026-W49", utc(2026, 11, 30, 8), now - 2 * LEASE)

    runner = runner_for(engine, fake)
    assert runner.run_due(now=now).posted == 1
    assert runner.run_due(now=now + dt.timedelta(minutes=1)).posted == 0
    assert len(fake.messages_in("CCRASH")) == 1
    assert [p.state for p in posts(engine, "CCRASH")] == ["posted"]


def test_a_crash_after_posting_and_before_recording_is_found_in_history_not_posted_again(engine, fake):
    now = utc(2026, 11, 30, 8, 10)
    add_subscription(engine, "CLOST", due=utc(2026, 11, 30, 8))
    with engine.sessions.begin() as session:
        claim = claim_period(session, subscription(engine, "CLOST"), "2026-W49", utc(2026, 11, 30, 8), now - 2 * LEASE)
        claim_id = claim.claim_id
    runner = runner_for(engine, fake)
    with time_machine.travel(now - 2 * LEASE + dt.timedelta(seconds=3)):  # the interrupted run got as far as posting
        runner.bot_clients(TEAM, None).chat_postMessage(channel="CLOST", text="Talk of the week: …",
                                       metadata={"event_type": "talkbot_digest",
                                                 "event_payload": {"claim_id": claim_id, "talk_id": 1}})  # fmt: skip

    report = runner.run_due(now=now)

    assert (report.recovered, report.posted) == (1, 0)
    assert len(fake.messages_in("CLOST")) == 1
    [post] = posts(engine, "CLOST")
    assert (post.state, post.message_ts, post.talk_id) == ("posted", fake.messages_in("CLOST")[0]["ts"], 1)
    assert subscription(engine, "CLOST").next_run_at.replace(tzinfo=UTC) == utc(2026, 12, 7, 8)


# --- missed digests ----------------------------------------------------------------------------------------


def test_a_digest_missed_within_the_grace_window_is_posted_once_and_an_older_one_is_skipped(engine, fake):
    add_subscription(engine, "CLATE", due=utc(2026, 11, 30, 8))
    add_subscription(engine, "CTOOLATE", due=utc(2026, 11, 30, 1))
    runner = runner_for(engine, fake, grace=dt.timedelta(hours=6))

    report = runner.run_due(now=utc(2026, 11, 30, 13))

    assert (report.posted, report.skipped) == (1, 1)
    assert len(fake.messages_in("CLATE")) == 1 and fake.messages_in("CTOOLATE") == []
    [skipped] = posts(engine, "CTOOLATE")
    assert skipped.state == "skipped" and "beyond the 6.0 h grace window" in skipped.detail
    assert subscription(engine, "CTOOLATE").next_run_at.replace(tzinfo=UTC) == utc(2026, 12, 7, 8)
    assert runner.run_due(now=utc(2026, 11, 30, 14)).posted == 0


# --- the pick ----------------------------------------------------------------------------------------------


def test_a_channel_never_sees_a_talk_twice_until_the_matching_talks_run_out(engine, fake):
    add_subscription(engine, "CREPEAT", due=utc(2026, 1, 5, 8), topic="kafka")  # four talks mention kafka
    runner = runner_for(engine, fake)
    for week in range(6):
        runner.run_due(now=utc(2026, 1, 5, 8, 1) + dt.timedelta(weeks=week))

    picked = [p.talk_id for p in posts(engine, "CREPEAT")]
    assert len(picked) == 6
    assert len(set(picked[:4])) == 4
    assert picked[4] in picked[:4] and picked[4] != picked[3]


def zebra(external_id, verdict=None, note=None, video=False, event="Conf") -> TalkRecord:
    """A talk matching the topic "zebra", with a reporter's note and its verdict."""
    return TalkRecord(
        "t", external_id, f"Zebra {external_id}", event=EventRecord(event, 2020, event), recommendation=note,
        verdict=verdict, links=(LinkRecord("video", f"https://example.org/{external_id}"),) if video else (),
    )  # fmt: skip


def catalog_of(url, *records) -> tuple[SearchEngine, dict[str, int]]:
    """A search engine over just `records`, and their talk ids by title."""
    engine = SearchEngine(sessions_for(url))
    with engine.sessions.begin() as session:
        import_records(session, list(records))
    return engine, {card.title: card.id for card in engine.search("", limit=50).cards}


def test_a_recommended_talk_comes_first_when_nothing_else_differs(migrated_database):
    engine, _ = catalog_of(
        migrated_database,
        zebra("plain"),
        zebra("noted", note="Loved it.", verdict="mixed"),  # a note alone is no praise
        zebra("liked", note="Loved it.", verdict="recommended"),
    )
    for week in range(1, 9):  # whatever the near-tie hash says
        assert (
            pick_talk(
                engine, engine.sessions, DigestTopic("zebra"), "T/C", f"2026-W0{week}", posted=[], votes={}
            ).card.title
            == "Zebra liked"
        )


def test_why_this_one_quotes_a_recommending_note_as_a_colleague_would_say_it(migrated_database):
    engine, _ = catalog_of(
        migrated_database, zebra("liked", "recommended", "One of the reporter's favourite talks", event="SREcon23")
    )

    pick = pick_talk(engine, engine.sessions, DigestTopic("zebra"), "T/C", "2026-W01", posted=[], votes={})

    assert pick.reasons == [
        "It matches this channel's topic, “zebra”.",
        "A reporter who saw it at SREcon23 recommends it. One of the reporter's favourite talks.",
    ]
    context = digest_message(pick.card, pick.reasons, "weekly")["blocks"][2]["elements"][0]["text"]
    assert context.startswith("Why this one: It matches this channel's topic, “zebra”. A reporter who saw it at")


def test_the_digest_never_picks_a_talk_a_reporter_did_not_recommend_while_another_matches(migrated_database):
    engine, ids = catalog_of(
        migrated_database,
        zebra("panned", "not_recommended", "A letdown.", video=True),  # otherwise the stronger candidate
        zebra("plain"),
    )
    for week in range(1, 9):
        assert (
            pick_talk(
                engine, engine.sessions, DigestTopic("zebra"), "T/C", f"2026-W0{week}", posted=[], votes={}
            ).card.title
            == "Zebra plain"
        )
    # Even once the channel has had the other talk, it gets that one again rather than the panned one.
    again = pick_talk(
        engine, engine.sessions, DigestTopic("zebra"), "T/C", "2026-W10", posted=[ids["Zebra plain"]], votes={}
    )
    assert again.card.title == "Zebra plain"


def test_a_talk_a_reporter_did_not_recommend_is_picked_when_nothing_else_matches_and_says_so(migrated_database):
    engine, _ = catalog_of(
        migrated_database,
        zebra("panned", "not_recommended", "A letdown: too few seats.", event="Velocity Berlin 2019"),
        TalkRecord("t", "other", "Yak shaving", event=EventRecord("Conf", 2020), recommendation="Great.",
                   verdict="recommended"),
    )  # fmt: skip

    pick = pick_talk(engine, engine.sessions, DigestTopic("zebra"), "T/C", "2026-W01", posted=[], votes={})

    assert pick.card.title == "Zebra panned"
    assert pick.reasons[1] == (
        "A reporter who saw it at Velocity Berlin 2019 did not recommend it, but it is the only talk on “zebra” in the "
        "catalog."
    )
    assert not any("letdown" in reason for reason in pick.reasons)  # the note is quoted only when it recommends


def test_mixed_talks_wait_until_the_channel_has_had_the_recommended_and_unjudged_ones(migrated_database):
    engine, ids = catalog_of(
        migrated_database,
        zebra("mixed", "mixed", "Good ideas, odd slides.", video=True),
        zebra("plain"),
        zebra("liked", "recommended", "Loved it."),
    )
    posted: list[int] = []
    picks = []
    for week in range(1, 4):
        pick = pick_talk(
            engine, engine.sessions, DigestTopic("zebra"), "T/C", f"2026-W0{week}", posted=posted, votes={}
        )
        posted.append(pick.card.id)
        picks.append(pick)

    assert {pick.card.title for pick in picks[:2]} == {"Zebra plain", "Zebra liked"}
    assert picks[2].card.title == "Zebra mixed"
    assert picks[2].reasons[1] == (
        "A reporter who saw it at Conf had mixed feelings about it, so it waited until this channel had seen every "
        "talk on “zebra” without such doubts."
    )
    assert not any("odd slides" in reason for reason in picks[2].reasons)


def test_a_channel_on_architecture_never_gets_the_katas_workshop_its_reporter_found_a_letdown(engine):
    """Issue 12: a preview picked "Architecture Katas" and praised it with the reporter's disappointment."""
    posted: list[int] = []
    for week in range(1, 11):
        pick = pick_talk(
            engine, engine.sessions, DigestTopic("architecture"), "T/CARCH", f"2026-W{week:02}", posted=posted, votes={}
        )
        assert pick.card.title != "Architecture Katas"
        assert not any("disappoint" in reason or "letdown" in reason for reason in pick.reasons)
        posted.append(pick.card.id)


def test_feedback_changes_the_next_pick(migrated_database):
    engine = SearchEngine(sessions_for(migrated_database))
    with engine.sessions.begin() as session:
        import_records(session, [
            TalkRecord("t", "a", "Zebra alpha", tags=("alpha",), event=EventRecord("Conf", 2020)),
            TalkRecord("t", "b", "Zebra beta", tags=("beta",), event=EventRecord("Conf", 2020)),
            TalkRecord("t", "old-a", "Older alpha", tags=("alpha",), event=EventRecord("Other", 2019)),
            TalkRecord("t", "old-b", "Older beta", tags=("beta",), event=EventRecord("Other", 2019)),
        ])  # fmt: skip
    ids = {card.title: card.id for card in engine.search("", limit=10).cards}

    def next_pick():
        with engine.sessions() as session:
            votes = channel_votes(session, TEAM, "CFEED")
        return pick_talk(
            engine, engine.sessions, DigestTopic("zebra"), f"{TEAM}/CFEED", "2026-W10", posted=[], votes=votes
        ).card.title

    with engine.sessions.begin() as session:
        record_vote(session, TEAM, "CFEED", ids["Older alpha"], "UONE", -1)
    assert next_pick() == "Zebra beta"
    with engine.sessions.begin() as session:
        record_vote(session, TEAM, "CFEED", ids["Older alpha"], "UONE", 1)  # changed their mind
        record_vote(session, TEAM, "CFEED", ids["Older beta"], "UTWO", -1)
    assert next_pick() == "Zebra alpha"


# --- Slack errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", sorted(FIXES))
def test_a_channel_slack_refuses_is_paused_its_subscriber_told_and_others_still_posted(engine, fake, error):
    add_subscription(engine, "CBROKEN", due=utc(2026, 11, 30, 8), subscriber="UOWNER")
    add_subscription(engine, "CFINE", due=utc(2026, 11, 30, 8))
    fake.fail_next("chat.postMessage", error)

    report = runner_for(engine, fake).run_due(now=utc(2026, 11, 30, 8, 1))

    assert (report.paused, report.posted) == (1, 1)
    assert subscription(engine, "CBROKEN").paused_reason == error
    [note] = [c.params for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "UOWNER"]
    assert "<#CBROKEN>" in note["text"] and FIXES[error] in note["text"]
    assert len(fake.messages_in("CFINE")) == 1
    assert runner_for(engine, fake).run_due(now=utc(2026, 12, 7, 8, 1)).paused == 0  # paused: not tried again


def test_a_workspace_without_installation_is_paused_and_resumed_at_its_next_time_after_reinstall(engine, fake):
    """The clock finds no bot token for a workspace (uninstalled between passes): pause rather than fail every
    minute; a reinstall resumes the digest from its next due time, without back-filling the missed ones."""
    add_subscription(engine, "CGONE", due=utc(2026, 11, 30, 8))
    nowhere = DigestRunner(engine.sessions, engine, lambda _team, _enterprise: None)

    report = nowhere.run_due(now=utc(2026, 11, 30, 8, 1))

    assert (report.paused, report.posted, report.failed) == (1, 0, 0)
    assert subscription(engine, "CGONE").paused_reason == NOT_INSTALLED and fake.messages_in("CGONE") == []
    with engine.sessions.begin() as session:
        resumed = resume_workspace_digests(session, TEAM, lambda _: utc(2026, 12, 14, 8))
    assert resumed == 1 and subscription(engine, "CGONE").paused_reason is None
    assert runner_for(engine, fake).run_due(now=utc(2026, 12, 14, 8, 1)).posted == 1


def test_a_rate_limited_post_waits_for_retry_after_and_succeeds(engine, fake):
    add_subscription(engine, "CBUSYSLACK", due=utc(2026, 11, 30, 8))
    fake.rate_limit_next("chat.postMessage", retry_after=1)

    assert runner_for(engine, fake).run_due(now=utc(2026, 11, 30, 8, 1)).posted == 1
    assert len(fake.calls_to("chat.postMessage")) == 2 and len(fake.messages_in("CBUSYSLACK")) == 1


def test_an_unexpected_slack_error_leaves_the_claim_to_be_retried_after_the_lease(engine, fake):
    add_subscription(engine, "CFLAKY", due=utc(2026, 11, 30, 8))
    fake.fail_next("chat.postMessage", "internal_error")
    runner = runner_for(engine, fake)

    assert runner.run_due(now=utc(2026, 11, 30, 8, 1)).failed == 1
    assert runner.run_due(now=utc(2026, 11, 30, 8, 2)).posted == 0  # still within the lease
    assert runner.run_due(now=utc(2026, 11, 30, 8, 10)).posted == 1
    assert len(fake.messages_in("CFLAKY")) == 1


# --- the clock ---------------------------------------------------------------------------------------------


def test_the_clock_process_posts_due_digests_on_its_schedule(engine, fake, migrated_database):
    add_subscription(engine, "CCLOCK", due=dt.datetime.now(UTC) - dt.timedelta(minutes=1))
    env = {**os.environ, "DATABASE_URL": migrated_database, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_API_URL": fake.api_url}  # fmt: skip
    clock = subprocess.Popen([sys.executable, "-m", "bot.cli", "clock", "--every", "1"], env=env,
                             cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(clock.stdout), daemon=True)  # the log, line by line
    reader.start()
    try:
        passes = lambda: [line for line in list(lines) if "digest pass: " in line]  # noqa: E731
        wait_for(lambda: len(passes()) >= 3, timeout=30)  # the pass that posted, and two whole passes after it
    finally:
        clock.terminate()
        clock.wait(timeout=10)
        reader.join(timeout=10)
    output = "".join(lines)
    assert "digest pass: 1 posted" in passes()[0], output
    assert len(fake.messages_in("CCLOCK")) == 1, output
    assert clock.returncode == 0


@pytest.mark.parametrize(
    ("time", "minute_of_day"),
    [("09:00", 9 * 60), ("9am", 9 * 60), ("9:30pm", 21 * 60 + 30), ("21h30", 21 * 60 + 30), ("21h", 21 * 60),
     ("12am", 0), ("12pm", 12 * 60), ("7:05AM", 7 * 60 + 5)],
)  # fmt: skip
def test_the_digest_schedule_accepts_9am_9_30pm_and_21h30_like_09_00(time, minute_of_day):
    request = parse_subscribe(["daily", time, "Europe/Berlin", "kafka"], "UTC")

    assert request.schedule.minute_of_day == minute_of_day and request.topic == "kafka"


def test_a_vote_on_a_daily_digest_thanks_in_the_name_of_talk_of_the_day(engine):
    add_subscription(engine, "CDAILY", due=utc(2026, 11, 24, 8), cadence="daily")
    add_subscription(engine, "CWEEKLY", due=utc(2026, 11, 24, 8))
    talk_id = engine.search("kafka").cards[0].id
    answers = Answers(engine.sessions, engine)

    daily = json.dumps(answers.vote(TEAM, "CDAILY", None, "UVOTER", talk_id, 1), ensure_ascii=False)
    weekly = json.dumps(answers.vote(TEAM, "CWEEKLY", None, "UVOTER", talk_id, -1), ensure_ascii=False)

    assert "Talk of the day will pick more talks like this one" in daily and "Talk of the week" not in daily
    assert "Talk of the week will pick fewer talks like this one" in weekly


def test_slack_is_called_with_no_database_connection_held(engine, fake, migrated_database):
    """Reading the channel's history (up to 5 pages) and what it is about, and posting, happen between transactions,
    not inside one: a slow Slack must not hold a pooled connection, or a transaction's locks, while it answers."""
    now = utc(2026, 11, 30, 8, 10)
    add_subscription(engine, "CSLOW", due=utc(2026, 11, 30, 8))
    with engine.sessions.begin() as session:  # a crashed run's stale claim: the next pass reads the history first
        claim_period(session, subscription(engine, "CSLOW"), "2026-W49", utc(2026, 11, 30, 8), now - 2 * LEASE)
    pool = engine_for(migrated_database).pool
    held: list[tuple[str, int]] = []

    class Watched(WebClient):
        def api_call(self, api_method: str, **kwargs):
            held.append((api_method, pool.checkedout()))
            return super().api_call(api_method, **kwargs)

    client = Watched(token="xoxb-test", base_url=fake.api_url)
    report = DigestRunner(engine.sessions, engine, lambda _team, _enterprise: client).run_due(now=now)

    assert report.posted == 1
    assert held == [("conversations.history", 0), ("conversations.info", 0), ("chat.postMessage", 0)]
