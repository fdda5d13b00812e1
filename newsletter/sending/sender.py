"""Sending an issue to its whole audience, exactly once each, through the ledger.

`send_issue` is the one entry point (the CLI calls it, the scheduler will). Which issue
statuses may be sent:

- `draft` and `approved` start a send: a compare-and-set moves the issue to `sending` and,
  in the same transaction, snapshots the audience (the active subscribers then) into
  batches. Two processes starting at once: one wins the move, the other joins.
- `sending` joins the send: only through batch claims, so several senders (threads,
  processes, machines) share it. `paused` resumes it.
- `sent` and `failed` finish any batches never sent (there should be none) and otherwise
  report "already sent".
- `held` and `cancelled` are refused: an editor decided the issue must not go out.

The send ends `sent` when every batch is accepted, failed, unknown or skipped (the
status_reason counts failed and unknown ones; `failed` if nothing at all was accepted), or
`paused` when it was stopped (a refused API key, Ctrl-C) or batches that are safe to retry
ran out of attempts for this run; sending again resumes it.

Speed: `send_concurrency` threads each claim a batch, build its request and send it (the
package blocks on the socket, which frees the GIL). The ledger is written per batch, in
bulk: one transaction records a batch's outcome and claims the next; on SQLite the run's
threads queue for it on a lock of their own. The audience is snapshotted by one INSERT ...
SELECT and read back a batch at a time; nothing held in memory grows with the list.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Future,
    ThreadPoolExecutor,
    wait,
)
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Literal

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from newsletter.core.database import is_sqlite, session_scope
from newsletter.core.errors import NewsletterError
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
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing.issues import get_issue
from newsletter.publishing.models import Issue, IssueStatus
from newsletter.sending import ledger
from newsletter.sending.ledger import BatchNote, BatchState, Claimed, LedgerCounts, RecipientState
from newsletter.sending.message import issue_message
from subscribers.addresses import InvalidAddress, normalize_email
from subscribers.models import Status, Subscriber

MAX_BATCH = 1000  # SendGrid: 1,000 personalizations and 1,000 recipients per request
STARTABLE = (IssueStatus.DRAFT, IssueStatus.APPROVED)
SENDING = (IssueStatus.SENDING,)
FINISHED = (IssueStatus.SENT, IssueStatus.FAILED)
REFUSED = (IssueStatus.HELD, IssueStatus.CANCELLED)
REASON_MAX = 1000
POLL = 0.2  # seconds between looks at a send others are finishing
STOP_REQUESTED = "the sender was asked to stop; send again to resume"
INTERRUPTED = "interrupted; send again to resume"
EXHAUSTED = "could not be sent after"

__all__ = [
    "SendError",
    "SendProgress",
    "SendReport",
    "issue_status",
    "send_issue",
    "test_send",
]

issue_status = ledger.issue_status


def resumes_by_itself(status_reason: str | None) -> bool:
    """Whether a paused send should be picked up again without a person: it was stopped
    (a restart, Ctrl-C) or ran out of retries for this run. A refused key or message
    waits for an operator, since every batch would be refused alike."""
    reason = status_reason or ""
    return any(mark in reason for mark in (STOP_REQUESTED, INTERRUPTED, EXHAUSTED))


class SendError(NewsletterError):
    """A send that cannot start or go on; the message says why and what to do."""


@dataclass(frozen=True)
class SendProgress:
    """Handed to `on_progress` after every batch; counts are for the whole issue."""

    audience: int
    settled: int  # recipients accepted, skipped, failed or unknown
    accepted: int
    skipped: int
    failed: int
    unknown: int
    retried: int  # batch retries in this run
    sent_now: int  # recipients accepted in this run
    elapsed: float

    @property
    def rate(self) -> float:
        return self.sent_now / self.elapsed if self.elapsed > 0 else 0.0


Outcome = Literal["started", "joined", "resumed", "already sent", "dry run"]


@dataclass(frozen=True)
class SendReport:
    issue_number: int
    outcome: Outcome
    status: str  # the issue's status after this call
    status_reason: str | None
    dry_run: bool
    audience: int
    accepted: int
    skipped: int
    failed: int
    unknown: int
    queued: int  # not sent yet (a paused send)
    sent_now: int  # recipients accepted (dry run: validated) by this call
    retried: int
    elapsed: float
    unknown_batches: list[BatchNote] = field(default_factory=list)
    failed_batches: list[BatchNote] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent_now / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[SendProgress], None]


# ------------------------------------------------------------------------------ checks


def _check_settings(settings: Settings) -> None:
    if settings.batch_size > MAX_BATCH:
        raise SendError(
            f"NEWSLETTER_BATCH_SIZE is {settings.batch_size}; SendGrid takes at most "
            f"{MAX_BATCH} recipients per request"
        )


def _check_message(backend: Backend, message: Message) -> None:
    """Refuse up front what the backend would refuse for every batch."""
    try:
        backend.check_message(message)
    except DeliveryError as exc:
        raise SendError(f"the message cannot be sent: {exc}") from None


def _load(engine: Engine, number: int, settings: Settings) -> tuple[Issue, Message, Personalizer]:
    with session_scope(engine) as session:
        issue = get_issue(session, number)
        if not issue.html or not issue.text:
            raise SendError(f"issue #{number} has no rendered snapshot; build it first")
        slots = vote_slots(issue)
    personalizer = Personalizer(issue, slots, settings, Signer(settings.secret()))
    return issue, issue_message(issue, settings), personalizer


def _batch_message(message: Message, issue: Issue, seq: int) -> Message:
    """The message as one batch sends it: its custom_args name the issue and the batch, so
    the event webhook can find the batch (an `unknown` one in particular)."""
    return replace(message, custom_args={"issue": str(issue.number), "batch": str(seq)})


# ------------------------------------------------------------------------- beginning

Begun = Literal["started", "joined", "resumed", "already sent"]


def _begin(engine: Engine, issue: Issue, batch_size: int) -> Begun:
    """Move the issue into `sending` (snapshotting the audience) or join/resume its send."""
    issue_id = issue.id
    assert issue_id is not None
    with session_scope(engine, immediate=True) as session:
        status = _status(session, issue_id)
        if status in REFUSED:
            raise SendError(
                f"issue #{issue.number} is {status}; only draft or approved issues are sent"
            )
        if status in STARTABLE:
            if _move(session, issue_id, STARTABLE, IssueStatus.SENDING, None):
                if session.get(ledger.IssueSend, issue_id) is None:
                    ledger.snapshot_audience(session, issue_id, batch_size)
                return "started"
            status = _status(session, issue_id)  # another sender started it just now
        if status == IssueStatus.PAUSED:
            _move(session, issue_id, (IssueStatus.PAUSED,), IssueStatus.SENDING, None)
            ledger.reset_tries(session, issue_id)
            return "resumed"
        if status == IssueStatus.SENDING:
            ledger.reset_tries(session, issue_id)
            return "joined"
        open_batches = session.exec(
            select(ledger.SendBatch.seq)
            .where(ledger.SendBatch.issue_id == issue_id)
            .where(col(ledger.SendBatch.state).in_(ledger.CLAIMABLE))
            .limit(1)
        ).first()
        if status not in FINISHED:
            raise SendError(f"issue #{issue.number} is {status}; it cannot be sent")
        if open_batches is not None:
            _move(session, issue_id, FINISHED, IssueStatus.SENDING, None)
            ledger.reset_tries(session, issue_id)
            return "resumed"
        return "already sent"


def _status(session: Session, issue_id: int) -> str:
    return str(session.exec(select(Issue.status).where(Issue.id == issue_id)).one())


def _move(
    session: Session,
    issue_id: int,
    from_statuses: Sequence[str],
    to: str,
    reason: str | None,
) -> bool:
    """Compare-and-set the issue's status: true if this call moved it."""
    result = session.exec(
        update(Issue)
        .where(col(Issue.id) == issue_id)
        .where(col(Issue.status).in_(from_statuses))
        .values(status=to, status_reason=reason[:REASON_MAX] if reason else None)
    )
    return result.rowcount == 1


