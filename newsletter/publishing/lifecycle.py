"""An issue's life, in one place: its statuses, the sets callers ask about, which move is
allowed, and the one compare-and-set every status change goes through.

Why one place: the editor (approve, hold, cancel), the sender (start, pause, finish) and
the scheduler all move the same row, often at the same moment. Each move is a conditional
UPDATE (`... WHERE status IN allowed`), so of two racing writers one wins and the other
learns it lost; and each move is checked against one table, so a new writer cannot invent
a path (say, `cancelled` back to `sending`) that nobody reviewed.

A paused issue also says why it paused (`PauseCause`), so deciding whether a pause ends by
itself never reads the human-facing `status_reason`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum

from sqlalchemy import column, select, table, update
from sqlmodel import Session

__all__ = [
    "DISPATCHED",
    "EDITABLE",
    "FINISHED",
    "FROZEN",
    "NOT_TO_BE_SENT",
    "PAUSED",
    "PUBLISHED",
    "REASON_MAX",
    "RUNNABLE",
    "SENDING",
    "STARTABLE",
    "TRANSITIONS",
    "UNAPPROVABLE",
    "UPCOMING",
    "WENT_OUT",
    "IllegalTransition",
    "IssueStatus",
    "PauseCause",
    "lock_while",
    "move",
    "status_of",
]

REASON_MAX = 1000  # the width of issue.status_reason

# The columns a move writes, as plain Core: `models` imports the enums below, so this
# module cannot import `models` back, and a compare-and-set needs no ORM object anyway.
_issue = table(
    "issue", column("id"), column("status"), column("status_reason"), column("pause_cause")
)


class IssueStatus(StrEnum):
    DRAFT = "draft"
    HELD = "held"
    APPROVED = "approved"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PauseCause(StrEnum):
    """Why a send is `paused`: stored in `issue.pause_cause`, decided on by the scheduler."""

    STOP_REQUESTED = "stop_requested"  # a signal, the scheduler shutting down
    INTERRUPTED = "interrupted"  # Ctrl-C or an exception through the run
    RETRIES_EXHAUSTED = "retries_exhausted"  # batches safe to retry ran out of attempts
    REFUSED = "refused"  # the provider refused the key, sender or message: every batch alike
    BACKEND_ERROR = "backend_error"  # the backend raised something that is not an answer
    DELIVERABILITY = "deliverability"  # events showed too many hard bounces or spam reports


# The named sets: ask by meaning, not by listing statuses.
EDITABLE = frozenset({IssueStatus.DRAFT})
"""Its snapshot and contents may still change. Approving freezes them (and so does holding:
a held issue waits to be approved as it stands); `unapprove` brings an issue back here."""
FROZEN = frozenset(IssueStatus) - EDITABLE
"""Nothing re-renders these: the snapshot is what the editor approved (or what went out)."""
UNAPPROVABLE = frozenset({IssueStatus.APPROVED, IssueStatus.HELD})
"""Frozen, but not yet sending: `unapprove` brings these back to a draft."""
UPCOMING = EDITABLE | UNAPPROVABLE
"""Not gone out, not cancelled: an issue an editor may still work on, hold or cancel."""
STARTABLE = frozenset({IssueStatus.DRAFT, IssueStatus.APPROVED})
"""A send may start from here (the move to `sending` snapshots the audience)."""
SENDING = frozenset({IssueStatus.SENDING})
PAUSED = frozenset({IssueStatus.PAUSED})
"""A send stopped part-way; sending again resumes it (the scheduler does, by its cause)."""
RUNNABLE = STARTABLE | SENDING | PAUSED
"""A send call will start, join or resume it (and the backend should get ready for it)."""
NOT_TO_BE_SENT = frozenset({IssueStatus.HELD, IssueStatus.CANCELLED})
"""An editor decided it must not go out: a send is refused."""
FINISHED = frozenset({IssueStatus.SENT, IssueStatus.FAILED})
"""Every batch came to an end."""
PUBLISHED = frozenset({IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT})
"""Shown on the public site: it has reached (some of) its readers."""
WENT_OUT = frozenset({IssueStatus.SENDING, IssueStatus.SENT})
"""Its week is done for the editor's preview: the next issue is next week's."""
DISPATCHED = frozenset({IssueStatus.APPROVED, IssueStatus.SENDING, IssueStatus.PAUSED})
"""What the scheduler looks at each tick (it decides per status and cause): never a draft,
which nobody approved (auto-send approves the issue it builds)."""

TRANSITIONS: Mapping[IssueStatus, frozenset[IssueStatus]] = {
    IssueStatus.DRAFT: frozenset(
        {IssueStatus.APPROVED, IssueStatus.HELD, IssueStatus.CANCELLED, IssueStatus.SENDING}
    ),
    IssueStatus.HELD: frozenset({IssueStatus.APPROVED, IssueStatus.CANCELLED, IssueStatus.DRAFT}),
    IssueStatus.APPROVED: frozenset(
        {IssueStatus.HELD, IssueStatus.CANCELLED, IssueStatus.SENDING, IssueStatus.DRAFT}
    ),
    IssueStatus.SENDING: frozenset({IssueStatus.PAUSED, IssueStatus.SENT, IssueStatus.FAILED}),
    IssueStatus.PAUSED: frozenset({IssueStatus.SENDING}),
    # A finished send with batches still open (there should be none) is sent again; and a
    # late answer about a batch that was declared unknown states the outcome again (its
    # reason, or sent <-> failed) from the ledger as it then is.
    IssueStatus.SENT: frozenset({IssueStatus.SENDING, IssueStatus.SENT, IssueStatus.FAILED}),
    IssueStatus.FAILED: frozenset({IssueStatus.SENDING, IssueStatus.SENT, IssueStatus.FAILED}),
    IssueStatus.CANCELLED: frozenset(),
}
"""Which status may move to which; anything else is a bug in the caller."""


class IllegalTransition(AssertionError):
    """A caller asked for a move the table does not allow: a programming error, never a
    user's mistake, so it is no `NewsletterError`."""


