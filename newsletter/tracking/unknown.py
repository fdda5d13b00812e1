"""Recipients whose copy of an issue may or may not have gone out, and re-sending them.

A batch is `unknown` when its request may have reached the provider but no answer said so
(a timeout, a dropped connection, a sender killed mid-request): it is never sent again by
the sender, since that could give its recipients the issue twice. Events settle most of
them: any event for a recipient proves the provider has the message (`apply` moves them to
`accepted`). Whoever is still `unknown`, with no event heard, `NEWSLETTER_SETTLE_AFTER`
after their batch ended, most likely never got it: `unsettled` lists them, and
`resend_unknown` re-sends exactly those, on the operator's explicit decision. It is the only
path that can send someone an issue twice, and the command says so before asking.

Crash safety: a recipient is moved out of their unknown batch into a new batch, committed
`in_flight` under this call's owner, before its request goes out; the outcome is recorded
as the sender records one (`accepted`, `failed`, `unknown`). Nothing is `unknown` any more
once marked, so a second run, concurrent or later, never picks them again. A crash between
the mark and the outcome leaves the batch in flight under a dead owner: the next run reaps
it to `unknown` (the request may have gone), with a new end time, so its recipients are
offered again only after another `settle_after` without an event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, exists, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.core.sql import row_id
from newsletter.delivery import Backend, DeliveryError
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing import lifecycle
from newsletter.publishing.issues import get_issue
from newsletter.publishing.lifecycle import FINISHED, PAUSED
from newsletter.publishing.models import Issue
from newsletter.sending import ledger
from newsletter.sending.errors import SendConflict, SendRefused
from newsletter.sending.ledger import (
    BatchState,
    Claimed,
    IssueSend,
    RecipientState,
    SendBatch,
    SendRecipient,
)
from newsletter.sending.message import issue_message
from newsletter.sending.run import Sendable, SendRun
from newsletter.sending.tally import Counter, Tally
from newsletter.sending.worker import BatchOutcome, BatchWorker
from newsletter.tracking.models import RecipientActivity
from subscribers.models import Status, Subscriber

RESENDABLE = FINISHED | PAUSED
"""Issue statuses whose unknown recipients may be re-sent: no sender is at work on them.
A send still running may yet settle its own batches (and its sender owns them)."""
GAVE_UP = "not re-sent: the provider refused it"


@dataclass(frozen=True)
class Unsettled:
    """A recipient still unknown, with no event heard, long enough after their batch."""

    subscriber_id: int
    email: str
    batch_seq: int


@dataclass(frozen=True)
class UnsettledSummary:
    """What `issue status` shows: how many, and the first few addresses."""

    count: int
    first: list[str]


def _no_event() -> ColumnElement[bool]:
    """No event heard for the recipient (the tracking tables have a row once one is)."""
    return ~exists().where(
        col(RecipientActivity.issue_id) == col(SendRecipient.issue_id),
        col(RecipientActivity.subscriber_id) == col(SendRecipient.subscriber_id),
    )


def _unsettled_query(
    issue_id: int, *, settle_after: timedelta, now: datetime
) -> Select[int, str, int]:
    """Unknown recipients of the issue, no event heard, their batch ended `settle_after`
    before `now`, still subscribed (nobody who left the list since is sent anything)."""
    ended_before = now - settle_after
    return (
        select(SendRecipient.subscriber_id, Subscriber.email, SendRecipient.batch_seq)
        .join(
            SendBatch,
            (col(SendBatch.issue_id) == SendRecipient.issue_id)
            & (col(SendBatch.seq) == SendRecipient.batch_seq),
        )
        .join(Subscriber, col(Subscriber.id) == SendRecipient.subscriber_id)
        .where(SendRecipient.issue_id == issue_id)
        .where(SendRecipient.state == RecipientState.UNKNOWN)
        .where(SendBatch.state == BatchState.UNKNOWN)
        .where(col(SendBatch.finished_at).is_not(None))
        .where(col(SendBatch.finished_at) <= ended_before)
        .where(Subscriber.status == Status.ACTIVE)
        .where(_no_event())
    )


def unsettled(
    session: Session, number: int, *, settle_after: timedelta, now: datetime
) -> list[Unsettled]:
    """The recipients of issue `number` that `resend_unknown` would re-send at `now`, by
    subscriber id (IssueNotFound if there is no such issue)."""
    issue = get_issue(session, number)
    assert issue.id is not None
    query = _unsettled_query(issue.id, settle_after=settle_after, now=now)
    rows = session.exec(query.order_by(col(SendRecipient.subscriber_id))).all()
    return [Unsettled(int(sid), str(email), int(seq)) for sid, email, seq in rows]


def unsettled_summary(
    session: Session, number: int, *, settle_after: timedelta, now: datetime, shown: int = 5
) -> UnsettledSummary:
    """How many `unsettled` there are and the first `shown` addresses, without loading all."""
    issue = get_issue(session, number)
    assert issue.id is not None
    query = _unsettled_query(issue.id, settle_after=settle_after, now=now)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    first = session.exec(query.order_by(col(SendRecipient.subscriber_id)).limit(shown)).all()
    return UnsettledSummary(int(count), [str(email) for _, email, _ in first])


# ---------------------------------------------------------------------------- re-sending


@dataclass
class ResendReport:
    """What one `resend_unknown` call did."""

    issue_number: int
    chosen: int  # recipients asked for
    marked: int = 0  # moved into re-send batches (the others had settled meanwhile)
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0  # left the list between the question and their batch
    batches: list[int] = field(default_factory=list)
    reaped: int = 0  # recipients of an earlier run's batch found in flight, now unknown
    status: str = ""
    status_reason: str | None = None
    errors: list[str] = field(default_factory=list)


def mark_batch(
    session: Session,
    issue_id: int,
    subscribers: Sequence[int],
    owner: str,
    *,
    settle_after: timedelta,
    now: datetime,
    lease: float,
) -> tuple[int, int] | None:
    """Move those of `subscribers` still unsettled into a new batch, committed (by the
    caller) `in_flight` under `owner` before anything is sent; (batch number, recipients)
    or None if none of them is unsettled any more.

    Call inside `session_scope(immediate=True)` with the issue locked (`lock_while`): the
    new batch's number is the next one, and the move is conditional on each recipient
    still being `unknown` with no event, so two runs never move one recipient twice.
    """
    ids = [
        int(sid)
        for (sid,) in session.connection().execute(
            _unsettled_query(issue_id, settle_after=settle_after, now=now)
            .with_only_columns(col(SendRecipient.subscriber_id))
            .where(col(SendRecipient.subscriber_id).in_(list(subscribers)))
        )
    ]
    if not ids:
        return None
    last = session.exec(
        select(func.coalesce(func.max(SendBatch.seq), 0)).where(SendBatch.issue_id == issue_id)
    ).one()
    seq = int(last) + 1
    session.add(
        SendBatch(
            issue_id=issue_id,
            seq=seq,
            state=BatchState.IN_FLIGHT,
            owner=owner,
            lease_until=time.time() + lease,
            attempts=1,
            claimed_at=utcnow(),
            size=len(ids),
        )
    )
    session.flush()
    # Conditional again: an event applied since the look-up settles its recipient first.
    moved = int(
        session.connection()
        .execute(
            update(SendRecipient)
            .where(col(SendRecipient.issue_id) == issue_id)
            .where(col(SendRecipient.subscriber_id).in_(ids))
            .where(col(SendRecipient.state) == RecipientState.UNKNOWN)
            .where(_no_event())
            .values(batch_seq=seq, state=RecipientState.QUEUED)
        )
        .rowcount
    )
    batch = session.get(SendBatch, (issue_id, seq))
    assert batch is not None
    if not moved:
        session.delete(batch)
        session.flush()
        return None
    batch.size = moved
    session.flush()
    return seq, moved


def _sendable(engine: Engine, number: int, settings: Settings) -> Sendable:
    """The issue as its send sent it: the frozen snapshot, the message, the links."""
    with session_scope(engine) as session:
        issue = get_issue(session, number)
        if not issue.html or not issue.text:
            raise SendConflict(f"issue #{number} has no rendered snapshot: it was never sent")
        slots = vote_slots(issue)
    personalizer = Personalizer(issue, slots, settings, Signer(settings.secret()))
    return Sendable(issue, issue_message(issue, settings), personalizer)


def _check(engine: Engine, issue: Issue, backend: Backend, sendable: Sendable) -> None:
    """Refuse what cannot be re-sent: an issue never sent, a send at work, a message the
    provider would refuse for every batch."""
    assert issue.id is not None
    with session_scope(engine) as session:
        started = session.get(IssueSend, issue.id) is not None
        status = lifecycle.status_of(session, issue.id)
    if not started:
        raise SendConflict(f"issue #{issue.number} has not been sent: nobody is unknown")
    if status not in RESENDABLE:
        raise SendConflict(
            f"issue #{issue.number} is {status}: its unknown recipients can be re-sent once "
            "its send has ended (sent, failed or paused)"
        )
    try:
        backend.check_message(sendable.message)
    except DeliveryError as exc:
        raise SendRefused(f"the message cannot be sent: {exc}") from None


def reap_abandoned(engine: Engine, number: int) -> int:
    """An earlier re-send that died between a mark and its outcome left its batch in flight
    under a dead owner: its request may have gone out, so the batch is `unknown` again (and
    its recipients are offered again after `settle_after`). Only for a finished issue (a
    paused send's next resume reaps its own); how many recipients were reaped."""
    with session_scope(engine, immediate=True) as session:
        issue_id = row_id(get_issue(session, number).id)
        if not lifecycle.lock_while(session, issue_id, FINISHED):
            return 0
        reaped = ledger.reap_orphans(session, issue_id, now=time.time())
        return sum(size for _, size in reaped)


def resend_unknown(
    engine: Engine,
    number: int,
    settings: Settings,
    backend: Backend,
    *,
    subscribers: Sequence[int] | None = None,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> ResendReport:
    """Send issue `number` again to its `unsettled` recipients (those of `subscribers`, the
    ones a person was shown, if given; those unsettled at `now` otherwise).

    Batch by batch: the batch is marked (committed in flight, see the module docstring),
    sent, and its outcome recorded as the sender records one; a refusal safe to retry is
    retried as the sender would, then recorded `failed` (certainly not sent). A finished
    issue's status and reason are stated again from the ledger at the end. SendConflict if
    the issue was never sent or a send is running; SendRefused if the message itself would
    be refused.
    """
    now = now or utcnow()
    sendable = _sendable(engine, number, settings)
    issue = sendable.issue
    assert issue.id is not None
    issue_id = issue.id
    _check(engine, issue, backend, sendable)
    run = SendRun(engine, sendable, settings, backend, Counter(Tally(), None), stop)
    report = ResendReport(number, 0)
    beating = threading.Event()
    beat = threading.Thread(target=run.heartbeat, args=(beating,), daemon=True)
    beat.start()
    try:
        with run.writing():
            report.reaped = reap_abandoned(engine, number)
        if subscribers is None:
            with session_scope(engine) as session:
                found = unsettled(session, number, settle_after=settings.settle_after, now=now)
            subscribers = [u.subscriber_id for u in found]
        report.chosen = len(subscribers)
        size = min(settings.batch_size, backend.max_batch_size or settings.batch_size)
        worker = BatchWorker(run)
        for start in range(0, len(subscribers), size):
            run.check_stop_request()
            if run.stopping.is_set():
                break
            with run.writing(), session_scope(engine, immediate=True) as session:
                if not lifecycle.lock_while(session, issue_id, RESENDABLE):
                    break  # a send started again meanwhile: its sender carries on
                marked = mark_batch(
                    session,
                    issue_id,
                    subscribers[start : start + size],
                    run.owner,
                    settle_after=settings.settle_after,
                    now=now,
                    lease=settings.send_lease,
                )
            if marked is None:
                continue
            seq, count = marked
            report.marked += count
            report.batches.append(seq)
            worker.write(_send(worker, run, seq))
    finally:
        beating.set()
        beat.join()
        ledger.retire_owner(run.owner)
    tally = run.counter.tally
    report.accepted, report.failed = tally.accepted, tally.failed
    report.unknown, report.skipped = tally.unknown, tally.skipped
    report.errors = list(run.counter.errors)
    report.status, report.status_reason = _restate(engine, run, issue_id)
    return report


def _send(worker: BatchWorker, run: SendRun, seq: int) -> BatchOutcome:
    """Deliver one marked batch as a batch worker does; what it came to, to be recorded.
    Retried while the provider's refusal is safe to retry (within the run's allowance),
    then `failed`: nothing will pick a retryable batch of a finished issue up again."""
    with session_scope(run.engine) as session:
        members = ledger.batch_members(session, run.issue_id, seq)
    if not members.send:  # everyone in it left the list since the question
        return BatchOutcome(seq, BatchState.SKIPPED, 0, members.gone)
    tries = 0
    outcome = worker.deliver(Claimed(seq, 1, tries), members)
    while outcome.state == BatchState.RETRYABLE and outcome.retry:
        tries += 1
        if run.policy.gives_up(tries) or run.stopping.is_set():
            break
        wait = max((outcome.not_before or 0.0) - time.time(), 0.0)
        if run.stop_requested.wait(wait):
            break
        outcome = worker.deliver(Claimed(seq, 1 + tries, tries), members)
    if outcome.state == BatchState.RETRYABLE:
        error = f"{outcome.error or 'refused'} ({GAVE_UP} after {tries + 1} attempt(s))"
        outcome = replace(outcome, state=BatchState.FAILED, error=error, not_before=None)
    return outcome


def _restate(engine: Engine, run: SendRun, issue_id: int) -> tuple[str, str | None]:
    """A finished issue's status and reason stated again from the ledger as it is now (the
    unknown recipients that were re-sent are counted where they ended); the status."""
    with run.writing(), session_scope(engine, immediate=True) as session:
        if lifecycle.lock_while(session, issue_id, FINISHED):
            current = lifecycle.status_of(session, issue_id)
            issue = session.get(Issue, issue_id, populate_existing=True)
            assert issue is not None
            to, reason = ledger.finished_outcome(ledger.ledger_counts(session, issue))
            lifecycle.move(session, issue_id, {current}, to, reason=reason)
        issue = session.get(Issue, issue_id, populate_existing=True)
        assert issue is not None
        return issue.status, issue.status_reason
