"""Properties that hold for any input: the query parser, ranking, Block Kit payloads and importers fail only in
the ways they promise (QueryError, ValueError, ImportFileError), and a failed import leaves the catalog as it was."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.blocks.base import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_HOME_BLOCKS,
    MAX_TALK_ID,
    MAX_TEXT,
    ButtonValue,
    Screen,
)
from bot.blocks.digest import digest_message
from bot.blocks.home import home_view
from bot.blocks.messages import (
    no_match_message,
    public_results_message,
    results_message,
    saved_message,
    shared_message,
    similar_message,
)
from db.cards import TalkCard
from db.catalog import catalog_revision, talk_count
from db.catalog_import import import_records
from db.config import dispose_engine, sessions_for
from db.importers import FORMATS, ImportFileError, read_catalog_file
from db.importers.talkbot_format import catalog_document, parse_talkbot_catalog
from db.migrate import upgrade
from db.models import TALK_TYPES, Speaker, Tag
from db.search.engine import ResultPage
from db.search.index import CatalogIndex, TalkText
from db.search.query import EARLIEST_YEAR, LATEST_YEAR, MAX_WORDS, QueryError, parse_query
from db.search.ranking import rank
from db.search.vocabulary import default_vocabulary

FIXTURES = Path(__file__).parent / "importers" / "fixtures"
SEED = Path(__file__).resolve().parents[1] / "db" / "seed" / "talks.yaml"
VOCABULARY = default_vocabulary()
SEED_INDEX = CatalogIndex(
    TalkText.from_record(number, record)
    for number, record in enumerate(read_catalog_file(SEED, "talkbot").records, start=1)
)
SHARER = "U123ABC"


def repeated(pieces: st.SearchStrategy[str], most: int) -> st.SearchStrategy[str]:
    """Long text: one piece over and over, up to `most` characters."""
    return st.builds(lambda piece, times: (piece * times)[:most], pieces, st.integers(1, most))


# The query parser ---------------------------------------------------------------------------------------------

QUERY_PIECES = [
    "speaker:", "event:", "year:", "tag:", "foo:", "http://x", '"', '""', ":", "..", " ", "\t", "\n", "\x00", "\x1f",
    "\x7f", "2019", "1899", "2101", "-5", "99999999999999999999", "٢٠١٩", "２０１９", "1_999", "kafka", "kafak",
    "k8s", "o11y", "site reliability engineering", "chaos", "the", "any", "talks", "about", "🎤", "👍🏽", "ß", "İ",
    "ﬁ", "e\u0301", "<!channel>", "<@U1>", "&",
]  # fmt: skip
query_texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(QUERY_PIECES), st.text(max_size=8)), max_size=40).map("".join),
    repeated(st.sampled_from(QUERY_PIECES) | st.text(min_size=1, max_size=12), 10_000),
)


@settings(max_examples=400, deadline=None)
@given(query_texts, st.booleans())
@example("year:2019 year:..2010", False)
@example(" ".join(f"tag:zz{n}" for n in range(60)), True)
def test_any_text_parses_to_a_query_or_a_query_error(text, with_stopwords):
    try:
        query = parse_query(text, VOCABULARY.stopwords if with_stopwords else frozenset())
    except QueryError as error:
        assert str(error).strip()
        return
    assert len(query.words) <= MAX_WORDS
    if query.years is not None:
        first, last = query.years
        assert EARLIEST_YEAR <= first <= last <= LATEST_YEAR


# Ranking ------------------------------------------------------------------------------------------------------

HOSTILE = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@W1|bob>", "<#C1>", "<!subteam^S1>",
    "<https://evil.example|click>", "&", "&amp;", "&lt;", "<", ">", "|", "*", "_", "~", "`", "```", ":", '"', "'",
    "\n", "\t", "\x00", "\u202e", "🎤", "👍🏽", "e\u0301", "ﬁ", " ", ". ", "2023", "kafka", "Kafka Streams",
]  # fmt: skip
catalog_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20)), max_size=30).map("".join),
    repeated(st.sampled_from(HOSTILE) | st.text(min_size=1, max_size=10), 20_000),
)
short_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=10)), max_size=6).map("".join)


def ranked_query(index: CatalogIndex, text: str, limit: int, offset: int):
    """rank() for the query, or None when the text does not parse."""
    try:
        query = parse_query(text, VOCABULARY.stopwords)
    except QueryError:
        return None
    return rank(index, query, VOCABULARY, limit=limit, offset=offset)


def check_ranking(index: CatalogIndex, ranking, limit: int, offset: int) -> None:
    ids = [hit.talk_id for hit in ranking.hits]
    scores = [hit.score for hit in ranking.hits]
    assert len(ids) == min(limit, max(0, ranking.total - offset))
    assert len(set(ids)) == len(ids)
    assert set(ids) <= set(index.talk_ids.tolist())
    assert scores == sorted(scores, reverse=True)


@settings(max_examples=250, deadline=None)
@given(query_texts, st.integers(1, 20), st.integers(0, 30))
@example('kafak "chaos engineering" speaker:fong year:2015..', 5, 0)
def test_ranking_the_seed_catalog_never_fails_and_keeps_its_promises(text, limit, offset):
    ranking = ranked_query(SEED_INDEX, text, limit, offset)
    if ranking is not None:
        check_ranking(SEED_INDEX, ranking, limit, offset)


talk_texts = st.builds(
    TalkText,
    talk_id=st.integers(1, MAX_TALK_ID),
    title=short_text,
    tags=st.lists(short_text, max_size=3).map(tuple),
    speakers=st.lists(short_text, max_size=3).map(tuple),
    event=short_text,
    summary=short_text,
    year=st.integers(0, 2100),
    recommended=st.booleans(),
    has_video=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(talk_texts, max_size=8, unique_by=lambda talk: talk.talk_id), query_texts, st.integers(1, 10),
       st.integers(0, 10))  # fmt: skip
def test_ranking_any_small_catalog_never_fails_and_keeps_its_promises(talks, text, limit, offset):
    index = CatalogIndex(talks)
    ranking = ranked_query(index, text, limit, offset)
    if ranking is not None:
        check_ranking(index, ranking, limit, offset)


# Block Kit ----------------------------------------------------------------------------------------------------

urls = st.one_of(
    st.none(),
    catalog_text,
    st.builds("https://example.org/{}".format, catalog_text),
    st.sampled_from(["", "!channel", "!here|x", "@U123", "#C123", " !everyone", "https://x.org/<!channel>"]),
)
cards = st.builds(
    TalkCard,
    id=st.integers(1, MAX_TALK_ID),
    title=catalog_text,
    speakers=st.lists(short_text | catalog_text, max_size=60),
    event=st.none() | catalog_text,
    year=st.none() | st.integers(EARLIEST_YEAR, LATEST_YEAR),
    city=st.none() | short_text,
    talk_type=st.sampled_from(TALK_TYPES),
    tags=st.lists(short_text, max_size=10),
    summary=catalog_text,
    url=urls,
    video_url=urls,
    recommendation=st.none() | catalog_text,
    score=st.floats(allow_nan=False),
    reasons=st.lists(short_text, max_size=5),
)
screens = st.builds(Screen, st.sampled_from(["search", "similar", "saved"]), query_texts, st.integers(0, 10_000),
                    st.integers(0, MAX_TALK_ID))  # fmt: skip


@st.composite
def pages(draw) -> ResultPage:
    """A page of up to five cards, with notes, dropped words and suggestions as a ranking may give them."""
    found = draw(st.lists(cards, max_size=5))
    offset = draw(st.integers(0, 10_000))
    return ResultPage(
        cards=found,
        total=offset + len(found) + draw(st.integers(0, 10**6)),
        offset=offset,
        dropped_words=draw(st.lists(short_text, max_size=MAX_WORDS)),
        notes=draw(st.lists(short_text | catalog_text, max_size=60)),
        suggestions=draw(st.lists(short_text | catalog_text, max_size=5)),
    )


def nodes(value):
    """Every dict in a payload, depth first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from nodes(child)


