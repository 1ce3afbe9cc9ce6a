"""For you: `/talk foryou` shows talks like the ones a person saved, watched or gave a 👍 (never one of those), and
`/talk foryou weekly` brings one a week in their DM with talkbot, through the digest runner, exactly once. Signed
requests to the in-process app (tests/support), answers and DMs read back from the fake Slack."""

import datetime as dt
import json
import threading
import uuid

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import func, select

from bot.config import SlackSettings
from bot.digest.runner import LEASE, METADATA_EVENT, DigestRunner
from bot.digest.schedule import schedule_of
from bot.installations import bot_clients
from db.config import sessions_for
from db.digests import claim_period, for_you_subscription, posted_talk_ids, record_vote
from db.models import FOR_YOU, DigestFeedback, DigestSubscription
from db.saved_talks import save_talk
from db.search.engine import SearchEngine
from db.watched_talks import mark_watched
from db.workspaces import pause_workspace_digests, resume_workspace_digests
from tests.support.slack_server import BOT_TOKEN, TEAM, answers_to, button, buttons, texts, wait_for

UTC = dt.UTC
BORG = "From Borg to Kubernetes: cluster management at Google"


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:8].upper()


def dm_of(user: str) -> str:
    """The fake Slack's id of talkbot's DM with `user` (where a post to the user id lands)."""
    return "D" + user[1:]


def ask(server, text, user, team=TEAM) -> dict:
    ack, response_url_id = server.command(text, user=user, team=team)
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    for block in answer["blocks"]:
        assert Block.parse(block).to_dict() == block
    return answer


def talk_id(database, title: str) -> int:
    [card] = SearchEngine(sessions_for(database)).search(f'"{title}"', limit=1).cards
    assert card.title == title
    return card.id


def card_ids(message: dict) -> list[int]:
    return [int(block["block_id"].removeprefix("talk-")) for block in message["blocks"]
            if block.get("block_id", "").startswith("talk-")]  # fmt: skip


def new_runner(database, fake) -> DigestRunner:
    """The clock process's runner, with its own engine and sessions as a separate process would have."""
    settings = SlackSettings(bot_token=BOT_TOKEN, signing_secret=None, app_token=None, api_url=fake.api_url)
    engine = SearchEngine(sessions_for(database))
    return DigestRunner(engine.sessions, engine, bot_clients(settings, None))


def subscription_of(database, user, team=TEAM) -> DigestSubscription | None:
    with sessions_for(database)() as session:
        return for_you_subscription(session, team, user)


def due(database, user) -> dt.datetime:
    """A minute after the person's For you DM is due."""
    return subscription_of(database, user).next_run_at.replace(tzinfo=UTC) + dt.timedelta(minutes=1)


def dms(fake, user) -> list[dict]:
    """talkbot's For you posts in the person's DM (the welcome left out)."""
    return [m for m in fake.messages_in(dm_of(user)) if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT]


# --- /talk foryou -------------------------------------------------------------------------------------------------


def test_with_nothing_liked_for_you_says_how_to_get_recommendations_and_offers_starters(server):
    user = new_user()
    answer = ask(server, "foryou", user)

    for how in ("*Save*", "*Watched*", "👍", "`/talk foryou weekly"):
        assert how in texts(answer)
    assert len(card_ids(answer)) == 3 and answer["text"]

    [redrawn] = answers_to(server.fake, server.click(button(answer, "Save"), user=user))
    assert "*For you*" in texts(redrawn) and "which you saved." in texts(redrawn)


def test_for_you_recommends_talks_like_those_saved_watched_or_liked_and_none_of_them(server, seeded_database):
    user = new_user()
    saved, watched = (
        talk_id(seeded_database, "Scaling Kafka"),
        talk_id(seeded_database, BORG),
    )
    voted_up = talk_id(seeded_database, "Data pipelines for Call of Duty with Kafka")
    with sessions_for(seeded_database).begin() as session:
        save_talk(session, TEAM, user, saved)
        mark_watched(session, TEAM, user, watched)
        record_vote(session, TEAM, "CDIGEST", voted_up, user, 1)

    first = ask(server, "foryou", user)
    [second] = answers_to(server.fake, server.click(button(first, "Next results"), user=user))

    shown = card_ids(first) + card_ids(second)
    assert len(shown) == len(set(shown)) == 10 and not {saved, watched, voted_up} & set(shown)
    for because in ("“Scaling Kafka”, which you saved.", f"“{BORG}”, which you watched.",
                    "“Data pipelines for Call of Duty with Kafka”, which you gave a 👍."):  # fmt: skip
        assert because in texts(first) + texts(second)
    assert "Kafka" in texts(first)


def test_marking_a_recommendation_watched_takes_it_off_for_you(server, seeded_database):
    user = new_user()
    with sessions_for(seeded_database).begin() as session:
        save_talk(session, TEAM, user, talk_id(seeded_database, "Scaling Kafka"))
    page = ask(server, "foryou", user)
    first = card_ids(page)[0]

    [redrawn] = answers_to(server.fake, server.click(button(page, "Watched"), user=user))

    assert first not in card_ids(redrawn) and "as watched" in texts(redrawn)


