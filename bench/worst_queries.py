"""The most expensive queries talkbot still accepts, at scale, beside SQLite FTS5 on the same queries.

    python -m bench.worst_queries                   # 1M talks (about 5 minutes, 5 GB of memory)
    python -m bench.worst_queries --talks 100000    # under a minute

The query limits (db/search/query.py: characters, words in all, filters) bound what one query can cost. Here each
family of queries sits at those limits, built from what costs most on this catalog: the most common words (long
postings), long words with typos (many candidates), two-letter prefixes (the last word, and every filter word, also
matches as a prefix), filters and quoted phrases. Reported per family: p50/p99/max of ours and of FTS5
(tests/support/fts5.py).
Then the queries the limits now refuse, timed as they would run without them (the limits lifted for that part only).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import db.search.query as query_module
from bench.search import ARCHIVE, Catalog, percentile, ranking_with
from bench.synthetic import SyntheticCatalog
from db.importers import read_catalog_file
from db.search.index import CatalogIndex
from db.search.query import MAX_FILTERS, MAX_QUERY_CHARS, MAX_WORDS, QueryError, parse_query
from db.search.vocabulary import default_vocabulary
from tests.support.fts5 import Fts5Baseline

COMMON = "python pycon talks learning system application makes tasks using europython libraries tools".split()
TYPOS = ("perfromance optimizaton distribted architecure microservics developmnet programing aplication managment "
         "infrastructre enginering prodution").split()  # fmt: skip
STOPWORDS = "the and of to a in this is you for how with".split()


def _words(words: list[str], count: int) -> str:
    return " ".join(words[:count])


WORST_ALLOWED = {
    "a two-letter prefix": ["py", "in", "co", "de"],
    f"{MAX_WORDS} common words, the last a prefix": [_words(COMMON, MAX_WORDS - 1) + " py",
                                                     _words(COMMON[3:] + COMMON, MAX_WORDS - 1) + " in"],
    f"{MAX_WORDS} long words with typos": [_words(TYPOS, MAX_WORDS), _words(TYPOS[2:] + TYPOS, MAX_WORDS)],
    f"{MAX_WORDS} stopwords": [_words(STOPWORDS, MAX_WORDS), _words(STOPWORDS[2:] + STOPWORDS, MAX_WORDS)],
    f"{MAX_WORDS // 2} quoted two-word phrases": [
        " ".join(f'"{a} {b}"' for a, b in zip(COMMON[: MAX_WORDS : 2], COMMON[1 : MAX_WORDS : 2], strict=True))
    ],
    f"{MAX_FILTERS} filters and {MAX_WORDS - MAX_FILTERS} words": [
        "event:py tag:py speaker:da " + _words(COMMON, MAX_WORDS - MAX_FILTERS - 1) + " py",
        "event:eu tag:da speaker:jo " + _words(TYPOS, MAX_WORDS - MAX_FILTERS),
    ],
    f"{MAX_FILTERS} filters of {(MAX_WORDS - 1) // MAX_FILTERS} words": [
        " ".join(f'{key}:"{" ".join(["py", "da", "eu", "co"][: (MAX_WORDS - 1) // MAX_FILTERS])}"'
                 for key in ("event", "tag", "speaker")) + " py",
    ],
    f"{MAX_QUERY_CHARS} characters": [(_words(TYPOS, MAX_WORDS - 1) + " " + "x" * MAX_QUERY_CHARS)[:MAX_QUERY_CHARS]],
}  # fmt: skip

REFUSED_NOW = {
    "55 filters (500 characters)": " ".join(["event:py"] * 60)[:500],
    "one filter of 120 words (500 characters)": ('event:"' + " ".join(["py", "da", "eu", "co"] * 60))[:499] + '"',
    "12 words and 3 filters of 3 words": 'event:"py da eu" tag:"py da eu" speaker:"py da eu" '
    + _words(COMMON, 11)
    + " py",
}


@contextmanager
def limits_lifted() -> Iterator[None]:
    """The parser as it was before its limits (long queries cut at 500 characters and 12 words, filters unbounded)."""
    saved = query_module.MAX_QUERY_CHARS, query_module.MAX_WORDS, query_module.MAX_FILTERS
    query_module.MAX_QUERY_CHARS, query_module.MAX_WORDS, query_module.MAX_FILTERS = 10**6, 10**6, 10**6
    try:
        yield
    finally:
        query_module.MAX_QUERY_CHARS, query_module.MAX_WORDS, query_module.MAX_FILTERS = saved


def timed(queries: list[str], search: Callable[[str], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        for text in queries:
            start = time.perf_counter()
            search(text)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def cells(samples: list[float]) -> str:
    return f"{statistics.median(samples):9.1f} {percentile(samples, 0.99):9.1f} {max(samples):9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talks", type=int, default=1_000_000, help="catalog size (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=10, help="runs of each query (default 10)")
    args = parser.parse_args()

    stopwords = default_vocabulary().stopwords
    for family, queries in WORST_ALLOWED.items():
        for text in queries:
            parsed = parse_query(text, stopwords)  # raises if a "worst allowed" query is not allowed after all
            filters = parsed.speaker + parsed.event + parsed.tag
            assert len(parsed.words) + sum(map(len, filters)) <= MAX_WORDS and len(text) <= MAX_QUERY_CHARS, family
    for text in REFUSED_NOW.values():
        try:
            parse_query(text, stopwords)
        except QueryError:
            continue
        raise AssertionError(f"the limits let this through: {text}")

    real = read_catalog_file(ARCHIVE).records if ARCHIVE.exists() else []
    print(f"building {args.talks:,} talks ({len(real):,} from pyvideo, the rest synthetic)", flush=True)
    texts = list(Catalog(real, SyntheticCatalog(real), args.talks).texts())
    start = time.perf_counter()
    ours = ranking_with(CatalogIndex(texts), default_vocabulary())
    print(f"index built in {time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    fts5 = Fts5Baseline(texts)
    print(f"FTS5 built in {time.perf_counter() - start:.0f} s", flush=True)
    texts = None

    print(f"\nThe worst queries the limits allow ({MAX_QUERY_CHARS} characters, {MAX_WORDS} words in all, "
          f"{MAX_FILTERS} filters), {args.talks:,} talks, {args.repeat} runs each; ms")  # fmt: skip
    columns = ("ours p50", "ours p99", "ours max", "FTS5 p50", "FTS5 p99", "FTS5 max")
    print(f"{'family':<38} " + " ".join(f"{column:>9}" for column in columns))
    every_ours, every_fts5 = [], []
    for family, queries in WORST_ALLOWED.items():
        mine, theirs = timed(queries, ours, args.repeat), timed(queries, fts5.search, args.repeat)
        every_ours += mine
        every_fts5 += theirs
        print(f"{family:<38} {cells(mine)} {cells(theirs)}", flush=True)
    print(f"{'all of the above':<38} {cells(every_ours)} {cells(every_fts5)}")

    print("\nRefused now (QueryError), timed with the limits lifted; ms")
    with limits_lifted():
        for name, text in REFUSED_NOW.items():
            print(f"{name:<48} ours {cells(timed([text], ours, max(2, args.repeat // 3)))}", flush=True)


if __name__ == "__main__":
    main()
