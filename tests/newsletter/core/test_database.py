"""The SQLite connection settings and the process-wide turn SQLite writers take."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

from newsletter.core.database import (
    SQLITE_CHECKPOINT_PAGES,
    make_engine,
    session_scope,
    writer_lock,
)


def test_sqlite_connections_checkpoint_every_10000_wal_pages(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
        mode = conn.execute(text("PRAGMA journal_mode")).scalar_one()
    engine.dispose()
    assert (pages, mode) == (SQLITE_CHECKPOINT_PAGES, "wal")


def test_sqlite_writers_of_one_process_wait_for_each_other_on_the_lock(tmp_path: Path) -> None:
    """A second writer waits on the process's lock (not in SQLite's busy handler) and gets
    in as soon as the first one commits; both writes are kept."""
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (who TEXT)"))
    second_in: list[float] = []

    def second() -> None:
        with session_scope(engine, immediate=True) as session:
            second_in.append(time.monotonic())
            session.execute(text("INSERT INTO t VALUES ('second')"))

    with session_scope(engine, immediate=True) as session:
        session.execute(text("INSERT INTO t VALUES ('first')"))
        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(0.2)
        assert not second_in  # still waiting...
        assert not _free_elsewhere(engine)  # ...on the lock this writer holds
        committed = time.monotonic()
    worker.join(timeout=10)
    assert second_in
    assert second_in[0] - committed < 0.5
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT who FROM t")).scalars()) == ["first", "second"]
    engine.dispose()


def _free_elsewhere(engine: Engine) -> bool:
    """Whether another thread could take the writer lock now (an RLock is re-entrant for
    the thread that holds it, so this asks from a thread of its own)."""
    lock, free = writer_lock(engine), []

    def try_it() -> None:
        free.append(lock.acquire(blocking=False))
        if free[-1]:
            lock.release()

    probe = threading.Thread(target=try_it)
    probe.start()
    probe.join()
    return free == [True]


def test_the_lock_is_one_per_database_file(tmp_path: Path) -> None:
    a = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    again = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    other = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    assert writer_lock(a) is writer_lock(again)
    assert writer_lock(a) is not writer_lock(other)


def test_readers_and_deferred_writers_take_no_turn(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with session_scope(engine) as session:
        session.execute(text("SELECT 1"))
        assert _free_elsewhere(engine)  # only immediate transactions take it
    engine.dispose()
