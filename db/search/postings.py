"""Sets of talks as sorted document numbers, intersected by looking the smaller up in the larger.

A query's cost should follow its postings, not the catalog: a word used by forty talks of a million is forty
lookups. So ranking never builds an array as long as the catalog per word: it intersects sorted posting arrays,
rarest first, and scores only the talks left. A filter that keeps most talks (a year range, `has:video`) stays a
boolean mask over all documents, as the index already holds those, and is probed one talk at a time.
"""

from __future__ import annotations

import numpy as np

DOC = np.int32  # document numbers, as postings hold them (searchsorted between int32 and int64 would copy)
NO_DOCS = np.zeros(0, dtype=DOC)
NO_POSITIONS = np.zeros(0, dtype=np.intp)
# Past size / DENSE_SHARE lookups, a map over every document (a byte or four a talk, written only where the looked-up
# set has talks) answers them faster than as many binary searches: a word used by a third of the catalog.
DENSE_SHARE = 32


def dense(lookups: int, size: int) -> bool:
    return lookups * DENSE_SHARE > size


class Positions:
    """Where documents stand in `docs` (sorted, without repeats), for lookups of `lookups` documents in all."""

    def __init__(self, docs: np.ndarray, size: int, lookups: int) -> None:
        self.docs = docs
        self._slot: np.ndarray | None = None
        if dense(min(lookups, len(docs)), size):
            self._slot = np.zeros(size, dtype=np.int32)
            self._slot[docs] = np.arange(1, len(docs) + 1, dtype=np.int32)

    def of(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in `docs` and in `wanted` (sorted) of the documents both hold, in document order."""
        if self._slot is None:
            return _searched(self.docs, wanted)
        at = self._slot[wanted]
        in_wanted = np.flatnonzero(at)
        return at[in_wanted] - 1, in_wanted


def common(a: np.ndarray, b: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions in `a` and in `b` of the documents both hold (each sorted, without repeats), in document order."""
    return Positions(a, size, len(b)).of(b)


def _searched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`common` by binary search of the smaller in the larger: the smaller's length times the log of the larger's."""
    if len(a) > len(b):
        in_b, in_a = _searched(b, a)
        return in_a, in_b
    if not len(a):
        return NO_POSITIONS, NO_POSITIONS
    at = np.searchsorted(b, a)
    np.minimum(at, len(b) - 1, out=at)
    in_a = np.flatnonzero(b[at] == a)
    return in_a, at[in_a]


def member(docs: np.ndarray, wanted: np.ndarray, size: int) -> np.ndarray:
    """Which of `wanted` (sorted) are in `docs` (sorted), as a boolean array over `wanted`."""
    if dense(min(len(docs), len(wanted)), size):
        marked = np.zeros(size, dtype=bool)
        marked[docs] = True
        return marked[wanted]
    if len(wanted) <= len(docs):
        if not len(wanted):
            return np.zeros(0, dtype=bool)
        at = np.searchsorted(docs, wanted)
        np.minimum(at, len(docs) - 1, out=at)
        return docs[at] == wanted
    found = np.zeros(len(wanted), dtype=bool)
    found[_searched(docs, wanted)[1]] = True
    return found


def as_docs(positions: np.ndarray) -> np.ndarray:
    return positions.astype(DOC, copy=False)


class DocSet:
    """Talks a filter keeps: sorted document numbers, or a boolean mask over every document when the filter keeps
    most of them (or the index already holds it as one). Ranking needs only its documents and membership; the
    semantic layer asks for the mask, built then."""

    def __init__(self, size: int, docs: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        self.size = size
        self._docs = None if docs is None else as_docs(docs)
        self._mask = mask

    @property
    def sparse(self) -> bool:
        return self._docs is not None

    @property
    def count(self) -> int:
        return len(self._docs) if self._docs is not None else int(np.count_nonzero(self._mask))

    def any(self) -> bool:
        return bool(len(self._docs)) if self._docs is not None else bool(self._mask.any())

    def docs(self) -> np.ndarray:
        if self._docs is None:
            self._docs = as_docs(np.flatnonzero(self._mask))
        return self._docs

    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = np.zeros(self.size, dtype=bool)
            self._mask[self._docs] = True
        return self._mask

    def contains(self, wanted: np.ndarray) -> np.ndarray:
        return self._mask[wanted] if self._mask is not None else member(self._docs, wanted, self.size)

    def __and__(self, other: DocSet) -> DocSet:
        if self.sparse and other.sparse:
            return DocSet(self.size, docs=self._docs[common(self._docs, other._docs, self.size)[0]])
        if self.sparse or other.sparse:
            few, many = (self, other) if self.sparse else (other, self)
            return DocSet(self.size, docs=few._docs[many._mask[few._docs]])
        return DocSet(self.size, mask=self._mask & other._mask)


def intersect(sets: list) -> np.ndarray:
    """The documents in every one of `sets` (each with `count`, `docs()` and `contains(docs)`; a DocSet or a word's
    match), sorted: the rarest set's documents, kept where each next set (by size) holds them. Masks go last, as a
    lookup in one costs the same whatever it holds."""
    if not sets:
        return NO_DOCS
    ordered = sorted(sets, key=lambda found: (not found.sparse, found.count if found.sparse else 0))
    docs = ordered[0].docs()
    for found in ordered[1:]:
        if not len(docs):
            break
        docs = docs[found.contains(docs)]
    return docs
