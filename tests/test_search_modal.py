"""The global shortcut "Search talks" and its modal: signed `shortcut`, `view_submission`, `block_suggestion` and
`block_actions` requests to talkbot's HTTP app (in-process), the modal read back from the fake Slack (which keeps
views as Slack does, hash and all) and every view checked against slack_sdk's View and Block models."""

import json
import re
import uuid

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.answers import CHOOSE_A_CONVERSATION, SEARCHING
from bot.blocks.modal import EVENT_OPTIONS, MODAL_PAGE_SIZE, SEARCH_MODAL, SHARE_TO, search_modal
from bot.devtools.slack_payloads import FORM, view_action
from bot.listeners.shortcuts import SEARCH_TALKS
from bot.search_form import LENGTHS, SearchForm
from db.search.query import parse_query
from tests.support.slack_server import wait_for

MAX_VIEW_BLOCKS, MAX_TITLE = 100, 24


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8].upper()


def assert_valid_view(view: dict) -> None:
    """What Slack would accept as a modal: the View model (title, 100 blocks, callback_id, private_metadata) and
    each block's model, unique block_ids, and a submit button wherever there are inputs."""
    sent = {key: view[key] for key in ("type", "title", "submit", "close", "callback_id", "private_metadata",
                                       "blocks") if key in view}  # fmt: skip
    assert View(**sent).to_dict()["blocks"] == view["blocks"]
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS and len(view["title"]["text"]) <= MAX_TITLE
    for block in view["blocks"]:
        assert Block.parse(block).to_dict() == block
    block_ids = [block["block_id"] for block in view["blocks"] if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))
    assert "submit" in view or not any(block["type"] == "input" for block in view["blocks"])


def open_modal(server, user: str) -> str:
    """Choose "Search talks" from the shortcuts menu; the id of the modal it opened."""
    seen = len(server.fake.calls_to("views.open"))
    ack = server.global_shortcut(SEARCH_TALKS, user=user)
    assert ack.status == 200 and ack.seconds < 3 and ack.body == ""
    opened = server.fake.wait_for("views.open", count=seen + 1)[-1]
    assert opened.error is None, opened.problems
    assert_valid_view(opened.params["view"])
    return opened.answer["view"]["id"]


def search(server, view_id: str, filled: dict, user: str) -> dict:
    """Submit the form with `filled`; the modal once its results are in."""
    server.settle()  # anything earlier in this modal is done
    ack, errors = server.submit(view_id, filled, user=user)
    assert ack.status == 200 and ack.seconds < 3 and errors is None, ack.body
    assert json.loads(ack.body)["response_action"] == "update"  # the modal stays open…
    server.settle()  # …and views.update brings the results
    view = server.fake.view(view_id)
    assert_valid_view(view)
    return view


def section_texts(view: dict) -> list[str]:
    return [block["text"]["text"] for block in view["blocks"] if block["type"] == "section"]


def share_buttons(view: dict) -> list[dict]:
    return [
        {**block["accessory"], "block_id": block["block_id"]}
        for block in view["blocks"]
        if block.get("accessory", {}).get("action_id") == "modal_share"
    ]


def page_button(view: dict, label: str) -> dict:
    [paging] = [block for block in view["blocks"] if block["type"] == "actions"]
    return next({**b, "block_id": paging["block_id"]} for b in paging["elements"] if b["text"]["text"] == label)


# --- opening, searching, refining ------------------------------------------------------------------------------


def test_the_shortcut_opens_an_empty_search_form_in_a_modal(server, fake):
    view = fake.view(open_modal(server, new_id("U")))

    assert view["callback_id"] == SEARCH_MODAL and view["title"]["text"] == "Search talks"
    fields = {block["block_id"]: block["element"]["type"] for block in view["blocks"] if block["type"] == "input"}
    assert fields == {"words": "plain_text_input", "speaker": "plain_text_input", "event": "external_select",
                      "years": "plain_text_input", "length": "static_select", "language": "plain_text_input",
                      "only": "checkboxes", "order": "static_select"}  # fmt: skip


