"""A PostgreSQL that accepts connections and never answers must not hang talkbot.

Between `talkbot serve --http` and the real PostgreSQL sits a TCP proxy this test controls. Switched to "hang", it
keeps accepting connections and reading what talkbot sends, and answers nothing: the failure that server-side
timeouts and TCP keepalives cannot see (a stuck server, a half-dead proxy or network path). Every Slack request must
still be acked at once and its person told to try again within talkbot's database timeouts (db/config.py); the same
process must answer normally once the proxy passes traffic again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import make_url

from bot.answers import TRY_AGAIN
from bot.devtools.fake_slack import FakeSlack
from bot.devtools.slack_payloads import message_event
from bot.server.health import HEALTH_FRESH_FOR
from tests.support.slack_server import TEAM, Reply, TalkbotServer, answers_to, button, texts, wait_for

ACK_BUDGET = 3.0  # Slack gives up on a request it has no ack for after 3 s
# The server under test waits 1 s for any reply and 2 s (libpq's least) for a new connection, so the worst a request
# can meet is a pre-ping on a pooled connection (1 s), then one new connection that never completes (2 s).
REPLY_TIMEOUT, CONNECT_TIMEOUT = 1, 2
WORST_WAIT = REPLY_TIMEOUT + CONNECT_TIMEOUT
ANSWER_BUDGET = WORST_WAIT + 2.0  # and a little for the answer's trip to (fake) Slack on a 2-core machine
# /healthz waits up to its own deadline for its check; above WORST_WAIT here, so that the check always ends on the
# database's timeouts ("unavailable") rather than on the deadline ("timeout": tests/test_server.py).
HEALTH_TIMEOUT = WORST_WAIT + 2
TIMEOUTS = {
    "TALKBOT_DB_REPLY_TIMEOUT": str(REPLY_TIMEOUT),
    "TALKBOT_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    "TALKBOT_HEALTH_TIMEOUT": str(HEALTH_TIMEOUT),
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=TEAM) as slack:
        yield slack


@pytest.fixture
def server(postgres_catalog, proxy, fake) -> Iterator[TalkbotServer]:
    through_proxy = make_url(postgres_catalog).set(host="127.0.0.1", port=proxy.port)
    through_proxy = through_proxy.render_as_string(hide_password=False)
    talkbot = TalkbotServer(through_proxy, fake, extra_env=TIMEOUTS)
    yield talkbot
    talkbot.stop()


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8].upper()


def acked_at_once(reply: Reply, what: str) -> None:
    assert (reply.status, reply.seconds < ACK_BUDGET) == (200, True), f"{what}: {reply}"


def test_a_database_that_never_answers_gets_everyone_a_try_again_and_the_same_server_recovers(server, fake, proxy):
    """Commands, a button and a DM are acked within Slack's 3 s while PostgreSQL hangs, each person gets "try again"
    within the database timeouts, /healthz says 503 as quickly, and once the database answers again the same process
    answers normally, with no restart."""
    user, dm = new_id("U"), new_id("D")
    ack, response_url_id = server.command("kafka", user=user)
    acked_at_once(ack, "/talk kafka before the hang")
    [results] = answers_to(fake, response_url_id)
    assert "Scaling Kafka" in texts(results)

    proxy.hang()
    sent_at = time.monotonic()
    asked = {}
    for text in ("kafka", "saved", "speaker:fong"):
        ack, asked[f"/talk {text}"] = server.command(text, user=user)
        acked_at_once(ack, f"/talk {text}")
    ack, asked["Save"] = server.press(button(results, "Save"), user=user)
    acked_at_once(ack, "Save")
    acked_at_once(server.event(message_event("kafka", user_id=user, channel_id=dm)), "a DM")

    for what, response_url_id in asked.items():
        [answer] = answers_to(fake, response_url_id, timeout=max(0.1, sent_at + ANSWER_BUDGET - time.monotonic()))
        assert TRY_AGAIN in texts(answer), what
    [dm_answer] = wait_for(lambda: fake.messages_in(dm), timeout=max(0.1, sent_at + ANSWER_BUDGET - time.monotonic()))
    assert TRY_AGAIN in texts(dm_answer)
    health = server.get("/healthz")
    assert (health.status, json.loads(health.body)) == (503, {"ok": False, "database": "unavailable"})
    assert health.seconds < ANSWER_BUDGET

    proxy.resume()
    ack, response_url_id = server.command("kafka", user=user)  # no waiting: the first request after the hang works
    acked_at_once(ack, "/talk kafka after the hang")
    assert "Scaling Kafka" in texts(answers_to(fake, response_url_id)[0])
    wait_for(lambda: server.get("/healthz").status == 200, timeout=HEALTH_FRESH_FOR + 1)  # its last answer, reused
    assert server.process.poll() is None  # the same process throughout


def test_health_check_under_a_hang_answers_within_the_timeouts_even_when_asked_many_times_at_once(server, proxy):
    """A load balancer probes every few seconds and may pile probes up: each one still answers 503 in time, and
    none is left holding a thread."""
    proxy.hang()
    time.sleep(HEALTH_FRESH_FOR)  # /healthz reuses a result this long: let the one from before the hang expire
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: server.get("/healthz"), range(8)))
    assert [reply.status for reply in replies] == [503] * 8
    assert max(reply.seconds for reply in replies) < ANSWER_BUDGET
    proxy.resume()
    wait_for(lambda: server.get("/healthz").status == 200, timeout=HEALTH_FRESH_FOR + 1)


def test_health_says_only_ok_or_unavailable_whether_the_database_answers_hangs_or_is_gone(server, proxy):
    """The body is exactly {"ok", "database"}: no exception text, version, host or port for whoever can reach it."""
    bodies = {}
    for mode in ("pass", "hang", "refuse"):
        getattr(proxy, {"pass": "resume", "hang": "hang", "refuse": "refuse"}[mode])()
        time.sleep(HEALTH_FRESH_FOR)  # /healthz reuses a result this long: let the one from the last mode expire
        reply = server.get("/healthz")
        bodies[mode] = (reply.status, json.loads(reply.body))
    proxy.resume()
    assert bodies == {
        "pass": (200, {"ok": True, "database": "ok"}),
        "hang": (503, {"ok": False, "database": "unavailable"}),
        "refuse": (503, {"ok": False, "database": "unavailable"}),
    }
