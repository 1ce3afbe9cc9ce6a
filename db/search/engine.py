"""The search engine every surface calls: parses the query, keeps the index in step with the catalog, ranks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from db.cards import TalkCard
from db.catalog import catalog_revision, talks_by_id
from db.config import patient
from db.search.index import CatalogIndex, load_talk_texts
from db.search.query import Query, parse_query
from db.search.ranking import Hit, rank, similar
from db.search.vocabulary import Vocabulary, default_vocabulary


@dataclass
class ResultPage:
    """One page of answers, with what a surface needs to explain them."""

    cards: list[TalkCard]
    total: int
    offset: int = 0
    dropped_words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.cards) < self.total


class SearchEngine:
    """Search over one catalog database; the index is rebuilt whenever the catalog revision changes,
    whichever process changed it."""

    def __init__(self, sessions: sessionmaker[Session], vocabulary: Vocabulary | None = None) -> None:
        self.sessions = sessions
        self.vocabulary = vocabulary or default_vocabulary()
        self._index: CatalogIndex | None = None
        self._revision: int | None = None
        self._lock = threading.Lock()

    def parse(self, text: str) -> Query:
        return parse_query(text, self.vocabulary.stopwords)

    def index(self, session: Session) -> CatalogIndex:
        revision = catalog_revision(session)
        if self._index is None or revision != self._revision:
            with self._lock:
                if self._index is None or revision != self._revision:
                    with patient(session):  # the whole catalog: at 1M talks, seconds (db/config.py)
                        texts = load_talk_texts(session)
                    self._index = CatalogIndex(texts)
                    self._revision = revision
        return self._index

    def warm_up(self) -> None:
        """Build the index now, so the first person to search does not wait for it."""
        with self.sessions() as session:
            self.index(session)

    def search(self, text: str, limit: int = 5, offset: int = 0) -> ResultPage:
        """Raises QueryError (with a message for the user) when the query cannot be understood."""
        query = self.parse(text)
        with self.sessions() as session:
            ranking = rank(self.index(session), query, self.vocabulary, limit=limit, offset=offset)
            return ResultPage(
                cards=_cards(session, ranking.hits),
                total=ranking.total,
                offset=offset,
                dropped_words=ranking.dropped_words,
                notes=ranking.notes,
                suggestions=ranking.suggestions,
            )

    def similar(self, talk_id: int, limit: int = 5) -> ResultPage:
        """ "More like this": the talks closest to `talk_id`; empty when the talk is unknown."""
        with self.sessions() as session:
            index = self.index(session)
            texts = load_talk_texts(session, [talk_id])
            hits = similar(index, texts[0], self.vocabulary.stopwords, limit) if texts else []
            return ResultPage(cards=_cards(session, hits), total=len(hits))


def _cards(session: Session, hits: list[Hit]) -> list[TalkCard]:
    talks = talks_by_id(session, [hit.talk_id for hit in hits])
    return [TalkCard.of(talks[hit.talk_id], hit.score, hit.reasons) for hit in hits if hit.talk_id in talks]
