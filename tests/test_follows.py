"""Follows: `/talk follow …`, `/talk following`, `/talk unfollow …` through signed requests to the in-process app, and
the DM an import sends followers — one per import, never a talk twice, exactly once whatever runs twice — on real
databases and the fake Slack, its Block Kit checked with slack_sdk's models."""

import datetime as dt
import threading
import uuid

import pytest
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlalchemy import func, select

from bot.blocks.base import MAX_BLOCKS, MAX_TEXT
from bot.blocks.follows import ALERT_METADATA, MAX_ALERT_TALKS
from bot.config import SlackSettings
from bot.follows.alerts import LEASE, NOT_INSTALLED, FollowAlerts
from bot.installations import bot_clients
from db.catalog_import import import_records
from db.config import sessions_for
from db.follows import MAX_FOLLOWS, add_follow, claim_alert
from db.models import AlertedTalk, Follow, FollowAlert, ImportBatch, import_batch_talks
from db.records import EventRecord, SpeakerRecord, TalkRecord
from db.search.engine import SearchEngine
from db.workspaces import forget_workspace
from tests.support.slack_server import answers_to, button, buttons
from tests.test_console import console_answers

TEAM = "T0001"  # the fake's workspace (tests/conftest.py)


def someone() -> str:
    return "U" + uuid.uuid4().hex[:8].upper()


def topic() -> str:
    """A word no other talk has, so a test's follow matches only the talks it imports."""
    return "zq" + uuid.uuid4().hex[:8]


def talk(word: str, number: int, *, speaker: str = "Ada Example", source: str | None = None) -> TalkRecord:
    return TalkRecord(
        source=source or f"follows-{word}", external_id=f"{word}-{number}", title=f"Talk {number} on {word}",
        event=EventRecord(series="FollowConf", year=2026, name="FollowConf 2026"),
        speakers=(SpeakerRecord(speaker),), tags=(word,), summary=f"All about {word}, part {number}.",
    )  # fmt: skip


def other_talks(count: int) -> list[TalkRecord]:
    word = topic()
    return [talk(word, number) for number in range(count)]


def import_talks(database: str, records: list[TalkRecord]):
    with sessions_for(database).begin() as session:
        return import_records(session, records)


def assert_valid_block_kit(message: dict) -> None:
    assert message["text"].strip() and len(message["text"]) <= MAX_TEXT
    assert 0 < len(message["blocks"]) <= MAX_BLOCKS
    block_ids = [block["block_id"] for block in message["blocks"] if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))
    for block in message["blocks"]:
        assert Block.parse(block).to_dict() == block  # raises SlackObjectFormationError for what Slack refuses
        if "text" in block:
            assert len(block["text"]["text"]) <= MAX_TEXT
        for element in block.get("elements", []):
            assert len(element.get("text", "")) <= MAX_TEXT


def texts(message: dict) -> str:
    """What a person reads in a message: its sections' and contexts' text, one block a line."""
    lines = []
    for block in message["blocks"]:
        if "text" in block:
            lines.append(block["text"]["text"])
        lines += [element.get("text", "") for element in block.get("elements", []) if block["type"] == "context"]
    return "\n".join(lines)


def talk_command(server, text: str, user: str, team: str = TEAM) -> dict:
    ack, response_url_id = server.command(text, user=user, team=team)
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    assert answer["response_type"] == "ephemeral"
    assert_valid_block_kit(answer)
    return answer


def dms_to(fake, user: str) -> list[dict]:
    """Alerts talkbot sent this person (chat.postMessage to their user id lands in their DM with the app)."""
    messages = fake.messages_in("D" + user[1:])
    return [m for m in messages if (m.get("metadata") or {}).get("event_type") == ALERT_METADATA]


@pytest.fixture(scope="module")
def clients(fake):
    settings = SlackSettings(bot_token="xoxb-test", signing_secret=None, app_token=None, api_url=fake.api_url)
    return bot_clients(settings, None)


