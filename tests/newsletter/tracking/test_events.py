"""What each kind of event does: to its recipient's row, to the issue's counters, to links
and to the subscriber's status; and that it does nothing else (the ledger, the other
recipients, the other subscribers stay as they were)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.delivery.events import BounceKind, EventType
from newsletter.tracking import ingest
from newsletter.tracking.clicks import url_hash
from tests.newsletter.tracking.sends import (
    T0,
    Sent,
    activity,
    event,
    filled,
    ledger,
    rows,
    statuses,
    table_counts,
    tallies,
)

SITE = "https://news.example.com"


@dataclass
class Case:
    type: EventType
    fields: dict[str, Any]
    activity: set[str]  # the activity columns it fills
    tallies: dict[str, int]  # beyond `events: 1`
    status: str = "active"  # the subscriber's status afterwards
    links: int = 0  # issue_link rows
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "processed": Case(EventType.PROCESSED, {}, {"delivery", "delivery_at"}, {"processed": 1}),
    "deferred": Case(
        EventType.DEFERRED, {"reason": "421 later"}, {"delivery", "delivery_at"}, {"deferred": 1}
    ),
    "delivered": Case(EventType.DELIVERED, {}, {"delivery", "delivery_at"}, {"delivered": 1}),
    "hard bounce": Case(
        EventType.BOUNCED,
        {"bounce_kind": BounceKind.HARD, "reason": "550 5.1.1 no such user"},
        {"delivery", "delivery_at", "bounce_kind"},
        {"bounced_hard": 1},
        status="bounced",
    ),
    "soft bounce": Case(
        EventType.BOUNCED,
        {"bounce_kind": BounceKind.SOFT, "reason": "452 mailbox full"},
        {"delivery", "delivery_at", "bounce_kind", "soft_failed"},
        {"bounced_soft": 1},
    ),
    "dropped, bounced address": Case(
        EventType.DROPPED,
        {"reason": "Bounced Address"},
        {"delivery", "delivery_at"},
        {"dropped": 1},
        status="bounced",
    ),
    "dropped, invalid": Case(
        EventType.DROPPED,
        {"reason": "Invalid"},
        {"delivery", "delivery_at"},
        {"dropped": 1},
        status="bounced",
    ),
    "dropped, spam reporting address": Case(
        EventType.DROPPED,
        {"reason": "Spam Reporting Address"},
        {"delivery", "delivery_at"},
        {"dropped": 1},
        status="complained",
    ),
    "dropped, unsubscribed address": Case(
        EventType.DROPPED,
        {"reason": "Unsubscribed Address"},
        {"delivery", "delivery_at"},
        {"dropped": 1},
        status="unsubscribed",
    ),
    "dropped, bad request": Case(
        EventType.DROPPED,
        {"reason": "Invalid SMTPAPI header"},
        {"delivery", "delivery_at"},
        {"dropped": 1},
    ),
    "open": Case(EventType.OPENED, {}, {"first_open_at"}, {"opened": 1}),
    "machine open": Case(
        EventType.OPENED, {"machine_open": True}, {"machine_open_at"}, {"machine_opened": 1}
    ),
    "click": Case(
        EventType.CLICKED,
        {"url": "https://alpha.example.com/pricing"},
        {"first_click_at"},
        {"clicked": 1},
        links=1,
    ),
    "click on a vote link": Case(EventType.CLICKED, {"url": f"{SITE}/vote/abc.def"}, set(), {}),
    "click on the unsubscribe link": Case(
        EventType.CLICKED, {"url": f"{SITE}/unsubscribe/abc.def"}, set(), {}
    ),
    "click on view online": Case(EventType.CLICKED, {"url": f"{SITE}/issues/7"}, set(), {}),
    "spam report": Case(
        EventType.COMPLAINED, {}, {"complained_at"}, {"complained": 1}, status="complained"
    ),
    "unsubscribe": Case(
        EventType.UNSUBSCRIBED,
        {},
        {"unsubscribed_at"},
        {"unsubscribed": 1},
        status="unsubscribed",
    ),
    "group unsubscribe": Case(
        EventType.GROUP_UNSUBSCRIBED,
        {},
        {"unsubscribed_at"},
        {"unsubscribed": 1},
        status="unsubscribed",
    ),
    "group resubscribe": Case(EventType.GROUP_RESUBSCRIBED, {}, set(), {}),
    "a type we do not know": Case(EventType.UNKNOWN, {"provider_type": "newfangled"}, set(), {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_event_changes_what_it_should_and_nothing_else(
    name: str, engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    case = CASES[name]
    who = sent.subscribers[4]
    before_ledger, before_status = ledger(engine), statuses(engine)

    applied = ingest(engine, track_settings, [event(case.type, who, 7, **case.fields)])

    assert applied.stored == 1
    assert applied.duplicates == 0
    assert applied.unmatched == (1 if case.type == EventType.UNKNOWN else 0)
    assert set(filled(activity(engine, sent.issue_id, who))) == case.activity
    assert tallies(engine, sent.issue_id) == {"events": 1, **case.tallies}
    assert ledger(engine) == before_ledger
    after = statuses(engine)
    assert after.pop(who) == case.status
    before_status.pop(who)
    assert after == before_status  # nobody else
    counts = table_counts(engine)
    assert counts["recipient_activity"] == (1 if case.activity else 0)
    assert counts["issue_link"] == counts["link_click"] == case.links
    assert counts["status_change"] == (0 if case.status == "active" else 1)
    if case.status != "active":
        change = rows(engine, "SELECT * FROM status_change")[0]
        assert change["source"] == "webhook"
        assert change["to_status"] == case.status
        assert "issue #7" in change["reason"]
        assert case.type.value in change["reason"]
    assert applied.suppressed == ([who] if case.status in ("bounced", "complained") else [])
    assert applied.unsubscribed == ([who] if case.status == "unsubscribed" else [])


def test_the_stored_event_keeps_no_address_and_no_token(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who = sent.subscribers[0]
    ingest(
        engine,
        track_settings,
        [
            event(EventType.CLICKED, who, 7, url=f"{SITE}/vote/secret-token.sig"),
            event(EventType.CLICKED, who, 7, url="https://alpha.example.com/?ref=news"),
        ],
    )
    stored = rows(engine, "SELECT * FROM delivery_event ORDER BY id")
    assert {r["url"] for r in stored} == {f"{SITE}/vote/", "https://alpha.example.com/?ref=news"}
    assert all(r["subscriber_id"] == who and r["issue_id"] == sent.issue_id for r in stored)
    assert not any(f"reader{who}@" in str(value) for r in stored for value in r.values())


def test_a_delivery_state_never_moves_down_a_rank(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who = sent.subscribers[0]
    at = T0

    def post(type: EventType, minutes: int, **fields: Any) -> None:
        ingest(
            engine,
            track_settings,
            [event(type, who, 7, at=at + timedelta(minutes=minutes), **fields)],
        )

    post(EventType.DELIVERED, 10)
    post(EventType.DEFERRED, 5)  # late, lower rank: ignored
    post(EventType.PROCESSED, 1)
    row = activity(engine, sent.issue_id, who)
    assert row is not None
    assert row["delivery"] == "delivered"
    assert tallies(engine, sent.issue_id) == {"delivered": 1, "events": 3}
    post(EventType.BOUNCED, 20, bounce_kind=BounceKind.HARD)  # a bounce after delivery moves it
    assert tallies(engine, sent.issue_id) == {"bounced_hard": 1, "events": 4}
    post(EventType.DROPPED, 15, reason="Bounced Address")  # same rank, earlier: ignored
    row = activity(engine, sent.issue_id, who)
    assert row is not None
    assert (row["delivery"], row["bounce_kind"]) == ("bounced", "hard")
    assert tallies(engine, sent.issue_id) == {"bounced_hard": 1, "events": 5}


def test_deferred_then_delivered_counts_the_recipient_once(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    a, b = sent.subscribers[:2]
    ingest(
        engine,
        track_settings,
        [
            event(EventType.PROCESSED, a, 7),
            event(EventType.PROCESSED, b, 7),
            event(EventType.DEFERRED, a, 7),
            event(EventType.DEFERRED, a, 7),
            event(EventType.DELIVERED, a, 7),
            event(EventType.DEFERRED, b, 7),
        ],
    )
    assert tallies(engine, sent.issue_id) == {"delivered": 1, "deferred": 1, "events": 6}


def test_engagement_counts_each_recipient_once_and_keeps_the_first_time(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    a, b = sent.subscribers[:2]
    url = "https://alpha.example.com/"
    late, early = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    ingest(
        engine,
        track_settings,
        [
            event(EventType.OPENED, a, 7, at=late),
            event(EventType.OPENED, a, 7, at=early),
            event(EventType.CLICKED, a, 7, url=url),
            event(EventType.CLICKED, a, 7, url=url),
            event(EventType.CLICKED, b, 7, url=url),
            event(EventType.CLICKED, b, 7, url="https://beta.example.com/"),
        ],
    )
    ingest(engine, track_settings, [event(EventType.CLICKED, a, 7, url=url)])
    assert tallies(engine, sent.issue_id) == {"opened": 1, "clicked": 2, "events": 7}
    row = activity(engine, sent.issue_id, a)
    assert row is not None
    assert row["first_open_at"] == early
    links = {
        r["url"]: r["clicks"]
        for r in rows(engine, "SELECT url, clicks, url_hash FROM issue_link")
        if r["url_hash"] == url_hash(r["url"])
    }
    assert links == {url: 2, "https://beta.example.com/": 1}
    assert table_counts(engine)["link_click"] == 3
