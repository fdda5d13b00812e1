"""The desk's Issues pages: the list, one issue's page, the email it sends (shown in the
page's frames) and its send progress (polled by the page's script). Reading only; what
changes an issue is in `issue_actions`.

The list pages by keyset (`?before=N`, the last number of the page before) and reads each
started issue's recipients from batch totals, never from a count over recipient rows
(`analytics.issue_list`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from newsletter.analytics.issue_list import issue_page as issue_list_page
from newsletter.analytics.send_progress import send_figures
from newsletter.core.clock import utcnow
from newsletter.delivery import placeholders
from newsletter.publishing.gate import sample_recipient
from newsletter.publishing.issues import get_issue
from newsletter.publishing.models import ISSUE_NUMBER_MAX
from newsletter.web.admin.auth import Reader
from newsletter.web.admin.issue_page import LIVE, IssueNumber, SendsDep, issue_page
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import ServicesDep, SessionDep
from newsletter.web.security import FRAME_HEADERS

router = APIRouter(default_response_class=HTMLResponse)

ISSUES: Final = "/admin/issues"


class Done(StrEnum):
    """What the page says after an action redirected to it (a fixed text per action: a
    query parameter never puts words of its own on the page)."""

    APPROVE = "approve"
    UNAPPROVE = "unapprove"
    HOLD = "hold"
    CANCEL = "cancel"
    SEND = "send"
    TEST_SEND = "test-send"


DONE_TEXT: Final = {
    Done.APPROVE: "Approved. The snapshot is frozen; the scheduler sends it at its next tick.",
    Done.UNAPPROVE: "Back to draft: rebuild, check and approve it again before it goes out.",
    Done.HOLD: "Held: it is not sent until it is approved again.",
    Done.CANCEL: "Cancelled: its comparisons are free for another issue.",
    Done.SEND: "The send started in the background; its progress is below.",
    Done.TEST_SEND: "The test copy was sent.",
}


@router.get(ISSUES)
def issues(
    who: Reader,
    pages: DeskPagesDep,
    session: SessionDep,
    before: Annotated[int | None, Query(ge=1, le=ISSUE_NUMBER_MAX)] = None,
) -> HTMLResponse:
    return pages.render("issues.html", page=issue_list_page(session, before), before=before)


@router.get(ISSUES + "/{number}")
def issue(
    who: Reader,
    pages: DeskPagesDep,
    session: SessionDep,
    services: ServicesDep,
    sends: SendsDep,
    number: IssueNumber,
    done: Annotated[Done | None, Query()] = None,
) -> HTMLResponse:
    notice = DONE_TEXT[done] if done else None
    return issue_page(pages, session, sends, services.settings, number, done=notice)


@router.get(ISSUES + "/{number}/email")
def email(
    who: Reader, session: SessionDep, services: ServicesDep, number: IssueNumber
) -> HTMLResponse:
    """The frozen snapshot as the sample reader gets it, for the page's frames: under the
    frame policy (`security.FRAME_HEADERS`: no script, sandboxed, framed by the desk only)."""
    issue = get_issue(session, number)
    recipient = sample_recipient(session, issue, services.settings)
    return HTMLResponse(
        placeholders.fill(issue.html, recipient.substitutions), headers=FRAME_HEADERS
    )


@router.get(ISSUES + "/{number}/progress", response_class=JSONResponse)
def progress(
    who: Reader, session: SessionDep, sends: SendsDep, number: IssueNumber
) -> dict[str, Any]:
    """The send's figures, for the page's script (`static/issue-progress.js`)."""
    figures = send_figures(session, get_issue(session, number), utcnow())
    run = sends.last(number)
    return {
        "number": figures.number,
        "status": figures.status,
        "live": figures.status in LIVE,
        "audience": figures.audience,
        "done": figures.done,
        "accepted": figures.accepted,
        "failed": figures.failed,
        "unknown": figures.unknown,
        "skipped": figures.skipped,
        "queued": figures.queued,
        "retried": figures.retried,
        "rate": round(figures.rate, 1),
        "running_here": bool(run and run.running),
    }