@pytest.fixture(scope="module")
def alerts(seeded_database, clients) -> FollowAlerts:
    """The clock's follow alert pass, with its own search engine (as the clock process has)."""
    return FollowAlerts(sessions_for(seeded_database), SearchEngine(sessions_for(seeded_database)), clients)


def alert_rows(database: str, user: str) -> list[FollowAlert]:
    with sessions_for(database)() as session:
        return list(session.scalars(select(FollowAlert).where(FollowAlert.user_id == user).order_by(FollowAlert.id)))


# --- /talk follow, following, unfollow ----------------------------------------------------------------------------


def test_following_a_speaker_then_listing_and_unfollowing_by_button(server):
    user = someone()
    answer = talk_command(server, 'follow speaker:"liz fong-jones"', user)
    assert 'Following `speaker:"liz fong-jones"`' in texts(answer)
    assert "one DM" in texts(answer)

    talk_command(server, "follow kafka  streams", user)
    listing = talk_command(server, "following", user)
    assert '1. `speaker:"liz fong-jones"`' in texts(listing)
    assert "2. `kafka streams`" in texts(listing)
    assert [b["text"]["text"] for b in buttons(listing)] == ["Unfollow", "Unfollow"]

    redrawn = answers_to(server.fake, server.click(button(listing, "Unfollow", 1), user=user))[0]
    assert redrawn["replace_original"] is True
    assert_valid_block_kit(redrawn)
    assert "Stopped following `kafka streams`" in texts(redrawn) and "2. `kafka streams`" not in texts(redrawn)


def test_following_the_same_thing_twice_is_one_follow(server):
    user = someone()
    talk_command(server, "follow Kafka", user)
    again = talk_command(server, "follow  kafka ", user)
    assert "You already follow `Kafka`" in texts(again)
    assert texts(talk_command(server, "following", user)).count("`Kafka`") == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("follow", "Follow what?"),
        ("follow speaker:", "`speaker:` needs a value"),
        ('follow speaker:"liz', "is not closed"),
        ("follow colour:red", "There is no `colour:` filter"),
        ("follow sort:newest", "has nothing to search for"),
        ("follow kafka length:abc", "is not a length in minutes"),
        ("follow " + "kafka " * 50, "talkbot reads up to 200"),
        ("unfollow", "Unfollow what?"),
        ("unfollow chaos engineering", "You do not follow “chaos engineering”"),
        ("unfollow 7", "You do not follow “7”"),
    ],
)
def test_bad_follow_input_says_what_to_write_and_changes_nothing(server, seeded_database, text, says):
    user = someone()
    answer = talk_command(server, text, user)
    assert says in texts(answer)
    with sessions_for(seeded_database)() as session:
        assert session.scalar(select(func.count(Follow.id)).where(Follow.user_id == user)) == 0


def test_unfollowing_by_number_or_text_and_the_rest_stays(server):
    user = someone()
    for text in ("follow kafka", "follow tag:sre", "follow event:srecon"):
        talk_command(server, text, user)
    assert "Stopped following `tag:sre`" in texts(talk_command(server, "unfollow 2", user))
    left = texts(talk_command(server, "unfollow EVENT:SRECON", user))
    assert "Stopped following `event:srecon`" in left and "1. `kafka`" in left and "tag:sre`" not in left


def test_a_person_may_follow_up_to_the_cap_and_is_told_how_to_make_room(server, seeded_database):
    user = someone()
    with sessions_for(seeded_database).begin() as session:
        for number in range(MAX_FOLLOWS):
            add_follow(session, TEAM, None, user, f"topic{number}")
    refused = talk_command(server, "follow kafka", user)
    assert f"You follow {MAX_FOLLOWS} searches" in texts(refused) and "/talk following" in texts(refused)
    assert "You already follow `topic3`" in texts(talk_command(server, "follow topic3", user))
    listing = talk_command(server, "following", user)
    assert len(listing["blocks"]) <= MAX_BLOCKS and len(buttons(listing)) == MAX_FOLLOWS


