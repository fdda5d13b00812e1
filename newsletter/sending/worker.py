"""The batch worker: claim a batch, read its members, deliver it, record what it came to.

Each of a run's threads runs one worker. The ledger rule that makes kill -9 safe lives
here: a batch is committed `in_flight` before its request is sent, and its outcome is
recorded after the answer; a request whose answer is lost leaves the batch `unknown`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlmodel import Session

from newsletter.core.database import session_scope
from newsletter.delivery import (
    DeliveryError,
    PermanentFailure,
    PersonalizedBatch,
    RecipientsRefused,
    TransientFailure,
)
from newsletter.publishing.lifecycle import PauseCause
from newsletter.sending import ledger
from newsletter.sending.ledger import BatchState, Claimed
from newsletter.sending.message import batch_message

if TYPE_CHECKING:
    from newsletter.sending.run import SendRun

POLL = 0.2  # seconds between looks at a send others are finishing


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch came to, waiting to be written to the ledger."""

    seq: int
    state: BatchState
    size: int  # recipients in the request
    skipped: list[int] = field(default_factory=list)  # found gone at the claim
    message_id: str | None = None
    error: str | None = None
    not_before: float | None = None
    retry: bool = True  # a retryable outcome that counts as a retry (not a stop)
    refused: tuple[int, ...] = ()  # refused one by one in an accepted batch: failed

    def write(self, session: Session, run: SendRun) -> BatchState | None:
        """Record it; the state the ledger took (a late answer may settle otherwise, see
        `ledger.outcomes`), None if the batch was no longer this run's."""
        return ledger.record_outcome(
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
            refused=self.refused,
        )

    def count(self, run: SendRun, recorded: BatchState | None) -> None:
        """Progress moves once the outcome is committed, by the state it was recorded as."""
        skipped = len(self.skipped)
        if recorded is None:
            return  # no longer this run's: whoever settled it counted it
        if recorded == BatchState.ACCEPTED:
            refused = len(self.refused)
            run.counter.add(accepted=self.size - refused, failed=refused, skipped=skipped)
        elif recorded == BatchState.FAILED:
            run.counter.add(failed=self.size, skipped=skipped)
        elif recorded == BatchState.UNKNOWN:
            run.counter.add(unknown=self.size, skipped=skipped)
        elif recorded == BatchState.SKIPPED:
            run.counter.add(skipped=skipped)
        else:
            run.counter.add(retried=1 if self.retry else 0, skipped=skipped)