@pytest.mark.parametrize("semantic", [True, False])
def test_recommendations_come_from_shared_words_alone_when_the_semantic_layer_is_off(seeded_database, semantic):
    kafka = talk_id(seeded_database, "Scaling Kafka")
    engine = SearchEngine(sessions_for(seeded_database), semantic=semantic)

    found = engine.recommend([kafka], exclude=set(), limit=5)

    assert found.page.cards and kafka not in [card.id for card in found.page.cards]
    assert any("Kafka" in card.title for card in found.page.cards)
    assert set(found.because.values()) == {kafka}


# --- the weekly DM: opting in and out -----------------------------------------------------------------------------


def test_opting_in_posts_a_welcome_in_the_dm_and_for_you_and_home_show_the_schedule(server, fake, seeded_database):
    user = new_user()

    answer = ask(server, "foryou weekly fri 16:00 Europe/Berlin", user)

    assert "For you is on: every Friday at 16:00 (Europe/Berlin), in your DM with talkbot" in texts(answer)
    [welcome] = fake.messages_in(dm_of(user))
    assert "every Friday at 16:00" in welcome["text"] and welcome["blocks"]
    subscription = subscription_of(seeded_database, user)
    assert (subscription.kind, subscription.channel_id, subscription.subscriber_id) == (FOR_YOU, dm_of(user), user)
    assert "Your For you DM: every Friday at 16:00 (Europe/Berlin)" in texts(ask(server, "foryou", user))
    server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"})
    [home] = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user])
    view = home.params["view"]
    assert View(**view).to_dict()["blocks"] == view["blocks"]
    assert "Every week in a DM: every Friday at 16:00" in json.dumps(view, ensure_ascii=False)

    assert "Your weekly For you DM is off" in texts(ask(server, "foryou stop", user))
    assert subscription_of(seeded_database, user) is None
    assert "no weekly For you DM to stop" in texts(ask(server, "foryou stop", user))


def test_opting_in_again_moves_the_schedule_and_keeps_one_subscription(server, seeded_database):
    user = new_user()
    ask(server, "foryou weekly mon 09:00 UTC", user)
    ask(server, "foryou weekly wed 18:30 UTC", user)

    with sessions_for(seeded_database)() as session:
        mine = session.scalars(select(DigestSubscription).where(DigestSubscription.subscriber_id == user)).all()
    assert [(s.weekday, s.minute_of_day) for s in mine] == [(2, 18 * 60 + 30)]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("foryou weekly kafka", "For you has no topic"),
        ("foryou daily", "For you comes once a week"),
        ("foryou weekly mon 25:00", "is not a time of day"),
        ("foryou sometimes", "“sometimes” is not a For you command"),
    ],
)
def test_a_bad_for_you_command_says_what_to_write_and_stores_nothing(server, fake, seeded_database, text, says):
    user = new_user()
    answer = ask(server, text, user)

    assert says in texts(answer) and "/talk foryou weekly [DAY] [TIME]" in texts(answer)
    assert subscription_of(seeded_database, user) is None and fake.messages_in(dm_of(user)) == []


def test_for_you_help_shows_every_for_you_command(server):
    answer = ask(server, "foryou help", new_user())

    assert ":warning:" not in texts(answer)
    assert "`/talk foryou stop`" in texts(answer) and "`/talk foryou weekly" in texts(answer)


def test_a_dm_slack_refuses_is_explained_and_nothing_is_stored(server, fake, seeded_database):
    user = new_user()
    fake.fail_next("chat.postMessage", "messages_tab_disabled")

    answer = ask(server, "foryou weekly", user)

    assert "Messages tab is turned off" in texts(answer) and subscription_of(seeded_database, user) is None


# --- the weekly DM: posting ---------------------------------------------------------------------------------------


def test_the_weekly_dm_is_posted_once_by_two_runners_at_the_same_moment_and_never_repeats(
    server, fake, seeded_database
):
    user = new_user()
    liked = talk_id(seeded_database, "Scaling Kafka")
    with sessions_for(seeded_database).begin() as session:
        save_talk(session, TEAM, user, liked)
    ask(server, "foryou weekly", user)
    now, runners = due(seeded_database, user), [new_runner(seeded_database, fake) for _ in range(2)]
    start = threading.Barrier(2)
    reports = []

    def run(runner: DigestRunner) -> None:
        start.wait()
        reports.append(runner.run_due(now=now))

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(report.posted for report in reports) == 1
    [post] = dms(fake, user)
    assert post["text"].startswith("For you: ") and "🎤 For you" in json.dumps(post["blocks"], ensure_ascii=False)
    assert "“Scaling Kafka”, which you saved." in json.dumps(post["blocks"], ensure_ascii=False)
    assert [b["text"]["text"] for b in buttons(post)] == ["Save", "More like this", "Watched", "👍", "👎"]
    assert runners[0].run_due(now=now + dt.timedelta(minutes=1)).posted == 0  # a second pass: nothing new

    runners[1].run_due(now=now + dt.timedelta(weeks=1))
    with sessions_for(seeded_database)() as session:
        picked = posted_talk_ids(session, TEAM, dm_of(user))
    assert len(dms(fake, user)) == 2 and len(set(picked)) == 2 and liked not in picked


