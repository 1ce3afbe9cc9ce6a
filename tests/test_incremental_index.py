"""An index updated with the talks a change touched (db/search/incremental.py) is the index a full build of the
changed catalog makes: every array, table and string the same, whatever the change did to words the rest of the
catalog shares (a term's first writing, a compound, an abbreviation, BM25's average field lengths)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.catalog import CHANGE_LOG_REVISIONS, LOGGED_TALKS, bump_revision, catalog_revision, changed_talks
from db.catalog_import import import_records
from db.config import sessions_for
from db.importers import read_catalog_file
from db.models import RECOMMENDED, CatalogChange, TalkSource
from db.records import EventRecord, LinkRecord, SpeakerRecord, TalkRecord
from db.search.incremental import updated_index
from db.search.index import CatalogIndex, TalkText, load_talk_texts
from db.search.lifecycle import build_indexes, updated_lexical
from db.setup import SEED_FILE, seed_catalog


def seed_talks() -> list[TalkText]:
    records = read_catalog_file(SEED_FILE).records
    return [TalkText.from_record(number * 10, record) for number, record in enumerate(records, start=1)]


def assert_same_index(updated: CatalogIndex, built: CatalogIndex) -> None:
    """Every part of the two indexes is equal, in the same order."""
    assert updated.vocabulary == built.vocabulary
    for name in ("offsets", "posting_docs", "posting_masks", "posting_weights", "term_fields", "talk_ids", "years",
                 "recommended", "has_video", "durations", "languages", "recorded", "prior", "_by_talk_id"):  # fmt: skip
        mine, theirs = getattr(updated, name), getattr(built, name)
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name
    assert list(updated.surfaces.differing.items()) == list(built.surfaces.differing.items())
    assert list(updated.abbreviations.items()) == list(built.abbreviations.items())
    assert updated.typo_buckets.keys() == built.typo_buckets.keys()
    for name, array in built.typo_buckets.items():
        assert np.array_equal(updated.typo_buckets[name], array), name
    for field in dataclasses.fields(built.words):
        mine, theirs = getattr(updated.words, field.name), getattr(built.words, field.name)
        if isinstance(theirs, np.ndarray):
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), field.name
        else:
            assert mine == theirs, field.name


def update(before: list[TalkText], after: list[TalkText]) -> tuple[CatalogIndex, CatalogIndex]:
    """(`before`'s index updated with the talks that differ in `after`, `after`'s index built afresh)."""
    old, new = {talk.talk_id: talk for talk in before}, {talk.talk_id: talk for talk in after}
    changed = {talk_id for talk_id in old.keys() | new.keys() if old.get(talk_id) != new.get(talk_id)}
    fresh = [talk for talk in after if talk.talk_id in changed]
    ordered = sorted(after, key=lambda talk: talk.talk_id)
    return updated_index(CatalogIndex(before), fresh, changed), CatalogIndex(ordered)


def talk(talk_id: int, title: str, summary: str = "", **fields) -> TalkText:
    values = dict(tags=(), speakers=(), event="DemoConf 2024", year=2024, recommended=False, has_video=False)
    return TalkText(talk_id, title, summary=summary, **(values | fields))


@pytest.fixture(scope="module")
def seed() -> list[TalkText]:
    return seed_talks()


def replaced(talks: list[TalkText], talk_id: int, **changes) -> list[TalkText]:
    return [dataclasses.replace(talk, **changes) if talk.talk_id == talk_id else talk for talk in talks]


def test_an_added_talk_with_a_word_never_seen_before(seed):
    updated, built = update(seed, [*seed, talk(10_000, "Zyzzyva queues in production", "Zyzzyvas everywhere")])
    assert_same_index(updated, built)
    assert "zyzzyva" in updated.postings and updated.surfaces["zyzzyva"] == "zyzzyva"


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "Chaos engineering for libraries of databases"},
        {"summary": "A summary rewritten (with parentheses) and a state-of-the-art claim"},
        {"tags": ("observability", "brand-new-tag")},
        {"speakers": ("Ryan Chao", "Another Person")},
        {"event": "SomeOtherConf Berlin"},
        {"year": 1999},
        {"has_video": True},
        {"recommended": True},
        {"duration_minutes": 95},
        {"language": "de"},
        {"recorded_on": 738000},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_an_edit_of_any_field_or_flag(seed, changes):
    middle = seed[len(seed) // 2].talk_id
    updated, built = update(seed, replaced(seed, middle, **changes))
    assert_same_index(updated, built)


def test_a_deleted_talk_takes_the_words_only_it_wrote(seed):
    with_rare = [*seed, talk(10_000, "Quokka patterns", "quokkas")]
    updated, built = update(with_rare, seed)
    assert_same_index(updated, built)
    assert "quokka" not in updated.postings


def test_deleting_a_terms_first_writer_gives_it_the_surface_of_its_next_writing():
    talks = [talk(1, "Databases at scale"), talk(2, "One database"), talk(3, "Libraries and a library")]
    updated, built = update(talks, talks[1:])
    assert_same_index(updated, built)
    assert "database" not in updated.surfaces.differing  # first written as itself now
    assert CatalogIndex(talks).surfaces["database"] == "databases"


def test_an_edit_of_an_earlier_talk_can_write_a_term_first():
    talks = [talk(1, "Kafka basics"), talk(2, "Many queues")]
    updated, built = update(talks, replaced(talks, 1, title="A queue"))
    assert_same_index(updated, built)
    assert updated.surfaces["queue"] == "queue"


def test_an_abbreviation_is_learned_and_unlearned(seed):
    spelled = talk(10_000, "Zorblax Quantum Widgets (ZQW) in practice")
    learned, built = update(seed, [*seed, spelled])
    assert_same_index(learned, built)
    assert "zqw" in learned.abbreviations

    unlearned, built_again = update([*seed, spelled], seed)
    assert_same_index(unlearned, built_again)
    assert "zqw" not in unlearned.abbreviations


def test_a_hyphenated_compound_appears_and_goes_with_its_only_hyphenated_writer():
    talks = [talk(1, "Zig zag scheduling"), talk(2, "Ziggy zag")]
    hyphenated = talk(3, "Zig-zag queues")
    updated, built = update(talks, [*talks, hyphenated])
    assert_same_index(updated, built)
    assert updated.surfaces["zigzag"] == "zig-zag" and updated.doc_freq("zigzag") == 2

    removed, built_again = update([*talks, hyphenated], talks)
    assert_same_index(removed, built_again)
    assert "zigzag" not in removed.postings


def test_updates_in_a_row_stay_the_same_as_a_full_build(seed):
    index, talks = CatalogIndex(seed), list(seed)
    for step in range(5):
        changed_id = talks[step * 3].talk_id
        after = [
            *replaced(talks, changed_id, title=f"Step {step} rewrites on-call (OC) titles"),
            talk(20_000 + step, "x"),
        ]
        index = updated_index(
            index, [t for t in after if t.talk_id in {changed_id, 20_000 + step}], {changed_id, 20_000 + step}
        )
        talks = after
    assert_same_index(index, CatalogIndex(talks))


def test_every_talk_deleted_leaves_an_empty_index(seed):
    updated, built = update(seed[:3], [])
    assert_same_index(updated, built)
    assert len(updated) == 0


# Words that stem, hyphenate and abbreviate into each other, so random catalogs share terms in every way.
WORDS = (
    "chaos chao library libraries database databases on call on-call oncall sre site reliability engineering (SRE)"
    " (sre) queue queues zig-zag zag éte ete"
).split()
texts = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
talk_texts = st.builds(
    TalkText,
    talk_id=st.integers(1, 40),
    title=texts,
    tags=st.lists(texts, max_size=2).map(tuple),
    speakers=st.lists(texts, max_size=2).map(tuple),
    event=texts,
    summary=texts,
    year=st.integers(2000, 2003),
    recommended=st.booleans(),
    has_video=st.booleans(),
    duration_minutes=st.sampled_from([0, 1, 20, 45, 1440]),
    language=st.sampled_from(["en", "de", "pt-br", "haw"]),
    recorded_on=st.sampled_from([0, 1, 738000]),
)
catalogs = st.lists(talk_texts, max_size=12, unique_by=lambda talk: talk.talk_id).map(
    lambda talks: sorted(talks, key=lambda talk: talk.talk_id)
)


@settings(max_examples=150, deadline=None)
@given(catalogs, catalogs)
def test_any_change_of_a_catalog_updates_to_its_full_build(before, after):
    updated, built = update(before, after)
    assert_same_index(updated, built)


# ------------------------------------------------------------------------------ the change log, and builds from it
def record(external_id: str, title: str, source: str = "test", city: str = "Lyon", **fields) -> TalkRecord:
    values = dict(speakers=(SpeakerRecord("Zoe Example"),), event=EventRecord("DemoConf", 2024, city=city))
    return TalkRecord(source=source, external_id=external_id, title=title, **(values | fields))


BASE = (record("a", "Kafka in anger"), record("b", "Queues at scale"), record("c", "Chaos for all"))


def import_here(url: str, *records: TalkRecord, prune: bool = False) -> int:
    """Import `records`; the catalog's revision after."""
    with sessions_for(url).begin() as session:
        import_records(session, records, prune=prune)
        return catalog_revision(session)


