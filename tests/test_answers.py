"""When the database does not answer, every surface says so politely instead of failing silently."""

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import SQLAlchemyError

from bot.answers import TRY_AGAIN, Answers
from bot.digest.commands import ChannelAccess, DigestCommands
from bot.digest.runner import DigestRunner
from bot.listeners.errors import report_failure
from db.config import sessions_for
from db.search.engine import SearchEngine

SESSIONS = sessions_for("postgresql+psycopg://nobody@127.0.0.1:9/none")
UNREACHABLE = SearchEngine(SESSIONS)


def said(message: dict) -> str:
    return message["blocks"][0]["text"]["text"]


class Told:
    """Stands in for Bolt's `respond` / `say`: keeps what a listener's error path answered."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    def __call__(self, **message) -> SimpleNamespace:
        self.messages.append(message)
        return SimpleNamespace(status_code=200, body="ok")


def no_response_url(**message) -> None:
    """Bolt's `respond` for an event: present, but an event has no response_url to answer on."""
    raise ValueError("respond is unsupported here as there is no response_url")


def answered_on_failure(work, *, event: dict | None = None) -> str:
    """What the person is told when `work` fails inside a lazy listener (bot/listeners/errors.py)."""
    told = Told()
    args = SimpleNamespace(
        body={}, event=event, respond=no_response_url if event else told, say=told if event else None
    )
    with pytest.raises(SQLAlchemyError) as failure:
        work()
    report_failure("test", args, failure.value)
    return said(told.messages[-1])


def test_a_search_without_a_database_asks_to_try_again():
    answers = Answers(SESSIONS, UNREACHABLE)
    assert TRY_AGAIN in answered_on_failure(lambda: answers.command("kafka", "T1", "U1"))
    assert TRY_AGAIN in answered_on_failure(lambda: answers.public("kafka"), event={"type": "message"})


def test_a_digest_command_without_a_database_asks_to_try_again():
    def subscribe():
        return DigestCommands(SESSIONS, UNREACHABLE).handle(
            ["subscribe"], team_id="T1", enterprise_id=None, channel_id="C1", user_id="U1", user_timezone=lambda: "UTC",
            access=lambda: ChannelAccess("channel", True, True), about=lambda: None, now=dt.datetime.now(dt.UTC),
        )  # fmt: skip

    assert TRY_AGAIN in answered_on_failure(subscribe)


def test_buttons_and_the_home_tab_without_a_database_ask_to_try_again():
    answers = Answers(SESSIONS, UNREACHABLE)
    for click in (
        lambda: answers.save("T1", "U1", 1),
        lambda: answers.unsave("T1", "U1", 1),
        lambda: answers.share(1, "U1"),
        lambda: answers.vote("T1", "C1", "1700000000.000100", "U1", 1, 1),
    ):
        assert TRY_AGAIN in answered_on_failure(click)
    assert TRY_AGAIN in json.dumps(answers.home("T1", "U1", ["C1"]))


def test_a_digest_pass_without_a_database_counts_a_failure_and_posts_nothing():
    report = DigestRunner(SESSIONS, UNREACHABLE, lambda _team, _enterprise: None).run_due()
    assert (report.failed, report.posted) == (1, 0)


def test_a_failed_click_on_the_home_tab_redraws_the_tab_saying_try_again():
    """A Home tab click has no response_url (Bolt's `respond` raises there): the tab itself says what happened."""
    published: list[dict] = []
    client = SimpleNamespace(views_publish=lambda **call: published.append(call))
    body = {"view": {"type": "home"}, "user": {"id": "U1"}}
    args = SimpleNamespace(body=body, event=None, respond=no_response_url, say=None, client=client)
    with pytest.raises(SQLAlchemyError) as failure:
        Answers(SESSIONS, UNREACHABLE).unsave("T1", "U1", 1)

    report_failure("unsave", args, failure.value)

    assert [call["user_id"] for call in published] == ["U1"] and TRY_AGAIN in json.dumps(published[0]["view"])
