"""One issue's desk page, put together for the read route and for the actions that answer
with the page (a refusal, the checks just run): what it shows and which buttons it offers.

What it reads, each cheap at a million recipients: the issue by its unique number; the send
figures from batch totals (`analytics.send_progress`); for an issue that may still start,
how many active subscribers a send would reach (the indexed status column); for one that
went out, the report (`analytics.desk_report`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Depends, Path, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from newsletter.analytics.desk_report import desk_report
from newsletter.analytics.send_progress import send_figures
from newsletter.core.clock import utcnow
from newsletter.core.settings import Settings
from newsletter.publishing.gate import Checked, snapshot_hash
from newsletter.publishing.issues import IssueNotFound, get_issue
from newsletter.publishing.lifecycle import FINISHED, PAUSED, PUBLISHED, STARTABLE, IssueStatus
from newsletter.publishing.models import ISSUE_NUMBER_MAX
from newsletter.sending import audience_size
from newsletter.sending.background import BackgroundSends
from newsletter.web.admin.issue_changes import allowed, pause_cause_words
from newsletter.web.admin.presenter import DeskPages

IssueNumber = Annotated[int, Path(ge=1, le=ISSUE_NUMBER_MAX)]

LIVE: Final = frozenset({IssueStatus.SENDING})
"""While the issue is in one of these, its page refreshes its progress figures."""

REPORTED: Final = PUBLISHED | FINISHED
"""An issue that reached (some of) its readers has a report."""


def desk_sends(request: Request) -> BackgroundSends:
    """The app's one send thread (`web.app` makes it and stops it at shutdown)."""
    found: BackgroundSends = request.app.state.desk_sends
    return found


SendsDep = Annotated[BackgroundSends, Depends(desk_sends)]


def issue_page(
    pages: DeskPages,
    session: Session,
    sends: BackgroundSends,
    settings: Settings,
    number: int,
    *,
    status_code: int = 200,
    **shown: Any,
) -> HTMLResponse:
    """The page of issue `number` (a desk message page if there is none); `shown` adds to
    what the template gets: `refusal` (an action's refusal), `done`, `checked`."""
    try:
        issue = get_issue(session, number)
    except IssueNotFound:
        body = f"There is no issue #{number}. The issue list shows every issue there is."
        return pages.message("No such issue", body, status_code=404)
    status = IssueStatus(issue.status)
    checked: Checked | None = shown.pop("checked", None)
    return pages.render(
        "issue.html",
        status_code=status_code,
        issue=issue,
        status=status,
        allowed=allowed(status) - ({"send"} if sends.running else set()),
        figures=send_figures(session, issue, utcnow()),
        live=status in LIVE,
        run=sends.last(number),
        snapshot=snapshot_hash(issue),
        audience=audience_size(session) if status in STARTABLE else None,
        unapproved=status == IssueStatus.DRAFT,
        checked=checked,
        paused_because=pause_cause_words(issue.pause_cause) if status in PAUSED else None,
        report=desk_report(session, number) if status in REPORTED else None,
        from_email=settings.from_email,
        **shown,
    )