# ------------------------------------------------------------------------------ a run


@dataclass(frozen=True)
class _Outcome:
    """What one batch came to, waiting to be written to the ledger."""

    seq: int
    state: BatchState
    size: int  # recipients in the request
    skipped: list[int] = field(default_factory=list)  # found gone at the claim
    message_id: str | None = None
    error: str | None = None
    not_before: float | None = None
    retry: bool = True  # a retryable outcome that counts as a retry (not a stop)

    def write(self, session: Session, run: _Run) -> None:
        ledger.record_outcome(
            session,
            run.issue_id,
            self.seq,
            run.owner,
            self.state,
            message_id=self.message_id,
            error=self.error,
            not_before=self.not_before,
            sent=self.size,
            skipped=self.skipped,
        )

    def counted(self, run: _Run) -> None:
        """Progress moves once the outcome is committed."""
        skipped = len(self.skipped)
        if self.state == BatchState.ACCEPTED:
            run.count(accepted=self.size, skipped=skipped)
        elif self.state == BatchState.FAILED:
            run.count(failed=self.size, skipped=skipped)
        elif self.state == BatchState.UNKNOWN:
            run.count(unknown=self.size, skipped=skipped)
        elif self.state == BatchState.SKIPPED:
            run.count(skipped=skipped)
        else:
            run.count(retried=1 if self.retry else 0, skipped=skipped)