class BatchWorker:
    """One thread's loop over the batches of a run."""

    def __init__(self, run: SendRun) -> None:
        self.run = run

    def work(self) -> None:
        """Claim, build, send, record; until nothing is left to claim or the run stops.

        A batch's outcome is committed in the same transaction as the next claim (one write
        transaction per batch instead of two), except when the worker is about to wait or
        stop: then at once, so an answer is never left unrecorded while nothing happens.
        """
        run = self.run
        outcome: BatchOutcome | None = None
        try:
            while True:
                if outcome is not None and (run.stopping.is_set() or run.held()):
                    self.write(outcome)
                    outcome = None
                run.throttle()
                run.check_stop_request()
                if run.stopping.is_set():
                    return
                claimed = self.claim(outcome)
                outcome = None
                if claimed is None:
                    if run.stopping.is_set() or not self._wait_for_due():
                        return
                    continue
                claim, members = claimed
                if members.send:
                    outcome = self.deliver(claim, members)
                else:  # everyone in it left the list: nothing to send
                    outcome = BatchOutcome(claim.seq, BatchState.SKIPPED, 0, members.gone)
        finally:
            if outcome is not None:
                self.write(outcome)

    def claim(self, outcome: BatchOutcome | None) -> tuple[Claimed, ledger.Members] | None:
        """Record the last outcome (if any), claim the next batch and read its members, in
        one transaction: one connection and one commit a batch (the commit still precedes
        the request, as the claim's must)."""
        run = self.run
        recorded: BatchState | None = None
        claimed: tuple[Claimed, ledger.Members] | None = None
        with run.writing(), session_scope(run.engine, immediate=True) as session:
            if outcome is not None:
                recorded = outcome.write(session, run)
            try:
                claim = ledger.claim_batch(
                    session,
                    run.issue_id,
                    run.owner,
                    now=time.time(),
                    lease=run.settings.send_lease,
                    max_tries=run.policy.attempts,
                )
            except ledger.NotSending:
                run.stopping.set()  # paused or finished elsewhere; the outcome still commits
                claim = None
            if claim is not None:
                claimed = claim, ledger.batch_members(session, run.issue_id, claim.seq)
        if outcome is not None:
            outcome.count(run, recorded)
        return claimed

    def write(self, outcome: BatchOutcome) -> None:
        run = self.run
        with run.writing(), session_scope(run.engine, immediate=True) as session:
            recorded = outcome.write(session, run)
        outcome.count(run, recorded)

    def _wait_for_due(self) -> bool:
        """Nothing claimable now: wait for a retry that falls due; False when none will."""
        run = self.run
        with session_scope(run.engine) as session:
            work = ledger.open_work(
                session, run.issue_id, run.owner, now=time.time(), max_tries=run.policy.attempts
            )
        if work.claimable:
            run.stopping.wait(0.01)  # another sender holds it for a moment
            return True
        if work.waiting and work.next_due is not None:
            run.stopping.wait(min(max(work.next_due - time.time(), 0.0), POLL))
            return True
        return False

    def deliver(self, claim: Claimed, members: ledger.Members) -> BatchOutcome:
        """Send one claimed batch; what it came to, to be recorded."""
        run = self.run
        recipients = PersonalizedBatch(run.personalizer, members.send)
        size, gone = len(recipients), members.gone
        message = batch_message(run.message, run.issue, claim.seq)
        try:
            message_id = run.backend.send_batch(message, recipients)
        except Exception as exc:
            failure = run.backend.as_failure(exc)
            if failure is None:
                # A bug, not an answer: the request may have gone out, so the batch is
                # unknown (never re-sent) and the send stops with the error.
                text = f"unexpected {type(exc).__name__} from the {run.backend.name} backend"
                run.counter.note_error(f"{text}: {exc}")
                self.write(
                    BatchOutcome(claim.seq, BatchState.UNKNOWN, size, gone, error=f"{text}: {exc}")
                )
                run.stop(text, PauseCause.BACKEND_ERROR)
                raise
            return self._failed(claim, failure, size, gone)
        return BatchOutcome(claim.seq, BatchState.ACCEPTED, size, gone, message_id=message_id)

    def _failed(
        self, claim: Claimed, failure: DeliveryError, size: int, gone: list[int]
    ) -> BatchOutcome:
        run = self.run
        text = str(failure)
        run.counter.note_error(text)
        if isinstance(failure, TransientFailure):
            now = time.time()
            delay = run.policy.delay(failure, claim.tries + 1, now)
            if failure.rate_limited:
                run.hold_until(now + delay)
            return BatchOutcome(
                claim.seq, BatchState.RETRYABLE, size, gone, error=text, not_before=now + delay
            )
        if isinstance(failure, RecipientsRefused) and failure.delivered:
            # Refused one by one (an address the outbox cannot write): those fail, the
            # others went out.
            return BatchOutcome(
                claim.seq,
                BatchState.ACCEPTED,
                size,
                gone,
                message_id=failure.message_id,
                error=text,
                refused=tuple(failure.refused),
            )
        if isinstance(failure, PermanentFailure) and failure.stops_send:
            # Refused for every batch alike (the key, the sender identity, the message):
            # nothing was accepted, so the batch waits for the next run, and the run stops.
            run.stop(text, PauseCause.REFUSED)
            return BatchOutcome(
                claim.seq, BatchState.RETRYABLE, size, gone, error=text, retry=False
            )
        if isinstance(failure, PermanentFailure):
            return BatchOutcome(claim.seq, BatchState.FAILED, size, gone, error=text)
        return BatchOutcome(claim.seq, BatchState.UNKNOWN, size, gone, error=text)  # ambiguous
