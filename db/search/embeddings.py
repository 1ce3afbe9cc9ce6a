"""Talk vectors in the database: what text a talk is embedded from, which talks need (re)embedding, storing them.

A talk is embedded once per model and text: the row keeps the sha256 of the text, so re-importing unchanged talks
costs one hash each and no model call. Vectors are unit float16 (768 bytes a talk). The seed catalog's vectors ship
in db/search/model/seed_vectors.npz, so a fresh catalog needs no model run at all.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Tag, Talk, TalkEmbedding, TalkSource, talk_tags
from db.search.encoder import DIMENSIONS, MODEL_ID, Encoder

SEED_VECTORS = Path(__file__).with_name("model") / "seed_vectors.npz"
COMMIT_EVERY = 256  # talks embedded per transaction: an interrupted run keeps what it did, and others see it
READ_CHUNK = 5000


def embed_text(title: str, tags: list[str] | tuple[str, ...], summary: str) -> str:
    """What a talk's vector is computed from: title, tags and summary, as sentences. Speakers and events are left
    out (names, which the lexical side finds, and which would pull unrelated talks together), and so is the
    reporter's note (an opinion of the talk, not what it is about)."""
    parts = [title.strip(), ", ".join(tag.replace("-", " ") for tag in sorted(tags)), summary.strip()]
    return " ".join(part if part[-1] in ".?!" else part + "." for part in parts if part)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_bytes(blobs: list[bytes]) -> np.ndarray:
    """Stored vectors as one float16 matrix, a row per blob."""
    if not blobs:
        return np.zeros((0, DIMENSIONS), dtype=np.float16)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), DIMENSIONS)


def talk_texts(session: Session, talk_ids: list[int] | None = None) -> Iterator[tuple[int, str]]:
    """(talk id, text to embed) for every talk (or for `talk_ids`), in id order, read a chunk at a time."""
    ids = talk_ids if talk_ids is not None else list(session.scalars(select(Talk.id).order_by(Talk.id)))
    for start in range(0, len(ids), READ_CHUNK):
        chunk = ids[start : start + READ_CHUNK]
        tags: dict[int, list[str]] = defaultdict(list)
        for talk_id, name in session.execute(
            select(talk_tags.c.talk_id, Tag.name).join(Tag).where(talk_tags.c.talk_id.in_(chunk)).order_by(Tag.name)
        ):
            tags[talk_id].append(name)
        rows = session.execute(select(Talk.id, Talk.title, Talk.summary).where(Talk.id.in_(chunk)).order_by(Talk.id))
        for talk_id, title, summary in rows:
            yield talk_id, embed_text(title, tags[talk_id], summary or "")


def pending(session: Session, model: str = MODEL_ID, missing_only: bool = False) -> list[tuple[int, str, str]]:
    """(talk id, text, hash) of the talks with no vector for `model`, or one of a text that has since changed. With
    `missing_only` (no talk changed since the vectors were made: an unchanged re-import) only talks without any vector
    are looked at, which costs one query."""
    if missing_only:
        has_vector = select(TalkEmbedding.id).where(TalkEmbedding.talk_id == Talk.id, TalkEmbedding.model == model)
        missing = list(session.scalars(select(Talk.id).where(~has_vector.exists()).order_by(Talk.id)))
        return [(talk_id, text, text_hash(text)) for talk_id, text in talk_texts(session, missing)]
    stored = dict(session.execute(select(TalkEmbedding.talk_id, TalkEmbedding.text_sha256).where(
        TalkEmbedding.model == model)).all())  # fmt: skip
    found = []
    for talk_id, text in talk_texts(session):
        digest = text_hash(text)
        if stored.get(talk_id) != digest:
            found.append((talk_id, text, digest))
    return found


def store(session: Session, rows: list[tuple[int, str, np.ndarray]], model: str = MODEL_ID) -> None:
    """Replace the `model` vectors of these talks: (talk id, text hash, vector). A replaced row gets a new id, which
    is how search processes notice new vectors."""
    if not rows:
        return
    talk_ids = [talk_id for talk_id, _, _ in rows]
    session.execute(delete(TalkEmbedding).where(TalkEmbedding.model == model, TalkEmbedding.talk_id.in_(talk_ids)))
    session.execute(
        insert(TalkEmbedding),
        [{"talk_id": t, "model": model, "text_sha256": h, "vector": to_bytes(v)} for t, h, v in rows],
    )