class _Run:
    """One call's share of a send: its owner token, workers, throttle and counters."""

    def __init__(
        self,
        engine: Engine,
        issue: Issue,
        settings: Settings,
        backend: Backend,
        message: Message,
        personalizer: Personalizer,
        on_progress: ProgressCallback | None,
        before: LedgerCounts,
        stop_requested: threading.Event | None = None,
    ) -> None:
        assert issue.id is not None
        self.engine = engine
        self.issue = issue
        self.issue_id = issue.id
        self.settings = settings
        self.backend = backend
        self.resend_safe = backend.resend_safe
        self.message = message
        self.personalizer = personalizer
        self.on_progress = on_progress
        self.owner = ledger.new_owner()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.stop_reason: str | None = None
        self.stop_everyone = False
        self.stop_requested = stop_requested or threading.Event()
        self.resume_at = 0.0  # a 429 pauses every worker of this run until then
        self.write_lock = threading.Lock() if is_sqlite(engine) else None
        self.started = time.monotonic()
        self.audience = before.audience
        self.accepted = before.recipient_count(RecipientState.ACCEPTED)
        self.skipped = before.recipient_count(RecipientState.SKIPPED)
        self.failed = before.recipient_count(RecipientState.FAILED)
        self.unknown = before.recipient_count(RecipientState.UNKNOWN)
        self.sent_now = 0
        self.retried = 0
        self.errors: list[str] = []

    # -- bookkeeping

    def stop(self, reason: str | None, *, everyone: bool = True) -> None:
        """Stop claiming. `everyone`: the cause concerns every sender of this issue (a
        refused key), so the issue is paused even if other senders are still at it; else
        (Ctrl-C, a stop request) only this run stops and a lone send is paused."""
        with self.lock:
            if reason and self.stop_reason is None:
                self.stop_reason = reason
                self.stop_everyone = everyone
        self.stopping.set()

    def note_error(self, text: str) -> None:
        with self.lock:
            if text not in self.errors and len(self.errors) < 20:
                self.errors.append(text)

    def count(
        self,
        *,
        accepted: int = 0,
        skipped: int = 0,
        failed: int = 0,
        unknown: int = 0,
        retried: int = 0,
    ) -> None:
        with self.lock:
            self.accepted += accepted
            self.sent_now += accepted
            self.skipped += skipped
            self.failed += failed
            self.unknown += unknown
            self.retried += retried
            progress = SendProgress(
                audience=self.audience,
                settled=self.accepted + self.skipped + self.failed + self.unknown,
                accepted=self.accepted,
                skipped=self.skipped,
                failed=self.failed,
                unknown=self.unknown,
                retried=self.retried,
                sent_now=self.sent_now,
                elapsed=time.monotonic() - self.started,
            )
            if self.on_progress is not None:
                self.on_progress(progress)

    def hold_until(self, moment: float) -> None:
        with self.lock:
            self.resume_at = max(self.resume_at, moment)

    def held(self) -> bool:
        return self.resume_at > time.time()

    def throttle(self) -> None:
        while not self.stopping.is_set():
            delay = self.resume_at - time.time()
            if delay <= 0:
                return
            self.stopping.wait(min(delay, POLL))

    def backoff(self, tries: int) -> float:
        """Exponential with jitter: base * 2^(tries-1), capped, times 0.5..1."""
        base, cap = self.settings.send_retry_base, self.settings.send_retry_max
        delay: float = min(cap, base * 2.0 ** max(0, tries - 1))
        return delay * random.uniform(0.5, 1.0)

    # -- the worker loop

    def work(self) -> None:
        """Claim, build, send, record; until nothing is left to claim or the run stops.

        A batch's outcome is committed in the same transaction as the next claim (one write
        transaction per batch instead of two), except when the worker is about to wait or
        stop: then at once, so an answer is never left unrecorded while nothing happens.
        """
        outcome: _Outcome | None = None
        try:
            while True:
                if outcome is not None and (self.stopping.is_set() or self.held()):
                    self.write(outcome)
                    outcome = None
                self.throttle()
                if self.stop_requested.is_set():
                    self.stop(STOP_REQUESTED, everyone=False)
                if self.stopping.is_set():
                    return
                claim = self.claim(outcome)
                outcome = None
                if claim is None:
                    if self.stopping.is_set() or not self._wait_for_due():
                        return
                    continue
                with session_scope(self.engine) as session:
                    members = ledger.batch_members(session, self.issue_id, claim.seq)
                if members.send:
                    outcome = self.deliver(claim, members)
                else:  # everyone in it left the list: nothing to send
                    outcome = _Outcome(claim.seq, BatchState.SKIPPED, 0, members.gone)
        finally:
            if outcome is not None:
                self.write(outcome)

    def writing(self) -> AbstractContextManager[object]:
        """SQLite has one writer: the run's threads queue here, woken as soon as the lock is
        free, rather than in SQLite's busy handler, which sleeps in steps of up to 100 ms."""
        return self.write_lock if self.write_lock is not None else nullcontext()

    def claim(self, outcome: _Outcome | None) -> Claimed | None:
        settings = self.settings
        with self.writing(), session_scope(self.engine, immediate=True) as session:
            if outcome is not None:
                outcome.write(session, self)
            try:
                claim = ledger.claim_batch(
                    session,
                    self.issue_id,
                    self.owner,
                    now=time.time(),
                    lease=settings.send_lease,
                    max_tries=settings.send_max_attempts,
                )
            except ledger.NotSending:
                self.stopping.set()  # paused or finished elsewhere; the outcome still commits
                claim = None
        if outcome is not None:
            outcome.counted(self)
        return claim

    def write(self, outcome: _Outcome) -> None:
        with self.writing(), session_scope(self.engine, immediate=True) as session:
            outcome.write(session, self)
        outcome.counted(self)

    def _wait_for_due(self) -> bool:
        """Nothing claimable now: wait for a retry that falls due; False when none will."""
        with session_scope(self.engine) as session:
            work = ledger.open_work(
                session,
                self.issue_id,
                self.owner,
                now=time.time(),
                max_tries=self.settings.send_max_attempts,
            )
        if work.claimable:
            self.stopping.wait(0.01)  # another sender holds it for a moment
            return True
        if work.waiting and work.next_due is not None:
            self.stopping.wait(min(max(work.next_due - time.time(), 0.0), POLL))
            return True
        return False

    def deliver(self, claim: Claimed, members: ledger.Members) -> _Outcome:
        """Send one claimed batch; what it came to, to be recorded."""
        recipients = PersonalizedBatch(self.personalizer, members.send)
        size, gone = len(recipients), members.gone
        message = _batch_message(self.message, self.issue, claim.seq)
        try:
            message_id = self.backend.send_batch(message, recipients)
        except Exception as exc:
            failure = self.backend.as_failure(exc)
            if failure is None:
                # A bug, not an answer: the request may have gone out, so the batch is
                # unknown (never re-sent) and the send stops with the error.
                text = f"unexpected {type(exc).__name__} from the {self.backend.name} backend"
                self.note_error(f"{text}: {exc}")
                self.write(
                    _Outcome(claim.seq, BatchState.UNKNOWN, size, gone, error=f"{text}: {exc}")
                )
                self.stop(text)
                raise
            return self._failed(claim, failure, size, gone)
        return _Outcome(claim.seq, BatchState.ACCEPTED, size, gone, message_id=message_id)

    def _failed(
        self, claim: Claimed, failure: DeliveryError, size: int, gone: list[int]
    ) -> _Outcome:
        text = str(failure)
        self.note_error(text)
        if isinstance(failure, TransientFailure):
            now = time.time()
            if failure.retry_at is not None:
                delay = min(max(failure.retry_at - now, 0.0), self.settings.send_retry_max)
                delay += random.uniform(0, self.settings.send_retry_base / 4)
            else:
                delay = self.backoff(claim.tries + 1)
            if failure.rate_limited:
                self.hold_until(now + delay)
            return _Outcome(
                claim.seq, BatchState.RETRYABLE, size, gone, error=text, not_before=now + delay
            )
        if isinstance(failure, PermanentFailure) and failure.stops_send:
            # Refused for every batch alike (the key, the sender identity, the message):
            # nothing was accepted, so the batch waits for the next run, and the run stops.
            self.stop(text)
            return _Outcome(claim.seq, BatchState.RETRYABLE, size, gone, error=text, retry=False)
        if isinstance(failure, PermanentFailure):
            return _Outcome(claim.seq, BatchState.FAILED, size, gone, error=text)
        return _Outcome(claim.seq, BatchState.UNKNOWN, size, gone, error=text)  # ambiguous

    # -- around the workers

    def heartbeat(self, done: threading.Event) -> None:
        lease = self.settings.send_lease
        while not done.wait(lease / 3):
            try:
                with self.writing(), session_scope(self.engine, immediate=True) as session:
                    ledger.heartbeat(session, self.owner, now=time.time(), lease=lease)
            except Exception as exc:  # the next beat tries again; the lease has slack
                self.note_error(f"heartbeat: {exc}")

    def run_workers(self) -> None:
        count = self.settings.send_concurrency
        with ThreadPoolExecutor(count, thread_name_prefix="send") as pool:
            futures: list[Future[None]] = [pool.submit(self.work) for _ in range(count)]
            try:
                while True:
                    done, running = wait(futures, timeout=POLL, return_when=FIRST_EXCEPTION)
                    for future in done:
                        if future.exception() is not None:
                            self.stopping.set()
                    if not running:
                        break
                    if self.stop_requested.is_set():
                        self.stop(STOP_REQUESTED, everyone=False)
            except BaseException:
                self.stop(INTERRUPTED, everyone=False)
                wait(futures)
                raise
        for future in futures:
            future.result()  # re-raise a worker's unexpected error

    def settle(self) -> bool:
        """After the workers: reap dead senders' batches, wait for live ones, and decide
        the issue's status. True if there is more to send (run the workers again)."""
        settings = self.settings
        while True:
            with session_scope(self.engine, immediate=True) as session:
                if _status(session, self.issue_id) != IssueStatus.SENDING:
                    return False
                reaped = ledger.reap_orphans(
                    session, self.issue_id, now=time.time(), resend_safe=self.resend_safe
                )
                work = ledger.open_work(
                    session,
                    self.issue_id,
                    self.owner,
                    now=time.time(),
                    max_tries=settings.send_max_attempts,
                )
                if self.stop_reason is not None:
                    if self.stop_everyone or not work.in_flight_others:
                        reason = f"stopped: {self.stop_reason}"
                        _move(session, self.issue_id, SENDING, IssueStatus.PAUSED, reason)
                    return False  # (others still sending carry on without this run)
                if work.claimable or work.waiting:
                    return True
                if not (work.in_flight_others or work.in_flight_mine):
                    if work.exhausted:
                        last = f" (last: {self.errors[-1]})" if self.errors else ""
                        reason = (
                            f"{work.exhausted} batch(es) {EXHAUSTED} "
                            f"{settings.send_max_attempts} attempts{last}; "
                            f"send issue #{self.issue.number} again to retry them"
                        )
                        _move(session, self.issue_id, SENDING, IssueStatus.PAUSED, reason)
                    else:
                        _finish(session, self.issue)
                    return False
            if reaped:
                self.count(unknown=sum(size for _, size in reaped))
            if self.stop_requested.wait(POLL):  # other senders are still at it
                return False


