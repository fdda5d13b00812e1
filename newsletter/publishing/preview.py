"""The editor's preview: the next issue exactly as a subscriber will get it, and its checks.

Previewing reads the files under content/ (loading them, as the scheduler would) and
re-renders a draft issue, so the stored snapshot is what was previewed. An approved or held
issue is frozen: it is shown as it stands, never re-rendered. A week that has no issue yet
is rendered provisionally inside a transaction that is rolled back.

Without a number or a week, the preview (and `newsletter issue check`) shows the issue the
editor is working on: the newest one that has not gone out and is not cancelled, whatever
its week; when there is none, the week the scheduler sends next, provisionally.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.errors import NewsletterError, NotFound
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.publishing.checks import Finding, Level
from newsletter.publishing.content import ContentError
from newsletter.publishing.gate import check_issue
from newsletter.publishing.gate import sample_recipient as sample_recipient
from newsletter.publishing.inbox import preheader_line
from newsletter.publishing.issues import (
    build_issue,
    get_issue,
    issue_for_week,
    rerender_issue,
)
from newsletter.publishing.lifecycle import EDITABLE, WENT_OUT, IssueStatus
from newsletter.publishing.models import Comparison, Issue
from newsletter.publishing.render import (
    EMAIL_TEMPLATES,
    ComparisonView,
    IssueView,
    Snapshot,
    comparison_views,
    render_view,
)
from newsletter.publishing.weeks import parse_week, week_bounds, week_of
from newsletter.publishing.withdrawal import load_and_withdraw

_DARK = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


class ComparisonNotFound(NotFound):
    """The comparison preview was asked for a slug that no loaded file has."""


@dataclass(frozen=True)
class Preview:
    number: int
    week: str
    status: str
    provisional: bool
    subject: str
    preheader: str
    html: str  # placeholders filled with the sample subscriber's links
    text: str
    findings: list[Finding]
    comparisons: list[ComparisonView] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.ERROR]


@dataclass(frozen=True)
class PreviewFailure:
    """A broken file or template, or a slug that is not there: shown in the page instead
    of the email. `error` is what was raised, so a caller can decide by its kind (a
    `NotFound` slug, an `InvalidInput` file), never by the text."""

    problems: list[str]
    error: NewsletterError | None = None


def _failure(exc: NewsletterError) -> PreviewFailure:
    """The failure to show; without its traceback, which would keep a closed session and
    its rows alive for as long as the cache holds the failure."""
    problems = [str(p) for p in exc.problems] if isinstance(exc, ContentError) else [str(exc)]
    return PreviewFailure(problems, exc.with_traceback(None))


def fingerprint(settings: Settings) -> str:
    """Changes whenever a file under content/ or templates/email/ changes."""
    digest = hashlib.sha256()
    for root in (settings.content_dir, settings.templates_dir / EMAIL_TEMPLATES):
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}\n".encode())
    return digest.hexdigest()[:16]


def next_week(session: Session, today: date) -> str:
    """The week the scheduler sends next: this week, unless its issue already went out."""
    week = week_of(today)
    issue = issue_for_week(session, week)
    if issue is not None and issue.status in WENT_OUT:
        monday, _ = week_bounds(week)
        return week_of(monday + timedelta(days=7))
    return week


UPCOMING = frozenset({IssueStatus.DRAFT, IssueStatus.HELD, IssueStatus.APPROVED})
"""Not gone out, not cancelled: an issue an editor may still be working on."""


def upcoming_issue(session: Session) -> Issue | None:
    """The newest issue (highest number) that has not gone out and is not cancelled: the
    one an editor just built, even when it is for a later week than this one."""
    return session.exec(
        select(Issue)
        .where(col(Issue.status).in_([status.value for status in UPCOMING]))
        .order_by(col(Issue.number).desc())
    ).first()


def _preview_of(
    session: Session, issue: Issue, settings: Settings, *, provisional: bool, links: bool
) -> Preview:
    checked = check_issue(session, issue, settings, links=links)
    recipient = checked.recipient
    return Preview(
        number=issue.number,
        week=issue.week,
        status=issue.status,
        provisional=provisional,
        subject=issue.subject,
        preheader=issue.preheader,
        html=placeholders.fill(issue.html, recipient.substitutions),
        text=placeholders.fill(issue.text, recipient.substitutions),
        findings=checked.findings,
        comparisons=checked.comparisons,
    )


def build_preview(
    engine: Engine,
    settings: Settings,
    *,
    week: str | None = None,
    number: int | None = None,
    today: date | None = None,
    links: bool = False,
) -> Preview | PreviewFailure:
    """The issue to preview: by number, by week, or the one the editor is working on (see
    the module docstring)."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            load_and_withdraw(session, settings.content_dir, settings)
            issue: Issue | None
            if number is not None:
                issue = get_issue(session, number)
            elif week:
                week = parse_week(week)
                issue = issue_for_week(session, week)
            else:
                issue = upcoming_issue(session)
                if issue is None:
                    week = next_week(session, today or utcnow().date())
                    issue = issue_for_week(session, week)
            if issue is not None:
                if issue.status in EDITABLE:
                    rerender_issue(session, issue, settings)
                session.commit()
                return _preview_of(session, issue, settings, provisional=False, links=links)
            session.commit()
            assert week is not None
            nested = session.begin_nested()
            try:
                built = build_issue(session, week, settings).issue
                return _preview_of(session, built, settings, provisional=True, links=links)
            finally:
                nested.rollback()
                session.rollback()
    except NewsletterError as exc:
        return _failure(exc)


