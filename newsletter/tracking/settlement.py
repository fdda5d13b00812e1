"""`unknown` batches settled by events.

A batch is `unknown` when its request's answer never came (a timeout, a dropped
connection, a sender that died): the provider may or may not have it, so it is never sent
again. Any event about one of its recipients proves the provider has that message; and a
mail/send request is accepted or refused whole, so the whole batch was accepted. The batch
and its unknown recipients become `accepted` (its error, which described the lost answer,
is cleared: an accepted batch with an error reads as partly refused).

A finished issue (`sent` or `failed`) counted those recipients as unknown in its reason,
and may have been `failed` for want of any acceptance: its status and reason are stated
again from the ledger, as a late answer does (`sending.ledger.outcomes`). The caller holds
the issue's row lock (taken before anything else in the POST), as `outcomes` does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import update
from sqlmodel import Session, col

from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import FINISHED, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import (
    BatchState,
    SendBatch,
    finished_outcome,
    ledger_counts,
    settle_recipients,
)
from newsletter.tracking.match import IssueRef
from newsletter.tracking.models import Tally
from newsletter.tracking.tallies import TallyChanges


def settle_batches(
    session: Session,
    batches: Collection[tuple[int, int]],
    issues: Mapping[int, IssueRef],
    tallies: TallyChanges,
) -> int:
    """Move these (issue id, seq) batches from unknown to accepted, with their unknown
    recipients; restate finished issues. Returns the recipients settled."""
    settled = 0
    restate: set[int] = set()
    connection = session.connection()
    for issue_id, seq in sorted(batches):
        moved = connection.execute(
            update(SendBatch)
            .where(col(SendBatch.issue_id) == issue_id)
            .where(col(SendBatch.seq) == seq)
            .where(col(SendBatch.state) == BatchState.UNKNOWN)
            .values(state=BatchState.ACCEPTED, error=None)
        )
        if moved.rowcount != 1:
            continue  # another POST settled it first
        recipients = settle_recipients(session, issue_id, seq, BatchState.ACCEPTED)
        tallies.add(issue_id, Tally.SETTLED, recipients)
        settled += recipients
        if issues[issue_id].status in FINISHED:
            restate.add(issue_id)
    for issue_id in sorted(restate):
        _restate(session, issue_id, IssueStatus(issues[issue_id].status))
    return settled


def _restate(session: Session, issue_id: int, status: IssueStatus) -> None:
    issue = session.get(Issue, issue_id, populate_existing=True)
    if issue is None:
        return
    to, reason = finished_outcome(ledger_counts(session, issue))
    lifecycle.move(session, issue_id, {status}, to, reason=reason)
