"""INSERT ... ON CONFLICT for the two databases the service runs on.

`newsletter.core.sql.insert_ignoring_conflicts` covers DO NOTHING; the counters and the
activity rows also need DO UPDATE (add to a counter, rewrite a row), which both SQLite and
PostgreSQL spell the same way through their dialect's own `insert`.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def upsert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT for `table`, which knows ON CONFLICT DO NOTHING / DO UPDATE."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no INSERT … ON CONFLICT for {dialect}")
