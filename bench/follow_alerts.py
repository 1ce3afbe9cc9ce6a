"""Follow alerts after an import, the search modal and For you, each beside its baseline measured in the same run.

    python -m bench.follow_alerts            # 1,000 followers, the whole pyvideo archive as one batch (about 3 minutes)
    python -m bench.follow_alerts --quick    # 200 followers, 3,000 pyvideo talks (under half a minute)

Temporary SQLite catalogs (the seed catalog, then the real pyvideo archive from ../shared/data), a fake Slack on
loopback. Measured:

- Follow alerts (clock process, not in Slack's request path): N people in one workspace follow 1-3 searches each,
  drawn from bench/search.py's query mix (topics, abbreviations, speakers, filters; typos, prefixes and no-match left
  out), popular ones followed by more people. The archive is imported as ONE batch, timed beside the same import into
  a catalog nobody follows (the outbox write is the difference; it is also timed alone). Then one
  `FollowAlerts.run_pending` pass beside the bare `chat.postMessage` calls for the DMs it sent; each distinct follow
  matched against the batch by `SearchEngine.matching` beside SQLite FTS5 (tests/support/fts5.py) over the batch's
  talks; and the common case, a 5-talk import, with the same followers.
- The search modal (its ack and the results it then draws) and For you (a person with 20 saved talks): p50/p99
  beside `SearchEngine.search` / `SearchEngine.similar`, their building blocks.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bench.search import ARCHIVE, QUERIES, percentile
from bot.answers import Answers
from bot.blocks.base import Screen
from bot.blocks.modal import MODAL_PAGE_SIZE
from bot.config import SlackSettings
from bot.devtools.fake_slack import FakeSlack
from bot.follows.alerts import FollowAlerts
from bot.installations import bot_clients
from bot.search_form import SearchForm
from db.catalog_import import import_records
from db.config import sessions_for
from db.follows import add_follow, record_batch
from db.importers import read_catalog_file
from db.migrate import upgrade
from db.models import Talk
from db.records import EventRecord, SpeakerRecord, TalkRecord
from db.saved_talks import save_talk
from db.search.engine import SearchEngine
from db.search.index import load_talk_texts
from db.setup import seed_catalog
from tests.support.fts5 import Fts5Baseline

TEAM = "T0001"  # the fake Slack's workspace
# Searches people would follow: bench/search.py's mix without its typos, prefixes and no-match queries.
FOLLOW_QUERIES = QUERIES[:14] + QUERIES[20:34]
LIKED = 20  # For you: talks the person saved
SMALL_IMPORT = 5


def milliseconds(action: Callable[[], object], repeat: int = 1) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def seconds(action: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def spread(samples: list[float]) -> str:
    return f"{statistics.median(samples):8.2f} {percentile(samples, 0.99):8.2f}"


def fresh_catalog(folder: str, name: str) -> str:
    url = f"sqlite:///{Path(folder) / f'{name}.sqlite3'}"
    upgrade(url)
    seed_catalog(url)
    return url


def import_all(url: str, records: list[TalkRecord]):
    with sessions_for(url).begin() as session:
        return import_records(session, records)


def follow_mix(people: int) -> list[tuple[str, list[str]]]:
    """(user id, their 1-3 follows): popular searches are followed by more people (weights 1/rank)."""
    chooser = random.Random(14)
    ranked = chooser.sample(FOLLOW_QUERIES, len(FOLLOW_QUERIES))
    weights = [1 / rank for rank in range(1, len(ranked) + 1)]
    mix = []
    for number in range(people):
        wanted = chooser.randint(1, 3)
        queries: list[str] = []
        while len(queries) < wanted:
            query = chooser.choices(ranked, weights)[0]
            if query not in queries:
                queries.append(query)
        mix.append((f"UF{number:05d}", queries))
    return mix


def form_of(query: str) -> SearchForm:
    """The modal's form a person would fill in for `query`: filters in their own fields, the rest as words."""
    fields: dict[str, str] = {}
    for name in ("speaker", "event", "year"):
        found = re.search(rf'{name}:("[^"]*"|\S+)', query)
        if found:
            fields["years" if name == "year" else name] = found.group(1).strip('"')
            query = query.replace(found.group(0), "")
    return SearchForm(words=" ".join(query.split()), **fields)


