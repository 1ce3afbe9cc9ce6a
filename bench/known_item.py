"""Known-item search on the pyvideo archive: a random talk, and the words a person half-remembering it would type.

    python -m bench.known_item                  # 200 queries of each kind, ours beside FTS5, bm25s and tantivy
    python -m bench.known_item --per-kind 100 --show-misses typo

Queries are made by fixed rules from a seeded sample of talks, so every run (and every engine) gets the same ones:

  title         two or three words of the title (the control: nothing misremembered)
  typo          the same, with one typo (a neighbouring key, a dropped, doubled or swapped letter) anywhere in the
                longest word, the first letter included
  speaker       a speaker's last name and one word of the title
  description   three distinctive words of the description (used by under 1% of talks) that are not in the title
  abbreviation  an abbreviation for a phrase of the title (from the fixed list below, not from talkbot's vocabulary)
                and one other word of the title
  prefix        two words of the title, the last one cut to its first four letters (typed halfway)

A query finds its talk at rank r (1..10) or not at all; MRR@10 averages 1/r. A talk given again at another event
under the same title by the same people counts as the same talk. Engines: ours (db/search), SQLite FTS5 with bm25
(tests/support/fts5.py: every word required, the last a prefix), and, when installed (`pip install -e .[bench]`), bm25s
(plain BM25 over all the text, any word may match) and tantivy (BM25, any word may match, the same field boosts
as ours, English stemming).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.tantivy_index import BOOSTS, FIELDS, tantivy_index
from db.importers import read_catalog_file
from db.records import TalkRecord
from db.search.index import CatalogIndex, TalkText
from db.search.query import QueryError, parse_query
from db.search.ranking import rank
from db.search.text import fold, surface_words
from db.search.vocabulary import default_vocabulary
from tests.support.fts5 import Fts5Baseline

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyvideo-data.tar.gz"
KINDS = ("title", "typo", "speaker", "description", "abbreviation", "prefix")
SEED = 20261124

# Words a person would not type to find a talk: English function words, and words every talk here could have.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each even few for from further get had has have
    having he her here hers him his how i if in into is it its just me more most my no nor not now of off on once
    only or other our ours out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which while who whom why will
    with would you your yours vs via using use used let lets one two new make way ways talk talks""".split()
)

# Abbreviations people type, each with the phrase it stands for. Chosen for this benchmark, independently of
# talkbot's vocabulary (some are in db/search/vocabulary.yaml, some are not), and applied only where the phrase
# is in a talk's title.
ABBREVIATIONS = {
    "machine learning": "ml", "deep learning": "dl", "neural network": "nn", "neural networks": "nn",
    "natural language processing": "nlp", "artificial intelligence": "ai", "large language models": "llm",
    "large language model": "llm", "reinforcement learning": "rl", "computer vision": "cv",
    "scikit-learn": "sklearn", "scikit learn": "sklearn", "continuous integration": "ci",
    "continuous delivery": "cd", "test driven development": "tdd", "test-driven development": "tdd",
    "global interpreter lock": "gil", "garbage collection": "gc", "application programming interface": "api",
    "graphical user interface": "gui", "user interface": "ui", "object relational mapper": "orm",
    "object oriented programming": "oop", "functional programming": "fp", "internet of things": "iot",
    "command line": "cli", "command-line": "cli", "web assembly": "wasm", "webassembly": "wasm",
    "kubernetes": "k8s", "javascript": "js", "postgresql": "pg", "jupyter notebook": "jupyter nb",
    "convolutional neural networks": "cnn", "convolutional neural network": "cnn",
    "recurrent neural networks": "rnn", "generative adversarial networks": "gan",
    "exploratory data analysis": "eda", "extract transform load": "etl", "high performance computing": "hpc",
    "geographic information systems": "gis", "domain driven design": "ddd", "domain-driven design": "ddd",
    "retrieval augmented generation": "rag", "retrieval-augmented generation": "rag",
    "just in time": "jit", "just-in-time": "jit", "abstract syntax tree": "ast", "abstract syntax trees": "ast",
    "python enhancement proposal": "pep", "python package index": "pypi", "python software foundation": "psf",
    "site reliability engineering": "sre", "continuous deployment": "cd", "integrated development environment": "ide",
    "operating system": "os", "structured query language": "sql", "regular expressions": "regex",
    "regular expression": "regex", "numpy": "np", "pandas dataframe": "pd dataframe", "matplotlib": "mpl",
}  # fmt: skip

# Typos a person makes: a neighbouring key on a QWERTY keyboard, a letter dropped, doubled, or swapped.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NEIGHBOURS = {
    letter: "".join(
        other
        for r2, row2 in enumerate(_ROWS)
        for c2, other in enumerate(row2)
        if abs(r2 - r) <= 1 and abs(c2 - c) <= 1 and other != letter
    )
    for r, row in enumerate(_ROWS)
    for c, letter in enumerate(row)
}


