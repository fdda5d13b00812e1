"""The SQLite connection settings, and write transactions as the web app's dependencies
use them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from newsletter.core.database import SQLITE_CHECKPOINT_PAGES, make_engine, session_scope


def test_sqlite_connections_checkpoint_every_10000_wal_pages(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
        mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
    engine.dispose()
    assert (pages, mode) == (SQLITE_CHECKPOINT_PAGES, "wal")


def test_a_write_transaction_may_end_in_another_thread_than_it_began(tmp_path: Path) -> None:
    """FastAPI runs a yield dependency's two halves in two worker threads: a write session
    begun in one thread is committed in another. (A thread-owned lock around the write
    transaction answered every such request 500, "cannot release un-acquired lock".)"""
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    scope = session_scope(engine, immediate=True)
    with ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as second:
        session = first.submit(scope.__enter__).result()
        session.connection().execute(text("INSERT INTO t VALUES (1)"))
        second.submit(scope.__exit__, None, None, None).result()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [1]
    engine.dispose()
