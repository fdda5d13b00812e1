"""Each comparison of an issue as its readers and its panel saw it: the community vote
(how many voted, and the split between the tools) beside each tool's panel ship share.

The same figures the email and the public comparison page show (`publishing.figures`:
`ship_share` over the reviews, `community_shares` over `count_votes`), kept as numbers
here rather than the pages' rounded words, so the report and its CSV can show one decimal.
Turnout is the votes over the issue's delivered recipients: one vote per subscriber per
comparison, and only a recipient holds a vote link. While the provider has reported no
delivery (just sent, or a provider without webhooks) the base is the accepted recipients
instead (`turnout_of` says which), so votes already cast show as a share, never as "—".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from newsletter.analytics.report import share
from newsletter.publishing.figures import community_shares, ship_share
from newsletter.publishing.models import Comparison, ComparisonTool, IssueComparison, Review, Tool
from newsletter.publishing.votes import count_votes


@dataclass(frozen=True)
class ToolVote:
    name: str
    votes: int
    community_share: float | None  # of the comparison's votes; None while nobody voted
    ship_share: float | None  # of the panel's reviewers; None when nobody reviewed it


@dataclass(frozen=True)
class ComparisonVote:
    position: int  # its place in the email, from 1
    slug: str
    title: str
    votes: int  # the turnout, as a number of votes
    turnout: float | None  # votes of `turnout_of`; None when that is zero
    tools: tuple[ToolVote, ...]
    turnout_of: str = "delivered"  # "delivered", or "accepted" while nothing was delivered


def comparison_votes(
    session: Session, issue_id: int, delivered: int, *, accepted: int = 0
) -> tuple[ComparisonVote, ...]:
    """The issue's comparisons in the email's order, each with its vote and panel figures:
    four small statements, whatever the number of votes (those are counted by an indexed
    GROUP BY on the comparison)."""
    held = session.exec(
        select(IssueComparison.position, Comparison)
        .join(Comparison, col(Comparison.id) == IssueComparison.comparison_id)
        .where(IssueComparison.issue_id == issue_id)
        .order_by(col(IssueComparison.position))
    ).all()
    ids = [c.id for _, c in held if c.id is not None]
    if not ids:
        return ()
    tools: dict[int, list[Tool]] = defaultdict(list)
    for link, tool in session.exec(
        select(ComparisonTool, Tool)
        .join(Tool, col(Tool.id) == ComparisonTool.tool_id)
        .where(col(ComparisonTool.comparison_id).in_(ids))
        .order_by(col(ComparisonTool.comparison_id), col(ComparisonTool.position))
    ).all():
        tools[link.comparison_id].append(tool)
    verdicts: dict[tuple[int, int], list[str]] = defaultdict(list)
    for cid, tid, verdict in session.exec(
        select(Review.comparison_id, Review.tool_id, Review.verdict).where(
            col(Review.comparison_id).in_(ids)
        )
    ).all():
        verdicts[(cid, tid)].append(verdict)
    votes = count_votes(session, ids)
    base, base_name = (delivered, "delivered") if delivered > 0 else (accepted, "accepted")
    found = []
    for position, (_, comparison) in enumerate(held, start=1):
        cid = comparison.id or 0
        tally = {str(tool_id): n for tool_id, n in votes.get(cid, {}).items()}
        keys = [str(t.id) for t in tools[cid]]
        shares = community_shares(tally, keys)
        total = sum(tally.get(k, 0) for k in keys)
        found.append(
            ComparisonVote(
                position=position,
                slug=comparison.slug,
                title=comparison.title,
                votes=total,
                turnout=share(total, base),
                turnout_of=base_name,
                tools=tuple(
                    ToolVote(
                        name=t.name,
                        votes=tally.get(k, 0),
                        community_share=shares[k],
                        ship_share=ship_share(verdicts[(cid, t.id or 0)]),
                    )
                    for t, k in zip(tools[cid], keys, strict=True)
                ),
            )
        )
    return tuple(found)