def stored_rows(session: Session, model: str = MODEL_ID) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, talk ids) of every stored `model` vector, by row id."""
    rows = session.execute(
        select(TalkEmbedding.id, TalkEmbedding.talk_id).where(TalkEmbedding.model == model).order_by(TalkEmbedding.id)
    ).all()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pairs = np.array(rows, dtype=np.int64)
    return pairs[:, 0], pairs[:, 1]


def stored_vectors(session: Session, row_ids: np.ndarray, model: str = MODEL_ID) -> np.ndarray:
    """The vectors of rows `row_ids` (ascending), float16, in that order. Reads every row from the smallest id on, in
    one pass, which is what a refresh needs (the new rows are the last ones)."""
    if not len(row_ids):
        return np.zeros((0, DIMENSIONS), dtype=np.float16)
    wanted = {int(row_id): at for at, row_id in enumerate(row_ids.tolist())}
    out = np.zeros((len(row_ids), DIMENSIONS), dtype=np.float16)
    found = session.execute(
        select(TalkEmbedding.id, TalkEmbedding.vector)
        .where(TalkEmbedding.model == model, TalkEmbedding.id >= int(row_ids.min()))
        .execution_options(yield_per=READ_CHUNK)
    )
    for row_id, blob in found:
        at = wanted.get(row_id)
        if at is not None:
            out[at] = np.frombuffer(blob, dtype=np.float16)
    return out


# The largest vector row id: it grows whenever vectors are stored (rows are replaced, never updated).
NEWEST_VECTOR = select(func.max(TalkEmbedding.id))


def vectors_version(session: Session) -> int:
    return session.scalar(NEWEST_VECTOR) or 0


@dataclass
class EmbedReport:
    embedded: int = 0
    up_to_date: int = 0
    removed_other_models: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        text = f"{self.embedded} talks embedded, {self.up_to_date} already up to date"
        if self.removed_other_models:
            text += f", {self.removed_other_models} vectors of other models removed"
        return text + f" ({self.seconds:.1f} s)"


def embed_catalog(
    sessions: sessionmaker[Session],
    encoder: Encoder,
    progress: Callable[[int, int], None] | None = None,
    todo: list[tuple[int, str, str]] | None = None,
) -> EmbedReport:
    """Embed every talk whose vector is missing or stale (or the `pending` list `todo`), COMMIT_EVERY talks per
    transaction: stopping part-way loses at most one batch, and running again carries on."""
    start = time.perf_counter()
    report = EmbedReport()
    with sessions() as session:
        todo = pending(session) if todo is None else todo
        report.up_to_date = (session.scalar(select(func.count(Talk.id))) or 0) - len(todo)
    for begin in range(0, len(todo), COMMIT_EVERY):
        batch = todo[begin : begin + COMMIT_EVERY]
        vectors = encoder.encode([text for _, text, _ in batch])
        with sessions.begin() as session:
            # A talk deleted meanwhile (by a --prune import) is skipped, not an error.
            alive = set(session.scalars(select(Talk.id).where(Talk.id.in_([t for t, _, _ in batch]))))
            store(session, [(t, h, v) for (t, _, h), v in zip(batch, vectors, strict=True) if t in alive])
        report.embedded += len(batch)
        if progress:
            progress(report.embedded, len(todo))
    with sessions.begin() as session:
        report.removed_other_models = session.execute(
            delete(TalkEmbedding).where(TalkEmbedding.model != MODEL_ID)
        ).rowcount
    report.seconds = time.perf_counter() - start
    return report


def store_seed_vectors(session: Session, source: str = "seed") -> int:
    """Store the shipped vectors of the seed talks that have none, where the talk's text is still the text they were
    computed from (a seed talk edited since is left to `talkbot embed`). Returns how many were stored."""
    if not SEED_VECTORS.exists():
        return 0
    with np.load(SEED_VECTORS) as shipped:
        if str(shipped["model"]) != MODEL_ID:
            return 0
        by_id = {
            external_id: (digest, vector)
            for external_id, digest, vector in zip(shipped["ids"], shipped["hashes"], shipped["vectors"], strict=True)
        }
    seed_talks = dict(session.execute(select(TalkSource.talk_id, TalkSource.external_id).where(
        TalkSource.importer == source)).all())  # fmt: skip
    have = set(session.scalars(select(TalkEmbedding.talk_id).where(TalkEmbedding.model == MODEL_ID)))
    rows = []
    for talk_id, text in talk_texts(session, sorted(set(seed_talks) - have)):
        digest = text_hash(text)
        shipped_digest, vector = by_id.get(seed_talks[talk_id], (None, None))
        if shipped_digest == digest:
            rows.append((talk_id, digest, vector))
    store(session, rows)
    return len(rows)


def write_seed_vectors(session: Session, encoder: Encoder, source: str = "seed", path: Path = SEED_VECTORS) -> int:
    """Compute the seed talks' vectors and write the shipped file (run after editing db/seed/talks.yaml:
    `python -m db.search.embeddings`)."""
    seed_talks = dict(session.execute(select(TalkSource.talk_id, TalkSource.external_id).where(
        TalkSource.importer == source)).all())  # fmt: skip
    texts = list(talk_texts(session, sorted(seed_talks)))
    vectors = encoder.encode([text for _, text in texts])
    np.savez_compressed(
        path,
        model=np.array(MODEL_ID),
        ids=np.array([seed_talks[talk_id] for talk_id, _ in texts]),
        hashes=np.array([text_hash(text) for _, text in texts]),
        vectors=vectors.astype(np.float16),
    )
    return len(texts)


if __name__ == "__main__":
    import tempfile

    from db.catalog_import import import_records
    from db.config import sessions_for
    from db.importers import read_catalog_file
    from db.migrate import upgrade
    from db.setup import SEED_FILE

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/seed.sqlite3"
        upgrade(url)
        with sessions_for(url).begin() as session:
            import_records(session, read_catalog_file(SEED_FILE).records)
            print(f"wrote {write_seed_vectors(session, Encoder(threads=0))} seed vectors to {SEED_VECTORS}")
