"""Each event stored once: `(provider, event_id)` is unique in `delivery_event`.

SendGrid retries a POST it got no 2xx for, for up to a day, and may repeat an event within
one POST: an event is applied only if this POST is the one that stored it. The insert is
one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING, so the database itself says which
events are new, and two POSTs racing with the same event store (and apply) it once.

The address is not stored: a row links to its subscriber (the foreign key cascades when
the subscriber is forgotten) and carries nothing personal of its own, and the token of a
click on one of the service's own links is cut off (it is a credential).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from newsletter.delivery.events import DeliveryEvent
from newsletter.tracking.driver import IN_SIZE, Driver
from newsletter.tracking.match import chunks
from newsletter.tracking.models import TEXT_MAX, URL_MAX

EVENT_ID_MAX = 100


def event_key(event: DeliveryEvent) -> tuple[str, str]:
    """(provider, event id) as stored: an id too long for the column is kept as its hash,
    so two long ids never collide by being cut to the same prefix."""
    event_id = event.event_id
    if len(event_id) > EVENT_ID_MAX:
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    return event.provider[:20], event_id


def unique_events(events: Sequence[DeliveryEvent]) -> dict[tuple[str, str], DeliveryEvent]:
    """The events of a POST by their key, each once (the first of two with one id), in the
    given order."""
    unique: dict[tuple[str, str], DeliveryEvent] = {}
    for event in events:
        unique.setdefault(event_key(event), event)
    return unique


COLUMNS = (
    "provider",
    "event_id",
    "type",
    "provider_type",
    "occurred_at",
    "received_at",
    "issue_id",
    "subscriber_id",
    "batch_seq",
    "bounce_kind",
    "reason",
    "classification",
    "smtp_status",
    "url",
    "machine_open",
    "user_agent",
)
"""The columns of a `delivery_event` row as `event_row` lays them out."""
TYPES = (
    *("text",) * 4,
    *("timestamptz",) * 2,
    *("integer",) * 3,
    *("text",) * 5,
    "boolean",
    "text",
)
"""Their PostgreSQL types, for the arrays PostgreSQL takes them in."""


def event_row(
    driver: Driver,
    key: tuple[str, str],
    event: DeliveryEvent,
    *,
    received_at: object,
    issue_id: int | None,
    subscriber_id: int | None,
    batch_seq: int | None,
    url: str,
) -> tuple[Any, ...]:
    """The `delivery_event` row of an event, in `COLUMNS` order (ids None when it names no
    send we know); `received_at` as `driver.time` gives it."""
    kind = event.bounce_kind
    return (
        *key,
        event.type._value_,
        event.provider_type[:50],
        driver.time(event.occurred_at),
        received_at,
        issue_id,
        subscriber_id,
        batch_seq,
        kind._value_ if kind else None,
        event.reason[:TEXT_MAX] or None,  # empty text is stored as NULL
        event.classification[:100] or None,
        event.smtp_status[:20] or None,
        url[:URL_MAX] or None,
        event.machine_open,
        event.user_agent[:TEXT_MAX] or None,
    )


def store_new(driver: Driver, rows: Sequence[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """Insert the rows, skipping any already stored; the (provider, event id) of those this
    call stored. Rows go in key order, so two POSTs holding the same events take the
    unique index's locks in the same order (PostgreSQL) and do not deadlock."""
    ordered: list[tuple[Any, ...]] = sorted(rows, key=_key)
    if driver.sqlite:
        return _store_new_sqlite(driver, ordered)
    stored = driver.insert(
        "delivery_event",
        COLUMNS,
        TYPES,
        ordered,
        "ON CONFLICT (provider, event_id) DO NOTHING RETURNING provider, event_id",
    )
    return {(str(provider), str(event_id)) for provider, event_id in stored}


def _store_new_sqlite(driver: Driver, ordered: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """SQLite: read which keys are stored already, then insert the others row by row (a
    prepared single-row INSERT beats one multi-row INSERT ... RETURNING by a third). Exact
    because SQLite has one writer: under the transaction's write lock nobody else stores
    an event between the read and the insert (a deferred transaction that another writer
    overtook fails on its first write instead). ON CONFLICT stays, as a second guard."""
    stored: set[tuple[str, str]] = set()
    by_provider: dict[str, list[str]] = {}
    for row in ordered:
        by_provider.setdefault(row[0], []).append(row[1])
    for provider, event_ids in by_provider.items():
        for part in chunks(event_ids, IN_SIZE):
            found = driver.rows(
                "SELECT event_id FROM delivery_event WHERE provider = ? AND event_id IN "  # noqa: S608
                + driver.in_list(),
                [provider, *driver.padded(part)],
            )
            stored.update((provider, str(event_id)) for (event_id,) in found)
    new = [row for row in ordered if _key(row) not in stored]
    driver.write(
        "delivery_event", COLUMNS, TYPES, new, "ON CONFLICT (provider, event_id) DO NOTHING"
    )
    return {_key(row) for row in new}


_key = itemgetter(0, 1)  # (provider, event id) of a row