def check_payload(payload: dict, max_blocks: int = MAX_BLOCKS, credit: str | None = None) -> None:
    """Within Block Kit's limits, every button value readable back, and no mention but the sharer's credit in any
    text Slack formats (mrkdwn, and the notification's fallback text; plain_text is never formatted)."""
    assert len(payload["blocks"]) <= max_blocks
    formatted = [payload["text"]] if "text" in payload else []
    for node in nodes(payload["blocks"]):
        if node.get("type") in ("mrkdwn", "plain_text"):
            assert len(node["text"]) <= MAX_TEXT
        if node.get("type") == "mrkdwn":
            formatted.append(node["text"])
        if node.get("type") == "button":
            assert len(node["text"]["text"]) <= MAX_BUTTON_TEXT
            assert len(node["value"]) <= MAX_BUTTON_VALUE
            assert isinstance(ButtonValue.decode(node["value"]), ButtonValue)
    assert len(payload.get("text", "")) <= MAX_TEXT
    for text in formatted:
        if credit:
            text = text.replace(f"<@{credit}> shared a talk", "", 1)
        assert "<!" not in text and "<@" not in text, text[:300]


BLOCK_SETTINGS = settings(max_examples=60, deadline=None)


@BLOCK_SETTINGS
@given(screens, pages(), st.sets(st.integers(1, MAX_TALK_ID), max_size=5), st.none() | short_text)
@example(Screen("search", "x"), ResultPage([], 0, notes=["No talk has a tag matching “zz”."] * 57), set(), None)
def test_results_stay_within_block_kit_and_mention_nobody(screen, page, saved_ids, note):
    check_payload(results_message(screen, page, saved_ids, note))


