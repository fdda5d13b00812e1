"""The jobs the scheduler runs. Each is a plain function with no arguments (APScheduler's
persistent store keeps a reference to it, not the function) that reads the one settings
object, and logs one line per event.

What goes out by itself is what is approved, and nothing else. With NEWSLETTER_AUTO_SEND
the weekly job approves the issue it has just built, in the build's own transaction and
through `issues.approve_issue` (the editor's checks, the hash recorded), so an editor's
`issue unapprove` or `issue hold` stops the scheduler exactly as it stops a person; the
dispatch tick never sends a draft. A week whose issue was cancelled stays cancelled: only
`newsletter issue build --week W` builds it again.

Exactly once does not come from APScheduler (3.x cannot coordinate processes): it comes
from the database. One live issue per ISO week is a unique index, the move to `sending`
is a compare-and-set, and the ledger hands each batch to one sender.

With NEWSLETTER_SEND_DETACH a send the scheduler starts is handed to `newsletter worker`
processes once its audience is snapshotted; the scheduler sends nothing itself.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from newsletter.accounts.cleanup import tidy_accounts
from newsletter.accounts.sessions import SESSION_LIFETIME
from newsletter.accounts.signin import LockPolicy
from newsletter.core.clock import utcnow
from newsletter.core.database import get_engine, session_scope
from newsletter.core.errors import NewsletterError
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery.registry import make_backend
from newsletter.publishing.content import ContentError
from newsletter.publishing.gate import IssueNotReady
from newsletter.publishing.issues import (
    NothingToPick,
    approve_issue,
    build_issue,
    cancelled_for_week,
    issue_for_week,
)
from newsletter.publishing.lifecycle import DISPATCHED, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.publishing.schedule import weekly_trigger
from newsletter.publishing.weeks import week_of
from newsletter.publishing.withdrawal import load_and_withdraw
from newsletter.sending import SendReport, resumes_by_itself, send_issue
from newsletter.sending.reconfirm import CONFIRM_VALID_FOR
from subscribers.consent import count_due_confirmations
from subscribers.housekeeping import expire_pending

log = logging.getLogger("scheduler")

stopping = threading.Event()
"""Set on SIGINT/SIGTERM: a send in progress stops between batches and stays resumable."""


def local_now() -> datetime:
    return utcnow().astimezone(ZoneInfo(get_settings().timezone))


AUTO_APPROVED = "approved automatically by the scheduler (NEWSLETTER_AUTO_SEND is on)"
"""The status reason of an issue the weekly job approved itself."""

_refused: dict[int, str] = {}
"""The refusal last logged per issue: a tick that meets the same one again says nothing."""


def _send(number: int, why: str) -> SendReport | None:
    """Send issue `number`. Any refusal (the gate: checks in error, a snapshot that is not
    the approved one; an issue held since the tick read it; the backend refusing the
    message) is logged once, and neither stops the other issues of the tick nor, since the
    scheduler ticks once as it starts, the scheduler itself."""
    settings = get_settings()
    detach = settings.send_detach
    if number not in _refused:
        log.info(
            "issue #%d: %s (%s)",
            number,
            "starting" if detach else "sending",
            why,
            extra={"issue": number},
        )
    try:
        with make_backend(settings) as backend:  # closed when the send ends, however it ends
            report = send_issue(
                get_engine(), number, settings, backend, stop=stopping, detach=detach
            )
    except NewsletterError as exc:
        said = str(exc) if f"issue #{number}" in str(exc) else f"issue #{number}: {exc}"
        if _refused.get(number) != said:
            log.error("%s", said, extra={"issue": number})
        _refused[number] = said
        return None
    _refused.pop(number, None)
    if detach and report.outcome != "already sent":
        log.info(
            "issue #%d: %s, %d to send; left to `newsletter worker` (NEWSLETTER_SEND_DETACH)",
            number,
            report.status,
            report.queued,
        )
        return report
    log.info(
        "issue #%d: %s; %d accepted, %d unknown, %d failed, %d skipped, %d still queued",
        number,
        report.status,
        report.accepted,
        report.unknown,
        report.failed,
        report.skipped,
        report.queued,
        extra=report.log_fields(),
    )
    return report


def due_week(now: datetime) -> str:
    """The ISO week of the run being made: the latest scheduled fire time at or before
    `now` (a run caught up after midnight still builds the week it was due in)."""
    settings = get_settings()
    trigger = weekly_trigger(settings)
    start = now - settings.misfire_grace - timedelta(minutes=1)
    due, fire = now, trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= now:
        due, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return week_of(due.date())


def weekly_job(*, manual: bool = False) -> None:
    """Reload content and build the week's issue; with NEWSLETTER_AUTO_SEND, approve it (in
    the same transaction) and send it, else leave it for `newsletter issue approve`.
    `manual` (`newsletter scheduler --once`) builds the current week.

    A week whose issue was cancelled is not built again: cancelling is an editor's decision
    that the week sends nothing, undone only by `newsletter issue build --week W`. An issue
    the checks refuse to approve stays a draft; the refusal is logged once."""
    settings = get_settings()
    engine = get_engine()
    now = local_now()
    week = week_of(now.date()) if manual else due_week(now)
    try:
        with session_scope(engine, immediate=True) as session:
            loaded = load_and_withdraw(session, settings.content_dir, settings).report
        log.info(
            "content: %d new, %d updated, %d unchanged comparisons",
            len(loaded.created),
            len(loaded.updated),
            len(loaded.unchanged),
        )
    except ContentError as exc:
        for problem in exc.problems:
            log.error("content: %s", problem)
        log.error("content: not reloaded (%s); building from what is loaded", exc)
    try:
        with session_scope(engine, immediate=True) as session:
            built = _build_week(session, week, settings)
    except NothingToPick as exc:
        log.warning("%s; nothing is sent this week", exc)
        return
    if built is None:
        return
    n = built.number
    if built.approved:
        log.info(
            "issue #%d for %s built and approved automatically",
            n,
            week,
            extra={"issue": n, "week": week},
        )
        if not stopping.is_set():
            _send(n, "approved automatically")
        return
    log.info("issue #%d for %s built (draft)", n, week, extra={"issue": n, "week": week})
    if built.refusal is not None:  # the draft waits; the tick never sends a draft
        log.error("%s", built.refusal, extra={"issue": n})
    log.info("issue #%d awaits `newsletter issue approve %d`", n, n)


@dataclass(frozen=True)
class _Built:
    """The issue the weekly job built, whether it approved it, and why not if it tried."""

    number: int
    approved: bool
    refusal: str | None = None


def _build_week(session: Session, week: str, settings: Settings) -> _Built | None:
    """Build `week`'s issue and, with auto-send, approve it in the same transaction. None
    (logged) when there is nothing to do: the week's issue exists, or it was cancelled."""
    if issue_for_week(session, week) is None:
        cancelled = cancelled_for_week(session, week)
        if cancelled:
            log.info(
                "week %s was cancelled (issue #%d); only `newsletter issue build --week %s` "
                "rebuilds it",
                week,
                cancelled[-1].number,
                week,
            )
            return None
    built = build_issue(session, week, settings)
    number = built.issue.number
    if not built.created:
        log.info(
            "week %s already taken: issue #%d exists (%s); nothing to do",
            week,
            number,
            built.issue.status,
        )
        return None
    if not settings.auto_send:
        return _Built(number, approved=False)
    try:
        with session.begin_nested():  # a refusal leaves the draft as built
            approve_issue(session, number, settings, AUTO_APPROVED)
    except IssueNotReady as exc:
        return _Built(number, approved=False, refusal=str(exc))
    return _Built(number, approved=True)


