"""Fixtures: every database test runs on SQLite and on the real PostgreSQL named by TEST_DATABASE_URL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

import db.config
from bot.devtools.fake_slack import FakeSlack
from db.config import database_url, dispose_engine, sessions_for
from db.migrate import upgrade
from db.search.engine import SearchEngine
from db.search.snapshot import INDEX_DIR_VARIABLE
from db.setup import seed_catalog
from db.token_cipher import ENCRYPTION_KEY_VARIABLE, TokenCipher
from tests.support.database_proxy import DatabaseProxy
from tests.support.databases import private_schema
from tests.support.shared_data import DATA_SKIPS
from tests.support.slack_server import TEAM, TalkbotServer
from tests.support.talkbot_app import InProcessTalkbot, talkbot_in_process

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


def _postgres_skip_reason() -> str | None:
    if not POSTGRES_URL:
        return "TEST_DATABASE_URL is not set (`.ci/run` sets it to the local PostgreSQL)"
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # any failure to connect means: skip, and say why
        return f"PostgreSQL at TEST_DATABASE_URL is unreachable: {str(error).splitlines()[0]}"
    return None


POSTGRES_SKIP = _postgres_skip_reason()
if POSTGRES_SKIP and os.environ.get("TALKBOT_REQUIRE_POSTGRES"):
    raise pytest.UsageError(f"TALKBOT_REQUIRE_POSTGRES is set but {POSTGRES_SKIP}")

FOLDED_SKIPS = {POSTGRES_SKIP, *DATA_SKIPS}

OUTAGE_VARIABLE = "TALKBOT_RUN_OUTAGE_TESTS"


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--run-outage", action="store_true",
        help=f"run the tests marked `outage`, which stop the machine's PostgreSQL (also: {OUTAGE_VARIABLE}=1)",
    )  # fmt: skip


def pytest_collection_modifyitems(config, items) -> None:
    """`outage` tests stop the PostgreSQL cluster everyone on the machine uses: only when asked (`.ci/run` asks)."""
    if config.getoption("--run-outage") or os.environ.get(OUTAGE_VARIABLE) == "1":
        return
    skip = pytest.mark.skip(reason=f"stops the machine's PostgreSQL: run with --run-outage or {OUTAGE_VARIABLE}=1")
    for item in items:
        if "outage" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """One `-ra` line per skip reason, not one per test: a skip for a reason the whole suite shares (no PostgreSQL, no
    shared data) is reported at one place, so pytest folds them."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        reason = report.longrepr[2]
        if reason.removeprefix("Skipped: ") in FOLDED_SKIPS:
            report.longrepr = (__file__, None, reason)
    return report


@pytest.fixture(autouse=True)
def _one_process_per_command(monkeypatch) -> None:
    """`bot.cli.main` switches the whole process to bulk timeouts (db/config.py) for its commands, as a process of its
    own would: a test calling it in-process must not leave them to the tests after it."""
    monkeypatch.setattr(db.config, "_bulk_process", False)


@pytest.fixture(scope="session", autouse=True)
def _index_snapshots_kept_in_the_run(tmp_path_factory) -> Iterator[None]:
    """Search index snapshots (db/search/snapshot.py) of the tests' databases go to the run's temporary folder, not
    the user's data folder (where those of PostgreSQL databases go by default)."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(INDEX_DIR_VARIABLE, str(tmp_path_factory.mktemp("index-snapshots")))
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path_factory) -> Iterator[str]:
    """A URL to an empty database of each kind, dropped afterwards."""
    yield from _fresh_database(request.param, tmp_path_factory)


@pytest.fixture
def empty_postgres_database(tmp_path_factory) -> Iterator[str]:
    yield from _fresh_database("postgresql", tmp_path_factory)


def _fresh_database(kind: str, tmp_path_factory) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'catalog.sqlite3'}"
        yield url
        dispose_engine(url)
        return
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    with private_schema(database_url_of(POSTGRES_URL)) as url:
        yield url


def database_url_of(url: str) -> str:
    """Normalise a test URL the way talkbot normalises DATABASE_URL."""
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        return database_url()
    finally:
        if previous is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = previous


@pytest.fixture
def migrated_database(empty_database, tmp_path_factory) -> str:
    if not _from_sqlite_template(empty_database, "migrated", tmp_path_factory):
        upgrade(empty_database)
    return empty_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded_database(request, tmp_path_factory) -> Iterator[str]:
    """A migrated database holding the seed catalog, shared (read-only) by a module's tests."""
    for url in _fresh_database(request.param, tmp_path_factory):
        if not _from_sqlite_template(url, "seeded", tmp_path_factory):
            upgrade(url)
            seed_catalog(url)
        yield url


_templates: dict[str, Path] = {}


def _from_sqlite_template(url: str, kind: str, tmp_path_factory) -> bool:
    """A new SQLite database becomes a copy of one migrated (and seeded) once per run: the same file `db upgrade`
    (and `seed`) would leave, without running the migrations again for every test. False for PostgreSQL."""
    if not url.startswith("sqlite:///"):
        return False
    if kind not in _templates:
        template = tmp_path_factory.mktemp("template") / f"{kind}.sqlite3"
        template_url = f"sqlite:///{template}"
        upgrade(template_url)
        if kind == "seeded":
            seed_catalog(template_url)
        dispose_engine(template_url)  # the last connection closed: the write-ahead log is checkpointed into the file
        wal = template.with_name(template.name + "-wal")
        assert not wal.exists() or not wal.stat().st_size, "the template's write-ahead log was not checkpointed"
        _templates[kind] = template
    shutil.copyfile(_templates[kind], url.removeprefix("sqlite:///"))
    return True


@pytest.fixture(scope="module")
def seeded_engine(seeded_database) -> SearchEngine:
    return SearchEngine(sessions_for(seeded_database))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    """A fake Slack for the whole module, answering as workspace TEAM (modules may override it)."""
    with FakeSlack(team_id=TEAM) as slack:
        yield slack


@pytest.fixture(scope="module")
def server(seeded_database, fake) -> Iterator[InProcessTalkbot]:
    """talkbot's Slack app in token mode on the seeded catalog, talking to `fake`, run in-process (tests/support): the
    same app and WSGI layer `talkbot serve --http` runs. tests/test_real_server.py covers the real process."""
    with talkbot_in_process(seeded_database, fake) as talkbot:
        yield talkbot


@pytest.fixture(scope="module")
def real_server(seeded_database, fake) -> Iterator[TalkbotServer]:
    """A real `talkbot serve --http` in token mode on the seeded catalog, talking to `fake`."""
    talkbot = TalkbotServer(seeded_database, fake)
    yield talkbot
    talkbot.stop()


@pytest.fixture(scope="module")
def encryption_key() -> Iterator[str]:
    """OAuth mode stores tokens encrypted: servers started in the module (they inherit the environment) use this."""
    with pytest.MonkeyPatch.context() as environment:
        key = TokenCipher.generate_key()
        environment.setenv(ENCRYPTION_KEY_VARIABLE, key)
        yield key


@pytest.fixture
def postgres_catalog(empty_postgres_database) -> str:
    """A PostgreSQL schema holding the migrated seed catalog, for one test."""
    upgrade(empty_postgres_database)
    seed_catalog(empty_postgres_database)
    return empty_postgres_database


@pytest.fixture
def proxy(postgres_catalog) -> Iterator[DatabaseProxy]:
    """A proxy in front of that database's server, which a test can make hang or drop connections."""
    database = make_url(postgres_catalog)
    proxy = DatabaseProxy((database.host or "127.0.0.1", database.port or 5432))
    yield proxy
    proxy.close()