def test_a_search_shows_its_results_in_the_modal_which_stays_open_with_the_form_filled_in(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)

    view = search(server, view_id, {"words": "kafka"}, user)

    assert section_texts(view)[0] == "*4 talks* for `kafka`"
    assert section_texts(view)[1].startswith("*Scaling Kafka*")  # the talk's card, as in /talk
    assert len(share_buttons(view)) == 4
    words = next(block for block in view["blocks"] if block.get("block_id") == "words")
    assert words["element"]["initial_value"] == "kafka"  # to refine the search
    assert SearchForm.decode(view["private_metadata"]) == (SearchForm(words="kafka"), 0)


def test_the_submission_is_acked_at_once_with_a_searching_note_and_the_results_follow(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)

    ack, _ = server.submit(view_id, {"words": "incident"}, user=user)

    answered = json.loads(ack.body)
    assert SEARCHING in json.dumps(answered["view"], ensure_ascii=False) and ack.seconds < 3
    assert_valid_view(answered["view"])
    wait_for(lambda: "for `incident`" in json.dumps(fake.view(view_id)["blocks"]))


def test_every_filter_of_the_form_becomes_part_of_one_query(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)

    view = search(server, view_id, {"speaker": "liz fong-jones", "event": "SREcon", "years": "2015..2023",
                                    "only": ["recommended"]}, user)  # fmt: skip

    assert section_texts(view)[0] == (
        '*1 talk* for `speaker:"liz fong-jones" event:"SREcon" year:2015..2023 is:recommended`'
    )
    assert "Scaling Kafka" in section_texts(view)[1]
    ticked = next(block for block in view["blocks"] if block.get("block_id") == "only")["element"]["initial_options"]
    assert [option["value"] for option in ticked] == ["recommended"]


def test_length_language_and_order_become_filters_of_the_query_and_stay_chosen(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)

    view = search(server, view_id, {"words": "kafka", "length": "under30", "language": "German", "order": "newest"},
                  user)  # fmt: skip

    assert section_texts(view)[0] == "No talks match `kafka length:&lt;30 lang:de sort:newest`."  # seed: no lengths
    chosen = {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}
    assert chosen["length"]["initial_option"]["value"] == "under30" and chosen["order"]["initial_option"]["value"] == (
        "newest"
    )  # fmt: skip
    assert chosen["language"]["initial_value"] == "German"
    assert SearchForm.decode(view["private_metadata"])[0].query(lambda text: None) == (
        "kafka length:<30 lang:de sort:newest"
    )  # fmt: skip


def test_newest_first_orders_the_results_by_year(server, fake):
    user = new_id("U")
    view = search(server, open_modal(server, user), {"words": "kafka", "order": "newest"}, user)

    assert section_texts(view)[0] == "*4 talks* for `kafka sort:newest`"
    years = [int(re.search(r"\b(\d{4})\b", text.splitlines()[1]).group(1)) for text in section_texts(view)[1:5]]
    assert years == [2023, 2019, 2018, 2015]


def test_every_length_and_order_the_menus_offer_is_a_query_talkbot_runs():
    blocks = {block["block_id"]: block for block in search_modal()["blocks"] if block["type"] == "input"}
    lengths = [choice["value"] for choice in blocks["length"]["element"]["options"]]
    orders = [choice["value"] for choice in blocks["order"]["element"]["options"]]

    queries = {
        SearchForm(words="kafka", length=value if value in LENGTHS else "").query(parse_query) for value in lengths
    }
    assert queries == {"kafka", "kafka is:short", "kafka length:<30", "kafka length:30..60", "kafka is:long"}
    assert [SearchForm(words="kafka", order=value).query(parse_query) for value in orders] == [
        "kafka", "kafka sort:newest",
    ]  # fmt: skip