@dataclass(frozen=True)
class KnownItem:
    query: str
    kind: str
    targets: frozenset[int]  # document numbers (1-based, archive order): the talk and its repeats


def content_words(text: str) -> list[str]:
    """Words worth typing, in order, once each: letters only, at least three, not a stopword."""
    return list(dict.fromkeys(w for w in surface_words(text) if len(w) >= 3 and w.isalpha() and w not in STOPWORDS))


def typo(word: str, rng: random.Random) -> str:
    """One typo anywhere in `word`, the first letter included."""
    at = rng.randrange(len(word))
    kind = rng.choice(("neighbour", "drop", "double", "swap"))
    if kind == "neighbour" and word[at] in NEIGHBOURS:
        return word[:at] + rng.choice(NEIGHBOURS[word[at]]) + word[at + 1 :]
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    if kind == "double":
        return word[: at + 1] + word[at:]
    at = min(at, len(word) - 2)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :] if word[at] != word[at + 1] else word[:at] + word[at:]


def make_query(kind: str, record: TalkRecord, rng: random.Random, common: frozenset[str] = frozenset()) -> str | None:
    """The query for one kind, or None when the talk cannot give one (too short a title, no speaker, ...).
    `common`: words too widespread to describe one talk (the description kind leaves them out)."""
    title = content_words(record.title)
    if kind == "title":
        return " ".join(rng.sample(title, min(len(title), rng.choice((2, 3))))) if len(title) >= 2 else None
    if kind == "typo":
        words = rng.sample(title, min(len(title), rng.choice((2, 3)))) if len(title) >= 2 else []
        longest = max(words, key=len, default="")
        if len(longest) < 5:
            return None
        misspelt = typo(longest, rng)
        return " ".join(misspelt if word == longest else word for word in words) if misspelt != longest else None
    if kind == "speaker":
        names = [surface_words(speaker.name) for speaker in record.speakers if len(surface_words(speaker.name)) >= 2]
        if not names or not title:
            return None
        return f"{rng.choice(names)[-1]} {rng.choice(title)}"
    if kind == "description":
        words = [word for word in content_words(record.summary) if word not in title and word not in common]
        return " ".join(rng.sample(words, 3)) if len(words) >= 5 else None
    if kind == "abbreviation":
        folded = " ".join(surface_words(record.title.replace("-", " - ")))
        phrases = [p for p in ABBREVIATIONS if re.search(rf"\b{re.escape(' '.join(surface_words(p)))}\b", folded)]
        if not phrases:
            return None
        phrase = max(phrases, key=len)
        others = [word for word in title if word not in surface_words(phrase)]
        return f"{ABBREVIATIONS[phrase]} {rng.choice(others)}" if others else ABBREVIATIONS[phrase]
    if kind == "prefix":
        words = [word for word in title if len(word) >= 6]
        if not words or len(title) < 2:
            return None
        last = rng.choice(words)
        first = rng.choice([word for word in title if word != last])
        return f"{first} {last[:4]}"
    raise ValueError(kind)


def known_items(records: list[TalkRecord], per_kind: int = 200, seed: int = SEED) -> list[KnownItem]:
    """`per_kind` queries of each kind, made from a seeded sample of talks (the same for the same seed)."""
    same_talk: dict[tuple, list[int]] = defaultdict(list)  # a talk given again: same title, same people
    used_by: Counter[str] = Counter()
    for number, record in enumerate(records, start=1):
        same_talk[_identity(record)].append(number)
        used_by.update(set(surface_words(f"{record.title} {record.summary}")))
    common = frozenset(word for word, count in used_by.items() if count >= len(records) / 100)
    items = []
    for kind in KINDS:
        rng = random.Random(f"{seed}:{kind}")
        order = list(range(1, len(records) + 1))
        rng.shuffle(order)
        made = 0
        for number in order:
            record = records[number - 1]
            if record.language not in (None, "en"):
                continue
            query = make_query(kind, record, rng, common)
            if query is None:
                continue
            items.append(KnownItem(query, kind, frozenset(same_talk[_identity(record)])))
            made += 1
            if made == per_kind:
                break
    return items


def _identity(record: TalkRecord) -> tuple:
    return (fold(record.title).strip(), tuple(sorted(fold(speaker.name) for speaker in record.speakers)))


def reciprocal_rank_at_10(ranked: list[int], targets: frozenset[int]) -> float:
    return next((1 / position for position, doc in enumerate(ranked[:10], start=1) if doc in targets), 0.0)


# ------------------------------------------------------------------------------------------------- engines


