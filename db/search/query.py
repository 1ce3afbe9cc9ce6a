"""The query language: free words plus `speaker:`, `event:`, `year:`, `tag:`, `has:`, `is:`, `length:` and `lang:`
filters, `sort:newest`, quotes for phrases.

kafka                          free words (every word must match; typos and prefixes forgiven)
speaker:"liz fong-jones" o11y  a filter with a multi-word value
year:2015..2019 tag:kafka      a year range (also year:2019, year:..2019, year:2015..)
has:video is:recommended       only talks with a video; only talks a reporter recommended
length:<30 length:20..45       talks under 30 minutes; from 20 to 45 minutes (also length:>45, length:..30)
is:short is:long               talks of at most 20 minutes; of at least 45 (talks of unknown length never match these)
lang:de                        talks in German (a two-letter ISO 639-1 code, or the language's English name)
sort:newest                    the newest talks first: by event year, then recording date, then relevance
"chaos engineering"            quoted words match exactly: no typo, no prefix
on-call                        words joined by hyphens are a phrase: side by side, in that order
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from db.languages import CODES
from db.records import MAX_DURATION
from db.search.text import fold, stem, terms

FILTERS = ("speaker", "event", "year", "tag", "has", "is", "length", "lang", "sort")
# The flags `has:` and `is:` take: each keeps only the talks that have it, and costs nothing (not counted as a filter,
# nor are length:, lang: and sort:, which read an array of the index, not postings).
FLAGS = {"has": ("video",), "is": ("recommended", "short", "long")}
SHORT_MINUTES, LONG_MINUTES = 20, 45  # is:short is length:..20, is:long is length:45..
MAX_MINUTES = MAX_DURATION  # the longest talk the catalog takes
SORTS = ("relevance", "newest")
# What one query may ask of the engine. Each word searched for (a free word, or a word in a speaker:, event: or tag:
# value; filter words are matched as prefixes too) costs a pass over its postings, up to tens of ms each on a million
# talks; unbounded, one query of 500 characters took 4 to 8 s there (bench/worst_queries.py). People search with a few
# words: the longest of the labelled relevance queries has 9 and 71 characters.
MAX_QUERY_CHARS = 200
MAX_WORDS = 10  # searched for, in all: free words (stopwords left out) and the words of filter values
MAX_FILTERS = 3  # speaker:, event: and tag: filters; year: filters cost nothing and are not counted
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100

_HYPHENATED = re.compile(r"[^\W_]+(?:-[^\W_]+)*")  # a word, or words joined by hyphens ("on-call"), once folded
_FILTER_KEY = re.compile(r"([A-Za-z]{1,20}):(.*)", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class QueryError(ValueError):
    """A query we cannot run; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class QueryWord:
    """One word a talk must contain; `exact` words (quoted) allow no typo and no prefix. A word `joined` to the one
    before it by a hyphen ("on-call") belongs with it: the two must stand side by side, as one phrase."""

    term: str
    surface: str
    exact: bool = False
    joined: bool = False


@dataclass
class Query:
    words: list[QueryWord] = field(default_factory=list)
    speaker: list[list[str]] = field(default_factory=list)
    event: list[list[str]] = field(default_factory=list)
    tag: list[list[str]] = field(default_factory=list)
    years: tuple[int, int] | None = None
    with_video: bool = False  # has:video
    recommended: bool = False  # is:recommended
    minutes: tuple[int, int] | None = None  # length:, is:short, is:long: a talk's known length within, inclusive
    languages: tuple[str, ...] = ()  # lang:: talks in any of these (primary subtags, like "de")
    newest: bool = False  # sort:newest
    notes: list[str] = field(default_factory=list)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.speaker or self.event or self.tag or self.years or self.with_video or self.recommended
            or self.minutes or self.languages
        )  # fmt: skip

    @property
    def is_empty(self) -> bool:
        """Nothing to search for: sort:newest alone asks for the newest talks, so it is not empty."""
        return not self.words and not self.has_filters and not self.newest


def is_a_search(text: str) -> bool:
    """Whether text holds anything to search for: a letter or digit in any script (not only emoji or punctuation)."""
    return any(character.isalnum() for character in text)


def parse_query(text: str, stopwords: frozenset[str] = frozenset()) -> Query:
    """Parse what a user typed; raise QueryError with a helpful message when it cannot be understood."""
    text = _CONTROL.sub(" ", text).strip()
    query = Query()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"That query is {len(text)} characters long; talkbot reads up to {MAX_QUERY_CHARS}. Keep the words that "
            "matter most, like kafka streams year:2019.."
        )
    loose_words: list[tuple[str, bool]] = []
    for token, quoted in _split(text):
        match = None if quoted else _FILTER_KEY.fullmatch(token)
        if match and not match.group(2).startswith("//"):
            _add_filter(query, match.group(1).lower(), match.group(2))
        else:
            loose_words.append((token, quoted))
    topical = [(w, q) for w, q in loose_words if q or w.lower() not in stopwords]
    for word, quoted in topical or loose_words:
        for hyphenated in _HYPHENATED.findall(fold(word)):
            parts = hyphenated.split("-")
            query.words.extend(QueryWord(stem(w), w, exact=quoted, joined=at > 0) for at, w in enumerate(parts))
    _check_size(query)
    return query


