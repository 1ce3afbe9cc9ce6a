"""`talkbot import` end to end (in-process, tests/support/cli.py; an import in a process of its own is in
tests/test_index_lifecycle.py): every format in, again without changes, updates and prunes, duplicates out, bad files
refused with nothing written — on SQLite and PostgreSQL."""

import gzip
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.config import dispose_engine, is_sqlite, sessions_for
from db.models import Speaker, Talk, TalkSource
from db.search.engine import SearchEngine
from db.setup import seed_catalog
from tests.support.cli import talkbot
from tests.support.shared_data import PYVIDEO_ARCHIVE, SCHEDULES, needs_pyvideo_archive

FIXTURES = Path(__file__).parent / "importers" / "fixtures"


@pytest.fixture
def catalog(migrated_database) -> str:
    seed_catalog(migrated_database)
    return migrated_database


def run_import(catalog, *paths, options=()):
    return talkbot("import", *map(str, paths), *options, database_url=catalog)


def titles(catalog, query, limit=10):
    return [card.title for card in SearchEngine(sessions_for(catalog)).search(query, limit=limit).cards]


def export(catalog) -> str:
    result = talkbot("export", database_url=catalog)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("fixture", "detected", "count", "findable"),
    [
        ("frab-minicon.json", "frab", None, "Observability on a Budget"),
        ("frab-minicon.xml", "frab", None, "Observability on a Budget"),
        ("widget/democamp.json", "pretalx", None, "Writing Your First Fuzzer"),
        ("sessionize-all.json", "sessionize", None, "Scaling Kafka at Acme"),
        ("ical-program.ics", "ics", None, "Observability, the hard parts"),
        ("csv-talks.csv", "csv", 3, "Five jq tricks"),
        ("pyvideo", "pyvideo", 3, "Typing in practice"),
    ],
)
def test_each_format_is_detected_from_its_content_imported_and_found_by_search(
    catalog, fixture, detected, count, findable
):
    result = run_import(catalog, FIXTURES / fixture)

    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{FIXTURES / fixture}: {detected} format, ")
    if count is not None:
        assert f", {count} talks" in first
    assert any(title.startswith(findable) for title in titles(catalog, f'"{findable}"'))


