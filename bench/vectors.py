"""Talk vectors for benchmarks: the real pyvideo archive embedded once and cached outside the repository.

Embedding the 21,713 pyvideo talks takes about 20 minutes on two cores, so the vectors are kept in the system temp
folder (`$TMPDIR/talkbot-bench/`), under a name that holds the model and a hash of every text embedded: change a text
or the model and they are computed again. Partial work is kept in chunks, so an interrupted run carries on.

    python -m bench.vectors      # compute (or check) the cache now
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from db.records import TalkRecord
from db.search.embeddings import embed_text
from db.search.encoder import MODEL_ID, Encoder

CACHE = Path(tempfile.gettempdir()) / "talkbot-bench"
CHUNK = 1024


def record_text(record: TalkRecord) -> str:
    return embed_text(record.title, record.tags, record.summary)


def cached_vectors(records: list[TalkRecord], label: str = "pyvideo", quiet: bool = False) -> np.ndarray:
    """float32 unit vectors, one per record, computed once per model and set of texts."""
    texts = [record_text(record) for record in records]
    key = hashlib.sha256("\x1e".join([MODEL_ID, *texts]).encode()).hexdigest()[:16]
    final = CACHE / f"{label}-{key}.npy"
    if final.exists():
        return np.load(final)
    parts = CACHE / f"{label}-{key}.parts"
    parts.mkdir(parents=True, exist_ok=True)
    encoder = Encoder(threads=0)
    start = time.perf_counter()
    for begin in range(0, len(texts), CHUNK):
        part = parts / f"{begin:08d}.npy"
        if not part.exists():
            np.save(part, encoder.encode(texts[begin : begin + CHUNK]))
        if not quiet:
            done = min(begin + CHUNK, len(texts))
            print(f"\r  embedding {label}: {done}/{len(texts)} ({time.perf_counter() - start:.0f} s)", end="",
                  file=sys.stderr, flush=True)  # fmt: skip
    if not quiet:
        print(file=sys.stderr)
    vectors = np.concatenate([np.load(parts / f"{b:08d}.npy") for b in range(0, len(texts), CHUNK)])
    np.save(final, vectors)
    for part in parts.iterdir():
        part.unlink()
    parts.rmdir()
    return vectors


if __name__ == "__main__":
    from bench.search import ARCHIVE
    from db.importers import read_catalog_file

    records = read_catalog_file(ARCHIVE).records
    started = time.perf_counter()
    vectors = cached_vectors(records)
    print(f"{len(vectors):,} pyvideo vectors ready in {time.perf_counter() - started:.1f} s (cache: {CACHE})")
