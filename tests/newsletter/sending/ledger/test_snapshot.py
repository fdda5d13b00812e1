"""The audience snapshot: the active subscribers now, numbered into full batches but the
last, with the batches' sizes computed from the count rather than counted again."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, text
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import (
    BatchState,
    IssueSend,
    SendBatch,
    SendRecipient,
    snapshot_audience,
)
from tests.newsletter.sending.test_sender import add_subscribers


def _snapshot(engine: Engine, issue_id: int, batch_size: int) -> IssueSend:
    with session_scope(engine, immediate=True) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'sending' WHERE id = :i"), {"i": issue_id}
        )
        return snapshot_audience(session, issue_id, batch_size)


def test_batches_are_full_but_the_last_and_match_their_recipients(
    engine: Engine, issue: Issue
) -> None:
    people = add_subscribers(engine, 25)  # inactive ones in between: ids have gaps
    issue_id = issue.id or 0

    record = _snapshot(engine, issue_id, 10)

    with session_scope(engine) as session:
        batches = session.exec(
            select(SendBatch.seq, SendBatch.size, SendBatch.state)
            .where(SendBatch.issue_id == issue_id)
            .order_by(col(SendBatch.seq))
        ).all()
        members = session.exec(
            select(SendRecipient.subscriber_id, SendRecipient.batch_seq).where(
                SendRecipient.issue_id == issue_id
            )
        ).all()
    assert (record.audience, record.batches, record.batch_size) == (25, 3, 10)
    assert [(seq, size) for seq, size, _ in batches] == [(1, 10), (2, 10), (3, 5)]
    assert {state for _, _, state in batches} == {BatchState.PENDING}
    assert {sid for sid, _ in members} == set(people.active)
    assert Counter(seq for _, seq in members) == {1: 10, 2: 10, 3: 5}
    in_order = [seq for _, seq in sorted(members)]
    assert in_order == sorted(in_order)  # batches follow the subscribers' ids


def test_an_empty_audience_has_no_batches(engine: Engine, issue: Issue) -> None:
    issue_id = issue.id or 0

    record = _snapshot(engine, issue_id, 10)

    with session_scope(engine) as session:
        count = len(session.exec(select(SendBatch).where(SendBatch.issue_id == issue_id)).all())
    assert (record.audience, record.batches, count) == (0, 0, 0)
