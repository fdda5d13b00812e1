"""On PostgreSQL, `send_recipient` is partitioned by issue (migration 0014): one table per
issue's audience, `send_recipient_<issue id>`, attached to the parent.

Why: a snapshot that inserts a million rows into a table with its two indexes in place
writes each row's index entries one by one; loading a new, bare table and then attaching it
(PostgreSQL builds the missing indexes by sorting, as CREATE INDEX does) takes about half as
long (measured at 1,000,000 recipients, the same INSERT in `psql`: 2.7 s against 1.7 s). The
table, its rows and its indexes are all created in the transaction that moves the issue into
`sending`, so a crash leaves nothing behind, and the exactly-once key (issue, subscriber) is
the parent's primary key as before. Every reader and writer still names `send_recipient`;
PostgreSQL picks the issue's partition.

SQLite keeps one plain table: nothing here applies to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

PARENT = "send_recipient"
_PARTITION = re.compile(PARENT + r"_[0-9]+")
FILLFACTOR = 50
"""Half of each page left free, as migration 0012 set on the unpartitioned table: every
recipient is updated once (queued -> accepted), and with room on its page that update
touches no index (`state` is in none). A partitioned parent holds no storage options, so
each partition is given it."""

_WHERE = text(
    """
    SELECT n.nspname, EXISTS (
            SELECT 1 FROM pg_inherits i
            WHERE i.inhparent = c.oid
                AND i.inhrelid = to_regclass(format('%I.%I', n.nspname, CAST(:name AS text)))
        )
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass(CAST(:parent AS text))
    """
)


@dataclass(frozen=True)
class Partition:
    """Where one issue's recipients live: the parent and the partition, both quoted and
    schema-qualified (the parent's schema, whatever the search path), and whether the
    partition is already attached (a stray table of that name is not: creating the
    partition then fails, and the transaction with it)."""

    parent: str
    table: str
    exists: bool


def partition_of(conn: Connection, issue_id: int) -> Partition:
    name = f"{PARENT}_{int(issue_id)}"
    schema, exists = conn.execute(_WHERE, {"name": name, "parent": PARENT}).one()
    quote = conn.dialect.identifier_preparer.quote
    return Partition(f"{quote(schema)}.{quote(PARENT)}", f"{quote(schema)}.{quote(name)}", exists)


def create_bare(conn: Connection, partition: Partition, issue_id: int) -> None:
    """The issue's table with the parent's columns and no index yet, not attached: the
    snapshot loads it, then calls `attach`. The check lets the attach skip its scan of the
    rows (PostgreSQL trusts a valid constraint that implies the partition's bound)."""
    conn.execute(
        text(
            f"CREATE TABLE {partition.table} (LIKE {partition.parent}, "
            f"CHECK (issue_id = {int(issue_id)})) WITH (fillfactor = {FILLFACTOR})"
        )
    )


def attach(conn: Connection, partition: Partition, issue_id: int) -> None:
    """Attach a loaded table: its primary key and batch index are built here, by a sort."""
    conn.execute(
        text(
            f"ALTER TABLE {partition.parent} ATTACH PARTITION {partition.table} "
            f"FOR VALUES IN ({int(issue_id)})"
        )
    )


def make_room(conn: Connection, issue_id: int) -> None:
    """An attached, empty partition for an issue whose recipients are written row by row
    rather than by the snapshot (test data, benchmarks' desk data). Nothing on SQLite.

    Made bare and attached, as the snapshot does: `CREATE TABLE ... PARTITION OF` would
    lock the whole parent exclusively until commit, holding up every send and every
    webhook lookup; an attach takes a lock that lets them through."""
    if conn.dialect.name != "postgresql":
        return
    partition = partition_of(conn, issue_id)
    if partition.exists:
        return
    create_bare(conn, partition, issue_id)
    attach(conn, partition, issue_id)


def not_a_partition(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` filter: the issues' partitions are made by the snapshot, not
    by a migration, so comparing the models with the database leaves them out."""
    return not (type_ == "table" and name is not None and _PARTITION.fullmatch(name))
