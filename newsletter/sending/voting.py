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

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, exists, select
from sqlmodel import Session, col

from newsletter.core.settings import Settings
from newsletter.links.personalize import is_sample
from newsletter.links.tokens import Purpose, Signer, TokenError
from newsletter.publishing.models import Comparison, ComparisonTool, IssueComparison, Vote
from newsletter.publishing.render import ComparisonView, ToolView, comparison_views
from newsletter.publishing.votes import NOT_A_TOOL, NOT_IN_ISSUE, cast_vote, votes_on
from newsletter.sending.optout import AddressGone
from subscribers.models import Status, Subscriber

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


class ComparisonViews:
    """The part of a vote page that does not move: a comparison with its tools, takes and
    panel figures, built once per process and reused by every vote page of that comparison
    (a burst of votes follows every send). Kept under the comparison's `loaded_at`, which a
    content reload changes with the comparison, its tools' list or its reviews, and for at
    most `ttl` seconds, so a tool or reviewer renamed elsewhere shows within that time. The
    community figures are not kept: each page counts them."""

    def __init__(self, settings: Settings, *, ttl: float = 30.0, size: int = 256) -> None:
        self._settings = settings
        self._ttl = ttl
        self._size = size
        self._kept: dict[int, tuple[datetime, float, ComparisonView]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, comparison_id: int, loaded_at: datetime) -> ComparisonView:
        now = time.monotonic()
        kept = self._kept.get(comparison_id)
        if kept is not None and kept[0] == loaded_at and now - kept[1] < self._ttl:
            return kept[2]
        comparison = session.get(Comparison, comparison_id)
        if comparison is None:  # pragma: no cover - the ballot's statement found it
            raise TokenError("invalid token")
        view = comparison_views(
            session, [comparison], self._settings, _no_votes, with_vote_links=False
        )[0]
        with self._lock:
            if len(self._kept) >= self._size:
                self._kept.clear()
            self._kept[comparison_id] = (comparison.loaded_at, now, view)
        return view


def _no_votes(session: Session, comparison_ids: Sequence[int]) -> Mapping[int, Mapping[int, int]]:
    return {}


@dataclass(frozen=True)
class _Link:
    subscriber_id: int
    issue_id: int
    comparison_id: int
    tool_id: int
    sample: bool
    refusal: str | None
    loaded_at: datetime  # the comparison's, the key of its kept view
    voted: int | None  # the tool this subscriber's vote is on, before any change


_FACTS: Final = select(
    select(col(Comparison.loaded_at))
    .where(col(Comparison.id) == bindparam("comparison"))
    .scalar_subquery(),
    exists().where(
        col(IssueComparison.issue_id) == bindparam("issue"),
        col(IssueComparison.comparison_id) == bindparam("comparison"),
    ),
    exists().where(
        col(ComparisonTool.comparison_id) == bindparam("comparison"),
        col(ComparisonTool.tool_id) == bindparam("tool"),
    ),
    select(col(Subscriber.status))
    .where(col(Subscriber.id) == bindparam("subscriber"))
    .scalar_subquery(),
    select(col(Vote.tool_id))
    .where(
        col(Vote.subscriber_id) == bindparam("subscriber"),
        col(Vote.comparison_id) == bindparam("comparison"),
    )
    .scalar_subquery(),
)
"""Everything a vote link's page checks, in one statement built once: when the comparison
was loaded (None: it is gone), whether the issue holds it and it holds the tool, the
subscriber's status (None: not held) and their vote on it."""


def _facts(
    session: Session, subscriber_id: int, issue_id: int, comparison_id: int, tool_id: int
) -> tuple[datetime | None, bool, bool, str | None, int | None]:
    parameters = {
        "subscriber": subscriber_id,
        "issue": issue_id,
        "comparison": comparison_id,
        "tool": tool_id,
    }
    loaded_at, in_issue, has_tool, status, voted = session.execute(_FACTS, parameters).one()
    return loaded_at, bool(in_issue), bool(has_tool), status, voted


def _open(session: Session, signer: Signer, token: str) -> _Link:
    """The link's parts once checked, reading only: TokenError for a bad link (or one that
    names a comparison its issue does not hold), AddressGone for an address no longer held."""
    subscriber_id, issue_id, comparison_id, tool_id = signer.verify(Purpose.VOTE, token)
    sample = is_sample(subscriber_id)
    loaded_at, in_issue, has_tool, status, voted = _facts(
        session, subscriber_id, issue_id, comparison_id, tool_id
    )
    # a preview's issue may be provisional: for the sample, the comparison and tool suffice
    if not sample and not in_issue:
        raise TokenError(NOT_IN_ISSUE)
    if not has_tool or loaded_at is None:
        raise TokenError(NOT_A_TOOL)
    refusal = None
    if not sample:
        if status is None:
            raise AddressGone("we no longer hold this address")
        refusal = None if Status(status) in VOTERS else NOT_COUNTED[Status(status)]
    return _Link(
        subscriber_id,
        issue_id,
        comparison_id,
        tool_id,
        sample,
        refusal,
        loaded_at,
        None if sample else voted,
    )


def _ballot(
    session: Session,
    views: ComparisonViews,
    token: str,
    link: _Link,
    *,
    voted: int | None,
    cast: bool,
    changed: bool,
) -> Ballot:
    view = views.get(session, link.comparison_id, link.loaded_at)
    view = view.with_votes(votes_on(session, link.comparison_id))
    by_id = {tool.id: tool for tool in view.tools}
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


def read_vote_link(session: Session, signer: Signer, token: str, views: ComparisonViews) -> Ballot:
    """What opening a vote link shows; reading only (mail scanners follow every link)."""
    link = _open(session, signer, token)
    return _ballot(session, views, token, link, voted=link.voted, cast=False, changed=False)


def vote_by_link(session: Session, signer: Signer, token: str, views: ComparisonViews) -> Ballot:
    """The vote page's button: record or change the vote the link carries. Nothing is
    recorded for the sample subscriber or an address whose vote is not counted."""
    link = _open(session, signer, token)
    if link.sample or link.refusal is not None:
        return _ballot(session, views, token, link, voted=link.voted, cast=True, changed=False)
    changed = cast_vote(
        session, link.subscriber_id, link.issue_id, link.comparison_id, link.tool_id
    )
    return _ballot(session, views, token, link, voted=link.tool_id, cast=True, changed=changed)
