"""The search modal's views ("Search talks", the global shortcut), built from base.py's pieces:
the form, and under it a page of results with a Share button per talk and a "Share to" conversation picker.

The form's block_ids are its field names (bot/search_form.py), so field errors land on the field they are about.
The form and the page shown travel in private_metadata; a button's value is only a talk id or an offset."""

from __future__ import annotations

import re

from bot.blocks.base import MAX_TEXT, card_text, context, escape, fit, page_heading, section
from bot.search_form import (
    LENGTHS,
    MAX_LANGUAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_WORDS_CHARS,
    MAX_YEARS_CHARS,
    ORDERS,
    SearchForm,
)
from db.search.engine import ResultPage
from db.search.query import LONG_MINUTES, SHORT_MINUTES

SEARCH_MODAL = "search_talks_modal"  # the modal's callback_id: its view_submission
EVENT_OPTIONS = "search_event"  # the event menu's action_id: its block_suggestion (typeahead) requests
MODAL_SHARE = "modal_share"
MODAL_PAGE = "modal_page"
SHARE_TO, CONVERSATION = "share_to", "conversation"  # the "Share to" input: block_id, action_id
ONLY, VIDEO, RECOMMENDED = "only", "video", "recommended"
ANY_LENGTH = "any"
LENGTH_CHOICES = {
    ANY_LENGTH: "Any length", "short": f"Short ({SHORT_MINUTES} min or less)", "under30": "Under 30 min",
    "30to60": "30 to 60 min", "long": f"Long ({LONG_MINUTES} min or more)",
}  # fmt: skip
ORDER_CHOICES = {"relevance": "Best match first", "newest": "Newest first"}
MAX_VIEW_BLOCKS = 100
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MODAL_PAGE_SIZE = 20  # one block per talk: the form, notes and 20 talks stay far within 100 blocks
_CONVERSATION_ID = re.compile(r"[CGD][A-Z0-9]{2,40}")


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _input(block_id: str, label: str, element: dict, hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "optional": True, "label": _plain(label), "element": element}
    if hint:
        block["hint"] = _plain(hint)
    return block


def _text_input(form_value: str, placeholder: str, most: int) -> dict:
    element = {"type": "plain_text_input", "action_id": "value", "max_length": most, "placeholder": _plain(placeholder)}
    if form_value:
        element["initial_value"] = form_value[:most]
    return element


def option(text: str, value: str) -> dict:
    return {"text": _plain(fit(text, MAX_OPTION_TEXT)), "value": value}


def event_option(series: str, first: int, last: int) -> dict | None:
    """An entry of the event menu: the series, with the years the catalog has it; None when too long to be one."""
    if not series.strip() or len(series) > min(MAX_OPTION_VALUE, MAX_NAME_CHARS):
        return None
    years = f"{first}" if first == last else f"{first}–{last}"
    return option(f"{series} · {years}" if first else series, series)


def _menu(choices: dict[str, str], chosen: str) -> dict:
    options = [option(text, value) for value, text in choices.items()]
    return {
        "type": "static_select", "action_id": "value", "options": options,
        "initial_option": next(item for item in options if item["value"] == chosen),
    }  # fmt: skip


def _form_blocks(form: SearchForm) -> list[dict]:
    event = {
        "type": "external_select", "action_id": EVENT_OPTIONS, "min_query_length": 0,
        "placeholder": _plain("Any event"),
    }  # fmt: skip
    if form.event:
        event["initial_option"] = option(form.event, form.event)
    flags = [option("Only talks with a video", VIDEO), option("Only talks a reporter recommended", RECOMMENDED)]
    checkboxes: dict = {"type": "checkboxes", "action_id": "value", "options": flags}
    chosen = [flag for flag, on in zip(flags, (form.video, form.recommended), strict=True) if on]
    if chosen:
        checkboxes["initial_options"] = chosen
    return [
        _input("words", "Search for", _text_input(form.words, "kafka, on-call, chaos engineering…", MAX_WORDS_CHARS),
               'Typos and abbreviations are fine; the /talk filters work here too (tag:kafka, "exact words").'),
        _input("speaker", "Speaker", _text_input(form.speaker, "Liz Fong-Jones", MAX_NAME_CHARS)),
        _input("event", "Event", event),
        _input("years", "Years", _text_input(form.years, "2019, or 2015..2019", MAX_YEARS_CHARS)),
        _input("length", "Length", _menu(LENGTH_CHOICES, form.length or ANY_LENGTH),
               "Talks whose length the catalog does not know are left out of a length."),
        _input("language", "Language", _text_input(form.language, "de, or German", MAX_LANGUAGE_CHARS)),
        _input(ONLY, "Only", checkboxes),
        _input("order", "Order", _menu(ORDER_CHOICES, form.order)),
    ]  # fmt: skip


def _modal(blocks: list[dict], metadata: str) -> dict:
    assert len(blocks) <= MAX_VIEW_BLOCKS, f"{len(blocks)} blocks"
    return {
        "type": "modal", "callback_id": SEARCH_MODAL, "title": _plain("Search talks"), "submit": _plain("Search"),
        "close": _plain("Close"), "private_metadata": metadata, "blocks": blocks,
    }  # fmt: skip


