"""Issue 15's index numbers in one run, beside tantivy building the same talks.

    python -m bench.index_lifecycle            # builds at 100k and 1M talks; the rest on 100k (about 25 minutes)
    python -m bench.index_lifecycle --quick    # builds at 10k and 100k talks; the rest on 10k (about 4 minutes)

Talks: the pyvideo archive topped up with seeded synthetic talks (bench/search.py's Catalog).
- Full build: each engine builds the same talks in a fresh process of its own (the talks are loaded from a pickle
  first, then the peak is reset), so one build's peak never hides another's. Reported: seconds, the peak resident
  memory above the loaded talks, what stays resident once built, and tantivy's index size on disk (tantivy-py, the
  schema of bench/known_item.py, on disk, committed; its background merges are waited for before the size is read).
- First answer: seconds from starting `talkbot search` on a SQLite catalog to its exit with the answer, with no
  snapshot, then again with the snapshot the first run left (needs db/search/snapshot.py).
- Import → searchable: a one-talk `talkbot import` in a process of its own while this process holds a warm
  SearchEngine (watching the catalog when the engine can): seconds from the import's exit until a search here
  finds the talk.
- Search during a rebuild: the query mix through SearchEngine.search, first with nothing building, then from the
  moment the catalog revision is bumped (a full rebuild of the same talks) for as long as a build takes.
The database rows run with the semantic layer off (TALKBOT_SEMANTIC=off): they measure the lexical index.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import pickle
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.search import ARCHIVE, QUERIES, Catalog, percentile
from bench.synthetic import SyntheticCatalog
from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord

ROOT = Path(__file__).resolve().parents[1]
NOT_MEASURED = "n/a"


def resident_mb() -> float:
    return _status_mb("VmRSS")


def peak_mb() -> float:
    return _status_mb("VmHWM")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> bool:
    """Start the process's peak resident memory again from what it holds now (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def folder_mb(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


# --- full builds, each in a process of its own ---------------------------------------------------------------------


def build_ours(texts, _folder: Path) -> dict:
    from db.search.index import CatalogIndex

    index = CatalogIndex(texts)
    return {"terms": len(index.vocabulary), "keep": index}


def build_tantivy(texts, folder: Path) -> dict:
    from bench.tantivy_index import tantivy_index

    index, writer = tantivy_index(texts, folder)
    return {"keep": index, "writer": writer}


BUILDERS: dict[str, Callable] = {"ours": build_ours, "tantivy": build_tantivy}


def build_worker(engine: str, talks_file: Path, folder: Path) -> None:
    """Run in a fresh process: load the talks, build one engine's index, print what it took as JSON."""
    with open(talks_file, "rb") as file:
        texts = pickle.load(file)
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # glibc: give the unpickling's freed memory back first
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    peak_reset = reset_peak()
    before = resident_mb()
    start, cpu = time.perf_counter(), time.process_time()
    built = BUILDERS[engine](texts, folder)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if "writer" in built:  # tantivy merges segments in the background after a commit: let it finish first
        built.pop("writer").wait_merging_threads()
    gc.collect()
    result = {
        "seconds": seconds,
        "cpu": cpu,
        "peak_mb": peak_mb() - before if peak_reset else None,
        "kept_mb": resident_mb() - before,
        "terms": built.get("terms"),
        "disk_mb": folder_mb(folder) if engine == "tantivy" else None,
    }
    print(json.dumps(result), flush=True)


def tantivy_installed() -> bool:
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