def dispatch_job() -> None:
    """Every tick (and once at start): send what should be going out and is not.

    - approved issues (by an editor, or by the weekly job with NEWSLETTER_AUTO_SEND, which
      approves in the build's transaction: a process that died after the build leaves an
      approved issue, which this sends);
    - sends a crash left in `sending`, and sends paused by a stop (a restart, a signal) or
      by retries running out (a refused key waits for an operator).

    Never a draft: nobody approved it, or an editor unapproved it to change it.
    With NEWSLETTER_SEND_DETACH the tick only starts (or resumes) sends and leaves them to
    the workers: a send in `sending` is theirs, so the tick does not join it.
    A send that starts passes the gate first (`publishing.gate`): an issue whose checks
    find an error, or whose snapshot is not the approved one, is logged and left alone.
    """
    with session_scope(get_engine()) as session:
        rows = session.execute(  # the columns it decides on, not the snapshots
            sa_select(
                col(Issue.number),
                col(Issue.status),
                col(Issue.status_reason),
                col(Issue.pause_cause),
            )
            .where(col(Issue.status).in_([status.value for status in DISPATCHED]))
            .order_by(col(Issue.number))
        ).all()
    for number, status, reason, cause in rows:
        if stopping.is_set():
            return
        if status == IssueStatus.PAUSED and not resumes_by_itself(cause):
            continue
        if status == IssueStatus.SENDING and get_settings().send_detach:
            continue
        why = {
            IssueStatus.APPROVED: "approved",
            IssueStatus.SENDING: "resuming an interrupted send",
            IssueStatus.PAUSED: f"resuming a paused send ({reason})",
        }[IssueStatus(status)]
        _send(number, why)


def housekeeping_job() -> None:
    """Daily: drop pending subscribers who never confirmed, return those who had opted out
    before to that status (an opt-out is never tidied away), drop the desk's old failed
    sign-ins and sessions past their lifetime, and remind the operator of pending
    subscribers nobody has asked to confirm."""
    days = get_settings().pending_expiry_days
    with session_scope(get_engine(), immediate=True) as session:
        expired = expire_pending(session, older_than=timedelta(days=days))
    log.info(
        "housekeeping: %d pending subscriber(s) unconfirmed after %d days removed, "
        "%d returned to their earlier opt-out",
        expired.removed,
        days,
        expired.restored,
    )
    settings = get_settings()
    policy = LockPolicy(settings.signin_max_failures, settings.signin_lock)
    with session_scope(get_engine(), immediate=True) as session:
        tidied = tidy_accounts(session, policy, utcnow())
    log.info(
        "housekeeping: %d old failed sign-in(s) and %d desk session(s) older than %d days removed",
        tidied.failures,
        tidied.sessions,
        SESSION_LIFETIME.days,
    )
    with session_scope(get_engine()) as session:
        waiting = count_due_confirmations(session, valid_for=CONFIRM_VALID_FOR)
    if waiting:
        log.warning(
            "housekeeping: %d pending subscriber(s) have no confirmation email to answer; "
            "`newsletter subscribers confirm-pending` sends it",
            waiting,
        )
