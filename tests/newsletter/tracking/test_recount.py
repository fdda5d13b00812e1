"""After any sequence of events, in any order, split into any POSTs and repeated at will,
the counters equal a recount of the rows they summarise (a property test), and concurrent
POSTs of the same events neither deadlock nor count twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType
from newsletter.tracking import ingest
from tests.newsletter.tracking.sends import T0, add_subscribers, event, rows, send, tallies

SITE = "https://news.example.com"
URLS = ["https://alpha.example.com/", "https://beta.example.com/", f"{SITE}/vote/t.s"]
DROP_REASONS = ["Bounced Address", "Unsubscribed Address", "Invalid SMTPAPI header"]


@st.composite
def events_of(draw: st.DrawFn, people: list[int], number: int) -> DeliveryEvent:
    kind = draw(st.sampled_from(list(EventType)))
    who = draw(st.sampled_from(people))
    at = T0 + timedelta(minutes=draw(st.integers(0, 50)))
    fields: dict[str, Any] = {}
    if kind == EventType.BOUNCED:
        fields["bounce_kind"] = draw(st.sampled_from(list(BounceKind)))
    elif kind == EventType.DROPPED:
        fields["reason"] = draw(st.sampled_from(DROP_REASONS))
    elif kind == EventType.CLICKED:
        fields["url"] = draw(st.sampled_from(URLS))
    elif kind == EventType.OPENED:
        fields["machine_open"] = draw(st.booleans())
    return event(kind, who, number, at=at, **fields)


def recount(engine: Engine, issue_id: int) -> dict[str, int]:
    """The counters as the rows say they should be."""
    found: Counter[str] = Counter()
    names = {
        ("processed", None): "processed",
        ("deferred", None): "deferred",
        ("delivered", None): "delivered",
        ("bounced", "hard"): "bounced_hard",
        ("bounced", "soft"): "bounced_soft",
        ("dropped", None): "dropped",
    }
    firsts = {
        "first_open_at": "opened",
        "machine_open_at": "machine_opened",
        "first_click_at": "clicked",
        "complained_at": "complained",
        "unsubscribed_at": "unsubscribed",
    }
    for row in rows(engine, "SELECT * FROM recipient_activity WHERE issue_id = :i", i=issue_id):
        if row["delivery"] is not None:
            found[names[(row["delivery"], row["bounce_kind"])]] += 1
        for column, name in firsts.items():
            found[name] += row[column] is not None
    events = "SELECT COUNT(*) AS n FROM delivery_event WHERE issue_id = :i"
    found["events"] = int(rows(engine, events, i=issue_id)[0]["n"])
    return {name: n for name, n in found.items() if n}


def link_counts_match(engine: Engine, issue_id: int) -> bool:
    links = rows(engine, "SELECT url_hash, clicks FROM issue_link WHERE issue_id = :i", i=issue_id)
    clicks = rows(
        engine,
        "SELECT url_hash, COUNT(*) AS n FROM link_click WHERE issue_id = :i GROUP BY url_hash",
        i=issue_id,
    )
    return {r["url_hash"]: r["clicks"] for r in links} == {r["url_hash"]: r["n"] for r in clicks}


def test_counters_always_equal_a_recount(engine: Engine, track_settings: Settings) -> None:
    people = add_subscribers(engine, 4)
    numbers = iter(range(1, 10_000))

    @hypothesis_settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        with session_scope(engine) as session:  # everyone active again for the next send
            session.connection().execute(text("UPDATE subscriber SET status = 'active'"))
        number = next(numbers)
        sent = send(engine, number, batch_size=2)
        events = data.draw(st.lists(events_of(people, number), max_size=25))
        cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=3)))
        posts = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
        repeats = data.draw(st.lists(st.sampled_from(posts), max_size=2)) if posts else []
        for post in posts + repeats:
            ingest(engine, track_settings, post)
        assert tallies(engine, sent.issue_id) == recount(engine, sent.issue_id)
        assert link_counts_match(engine, sent.issue_id)

    check()


def test_concurrent_posts_of_the_same_events_apply_them_once(
    engine: Engine, track_settings: Settings
) -> None:
    people = add_subscribers(engine, 40)
    sent = send(engine, 7)
    events = [
        e
        for who in people
        for e in (
            event(EventType.PROCESSED, who, 7),
            event(EventType.DELIVERED, who, 7),
            event(EventType.CLICKED, who, 7, url=URLS[who % 2]),
        )
    ]
    errors: list[BaseException] = []

    def post(order: list[DeliveryEvent]) -> None:
        try:
            for start in range(0, len(order), 30):
                ingest(engine, track_settings, order[start : start + 30])
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=post, args=(order,))
        for order in (events, list(reversed(events)), events[::2] + events[1::2])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert tallies(engine, sent.issue_id) == {"delivered": 40, "clicked": 40, "events": 120}
    assert tallies(engine, sent.issue_id) == recount(engine, sent.issue_id)
    assert link_counts_match(engine, sent.issue_id)
