"""BERT's uncased WordPiece tokenizer, in plain Python, over the `vocab.txt` shipped in db/search/model/.

all-MiniLM-L6-v2 was trained with these token ids. Shipping the 230 KB vocabulary and this small tokenizer instead of
the `tokenizers` package keeps the model hub client (`huggingface_hub`, which `tokenizers` depends on) off the machine:
nothing here can download anything. tests/test_semantic.py checks its ids against ones read off vocab.txt by hand.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

VOCAB_FILE = Path(__file__).with_name("model") / "vocab.txt"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2, [CLS] and [SEP] included
MAX_WORD_CHARS = 100  # a longer "word" is [UNK], as in BERT
# ASCII text (nearly every query and talk) takes a fast path: controls dropped, tabs and newlines made spaces, then
# runs of letters and digits, and single punctuation marks (BERT counts every ASCII symbol as punctuation).
_ASCII_CLEAN = {code: None for code in (*range(32), 127)} | {ord("\t"): " ", ord("\n"): " ", ord("\r"): " "}
_ASCII_WORD = re.compile(r"[^ !-/:-@\[-`{-~]+|[!-/:-@\[-`{-~]")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


class WordPiece:
    def __init__(self, vocab_file: Path = VOCAB_FILE, max_tokens: int = MAX_TOKENS) -> None:
        words = vocab_file.read_text(encoding="utf-8").split("\n")
        self.ids = {word: number for number, word in enumerate(words) if word}
        self.unknown, self.cls, self.sep = self.ids["[UNK]"], self.ids["[CLS]"], self.ids["[SEP]"]
        self.max_tokens = max_tokens
        self._word_ids = lru_cache(maxsize=100_000)(self._pieces)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, with [CLS] and [SEP], truncated to `max_tokens`."""
        ids = [self.cls]
        room = self.max_tokens - 2
        for word in self.words(text):
            ids.extend(self._word_ids(word))
            if len(ids) > room:
                break
        return ids[: room + 1] + [self.sep]

    @staticmethod
    def words(text: str) -> list[str]:
        """BERT's basic tokenization: clean, space out CJK, lowercase, strip accents, split on spaces and marks."""
        if text.isascii():
            return _ASCII_WORD.findall(text.translate(_ASCII_CLEAN).lower())
        cleaned = []
        for char in text:
            code = ord(char)
            if code == 0 or code == 0xFFFD:
                continue
            category = unicodedata.category(char)
            if char in "\t\n\r" or category == "Zs":
                cleaned.append(" ")
            elif category.startswith("C"):
                continue
            elif _is_cjk(code):
                cleaned.append(f" {char} ")
            else:
                cleaned.append(char)
        folded = unicodedata.normalize("NFD", "".join(cleaned))
        folded = "".join(char for char in folded if unicodedata.category(char) != "Mn").lower()
        words: list[str] = []
        for chunk in folded.split():
            start = 0
            for at, char in enumerate(chunk):
                if _is_punctuation(char):
                    if at > start:
                        words.append(chunk[start:at])
                    words.append(char)
                    start = at + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def _pieces(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first pieces; a word that cannot be split into known pieces is [UNK]."""
        if len(word) > MAX_WORD_CHARS:
            return (self.unknown,)
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            else:
                return (self.unknown,)
            start = end
        return tuple(pieces)