def small_batch(run: int) -> list[TalkRecord]:
    topics = ["django", "asyncio", "pandas", "type hints", "security"]
    return [
        TalkRecord(
            source="bench-follows",
            external_id=f"{run}-{number}",
            title=f"New ideas in {topic}, part {number}",
            event=EventRecord(series="BenchConf", year=2026, name="BenchConf 2026"),
            speakers=(SpeakerRecord("Bench Speaker"),),
            tags=(topic.split()[0],),
            summary=f"What changed in {topic}.",
        )
        for number, topic in enumerate(topics[:SMALL_IMPORT])
    ]


def bench_follows(folder: str, fake: FakeSlack, records: list[TalkRecord], people: int, repeat: int) -> None:
    plain = fresh_catalog(folder, "nobody-follows")
    _, import_plain = seconds(lambda: import_all(plain, records))

    url = fresh_catalog(folder, "followed")
    sessions = sessions_for(url)
    mix = follow_mix(people)
    with sessions.begin() as session:
        seeded_to = session.scalar(select(func.max(Talk.id)))
        for user_id, queries in mix:
            for query in queries:
                add_follow(session, TEAM, None, user_id, query)
    report, import_followed = seconds(lambda: import_all(url, records))
    with sessions() as session:
        batch_ids = list(session.scalars(select(Talk.id).where(Talk.id > seeded_to).order_by(Talk.id)))

    def outbox_alone():  # the same write again, rolled back
        with sessions() as session:
            record_batch(session, batch_ids)
            session.rollback()

    _, outbox = seconds(outbox_alone)

    distinct = sorted({query for _, queries in mix for query in queries})
    engine = SearchEngine(sessions)
    with sessions() as session:
        _, rebuild = seconds(lambda: engine.index(session))  # what the clock's first match after an import costs
    ours = [ms for query in distinct for ms in milliseconds(lambda q=query: engine.matching(q, batch_ids), repeat)]
    matched = {query: len(engine.matching(query, batch_ids)) for query in distinct}
    with sessions() as session:
        texts = load_talk_texts(session, batch_ids)
    fts5, fts5_build = seconds(lambda: Fts5Baseline(texts))
    naive = [ms for query in distinct for ms in milliseconds(lambda q=query: fts5.search(q, len(texts)), repeat)]
    fts5_matched = {query: len(fts5.search(query, len(texts))) for query in distinct}

    clients = bot_clients(SlackSettings("xoxb-bench", None, None, fake.api_url), None)
    alerts = FollowAlerts(sessions, SearchEngine(sessions), clients)  # a fresh engine, as the clock process has
    big, big_pass = seconds(alerts.run_pending)
    client = clients(TEAM, None)
    _, floor = seconds(lambda: [client.chat_postMessage(channel=f"CBASE{n:05d}", text="x") for n in range(big.sent)])

    _, small_import = seconds(lambda: import_all(url, small_batch(1)))
    small, small_pass = seconds(alerts.run_pending)
    with sessions() as session:
        _, small_rebuild = seconds(lambda: SearchEngine(sessions).index(session))

    follows = sum(len(queries) for _, queries in mix)
    print(f"\nFollow alerts: {people:,} people in one workspace, {follows:,} follows, {len(distinct)} distinct "
          f"searches; one import batch of {report.added:,} new talks (SQLite, fake Slack)")  # fmt: skip
    print(f"{'':<58} {'seconds':>8} {'ms/follower':>12}")
    rows = [
        ("import, nobody follows (baseline)", import_plain),
        (f"import, {people:,} people follow (writes the outbox batch)", import_followed),
        ("  outbox write alone (record_batch, timed apart)", outbox),
        (f"alert pass over the batch: {big.sent:,} DMs", big_pass),
        ("  of which: index rebuild after the import (timed apart)", rebuild),
        (f"baseline: {big.sent:,} bare chat.postMessage", floor),
        (f"{SMALL_IMPORT}-talk import, same followers", small_import),
        (f"alert pass over the {SMALL_IMPORT}-talk batch: {small.sent:,} DMs", small_pass),
        ("  of which: index rebuild after the import (timed apart)", small_rebuild),
    ]
    for name, value in rows:
        per = f"{value / people * 1000:12.2f}" if name.startswith("alert pass") else ""
        print(f"{name:<58} {value:8.2f} {per}")
    print(f"reports: big pass {big}; small pass {small}")
    hit = sum(1 for count in matched.values() if count)
    print(f"distinct searches matching talks of the batch: {hit} of {len(distinct)} (FTS5: "
          f"{sum(1 for c in fts5_matched.values() if c)}); talks matched per search, median "
          f"{statistics.median(matched.values()):.0f}, max {max(matched.values()):,}")  # fmt: skip
    print(f"\nMatching each distinct follow against the batch's {len(batch_ids):,} talks ({repeat} passes), ms:")
    print(f"{'':<46} {'p50':>8} {'p99':>8} {'total':>8}")
    print(f"{'SearchEngine.matching':<46} {spread(ours)} {sum(ours) / repeat:8.1f}")
    print(f"{'baseline: FTS5 over the batch (every match)':<46} {spread(naive)} {sum(naive) / repeat:8.1f}")
    print(f"FTS5 index over the batch built in {fts5_build:.2f} s; ours (the whole catalog) in {rebuild:.2f} s")