def _finish(session: Session, issue: Issue) -> None:
    """Every batch is final: `sent` (or `failed` if nothing was accepted), with a reason
    that counts what did not go out."""
    assert issue.id is not None
    counts = ledger.ledger_counts(session, issue)
    parts = []
    unknown = counts.recipient_count(RecipientState.UNKNOWN)
    failed = counts.recipient_count(RecipientState.FAILED)
    if unknown:
        parts.append(
            f"{counts.batch_count(BatchState.UNKNOWN)} batch(es), {unknown} recipient(s) "
            "unknown (SendGrid may have accepted them; never re-sent)"
        )
    if failed:
        first = counts.failed_batches[0].error if counts.failed_batches else None
        parts.append(
            f"{counts.batch_count(BatchState.FAILED)} batch(es), {failed} recipient(s) failed"
            + (f" ({first})" if first else "")
        )
    nothing = counts.recipient_count(RecipientState.ACCEPTED) == 0 and failed > 0
    to = IssueStatus.FAILED if nothing else IssueStatus.SENT
    reason = "; ".join(parts) + f"; see `newsletter issue status {issue.number}`" if parts else None
    if _move(session, issue.id, (IssueStatus.SENDING,), to, reason):
        ledger.mark_finished(session, issue.id)


# ------------------------------------------------------------------------ entry points


