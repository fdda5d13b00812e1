"""The desk's front page at a glance: the list by status and its growth over twelve
weeks, the next scheduled run and what it would pick, and the newest sent issues' rates.

Each part reuses what the command line uses: `subscribers.service.list_stats` (as
`newsletter subscribers stats` and `/api/stats`), the schedule and pick rule of
`newsletter issue next` (`publishing.schedule.next_fire`, `issue_for_week`,
`cancelled_for_week`, `pick_comparisons`), and `issue_report` per issue (counters and
batch totals, a few milliseconds each), rather than the issue list's overview, which
groups every recipient of every issue shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from newsletter.analytics.desk_report import sent_numbers
from newsletter.analytics.report import IssueReport, issue_report
from newsletter.core.errors import InvalidInput
from newsletter.core.settings import Settings
from newsletter.publishing.issues import cancelled_for_week, issue_for_week, pick_comparisons
from newsletter.publishing.models import Issue
from newsletter.publishing.schedule import next_fire
from newsletter.publishing.weeks import week_of
from subscribers.service import WeekGrowth, list_stats, weekly_growth

RECENT = 5
WEEKS = 12


@dataclass(frozen=True)
class Picked:
    title: str
    published: str  # YYYY-MM-DD


@dataclass(frozen=True)
class NextSend:
    """What `newsletter issue next` says: when the weekly run fires, and what it does."""

    fires_at: datetime | None = None  # in the configured zone; None: never, or unreadable
    zone: str = ""
    week: str = ""
    existing: tuple[int, str] | None = None  # the week's issue already built: (number, status)
    cancelled: int | None = None  # the week was cancelled (that issue's number): nothing built
    picked: tuple[Picked, ...] = ()
    auto_send: bool = False
    problem: str = ""  # the schedule cannot be read (the setting's own message)


@dataclass(frozen=True)
class Dashboard:
    by_status: dict[str, int]
    subscribers: int
    growth: tuple[WeekGrowth, ...]  # oldest first, this week last
    next_send: NextSend
    recent: tuple[IssueReport, ...]  # the newest sent issues, newest first
    issues: int = 0  # issues of any status: none yet is its own empty state


def next_send(session: Session, settings: Settings, now: datetime) -> NextSend:
    """The next run of the weekly job and what it would do, by the same functions as
    `newsletter issue next`; a schedule that cannot be read is said, not raised, so the
    rest of the page still shows."""
    try:
        fire = next_fire(settings, now)
    except InvalidInput as exc:
        return NextSend(problem=str(exc))
    if fire.fires_at is None:
        return NextSend(
            zone=fire.zone, problem=f"NEWSLETTER_SCHEDULE '{settings.schedule}' never fires"
        )
    week = week_of(fire.fires_at.date())
    base = NextSend(fires_at=fire.fires_at, zone=fire.zone, week=week, auto_send=settings.auto_send)
    existing = issue_for_week(session, week)
    if existing is not None:
        return replace(base, existing=(existing.number, existing.status))
    cancelled = cancelled_for_week(session, week)
    if cancelled:
        return replace(base, cancelled=cancelled[-1].number)
    picked = pick_comparisons(session, week, settings.comparisons_per_issue)
    return replace(base, picked=tuple(Picked(c.title, c.published.isoformat()) for c in picked))


def growth(session: Session, now: datetime) -> tuple[WeekGrowth, ...]:
    """The last twelve weeks' growth (what the growth chart draws), without the counts
    by status the page shows (a count of the whole list the chart does not need)."""
    return tuple(weekly_growth(session, weeks=WEEKS, now=now))


def dashboard(session: Session, settings: Settings, now: datetime) -> Dashboard:
    stats = list_stats(session, weeks=WEEKS, now=now)
    recent = tuple(issue_report(session, n) for n in sent_numbers(session, limit=RECENT))
    issues = int(session.exec(select(func.count()).select_from(Issue)).one())
    return Dashboard(
        by_status=stats.by_status,
        subscribers=stats.total,
        growth=tuple(stats.growth),
        next_send=next_send(session, settings, now),
        recent=recent,
        issues=issues,
    )