@BLOCK_SETTINGS
@given(query_texts, pages(), st.lists(cards, max_size=3))
@example(
    "",
    ResultPage([TalkCard(1, "t", [], None, None, None, "talk", [], "", None, None, None, 0.0, [])], 10_002, 9_999),
    [],
)
def test_public_results_and_no_match_stay_within_block_kit(query, page, starters):
    check_payload(public_results_message(query, page))
    check_payload(no_match_message(query, page, starters))


@BLOCK_SETTINGS
@given(cards, screens, pages(), st.sets(st.integers(1, MAX_TALK_ID), max_size=5))
def test_similar_talks_stay_within_block_kit(source, screen, page, saved_ids):
    check_payload(similar_message(source, screen, page, saved_ids))


@BLOCK_SETTINGS
@given(st.lists(cards, max_size=30), st.integers(0, 40), st.none() | short_text)
def test_the_saved_list_and_home_tab_stay_within_block_kit(saved, offset, note):
    check_payload(saved_message(saved, offset, note))
    subscriptions = [("C0123", "weekly, Monday 09:00 Europe/Berlin", topic, paused) for topic, paused in
                     zip([note or "", "kafka"], [None, note], strict=True)]  # fmt: skip
    check_payload(home_view(saved, subscriptions), MAX_HOME_BLOCKS)


@BLOCK_SETTINGS
@given(cards, st.lists(short_text | catalog_text, max_size=5), st.sampled_from(["weekly", "daily"]))
@example(TalkCard(1, "t", [], None, None, None, "talk", [], "", "!channel", "@U1", None, 0.0, []), [], "weekly")
def test_shared_and_digest_posts_credit_only_the_sharer(card, reasons, cadence):
    check_payload(shared_message(card, SHARER), credit=SHARER)
    check_payload(digest_message(card, reasons, cadence))


