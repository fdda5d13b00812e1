"""Community votes: one per subscriber per comparison, changed by a second click."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.errors import Refused
from newsletter.publishing.models import ComparisonTool, IssueComparison, Vote


class VoteError(Refused):
    """A signed vote link for a comparison or tool that its issue does not hold (the issue
    was cancelled and its comparisons released, say): refused like any other bad link."""


@dataclass(frozen=True)
class VoteResult:
    comparison_id: int
    tool_id: int
    changed: bool  # False when the same vote was cast again


def count_votes(session: Session, comparison_ids: Sequence[int]) -> Mapping[int, Mapping[int, int]]:
    """comparison id -> tool id -> votes; the `VoteCounter` the renderer takes."""
    if not comparison_ids:
        return {}
    rows = session.exec(
        select(Vote.comparison_id, Vote.tool_id, func.count())
        .where(col(Vote.comparison_id).in_(comparison_ids))
        .group_by(col(Vote.comparison_id), col(Vote.tool_id))
    ).all()
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    for comparison_id, tool_id, votes in rows:
        counts[comparison_id][tool_id] = votes
    return counts


def check_tool(session: Session, comparison_id: int, tool_id: int) -> None:
    """VoteError unless the tool is one of the comparison's (reading only)."""
    if session.get(ComparisonTool, (comparison_id, tool_id)) is None:
        raise VoteError("this vote link does not match a tool of that comparison")


def check_ballot(session: Session, issue_id: int, comparison_id: int, tool_id: int) -> None:
    """VoteError unless the comparison was in that issue and the tool is in that comparison:
    what a vote link must name before anything is shown or recorded (reading only)."""
    in_issue = session.exec(
        select(IssueComparison).where(
            IssueComparison.issue_id == issue_id, IssueComparison.comparison_id == comparison_id
        )
    ).first()
    if in_issue is None:
        raise VoteError("this vote link does not match a comparison of that issue")
    check_tool(session, comparison_id, tool_id)


def vote_of(session: Session, subscriber_id: int, comparison_id: int) -> int | None:
    """The tool id this subscriber's vote on the comparison is on now, if they voted."""
    return session.exec(
        select(Vote.tool_id).where(
            Vote.subscriber_id == subscriber_id, Vote.comparison_id == comparison_id
        )
    ).first()


def record_vote(
    session: Session, subscriber_id: int, issue_id: int, comparison_id: int, tool_id: int
) -> VoteResult:
    """Record or change a vote. The token already proved who votes; this checks that the
    comparison was in that issue and the tool in that comparison."""
    check_ballot(session, issue_id, comparison_id, tool_id)
    now = utcnow()
    existing = session.exec(
        select(Vote).where(Vote.subscriber_id == subscriber_id, Vote.comparison_id == comparison_id)
    ).first()
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    Vote(
                        subscriber_id=subscriber_id,
                        issue_id=issue_id,
                        comparison_id=comparison_id,
                        tool_id=tool_id,
                        voted_at=now,
                        changed_at=now,
                    )
                )
            return VoteResult(comparison_id, tool_id, changed=True)
        except IntegrityError:  # a double click raced us; fall through to an update
            existing = session.exec(
                select(Vote).where(
                    Vote.subscriber_id == subscriber_id, Vote.comparison_id == comparison_id
                )
            ).one()
    if existing.tool_id == tool_id:
        return VoteResult(comparison_id, tool_id, changed=False)
    existing.tool_id = tool_id
    existing.changed_at = now
    session.add(existing)
    return VoteResult(comparison_id, tool_id, changed=True)