def ids_of(url: str, *external_ids: str) -> set[int]:
    with sessions_for(url)() as session:
        return set(session.scalars(select(TalkSource.talk_id).where(TalkSource.external_id.in_(external_ids))))


def logged_since(url: str, revision: int) -> set[int] | None:
    with sessions_for(url)() as session:
        return changed_talks(session, revision, catalog_revision(session))


def changed(external_id: str, **changes) -> TalkRecord:
    base = next(talk for talk in BASE if talk.external_id == external_id)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("again", "gone", "expected"),
    [
        ((record("d", "A new talk"),), set(), {"d"}),
        ((changed("a", title="Kafka in peace"),), set(), {"a"}),
        ((changed("a", tags=("streaming",)),), set(), {"a"}),
        ((changed("a", speakers=(SpeakerRecord("Ryan Chao"),)),), set(), {"a"}),
        ((changed("a", links=(LinkRecord("video", "https://example.org/v"),)),), set(), {"a"}),
        ((changed("a", recommendation="Great.", verdict=RECOMMENDED),), set(), {"a"}),
        ((changed("a", event=EventRecord("OtherConf", 2023)),), set(), {"a"}),
        ((changed("a", event=EventRecord("DemoConf", 2024, city="Paris")),), set(), {"a", "b", "c"}),  # shared event
        ((record("a2", "Kafka in anger", source="other", summary="Now with a summary"),), set(), {"a"}),  # linked
        ((), {"c"}, {"c"}),  # pruned: deleted
    ],
    ids=["add", "title", "tag", "speaker", "video", "verdict", "event", "event-city", "link", "prune"],
)
def test_every_import_logs_the_talks_it_changed(migrated_database, again, gone, expected):
    before = import_here(migrated_database, *BASE)
    expected_ids = ids_of(migrated_database, *expected)  # a deleted talk's id is read before it goes
    second = {talk.external_id: talk for talk in (*BASE, *again) if talk.external_id not in gone}
    import_here(migrated_database, *second.values(), prune=bool(gone))
    if "d" in expected:
        expected_ids = ids_of(migrated_database, "d")

    assert logged_since(migrated_database, before) == expected_ids


