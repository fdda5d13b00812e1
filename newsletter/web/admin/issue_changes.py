"""What the desk does to an issue, as plain functions of a session and data: each calls
the function the CLI calls for the same thing (`publishing.issues`, `publishing.gate`,
`sending`) and records who did it in the audit log in the same transaction, so the log
never shows a change that was rolled back nor misses one that was made.

Which actions an issue's status allows is read from the same tables the functions enforce
(`publishing.issues.ACTIONS` and `APPROVABLE`, `lifecycle.STARTABLE`/`PAUSED`): the page
shows a button only where the action would not be refused for the issue's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from sqlmodel import Session

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.publishing.gate import Checked, check_issue, ensure_fit_to_send
from newsletter.publishing.issues import ACTIONS, APPROVABLE, approve_issue, get_issue, move_issue
from newsletter.publishing.lifecycle import PAUSED, STARTABLE, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import Confirmed, SendConflict, test_send
from newsletter.sending.background import BackgroundSends


class Move(StrEnum):
    """The status changes an editor asks for by name (approving is apart: it checks)."""

    HOLD = "hold"
    CANCEL = "cancel"
    UNAPPROVE = "unapprove"


AUDITED: Final[Mapping[Move, Audited]] = {
    Move.HOLD: Audited.ISSUE_HOLD,
    Move.CANCEL: Audited.ISSUE_CANCEL,
    Move.UNAPPROVE: Audited.ISSUE_UNAPPROVE,
}

SENDABLE: Final = STARTABLE | PAUSED
"""A send from the desk starts (draft, approved) or resumes (paused) the issue's send."""


def allowed(status: str) -> frozenset[str]:
    """The actions issue `status` allows: 'approve', the `Move`s, 'send', 'test-send'."""
    now = IssueStatus(status)
    found = {move.value for move in Move if now in ACTIONS[move.value][1]}
    if now in APPROVABLE:
        found.add("approve")
    if now in SENDABLE:
        found.add("send")
    if now != IssueStatus.CANCELLED:
        found.add("test-send")
    return frozenset(found)


def _target(issue: Issue) -> str:
    return f"issue #{issue.number}"


def approve(session: Session, number: int, settings: Settings, actor: Actor) -> Issue:
    """Approve as `newsletter issue approve` does (refused when a check finds an error)."""
    issue = approve_issue(session, number, settings, f"approved by {actor.name}")
    record(session, actor, Audited.ISSUE_APPROVE, _target(issue), issue.status)
    return issue


def move(session: Session, number: int, action: Move, reason: str, actor: Actor) -> Issue:
    """Hold, cancel or unapprove, as the CLI does, with the editor's reason."""
    said = reason.strip() or f"{action.value} by {actor.name}"
    issue = move_issue(session, number, action.value, said)
    record(session, actor, AUDITED[action], _target(issue), said)
    return issue


def check(session: Session, number: int, settings: Settings, actor: Actor) -> Checked:
    """Run the editor's checks on the stored snapshot (the gate's, without the networked
    link check, which would hold a request for minutes)."""
    issue = get_issue(session, number)
    checked = check_issue(session, issue, settings)
    warnings = len(checked.findings) - len(checked.errors)
    detail = f"{len(checked.errors)} error(s), {warnings} warning(s)"
    record(session, actor, Audited.ISSUE_CHECK, _target(issue), detail)
    return checked


def send_test(
    session: Session, number: int, email: str, settings: Settings, backend: Backend, actor: Actor
) -> str:
    """One test copy to `email`, as `newsletter issue test-send` sends it."""
    message_id = test_send(session, number, email, settings, backend)
    record(session, actor, Audited.ISSUE_TEST_SEND, f"issue #{number}", email.strip())
    return message_id


def start_send(
    session: Session,
    sends: BackgroundSends,
    number: int,
    settings: Settings,
    shown: Confirmed,
    actor: Actor,
) -> Issue:
    """Start (or resume) the issue's send in the app's send thread.

    What the send itself would refuse at its start is refused here first, while the
    editor waits for an answer: a status that is not sent from the desk, an issue changed
    since the page showed it (`shown`), a check that finds an error. The thread calls
    `send_issue` with `shown`, so a change slipping in after this still stops the start.
    """
    issue = get_issue(session, number)
    status = IssueStatus(issue.status)
    if status not in SENDABLE:
        raise SendConflict(
            f"issue #{number} is {status}: only a draft, approved or paused issue is sent "
            "from the desk"
        )
    starting = status in STARTABLE
    if starting:
        if not shown.matches(issue):
            raise SendConflict(
                f"issue #{number} changed since the page showed it; look at it again and confirm"
            )
        ensure_fit_to_send(session, issue, settings)
    detail = f"{'started' if starting else 'resumed'} from the desk ({status})"
    record(session, actor, Audited.ISSUE_SEND, _target(issue), detail)
    sends.start(number, shown if starting else None)
    return issue
