"""What became of an issue sent to 30 subscribers, as SendGrid's events say it: for the
desk report's tests here and under web/admin/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.delivery.events import EventType
from newsletter.tracking import ingest
from tests.newsletter.tracking.sends import (
    T0,
    add_subscribers,
    event,
    hard_bounce,
    send,
    soft_bounce,
)

LINK_A = "https://alpha.example.com/pricing"
LINK_B = "https://beta.example.com/"


def events_for(subscribers: list[int], number: int) -> list[Any]:
    """What became of 30 recipients: 25 delivered (one then unsubscribed, one complained),
    two hard bounces, one soft, two still processing; opens and clicks over three days."""
    at = T0 + timedelta(minutes=20)  # the send starts at T0 (09:00): hour 0 is 09:00-10:00
    s = subscribers
    found = [event(EventType.PROCESSED, sid, number, at=at) for sid in s]
    found += [event(EventType.DELIVERED, sid, number, at=at) for sid in s[:25]]
    found += [hard_bounce(s[25], number, at=at), hard_bounce(s[26], number, at=at)]
    found += [soft_bounce(s[27], number, at=at)]
    opens = {0: T0 + timedelta(minutes=30), 1: T0 + timedelta(minutes=59),
             2: T0 + timedelta(hours=1), 3: T0 + timedelta(hours=5, minutes=1),
             4: T0 + timedelta(hours=47, minutes=59), 5: T0 + timedelta(hours=48),
             6: T0 + timedelta(hours=60)}  # fmt: skip
    for i, when in opens.items():
        found.append(event(EventType.OPENED, s[i], number, at=when))
        found.append(event(EventType.OPENED, s[i], number, at=when + timedelta(hours=2)))
    found += [event(EventType.OPENED, s[i], number, at=at, machine_open=True) for i in (7, 8, 0)]
    found += [
        event(EventType.CLICKED, s[0], number, at=T0 + timedelta(minutes=31), url=LINK_A),
        event(EventType.CLICKED, s[0], number, at=T0 + timedelta(minutes=32), url=LINK_B),
        event(EventType.CLICKED, s[2], number, at=T0 + timedelta(hours=3), url=LINK_A),
        event(EventType.CLICKED, s[3], number, at=T0 + timedelta(hours=50), url=LINK_A),
        event(EventType.COMPLAINED, s[9], number, at=at),
        event(EventType.UNSUBSCRIBED, s[10], number, at=at),
    ]
    return found


def sent_with_events(engine: Engine, settings: Settings, number: int = 7) -> int:
    """Issue `number`, sent at T0 to 30 new subscribers, with `events_for` applied by
    tracking itself; its row id."""
    subscribers = add_subscribers(engine, 30)
    sent = send(engine, number, started_at=T0)
    ingest(engine, settings, events_for(subscribers, number))
    return sent.issue_id
