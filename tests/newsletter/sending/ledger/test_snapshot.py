"""The audience snapshot: the active subscribers now, numbered into full batches but the
last, with the batches' sizes computed from the count rather than counted again."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import (
    BatchState,
    IssueSend,
    SendBatch,
    SendRecipient,
    make_room,
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


def test_an_empty_audience_has_no_batches(engine: Engine, issue: Issue) -> None:
    issue_id = issue.id or 0

    record = _snapshot(engine, issue_id, 10)

    with session_scope(engine) as session:
        count = len(session.exec(select(SendBatch).where(SendBatch.issue_id == issue_id)).all())
    assert (record.audience, record.batches, count) == (0, 0, 0)


# Partitions are PostgreSQL's; SQLite keeps one plain table.
only_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@only_postgresql
def test_on_postgresql_an_issues_audience_is_a_partition_under_the_parents_keys(
    engine: Engine, issue: Issue
) -> None:
    people = add_subscribers(engine, 12)
    issue_id = issue.id or 0
    table = f"send_recipient_{issue_id}"

    _snapshot(engine, issue_id, 5)

    with engine.connect() as conn:
        indexes = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = :t ORDER BY indexname"),
            {"t": table},
        ).scalars()
        assert [d.split(" USING ")[1] for d in indexes] == [
            "btree (issue_id, batch_seq)",
            "btree (issue_id, subscriber_id)",
        ]
        own = conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608
        assert own == len(people.active)
    duplicate = {"i": issue_id, "s": min(people.active)}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO send_recipient VALUES (:i, :s, 9, 'queued')"), duplicate)


@only_postgresql
def test_on_postgresql_a_partition_made_beforehand_is_filled_in_place(
    engine: Engine, issue: Issue
) -> None:
    people = add_subscribers(engine, 7)
    issue_id = issue.id or 0
    with engine.begin() as conn:
        make_room(conn, issue_id)

    record = _snapshot(engine, issue_id, 5)

    with session_scope(engine) as session:
        members = session.exec(
            select(SendRecipient.subscriber_id).where(SendRecipient.issue_id == issue_id)
        ).all()
    assert record.audience == len(people.active)
    assert sorted(members) == sorted(people.active)


@only_postgresql
def test_on_postgresql_making_room_for_one_issue_holds_up_no_reader_of_the_others(
    engine: Engine, issue: Issue
) -> None:
    """An open transaction that is adding an issue's table must not stop a sender or the
    webhook reading another issue's recipients (a `PARTITION OF` would lock them all out)."""
    add_subscribers(engine, 3)
    issue_id = issue.id or 0
    _snapshot(engine, issue_id, 5)
    with engine.connect() as adding, engine.connect() as reader:
        adding.begin()
        make_room(adding, issue_id + 1)
        reader.execute(text("SET lock_timeout = '2s'"))
        found = reader.execute(
            text("SELECT COUNT(*) FROM send_recipient WHERE issue_id = :i"), {"i": issue_id}
        ).scalar_one()
        adding.rollback()
    assert found == 3
