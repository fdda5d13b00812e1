"""The weekly issue: which comparisons it holds (the pick rule) and its life before sending.

The pick rule, in one place: comparisons not yet in any issue and not withdrawn (their
file was deleted), published no later than the Sunday that ends the issue's ISO week and no
earlier than four weeks before its Monday, newest first (then by slug), at most
`comparisons_per_issue`.

A week has one *live* issue at most: a cancelled issue stays in the history and frees its
week, so every lookup by week here ignores cancelled issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, exists, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from newsletter.core.errors import Conflict, NewsletterError, NotFound
from newsletter.core.settings import Settings
from newsletter.core.sql import row_id
from newsletter.publishing import lifecycle
from newsletter.publishing.gate import ensure_fit_to_send, snapshot_hash
from newsletter.publishing.lifecycle import EDITABLE, UNAPPROVABLE, UPCOMING, IssueStatus
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.publishing.render import Snapshot, VoteCounter, render_issue
from newsletter.publishing.votes import count_votes
from newsletter.publishing.weeks import parse_week, week_bounds

LOOKBACK = timedelta(weeks=4)


class IssueError(NewsletterError):
    """An issue operation that cannot be done; the message says why. Raised as one of the
    kinds below, so callers can catch the family or decide by kind."""


class IssueNotFound(IssueError, NotFound):
    """No issue has that number (or week)."""


class NothingToPick(IssueError, NotFound):
    """The week has no comparison left to put in an issue: there is nothing to build from,
    which is not a clash with another writer."""


class IssueConflict(IssueError, Conflict):
    """The issue's status forbids the operation now (its snapshot is frozen, it cannot be
    approved from where it is), or another process built the week at the same moment."""


@dataclass(frozen=True)
class PickWindow:
    week: str
    earliest: date
    latest: date


def pick_window(week: str) -> PickWindow:
    monday, sunday = week_bounds(week)
    return PickWindow(week=parse_week(week), earliest=monday - LOOKBACK, latest=sunday)


def pick_comparisons(session: Session, week: str, limit: int) -> list[Comparison]:
    """The week's comparisons by the documented rule (see the module docstring)."""
    window = pick_window(week)
    already = exists().where(col(IssueComparison.comparison_id) == Comparison.id)
    return list(
        session.exec(
            select(Comparison)
            .where(~already)
            .where(col(Comparison.withdrawn_at).is_(None))
            .where(Comparison.published >= window.earliest)
            .where(Comparison.published <= window.latest)
            .order_by(col(Comparison.published).desc(), col(Comparison.slug))
            .limit(limit)
        )
    )


def issue_for_week(session: Session, week: str) -> Issue | None:
    """The week's live issue, if any: a cancelled one freed the week and is not it."""
    return session.exec(
        select(Issue)
        .where(Issue.week == parse_week(week))
        .where(col(Issue.status) != IssueStatus.CANCELLED.value)
    ).first()


def cancelled_for_week(session: Session, week: str) -> list[Issue]:
    """The week's cancelled issues, oldest first: history, never the week's issue."""
    return list(
        session.exec(
            select(Issue)
            .where(Issue.week == parse_week(week))
            .where(col(Issue.status) == IssueStatus.CANCELLED.value)
            .order_by(col(Issue.number))
        )
    )


def week_issue(session: Session, week: str) -> Issue:
    """The live issue of an ISO week (IssueNotFound when it was not built, or cancelled)."""
    issue = issue_for_week(session, week)
    if issue is None:
        week = parse_week(week)
        cancelled = ", ".join(f"#{i.number}" for i in cancelled_for_week(session, week))
        was = f" (issue {cancelled} was cancelled)" if cancelled else ""
        raise IssueNotFound(f"there is no issue for {week}{was}; build it first")
    return issue


def get_issue(session: Session, number: int) -> Issue:
    issue = session.exec(select(Issue).where(Issue.number == number)).first()
    if issue is None:
        raise IssueNotFound(f"there is no issue #{number}")
    return issue


@dataclass(frozen=True)
class Built:
    issue: Issue
    created: bool


def build_issue(
    session: Session, week: str, settings: Settings, count_votes: VoteCounter = count_votes
) -> Built:
    """Create and render the week's issue, or return the live one that exists.

    One live issue per week is a unique index (`uq_issue_live_week`, cancelled issues
    left out), so two processes building the same week at once end with one issue; the
    loser gets the winner's. A cancelled issue of the week stays as it is, under its own
    number, and the new issue takes the next one.
    """
    week = parse_week(week)
    existing = issue_for_week(session, week)
    if existing is not None:
        return Built(existing, created=False)
    picked = pick_comparisons(session, week, settings.comparisons_per_issue)
    if not picked:
        window = pick_window(week)
        raise NothingToPick(
            f"no issue for {week}: no comparison published between {window.earliest} and "
            f"{window.latest} is left that is not already in an issue"
        )
    number = (session.exec(select(func.max(Issue.number))).one() or 0) + 1
    issue = Issue(number=number, week=week, status=IssueStatus.DRAFT)
    try:
        with session.begin_nested():
            session.add(issue)
            session.flush()
            session.add_all(
                IssueComparison(
                    issue_id=row_id(issue.id), comparison_id=row_id(c.id), position=position
                )
                for position, c in enumerate(picked)
            )
            session.flush()
    except IntegrityError:
        # Another process built this week (or took this number, or one of these
        # comparisons) first. If it built this week, its issue is the week's live one.
        existing = issue_for_week(session, week)
        if existing is not None:
            return Built(existing, created=False)
        raise IssueConflict(f"could not create the issue for {week}; try again") from None
    render_issue(session, issue, settings, count_votes)
    session.flush()
    return Built(issue, created=True)


