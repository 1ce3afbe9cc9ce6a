"""Saved search indexes: a built CatalogIndex (and the stored talk vectors) written to disk, so a process that starts,
or a CLI call, searches at once instead of reading and indexing the whole catalog.

A snapshot is a directory of .npy files and a small manifest.json: what it is (magic, FORMAT_VERSION), which catalog
and which state of it (the catalog's identity, a random id the database keeps, with the revision and the time of
that revision's change), and for each array its shape, dtype and CRC-32. Arrays are loaded memory-mapped
(np.load(mmap_mode="r")): pages are read as searches touch them, and processes on one machine share them.

Never trusted: a snapshot of another revision, another catalog or another format version, or a damaged one (a file
missing, truncated or changed, a manifest cut short) is logged, left aside and the index built again. A snapshot is
written into a temporary directory beside its place and renamed into place when complete, so two processes writing
the same one at once leave one complete snapshot (the loser's rename fails and its copy is removed), and a reader
never sees half of one. Only the newest KEEP snapshots of each kind are kept.

Where: beside a SQLite catalog file (`<catalog>.index/`); for PostgreSQL in the per-user data folder, under a hash of
the database URL (without its password), so each replica keeps its own on its own disk. TALKBOT_INDEX_DIR moves them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from platformdirs import user_data_path
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from db.models import CatalogRevision
from db.search.index import CatalogIndex, TalkWords

log = logging.getLogger(__name__)

MAGIC = "talkbot-search-snapshot"
FORMAT_VERSION = 3  # 2: each talk's words (TalkWords), which an update of the index starts from; 3: each talk's
# duration, language and recording date (the length:, lang: and sort: filters)
INDEX_DIR_VARIABLE = "TALKBOT_INDEX_DIR"
KEEP = 2  # snapshots of each kind kept: the newest, and the one before for processes still on it
STALE_TEMPORARY_SECONDS = 3600  # a temporary directory this old belongs to a writer that died
MANIFEST = "manifest.json"
SEPARATOR = "\0"  # between the strings of a string table; never in a term or a word
LEXICAL, VECTORS = "index", "vectors"
T = TypeVar("T")


class Damaged(Exception):
    """A snapshot that cannot be used as it is on disk."""


# ----------------------------------------------------------------------------------------------------- where, which
def snapshot_directory(url: str) -> Path | None:
    """Where a catalog's snapshots live; None for a catalog with no file of its own (an in-memory SQLite)."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    database = parsed.database or ""
    if sqlite and (not database or database == ":memory:" or parsed.query.get("mode") == "memory"):
        return None  # wherever TALKBOT_INDEX_DIR points: every such catalog would have the same URL
    key = hashlib.sha256(parsed._replace(password=None).render_as_string(hide_password=False).encode()).hexdigest()[:16]
    override = os.environ.get(INDEX_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser() / key
    if sqlite:
        return Path(database).with_name(Path(database).name + ".index")
    return user_data_path("talkbot") / "index" / key


@dataclass(frozen=True)
class CatalogState:
    """Which catalog, at which revision: a snapshot serves exactly this state or nothing."""

    identity: str  # the catalog's random id (migration 0012)
    revision: int
    changed_at: str  # when this revision was made: a restored backup that reaches the same number again differs

    @property
    def key(self) -> str:
        return f"{self.identity}@{self.revision}@{self.changed_at}"


def catalog_state(session: Session) -> CatalogState | None:
    """The catalog's state as the database says now; None when it has no identity (not migrated to 0012)."""
    row = session.execute(
        select(CatalogRevision.identity, CatalogRevision.revision, CatalogRevision.changed_at).where(
            CatalogRevision.id == 1
        )
    ).one_or_none()
    if row is None or not row.identity:
        return None
    changed_at = row.changed_at
    if changed_at is not None and changed_at.tzinfo is not None:  # PostgreSQL: in the session's time zone
        changed_at = changed_at.astimezone(dt.UTC).replace(tzinfo=None)
    changed_at = changed_at.isoformat() if changed_at else ""
    return CatalogState(row.identity, row.revision or 0, changed_at)


# ------------------------------------------------------------------------------------------------- the lexical index
def save_snapshot(index: CatalogIndex, directory: Path, revision: int, identity: str) -> Path | None:
    """Write `index` as the snapshot of catalog `identity` at `revision` (see CatalogState.key for what an identity
    holds); returns where it is, or None when it could not be written (logged: a search never fails for it)."""
    arrays = {
        "vocabulary": _strings(index.vocabulary),
        "offsets": index.offsets,
        "docs": index.posting_docs,
        "masks": index.posting_masks,
        "weights": index.posting_weights,
        "term_fields": index.term_fields,
        "talk_ids": index.talk_ids,
        "years": index.years,
        "recommended": index.recommended,
        "has_video": index.has_video,
        "durations": index.durations,
        "languages": index.languages,
        "recorded": index.recorded,
        "prior": index.prior,
        "by_talk_id": index._by_talk_id,
        "surface_terms": _strings(index.surfaces.differing),
        "surface_words": _strings(index.surfaces.differing.values()),
        "abbreviations": np.frombuffer(json.dumps(index.abbreviations).encode(), dtype=np.uint8),
        **{f"typo_{name}": array for name, array in index.typo_buckets.items()},
        "word_terms": index.words.terms,
        "word_codes": index.words.codes,
        "word_starts": index.words.starts,
        "field_lengths": index.words.field_lengths,
        "hyphen_talks": index.words.hyphen_talks,
        "hyphen_pairs": index.words.hyphen_pairs,
        "mentions": np.frombuffer(json.dumps(index.words.mentions).encode(), dtype=np.uint8),
    }
    return _write(directory, LEXICAL, revision, identity, arrays)


def load_snapshot(directory: Path, revision: int, identity: str) -> CatalogIndex | None:
    """The snapshot of catalog `identity` at `revision`, memory-mapped; None when there is none that can be trusted."""
    found = _read(directory, LEXICAL, revision, identity)
    if found is None:
        return None
    arrays = found[0]
    try:
        vocabulary = _from_strings(arrays["vocabulary"])
        terms, words = _from_strings(arrays["surface_terms"]), _from_strings(arrays["surface_words"])
        surfaces = dict(zip(terms, words, strict=True))
        abbreviations = {
            short: tuple(tuple(phrase) for phrase in phrases)
            for short, phrases in json.loads(bytes(arrays["abbreviations"]).decode()).items()
        }
        if len(arrays["offsets"]) != len(vocabulary) + 1 or int(arrays["offsets"][-1]) != len(arrays["docs"]):
            raise Damaged("the offsets do not fit the vocabulary and postings")
        if len(arrays["word_starts"]) != len(arrays["talk_ids"]) + 1 or int(arrays["word_starts"][-1]) != len(
            arrays["word_terms"]
        ):
            raise Damaged("the talks' words do not fit the talks")
        mentions = tuple(
            (talk_id, tuple((short, tuple(phrase)) for short, phrase in spelled_out))
            for talk_id, spelled_out in json.loads(bytes(arrays["mentions"]).decode())
        )
        words = TalkWords(
            terms=arrays["word_terms"], codes=arrays["word_codes"], starts=arrays["word_starts"],
            field_lengths=arrays["field_lengths"], hyphen_talks=arrays["hyphen_talks"],
            hyphen_pairs=arrays["hyphen_pairs"], mentions=mentions,
        )  # fmt: skip
        return CatalogIndex.from_parts(
            vocabulary=vocabulary, offsets=arrays["offsets"], docs=arrays["docs"], masks=arrays["masks"],
            weights=arrays["weights"], term_fields=arrays["term_fields"], talk_ids=arrays["talk_ids"],
            years=arrays["years"], recommended=arrays["recommended"], has_video=arrays["has_video"],
            durations=arrays["durations"], languages=arrays["languages"], recorded=arrays["recorded"],
            prior=arrays["prior"], by_talk_id=arrays["by_talk_id"], surfaces=surfaces, abbreviations=abbreviations,
            typo_buckets={name[5:]: array for name, array in arrays.items() if name.startswith("typo_")}, words=words,
        )  # fmt: skip
    except (Damaged, KeyError, ValueError, TypeError, UnicodeDecodeError) as problem:
        _discard(directory / _name(LEXICAL, revision), f"unusable: {problem}")
        return None


def cached_index(
    session: Session, directory: Path | None, revision: int, build: Callable[[], CatalogIndex]
) -> CatalogIndex:
    """The index of the catalog at `revision` (the one the caller read and will label the index with): its snapshot
    when there is a good one, else `build()`, saved for the next process. A snapshot is loaded only when the catalog
    is still at `revision` and it names exactly that state, so a process never takes a snapshot newer or older than
    the revision it believes; and saved only when the catalog did not change while it was read (the revision is read
    again after the build), so a snapshot holds exactly the state its manifest names."""
    state = catalog_state(session) if directory is not None else None
    if state is not None and state.revision != revision:
        state = None  # changed since the caller looked: build, as the caller would, and save nothing
    if state is not None:
        loaded = load_snapshot(directory, state.revision, state.key)
        if loaded is not None:
            return loaded
    index = build()
    if state is not None and catalog_state(session) == state:
        save_snapshot(index, directory, state.revision, state.key)
    return index


def save_in_background(
    session: Session, directory: Path | None, revision: int, index: CatalogIndex
) -> threading.Thread | None:
    """Save `index` (the catalog at `revision`, as read in `session`) as that revision's snapshot in a thread of its
    own, so a process waiting for the index does not wait for the disk: only when the catalog is still at `revision`
    now, so the snapshot holds exactly the state its manifest names."""
    state = catalog_state(session) if directory is not None else None
    if state is None or state.revision != revision:
        return None
    thread = threading.Thread(
        target=save_snapshot, args=(index, directory, state.revision, state.key), name="talkbot-index-save", daemon=True
    )
    thread.start()
    return thread


# ------------------------------------------------------------------------------------------------ the talk vectors
@dataclass(frozen=True)
class StoredVectors:
    row_ids: np.ndarray
    talk_ids: np.ndarray
    vectors: np.ndarray  # float16, a row per row id


GRAPH = "graph.usearch"


def cached_semantic(
    session: Session,
    directory: Path | None,
    version: int,
    read: Callable[[], StoredVectors],
    make: Callable[[StoredVectors, object | None], T],
) -> T | None:
    """The semantic index of the stored vectors at `version` (their largest row id), made by `make(vectors, graph)`:
    from their snapshot when there is a good one (the vectors memory-mapped, and the HNSW graph when one was saved:
    rebuilding it costs minutes at 100k talks), else from `read()` (the database) and saved with the graph `make`
    built (its `ann`). None when no vectors are stored. A stored or replaced vector gets a new, larger row id, and a
    talk removed changes the catalog's revision, so the catalog's state and the largest row id name one set of
    vectors."""
    state = catalog_state(session) if directory is not None else None
    if state is not None and version:
        found = _read(directory, VECTORS, version, state.key)
        if found is not None:
            arrays, files = found
            try:
                if not len(arrays["row_ids"]) == len(arrays["talk_ids"]) == len(arrays["vectors"]):
                    raise Damaged("its arrays differ in length")
                graph = _viewed_graph(files[GRAPH]) if GRAPH in files else None
            except (Damaged, RuntimeError, ValueError) as problem:
                _discard(directory / _name(VECTORS, version), f"unusable: {problem}")
            else:
                stored = StoredVectors(arrays["row_ids"], arrays["talk_ids"], arrays["vectors"])
                return make(stored, graph) if len(stored.row_ids) else None
    stored = read()
    if not len(stored.row_ids):
        return None
    made = make(stored, None)
    if state is not None and int(stored.row_ids.max()) == version:
        graph = getattr(made, "ann", None)
        files = {GRAPH: graph.save} if graph is not None else {}
        arrays = {"row_ids": stored.row_ids, "talk_ids": stored.talk_ids, "vectors": stored.vectors}
        _write(directory, VECTORS, version, state.key, arrays, files)
    return made


def _viewed_graph(path: Path):
    """A saved usearch graph, memory-mapped (searches read it in place; an update copies it first)."""
    from usearch.index import Index

    graph = Index.restore(str(path), view=True)
    if graph is None:
        raise Damaged(f"{path} is not a usearch index")
    return graph


# ------------------------------------------------------------------------------------------------------- the files
def _name(kind: str, number: int) -> str:
    return f"{kind}-{number}"


def _strings(strings) -> np.ndarray:
    return np.frombuffer(SEPARATOR.join(strings).encode(), dtype=np.uint8)


def _from_strings(array: np.ndarray) -> list[str]:
    return bytes(array).decode().split(SEPARATOR) if len(array) else []


def _checksum(array: np.ndarray) -> int:
    if not array.size:  # memoryview cannot cast an empty view of several dimensions
        return zlib.crc32(b"")
    return zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"))


def _file_checksum(path: Path) -> int:
    if not path.stat().st_size:
        return zlib.crc32(b"")
    with open(path, "rb") as opened, mmap.mmap(opened.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return zlib.crc32(mapped)


def _write(
    directory: Path,
    kind: str,
    number: int,
    identity: str,
    arrays: dict[str, np.ndarray],
    files: dict[str, Callable[[str], object]] | None = None,
) -> Path | None:
    """Write a snapshot: the arrays as .npy files, and each of `files` by its writer (given the path to write)."""
    final = directory / _name(kind, number)
    temporary = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if final.exists():
            return final  # another process wrote it first
        temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=directory))
        described = {}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            with open(temporary / f"{name}.npy", "wb") as out:
                np.save(out, array, allow_pickle=False)
                out.flush()
                os.fsync(out.fileno())
            described[name] = {"shape": list(array.shape), "dtype": array.dtype.str, "crc32": _checksum(array)}
        written = {}
        for name, writer in (files or {}).items():
            writer(str(temporary / name))
            written[name] = {"size": (temporary / name).stat().st_size, "crc32": _file_checksum(temporary / name)}
        manifest = {
            "magic": MAGIC, "format_version": FORMAT_VERSION, "kind": kind, "number": number, "identity": identity,
            "written_at": time.time(), "arrays": described, "files": written,
        }  # fmt: skip
        with open(temporary / MANIFEST, "w", encoding="utf-8") as out:
            json.dump(manifest, out)
            out.flush()
            os.fsync(out.fileno())
        _fsync_directory(temporary)
        try:
            os.rename(temporary, final)  # atomic; fails when `final` was completed meanwhile by someone else
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(temporary, ignore_errors=True)
            return final
        _fsync_directory(directory)
        _prune(directory, kind, keep=final)
        return final
    except (OSError, RuntimeError, ValueError) as problem:  # usearch raises RuntimeError
        log.warning("could not save the search snapshot %s: %s", final, problem)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        return None


