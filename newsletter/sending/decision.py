"""What a person decides on before an issue goes out by hand: the issue, its subject, how
many subscribers a send started now would reach, and whether anyone approved it.

A draft was never approved (or was unapproved to be changed): sending it is a decision the
editor makes knowingly, so the command line asks first. An approved issue was decided on
already; a held or cancelled one is refused by the send itself.

A decision holds for what was shown, not for whatever the issue becomes while the question
waits: `Confirmed` (the status and the snapshot's hash as read) goes with the send, and a
send refuses to start when the issue no longer matches it (`sending.start`). An
`issue remove` in another shell, or an approved issue unapproved and changed elsewhere,
cannot ride on a yes given to something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from newsletter.publishing.gate import snapshot_hash
from newsletter.publishing.issues import get_issue
from newsletter.publishing.lifecycle import EDITABLE, IssueStatus
from newsletter.publishing.models import Issue
from subscribers.models import Status, Subscriber


@dataclass(frozen=True)
class Confirmed:
    """What a person saw when they decided to send: a send starts only on the same."""

    status: IssueStatus
    snapshot_hash: str

    def matches(self, issue: Issue) -> bool:
        """Whether `issue`, as read now, is still what was shown."""
        return issue.status == self.status and snapshot_hash(issue) == self.snapshot_hash


@dataclass(frozen=True)
class SendDecision:
    number: int
    week: str
    status: IssueStatus
    subject: str
    audience: int  # active subscribers now: whom a send started now snapshots
    snapshot_hash: str  # of the snapshot as read here (`gate.snapshot_hash`)

    @property
    def unapproved(self) -> bool:
        """Nobody approved this snapshot: a send needs an explicit yes."""
        return self.status in EDITABLE

    @property
    def confirmed(self) -> Confirmed:
        """What a yes (or an approved issue's send without a question) was given for."""
        return Confirmed(self.status, self.snapshot_hash)


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
        snapshot_hash=snapshot_hash(issue),
    )
