"""When the database does not answer, every surface says so politely instead of failing silently."""

import datetime as dt
import json

from bot.answers import TRY_AGAIN, Answers
from bot.digest.commands import ChannelAccess, DigestCommands
from bot.digest.runner import DigestRunner
from db.config import sessions_for
from db.search.engine import SearchEngine

UNREACHABLE = SearchEngine(sessions_for("postgresql+psycopg://nobody@127.0.0.1:9/none"))


def said(message: dict) -> str:
    return message["blocks"][0]["text"]["text"]


def test_a_search_without_a_database_asks_to_try_again():
    assert TRY_AGAIN in said(Answers(UNREACHABLE).command("kafka", "T1", "U1"))
    assert TRY_AGAIN in said(Answers(UNREACHABLE).public("kafka"))


def test_a_digest_command_without_a_database_asks_to_try_again():
    message = DigestCommands(UNREACHABLE).handle(
        ["subscribe"], team_id="T1", enterprise_id=None, channel_id="C1", user_id="U1", user_timezone=lambda: "UTC",
        access=lambda: ChannelAccess("channel", True, True), now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    assert TRY_AGAIN in said(message)


def test_buttons_and_the_home_tab_without_a_database_ask_to_try_again():
    """Bolt loses the ack of a button listener that raises, so these answer TRY_AGAIN instead of raising."""
    answers = Answers(UNREACHABLE)
    assert answers.save("T1", "U1", 1) == TRY_AGAIN and answers.unsave("T1", "U1", 1) == TRY_AGAIN
    assert TRY_AGAIN in said(answers.saved_notice(answers.save("T1", "U1", 1)))
    assert TRY_AGAIN in said(answers.share(1, "U1"))
    assert TRY_AGAIN in said(answers.vote("T1", "C1", "1700000000.000100", "U1", 1, 1))
    assert TRY_AGAIN in json.dumps(answers.home("T1", "U1", ["C1"]))


def test_a_digest_pass_without_a_database_counts_a_failure_and_posts_nothing():
    report = DigestRunner(UNREACHABLE, lambda _team, _enterprise: None).run_due()
    assert (report.failed, report.posted) == (1, 0)