def search_modal(form: SearchForm | None = None, note: str | None = None) -> dict:
    """The form alone (empty when it opens), and under it what is under way or went wrong (`note`: status_note or
    problem_note)."""
    form = form or SearchForm()
    blocks = _form_blocks(form)
    if note:
        blocks.append(context(note))
    return _modal(blocks, form.encode())


def results_modal(form: SearchForm, query: str, page: ResultPage, note: str | None = None,
                  share_to: str | None = None) -> dict:  # fmt: skip
    """The form, then a page of results: each talk with a Share button, a "Share to" picker, and paging. `note`
    (from shared_note or problem_note) says what the last click did, or what to do instead."""
    blocks = _form_blocks(form) + [{"type": "divider"}]
    if note:
        blocks.append(section(note))
    heading = f"*{page_heading(page)}* for `{escape(query)}`" if page.cards else f"No talks match `{escape(query)}`."
    blocks.append(section(heading))
    notes = page.notes + (
        [f"No talk matches every word, so these ignore “{' '.join(page.dropped_words)}”."] if page.dropped_words else []
    )
    if not page.cards and page.suggestions:
        notes.append("Did you mean: " + ", ".join(page.suggestions) + "?")
    if notes:
        blocks.append(context(escape("\n".join(notes))))
    if page.cards:
        picker = {
            "type": "conversations_select", "action_id": CONVERSATION, "placeholder": _plain("Choose a channel"),
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        }  # fmt: skip
        if share_to:
            picker["initial_conversation"] = share_to
        blocks.append(_input(SHARE_TO, "Share to", picker, "Then press Share beside a talk: it is posted there."))
    for card in page.cards:
        talk = section(fit(card_text(card), MAX_TEXT))
        talk["block_id"] = f"modal-talk-{card.id}"
        talk["accessory"] = {
            "type": "button", "text": _plain("Share"), "action_id": MODAL_SHARE, "value": str(card.id),
        }  # fmt: skip
        blocks.append(talk)
    blocks += _paging(page)
    return _modal(blocks, form.encode(page.offset))


def _paging(page: ResultPage) -> list[dict]:
    buttons = []
    if page.offset > 0:
        buttons.append(_page_button("Previous", "previous", max(0, page.offset - MODAL_PAGE_SIZE)))
    if page.has_more:
        buttons.append(_page_button("Next results", "next", page.offset + len(page.cards)))
    return [{"type": "actions", "block_id": "modal-paging", "elements": buttons}] if buttons else []


def _page_button(text: str, suffix: str, offset: int) -> dict:
    return {"type": "button", "text": _plain(text), "action_id": f"{MODAL_PAGE}.{suffix}", "value": str(offset)}


def shared_note(title: str, channel_id: str) -> str:
    return f":white_check_mark: Shared *{escape(title)}* in <#{channel_id}>."


def status_note(status: str) -> str:
    return escape(status)


def problem_note(problem: str) -> str:
    return f":warning: {escape(problem)}"


def modal_problem_view(problem: str) -> dict:
    """A modal whose content cannot be drawn (no database, say): what went wrong; the person closes it and retries."""
    return {
        "type": "modal", "title": _plain("Search talks"), "close": _plain("Close"),
        "blocks": [section(f":warning: {escape(problem)}")],
    }  # fmt: skip


def form_of(view: dict) -> SearchForm:
    """What the person filled in, read from a view's state (Slack sends every input block's value, null when empty)."""
    values = (view.get("state") or {}).get("values") or {}

    def typed(block_id: str) -> str:
        value = (values.get(block_id) or {}).get("value") or {}
        return value.get("value") or "" if isinstance(value, dict) else ""

    chosen = ((values.get("event") or {}).get(EVENT_OPTIONS) or {}).get("selected_option") or {}
    flags = ((values.get(ONLY) or {}).get("value") or {}).get("selected_options") or []
    ticked = {flag.get("value") for flag in flags if isinstance(flag, dict)}

    def selected(block_id: str) -> str:
        choice = ((values.get(block_id) or {}).get("value") or {}).get("selected_option") or {}
        return choice.get("value") or "" if isinstance(choice, dict) else ""

    length, order = selected("length"), selected("order")
    return SearchForm(
        words=_text(typed("words"), MAX_WORDS_CHARS), speaker=_text(typed("speaker"), MAX_NAME_CHARS),
        event=_text(chosen.get("value") if isinstance(chosen, dict) else "", MAX_NAME_CHARS),
        years=_text(typed("years"), MAX_YEARS_CHARS), video=VIDEO in ticked, recommended=RECOMMENDED in ticked,
        length=length if length in LENGTHS else "", language=_text(typed("language"), MAX_LANGUAGE_CHARS),
        order=order if order in ORDERS else "relevance",
    )  # fmt: skip


def share_target(view: dict) -> str | None:
    """The conversation chosen in "Share to", if any."""
    values = (view.get("state") or {}).get("values") or {}
    chosen = ((values.get(SHARE_TO) or {}).get(CONVERSATION) or {}).get("selected_conversation")
    return chosen if isinstance(chosen, str) and _CONVERSATION_ID.fullmatch(chosen) else None


def button_number(value: object, most: int) -> int:
    """A talk id or an offset from one of the modal's buttons (its value comes back from the client): 0 for
    anything talkbot did not write."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > len(str(most)):
        return 0
    return int(value) if int(value) <= most else 0


def _text(value: object, most: int) -> str:
    return value[:most] if isinstance(value, str) else ""
