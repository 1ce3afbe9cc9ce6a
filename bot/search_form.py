"""The search modal's form, Slack-free: what the person filled in, checked field by field, turned into one query of
the query language (db/search/query.py), so the modal searches with the same engine as every other surface."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from db.search.query import EARLIEST_YEAR, LATEST_YEAR, QueryError, parse_language

# Field limits (the modal's max_length says the same to Slack); a form read back is refused past them.
MAX_WORDS_CHARS = 200
MAX_NAME_CHARS = 100  # a speaker or event series
MAX_YEARS_CHARS = 20
MAX_LANGUAGE_CHARS = 20  # a code ("de") or an English name ("Portuguese")
# The length menu's choices: each a filter of the query language. Bounds of is:short and is:long: db/search/query.py.
LENGTHS = {"short": "is:short", "under30": "length:<30", "30to60": "length:30..60", "long": "is:long"}
ORDERS = ("relevance", "newest")
MAX_OFFSET = 10_000

_YEARS = re.compile(r"\s*(\d{1,4})?\s*(?:(\.\.|-|–|—|to)\s*(\d{1,4})?)?\s*", re.I)
_UNSEARCHABLE = re.compile(r'["\x00-\x1f\x7f]')  # quotes would end the filter's value early; control characters


class FormErrors(Exception):
    """Field errors for the modal: {field name: what is wrong and what to write instead}."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class SearchForm:
    words: str = ""
    speaker: str = ""
    event: str = ""  # an event series, as offered by the event menu (or any text: it is searched like event:)
    years: str = ""  # "2019", "2015..2019", "2015-2019", "..2012", "2020.."
    video: bool = False
    recommended: bool = False
    length: str = ""  # a key of LENGTHS; "": any length
    language: str = ""  # "de", or "German"
    order: str = "relevance"  # one of ORDERS

    def query(self, parse: Callable[[str], object]) -> str:
        """The query this form stands for; raises FormErrors naming each field that cannot be searched as filled in.
        `parse` is the engine's parser (it raises QueryError), so the form is checked exactly as it will be searched."""
        errors: dict[str, str] = {}
        parts = [" ".join(self.words.split())] if self.words.strip() else []
        for field, value in (("speaker", self.speaker), ("event", self.event)):
            cleaned = " ".join(_UNSEARCHABLE.sub(" ", value).split())
            if not cleaned:
                continue
            if not any(character.isalnum() for character in cleaned):
                errors[field] = (
                    f"“{cleaned}” has no letters or digits to search for: type a name, like {_NAMES[field]}."
                )
            else:
                parts.append(f'{field}:"{cleaned}"')
        years = _years(self.years)
        if isinstance(years, str):
            errors["years"] = years
        elif years:
            parts.append(f"year:{years[0]}..{years[1]}")
        parts += ["has:video"] * self.video + ["is:recommended"] * self.recommended
        if self.length in LENGTHS:
            parts.append(LENGTHS[self.length])
        language = self.language.strip()
        if language:
            try:
                parts.append(f"lang:{parse_language(language)}")
            except QueryError:
                errors["language"] = (
                    f"“{language[:30]}” is not a language talkbot knows: write its two-letter code, like de, or its "
                    "English name, like German."
                )
        parts += ["sort:newest"] * (self.order == "newest")
        if errors:
            raise FormErrors(errors)
        if not parts:
            raise FormErrors({"words": "Type what you are looking for, or fill in a filter below."})
        text = " ".join(parts)
        try:
            parse(text)
        except QueryError as error:
            raise FormErrors({self._field_of(parse): str(error)}) from None
        return text

    def _field_of(self, parse: Callable[[str], object]) -> str:
        """The field a refused query is about: the words when they alone are refused (or are what there is to cut),
        else the first filter the parser refuses on its own."""
        for field, part in (("speaker", self.speaker), ("event", self.event)):
            try:
                parse(f'{field}:"{_UNSEARCHABLE.sub(" ", part)}"' if part.strip() else "")
            except QueryError:
                return field
        return "words"

    def encode(self, offset: int = 0) -> str:
        """The form and the page shown, for the modal's private_metadata (read back with `decode`)."""
        return json.dumps({**asdict(self), "offset": offset}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, text: str) -> tuple[SearchForm, int]:
        """(form, offset) from private_metadata, which comes back from the client: anything talkbot did not write
        raises ValueError."""
        try:
            data = json.loads(text)
        except (TypeError, RecursionError, json.JSONDecodeError) as error:
            raise ValueError("not JSON") from error
        fields = {"words": MAX_WORDS_CHARS, "speaker": MAX_NAME_CHARS, "event": MAX_NAME_CHARS,
                  "years": MAX_YEARS_CHARS, "language": MAX_LANGUAGE_CHARS}  # fmt: skip
        if not isinstance(data, dict) or set(data) != {*fields, "video", "recommended", "length", "order", "offset"}:
            raise ValueError("not a search form talkbot wrote")
        for name, most in fields.items():
            if not isinstance(data[name], str) or len(data[name]) > most:
                raise ValueError(f"bad {name}")
        if not isinstance(data["video"], bool) or not isinstance(data["recommended"], bool):
            raise ValueError("bad flag")
        if data["length"] not in ("", *LENGTHS) or data["order"] not in ORDERS:
            raise ValueError("bad choice")
        offset = data.pop("offset")
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
            raise ValueError("bad offset")
        return cls(**data), offset


_NAMES = {"speaker": "Liz Fong-Jones", "event": "SREcon"}


def _years(text: str) -> tuple[int, int] | str | None:
    """(first, last) from the years field, None when it is empty, or what to write instead."""
    if not text.strip():
        return None
    match = _YEARS.fullmatch(text)
    if not match or not (match.group(1) or match.group(3)):
        return "Write a year like 2019, or a range like 2015..2019."
    low, separator, high = match.groups()
    first = int(low) if low else EARLIEST_YEAR
    last = int(high) if high else (LATEST_YEAR if separator else first)
    for year in (first, last):
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            return f"{year} is not a year talkbot knows talks from: use years from {EARLIEST_YEAR} to {LATEST_YEAR}."
    if first > last:
        return f"That range runs backwards: write {last}..{first}, the earlier year first."
    return first, last