def comparison_preview(engine: Engine, settings: Settings, slug: str) -> Snapshot | PreviewFailure:
    """One comparison block alone, in the issue's template, for the editor writing it."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            load_and_withdraw(session, settings.content_dir, settings)
            session.commit()
            comparison = _comparison(session, slug)
            views = comparison_views(session, [comparison], settings)
            view = IssueView(
                number=0,
                week=week_of(comparison.published),
                date=week_bounds(week_of(comparison.published))[0],
                subject=f"Preview: {comparison.title}",
                preheader=preheader_line(views),
                comparisons=views,
                site_url=settings.site_url,
                from_name=settings.from_name,
                postal_address=settings.postal_address,
            )
            return render_view(view, settings.templates_dir)
    except NewsletterError as exc:
        return _failure(exc)


def _comparison(session: Session, slug: str) -> Comparison:
    comparison = session.exec(select(Comparison).where(Comparison.slug == slug)).first()
    if comparison is None:
        known = session.exec(select(Comparison.slug).order_by(col(Comparison.slug))).all()
        raise ComparisonNotFound(f"no comparison '{slug}'; known: {', '.join(known) or 'none'}")
    return comparison


def force_dark(html: str) -> str:
    """Apply the email's own dark-mode styles unconditionally, so a frame shows dark mode
    whatever the editor's system setting is."""
    return _DARK.sub("@media all", html)


_Key = tuple[str, str | None, int | None, int | str | None]
"""(the files' fingerprint, the week asked for, the number asked for, what the default page
resolved to)"""


class PreviewCache:
    """Renders once per change of the files; the page polls the fingerprint. The default
    page (no number, no week) is keyed by the issue it resolves to now, so an issue built
    from the command line while the server runs is the one shown at the next reload."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: dict[_Key, Preview | PreviewFailure] = {}

    def version(self) -> str:
        return fingerprint(self.settings)

    def get(
        self, *, week: str | None = None, number: int | None = None
    ) -> Preview | PreviewFailure:
        default = self._default() if week is None and number is None else None
        key = (fingerprint(self.settings), week, number, default)
        with self._lock:
            if key not in self._cached:
                self._cached.clear()
                self._cached[key] = build_preview(
                    self.engine, self.settings, week=week, number=number
                )
            return self._cached[key]

    def _default(self) -> int | str:
        """What the default page shows now: the upcoming issue's number, else the week
        previewed provisionally."""
        with Session(self.engine) as session:
            upcoming = upcoming_issue(session)
            if upcoming is not None:
                return upcoming.number
            return next_week(session, utcnow().date())
