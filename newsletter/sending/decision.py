"""What a person decides on before an issue goes out by hand: the issue, its subject, how
many subscribers a send started now would reach, and whether anyone approved it.

A draft was never approved (or was unapproved to be changed): sending it is a decision the
editor makes knowingly, so the command line asks first. An approved issue was decided on
already; a held or cancelled one is refused by the send itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from newsletter.publishing.issues import get_issue
from newsletter.publishing.lifecycle import EDITABLE, IssueStatus
from subscribers.models import Status, Subscriber


@dataclass(frozen=True)
class SendDecision:
    number: int
    week: str
    status: IssueStatus
    subject: str
    audience: int  # active subscribers now: whom a send started now snapshots

    @property
    def unapproved(self) -> bool:
        """Nobody approved this snapshot: a send needs an explicit yes."""
        return self.status in EDITABLE


def audience_size(session: Session) -> int:
    """How many subscribers a send started now would go to (the active ones)."""
    return int(
        session.exec(
            select(func.count()).select_from(Subscriber).where(Subscriber.status == Status.ACTIVE)
        ).one()
    )


def send_decision(session: Session, number: int) -> SendDecision:
    issue = get_issue(session, number)
    return SendDecision(
        number=issue.number,
        week=issue.week,
        status=IssueStatus(issue.status),
        subject=issue.subject,
        audience=audience_size(session),
    )
