"""Writing an import's batches: each one classified against the list and the tombstones in
one transaction, the new addresses inserted with their first status change.

Duplicates within the file are found through a TEMPORARY table of (address, first line) on
the import's own connection, not a Python set, so memory does not grow with the file.

Each step is one statement whatever the batch's size (`import_sql`).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table

from newsletter.core.clock import utcnow
from newsletter.core.sql import table_of
from subscribers.addresses import normalized_hash
from subscribers.csv_rows import CsvRow
from subscribers.import_report import BadRow, ImportReport
from subscribers.import_sql import SEEN, TEMP_SCHEMA, BulkSql
from subscribers.models import SUPPRESSED, Source, Status, StatusChange, Subscriber
from subscribers.status import first_change_row, first_status_fields


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
        self.sql = BulkSql(dialect)
        self.subscriber = table_of(Subscriber)
        self.history = table_of(StatusChange)
        self.seen = Table(
            SEEN,
            MetaData(),
            Column("email", String(320), primary_key=True),
            Column("line", Integer, nullable=False),
            schema=TEMP_SCHEMA.get(dialect),
        )

    def store(self, conn: Connection, batch: list[CsvRow], bad: list[BadRow]) -> None:
        """Classify the batch (earlier in the file, on the list, suppressed, forgotten) and
        insert what is new; rows refused go to `bad`. Inside the caller's transaction."""
        sql = self.sql
        emails = sql.values(emails=[r.email for r in batch])
        earlier: dict[str, int] = dict(conn.execute(sql.earlier, emails).all())
        fresh: list[CsvRow] = []
        for row in batch:
            first = earlier.get(row.email)
            if first is not None:
                bad.append(self._bad(row, f"duplicate in file (first on line {first})"))
            else:
                fresh.append(row)
        if not fresh:
            return
        lines = sql.values(emails=[r.email for r in fresh], lines=[r.line for r in fresh])
        conn.execute(sql.remember, lines)
        if len(fresh) < len(batch):
            emails = sql.values(emails=[r.email for r in fresh])
        statuses: dict[str, str] = dict(conn.execute(sql.statuses, emails).all())
        hashes = {r.email: normalized_hash(r.email) for r in fresh if r.email not in statuses}
        tombstones: set[str] = set()
        if hashes:
            found = conn.execute(sql.tombstones, sql.values(hashes=list(hashes.values())))
            tombstones = set(found.scalars())
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
        """The new rows, then their first status change; a row someone else added since
        the batch was classified is not inserted and counts as unchanged."""
        at, sql = utcnow(), self.sql
        fields = first_status_fields(self.status, reason=self.reason, at=at)
        fields["source"] = self.source.value
        rows = sql.values(emails=[r.email for r in new], names=[r.name for r in new])
        statement = sql.insert_subscribers(self.subscriber, fields)
        inserted = conn.execute(statement, {**fields, **rows})
        ids = sorted(inserted.scalars())
        self.report.imported += len(ids)
        self.report.unchanged += len(new) - len(ids)
        if ids:
            change = first_change_row(0, self.status, reason=self.reason, source=self.source, at=at)
            del change["subscriber_id"]
            statement = sql.insert_history(self.history, change)
            conn.execute(statement, {**change, **sql.values(ids=ids)})

    def _bad(self, row: CsvRow, reason: str) -> BadRow:
        return BadRow(self.report.label, row.line, row.raw, reason)

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
        schema = TEMP_SCHEMA.get(self.dialect)
        qualified = f"{schema}.{SEEN}" if schema else SEEN
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified}")
