"""Writing an import's batches: each one classified against the list and the tombstones in
one transaction, the new addresses inserted with their first status change.

Duplicates within the file are found through a TEMPORARY table of (address, first line) on
the import's own connection, not a Python set, so memory does not grow with the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select

from newsletter.core.clock import utcnow
from newsletter.core.sql import insert_ignoring_conflicts, table_of
from subscribers.addresses import normalized_hash
from subscribers.csv_rows import CsvRow
from subscribers.import_report import BadRow, ImportReport
from subscribers.models import (
    SUPPRESSED,
    ForgottenAddress,
    Source,
    Status,
    StatusChange,
    Subscriber,
)
from subscribers.status import first_change_row, first_status_fields

_IN_CHUNK = 500  # bound parameters per IN (...), far below SQLite's limit
_SEEN = "subscriber_import_seen"
_TEMP_SCHEMA = {"sqlite": "temp", "postgresql": "pg_temp"}


class BatchStore:
    """The database side of one import: the addresses seen so far, and each batch stored."""

    def __init__(
        self, dialect: str, status: Status, source: Source, reason: str, report: ImportReport
    ) -> None:
        self.dialect = dialect
        self.status = status
        self.source = source
        self.reason = reason
        self.report = report
        self.subscriber = table_of(Subscriber)
        self.history = table_of(StatusChange)
        self.forgotten = table_of(ForgottenAddress)
        self.seen = Table(
            _SEEN,
            MetaData(),
            Column("email", String(320), primary_key=True),
            Column("line", Integer, nullable=False),
            schema=_TEMP_SCHEMA.get(dialect),
        )
        self.insert = insert_ignoring_conflicts(dialect, self.subscriber).returning(
            self.subscriber.c.id, self.subscriber.c.email
        )

    def store(self, conn: Connection, batch: list[CsvRow], bad: list[BadRow]) -> None:
        """Classify the batch (earlier in the file, on the list, suppressed, forgotten) and
        insert what is new; rows refused go to `bad`. Inside the caller's transaction."""
        seen, sub = self.seen, self.subscriber
        earlier = dict(self._select_in(conn, [seen.c.email, seen.c.line], seen.c.email, batch))
        fresh: list[CsvRow] = []
        for row in batch:
            first = earlier.get(row.email)
            if first is not None:
                bad.append(self._bad(row, f"duplicate in file (first on line {first})"))
            else:
                fresh.append(row)
        if not fresh:
            return
        conn.execute(insert(seen), [{"email": r.email, "line": r.line} for r in fresh])
        statuses = dict(self._select_in(conn, [sub.c.email, sub.c.status], sub.c.email, fresh))
        hashes = {r.email: normalized_hash(r.email) for r in fresh if r.email not in statuses}
        tombstones = {
            h
            for (h,) in self._select_in(
                conn, [self.forgotten.c.email_hash], self.forgotten.c.email_hash, hashes.values()
            )
        }
        new: list[CsvRow] = []
        for row in fresh:
            status = statuses.get(row.email)
            if status in SUPPRESSED:
                reason = f"suppressed: already on the list as {status}, never mailed again"
                bad.append(self._bad(row, reason))
            elif status is not None:
                self.report.unchanged += 1
            elif hashes[row.email] in tombstones:
                bad.append(self._bad(row, "forgotten (GDPR erasure): cannot be re-added by import"))
            else:
                new.append(row)
        if new:
            self._insert(conn, new)

    def _insert(self, conn: Connection, new: list[CsvRow]) -> None:
        at = utcnow()
        fields = first_status_fields(self.status, reason=self.reason, at=at)
        source = self.source.value
        params = [{"email": r.email, "name": r.name, "source": source, **fields} for r in new]
        inserted = conn.execute(self.insert, params).all()
        # A row missing from RETURNING was added by someone else since the SELECT.
        self.report.imported += len(inserted)
        self.report.unchanged += len(new) - len(inserted)
        if inserted:
            history = [
                first_change_row(sid, self.status, reason=self.reason, source=self.source, at=at)
                for sid, _ in inserted
            ]
            conn.execute(insert(self.history), history)

    def _bad(self, row: CsvRow, reason: str) -> BadRow:
        return BadRow(self.report.label, row.line, row.raw, reason)

    def _select_in(
        self, conn: Connection, columns: list[Any], key: Any, values: Iterable[Any]
    ) -> list[tuple[Any, ...]]:
        keys = [v.email if isinstance(v, CsvRow) else v for v in values]
        found: list[tuple[Any, ...]] = []
        for i in range(0, len(keys), _IN_CHUNK):
            query = select(*columns).where(key.in_(keys[i : i + _IN_CHUNK]))
            found.extend(tuple(row) for row in conn.execute(query))
        return found

    def create_seen(self, conn: Connection) -> None:
        with conn.begin():
            self._drop_statement(conn)
            self.seen.create(conn)

    def drop_seen(self, conn: Connection) -> None:
        try:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                self._drop_statement(conn)
        except Exception:
            # The connection is broken or busy: discard it (and the temp table with it)
            # rather than hide the error that brought us here.
            conn.invalidate()

    def _drop_statement(self, conn: Connection) -> None:
        schema = _TEMP_SCHEMA.get(self.dialect)
        qualified = f"{schema}.{_SEEN}" if schema else _SEEN
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified}")
