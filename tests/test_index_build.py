"""The index build's fast path splits a talk's fields at once: it must find exactly the words, and the fields they
are in, that splitting each field on its own finds."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from db.search.index import SUMMARY, TAGS, TITLE, CatalogIndex, TalkText
from db.search.text import FIELD_END, fields_words, surface_words

# Letters that fold, merge or split surprisingly: a final sigma, a dotted capital I, combining accents, ligatures,
# full-width and compatibility forms, separators that str.split knows, the marker itself, hyphens and brackets.
TRICKY = "aZ9_-() .,\t\x1c\x00ΣσςİéE\u0301ﬁ½ℌＡ－ß日本"
field_text = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=40)


@given(st.lists(field_text, min_size=1, max_size=5))
@example(["Σ ΟΔΟΣ", "İstanbul", "café", "ﬁle ℌ", "a\x00b"])
@example(["", "", "", "", ""])
def test_fields_split_at_once_give_each_fields_words_in_turn(fields):
    expected = []
    for field in fields:
        expected += [*surface_words(field), FIELD_END]
    assert fields_words(fields) == expected


def test_a_field_holding_the_field_end_marker_keeps_its_words_in_that_field():
    talk = TalkText(1, "kafka\x00streams", ("operations",), ("Ada",), "PyCon", "a talk about queues", 2020, False, True)
    index = CatalogIndex([talk])
    assert index.fields_of["kafka"] == TITLE and index.fields_of["stream"] == TITLE
    assert index.fields_of["operation"] == TAGS and index.fields_of["queue"] == SUMMARY
