"""What the public site shows: past issues, their web versions, one comparison, the feed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, and_, col, or_, select

from newsletter.core.clock import utcnow
from newsletter.core.errors import NotFound
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.links.urls import SiteUrls
from newsletter.publishing.lifecycle import PUBLISHED
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.publishing.render import ComparisonView, comparison_views
from newsletter.publishing.votes import count_votes

_VOTE_LINK = re.compile(r'<a href="' + placeholders.VOTE_MARKER.pattern + r'"[^>]*>[^<]*</a>')
_UNSUBSCRIBE_LINK = re.compile(
    r'<a href="' + re.escape(placeholders.UNSUBSCRIBE) + r'"([^>]*)>[^<]*</a>'
)


@dataclass(frozen=True)
class PublishedIssue:
    number: int
    week: str
    subject: str
    preheader: str
    published_at: datetime
    url: str


def published_issues(session: Session, settings: Settings, limit: int = 50) -> list[PublishedIssue]:
    rows = session.exec(
        select(Issue)
        .where(col(Issue.status).in_(PUBLISHED))
        .order_by(col(Issue.number).desc())
        .limit(limit)
    ).all()
    urls = SiteUrls(settings.site_url)
    return [
        PublishedIssue(
            number=i.number,
            week=i.week,
            subject=i.subject,
            preheader=i.preheader,
            published_at=i.rendered_at or i.created_at,
            url=urls.issue(i.number),
        )
        for i in rows
    ]


class NoSuchIssue(NotFound):
    """No published issue has that number (it is a draft, or it never existed)."""


class NoSuchComparison(NotFound):
    """No published comparison has that slug (renamed, or not public yet)."""


def published_issue(session: Session, number: int) -> Issue:
    """A published issue; NoSuchIssue for a draft or a number that never existed."""
    issue = session.exec(select(Issue).where(Issue.number == number)).first()
    if issue is None or issue.status not in PUBLISHED:
        raise NoSuchIssue(f"no published issue #{number}")
    return issue


def issue_web_version(session: Session, number: int, settings: Settings) -> str:
    """The web version of a published issue; NoSuchIssue otherwise."""
    return web_version(published_issue(session, number), settings)


def web_version(issue: Issue, settings: Settings) -> str:
    """The sent HTML with the per-subscriber links removed: no vote buttons, and a
    subscribe link where each subscriber had their own unsubscribe link."""
    urls = SiteUrls(settings.site_url)
    html = _VOTE_LINK.sub("", issue.html)
    html = _UNSUBSCRIBE_LINK.sub(
        lambda link: f'<a href="{urls.subscribe()}"{link[1]}>Subscribe</a>', html
    )
    return placeholders.fill(html, {placeholders.VIEW: urls.issue(issue.number)})


def comparison_page(session: Session, slug: str, settings: Settings) -> ComparisonView:
    """A comparison once it is published: it went out in an issue, or its publication date
    has come. Until then (a future date, only in a draft) it is the editors' secret:
    NoSuchComparison. A withdrawn comparison (its file was deleted) stays public only where
    it went out: one that never did was never published."""
    sent = (
        select(IssueComparison.comparison_id)
        .join(Issue, col(Issue.id) == IssueComparison.issue_id)
        .where(col(Issue.status).in_(PUBLISHED))
    )
    comparison = session.exec(
        select(Comparison).where(
            Comparison.slug == slug,
            or_(
                col(Comparison.id).in_(sent),
                and_(
                    col(Comparison.withdrawn_at).is_(None),
                    col(Comparison.published) <= utcnow().date(),
                ),
            ),
        )
    ).first()
    if comparison is None:
        raise NoSuchComparison(f"no published comparison {slug!r}")
    return comparison_views(session, [comparison], settings, count_votes, with_vote_links=False)[0]
