"""Group commit: writers that arrive while another writer's transaction is running join the
next transaction, each inside a SAVEPOINT of its own.

Why: SQLite has one writer at a time. Concurrent webhook POSTs used to queue on the
database lock, each waiting in SQLite's busy handler (which sleeps in steps of up to
100 ms, so the core idles after every commit), and each paid a commit of its own (a WAL
write of every page it dirtied). Here they queue in the process instead: the first caller
leads a transaction, the others wait for it; when it commits, the next waiting caller
leads one for everyone who arrived meanwhile. One commit writes the shared pages (index
nodes, counters) once for several POSTs.

What each caller keeps: its work is all-or-nothing (an error rolls back to its savepoint
and is raised to that caller alone, the others' work still commits), a later caller's
work sees an earlier one's writes (as if it ran after it), and a failed commit is raised
to every caller of that transaction (none of their work is kept). Nothing crosses threads
but the work and its answer: each transaction begins, runs and ends in its leader's
thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.core.database import session_scope

T = TypeVar("T")

MAX_GROUP = 8
"""Callers' work per transaction at most: a transaction (and the answer of its first
caller) never grows without bound while POSTs keep arriving."""


@dataclass(eq=False)
class _Job(Generic[T]):
    work: Callable[[Session], T]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next transaction, not with its answer
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


class CommitGroup:
    """The queue of one engine's writers (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._queue: list[_Job[object]] = []
        self._busy = False  # a transaction is running or about to: newcomers wait

    def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in a write transaction shared with concurrent callers; its
        result, or its error (or the commit's) raised here."""
        job: _Job[T] = _Job(work)
        with self._lock:
            self._queue.append(job)  # type: ignore[arg-type]
            lead = not self._busy
            self._busy = True
        while not job.done:
            if not lead:
                job.wake.wait()
                job.wake.clear()
                if not job.lead:
                    continue
            self._lead()
            lead = False
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def waiting(self) -> int:
        """Callers queued for a transaction that has not begun yet."""
        with self._lock:
            return len(self._queue)

    def _lead(self) -> None:
        """Run the next group (the leader is its first job), then hand over."""
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._transaction(group)
        finally:
            with self._lock:
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.wake.set()
                else:
                    self._busy = False
            for job in group:
                job.done = True
                job.wake.set()

    def _transaction(self, group: list[_Job[object]]) -> None:
        try:
            with session_scope(self.engine, immediate=True) as session:
                for job in group:
                    try:
                        with session.begin_nested():
                            job.result = job.work(session)
                    except Exception as exc:  # that caller's alone: raised to it
                        job.error = exc
        except BaseException as exc:  # the commit (or BEGIN): nobody's work is kept
            for job in group:
                job.result, job.error = None, job.error or exc


_groups: WeakKeyDictionary[Engine, CommitGroup] = WeakKeyDictionary()
_groups_lock = threading.Lock()


def commit_group(engine: Engine) -> CommitGroup:
    """The engine's one queue of writers in this process."""
    with _groups_lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = CommitGroup(engine)
        return group
