"""The catalog from the terminal: import and export, the seed, meaning vectors, migrations, statistics, and the
domains its links point to (for the manifest's unfurl domains)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from bot.cli import CommandError, fail
from bot.cli.parser import EMBED_AT_IMPORT
from db.catalog import CatalogStats, all_talks, catalog_stats, talk_record
from db.catalog_import import import_records
from db.config import sessions_for
from db.importers import read_catalog_file
from db.importers.talkbot_format import catalog_document
from db.migrate import upgrade
from db.search.embeddings import embed_catalog, pending
from db.search.encoder import Encoder, ModelFileError
from db.setup import display_url, prepare_catalog, seed_catalog
from db.talk_links import common_link_domains

PROGRESS_FROM = 1000
TALKS_EMBEDDED_PER_SECOND = 16  # measured on two cores (pyvideo's talks)
MAX_LISTED = 20


def run_export(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=fail)
    with sessions_for(url)() as session:
        document = catalog_document([talk_record(talk) for talk in all_talks(session)])
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        fail(f"exported {len(document['talks'])} talks to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def run_import(args: argparse.Namespace, url: str) -> int:
    """Read and validate every file first, then write all of them in one transaction (or none, on any error)."""
    prepare_catalog(url, announce=fail)
    parsed = [read_catalog_file(path, args.format) for path in args.paths]
    for reading in parsed:
        skipped = "".join(f", {count} skipped ({reason})" for reason, count in reading.skipped.items())
        print(f"{reading.path}: {reading.format} format, {len(reading.records)} talks{skipped}")
    records = [record for reading in parsed for record in reading.records]
    progress = _progress_printer(len(records)) if sys.stderr.isatty() and len(records) >= PROGRESS_FROM else None
    with sessions_for(url)() as session:
        report = import_records(session, records, prune=args.prune, progress=progress)
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    print(("would import" if args.dry_run else "imported") + f" {len(records)} talks: {report}")
    for source, external_id in report.disappeared[:MAX_LISTED]:
        print(f"  {'removed' if report.removed else 'no longer in the source'}: {source} {external_id}")
    for name, other in report.similar_speakers[:MAX_LISTED]:
        print(f"  similar speaker names, not merged: “{name}” and “{other}”")
    hidden = max(0, len(report.disappeared) - MAX_LISTED) + max(0, len(report.similar_speakers) - MAX_LISTED)
    if hidden:
        print(f"  … and {hidden} more")
    if not args.dry_run and args.embed is not False:
        _embed_after_import(url, changed=report.changed, always=bool(args.embed))
    return 0


def _embed_after_import(url: str, changed: bool, always: bool) -> None:
    """Embed what the import added or changed, unless that would take long and was not asked for: then say how."""
    sessions = sessions_for(url)
    with sessions() as session:
        todo = pending(session, missing_only=not changed)  # nothing changed: only talks still without vectors
    if not todo:
        return
    if not always and len(todo) > EMBED_AT_IMPORT:
        minutes = max(1, round(len(todo) / TALKS_EMBEDDED_PER_SECOND / 60))
        print(f"{len(todo):,} talks have no meaning vectors yet (about {minutes} min of work): run `talkbot embed` "
              "to compute them; until then they are found by their words")  # fmt: skip
        return
    print(f"embedding: {embed_catalog(sessions, _bulk_encoder(), _embed_progress(), todo)}")


def _progress_printer(total: int) -> Callable[[int], None]:
    def show(done: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r  importing {done}/{total} talks ({done * 100 // total}%)", end=end, file=sys.stderr, flush=True)

    return show


def run_upgrade(args: argparse.Namespace, url: str) -> int:
    upgrade(url)
    print(f"database at {display_url(url)} is up to date")
    return 0


def run_embed(args: argparse.Namespace, url: str) -> int:
    """Embed every talk whose vector is missing or whose text changed; interrupting keeps what was done."""
    prepare_catalog(url, announce=fail)
    report = embed_catalog(sessions_for(url), _bulk_encoder(), _embed_progress())
    print(f"embedding: {report}")
    return 0


def _bulk_encoder() -> Encoder:
    try:
        return Encoder(threads=0)  # every core: nobody is waiting on this process
    except ModelFileError as error:
        raise CommandError(f"cannot embed: {error}") from None


def _embed_progress() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        left = (time.monotonic() - started) / done * (total - done)
        end = "\n" if done >= total else ""
        print(f"\r  embedding {done}/{total} talks ({done * 100 // total}%, about {left / 60:.0f} min left)  ",
              end=end, file=sys.stderr, flush=True)  # fmt: skip

    return show


def run_seed(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=fail)
    print(f"seed catalog: {seed_catalog(url)}")
    return 0


def run_stats(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=fail)
    with sessions_for(url)() as session:
        stats = catalog_stats(session)
    print(summary_of(stats, args.top))
    return 0


def run_link_domains(args: argparse.Namespace, url: str) -> int:
    prepare_catalog(url, announce=fail)
    with sessions_for(url)() as session:
        domains = common_link_domains(session)
    print("The catalog's most linked domains (list up to 5 under features.unfurl_domains in manifest.yml):")
    print("\n".join(f"  {count:>6,}  {domain}" for domain, count in domains) or "  (no talk has a link)")
    return 0


def summary_of(stats: CatalogStats, top: int) -> str:
    """Totals, then the `top` events, years and tags with the most talks (ties in name order)."""
    years = sorted(year for year, _count in stats.by_year)
    span = f" ({years[0]}–{years[-1]})" if len(years) > 1 else f" ({years[0]})" if years else ""
    lines = [
        f"{_count(stats.talks, 'talk')} by {_count(stats.speakers, 'speaker')}, "
        f"at {_count(len(stats.by_event), 'event')} over {_count(len(years), 'year')}{span}, "
        f"with {_count(len(stats.by_tag), 'tag')}"
    ]
    events = [(_event_label(name, year), count) for name, year, count in stats.by_event]
    for heading, rows in (
        ("events", events), ("years", [(str(year), count) for year, count in stats.by_year]), ("tags", stats.by_tag),
    ):  # fmt: skip
        if not rows:
            continue
        shown = sorted(rows, key=lambda row: (-row[1], row[0]))[:top]
        lines += ["", f"Top {heading}" + (f" ({len(shown)} of {len(rows):,}):" if len(rows) > len(shown) else ":")]
        lines += [f"  {count:>6,}  {label}" for label, count in shown]
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _event_label(name: str, year: int | None) -> str:
    return name if year is None or str(year) in name else f"{name} ({year})"