@pytest.mark.parametrize("forged", [{"length": "forever"}, {"order": "oldest"}, {"language": "x" * 21}])
def test_a_forged_length_order_or_language_in_the_metadata_is_refused(forged):
    with pytest.raises(ValueError):
        SearchForm.decode(json.dumps({**json.loads(SearchForm(words="kafka").encode()), **forged}))


def test_a_search_that_finds_nothing_says_so_in_the_modal(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)

    view = search(server, view_id, {"words": "kafka", "only": ["video"]}, user)

    assert section_texts(view)[0] == "No talks match `kafka has:video`."
    assert "No talk passing the other filters has a video." in json.dumps(view["blocks"]) or share_buttons(view) == []
    assert not any(block.get("block_id") == SHARE_TO for block in view["blocks"])  # nothing to share


# --- bad input: an error on the field, the modal unchanged ------------------------------------------------------


@pytest.mark.parametrize(
    ("filled", "field", "message"),
    [({"years": "abc"}, "years", "Write a year like 2019, or a range like 2015..2019."),
     ({"years": "2019..2015"}, "years", "runs backwards: write 2015..2019"),
     ({"years": "1850"}, "years", "from 1900 to 2100"),
     ({"speaker": "!!!"}, "speaker", "no letters or digits"),
     ({"words": '"chaos engineering'}, "words", "is not closed"),
     ({"words": "room:12"}, "words", "There is no `room:` filter"),
     ({"words": "kafka has:slides"}, "words", "Write has:video"),
     ({"language": "klingon"}, "language", "“klingon” is not a language talkbot knows: write its two-letter code"),
     ({"words": "kafka is:long", "length": "short"}, "words", "exclude each other"),
     ({"words": " ".join(f"w{n}" for n in range(11))}, "words", "up to 10"),
     ({}, "words", "Type what you are looking for")],
)  # fmt: skip
def test_a_submission_with_bad_input_gets_an_error_on_its_field_and_no_search(server, fake, filled, field, message):
    user = new_id("U")
    view_id = open_modal(server, user)
    before = fake.view(view_id)

    ack, errors = server.submit(view_id, filled, user=user)
    server.settle()

    assert ack.status == 200 and json.loads(ack.body)["response_action"] == "errors"
    assert list(errors) == [field] and message in errors[field]
    assert fake.view(view_id)["hash"] == before["hash"]  # still the form as the person left it: nothing searched
    assert not [call for call in fake.calls_to("views.update") if call.params.get("view_id") == view_id]


def test_several_bad_fields_get_one_error_each(server, fake):
    user = new_id("U")
    _, errors = server.submit(open_modal(server, user), {"speaker": "???", "years": "soon"}, user=user)

    assert set(errors) == {"speaker", "years"}


# --- the event menu's typeahead ---------------------------------------------------------------------------------


def typeahead(server, typed: str) -> list[dict]:
    user = new_id("U")
    reply = server.suggest(open_modal(server, user), typed, action_id=EVENT_OPTIONS, block_id="event", user=user)
    assert reply.status == 200 and reply.seconds < 3
    return json.loads(reply.body)["options"]


def test_the_event_menu_offers_the_catalogs_conferences_matching_what_is_typed(server):
    assert typeahead(server, "sre") == [
        {"text": {"type": "plain_text", "text": "SREcon · 2022–2023", "emoji": True}, "value": "SREcon"}
    ]
    assert [option["value"] for option in typeahead(server, "EU")] == ["Velocity", "YAPC::EU"]  # edition names too


def test_the_event_menu_lists_every_conference_before_anything_is_typed(server):
    options = typeahead(server, "")

    assert [o["value"] for o in options] == ["Communities in Action", "dotScale", "SREcon", "Surge", "Velocity",
                                             "YAPC::EU"]  # fmt: skip
    for option in options:
        assert len(option["text"]["text"]) <= 75 and len(option["value"]) <= 150


