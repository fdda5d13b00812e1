"""What an editor does to an issue from its desk page, one POST route per action; each
names its action (`may`: the role, and the form's CSRF token), calls one function of
`issue_changes` (the CLI's own functions, audited) and answers.

A done action redirects to the issue's page (so a reload does not post it again). A
refused one (a state that does not allow it, a check that fails, a send already running)
rolls the write transaction back, so nothing changed and nothing was logged, and answers
with the issue's page saying why, under the status the app gives that kind of error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final

from fastapi import APIRouter, BackgroundTasks, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed
from newsletter.core.errors import NewsletterError
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.sending import Confirmed
from newsletter.sending.background import BackgroundSends
from newsletter.web.admin import issue_changes as changes
from newsletter.web.admin.auth import actor, may
from newsletter.web.admin.forms import Confirm, confirmed
from newsletter.web.admin.issue_page import IssueNumber, SendsDep, issue_page
from newsletter.web.admin.issues import ISSUES, Done
from newsletter.web.admin.presenter import DeskPages, DeskPagesDep
from newsletter.web.deps import ServicesDep, WriteSessionDep
from newsletter.web.errors import status_for
from newsletter.web.params import NoControls

router = APIRouter(default_response_class=HTMLResponse)

EMAIL_MAX: Final = 320
HASH_MAX: Final = 64
"""The width of `issue.content_hash`: a snapshot's hash as the page showed it."""
Reason = Annotated[str, Form(max_length=500), NoControls]
Email = Annotated[str, Form(max_length=EMAIL_MAX), NoControls]
Snapshot = Annotated[str, Form(max_length=HASH_MAX), NoControls]


Checker = Annotated[Signed, Depends(may(Action.ISSUE_CHECK))]
Approver = Annotated[Signed, Depends(may(Action.ISSUE_APPROVE))]
Unapprover = Annotated[Signed, Depends(may(Action.ISSUE_UNAPPROVE))]
Holder = Annotated[Signed, Depends(may(Action.ISSUE_HOLD))]
Canceller = Annotated[Signed, Depends(may(Action.ISSUE_CANCEL))]
Tester = Annotated[Signed, Depends(may(Action.ISSUE_TEST_SEND))]
Sender = Annotated[Signed, Depends(may(Action.ISSUE_SEND))]


def _done(number: int, what: Done) -> Response:
    return RedirectResponse(f"{ISSUES}/{number}?done={what.value}", status_code=303)


class Desk:
    """The answer around one action: the redirect when it is done, or the issue's page
    with the refusal when it is not (after rolling back everything the action wrote)."""

    def __init__(
        self,
        pages: DeskPages,
        session: Session,
        services: ServicesDep,
        sends: BackgroundSends,
        number: int,
    ) -> None:
        self.pages = pages
        self.session = session
        self.settings = services.settings
        self.sends = sends
        self.number = number

    def run(self, action: Callable[[], object], done: Done, confirm: str | None = None) -> Response:
        """`confirm`: the form's confirmation box, for a change of state (`confirmed`)."""
        try:
            if confirm is not None:
                confirmed(confirm)
            action()
        except NewsletterError as error:
            self.session.rollback()
            return self.page(status_code=status_for(error), refusal=str(error))
        return _done(self.number, done)

    def page(self, *, status_code: int = 200, **shown: object) -> HTMLResponse:
        return issue_page(
            self.pages,
            self.session,
            self.sends,
            self.settings,
            self.number,
            status_code=status_code,
            **shown,
        )


def _desk(
    pages: DeskPagesDep,
    session: WriteSessionDep,
    services: ServicesDep,
    sends: SendsDep,
    number: IssueNumber,
) -> Desk:
    return Desk(pages, session, services, sends, number)


DeskDep = Annotated[Desk, Depends(_desk)]


@router.post(ISSUES + "/{number}/check")
def check(who: Checker, desk: DeskDep) -> Response:
    """Run the checks and show them on the page (nothing changes but the audit log)."""
    try:
        checked = changes.check(desk.session, desk.number, desk.settings, actor(who))
    except NewsletterError as error:
        desk.session.rollback()
        return desk.page(status_code=status_for(error), refusal=str(error))
    return desk.page(checked=checked)


@router.post(ISSUES + "/{number}/approve")
def approve(who: Approver, desk: DeskDep, confirm: Confirm = "") -> Response:
    return desk.run(
        lambda: changes.approve(desk.session, desk.number, desk.settings, actor(who)),
        Done.APPROVE,
        confirm,
    )


def _move(desk: Desk, who: Signed, move: changes.Move, confirm: str, reason: str) -> Response:
    return desk.run(
        lambda: changes.move(desk.session, desk.number, move, reason, actor(who)),
        Done(move.value),
        confirm,
    )


@router.post(ISSUES + "/{number}/unapprove")
def unapprove(
    who: Unapprover, desk: DeskDep, confirm: Confirm = "", reason: Reason = ""
) -> Response:
    return _move(desk, who, changes.Move.UNAPPROVE, confirm, reason)


@router.post(ISSUES + "/{number}/hold")
def hold(who: Holder, desk: DeskDep, confirm: Confirm = "", reason: Reason = "") -> Response:
    return _move(desk, who, changes.Move.HOLD, confirm, reason)


@router.post(ISSUES + "/{number}/cancel")
def cancel(who: Canceller, desk: DeskDep, confirm: Confirm = "", reason: Reason = "") -> Response:
    return _move(desk, who, changes.Move.CANCEL, confirm, reason)


@router.post(ISSUES + "/{number}/test-send")
def send_a_test(who: Tester, desk: DeskDep, services: ServicesDep, email: Email = "") -> Response:
    """One test copy to the typed address (the typing is the confirmation; no state
    changes, the ledger is untouched)."""
    return desk.run(
        lambda: changes.send_test(
            desk.session, desk.number, email, desk.settings, services.backend, actor(who)
        ),
        Done.TEST_SEND,
    )


@router.post(ISSUES + "/{number}/send")
def send(
    who: Sender,
    desk: DeskDep,
    after: BackgroundTasks,
    confirm: Confirm = "",
    shown_status: Annotated[IssueStatus, Form()] = IssueStatus.DRAFT,
    snapshot: Snapshot = "",
) -> Response:
    """Start (or resume) the send in the app's send thread; the page then shows it going.
    The thread starts after the answer, a background task, so after the write session's
    commit (which runs before the answer leaves): a commit that fails starts nothing."""
    shown = Confirmed(shown_status, snapshot)

    def start() -> None:
        decided = changes.start_send(
            desk.session, desk.sends, desk.number, desk.settings, shown, actor(who)
        )
        after.add_task(decided.begin, desk.sends)

    return desk.run(start, Done.SEND, confirm)
