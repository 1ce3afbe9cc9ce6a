"""Block Kit payloads: inside Slack's limits whatever the catalog holds, catalog text inert, button values safe."""

import json
from dataclasses import replace

import pytest
from slack_sdk.models.blocks import Block, ImageBlock, ImageElement, SectionBlock

from bot.blocks.base import (
    MAX_ALT_TEXT,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_HOME_BLOCKS,
    MAX_IMAGE_URL,
    MAX_TEXT,
    ButtonValue,
    Screen,
    card_blocks,
    card_section,
    card_text,
    escape,
    section,
)
from bot.blocks.digest import digest_message, digest_preview_message
from bot.blocks.home import home_view
from bot.blocks.messages import (
    help_message,
    no_match_message,
    public_results_message,
    results_message,
    saved_message,
    shared_message,
    unfurl_blocks,
)
from db.cards import TalkCard
from db.languages import DEFAULT_LANGUAGE_VARIABLE
from db.search.engine import ResultPage


def card(talk_id=1, **fields) -> TalkCard:
    defaults = dict(
        id=talk_id, title="Scaling Kafka", speakers=["Liz Fong-Jones"], event="SREcon23 Americas", year=2023,
        city="Santa Clara", talk_type="talk", tags=["kafka"], summary="How a team scaled Kafka.", url=None,
        video_url=None, recommendation=None, score=1.0, reasons=[],
    )  # fmt: skip
    return TalkCard(**{**defaults, **fields})


HOSTILE = card(
    title="<!channel> & <@U123> " + "very long title " * 60,
    speakers=[f"Speaker <!here> {n}" for n in range(60)],
    summary="<https://evil.example|click> " + "words " * 3000,
    url="https://example.org/a>b|c d",
    video_url="https://example.org/video",
)


def all_texts(message: dict) -> list[str]:
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(element["text"] if isinstance(element.get("text"), str) else element["text"]["text"])
    return found


def all_buttons(message: dict) -> list[dict]:
    return [e for b in message["blocks"] for e in b.get("elements", []) if e.get("type") == "button"]


def test_catalog_text_cannot_mention_anyone_or_fake_a_link():
    text = card_text(HOSTILE)

    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "<https://evil.example|" not in text
    assert text.startswith("*<https://example.org/a%3Eb%7Cc%20d|")


def test_results_stay_inside_block_kit_limits_with_huge_catalog_text_and_query():
    page = ResultPage(cards=[HOSTILE] * 5, total=500, offset=5, notes=["n" * 5000], dropped_words=["w" * 4000])
    message = results_message(Screen("search", 'q"' * 3000, 5), page, saved_ids={1})

    assert len(message["blocks"]) <= MAX_BLOCKS
    assert all(len(text) <= MAX_TEXT for text in all_texts(message))
    for button in all_buttons(message):
        assert len(button["text"]["text"]) <= MAX_BUTTON_TEXT
        assert len(button["value"]) <= MAX_BUTTON_VALUE
        assert ButtonValue.decode(button["value"]).screen.kind == "search"


def test_the_saved_list_pages_and_the_home_tab_caps_long_lists():
    cards = [card(n) for n in range(1, 60)]

    second_page = saved_message(cards, offset=5)
    assert "Your saved talks (59)" in json.dumps(second_page)
    assert [b["text"]["text"] for b in all_buttons(second_page)][-2:] == ["Previous", "Next results"]
    assert len(second_page["blocks"]) <= MAX_BLOCKS
    assert "…and 39 more" in json.dumps(home_view(cards), ensure_ascii=False)
    assert len(home_view(cards)["blocks"]) <= MAX_HOME_BLOCKS


def test_a_shared_talk_credits_the_sharer_and_offers_no_share_button():
    message = shared_message(card(), "UALICE")

    assert message["blocks"][0]["elements"][0]["text"] == "<@UALICE> shared a talk"
    assert [b["text"]["text"] for b in all_buttons(message)] == ["Save", "More like this", "Watched"]


def test_no_match_offers_each_suggestion_as_a_search_button():
    page = ResultPage(cards=[], total=0, suggestions=["kubernetes", "kube"])
    message = no_match_message("kubrnetis", page, [card()])

    labels = [b["text"]["text"] for b in all_buttons(message)]
    assert labels[:2] == ["kubernetes", "kube"]
    assert ButtonValue.decode(all_buttons(message)[0]["value"]).query == "kubernetes"


