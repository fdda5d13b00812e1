"""Group commit: callers that arrive while a transaction runs share the next one, each
all or nothing, on a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from newsletter.core.group_commit import CommitGroup, commit_group


def _write(name: str, then: Callable[[], None] = lambda: None) -> Callable[[Session], int]:
    """Work that adds counter `name` of issue 1, then runs `then`; its session's key (one
    session per transaction)."""

    def work(session: Session) -> int:
        session.connection().execute(
            text("INSERT INTO event_tally (issue_id, name, value) VALUES (1, :n, 1)"), {"n": name}
        )
        then()
        return int(session.hash_key)

    return work


def _names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM event_tally ORDER BY name")).scalars())


def _queued_behind_a_running_transaction(
    group: CommitGroup, works: list[Callable[[Session], int]]
) -> tuple[Future[int], list[Future[int]]]:
    """The first caller's transaction holds until `works` all wait behind it; their
    futures, the first one's first."""
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        assert release.wait(30)

    pool = ThreadPoolExecutor(len(works) + 1)
    first = pool.submit(group.run, _write("a-first", hold))
    assert started.wait(30)
    rest = [pool.submit(group.run, work) for work in works]
    deadline = time.monotonic() + 30
    while group.waiting() < len(works):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    release.set()
    pool.shutdown(wait=True)
    return first, rest


def test_callers_arriving_meanwhile_share_the_next_transaction(engine: Engine) -> None:
    group = CommitGroup(engine)
    first, rest = _queued_behind_a_running_transaction(
        group, [_write("b"), _write("c"), _write("d")]
    )
    sessions = {future.result() for future in rest}
    assert len(sessions) == 1  # one transaction for the three that waited
    assert first.result() not in sessions
    assert _names(engine) == ["a-first", "b", "c", "d"]
    assert group.waiting() == 0
    assert group.run(_write("e")) > 0  # the queue is free again: a caller alone leads


def test_a_callers_error_undoes_its_work_alone_and_is_raised_to_it(engine: Engine) -> None:
    def broken() -> None:
        raise RuntimeError("this POST's work failed")

    _, (b, c, d) = _queued_behind_a_running_transaction(
        CommitGroup(engine), [_write("b"), _write("c", broken), _write("d")]
    )
    with pytest.raises(RuntimeError, match="this POST's work failed"):
        c.result()
    assert b.result() == d.result()
    assert _names(engine) == ["a-first", "b", "d"]


class _Stop(BaseException):
    """Something that ends the whole transaction (as a failed commit does)."""


def test_when_the_transaction_fails_no_callers_work_is_kept(engine: Engine) -> None:
    def stop() -> None:
        raise _Stop

    _, futures = _queued_behind_a_running_transaction(
        CommitGroup(engine), [_write("b"), _write("c", stop), _write("d")]
    )
    for future in futures:
        with pytest.raises(_Stop):
            future.result()
    assert _names(engine) == ["a-first"]  # the first transaction had committed before


def test_one_group_per_engine(engine: Engine) -> None:
    assert commit_group(engine) is commit_group(engine)
