"""Sorted-document set algebra (db/search/postings.py) gives the answers of plain set operations, whether it looks
documents up by binary search (few lookups in a large catalog) or through a map over every document (many)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from db.search.postings import DOC, DocSet, Positions, common, intersect, member

# Catalog sizes either side of the switch: 40 documents in a catalog of 40 or of a million.
SIZES = st.sampled_from([40, 1_000_000])


def documents(size: int) -> st.SearchStrategy[np.ndarray]:
    return st.sets(st.integers(0, min(size, 60) - 1), max_size=40).map(lambda docs: np.array(sorted(docs), dtype=DOC))


@st.composite
def catalog_and_sets(draw, count: int = 2):
    size = draw(SIZES)
    return size, [draw(documents(size)) for _ in range(count)]


@settings(max_examples=200, deadline=None)
@given(catalog_and_sets())
def test_common_finds_the_positions_of_the_shared_documents_in_both(drawn):
    size, (a, b) = drawn
    in_a, in_b = common(a, b, size)
    shared = np.intersect1d(a, b)
    assert a[in_a].tolist() == shared.tolist()
    assert b[in_b].tolist() == shared.tolist()


@settings(max_examples=200, deadline=None)
@given(catalog_and_sets())
def test_positions_of_documents_looked_up_one_set_at_a_time(drawn):
    size, (docs, wanted) = drawn
    here, found = Positions(docs, size, len(wanted)).of(wanted)
    assert docs[here].tolist() == wanted[found].tolist() == np.intersect1d(docs, wanted).tolist()


@settings(max_examples=200, deadline=None)
@given(catalog_and_sets())
def test_member_says_which_wanted_documents_a_set_holds(drawn):
    size, (docs, wanted) = drawn
    assert member(docs, wanted, size).tolist() == np.isin(wanted, docs).tolist()


@settings(max_examples=200, deadline=None)
@given(catalog_and_sets(3), st.lists(st.booleans(), min_size=3, max_size=3))
def test_intersect_of_sorted_sets_and_masks_is_the_plain_intersection(drawn, as_mask):
    size, sets = drawn

    def doc_set(docs: np.ndarray, masked: bool) -> DocSet:
        if not masked:
            return DocSet(size, docs=docs)
        mask = np.zeros(size, dtype=bool)
        mask[docs] = True
        return DocSet(size, mask=mask)

    found = intersect([doc_set(docs, masked) for docs, masked in zip(sets, as_mask, strict=True)])
    expected = np.intersect1d(np.intersect1d(sets[0], sets[1]), sets[2])
    assert found.dtype == DOC
    assert found.tolist() == expected.tolist()
    both = doc_set(sets[0], as_mask[0]) & doc_set(sets[1], as_mask[1])
    assert both.docs().tolist() == np.intersect1d(sets[0], sets[1]).tolist()
    assert np.flatnonzero(both.mask()).tolist() == both.docs().tolist()
    assert both.any() == bool(both.count)


def test_intersect_of_nothing_is_empty():
    assert intersect([]).tolist() == []