def _check(allowed: Collection[IssueStatus], to: IssueStatus, cause: PauseCause | None) -> None:
    if not allowed:
        raise IllegalTransition(f"a move to {to} needs at least one status to move from")
    wrong = sorted(str(status) for status in allowed if to not in TRANSITIONS[status])
    if wrong:
        raise IllegalTransition(f"{', '.join(wrong)} may not move to {to}")
    if (cause is not None) != (to == IssueStatus.PAUSED):
        raise IllegalTransition("a pause, and only a pause, has a cause")


def move(
    session: Session,
    issue_id: int,
    allowed: Collection[IssueStatus],
    to: IssueStatus,
    *,
    reason: str | None = None,
    cause: PauseCause | None = None,
) -> bool:
    """Compare-and-set: move issue `issue_id` to `to` if it is in one of `allowed` now.

    True if this call moved it; False if another writer got there first (the caller reads
    the status again to see what happened). The reason is stored (cut to fit) and the pause
    cause set with a pause and cleared by every other move.
    """
    _check(allowed, to, cause)
    result = session.exec(
        update(_issue)
        .where(_issue.c.id == issue_id)
        .where(_issue.c.status.in_([status.value for status in allowed]))
        .values(
            status=to.value,
            status_reason=reason[:REASON_MAX] if reason else None,
            pause_cause=cause.value if cause is not None else None,
        )
    )
    return int(result.rowcount) == 1


def status_of(session: Session, issue_id: int) -> IssueStatus:
    """The issue's status as the database has it now (not as a loaded object remembers)."""
    return IssueStatus(
        session.execute(select(_issue.c.status).where(_issue.c.id == issue_id)).one()[0]
    )


def lock_while(session: Session, issue_id: int, statuses: Collection[IssueStatus]) -> bool:
    """Lock the issue's row until commit if its status is one of `statuses`; True if so.

    A no-op UPDATE rather than SELECT ... FOR UPDATE: it locks on every database (SQLite
    included) and checks the status in the same statement, so no move can slip in between
    the check and the work that depends on it (a re-render must not race a send's start).
    """
    result = session.exec(
        update(_issue)
        .where(_issue.c.id == issue_id)
        .where(_issue.c.status.in_([status.value for status in statuses]))
        .values(status=_issue.c.status)
    )
    return int(result.rowcount) == 1
