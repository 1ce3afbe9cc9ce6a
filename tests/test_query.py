"""The query language parser, on its own: what each piece of syntax turns into."""

import re

import pytest
import yaml

from db.search.query import MAX_FILTERS, MAX_QUERY_CHARS, MAX_WORDS, QueryError, parse_query
from db.search.vocabulary import Vocabulary, default_vocabulary


def words(query):
    return [word.surface for word in query.words]


def test_free_words_are_folded_and_filters_are_split_off():
    query = parse_query('Kafka speaker:"Liz Fong-Jones" year:2015..2019 tag:k8s event:srecon Ünïcode')

    assert words(query) == ["kafka", "unicode"]
    assert query.speaker == [["liz", "fong", "jone"]]
    assert query.tag == [["k8s"]] and query.event == [["srecon"]]
    assert query.years == (2015, 2019)


def test_has_video_and_is_recommended_are_flags_in_any_case_that_cost_no_filter_or_word():
    query = parse_query('kafka HAS:Video is:recommended tag:a tag:b speaker:"c d" year:2019')

    assert (query.with_video, query.recommended, words(query)) == (True, True, ["kafka"])
    assert query.has_filters and not parse_query("kafka").with_video


@pytest.mark.parametrize(
    ("text", "message"),
    [("has:slides", "`has:slides` is not a filter talkbot knows. Write has:video"),
     ("is:great", "`is:great` is not a filter talkbot knows. Write is:recommended"),
     ("has:", "`has:` needs a value, like has:video"), ("is:", "needs a value, like is:recommended")],
)  # fmt: skip
def test_a_flag_talkbot_does_not_know_says_which_one_to_write(text, message):
    with pytest.raises(QueryError, match=message):
        parse_query(text)


@pytest.mark.parametrize(
    ("text", "years"),
    [("year:2019", (2019, 2019)), ("year:..2010", (1900, 2010)), ("year:2010..", (2010, 2100)),
     ("year:2010..2020 year:2015", (2015, 2015))],
)  # fmt: skip
def test_year_takes_a_year_or_an_open_or_closed_range(text, years):
    assert parse_query(text).years == years


def test_quoted_words_match_exactly_and_stopwords_drop_unless_nothing_else_is_left():
    stopwords = frozenset({"talks", "about"})

    assert [(w.surface, w.exact) for w in parse_query('"chaos engineering" sre').words] == [
        ("chaos", True), ("engineering", True), ("sre", False),
    ]  # fmt: skip
    assert words(parse_query("talks about kafka", stopwords)) == ["kafka"]
    assert words(parse_query("talks", stopwords)) == ["talks"]


def test_words_joined_by_hyphens_stay_together_as_a_phrase():
    query = parse_query('on-call e-commerce "state-of-the-art" kafka')
    assert [(w.surface, w.joined) for w in query.words] == [
        ("on", False), ("call", True), ("e", False), ("commerce", True),
        ("state", False), ("of", True), ("the", True), ("art", True), ("kafka", False),
    ]  # fmt: skip
    assert all(w.exact for w in query.words[4:8])


def test_urls_are_words_not_filters():
    assert words(parse_query("https://example.org")) == ["https", "example", "org"]


def test_a_query_up_to_every_limit_parses():
    """The limits (measured at a million talks: bench/worst_queries.py) leave room for anything a person types."""
    assert len(parse_query("k" * MAX_QUERY_CHARS).words) == 1
    assert len(parse_query(" ".join(f"w{i}" for i in range(MAX_WORDS))).words) == MAX_WORDS
    three = parse_query('speaker:"liz fong-jones" event:srecon tag:kafka year:2019 year:2015..2020 kafka streams')
    assert (len(three.speaker + three.event + three.tag), three.years) == (MAX_FILTERS, (2019, 2019))
    stopwords = frozenset({"any", "talks", "about", "the", "in"})
    assert words(parse_query("any talks about the kafka in the " * 5 + "kafka", stopwords)) == ["kafka"] * 6


