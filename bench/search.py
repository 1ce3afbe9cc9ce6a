"""Search at scale: our engine beside SQLite FTS5 (bm25), tantivy with fuzzy words and a rapidfuzz scan, on the same
talks and queries.

    python -m bench.search                   # 1k, 10k, 100k and 1M talks, then relevance (about 15 minutes)
    python -m bench.search --quick           # 1k and 10k talks, then relevance (under a minute)
    python -m bench.search --sizes 100000    # the sizes given only

Catalogs: the real pyvideo archive (21,713 talks, read from ../shared/data when it is there), sampled for the
small sizes and topped up with seeded synthetic talks (bench/synthetic.py) for the large ones. For each size,
one fixed mix of queries (single words, two-word topics, typos, abbreviations, speakers, filters, prefixes,
no-match) runs through every engine in this process. Reported: p50/p99 latency, index build time and the
resident memory the index added. tantivy (when installed: `pip install -e .[bench]`) is asked as ours works: every
word required, each matched exactly (BM25, our field boosts) or within our typo budget (prefixes for the last word).
Then relevance: MRR and nDCG@5 of ours and FTS5 on the labelled queries.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from bench.synthetic import SyntheticCatalog
from bench.tantivy_index import BOOSTS, FIELDS, tantivy_index
from db.importers import read_catalog_file
from db.records import TalkRecord
from db.search.index import CatalogIndex, TalkText
from db.search.query import parse_query
from db.search.ranking import rank, typo_budget
from db.search.vocabulary import default_vocabulary
from tests.support.fts5 import Fts5Baseline
from tests.support.relevance import labelled_queries, quality

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyvideo-data.tar.gz"
QUERIES = [
    "django", "asyncio", "pandas", "security", "testing", "kafka", "performance", "packaging",
    "machine learning", "type hints", "data pipelines", "web scraping", "async django", "memory leaks",
    "asynico", "djnago", "pandsa", "kubernets", "perfomance", "sceurity",
    "ml", "k8s", "orm", "api", "nlp", "gil",
    "hettinger", "raymond hettinger", 'speaker:"david beazley"', "langa",
    "tag:django year:2015..2019", "event:europython asyncio", "year:2020 testing", "tag:python",
    "asyn", "microp", "data sci",
    "zzyzx", "qwertyuiop asdf",
]  # fmt: skip
# The length, language and order filters (issue 16), alone and with words and other filters: ours only (the other
# engines have no such filters), timed beside the mix above.
FILTER_QUERIES = [
    "kafka length:<30", "django is:short", "machine learning is:long", "testing length:20..45", "length:>45",
    "pandas lang:es", "lang:de", "asyncio lang:en is:short", "django sort:newest", "sort:newest",
    "security is:long sort:newest", "tag:python length:<30 has:video", "data pipelines lang:pt sort:newest",
    "djnago length:..25", "year:2015..2019 testing is:long lang:en",
]  # fmt: skip
REPEATS = {1_000: 20, 10_000: 10, 100_000: 5}  # enough samples for a steady p99
SCAN_QUERIES_AT_1M = 6  # a full scan of a million talks takes seconds a query: a few are enough to show it


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def time_queries(queries: list[str], search: Callable[[str], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        for query in queries:
            start = time.perf_counter()
            search(query)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


@dataclass
class Catalog:
    """A catalog of `size` talks that can be streamed as often as an engine needs, the same each time."""

    real: list[TalkRecord]
    synthetic: SyntheticCatalog
    size: int

    def records(self) -> Iterator[TalkRecord]:
        if self.size <= len(self.real):
            yield from random.Random(self.size).sample(self.real, self.size)
            return
        yield from self.real
        yield from self.synthetic.records(self.size - len(self.real))

    def texts(self) -> Iterator[TalkText]:
        return (TalkText.from_record(number, record) for number, record in enumerate(self.records(), start=1))


def ranking_with(index: CatalogIndex, vocabulary) -> Callable[[str], object]:
    return lambda text: rank(index, parse_query(text, vocabulary.stopwords), vocabulary)


def tantivy_fuzzy(texts: list[TalkText]) -> Callable[[str], object] | None:
    """tantivy with fuzzy words and BM25: each word must match a field, exactly (scored by BM25 with our field
    boosts) or within our typo budget, the last word also as a prefix; None when tantivy is not installed."""
    try:
        import tantivy

        index, _ = tantivy_index(texts)
    except ImportError:
        return None
    searcher = index.searcher()
    fields, boosts = list(FIELDS), BOOSTS
    special = re.compile(r"[^\w\s]")

    def word_query(word: str, last: bool):
        exact = index.parse_query(word, list(fields), field_boosts=boosts)
        typos = typo_budget(word)
        if not typos and not last:
            return exact
        fuzzy = index.parse_query(word, list(fields), fuzzy_fields={name: (last, typos, True) for name in fields})
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, exact), (tantivy.Occur.Should, fuzzy)])

    def search(text: str) -> list[int]:
        words = special.sub(" ", text).lower().split()  # lowercase: AND, OR and NOT are operators
        required = []
        for at, word in enumerate(words):
            try:
                required.append((tantivy.Occur.Must, word_query(word, at == len(words) - 1)))
            except ValueError:  # nothing left to search for once the analyzer drops a stopword
                continue
        if not required:
            return []
        hits = searcher.search(tantivy.Query.boolean_query(required), 10).hits
        return [searcher.doc(address)["talk_id"][0] for _, address in hits]

    return search


def scanning(documents: list[str]) -> Callable[[str], object]:
    """The naive bot: fuzzy-match the query against every talk's title, tags and speakers."""
    return lambda text: process.extract(text, documents, scorer=fuzz.WRatio, limit=5)