def test_importing_the_same_files_again_changes_nothing(catalog):
    files = [FIXTURES / name for name in ("frab-minicon.json", "sessionize-all.json", "csv-talks.csv", "pyvideo")]
    first = run_import(catalog, *files)
    before = export(catalog)
    again = run_import(catalog, *files)

    [summary] = [line for line in first.stdout.splitlines() if line.startswith("imported")]
    added = int(summary.split("talks: ")[1].split(" added")[0])
    assert added > 0
    assert f"talks: 0 added, 0 updated, {added} unchanged" in again.stdout
    assert export(catalog) == before


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("id,title,speakers,event,year\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_newer_version_updates_adds_and_reports_what_disappeared_and_prune_removes_it(catalog, tmp_path):
    program = tmp_path / "program.csv"
    write_csv(program, ["a,Alpha talk,Ada,DemoConf,2024", "b,Beta talk,Bob,DemoConf,2024",
                        "c,Gamma talk,Cy,DemoConf,2024"])  # fmt: skip
    assert run_import(catalog, program).returncode == 0

    write_csv(program, ["a,Alpha talk renamed,Ada,DemoConf,2024", "c,Gamma talk,Cy,DemoConf,2024",
                        "d,Delta talk,Di,DemoConf,2024"])  # fmt: skip
    result = run_import(catalog, program)
    assert "1 added, 1 updated, 1 unchanged, 1 no longer in the source (kept; --prune removes them)" in result.stdout
    assert "  no longer in the source: csv:program b" in result.stdout
    assert "Beta talk" in titles(catalog, '"beta"')

    pruned = run_import(catalog, program, options=["--prune"])
    assert "1 no longer in the source, removed" in pruned.stdout
    assert titles(catalog, '"beta"') == []
    assert titles(catalog, '"delta"') == ["Delta talk"] and titles(catalog, "renamed") == ["Alpha talk renamed"]


def test_dry_run_says_what_would_change_and_changes_nothing(catalog):
    before = export(catalog)
    result = run_import(catalog, FIXTURES / "csv-talks.csv", options=["--dry-run"])

    assert "would import 3 talks: 3 added, 0 updated, 0 unchanged" in result.stdout
    assert export(catalog) == before


BROKEN = {
    "frab.json": (FIXTURES / "frab-bad-missing-title.json", "field 'title'"),
    "frab.xml": (FIXTURES / "frab-bad-broken.xml", "not valid XML"),
    "frab.xml entities": (FIXTURES / "frab-bad-entities.xml", "refused: the XML declares the entity 'lol'"),
    "pretalx": (FIXTURES / "widget" / "bad-missing-title.json", "field 'title'"),
    "sessionize": (None, "field 'title'"),
    "ics": (None, "field 'UID'"),
    "csv": (None, "field 'year'"),
    "pyvideo": (None, "not valid JSON"),
    "yaml": (None, "field 'type'"),
    "csv with a NUL": (None, "field 'title': contains a NUL character"),
    "pyvideo archive bomb": (None, "is 1,073,741,824 bytes: refused, a pyvideo file is at most 1,048,576"),
    "pyvideo link to /dev/zero": (None, "is a symbolic link (to /dev/zero): refused"),
}


def broken_file(kind: str, folder: Path) -> Path:
    path, _ = BROKEN[kind]
    if path:
        return path
    if kind == "sessionize":
        data = json.loads((FIXTURES / "sessionize-all.json").read_text())
        del next(s for s in data["sessions"] if not s["isServiceSession"])["title"]
        (folder / "sessions.json").write_text(json.dumps(data))
        return folder / "sessions.json"
    if kind == "ics":
        text = (FIXTURES / "ical-program.ics").read_text().replace("UID:", "X-NOT-UID:", 1)
        (folder / "program.ics").write_text(text)
        return folder / "program.ics"
    if kind == "csv":
        return write_csv(folder / "bad.csv", ["a,Fine,Ada,DemoConf,2024", "b,Broken,Bob,DemoConf,twenty"])
    if kind == "pyvideo":
        broken = folder / "pyvideo" / "democon-2024" / "videos"
        broken.mkdir(parents=True)
        (broken.parent / "category.json").write_text('{"title": "DemoCon 2024"}')
        (broken / "good.json").write_text('{"title": "Good", "speakers": ["Ada"], "videos": []}')
        (broken / "bad.json").write_text('{"title": "Bad", ')
        return folder / "pyvideo"
    if kind == "csv with a NUL":
        return write_csv(folder / "nul.csv", ["a,Fine,Ada,DemoConf,2024", "b,Null\x00byte,Bob,DemoConf,2024"])
    if kind == "pyvideo archive bomb":  # a header claiming a GiB of zeros, and no more of them than 64 KiB
        bomb = tarfile.TarInfo("pyvideo-data/democon-2024/videos/zero.json")
        bomb.size = 1 << 30
        with gzip.open(folder / "bomb.tar.gz", "wb") as packed:
            packed.write(bomb.tobuf(format=tarfile.GNU_FORMAT) + bytes(64 * 1024))
        return folder / "bomb.tar.gz"
    if kind == "pyvideo link to /dev/zero":
        shutil.copytree(FIXTURES / "pyvideo", folder / "pyvideo")
        (folder / "pyvideo" / "pycon-demo-2023" / "videos" / "zero.json").symlink_to("/dev/zero")
        return folder / "pyvideo"
    talks = "  - {id: a, title: A}\n  - {id: b, title: B, type: panel}\n"
    (folder / "mine.yaml").write_text(f"source: mine\ntalks:\n{talks}")
    return folder / "mine.yaml"


def catalog_bytes(catalog: str) -> bytes:
    """The SQLite catalog's data exactly as it is on disk: the database and its write-ahead log (not the
    shared-memory index, which every reader touches)."""
    database = Path(catalog.removeprefix("sqlite:///"))
    files = [database, database.with_name(database.name + "-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_malformed_file_is_refused_saying_where_and_why_and_the_catalog_is_unchanged(catalog, tmp_path, kind):
    good = FIXTURES / "csv-talks.csv"  # imported in the same run: it must not land either
    path = broken_file(kind, tmp_path)
    dispose_engine(catalog)  # this process holds no connection: only the import under test touches the files
    before_export = export(catalog)
    before_bytes = catalog_bytes(catalog) if is_sqlite(catalog) else b""

    result = run_import(catalog, good, path)

    assert result.returncode == 1
    [message] = result.stderr.strip().splitlines()
    assert message.startswith(f"talkbot: {path}") and BROKEN[kind][1] in message
    if is_sqlite(catalog):
        assert hashlib.sha256(catalog_bytes(catalog)).digest() == hashlib.sha256(before_bytes).digest()
    assert export(catalog) == before_export


def test_control_characters_are_removed_alike_on_sqlite_and_postgresql(catalog, tmp_path):
    """What a talk says in Slack and in an export is the same whichever database holds it: no escape sequences,
    bells or backspaces, and Unicode line breaks as spaces."""
    program = tmp_path / "program.csv"
    program.write_text(
        "id,title,speakers,summary,video\n"
        "c1,\x1b[31mRed\x07 alert,Ada\x08 Lovelace,Bell\x7f and\x85next\u2028line,https://example.org/v\r\n",
        encoding="utf-8",
        newline="",
    )

    result = run_import(catalog, program)

    assert result.returncode == 0, result.stderr
    [talk] = [talk for talk in json.loads(export(catalog))["talks"] if talk["id"] == "c1"]
    assert (talk["title"], talk["summary"]) == ("[31mRed alert", "Bell and next line")
    assert talk["speakers"] == [{"name": "Ada Lovelace"}]
    assert talk["links"] == [{"kind": "video", "url": "https://example.org/v"}]


REAL_EVENTS = ("djangocon-eu-2015", "pycon-fr-2016")  # videos of 1,476 to 51,013 minutes


def real_events(folder: Path) -> Path:
    """The events of the real pyvideo archive whose durations the talkbot format refuses, as a pyvideo folder."""
    with tarfile.open(PYVIDEO_ARCHIVE) as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) > 2 and parts[1] in REAL_EVENTS:
                target = folder.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read(member.size))
    return folder


@needs_pyvideo_archive
def test_an_export_after_a_pyvideo_import_imports_into_a_fresh_catalog_unchanged(catalog, tmp_path):
    """`talkbot export -o all.json && talkbot import all.json` refused pyvideo's days-long durations: everything an
    importer accepts now passes the talkbot format's rules too."""
    first = run_import(catalog, real_events(tmp_path / "pyvideo"))
    assert first.returncode == 0, first.stderr
    assert "skipped (durations over 24 hours, imported as unknown)" in first.stdout
    exported = tmp_path / "all.json"
    assert talkbot("export", "--output", str(exported), database_url=catalog).returncode == 0

    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    again = run_import(fresh, exported)

    assert again.returncode == 0, again.stderr
    assert export(fresh) == exported.read_text(encoding="utf-8")
    assert json.loads(exported.read_text())["talks"][-1]["source"].startswith("pyvideo:")


def test_one_speaker_across_sources_and_near_identical_names_reported_not_merged(catalog):
    result = run_import(catalog, FIXTURES / "pyvideo")

    with sessions_for(catalog)() as session:
        langa = session.scalars(select(Speaker.name).where(Speaker.name.like("%ukasz Langa"))).all()
        smiths = session.scalars(select(Speaker.name).where(Speaker.name.like("%Smith"))).all()
    assert len(langa) == 1  # "Łukasz Langa" and "Lukasz Langa" are one person
    assert sorted(smiths) == ["John Smith", "Jon Smith"]
    assert "similar speaker names, not merged: “John Smith” and “Jon Smith”" in result.stdout


def test_the_same_talk_from_two_sources_is_linked_not_doubled(catalog, tmp_path):
    run_import(catalog, FIXTURES / "pyvideo")
    program = tmp_path / "pycon.csv"
    program.write_text(
        "id,title,speakers,event,year,slides\n"
        "k1,Streaming with Kafka from Python,Lukasz Langa,PyCon Demo,2023,https://example.org/kafka-slides.pdf\n"
    )

    result = run_import(catalog, program)

    assert "0 added, 0 updated, 0 unchanged, 1 linked to the same talk from another source" in result.stdout
    with sessions_for(catalog)() as session:
        [talk] = session.scalars(select(Talk).where(Talk.title == "Streaming with Kafka from Python")).all()
        assert {s.importer for s in talk.sources} == {"pyvideo:pycon-demo-2023", "csv:pycon"}
        assert {link.kind for link in talk.links} == {"video", "slides"}
    assert run_import(catalog, program).stdout.splitlines()[-1].endswith("0 added, 0 updated, 1 unchanged")


def test_a_reimport_that_changes_a_talks_links_but_keeps_one_updates_them(catalog, tmp_path):
    """A kept link stays its row: replacing every link row broke the unique (talk, kind, url) on a re-import."""
    program = tmp_path / "links.csv"
    program.write_text("id,title,event,year,video,slides\nl1,Links that change,DemoConf,2024,https://v.example/1,\n")
    run_import(catalog, program)
    program.write_text(
        "id,title,event,year,video,slides\nl1,Links that change,DemoConf,2024,https://v.example/1,https://s.example/1\n"
    )

    result = run_import(catalog, program)

    assert result.returncode == 0 and "0 added, 1 updated" in result.stdout
    with sessions_for(catalog)() as session:
        talk = session.scalars(select(Talk).where(Talk.title == "Links that change")).one()
        assert {(link.kind, link.url) for link in talk.links} == {
            ("video", "https://v.example/1"), ("slides", "https://s.example/1")
        }  # fmt: skip


def test_tags_are_normalised_noise_dropped_and_plurals_folded(catalog):
    run_import(catalog, FIXTURES / "pyvideo")
    engine = SearchEngine(sessions_for(catalog))
    cards = {card.title: card for query in ("kafka python", "typing", "async") for card in engine.search(query).cards}

    assert cards["Streaming with Kafka from Python"].tags == ["kafka", "streaming"]  # "Talk" dropped, case folded
    assert "databases" in cards["Typing in practice"].tags
    assert "databases" in cards["Async everything"].tags  # "database" joined the plural met first


@needs_pyvideo_archive
def test_the_real_pyvideo_archive_and_schedules_load_cleanly_and_again_without_changes(catalog):
    files = [PYVIDEO_ARCHIVE, SCHEDULES / "frab-camp2019.json", SCHEDULES / "pretalx-democon.json"]
    first = run_import(catalog, *files)
    assert first.returncode == 0, first.stderr
    [archive_line] = [line for line in first.stdout.splitlines() if line.startswith(f"{PYVIDEO_ARCHIVE}: ")]
    assert archive_line.startswith(f"{PYVIDEO_ARCHIVE}: pyvideo format, 21713 talks, ")
    assert "2 skipped (listed in NO_PUBLISH.json)" in archive_line
    assert "59 skipped (durations over 24 hours, imported as unknown)" in archive_line  # days-long "videos"
    assert "62 skipped (thumbnails that are not https URLs, left out)" in archive_line  # old blip.tv stills
    assert f"{SCHEDULES / 'frab-camp2019.json'}: frab format, 79 talks" in first.stdout

    again = run_import(catalog, *files)
    assert again.stdout.splitlines()[3].endswith(": 0 added, 0 updated, 21828 unchanged")

    with sessions_for(catalog)() as session:
        assert session.scalar(select(func.count(TalkSource.id)).where(TalkSource.importer.like("pyvideo:%"))) == 21713
        assert session.scalar(select(func.count(Talk.id)).where(Talk.thumbnail_url.is_not(None))) == 21502 + 28
    found = talkbot("search", 'event:"chaos communication camp" opening', database_url=catalog)
    assert found.stdout.startswith("1. Opening Ceremony — jinxx, smtw")
    assert "Lessons learned with asyncio" in talkbot("search", "lessons learned asyncio", database_url=catalog).stdout
