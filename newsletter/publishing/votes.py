"""Community votes: one per subscriber per comparison, changed by a second click."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Table, bindparam, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


NOT_IN_ISSUE: Final = "this vote link does not match a comparison of that issue"
NOT_A_TOOL: Final = "this vote link does not match a tool of that comparison"


def check_tool(session: Session, comparison_id: int, tool_id: int) -> None:
    """VoteError unless the tool is one of the comparison's (reading only)."""
    if session.get(ComparisonTool, (comparison_id, tool_id)) is None:
        raise VoteError(NOT_A_TOOL)


def check_ballot(session: Session, issue_id: int, comparison_id: int, tool_id: int) -> None:
    """VoteError unless the comparison was in that issue and the tool is in that comparison:
    what a vote link must name before anything is shown or recorded (reading only)."""
    in_issue = session.exec(
        select(IssueComparison).where(
            IssueComparison.issue_id == issue_id, IssueComparison.comparison_id == comparison_id
        )
    ).first()
    if in_issue is None:
        raise VoteError(NOT_IN_ISSUE)
    check_tool(session, comparison_id, tool_id)


def _upsert(insert: Callable[[Table], Any]) -> Any:
    table = Vote.__table__  # type: ignore[attr-defined]
    columns = ("subscriber_id", "issue_id", "comparison_id", "tool_id", "voted_at", "changed_at")
    statement = insert(table).values({name: bindparam(name) for name in columns})
    return statement.on_conflict_do_update(
        index_elements=[table.c.subscriber_id, table.c.comparison_id],
        set_={"tool_id": statement.excluded.tool_id, "changed_at": statement.excluded.changed_at},
        where=table.c.tool_id != statement.excluded.tool_id,
    ).returning(table.c.id)


_UPSERTS: Final = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}
"""Each database's vote upsert, built once (a burst of votes follows every send)."""

_VOTES_ON: Final = (
    select(col(Vote.tool_id), func.count())
    .where(col(Vote.comparison_id) == bindparam("comparison"))
    .group_by(col(Vote.tool_id))
)


def votes_on(session: Session, comparison_id: int) -> dict[int, int]:
    """tool id -> votes on one comparison (a vote page's figures)."""
    rows = session.execute(_VOTES_ON, {"comparison": comparison_id})
    return {int(tool): int(votes) for tool, votes in rows}


def cast_vote(
    session: Session, subscriber_id: int, issue_id: int, comparison_id: int, tool_id: int
) -> bool:
    """Record or change a vote in one statement, the ballot already checked: True when a
    vote was added or moved to `tool_id`, False when it was on `tool_id` already.

    An upsert on (subscriber, comparison) that updates only a vote on another tool and
    returns the row it wrote: two clicks at once cannot both add a vote (the second one
    finds the first's row and, the same tool, writes nothing), and a changed vote keeps the
    issue it was first cast from."""
    now = utcnow()
    upsert = _UPSERTS[session.get_bind().dialect.name]
    parameters = {
        "subscriber_id": subscriber_id,
        "issue_id": issue_id,
        "comparison_id": comparison_id,
        "tool_id": tool_id,
        "voted_at": now,
        "changed_at": now,
    }
    return session.execute(upsert, parameters).first() is not None


def record_vote(
    session: Session, subscriber_id: int, issue_id: int, comparison_id: int, tool_id: int
) -> VoteResult:
    """Record or change a vote. The token already proved who votes; this checks that the
    comparison was in that issue and the tool in that comparison."""
    check_ballot(session, issue_id, comparison_id, tool_id)
    changed = cast_vote(session, subscriber_id, issue_id, comparison_id, tool_id)
    return VoteResult(comparison_id, tool_id, changed=changed)
