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
from typing import Any

from newsletter.delivery.events import DeliveryEvent
from newsletter.tracking.driver import Driver
from newsletter.tracking.models import TEXT_MAX, URL_MAX

EVENT_ID_MAX = 100


def event_key(event: DeliveryEvent) -> tuple[str, str]:
    """(provider, event id) as stored: an id too long for the column is kept as its hash,
    so two long ids never collide by being cut to the same prefix."""
    event_id = event.event_id
    if len(event_id) > EVENT_ID_MAX:
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    return event.provider[:20], event_id


def unique_events(events: Sequence[DeliveryEvent]) -> list[DeliveryEvent]:
    """The events of a POST, each once (the first of two with one id), in the given order."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for event in events:
        key = event_key(event)
        if key not in seen:
            seen.add(key)
            unique.append(event)
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
INSERT_ROWS = 500
"""Rows per INSERT: 8,000 parameters, under SQLite's limit (32,766)."""


def _cut(text: str, width: int) -> str | None:
    return text[:width] if text else None


def event_row(
    driver: Driver,
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
    provider, event_id = event_key(event)
    return (
        provider,
        event_id,
        event.type.value,
        event.provider_type[:50],
        driver.time(event.occurred_at),
        received_at,
        issue_id,
        subscriber_id,
        batch_seq,
        event.bounce_kind.value if event.bounce_kind else None,
        _cut(event.reason, TEXT_MAX),
        _cut(event.classification, 100),
        _cut(event.smtp_status, 20),
        _cut(url, URL_MAX),
        event.machine_open,
        _cut(event.user_agent, TEXT_MAX),
    )


def store_new(driver: Driver, rows: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """Insert the rows, skipping any already stored; the (provider, event id) of those this
    call stored. Rows go in key order, so two POSTs holding the same events take the
    unique index's locks in the same order (PostgreSQL) and do not deadlock."""
    rows.sort(key=_key)
    new: set[tuple[str, str]] = set()
    one = f"({driver.marks(len(COLUMNS))})"
    for start in range(0, len(rows), INSERT_ROWS):
        part = rows[start : start + INSERT_ROWS]
        sql = (
            f"INSERT INTO delivery_event ({', '.join(COLUMNS)}) VALUES "  # noqa: S608
            + ", ".join([one] * len(part))
            + " ON CONFLICT (provider, event_id) DO NOTHING RETURNING provider, event_id"
        )
        params = [value for row in part for value in row]
        new.update(
            (str(provider), str(event_id)) for provider, event_id in driver.rows(sql, params)
        )
    return new


def _key(row: tuple[Any, ...]) -> tuple[str, str]:
    return row[0], row[1]
