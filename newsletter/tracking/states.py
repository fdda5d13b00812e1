"""One recipient of one issue as events describe them (`recipient_activity`), and what each
event changes in it and in the issue's counters.

The rules, one function each: a delivery state never moves to a lower `RANK` (events
arrive out of order; of two of the same rank the later one wins), each kind of engagement
counts the first time only, and every counter moves exactly when the row does: a
recipient counted `deferred` leaves that counter when it becomes `delivered`. Nothing here
reads or writes the database but `write_activity`, so the rules are plain to test.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter, itemgetter

from newsletter.delivery.events import BounceKind, EventType
from newsletter.tracking.driver import Driver
from newsletter.tracking.models import RANK, Delivery, Tally
from newsletter.tracking.tallies import TallyChanges

DELIVERY_OF: dict[EventType, Delivery] = {
    EventType.PROCESSED: Delivery.PROCESSED,
    EventType.DEFERRED: Delivery.DEFERRED,
    EventType.DELIVERED: Delivery.DELIVERED,
    EventType.BOUNCED: Delivery.BOUNCED,
    EventType.DROPPED: Delivery.DROPPED,
}
"""The events that move a recipient's delivery state, and to what."""

_COUNTER_OF: dict[tuple[str | None, str | None], Tally] = {
    (Delivery.PROCESSED, None): Tally.PROCESSED,
    (Delivery.DEFERRED, None): Tally.DEFERRED,
    (Delivery.DELIVERED, None): Tally.DELIVERED,
    (Delivery.BOUNCED, BounceKind.HARD): Tally.BOUNCED_HARD,
    (Delivery.BOUNCED, BounceKind.SOFT): Tally.BOUNCED_SOFT,
    (Delivery.DROPPED, None): Tally.DROPPED,
}


@dataclass(slots=True)
class Activity:
    """A `recipient_activity` row in memory; `stored` says whether the row exists yet and
    `changed` whether it must be written."""

    delivery: str | None = None
    delivery_at: datetime | None = None
    bounce_kind: str | None = None
    soft_failed: bool = False
    first_open_at: datetime | None = None
    machine_open_at: datetime | None = None
    first_click_at: datetime | None = None
    complained_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    stored: bool = False
    changed: bool = False
    rowid: int | None = None  # SQLite: the stored row's, which `write_activity` updates by

    def counter(self) -> Tally | None:
        """The delivery counter this recipient is counted in (None: not yet in any)."""
        return _COUNTER_OF.get((self.delivery, self.bounce_kind))


COLUMNS = tuple(f.name for f in fields(Activity) if f.name not in ("stored", "changed", "rowid"))
"""The columns of `recipient_activity` besides its key, in `Activity`'s order."""


def move_delivery(
    activity: Activity,
    state: Delivery,
    kind: BounceKind | None,
    at: datetime,
    issue_id: int,
    tallies: TallyChanges,
) -> bool:
    """Take delivery state `state` unless the recipient is in a higher-ranked one (or one of
    the same rank reported later, or hard-bounced); True if the row moved."""
    current = activity.delivery  # RANK's keys are str enums: the stored text finds them
    if RANK[state] < RANK[current]:  # type: ignore[index]
        return False
    hard = BounceKind.HARD._value_
    if activity.bounce_kind == hard and kind != BounceKind.HARD:
        return False  # a hard bounce is final: a later soft one or a drop does not undo it
    if (
        RANK[state] == RANK[current]  # type: ignore[index]
        and activity.delivery_at is not None
        and at < activity.delivery_at
    ):
        return False
    before = activity.counter()
    activity.delivery = state._value_
    activity.delivery_at = at
    if state == Delivery.BOUNCED:
        activity.bounce_kind = kind._value_ if kind else hard  # a bounce of no stated kind is final
    else:
        activity.bounce_kind = None
    activity.changed = True
    tallies.move(issue_id, before, activity.counter())
    return True


def mark_soft_failed(activity: Activity) -> bool:
    """This issue soft-bounced for the recipient; True if that is news."""
    if activity.soft_failed:
        return False
    activity.soft_failed = activity.changed = True
    return True


def first(
    activity: Activity,
    column: str,
    at: datetime,
    issue_id: int,
    tally: Tally,
    tallies: TallyChanges,
) -> bool:
    """Record the first time of an engagement (`column`): counted once, the earliest time
    kept when events arrive out of order. True if this is the recipient's first."""
    seen: datetime | None = getattr(activity, column)
    if seen is None:
        setattr(activity, column, at)
        activity.changed = True
        tallies.add(issue_id, tally)
        return True
    if at < seen:
        setattr(activity, column, at)
        activity.changed = True
    return False


def write_activity(driver: Driver, rows: Iterable[tuple[int, int, Activity]]) -> None:
    """Write the changed rows (new and old alike, in key order): PostgreSQL in one
    statement; SQLite updates a stored row by its rowid (no probe of the key's index) and
    inserts the new ones (the ON CONFLICT stays as a guard: under the write lock nobody
    else adds them between the read and the write)."""
    changed = sorted(
        (
            (issue_id, subscriber_id, activity)
            for issue_id, subscriber_id, activity in rows
            if activity.changed
        ),
        key=_pair,
    )
    if driver.sqlite:
        driver.many(
            _UPDATE,
            [
                (*_columns(driver, activity), activity.rowid)
                for _, _, activity in changed
                if activity.rowid is not None
            ],
        )
        changed = [row for row in changed if row[2].rowid is None]
    driver.write(
        "recipient_activity",
        ("issue_id", "subscriber_id", *COLUMNS),
        ("integer", "integer", *(_TYPES[name] for name in COLUMNS)),
        [
            (issue_id, subscriber_id, *_columns(driver, activity))
            for issue_id, subscriber_id, activity in changed
        ],
        "ON CONFLICT (issue_id, subscriber_id) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in COLUMNS),
    )


_UPDATE = (
    "UPDATE recipient_activity SET "  # noqa: S608
    + ", ".join(f"{name} = ?" for name in COLUMNS)
    + " WHERE rowid = ?"
)


TIMES = frozenset(name for name in COLUMNS if name.endswith("_at"))
_TIME_INDEXES = [i for i, name in enumerate(COLUMNS) if name in TIMES]
_TYPES = {
    name: "timestamptz" if name in TIMES else "boolean" if name == "soft_failed" else "text"
    for name in COLUMNS
}


_pair = itemgetter(0, 1)  # (issue id, subscriber id) of a row


_values = attrgetter(*COLUMNS)


def _columns(driver: Driver, activity: Activity) -> list[object]:
    values: list[object] = list(_values(activity))
    for i in _TIME_INDEXES:
        value = values[i]
        if value is not None:
            values[i] = driver.time(value)  # type: ignore[arg-type]
    return values
