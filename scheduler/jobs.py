"""The jobs the scheduler runs. Each is a plain function with no arguments (APScheduler's
persistent store keeps a reference to it, not the function) that reads the one settings
object, and logs one line per event.

Exactly once does not come from APScheduler (3.x cannot coordinate processes): it comes
from the database. One live issue per ISO week is a unique index, the move to `sending`
is a compare-and-set, and the ledger hands each batch to one sender.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import col

from newsletter.core.clock import utcnow
from newsletter.core.database import get_engine, session_scope
from newsletter.core.settings import get_settings
from newsletter.delivery.registry import make_backend
from newsletter.publishing.content import ContentError
from newsletter.publishing.gate import IssueNotReady
from newsletter.publishing.issues import NothingToPick, build_issue
from newsletter.publishing.lifecycle import DISPATCHED, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.publishing.schedule import weekly_trigger
from newsletter.publishing.weeks import week_of
from newsletter.publishing.withdrawal import load_and_withdraw
from newsletter.sending import SendReport, resumes_by_itself, send_issue
from subscribers.housekeeping import expire_pending

log = logging.getLogger("scheduler")

stopping = threading.Event()
"""Set on SIGINT/SIGTERM: a send in progress stops between batches and stays resumable."""


def local_now() -> datetime:
    return utcnow().astimezone(ZoneInfo(get_settings().timezone))


_refused: dict[int, str] = {}
"""The refusal last logged per issue: a tick that meets the same one again says nothing."""


def _send(number: int, why: str) -> SendReport | None:
    """Send issue `number`; an issue the gate refuses (checks in error, a snapshot that is
    not the approved one) is logged once, not sent, and does not stop the other issues."""
    settings = get_settings()
    if number not in _refused:
        log.info("issue #%d: sending (%s)", number, why)
    try:
        with make_backend(settings) as backend:  # closed when the send ends, however it ends
            report = send_issue(get_engine(), number, settings, backend, stop=stopping)
    except IssueNotReady as exc:
        if _refused.get(number) != str(exc):
            log.error("%s", exc)
        _refused[number] = str(exc)
        return None
    _refused.pop(number, None)
    log.info(
        "issue #%d: %s; %d accepted, %d unknown, %d failed, %d skipped, %d still queued",
        number,
        report.status,
        report.accepted,
        report.unknown,
        report.failed,
        report.skipped,
        report.queued,
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
    """Reload content, build the week's issue, then send it or leave it for approval.
    `manual` (`newsletter scheduler --once`) builds the current week."""
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
            built = build_issue(session, week, settings)
            number, status = built.issue.number, built.issue.status
    except NothingToPick as exc:
        log.warning("%s; nothing is sent this week", exc)
        return
    if not built.created:
        log.info(
            "week %s already taken: issue #%d exists (%s); nothing to do", week, number, status
        )
        return
    log.info("issue #%d for %s built (%s)", number, week, status)
    if settings.auto_send and not stopping.is_set():
        _send(number, "NEWSLETTER_AUTO_SEND is on")
    else:
        log.info("issue #%d awaits `newsletter issue approve %d`", number, number)


def dispatch_job() -> None:
    """Every tick (and once at start): send what should be going out and is not.

    - approved issues;
    - sends a crash left in `sending`, and sends paused by a stop (a restart, a signal) or
      by retries running out (a refused key waits for an operator);
    - with NEWSLETTER_AUTO_SEND, this week's draft, in case the process that built it died
      before it started sending.

    A send that starts passes the gate first (`publishing.gate`): an issue whose checks
    find an error, or whose snapshot is not the approved one, is logged and left alone.
    """
    settings = get_settings()
    this_week = week_of(local_now().date())
    with session_scope(get_engine()) as session:
        rows = session.execute(  # the columns it decides on, not the snapshots
            sa_select(
                col(Issue.number),
                col(Issue.status),
                col(Issue.status_reason),
                col(Issue.pause_cause),
                col(Issue.week),
            )
            .where(col(Issue.status).in_([status.value for status in DISPATCHED]))
            .order_by(col(Issue.number))
        ).all()
    for number, status, reason, cause, week in rows:
        if stopping.is_set():
            return
        if status == IssueStatus.PAUSED and not resumes_by_itself(cause):
            continue
        if status == IssueStatus.DRAFT and not (settings.auto_send and week == this_week):
            continue
        why = {
            IssueStatus.APPROVED: "approved",
            IssueStatus.SENDING: "resuming an interrupted send",
            IssueStatus.PAUSED: f"resuming a paused send ({reason})",
            IssueStatus.DRAFT: "NEWSLETTER_AUTO_SEND is on",
        }[IssueStatus(status)]
        _send(number, why)


def housekeeping_job() -> None:
    """Daily: drop pending subscribers who never confirmed."""
    days = get_settings().pending_expiry_days
    with session_scope(get_engine(), immediate=True) as session:
        expired = expire_pending(session, older_than=timedelta(days=days))
    log.info("housekeeping: %d pending subscriber(s) older than %d days expired", expired, days)
