"""Language codes as people read and write them: "German" for `de` on a card, `lang:german` for `lang:de`.

The catalog stores a talk's language as the importers write it (db/importers/fields.py language_code): an ISO 639-1
code such as "de", sometimes with a region ("pt-br"). A card names the language only when it is not the workspace's
default, which is English unless TALKBOT_DEFAULT_LANGUAGE names another code: most talks of a catalog are in the
language its readers speak, and saying so on every card would be noise.
"""

from __future__ import annotations

import os
import re

DEFAULT_LANGUAGE_VARIABLE = "TALKBOT_DEFAULT_LANGUAGE"
NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "ja": "Japanese", "ru": "Russian", "pl": "Polish", "nl": "Dutch", "zh": "Chinese", "ko": "Korean",
    "cs": "Czech", "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian",
}  # fmt: skip
CODES = {name.lower(): code for code, name in NAMES.items()} | {"deutsch": "de"}


def primary(language: str) -> str:
    """The language of a stored code without its region: "pt" for "pt-br" and "pt_BR"."""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def default_language() -> str:
    """The workspace's default language: TALKBOT_DEFAULT_LANGUAGE, or English."""
    return primary(os.environ.get(DEFAULT_LANGUAGE_VARIABLE, "").strip() or "en") or "en"


def language_name(language: str) -> str:
    """ "German" for "de"; a code talkbot has no name for is shown as itself, upper case ("EU")."""
    return NAMES.get(primary(language), language.upper())


def language_names(languages: tuple[str, ...]) -> str:
    """ "German or French": a lang: filter's languages, as a note about it says them."""
    return " or ".join(language_name(language) for language in languages)


def shown_language(language: str) -> str | None:
    """The language a card names: None when it is the workspace's default (nothing to say)."""
    return None if primary(language) == default_language() else language_name(language)