@pytest.mark.parametrize("typed", ["%", "_", "' OR 1=1 --", "x" * 5000, "🔥", "\x07\x1b[31m"])
def test_an_absurd_typed_value_gets_no_options_not_an_error(server, typed):
    assert typeahead(server, typed) == []


def test_an_event_chosen_from_the_menu_narrows_the_search(server, fake):
    user = new_id("U")
    view = search(server, open_modal(server, user), {"event": "Velocity", "years": "2011"}, user)

    assert section_texts(view)[0].startswith("*") and 'event:"Velocity" year:2011..2011`' in section_texts(view)[0]
    event = next(block for block in view["blocks"] if block.get("block_id") == "event")
    assert event["element"]["initial_option"]["value"] == "Velocity"


# --- sharing a talk to a chosen conversation --------------------------------------------------------------------


def share_first(server, fake, user: str, share_to: str | None, query: str = "kafka") -> tuple[dict, dict]:
    """Search, choose `share_to` in "Share to", press Share on the first talk; (the talk's button, the modal after)."""
    view_id = open_modal(server, user)
    view = search(server, view_id, {"words": query}, user)
    button = share_buttons(view)[0]
    filled = {"words": query, SHARE_TO: share_to} if share_to else {"words": query}
    assert server.press_in_view(button, view_id, filled, user=user).status == 200
    server.settle()
    after = fake.view(view_id)
    assert_valid_view(after)
    return button, after


def test_share_posts_the_talk_in_the_chosen_channel_and_the_modal_says_where(server, fake):
    user, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [user, fake.bot_user_id])

    _, after = share_first(server, fake, user, channel)

    [posted] = fake.messages_in(channel)
    assert f"<@{user}> shared a talk" in json.dumps(posted["blocks"]) and "Scaling Kafka" in posted["text"]
    assert section_texts(after)[0] == f":white_check_mark: Shared *Scaling Kafka* in <#{channel}>."
    share_to = next(block for block in after["blocks"] if block.get("block_id") == SHARE_TO)
    assert share_to["element"]["initial_conversation"] == channel  # ready for the next Share


@pytest.mark.parametrize(
    ("private", "said"),
    [(False, "I am not in <#{channel}>: invite me there with `/invite @talkbot`, then press Share again."),
     (True, "I cannot see <#{channel}>")],
)  # fmt: skip
def test_share_where_talkbot_is_not_a_member_posts_nothing_and_says_what_to_do(server, fake, private, said):
    user, channel = new_id("U"), new_id("G" if private else "C")
    fake.set_channel(channel, is_private=private)
    fake.set_channel_members(channel, [user])  # talkbot was never invited

    _, after = share_first(server, fake, user, channel)

    assert fake.messages_in(channel) == []
    assert said.format(channel=channel) in section_texts(after)[0] and "Shared" not in section_texts(after)[0]


def test_share_without_a_conversation_chosen_asks_for_one(server, fake):
    _, after = share_first(server, fake, new_id("U"), None)

    assert section_texts(after)[0] == f":warning: {CHOOSE_A_CONVERSATION}"


def test_share_when_slack_refuses_for_a_missing_scope_says_to_reinstall(server, fake):
    user, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [user, fake.bot_user_id])
    fake.fail_next("chat.postMessage", "missing_scope")

    _, after = share_first(server, fake, user, channel)

    assert fake.messages_in(channel) == [] and "ask a workspace admin to reinstall" in section_texts(after)[0]


def test_a_replayed_share_click_posts_the_talk_once(server, fake):
    user, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [user, fake.bot_user_id])
    view_id = open_modal(server, user)
    view = search(server, view_id, {"words": "kafka"}, user)
    body = view_action(share_buttons(view)[0], view, user_id=user, team_id="T0001", filled={SHARE_TO: channel})

    assert server.post(body, FORM).status == 200 and server.post(body, FORM).status == 200
    server.settle()

    assert len(fake.messages_in(channel)) == 1