def _check_size(query: Query) -> None:
    filters = query.speaker + query.event + query.tag
    if len(filters) > MAX_FILTERS:
        raise QueryError(
            f"That query has {len(filters)} speaker:, event: and tag: filters; talkbot takes up to {MAX_FILTERS}. "
            "Keep the ones that narrow it most, like speaker:fong-jones tag:kafka."
        )
    searched = len(query.words) + sum(len(words) for words in filters)
    if searched > MAX_WORDS:
        raise QueryError(
            f"That query searches for {searched} words (counting the words in filters); talkbot takes up to "
            f"{MAX_WORDS}. Keep the ones that matter most: kafka streams production finds what a whole sentence would."
        )


def _split(text: str) -> list[tuple[str, bool]]:
    """Split on spaces, keeping "quoted phrases" and key:"quoted values" whole; report which were quoted."""
    tokens, position = [], 0
    pattern = re.compile(r'\s*(?:([A-Za-z]{1,20}:)?"([^"]*)("?)|(\S+))')
    while position < len(text):
        match = pattern.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        prefix, quoted, closing, bare = match.groups()
        if bare is not None:
            if '"' in bare:
                raise QueryError(
                    f'A quote in `{bare}` is not closed. Put quotes around whole words, like "chaos engineering".'
                )
            tokens.append((bare, False))
        elif not closing:
            raise QueryError(
                f'The quote in `{(prefix or "")}"{quoted}` is not closed. Close it, like speaker:"liz fong-jones".'
            )
        elif prefix:
            tokens.append((prefix + quoted, False))
        elif quoted.strip():
            tokens.append((quoted, True))
    return tokens


def _add_filter(query: Query, key: str, value: str) -> None:
    if key not in FILTERS:
        raise QueryError(
            f"There is no `{key}:` filter. Filters are speaker:, event:, year:, tag:, has:video, is:recommended, "
            f'is:short, is:long, length:, lang: and sort:newest — for example speaker:"liz fong-jones" or length:<30.'
        )
    value = value.strip()
    if not value:
        raise QueryError(f"`{key}:` needs a value, like {_EXAMPLES[key]}.")
    if key in FLAGS:
        _add_flag(query, key, value)
        return
    if key == "year":
        query.years = _intersect(query.years, _parse_years(value))
        return
    if key == "length":
        query.minutes = _intersect(query.minutes, _parse_minutes(value), "length:")
        return
    if key == "lang":
        language = parse_language(value)
        if language not in query.languages:
            query.languages += (language,)
        return
    if key == "sort":
        if value.lower() not in SORTS:
            raise QueryError(
                f"`sort:{_shown(value)}` is not an order talkbot knows. Write sort:newest (the newest talks first); "
                "without it, the best matches come first."
            )
        query.newest = value.lower() == "newest"
        return
    words = terms(value)
    if not words:
        raise QueryError(f"`{key}:{value}` has no letters or digits to search for; try {_EXAMPLES[key]}.")
    getattr(query, key).append(words)


_EXAMPLES = {
    "speaker": 'speaker:"liz fong-jones"',
    "event": "event:srecon",
    "year": "year:2019 or year:2015..2019",
    "tag": "tag:kafka",
    "has": "has:video",
    "is": "is:recommended",
    "length": "length:<30 or length:20..45",
    "lang": "lang:de",
    "sort": "sort:newest",
}
_FLAG_MEANINGS = {
    "video": "talks with a video",
    "recommended": "talks a reporter recommended",
    "short": f"talks of at most {SHORT_MINUTES} minutes",
    "long": f"talks of at least {LONG_MINUTES} minutes",
}


def _shown(value: str) -> str:
    return value if len(value) <= 30 else value[:29] + "…"


def _add_flag(query: Query, key: str, value: str) -> None:
    flag = value.lower()
    if flag not in FLAGS[key]:
        known = ", ".join(f"{key}:{known} ({_FLAG_MEANINGS[known]})" for known in FLAGS[key])
        raise QueryError(f"`{key}:{_shown(value)}` is not a filter talkbot knows. Write {known}.")
    if flag == "video":
        query.with_video = True
    elif flag == "recommended":
        query.recommended = True
    else:
        bounds = (1, SHORT_MINUTES) if flag == "short" else (LONG_MINUTES, MAX_MINUTES)
        query.minutes = _intersect(query.minutes, bounds, "length:")


_MINUTES = re.compile(r"(<=|>=|<|>)?\s*(\d{1,4})\s*(?:m|min|mins|minutes)?", re.I)


