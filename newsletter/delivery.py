"""What every delivery backend takes: one shared message and many personalised recipients.

The message's HTML and text carry placeholders (see `placeholders`); each recipient brings
the values for them, so the heavy parts travel once per batch, not once per subscriber.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlmodel import Session, col, select

from newsletter import placeholders
from newsletter.models import ComparisonTool, Issue, IssueComparison
from newsletter.settings import Settings
from subscribers.tokens import Signer


@dataclass(frozen=True)
class Message:
    subject: str
    html: str
    text: str
    from_email: str
    from_name: str
    list_id: str = ""
    categories: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    test: bool = False


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str | None
    substitutions: dict[str, str]
    headers: dict[str, str]
    custom_args: dict[str, str] = field(default_factory=dict)


class Backend(Protocol):
    """Delivers one batch; raises on failure (the sender decides what a failure means)."""

    name: str

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Returns the provider's id for the batch (SendGrid's X-Message-Id)."""
        ...


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def issue_message(issue: Issue, settings: Settings, *, test: bool = False) -> Message:
    subject = f"[TEST] {issue.subject}" if test else issue.subject
    return Message(
        subject=subject,
        html=issue.html,
        text=issue.text,
        from_email=settings.from_email,
        from_name=settings.from_name,
        list_id=f"{settings.from_name} <{settings.list_id}>",
        categories=("issue", f"issue-{issue.number}") + (("test",) if test else ()),
        test=test,
    )


@dataclass(frozen=True)
class VoteSlot:
    marker: str
    comparison_id: int
    tool_id: int


def vote_slots(session: Session, issue: Issue) -> list[VoteSlot]:
    """Which comparison and tool each vote marker of the issue's snapshot stands for."""
    rows = session.exec(
        select(IssueComparison.position, ComparisonTool.position, ComparisonTool)
        .join(ComparisonTool, col(ComparisonTool.comparison_id) == IssueComparison.comparison_id)
        .where(IssueComparison.issue_id == issue.id)
    ).all()
    by_position = {(c + 1, t + 1): link for c, t, link in rows}
    slots = []
    for position in placeholders.vote_markers(issue.html + issue.text):
        link = by_position.get(position)
        if link is not None:
            slots.append(VoteSlot(placeholders.vote(*position), link.comparison_id, link.tool_id))
    return slots


class Personalizer:
    """Builds each recipient's links for one issue; made once per send, used per recipient."""

    def __init__(
        self, issue: Issue, slots: Sequence[VoteSlot], settings: Settings, signer: Signer
    ) -> None:
        if issue.id is None:
            raise ValueError("issue has no id")
        self.issue_id = issue.id
        self.issue_number = issue.number
        self.site = settings.site_url
        self.view_url = f"{self.site}/issues/{issue.number}"
        self.slots = list(slots)
        self.signer = signer

    def recipient(self, subscriber_id: int, email: str, name: str | None) -> Recipient:
        unsubscribe = f"{self.site}/unsubscribe/" + self.signer.unsubscribe_token(
            subscriber_id, self.issue_id
        )
        values = {placeholders.UNSUBSCRIBE: unsubscribe, placeholders.VIEW: self.view_url}
        for slot in self.slots:
            values[slot.marker] = f"{self.site}/vote/" + self.signer.vote_token(
                subscriber_id, self.issue_id, slot.comparison_id, slot.tool_id
            )
        return Recipient(
            subscriber_id=subscriber_id,
            email=email,
            name=name,
            substitutions=values,
            headers=unsubscribe_headers(unsubscribe),
            custom_args={"issue": str(self.issue_number), "subscriber": str(subscriber_id)},
        )