def measure(catalog: Catalog, repeat: int) -> dict:
    vocabulary = default_vocabulary()
    texts = list(catalog.texts())  # generated up front, so neither build time nor memory counts the generator
    gc.collect()
    before = resident_mb()
    start = time.perf_counter()
    index = CatalogIndex(texts)
    build = time.perf_counter() - start
    gc.collect()
    memory = resident_mb() - before
    ours = time_queries(QUERIES, ranking_with(index, vocabulary), repeat)
    filtered = time_queries(FILTER_QUERIES, ranking_with(index, vocabulary), repeat)
    terms = len(index.vocabulary)
    index = None
    gc.collect()

    start = time.perf_counter()
    fts5 = Fts5Baseline(texts)
    fts5_build = time.perf_counter() - start
    fts5_ms = time_queries(QUERIES, fts5.search, repeat)
    fts5 = None
    gc.collect()

    start = time.perf_counter()
    fuzzy = tantivy_fuzzy(texts)
    tantivy_build = time.perf_counter() - start
    tantivy_ms = time_queries(QUERIES, fuzzy, repeat) if fuzzy is not None else []
    fuzzy = None
    gc.collect()

    documents = [f"{t.title} {' '.join(t.tags)} {' '.join(t.speakers)}" for t in texts]
    texts = None
    scan_queries = QUERIES if catalog.size < 1_000_000 else QUERIES[:SCAN_QUERIES_AT_1M]
    scan = time_queries(scan_queries, scanning(documents), 1)
    documents = None
    gc.collect()
    return {
        "talks": catalog.size, "terms": terms, "build": build, "memory": memory, "fts5_build": fts5_build,
        "ours": ours, "filtered": filtered, "fts5": fts5_ms, "scan": scan, "tantivy": tantivy_ms,
        "tantivy_build": tantivy_build,
    }  # fmt: skip


