"""TalkCard: a talk as every surface shows it (CLI, Slack, digest) — plain data, no presentation."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from db.languages import shown_language
from db.models import Talk


@dataclass(frozen=True)
class TalkCard:
    id: int
    title: str
    speakers: list[str]
    event: str | None
    year: int | None
    city: str | None
    talk_type: str
    tags: list[str]
    summary: str
    url: str | None
    video_url: str | None
    recommendation: str | None
    score: float
    reasons: list[str]
    verdict: str | None = None  # what the recommendation amounts to (db.models.VERDICTS); None: unjudged
    thumbnail_url: str | None = None  # an https image of the talk; None: the card is text only
    duration_minutes: int | None = None  # None: unknown
    language: str = "en"  # as the importers store it (db/importers/fields.py language_code)

    @classmethod
    def of(cls, talk: Talk, score: float = 0.0, reasons: tuple[str, ...] = ()) -> TalkCard:
        event = talk.event
        return cls(
            id=talk.id,
            title=talk.title,
            speakers=[speaker.name for speaker in talk.speakers],
            event=event.name if event else None,
            year=event.year if event else None,
            city=event.city if event else None,
            talk_type=talk.talk_type,
            tags=[tag.name for tag in talk.tags],
            summary=talk.summary,
            url=talk.best_url,
            video_url=talk.video_url,
            recommendation=talk.recommendation,
            score=score,
            reasons=list(reasons),
            verdict=talk.verdict,
            thumbnail_url=talk.thumbnail_url,
            duration_minutes=talk.duration_minutes,
            language=talk.language,
        )

    @property
    def event_label(self) -> str | None:
        """The edition name, with the year added in brackets when the name does not say it."""
        if self.event is None:
            return None
        return self.event if str(self.year) in self.event else f"{self.event} ({self.year})"

    @property
    def length_and_language(self) -> list[str]:
        """ "45 min" when the length is known, and the language when it is not the workspace's default
        (db/languages.py): what a card says of how long a talk is and what it is in."""
        facts = [f"{self.duration_minutes} min"] if self.duration_minutes else []
        language = shown_language(self.language)
        return facts + [language] if language else facts

    def to_json(self) -> dict:
        return asdict(self)

    def one_line_summary(self, limit: int = 160) -> str:
        """The summary's first sentence, cut at a word boundary to fit `limit` characters."""
        first = self.summary.split(". ")[0].strip()
        if first and not first.endswith((".", "!", "?")) and len(first) < len(self.summary):
            first += "."
        if len(first) <= limit:
            return first
        return first[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