@st.composite
def search_pages(draw) -> tuple[str, ResultPage]:
    """A query and the page the seed catalog really answers it with (notes, dropped words, suggestions)."""
    text = draw(query_texts)
    ranking = ranked_query(SEED_INDEX, text, 5, 0)
    if ranking is None:
        return text, ResultPage([], 0)
    found = draw(st.lists(cards, min_size=len(ranking.hits), max_size=len(ranking.hits)))
    return text, ResultPage(found, ranking.total, 0, ranking.dropped_words, ranking.notes, ranking.suggestions)


@BLOCK_SETTINGS
@given(search_pages(), st.lists(cards, max_size=3))
@example(
    (" ".join(f"tag:zz{n}" for n in range(60)), ResultPage([], 0, notes=["No talk has a tag matching “zz”."] * 60)),
    [],
)
def test_real_answers_to_any_query_stay_within_block_kit(search, starters):
    text, page = search
    check_payload(results_message(Screen("search", text), page, set()))
    check_payload(no_match_message(text, page, starters))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from("kqost") | st.text(max_size=3), children, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), json_values.map(json.dumps), st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)))
@example('{"s": {"k": "search", "q": "x", "o": 1, "t": 2}, "t": 3, "q": "y"}')
@example("[" * 5000)
def test_any_button_value_decodes_or_is_refused_with_a_value_error(value):
    try:
        decoded = ButtonValue.decode(value)
    except ValueError:
        return
    assert isinstance(decoded, ButtonValue)


# Importers ----------------------------------------------------------------------------------------------------

FORMAT_NAMES = ["auto", "yaml", "json", *FORMATS]
FILE_NAMES = ["talks.json", "talks.yaml", "program.ics", "talks.csv", "schedule.xml", "data.tar.gz", "notes"]
FILE_FIXTURES = sorted(path for path in FIXTURES.rglob("*") if path.is_file() and "pyvideo" not in path.parts)
# Tokens that have broken parsers before: numbers no float holds, bad dates, URLs urlsplit refuses, deep nesting.
TOKENS = [
    "1e999", "-1e999", "NaN", "Infinity", "9" * 5000, "0x" + "f" * 5000, "null", "[]", "{}", "[[[[", "true", "0",
    "-1", "1.5", '"', "'", "\n", "&amp;", "&#0;", "<!DOCTYPE x>", "]]>", "2023-02-30", "2023-13-01 10:00:00",
    "99999999", "PT99999999999W", "P999999999D", "20231005T250000", "!!binary x", "*a", "&a", "? [a]",
    '"http://[::1"', "http://[", "https://[x/", "²", "١٢", "\ufeff", "\x00", "\r", "BEGIN:VEVENT", "END:VEVENT",
    "DURATION:P9999999999W", "TZID=Europe:", ";", ",", "99991231T230000", "00010101", "P99999999999W",
    "PT" + "9" * 5000 + "M",
]  # fmt: skip


def read_in_every_format(path: Path) -> None:
    """Each format (and auto-detection) returns records or refuses the file with a one-line ImportFileError; what
    any format accepts, the talkbot format (`talkbot export`, then `talkbot import`) reads back unchanged."""
    for name in FORMAT_NAMES:
        try:
            parsed = read_catalog_file(path, name)
        except ImportFileError as error:
            assert str(error) and "\n" not in str(error)
        else:
            assert isinstance(parsed.records, list)
            exported = json.loads(json.dumps(catalog_document(parsed.records), ensure_ascii=False))
            assert parse_talkbot_catalog(exported, path) == parsed.records


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4000), st.sampled_from(FILE_NAMES))
def test_any_bytes_are_read_or_refused_with_an_import_error(scratch, data, name):
    path = scratch / "bytes" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    read_in_every_format(path)


