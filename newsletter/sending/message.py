"""The message an issue goes out as: its frozen snapshot and the list's identity."""

from __future__ import annotations

from dataclasses import replace

from newsletter.core.settings import Settings
from newsletter.delivery import Message
from newsletter.delivery.message import BATCH_ARG, ISSUE_ARG
from newsletter.publishing.models import Issue


def issue_message(issue: Issue, settings: Settings, *, test: bool = False) -> Message:
    """The issue as a message: its snapshot, the list's sender and identity, categories."""
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


def batch_message(message: Message, issue: Issue, seq: int) -> Message:
    """The message as one batch sends it: its custom_args name the issue and the batch, so
    the event webhook can find the batch (an `unknown` one in particular)."""
    return replace(message, custom_args={ISSUE_ARG: str(issue.number), BATCH_ARG: str(seq)})