def bench_answers(label: str, url: str, repeat: int, liked_from: list[str] | None = None) -> None:
    sessions = sessions_for(url)
    engine = SearchEngine(sessions)
    engine.warm_up()
    answers = Answers(sessions, engine)
    forms = [form_of(query) for query in QUERIES]
    submitted = [ms for form in forms for ms in milliseconds(lambda f=form: answers.modal_submitted(f), repeat)]
    results = [ms for form in forms for ms in milliseconds(lambda f=form: answers.modal_results(f), repeat)]
    queries = [form.query(engine.parse) for form in forms]
    searched = [
        ms for query in queries for ms in milliseconds(lambda q=query: engine.search(q, limit=MODAL_PAGE_SIZE), repeat)
    ]
    print(f"\n{label}: {len(QUERIES)} queries of bench/search.py as the modal's form, {repeat} passes, ms")
    print(f"{'':<50} {'p50':>8} {'p99':>8}")
    print(f"{'modal Search pressed: Answers.modal_submitted (ack)':<50} {spread(submitted)}")
    print(f"{'modal results: Answers.modal_results':<50} {spread(results)}")
    print(f"{'baseline: SearchEngine.search, same query, 20':<50} {spread(searched)}")
    if not liked_from:
        return
    liked: list[int] = []
    for query in liked_from:
        liked += [card.id for card in engine.search(query, limit=LIKED // len(liked_from)).cards]
    with sessions.begin() as session:
        for talk_id in liked:
            save_talk(session, TEAM, "UFORYOU", talk_id)
    for_you = milliseconds(lambda: answers.screen(Screen("foryou"), TEAM, "UFORYOU"), repeat)
    similar = [ms for talk_id in liked for ms in milliseconds(lambda t=talk_id: engine.similar(t), repeat)]
    print(f"{'For you (20 saved talks): Answers.screen foryou':<50} {spread(for_you)}")
    print(f"{'building block: SearchEngine.similar, one talk':<50} {spread(similar)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 followers, 3,000 pyvideo talks (under half a minute)")
    parser.add_argument("--people", type=int, help="followers (default 1,000; 200 with --quick)")
    args = parser.parse_args()
    people = args.people or (200 if args.quick else 1000)
    repeat = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as folder, FakeSlack() as fake:
        bench_answers("Seed catalog (64 talks)", fresh_catalog(folder, "seed"), repeat * 4)
        if not ARCHIVE.exists():
            print(f"\n{ARCHIVE} is not there: the follow alert and pyvideo measurements are skipped.")
            return
        records = read_catalog_file(ARCHIVE).records
        if args.quick:
            records = random.Random(3000).sample(records, 3000)
        bench_follows(folder, fake, records, people, repeat)
        pyvideo = f"sqlite:///{Path(folder) / 'nobody-follows.sqlite3'}"  # written by bench_follows
        label = f"pyvideo catalog (seed + {len(records):,} talks)"
        bench_answers(label, pyvideo, repeat, liked_from=["asyncio", "pandas"])


if __name__ == "__main__":
    main()