@st.composite
def byte_mutations(draw, original: bytes) -> bytes:
    """The bytes with a few edits: a slice replaced, the end cut off, a line doubled or dropped."""
    data = original
    for edit in draw(st.lists(st.sampled_from(["replace", "truncate", "double", "drop"]), min_size=1, max_size=3)):
        lines = data.splitlines(keepends=True)
        if edit == "replace":
            start = draw(st.integers(0, len(data)))
            end = draw(st.integers(start, min(len(data), start + 40)))
            new = draw(st.binary(max_size=40) | st.sampled_from(TOKENS).map(str.encode))
            data = data[:start] + new + data[end:]
        elif edit == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif lines:
            at = draw(st.integers(0, len(lines) - 1))
            lines[at : at + 1] = [lines[at]] * (2 if edit == "double" else 0)
            data = b"".join(lines)
    return data


@st.composite
def mutated_fixtures(draw, fixtures: list[Path]) -> tuple[str, bytes]:
    fixture = draw(st.sampled_from(fixtures))
    return fixture.name, draw(byte_mutations(fixture.read_bytes()))


@settings(max_examples=200, deadline=None)
@given(mutated_fixtures(FILE_FIXTURES))
@example(("csv-talks.csv", b"id,title,duration\nt-1,Kafka,\xc2\xb2\n"))  # '²' is a digit int() cannot read
@example(("csv-talks.csv", b"id,title,duration\nt-1,Kafka," + b"9" * 5000 + b"\n"))
def test_damaged_fixtures_are_read_or_refused_with_an_import_error(scratch, damaged):
    name, data = damaged
    path = scratch / "damaged" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    read_in_every_format(path)


FIELD_FIXTURES = [
    path for path in FILE_FIXTURES if path.suffix in (".csv", ".ics", ".xml") and "broken" not in path.name
]
# A value in each text format: an iCalendar property's, an XML element's text or attribute's.
FIELD_VALUES = {".ics": re.compile(r"(?m)(?<=:)[^\n]*$"), ".xml": re.compile(r'(?<=>)[^<]+(?=<)|(?<==")[^"]*(?=")')}
ICS_PROPERTIES = ["DURATION", "DTSTART", "DTEND", "DTSTART;TZID=Nowhere/Zone", "UID", "SUMMARY", "URL", "CATEGORIES",
                  "ATTENDEE;CN=Ada Lovelace", "STATUS"]  # fmt: skip


@st.composite
def field_mutations(draw) -> tuple[str, str]:
    """A CSV, iCalendar or XML fixture with one field's value replaced (or, in a calendar, a property added)."""
    fixture = draw(st.sampled_from(FIELD_FIXTURES))
    text = fixture.read_text(encoding="utf-8-sig")
    value = draw(st.sampled_from(TOKENS) | st.text(max_size=20))
    if fixture.suffix == ".csv":
        delimiter = ";" if text.count(";", 0, text.find("\n")) > text.count(",", 0, text.find("\n")) else ","
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
        row = draw(st.sampled_from(rows))
        row[draw(st.integers(0, len(row) - 1))] = value
        written = io.StringIO()
        csv.writer(written, delimiter=delimiter).writerows(rows)
        return fixture.name, written.getvalue()
    if fixture.suffix == ".ics" and draw(st.booleans()):
        return fixture.name, text.replace(
            "BEGIN:VEVENT\n", f"BEGIN:VEVENT\n{draw(st.sampled_from(ICS_PROPERTIES))}:{value}\n", 1
        )
    start, end = draw(st.sampled_from([match.span() for match in FIELD_VALUES[fixture.suffix].finditer(text)]))
    return fixture.name, text[:start] + value + text[end:]


