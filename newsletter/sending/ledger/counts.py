"""An issue's delivery as the ledger has it, counted by state: what `issue status` shows
and what a send report is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.publishing.issues import get_issue
from newsletter.publishing.models import Issue
from newsletter.sending.ledger.tables import (
    OPEN,
    BatchState,
    IssueSend,
    RecipientState,
    SendBatch,
    SendRecipient,
)


@dataclass(frozen=True)
class BatchNote:
    seq: int
    size: int
    state: str
    message_id: str | None
    error: str | None


@dataclass(frozen=True)
class LedgerCounts:
    """An issue's delivery as the ledger has it: what `issue status` shows."""

    issue_number: int
    status: str
    status_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    audience: int
    batch_size: int
    batches: dict[str, int] = field(default_factory=dict)
    recipients: dict[str, int] = field(default_factory=dict)
    unknown_batches: list[BatchNote] = field(default_factory=list)
    failed_batches: list[BatchNote] = field(default_factory=list)
    retryable_batches: list[BatchNote] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return self.started_at is not None

    def batch_count(self, state: BatchState) -> int:
        return self.batches.get(state.value, 0)

    def recipient_count(self, state: RecipientState) -> int:
        return self.recipients.get(state.value, 0)

    @property
    def accepted(self) -> int:
        return self.recipient_count(RecipientState.ACCEPTED)

    @property
    def skipped(self) -> int:
        return self.recipient_count(RecipientState.SKIPPED)

    @property
    def failed(self) -> int:
        return self.recipient_count(RecipientState.FAILED)

    @property
    def unknown(self) -> int:
        return self.recipient_count(RecipientState.UNKNOWN)

    @property
    def queued(self) -> int:
        return self.recipient_count(RecipientState.QUEUED)

    @property
    def open_batches(self) -> int:
        return sum(self.batch_count(state) for state in OPEN)

    @property
    def settled(self) -> int:
        """Recipients whose outcome is decided (everything but queued)."""
        return self.audience - self.recipient_count(RecipientState.QUEUED)


NOTES_LIMIT = 1000


def ledger_counts(session: Session, issue: Issue) -> LedgerCounts:
    issue_id = issue.id
    record = session.get(IssueSend, issue_id)
    batches = {
        str(state): int(n)
        for state, n in session.exec(
            select(SendBatch.state, func.count())
            .where(SendBatch.issue_id == issue_id)
            .group_by(col(SendBatch.state))
        ).all()
    }
    recipients = {
        str(state): int(n)
        for state, n in session.exec(
            select(SendRecipient.state, func.count())
            .where(SendRecipient.issue_id == issue_id)
            .group_by(col(SendRecipient.state))
        ).all()
    }

    def notes(state: BatchState) -> list[BatchNote]:
        rows = session.exec(
            select(SendBatch)
            .where(SendBatch.issue_id == issue_id)
            .where(SendBatch.state == state)
            .order_by(col(SendBatch.seq))
            .limit(NOTES_LIMIT)
        ).all()
        return [BatchNote(b.seq, b.sent or b.size, b.state, b.message_id, b.error) for b in rows]

    return LedgerCounts(
        issue_number=issue.number,
        status=issue.status,
        status_reason=issue.status_reason,
        started_at=record.started_at if record else None,
        finished_at=record.finished_at if record else None,
        audience=record.audience if record else 0,
        batch_size=record.batch_size if record else 0,
        batches=batches,
        recipients=recipients,
        unknown_batches=notes(BatchState.UNKNOWN),
        failed_batches=notes(BatchState.FAILED),
        retryable_batches=notes(BatchState.RETRYABLE),
    )


def mark_finished(session: Session, issue_id: int) -> None:
    session.exec(
        update(IssueSend)
        .where(col(IssueSend.issue_id) == issue_id)
        .where(col(IssueSend.finished_at).is_(None))
        .values(finished_at=utcnow())
    )


def issue_status(session: Session, number: int) -> LedgerCounts:
    """The ledger counts of issue `number` (IssueNotFound if there is none)."""
    return ledger_counts(session, get_issue(session, number))
