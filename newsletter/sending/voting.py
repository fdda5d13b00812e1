"""What a vote button in an email does: one click records the vote, a second changes it.

A vote link names its subscriber, issue, comparison and tool, all signed; one that does
not match the issue's comparisons is treated as any other bad link (`TokenError`), so the
reader sees the same "not valid, nothing changed" page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.links.tokens import Purpose, Signer, TokenError
from newsletter.publishing.models import Comparison, Tool
from newsletter.publishing.render import ComparisonView, comparison_views
from newsletter.publishing.votes import VoteError, count_votes, record_vote
from newsletter.sending.optout import AddressGone
from subscribers.service import get_subscriber


@dataclass(frozen=True)
class CastVote:
    """What the thank-you page shows: the comparison with its counts after this vote."""

    comparison: ComparisonView
    tool: Tool
    changed: bool  # False when the same vote was cast again


def vote_by_link(session: Session, signer: Signer, token: str, settings: Settings) -> CastVote:
    """Record the vote a link carries; TokenError for a bad link, AddressGone for an
    address no longer held."""
    subscriber_id, issue_id, comparison_id, tool_id = signer.verify(Purpose.VOTE, token)
    if get_subscriber(session, subscriber_id) is None:
        raise AddressGone("we no longer hold this address")
    try:
        result = record_vote(session, subscriber_id, issue_id, comparison_id, tool_id)
    except VoteError as exc:
        raise TokenError(str(exc)) from None
    session.flush()
    comparison = session.get(Comparison, comparison_id)
    tool = session.get(Tool, tool_id)
    if comparison is None or tool is None:  # pragma: no cover - record_vote checked both
        raise TokenError("invalid token")
    view = comparison_views(session, [comparison], settings, count_votes, with_vote_links=False)
    return CastVote(comparison=view[0], tool=tool, changed=result.changed)
