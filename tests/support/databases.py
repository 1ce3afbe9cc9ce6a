"""Throw-away databases for tests and benchmarks: a private PostgreSQL schema, dropped with everything in it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.config import dispose_engine


@contextmanager
def private_schema(url: str) -> Iterator[str]:
    """A URL to a new, empty schema in the PostgreSQL database at `url`; the schema is dropped on the way out."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    # pre-ping: a test may restart PostgreSQL (tests/test_postgres_outage.py), leaving the pooled connection dead
    admin = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    schema_url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = schema_url.render_as_string(hide_password=False)
    try:
        yield url_text
    finally:
        dispose_engine(url_text)
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
