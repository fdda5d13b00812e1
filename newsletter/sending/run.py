"""One call's share of a send: its owner token, its stop flag and throttle, the heartbeat
that keeps its leases alive, and the pool of batch workers.

A run may share the send with other runs (threads, processes, machines): they meet only
in the ledger. What the workers do with a batch is in `worker`; how the issue's status is
settled once they stop is in `settle`.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from sqlalchemy import Engine

from newsletter.core.database import is_sqlite, session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Backend, Message
from newsletter.links.personalize import Personalizer
from newsletter.publishing.lifecycle import PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import ledger
from newsletter.sending.retry import RetryPolicy
from newsletter.sending.tally import Counter
from newsletter.sending.worker import POLL, BatchWorker

# Migration 0005 backfills pause causes from these words as they stood then (a frozen copy):
# rewording them here changes nothing, the cause is its own column.
STOP_REQUESTED = "the sender was asked to stop; send again to resume"
INTERRUPTED = "interrupted; send again to resume"


@dataclass(frozen=True)
class Stop:
    """Why a run stopped claiming. `everyone`: the cause concerns every sender of the issue
    (a refused key), so the issue is paused even if others are still at it."""

    reason: str
    cause: PauseCause
    everyone: bool


@dataclass(frozen=True)
class Sendable:
    """What a run sends: the issue's frozen snapshot as a message, and its personaliser."""

    issue: Issue
    message: Message
    personalizer: Personalizer


class SendRun:
    """The state a run's threads share; the workers and the settling read and set it."""

    def __init__(
        self,
        engine: Engine,
        sendable: Sendable,
        settings: Settings,
        backend: Backend,
        counter: Counter,
        stop_requested: threading.Event | None = None,
    ) -> None:
        issue = sendable.issue
        assert issue.id is not None
        self.engine = engine
        self.issue = issue
        self.issue_id = issue.id
        self.message = sendable.message
        self.personalizer = sendable.personalizer
        self.settings = settings
        self.backend = backend
        self.counter = counter
        self.policy = RetryPolicy.of(settings)
        self.owner = ledger.new_owner()
        self.stopping = threading.Event()
        self.stopped: Stop | None = None
        self.stop_requested = stop_requested or threading.Event()
        self._lock = threading.Lock()
        self._resume_at = 0.0  # a 429 holds every worker of this run until then
        self._write_lock = threading.Lock() if is_sqlite(engine) else None

    # -- stopping and holding

    def stop(self, reason: str, cause: PauseCause, *, everyone: bool = True) -> None:
        """Stop claiming; the first reason given is the one the issue is paused with."""
        with self._lock:
            if self.stopped is None:
                self.stopped = Stop(reason, cause, everyone)
        self.stopping.set()

    def check_stop_request(self) -> None:
        if self.stop_requested.is_set():
            self.stop(STOP_REQUESTED, PauseCause.STOP_REQUESTED, everyone=False)

    def hold_until(self, moment: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, moment)

    def held(self) -> bool:
        return self._resume_at > time.time()

    def throttle(self) -> None:
        """Wait out a hold (a 429), waking for a stop."""
        while not self.stopping.is_set():
            delay = self._resume_at - time.time()
            if delay <= 0:
                return
            self.stopping.wait(min(delay, POLL))

    def writing(self) -> AbstractContextManager[object]:
        """SQLite has one writer: the run's threads queue here, woken as soon as the lock is
        free, rather than in SQLite's busy handler, which sleeps in steps of up to 100 ms."""
        return self._write_lock if self._write_lock is not None else nullcontext()

    # -- around the workers

    def heartbeat(self, done: threading.Event) -> None:
        """Extend this run's leases every third of a lease until `done`."""
        lease = self.settings.send_lease
        while not done.wait(lease / 3):
            try:
                with self.writing(), session_scope(self.engine, immediate=True) as session:
                    ledger.heartbeat(session, self.owner, now=time.time(), lease=lease)
            except Exception as exc:  # the next beat tries again; the lease has slack
                self.counter.note_error(f"heartbeat: {exc}")

    def reap(self) -> None:
        """Declare unknown the batches of senders that are gone, and count them."""
        with self.writing(), session_scope(self.engine, immediate=True) as session:
            reaped = ledger.reap_orphans(
                session, self.issue_id, now=time.time(), resend_safe=self.backend.resend_safe
            )
        self.counter.add(quiet=True, unknown=sum(size for _, size in reaped))

    def run_workers(self) -> None:
        """`send_concurrency` workers until none has anything left to claim; an exception
        in one stops the others, Ctrl-C stops all of them between batches."""
        count = self.settings.send_concurrency
        with ThreadPoolExecutor(count, thread_name_prefix="send") as pool:
            futures: list[Future[None]] = [
                pool.submit(BatchWorker(self).work) for _ in range(count)
            ]
            try:
                while True:
                    done, running = wait(futures, timeout=POLL, return_when=FIRST_EXCEPTION)
                    if any(future.exception() is not None for future in done):
                        self.stopping.set()
                    if not running:
                        break
                    self.check_stop_request()
            except BaseException:
                self.stop(INTERRUPTED, PauseCause.INTERRUPTED, everyone=False)
                wait(futures)
                raise
        for future in futures:
            future.result()  # re-raise a worker's unexpected error
