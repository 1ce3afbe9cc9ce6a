"""When the database does not answer, every surface says so politely instead of failing silently."""

import datetime as dt

from bot.answers import TRY_AGAIN, Answers
from bot.digest.commands import DigestCommands
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
        ["subscribe"], team_id="T1", channel_id="C1", user_id="U1", user_timezone=lambda: "UTC",
        now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    assert TRY_AGAIN in said(message)