@pytest.mark.parametrize("value", ["99999999", "9999999999", "-1", "١٢", "kafka"])
def test_a_forged_share_button_is_refused_politely(server, fake, value):
    user, channel = new_id("U"), new_id("C")
    fake.set_channel_members(channel, [user, fake.bot_user_id])
    view_id = open_modal(server, user)
    view = search(server, view_id, {"words": "kafka"}, user)
    forged = {**share_buttons(view)[0], "value": value}

    server.press_in_view(forged, view_id, {SHARE_TO: channel}, user=user)
    server.settle()

    assert fake.messages_in(channel) == []
    assert "That button no longer works" in json.dumps(fake.view(view_id)["blocks"])


# --- paging and stale views -------------------------------------------------------------------------------------


def test_next_and_previous_page_through_the_results_inside_the_modal(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)
    first = search(server, view_id, {"only": ["recommended"]}, user)
    assert section_texts(first)[0] == "*Talks 1–20 of 35* for `is:recommended`"
    assert len(share_buttons(first)) == MODAL_PAGE_SIZE

    server.press_in_view(page_button(first, "Next results"), view_id, {"only": ["recommended"]}, user=user)
    server.settle()
    second = fake.view(view_id)
    assert_valid_view(second)
    assert section_texts(second)[0] == "*Talks 21–35 of 35* for `is:recommended`"
    assert not {b["value"] for b in share_buttons(first)} & {b["value"] for b in share_buttons(second)}

    server.press_in_view(page_button(second, "Previous"), view_id, user=user)
    server.settle()
    assert section_texts(fake.view(view_id))[0] == "*Talks 1–20 of 35* for `is:recommended`"


def test_a_click_on_a_view_since_replaced_leaves_the_newer_view_alone(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)
    stale = search(server, view_id, {"only": ["recommended"]}, user)
    newer = search(server, view_id, {"words": "kafka", "only": []}, user)

    body_view = {
        **newer,
        "hash": stale["hash"],
        "blocks": stale["blocks"],
        "private_metadata": stale["private_metadata"],
    }
    # a click Slack had on its way before the new search

    server.post(view_action(page_button(stale, "Next results"), body_view, user_id=user, team_id="T0001"), FORM)
    server.settle()

    [refused] = [c for c in fake.refused("views.update") if c.params.get("view_id") == view_id]
    assert refused.error == "hash_conflict"
    assert section_texts(fake.view(view_id))[0] == "*4 talks* for `kafka`"


def test_the_modal_private_metadata_is_checked_like_a_button_value(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)
    view = search(server, view_id, {"words": "kafka"}, user)
    forged = {**view, "private_metadata": json.dumps({"words": "x" * 5000})}
    server.post(view_action(share_buttons(view)[0], forged, user_id=user, team_id="T0001"), FORM)
    server.settle()

    assert "That button no longer works" in json.dumps(fake.view(view_id)["blocks"])


# --- failures: told where the person is looking -----------------------------------------------------------------


def test_a_modal_slack_would_not_open_is_explained_in_a_direct_message(server, fake):
    user = new_id("U")
    fake.fail_next("views.open", "expired_trigger_id")

    assert server.global_shortcut(SEARCH_TALKS, user=user).status == 200
    server.settle()

    [note] = [call for call in fake.calls_to("chat.postMessage") if call.params.get("channel") == user]
    assert note.error is None and "Slack would not show my answer" in note.params["text"]


def test_results_slack_refused_leave_a_note_in_the_modal_instead(server, fake):
    user = new_id("U")
    view_id = open_modal(server, user)
    fake.fail_next("views.update", "invalid_arguments")

    server.submit(view_id, {"words": "kafka"}, user=user)
    server.settle()

    view = fake.view(view_id)
    assert_valid_view(view)
    assert section_texts(view) == [":warning: Slack would not show my answer (it has been logged for us to fix). "
                                   "Please try again."]  # fmt: skip
