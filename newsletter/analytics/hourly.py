"""Opens and clicks of one issue per hour over its first two days, from each recipient's
first open and first click (`recipient_activity`).

What is counted: recipients, by the hour of their *first* open of their own (a machine's
open, a privacy proxy fetching the images, is left out) and of their *first* counted
click. So the numbers are unique per hour and add up to the unique opens and clicks of
those hours; a reader who opens again the next day is not counted twice. Hours are clock
hours in UTC, the first being the hour the send started in (so it is usually partial).

How it stays fast with a million recipients: one statement of one count per hour and
kind, each a range of an index on `(issue_id, first_open_at)` (and `first_click_at`), so
only the index entries of the 48 hours are read, never a table row, and nothing is
sorted. Measured on SQLite with 1,000,000 recipients, 200,000 first opens and 86,400 first
clicks in the window: 23 ms and 8 ms; a GROUP BY over an hour expression of the same rows
takes 130 ms and 60 ms with the index, 430 ms and 300 ms without it (migration 0011 adds
the two indexes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, union_all
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from newsletter.publishing.issues import IssueNotFound
from newsletter.publishing.models import ISSUE_NUMBER_MAX, Issue
from newsletter.sending.ledger import IssueSend
from newsletter.tracking.models import RecipientActivity

HOURS = 48


@dataclass(frozen=True)
class HourCount:
    hour: int  # 0 is the hour the send started in
    starts: datetime  # UTC
    opens: int  # recipients whose first open of their own fell in this hour
    clicks: int  # recipients whose first counted click fell in this hour


@dataclass(frozen=True)
class HourlyActivity:
    """An issue's first opens and clicks per hour; no hours for an issue not sent."""

    hours: tuple[HourCount, ...] = ()

    @property
    def opens(self) -> int:
        return sum(h.opens for h in self.hours)

    @property
    def clicks(self) -> int:
        return sum(h.clicks for h in self.hours)


def first_hour(started_at: datetime) -> datetime:
    """The clock hour (UTC) a send that started at `started_at` started in."""
    at = started_at.replace(tzinfo=UTC) if started_at.tzinfo is None else started_at
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _count(column: Any, issue_id: int, start: datetime, end: datetime) -> Any:
    return (
        core_select(func.count())
        .where(col(RecipientActivity.issue_id) == issue_id, column >= start, column < end)
        .scalar_subquery()
    )


def hourly_activity(
    session: Session, issue_id: int, started_at: datetime | None, hours: int = HOURS
) -> HourlyActivity:
    """Issue `issue_id`'s first opens and clicks per hour for `hours` hours from the hour
    its send started in (`started_at`; None: not sent, no hours)."""
    if started_at is None or hours < 1:
        return HourlyActivity()
    first = first_hour(started_at)
    bounds = [first + timedelta(hours=h) for h in range(hours + 1)]
    found = _by_ranges(session, issue_id, bounds)
    return HourlyActivity(
        tuple(HourCount(h, bounds[h], *found.get(h, (0, 0))) for h in range(hours))
    )


Counts = dict[int, tuple[int, int]]
"""hour -> (first opens, first clicks), hours with neither left out."""


def _by_ranges(session: Session, issue_id: int, bounds: list[datetime]) -> Counts:
    """One statement of one count per hour and kind, each a range of the index."""
    opened, clicked = col(RecipientActivity.first_open_at), col(RecipientActivity.first_click_at)
    per_hour = [
        core_select(
            literal(h).label("hour"),
            _count(opened, issue_id, bounds[h], bounds[h + 1]).label("opens"),
            _count(clicked, issue_id, bounds[h], bounds[h + 1]).label("clicks"),
        )
        for h in range(len(bounds) - 1)
    ]
    found = session.connection().execute(union_all(*per_hour))
    return {int(h): (int(o), int(c)) for h, o, c in found if o or c}


def issue_hourly(session: Session, number: int) -> HourlyActivity:
    """Issue `number`'s hours (what its chart draws); IssueNotFound if there is none."""
    if not 1 <= number <= ISSUE_NUMBER_MAX:
        raise IssueNotFound(f"there is no issue #{number}")
    row = session.exec(
        select(Issue.id, IssueSend.started_at)
        .outerjoin(IssueSend, col(IssueSend.issue_id) == Issue.id)
        .where(Issue.number == number)
    ).first()
    if row is None or row[0] is None:
        raise IssueNotFound(f"there is no issue #{number}")
    return hourly_activity(session, row[0], row[1])
