"""One subscriber's mail and votes: the issues sent to them with what became of each
(the ledger's state, the provider's delivery state), their opens and clicks, their votes.

Read by primary keys and the subscriber indexes only, never by scanning the ledger:
`send_recipient` is keyed by (issue, subscriber) with no index by subscriber alone, so the
issues that were sent (`issue_send`, one row per issue) are walked and the subscriber is
looked up in each by primary key, as the soft-bounce rule does; `recipient_activity` is
keyed the same way, `link_click` has an index by subscriber, and `vote` is unique by
(subscriber, comparison).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import and_, select
from sqlmodel import Session

from newsletter.core.sql import table_of
from newsletter.publishing.models import Comparison, Issue, Tool, Vote
from newsletter.sending.ledger import IssueSend, SendRecipient
from newsletter.tracking.match import chunks
from newsletter.tracking.models import IssueLink, LinkClick, RecipientActivity

SENDS_SHOWN: Final = 200
"""The newest issue sends looked at (about four years of a weekly newsletter)."""

_send = table_of(IssueSend)
_issue = table_of(Issue)
_recipient = table_of(SendRecipient)
_activity = table_of(RecipientActivity)
_click = table_of(LinkClick)
_link = table_of(IssueLink)
_vote = table_of(Vote)
_comparison = table_of(Comparison)
_tool = table_of(Tool)
_ACTIVITY: Final = [
    _activity.c[name]
    for name in (
        "delivery",
        "delivery_at",
        "bounce_kind",
        "first_open_at",
        "machine_open_at",
        "first_click_at",
        "complained_at",
        "unsubscribed_at",
    )
]


@dataclass(frozen=True)
class SentIssue:
    """One issue in a subscriber's mail: the ledger's state, and what events said."""

    number: int
    week: str
    subject: str
    started_at: datetime
    state: str  # the ledger: queued, accepted, failed, unknown, skipped
    delivery: str | None  # the provider: processed, deferred, delivered, bounced, dropped
    delivery_at: datetime | None
    bounce_kind: str | None
    first_open_at: datetime | None
    machine_open_at: datetime | None
    first_click_at: datetime | None
    complained_at: datetime | None
    unsubscribed_at: datetime | None
    links: list[str] = field(default_factory=list)  # the links they clicked


@dataclass(frozen=True)
class CastVote:
    issue_number: int
    comparison: str
    tool: str
    voted_at: datetime
    changed_at: datetime


def sent_issues(session: Session, subscriber_id: int) -> list[SentIssue]:
    """The issues sent (or queued) to the subscriber, newest send first."""
    connection = session.connection()
    sends = connection.execute(
        select(_send.c.issue_id, _send.c.started_at, _issue.c.number, _issue.c.week)
        .add_columns(_issue.c.subject)
        .join(_issue, _issue.c.id == _send.c.issue_id)
        .order_by(_send.c.started_at.desc(), _send.c.issue_id.desc())
        .limit(SENDS_SHOWN)
    ).all()
    by_issue = {int(row.issue_id): row for row in sends}
    links = _clicked_links(session, subscriber_id)
    found: dict[int, SentIssue] = {}
    for part in chunks(list(by_issue)):
        rows = connection.execute(
            select(_recipient.c.issue_id, _recipient.c.state, *_ACTIVITY)
            .outerjoin(
                _activity,
                and_(
                    _activity.c.issue_id == _recipient.c.issue_id,
                    _activity.c.subscriber_id == _recipient.c.subscriber_id,
                ),
            )
            .where(_recipient.c.issue_id.in_(part), _recipient.c.subscriber_id == subscriber_id)
        ).mappings()
        for row in rows:
            issue_id = int(row["issue_id"])
            send = by_issue[issue_id]
            found[issue_id] = SentIssue(
                number=int(send.number),
                week=str(send.week),
                subject=str(send.subject),
                started_at=send.started_at,
                state=str(row["state"]),
                delivery=row["delivery"],
                delivery_at=row["delivery_at"],
                bounce_kind=row["bounce_kind"],
                first_open_at=row["first_open_at"],
                machine_open_at=row["machine_open_at"],
                first_click_at=row["first_click_at"],
                complained_at=row["complained_at"],
                unsubscribed_at=row["unsubscribed_at"],
                links=links.get(issue_id, []),
            )
    return [found[issue_id] for issue_id in by_issue if issue_id in found]


def _clicked_links(session: Session, subscriber_id: int) -> dict[int, list[str]]:
    rows = session.connection().execute(
        select(_click.c.issue_id, _link.c.url)
        .join(
            _link,
            and_(_link.c.issue_id == _click.c.issue_id, _link.c.url_hash == _click.c.url_hash),
        )
        .where(_click.c.subscriber_id == subscriber_id)
        .order_by(_link.c.url)
    )
    links: defaultdict[int, list[str]] = defaultdict(list)
    for issue_id, url in rows:
        links[int(issue_id)].append(str(url))
    return dict(links)


def votes_of(session: Session, subscriber_id: int) -> list[CastVote]:
    """The subscriber's community votes, newest first."""
    rows = session.connection().execute(
        select(
            _issue.c.number,
            _comparison.c.title,
            _tool.c.name,
            _vote.c.voted_at,
            _vote.c.changed_at,
        )
        .join(_issue, _issue.c.id == _vote.c.issue_id)
        .join(_comparison, _comparison.c.id == _vote.c.comparison_id)
        .join(_tool, _tool.c.id == _vote.c.tool_id)
        .where(_vote.c.subscriber_id == subscriber_id)
        .order_by(_vote.c.voted_at.desc(), _vote.c.id.desc())
    )
    return [
        CastVote(int(number), str(title), str(name), voted_at, changed_at)
        for number, title, name, voted_at, changed_at in rows
    ]
