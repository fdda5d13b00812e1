"""`unknown` batches settled by events: any event about a recipient of a batch whose answer
was lost proves the provider accepted the whole request."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.delivery.events import EventType
from newsletter.tracking import ingest
from tests.newsletter.tracking.sends import (
    add_subscribers,
    event,
    issue_state,
    rows,
    send,
    tallies,
)


def _batches(engine: Engine, issue_id: int) -> dict[int, tuple[str, str | None]]:
    found = rows(engine, "SELECT seq, state, error FROM send_batch WHERE issue_id = :i", i=issue_id)
    return {r["seq"]: (r["state"], r["error"]) for r in found}


def _recipients(engine: Engine, issue_id: int, seq: int) -> set[str]:
    found = rows(
        engine,
        "SELECT state FROM send_recipient WHERE issue_id = :i AND batch_seq = :s",
        i=issue_id,
        s=seq,
    )
    return {r["state"] for r in found}


@pytest.mark.parametrize("kind", [EventType.PROCESSED, EventType.OPENED, EventType.UNKNOWN])
def test_any_event_settles_its_unknown_batch_and_restates_the_finished_issue(
    kind: EventType, engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 30)
    sent = send(engine, 7, unknown=[2])
    status, reason, _ = issue_state(engine, sent.issue_id)
    assert status == "sent"
    assert reason is not None
    assert "10 recipient(s) unknown" in reason
    member = next(s for s, seq in sent.batch_of.items() if seq == 2)

    applied = ingest(engine, track_settings, [event(kind, member, 7)])

    assert applied.settled == 10
    assert _batches(engine, sent.issue_id)[2] == ("accepted", None)
    assert _recipients(engine, sent.issue_id, 2) == {"accepted"}
    assert issue_state(engine, sent.issue_id) == ("sent", None, None)
    assert tallies(engine, sent.issue_id)["settled"] == 10
    again = ingest(engine, track_settings, [event(EventType.DELIVERED, member, 7)])
    assert again.settled == 0
    assert tallies(engine, sent.issue_id)["settled"] == 10


def test_a_failed_issue_whose_unknown_batch_is_settled_becomes_sent(
    engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 30)
    sent = send(engine, 7, unknown=[1], failed=[2, 3])
    assert issue_state(engine, sent.issue_id)[0] == "failed"
    member = next(s for s, seq in sent.batch_of.items() if seq == 1)

    ingest(engine, track_settings, [event(EventType.DELIVERED, member, 7)])

    status, reason, _ = issue_state(engine, sent.issue_id)
    assert status == "sent"
    assert reason is not None
    assert "20 recipient(s) failed" in reason
    assert "unknown" not in reason
    assert _batches(engine, sent.issue_id)[2][0] == "failed"


def test_events_of_accepted_batches_settle_nothing(
    engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 30)
    sent = send(engine, 7, unknown=[3])
    member = next(s for s, seq in sent.batch_of.items() if seq == 1)
    before = issue_state(engine, sent.issue_id)
    applied = ingest(engine, track_settings, [event(EventType.PROCESSED, member, 7)])
    assert applied.settled == 0
    assert _batches(engine, sent.issue_id)[3][0] == "unknown"
    assert _recipients(engine, sent.issue_id, 3) == {"unknown"}
    assert issue_state(engine, sent.issue_id) == before


def test_a_send_still_running_has_its_batch_settled_and_keeps_sending(
    engine: Engine, track_settings: Settings
) -> None:
    add_subscribers(engine, 20)
    sent = send(engine, 7, unknown=[1], finish=False)
    member = next(s for s, seq in sent.batch_of.items() if seq == 1)
    applied = ingest(engine, track_settings, [event(EventType.PROCESSED, member, 7)])
    assert applied.settled == 10
    assert issue_state(engine, sent.issue_id)[0] == "sending"
    assert _recipients(engine, sent.issue_id, 1) == {"accepted"}
