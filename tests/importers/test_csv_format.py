"""CSV talk lists: free column order, `,` or `;`, a BOM or none, and errors that name the row and column."""

import datetime as dt
import tracemalloc
from pathlib import Path

import pytest

from db.importers import csv_format, detect_format
from db.importers.errors import ImportFileError
from db.records import EventRecord, LinkRecord, SpeakerRecord

FIXTURES = Path(__file__).parent / "fixtures"
TALKS = FIXTURES / "csv-talks.csv"
SEMICOLON_TALKS = FIXTURES / "csv-talks-semicolon.csv"
TALKBOT_YAML = "format: talkbot-catalog\nversion: 1\ntalks:\n  - id: a\n    title: A talk\n"
FRAB_JSON = '{"schedule": {"version": "1.0", "conference": {"title": "36C3", "days": []}}}'


def csv_file(tmp_path: Path, text: str, name: str = "talks.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_every_column():
    first = csv_format.read(TALKS)[0]

    assert (first.source, first.external_id, first.title) == ("csv:csv-talks", "t-1", "Scaling Kafka")
    assert first.event == EventRecord(series="SREcon", year=2023, name="SREcon23 Americas", city="Santa Clara")
    assert first.speakers == (SpeakerRecord("Ada Lovelace", "Acme"), SpeakerRecord("Grace Hopper"))
    assert first.tags == ("kafka", "streaming")  # "Talk" says nothing about the topic
    assert first.talk_type == "talk"
    assert first.summary.startswith("Partitions, consumers and lag")  # markup removed
    assert first.links == (
        LinkRecord("video", "https://www.youtube.com/watch?v=abc"),
        LinkRecord("slides", "https://example.org/kafka.pdf"),
        LinkRecord("schedule", "https://www.usenix.org/srecon23/kafka"),
    )
    assert (first.duration_minutes, first.language, first.recorded_on) == (45, "en", dt.date(2023, 3, 21))
    assert first.recommendation == "A clear intro to consumer lag."


def test_optional_columns_and_blank_rows():
    records = csv_format.read(TALKS)

    assert [record.external_id for record in records] == ["t-1", "t-2", "t-3"]  # the all-empty row is skipped
    keynote, lightning = records[1], records[2]
    assert (keynote.event, keynote.talk_type, keynote.tags) == (None, "keynote", ("leadership", "culture"))
    assert (keynote.duration_minutes, keynote.links, keynote.recommendation) == (75, (), None)  # "1:15"
    assert lightning.event == EventRecord(series="GPN", year=2024, city="Karlsruhe")
    assert (lightning.talk_type, lightning.language, lightning.duration_minutes) == ("lightning", "de", 5)


def test_a_thumbnail_column_gives_the_card_its_picture(tmp_path):
    text = "id,title,thumbnail\nt-1,Pictured,https://i.ytimg.com/vi/abc/hqdefault.jpg\nt-2,Plain,\n"

    pictured, plain = csv_format.read(csv_file(tmp_path, text))

    assert (pictured.thumbnail_url, plain.thumbnail_url) == ("https://i.ytimg.com/vi/abc/hqdefault.jpg", None)


def test_semicolons_a_byte_order_mark_and_any_column_order():
    records = csv_format.read(SEMICOLON_TALKS)

    assert [record.title for record in records] == ["Ünïcode im Griff", "Hallo; Welt, again"]
    assert records[0].speakers == (SpeakerRecord("Anna Schmidt"), SpeakerRecord("山田 太郎"))
    assert records[0].tags == ("unicode", "python")
    assert records[0].external_id == "g-1"  # the BOM does not end up in the first header name


def test_source_column_overrides_the_file_default():
    records = csv_format.read(SEMICOLON_TALKS)

    assert [record.source for record in records] == ["csv:csv-talks-semicolon", "csv:gpn-extra"]


def test_the_same_id_in_two_sources_is_two_talks(tmp_path):
    path = csv_file(tmp_path, "id,title,source\nt-1,One,\nt-1,Two,csv:other\n")

    assert [(record.source, record.external_id) for record in csv_format.read(path)] == [
        ("csv:talks", "t-1"),
        ("csv:other", "t-1"),
    ]


HEADER = "id,title,speakers,affiliations,event,year,type,video,duration,date\n"


@pytest.mark.parametrize(
    ("text", "record", "field", "problem"),
    [
        (
            "id,title,speaker\nt-1,A talk,Ada\n", "header row", "speaker",
            "is not a known column; known: " + ", ".join(csv_format.COLUMNS),
        ),
        ("id,speakers\nt-1,Ada\n", "header row", "title", "is a required column"),
        ("id,title,Title\nt-1,A,B\n", "header row", "title", "appears twice"),
        ("id,,title\nt-1,,A\n", "header row", "column 2", "has no name"),
        (HEADER + "t-1,A talk,,,SREcon,23,,,,\n", "row 2 (id t-1)", "year", "expected a year like 2023"),
        (HEADER + "t-1,A talk,,,SREcon,,,,,\n", "row 2 (id t-1)", "year", "is required when event is given"),
        (
            HEADER + "t-1,A talk,,,,2023,,,,\n", "row 2 (id t-1)", "event",
            "is required when edition, year or city is given",
        ),
        (
            HEADER + "t-1,A talk,,,,,,ftp://media.example.org/a.mp4,,\n",
            "row 2 (id t-1)", "video", "expected an http(s) URL",
        ),
        (HEADER + "t-1,A talk,,,,,,,,\n\nt-2,,,,,,,,,\n", "row 4 (id t-2)", "title", "is required"),
        (HEADER + ",A talk,,,,,,,,\n", "row 2", "id", "is required"),
        (
            HEADER + "t-1,A talk,,,,,,,,\nt-1,Again,,,,,,,,\n",
            "row 3 (id t-1)", "id", "id 't-1' appears twice (first in row 2)",
        ),
        (HEADER + "t-1,A talk,,,,,,,,05.10.2023\n", "row 2 (id t-1)", "date", "expected a date like 2023-10-05"),
        (HEADER + "t-1,A talk,,,,,,,,2023-02-30\n", "row 2 (id t-1)", "date", "expected a date like 2023-10-05"),
        (
            HEADER + "t-1,A talk,,,,,panel,,,\n", "row 2 (id t-1)", "type",
            "expected one of talk, keynote, tutorial, lightning, workshop",
        ),
        (
            HEADER + "t-1,A talk,,,,,,,forty,\n", "row 2 (id t-1)", "duration",
            "expected minutes, like 45 (or a length like 1:15)",
        ),
        (
            HEADER + "t-1,A talk,Ada Lovelace; Grace Hopper,Acme,,,,,,\n", "row 2 (id t-1)", "affiliations",
            "expected one per speaker, separated by ';' (2 speakers, 1 given)",
        ),
        (
            HEADER + "t-1,A talk,,,,,,,,,surplus\n", "row 2 (id t-1)", None,
            "has 11 cells but the header names 10 columns",
        ),
        (
            "id,title,thumbnail\nt-1,A talk,http://example.org/t.jpg\n", "row 2 (id t-1)", "thumbnail",
            "expected an https URL without spaces, at most 2000 characters",
        ),
        ("id,title,source\nt-1,A talk," + "x" * 51 + "\n", "row 2 (id t-1)", "source", "is longer than 50 characters"),
        (
            "id,title,event,year\nt-1,A talk," + "E" * 201 + ",2023\n", "row 2 (id t-1)", "event",
            "is longer than 200 characters",
        ),
        (
            "id,title,speakers\nt-1,A talk,Ada Lovelace; " + "x" * 301 + "\n", "row 2 (id t-1)", "speakers",
            "has an entry longer than 300 characters",
        ),
    ],
)  # fmt: skip
def test_malformed_rows_name_the_row_and_column(tmp_path, text, record, field, problem):
    with pytest.raises(ImportFileError) as raised:
        csv_format.read(csv_file(tmp_path, text))

    assert (raised.value.record, raised.value.field, raised.value.problem) == (record, field, problem)


def test_a_file_that_is_not_utf8_is_reported_for_the_whole_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,title\nt-1,Café\n".encode("latin-1"))

    with pytest.raises(ImportFileError) as raised:
        csv_format.read(path)

    assert (raised.value.record, raised.value.field) == (None, None)
    assert raised.value.problem.startswith("not valid UTF-8")


def test_a_sheet_without_an_id_column_is_recognised_and_then_refused_precisely(tmp_path):
    path = csv_file(tmp_path, "Title;Speakers\nA talk;Ada Lovelace\n")

    assert detect_format(path) == "csv"
    with pytest.raises(ImportFileError) as raised:
        csv_format.read(path)
    error = raised.value
    assert (error.record, error.field, error.problem) == ("header row", "id", "is a required column")


def test_a_50000_row_file_is_read_row_by_row_without_holding_its_text_or_rows(tmp_path):
    """Memory beyond the records stays a small part of the file: the reader held the whole text and a list of every
    row (46 times the file in all). Nine rows in ten are blank but padded, so the file is big and reading it quick."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("id,title,speakers,summary\n")
        for n in range(50_000):
            handle.write(f"t-{n},Talk {n},Speaker {n % 97},A summary.\n" if n % 10 == 0 else " " * 1000 + ",,,\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        records = csv_format.read(path)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(records) == 5_000 and records[-1].external_id == "t-49990"
    assert peak - kept < size / 10, f"{(peak - kept) / 1e6:.1f} MB beyond the records for a {size / 1e6:.1f} MB file"


def test_a_line_too_long_to_be_a_row_is_refused_without_splitting_it_into_cells(tmp_path):
    """A single line of millions of cells would be a list of millions of strings: 20 times the line in memory."""
    path = csv_file(tmp_path, "id,title\n" + "a," * 2_200_000 + "\n")

    with pytest.raises(ImportFileError) as raised:
        csv_format.read(path)

    assert (raised.value.record, raised.value.problem) == (
        "line 2",
        "is longer than 4,194,304 characters: not a talk list",
    )
