"""A database of the benchmark's own: a SQLite file in a folder, or a PostgreSQL schema
made for the run and dropped after it, so a benchmark never touches real data."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from newsletter.core.database import make_engine


@contextmanager
def fresh_database(database_url: str | None, folder: Path, name: str = "bench") -> Iterator[str]:
    """The URL of an empty database: `folder/<name>.db` without `database_url`, else a new
    schema in that PostgreSQL database (its search path set in the URL)."""
    if not database_url:
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