@pytest.mark.parametrize(
    "value",
    ["", "null", "[]", '{"t": -1}', '{"t": true}', '{"t": "1"}', '{"t": 1, "s": {"k": "admin"}}',
     '{"t": 1, "s": {"k": "search", "o": 99999999}}', '{"t": 1, "q": 5}', '{"t": 4294967296}'],
)  # fmt: skip
def test_button_values_that_talkbot_did_not_write_are_rejected(value):
    with pytest.raises(ValueError):
        ButtonValue.decode(value)


def test_button_values_round_trip():
    value = ButtonValue(Screen("similar", "kafka streams", 5, 42), 7, "kafka")
    assert ButtonValue.decode(value.encode()) == value


def test_escape_handles_the_three_characters_slack_reserves():
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_a_card_without_a_known_speaker_leaves_the_speaker_part_out():
    text = card_text(card(speakers=[], url="https://example.org/talk"))

    assert text.splitlines()[1] == "SREcon23 Americas (2023)"
    assert "nknown" not in text


def test_a_page_showing_every_result_counts_talks_naturally():
    one = results_message(Screen("search", "kafka"), ResultPage(cards=[card()], total=1), set())
    three = public_results_message("kafka", ResultPage(cards=[card(n) for n in (1, 2, 3)], total=3))

    assert all_texts(one)[0] == "1 talk for `kafka`" and one["text"] == "1 talk for “kafka”"
    assert all_texts(three)[0] == "3 talks for `kafka`"


def test_a_page_showing_part_of_the_results_says_which_part():
    first = results_message(Screen("search", "kafka"), ResultPage([card(n) for n in range(5)], 12), set())
    later = results_message(Screen("search", "kafka", 10), ResultPage([card(10), card(11)], 12, 10), set())

    assert all_texts(first)[0] == "Talks 1–5 of 12 for `kafka`"
    assert all_texts(later)[0] == "Talks 11–12 of 12 for `kafka`"


def test_the_help_card_in_a_conversation_does_not_promise_privacy():
    private, public = " ".join(all_texts(help_message())), " ".join(all_texts(help_message(public=True)))

    assert "Only you see the results" in private
    assert "Only you see" not in public and "posted in the conversation" in public


THUMBNAIL = "https://i.ytimg.com/vi/abc/hqdefault.jpg"


def test_a_card_with_a_thumbnail_shows_it_as_the_sections_image_accessory_with_alt_text():
    [talk, actions] = card_blocks(card(thumbnail_url=THUMBNAIL), None, saved=False, shareable=True)

    assert talk["accessory"] == {
        "type": "image", "image_url": THUMBNAIL, "alt_text": "Thumbnail of “Scaling Kafka”",
    }  # fmt: skip
    parsed = Block.parse(talk)
    assert isinstance(parsed, SectionBlock) and isinstance(parsed.accessory, ImageElement)
    assert parsed.to_dict() == talk  # slack_sdk's models accept it as it is
    assert actions["type"] == "actions"


def test_a_card_without_a_thumbnail_looks_as_it_did_before():
    plain = card()

    assert card_blocks(plain, None, saved=False, shareable=True)[0] == section(card_text(plain))
    assert "image" not in json.dumps(results_message(Screen("search", "kafka"), ResultPage([plain], 1), set()))
    assert "image" not in json.dumps(digest_message(plain, ["on “kafka”"], "weekly"))
    assert "image" not in json.dumps(unfurl_blocks(plain))


def test_a_thumbnail_stays_inside_block_kits_limits_whatever_the_title_and_one_past_them_is_left_out():
    longest = "https://i.ytimg.com/" + "v" * (MAX_IMAGE_URL - len("https://i.ytimg.com/"))
    hostile = replace(HOSTILE, title="<!channel> " + "x" * 3000, thumbnail_url=longest)

    image = card_section(hostile)["accessory"]
    assert (len(image["image_url"]), len(image["alt_text"])) == (MAX_IMAGE_URL, MAX_ALT_TEXT)
    assert image["alt_text"].startswith("Thumbnail of “<!channel> xxx")  # plain text: Slack shows it, never parses
    Block.parse(card_section(hostile)).to_dict()
    assert "accessory" not in card_section(replace(hostile, thumbnail_url=longest + "v"))
    assert "accessory" not in card_section(replace(hostile, thumbnail_url="http://i.ytimg.com/x.jpg"))


