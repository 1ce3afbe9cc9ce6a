"""Seeded synthetic talks that look like a real catalog, for sizes the real archives do not reach.

Words, tags, speaker names and event names are drawn with the frequencies they have in a corpus of real talks
(the pyvideo archive when it is here), so common words stay common and rare ones rare, as in any real catalog;
new speaker names mix real first and last names, and a tail of rare coined words keeps the vocabulary growing
with the catalog. Without a corpus, a small built-in vocabulary stands in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from collections.abc import Iterator

from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord
from db.search.text import surface_words

FALLBACK_WORDS = (
    "kafka kubernetes observability tracing postgresql python rust serverless monitoring incident reliability "
    "database streaming security performance latency caching testing deployment microservices containers data "
    "how we built scaled ran learned lessons from the journey at production in practice without pain modern a "
    "an of for with to and our your team years story deep dive introduction patterns mistakes tale field notes"
).split()
FALLBACK_NAMES = "ada grace alan barbara ken dennis linus guido bjarne margaret radia leslie".split()
FALLBACK_SERIES = "PyCon EuroPython SREcon Velocity dotScale KubeCon FOSDEM QCon".split()


class _Weighted:
    """Draws items with the frequencies they were counted with."""

    def __init__(self, counts: Counter) -> None:
        self.items = list(counts)
        self.cumulative = list(itertools.accumulate(counts.values()))

    def draw(self, rng: random.Random, k: int = 1) -> list:
        return rng.choices(self.items, cum_weights=self.cumulative, k=k)


class SyntheticCatalog:
    def __init__(self, corpus: list[TalkRecord] | None = None) -> None:
        words, tags, firsts, lasts, series = Counter(), Counter(), Counter(), Counter(), Counter()
        durations, languages = Counter(), Counter()
        for record in corpus or []:
            words.update(surface_words(f"{record.title} {record.summary[:400]}"))
            tags.update(record.tags)
            durations[record.duration_minutes] += 1
            languages[record.language] += 1
            for speaker in record.speakers:
                parts = speaker.name.split()
                if len(parts) >= 2:
                    firsts[parts[0]] += 1
                    lasts[parts[-1]] += 1
            if record.event:
                series[record.event.series] += 1
        self.words = _Weighted(words or Counter(FALLBACK_WORDS))
        self.tags = _Weighted(tags or Counter(FALLBACK_WORDS[:20]))
        self.firsts = _Weighted(firsts or Counter(FALLBACK_NAMES))
        self.lasts = _Weighted(lasts or Counter(name.title() for name in FALLBACK_NAMES))
        self.series = _Weighted(series or Counter(FALLBACK_SERIES))
        self.durations = _Weighted(durations or Counter({None: 1, 20: 1, 30: 2, 45: 1}))  # None: length unknown
        self.languages = _Weighted(languages or Counter({"en": 9, "de": 1}))

    def records(self, count: int, seed: int = 42) -> Iterator[TalkRecord]:
        """`count` talks, the same ones for the same seed."""
        rng = random.Random(seed)
        # Lengths and languages from a generator of their own, so the talks' words stay those of earlier runs.
        details = random.Random(f"{seed}-details")
        for number in range(count):
            year = rng.randint(2005, 2025)
            series = self.series.draw(rng)[0]
            title = " ".join(self.words.draw(rng, rng.randint(3, 9))).capitalize()
            summary = self.words.draw(rng, rng.randint(20, 60))
            if rng.random() < 0.3:
                summary.append(f"{rng.choice(summary)[:5]}{rng.randrange(10**6)}")  # the long tail of rare words
            yield TalkRecord(
                source="synthetic",
                external_id=str(number),
                title=title,
                event=EventRecord(series=series, year=year, name=f"{series} {year}"),
                speakers=tuple(
                    SpeakerRecord(f"{self.firsts.draw(rng)[0]} {self.lasts.draw(rng)[0]}")
                    for _ in range(1 if rng.random() < 0.85 else 2)
                ),
                tags=tuple(dict.fromkeys(self.tags.draw(rng, rng.randint(0, 4)))),
                summary=" ".join(summary) + ".",
                recommendation="A reporter's pick." if (recommended := rng.random() < 0.05) else None,
                verdict="recommended" if recommended else None,
                links=(LinkRecord("video", f"https://video.example/{number}"),) if rng.random() < 0.7 else (),
                duration_minutes=self.durations.draw(details)[0],
                language=self.languages.draw(details)[0],
                recorded_on=dt.date(year, 1, 1) + dt.timedelta(days=details.randrange(365)),
            )
