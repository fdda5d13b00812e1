"""An issue's delivery as the ledger has it, counted by state: what `issue status` shows
and what a send report is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.publishing.issues import get_issue
from newsletter.publishing.lifecycle import IssueStatus
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
    partly_refused: int = 0
    """Accepted batches whose provider refused some recipients (the outbox, one by one)."""

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
    def batches_with_failures(self) -> int:
        return self.batch_count(BatchState.FAILED) + self.partly_refused

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

    def failed_notes() -> list[BatchNote]:
        """Failed batches, and accepted ones whose provider refused some recipients (their
        error names them; the note counts only those)."""
        rows = session.exec(
            select(SendBatch)
            .where(SendBatch.issue_id == issue_id)
            .where(
                (col(SendBatch.state) == BatchState.FAILED)
                | (
                    (col(SendBatch.state) == BatchState.ACCEPTED)
                    & col(SendBatch.error).is_not(None)
                )
            )
            .order_by(col(SendBatch.seq))
            .limit(NOTES_LIMIT)
        ).all()
        return [
            BatchNote(
                b.seq,
                b.sent or b.size if b.state == BatchState.FAILED else _failed_in(session, b),
                b.state,
                b.message_id,
                b.error,
            )
            for b in rows
        ]

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
        failed_batches=failed_notes(),
        partly_refused=session.exec(
            select(func.count())
            .select_from(SendBatch)
            .where(SendBatch.issue_id == issue_id)
            .where(SendBatch.state == BatchState.ACCEPTED)
            .where(col(SendBatch.error).is_not(None))
        ).one(),
        retryable_batches=notes(BatchState.RETRYABLE),
    )


def _failed_in(session: Session, batch: SendBatch) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(SendRecipient)
            .where(SendRecipient.issue_id == batch.issue_id)
            .where(SendRecipient.batch_seq == batch.seq)
            .where(SendRecipient.state == RecipientState.FAILED)
        ).one()
    )


def finished_outcome(counts: LedgerCounts) -> tuple[IssueStatus, str | None]:
    """What a send whose batches are all final comes to: `sent`, or `failed` when nothing
    was accepted and something failed; with a reason counting what did not go out."""
    parts = []
    unknown = counts.recipient_count(RecipientState.UNKNOWN)
    failed = counts.recipient_count(RecipientState.FAILED)
    if unknown:
        parts.append(
            f"{counts.batch_count(BatchState.UNKNOWN)} batch(es), {unknown} recipient(s) "
            "unknown (the provider may have accepted them; never re-sent)"
        )
    if failed:
        first = counts.failed_batches[0].error if counts.failed_batches else None
        parts.append(
            f"{counts.batches_with_failures} batch(es), {failed} recipient(s) failed"
            + (f" ({first})" if first else "")
        )
    nothing = counts.recipient_count(RecipientState.ACCEPTED) == 0 and failed > 0
    to = IssueStatus.FAILED if nothing else IssueStatus.SENT
    number = counts.issue_number
    reason = "; ".join(parts) + f"; see `newsletter issue status {number}`" if parts else None
    return to, reason


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
