"""The FTS5 baseline: SQLite's full-text search with bm25() over the same talks, asked the same queries.

Queries go through talkbot's own parser, so both engines see the same words and filters: every word must match
(FTS5's implicit AND), the last word as a prefix, filters as column filters and a year range. What FTS5 lacks
is the point of the comparison: typo tolerance and synonyms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from db.search.index import TalkText
from db.search.query import parse_query
from db.search.vocabulary import default_vocabulary

# Field weights as in talkbot: title and tags, then speakers, event, summary.
BM25 = "bm25(talks, 5.0, 5.0, 3.0, 2.0, 1.0)"


class Fts5Baseline:
    def __init__(self, talks: Iterable[TalkText]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE talks USING fts5(title, tags, speakers, event, summary, year UNINDEXED, "
            "talk_id UNINDEXED, tokenize='porter unicode61 remove_diacritics 2')"
        )
        self.db.executemany(
            "INSERT INTO talks VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((t.title, " ".join(t.tags), " ".join(t.speakers), t.event, t.summary, t.year, t.talk_id) for t in talks),
        )
        self.db.commit()
        self.stopwords = default_vocabulary().stopwords

    def search(self, text: str, limit: int = 5) -> list[int]:
        """Talk ids, best first; [] for what FTS5 cannot parse or match."""
        query = parse_query(text, self.stopwords)
        terms = [_quoted(word.surface) for word in query.words]
        if terms and not query.words[-1].exact:
            terms[-1] += "*"
        for column, values in (("speakers", query.speaker), ("event", query.event), ("tags", query.tag)):
            terms += [f"{column} : {_quoted(word)}" for words in values for word in words]
        low, high = query.years or (0, 9999)
        try:
            if terms:
                rows = self.db.execute(
                    f"SELECT talk_id FROM talks WHERE talks MATCH ? AND year BETWEEN ? AND ? ORDER BY {BM25} LIMIT ?",
                    (" AND ".join(terms), low, high, limit),
                )
            else:
                rows = self.db.execute(
                    "SELECT talk_id FROM talks WHERE year BETWEEN ? AND ? ORDER BY year DESC LIMIT ?",
                    (low, high, limit),
                )
            return [talk_id for (talk_id,) in rows]
        except sqlite3.OperationalError:
            return []


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'