def send_issue(
    engine: Engine,
    issue_number: int,
    settings: Settings,
    backend: Backend,
    *,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> SendReport:
    """Send (or resume, or join) issue `issue_number` to its audience; see the module
    docstring for which statuses may be sent and how a send ends.

    A dry run sends every batch in SendGrid's sandbox mode (validated, nothing delivered;
    the outbox only builds them), touches neither the ledger nor the issue's status.
    Setting `stop` (a signal handler, the scheduler shutting down) ends the run between
    batches: a send nobody else is working on is paused, resumable.
    """
    _check_settings(settings)
    started = time.monotonic()
    issue, message, personalizer = _load(engine, issue_number, settings)
    _check_message(backend, message)
    if dry_run:
        return _dry_run(engine, issue, settings, backend, message, personalizer, on_progress)
    if issue.status in (*STARTABLE, *SENDING, IssueStatus.PAUSED):
        backend.prepare(_active_count(engine))  # e.g. start build processes during the snapshot
    begun = _begin(engine, issue, settings.batch_size)
    if begun == "already sent":
        return _report(engine, issue, begun, started, sent_now=0, retried=0, errors=[])
    # Read the snapshot again now that the issue is `sending`: a re-render committed
    # between the first read and the move cannot reach anyone any more.
    issue, message, personalizer = _load(engine, issue_number, settings)
    with session_scope(engine) as session:
        before = ledger.ledger_counts(session, issue)
    run = _Run(engine, issue, settings, backend, message, personalizer, on_progress, before, stop)
    beating = threading.Event()
    beat = threading.Thread(target=run.heartbeat, args=(beating,), daemon=True)
    beat.start()
    try:
        with session_scope(engine, immediate=True) as session:
            reaped = ledger.reap_orphans(
                session, run.issue_id, now=time.time(), resend_safe=run.resend_safe
            )
        run.unknown += sum(size for _, size in reaped)
        while True:
            try:
                run.run_workers()
            except BaseException:
                run.settle()  # pauses the issue with the stop reason
                raise
            if not run.settle():
                break
    finally:
        beating.set()
        beat.join()
        ledger.retire_owner(run.owner)
    return _report(
        engine,
        issue,
        begun,
        started,
        sent_now=run.sent_now,
        retried=run.retried,
        errors=run.errors,
    )


def _report(
    engine: Engine,
    issue: Issue,
    outcome: Outcome,
    started: float,
    *,
    sent_now: int,
    retried: int,
    errors: list[str],
) -> SendReport:
    with session_scope(engine) as session:
        fresh = get_issue(session, issue.number)
        counts = ledger.ledger_counts(session, fresh)
    return SendReport(
        issue_number=issue.number,
        outcome=outcome,
        status=counts.status,
        status_reason=counts.status_reason,
        dry_run=False,
        audience=counts.audience,
        accepted=counts.recipient_count(RecipientState.ACCEPTED),
        skipped=counts.recipient_count(RecipientState.SKIPPED),
        failed=counts.recipient_count(RecipientState.FAILED),
        unknown=counts.recipient_count(RecipientState.UNKNOWN),
        queued=counts.recipient_count(RecipientState.QUEUED),
        sent_now=sent_now,
        retried=retried,
        elapsed=time.monotonic() - started,
        unknown_batches=counts.unknown_batches,
        failed_batches=counts.failed_batches,
        errors=list(errors),
    )


def _active_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.exec(
                select(func.count()).select_from(Subscriber).where(Subscriber.status == "active")
            ).one()
        )


