"""An issue's send as it goes: recipients done, rate, retries, failed and unknown, read
cheaply enough to be asked every couple of seconds while a million recipients go out.

The recipients come from batch totals (`recipient_counts`, not a `GROUP BY` over every
recipient row), the retries from the batch rows alone (a thousand per million recipients,
read through the ledger's claim index): every request a batch made beyond its first was a
retry. The rate is over the whole send, from its start to its end (or to now): the same
figure whichever process sent which batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from newsletter.analytics.recipients import recipient_counts
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import IssueSend, SendBatch


@dataclass(frozen=True)
class SendFigures:
    """Where an issue's send stands (all zero before it starts)."""

    number: int
    status: str
    status_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    audience: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    queued: int = 0
    retried: int = 0
    rate: float = 0.0
    """Recipients accepted per second since the send started."""

    @property
    def done(self) -> int:
        return self.accepted + self.failed + self.unknown + self.skipped

    @property
    def share_done(self) -> float | None:
        return self.done / self.audience if self.audience else None


def send_figures(session: Session, issue: Issue, now: datetime) -> SendFigures:
    """The figures of `issue`'s send as the ledger has them at `now`."""
    assert issue.id is not None
    started = session.get(IssueSend, issue.id)
    if started is None:
        return SendFigures(issue.number, issue.status, issue.status_reason, None, None)
    counts = recipient_counts(session, issue.id)
    attempts = col(SendBatch.attempts)
    retried = session.exec(
        select(func.coalesce(func.sum(case((attempts > 1, attempts - 1), else_=0)), 0)).where(
            col(SendBatch.issue_id) == issue.id
        )
    ).one()
    end = started.finished_at or now
    seconds = (end - started.started_at).total_seconds()
    return SendFigures(
        number=issue.number,
        status=issue.status,
        status_reason=issue.status_reason,
        started_at=started.started_at,
        finished_at=started.finished_at,
        audience=started.audience,
        accepted=counts.accepted,
        failed=counts.failed,
        unknown=counts.unknown,
        skipped=counts.skipped,
        queued=counts.queued,
        retried=int(retried),
        rate=counts.accepted / seconds if seconds > 0 else 0.0,
    )
