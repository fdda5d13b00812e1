"""Sending an issue to its whole audience, exactly once each, through the ledger.

`send_issue` is the one entry point (the CLI calls it, and the scheduler); which issue
statuses may be sent, and the gate a send passes when it starts (the editor's checks, the
approved snapshot), is told in `start`.

The send ends `sent` when every batch is accepted, failed, unknown or skipped (the
status_reason counts failed and unknown ones; `failed` if nothing at all was accepted), or
`paused` when it was stopped (a refused API key, Ctrl-C) or batches that are safe to retry
ran out of attempts for this run; sending again resumes it. The pause's cause is stored
with it (`issue.pause_cause`), so the scheduler knows which pauses end by themselves.

Speed: `send_concurrency` threads each claim a batch, build its request and send it (the
package blocks on the socket, which frees the GIL). The ledger is written per batch, in
bulk: one transaction records a batch's outcome, claims the next and reads its members; on
SQLite the run's threads queue for it on a lock of their own. The audience is snapshotted by
one INSERT ... SELECT and read back a batch at a time; nothing held in memory grows with the
list.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from sqlalchemy import Engine
from sqlmodel import Session, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Backend, DeliveryError, Message
from newsletter.delivery.message import ISSUE_ARG, TEST_ARG
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing.issues import get_issue
from newsletter.publishing.lifecycle import RUNNABLE
from newsletter.publishing.models import Issue
from newsletter.sending import dryrun, ledger
from newsletter.sending.decision import Confirmed, audience_size
from newsletter.sending.errors import SendConflict, SendInputError, SendRefused
from newsletter.sending.ledger import issue_status
from newsletter.sending.message import issue_message
from newsletter.sending.run import Sendable, SendRun
from newsletter.sending.settle import finish_if_done, settle
from newsletter.sending.start import begin
from newsletter.sending.tally import (
    Counter,
    Outcome,
    ProgressCallback,
    SendReport,
    Tally,
)
from subscribers.addresses import InvalidAddress, normalize_email
from subscribers.models import Status, Subscriber
from subscribers.service import is_forgotten

__all__ = ["issue_status", "send_issue", "test_send"]


def _check_settings(settings: Settings, backend: Backend) -> None:
    largest = backend.max_batch_size
    if largest is not None and settings.batch_size > largest:
        raise SendInputError(
            f"NEWSLETTER_BATCH_SIZE is {settings.batch_size}; the {backend.name} backend "
            f"takes at most {largest} recipients per request"
        )


def _check_message(backend: Backend, message: Message) -> None:
    """Refuse up front what the backend would refuse for every batch."""
    try:
        backend.check_message(message)
    except DeliveryError as exc:
        raise SendRefused(f"the message cannot be sent: {exc}") from None


def _rendered(issue: Issue) -> Issue:
    if not issue.html or not issue.text:
        raise SendConflict(f"issue #{issue.number} has no rendered snapshot; build it first")
    return issue


def _load(engine: Engine, number: int, settings: Settings) -> Sendable:
    with session_scope(engine) as session:
        issue = _rendered(get_issue(session, number))
        slots = vote_slots(issue)
    personalizer = Personalizer(issue, slots, settings, Signer(settings.secret()))
    return Sendable(issue, issue_message(issue, settings), personalizer)


def send_issue(
    engine: Engine,
    issue_number: int,
    settings: Settings,
    backend: Backend,
    *,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    expected: Confirmed | None = None,
    detach: bool = False,
    standing: bool = False,
) -> SendReport:
    """Send (or resume, or join) issue `issue_number` to its audience; see the module
    docstring for how a send ends.

    `expected` is what a person confirmed (`send_decision(...).confirmed`): a send it would
    start is refused if the issue's status or snapshot differs from it by then, so a yes
    never sends text its giver did not see. Joining or resuming ignores it.

    A dry run sends every batch in the provider's sandbox mode (validated, nothing delivered;
    the outbox only builds them), touches neither the ledger nor the issue's status.
    Setting `stop` (a signal handler, the scheduler shutting down) ends the run between
    batches: a send nobody else is working on is paused, resumable.

    `detach` starts the send (the gate, `expected`, the move to `sending`, the audience
    snapshot) and returns without sending: standing workers (`standing`) send it. A standing
    worker joins only a send in progress, and a `stop` makes it leave the send as it is,
    `sending`, for the other workers or the next one to start: it pauses nothing.
    """
    _check_settings(settings, backend)
    started = time.monotonic()
    sendable = _load(engine, issue_number, settings)
    _check_message(backend, sendable.message)
    if dry_run:
        return dryrun.dry_run(engine, sendable, settings, backend, on_progress)
    if sendable.issue.status in RUNNABLE and not detach:
        backend.prepare(_active_count(engine))  # e.g. start build processes during the snapshot
    begun = begin(engine, sendable.issue, settings, expected, join_only=standing)
    if detach or begun == "already sent":
        return _report(engine, sendable.issue, begun, started, Counter(Tally(), None))
    # Read the snapshot again now that the issue is `sending`: a re-render committed
    # between the first read and the move cannot reach anyone any more.
    sendable = _load(engine, issue_number, settings)
    counter = Counter(_opening_tally(engine, sendable.issue, begun), on_progress)
    run = SendRun(engine, sendable, settings, backend, counter, stop)
    beating = threading.Event()
    beat = threading.Thread(target=run.heartbeat, args=(beating,), daemon=True)
    beat.start()
    try:
        run.reap()
        while True:
            try:
                run.run_workers()
            except BaseException:
                settle(run)  # pauses the issue with the stop reason
                raise
            if standing and _left(run):
                finish_if_done(run)  # leaving after the last answer: nothing left to anyone
                break
            if not settle(run):
                break
    finally:
        beating.set()
        beat.join()
        ledger.retire_owner(run.owner)
    return _report(engine, sendable.issue, begun, started, counter)


def _left(run: SendRun) -> bool:
    """Whether a standing worker's run stopped for its own sake (asked to stop), not for a
    cause that concerns every sender (a refused key: `settle` pauses the issue then)."""
    return run.stopped is not None and not run.stopped.everyone


def _opening_tally(engine: Engine, issue: Issue, begun: Outcome) -> Tally:
    """What earlier runs of the issue settled. A send this call has just started settled
    nothing yet: only its audience is read, as counting a million recipients by state took
    a second on PostgreSQL before the first batch could go."""
    with session_scope(engine) as session:
        if begun == "started":
            record = session.get(ledger.IssueSend, issue.id)
            return Tally(audience=record.audience if record is not None else 0)
        return Tally.of_ledger(ledger.ledger_counts(session, issue))


def _report(
    engine: Engine, issue: Issue, outcome: Outcome, started: float, counter: Counter
) -> SendReport:
    """The issue's counts as the ledger has them now, with this call's share."""
    with session_scope(engine) as session:
        counts = ledger.ledger_counts(session, get_issue(session, issue.number))
    tally = replace(
        Tally.of_ledger(counts), sent_now=counter.tally.sent_now, retried=counter.tally.retried
    )
    return SendReport(
        **vars(tally),
        issue_number=issue.number,
        outcome=outcome,
        status=counts.status,
        status_reason=counts.status_reason,
        dry_run=False,
        queued=counts.queued,
        elapsed=time.monotonic() - started,
        unknown_batches=counts.unknown_batches,
        failed_batches=counts.failed_batches,
        errors=list(counter.errors),
    )


def _active_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return audience_size(session)


def test_send(
    session: Session, issue_number: int, email: str, settings: Settings, backend: Backend
) -> str:
    """Send the rendered issue to one address as a test ([TEST] subject, category "test"),
    outside the ledger; returns the provider's message id.

    The links are those of the subscriber with this address if there is one (so an editor
    can try them), else of nobody (subscriber 0). An address that unsubscribed, bounced or
    complained is refused: they are never emailed again; so is one that asked to be
    forgotten (its tombstone), whose subscriber row is gone.
    """
    try:
        address = normalize_email(email)
    except InvalidAddress as exc:
        raise SendInputError(f"{email!r}: {exc}") from None
    issue = _rendered(get_issue(session, issue_number))
    if is_forgotten(session, address):
        raise SendRefused("that address asked to be forgotten: it is never emailed again")
    subscriber = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
    if subscriber is not None and subscriber.status not in (Status.ACTIVE, Status.PENDING):
        raise SendRefused(f"{address} is {subscriber.status}: it is never emailed again")
    personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
    recipient = personalizer.recipient(
        subscriber.id or 0 if subscriber else 0, address, subscriber.name if subscriber else None
    )
    message = replace(
        issue_message(issue, settings, test=True),
        custom_args={ISSUE_ARG: str(issue.number), TEST_ARG: "1"},
    )
    _check_message(backend, message)
    try:
        return backend.send_batch(message, [recipient])
    except DeliveryError as exc:
        raise SendRefused(f"the test send to {address} failed: {exc}") from None