def _active_pages(engine: Engine, size: int) -> Iterator[list[tuple[int, str, str | None]]]:
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


class _DryRun:
    """Counters and the validation of one sandboxed batch, shared by the pool's threads."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.on_progress = on_progress
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.audience = self.validated = self.failed = self.retried = 0
        self.errors: list[str] = []

    def add(self, *, audience: int = 0, validated: int = 0, failed: int = 0) -> None:
        with self.lock:
            self.audience += audience
            self.validated += validated
            self.failed += failed
            if self.on_progress is not None and (validated or failed):
                self.on_progress(
                    SendProgress(
                        audience=self.audience,
                        settled=self.validated + self.failed,
                        accepted=self.validated,
                        skipped=0,
                        failed=self.failed,
                        unknown=0,
                        retried=self.retried,
                        sent_now=self.validated,
                        elapsed=time.monotonic() - self.started,
                    )
                )

    def fail(self, exc: DeliveryError, count: int) -> None:
        with self.lock:
            if str(exc) not in self.errors and len(self.errors) < 20:
                self.errors.append(str(exc))
        self.add(failed=count)
        if isinstance(exc, PermanentFailure) and exc.stops_send:
            self.stop.set()

    def validate(self, message: Message, recipients: Sequence[Recipient]) -> None:
        settings = self.settings
        for attempt in range(1, settings.send_max_attempts + 1):
            if self.stop.is_set():
                return
            try:
                self.backend.send_batch(message, recipients)
            except TransientFailure as exc:
                if attempt == settings.send_max_attempts:
                    self.fail(exc, len(recipients))
                    return
                with self.lock:
                    self.retried += 1
                delay = settings.send_retry_base * 2 ** (attempt - 1)
                if exc.retry_at is not None:
                    delay = max(exc.retry_at - time.time(), 0.0)
                self.stop.wait(min(delay, settings.send_retry_max))
            except DeliveryError as exc:
                self.fail(exc, len(recipients))
                return
            else:
                self.add(validated=len(recipients))
                return


def _dry_run(
    engine: Engine,
    issue: Issue,
    settings: Settings,
    backend: Backend,
    message: Message,
    personalizer: Personalizer,
    on_progress: ProgressCallback | None,
) -> SendReport:
    """Build every batch of the active list as it is now; SendGrid validates each in
    sandbox mode (a backend without a sandbox only builds them). Nothing is recorded,
    the issue's status does not move, and nobody gets anything."""
    sandboxed = replace(message, sandbox=True)
    validate = backend.supports_sandbox
    run = _DryRun(settings, backend, on_progress)
    limit = 2 * settings.send_concurrency
    with ThreadPoolExecutor(settings.send_concurrency, thread_name_prefix="dry-run") as pool:
        window: set[Future[None]] = set()
        for seq, page in enumerate(_active_pages(engine, settings.batch_size), start=1):
            if run.stop.is_set():
                break
            recipients = PersonalizedBatch(personalizer, page)
            run.add(audience=len(recipients))
            if not validate:
                run.add(validated=len(recipients))
                continue
            batch = _batch_message(sandboxed, issue, seq)
            window.add(pool.submit(run.validate, batch, recipients))
            if len(window) >= limit:
                done, running = wait(window, return_when=FIRST_COMPLETED)
                window = set(running)
                for future in done:
                    future.result()
        for future in window:
            future.result()
    return SendReport(
        issue_number=issue.number,
        outcome="dry run",
        status=issue.status,
        status_reason=issue.status_reason,
        dry_run=True,
        audience=run.audience,
        accepted=0,
        skipped=0,
        failed=run.failed,
        unknown=0,
        queued=0,
        sent_now=run.validated,
        retried=run.retried,
        elapsed=time.monotonic() - run.started,
        errors=run.errors,
    )