def test_an_import_that_changes_nothing_logs_nothing(migrated_database):
    before = import_here(migrated_database, *BASE)
    assert import_here(migrated_database, *BASE) == before


def test_the_log_keeps_only_the_newest_revisions(migrated_database):
    with sessions_for(migrated_database).begin() as session:
        for _ in range(CHANGE_LOG_REVISIONS + 5):
            newest = bump_revision(session, {1})
    with sessions_for(migrated_database)() as session:
        assert session.scalar(select(func.min(CatalogChange.revision))) == newest - CHANGE_LOG_REVISIONS + 1
        assert changed_talks(session, newest - CHANGE_LOG_REVISIONS, newest) == {1}
        assert changed_talks(session, newest - CHANGE_LOG_REVISIONS - 1, newest) is None  # no longer reaches back


def test_a_revision_of_any_talk_or_too_many_talks_says_the_log_cannot_tell(migrated_database):
    with sessions_for(migrated_database).begin() as session:
        start = catalog_revision(session)
        bump_revision(session, {1, 2})
        bump_revision(session, None)
        assert changed_talks(session, start, start + 1) == {1, 2}
        assert changed_talks(session, start, start + 2) is None
        bump_revision(session, range(1, LOGGED_TALKS + 2))
        assert changed_talks(session, start + 2, start + 3) is None


def full_build(url: str) -> CatalogIndex:
    with sessions_for(url)() as session:
        return CatalogIndex(load_talk_texts(session))


def test_a_build_after_a_small_change_updates_the_previous_index_to_the_full_build(migrated_database):
    seed_catalog(migrated_database)
    with sessions_for(migrated_database)() as session:
        previous = build_indexes(session, catalog_revision(session), 0, None, semantic=False)
    revision = import_here(migrated_database, *BASE)
    revision = import_here(migrated_database, changed("a", title="Zyzzyva (ZQ) on-call"), BASE[1], prune=True)

    with sessions_for(migrated_database)() as session:
        updated = updated_lexical(session, previous.lexical, previous.revision, revision)
        built = build_indexes(session, revision, 0, previous, semantic=False)
    assert updated is not None
    assert_same_index(updated, full_build(migrated_database))
    assert_same_index(built.lexical, full_build(migrated_database))
    assert built.revision == revision


def test_a_build_the_log_cannot_bridge_reads_every_talk(migrated_database):
    seed_catalog(migrated_database)
    with sessions_for(migrated_database)() as session:
        previous = build_indexes(session, catalog_revision(session), 0, None, semantic=False)
    with sessions_for(migrated_database).begin() as session:
        bump_revision(session, None)
    revision = import_here(migrated_database, *BASE)

    with sessions_for(migrated_database)() as session:
        assert updated_lexical(session, previous.lexical, previous.revision, revision) is None
        built = build_indexes(session, revision, 0, previous, semantic=False)
    assert_same_index(built.lexical, full_build(migrated_database))


def test_a_few_talks_read_alone_read_as_in_the_whole_catalog(migrated_database):
    import_here(
        migrated_database,
        record("a", "One", tags=("zeta", "alpha")),
        record("b", "Two", tags=("alpha", "zeta", "mu")),  # its tags stored in another order than their ids
    )
    with sessions_for(migrated_database)() as session:
        everything = load_talk_texts(session)
        assert [load_talk_texts(session, [talk.talk_id]) for talk in everything] == [[talk] for talk in everything]
