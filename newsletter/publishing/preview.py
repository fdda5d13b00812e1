"""The editor's preview: the next issue exactly as a subscriber will get it, and its checks.

Previewing a draft reads the files under content/ (loading them, as the scheduler would)
and re-renders it, so the stored snapshot is what was previewed. An approved, held or sent
issue is frozen: it is shown and checked as it stands, and the files are not even read (a
typo in an unrelated file must not fail the check of what was approved). A week that has
no issue yet is loaded and rendered provisionally inside a transaction that is rolled back.

Without a number or a week, the preview (and `newsletter issue check`, and
`issue test-send`) shows the issue the editor is working on: the newest one that has not
gone out and is not cancelled, whatever its week; when there is none, the week the
scheduler sends next (provisionally, where a preview is concerned).

What writes (the load, a re-render, a provisional build) runs in one write transaction
taken at its start (SQLite's BEGIN IMMEDIATE, `session_scope(immediate=True)`): a
transaction that read first and wrote later would fail at once with "database is locked"
whenever another process writes, instead of waiting its turn. The checks then read the
stored snapshot outside it.
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
from newsletter.core.database import session_scope
from newsletter.core.errors import NewsletterError, NotFound
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.publishing.checks import Finding, Level
from newsletter.publishing.composition import lock_draft
from newsletter.publishing.content import ContentError
from newsletter.publishing.gate import check_issue
from newsletter.publishing.gate import sample_recipient as sample_recipient
from newsletter.publishing.inbox import preheader_line
from newsletter.publishing.issues import (
    IssueNotFound,
    build_issue,
    get_issue,
    issue_for_week,
    rerender_issue,
)
from newsletter.publishing.lifecycle import EDITABLE, UPCOMING, WENT_OUT
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


def upcoming_issue(session: Session) -> Issue | None:
    """The newest issue (highest number) that has not gone out and is not cancelled: the
    one an editor just built, even when it is for a later week than this one."""
    return session.exec(
        select(Issue)
        .where(col(Issue.status).in_([status.value for status in UPCOMING]))
        .order_by(col(Issue.number).desc())
    ).first()


def _target(
    session: Session, week: str | None, number: int | None, today: date
) -> tuple[Issue | None, str | None]:
    """The issue to show, by number, by week, or by default (see the module docstring);
    with no issue, None and the week to render provisionally."""
    if number is not None:
        return get_issue(session, number), None
    if week:
        week = parse_week(week)
        return issue_for_week(session, week), week
    issue = upcoming_issue(session)
    if issue is not None:
        return issue, None
    week = next_week(session, today)
    return issue_for_week(session, week), week


def default_issue(session: Session, today: date) -> Issue:
    """The issue the preview shows without a number or a week, when it exists (what
    `issue test-send` sends by default); IssueNotFound when there is none to show."""
    issue, week = _target(session, None, None, today)
    if issue is None:
        raise IssueNotFound(
            f"no issue is in the works (none is a draft, held or approved, and {week} has "
            "none); build one, or give an issue number"
        )
    return issue


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


def _as_stored(engine: Engine, settings: Settings, number: int, links: bool) -> Preview:
    """An issue shown and checked as its stored snapshot stands, in a read-only session
    (the checks may take a while: `links` asks every URL)."""
    with Session(engine, expire_on_commit=False) as session:
        issue = get_issue(session, number)
        return _preview_of(session, issue, settings, provisional=False, links=links)


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
    the module docstring). A frozen issue is checked as stored, without reading the files;
    a draft, or a week without an issue, is loaded from the files first."""
    today = today or utcnow().date()
    try:
        with Session(engine) as session:
            found, _ = _target(session, week, number, today)
            frozen = found.number if found is not None and found.status not in EDITABLE else None
        if frozen is not None:
            return _as_stored(engine, settings, frozen, links)
        with session_scope(engine, immediate=True) as session:
            load_and_withdraw(session, settings.content_dir, settings)
            # Found again: the load may have withdrawn (or cancelled) what was found.
            issue, provisional = _target(session, week, number, today)
            if issue is None:
                assert provisional is not None
                nested = session.begin_nested()
                try:
                    built = build_issue(session, provisional, settings).issue
                    return _preview_of(session, built, settings, provisional=True, links=links)
                finally:
                    nested.rollback()
            if lock_draft(session, issue):  # else frozen since it was found: as it stands
                rerender_issue(session, issue, settings)
            shown = issue.number
        return _as_stored(engine, settings, shown, links)
    except NewsletterError as exc:
        return _failure(exc)


def comparison_preview(engine: Engine, settings: Settings, slug: str) -> Snapshot | PreviewFailure:
    """One comparison block alone, in the issue's template, for the editor writing it."""
    try:
        with session_scope(engine, immediate=True) as session:
            load_and_withdraw(session, settings.content_dir, settings)
        with Session(engine, expire_on_commit=False) as session:
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


def issues_state(session: Session) -> str:
    """Changes whenever any issue is built, re-rendered or changes status: a digest of every
    issue's number, status and content hash (one small query; a year is 52 rows). An
    `issue remove` or `issue approve` from the command line changes what the preview must
    show without touching a file."""
    digest = hashlib.sha256()
    rows = session.exec(
        select(Issue.number, Issue.status, Issue.content_hash).order_by(col(Issue.number))
    )
    for number, status, content_hash in rows:
        digest.update(f"{number}:{status}:{content_hash}\n".encode())
    return digest.hexdigest()[:16]


_Key = tuple[str, str | None, int | None, int | str | None]
"""(the version: files and issues, the week asked for, the number asked for, what the
default page resolved to)"""


class PreviewCache:
    """Renders once per change of the files or of the issues; the page polls `version`
    and reloads itself when it changes. The default page (no number, no week) is keyed by
    the issue it resolves to now, so an issue built from the command line while the server
    runs is the one shown at the next reload."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: dict[_Key, Preview | PreviewFailure] = {}

    def version(self) -> str:
        """The files' fingerprint and the issues' state: what a shown preview depends on.
        Which issue a page shows is not told to the poll, so every issue's state counts."""
        with Session(self.engine) as session:
            return f"{fingerprint(self.settings)}-{issues_state(session)}"

    def get(
        self, *, week: str | None = None, number: int | None = None
    ) -> Preview | PreviewFailure:
        default = self._default() if week is None and number is None else None
        key = (self.version(), week, number, default)
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
