"""The issue list at a glance: each of the newest issues with its delivery counts.

Why a module of its own: `newsletter issue list` used to ask the ledger for each issue's
full counts (`ledger_counts`, seven queries an issue), only to show three numbers. Here
the newest issues, their comparison counts and their recipients by state come back in one
statement, whatever the number of issues shown. The counts agree with `ledger_counts`
(the tests check both on SQLite and PostgreSQL); the batch notes that `issue status`
shows are not needed here and are not read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from newsletter.publishing.models import Issue, IssueComparison
from newsletter.sending.ledger import RecipientState, SendRecipient


@dataclass(frozen=True)
class IssueOverview:
    """One row of the issue list: the issue, what it holds, what became of its recipients."""

    number: int
    week: str
    status: str
    status_reason: str | None
    comparisons: int
    accepted: int
    unknown: int
    failed: int


def _count_in(state: RecipientState) -> ColumnElement[int]:
    """How many of a group's recipients are in `state` (a conditional sum)."""
    return func.sum(case((col(SendRecipient.state) == state.value, 1), else_=0))


def _overview_statement(limit: int) -> Select[int, str, str, str | None, int, int, int, int]:
    """The newest `limit` issues, then the comparisons and recipients of those issues
    only, each counted in its own grouped subquery and outer-joined back: joining both
    tables to the issue directly would multiply every comparison by every recipient."""
    newest = (
        select(
            col(Issue.id).label("id"),
            col(Issue.number).label("number"),
            col(Issue.week).label("week"),
            col(Issue.status).label("status"),
            col(Issue.status_reason).label("status_reason"),
        )
        .order_by(col(Issue.number).desc())
        .limit(limit)
        .cte("newest")
    )
    comparisons = (
        select(col(IssueComparison.issue_id).label("issue_id"), func.count().label("held"))
        .join(newest, newest.c.id == col(IssueComparison.issue_id))
        .group_by(col(IssueComparison.issue_id))
        .subquery("comparisons")
    )
    recipients = (
        select(
            col(SendRecipient.issue_id).label("issue_id"),
            _count_in(RecipientState.ACCEPTED).label("accepted"),
            _count_in(RecipientState.UNKNOWN).label("unknown"),
            _count_in(RecipientState.FAILED).label("failed"),
        )
        .join(newest, newest.c.id == col(SendRecipient.issue_id))
        .group_by(col(SendRecipient.issue_id))
        .subquery("recipients")
    )
    return (
        select(
            newest.c.number,
            newest.c.week,
            newest.c.status,
            newest.c.status_reason,
            func.coalesce(comparisons.c.held, 0),
            func.coalesce(recipients.c.accepted, 0),
            func.coalesce(recipients.c.unknown, 0),
            func.coalesce(recipients.c.failed, 0),
        )
        .select_from(newest)
        .outerjoin(comparisons, comparisons.c.issue_id == newest.c.id)
        .outerjoin(recipients, recipients.c.issue_id == newest.c.id)
        .order_by(newest.c.number.desc())
    )


def issue_overview(session: Session, limit: int = 20) -> list[IssueOverview]:
    """The newest `limit` issues, newest first, each with its counts: one statement."""
    rows = session.connection().execute(_overview_statement(limit)).all()
    return [
        IssueOverview(
            number=int(number),
            week=str(week),
            status=str(status),
            status_reason=reason,
            comparisons=int(held),
            accepted=int(accepted),
            unknown=int(unknown),
            failed=int(failed),
        )
        for number, week, status, reason, held, accepted, unknown, failed in rows
    ]
