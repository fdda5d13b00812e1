"""The dry run: every batch of the active list as it is now, built and (where the backend
has a sandbox) validated by the provider, delivering nothing.

Nothing is recorded: the ledger, the issue's status and the audience snapshot stay as
they are, so a dry run can be made at any time, as often as wanted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import (
    Backend,
    DeliveryError,
    Message,
    PermanentFailure,
    PersonalizedBatch,
    Recipient,
    TransientFailure,
)
from newsletter.sending.message import batch_message
from newsletter.sending.retry import RetryPolicy
from newsletter.sending.run import Sendable
from newsletter.sending.tally import Counter, ProgressCallback, SendReport, Tally
from subscribers.models import Status, Subscriber


def active_pages(engine: Engine, size: int) -> Iterator[list[tuple[int, str, str | None]]]:
    """The active list in keyset pages: memory stays one page whatever the list's size."""
    last = 0
    while True:
        with session_scope(engine) as session:
            page = [
                (sid or 0, email, name)
                for sid, email, name in session.exec(
                    select(col(Subscriber.id), Subscriber.email, Subscriber.name)
                    .where(Subscriber.status == Status.ACTIVE)
                    .where(col(Subscriber.id) > last)
                    .order_by(col(Subscriber.id))
                    .limit(size)
                ).all()
            ]
        if not page:
            return
        last = page[-1][0]
        yield page


class SandboxValidator:
    """Validates one sandboxed batch at a time, for the pool's threads; a refusal that
    concerns every batch (the key, the message) stops the rest."""

    def __init__(self, backend: Backend, policy: RetryPolicy, counter: Counter) -> None:
        self.backend = backend
        self.policy = policy
        self.counter = counter
        self.stop = threading.Event()

    def fail(self, exc: DeliveryError, count: int) -> None:
        self.counter.note_error(str(exc))
        self.counter.add(failed=count)
        if isinstance(exc, PermanentFailure) and exc.stops_send:
            self.stop.set()

    def validate(self, message: Message, recipients: Sequence[Recipient]) -> None:
        for attempt in range(1, self.policy.attempts + 1):
            if self.stop.is_set():
                return
            try:
                self.backend.send_batch(message, recipients)
            except TransientFailure as exc:
                if self.policy.gives_up(attempt):
                    self.fail(exc, len(recipients))
                    return
                self.counter.add(quiet=True, retried=1)
                self.stop.wait(self.policy.delay(exc, attempt, time.time()))
            except DeliveryError as exc:
                self.fail(exc, len(recipients))
                return
            else:
                self.counter.add(accepted=len(recipients))
                return


def dry_run(
    engine: Engine,
    sendable: Sendable,
    settings: Settings,
    backend: Backend,
    on_progress: ProgressCallback | None,
) -> SendReport:
    """Build every batch of the active list as it is now; the provider validates each in
    sandbox mode (a backend without a sandbox only builds them). Nothing is recorded,
    the issue's status does not move, and nobody gets anything."""
    issue = sendable.issue
    sandboxed = replace(sendable.message, sandbox=True)
    counter = Counter(Tally(), on_progress)
    validator = SandboxValidator(backend, RetryPolicy.of(settings), counter)
    limit = 2 * settings.send_concurrency
    with ThreadPoolExecutor(settings.send_concurrency, thread_name_prefix="dry-run") as pool:
        window: set[Future[None]] = set()
        for seq, page in enumerate(active_pages(engine, settings.batch_size), start=1):
            if validator.stop.is_set():
                break
            recipients = PersonalizedBatch(sendable.personalizer, page)
            counter.add(quiet=True, audience=len(recipients))
            if not backend.supports_sandbox:
                counter.add(accepted=len(recipients))
                continue
            batch = batch_message(sandboxed, issue, seq)
            window.add(pool.submit(validator.validate, batch, recipients))
            if len(window) >= limit:
                done, running = wait(window, return_when=FIRST_COMPLETED)
                window = set(running)
                for future in done:
                    future.result()
        for future in window:
            future.result()
    tally = counter.tally
    return SendReport(
        issue_number=issue.number,
        outcome="dry run",
        status=issue.status,
        status_reason=issue.status_reason,
        dry_run=True,
        audience=tally.audience,
        failed=tally.failed,
        queued=0,
        sent_now=tally.sent_now,  # validated; nothing was accepted for real
        retried=tally.retried,
        elapsed=counter.elapsed(),
        errors=list(counter.errors),
    )