@pytest.mark.parametrize(
    ("text", "message"),
    [("k" * (MAX_QUERY_CHARS + 1), f"201 characters long; talkbot reads up to {MAX_QUERY_CHARS}"),
     (" ".join(f"w{i}" for i in range(MAX_WORDS + 1)), f"searches for 11 words .*up to {MAX_WORDS}"),
     ('speaker:"ada lovelace" event:"pycon us" tag:kafka ' + " ".join(f"w{i}" for i in range(6)),
      "searches for 11 words \\(counting the words in filters\\)"),
     ("tag:a tag:b speaker:c event:d kafka", f"has 4 speaker:, event: and tag: filters; .* up to {MAX_FILTERS}"),
     ("the " * 11, "searches for 11 words")],
)  # fmt: skip
def test_a_query_over_a_limit_is_refused_with_what_to_write_instead(text, message):
    with pytest.raises(QueryError, match=message) as refused:
        parse_query(text)
    assert "like" in str(refused.value) or "kafka streams production" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("foo:bar", "There is no `foo:` filter"), ('"open', "is not closed"), ("year:1800", "outside"),
     ("year:2020 year:2010", "exclude each other"), ("speaker:!!!", "has no letters or digits")],
)  # fmt: skip
def test_bad_syntax_raises_a_message_that_says_how_to_fix_it(text, message):
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_a_bare_yaml_boolean_in_the_vocabulary_is_refused_not_read_as_the_word_true():
    """YAML reads a bare `on` as True: "on" was silently no stopword, and "More like this" said "shares on"."""
    with pytest.raises(ValueError, match="quote them"):
        Vocabulary.from_mapping(yaml.safe_load("stopwords: [a, on]"))
    assert {"on", "as"} <= default_vocabulary().stopwords


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("length:<30", (1, 29)), ("length:<=30", (1, 30)), ("length:>45", (46, 1440)), ("length:>=45", (45, 1440)),
     ("length:20..45", (20, 45)), ("length:..30", (1, 30)), ("length:45..", (45, 1440)), ("length:30", (30, 30)),
     ("length:30min", (30, 30)), ("is:short", (1, 20)), ("IS:LONG", (45, 1440)), ("is:short length:>10", (11, 20))],
)  # fmt: skip
def test_a_length_is_an_inclusive_range_of_known_minutes(text, minutes):
    assert parse_query(text).minutes == minutes


def test_length_lang_and_sort_cost_no_filter_or_word():
    query = parse_query('kafka tag:a tag:b speaker:"c d" length:<40 is:short lang:de lang:German lang:fr sort:newest')

    assert (query.minutes, query.languages, query.newest, words(query)) == ((1, 20), ("de", "fr"), True, ["kafka"])
    assert query.has_filters and parse_query("kafka sort:relevance").newest is False


def test_sort_newest_alone_is_a_search_but_not_a_filter():
    query = parse_query("sort:newest")

    assert not query.is_empty and not query.has_filters


@pytest.mark.parametrize(
    ("text", "message"),
    [("length:long", "`length:long` is not a length in minutes. Write length:<30"),
     ("length:20..x", "is not a length in minutes"),
     ("length:45..20", "runs backwards; write the shorter length first, like length:20..45"),
     ("length:<1", "lengths run from 1 to 1440 minutes"),
     ("is:short is:long", "exclude each other; use one length: filter"),
     ("is:brief", "Write is:recommended (talks a reporter recommended), is:short (talks of at most 20 minutes)"),
     ("lang:klingon", "`lang:klingon` is not a language code. Write its two letters (ISO 639-1), like lang:de"),
     ("lang:", "`lang:` needs a value, like lang:de"),
     ("sort:oldest", "`sort:oldest` is not an order talkbot knows. Write sort:newest"),
     ("duration:30", "is:long, length:, lang: and sort:newest")],
)  # fmt: skip
def test_a_bad_length_language_or_order_says_what_to_write(text, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        parse_query(text)