def rerender_issue(
    session: Session, issue: Issue, settings: Settings, count_votes: VoteCounter = count_votes
) -> Snapshot:
    """Refresh a draft's snapshot after an edit. The status check is a conditional UPDATE,
    which also locks the row until commit, so neither an approval nor a sender can move the
    issue on half-way through the re-render. Approving (or holding) freezes the snapshot:
    what the editor approved is what goes out, and changing it is the explicit step
    `unapprove`."""
    if not lifecycle.lock_while(session, row_id(issue.id), EDITABLE):
        session.refresh(issue)
        raise frozen_error(issue)
    return render_issue(session, issue, settings, count_votes)


def frozen_error(issue: Issue) -> IssueConflict:
    """Why `issue` cannot be re-rendered, and what to do about it."""
    n = issue.number
    if issue.status in UNAPPROVABLE:
        return IssueConflict(
            f"issue #{n} is {issue.status}, so its snapshot is frozen; run "
            f"`newsletter issue unapprove {n}` to change it (then check and approve it again)"
        )
    if issue.status == IssueStatus.CANCELLED:
        return IssueConflict(f"issue #{n} is cancelled; there is nothing to re-render")
    return IssueConflict(
        f"issue #{n} is {issue.status}; its snapshot is frozen once sending starts"
    )


# --- The editor's decisions before sending ---------------------------------------------------
# Each action names its target and the statuses it acts from; `lifecycle.TRANSITIONS`
# must allow every one of those moves (the compare-and-set checks). Approving is apart
# (`approve_issue`): it runs the checks and records what was approved.

APPROVABLE = frozenset({IssueStatus.DRAFT, IssueStatus.HELD})

ACTIONS: dict[str, tuple[IssueStatus, frozenset[IssueStatus]]] = {
    "hold": (IssueStatus.HELD, frozenset({IssueStatus.DRAFT, IssueStatus.APPROVED})),
    "cancel": (IssueStatus.CANCELLED, UPCOMING),
    "unapprove": (IssueStatus.DRAFT, UNAPPROVABLE),
}


def _refusal(issue: Issue, action: str, allowed: frozenset[IssueStatus]) -> IssueConflict:
    can = ", ".join(sorted(s.value for s in allowed))
    return IssueConflict(
        f"cannot {action} issue #{issue.number}: it is {issue.status} (only {can} issues can be)"
    )


def move_issue(session: Session, number: int, action: str, reason: str | None = None) -> Issue:
    """hold, cancel or unapprove, as a compare-and-set: a scheduler that starts sending at
    the same moment wins or loses cleanly, never half-way. Cancelling releases the issue's
    comparisons so a later week can pick them; unapproving forgets the approved hash, so
    the draft must be approved again before it is sent as approved. (Approving runs the
    checks first: `approve_issue`.)"""
    target, allowed = ACTIONS[action]
    issue = get_issue(session, number)
    moved = lifecycle.move(session, row_id(issue.id), allowed, target, reason=reason)
    session.refresh(issue)
    if not moved:
        if issue.status == target:
            return issue
        raise _refusal(issue, action, allowed)
    if target == IssueStatus.CANCELLED:
        session.execute(delete(IssueComparison).where(col(IssueComparison.issue_id) == issue.id))
    if action == "unapprove":
        issue.approved_hash = None
        session.add(issue)
        session.flush()
    return issue


def approve_issue(
    session: Session, number: int, settings: Settings, reason: str | None = None
) -> Issue:
    """Approve a draft or held issue: the editor's checks must find no error (`gate`), and
    the snapshot's hash is recorded, so a send refuses any other snapshot. The row is locked
    before the checks read it, so what was checked is what was approved. Approving an
    approved issue changes nothing."""
    target, allowed = IssueStatus.APPROVED, APPROVABLE
    issue = get_issue(session, number)
    if not lifecycle.lock_while(session, row_id(issue.id), allowed):
        session.refresh(issue)
        if issue.status == target:
            return issue
        raise _refusal(issue, "approve", allowed)
    session.refresh(issue)
    ensure_fit_to_send(session, issue, settings)
    approved = snapshot_hash(issue)
    if not lifecycle.move(session, row_id(issue.id), allowed, target, reason=reason):
        raise IssueConflict(f"issue #{number} changed while it was approved; try again")
    session.refresh(issue)
    issue.approved_hash = approved
    session.add(issue)
    session.flush()
    return issue