def _parse_minutes(value: str) -> tuple[int, int]:
    """length:<30, length:<=30, length:>45, length:30, length:20..45, length:..30, length:45.. in minutes: the
    inclusive range of a talk's known length (a talk of unknown length is in none)."""
    problem = (
        f"`length:{_shown(value)}` is not a length in minutes. Write length:<30 (under 30 minutes), length:>45, or "
        "a range like length:20..45."
    )
    low_text, separator, high_text = value.partition("..")
    if separator:
        try:
            low = int(low_text) if low_text.strip() else 1
            high = int(high_text) if high_text.strip() else MAX_MINUTES
        except ValueError:
            raise QueryError(problem) from None
        if low > high:
            raise QueryError(
                f"`length:{_shown(value)}` runs backwards; write the shorter length first, like length:{high}..{low}."
            )
    else:
        match = _MINUTES.fullmatch(value)
        if match is None:
            raise QueryError(problem)
        comparison, minutes = match.group(1), int(match.group(2))
        low, high = {
            "<": (1, minutes - 1), "<=": (1, minutes), ">": (minutes + 1, MAX_MINUTES), ">=": (minutes, MAX_MINUTES),
            None: (minutes, minutes),
        }[comparison]  # fmt: skip
    low, high = max(low, 1), min(high, MAX_MINUTES)
    if low > high:
        raise QueryError(f"No talk can be `length:{_shown(value)}`: lengths run from 1 to {MAX_MINUTES} minutes.")
    return low, high


def parse_language(value: str) -> str:
    """lang:de, or the language's English name (lang:german), as the index keeps it (index.language_key)."""
    code = value.lower()
    code = CODES.get(code, code)
    if not re.fullmatch(r"[a-z]{2,3}", code):
        raise QueryError(
            f"`lang:{_shown(value)}` is not a language code. Write its two letters (ISO 639-1), like lang:de for "
            "German or lang:en for English."
        )
    return code


def _parse_years(value: str) -> tuple[int, int]:
    low, separator, high = value.partition("..")
    try:
        first = int(low) if low else EARLIEST_YEAR
        last = int(high) if high else (LATEST_YEAR if separator else first)
    except ValueError:
        raise QueryError(f"`year:{value}` is not a year. Write year:2019, or a range like year:2015..2019.") from None
    for year in (first, last):
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            raise QueryError(f"`year:{value}` is outside {EARLIEST_YEAR}..{LATEST_YEAR}.")
    if first > last:
        raise QueryError(f"`year:{value}` runs backwards; write the earlier year first, like year:{last}..{first}.")
    return first, last


def _intersect(current: tuple[int, int] | None, new: tuple[int, int], key: str = "year:") -> tuple[int, int]:
    if current is None:
        return new
    low, high = max(current[0], new[0]), min(current[1], new[1])
    if low > high:
        which = "length:, is:short and is:long filters" if key == "length:" else "year: filters"
        raise QueryError(f"The {which} exclude each other; use one {key} filter or one range.")
    return low, high


# Words of everyday prose that say nothing about a topic, left out of a query made from a message (intent_query);
# the vocabulary's stopwords are left out too.
PROSE_WORDS = frozenset(
    "i me my we us our you your he she it its they them their this that these those here there what which who whom "
    "how why when where whose be been being was were am is are do does did doing done have has had having can could "
    "will would shall should may might must not no yes so but if then than too very just also only really still "
    "into onto over under out up down off again once all any both each few more most other some such own same "
    "anyone anybody someone something anything everything nothing thing things stuff get got getting make made "
    "know think want need like use using used let lets go going gonna wanna way ways hey hi hello thanks thank "
    "ok okay yeah yep nope please maybe lot lots much many one two new good great bit today yesterday tomorrow "
    "now soon ago via etc eg ie vs re im ive dont doesnt didnt cant wont isnt arent".split()
)  # fmt: skip


def intent_query(text: str, stopwords: frozenset[str], doc_freq: Callable[[str], int]) -> str:
    """A query for what a piece of prose is about, within MAX_WORDS and MAX_QUERY_CHARS however long the prose.

    Plain words only (no filters, quotes or hyphen phrases, whatever the prose holds), each once; when there are
    too many, the most informative are kept: words the catalog knows before words it does not (a need like "our
    consumers lag" still reaches the semantic layer through the rest), rarer before commoner, earlier before later.
    The words kept stay in the order written. Empty when nothing is left to search for."""
    seen: dict[str, tuple[int, str]] = {}
    for at, word in enumerate(re.findall(r"[^\W_]+", fold(_CONTROL.sub(" ", text)))):
        term = stem(word)
        if term in seen or word in stopwords or word in PROSE_WORDS or len(word) < 2 or word.isdigit():
            continue
        seen[term] = (at, word)
    if not seen:
        return ""

    def informativeness(term: str) -> tuple:
        frequency = doc_freq(term)
        return (frequency == 0, frequency, seen[term][0])

    kept = sorted(seen, key=informativeness)[:MAX_WORDS]
    while len(" ".join(seen[term][1] for term in kept)) > MAX_QUERY_CHARS:
        kept.pop()  # the least informative goes first
    return " ".join(word for _, word in sorted(seen[term] for term in kept))
