"""The audience, snapshotted once when sending starts: who the issue goes to and in which
batch, written by two INSERT ... SELECT statements so nothing grows in memory."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from newsletter.sending.ledger.tables import BatchState, IssueSend, RecipientState
from subscribers.models import Status

_SNAPSHOT = text(
    """
    INSERT INTO send_recipient (issue_id, subscriber_id, batch_seq, state)
    SELECT :issue_id, s.id, (ROW_NUMBER() OVER (ORDER BY s.id) - 1) / CAST(:size AS INTEGER) + 1,
        :queued
    FROM subscriber s
    WHERE s.status = :active
    """
)
_BATCHES = text(
    """
    INSERT INTO send_batch (issue_id, seq, state, size, sent, attempts, tries)
    SELECT issue_id, batch_seq, :pending, COUNT(*), 0, 0, 0
    FROM send_recipient
    WHERE issue_id = :issue_id
    GROUP BY issue_id, batch_seq
    """
)


def snapshot_audience(session: Session, issue_id: int, batch_size: int) -> IssueSend:
    """Record the audience (the active subscribers now) and its batches, in SQL.

    Run in the transaction that moves the issue into `sending`, so either both happen or
    neither: a crash here leaves the issue as it was.
    """
    conn = session.connection()
    conn.execute(
        _SNAPSHOT,
        {
            "issue_id": issue_id,
            "size": batch_size,
            "queued": RecipientState.QUEUED.value,
            "active": Status.ACTIVE.value,
        },
    )
    conn.execute(_BATCHES, {"issue_id": issue_id, "pending": BatchState.PENDING.value})
    audience, batches = conn.execute(
        text("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM send_batch WHERE issue_id = :i"),
        {"i": issue_id},
    ).one()
    record = IssueSend(
        issue_id=issue_id, audience=int(audience), batches=int(batches), batch_size=batch_size
    )
    session.add(record)
    session.flush()
    return record
