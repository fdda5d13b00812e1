"""The desk's list of issues: a page of issues, newest first, each with its delivery
counts, fast whatever the size of the list.

Why not `sending.overview.issue_overview` (what `newsletter issue list` shows): it groups
every recipient row of the issues it shows by state, and `send_recipient` has no index on
the state, so an issue sent to a million readers costs a read of a million rows per page
view. Here the issues come by keyset on their number (the unique index), their comparisons
are counted by the primary key of `issue_comparison`, and each started issue's recipients
come from its batch totals (`recipient_counts`: about a thousand batch rows per million
recipients, one by one only for the few batches whose totals do not say it all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from newsletter.analytics.recipients import RecipientCounts, recipient_counts
from newsletter.publishing.models import Issue, IssueComparison
from newsletter.sending.ledger import IssueSend

PAGE: Final = 20


@dataclass(frozen=True)
class IssueRow:
    """One line of the desk's issue list."""

    number: int
    week: str
    status: str
    status_reason: str | None
    subject: str
    comparisons: int
    started_at: datetime | None
    audience: int
    recipients: RecipientCounts | None
    """None until the send starts (no ledger yet)."""

    @property
    def done(self) -> int:
        """Recipients whose outcome is decided."""
        if self.recipients is None:
            return 0
        return self.recipients.total - self.recipients.queued


@dataclass(frozen=True)
class IssuePage:
    rows: list[IssueRow]
    before: int | None
    """The cursor of the next (older) page, or None on the last page."""


def issue_page(session: Session, before: int | None = None, limit: int = PAGE) -> IssuePage:
    """The `limit` newest issues numbered below `before` (all when None), newest first."""
    query = select(Issue).order_by(col(Issue.number).desc()).limit(limit + 1)
    if before is not None:
        query = query.where(col(Issue.number) < before)
    issues = list(session.exec(query).all())
    more = len(issues) > limit
    issues = issues[:limit]
    ids = [issue.id for issue in issues if issue.id is not None]
    held = dict(
        session.exec(
            select(IssueComparison.issue_id, func.count())
            .where(col(IssueComparison.issue_id).in_(ids))
            .group_by(col(IssueComparison.issue_id))
        ).all()
    )
    sends = {
        send.issue_id: send
        for send in session.exec(select(IssueSend).where(col(IssueSend.issue_id).in_(ids))).all()
    }
    rows = []
    for issue in issues:
        assert issue.id is not None
        send = sends.get(issue.id)
        rows.append(
            IssueRow(
                number=issue.number,
                week=issue.week,
                status=issue.status,
                status_reason=issue.status_reason,
                subject=issue.subject,
                comparisons=int(held.get(issue.id, 0)),
                started_at=send.started_at if send else None,
                audience=send.audience if send else 0,
                recipients=recipient_counts(session, issue.id) if send else None,
            )
        )
    return IssuePage(rows, issues[-1].number if more and issues else None)
