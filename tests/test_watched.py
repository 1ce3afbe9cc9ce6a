"""Watched: a "Watched" button on every talk card marks it for the clicker ("Watched ✓" undoes it); "More like this",
For you and ties in search ranking put watched talks behind; `/talk watched` and App Home list them with an undo.
Signed requests to the in-process app (tests/support), answers read back from the fake Slack."""

import json
import uuid

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy import func, select

from db.catalog_import import import_records
from db.config import sessions_for
from db.models import WatchedTalk
from db.records import TalkRecord
from db.saved_talks import save_talk
from db.search.engine import SearchEngine
from db.watched_talks import mark_watched, watched_talk_ids
from db.workspaces import forget_workspace
from tests.support.slack_server import TEAM, answers_to, button, buttons, texts, wait_for
from tests.test_search_modal import open_modal, search, section_texts

TWINS = ("Zebrafish twin A", "Zebrafish twin B", "Zebrafish twin C")  # one text, so one score for each


@pytest.fixture(scope="module", autouse=True)
def twins(seeded_database) -> dict[str, int]:
    """Three talks that rank equal for "zebrafish" (the same words), by id when nobody has watched one."""
    records = [
        TalkRecord(source="test", external_id=f"twin-{n}", title=title, summary="Zebrafish genomes at scale.")
        for n, title in enumerate(TWINS)
    ]
    with sessions_for(seeded_database).begin() as session:
        import_records(session, records)
    engine = SearchEngine(sessions_for(seeded_database))
    return {title: engine.search(f'"{title}"', limit=1).cards[0].id for title in TWINS}


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:8].upper()


def ask(server, text, user, team=TEAM) -> dict:
    ack, response_url_id = server.command(text, user=user, team=team)
    assert ack.status == 200 and ack.seconds < 3
    [answer] = answers_to(server.fake, response_url_id)
    return answer


def labels(message: dict, talk_id: int | None = None) -> list[str]:
    """The buttons' labels; with `talk_id`, those of that talk's card."""
    return [b["text"]["text"] for b in buttons(message) if talk_id is None or b.get("block_id") == f"talk-{talk_id}"]


def titles(message: dict) -> list[str]:
    return [b["text"]["text"].split("*")[1] for b in message["blocks"] if b["type"] == "section" and "*" in
            b["text"]["text"]]  # fmt: skip


def valid(message: dict) -> dict:
    for block in message["blocks"]:
        assert Block.parse(block).to_dict() == block
    return message


def watched_rows(database, user, team=TEAM) -> list[int]:
    with sessions_for(database)() as session:
        return watched_talk_ids(session, team, user)


def home_of(server, fake, user, team=TEAM, seen=0) -> dict:
    server.event({"type": "app_home_opened", "user": user, "channel": "DHOME", "tab": "home"}, team=team)
    published = wait_for(lambda: [c for c in fake.calls_to("views.publish") if c.params["user_id"] == user][seen:])
    return published[0].params["view"]


# --- the button -------------------------------------------------------------------------------------------------


def test_watched_marks_the_talk_in_place_and_watched_lists_it_until_undone(server, seeded_database):
    user = new_user()
    results = ask(server, "kafka", user)
    assert labels(results)[:4] == ["Share", "Save", "More like this", "Watched"]

    [updated] = answers_to(server.fake, server.click(button(results, "Watched"), user=user))
    assert updated["replace_original"] is True and "Marked “Scaling Kafka” as watched" in texts(valid(updated))
    [kafka] = watched_rows(seeded_database, user)
    assert labels(updated, kafka) == ["Share", "Save", "More like this", "Watched ✓"]

    listed = valid(ask(server, "watched", user))
    assert "Talks you watched (1)" in texts(listed) and "Scaling Kafka" in texts(listed)
    [undone] = answers_to(server.fake, server.click(button(listed, "Watched ✓"), user=user))
    assert "Talks you watched (0)" in texts(undone) and "No longer marked as watched." in texts(undone)
    assert watched_rows(seeded_database, user) == []


def test_watched_on_a_public_card_tells_the_clicker_alone(server, fake):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    server.dm("kafka", user=user, channel=channel)
    [posted] = wait_for(lambda: fake.messages_in(channel))

    [note] = answers_to(fake, server.click(button(posted, "Watched"), user=user, ephemeral=False, channel=channel,
                                           message=posted))  # fmt: skip
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert "as watched" in texts(note) and "`/talk watched`" in texts(note)


def test_an_empty_watched_list_says_how_to_fill_it(server):
    assert "Press *Watched* on a search result" in texts(ask(server, "watched", new_user()))


def test_a_forged_watched_button_changes_nothing(server, seeded_database):
    user = new_user()
    forged = {"action_id": "talk_watch", "value": json.dumps({"s": None, "t": 2**31 - 1, "q": ""})}

    [refusal] = answers_to(server.fake, server.click(forged, user=user))
    assert "no longer works" in texts(refusal) and watched_rows(seeded_database, user) == []


# --- what watched talks change ------------------------------------------------------------------------------------


def test_more_like_this_leaves_out_the_talks_the_clicker_watched(server, seeded_database):
    user = new_user()
    results = ask(server, "kafka", user)
    [before] = answers_to(server.fake, server.click(button(results, "More like this"), user=user))
    first = titles(before)[0]
    [marked] = answers_to(server.fake, server.click(button(before, "Watched"), user=user))

    assert first not in titles(marked) and "as watched" in texts(marked)
    [again] = answers_to(server.fake, server.click(button(results, "More like this"), user=user))
    assert first not in titles(again) and len(titles(again)) == len(titles(before))
    [someone_else] = answers_to(server.fake, server.click(button(results, "More like this"), user=new_user()))
    assert titles(someone_else)[0] == first


