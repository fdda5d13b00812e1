"""Settling the issue's status once a run's workers stop: paused (with its cause), finished
(`sent`, or `failed` when nothing was accepted), or left to the senders still at it.

Every move goes through the lifecycle's compare-and-set from `sending`, so two runs that
settle at once cannot both finish (or pause) the issue. Settling first locks the issue's row
and only then looks at what is left: a late answer that reopens a batch (`ledger.outcomes`)
locks the same row, so the issue is never finished while a batch goes back to retryable.
"""

from __future__ import annotations

import time

from sqlmodel import Session

from newsletter.core.database import session_scope
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import SENDING, IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import ledger
from newsletter.sending.run import SendRun
from newsletter.sending.worker import POLL

EXHAUSTED = "could not be sent after"  # migration 0005 keeps a frozen copy of these words

RESUMING_CAUSES = frozenset(
    {PauseCause.STOP_REQUESTED, PauseCause.INTERRUPTED, PauseCause.RETRIES_EXHAUSTED}
)


def resumes_by_itself(cause: str | None) -> bool:
    """Whether a send paused for `cause` (an issue's `pause_cause`) should be picked up again
    without a person: it was stopped (a restart, Ctrl-C) or ran out of retries for this
    run. A refused key or message waits for an operator, since every batch would be
    refused alike; so does a backend that raised something unexpected."""
    return cause in RESUMING_CAUSES


def settle(run: SendRun) -> bool:
    """After the workers: reap dead senders' batches, wait for live ones, and decide the
    issue's status. True if there is more to send (run the workers again)."""
    while True:
        with session_scope(run.engine, immediate=True) as session:
            if not lifecycle.lock_while(session, run.issue_id, SENDING):
                return False
            reaped = ledger.reap_orphans(
                session, run.issue_id, now=time.time(), resend_safe=run.backend.resend_safe
            )
            work = ledger.open_work(
                session, run.issue_id, run.owner, now=time.time(), max_tries=run.policy.attempts
            )
            stopped = run.stopped
            if stopped is not None:
                if stopped.everyone or not work.in_flight_others:
                    lifecycle.move(
                        session,
                        run.issue_id,
                        SENDING,
                        IssueStatus.PAUSED,
                        reason=f"stopped: {stopped.reason}",
                        cause=stopped.cause,
                    )
                return False  # (others still sending carry on without this run)
            if work.claimable or work.waiting:
                return True
            if not (work.in_flight_others or work.in_flight_mine):
                if work.exhausted:
                    _pause_exhausted(session, run, work.exhausted)
                else:
                    finish(session, run.issue)
                return False
        if reaped:
            run.counter.add(unknown=sum(size for _, size in reaped))
        if run.stop_requested.wait(POLL):  # other senders are still at it
            return False


def finish_if_done(run: SendRun) -> None:
    """A standing worker leaving for its own sake (SIGTERM) pauses nothing, but when the
    send has nothing left for anyone (nothing to claim or retry, nothing in flight, no
    batch out of attempts), it is over: settle it `sent` now rather than leave it `sending`
    until some other sender comes by."""
    with session_scope(run.engine, immediate=True) as session:
        if not lifecycle.lock_while(session, run.issue_id, SENDING):
            return
        work = ledger.open_work(
            session, run.issue_id, run.owner, now=time.time(), max_tries=run.policy.attempts
        )
        if (
            work.claimable
            or work.waiting
            or work.in_flight_others
            or work.in_flight_mine
            or work.exhausted
        ):
            return
        finish(session, run.issue)


def _pause_exhausted(session: Session, run: SendRun, exhausted: int) -> None:
    last = run.counter.last_error
    reason = (
        f"{exhausted} batch(es) {EXHAUSTED} {run.policy.attempts} attempts"
        f"{f' (last: {last})' if last else ''}; "
        f"send issue #{run.issue.number} again to retry them"
    )
    lifecycle.move(
        session,
        run.issue_id,
        SENDING,
        IssueStatus.PAUSED,
        reason=reason,
        cause=PauseCause.RETRIES_EXHAUSTED,
    )


def finish(session: Session, issue: Issue) -> None:
    """Every batch is final: `sent` (or `failed` if nothing was accepted), with a reason
    that counts what did not go out (`ledger.finished_outcome`)."""
    assert issue.id is not None
    to, reason = ledger.finished_outcome(ledger.ledger_counts(session, issue))
    if lifecycle.move(session, issue.id, SENDING, to, reason=reason):
        ledger.mark_finished(session, issue.id)
