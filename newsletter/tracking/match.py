"""Which send an event names: its issue by number, its recipient in the ledger.

An event is matched only when the ledger has a `send_recipient` row for its issue and
subscriber AND the subscriber still exists: the ids come from the request's custom_args,
so a test send, another system on the same account or a forgotten subscriber names
nothing we may link a row to (a forgotten subscriber's id would also fail the foreign key).

Everything an event batch names is read in a few statements: the issues in one, the
recipients of each issue in chunks by primary key, with their subscriber's status and
their `recipient_activity` row joined in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlmodel import Session

from newsletter.core.sql import table_of
from newsletter.publishing.models import Issue
from newsletter.tracking.driver import IN_SIZE, Driver
from newsletter.tracking.states import COLUMNS, TIMES, Activity
from subscribers.models import Subscriber

CHUNK = 500
"""Ids per IN (...): well under SQLite's limit on bound parameters."""

T = TypeVar("T")

_issue = table_of(Issue)
_subscriber = table_of(Subscriber)


@dataclass(slots=True)
class Known:
    """A recipient an event names, as the database has it now."""

    batch_seq: int
    ledger_state: str  # send_recipient.state
    status: str  # the subscriber's status
    email: str  # the subscriber's address: an event about another address is not theirs
    activity: Activity


@dataclass(frozen=True, slots=True)
class IssueRef:
    id: int
    number: int
    status: str


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def issues_by_number(session: Session, numbers: Collection[int]) -> dict[int, int]:
    """Issue number -> id, for the numbers that name an issue."""
    found: dict[int, int] = {}
    for part in chunks(sorted(numbers)):
        rows = session.connection().execute(
            select(_issue.c.number, _issue.c.id).where(_issue.c.number.in_(part))
        )
        found.update((int(number), int(issue_id)) for number, issue_id in rows)
    return found


def issue_refs(session: Session, issue_ids: Collection[int]) -> dict[int, IssueRef]:
    """The issues' numbers and statuses as they are now (read after they were locked)."""
    refs: dict[int, IssueRef] = {}
    for part in chunks(sorted(issue_ids)):
        rows = session.connection().execute(
            select(_issue.c.id, _issue.c.number, _issue.c.status).where(_issue.c.id.in_(part))
        )
        for issue_id, number, status in rows:
            refs[int(issue_id)] = IssueRef(int(issue_id), int(number), str(status))
    return refs


_COLUMNS = "r.subscriber_id, r.batch_seq, r.state, s.status, s.email, {row}, " + ", ".join(
    f"a.{name}" for name in COLUMNS
)
"""`{row}`: whether the recipient has an activity row (SQLite: its rowid, which the write
of the row updates it by; PostgreSQL: its issue id)."""
_JOINS = (
    " JOIN subscriber s ON s.id = r.subscriber_id LEFT JOIN recipient_activity a"
    " ON a.issue_id = r.issue_id AND a.subscriber_id = r.subscriber_id"
)
_RECIPIENTS = {
    # SQLite: one placeholder per id. PostgreSQL: one array, each id looked up on its own
    # (LATERAL ... LIMIT 1: never flattened into a join), so the plan is three index
    # lookups per id whatever the statistics say; a join planned on the statistics of a
    # send that just started (not analysed yet) would read the whole issue every POST.
    True: f"SELECT {_COLUMNS.format(row='a.rowid')} FROM send_recipient r{_JOINS}"  # noqa: S608
    " WHERE r.issue_id = ? AND r.subscriber_id IN ({marks})",
    False: "SELECT x.* FROM unnest(%s::integer[]) AS w(id) CROSS JOIN LATERAL"  # noqa: S608
    f" (SELECT {_COLUMNS.format(row='a.issue_id')} FROM send_recipient r{_JOINS}"
    " WHERE r.issue_id = %s AND r.subscriber_id = w.id LIMIT 1) AS x",
}


def same_address(event_email: str, known: Known) -> bool:
    """Whether the event is about the address the subscriber has: the ids come from custom
    args any system on the same account can send (a staging copy, an old export), so an
    event about someone else's address never changes this subscriber."""
    return event_email.strip().lower() == known.email.lower()


def lock_subscribers(session: Session, subscriber_ids: Collection[int]) -> None:
    """PostgreSQL: lock these subscribers' rows, in id order, until commit, before their
    status or soft-bounce history is read: two POSTs about one subscriber (a bounce on one
    issue, an unsubscribe on another) then decide one after the other, on what the other
    wrote. SQLite's BEGIN IMMEDIATE already serialises writers."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for part in chunks(sorted(subscriber_ids)):
        session.connection().execute(
            select(_subscriber.c.id)
            .where(_subscriber.c.id.in_(part))
            .order_by(_subscriber.c.id)
            .with_for_update()
        )


def known_recipients(driver: Driver, wanted: dict[int, set[int]]) -> dict[tuple[int, int], Known]:
    """(issue id, subscriber id) -> Known, for each pair in `wanted` (issue id -> subscriber
    ids) that the ledger has and whose subscriber exists. Read by primary key, through the
    driver (a thousand rows a POST)."""
    found: dict[tuple[int, int], Known] = {}
    times = [i for i, name in enumerate(COLUMNS) if name in TIMES]
    read_time = driver.read_time
    for issue_id, subscriber_ids in sorted(wanted.items()):
        for part in chunks(sorted(subscriber_ids), IN_SIZE):
            if driver.sqlite:
                sql = _RECIPIENTS[True].format(marks=driver.marks(IN_SIZE))
                params: list[object] = [issue_id, *driver.padded(part)]
            else:
                sql, params = _RECIPIENTS[False], [list(part), issue_id]
            for subscriber_id, seq, state, status, email, stored, *values in driver.rows(
                sql, params
            ):
                if stored is None:
                    activity = Activity()
                else:
                    for i in times:
                        if values[i] is not None:
                            values[i] = read_time(values[i])
                    activity = Activity(*values)
                    activity.soft_failed = bool(activity.soft_failed)
                    activity.stored = True
                    activity.rowid = stored if driver.sqlite else None
                found[(issue_id, subscriber_id)] = Known(seq, state, status, email, activity)
    return found
