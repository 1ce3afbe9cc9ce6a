"""tantivy, the engine the benchmarks measure ours beside: the same talks in the same five fields (English stemming)
and the same field boosts, built one way for every benchmark. tantivy is in the `bench` extra only."""

from __future__ import annotations

from pathlib import Path

from db.search.index import TalkText

FIELDS = ("title", "tags", "speakers", "event", "summary")
BOOSTS = {"title": 5.0, "tags": 5.0, "speakers": 3.0, "event": 2.0, "summary": 1.0}  # db/search/index.py's weights


def tantivy_index(texts: list[TalkText], folder: Path | None = None) -> tuple[object, object]:
    """(index, writer) holding `texts`, committed and reloaded; in memory, or on disk in `folder`. Raises ImportError
    when tantivy is not installed."""
    import tantivy

    schema = tantivy.SchemaBuilder()
    for name in FIELDS:
        schema.add_text_field(name, stored=False, tokenizer_name="en_stem")
    schema.add_integer_field("talk_id", stored=True, indexed=True)
    index = tantivy.Index(schema.build(), path=str(folder)) if folder else tantivy.Index(schema.build())
    writer = index.writer(heap_size=200_000_000)
    for t in texts:
        writer.add_document(
            tantivy.Document(
                title=t.title, tags=" ".join(t.tags), speakers=" ".join(t.speakers), event=t.event,
                summary=t.summary, talk_id=t.talk_id,
            )
        )  # fmt: skip
    writer.commit()
    index.reload()
    return index, writer