def test_send(
    session: Session, issue_number: int, email: str, settings: Settings, backend: Backend
) -> str:
    """Send the rendered issue to one address as a test ([TEST] subject, category "test"),
    outside the ledger; returns the provider's message id.

    The links are those of the subscriber with this address if there is one (so an editor
    can try them), else of nobody (subscriber 0). An address that unsubscribed, bounced or
    complained is refused: they are never emailed again.
    """
    try:
        address = normalize_email(email)
    except InvalidAddress as exc:
        raise SendError(f"{email!r}: {exc}") from None
    issue = get_issue(session, issue_number)
    if not issue.html or not issue.text:
        raise SendError(f"issue #{issue_number} has no rendered snapshot; build it first")
    subscriber = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
    if subscriber is not None and subscriber.status not in (Status.ACTIVE, Status.PENDING):
        raise SendError(f"{address} is {subscriber.status}: it is never emailed again")
    personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
    recipient = personalizer.recipient(
        subscriber.id or 0 if subscriber else 0, address, subscriber.name if subscriber else None
    )
    message = replace(
        issue_message(issue, settings, test=True),
        custom_args={"issue": str(issue.number), "test": "1"},
    )
    _check_message(backend, message)
    try:
        return backend.send_batch(message, [recipient])
    except DeliveryError as exc:
        raise SendError(f"the test send to {address} failed: {exc}") from None
