"""Each event stored once, one POST applied whole or not at all, and what is kept of events
that name no send of ours."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.events import BounceKind, DeliveryEvent, EventType
from newsletter.tracking import apply, ingest
from subscribers.service import forget
from tests.newsletter.tracking.sends import (
    Sent,
    add_subscribers,
    event,
    hard_bounce,
    ledger,
    rows,
    send,
    statuses,
    table_counts,
    tallies,
)


def _mixed(sent: Sent) -> list[DeliveryEvent]:
    a, b, c = sent.subscribers[:3]
    return [
        event(EventType.PROCESSED, a, 7),
        event(EventType.DELIVERED, a, 7),
        event(EventType.OPENED, a, 7),
        event(EventType.CLICKED, b, 7, url="https://alpha.example.com/"),
        hard_bounce(c, 7),
        event(EventType.COMPLAINED, a, 7),
    ]


def test_a_repeated_post_changes_nothing(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    events = _mixed(sent)
    first = ingest(engine, track_settings, events)
    assert (first.stored, first.duplicates) == (6, 0)
    before = (table_counts(engine), tallies(engine, sent.issue_id), statuses(engine))
    links = rows(engine, "SELECT url, clicks FROM issue_link")

    again = ingest(engine, track_settings, list(reversed(events)))

    assert (again.received, again.stored, again.duplicates) == (6, 0, 6)
    assert again.suppressed == again.unsubscribed == []
    assert (table_counts(engine), tallies(engine, sent.issue_id), statuses(engine)) == before
    assert rows(engine, "SELECT url, clicks FROM issue_link") == links


def test_an_event_repeated_within_one_post_counts_once(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who = sent.subscribers[0]
    click = event(EventType.CLICKED, who, 7, url="https://alpha.example.com/")
    delivered = event(EventType.DELIVERED, who, 7)
    applied = ingest(engine, track_settings, [delivered, click, delivered, click, click])
    assert (applied.received, applied.stored, applied.duplicates) == (5, 2, 3)
    assert tallies(engine, sent.issue_id) == {"delivered": 1, "clicked": 1, "events": 2}
    assert table_counts(engine)["delivery_event"] == 2


def test_a_post_that_fails_half_way_leaves_nothing(
    engine: Engine, track_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_subscribers(engine, 20)
    sent = send(engine, 7, unknown=[2])  # so the POST also settles a batch
    before = (table_counts(engine), ledger(engine), statuses(engine))
    events = [*_mixed(sent), event(EventType.PROCESSED, sent.subscribers[-1], 7)]

    def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(apply, "pause_if_needed", broken)  # the very last step
    with pytest.raises(RuntimeError):
        ingest(engine, track_settings, events)
    assert (table_counts(engine), ledger(engine), statuses(engine)) == before
    assert tallies(engine, sent.issue_id) == {}

    monkeypatch.undo()  # the retry of the same POST then applies all of it
    applied = ingest(engine, track_settings, events)
    assert (applied.stored, applied.settled) == (7, 10)
    assert statuses(engine)[sent.subscribers[2]] == "bounced"


def test_events_naming_no_send_are_kept_unmatched(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who = sent.subscribers[0]
    outsider = add_subscribers(engine, 1, start=500)[0]  # on the list, not in the send
    gone = sent.subscribers[1]
    with session_scope(engine) as session:
        assert forget(session, "reader000001@example.com")
    events = [
        event(EventType.DELIVERED, who, 7, test=True),  # a test send's
        event(EventType.DELIVERED, None, None),  # no ids at all
        event(EventType.DELIVERED, who, 99),  # an issue that does not exist
        event(EventType.DELIVERED, outsider, 7),  # not a recipient of issue 7
        hard_bounce(gone, 7),  # a forgotten subscriber
        event(EventType.COMPLAINED, 123456, 7),  # nobody
    ]
    before = statuses(engine)
    applied = ingest(engine, track_settings, events)
    assert (applied.stored, applied.unmatched) == (6, 6)
    stored = rows(engine, "SELECT issue_id, subscriber_id, batch_seq FROM delivery_event")
    assert stored == [{"issue_id": None, "subscriber_id": None, "batch_seq": None}] * 6
    assert statuses(engine) == before
    counts = table_counts(engine)
    assert counts["recipient_activity"] == counts["event_tally"] == counts["status_change"] == 0
    again = ingest(engine, track_settings, events)
    assert (again.stored, again.duplicates, again.unmatched) == (0, 6, 0)


def test_with_tracking_off_no_open_or_click_is_kept(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    track_settings.tracking = "off"
    who = sent.subscribers[0]
    applied = ingest(
        engine,
        track_settings,
        [
            event(EventType.DELIVERED, who, 7),
            event(EventType.OPENED, who, 7),
            event(EventType.OPENED, who, 7, machine_open=True),
            event(EventType.CLICKED, who, 7, url="https://alpha.example.com/"),
        ],
    )
    assert (applied.received, applied.stored, applied.untracked, applied.duplicates) == (
        4,
        1,
        3,
        0,
    )
    assert tallies(engine, sent.issue_id) == {"delivered": 1, "events": 1}
    assert rows(engine, "SELECT type FROM delivery_event") == [{"type": "delivered"}]
    counts = table_counts(engine)
    assert counts["issue_link"] == counts["link_click"] == 0
    row = rows(
        engine, "SELECT first_open_at, machine_open_at, first_click_at FROM recipient_activity"
    )
    assert row == [{"first_open_at": None, "machine_open_at": None, "first_click_at": None}]


def test_forgetting_a_subscriber_erases_their_events(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who, other = sent.subscribers[0], sent.subscribers[1]
    url = "https://alpha.example.com/"
    for sid in (who, other):
        ingest(
            engine,
            track_settings,
            [
                event(EventType.DELIVERED, sid, 7),
                event(EventType.CLICKED, sid, 7, url=url),
                event(EventType.BOUNCED, sid, 7, bounce_kind=BounceKind.SOFT),
            ],
        )
    with session_scope(engine) as session:
        assert forget(session, "reader000000@example.com")

    def mine(table: str) -> int:
        with session_scope(engine) as session:
            found = session.connection().execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE subscriber_id = :s"),  # noqa: S608
                {"s": who},
            )
            return int(found.scalar_one())

    assert [mine(t) for t in ("delivery_event", "recipient_activity", "link_click")] == [0, 0, 0]
    assert table_counts(engine)["delivery_event"] == 3  # the other subscriber's stay
    # the aggregates stay, as votes' shares do
    assert rows(engine, "SELECT clicks FROM issue_link") == [{"clicks": 2}]
    assert tallies(engine, sent.issue_id)["clicked"] == 2


def test_oversized_fields_are_cut_to_fit_and_long_ids_still_dedupe(
    engine: Engine, track_settings: Settings, sent: Sent
) -> None:
    who = sent.subscribers[0]
    url = "https://alpha.example.com/?q=" + "x" * 3000
    long_id = "e" * 150
    events = [
        event(
            EventType.BOUNCED,
            who,
            7,
            event_id=long_id,
            bounce_kind=BounceKind.HARD,
            reason="r" * 900,
            classification="c" * 300,
            smtp_status="5" * 50,
            user_agent="u" * 900,
            provider_type="p" * 80,
        ),
        event(EventType.CLICKED, who, 7, url=url),
        event(EventType.CLICKED, who, 7, event_id="f" * 150, url=url + "y"),  # another link
    ]
    applied = ingest(engine, track_settings, events)
    assert applied.stored == 3
    assert ingest(engine, track_settings, events).duplicates == 3
    stored = rows(engine, "SELECT event_id, type, reason, url FROM delivery_event")
    assert all(len(r["event_id"]) <= 100 for r in stored)
    bounce = next(r for r in stored if r["type"] == "bounced")
    assert len(bounce["reason"]) == 500
    assert rows(engine, "SELECT COUNT(*) AS n FROM issue_link")[0]["n"] == 2  # the full URL's hash
    assert statuses(engine)[who] == "bounced"