def test_the_digest_shows_the_thumbnail_large_in_an_image_block_titled_with_the_talk():
    pictured = card(thumbnail_url=THUMBNAIL)

    post = digest_message(pictured, ["on “kafka”"], "weekly")

    plain = digest_message(card(), ["on “kafka”"], "weekly")
    assert [block["type"] for block in post["blocks"]] == ["header", "section", "image", "context", "actions"]
    assert post["blocks"][1] == plain["blocks"][1]  # no accessory too: the picture is shown once, large
    image = post["blocks"][2]
    assert image == {
        "type": "image", "image_url": THUMBNAIL, "alt_text": "Thumbnail of “Scaling Kafka”",
        "title": {"type": "plain_text", "text": "Scaling Kafka", "emoji": True},
    }  # fmt: skip
    assert isinstance(Block.parse(image), ImageBlock) and Block.parse(image).to_dict() == image
    preview = digest_preview_message(pictured, ["on “kafka”"], "weekly", "Monday")
    assert [block["type"] for block in preview["blocks"]][2:4] == ["section", "image"]


def test_thumbnails_add_no_blocks_to_lists_so_every_surface_keeps_its_block_limit():
    cards = [card(n) for n in range(1, 6)]
    pictured = [replace(c, thumbnail_url=THUMBNAIL) for c in cards]
    page, screen = ResultPage(cards=cards, total=40, offset=5), Screen("search", "kafka", 5)

    plain = results_message(screen, page, set())
    with_thumbnails = results_message(screen, replace(page, cards=pictured), set())

    assert len(with_thumbnails["blocks"]) == len(plain["blocks"]) <= MAX_BLOCKS
    assert sum("accessory" in block for block in with_thumbnails["blocks"]) == 5


def test_a_card_says_how_long_a_talk_is_and_its_language_unless_it_is_the_default(monkeypatch):
    monkeypatch.delenv(DEFAULT_LANGUAGE_VARIABLE, raising=False)

    assert card_text(card(duration_minutes=45, language="de")).splitlines()[1].endswith(" · 45 min · German")
    assert card_text(card(duration_minutes=45, language="en")).splitlines()[1].endswith(" · 45 min")
    assert card_text(card(language="pt-br")).splitlines()[1].endswith("(2023) · Portuguese")
    assert " min" not in card_text(card(duration_minutes=None))  # a length not known is not guessed
    assert card_text(card(language="tlh")).splitlines()[1].endswith(" · TLH")  # a code without a name, as itself

    monkeypatch.setenv(DEFAULT_LANGUAGE_VARIABLE, "de")
    assert card_text(card(duration_minutes=30, language="de")).splitlines()[1].endswith(" · 30 min")
    assert card_text(card(duration_minutes=30, language="en")).splitlines()[1].endswith(" · 30 min · English")


def test_every_surface_that_shows_a_card_shows_its_length_and_language():
    german = card(duration_minutes=45, language="de")
    page = ResultPage(cards=[german], total=1)
    surfaces = [
        results_message(Screen("search", "kafka"), page, set()),
        public_results_message("kafka", page),
        home_view([german]),
        shared_message(german, "U1"),
        unfurl_blocks(german),
        digest_message(german, ["It matches this channel's topic."], "weekly"),
    ]
    for payload in surfaces:
        assert any("45 min · German" in text for text in all_texts(payload))
        assert all(Block.parse(block).to_dict() == block for block in payload["blocks"])


def test_the_help_card_shows_the_length_language_and_order_filters_as_slack_displays_them():
    payload = help_message()
    text = " ".join(all_texts(payload))

    for written in ("length:&lt;30", "length:&gt;45", "is:short", "is:long", "lang:de", "sort:newest"):
        assert written in text, written
    assert "unknown lengths never match" in text and "at most 20 minutes" in text and "at least 45" in text
    assert "<30" not in text  # Slack would read `<30 … >45` as a link
    assert all(Block.parse(block).to_dict() == block for block in payload["blocks"])
