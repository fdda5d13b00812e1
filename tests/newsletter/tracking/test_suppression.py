"""Subscriber statuses from events: never revived or re-labelled, and the soft-bounce rule
at its boundaries (limit 3 of the last 5 issues sent, counted since the last delivery)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.delivery.events import DeliveryEvent, EventType
from newsletter.tracking import ingest
from tests.newsletter.sending.test_sender import set_status
from tests.newsletter.tracking.sends import (
    T0,
    Sent,
    add_subscribers,
    event,
    hard_bounce,
    rows,
    send,
    soft_bounce,
    status,
)


@pytest.mark.parametrize(
    ("before", "kind", "after"),
    [
        ("pending", EventType.UNSUBSCRIBED, "unsubscribed"),
        ("bounced", EventType.UNSUBSCRIBED, "bounced"),
        ("complained", EventType.GROUP_UNSUBSCRIBED, "complained"),
        ("unsubscribed", EventType.COMPLAINED, "complained"),
        ("bounced", EventType.COMPLAINED, "bounced"),
        ("complained", EventType.BOUNCED, "complained"),
        ("unsubscribed", EventType.GROUP_RESUBSCRIBED, "unsubscribed"),
        ("active", EventType.GROUP_RESUBSCRIBED, "active"),
    ],
)
def test_a_webhook_never_revives_or_relabels_a_suppressed_address(
    before: str, kind: EventType, after: str, engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who = sent.subscribers[0]
    set_status(engine, who, before)
    made = hard_bounce(who, 7) if kind == EventType.BOUNCED else event(kind, who, 7)
    ingest(engine, track_settings, [made])
    assert status(engine, who) == after
    changes = rows(engine, "SELECT * FROM status_change WHERE subscriber_id = :s", s=who)
    assert len(changes) == (0 if before == after else 1)


def _history(
    engine: Engine, settings: Settings, pattern: str, *, subscribers: int = 2
) -> tuple[list[Sent], list[str]]:
    """Issues 1.. sent one after another to the same subscribers; for the first
    subscriber each issue's events follow `pattern`, oldest first: S a soft bounce (blocked),
    D deferrals ending in a drop, d delivered, . nothing heard. The second subscriber gets
    every issue delivered. Returns the sends and the first subscriber's status after each."""
    people = add_subscribers(engine, subscribers)
    sends, seen = [], []
    for n, mark in enumerate(pattern, start=1):
        sent = send(engine, n, started_at=T0 + timedelta(days=7 * n))
        sends.append(sent)
        ingest(engine, settings, [event(EventType.DELIVERED, people[1], n)])
        ingest(engine, settings, _marks(mark, people[0], n))
        seen.append(status(engine, people[0]))
    return sends, seen


def _marks(mark: str, who: int, n: int) -> list[DeliveryEvent]:
    if mark == "S":
        return [event(EventType.PROCESSED, who, n), soft_bounce(who, n)]
    if mark == "D":
        return [
            event(EventType.DEFERRED, who, n),
            event(EventType.DROPPED, who, n, reason="Deferred too long"),
        ]
    if mark == "d":
        return [event(EventType.DELIVERED, who, n)]
    return [event(EventType.PROCESSED, who, n)]


@pytest.mark.parametrize(
    ("pattern", "bounced"),
    [
        ("S.S..", False),  # 2 of 5
        ("S.S.S", True),  # 3 of 5
        ("SSS", True),  # 3 of the 3 sent so far
        ("SDS", True),  # deferrals ending in a drop count as a soft bounce
        ("SSdS", False),  # a delivery in between resets the count
        ("SdSS", False),
        ("S..SS", True),  # the oldest of the five still counts...
        ("S...SS", False),  # ...one issue later the window has slid past it
        ("SS...S", False),
        (".SS.S", True),
    ],
)
def test_the_soft_bounce_rule_at_its_boundaries(
    pattern: str, bounced: bool, engine: Engine, track_settings: Settings
) -> None:
    _, seen = _history(engine, track_settings, pattern)
    assert seen[-1] == ("bounced" if bounced else "active")
    if bounced:
        assert seen[:-1] == ["active"] * (len(pattern) - 1)  # it was the last one that did it
        reason = rows(engine, "SELECT reason FROM status_change WHERE to_status = 'bounced'")
        assert reason[0]["reason"].startswith("3 soft bounces in the last 5 issues")


def test_the_rule_orders_issues_by_when_they_were_sent(
    engine: Engine, track_settings: Settings
) -> None:
    """A late soft bounce of an old issue does not count past a newer delivery."""
    people = add_subscribers(engine, 1)
    who = people[0]
    # created in one order, sent (started_at) in the reverse one
    started = {1: 4, 2: 3, 3: 2, 4: 1}
    for n in (1, 2, 3, 4):
        send(engine, n, started_at=T0 + timedelta(days=7 * started[n]))
    ingest(engine, track_settings, [soft_bounce(who, 4), soft_bounce(who, 3)])  # the oldest
    ingest(engine, track_settings, [event(EventType.DELIVERED, who, 1)])  # the newest
    ingest(engine, track_settings, [soft_bounce(who, 2)])
    assert status(engine, who) == "active"  # newest first: delivered, so nothing counts
    ingest(engine, track_settings, [soft_bounce(who, 1)])  # same rank, later: now bounced soft
    # the newest issue is no longer "delivered": 4 soft failures in a row
    assert status(engine, who) == "bounced"


def test_soft_bounces_of_issues_not_sent_to_them_do_not_count(
    engine: Engine, track_settings: Settings
) -> None:
    people = add_subscribers(engine, 1)
    who = people[0]
    send(engine, 1, started_at=T0 + timedelta(days=1))
    send(engine, 2, started_at=T0 + timedelta(days=2))
    set_status(engine, who, "unsubscribed")
    send(engine, 3, started_at=T0 + timedelta(days=3))  # not in its audience
    set_status(engine, who, "active")
    ingest(engine, track_settings, [soft_bounce(who, 1), soft_bounce(who, 2), soft_bounce(who, 3)])
    assert status(engine, who) == "active"