def test_follows_belong_to_their_workspace(server):
    user = someone()
    talk_command(server, "follow kafka", user, team="TALPHA")
    assert "You follow nothing yet" in texts(talk_command(server, "following", user, team="TBETA"))
    assert "You do not follow “kafka”" in texts(talk_command(server, "unfollow kafka", user, team="TBETA"))
    assert "1. `kafka`" in texts(talk_command(server, "following", user, team="TALPHA"))


def test_help_lists_the_follow_commands(server):
    help_text = texts(talk_command(server, "help", someone()))
    assert "/talk follow" in help_text and "/talk following" in help_text and "unfollow" in help_text


# --- alerts after an import ---------------------------------------------------------------------------------------


def test_an_import_matching_nothing_one_talk_then_500_sends_one_dm_each_time(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow tag:{word}", user)

    import_talks(seeded_database, other_talks(3))  # 0 matching talks: no DM
    alerts.run_pending()
    assert dms_to(fake, user) == []

    import_talks(seeded_database, [talk(word, 0), *other_talks(2)])  # 1 matching talk
    report = alerts.run_pending()
    assert report.sent >= 1 and report.failed == 0
    [one] = dms_to(fake, user)
    assert "Talk 0 on " + word in texts(one) and "*1 talk*" in texts(one)
    assert_valid_block_kit(one)

    import_talks(seeded_database, [talk(word, number) for number in range(1, 501)])  # 500 matching talks
    alerts.run_pending()
    first, many = dms_to(fake, user)
    assert first == one
    assert_valid_block_kit(many)
    assert "*500 talks*" in texts(many)
    assert sum(block.get("block_id", "").startswith("alert-") for block in many["blocks"]) == MAX_ALERT_TALKS
    assert f"…and {500 - MAX_ALERT_TALKS} more" in texts(many) and f"`/talk tag:{word}` (500 talks new)" in texts(many)


def test_reimporting_the_same_talks_sends_nothing_again(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    records = [talk(word, number) for number in range(3)]
    assert import_talks(seeded_database, records).alert_batch is not None
    alerts.run_pending()
    assert len(dms_to(fake, user)) == 1

    again = import_talks(seeded_database, records)
    changed = import_talks(seeded_database, [TalkRecord(**{**vars(records[0]), "summary": f"{word}, revised"})])
    assert again.added == 0 and again.alert_batch is None and changed.updated == 1 and changed.alert_batch is None
    alerts.run_pending()
    assert len(dms_to(fake, user)) == 1


def test_a_talk_matching_two_follows_is_listed_once_in_one_dm(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    talk_command(server, 'follow speaker:"Grace Followed"', user)
    import_talks(seeded_database, [talk(word, 1, speaker="Grace Followed"), talk(word, 2)])
    alerts.run_pending()
    [dm] = dms_to(fake, user)
    assert "*2 talks*" in texts(dm) and texts(dm).count(f"Talk 1 on {word}") == 1
    assert f'_matches `{word}`, `speaker:"Grace Followed"`_' in texts(dm)


def test_a_follow_made_after_an_import_is_not_alerted_for_it(server, seeded_database, alerts, fake):
    early, late, word = someone(), someone(), topic()
    talk_command(server, f"follow {word}", early)
    import_talks(seeded_database, [talk(word, 1)])
    talk_command(server, f"follow {word}", late)
    alerts.run_pending()
    assert len(dms_to(fake, early)) == 1 and dms_to(fake, late) == []


def test_two_passes_at_once_send_one_dm(server, seeded_database, clients, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    batch = import_talks(seeded_database, [talk(word, number) for number in range(5)]).alert_batch
    runners = [FollowAlerts(sessions_for(seeded_database), SearchEngine(sessions_for(seeded_database)), clients)
               for _ in range(2)]  # fmt: skip
    start = threading.Barrier(2)
    reports = []

    def run(runner):
        start.wait()
        reports.append(runner.run_pending())

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    runners[0].run_pending()
    assert len(dms_to(fake, user)) == 1
    assert all(report.failed == 0 for report in reports)
    with sessions_for(seeded_database)() as session:
        assert session.get(ImportBatch, batch).alerted_at is not None
        listed = select(func.count()).select_from(import_batch_talks).where(import_batch_talks.c.batch_id == batch)
        assert session.scalar(listed) == 0  # the outbox is emptied


def test_an_alert_interrupted_after_it_reached_slack_is_found_not_sent_again(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    import_talks(seeded_database, [talk(word, 1)])
    alerts.run_pending()  # an earlier alert: talkbot knows the DM's channel
    report = import_talks(seeded_database, [talk(word, 2)])
    claimed_at = dt.datetime.now(dt.UTC)
    with sessions_for(seeded_database).begin() as session:  # a pass claimed, sent, and died before recording
        claim = claim_alert(session, TEAM, user, report.alert_batch, [], claimed_at)
    WebClient(token="xoxb-test", base_url=fake.api_url).chat_postMessage(
        channel=user, text="…", metadata={"event_type": ALERT_METADATA, "event_payload": {"claim_id": claim.claim_id}}
    )

    assert alerts.run_pending(now=claimed_at).waiting == 1  # within its lease: left to the pass that holds it
    assert alerts.run_pending(now=claimed_at + LEASE + dt.timedelta(seconds=1)).recovered == 1
    assert len(dms_to(fake, user)) == 2
    assert [row.state for row in alert_rows(seeded_database, user)] == ["sent", "sent"]


def test_an_interrupted_first_alert_that_cannot_be_checked_is_not_sent_twice(server, seeded_database, alerts, fake):
    """talkbot never DMed this person: without im:write it cannot find their DM to check, so at most once."""
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    report = import_talks(seeded_database, [talk(word, 1)])
    claimed_at = dt.datetime.now(dt.UTC)
    with sessions_for(seeded_database).begin() as session:
        claim_alert(session, TEAM, user, report.alert_batch, [], claimed_at)
    alerts.run_pending(now=claimed_at + LEASE + dt.timedelta(seconds=1))
    [row] = alert_rows(seeded_database, user)
    assert row.state == "failed" and "cannot be checked" in row.detail and dms_to(fake, user) == []


def test_save_on_an_alert_saves_the_talk_for_whoever_pressed_it(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    import_talks(seeded_database, [talk(word, 1)])
    alerts.run_pending()
    [dm] = dms_to(fake, user)
    note = answers_to(fake, server.click(button(dm, "Save"), user=user, ephemeral=False, channel=dm["channel"]))[0]
    assert f"Saved “Talk 1 on {word}”" in texts(note)
    assert f"Talk 1 on {word}" in texts(talk_command(server, "saved", user))


def test_an_alert_lost_on_the_way_is_sent_after_its_lease(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    import_talks(seeded_database, [talk(word, 1)])
    alerts.run_pending()
    import_talks(seeded_database, [talk(word, 2)])
    fake.drop_next_connection("chat.postMessage", times=2)  # the request and its one retry never answered
    now = dt.datetime.now(dt.UTC)
    assert alerts.run_pending(now=now).failed >= 1
    assert alerts.run_pending(now=now + LEASE + dt.timedelta(seconds=1)).sent == 1
    [_, second] = dms_to(fake, user)
    assert f"Talk 2 on {word}" in texts(second)


def test_slack_refusing_a_dm_is_recorded_and_never_retried(server, seeded_database, alerts, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    import_talks(seeded_database, [talk(word, 1)])
    fake.fail_next("chat.postMessage", "user_not_found")
    assert alerts.run_pending().refused == 1
    fake.clear()
    alerts.run_pending()
    assert fake.calls_to("chat.postMessage") == []
    [row] = alert_rows(seeded_database, user)
    assert (row.state, row.detail) == ("failed", "Slack refused: user_not_found")


def test_a_workspace_without_an_installation_is_skipped_and_recorded(server, seeded_database, fake):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user)
    import_talks(seeded_database, [talk(word, 1)])
    nowhere = FollowAlerts(sessions_for(seeded_database), SearchEngine(sessions_for(seeded_database)),
                           lambda _team, _enterprise: None)  # fmt: skip
    assert nowhere.run_pending().skipped >= 1
    [row] = alert_rows(seeded_database, user)
    assert (row.state, row.detail) == ("skipped", NOT_INSTALLED) and dms_to(fake, user) == []


def test_alerts_go_to_each_workspace_s_own_followers(server, seeded_database, alerts):
    user, word = someone(), topic()
    talk_command(server, f"follow {word}", user, team="TALPHA")
    talk_command(server, "follow something else entirely", user, team="TBETA")
    import_talks(seeded_database, [talk(word, 1)])
    alerts.run_pending()
    assert [(row.team_id, row.state) for row in alert_rows(seeded_database, user)] == [("TALPHA", "sent")]


def test_uninstalling_deletes_the_workspace_s_follows_and_alerts_only(server, seeded_database, alerts):
    user, word, gone = someone(), topic(), "TGONE" + uuid.uuid4().hex[:4].upper()
    for team in (gone, "TSTAY"):
        talk_command(server, f"follow {word}", user, team=team)
    import_talks(seeded_database, [talk(word, 1)])
    alerts.run_pending()
    assert server.event({"type": "app_uninstalled"}, team=gone).status == 200
    with sessions_for(seeded_database)() as session:
        for table in (Follow, FollowAlert, AlertedTalk):
            left = select(table.team_id, func.count()).where(table.user_id == user).group_by(table.team_id)
            assert dict(session.execute(left).all()) == {"TSTAY": 1}


def test_forget_workspace_removes_follows_and_deliveries(seeded_database, alerts):
    user, word = someone(), topic()
    with sessions_for(seeded_database).begin() as session:
        add_follow(session, "TFORGET", None, user, word)
    import_talks(seeded_database, [talk(word, 1)])
    alerts.run_pending()
    with sessions_for(seeded_database).begin() as session:
        forget_workspace(session, "TFORGET")
    with sessions_for(seeded_database)() as session:
        for table in (Follow, FollowAlert, AlertedTalk):
            assert session.scalar(select(func.count()).select_from(table).where(table.team_id == "TFORGET")) == 0


# --- the console --------------------------------------------------------------------------------------------------


def test_the_console_follows_lists_and_unfollows_like_talk(seeded_database):
    answers = console_answers(seeded_database, ["follow kafka", "following", "unfollow 1", "following"])
    assert "Following `kafka`" in answers[0]
    assert "1. `kafka`" in answers[1] and "[1] Unfollow" in answers[1]
    assert "Stopped following `kafka`" in answers[2]
    assert "You follow nothing yet" in answers[3]


def test_the_console_shows_the_alert_an_import_sends(seeded_database, tmp_path):
    word = topic()
    catalog = tmp_path / "new.csv"
    catalog.write_text(f"id,title,event,year,speakers,tags\n{word},All about {word},FollowConf,2026,Ada,{word}\n")
    answers = console_answers(seeded_database, [f"follow {word}", f"import {catalog}", f"import {catalog}"])
    assert "1 added" in answers[1] and "1 sent" in answers[1]
    assert "talkbot in your DM with talkbot" in answers[1] and f"All about {word}" in answers[1]
    assert "0 added" in answers[2] and "0 sent" in answers[2] and "DM with talkbot" not in answers[2]