def print_table(rows: list[dict]) -> None:
    print(f"\n{len(QUERIES)} queries per pass; latency in ms; memory = resident MB the index added")
    header = ("talks", "terms", "build s", "MB", "ours p50", "ours p99", "fts5 p50", "fts5 p99", "tfuzz p50",
              "tfuzz p99", "scan p50", "scan p99", "fts5/ours", "tfuzz/ours", "scan/ours")  # fmt: skip
    print(" ".join(f"{h:>10}" for h in header))
    for row in rows:
        ours, fts5, scan, fuzzy = row["ours"], row["fts5"], row["scan"], row["tantivy"]
        p99 = percentile(ours, 0.99)
        cells = (
            f"{row['talks']:,}", f"{row['terms']:,}", f"{row['build']:.2f}", f"{row['memory']:.0f}",
            f"{statistics.median(ours):.2f}", f"{p99:.2f}",
            f"{statistics.median(fts5):.2f}", f"{percentile(fts5, 0.99):.2f}",
            f"{statistics.median(fuzzy):.2f}" if fuzzy else "-", f"{percentile(fuzzy, 0.99):.2f}" if fuzzy else "-",
            f"{statistics.median(scan):.0f}", f"{percentile(scan, 0.99):.0f}",
            f"{percentile(fts5, 0.99) / p99:.1f}×", f"{percentile(fuzzy, 0.99) / p99:.1f}×" if fuzzy else "-",
            f"{percentile(scan, 0.99) / p99:.0f}×",
        )  # fmt: skip
        print(" ".join(f"{cell:>10}" for cell in cells), flush=True)
    filtered = ", ".join(
        f"{row['talks']:,}: p50 {statistics.median(row['filtered']):.2f}, p99 {percentile(row['filtered'], 0.99):.2f}"
        for row in rows
    )
    print(f"ours on {len(FILTER_QUERIES)} queries with length:, is:short/long, lang: and sort:newest (ms): {filtered}")
    builds = ", ".join(f"{row['fts5_build']:.1f}" for row in rows)
    print(f"FTS5 index build (s): {builds}")
    if any(row["tantivy"] for row in rows):
        tantivy_builds = ", ".join(f"{row['tantivy_build']:.1f}" for row in rows)
        print(f"tantivy index build (s): {tantivy_builds}")
    else:
        print("tfuzz (tantivy with fuzzy words and BM25): not installed (pip install -e .[bench])")


def print_relevance(real: list[TalkRecord]) -> None:
    """Ours and FTS5 on the labelled pyvideo queries (ids are source:external id)."""
    ids = {number: f"{record.source}/{record.external_id}" for number, record in enumerate(real, start=1)}
    texts = [TalkText.from_record(number, record) for number, record in enumerate(real, start=1)]
    index, fts5, vocabulary = CatalogIndex(texts), Fts5Baseline(texts), default_vocabulary()
    queries = labelled_queries("pyvideo_queries.yaml")

    def ours(text: str) -> list[str]:
        hits = rank(index, parse_query(text, vocabulary.stopwords), vocabulary, limit=5).hits
        return [ids[hit.talk_id] for hit in hits]

    print(f"\nRelevance on {len(queries)} labelled pyvideo queries ({len(real):,} talks):")
    for name, engine in (("ours", ours), ("FTS5 bm25", lambda text: [ids[i] for i in fts5.search(text)])):
        measured = quality(queries, engine)
        print(f"  {name:<10} MRR {measured.mrr:.3f}   nDCG@5 {measured.ndcg_at_5:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k and 10k talks only (under a minute)")
    parser.add_argument("--sizes", help="comma-separated catalog sizes, instead of the usual ones (e.g. 100000)")
    args = parser.parse_args()
    real = read_catalog_file(ARCHIVE).records if ARCHIVE.exists() else []
    synthetic = SyntheticCatalog(real)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    topped_up = ", topped up with synthetic talks" if max(sizes) > len(real) else ""
    print(f"catalog: {len(real):,} pyvideo talks{topped_up}")
    rows = []
    for size in sizes:
        rows.append(measure(Catalog(real, synthetic, size), repeat=REPEATS.get(size, 2)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  measured {size:,} talks; the process's peak resident memory so far: {peak:.0f} MB", flush=True)
    print_table(rows)
    if real:
        print_relevance(real)


if __name__ == "__main__":
    main()