def measure_builds(catalog: Catalog, work: Path) -> dict[str, dict | str]:
    talks_file = work / f"talks-{catalog.size}.pickle"
    with open(talks_file, "wb") as file:
        pickle.dump(list(catalog.texts()), file, protocol=pickle.HIGHEST_PROTOCOL)
    results: dict[str, dict | str] = {}
    for engine in BUILDERS:
        if engine == "tantivy" and not tantivy_installed():
            results[engine] = f"{NOT_MEASURED}: tantivy is not installed (pip install -e .[bench])"
            continue
        folder = work / f"{engine}-{catalog.size}"
        folder.mkdir()
        command = [
            sys.executable,
            "-m",
            "bench.index_lifecycle",
            "--build-worker",
            engine,
            str(talks_file),
            str(folder),
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        if done.returncode:
            results[engine] = f"{NOT_MEASURED}: the build failed: {done.stderr.strip().splitlines()[-1:]}"
        else:
            results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
        shutil.rmtree(folder, ignore_errors=True)
        print(f"  built {catalog.size:,} talks with {engine}", flush=True)
    talks_file.unlink()
    return results


# --- a SQLite catalog for the rows that go through the database ----------------------------------------------------


def catalog_url(catalog: Catalog) -> str:
    """A migrated SQLite catalog of `catalog`'s talks, made on the first run and reused after."""
    from bench.cached_catalog import cached_catalog

    return cached_catalog(f"lifecycle-{catalog.size}", catalog.records)


def copy_catalog(source: str, target: Path) -> str:
    """A consistent copy of a SQLite catalog (SQLite's backup, which includes what is still in the write-ahead log)."""
    with (
        contextlib.closing(sqlite3.connect(source.removeprefix("sqlite:///"))) as original,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        original.backup(copy)
    return f"sqlite:///{target}"


def talkbot(url: str, snapshots: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLACK_")}
    env |= {"DATABASE_URL": url, "TALKBOT_INDEX_DIR": str(snapshots), "TALKBOT_SEMANTIC": "off"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def first_answer(url: str, work: Path) -> dict[str, float | str]:
    """`talkbot search` from start to answer: with no snapshot, then with the one that run left (if any)."""
    snapshots = work / "snapshots"
    shutil.rmtree(snapshots, ignore_errors=True)
    snapshots.mkdir()
    shutil.rmtree(url.removeprefix("sqlite:///") + ".index", ignore_errors=True)  # where it goes by default
    times: dict[str, float | str] = {}
    start = time.perf_counter()
    done = talkbot(url, snapshots, "search", "django")
    times["cold"] = time.perf_counter() - start if done.returncode == 0 else f"{NOT_MEASURED}: {done.stderr[-200:]}"
    try:
        import db.search.snapshot  # noqa: F401
    except ImportError:
        times["snapshot"] = f"{NOT_MEASURED}: needs db/search/snapshot.py (index snapshots)"
        return times
    if not any(snapshots.iterdir()):
        times["snapshot"] = f"{NOT_MEASURED}: `talkbot search` left no snapshot in TALKBOT_INDEX_DIR"
        return times
    start = time.perf_counter()
    done = talkbot(url, snapshots, "search", "django")
    times["snapshot"] = time.perf_counter() - start if done.returncode == 0 else f"{NOT_MEASURED}: {done.stderr[-200:]}"
    return times


def one_talk_file(work: Path, word: str) -> Path:
    from db.importers.talkbot_format import catalog_document

    record = TalkRecord(
        source="bench",
        external_id=f"lifecycle-{word}",
        title=f"Searchable at once: {word}",
        event=EventRecord(series="BenchCon", year=2026, name="BenchCon 2026"),
        speakers=(SpeakerRecord("Ada Bench"),),
        tags=("benchmarks",),
        summary="One talk imported while another process searches.",
        links=(LinkRecord("video", "https://video.example/lifecycle"),),
    )
    path = work / "one-talk.json"
    path.write_text(json.dumps(catalog_document([record]), ensure_ascii=False), encoding="utf-8")
    return path


def warm_engine(url: str):
    """A SearchEngine on `url` with its index built, the semantic layer off."""
    from db.config import sessions_for
    from db.search.engine import SearchEngine

    engine = SearchEngine(sessions_for(url), semantic=False)
    engine.search("django")
    return engine


def import_to_searchable(url: str, work: Path, limit: float = 180.0) -> dict[str, float | str]:
    """Seconds from a one-talk `talkbot import` (another process) to this process's engine finding the talk."""
    word = f"quillbench{time.time_ns()}"  # in the imported talk only
    engine = warm_engine(url)
    watching = hasattr(engine, "watch_catalog")
    if watching:
        engine.watch_catalog()
    try:
        start = time.perf_counter()
        done = talkbot(url, work / "snapshots", "import", str(one_talk_file(work, word)))
        if done.returncode:
            return {"seconds": f"{NOT_MEASURED}: the import failed: {done.stderr[-200:]}"}
        imported = time.perf_counter()
        while time.perf_counter() - imported < limit:
            if engine.search(word).cards:
                return {"seconds": time.perf_counter() - imported, "import": imported - start, "watching": watching}
            time.sleep(0.02)
        return {"seconds": f"{NOT_MEASURED}: not found within {limit:.0f} s"}
    finally:
        if watching:
            engine.stop_watching()


def searches_during_rebuild(url: str, build_seconds: float) -> dict[str, list[float]]:
    """The query mix with nothing building, then for as long as a full build takes after the revision is bumped."""
    from db.catalog import bump_revision
    from db.config import sessions_for

    engine = warm_engine(url)

    def timed(until: float) -> list[float]:
        samples: list[float] = []
        while not samples or time.perf_counter() < until:
            for query in QUERIES:
                start = time.perf_counter()
                engine.search(query)
                samples.append((time.perf_counter() - start) * 1000)
        return samples

    quiet = timed(time.perf_counter() + 3)
    with sessions_for(url).begin() as session:
        bump_revision(session, None)  # any talk: a full rebuild
    rebuilding = timed(time.perf_counter() + max(3.0, 1.5 * build_seconds))
    return {"quiet": quiet, "rebuilding": rebuilding}


# --- report --------------------------------------------------------------------------------------------------------


def cell(value, unit: str = "", digits: int = 1) -> str:
    return f"{value:,.{digits}f}{unit}" if isinstance(value, int | float) else "—"


def print_builds(builds: dict[int, dict[str, dict | str]]) -> None:
    print("\nFull build, each engine in a fresh process (MB: resident memory above the loaded talks)")
    header = ("talks", "engine", "build s", "CPU s", "peak MB", "kept MB", "disk MB", "terms")
    print(" ".join(f"{h:>10}" for h in header))
    for size, engines in builds.items():
        for engine, row in engines.items():
            if isinstance(row, str):
                print(f"{size:>10,} {engine:>10} {row}")
                continue
            cells = (
                f"{size:,}", engine, cell(row["seconds"], digits=2), cell(row.get("cpu"), digits=2),
                cell(row["peak_mb"], digits=0),
                cell(row["kept_mb"], digits=0), cell(row["disk_mb"], digits=0), cell(row["terms"], digits=0),
            )  # fmt: skip
            print(" ".join(f"{c:>10}" for c in cells))
        ours, tantivy = engines.get("ours"), engines.get("tantivy")
        if isinstance(ours, dict) and isinstance(tantivy, dict):
            print(f"{'':>10} {'ours/tan.':>10} {ours['seconds'] / tantivy['seconds']:>9.2f}×", end="")
            if ours["peak_mb"] and tantivy["disk_mb"]:
                print(f"  peak / tantivy's index on disk: {ours['peak_mb'] / tantivy['disk_mb']:.2f}×", end="")
            print()


def spread(samples: list[float]) -> str:
    return (
        f"{len(samples)} searches, p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms, "
        f"slowest {max(samples):.1f} ms"
    )


def seconds_or_reason(value) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="builds at 10k and 100k, the rest on 10k")
    parser.add_argument("--build-worker", nargs=3, metavar=("ENGINE", "TALKS", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_worker:
        engine, talks_file, folder = args.build_worker
        build_worker(engine, Path(talks_file), Path(folder))
        return
    from db.importers import read_catalog_file

    real = read_catalog_file(ARCHIVE).records if ARCHIVE.exists() else []
    synthetic = SyntheticCatalog(real)
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    print(f"catalog: {len(real):,} pyvideo talks, topped up with synthetic talks", flush=True)
    # ignore_cleanup_errors: a warm engine may still be saving a snapshot in a daemon thread as the run ends
    with tempfile.TemporaryDirectory(prefix="talkbot-lifecycle-", ignore_cleanup_errors=True) as temporary:
        work = Path(temporary)
        builds = {size: measure_builds(Catalog(real, synthetic, size), work) for size in sizes}
        print_builds(builds)

        small = Catalog(real, synthetic, sizes[0])
        url = copy_catalog(catalog_url(small), work / "catalog.sqlite3")  # the import adds a talk: to a copy
        ours = builds[sizes[0]]["ours"]
        build_seconds = ours["seconds"] if isinstance(ours, dict) else 10.0
        answers = first_answer(url, work)
        during = searches_during_rebuild(url, build_seconds)
        imported = import_to_searchable(url, work)

    how = "the engine watching the catalog" if imported.get("watching") else "found by the next search's revision check"
    detail = f" ({how}; the import itself took {imported['import']:.2f} s)" if "import" in imported else ""
    print(f"\nOn a SQLite catalog of {sizes[0]:,} talks (semantic layer off):")
    rows = (
        ("first answer, `talkbot search django`, start to exit, no snapshot", seconds_or_reason(answers["cold"])),
        ("first answer, `talkbot search django`, start to exit, with snapshot", seconds_or_reason(answers["snapshot"])),
        ("one imported talk found here after the import's exit", seconds_or_reason(imported["seconds"]) + detail),
        ("searches, nothing building", spread(during["quiet"])),
        ("searches, while a full rebuild runs", spread(during["rebuilding"])),
    )
    for name, value in rows:
        print(f"  {name + ':':<70} {value}")


if __name__ == "__main__":
    main()
