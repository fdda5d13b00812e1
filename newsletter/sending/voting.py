"""What a vote button in an email leads to.

Opening the link (a GET: a person's browser, or a mail scanner that fetches every link)
only shows what it is for: the comparison, the tool, and the vote this subscriber has cast
so far. The page's button, a POST to the same link, records the vote; a second vote on the
same comparison changes it.

A vote link names its subscriber, issue, comparison and tool, all signed; one that does
not match the issue's comparisons is treated as any other bad link (`TokenError`), so the
reader sees the same "not valid, nothing changed" page. Only active subscribers vote: the
page tells any other address why its vote is not counted, and nothing is recorded. The
sample subscriber's links (the preview's, a test send's) show the real pages, say they are
a sample's, and record nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.links.personalize import is_sample
from newsletter.links.tokens import Purpose, Signer, TokenError
from newsletter.publishing.models import Comparison
from newsletter.publishing.render import ComparisonView, ToolView, comparison_views
from newsletter.publishing.votes import (
    VoteError,
    check_ballot,
    check_tool,
    count_votes,
    record_vote,
    vote_of,
)
from newsletter.sending.optout import AddressGone
from subscribers.models import Status
from subscribers.service import get_subscriber

VOTERS: Final = frozenset({Status.ACTIVE})
"""Whose votes count: the people the list emails."""

NOT_COUNTED: Final[dict[Status, str]] = {
    Status.PENDING: "This address has not confirmed its subscription, so its vote is not counted.",
    Status.UNSUBSCRIBED: "This address unsubscribed, so it cannot vote now.",
    Status.BOUNCED: (
        "We stopped emailing this address after delivery problems, so its vote is not counted."
    ),
    Status.COMPLAINED: "This address asked us to stop emailing it, so it cannot vote now.",
}


@dataclass(frozen=True)
class Ballot:
    """What the vote page shows: the comparison with its counts, the tool the link is for,
    this subscriber's vote, and what the request did."""

    token: str
    comparison: ComparisonView
    tool: ToolView
    voted_for: ToolView | None  # the tool this subscriber's vote is on now
    sample: bool = False  # a preview's or a test send's link: nothing is ever recorded
    refusal: str | None = None  # why this address's vote is not counted
    cast: bool = False  # the answer to the button (a POST), not to opening the link
    changed: bool = False  # the button recorded a new vote or changed one


@dataclass(frozen=True)
class _Link:
    subscriber_id: int
    issue_id: int
    comparison_id: int
    tool_id: int
    sample: bool
    refusal: str | None


def _open(session: Session, signer: Signer, token: str) -> _Link:
    """The link's parts once checked, reading only: TokenError for a bad link (or one that
    names a comparison its issue does not hold), AddressGone for an address no longer held."""
    subscriber_id, issue_id, comparison_id, tool_id = signer.verify(Purpose.VOTE, token)
    sample = is_sample(subscriber_id)
    try:
        if sample:  # a preview's issue may be provisional: the comparison and tool suffice
            check_tool(session, comparison_id, tool_id)
        else:
            check_ballot(session, issue_id, comparison_id, tool_id)
    except VoteError as exc:
        raise TokenError(str(exc)) from None
    refusal = None
    if not sample:
        subscriber = get_subscriber(session, subscriber_id)
        if subscriber is None:
            raise AddressGone("we no longer hold this address")
        status = Status(subscriber.status)
        refusal = None if status in VOTERS else NOT_COUNTED[status]
    return _Link(subscriber_id, issue_id, comparison_id, tool_id, sample, refusal)


def _ballot(
    session: Session, settings: Settings, token: str, link: _Link, *, cast: bool, changed: bool
) -> Ballot:
    comparison = session.get(Comparison, link.comparison_id)
    if comparison is None:  # pragma: no cover - _open checked it
        raise TokenError("invalid token")
    view = comparison_views(session, [comparison], settings, count_votes, with_vote_links=False)[0]
    by_id = {tool.id: tool for tool in view.tools}
    voted = None if link.sample else vote_of(session, link.subscriber_id, link.comparison_id)
    return Ballot(
        token=token,
        comparison=view,
        tool=by_id[link.tool_id],
        voted_for=by_id.get(voted) if voted is not None else None,
        sample=link.sample,
        refusal=link.refusal,
        cast=cast,
        changed=changed,
    )


def read_vote_link(session: Session, signer: Signer, token: str, settings: Settings) -> Ballot:
    """What opening a vote link shows; reading only (mail scanners follow every link)."""
    link = _open(session, signer, token)
    return _ballot(session, settings, token, link, cast=False, changed=False)


def vote_by_link(session: Session, signer: Signer, token: str, settings: Settings) -> Ballot:
    """The vote page's button: record or change the vote the link carries. Nothing is
    recorded for the sample subscriber or an address whose vote is not counted."""
    link = _open(session, signer, token)
    changed = False
    if not link.sample and link.refusal is None:
        result = record_vote(
            session, link.subscriber_id, link.issue_id, link.comparison_id, link.tool_id
        )
        session.flush()
        changed = result.changed
    return _ballot(session, settings, token, link, cast=True, changed=changed)
