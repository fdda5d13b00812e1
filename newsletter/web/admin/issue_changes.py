"""What the desk does to an issue, as plain functions of a session and data: each calls
the function the CLI calls for the same thing (`publishing.issues`, `publishing.gate`,
`sending`) and records who did it in the audit log in the same transaction, so the log
never shows a change that was rolled back nor misses one that was made.

Which actions an issue's status allows is read from the same tables the functions enforce
(`publishing.issues.ACTIONS` and `APPROVABLE`, `lifecycle.STARTABLE`/`PAUSED`): the page
shows a button only where the action would not be refused for the issue's state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.accounts.models import AuditEntry
from newsletter.core.clock import utcnow
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.publishing.gate import Checked, check_issue, ensure_fit_to_send
from newsletter.publishing.issues import ACTIONS, APPROVABLE, approve_issue, get_issue, move_issue
from newsletter.publishing.lifecycle import PAUSED, STARTABLE, IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import Confirmed, SendConflict, test_send
from newsletter.sending.background import BackgroundSends

log = logging.getLogger(__name__)


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


PAUSE_CAUSES: Final[Mapping[str, str]] = {
    PauseCause.STOP_REQUESTED: "The send was stopped (the app or the scheduler shut down); "
    "the scheduler resumes it by itself, or resume it here.",
    PauseCause.INTERRUPTED: "The send was interrupted; the scheduler resumes it by itself, "
    "or resume it here.",
    PauseCause.RETRIES_EXHAUSTED: "Some batches ran out of retries; the scheduler tries "
    "them again by itself, or resume it here.",
    PauseCause.REFUSED: "The provider refused the key, the sender or the message: every "
    "batch would be refused alike. Fix the provider's settings before resuming.",
    PauseCause.BACKEND_ERROR: "The delivery backend failed unexpectedly. Look at the "
    "server's log before resuming.",
    PauseCause.DELIVERABILITY: "The send paused itself: too many recipients bounced hard or "
    "reported it as spam. Look at the bounces and complaints (Suppressions, and this "
    "issue's report) before resuming: resuming sends to the rest of the list as it stands.",
}
"""Why a paused send paused, in the words the page shows beside the resume button."""


def pause_cause_words(cause: str | None) -> str:
    """The page's words for `issue.pause_cause` (a cause this code does not know: its name)."""
    if cause is None:
        return "The send was paused."
    return PAUSE_CAUSES.get(cause, f"The send was paused ({cause}).")


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
    """One test copy to `email`, as `newsletter issue test-send` sends it.

    The audit log keeps only the address's domain ("to an address at example.org"), never
    the address itself: it may be a subscriber's, and the log outlives a subscriber who
    asks to be forgotten (the log is not erased with them)."""
    if test_sends_lately(session, number, utcnow()) >= TEST_SENDS_PER_HOUR:
        raise SendConflict(
            f"issue #{number} had {TEST_SENDS_PER_HOUR} test sends in the last hour, the most "
            "the desk sends; try again later"
        )
    message_id = test_send(session, number, email, settings, backend)
    record(session, actor, Audited.ISSUE_TEST_SEND, f"issue #{number}", test_detail(email))
    return message_id


TEST_SENDS_PER_HOUR: Final = 20
"""Test copies of one issue the desk sends in an hour: enough to proof it, too few for a
stolen editor's session to use the desk as a mailer."""


def test_sends_lately(session: Session, number: int, now: datetime) -> int:
    """Test sends of issue `number` in the hour before `now`, counted from the audit log
    (its `at` index bounds the scan to the last hour)."""
    found = session.exec(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            col(AuditEntry.at) > now - timedelta(hours=1),
            AuditEntry.action == Audited.ISSUE_TEST_SEND.value,
            AuditEntry.target == f"issue #{number}",
        )
    ).one()
    return int(found)


def test_detail(email: str) -> str:
    """What the log says of a test send's address: its domain alone."""
    domain = email.strip().rpartition("@")[2].lower()
    return f"to an address at {domain}" if domain else "to an address"


@dataclass(frozen=True)
class SendStart:
    """A send the desk decided to start: the caller starts it in the send thread
    (`begin`) only once the transaction that recorded it has committed, so a failed commit
    never leaves a send running without its audit entry."""

    number: int
    expected: Confirmed | None

    def begin(self, sends: BackgroundSends) -> None:
        try:
            sends.start(self.number, self.expected)
        except SendConflict as conflict:  # another desk send began between check and start
            log.warning("issue #%d: the desk's send did not start: %s", self.number, conflict)


def start_send(
    session: Session,
    sends: BackgroundSends,
    number: int,
    settings: Settings,
    shown: Confirmed,
    actor: Actor,
) -> SendStart:
    """Decide to start (or resume) the issue's send in the app's send thread; the caller
    starts it after the commit (`SendStart.begin`).

    What the send itself would refuse at its start is refused here first, while the
    editor waits for an answer: a status that is not sent from the desk, an issue changed
    since the page showed it (`shown`: its status and snapshot, for a resume too, so a
    stale "Send now" form does not resume a send that paused itself since), a check that
    finds an error, a desk send already running. The thread calls `send_issue` with
    `shown`, so a change slipping in after this still stops the start.
    """
    issue = get_issue(session, number)
    status = IssueStatus(issue.status)
    if status not in SENDABLE:
        raise SendConflict(
            f"issue #{number} is {status}: only a draft, approved or paused issue is sent "
            "from the desk"
        )
    if not shown.matches(issue):
        raise SendConflict(
            f"issue #{number} changed since the page showed it (it is {status} now); "
            "look at it again and confirm"
        )
    if sends.running:
        raise SendConflict("a send started from the desk is still running; wait for it to end")
    starting = status in STARTABLE
    if starting:
        ensure_fit_to_send(session, issue, settings)
    detail = f"{'started' if starting else 'resumed'} from the desk ({status})"
    record(session, actor, Audited.ISSUE_SEND, _target(issue), detail)
    return SendStart(number, shown if starting else None)