def test_among_equal_scores_watched_talks_come_after_the_others(server, seeded_database, twins):
    user = new_user()
    assert titles(ask(server, "zebrafish", user)) == list(TWINS)
    with sessions_for(seeded_database).begin() as session:
        mark_watched(session, TEAM, user, twins["Zebrafish twin A"])

    assert titles(ask(server, "zebrafish", user)) == ["Zebrafish twin B", "Zebrafish twin C", "Zebrafish twin A"]
    assert titles(ask(server, "zebrafish", new_user())) == list(TWINS)  # nobody else's ranking changes


def test_the_search_modal_puts_watched_talks_after_their_equals_too(server, seeded_database, twins):
    user = new_user()
    with sessions_for(seeded_database).begin() as session:
        mark_watched(session, TEAM, user, twins["Zebrafish twin A"])

    view = search(server, open_modal(server, user), {"words": "zebrafish"}, user)

    shown = [text.split("*")[1] for text in section_texts(view)[1:]]
    assert shown == ["Zebrafish twin B", "Zebrafish twin C", "Zebrafish twin A"]


def test_ties_hold_across_pages(seeded_database, twins):
    engine = SearchEngine(sessions_for(seeded_database))
    later = {twins["Zebrafish twin A"]}

    pages = [engine.search("zebrafish", limit=1, offset=offset, later=later) for offset in range(3)]

    assert [page.cards[0].title for page in pages] == ["Zebrafish twin B", "Zebrafish twin C", "Zebrafish twin A"]
    assert {page.total for page in pages} == {3}


def test_a_watched_talk_with_a_score_of_its_own_keeps_its_place(seeded_database):
    engine = SearchEngine(sessions_for(seeded_database))
    ranked = engine.search("monitoring", limit=10)
    scores = [card.score for card in ranked.cards]
    [alone, *_] = [card for card in ranked.cards if scores.count(card.score) == 1]

    again = engine.search("monitoring", limit=10, later={alone.id})

    assert [card.id for card in again.cards] == [card.id for card in ranked.cards]


# --- App Home ---------------------------------------------------------------------------------------------------


def test_home_shows_saved_and_watched_talks_each_with_its_undo(server, fake, seeded_database):
    user = new_user()
    results = ask(server, "kafka", user)
    answers_to(fake, server.click(button(results, "Save"), user=user))
    answers_to(fake, server.click(button(results, "Watched"), user=user))
    answers_to(fake, server.click(button(results, "Watched", nth=1), user=user))

    view = home_of(server, fake, user)
    assert View(**view).to_dict()["blocks"] == view["blocks"]  # raises for what slack_sdk's models refuse
    home = json.dumps(view, ensure_ascii=False)
    assert "Your saved talks* (1)" in home and "Talks you watched* (2)" in home
    assert labels(view).count("Remove") == 1 and labels(view).count("Not watched") == 2

    server.click(button(view, "Not watched"), user=user, view=view)
    republished = home_of(server, fake, user, seen=2)  # the click republishes; opening the tab would too
    assert "Talks you watched* (1)" in json.dumps(republished) and len(watched_rows(seeded_database, user)) == 1


def test_home_with_many_saved_and_watched_talks_stays_within_a_views_100_blocks(server, fake, seeded_database):
    user = new_user()
    with sessions_for(seeded_database).begin() as session:
        for talk_id in range(1, 40):
            save_talk(session, TEAM, user, talk_id)
            mark_watched(session, TEAM, user, talk_id)

    view = home_of(server, fake, user)
    assert len(view["blocks"]) <= 100 and View(**view).to_dict()["blocks"] == view["blocks"]
    assert "…and 19 more: `/talk watched` lists them all." in json.dumps(view, ensure_ascii=False)


# --- workspaces -------------------------------------------------------------------------------------------------


def test_watched_talks_belong_to_the_workspace_and_an_uninstall_deletes_them(server, fake, seeded_database):
    user, gone, staying = "USAME", "TGONE" + uuid.uuid4().hex[:4].upper(), "TSTAY" + uuid.uuid4().hex[:4].upper()
    for team, query in ((gone, "kafka"), (staying, "k8s")):
        answers_to(fake, server.click(button(ask(server, query, user, team), "Watched"), user=user, team=team))
    undo = button(ask(server, "watched", user, staying), "Watched ✓")
    answers_to(fake, server.click(undo, user=user, team=gone))  # a button from one workspace, clicked in another
    assert len(watched_rows(seeded_database, user, gone)) == len(watched_rows(seeded_database, user, staying)) == 1
    assert "Scaling Kafka" not in texts(ask(server, "watched", user, staying))

    assert server.event({"type": "app_uninstalled"}, team=gone).status == 200

    with sessions_for(seeded_database)() as session:
        rows = session.scalar(select(func.count()).select_from(WatchedTalk).where(WatchedTalk.team_id == gone))
    assert rows == 0 and len(watched_rows(seeded_database, user, staying)) == 1


def test_forget_workspace_removes_its_watched_rows_only(seeded_database):
    with sessions_for(seeded_database).begin() as session:
        mark_watched(session, "TFORGET", "UONE", 1)
        mark_watched(session, "TKEEP", "UONE", 1)
    with sessions_for(seeded_database).begin() as session:
        forget_workspace(session, "TFORGET")

    assert watched_rows(seeded_database, "UONE", "TFORGET") == [] and watched_rows(seeded_database, "UONE", "TKEEP")
