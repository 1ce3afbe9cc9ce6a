"""The query language parser, on its own: what each piece of syntax turns into."""

import pytest

from db.search.query import MAX_QUERY_CHARS, MAX_WORDS, QueryError, parse_query


def words(query):
    return [word.surface for word in query.words]


def test_free_words_are_folded_and_filters_are_split_off():
    query = parse_query('Kafka speaker:"Liz Fong-Jones" year:2015..2019 tag:k8s event:srecon Ünïcode')

    assert words(query) == ["kafka", "unicode"]
    assert query.speaker == [["liz", "fong", "jone"]]
    assert query.tag == [["k8s"]] and query.event == [["srecon"]]
    assert query.years == (2015, 2019)


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


def test_urls_are_words_not_filters():
    assert words(parse_query("https://example.org")) == ["https", "example", "org"]


def test_long_queries_are_cut_with_a_note():
    assert parse_query("x" * (MAX_QUERY_CHARS + 50)).notes[0].startswith(f"Only the first {MAX_QUERY_CHARS}")
    long = parse_query(" ".join(f"w{i}" for i in range(MAX_WORDS + 5)))
    assert len(long.words) == MAX_WORDS and long.notes


@pytest.mark.parametrize(
    ("text", "message"),
    [("foo:bar", "There is no `foo:` filter"), ('"open', "is not closed"), ("year:1800", "outside"),
     ("year:2020 year:2010", "exclude each other"), ("speaker:!!!", "has no letters or digits")],
)  # fmt: skip
def test_bad_syntax_raises_a_message_that_says_how_to_fix_it(text, message):
    with pytest.raises(QueryError, match=message):
        parse_query(text)