def ours(texts: list[TalkText]) -> Callable[[str], list[int]]:
    index, vocabulary = CatalogIndex(texts), default_vocabulary()

    def search(text: str) -> list[int]:
        try:
            query = parse_query(text, vocabulary.stopwords)
        except QueryError:
            return []
        return [hit.talk_id for hit in rank(index, query, vocabulary, limit=10).hits]

    return search


def fts5(texts: list[TalkText]) -> Callable[[str], list[int]]:
    baseline = Fts5Baseline(texts)
    return lambda text: baseline.search(text, limit=10)


def bm25s_engine(texts: list[TalkText]) -> Callable[[str], list[int]] | None:
    try:
        import bm25s
    except ImportError:
        return None
    corpus = [f"{t.title} {' '.join(t.tags)} {' '.join(t.speakers)} {t.event} {t.summary}" for t in texts]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    ids = [t.talk_id for t in texts]

    def search(text: str) -> list[int]:
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        found, scores = retriever.retrieve(tokens, k=10, show_progress=False)
        return [ids[int(doc)] for doc, score in zip(found[0], scores[0], strict=True) if score > 0]

    return search


def tantivy_engine(texts: list[TalkText]) -> Callable[[str], list[int]] | None:
    try:
        index, _ = tantivy_index(texts)
    except ImportError:
        return None
    searcher = index.searcher()
    fields, boosts = list(FIELDS), BOOSTS
    special = re.compile(r"[^\w\s]")

    def search(text: str) -> list[int]:
        cleaned = special.sub(" ", text).strip().lower()  # lowercase: AND, OR and NOT are operators
        try:
            query = index.parse_query(cleaned, fields, field_boosts=boosts)
        except ValueError:  # nothing left to search for once the analyzer drops stopwords
            return []
        return [searcher.doc(address)["talk_id"][0] for _, address in searcher.search(query, 10).hits]

    return search


ENGINES = {"ours": ours, "FTS5": fts5, "bm25s": bm25s_engine, "tantivy": tantivy_engine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=200, help="queries of each kind (default 200)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, of: " + ", ".join(ENGINES))
    parser.add_argument("--show-misses", metavar="KIND", help="print our misses of one kind (or 'all')")
    args = parser.parse_args()

    records = read_catalog_file(ARCHIVE).records
    texts = [TalkText.from_record(number, record) for number, record in enumerate(records, start=1)]
    items = known_items(records, args.per_kind, args.seed)
    print(f"{len(items)} known-item queries over {len(records):,} pyvideo talks (seed {args.seed})")
    results: dict[str, dict[str, list[float]]] = {}
    timings: dict[str, list[float]] = {}
    ranked_by_ours: dict[str, list[int]] = {}
    for name in args.engines.split(","):
        start = time.perf_counter()
        search = ENGINES[name](texts)
        if search is None:
            print(f"  {name}: not installed (pip install -e .[bench])")
            continue
        print(f"  {name}: built in {time.perf_counter() - start:.1f} s", flush=True)
        per_kind: dict[str, list[float]] = defaultdict(list)
        timings[name] = []
        for item in items:
            start = time.perf_counter()
            ranked = search(item.query)
            timings[name].append((time.perf_counter() - start) * 1000)
            per_kind[item.kind].append(reciprocal_rank_at_10(ranked, item.targets))
            if name == "ours":
                ranked_by_ours[item.query] = ranked
        results[name] = per_kind

    print(f"\nMRR@10 per kind ({args.per_kind} queries each)")
    names = list(results)
    print(f"{'kind':<14}" + "".join(f"{name:>10}" for name in names))
    for kind in KINDS:
        print(f"{kind:<14}" + "".join(f"{statistics.mean(results[name][kind]):>10.3f}" for name in names))
    print(f"{'all':<14}" + "".join(f"{statistics.mean(sum(results[n].values(), [])):>10.3f}" for n in names))
    print(f"{'found @10':<14}" + "".join(f"{_found(results[n]):>10.3f}" for n in names))
    print(f"{'p50 ms':<14}" + "".join(f"{statistics.median(timings[n]):>10.2f}" for n in names))

    if args.show_misses and "ours" in results:
        for item in items:
            if args.show_misses in (item.kind, "all") and reciprocal_rank_at_10(ranked_by_ours[item.query],
                                                                                item.targets) < 1:  # fmt: skip
                target = records[min(item.targets) - 1]
                got = [records[doc - 1].title for doc in ranked_by_ours[item.query][:3]]
                rr = reciprocal_rank_at_10(ranked_by_ours[item.query], item.targets)
                print(f"[{item.kind}] {item.query!r} → {target.title!r} (RR {rr:.2f}); got {got}")


def _found(per_kind: dict[str, list[float]]) -> float:
    scores = sum(per_kind.values(), [])
    return sum(score > 0 for score in scores) / len(scores)


if __name__ == "__main__":
    main()