def _read(
    directory: Path, kind: str, number: int, identity: str
) -> tuple[dict[str, np.ndarray], dict[str, Path]] | None:
    """The arrays of a snapshot, memory-mapped, and the paths of its other files, each checked against the
    manifest; None when there is no such snapshot or it cannot be trusted (then it is removed)."""
    place = directory / _name(kind, number)
    if not place.exists():
        return None
    try:
        manifest = json.loads((place / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("magic") != MAGIC:
            raise Damaged("not a snapshot manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise Damaged(f"format version {manifest.get('format_version')}, this code reads {FORMAT_VERSION}")
        if manifest.get("kind") != kind or manifest.get("number") != number:
            raise Damaged("its manifest names another snapshot")
        if manifest.get("identity") != identity:
            raise Damaged("built from another catalog, or another state of it")
        arrays = {}
        for name, described in manifest["arrays"].items():
            array = np.load(place / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            if list(array.shape) != described["shape"] or array.dtype.str != described["dtype"]:
                raise Damaged(f"{name}.npy is not the shape or type its manifest says")
            if _checksum(array) != described["crc32"]:
                raise Damaged(f"{name}.npy does not match its checksum")
            arrays[name] = np.asarray(array)  # a plain array over the mapping, not a memmap subclass
        files = {}
        for name, described in manifest["files"].items():
            path = place / name
            if path.stat().st_size != described["size"] or _file_checksum(path) != described["crc32"]:
                raise Damaged(f"{name} is not the size or checksum its manifest says")
            files[name] = path
        return arrays, files
    except (Damaged, OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as problem:
        _discard(place, f"unusable: {problem}")
        return None


def _discard(place: Path, why: str) -> None:
    """Leave a snapshot aside and remove it, so the index is built again and a good one takes its place."""
    log.warning("search snapshot %s is %s; building the index again", place, why)
    aside = place.with_name(f".discarded-{place.name}-{os.getpid()}-{time.monotonic_ns()}")
    with contextlib.suppress(OSError):
        os.rename(place, aside)  # atomic: other processes no longer find it
        shutil.rmtree(aside, ignore_errors=True)


def _prune(directory: Path, kind: str, keep: Path) -> None:
    """Remove all but the KEEP newest snapshots of `kind` (by when they were written; `keep` always stays), and
    temporary directories left by writers that died. Processes still searching one keep their mapped pages."""
    snapshots = sorted(
        (entry for entry in directory.iterdir() if entry.name.startswith(f"{kind}-") and entry != keep),
        key=lambda entry: entry.stat().st_mtime,
        reverse=True,
    )
    for old in snapshots[KEEP - 1 :]:
        _discard_quietly(old)
    for entry in directory.iterdir():
        if entry.name.startswith(f".{kind}-") or entry.name.startswith(".discarded-"):
            with contextlib.suppress(OSError):
                if time.time() - entry.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                    shutil.rmtree(entry, ignore_errors=True)


def _discard_quietly(place: Path) -> None:
    aside = place.with_name(f".discarded-{place.name}-{os.getpid()}-{time.monotonic_ns()}")
    with contextlib.suppress(OSError):
        os.rename(place, aside)
        shutil.rmtree(aside, ignore_errors=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
