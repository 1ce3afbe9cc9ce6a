"""Choosing a channel's talk of the period: on topic, not seen before, well regarded, varied.

A reporter's verdict decides which talks may be picked at all: talks a reporter recommended or nobody judged come
first (recommended ones weighted up), talks a reporter had mixed feelings about only once the channel has had those,
and a talk a reporter did not recommend only when nothing else matches. Within that, the best score wins.
Deterministic for a channel and period (a hash breaks near-ties), so a preview shows what will be posted.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.digest.channel_subject import DigestTopic
from db.cards import TalkCard
from db.catalog import talks_by_id
from db.models import MIXED, NOT_RECOMMENDED, RECOMMENDED
from db.search.engine import SearchEngine

POOL = 200  # the best-matching talks considered each time
RECENT = 3  # posts whose events and speakers the next pick should not repeat

TOPIC_WEIGHT = 3.0
TOPIC_SHARPNESS = 32  # topic weight = share of the best match to this power: near-ties keep it, weaker matches lose it
RECOMMENDED_WEIGHT = 2.0
VIDEO_WEIGHT = 1.0
FEEDBACK_WEIGHT = 1.5
REPEAT_PENALTY = 1.5
TIE_BREAK = 0.3

# The order in which verdicts are picked: no verdict ranks with "recommended", before "mixed". Most talks (every
# imported conference) are unjudged, and a talk nobody has doubts about should not wait behind one a reporter had.
TIERS = {RECOMMENDED: 0, None: 0, MIXED: 1, NOT_RECOMMENDED: 2}


@dataclass(frozen=True)
class Pick:
    card: TalkCard
    reasons: list[str]


def pick_talk(
    search: SearchEngine,
    sessions: sessionmaker[Session],
    topic: DigestTopic,
    channel_key: str,
    period: str,
    posted: list[int],
    votes: dict[int, int],
) -> Pick | None:
    """The talk to post, or None when nothing in the catalog matches the topic the subscriber wrote. A subject read
    from the channel itself that matches nothing (#team-payments, and no talk on payments) lets any talk be picked."""
    candidates = search.search(topic.query, limit=POOL).cards
    on_subject = bool(candidates)
    if not candidates and topic.derived:
        candidates = search.search("", limit=POOL).cards
    if not candidates:
        return None
    allowed = [card for card in candidates if card.verdict != NOT_RECOMMENDED] or candidates
    seen = set(posted)
    fresh = [card for card in allowed if card.id not in seen]
    if not fresh:  # every matching talk has been posted: start over, but not with the last one
        fresh = [card for card in allowed if not posted or card.id != posted[-1]] or allowed
    tier = min(_tier(card) for card in fresh)
    fresh = [card for card in fresh if _tier(card) == tier]
    taste = _taste(sessions, votes)
    recent = _cards(sessions, posted[-RECENT:])
    recent_events = {card.event for card in recent if card.event}
    recent_speakers = {name for card in recent for name in card.speakers}

    best_match = max(card.score for card in candidates) or 1.0

    def score(card: TalkCard) -> float:
        value = TOPIC_WEIGHT * (card.score / best_match) ** TOPIC_SHARPNESS
        value += RECOMMENDED_WEIGHT * (card.verdict == RECOMMENDED) + VIDEO_WEIGHT * bool(card.video_url)
        value += FEEDBACK_WEIGHT * _affinity(card, taste)
        value -= REPEAT_PENALTY * (card.event in recent_events or bool(recent_speakers & set(card.speakers)))
        return value + TIE_BREAK * _jitter(channel_key, period, card.id)

    best = max(fresh, key=lambda card: (score(card), -card.id))
    doubt_free = any(_tier(card) == 0 for card in candidates)
    reasons = _reasons(best, topic.query if on_subject else "", taste, doubt_free, alone=len(candidates) == 1)
    return Pick(best, _topic_reasons(topic, on_subject) + reasons or ["It is a talk this channel has not seen yet."])


def _tier(card: TalkCard) -> int:
    return TIERS.get(card.verdict, TIERS[None])


def _cards(sessions: sessionmaker[Session], talk_ids: list[int]) -> list[TalkCard]:
    with sessions() as session:
        talks = talks_by_id(session, talk_ids)
        return [TalkCard.of(talks[talk_id]) for talk_id in talk_ids if talk_id in talks]


def _taste(sessions: sessionmaker[Session], votes: dict[int, int]) -> Counter:
    """What a channel's votes say it likes: net votes per tag and per speaker of the talks voted on."""
    taste: Counter = Counter()
    for card in _cards(sessions, list(votes)):
        for feature in [f"tag:{tag}" for tag in card.tags] + [f"speaker:{name}" for name in card.speakers]:
            taste[feature] += votes[card.id]
    return taste


def _affinity(card: TalkCard, taste: Counter) -> float:
    features = [f"tag:{tag}" for tag in card.tags] + [f"speaker:{name}" for name in card.speakers]
    total = sum(taste[feature] for feature in features)
    return max(-3.0, min(3.0, total))


def _jitter(channel_key: str, period: str, talk_id: int) -> float:
    digest = hashlib.sha256(f"{channel_key}|{period}|{talk_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _reasons(card: TalkCard, topic: str, taste: Counter, doubt_free: bool, alone: bool) -> list[str]:
    """Why this talk, as sentences a colleague would say. The reporter's note is quoted only when it recommends the
    talk; a mixed or negative verdict is said plainly, with why the talk was picked anyway."""
    reasons = []
    reporter = f"A reporter who saw it at {card.event}" if card.event else "A reporter who saw it"
    on_topic = f" on “{topic}”" if topic else ""
    if card.verdict == RECOMMENDED:
        note = _sentence(card.recommendation or "")
        reasons.append(f"{reporter} recommends it." + (f" {note}" if note else ""))
    elif card.verdict == MIXED:
        if doubt_free:
            why = f"so it waited until this channel had seen every talk{on_topic} without such doubts"
        else:
            why = f"but the catalog has no talk{on_topic} without such doubts"
        reasons.append(f"{reporter} had mixed feelings about it, {why}.")
    elif card.verdict == NOT_RECOMMENDED:  # picked only when every matching talk is one
        if alone:
            reasons.append(f"{reporter} did not recommend it, but it is the only talk{on_topic} in the catalog.")
        else:
            reasons.append(f"{reporter} did not recommend it, and neither did those of the other talks{on_topic}.")
    liked = [tag for tag in card.tags if taste[f"tag:{tag}"] > 0]
    if liked:
        reasons.append(f"This channel liked talks about {', '.join(liked[:3])}.")
    if card.video_url:
        reasons.append("There is a video to watch.")
    return reasons


def _topic_reasons(topic: DigestTopic, on_subject: bool) -> list[str]:
    """Why this talk, as far as the subject goes: the topic it matches, and where that topic came from."""
    if not topic.derived:
        return [f"It matches this channel's topic, “{topic.query}”."] if topic.query else []
    if on_subject and topic.query:
        return [f"It matches what this channel is about, going by {topic.origin}: “{topic.query}”."]
    if topic.query:
        return [f"No talk matches what this channel is about (“{topic.query}”, going by {topic.origin}), so it is one "
                "this channel has not seen yet."]  # fmt: skip
    if topic.unread:
        return ["I cannot read this channel's name, topic or purpose, so it is one this channel has not seen yet."]
    return ["No topic was set for this channel, so it is one this channel has not seen yet."]


def _sentence(text: str) -> str:
    """Text ending as a sentence does."""
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?", "…")) else text + "."
