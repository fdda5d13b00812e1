"""What the fast paths of ingestion must keep: concurrent POSTs store each event once and
apply it once, writes of any size land whole, reads of any length find everyone."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.events import DeliveryEvent, EventType
from newsletter.tracking import ingest
from newsletter.tracking.driver import IN_SIZE, SQLITE_BLOCK, Driver
from newsletter.tracking.match import known_recipients
from tests.newsletter.tracking.sends import add_subscribers, event, rows, send, tallies


def test_concurrent_posts_store_and_apply_each_event_once(
    engine: Engine, track_settings: Settings
) -> None:
    """Four threads post overlapping batches (SendGrid's retries racing the first try):
    every event is stored once and counted once, on SQLite and on PostgreSQL."""
    subscribers = add_subscribers(engine, 120)
    sent = send(engine, 7, batch_size=40)
    events = [event(EventType.DELIVERED, s, 7) for s in subscribers]
    events += [event(EventType.OPENED, s, 7) for s in subscribers[:60]]
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    work = [list(batch) for batch in batches for _ in range(3)]  # each posted three times
    random.Random(5).shuffle(work)
    stored: list[int] = []
    errors: list[BaseException] = []

    def post(share: list[list[DeliveryEvent]]) -> None:
        try:
            for batch in share:
                stored.append(ingest(engine, track_settings, batch).stored)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(work[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(stored) == len(events) == 180
    assert rows(engine, "SELECT COUNT(*) AS n FROM delivery_event")[0]["n"] == 180
    counted = tallies(engine, sent.issue_id)
    assert (counted["delivered"], counted["opened"], counted["events"]) == (120, 60, 180)


@pytest.mark.parametrize("count", [1, SQLITE_BLOCK - 1, SQLITE_BLOCK, 2 * SQLITE_BLOCK + 3])
def test_a_write_of_any_size_writes_every_row_once(engine: Engine, count: int) -> None:
    """SQLite writes blocks of `SQLITE_BLOCK` rows and the rest one by one: whatever the
    count, each row lands once and ON CONFLICT applies to each."""
    with session_scope(engine) as session:
        driver = Driver(session)
        values = [(1, f"h{i}", f"https://x.example/{i}", i) for i in range(count)]
        columns = ("issue_id", "url_hash", "url", "clicks")
        types = ("integer", "text", "text", "integer")
        tail = "ON CONFLICT (issue_id, url_hash) DO UPDATE SET clicks = issue_link.clicks + 1"
        driver.write("issue_link", columns, types, values, tail)
        driver.write("issue_link", columns, types, values[:1], tail)
    found = rows(engine, "SELECT url_hash, clicks FROM issue_link ORDER BY clicks")
    assert len(found) == count
    assert {r["url_hash"]: r["clicks"] for r in found} == {
        f"h{i}": i + (1 if i == 0 else 0) for i in range(count)
    }


def test_recipients_read_in_lists_of_any_length(engine: Engine) -> None:
    """More recipients than one IN list holds (padded to `IN_SIZE` on SQLite) are all
    found, and ids the ledger does not have are not."""
    subscribers = add_subscribers(engine, IN_SIZE + 7)
    sent = send(engine, 7, batch_size=100)
    wanted = {sent.issue_id: {*subscribers, 10**9}}
    with session_scope(engine) as session:
        found = known_recipients(Driver(session), wanted)
    assert sorted(s for _, s in found) == sorted(subscribers)
    assert {k.batch_seq for k in found.values()} == set(sent.batch_of.values())