def test_with_nothing_liked_the_weekly_dm_brings_a_recommended_talk_and_says_how_to_steer_it(
    server, fake, seeded_database
):
    user = new_user()
    ask(server, "foryou weekly", user)

    assert new_runner(seeded_database, fake).run_due(now=due(seeded_database, user)).posted >= 1
    [post] = dms(fake, user)
    assert "You have not saved, watched or 👍 a talk yet" in json.dumps(post["blocks"], ensure_ascii=False)


def test_a_vote_in_the_dm_counts_for_the_person_and_steers_for_you(server, fake, seeded_database):
    user = new_user()
    ask(server, "foryou weekly", user)
    new_runner(seeded_database, fake).run_due(now=due(seeded_database, user))
    [post] = dms(fake, user)
    picked = json.loads(button(post, "👍")["value"])["t"]

    [thanks] = answers_to(fake, server.click(button(post, "👍"), user=user, ephemeral=False, channel=dm_of(user),
                                             message=post))  # fmt: skip

    assert "Thanks! For you will bring more talks like this one." in texts(thanks)
    with sessions_for(seeded_database)() as session:
        votes = session.execute(select(DigestFeedback.talk_id, DigestFeedback.vote, DigestFeedback.team_id)
                                .where(DigestFeedback.user_id == user)).all()  # fmt: skip
    assert votes == [(picked, 1, TEAM)]
    page = ask(server, "foryou", user)
    assert picked not in card_ids(page) and "which you gave a 👍." in texts(page)


def test_an_interrupted_dm_is_found_in_the_dm_not_posted_again(server, fake, seeded_database):
    """The run crashed after posting and before recording: the DM's history (read by its conversation id, which a
    user id is not) shows the post, so the next pass records it instead of posting twice."""
    user = new_user()
    ask(server, "foryou weekly", user)
    subscription = subscription_of(seeded_database, user)
    period = schedule_of(subscription).period(subscription.next_run_at.replace(tzinfo=UTC))
    crashed_at = dt.datetime.now(UTC) - 2 * LEASE  # the interrupted run's claim, its lease run out
    with sessions_for(seeded_database).begin() as session:
        claim = claim_period(session, subscription, period, subscription.next_run_at, crashed_at)
    runner = new_runner(seeded_database, fake)
    runner.bot_clients(TEAM, None).chat_postMessage(channel=user, text="For you: …", metadata={
        "event_type": METADATA_EVENT, "event_payload": {"claim_id": claim.claim_id, "talk_id": 1}})  # fmt: skip
    now = due(seeded_database, user)

    report = runner.run_due(now=now)

    assert (report.recovered, report.posted) == (1, 0) and len(dms(fake, user)) == 1


# --- workspaces -------------------------------------------------------------------------------------------------


def test_for_you_belongs_to_the_workspace_and_an_uninstall_deletes_it(server, fake, seeded_database):
    user, gone, staying = "USAME", "TGONE" + uuid.uuid4().hex[:4].upper(), "TSTAY" + uuid.uuid4().hex[:4].upper()
    with sessions_for(seeded_database).begin() as session:
        save_talk(session, gone, user, talk_id(seeded_database, "Scaling Kafka"))
    assert "which you saved." in texts(ask(server, "foryou", user, gone))
    assert "you have not done that with any talk yet" in texts(ask(server, "foryou", user, staying))
    for team in (gone, staying):
        ask(server, "foryou weekly", user, team)

    assert server.event({"type": "app_uninstalled"}, team=gone).status == 200

    with sessions_for(seeded_database)() as session:
        left = session.scalar(select(func.count()).select_from(DigestSubscription)
                              .where(DigestSubscription.team_id == gone))  # fmt: skip
    assert left == 0 and subscription_of(seeded_database, user, staying) is not None


def test_a_revoked_token_pauses_the_dm_and_a_reinstall_resumes_it(server, seeded_database):
    user = new_user()
    team = "TREVOKE" + uuid.uuid4().hex[:4].upper()
    ask(server, "foryou weekly", user, team)
    sessions = sessions_for(seeded_database)
    with sessions.begin() as session:
        assert pause_workspace_digests(session, team) == 1
    assert "paused" in texts(ask(server, "foryou", user, team))

    with sessions.begin() as session:
        resumed = resume_workspace_digests(session, team, lambda s: dt.datetime(2030, 1, 7, 9, tzinfo=UTC))
    assert resumed == 1 and subscription_of(seeded_database, user, team).paused_reason is None
