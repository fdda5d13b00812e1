"""One way of counting a send: recipients by outcome, plus this call's own share.

The run, the dry run, the progress handed to a callback and the final report all count
the same things, so they share one type (`Tally`); `Counter` is the thread-safe running
total the workers add to, which also keeps the first few distinct errors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from newsletter.sending.ledger import BatchNote, LedgerCounts

ERRORS_KEPT = 20


@dataclass(frozen=True, kw_only=True)
class Tally:
    """Recipients of one issue by outcome (for the whole issue), and this call's share."""

    audience: int = 0
    accepted: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    retried: int = 0  # batch retries in this call
    sent_now: int = 0  # recipients accepted (dry run: validated) in this call

    @classmethod
    def of_ledger(cls, counts: LedgerCounts) -> Tally:
        """Where a run starts: what earlier runs of the issue already settled."""
        return cls(
            audience=counts.audience,
            accepted=counts.accepted,
            skipped=counts.skipped,
            failed=counts.failed,
            unknown=counts.unknown,
        )

    @property
    def settled(self) -> int:
        """Recipients whose outcome is decided."""
        return self.accepted + self.skipped + self.failed + self.unknown

    def plus(
        self,
        *,
        audience: int = 0,
        accepted: int = 0,
        skipped: int = 0,
        failed: int = 0,
        unknown: int = 0,
        retried: int = 0,
    ) -> Tally:
        """This tally with more counted; accepted recipients are this call's too."""
        return replace(
            self,
            audience=self.audience + audience,
            accepted=self.accepted + accepted,
            sent_now=self.sent_now + accepted,
            skipped=self.skipped + skipped,
            failed=self.failed + failed,
            unknown=self.unknown + unknown,
            retried=self.retried + retried,
        )


@dataclass(frozen=True, kw_only=True)
class SendProgress(Tally):
    """Handed to `on_progress` after every batch; counts are for the whole issue."""

    elapsed: float

    @property
    def rate(self) -> float:
        return self.sent_now / self.elapsed if self.elapsed > 0 else 0.0


Outcome = Literal["started", "joined", "resumed", "already sent", "dry run"]


@dataclass(frozen=True, kw_only=True)
class SendReport(SendProgress):
    """What a call to `send_issue` came to: the last progress, and the issue after it."""

    issue_number: int
    outcome: Outcome
    status: str  # the issue's status after this call
    status_reason: str | None
    dry_run: bool
    queued: int  # not sent yet (a paused send)
    unknown_batches: list[BatchNote] = field(default_factory=list)
    failed_batches: list[BatchNote] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def log_fields(self) -> dict[str, object]:
        """The figures a log line about this send carries as fields (JSON logs)."""
        return {
            "issue": self.issue_number,
            "status": str(self.status),
            "accepted": self.accepted,
            "unknown": self.unknown,
            "failed": self.failed,
            "skipped": self.skipped,
            "queued": self.queued,
        }


ProgressCallback = Callable[[SendProgress], None]


class Counter:
    """The running tally of one call, shared by its worker threads."""

    def __init__(self, start: Tally, on_progress: ProgressCallback | None) -> None:
        self._lock = threading.Lock()
        self._on_progress = on_progress
        self.tally = start
        self.started = time.monotonic()
        self.errors: list[str] = []

    def add(
        self,
        *,
        quiet: bool = False,
        audience: int = 0,
        accepted: int = 0,
        skipped: int = 0,
        failed: int = 0,
        unknown: int = 0,
        retried: int = 0,
    ) -> None:
        """Count more; unless `quiet`, the callback sees the new totals (under the lock, so
        it sees them in order)."""
        with self._lock:
            self.tally = self.tally.plus(
                audience=audience,
                accepted=accepted,
                skipped=skipped,
                failed=failed,
                unknown=unknown,
                retried=retried,
            )
            if self._on_progress is not None and not quiet:
                self._on_progress(self.progress())

    def progress(self) -> SendProgress:
        return SendProgress(**vars(self.tally), elapsed=self.elapsed())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note_error(self, text: str) -> None:
        """Keep the first few distinct errors for the report."""
        with self._lock:
            if text not in self.errors and len(self.errors) < ERRORS_KEPT:
                self.errors.append(text)

    @property
    def last_error(self) -> str | None:
        with self._lock:
            return self.errors[-1] if self.errors else None
