"""The audience, snapshotted once when sending starts: who the issue goes to and in which
batch, written by one INSERT ... SELECT so nothing grows in memory, and the batches counted
from how many rows it wrote.

Recipients are numbered in the order the subscriber table is read (`ROW_NUMBER() OVER ()`),
a thousand to a batch: any order gives full batches, and reading the table as it lies is
the cheapest. On SQLite that is the order of ids; on PostgreSQL the table's physical order,
so one batch's subscribers sit on neighbouring pages when the claim reads them.

On PostgreSQL at 1,000,000 recipients, what the snapshot cost was (measured with
`EXPLAIN (ANALYZE, BUFFERS)` and `benchmarks/snapshot.py`): the foreign key's check row by
row (gone, migration 0012); numbering by id, an ordered scan of the subscribers and a window
over it (~0.5 s; now the table order above); a second pass over the new rows to count each
batch (now computed: the numbering is dense, so every batch but the last is full); and each
row's entries in the table's indexes written one by one (now the issue's partition is
loaded bare and its indexes built by a sort when it is attached, see `partitions`). What is
left is writing the rows (~1.1 s) and building the two indexes (~0.5 s).
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlmodel import Session

from newsletter.sending.ledger.partitions import attach, create_bare, partition_of
from newsletter.sending.ledger.tables import BatchState, IssueSend, RecipientState
from subscribers.models import Status

_AUDIENCE = """
    INSERT INTO {table} (issue_id, subscriber_id, batch_seq, state)
    SELECT :issue_id, s.id, (ROW_NUMBER() OVER () - 1) / CAST(:size AS INTEGER) + 1,
        :queued
    FROM subscriber s
    WHERE s.status = :active
    """
_BATCHES = text(
    """
    WITH RECURSIVE seqs(seq) AS (
        SELECT 1 WHERE :batches > 0
        UNION ALL
        SELECT seq + 1 FROM seqs WHERE seq < :batches
    )
    INSERT INTO send_batch (issue_id, seq, state, size, sent, attempts, tries)
    SELECT :issue_id, seq, :pending,
        CASE WHEN seq < :batches THEN :size ELSE :audience - (seq - 1) * :size END, 0, 0, 0
    FROM seqs
    """
)


def snapshot_audience(session: Session, issue_id: int, batch_size: int) -> IssueSend:
    """Record the audience (the active subscribers now) and its batches, in SQL.

    Run in the transaction that moves the issue into `sending`, so either both happen or
    neither: a crash here leaves the issue as it was.
    """
    conn = session.connection()
    audience = _write_recipients(
        conn,
        issue_id,
        {
            "issue_id": issue_id,
            "size": batch_size,
            "queued": RecipientState.QUEUED.value,
            "active": Status.ACTIVE.value,
        },
    )
    batches = -(-audience // batch_size)
    conn.execute(
        _BATCHES,
        {
            "issue_id": issue_id,
            "pending": BatchState.PENDING.value,
            "batches": batches,
            "size": batch_size,
            "audience": audience,
        },
    )
    record = IssueSend(issue_id=issue_id, audience=audience, batches=batches, batch_size=batch_size)
    session.add(record)
    session.flush()
    return record


def _write_recipients(conn: Connection, issue_id: int, params: dict[str, object]) -> int:
    """The recipients' rows, and how many. On PostgreSQL into the issue's own partition,
    created bare, loaded, then attached; into the parent if the partition is already there
    (rows written for it some other way), which is the plain insert SQLite always does."""
    if conn.dialect.name != "postgresql":
        return conn.execute(text(_AUDIENCE.format(table="send_recipient")), params).rowcount
    partition = partition_of(conn, issue_id)
    if partition.exists:
        return conn.execute(text(_AUDIENCE.format(table=partition.parent)), params).rowcount
    create_bare(conn, partition, issue_id)
    written = conn.execute(text(_AUDIENCE.format(table=partition.table)), params).rowcount
    attach(conn, partition, issue_id)
    return written