ICS = (FIXTURES / "ical-program.ics").read_text(encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(field_mutations())
@example(("ical-program.ics", ICS.replace("BEGIN:VEVENT\n", "BEGIN:VEVENT\nDURATION:P99999999999W\n", 1)))
@example(("ical-program.ics", ICS.replace("20240514T100000", "99991231T230000", 1).replace("DTEND", "X-DTEND", 1)
          .replace("BEGIN:VEVENT\n", "BEGIN:VEVENT\nDURATION:PT2H\n", 1)))  # fmt: skip
@example(("frab-minicon.xml", (FIXTURES / "frab-minicon.xml").read_text().replace("https://", "http://[", 1)))
def test_fixtures_with_any_value_in_any_field_are_read_or_refused_with_an_import_error(scratch, mutated):
    name, text = mutated
    path = scratch / "fields" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    read_in_every_format(path)


PLACEHOLDER = "PLACEHOLDER-7f3a"
raw_values = st.one_of(st.sampled_from(TOKENS), json_values.map(json.dumps))


def places(value, path=()):
    """The path to every value inside a JSON/YAML document."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from places(child, (*path, key))
    elif isinstance(value, list):
        for position, child in enumerate(value):
            yield from places(child, (*path, position))


def document_text(document, as_yaml: bool) -> str:
    return yaml.safe_dump(document, allow_unicode=True) if as_yaml else json.dumps(document, ensure_ascii=False)


@st.composite
def value_mutations(draw, document, as_yaml: bool) -> str:
    """The document with one value replaced by raw JSON/YAML text (any value, or a token that broke a parser),
    or a key dropped."""
    target = draw(st.sampled_from(list(places(document))[1:]))
    parent = document = json.loads(json.dumps(document))
    for step in target[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[target[-1]]
        return document_text(document, as_yaml)
    parent[target[-1]] = PLACEHOLDER
    return document_text(document, as_yaml).replace(PLACEHOLDER if as_yaml else f'"{PLACEHOLDER}"', draw(raw_values))


def document_of(path: Path):
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


# talkbot's own format with every field it knows, from the seed catalog.
RICH_TALKBOT = catalog_document(read_catalog_file(SEED, "talkbot").records[:2])
RICH_TALKBOT["talks"][0].update(
    duration_minutes=45, language="de", recorded_on="2019-11-05", descriptive_title=True,
    links=[{"kind": "video", "url": "https://www.youtube.com/watch?v=x"}],
)  # fmt: skip
RICH_TALKBOT["talks"][0]["event"].update(starts_on="2019-11-04", ends_on="2019-11-07")
DOCUMENTS = [
    (path.name, document_of(path))
    for path in FILE_FIXTURES
    if path.suffix in (".json", ".yaml") and "broken" not in path.name
] + [
    ("rich-talkbot.yaml", RICH_TALKBOT),
    ("rich-talkbot.json", RICH_TALKBOT),
]


@st.composite
def mutated_documents(draw) -> tuple[str, str]:
    name, document = draw(st.sampled_from(DOCUMENTS))
    return name, draw(value_mutations(document, name.endswith(".yaml")))


@settings(max_examples=300, deadline=None)
@given(mutated_documents())
@example(("talks.yaml", "format: talkbot-catalog\ntalks:\n- {id: a, title: b, recorded_on: 2023-02-30}\n"))
@example(("talks.yaml", "talks:\n- {1: a, title: b}\n"))  # keys of mixed types do not sort
@example(("talks.yaml", "talks:\n- {id: 0x" + "f" * 5000 + ", title: b}\n"))  # an int too long for str()
@example(("talks.json", '{"talks": [' + "9" * 5000 + "]}"))
@example(("sessionize-all.json", '{"sessions": [{"id": 1, "title": "t", "categoryItems": [[1]]}], "categories": '
                                 '[{"items": [{"id": [1]}]}]}'))  # fmt: skip
@example(("frab-minicon.json", (FIXTURES / "frab-minicon.json").read_text().replace("https://", "http://[", 1)))
def test_fixtures_with_any_value_anywhere_are_read_or_refused_with_an_import_error(scratch, mutated):
    name, text = mutated
    path = scratch / "values" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    read_in_every_format(path)


PYVIDEO_FILES = sorted(
    path.relative_to(FIXTURES / "pyvideo").as_posix() for path in (FIXTURES / "pyvideo").rglob("*.json")
)


def tar_gz(folder: Path) -> bytes:
    """The folder as pyvideo publishes it; the same bytes for the same files, so mutations of it are repeatable."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed, tarfile.open(fileobj=packed, mode="w") as archive:
        archive.add(folder, arcname="pyvideo-data", filter=undated)
    return buffer.getvalue()


def undated(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.mtime = 0
    return member


@st.composite
def pyvideo_mutations(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(PYVIDEO_FILES))
    return name, draw(value_mutations(document_of(FIXTURES / "pyvideo" / name), False))


VIDEO = "pycon-demo-2023/videos/streaming-with-kafka.json"


@settings(max_examples=100, deadline=None)
@given(pyvideo_mutations())
@example(("NO_PUBLISH.json", "[[]]"))
@example(("NO_PUBLISH.json", "[" + "9" * 5000 + "]"))
@example((VIDEO, '{"title": "t", "id": []}'))
@example((VIDEO, '{"title": "t", "duration": 1e999}'))
@example((VIDEO, '{"title": "t", "videos": 1.5}'))
@example((VIDEO, '{"title": "t", "tags": 1.5}'))
@example((VIDEO, '{"title": "t", "related_urls": ["https://[x/slides"]}'))
def test_pyvideo_data_with_any_value_anywhere_is_read_or_refused(scratch, mutated):
    name, text = mutated
    folder = scratch / "pyvideo"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(FIXTURES / "pyvideo", folder)
    (folder / name).write_text(text, encoding="utf-8")
    read_in_every_format(folder)
    archive = scratch / "pyvideo-data.tar.gz"
    archive.write_bytes(tar_gz(folder))
    read_in_every_format(archive)


@settings(max_examples=60, deadline=None)
@given(byte_mutations(tar_gz(FIXTURES / "pyvideo")))
def test_damaged_pyvideo_archives_are_read_or_refused(scratch, damaged):
    archive = scratch / "damaged-pyvideo.tar.gz"
    archive.write_bytes(damaged)
    read_in_every_format(archive)


# All or nothing -----------------------------------------------------------------------------------------------

GOOD_FIXTURES = ["csv-talks.csv", "ical-program.ics", "sessionize-all.json", "widget/democamp.json",
                 "other-talkbot.yaml", "frab-minicon.xml"]  # fmt: skip


class Interrupted(Exception):
    """A failure in the middle of writing an import."""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A migrated SQLite catalog holding one imported schedule."""
    url = f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.sqlite3'}"
    upgrade(url)
    with sessions_for(url).begin() as session:
        import_records(session, read_catalog_file(FIXTURES / "frab-minicon.json").records)
    yield url
    dispose_engine(url)


def catalog_state(url: str) -> tuple[int, int, int, int]:
    with sessions_for(url)() as session:
        return (catalog_revision(session), talk_count(session), session.query(Speaker).count(),
                session.query(Tag).count())  # fmt: skip


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(GOOD_FIXTURES), st.data())
def test_an_import_that_fails_changes_nothing(catalog, scratch, good, data):
    """Mirrors `talkbot import good damaged`: every file parsed first, then one transaction. When the damaged file
    is refused nothing is written; when it parses, the write is interrupted after flushing every record."""
    name, damaged = data.draw(mutated_fixtures([FIXTURES / fixture for fixture in GOOD_FIXTURES]))
    path = scratch / "all-or-nothing" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(damaged)
    before = catalog_state(catalog)
    try:
        parsed = [read_catalog_file(FIXTURES / good), read_catalog_file(path)]
    except ImportFileError:
        parsed = None
    if parsed is not None:
        records = [record for reading in parsed for record in reading.records]

        def then_fail(session):
            yield from records
            session.flush()
            raise Interrupted

        with pytest.raises(Interrupted), sessions_for(catalog).begin() as session:
            import_records(session, then_fail(session))
    assert catalog_state(catalog) == before
