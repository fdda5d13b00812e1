"""What the public site shows: past issues, their web versions, one comparison, the feed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlmodel import Session, and_, col, or_, select

from newsletter.core.clock import utcnow
from newsletter.core.errors import NotFound
from newsletter.core.settings import Settings
from newsletter.links.urls import SiteUrls
from newsletter.publishing.lifecycle import PUBLISHED
from newsletter.publishing.models import ISSUE_NUMBER_MAX, Comparison, Issue, IssueComparison
from newsletter.publishing.render import (
    ComparisonView,
    IssueView,
    comparison_views,
    issue_view,
    stored_page,
)
from newsletter.publishing.schedule import ScheduleError, next_fire
from newsletter.publishing.votes import count_votes


@dataclass(frozen=True)
class PublishedIssue:
    number: int
    week: str
    subject: str
    preheader: str
    published_at: datetime
    url: str


def published_issues(session: Session, settings: Settings, limit: int = 50) -> list[PublishedIssue]:
    """The archive and the feed: newest week first. By week, not by number: an issue
    rebuilt for an earlier week after a cancel gets a higher number than a later week's
    issue, and still belongs where its week is. ISO weeks ('2026-W48') sort as text."""
    rows = session.exec(
        select(Issue)
        .where(col(Issue.status).in_(PUBLISHED))
        .order_by(col(Issue.week).desc(), col(Issue.number).desc())
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
    """A published issue; NoSuchIssue for a draft or a number that never existed (or that
    no issue can have: past what the column holds, SQLite could not even compare it)."""
    issue = None
    if 1 <= number <= ISSUE_NUMBER_MAX:
        issue = session.exec(select(Issue).where(Issue.number == number)).first()
    if issue is None or issue.status not in PUBLISHED:
        raise NoSuchIssue(f"no published issue #{number}")
    return issue


def issue_page(session: Session, number: int, settings: Settings) -> IssueView:
    """The web version of a published issue (NoSuchIssue otherwise): the view the sent
    snapshot was rendered from, so the page says what the email said, whatever the content
    files say now, laid out as a page of the site by its own template: no "view in your
    browser" link to itself, no "you get this email because" footer, no vote buttons (they
    are a subscriber's own). Only the community figures are today's: the shares as they
    stand now, not the "no votes yet" frozen into the email the day it went out. An issue
    rendered before views were kept is built from the live tables, as it used to be."""
    issue = published_issue(session, number)
    stored = stored_page(issue)
    if stored is None:
        view = issue_view(session, issue, settings, count_votes)
    else:
        view = with_live_votes(session, stored)
    return replace(view, subject=issue.subject, preheader=issue.preheader)


def with_live_votes(session: Session, view: IssueView) -> IssueView:
    """`view` with every comparison's community figures counted now, its own comparisons
    and the last issue's results alike."""
    ids = [c.id for c in (*view.comparisons, *view.previous)]
    votes = count_votes(session, ids)
    return replace(
        view,
        comparisons=[c.with_votes(votes.get(c.id, {})) for c in view.comparisons],
        previous=[c.with_votes(votes.get(c.id, {})) for c in view.previous],
    )


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


def next_issue_day(settings: Settings, now: datetime) -> date | None:
    """The day the next issue is due after `now`, by NEWSLETTER_SCHEDULE read in
    NEWSLETTER_TIMEZONE, as a reader there sees the date. None when the schedule cannot be
    read: a page that welcomes a new subscriber then says less instead of failing (the
    scheduler refuses to start with it, and says why)."""
    try:
        fires_at = next_fire(settings, now).fires_at
    except ScheduleError:
        return None
    return fires_at.date() if fires_at else None
